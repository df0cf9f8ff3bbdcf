//! The endpoints as a [`tower_service::Service`] over `http` types: for hyper, and for anything
//! built on tower.
//!
//! ```
//! use healthcheck::{HealthChecks, http::{HttpOptions, tower::HealthService}};
//!
//! # fn main() -> Result<(), healthcheck::Error> {
//! let handler = HttpOptions::new().build(HealthChecks::builder().build()?)?;
//! let service = HealthService::new(handler);
//! # let _ = service;
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;

use crate::http::{HealthHandler, body};

/// Answers every request with the handler; a path that is not an endpoint gets a 404.
#[derive(Clone, Debug)]
pub struct HealthService {
    handler: HealthHandler,
}

impl HealthService {
    /// A service over `handler`.
    #[must_use]
    pub const fn new(handler: HealthHandler) -> Self {
        Self { handler }
    }
}

/// Any body that implements [`http_body::Body`] (hyper's `Incoming`, `String`, `Full`,
/// `Empty`, ...); only the body of a request that the handler takes (`POST <base>/events`) is
/// read, and at most [`HealthHandler::body_limit`] bytes of it.
impl<B> tower_service::Service<::http::Request<B>> for HealthService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = ::http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: ::http::Request<B>) -> Self::Future {
        let handler = self.handler.clone();
        let (parts, body) = request.into_parts();
        Box::pin(async move {
            let response = body::answer(&handler, &parts, body).await;
            Ok(response.into_http().map(Full::new))
        })
    }
}
