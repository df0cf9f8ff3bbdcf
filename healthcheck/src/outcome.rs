//! [`IntoComponent`]: the results a check may return.

use std::fmt::Display;

use serde::Serialize;

use crate::component::{Component, Status};

/// A value a health check may return, turned into a [`Component`].
///
/// Implemented for:
/// - `bool`: `true` is healthy, `false` unhealthy with the message "check returned false";
/// - `Result<T, E>` with `T: Serialize` and `E: Display`: `Ok` is healthy, and a `T` other than
///   `()` adds its fields to the component (see [`Component::extend_from_value`]); `Err(e)` is
///   unhealthy with `e.to_string()` as the status message;
/// - [`Component`] and [`Status`] themselves.
///
/// # Example
/// ```
/// use healthcheck::{IntoComponent, Status};
///
/// let ok: Result<_, std::io::Error> = Ok(serde_json::json!({"queued_jobs": 423}));
/// let component = ok.into_component();
/// assert_eq!(component.status(), Status::Healthy);
/// assert_eq!(component.extra()["queued_jobs"], 423);
///
/// let failed: Result<(), String> = Err("connection refused".into());
/// assert_eq!(failed.into_component().status_message(), Some("connection refused"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a health check result",
    label = "a health check cannot return `{Self}`",
    note = "a health check returns `bool`, `Result<T, E>` (with `T: Serialize`, `E: Display`), `healthcheck::Component` or `healthcheck::Status`, or takes `&mut healthcheck::Component` and returns nothing"
)]
pub trait IntoComponent {
    /// Converts the check's return value into a [`Component`].
    fn into_component(self) -> Component;
}

impl IntoComponent for Component {
    fn into_component(self) -> Component {
        self
    }
}

impl IntoComponent for Status {
    fn into_component(self) -> Component {
        Component::with_status(self)
    }
}

impl IntoComponent for bool {
    fn into_component(self) -> Component {
        if self {
            Component::healthy()
        } else {
            Component::unhealthy("check returned false")
        }
    }
}

impl<T: Serialize, E: Display> IntoComponent for Result<T, E> {
    fn into_component(self) -> Component {
        match self {
            Ok(value) => {
                let mut component = Component::healthy();
                match serde_json::to_value(value) {
                    Ok(value) => component.extend_from_value(value),
                    Err(error) => component.set_status_message(format!(
                        "the check's result could not be serialized: {error}"
                    )),
                }
                component
            }
            Err(error) => Component::unhealthy(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    #[derive(Serialize)]
    struct Queue {
        queued_jobs: u32,
    }

    #[test]
    fn results_become_components() {
        let cases: Vec<(Component, Status, Option<&str>, serde_json::Value)> = vec![
            (true.into_component(), Status::Healthy, None, json!({})),
            (
                false.into_component(),
                Status::Unhealthy,
                Some("check returned false"),
                json!({}),
            ),
            (
                Ok::<(), String>(()).into_component(),
                Status::Healthy,
                None,
                json!({}),
            ),
            (
                Err::<(), _>("boom").into_component(),
                Status::Unhealthy,
                Some("boom"),
                json!({}),
            ),
            (
                Ok::<_, String>(Queue { queued_jobs: 423 }).into_component(),
                Status::Healthy,
                None,
                json!({"queued_jobs": 423}),
            ),
            (
                Ok::<_, String>(json!({"healthy": false, "lag": 3})).into_component(),
                Status::Healthy,
                None,
                json!({"lag": 3}),
            ),
            (
                Status::Degraded.into_component(),
                Status::Degraded,
                None,
                json!({}),
            ),
        ];
        for (component, status, message, extra) in cases {
            assert_eq!(component.status(), status, "{component:?}");
            assert_eq!(component.status_message(), message, "{component:?}");
            assert_eq!(serde_json::Value::Object(component.extra().clone()), extra);
        }
    }

    #[test]
    fn an_unserializable_result_is_reported_not_lost() {
        let map: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
        let component = Ok::<_, String>(map).into_component();
        assert!(component.is_healthy());
        assert!(
            component
                .status_message()
                .is_some_and(|m| m.contains("could not be serialized"))
        );
    }
}
