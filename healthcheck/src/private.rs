//! Items the `#[healthcheck]` expansion refers to. Not part of the public API.

pub use ::inventory;

pub use crate::check::{Body, BoxFuture, CheckDef};
pub use crate::component::Component;
pub use crate::linked::Registration;
pub use crate::outcome::IntoComponent;

/// Turns a check's return value into a [`Component`]; the expansion calls it with the span of the
/// function's return type, so a type that is no check result is reported there.
#[inline]
pub fn into_component<T: IntoComponent>(value: T) -> Component {
    value.into_component()
}

/// Boxes the future of an `async fn` check.
#[inline]
pub fn boxed<F>(future: F) -> BoxFuture
where
    F: Future<Output = Component> + Send + 'static,
{
    Box::pin(future)
}
