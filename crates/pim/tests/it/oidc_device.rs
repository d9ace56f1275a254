//! The device authorization grant (RFC 8628, `pim login --oidc NAME --device`) against the real
//! provider of `oidc.rs`: the person approves the user code through the provider's own device
//! pages; pim's clock is the manual one, so poll intervals are proved without sleeping.

use pim_engine::oidc::OidcProviderOptions;
use serde_json::json;

use crate::harness::prelude::*;
use crate::oidc::{Idp, SECRET, approve_device, binding, code_of, node, server, sign_in_events};

fn start_body() -> OidcDeviceStartRequest {
    OidcDeviceStartRequest { binding: binding() }
}

fn poll_body(handle: &str) -> OidcDevicePollRequest {
    OidcDevicePollRequest { handle: handle.into(), binding_secret: SECRET.into(), token_name: None }
}

fn options(idp: &Idp) -> OidcProviderOptions {
    idp.options(|o| o.create_users = true)
}

/// The interval a poll answered, when it is pending.
fn pending(r: OidcDevicePollResponse) -> u64 {
    assert_eq!(r.status, OidcDeviceStatus::Pending, "{r:?}");
    assert!(r.login.is_none());
    r.interval.expect("an interval")
}

/// Pending (not an error) before approval; after approval the provider is not asked before the
/// interval is up; `slow_down` lengthens the interval by five seconds and pim keeps to it; then
/// signed in (audited with the grant), and the handle is used up.
async fn device_polls_are_pending_until_approved_and_slow_down_is_honoured(b: Backend) {
    let Some(node) = node() else { return };
    let idp = Idp::start(&node, "http://127.0.0.1:9/portal");
    let s = server(&b, options(&idp)).await;
    let anon = s.anonymous();
    idp.next("sub-dora", json!({ "preferred_username": "dora" }), &["pwd", "mfa"]).await;
    let start = anon.oidc_device_start("corp", &start_body()).await.expect("device start");
    assert!(!start.user_code.is_empty() && start.verification_uri.starts_with(&idp.issuer), "{start:?}");
    assert_eq!(start.interval, 5, "the RFC's default when the provider names none");
    let complete = start.verification_uri_complete.clone().expect("the provider gives the complete URI");
    assert!(complete.contains(&start.user_code.replace('-', "")) || complete.contains(&start.user_code));

    // Before approval: pending, from the provider (authorization_pending).
    assert_eq!(pending(anon.oidc_device_poll("corp", &poll_body(&start.handle)).await.expect("poll")), 5);
    approve_device(&complete).await;
    // Approved, but polled again at once: pim does not ask the provider before the interval.
    assert_eq!(pending(anon.oidc_device_poll("corp", &poll_body(&start.handle)).await.expect("poll")), 5);

    // The provider says slow_down: five seconds more, and pim keeps to the longer interval.
    idp.slow_down_once().await;
    s.advance(5_000);
    assert_eq!(pending(anon.oidc_device_poll("corp", &poll_body(&start.handle)).await.expect("poll")), 10);
    s.advance(5_000);
    assert_eq!(pending(anon.oidc_device_poll("corp", &poll_body(&start.handle)).await.expect("poll")), 10);
    s.advance(5_000);
    let done = anon.oidc_device_poll("corp", &poll_body(&start.handle)).await.expect("signed in");
    assert_eq!((done.status, done.interval), (OidcDeviceStatus::SignedIn, None));
    let login = done.login.expect("the session");
    assert_eq!(login.principal.name, "dora");
    assert!(login.mfa_at.is_some(), "amr mfa counts as in the code flow");
    let me = Client::new(&s.url, Some(login.token)).expect("client").me().await.expect("the token works");
    assert_eq!(me.principal.name, "dora");
    let ok = sign_in_events(&s).await.into_iter().find(|e| e.outcome.as_str() == "success").expect("audited");
    assert_eq!((ok.details["grant"].clone(), ok.details["subject"].clone()), (json!("device"), json!("sub-dora")));
    assert_eq!(ok.details["match"], "created");

    // Used once: the same handle again is refused.
    let e = anon.oidc_device_poll("corp", &poll_body(&start.handle)).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(401), Some("invalid_credentials")), "{e}");
    assert!(e.to_string().contains("start again"), "{e}");
    s.stop().await;
}

/// A wrong binding secret is refused and uses the sign-in up; an expired one, an unknown handle and
/// one started at another provider are refused; a disabled user stays refused.
async fn device_sign_ins_are_bound_expire_and_refuse_disabled_users(b: Backend) {
    let Some(node) = node() else { return };
    let idp = Idp::start(&node, "http://127.0.0.1:9/portal");
    let s = server(&b, options(&idp)).await;
    let anon = s.anonymous();
    idp.next("sub-eve", json!({ "preferred_username": "eve" }), &["pwd"]).await;

    // Approved, then polled with another secret: refused, and the right secret no longer helps.
    let start = anon.oidc_device_start("corp", &start_body()).await.expect("start");
    approve_device(start.verification_uri_complete.as_deref().expect("complete")).await;
    let mut stolen = poll_body(&start.handle);
    stolen.binding_secret = "a-guess".into();
    let e = anon.oidc_device_poll("corp", &stolen).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(401), Some("invalid_credentials")), "{e}");
    assert!(e.to_string().contains("another client"), "{e}");
    assert_eq!(code_of(anon.oidc_device_poll("corp", &poll_body(&start.handle)).await), "invalid_credentials");
    assert!(s.audited("user.create").await.iter().all(|e| e.details["name"] != "eve"), "no user was created");
    let refused = sign_in_events(&s).await;
    assert!(refused.iter().all(|e| e.outcome.as_str() == "failure" && e.details["grant"] == "device"), "{refused:?}");

    // Unknown handles, bad bindings at start.
    assert_eq!(code_of(anon.oidc_device_poll("corp", &poll_body("no-such-handle")).await), "invalid_credentials");
    assert_eq!(code_of(anon.oidc_device_poll("corp", &poll_body("")).await), "invalid_input");
    for bad in ["", "abc", &"g".repeat(64)] {
        let body = OidcDeviceStartRequest { binding: bad.to_owned() };
        assert_eq!(code_of(anon.oidc_device_start("corp", &body).await), "invalid_input", "{bad:?}");
    }
    assert_eq!(code_of(anon.oidc_device_start("nope", &start_body()).await), "not_found");

    // Expired (the provider's expires_in, 10 minutes): refused even though approved.
    let start = anon.oidc_device_start("corp", &start_body()).await.expect("start");
    approve_device(start.verification_uri_complete.as_deref().expect("complete")).await;
    assert!(start.expires_at.0 <= s.engine.now().0 + 10 * MINUTE_MS, "{:?}", start.expires_at);
    s.advance(10 * MINUTE_MS + 1_000);
    let e = anon.oidc_device_poll("corp", &poll_body(&start.handle)).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_credentials"), "{e}");
    assert!(e.to_string().contains("expired"), "{e}");
    s.clock.set(crate::oidc::real_now());

    // Signed in once (created), then disabled: the next device sign-in is refused.
    let start = anon.oidc_device_start("corp", &start_body()).await.expect("start");
    approve_device(start.verification_uri_complete.as_deref().expect("complete")).await;
    let eve = anon.oidc_device_poll("corp", &poll_body(&start.handle)).await.expect("poll").login.expect("eve");
    s.admin
        .update_user(eve.principal.id, &UpdateUser { enabled: Some(false), ..Default::default() })
        .await
        .expect("disable");
    let start = anon.oidc_device_start("corp", &start_body()).await.expect("start");
    approve_device(start.verification_uri_complete.as_deref().expect("complete")).await;
    let e = anon.oidc_device_poll("corp", &poll_body(&start.handle)).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(409), Some("principal_disabled")), "{e}");
    s.stop().await;
}

/// A provider whose discovery lists no device authorization endpoint: a clear 400 at start.
async fn a_provider_without_the_device_endpoint_is_refused_clearly(b: Backend) {
    let Some(node) = node() else { return };
    let idp = Idp::start_without_device_grant(&node);
    let s = server(&b, options(&idp)).await;
    let e = s.anonymous().oidc_device_start("corp", &start_body()).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(400), Some("invalid_input")), "{e}");
    assert!(e.to_string().contains("offers no device sign-in"), "{e}");
    assert!(e.to_string().contains("pim login --oidc corp"), "{e}");
    s.stop().await;
}

/// `pim login --oidc corp --device`: the CLI prints the code and where to enter it, polls while the
/// person approves it through the provider's pages, and stores the token.
async fn the_cli_signs_in_with_the_device_grant(b: Backend) {
    use std::io::BufRead as _;
    let Some(node) = node() else { return };
    let idp = Idp::start(&node, "http://127.0.0.1:9/portal");
    let s = server(&b, options(&idp)).await;
    idp.next("sub-finn", json!({ "preferred_username": "finn" }), &["pwd"]).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pim"))
        .args(["login", "--oidc", "corp", "--device", "--server", &s.url])
        .env("PIM_CONFIG_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pim login");
    let stderr = child.stderr.take().expect("stderr");
    let (told, complete) = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stderr).lines();
        let mut told = String::new();
        loop {
            let line = lines.next().expect("the CLI prints the code").expect("read");
            if line.contains("enter the code") {
                told = line.clone();
            }
            if let Some((_, rest)) = line.split_once("(or open ") {
                return (told, rest.split_whitespace().next().expect("url").trim_end_matches(',').to_owned());
            }
        }
    })
    .await
    .expect("stderr reader");
    assert!(told.contains(&format!("open {}/device", idp.issuer)), "{told}");
    approve_device(&complete).await;
    let waited = tokio::task::spawn_blocking(move || child.wait_with_output());
    // The CLI polls every 5 seconds of real time; pim's clock is moved on as they pass.
    let clock = s.clock.clone();
    let ticker = tokio::spawn(async move {
        for _ in 0..60 {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            clock.advance(1_000);
        }
    });
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), waited)
        .await
        .expect("the CLI ends")
        .expect("join")
        .expect("output");
    ticker.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("as finn"), "{stdout}");
    let stored = std::fs::read_to_string(dir.path().join("credentials.json")).expect("credentials stored");
    let v: serde_json::Value = serde_json::from_str(&stored).expect("json");
    let me = Client::new(&s.url, Some(v["token"].as_str().expect("token").to_owned())).expect("client").me().await;
    assert_eq!(me.expect("the stored token works").principal.name, "finn");
    s.stop().await;
}

crate::backend_tests!(
    device_polls_are_pending_until_approved_and_slow_down_is_honoured,
    device_sign_ins_are_bound_expire_and_refuse_disabled_users,
    a_provider_without_the_device_endpoint_is_refused_clearly,
    the_cli_signs_in_with_the_device_grant,
);
