//! Reads what is left of a request body the server refused without reading (a 401 before the
//! body, a 413 past the limit), up to a bound, before answering: a client still sending it then
//! reads the 4xx instead of a reset connection, as behind nginx's lingering close.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
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

/// The middleware: requests without a body pass untouched.
pub async fn linger(req: Request, next: Next) -> Response {
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let slot: Slot = Arc::default();
    let (parts, body) = req.into_parts();
    let body = Body::new(Tracked { inner: Some(body), ended: false, slot: slot.clone() });
    let resp = next.run(Request::from_parts(parts, body)).await;
    let left = slot.lock().take();
    if let Some(body) = left {
        let _ = tokio::time::timeout(DRAIN_TIME, drain(body)).await;
    }
    resp
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
