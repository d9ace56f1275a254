//! pim's own middleware as one hand-written tower layer, one boxed future per request instead of one per layer.
//!
//! In order, outermost first (as the separate `from_fn` layers were): `requestId` in problem+json
//! bodies ([`crate::error::add_request_id_to_problem`]), lingering on refused bodies
//! ([`crate::linger`]), security headers ([`crate::portal::security`]), response counts
//! ([`crate::metrics`]), the anonymous endpoints' rate limit ([`crate::rate_limit`]) and the NUL
//! refusal ([`crate::extract::nul_refusal`]). Request ids are made by [`MakeRandomRequestId`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::Response;
use tower::{Layer, Service};
use tower_http::request_id::{MakeRequestId, RequestId};

use crate::AppState;

/// The layer: [`Stack`] around each route.
#[derive(Clone, Debug)]
pub struct StackLayer {
    state: AppState,
}

impl StackLayer {
    /// The layer over `state` (its metrics, rate limiter and portal settings).
    pub fn new(state: AppState) -> StackLayer {
        StackLayer { state }
    }
}

impl<S> Layer<S> for StackLayer {
    type Service = Stack<S>;
    fn layer(&self, inner: S) -> Stack<S> {
        Stack { state: self.state.clone(), inner }
    }
}

/// The service (see the module's doc).
#[derive(Clone, Debug)]
pub struct Stack<S> {
    state: AppState,
    inner: S,
}

impl<S> Service<Request> for Stack<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let problem_id = req.headers().get("x-request-id").cloned();
        let (req, lingering) = crate::linger::track(req);
        let refusal = crate::rate_limit::refusal(&self.state, &req).or_else(|| crate::extract::nul_refusal(req.uri()));
        let answer = match refusal {
            // The request (and its tracked body) is dropped here, before lingering looks for it.
            Some(refusal) => Err(refusal),
            None => Ok(self.inner.call(req)),
        };
        let state = self.state.clone();
        Box::pin(async move {
            let mut resp = match answer {
                Ok(future) => match future.await {
                    Ok(resp) => resp,
                    Err(never) => match never {},
                },
                Err(refusal) => refusal,
            };
            state.metrics.count_status(resp.status().as_u16());
            crate::portal::security::apply(resp.headers_mut(), state.portal.secure_cookies);
            lingering.finish().await;
            Ok(crate::error::add_request_id_to_problem(problem_id, resp).await)
        })
    }
}

/// Request ids: random (version 4) UUIDs from the thread's CSPRNG (`rand::thread_rng`, seeded
/// from the system), without a `getrandom` system call per request as `MakeRequestUuid` makes.
#[derive(Clone, Copy, Debug, Default)]
pub struct MakeRandomRequestId;

impl MakeRequestId for MakeRandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut buf = uuid::Uuid::encode_buffer();
        HeaderValue::from_str(id.hyphenated().encode_lower(&mut buf)).ok().map(RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_v4_uuids() {
        let req = axum::http::Request::new(());
        let mut make = MakeRandomRequestId;
        let ids: Vec<String> = (0..100)
            .filter_map(|_| make.make_request_id(&req))
            .filter_map(|id| id.header_value().to_str().ok().map(str::to_owned))
            .collect();
        assert_eq!(ids.len(), 100);
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).unwrap_or_default();
            assert_eq!(parsed.get_version(), Some(uuid::Version::Random), "{id}");
            assert_eq!(id, &parsed.hyphenated().to_string(), "lower-case hyphenated");
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), 100);
    }
}
