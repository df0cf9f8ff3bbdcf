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

use crate::http::{HealthHandler, body};

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
    let response = body::answer(handler, parts, body).await;
    response.into_http().map(Body::from)
}
