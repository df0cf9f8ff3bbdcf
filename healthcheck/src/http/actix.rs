//! The endpoints as an actix-web service configuration, for an `App` or a `web::scope`.
//!
//! ```
//! use actix_web::{App, web};
//! use healthcheck::{HealthChecks, http::HttpOptions};
//!
//! # fn main() -> Result<(), healthcheck::Error> {
//! let handler = HttpOptions::new().build(HealthChecks::builder().build()?)?;
//! let app = App::new()
//!     .route("/", web::get().to(|| async { "hello" }))
//!     .configure(healthcheck::http::actix::configure(handler));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```

use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::{HealthHandler, HealthRequest, RequestBody};

/// Registers every endpoint (under the handler's base path), for `App::configure` or
/// `Scope::configure`.
///
/// Each route keeps its own handler (no `app_data` shared by type), so several configurations
/// can sit in one `App`; and each answers from the route it matched, not from the whole request
/// path, so the endpoints work inside a `web::scope`:
///
/// ```
/// use actix_web::{App, web};
/// use healthcheck::{HealthChecks, http::HttpOptions};
///
/// # fn main() -> Result<(), healthcheck::Error> {
/// let handler = HttpOptions::new().build(HealthChecks::builder().build()?)?;
/// // GET /health/readyz, /health/healthcheck, ...
/// let app = App::new()
///     .service(web::scope("/health").configure(healthcheck::http::actix::configure(handler)));
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
pub fn configure(handler: HealthHandler) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |config: &mut web::ServiceConfig| {
        for pattern in handler.routes() {
            let handler = handler.clone();
            let endpoint = pattern.clone();
            config.route(
                &pattern,
                web::route().to(move |request: HttpRequest, body: web::Payload| {
                    let handler = handler.clone();
                    let path = endpoint_path(&endpoint, request.path());
                    async move { answer(&handler, &request, &path, body).await }
                }),
            );
        }
    }
}

/// The path the handler knows the matched route by: the route's pattern (under the handler's
/// base path, without any scope's prefix), with `{name}` taken from the request path as it came
/// (still percent-encoded, for the handler to decode).
fn endpoint_path(pattern: &str, request_path: &str) -> String {
    match pattern.strip_suffix("{name}") {
        Some(prefix) => {
            let name = request_path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default();
            format!("{prefix}{name}")
        }
        None => pattern.to_owned(),
    }
}

async fn answer(
    handler: &HealthHandler,
    request: &HttpRequest,
    path: &str,
    body: web::Payload,
) -> HttpResponse {
    // actix-web speaks `http` 0.2; the handler, `http` 1: carry over what it reads.
    let method = ::http::Method::from_bytes(request.method().as_str().as_bytes())
        .unwrap_or(::http::Method::OPTIONS);
    // actix-web writes a HEAD response's headers from the GET body and leaves the body out
    // itself; an empty body would make its `Content-Length` 0.
    let method = if method == ::http::Method::HEAD {
        ::http::Method::GET
    } else {
        method
    };
    let mut headers = ::http::HeaderMap::new();
    for name in [
        ::http::header::ACCEPT,
        ::http::header::AUTHORIZATION,
        ::http::header::CONTENT_LENGTH,
    ] {
        for value in request.headers().get_all(name.as_str()) {
            if let Ok(value) = ::http::HeaderValue::from_bytes(value.as_bytes()) {
                headers.append(name.clone(), value);
            }
        }
    }
    let request = HealthRequest {
        method: &method,
        path,
        query: request.uri().query(),
        headers: &headers,
    };
    // Only a request whose body the handler takes (an event) is read, and at most its limit.
    let response = match handler.body_limit(&request) {
        Some(limit) => match body.to_bytes_limited(limit).await {
            Ok(Ok(bytes)) => {
                handler
                    .handle_with_body(request, RequestBody::Complete(&bytes))
                    .await
            }
            Ok(Err(_)) => {
                handler
                    .handle_with_body(request, RequestBody::Unreadable)
                    .await
            }
            Err(_) => {
                handler
                    .handle_with_body(request, RequestBody::TooLarge)
                    .await
            }
        },
        None => handler.handle(request).await,
    };
    let status = actix_web::http::StatusCode::from_u16(response.status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in &response.headers {
        builder.insert_header((name.as_str(), value.as_bytes()));
    }
    builder.body(response.body)
}

#[cfg(test)]
mod tests {
    use super::endpoint_path;

    #[test]
    fn endpoint_paths() {
        let cases = [
            ("/readyz", "/status/readyz", "/readyz"),
            ("/health/readyz", "/api/health/readyz", "/health/readyz"),
            ("/readyz/{name}", "/status/readyz/db", "/readyz/db"),
            (
                "/readyz/{name}",
                "/status/readyz/caf%C3%A9/",
                "/readyz/caf%C3%A9",
            ),
            (
                "/health/livez/{name}",
                "/x/health/livez/%FF",
                "/health/livez/%FF",
            ),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(endpoint_path(pattern, path), expected, "{pattern} {path}");
        }
    }
}
