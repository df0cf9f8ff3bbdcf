//! The link-time registry of `#[healthcheck]` functions.

use crate::check::CheckDef;

/// What the attribute submits to `inventory`: a reference to the check's `static` descriptor.
#[doc(hidden)]
#[derive(Debug)]
pub struct Registration(pub &'static CheckDef);

inventory::collect!(Registration);

/// Every `#[healthcheck]` function linked into the program.
pub(crate) fn registered() -> impl Iterator<Item = &'static CheckDef> {
    inventory::iter::<Registration>.into_iter().map(|r| r.0)
}
