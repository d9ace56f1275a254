//! Hostile SSH certificate requests: keys pim must not sign (weak, unknown, private, garbage,
//! certificates), bad scopes and roles, and refusals that must change nothing (not even make the
//! CA key).

use serde_json::json;

use crate::harness::prelude::*;
use crate::hostile::{Body, Mode, SSH_PUBLIC_KEY, Who, case, fixture, run};

const RSA_1024: &str = include_str!("../../../pim-engine/src/ssh/testdata/rsa-1024.pub");
const DSA: &str = include_str!("../../../pim-engine/src/ssh/testdata/dsa.pub");
const CERT: &str = include_str!("../../../pim-engine/src/ssh/testdata/ed25519-cert.pub");

async fn bad_ssh_certificate_requests(b: Backend, mode: Mode) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    // Alice may activate Ops at /a; its settings name a principal, so only the input is wrong below.
    s.set_settings(fx.ops, "/", |x| x.ssh_principals = vec!["deploy".into()]).await;
    let path = "/api/v1/ssh/certificates";
    let bad = ["invalid_input"];
    let mut cases = Vec::new();
    let key = |what: &str, k: &str, mention: &str| {
        case(format!("publicKey: {what}"), "POST", path, Body::Json(json!({"publicKey": k})), 400, &bad)
            .by(Who::Alice)
            .mentions(mention)
    };
    cases.push(key("RSA of 1024 bits", RSA_1024, "at least 2048 bits"));
    cases.push(key("DSA", DSA, "ssh-dss keys are not accepted"));
    cases.push(key("a certificate", CERT, "is a certificate"));
    cases.push(key("empty", "", "empty"));
    cases.push(key("garbage", "hello world", "not an OpenSSH public key"));
    cases.push(key("a truncated key", &SSH_PUBLIC_KEY[..40], "not an OpenSSH public key"));
    cases.push(key("a private key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n", "one line"));
    cases.push(key("two keys", &format!("{SSH_PUBLIC_KEY}\n{SSH_PUBLIC_KEY}"), "one line"));
    cases.push(key("control characters", "ssh-ed25519 \u{7}\u{1b}[2J", "not an OpenSSH public key"));
    cases.push(
        case("a NUL", "POST", path, Body::Json(json!({"publicKey": "ssh-ed25519 \u{0}"})), 400, &bad).by(Who::Alice),
    );
    cases.push(key("a huge key", &format!("ssh-rsa {}", "A".repeat(20_000)), "longer than"));
    let body = |what: &str, v: serde_json::Value, want: u16, codes: &[&'static str]| {
        case(what.to_owned(), "POST", path, Body::Json(v), want, codes).by(Who::Alice)
    };
    cases.push(body("no publicKey", json!({"role": "Ops"}), 400, &bad).mentions("publicKey"));
    cases.push(body("a number as publicKey", json!({"publicKey": 7}), 400, &bad));
    cases.push(body("a malformed scope", json!({"publicKey": SSH_PUBLIC_KEY, "scope": "no-slash"}), 400, &bad));
    cases.push(body("a scope with ..", json!({"publicKey": SSH_PUBLIC_KEY, "scope": "/a/../b"}), 400, &bad));
    cases.push(
        body("an unknown role", json!({"publicKey": SSH_PUBLIC_KEY, "role": "Nope"}), 404, &["not_found"])
            .mentions("Nope"),
    );
    cases.push(
        body("nothing active", json!({"publicKey": SSH_PUBLIC_KEY}), 422, &["not_active"]).mentions("pim activate"),
    );
    cases.push(
        body("a role held nowhere", json!({"publicKey": SSH_PUBLIC_KEY, "role": "Target"}), 422, &["not_active"])
            .mentions("Target"),
    );
    cases.push(
        case("no token", "POST", path, Body::Json(json!({"publicKey": SSH_PUBLIC_KEY})), 401, &["unauthenticated"])
            .by(Who::Nobody),
    );
    run(&s, &fx, mode, cases).await;

    // A role whose settings name no principal: a clear 422, and still no CA key made.
    let (carl, client) = s.user("carl").await;
    let reader = s.custom_role("Reader2", &["r.*"]).await;
    s.assign(carl, reader, "/", AssignmentKind::Active, None).await;
    let req = IssueSshCertificate { public_key: SSH_PUBLIC_KEY.into(), role: None, scope: None };
    let e = client.issue_ssh_certificate(&req).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(422), Some("no_ssh_principals")));
    assert!(e.to_string().contains("Reader2 at /") && e.to_string().contains("--ssh-principal"), "{e}");
    let events = s
        .admin
        .list_audit(&AuditQuery { action: Some("ssh.caCreated".into()), ..Default::default() })
        .await
        .expect("audit")
        .items;
    assert!(events.is_empty(), "refusals make no CA key");
    s.stop().await;
}

async fn bad_ssh_certificate_requests_are_refused(b: Backend) {
    bad_ssh_certificate_requests(b, Mode::Regular).await;
}

/// Bad SSH principals in role settings are refused over the API with the setting's name.
async fn bad_ssh_principals_in_settings_are_refused(b: Backend) {
    let s = TestServer::start(&b).await;
    let fx = fixture(&s).await;
    let path = format!("/api/v1/roles/{}/settings?scope=%2F", fx.ops);
    let bad = ["invalid_settings"];
    let mut cases = Vec::new();
    for (what, list) in [
        ("an option", json!(["-oProxyCommand=x"])),
        ("a space", json!(["two words"])),
        ("a comma", json!(["a,b"])),
        ("a pattern", json!(["*"])),
        ("empty", json!([""])),
        ("too long", json!(["a".repeat(65)])),
        ("twice", json!(["root", "root"])),
        ("too many", json!((0..33).map(|i| format!("u{i}")).collect::<Vec<_>>())),
    ] {
        cases.push(
            case(format!("sshPrincipals: {what}"), "PUT", &path, Body::Json(json!({"sshPrincipals": list})), 400, &bad)
                .mentions("sshPrincipals"),
        );
    }
    cases.push(case(
        "sshPrincipals: a string",
        "PUT",
        &path,
        Body::Json(json!({"sshPrincipals": "root"})),
        400,
        &["invalid_input"],
    ));
    run(&s, &fx, Mode::Regular, cases).await;
    s.stop().await;
}

crate::backend_tests!(bad_ssh_certificate_requests_are_refused, bad_ssh_principals_in_settings_are_refused);
