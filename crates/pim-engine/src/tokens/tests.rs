//! Access tokens on a real store with the manual clock: issuing and introspection look at the
//! stored assignments, principals and audiences, not only at this replica's index.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use pim_domain::role::CONTRIBUTOR;
use pim_domain::time::{HOUR_MS, MINUTE_MS};
use pim_domain::{AssignmentKind, ErrorKind, PrincipalId, PrincipalKind, RequestAction, RoleId, ScopePath, Timestamp};
use pim_store::{Store, q};

use super::IssuedAccessToken;
use super::audiences::AudienceChange;
use crate::auth::NewAdmin;
use crate::directory::NewPrincipal;
use crate::engine::EngineOptions;
use crate::requests::RequestInput;
use crate::{Actor, Context, Engine, EngineError, ManualClock};

const T0: Timestamp = Timestamp(1_767_603_600_000);

struct World {
    engine: Engine,
    clock: Arc<ManualClock>,
    admin: Context,
    _dir: tempfile::TempDir,
}

fn sp(s: &str) -> ScopePath {
    ScopePath::parse(s).unwrap()
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("pim.db").display())).await.unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let engine = Engine::open(store, clock.clone(), EngineOptions::default()).await.unwrap();
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

    async fn audience(&self, name: &str, roles: &[&str], prefix: &str) {
        let change = AudienceChange {
            name: Some(name.into()),
            roles: Some(roles.iter().map(|r| (*r).to_owned()).collect()),
            scope_prefix: Some(sp(prefix)),
            ..AudienceChange::default()
        };
        self.engine.create_audience(&self.admin, change).await.unwrap();
    }

    async fn issue(&self, ctx: &Context, audience: &str) -> Result<IssuedAccessToken, ErrorKind> {
        self.engine.issue_access_token(ctx, audience, None, None).await.map_err(kind)
    }

    async fn active_now(&self, token: &IssuedAccessToken) -> bool {
        self.engine.introspect(&self.admin, &token.token).await.unwrap().is_some()
    }

    /// Changes the stored assignment behind `token`'s first grant, as another replica would:
    /// committed, with this replica's index not told.
    async fn behind_the_index(&self, token: &IssuedAccessToken, f: impl FnOnce(&mut pim_domain::Assignment)) {
        let mut c = self.engine.store().read().await.unwrap();
        let mut a = q::get_assignment(&mut c, token.claims.grants[0].assignment_id).await.unwrap().unwrap();
        drop(c);
        f(&mut a);
        let mut tx = self.engine.store().write(self.engine.now()).await.unwrap();
        q::update_assignment(tx.conn(), &a).await.unwrap();
        tx.commit().await.unwrap();
    }
}

fn kind(e: EngineError) -> ErrorKind {
    match e {
        EngineError::Refused(d) => d.kind,
        EngineError::Internal(m) => panic!("internal: {m}"),
    }
}

#[tokio::test]
async fn the_stored_assignment_decides_even_before_the_index_hears_of_a_change() {
    let w = world().await;
    w.audience("orders", &["Contributor"], "/").await;
    let (hana, ctx) = w.user("hana").await;
    w.active(hana, CONTRIBUTOR, "/", Some(w.engine.now().plus_millis(HOUR_MS))).await;
    let first = w.issue(&ctx, "orders").await.unwrap();
    assert!(w.active_now(&first).await);
    // Another replica shortened it: the new token ends with the stored end, not the index's.
    let sooner = w.engine.now().plus_millis(5 * MINUTE_MS);
    w.behind_the_index(&first, |a| a.window.end = Some(sooner)).await;
    let second = w.issue(&ctx, "orders").await.unwrap();
    assert_eq!(second.claims.exp, sooner.0 / 1000, "the stored end, not the index's");
    assert_eq!(second.claims.grants[0].ends_at, Some(sooner.0 / 1000));
    // And ended it: refused, and the tokens already out are inactive, though the index holds it.
    let now = w.engine.now();
    w.behind_the_index(&first, |a| {
        a.window.end = Some(now);
        a.ended_early_at = Some(now);
    })
    .await;
    w.clock.advance(1000);
    assert!(!w.engine.index.effective(hana, w.engine.now()).is_empty(), "the index has not heard of it");
    assert_eq!(w.issue(&ctx, "orders").await.unwrap_err(), ErrorKind::NoGrantForAudience);
    assert!(!w.active_now(&first).await && !w.active_now(&second).await);
}

#[tokio::test]
async fn introspection_needs_the_audience_to_still_accept_every_grant() {
    let w = world().await;
    w.audience("orders", &["Contributor"], "/shop").await;
    let (hana, ctx) = w.user("hana").await;
    w.active(hana, CONTRIBUTOR, "/shop/eu", None).await;
    let token = w.issue(&ctx, "orders").await.unwrap();
    assert!(w.active_now(&token).await);
    // The audience no longer accepts the role: inactive.
    let roles = AudienceChange { roles: Some(vec!["Reader".into()]), ..AudienceChange::default() };
    w.engine.update_audience(&w.admin, "orders", roles).await.unwrap();
    assert!(!w.active_now(&token).await, "the role is no longer accepted");
    let back = AudienceChange { roles: Some(vec!["Contributor".into()]), ..AudienceChange::default() };
    w.engine.update_audience(&w.admin, "orders", back).await.unwrap();
    assert!(w.active_now(&token).await);
    // Nor the scope.
    let prefix = AudienceChange { scope_prefix: Some(sp("/billing")), ..AudienceChange::default() };
    w.engine.update_audience(&w.admin, "orders", prefix).await.unwrap();
    assert!(!w.active_now(&token).await, "the scope is no longer accepted");
}

#[tokio::test]
async fn a_deleted_and_recreated_audience_does_not_revive_old_tokens() {
    let w = world().await;
    w.audience("orders", &["Contributor"], "/").await;
    let (hana, ctx) = w.user("hana").await;
    w.active(hana, CONTRIBUTOR, "/", None).await;
    let old = w.issue(&ctx, "orders").await.unwrap();
    w.clock.advance(1000);
    w.engine.delete_audience(&w.admin, "orders").await.unwrap();
    assert!(!w.active_now(&old).await);
    w.audience("orders", &["Contributor"], "/").await;
    assert!(!w.active_now(&old).await, "issued for the audience that was deleted");
    let new = w.issue(&ctx, "orders").await.unwrap();
    assert!(w.active_now(&new).await, "the new audience's tokens are active");
}

#[tokio::test]
async fn enabling_a_disabled_principal_again_does_not_revive_its_tokens() {
    let w = world().await;
    w.audience("orders", &["Contributor"], "/").await;
    let (hana, ctx) = w.user("hana").await;
    w.active(hana, CONTRIBUTOR, "/", None).await;
    // Issued on a second's first millisecond, disabled in that same millisecond.
    let old = w.issue(&ctx, "orders").await.unwrap();
    assert_eq!(w.engine.now().0 % 1000, 0);
    assert!(w.active_now(&old).await);
    let enabled = |v: bool| crate::directory::PrincipalPatch { enabled: Some(v), ..Default::default() };
    w.engine.update_principal(&w.admin, PrincipalKind::User, hana, enabled(false)).await.unwrap();
    assert!(!w.active_now(&old).await);
    assert_eq!(w.issue(&ctx, "orders").await.unwrap_err(), ErrorKind::PrincipalDisabled);
    w.engine.update_principal(&w.admin, PrincipalKind::User, hana, enabled(true)).await.unwrap();
    assert!(!w.active_now(&old).await, "issued before the disable: dead for good");
    w.clock.advance(1000);
    let new = w.issue(&ctx, "orders").await.unwrap();
    assert!(w.active_now(&new).await, "issued after enabling again");
}

#[tokio::test]
async fn an_audience_without_roles_accepts_none() {
    let w = world().await;
    let (hana, ctx) = w.user("hana").await;
    w.active(hana, CONTRIBUTOR, "/", None).await;
    for roles in [None, Some(Vec::new())] {
        let change = AudienceChange { name: Some("all".into()), roles, ..AudienceChange::default() };
        assert_eq!(kind(w.engine.create_audience(&w.admin, change).await.unwrap_err()), ErrorKind::InvalidInput);
    }
    w.audience("orders", &["Contributor"], "/").await;
    let emptied = AudienceChange { roles: Some(Vec::new()), ..AudienceChange::default() };
    assert_eq!(kind(w.engine.update_audience(&w.admin, "orders", emptied).await.unwrap_err()), ErrorKind::InvalidInput);
    // A row that lists none (as an earlier version stored "every role") carries nothing.
    let mut a = w.engine.get_audience(&w.admin, "orders").await.unwrap();
    a.role_ids.clear();
    let mut tx = w.engine.store().write(w.engine.now()).await.unwrap();
    q::update_audience(tx.conn(), &a).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(w.issue(&ctx, "orders").await.unwrap_err(), ErrorKind::NoGrantForAudience);
}

#[tokio::test]
async fn a_retired_key_keeps_no_private_half() {
    let w = world().await;
    w.audience("orders", &["Contributor"], "/").await;
    let (hana, ctx) = w.user("hana").await;
    w.active(hana, CONTRIBUTOR, "/", None).await;
    let old = w.issue(&ctx, "orders").await.unwrap();
    w.engine.rotate_signing_keys(&w.admin).await.unwrap();
    w.clock.advance(HOUR_MS + 1000);
    w.engine.run_key_jobs().await.unwrap();
    let mut c = w.engine.store().read().await.unwrap();
    let keys = q::list_signing_keys(&mut c).await.unwrap();
    let retired = keys.iter().find(|k| k.info.kid == old.kid).unwrap();
    assert!(retired.info.retired_at.is_some());
    assert_eq!(retired.private_sealed, "", "the sealed private half is gone");
    assert!(
        keys.iter().any(|k| k.info.kid != old.kid && !k.private_sealed.is_empty()),
        "the current key keeps its own"
    );
}
