//! Which function shapes a health check may have.

use syn::spanned::Spanned;
use syn::{FnArg, ReturnType, Signature, Type};

/// What the expansion does with the function.
pub(crate) enum Form {
    /// `fn() -> T`, where `T: IntoComponent`: the return type.
    Returns(Box<Type>),
    /// `fn(&mut Component)`: it fills in a component.
    FillsComponent,
}

pub(crate) struct Shape {
    pub(crate) is_async: bool,
    pub(crate) form: Form,
}

const FORMS: &str = "a health check is a free `fn` or `async fn` that takes no argument and returns \
                     `bool`, `Result<T, E>` or `healthcheck::Component`, or that takes \
                     `&mut healthcheck::Component` and returns nothing";

fn is_unit(output: &ReturnType) -> bool {
    match output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()),
    }
}

/// Checks the signature; every problem found is reported, together.
pub(crate) fn validate(sig: &Signature) -> syn::Result<Shape> {
    let mut errors: Vec<syn::Error> = Vec::new();
    let mut error =
        |span: proc_macro2::Span, message: String| errors.push(syn::Error::new(span, message));

    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        error(
            sig.generics.span(),
            format!(
                "a health check cannot be generic: it is called without type arguments; {FORMS}"
            ),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        error(
            unsafety.span,
            "a health check cannot be an `unsafe fn`".to_owned(),
        );
    }
    if let Some(variadic) = &sig.variadic {
        error(
            variadic.span(),
            format!("a health check cannot be variadic; {FORMS}"),
        );
    }

    let mut inputs = sig.inputs.iter();
    let form = match (inputs.next(), inputs.next()) {
        (None, _) => {
            if is_unit(&sig.output) {
                error(
                    sig.output
                        .span()
                        .join(sig.paren_token.span.join())
                        .unwrap_or(sig.ident.span()),
                    format!("a health check must return its result; {FORMS}"),
                );
            }
            match &sig.output {
                ReturnType::Type(_, ty) => Form::Returns(ty.clone()),
                ReturnType::Default => Form::FillsComponent,
            }
        }
        (Some(FnArg::Receiver(receiver)), _) => {
            error(
                receiver.span(),
                format!(
                    "a health check cannot be a method; register a closure that captures the value with \
                     `healthcheck::Check::new` instead; {FORMS}"
                ),
            );
            Form::FillsComponent
        }
        (Some(FnArg::Typed(arg)), extra) => {
            if !matches!(&*arg.ty, Type::Reference(r) if r.mutability.is_some()) {
                error(
                    arg.ty.span(),
                    format!(
                        "the only argument a health check takes is `&mut healthcheck::Component`; {FORMS}"
                    ),
                );
            }
            if let Some(extra) = extra {
                error(
                    extra.span(),
                    format!(
                        "a health check takes at most one argument, `&mut healthcheck::Component`; {FORMS}"
                    ),
                );
            }
            if !is_unit(&sig.output) {
                error(
                    sig.output.span(),
                    "a health check that takes `&mut Component` fills it in and returns nothing"
                        .to_owned(),
                );
            }
            Form::FillsComponent
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
