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

use crate::http::{HealthHandler, HealthRequest, ROUTES};

/// A router with every endpoint (under the handler's base path), answering any method (so that
/// other methods get the handler's 405).
pub fn router<S>(handler: HealthHandler) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let base = handler.base_path().to_owned();
    let serve = move |request: Request| {
        let handler = handler.clone();
        // The body is never read; keeping only the parts keeps the future `Send`.
        let (parts, _body) = request.into_parts();
        async move { answer(&handler, &parts).await }
    };
    ROUTES.iter().fold(Router::new(), |router, route| {
        router.route(&format!("{base}{route}"), any(serve.clone()))
    })
}

async fn answer(handler: &HealthHandler, request: &::http::request::Parts) -> Response {
    let response = handler
        .handle(HealthRequest {
            method: &request.method,
            path: request.uri.path(),
            query: request.uri.query(),
            headers: &request.headers,
        })
        .await;
    response.into_http().map(Body::from)
}
