//! Activity per activation (docs/ACTIVITY.md): a synthetic registered system reports what principals
//! did during and outside their activations (tied by id, by SSH key id, by time, or unmatched); bad
//! reports are refused whole; connectors' grants and revokes appear as activity; reviews recommend by
//! real use; the portal, the activation report, the audit export and retention include it.

use pim_engine::connectors::{ConnectorKind, ConnectorOptions, Mapping, WebhookTarget};
use pim_engine::engine::EngineOptions;
use serde_json::json;

use crate::harness::prelude::*;
use crate::hostile::{review_of, selected};
use crate::portal::Browser;

const PW: &str = "a-long-password-1";

/// A registered system: a service principal holding only Activity Reporter (for a year: service
/// principals hold time-bound active assignments only), with its own token.
async fn system(s: &TestServer, name: &str) -> Client {
    let id = s.service_principal(name).await;
    let end = s.engine.now().plus_millis(365 * DAY_MS);
    s.assign(id, role::ACTIVITY_REPORTER, "/", AssignmentKind::Active, Some(end)).await;
    s.client_for(id).await
}

/// A role without MFA, `who` eligible for it at `/db/prod`.
async fn db_role(s: &TestServer) -> RoleId {
    let role = s.custom_role("Database Reader", &["db.read"]).await;
    s.without_mfa(role).await;
    role
}

fn event(principal: &str, at: Timestamp, action: &str) -> ReportedActivity {
    ReportedActivity {
        principal: principal.into(),
        at,
        system: None,
        action: action.into(),
        target: Some("orders".into()),
        outcome: None,
        detail: json!({ "rows": 3 }),
        activation_id: None,
        ssh_key_id: None,
        role: None,
        scope: None,
    }
}

fn report(events: Vec<ReportedActivity>) -> ReportActivity {
    ReportActivity { events }
}

async fn activate(c: &Client, role: RoleId, scope: &str, minutes: u32) -> (RequestId, AssignmentId) {
    let done = c.create_request(&activation(role, scope, minutes)).await.expect("activate");
    (done.request.id, done.assignment.expect("in effect").id)
}

async fn a_system_reports_activity_during_and_outside_activations(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = db_role(&s).await;
    let (ann, ann_c) = s.user("ann").await;
    let (bob, bob_c) = s.user("bob").await;
    let ann_elig = s.assign(ann, role, "/db/prod", AssignmentKind::Eligible, None).await;
    s.assign(bob, role, "/db/prod", AssignmentKind::Eligible, None).await;
    let orders = system(&s, "orders-db").await;

    // Before any activation: stored, unmatched.
    let before =
        orders.report_activity(&report(vec![event("ann", s.engine.now(), "sql.select")])).await.expect("report");
    assert_eq!((before.matched, before.unmatched), (0, 1));
    assert_eq!((before.items[0].match_kind, before.items[0].assignment_id), (ActivityMatch::Unmatched, None));
    assert_eq!(before.items[0].system, "orders-db", "the system defaults to the caller's name");

    s.advance(MINUTE_MS);
    let (_, a) = activate(&ann_c, role, "/db/prod", 60).await;
    let (_, bobs) = activate(&bob_c, role, "/db/prod", 60).await;
    s.advance(MINUTE_MS);
    let now = s.engine.now();
    let inferred = event("ann", now, "sql.select");
    let mut explicit = event(&ann.to_string(), now, "sql.update");
    explicit.activation_id = Some(a);
    explicit.outcome = Some(ActivityOutcome::Denied);
    let mut by_key = event("ann", now, "ssh.login");
    by_key.ssh_key_id = Some(format!("pim user=ann activation={a}"));
    by_key.system = Some("bastion".into());
    let during = orders.report_activity(&report(vec![inferred, explicit, by_key])).await.expect("report");
    assert_eq!((during.matched, during.unmatched), (3, 0));
    let kinds: Vec<_> = during.items.iter().map(|e| (e.match_kind, e.assignment_id, e.role_id)).collect();
    assert_eq!(
        kinds,
        [
            (ActivityMatch::Inferred, Some(a), Some(role)),
            (ActivityMatch::Explicit, Some(a), Some(role)),
            (ActivityMatch::Explicit, Some(a), Some(role))
        ]
    );

    // A wrong id is refused (never silently accepted), and the whole report with it.
    let rows = s.count_rows("activity_events").await;
    let mut bobs_for_ann = event("ann", now, "sql.select");
    bobs_for_ann.activation_id = Some(bobs);
    let r = orders.report_activity(&report(vec![event("ann", now, "sql.select"), bobs_for_ann])).await;
    assert_eq!((status(r), s.count_rows("activity_events").await), (422, rows));
    let mut eligible = event("ann", now, "sql.select");
    eligible.activation_id = Some(ann_elig.id);
    assert_eq!(code(orders.report_activity(&report(vec![eligible])).await), "activity_assignment_mismatch");
    let mut unknown = event("ann", now, "sql.select");
    unknown.activation_id = Some(AssignmentId::new());
    assert_eq!(code(orders.report_activity(&report(vec![unknown])).await), "activity_assignment_mismatch");

    // Too big, too many, too far ahead or back, unknown principal: refused, nothing stored.
    let mut big = event("ann", now, "sql.select");
    big.detail = json!({ "sql": "x".repeat(5000) });
    assert_eq!(code(orders.report_activity(&report(vec![big])).await), "activity_too_large");
    let many = (0..101).map(|_| event("ann", now, "sql.select")).collect();
    assert_eq!(code(orders.report_activity(&report(many)).await), "activity_too_large");
    assert_eq!(code(orders.report_activity(&report(vec![])).await), "invalid_input");
    let future = event("ann", now.plus_millis(10 * MINUTE_MS), "sql.select");
    assert_eq!(code(orders.report_activity(&report(vec![future])).await), "activity_time_out_of_range");
    let old = event("ann", now.plus_millis(-31 * DAY_MS), "sql.select");
    assert_eq!(code(orders.report_activity(&report(vec![old])).await), "activity_time_out_of_range");
    assert_eq!(status(orders.report_activity(&report(vec![event("nobody", now, "x")])).await), 404);
    assert_eq!(s.count_rows("activity_events").await, rows, "nothing of a refused report is kept");

    // Only a registered system reports; reading follows the assignment's rule.
    assert_eq!(code(ann_c.report_activity(&report(vec![event("ann", now, "sql.select")])).await), "forbidden");
    assert_eq!(code(bob_c.assignment_activity(a, &ActivityQuery::default()).await), "forbidden");
    assert_eq!(code(orders.assignment_activity(a, &ActivityQuery::default()).await), "forbidden");
    let mine = ann_c.all_assignment_activity(a).await.expect("the holder reads its own");
    assert_eq!(mine.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["sql.select", "sql.update", "ssh.login"]);
    assert_eq!((mine[1].outcome, mine[2].system.as_str()), (ActivityOutcome::Denied, "bastion"));
    let page = s.admin.assignment_activity(a, &ActivityQuery { limit: Some(2), cursor: None }).await.expect("page");
    assert_eq!(page.items.len(), 2);
    let rest = ActivityQuery { limit: Some(2), cursor: page.next_cursor };
    assert_eq!(s.admin.assignment_activity(a, &rest).await.expect("page").items.len(), 1, "paged by cursor");

    // Every stored event is audited; the refused reports are audited as failures.
    let audited = s.audited("activity.reported").await;
    let ok: Vec<_> = audited.iter().filter(|e| e.error_code.is_none()).collect();
    let refused = audited.iter().filter(|e| e.error_code.is_some()).count();
    assert_eq!((ok.len(), refused), (4, 10));
    assert!(ok.iter().all(|e| e.principal_id == Some(ann)));
    assert!(s.admin.verify_audit().await.expect("verify").ok, "the chain covers activity");
    s.stop().await;
}

async fn connector_grants_and_revokes_appear_as_activity(b: Backend) {
    let (url, _seen) = crate::connectors::receiver("hook-secret").await;
    let mapping = Mapping {
        role: "Database Reader".into(),
        scope: sp("/apps/crm"),
        entitlement: "crm-admin".into(),
        terminate_sessions: true,
    };
    let target = WebhookTarget { url, secret: Some("hook-secret".into()), list_url: None };
    let o = ConnectorOptions::new("crm", ConnectorKind::Webhook(target), vec![mapping]);
    let s = TestServer::start_with(&b, EngineOptions { connectors: vec![o], ..EngineOptions::default() }).await;
    let role = db_role(&s).await;
    let (gina, gina_c) = s.user("gina").await;
    s.assign(gina, role, "/apps/crm", AssignmentKind::Eligible, None).await;
    let (_, a) = activate(&gina_c, role, "/apps/crm", 60).await;
    s.engine.run_connectors_once().await.expect("connectors");
    s.advance(MINUTE_MS);
    gina_c.create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, a)).await.expect("off");
    s.engine.run_connectors_once().await.expect("connectors");
    let done = gina_c.all_assignment_activity(a).await.expect("activity");
    let seen: Vec<_> =
        done.iter().map(|e| (e.system.as_str(), e.action.as_str(), e.source, e.target.as_deref())).collect();
    assert_eq!(
        seen,
        [
            ("crm", "connector.grant", ActivitySource::Connector, Some("crm-admin for gina")),
            ("crm", "connector.revoke", ActivitySource::Connector, Some("crm-admin for gina")),
        ]
    );
    // pim's own actions are not use: the report counts no used activation.
    let r = s.admin.activation_report(&ActivationReportQuery::default()).await.expect("report");
    assert_eq!((r.total, r.used, r.activity_events), (1, 0, 0));
    s.stop().await;
}

/// A one-time review of the eligibilities of `role` at `/db`, by the administrator.
fn review(name: &str, role: RoleId, reviewer: PrincipalId) -> CreateReview {
    CreateReview { kinds: ReviewedKinds::Eligible, ..review_of(name, role, "/db", selected(&[reviewer])) }
}

async fn items_of(s: &TestServer, def: &ReviewDefinition) -> Vec<ReviewItem> {
    let instance = s.admin.get_review(def.id).await.expect("review").instances.into_iter().next().expect("instance");
    s.admin.review_results(instance.id).await.expect("results").items
}

fn verdict_of(items: &[ReviewItem], p: PrincipalId) -> (Verdict, Option<Timestamp>) {
    let i = items.iter().find(|i| i.principal_id == p).expect("item");
    (i.recommendation, i.last_use)
}

async fn reviews_recommend_removal_of_access_activated_but_never_used(b: Backend) {
    let s = TestServer::start(&b).await;
    let role = db_role(&s).await;
    let (ann, ann_c) = s.user("ann").await;
    let (bob, bob_c) = s.user("bob").await;
    s.assign(ann, role, "/db/prod", AssignmentKind::Eligible, None).await;
    s.assign(bob, role, "/db/prod", AssignmentKind::Eligible, None).await;
    let orders = system(&s, "orders-db").await;
    // Both activate every week; nobody reports yet.
    for _ in 0..3 {
        activate(&ann_c, role, "/db/prod", 60).await;
        activate(&bob_c, role, "/db/prod", 60).await;
        s.advance(7 * DAY_MS);
    }
    let first = s.admin.create_review(&review("Before activity", role, s.admin_id)).await.expect("review");
    let items = items_of(&s, &first).await;
    assert_eq!(verdict_of(&items, ann), (Verdict::Approve, None), "no activity reported: the last activation");
    assert_eq!(verdict_of(&items, bob), (Verdict::Approve, None));

    // This week bob uses his activation; ann activates again and does nothing.
    activate(&ann_c, role, "/db/prod", 60).await;
    activate(&bob_c, role, "/db/prod", 60).await;
    s.advance(10 * MINUTE_MS);
    let used_at = s.engine.now();
    orders.report_activity(&report(vec![event("bob", used_at, "sql.select")])).await.expect("report");
    s.advance(DAY_MS);
    let second = s.admin.create_review(&review("With activity", role, s.admin_id)).await.expect("review");
    let items = items_of(&s, &second).await;
    assert_eq!(verdict_of(&items, ann), (Verdict::Deny, None), "activated every week, never used");
    assert_eq!(verdict_of(&items, bob), (Verdict::Approve, Some(used_at)), "used recently");
    let ann_item = items.iter().find(|i| i.principal_id == ann).expect("item");
    assert!(ann_item.last_activity.is_some(), "the last activation is shown beside the (absent) last use");
    // The results CSV carries the last use too, in its own column after lastActivity.
    let instance = s.admin.get_review(second.id).await.expect("review").instances[0].id;
    let csv =
        String::from_utf8(s.admin.review_results_file(instance, ExportFormat::Csv).await.expect("csv")).expect("utf8");
    let header: Vec<&str> = csv.lines().next().expect("header").split(',').collect();
    let col = header.iter().position(|c| *c == "lastUse").expect("a lastUse column");
    assert_eq!(header[col - 1], "lastActivity");
    let cell_of = |p: PrincipalId| {
        let row = csv.lines().find(|l| l.contains(&p.to_string())).expect("row").to_owned();
        row.split(',').nth(col).expect("cell").to_owned()
    };
    assert_eq!((cell_of(bob), cell_of(ann)), (used_at.to_rfc3339(), String::new()));

    // Used long ago counts as unused.
    s.advance(31 * DAY_MS);
    activate(&bob_c, role, "/db/prod", 60).await;
    let third = s.admin.create_review(&review("Later", role, s.admin_id)).await.expect("review");
    assert_eq!(verdict_of(&items_of(&s, &third).await, bob), (Verdict::Deny, Some(used_at)));
    s.stop().await;
}

async fn the_portal_report_export_and_retention_include_activity(b: Backend) {
    let options = EngineOptions { audit_retention_days: Some(40), ..EngineOptions::default() };
    let s = TestServer::start_with(&b, options).await;
    let role = db_role(&s).await;
    let ann = s.user_with_password("ann", PW).await;
    let carol = s.user_with_password("carol", PW).await;
    s.assign(ann, role, "/db/prod", AssignmentKind::Eligible, None).await;
    let ann_c = s.client_for(ann).await;
    let orders = system(&s, "orders-db").await;
    let (request, a) = activate(&ann_c, role, "/db/prod", 60).await;
    let mut e = event("ann", s.engine.now(), "sql.delete");
    e.target = Some("orders.line_items".into());
    orders.report_activity(&report(vec![e, event("ann", s.engine.now(), "sql.select")])).await.expect("report");

    // The portal's request detail shows what was done; another user may not see it.
    let web = Browser::new(&s);
    web.sign_in("ann", PW, None).await;
    let list = web.open("/requests").await;
    assert!(list.has(&format!("href=\"/requests/{request}\"")), "the list links to the detail");
    let page = web.open(&format!("/requests/{request}")).await;
    let text = page.text();
    for want in ["What was done", "orders-db", "sql.delete", "orders.line_items", "by time"] {
        assert!(text.contains(want), "{want} in {text}");
    }
    assert_eq!(web.get("/requests/nope").await.status, 400);
    let other = Browser::new(&s);
    other.sign_in("carol", PW, None).await;
    assert_eq!(other.get(&format!("/requests/{request}")).await.status, 403, "{carol} may not read ann's request");

    // The activation report counts used activations and their events (`to`, now, is exclusive).
    s.advance(MINUTE_MS);
    let r = s.admin.activation_report(&ActivationReportQuery::default()).await.expect("report");
    assert_eq!((r.total, r.used, r.activity_events), (1, 1, 2));
    let csv = String::from_utf8(
        s.admin
            .activation_report_file(&ActivationReportQuery { format: Some(ExportFormat::Csv), ..Default::default() })
            .await
            .expect("csv"),
    )
    .expect("utf-8");
    assert!(csv.contains("used,,,1") && csv.contains("activityEvents,,,2"), "{csv}");

    // The audit export holds each event, in the chain.
    let exported = s.admin.export_audit(ExportFormat::Json, &AuditQuery::default()).await.expect("export");
    let text = String::from_utf8_lossy(&exported);
    assert_eq!(text.matches("activity.reported").count(), 2, "{text}");
    assert!(text.contains("orders.line_items"));

    // Retention: activity goes with the audit history it is part of.
    s.advance(41 * DAY_MS);
    s.engine.prune_audit().await.expect("prune");
    assert_eq!(s.count_rows("activity_events").await, 0);
    assert!(ann_c.all_assignment_activity(a).await.expect("activity").is_empty());
    assert!(s.admin.verify_audit().await.expect("verify").ok);
    s.stop().await;
}

crate::backend_tests!(
    a_system_reports_activity_during_and_outside_activations,
    connector_grants_and_revokes_appear_as_activity,
    reviews_recommend_removal_of_access_activated_but_never_used,
    the_portal_report_export_and_retention_include_activity,
);
