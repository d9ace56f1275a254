//! SSH certificates over HTTP with the manual clock: the CA key (public, made once, kept across
//! restarts), certificates for the caller's assignment in effect (principals, window, key id),
//! the choice among assignments, and the audit trail. `tests/cli.rs` logs in to a real sshd.

use ssh_key::{Certificate, HashAlg, PublicKey};

use crate::harness::prelude::*;
use crate::hostile::SSH_PUBLIC_KEY;

fn body(role: Option<&str>, scope: Option<&str>) -> IssueSshCertificate {
    IssueSshCertificate { public_key: SSH_PUBLIC_KEY.into(), role: role.map(str::to_owned), scope: scope.map(sp) }
}

async fn the_ca_key_is_public_made_once_and_kept(b: Backend) {
    let s = TestServer::start(&b).await;
    let anyone = s.anonymous();
    // Several first requests at once: one key.
    let mut calls = Vec::new();
    for _ in 0..6 {
        let c = anyone.clone();
        calls.push(tokio::spawn(async move { c.ssh_ca_public_key().await.expect("ca.pub") }));
    }
    let mut keys = Vec::new();
    for c in calls {
        keys.push(c.await.expect("task"));
    }
    keys.dedup();
    assert_eq!(keys.len(), 1, "one CA key: {keys:?}");
    let line = keys[0].clone();
    assert!(line.starts_with("ssh-ed25519 ") && line.ends_with("pim user CA\n"), "{line:?}");
    assert_eq!(line.lines().count(), 1);
    let raw = reqwest::get(format!("{}/api/v1/ssh/ca.pub", s.url)).await.expect("get");
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.headers()["content-type"], "text/plain; charset=utf-8");
    let events = s
        .admin
        .list_audit(&AuditQuery { action: Some("ssh.caCreated".into()), ..Default::default() })
        .await
        .expect("audit")
        .items;
    assert_eq!(events.len(), 1, "made once, audited once");
    let fingerprint = PublicKey::from_openssh(line.trim()).expect("key").fingerprint(HashAlg::Sha256).to_string();
    assert_eq!(events[0].details["fingerprint"], fingerprint.as_str());

    // Another process on the same database (and key file) has the same CA, and signs with it.
    let options = pim_engine::engine::EngineOptions { secret_key: s.secret_key, ..Default::default() };
    let s = s.restart(options).await;
    assert_eq!(s.anonymous().ssh_ca_public_key().await.expect("after restart"), line);
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    s.set_settings(ops, "/", |x| x.ssh_principals = vec!["deploy".into()]).await;
    s.assign(s.admin_id, ops, "/", AssignmentKind::Active, None).await;
    let c = s.admin.issue_ssh_certificate(&body(None, None)).await.expect("signed");
    assert_eq!(c.ca_fingerprint, fingerprint);
    s.stop().await;
}

async fn a_certificate_ends_with_the_activation_it_relies_on(b: Backend) {
    let s = TestServer::start(&b).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    s.without_mfa(ops).await;
    s.set_settings(ops, "/", |x| x.ssh_principals = vec!["deploy".into(), "root".into()]).await;
    let (alice, client) = s.user("alice").await;
    s.assign(alice, ops, "/srv", AssignmentKind::Eligible, None).await;
    assert_eq!(code(client.issue_ssh_certificate(&body(None, None)).await), "not_active", "eligible is not enough");
    s.advance(1_500);
    let done = client.create_request(&activation(ops, "/srv/web", 45)).await.expect("activate");
    let a = done.assignment.expect("in effect");
    let end = a.window.end.expect("an end");
    let c = client.issue_ssh_certificate(&body(None, None)).await.expect("signed");
    assert_eq!(c.assignment_id, a.id);
    assert_eq!(c.assignment_ends_at, Some(end));
    assert_eq!(c.valid_before, Timestamp(end.0 / 1000 * 1000), "the activation's end, to the second");
    assert_eq!(c.principals, ["deploy", "root"]);
    assert_eq!(c.key_id, format!("pim user=alice activation={}", a.id));
    assert_eq!((c.role_id, c.role_name.as_str(), c.scope.as_str()), (ops, "Ops", "/srv/web"));
    let cert = Certificate::from_openssh(&c.certificate).expect("an OpenSSH certificate");
    assert_eq!(cert.valid_before(), u64::try_from(c.valid_before.0 / 1000).unwrap());
    assert_eq!(a.window.start, s.engine.now());
    assert_eq!(cert.valid_after(), u64::try_from(s.engine.now().0 / 1000).unwrap(), "not before the activation");
    assert_eq!(cert.valid_principals(), ["deploy", "root"]);
    assert_eq!(cert.serial(), c.serial);
    let ca = PublicKey::from_openssh(s.anonymous().ssh_ca_public_key().await.expect("ca").trim()).expect("ca key");
    cert.validate_at(cert.valid_after() + 60, &[ca.fingerprint(HashAlg::Sha256)]).expect("signed by pim's CA");
    assert_eq!(
        c.public_key_fingerprint,
        PublicKey::from_openssh(SSH_PUBLIC_KEY).unwrap().fingerprint(HashAlg::Sha256).to_string()
    );
    // Audited: serial, key id, principals, validity, the assignment.
    let events = s
        .admin
        .list_audit(&AuditQuery { action: Some("ssh.certificateIssued".into()), ..Default::default() })
        .await
        .expect("audit")
        .items;
    let ok: Vec<_> = events.iter().filter(|e| e.error_code.is_none()).collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].details["serial"], c.serial.to_string());
    assert_eq!(ok[0].details["assignmentId"], a.id.to_string());
    assert_eq!(ok[0].details["validBefore"], c.valid_before.to_rfc3339());
    assert_eq!(ok[0].principal_id, Some(alice));
    assert_eq!(events.iter().filter(|e| e.error_code.as_deref() == Some("not_active")).count(), 1);

    // After a deactivation, and at the end, no new certificate.
    s.advance(44 * MINUTE_MS);
    client.issue_ssh_certificate(&body(None, None)).await.expect("a minute before the end");
    s.advance(MINUTE_MS);
    assert_eq!(code(client.issue_ssh_certificate(&body(None, None)).await), "not_active", "ended");
    let again = client.create_request(&activation(ops, "/srv", 30)).await.expect("activate").assignment.expect("a");
    client.issue_ssh_certificate(&body(None, None)).await.expect("active again");
    let mut off = CreateRequest::new(RequestAction::SelfDeactivate);
    off.assignment_id = Some(again.id);
    client.create_request(&off).await.expect("deactivate");
    assert_eq!(code(client.issue_ssh_certificate(&body(None, None)).await), "not_active", "deactivated");
    s.stop().await;
}

async fn the_role_and_scope_choose_the_assignment(b: Backend) {
    let s = TestServer::start(&b).await;
    let web = s.custom_role("Web", &["web.*"]).await;
    let db = s.custom_role("Db", &["db.*"]).await;
    let plain = s.custom_role("Plain", &["plain.*"]).await;
    s.set_settings(web, "/", |x| x.ssh_principals = vec!["www".into()]).await;
    s.set_settings(web, "/prod", |x| x.ssh_principals = vec!["www-prod".into()]).await;
    s.set_settings(db, "/", |x| x.ssh_principals = vec!["postgres".into()]).await;
    let (bob, client) = s.user("bob").await;
    let end = Some(s.engine.now().plus_millis(DAY_MS));
    s.assign(bob, plain, "/", AssignmentKind::Active, end).await;
    let r = client.issue_ssh_certificate(&body(None, None)).await;
    assert_eq!(status(r), 422);
    let r = client.issue_ssh_certificate(&body(None, None)).await.unwrap_err();
    assert_eq!(r.code(), Some("no_ssh_principals"));
    assert!(r.to_string().contains("Plain at /"), "{r}");
    // Through a group, like any grant.
    let team = s.group("team").await;
    s.admin.add_member(team, bob).await.expect("member");
    s.assign(team, web, "/", AssignmentKind::Active, end).await;
    let c = client.issue_ssh_certificate(&body(None, None)).await.expect("through the group");
    assert_eq!((c.principals.clone(), c.scope.as_str()), (vec!["www".to_owned()], "/"));
    let c = client.issue_ssh_certificate(&body(None, Some("/prod/a"))).await.expect("at a scope below");
    assert_eq!(c.principals, ["www-prod"], "the settings in force at the scope asked for");
    s.assign(bob, db, "/data", AssignmentKind::Active, end).await;
    let e = client.issue_ssh_certificate(&body(None, None)).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(409), Some("assignment_ambiguous")));
    assert!(e.to_string().contains("Db at /data, Web at /"), "{e}");
    let c = client.issue_ssh_certificate(&body(Some("db"), None)).await.expect("by role name");
    assert_eq!(c.principals, ["postgres"]);
    let c = client.issue_ssh_certificate(&body(Some(&web.to_string()), None)).await.expect("by role id");
    assert_eq!(c.principals, ["www"]);
    assert_eq!(code(client.issue_ssh_certificate(&body(Some("Db"), Some("/other"))).await), "not_active");
    assert_eq!(status(client.issue_ssh_certificate(&body(Some("Nope"), None)).await), 404);
    // A disabled user's tokens stop working at once.
    s.admin.update_user(bob, &UpdateUser { enabled: Some(false), ..Default::default() }).await.expect("disable");
    assert_eq!(status(client.issue_ssh_certificate(&body(Some("db"), None)).await), 401);
    s.stop().await;
}

async fn only_an_administrator_at_the_root_changes_the_ssh_principals(b: Backend) {
    let s = TestServer::start(&b).await;
    s.set_settings(pim_domain::role::READER, "/", |x| x.ssh_principals = vec!["deploy".into()]).await;
    let (lab, lab_admin) = s.user("lab-admin").await;
    s.assign(lab, pim_domain::role::PRIVILEGED_ROLE_ADMINISTRATOR, "/lab", AssignmentKind::Active, None).await;
    let mut settings = s.admin.get_settings("Reader", &sp("/lab")).await.expect("settings").settings;
    settings.ssh_principals = vec!["root".into()];
    let e = lab_admin.put_settings("Reader", &sp("/lab"), &settings).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(403), Some("forbidden")), "{e}");
    assert!(e.to_string().contains("SSH principals"), "{e}");
    let now = s.admin.get_settings("Reader", &sp("/lab")).await.expect("settings").settings;
    assert_eq!(now.ssh_principals, ["deploy"], "nothing changed");
    // The other settings, with the principals in force kept: allowed at its scope.
    settings.ssh_principals = vec!["deploy".into()];
    settings.require_justification_on_activation = !settings.require_justification_on_activation;
    lab_admin.put_settings("Reader", &sp("/lab"), &settings).await.expect("other settings");
    settings.ssh_principals = vec!["root".into()];
    s.admin.put_settings("Reader", &sp("/lab"), &settings).await.expect("an administrator at /");
    let now = s.admin.get_settings("Reader", &sp("/lab")).await.expect("settings").settings;
    assert_eq!(now.ssh_principals, ["root"]);
    s.stop().await;
}

crate::backend_tests!(
    only_an_administrator_at_the_root_changes_the_ssh_principals,
    the_ca_key_is_public_made_once_and_kept,
    a_certificate_ends_with_the_activation_it_relies_on,
    the_role_and_scope_choose_the_assignment,
);
