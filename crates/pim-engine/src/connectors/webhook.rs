//! The generic webhook target: one signed JSON POST per grant and revoke, and an optional signed GET of the holdings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;

use super::{Connector, ConnectorError, ConnectorOptions, GrantOp, Granted, Holding, RevokeOp, WebhookTarget};
use crate::notify::signature;

/// How long one call may take, answer included.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest grant or revoke answer read (only `credential` is looked at).
const MAX_ANSWER: usize = 64 * 1024;
/// The largest list answer read.
const MAX_LIST_ANSWER: usize = 16 * 1024 * 1024;

/// Signed calls per grant and revoke (`X-Pim-Signature`, the scheme of notification webhooks).
pub struct WebhookConnector {
    /// The connector's name (for logs).
    name: String,
    /// Where grants and revokes are POSTed; never put in a message or a log (it may carry a token).
    url: String,
    /// The signing key; `None` (or empty in the options): no signature is sent.
    secret: Option<String>,
    /// Where the holdings are read; never put in a message or a log.
    list_url: Option<String>,
    /// One client per connector (rustls, no redirects).
    client: reqwest::Client,
    /// How long one call may take.
    timeout: Duration,
}

/// Refuses a URL that is not http(s); the message names the option, never the URL.
fn check_url(connector: &str, option: &str, url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| format!("connector '{connector}': the webhook {option} is not a valid URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("connector '{connector}': the webhook {option} must be http:// or https://"));
    }
    Ok(())
}

/// Milliseconds since the epoch, from the system clock.
fn unix_now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An error and its sources, each once.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// `10 s`, `250 ms`.
fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{} s", d.as_secs()) } else { format!("{} ms", d.as_millis()) }
}

/// What the list URL answers.
#[derive(Deserialize)]
struct ListAnswer {
    holdings: Vec<HoldingDoc>,
}

#[derive(Deserialize)]
struct HoldingDoc {
    account: String,
    entitlement: String,
}

/// What a grant answer may carry.
#[derive(Deserialize)]
struct GrantAnswer {
    credential: Option<serde_json::Value>,
}

/// One call to make.
struct Call<'a> {
    /// `POST` or `GET`.
    method: reqwest::Method,
    url: &'a str,
    /// For messages: `the webhook`, `the webhook's list_url`.
    what: &'static str,
    /// `X-Pim-Event`.
    event: &'static str,
    /// `X-Pim-Delivery` (the idempotency key), when there is one.
    delivery: Option<&'a str>,
    /// The largest answer read.
    max_answer: usize,
}

impl WebhookConnector {
    /// Builds the connector and its HTTP client (no connection is made yet); refuses a `url` or
    /// `list_url` that is not http(s).
    pub fn new(connector: &ConnectorOptions, options: &WebhookTarget) -> Result<WebhookConnector, String> {
        let name = connector.name.as_str();
        check_url(name, "url", &options.url)?;
        if let Some(list_url) = &options.list_url {
            check_url(name, "list_url", list_url)?;
        }
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            // A redirect would carry the signed call elsewhere: a 3xx is an answer like any non-2xx.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pim/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("connector '{name}': the HTTP client cannot be built: {}", chain(&e)))?;
        Ok(WebhookConnector {
            name: name.to_owned(),
            url: options.url.clone(),
            secret: options.secret.clone().filter(|s| !s.is_empty()),
            list_url: options.list_url.clone(),
            client,
            timeout: TIMEOUT,
        })
    }

    /// `message` without either URL, should a library have quoted one.
    fn scrub(&self, message: String) -> String {
        let mut out = message;
        for url in std::iter::once(&self.url).chain(self.list_url.as_ref()) {
            if !url.is_empty() && out.contains(url.as_str()) {
                out = out.replace(url.as_str(), "<url>");
            }
        }
        out
    }

    /// Sends `body` with `timestamp` (unix seconds, read by the caller just before) and its signature;
    /// returns the body of a 2xx answer, anything else is an error without the URL.
    async fn send(&self, call: Call<'_>, body: Vec<u8>, timestamp: i64) -> Result<Vec<u8>, ConnectorError> {
        let what = call.what;
        let fail = |msg: String| ConnectorError::new(self.scrub(msg));
        let net = |e: reqwest::Error| {
            if e.is_timeout() {
                fail(format!("{what} did not answer within {}", human(self.timeout)))
            } else if e.is_connect() {
                fail(format!("{what} could not be reached: {}", chain(&e.without_url())))
            } else {
                fail(format!("{what}: {}", chain(&e.without_url())))
            }
        };
        let mut req = self
            .client
            .request(call.method, call.url)
            .timeout(self.timeout)
            .header("X-Pim-Event", call.event)
            .header("X-Pim-Timestamp", timestamp.to_string());
        if let Some(delivery) = call.delivery {
            req = req.header("X-Pim-Delivery", delivery);
        }
        if let Some(secret) = &self.secret {
            req = req.header("X-Pim-Signature", signature(secret, timestamp, &body));
        }
        if !body.is_empty() {
            req = req.header(CONTENT_TYPE, "application/json").body(body);
        }
        let mut resp = req.send().await.map_err(net)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(fail(format!("{what} answered HTTP {status}")));
        }
        let mut answer = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(net)? {
            if answer.len() + chunk.len() > call.max_answer {
                return Err(fail(format!("{what}'s answer is larger than {} bytes", call.max_answer)));
            }
            answer.extend_from_slice(&chunk);
        }
        Ok(answer)
    }

    /// The grant's JSON body.
    fn grant_body(&self, op: &GrantOp, sent_at: i64) -> Vec<u8> {
        let doc = serde_json::json!({
            "action": "grant",
            "idempotencyKey": op.idempotency_key,
            "connector": op.connector,
            "principal": { "id": op.principal_id.to_string(), "name": op.principal_name },
            "account": op.account,
            "entitlement": op.entitlement,
            "role": { "id": op.role_id.to_string(), "name": op.role_name },
            "scope": op.scope.as_str(),
            "assignmentId": op.assignment_id.to_string(),
            "window": { "endsAt": op.ends_at.map(|t| t.0) },
            "sentAt": sent_at,
        });
        serde_json::to_vec(&doc).unwrap_or_default()
    }

    /// The revoke's JSON body.
    fn revoke_body(&self, op: &RevokeOp, sent_at: i64) -> Vec<u8> {
        let doc = serde_json::json!({
            "action": "revoke",
            "idempotencyKey": op.idempotency_key,
            "connector": op.connector,
            "principal": { "id": op.principal_id.to_string(), "name": op.principal_name },
            "account": op.account,
            "entitlement": op.entitlement,
            "assignmentId": op.assignment_id.map(|a| a.to_string()),
            "terminateSessions": op.terminate_sessions,
            "sentAt": sent_at,
        });
        serde_json::to_vec(&doc).unwrap_or_default()
    }

    async fn do_grant(&self, op: &GrantOp) -> Result<Granted, ConnectorError> {
        let now = unix_now_ms();
        let call = Call {
            method: reqwest::Method::POST,
            url: &self.url,
            what: "the webhook",
            event: "connector.grant",
            delivery: Some(&op.idempotency_key),
            max_answer: MAX_ANSWER,
        };
        let answer = self.send(call, self.grant_body(op, now), now.div_euclid(1000)).await?;
        // Only a non-empty string `credential` counts; anything else in the answer is ignored.
        let credential = serde_json::from_slice::<GrantAnswer>(&answer)
            .ok()
            .and_then(|a| a.credential)
            .and_then(|c| c.as_str().map(str::to_owned))
            .filter(|c| !c.is_empty());
        tracing::debug!(
            connector = %self.name,
            account = %op.account,
            entitlement = %op.entitlement,
            credential = credential.is_some(),
            "webhook grant done"
        );
        Ok(Granted { credential })
    }

    async fn do_revoke(&self, op: &RevokeOp) -> Result<(), ConnectorError> {
        let now = unix_now_ms();
        let call = Call {
            method: reqwest::Method::POST,
            url: &self.url,
            what: "the webhook",
            event: "connector.revoke",
            delivery: Some(&op.idempotency_key),
            max_answer: MAX_ANSWER,
        };
        self.send(call, self.revoke_body(op, now), now.div_euclid(1000)).await?;
        tracing::debug!(connector = %self.name, account = %op.account, entitlement = %op.entitlement, "webhook revoke done");
        Ok(())
    }

    async fn do_list(&self, entitlements: &[String]) -> Result<Option<Vec<Holding>>, ConnectorError> {
        let Some(list_url) = &self.list_url else { return Ok(None) };
        let call = Call {
            method: reqwest::Method::GET,
            url: list_url,
            what: "the webhook's list_url",
            event: "connector.list",
            delivery: None,
            max_answer: MAX_LIST_ANSWER,
        };
        let answer = self.send(call, Vec::new(), unix_now_ms().div_euclid(1000)).await?;
        let doc: ListAnswer = serde_json::from_slice(&answer).map_err(|e| {
            ConnectorError::new(format!(
                "the webhook's list_url answered something else than {{\"holdings\": [{{\"account\", \"entitlement\"}}]}}: {e}"
            ))
        })?;
        let mut out: Vec<Holding> = doc
            .holdings
            .into_iter()
            .filter(|h| entitlements.contains(&h.entitlement))
            .map(|h| Holding { account: h.account, entitlement: h.entitlement })
            .collect();
        out.sort();
        out.dedup();
        tracing::debug!(connector = %self.name, holdings = out.len(), "webhook list done");
        Ok(Some(out))
    }
}

impl Connector for WebhookConnector {
    fn grant<'a>(&'a self, op: &'a GrantOp) -> BoxFuture<'a, Result<Granted, ConnectorError>> {
        Box::pin(self.do_grant(op))
    }
    fn revoke<'a>(&'a self, op: &'a RevokeOp) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(self.do_revoke(op))
    }
    fn list<'a>(&'a self, entitlements: &'a [String]) -> BoxFuture<'a, Result<Option<Vec<Holding>>, ConnectorError>> {
        Box::pin(self.do_list(entitlements))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use hmac::{Hmac, Mac};
    use parking_lot::Mutex;
    use pim_domain::{AssignmentId, PrincipalId, RoleId, ScopePath, Timestamp};
    use serde_json::{Value, json};
    use sha2::Sha256;

    use super::*;
    use crate::connectors::{ConnectorKind, Mapping};

    const SECRET: &str = "whsec_test-key";
    /// Put in every receiver path, so a message quoting the URL is caught.
    const TOKEN: &str = "tok_9f8e7d6c5b4a";

    /// One request the receiver saw.
    #[derive(Clone, Debug)]
    struct Seen {
        method: Method,
        path: String,
        headers: HeaderMap,
        body: Vec<u8>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }
        fn json(&self) -> Value {
            serde_json::from_slice(&self.body).expect("a JSON body")
        }
    }

    /// How the receiver answers.
    struct Script {
        status: StatusCode,
        body: String,
        hang: bool,
        seen: Mutex<Vec<Seen>>,
    }

    /// A real HTTP server on 127.0.0.1:0, stopped when dropped.
    struct Receiver {
        addr: SocketAddr,
        script: Arc<Script>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Receiver {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Receiver {
        /// The URL of `path` with the fake token in it.
        fn url(&self, path: &str) -> String {
            format!("http://{}/{TOKEN}{path}", self.addr)
        }
        fn seen(&self) -> Vec<Seen> {
            self.script.seen.lock().clone()
        }
    }

    async fn handle(
        State(script): State<Arc<Script>>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, [(&'static str, &'static str); 1], String) {
        script.seen.lock().push(Seen { method, path: uri.path().to_owned(), headers, body: body.to_vec() });
        if script.hang {
            std::future::pending::<()>().await;
        }
        (script.status, [("content-type", "application/json")], script.body.clone())
    }

    async fn start(status: u16, body: &str, hang: bool) -> Receiver {
        let script = Arc::new(Script {
            status: StatusCode::from_u16(status).expect("status"),
            body: body.to_owned(),
            hang,
            seen: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new().fallback(handle).with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, script, task }
    }

    async fn receiver(status: u16, body: &str) -> Receiver {
        start(status, body, false).await
    }

    fn connector(url: &str, secret: Option<&str>, list_url: Option<&str>) -> WebhookConnector {
        let target = WebhookTarget {
            url: url.to_owned(),
            secret: secret.map(str::to_owned),
            list_url: list_url.map(str::to_owned),
        };
        let mapping = Mapping {
            role: "Database Administrator".into(),
            scope: ScopePath::parse("/databases/prod").expect("scope"),
            entitlement: "prod_admin".into(),
            terminate_sessions: true,
        };
        let options = ConnectorOptions::new("hooks", ConnectorKind::Webhook(target.clone()), vec![mapping]);
        WebhookConnector::new(&options, &target).expect("connector")
    }

    fn grant_op(ends_at: Option<Timestamp>) -> GrantOp {
        GrantOp {
            connector: "hooks".into(),
            principal_id: PrincipalId::new(),
            principal_name: "alice".into(),
            account: "alice@example.com".into(),
            entitlement: "prod_admin".into(),
            ends_at,
            assignment_id: AssignmentId::new(),
            role_id: RoleId::new(),
            role_name: "Database Administrator".into(),
            scope: ScopePath::parse("/databases/prod").expect("scope"),
            idempotency_key: "grant:hooks:alice:prod_admin:1700000000000".into(),
        }
    }

    fn revoke_op(assignment_id: Option<AssignmentId>) -> RevokeOp {
        RevokeOp {
            connector: "hooks".into(),
            principal_id: PrincipalId::new(),
            principal_name: "bob".into(),
            account: "bob".into(),
            entitlement: "prod_reader".into(),
            terminate_sessions: true,
            assignment_id,
            idempotency_key: "revoke:hooks:bob:prod_reader:42".into(),
        }
    }

    fn now_secs() -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64
    }

    /// Checks the timestamp is recent and the signature is HMAC-SHA256 of "{timestamp}.{body}",
    /// computed here with `hmac`/`sha2`, not with pim's function. Returns the timestamp.
    fn verify_signed(seen: &Seen) -> i64 {
        let ts_text = seen.header("x-pim-timestamp").expect("X-Pim-Timestamp");
        let ts: i64 = ts_text.parse().expect("unix seconds");
        assert!((now_secs() - ts).abs() <= 5, "timestamp {ts} is not within 5 s of now {}", now_secs());
        let sig = seen.header("x-pim-signature").expect("X-Pim-Signature");
        let hex_part = sig.strip_prefix("v1=").expect("v1= prefix");
        let given = hex::decode(hex_part).expect("hex");
        let mut signed = format!("{ts_text}.").into_bytes();
        signed.extend_from_slice(&seen.body);
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
        mac.update(&signed);
        mac.verify_slice(&given).expect("the signature verifies with the shared secret");
        // And it is bound to the key: another key does not verify it.
        let mut other = Hmac::<Sha256>::new_from_slice(b"another key").expect("key");
        other.update(&signed);
        assert!(other.verify_slice(&given).is_err());
        ts
    }

    /// `doc` without `sentAt`, after checking that it is in milliseconds of the signed second.
    fn without_sent_at(mut doc: Value, ts: i64) -> Value {
        let sent_at = doc["sentAt"].as_i64().expect("sentAt in ms");
        assert_eq!(sent_at.div_euclid(1000), ts, "sentAt and X-Pim-Timestamp are the same reading");
        doc.as_object_mut().expect("object").remove("sentAt");
        doc
    }

    fn assert_no_url(message: &str, r: &Receiver) {
        assert!(!message.contains(TOKEN), "the message quotes the URL's token: {message}");
        assert!(!message.contains(&r.addr.to_string()), "the message quotes the URL: {message}");
    }

    #[tokio::test]
    async fn a_grant_arrives_with_every_field_signed_and_timestamped() {
        let r = receiver(200, "").await;
        let c = connector(&r.url("/grants?x=1"), Some(SECRET), None);
        let op = grant_op(Some(Timestamp(1_900_000_000_123)));
        let granted = c.grant(&op).await.expect("granted");
        assert_eq!(granted.credential, None);

        let seen = r.seen();
        assert_eq!(seen.len(), 1, "one call per grant");
        let s = &seen[0];
        assert_eq!(s.method, Method::POST);
        assert_eq!(s.path, format!("/{TOKEN}/grants"));
        assert_eq!(s.header("content-type"), Some("application/json"));
        assert_eq!(s.header("x-pim-event"), Some("connector.grant"));
        assert_eq!(s.header("x-pim-delivery"), Some(op.idempotency_key.as_str()));
        let ts = verify_signed(s);
        let expected = json!({
            "action": "grant",
            "idempotencyKey": op.idempotency_key,
            "connector": "hooks",
            "principal": { "id": op.principal_id.to_string(), "name": "alice" },
            "account": "alice@example.com",
            "entitlement": "prod_admin",
            "role": { "id": op.role_id.to_string(), "name": "Database Administrator" },
            "scope": "/databases/prod",
            "assignmentId": op.assignment_id.to_string(),
            "window": { "endsAt": 1_900_000_000_123_i64 },
        });
        assert_eq!(without_sent_at(s.json(), ts), expected);

        // A permanent grant says so with null.
        c.grant(&grant_op(None)).await.expect("granted");
        let seen = r.seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].json()["window"], json!({ "endsAt": null }));
        verify_signed(&seen[1]);
    }

    #[tokio::test]
    async fn a_revoke_arrives_with_every_field_signed_and_timestamped() {
        let r = receiver(204, "").await;
        let c = connector(&r.url("/hook"), Some(SECRET), None);
        let assignment = AssignmentId::new();
        let op = revoke_op(Some(assignment));
        c.revoke(&op).await.expect("revoked");

        let seen = r.seen();
        assert_eq!(seen.len(), 1, "one call per revoke");
        let s = &seen[0];
        assert_eq!(s.method, Method::POST);
        assert_eq!(s.path, format!("/{TOKEN}/hook"));
        assert_eq!(s.header("content-type"), Some("application/json"));
        assert_eq!(s.header("x-pim-event"), Some("connector.revoke"));
        assert_eq!(s.header("x-pim-delivery"), Some("revoke:hooks:bob:prod_reader:42"));
        let ts = verify_signed(s);
        let expected = json!({
            "action": "revoke",
            "idempotencyKey": "revoke:hooks:bob:prod_reader:42",
            "connector": "hooks",
            "principal": { "id": op.principal_id.to_string(), "name": "bob" },
            "account": "bob",
            "entitlement": "prod_reader",
            "assignmentId": assignment.to_string(),
            "terminateSessions": true,
        });
        assert_eq!(without_sent_at(s.json(), ts), expected);

        // Without a known assignment, and without ending sessions.
        let mut op = revoke_op(None);
        op.terminate_sessions = false;
        c.revoke(&op).await.expect("revoked");
        let doc = r.seen()[1].json();
        assert_eq!(doc["assignmentId"], Value::Null);
        assert_eq!(doc["terminateSessions"], json!(false));
    }

    #[tokio::test]
    async fn a_non_2xx_answer_is_an_error_naming_the_status_without_the_url() {
        for status in [500_u16, 409, 302, 404] {
            let r = receiver(status, r#"{"credential": "not-for-failures"}"#).await;
            let list = r.url("/holdings");
            let c = connector(&r.url("/hook"), Some(SECRET), Some(&list));

            let e = c.grant(&grant_op(None)).await.expect_err("a grant answered non-2xx fails");
            assert!(e.message.contains(&format!("HTTP {status}")), "{status}: {}", e.message);
            assert!(e.message.starts_with("the webhook answered HTTP"), "{}", e.message);
            assert_no_url(&e.message, &r);

            let e = c.revoke(&revoke_op(None)).await.expect_err("a revoke answered non-2xx fails");
            assert!(e.message.contains(&format!("HTTP {status}")), "{status}: {}", e.message);
            assert_no_url(&e.message, &r);

            let e = c.list(&["prod_admin".to_owned()]).await.expect_err("a list answered non-2xx fails");
            assert!(e.message.contains(&format!("HTTP {status}")), "{status}: {}", e.message);
            assert_no_url(&e.message, &r);

            assert_eq!(r.seen().len(), 3, "{status}: one call each, no redirect followed, no retry here");
        }
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_times_out() {
        let r = start(200, "", true).await;
        let mut c = connector(&r.url("/hook"), Some(SECRET), Some(&r.url("/holdings")));
        assert_eq!(c.timeout, Duration::from_secs(10), "the default timeout");
        c.timeout = Duration::from_millis(300);
        // The connector must give up on its own: this outer bound only turns a hang into a failure.
        let bound = Duration::from_secs(5);

        let e = tokio::time::timeout(bound, c.grant(&grant_op(None)))
            .await
            .expect("the grant gave up after its timeout")
            .expect_err("a grant without an answer fails");
        assert_eq!(e.message, "the webhook did not answer within 300 ms");
        assert_no_url(&e.message, &r);

        let e = tokio::time::timeout(bound, c.revoke(&revoke_op(None)))
            .await
            .expect("the revoke gave up after its timeout")
            .expect_err("a revoke without an answer fails");
        assert_eq!(e.message, "the webhook did not answer within 300 ms");

        let entitlements = ["prod_admin".to_owned()];
        let e = tokio::time::timeout(bound, c.list(&entitlements))
            .await
            .expect("the list gave up after its timeout")
            .expect_err("a list without an answer fails");
        assert_eq!(e.message, "the webhook's list_url did not answer within 300 ms");
        assert_eq!(r.seen().len(), 3, "the calls did arrive");
    }

    #[tokio::test]
    async fn a_receiver_that_cannot_be_reached_is_an_error_without_the_url() {
        // A port that was just free: nothing listens there any more.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let c = connector(&format!("http://{addr}/{TOKEN}/hook"), Some(SECRET), None);
        let e = c.grant(&grant_op(None)).await.expect_err("nobody listens");
        assert!(e.message.starts_with("the webhook could not be reached"), "{}", e.message);
        assert!(!e.message.contains(TOKEN), "{}", e.message);
        assert!(!e.message.contains(&addr.to_string()), "{}", e.message);
    }

    #[tokio::test]
    async fn a_credential_in_the_grant_answer_comes_back() {
        let r = receiver(201, r#"{"credential": "pw-Z8x!q", "note": "ignored", "expires": 12}"#).await;
        let c = connector(&r.url("/hook"), Some(SECRET), None);
        let granted = c.grant(&grant_op(None)).await.expect("granted");
        assert_eq!(granted.credential.as_deref(), Some("pw-Z8x!q"));
        assert!(!format!("{granted:?}").contains("pw-Z8x!q"), "Granted's Debug redacts it");

        // Anything else in a 2xx answer is ignored: no credential, still a success.
        for body in ["", "ok", r#"{"status": "done"}"#, r#"{"credential": 7}"#, r#"{"credential": ""}"#, "[1]"] {
            let r = receiver(200, body).await;
            let c = connector(&r.url("/hook"), Some(SECRET), None);
            let granted = c.grant(&grant_op(None)).await.expect("granted");
            assert_eq!(granted.credential, None, "answer {body:?}");
        }
    }

    #[tokio::test]
    async fn list_returns_only_the_listed_entitlements() {
        let answer = json!({ "holdings": [
            { "account": "alice", "entitlement": "prod_admin" },
            { "account": "bob", "entitlement": "prod_reader", "since": "2026-01-01" },
            { "account": "carol", "entitlement": "staging_admin" },
            { "account": "alice", "entitlement": "prod_admin" },
        ], "next": null });
        let r = receiver(200, &answer.to_string()).await;
        let c = connector(&r.url("/hook"), Some(SECRET), Some(&r.url("/holdings")));
        let got = c.list(&["prod_admin".to_owned(), "prod_reader".to_owned()]).await.expect("listed");
        let holding = |a: &str, e: &str| Holding { account: a.into(), entitlement: e.into() };
        assert_eq!(got, Some(vec![holding("alice", "prod_admin"), holding("bob", "prod_reader")]));

        let seen = r.seen();
        assert_eq!(seen.len(), 1);
        let s = &seen[0];
        assert_eq!(s.method, Method::GET);
        assert_eq!(s.path, format!("/{TOKEN}/holdings"));
        assert!(s.body.is_empty());
        assert_eq!(s.header("x-pim-event"), Some("connector.list"));
        verify_signed(s); // over an empty body

        let got = c.list(&["nothing_held".to_owned()]).await.expect("listed");
        assert_eq!(got, Some(vec![]));
    }

    #[tokio::test]
    async fn list_without_a_list_url_is_none() {
        let r = receiver(200, r#"{"holdings": []}"#).await;
        let c = connector(&r.url("/hook"), Some(SECRET), None);
        assert_eq!(c.list(&["prod_admin".to_owned()]).await, Ok(None));
        assert!(r.seen().is_empty(), "nothing is asked");
    }

    #[tokio::test]
    async fn a_malformed_list_answer_is_an_error() {
        for body in [
            "",
            "not json",
            "[]",
            r#"{"holding": []}"#,
            r#"{"holdings": {}}"#,
            r#"{"holdings": [{"account": "alice"}]}"#,
            r#"{"holdings": [{"account": 1, "entitlement": "prod_admin"}]}"#,
        ] {
            let r = receiver(200, body).await;
            let c = connector(&r.url("/hook"), Some(SECRET), Some(&r.url("/holdings")));
            let e = c.list(&["prod_admin".to_owned()]).await.expect_err(body);
            assert!(e.message.starts_with("the webhook's list_url answered something else than"), "{}", e.message);
            assert_no_url(&e.message, &r);
        }
    }

    #[tokio::test]
    async fn without_a_secret_no_signature_is_sent() {
        for secret in [None, Some("")] {
            let r = receiver(200, r#"{"holdings": []}"#).await;
            let c = connector(&r.url("/hook"), secret, Some(&r.url("/holdings")));
            c.grant(&grant_op(None)).await.expect("granted");
            c.revoke(&revoke_op(None)).await.expect("revoked");
            c.list(&["prod_admin".to_owned()]).await.expect("listed");
            let seen = r.seen();
            assert_eq!(seen.len(), 3);
            for s in &seen {
                assert_eq!(s.header("x-pim-signature"), None, "{secret:?}: {} {}", s.method, s.path);
                assert!(s.header("x-pim-timestamp").is_some(), "the timestamp is still sent");
            }
        }
    }

    #[tokio::test]
    async fn new_refuses_a_url_that_is_not_http_without_quoting_it() {
        let build = |url: &str, list_url: Option<&str>| {
            let target = WebhookTarget { url: url.into(), secret: None, list_url: list_url.map(str::to_owned) };
            let mapping = Mapping {
                role: "Reader".into(),
                scope: ScopePath::root(),
                entitlement: "reader".into(),
                terminate_sessions: false,
            };
            let options = ConnectorOptions::new("hooks", ConnectorKind::Webhook(target.clone()), vec![mapping]);
            WebhookConnector::new(&options, &target).err()
        };
        for url in
            [format!("ftp://example.com/{TOKEN}"), format!("file:///{TOKEN}"), format!("{TOKEN}/hook"), String::new()]
        {
            let e = build(&url, None).expect("refused");
            assert!(e.starts_with("connector 'hooks': the webhook url "), "{e}");
            assert!(e.contains("http:// or https://") || e.contains("not a valid URL"), "{e}");
            assert!(!e.contains(TOKEN), "{e}");
        }
        let e = build("https://example.com/hook", Some(&format!("ftp://example.com/{TOKEN}"))).expect("refused");
        assert_eq!(e, "connector 'hooks': the webhook list_url must be http:// or https://");
        assert_eq!(build("https://example.com/hook", Some("http://example.com/holdings")), None);
    }
}
