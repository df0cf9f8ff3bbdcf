//! Reading a request body for the handler, up to its limit, for the adapters over
//! `http_body::Body` (axum, tower and the standalone server).

use bytes::Bytes;
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::http::RequestBody;

/// A body read whole, within the limit.
pub(crate) struct ReadBody(Bytes);

impl ReadBody {
    /// As the handler takes it.
    pub(crate) fn as_body(&self) -> RequestBody<'_> {
        RequestBody::Complete(&self.0)
    }
}

/// Reads `body` whole when it is at most `limit` bytes long; stops reading once it is longer.
pub(crate) async fn read_body<B>(body: B, limit: usize) -> Result<ReadBody, RequestBody<'static>>
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
