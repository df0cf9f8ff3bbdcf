//! The endpoints as an [`axum::Router`], to merge into an application's router.
//!
//! ```
//! use healthcheck::{HealthChecks, http::HttpOptions};
//!
//! # fn main() -> Result<(), healthcheck::Error> {
//! let handler = HttpOptions::new().build(HealthChecks::builder().build()?)?;
//! let app: ::axum::Router = ::axum::Router::new()
//!     .route("/", ::axum::routing::get(|| async { "hello" }))
//!     .merge(healthcheck::http::axum::router(handler));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```

use ::axum::Router;
use ::axum::body::Body;
use ::axum::extract::Request;
use ::axum::response::Response;
use ::axum::routing::any;

use crate::http::body::read_body;
use crate::http::{HealthHandler, HealthRequest};

/// A router with every endpoint (under the handler's base path), answering any method (so that
/// other methods get the handler's 405).
pub fn router<S>(handler: HealthHandler) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let routes = handler.routes();
    let serve = move |request: Request| {
        let handler = handler.clone();
        let (parts, body) = request.into_parts();
        async move { answer(&handler, &parts, body).await }
    };
    routes.iter().fold(Router::new(), |router, route| {
        router.route(route, any(serve.clone()))
    })
}

async fn answer(handler: &HealthHandler, parts: &::http::request::Parts, body: Body) -> Response {
    let request = HealthRequest {
        method: &parts.method,
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
    };
    // Only a request whose body the handler takes (an event) is read, and at most its limit.
    let response = match handler.body_limit(&request) {
        Some(limit) => match read_body(body, limit).await {
            Ok(read) => handler.handle_with_body(request, read.as_body()).await,
            Err(read) => handler.handle_with_body(request, read).await,
        },
        None => handler.handle(request).await,
    };
    response.into_http().map(Body::from)
}
