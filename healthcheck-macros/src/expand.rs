//! The expansion: the user's function, unchanged, plus a `static` descriptor submitted to the
//! link-time registry.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Item, ItemFn, Type, parse_quote};

use crate::attr::Args;
use crate::signature::{self, Form, Shape};

pub(crate) fn healthcheck(args: TokenStream, item: TokenStream) -> TokenStream {
    let function = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => {
            let error = syn::Error::new_spanned(
                other,
                "#[healthcheck] goes on a free `fn` or `async fn`, not on other items",
            );
            return with_error(item, error);
        }
        // Not even an item: let the compiler report the syntax error on the input itself.
        Err(_) => return item,
    };
    let args = syn::parse2::<Args>(args);
    let shape = signature::validate(&function.sig);
    match (args, shape) {
        (Ok(args), Ok(shape)) => expand(&args, &function, &shape),
        (Err(mut first), Err(second)) => {
            first.combine(second);
            with_error(quote!(#[allow(dead_code)] #function), first)
        }
        (Err(error), _) | (_, Err(error)) => {
            with_error(quote!(#[allow(dead_code)] #function), error)
        }
    }
}

/// The item as written (so the rest of the crate and the IDE keep working), then the error.
fn with_error(item: TokenStream, error: syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    quote!(#item #error)
}

fn expand(args: &Args, function: &ItemFn, shape: &Shape) -> TokenStream {
    let krate = args
        .krate
        .clone()
        .unwrap_or_else(|| parse_quote!(::healthcheck));
    let private = quote!(#krate::__private);
    let ident = &function.sig.ident;
    let name = args
        .name
        .as_ref()
        .map_or_else(|| ident.unraw().to_string(), syn::LitStr::value);
    let groups = args
        .groups
        .iter()
        .map(|g| quote!(::std::borrow::Cow::Borrowed(#g)));
    let timeout_nanos = args
        .timeout
        .map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX));
    let critical = args.critical.unwrap_or(true);
    let failure_threshold = args.failure_threshold.unwrap_or(1);
    let success_threshold = args.success_threshold.unwrap_or(1);
    let probes = args.probe_mask();
    let location =
        quote_spanned!(ident.span()=> ::core::file!(), ::core::line!(), ::core::column!());

    // Named after the check, so that they can never be the check's own name: inside the block
    // below, `#ident` must still mean the user's function.
    let body = format_ident!("__healthcheck_body_{}", ident.unraw());
    let def = format_ident!("__HEALTHCHECK_{}", ident.unraw());
    let (body_fn, variant) = match (&shape.form, shape.is_async) {
        (Form::Returns(ty), is_async) => {
            let result = Ident::new("result", Span::mixed_site());
            // A return type that is no check result is reported on the type itself. `impl Trait`
            // cannot be named in a path, so it goes through a generic function instead.
            let convert = if matches!(&**ty, Type::ImplTrait(_)) {
                quote_spanned!(ty.span()=> #private::into_component(#result))
            } else {
                quote!(<#ty as #private::IntoComponent>::into_component(#result))
            };
            if is_async {
                (
                    quote! {
                        #[allow(non_snake_case)]
                        fn #body() -> #private::BoxFuture {
                            #private::boxed(async {
                                let #result = #ident().await;
                                #convert
                            })
                        }
                    },
                    quote!(Async),
                )
            } else {
                (
                    quote! {
                        #[allow(non_snake_case)]
                        fn #body() -> #private::Component {
                            let #result = #ident();
                            #convert
                        }
                    },
                    quote!(Blocking),
                )
            }
        }
        (Form::FillsComponent(argument), is_async) => {
            let component = Ident::new("component", Span::mixed_site());
            // The argument is located at the parameter's type: `&mut String` is reported there.
            let span = argument
                .as_ref()
                .map_or_else(Span::call_site, |ty| ty.span());
            let located = Ident::new("component", Span::mixed_site().located_at(span));
            let argument = quote_spanned!(span=> &mut #located);
            if is_async {
                (
                    quote! {
                        #[allow(non_snake_case)]
                        fn #body() -> #private::BoxFuture {
                            #private::boxed(async {
                                let mut #component = #private::Component::pending();
                                #ident(#argument).await;
                                #component
                            })
                        }
                    },
                    quote!(Async),
                )
            } else {
                (
                    quote! {
                        #[allow(non_snake_case)]
                        fn #body() -> #private::Component {
                            let mut #component = #private::Component::pending();
                            #ident(#argument);
                            #component
                        }
                    },
                    quote!(Blocking),
                )
            }
        }
    };

    quote! {
        #function

        #[doc(hidden)]
        const _: () = {
            #body_fn

            #[allow(non_upper_case_globals)]
            static #def: #private::CheckDef = #private::CheckDef::from_attribute(
                #name,
                &[#(#groups),*],
                #timeout_nanos,
                #critical,
                #probes,
                #location,
                #private::Body::#variant(#body),
            )
            .with_thresholds(#failure_threshold, #success_threshold);

            #private::inventory::submit! {
                #private::Registration(&#def)
            }
        };
    }
}
