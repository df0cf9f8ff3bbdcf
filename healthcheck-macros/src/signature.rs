//! Which function shapes a health check may have.

use quote::ToTokens;
use syn::{FnArg, ReturnType, Signature, Type};

/// What the expansion does with the function.
pub(crate) enum Form {
    /// `fn() -> T`, where `T: IntoComponent`: the return type.
    Returns(Box<Type>),
    /// `fn(&mut Component)`: it fills in a component; the argument's type, for error spans.
    FillsComponent(Option<Box<Type>>),
}

pub(crate) struct Shape {
    pub(crate) is_async: bool,
    pub(crate) form: Form,
}

const FORMS: &str = "a health check is a free `fn` or `async fn` that takes no argument and returns \
                     `bool`, `Result<T, E>`, `healthcheck::Component` or `healthcheck::Status`, or \
                     that takes `&mut healthcheck::Component` and returns nothing";

fn is_unit(output: &ReturnType) -> bool {
    match output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()),
    }
}

/// Checks the signature; every problem found is reported, together.
pub(crate) fn validate(sig: &Signature) -> syn::Result<Shape> {
    let mut errors: Vec<syn::Error> = Vec::new();
    let mut error = |tokens: &dyn ToTokens, message: String| {
        errors.push(syn::Error::new_spanned(tokens, message));
    };

    if !sig.generics.params.is_empty() {
        error(
            &sig.generics,
            "a health check cannot be generic: the runtime calls it without type or lifetime \
             arguments"
                .to_owned(),
        );
    } else if let Some(where_clause) = &sig.generics.where_clause {
        error(
            where_clause,
            "a health check cannot have a `where` clause: the runtime calls it without type \
             arguments"
                .to_owned(),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        error(
            unsafety,
            "a health check cannot be an `unsafe fn`".to_owned(),
        );
    }
    if let Some(variadic) = &sig.variadic {
        error(
            variadic,
            format!("a health check cannot be variadic; {FORMS}"),
        );
    }

    let mut inputs = sig.inputs.iter();
    let form = match (inputs.next(), inputs.next()) {
        (None, _) => {
            if is_unit(&sig.output) {
                // `name()` or `name() -> ()`: the name, the parentheses and the unit type.
                let ident = &sig.ident;
                let parens = sig.paren_token.span.join();
                let output = &sig.output;
                error(
                    &quote::quote_spanned!(parens=> #ident () #output),
                    format!("a health check must return its result; {FORMS}"),
                );
            }
            match &sig.output {
                ReturnType::Type(_, ty) => Form::Returns(ty.clone()),
                ReturnType::Default => Form::FillsComponent(None),
            }
        }
        (Some(FnArg::Receiver(receiver)), _) => {
            error(
                receiver,
                "a health check cannot be a method: to check a value, register a closure that \
                 captures it with `healthcheck::Check::new`"
                    .to_owned(),
            );
            Form::FillsComponent(None)
        }
        (Some(FnArg::Typed(arg)), extra) => {
            if !matches!(&*arg.ty, Type::Reference(r) if r.mutability.is_some()) {
                error(
                    &arg.ty,
                    format!(
                        "the only argument a health check takes is `&mut healthcheck::Component`; {FORMS}"
                    ),
                );
            }
            if extra.is_some() {
                let rest: Vec<&FnArg> = sig.inputs.iter().skip(1).collect();
                error(
                    &quote::quote!(#(#rest),*),
                    format!(
                        "a health check takes at most one argument, `&mut healthcheck::Component`; {FORMS}"
                    ),
                );
            }
            if !is_unit(&sig.output) {
                error(
                    &sig.output,
                    "a health check that takes `&mut Component` fills it in and returns nothing"
                        .to_owned(),
                );
            }
            Form::FillsComponent(Some(arg.ty.clone()))
        }
    };

    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(Shape {
            is_async: sig.asyncness.is_some(),
            form,
        }),
        Some(mut first) => {
            errors.for_each(|e| first.combine(e));
            Err(first)
        }
    }
}
