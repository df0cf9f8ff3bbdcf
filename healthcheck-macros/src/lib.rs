//! The `#[healthcheck]` attribute of the [healthcheck](https://docs.rs/healthcheck) SDK.
//!
//! Use it through the `healthcheck` crate, which re-exports it and everything its expansion
//! needs: `use healthcheck::healthcheck;`.

mod attr;
mod expand;
mod signature;

use proc_macro::TokenStream;

/// Registers a function as a health check. See the `healthcheck` crate for the accepted forms and
/// options.
#[proc_macro_attribute]
pub fn healthcheck(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::healthcheck(args.into(), item.into()).into()
}
