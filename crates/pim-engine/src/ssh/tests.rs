//! The SSH certificate use case on a real store with the manual clock: the window (capped by the
//! grant's end and the maximum), which grant and principals, refusals, the CA key at rest, audit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use pim_domain::role::{CONTRIBUTOR, READER};
use pim_domain::time::{HOUR_MS, MINUTE_MS};
use pim_domain::{AssignmentKind, ErrorKind, PrincipalId, PrincipalKind, RequestAction, RoleId, ScopePath, Timestamp};
use pim_store::{Store, q};
use ssh_key::{Certificate, HashAlg, PublicKey};

use super::{IssuedSshCertificate, SshCertificateRequest};
use crate::auth::NewAdmin;
use crate::directory::{NewPrincipal, PrincipalPatch};
use crate::engine::EngineOptions;
use crate::requests::RequestInput;
use crate::{Actor, Context, Engine, EngineError, ManualClock};

const T0: Timestamp = Timestamp(1_767_603_600_000);
const KEY: &str = include_str!("testdata/ed25519.pub");

struct World {
    engine: Engine,
    clock: Arc<ManualClock>,
    admin: Context,
    _dir: tempfile::TempDir,
}

fn sp(s: &str) -> ScopePath {
    ScopePath::parse(s).unwrap()
}

async fn world(max_ms: i64) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("pim.db").display())).await.unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let options = EngineOptions { ssh_max_certificate_ms: max_ms, ..EngineOptions::default() };
    let engine = Engine::open(store, clock.clone(), options).await.unwrap();
    let admin =
        NewAdmin { username: "admin".into(), password: "admin-password-1".into(), display_name: None, email: None };
    let admin = engine.bootstrap(&Context::system(), admin).await.unwrap();
    let actor = Actor { id: admin.id, kind: PrincipalKind::User, name: "admin".into(), token_id: None, mfa_at: None };
    World { engine, clock, admin: Context { actor: Some(actor), ..Context::default() }, _dir: dir }
}

impl World {
    async fn user(&self, name: &str) -> (PrincipalId, Context) {
        let new = NewPrincipal { name: name.into(), ..NewPrincipal::default() };
        let p = self.engine.create_principal(&self.admin, PrincipalKind::User, new).await.unwrap();
        let actor = Actor { id: p.id, kind: PrincipalKind::User, name: name.into(), token_id: None, mfa_at: None };
        (p.id, Context { actor: Some(actor), ..Context::default() })
    }

    async fn principals(&self, role: &str, scope: &str, list: &[&str]) {
        let mut s = self.engine.effective_settings(&self.admin, role, sp(scope)).await.unwrap().settings;
        s.ssh_principals = list.iter().map(|p| (*p).to_owned()).collect();
        s.require_mfa_on_activation = false;
        self.engine.put_settings(&self.admin, role, sp(scope), s).await.unwrap();
    }

    /// An active assignment of `role` at `scope` for `who`, ending `end` (`None`: permanent).
    async fn active(&self, who: PrincipalId, role: RoleId, scope: &str, end: Option<Timestamp>) {
        let mut r = RequestInput::new(RequestAction::AdminAssign);
        r.principal_id = Some(who);
        r.role_id = Some(role);
        r.scope = Some(sp(scope));
        r.kind = Some(AssignmentKind::Active);
        r.end = end;
        r.justification = Some("test".into());
        self.engine.submit(&self.admin, r).await.unwrap();
    }

    async fn eligible(&self, who: PrincipalId, role: RoleId, scope: &str) {
        let mut r = RequestInput::new(RequestAction::AdminAssign);
        r.principal_id = Some(who);
        r.role_id = Some(role);
        r.scope = Some(sp(scope));
        r.kind = Some(AssignmentKind::Eligible);
        r.justification = Some("test".into());
        self.engine.submit(&self.admin, r).await.unwrap();
    }

    async fn activate(&self, ctx: &Context, role: RoleId, scope: &str, minutes: u32) -> pim_domain::AssignmentId {
        let mut r = RequestInput::new(RequestAction::SelfActivate);
        r.role_id = Some(role);
        r.scope = Some(sp(scope));
        r.duration_minutes = Some(minutes);
        r.justification = Some("work".into());
        match self.engine.submit(ctx, r).await.unwrap() {
            crate::requests::Submission::Done(d) => d.assignment.expect("in effect").id,
            other => panic!("{other:?}"),
        }
    }

    async fn issue(
        &self,
        ctx: &Context,
        role: Option<&str>,
        scope: Option<&str>,
    ) -> Result<IssuedSshCertificate, ErrorKind> {
        let req = SshCertificateRequest { public_key: KEY.into(), role: role.map(str::to_owned), scope: scope.map(sp) };
        self.engine.issue_ssh_certificate(ctx, req).await.map_err(|e| match e {
            EngineError::Refused(d) => d.kind,
            EngineError::Internal(m) => panic!("internal: {m}"),
        })
    }
}

fn secs(t: Timestamp) -> u64 {
    u64::try_from(t.0 / 1000).unwrap()
}

#[tokio::test]
async fn valid_before_is_the_activation_end_and_never_past_the_maximum() {
    let w = world(8 * HOUR_MS).await;
    let (alice, ctx) = w.user("alice").await;
    w.principals("Contributor", "/", &["deploy", "root"]).await;
    w.eligible(alice, CONTRIBUTOR, "/srv").await;
    w.clock.advance(1_234);
    let activation = w.activate(&ctx, CONTRIBUTOR, "/srv", 60).await;
    let end = w.engine.get_assignment(&w.admin, activation).await.unwrap().window.end.unwrap();
    let c = w.issue(&ctx, None, None).await.unwrap();
    assert_eq!(c.assignment_id, activation);
    assert_eq!(c.principals, ["deploy", "root"], "the role's settings");
    assert_eq!(c.valid_before.0, end.0 / 1000 * 1000, "the activation's end, to the second");
    assert!(c.valid_before <= end, "never a moment past the end");
    let started = w.engine.get_assignment(&w.admin, activation).await.unwrap().window.start;
    assert_eq!(started, w.engine.now());
    assert_eq!(c.valid_after.0, started.0 / 1000 * 1000, "not before the activation started (to the second)");
    assert_eq!(c.key_id, format!("pim user=alice activation={activation}"));
    let cert = Certificate::from_openssh(&c.certificate).unwrap();
    assert_eq!((cert.valid_after(), cert.valid_before()), (secs(c.valid_after), secs(c.valid_before)));
    assert_eq!(cert.valid_principals(), ["deploy", "root"]);
    assert_eq!(cert.key_id(), c.key_id);
    assert_eq!(cert.serial(), c.serial);
    assert_eq!(cert.public_key(), PublicKey::from_openssh(KEY).unwrap().key_data());
    // Signed by the CA pim publishes.
    let ca = w.engine.ssh_ca_public_key(&Context::system()).await.unwrap();
    let ca_key = PublicKey::from_openssh(&ca.public_key).unwrap();
    cert.validate_at(secs(w.engine.now()), &[ca_key.fingerprint(HashAlg::Sha256)]).expect("valid now");
    assert_eq!(c.ca_fingerprint, ca.fingerprint);

    // Half an hour later, the certificate still ends with the activation.
    w.clock.advance(30 * MINUTE_MS);
    let later = w.issue(&ctx, None, None).await.unwrap();
    assert_eq!(later.valid_before, c.valid_before);
    assert_eq!(later.valid_after.0, (w.engine.now().0 / 1000 - 60) * 1000, "a minute of clock skew");
    // Once it ended, no certificate.
    w.clock.set(end);
    assert_eq!(w.issue(&ctx, None, None).await.unwrap_err(), ErrorKind::NotActive);
}

#[tokio::test]
async fn the_maximum_caps_long_and_permanent_assignments() {
    let w = world(2 * HOUR_MS).await;
    let (bob, ctx) = w.user("bob").await;
    w.principals("Contributor", "/", &["deploy"]).await;
    w.active(bob, CONTRIBUTOR, "/", None).await;
    let now = w.engine.now();
    let c = w.issue(&ctx, None, None).await.unwrap();
    assert_eq!(c.valid_before, now.plus_millis(2 * HOUR_MS), "permanent: now + the maximum");
    assert_eq!(c.grant_ends_at, None);
    let (carol, ctx) = w.user("carol").await;
    w.active(carol, CONTRIBUTOR, "/", Some(now.plus_millis(5 * HOUR_MS))).await;
    assert_eq!(w.issue(&ctx, None, None).await.unwrap().valid_before, now.plus_millis(2 * HOUR_MS));
    let (dave, ctx) = w.user("dave").await;
    w.active(dave, CONTRIBUTOR, "/", Some(now.plus_millis(90 * MINUTE_MS + 999))).await;
    assert_eq!(w.issue(&ctx, None, None).await.unwrap().valid_before, now.plus_millis(90 * MINUTE_MS));
}

#[tokio::test]
async fn no_certificate_without_an_assignment_in_effect_or_for_a_disabled_user() {
    let w = world(8 * HOUR_MS).await;
    w.principals("Contributor", "/", &["deploy"]).await;
    let (erin, ctx) = w.user("erin").await;
    assert_eq!(w.issue(&ctx, None, None).await.unwrap_err(), ErrorKind::NotActive, "nothing at all");
    w.eligible(erin, CONTRIBUTOR, "/").await;
    assert_eq!(w.issue(&ctx, None, None).await.unwrap_err(), ErrorKind::NotActive, "eligible is not active");
    let later = w.engine.now().plus_millis(HOUR_MS);
    w.active(erin, CONTRIBUTOR, "/", Some(later)).await;
    w.issue(&ctx, None, None).await.expect("active now");
    let patch = PrincipalPatch { enabled: Some(false), ..PrincipalPatch::default() };
    w.engine.update_principal(&w.admin, PrincipalKind::User, erin, patch).await.unwrap();
    assert_eq!(w.issue(&ctx, None, None).await.unwrap_err(), ErrorKind::PrincipalDisabled);
    let (_, nobody) = w.user("nobody").await;
    let bad = SshCertificateRequest { public_key: "ssh-dss AAAA".into(), ..Default::default() };
    let e = w.engine.issue_ssh_certificate(&nobody, bad).await.unwrap_err();
    assert_eq!(e.refusal().map(|d| d.kind), Some(ErrorKind::InvalidInput), "the key is checked first");
    assert!(w.engine.issue_ssh_certificate(&Context::system(), SshCertificateRequest::default()).await.is_err());
}

#[tokio::test]
async fn principals_come_from_the_settings_at_the_scope_and_the_grant_is_chosen() {
    let w = world(8 * HOUR_MS).await;
    let (frank, ctx) = w.user("frank").await;
    let end = Some(w.engine.now().plus_millis(HOUR_MS));
    w.active(frank, READER, "/", end).await;
    assert_eq!(w.issue(&ctx, None, None).await.unwrap_err(), ErrorKind::NoSshPrincipals, "default: none");
    w.principals("Contributor", "/", &["deploy"]).await;
    w.principals("Contributor", "/prod", &["prod-deploy"]).await;
    w.active(frank, CONTRIBUTOR, "/prod/web", end).await;
    let c = w.issue(&ctx, None, None).await.unwrap();
    assert_eq!((c.principals.clone(), c.role_name.as_str()), (vec!["prod-deploy".to_owned()], "Contributor"));
    assert_eq!(c.scope, sp("/prod/web"), "inherited from /prod");
    w.principals("Reader", "/", &["viewer"]).await;
    assert_eq!(w.issue(&ctx, None, None).await.unwrap_err(), ErrorKind::AssignmentAmbiguous, "two roles qualify");
    let r = w.issue(&ctx, Some("Reader"), None).await.unwrap();
    assert_eq!(r.principals, ["viewer"]);
    // A scope below the grant reads the settings in force there.
    w.principals("Reader", "/lab", &["lab"]).await;
    assert_eq!(w.issue(&ctx, Some("reader"), Some("/lab/x")).await.unwrap().principals, ["lab"]);
    assert_eq!(w.issue(&ctx, Some("Contributor"), Some("/lab")).await.unwrap_err(), ErrorKind::NotActive);
    assert_eq!(w.issue(&ctx, Some("No such role"), None).await.unwrap_err(), ErrorKind::NotFound);
}

#[tokio::test]
async fn the_ca_key_is_made_once_sealed_at_rest_and_every_certificate_is_audited() {
    let w = world(8 * HOUR_MS).await;
    let first = w.engine.ssh_ca_public_key(&Context::system()).await.unwrap();
    assert!(first.public_key.starts_with("ssh-ed25519 "), "{}", first.public_key);
    assert!(!first.public_key.contains('\n'));
    assert_eq!(w.engine.ssh_ca_public_key(&Context::system()).await.unwrap(), first, "made once");
    let mut c = w.engine.store().read().await.unwrap();
    let row = q::current_ssh_ca_key(&mut c).await.unwrap().unwrap();
    drop(c);
    assert_eq!(row.public_key, first.public_key);
    assert!(row.sealed.starts_with("v1:"), "sealed by the secret box");
    let private = w.engine.open_ssh_ca(&row).unwrap();
    let pem = private.to_openssh(ssh_key::LineEnding::LF).unwrap();
    let raw = private.to_bytes().unwrap();
    assert!(!row.sealed.contains(pem.as_str()));
    assert!(w.engine.secrets.open(&row.sealed, "ssh-ca:another").is_err(), "bound to its row");
    assert_eq!(w.engine.secrets.open(&row.sealed, &format!("ssh-ca:{}", row.id)).unwrap(), raw.to_vec());

    let (gina, ctx) = w.user("gina").await;
    w.principals("Contributor", "/", &["deploy"]).await;
    w.active(gina, CONTRIBUTOR, "/a", Some(w.engine.now().plus_millis(HOUR_MS))).await;
    let issued = w.issue(&ctx, None, None).await.unwrap();
    let _ = w.issue(&ctx, Some("Reader"), None).await.unwrap_err();
    let events = w
        .engine
        .list_audit(
            &w.admin,
            crate::audit::AuditQuery { action: Some("ssh.".into()), limit: 100, ..Default::default() },
        )
        .await
        .unwrap();
    let created: Vec<_> = events.iter().filter(|e| e.action == "ssh.caCreated").collect();
    assert_eq!(created.len(), 1, "one key, one event");
    let ok: Vec<_> = events
        .iter()
        .filter(|e| e.action == "ssh.certificateIssued" && e.outcome == pim_domain::Outcome::Success)
        .collect();
    assert_eq!(ok.len(), 1);
    let d = &ok[0].details;
    assert_eq!(d["serial"], issued.serial.to_string());
    assert_eq!(d["keyId"], issued.key_id);
    assert_eq!(d["principals"], serde_json::json!(["deploy"]));
    assert_eq!(d["assignmentId"], issued.assignment_id.to_string());
    assert_eq!(d["validBefore"], issued.valid_before.to_rfc3339());
    assert_eq!(ok[0].principal_id, Some(gina));
    assert_eq!(ok[0].role_id, Some(CONTRIBUTOR));
    let failed = events.iter().filter(|e| e.action == "ssh.certificateIssued" && e.error_code.is_some()).count();
    assert_eq!(failed, 1, "the refusal is audited too");
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(&row.sealed) && !all.contains("PRIVATE KEY"), "never the private key");
}

#[tokio::test]
async fn the_stored_assignment_decides_even_before_the_index_hears_of_a_change() {
    let w = world(8 * HOUR_MS).await;
    w.principals("Contributor", "/", &["deploy"]).await;
    let (hana, ctx) = w.user("hana").await;
    let end = w.engine.now().plus_millis(HOUR_MS);
    w.active(hana, CONTRIBUTOR, "/", Some(end)).await;
    let first = w.issue(&ctx, None, None).await.unwrap();
    assert_eq!(first.valid_before, end);
    // Another replica shortened it (committed; this replica's index has not followed yet).
    let mut c = w.engine.store().read().await.unwrap();
    let mut a = q::get_assignment(&mut c, first.assignment_id).await.unwrap().unwrap();
    drop(c);
    let sooner = w.engine.now().plus_millis(10 * MINUTE_MS);
    a.window.end = Some(sooner);
    let mut tx = w.engine.store().write(w.engine.now()).await.unwrap();
    q::update_assignment(tx.conn(), &a).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(w.issue(&ctx, None, None).await.unwrap().valid_before, sooner, "the stored end, not the index's");
    // And ended: refused, though the index still holds it.
    a.window.end = Some(w.engine.now());
    a.ended_early_at = Some(w.engine.now());
    let mut tx = w.engine.store().write(w.engine.now()).await.unwrap();
    q::update_assignment(tx.conn(), &a).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!w.engine.index.effective(hana, w.engine.now()).is_empty(), "the index has not heard of it");
    assert_eq!(w.issue(&ctx, None, None).await.unwrap_err(), ErrorKind::NotActive);
}

/// `ctx` sets Reader's settings at /lab: `list` as principals, and `require_mfa`.
async fn put(w: &World, ctx: &Context, list: &[&str], require_mfa: bool) -> Result<(), EngineError> {
    let mut s = w.engine.effective_settings(&w.admin, "Reader", sp("/lab")).await.unwrap().settings;
    s.ssh_principals = list.iter().map(|p| (*p).to_owned()).collect();
    s.require_mfa_on_activation = require_mfa;
    w.engine.put_settings(ctx, "Reader", sp("/lab"), s).await.map(|_| ())
}

#[tokio::test]
async fn only_an_administrator_at_the_root_changes_the_ssh_principals() {
    use pim_domain::role::PRIVILEGED_ROLE_ADMINISTRATOR;
    let w = world(8 * HOUR_MS).await;
    w.principals("Reader", "/", &["deploy"]).await;
    let (lab, lab_ctx) = w.user("lab-admin").await;
    w.active(lab, PRIVILEGED_ROLE_ADMINISTRATOR, "/lab", None).await;
    // A scoped administrator may not name root (nor narrow the list) for its scope.
    for list in [&["root"][..], &["deploy", "root"], &[]] {
        match put(&w, &lab_ctx, list, false).await {
            Err(EngineError::Refused(d)) => {
                assert_eq!(d.kind, ErrorKind::Forbidden, "{list:?}");
                assert!(d.message.contains("SSH principals") && d.message.contains(" at /"), "{}", d.message);
            }
            other => panic!("{list:?}: {other:?}"),
        }
    }
    let in_force = w.engine.effective_settings(&w.admin, "Reader", sp("/lab")).await.unwrap();
    assert_eq!(in_force.settings.ssh_principals, ["deploy"], "nothing changed");
    // It may change the other settings at its scope, keeping the principals in force.
    put(&w, &lab_ctx, &["deploy"], true).await.unwrap();
    // It may not reset them either, where that changes the principals in force.
    w.principals("Reader", "/lab", &["deploy", "lab"]).await;
    match w.engine.delete_settings(&lab_ctx, "Reader", sp("/lab")).await {
        Err(EngineError::Refused(d)) => assert_eq!(d.kind, ErrorKind::Forbidden),
        other => panic!("{other:?}"),
    }
    // An administrator at / may.
    put(&w, &w.admin, &["root"], false).await.unwrap();
    let in_force = w.engine.effective_settings(&w.admin, "Reader", sp("/lab")).await.unwrap();
    assert_eq!(in_force.settings.ssh_principals, ["root"]);
}

/// Writes `a` to the store as another replica would (this replica's index does not hear of it).
async fn store_behind_the_index(w: &World, a: &pim_domain::Assignment) {
    let mut tx = w.engine.store().write(w.engine.now()).await.unwrap();
    q::update_assignment(tx.conn(), a).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_grant_through_a_jit_membership_relies_on_the_stored_membership_and_group() {
    use pim_domain::role::GROUP_MEMBER;
    let w = world(8 * HOUR_MS).await;
    w.principals("Contributor", "/", &["deploy"]).await;
    let new = NewPrincipal { name: "ops".into(), ..NewPrincipal::default() };
    let ops = w.engine.create_principal(&w.admin, PrincipalKind::Group, new).await.unwrap().id;
    w.active(ops, CONTRIBUTOR, "/", None).await;
    let (ivy, ctx) = w.user("ivy").await;
    w.clock.advance(5 * MINUTE_MS);
    let end = w.engine.now().plus_millis(HOUR_MS);
    w.active(ivy, GROUP_MEMBER, &format!("/groups/{ops}"), Some(end)).await;
    let first = w.issue(&ctx, None, None).await.unwrap();
    assert_eq!(first.valid_before, end, "the membership's end");
    assert_eq!(first.valid_after, w.engine.now(), "not before the membership started");
    let mut c = w.engine.store().read().await.unwrap();
    let filter = q::AssignmentFilter { principal: Some(ivy), role: Some(GROUP_MEMBER), ..Default::default() };
    let mut m = q::list_assignments(&mut c, &filter).await.unwrap().remove(0);
    drop(c);
    // The membership shortened elsewhere: the stored end, not the index's.
    let sooner = w.engine.now().plus_millis(10 * MINUTE_MS);
    m.window.end = Some(sooner);
    store_behind_the_index(&w, &m).await;
    assert_eq!(w.issue(&ctx, None, None).await.unwrap().valid_before, sooner);
    // Ended elsewhere: refused, though the index still has the grant.
    m.window.end = Some(w.engine.now());
    m.ended_early_at = Some(w.engine.now());
    store_behind_the_index(&w, &m).await;
    assert!(!w.engine.index.effective(ivy, w.engine.now()).is_empty(), "the index has not heard of it");
    assert_eq!(w.issue(&ctx, None, None).await.unwrap_err(), ErrorKind::NotActive);
    // A static membership, then the group disabled elsewhere: refused.
    let mut tx = w.engine.store().write(w.engine.now()).await.unwrap();
    q::add_member(tx.conn(), ops, ivy, w.engine.now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        w.issue(&ctx, None, None).await.unwrap().valid_before.0,
        w.engine.now().0 + 8 * HOUR_MS,
        "static: the maximum"
    );
    let mut g = q::get_principal(&mut w.engine.store().read().await.unwrap(), ops).await.unwrap().unwrap();
    g.enabled = false;
    let mut tx = w.engine.store().write(w.engine.now()).await.unwrap();
    q::update_principal(tx.conn(), &g).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(w.issue(&ctx, None, None).await.unwrap_err(), ErrorKind::NotActive);
}

#[tokio::test]
async fn approving_a_protected_change_of_the_principals_needs_an_administrator_at_the_root() {
    use crate::settings_changes::SettingsUpdate;
    use pim_domain::approval::Verdict;
    use pim_domain::role::PRIVILEGED_ROLE_ADMINISTRATOR;
    let w = world(8 * HOUR_MS).await;
    let mut s = w.engine.effective_settings(&w.admin, "Reader", sp("/lab")).await.unwrap().settings;
    s.ssh_principals = vec!["deploy".into()];
    s.protected = true;
    w.engine.put_settings(&w.admin, "Reader", sp("/lab"), s.clone()).await.unwrap();
    let (lab, lab_ctx) = w.user("lab-admin").await;
    w.active(lab, PRIVILEGED_ROLE_ADMINISTRATOR, "/lab", None).await;
    let (root2, root2_ctx) = w.user("second-root").await;
    w.active(root2, PRIVILEGED_ROLE_ADMINISTRATOR, "/", None).await;
    s.ssh_principals = vec!["root".into()];
    let SettingsUpdate::Pending(change) = w.engine.put_settings(&w.admin, "Reader", sp("/lab"), s).await.unwrap()
    else {
        panic!("protected: a proposal");
    };
    let approve = |ctx| w.engine.decide_settings_change(ctx, change.id, Verdict::Approve, Some("ok".into()));
    match approve(&lab_ctx).await {
        Err(EngineError::Refused(d)) => assert_eq!(d.kind, ErrorKind::Forbidden, "{}", d.message),
        other => panic!("{other:?}"),
    }
    let in_force = w.engine.effective_settings(&w.admin, "Reader", sp("/lab")).await.unwrap();
    assert_eq!(in_force.settings.ssh_principals, ["deploy"], "nothing changed");
    approve(&root2_ctx).await.unwrap();
    let in_force = w.engine.effective_settings(&w.admin, "Reader", sp("/lab")).await.unwrap();
    assert_eq!(in_force.settings.ssh_principals, ["root"]);
}
