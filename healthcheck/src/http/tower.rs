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

use crate::http::{HealthHandler, HealthRequest};

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

impl<B> tower_service::Service<::http::Request<B>> for HealthService {
    type Response = ::http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: ::http::Request<B>) -> Self::Future {
        let handler = self.handler.clone();
        // The body is never read: keep the parts only, so the future is `Send` for any body.
        let (parts, _body) = request.into_parts();
        Box::pin(async move {
            let response = handler
                .handle(HealthRequest {
                    method: &parts.method,
                    path: parts.uri.path(),
                    query: parts.uri.query(),
                    headers: &parts.headers,
                })
                .await;
            Ok(response.into_http().map(Full::new))
        })
    }
}
