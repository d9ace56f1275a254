//! `notify_request` and `notify` on a real store: who each request event reaches under the rules,
//! what it says, and the webhook rows beside the emails. (Approval events are tested here, directly:
//! the approval flow that raises them is tested end to end by its own suite.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use pim_domain::role::CONTRIBUTOR;
use pim_domain::settings::ApproverRef;
use pim_domain::{
    AssignmentKind, Channel, Notification, PrincipalId, PrincipalKind, Request, RequestAction, RequestId,
    RequestStatus, RoleSettings, ScopePath, Ticket, Timestamp, Window,
};
use pim_store::{Store, q};

use super::{Audience, Notice, NotifyOptions, RequestEvent, WebhookFormat, WebhookOptions};
use crate::auth::NewAdmin;
use crate::directory::{NewPrincipal, PrincipalPatch};
use crate::engine::EngineOptions;
use crate::{Actor, Context, Engine, ManualClock};

const T0: Timestamp = Timestamp(1_767_603_600_000);

struct World {
    engine: Engine,
    ctx: Context,
    admin: PrincipalId,
    _dir: tempfile::TempDir,
}

fn hook(name: &str, events: &[&str]) -> WebhookOptions {
    WebhookOptions {
        name: name.into(),
        url: "http://127.0.0.1:9/hook".into(),
        secret: Some("s3cret".into()),
        format: WebhookFormat::Json,
        events: events.iter().map(|e| (*e).to_owned()).collect(),
    }
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("pim.db").display())).await.unwrap();
    let notifications = NotifyOptions {
        webhooks: vec![hook("everything", &[]), hook("requests", &["request.*"])],
        ..NotifyOptions::default()
    };
    let options = EngineOptions { notifications, ..EngineOptions::default() };
    let engine = Engine::open(store, Arc::new(ManualClock::new(T0)), options).await.unwrap();
    let admin = NewAdmin {
        username: "admin".into(),
        password: "admin-password-1".into(),
        display_name: None,
        email: Some("admin@example.com".into()),
    };
    let admin = engine.bootstrap(&Context::system(), admin).await.unwrap();
    let actor = Actor { id: admin.id, kind: PrincipalKind::User, name: "admin".into(), token_id: None, mfa_at: None };
    World { engine, ctx: Context { actor: Some(actor), ..Context::default() }, admin: admin.id, _dir: dir }
}

impl World {
    async fn user(&self, name: &str, email: Option<&str>) -> PrincipalId {
        let new = NewPrincipal { name: name.into(), email: email.map(str::to_owned), ..NewPrincipal::default() };
        self.engine.create_principal(&self.ctx, PrincipalKind::User, new).await.unwrap().id
    }

    async fn group(&self, name: &str, members: &[PrincipalId]) -> PrincipalId {
        let new = NewPrincipal { name: name.into(), ..NewPrincipal::default() };
        let g = self.engine.create_principal(&self.ctx, PrincipalKind::Group, new).await.unwrap().id;
        for m in members {
            self.engine.add_member(&self.ctx, g, *m).await.unwrap();
        }
        g
    }

    async fn settings(&self, f: impl FnOnce(&mut RoleSettings)) {
        let mut s = RoleSettings::default();
        f(&mut s);
        self.engine.put_settings(&self.ctx, "Contributor", ScopePath::parse("/a").unwrap(), s).await.unwrap();
    }

    /// Runs `notify_request` in a transaction of its own and returns the rows it wrote.
    async fn raise(&self, r: &Request, event: RequestEvent<'_>) -> Vec<Notification> {
        let before = self.rows().await.len();
        let now = self.engine.now();
        let mut tx = self.engine.store.write(now).await.unwrap();
        self.engine.notify_request(tx.conn(), now, r, event).await.unwrap();
        tx.commit().await.unwrap();
        self.rows().await.split_off(before)
    }

    async fn rows(&self) -> Vec<Notification> {
        let mut c = self.engine.store.read().await.unwrap();
        q::list_notifications(&mut c, &q::OutboxFilter::default()).await.unwrap()
    }
}

fn request(action: RequestAction, principal: PrincipalId, by: PrincipalId, kind: AssignmentKind) -> Request {
    Request {
        id: RequestId::new(),
        action,
        status: RequestStatus::PendingApproval,
        principal_id: principal,
        role_id: CONTRIBUTOR,
        scope: ScopePath::parse("/a/b").unwrap(),
        kind,
        window: Window { start: T0, end: Some(T0.plus_millis(3_600_000)) },
        requested_by: by,
        justification: Some("incident INC-7".into()),
        ticket: Some(Ticket { system: "jira".into(), number: "OPS-9".into() }),
        target_assignment: None,
        eligibility: None,
        created_at: T0,
        updated_at: T0,
        status_reason: None,
        duration_minutes: Some(60),
        break_glass: false,
        approval: None,
        requester_name: None,
    }
}

fn emails(rows: &[Notification]) -> Vec<String> {
    let mut v: Vec<String> = rows.iter().filter(|n| n.channel == Channel::Email).map(|n| n.recipient.clone()).collect();
    v.sort();
    v
}

fn hooks(rows: &[Notification]) -> Vec<String> {
    let mut v: Vec<String> =
        rows.iter().filter(|n| n.channel == Channel::Webhook).map(|n| n.recipient.clone()).collect();
    v.sort();
    v
}

fn user_ref(id: PrincipalId) -> ApproverRef {
    ApproverRef { kind: PrincipalKind::User, id }
}

fn group_ref(id: PrincipalId) -> ApproverRef {
    ApproverRef { kind: PrincipalKind::Group, id }
}

#[tokio::test]
async fn approval_needed_reaches_approvers_and_group_members_but_never_the_requester() {
    let w = world().await;
    let alice = w.user("alice", Some("alice@example.com")).await;
    let bob = w.user("bob", Some("bob@example.com")).await;
    let carol = w.user("carol", Some("Carol@Example.com")).await;
    let dave = w.user("dave", Some("dave@example.com")).await;
    let erin = w.user("erin", None).await;
    let inner = w.group("inner", &[carol, dave]).await;
    let approvers = w.group("approvers", &[inner, alice, erin, bob]).await;
    let off = PrincipalPatch { enabled: Some(false), ..PrincipalPatch::default() };
    w.engine.update_principal(&w.ctx, PrincipalKind::User, dave, off).await.unwrap();
    let r = request(RequestAction::SelfActivate, alice, alice, AssignmentKind::Active);
    let list = [user_ref(bob), group_ref(approvers)];
    let rows = w.raise(&r, RequestEvent::ApprovalNeeded { approvers: &list, stage: 0 }).await;
    // bob once (directly and through the group), carol through the nested group; alice is the
    // requester, dave is disabled, erin has no address.
    assert_eq!(emails(&rows), ["Carol@Example.com", "bob@example.com"]);
    assert_eq!(hooks(&rows), ["everything", "requests"]);
    let n = &rows[0];
    assert_eq!(n.event, "request.approvalNeeded");
    assert!(n.critical);
    assert_eq!(n.subject, "PIM: approval needed: alice asks to activate Contributor at /a/b");
    for part in [
        "Principal:     alice",
        "Role:          Contributor",
        "Scope:         /a/b",
        "Justification: incident INC-7",
        "Ticket:        jira OPS-9",
        &format!("pim approve {} -j", r.id),
        &format!("pim deny {} -j", r.id),
        "End:           2026-01-05T10:00:00.000Z",
    ] {
        assert!(n.text.contains(part), "{part:?} in:\n{}", n.text);
    }
    assert_eq!(n.request_id, Some(r.id));
    assert_eq!(n.payload["data"]["request"]["id"], serde_json::json!(r.id));
    assert_eq!(n.payload["data"]["approvers"].as_array().map(Vec::len), Some(2));
    // A second stage says so.
    let rows = w.raise(&r, RequestEvent::ApprovalNeeded { approvers: &[user_ref(bob)], stage: 1 }).await;
    assert_eq!(rows[0].subject, "PIM: approval needed (stage 2): alice asks to activate Contributor at /a/b");
}

#[tokio::test]
async fn extension_requests_without_approvers_go_to_those_who_may_approve_at_the_scope() {
    let w = world().await;
    let alice = w.user("alice", Some("alice@example.com")).await;
    let r = request(RequestAction::SelfExtend, alice, alice, AssignmentKind::Eligible);
    let rows = w.raise(&r, RequestEvent::ApprovalNeeded { approvers: &[], stage: 0 }).await;
    // The bootstrap Global Administrator holds pim.requests.approve at /.
    assert_eq!(emails(&rows), ["admin@example.com"]);
    assert_eq!(
        rows[0].subject,
        "PIM: approval needed: alice asks to extend the eligible assignment of Contributor at /a/b"
    );
    // ... but not for their own request.
    let own = request(RequestAction::SelfExtend, w.admin, w.admin, AssignmentKind::Eligible);
    let rows = w.raise(&own, RequestEvent::ApprovalNeeded { approvers: &[], stage: 0 }).await;
    assert!(emails(&rows).is_empty(), "{rows:?}");
}

#[tokio::test]
async fn the_rules_pick_the_event_and_critical_notices_pass_critical_only() {
    let w = world().await;
    let alice = w.user("alice", Some("alice@example.com")).await;
    let bob = w.user("bob", Some("bob@example.com")).await;
    w.settings(|s| {
        let r = &mut s.notifications.eligible_member_activated;
        r.approvers.critical_only = true;
        r.approvers.additional_recipients = vec!["sec@example.com".into()];
        let e = &mut s.notifications.assigned_eligible;
        e.approvers.default_recipients = false;
        e.approvers.additional_recipients = vec!["eligible-approvals@example.com".into()];
    })
    .await;
    // Activations follow eligibleMemberActivated: critical passes "critical only".
    let act = request(RequestAction::SelfActivate, alice, alice, AssignmentKind::Active);
    let rows = w.raise(&act, RequestEvent::ApprovalNeeded { approvers: &[user_ref(bob)], stage: 0 }).await;
    assert_eq!(emails(&rows), ["bob@example.com", "sec@example.com"]);
    // ... and so does an escalation; a cancellation is not critical, so nobody gets it by email.
    let rows = w.raise(&act, RequestEvent::Escalated { approvers: &[user_ref(bob)], stage: 0 }).await;
    assert_eq!((emails(&rows), rows[0].critical), (vec!["bob@example.com".into(), "sec@example.com".into()], true));
    assert_eq!(rows[0].event, "request.escalated");
    let rows = w.raise(&act, RequestEvent::Canceled { approvers: &[user_ref(bob)] }).await;
    assert!(emails(&rows).is_empty());
    assert_eq!(hooks(&rows), ["everything", "requests"], "webhooks get every notice");
    // Extension of an eligible assignment follows assignedEligible: default off, additional on.
    let ext = request(RequestAction::SelfExtend, alice, alice, AssignmentKind::Eligible);
    let rows = w.raise(&ext, RequestEvent::ApprovalNeeded { approvers: &[user_ref(bob)], stage: 0 }).await;
    assert_eq!(emails(&rows), ["eligible-approvals@example.com"]);
    // An active one follows assignedActive (the defaults).
    let ext = request(RequestAction::SelfExtend, alice, alice, AssignmentKind::Active);
    let rows = w.raise(&ext, RequestEvent::ApprovalNeeded { approvers: &[user_ref(bob)], stage: 0 }).await;
    assert_eq!(emails(&rows), ["bob@example.com"]);
}

#[tokio::test]
async fn decisions_and_time_outs_go_to_the_requester() {
    let w = world().await;
    let alice = w.user("alice", Some("alice@example.com")).await;
    w.user("bob", Some("bob@example.com")).await;
    let r = request(RequestAction::SelfActivate, alice, alice, AssignmentKind::Active);
    let rows = w.raise(&r, RequestEvent::Approved { by: "bob" }).await;
    assert_eq!(emails(&rows), ["alice@example.com"]);
    assert_eq!(rows[0].subject, "PIM: approved: alice's request to activate Contributor at /a/b");
    assert!(rows[0].text.starts_with("bob approved the request"), "{}", rows[0].text);
    assert!(!rows[0].critical);
    let rows = w.raise(&r, RequestEvent::Denied { by: "bob", justification: Some("not during the freeze") }).await;
    assert_eq!((emails(&rows), rows[0].event.as_str()), (vec!["alice@example.com".into()], "request.denied"));
    assert!(rows[0].text.contains("Reason: not during the freeze"));
    assert_eq!(rows[0].payload["data"]["reason"], "not during the freeze");
    let rows = w.raise(&r, RequestEvent::TimedOut).await;
    assert_eq!(
        (emails(&rows), rows[0].subject.as_str()),
        (vec!["alice@example.com".into()], "PIM: timed out: alice's request to activate Contributor at /a/b")
    );
    // The requester rule applies: off means nothing by email.
    w.settings(|s| s.notifications.eligible_member_activated.requester.default_recipients = false).await;
    assert!(emails(&w.raise(&r, RequestEvent::TimedOut).await).is_empty());
}

#[tokio::test]
async fn break_glass_reaches_approvers_and_admins_as_critical() {
    let w = world().await;
    let alice = w.user("alice", Some("alice@example.com")).await;
    let bob = w.user("bob", Some("bob@example.com")).await;
    let r = request(RequestAction::SelfActivate, alice, alice, AssignmentKind::Active);
    // Admins off except critical: break-glass still reaches them.
    w.settings(|s| s.notifications.eligible_member_activated.admins.critical_only = true).await;
    let rows = w.raise(&r, RequestEvent::BreakGlass { approvers: &[user_ref(bob)] }).await;
    assert_eq!(emails(&rows), ["admin@example.com", "bob@example.com"]);
    assert_eq!(hooks(&rows), ["everything"], "not a request.* event");
    assert!(rows.iter().all(|n| n.critical && n.event == "role.breakGlass"));
    assert_eq!(rows[0].subject, "PIM: BREAK-GLASS: alice activated Contributor at /a/b without approval");
}

#[tokio::test]
async fn updates_removals_and_deactivations_write_nothing() {
    let w = world().await;
    let alice = w.user("alice", Some("alice@example.com")).await;
    for action in [RequestAction::AdminUpdate, RequestAction::AdminRemove, RequestAction::SelfDeactivate] {
        let r = request(action, alice, w.admin, AssignmentKind::Active);
        assert!(w.raise(&r, RequestEvent::Done).await.is_empty(), "{action:?}");
    }
}

#[tokio::test]
async fn explicit_audiences_resolve_and_deduplicate() {
    let w = world().await;
    let alice = w.user("alice", Some("alice@example.com")).await;
    let team = w.group("team", &[alice]).await;
    let notice =
        Notice { critical: true, ..Notice::new("settings.approvalNeeded", "a protected setting waits", "text") };
    assert_eq!(notice.subject, "PIM: a protected setting waits");
    let to = [
        Audience::Principal(team),
        Audience::Address("ALICE@example.com".into()),
        Audience::Address("ops@example.com".into()),
        Audience::Address("not an address".into()),
        Audience::HoldersOf { action: "pim.settings.write", scope: ScopePath::root() },
    ];
    let now = w.engine.now();
    let mut tx = w.engine.store.write(now).await.unwrap();
    w.engine.notify(tx.conn(), now, &notice, &to).await.unwrap();
    tx.commit().await.unwrap();
    let rows = w.rows().await;
    assert_eq!(emails(&rows), ["admin@example.com", "alice@example.com", "ops@example.com"]);
    assert_eq!(hooks(&rows), ["everything"]);
    assert!(rows.iter().all(|n| n.subject.starts_with("PIM: ") && n.payload["event"] == "settings.approvalNeeded"));
}
