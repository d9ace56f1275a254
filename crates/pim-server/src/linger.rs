//! Reads what is left of a request body the server refused without reading (a 401 before the
//! body, a 413 past the limit), up to a bound, before answering: a client still sending it then
//! reads the 4xx instead of a reset connection, as behind nginx's lingering close.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use http_body::Frame;
use parking_lot::Mutex;

/// The most bytes read and discarded after a refusal; a larger body ends with the connection.
pub const DRAIN_LIMIT: usize = 4 * 1024 * 1024;
/// The longest time spent reading a refused body.
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

type Slot = Arc<Mutex<Option<Body>>>;

/// A request body that, dropped before its end, leaves itself in `slot` to be drained.
struct Tracked {
    inner: Option<Body>,
    ended: bool,
    slot: Slot,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Some(inner) = self.inner.as_mut() else { return Poll::Ready(None) };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.as_ref().map(HttpBody::size_hint).unwrap_or_default()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take().filter(|b| !self.ended && !b.is_end_stream()) {
            *self.slot.lock() = Some(inner);
        }
    }
}

/// Where a request's body is left if it is dropped unread; `None` for a request without a body.
pub struct Lingering(Option<Slot>);

/// Tracks `req`'s body (a request without one passes untouched): call [`Lingering::finish`] once
/// the response is made and the request dropped.
pub fn track(req: Request) -> (Request, Lingering) {
    if req.body().is_end_stream() {
        return (req, Lingering(None));
    }
    let slot: Slot = Arc::default();
    let (parts, body) = req.into_parts();
    let body = Body::new(Tracked { inner: Some(body), ended: false, slot: slot.clone() });
    (Request::from_parts(parts, body), Lingering(Some(slot)))
}

impl Lingering {
    /// Reads what is left of a body dropped unread, up to [`DRAIN_LIMIT`] and [`DRAIN_TIME`].
    pub async fn finish(self) {
        let Some(slot) = self.0 else { return };
        let left = slot.lock().take();
        if let Some(body) = left {
            let _ = tokio::time::timeout(DRAIN_TIME, drain(body)).await;
        }
    }
}

async fn drain(mut body: Body) {
    let mut read = 0;
    while read <= DRAIN_LIMIT {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
            _ => return,
        }
    }
}
