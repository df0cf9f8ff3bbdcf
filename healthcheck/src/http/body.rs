//! Reading a request body for the handler, up to its limit, for the adapters over
//! `http_body::Body` (axum, tower and the standalone server).

use bytes::Bytes;
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::http::{HealthHandler, HealthRequest, HealthResponse, RequestBody};

/// Answers a request of `parts` with `body`: only a request whose body the handler takes (an
/// event) has it read, and at most the handler's limit; any other body is dropped unread before
/// the handler runs (so a body that is not `Sync` never crosses an await).
pub(crate) async fn answer<B>(
    handler: &HealthHandler,
    parts: &http::request::Parts,
    body: B,
) -> HealthResponse
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let request = HealthRequest {
        method: &parts.method,
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
    };
    match handler.body_limit(&request) {
        Some(limit) => match read_body(body, limit).await {
            Ok(read) => handler.handle_with_body(request, read.as_body()).await,
            Err(read) => handler.handle_with_body(request, read).await,
        },
        None => {
            drop(body);
            handler.handle(request).await
        }
    }
}

/// A body read whole, within the limit.
struct ReadBody(Bytes);

impl ReadBody {
    /// As the handler takes it.
    fn as_body(&self) -> RequestBody<'_> {
        RequestBody::Complete(&self.0)
    }
}

/// Reads `body` whole when it is at most `limit` bytes long; stops reading once it is longer.
async fn read_body<B>(body: B, limit: usize) -> Result<ReadBody, RequestBody<'static>>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(ReadBody(collected.to_bytes())),
        Err(error) if error.is::<LengthLimitError>() => Err(RequestBody::TooLarge),
        Err(error) => {
            tracing::debug!(error, "a request body could not be read");
            Err(RequestBody::Unreadable)
        }
    }
}
