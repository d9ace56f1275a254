//! The portal's oversight pages over real HTTP: Manage > Alerts (evaluate, dismiss with a reason,
//! fix, change a rule; read-only for a Security Reader, refused for a forged form), Manage >
//! Access reviews (create through the form, instance and items, stop, apply, results as CSV,
//! bad input), and Audit (filters, CSV and JSON downloads, the activations chart, "My audit" for a
//! plain user whose full export is refused). Engine state is checked through the typed API client.

use crate::harness::ADMIN_PASSWORD;
use crate::harness::prelude::*;
use crate::portal::{Browser, Page};

const PW: &str = "a-long-password-1";

/// What a user reads, with askama's numeric character references (`&#39;`, which `Page` leaves)
/// unescaped.
trait Read {
    fn words(&self) -> String;
    fn message(&self) -> Option<String>;
}

fn unescape(s: &str) -> String {
    s.replace("&#39;", "'").replace("&#34;", "\"").replace("&#60;", "<").replace("&#62;", ">").replace("&#38;", "&")
}

impl Read for Page {
    fn words(&self) -> String {
        unescape(&self.text())
    }
    fn message(&self) -> Option<String> {
        self.flash().map(|f| unescape(&f))
    }
}

async fn admin_browser(s: &TestServer) -> Browser {
    let web = Browser::new(s);
    assert_eq!(web.sign_in("admin", ADMIN_PASSWORD, None).await.status, 200);
    web
}

async fn active_alert(s: &TestServer, rule: &str) -> Alert {
    let all = s.admin.list_alerts(Some(AlertState::Active)).await.expect("alerts").items;
    all.into_iter().find(|a| a.rule_id == rule).expect("an active alert of the rule")
}

async fn emergency_account(s: &TestServer, name: &str) -> PrincipalId {
    let body = CreateUser {
        name: name.into(),
        display_name: None,
        email: None,
        manager_id: None,
        password: None,
        emergency_access: Some(true),
    };
    s.admin.create_user(&body).await.expect("emergency account").id
}

async fn admins_evaluate_dismiss_and_fix_alerts(b: Backend) {
    let s = TestServer::start(&b).await;
    let (alice, _) = s.user("alice").await;
    s.without_mfa(role::READER).await;
    s.assign(alice, role::READER, "/prod", AssignmentKind::Eligible, None).await;
    emergency_account(&s, "breakglass").await;
    let web = admin_browser(&s).await;

    let empty = web.open("/manage/alerts").await;
    assert_eq!(empty.status, 200);
    assert!(empty.has("aria-current=\"page\">Alerts</a>"), "the Alerts tab is current");
    assert!(empty.words().contains("No active alert."), "{}", empty.words());
    let evaluated = web.submit("/manage/alerts/evaluate", &[]).await;
    assert!(
        evaluated.message().unwrap_or_default().starts_with("Every rule was evaluated"),
        "{:?}",
        evaluated.message()
    );
    let text = evaluated.words();
    assert!(text.contains("medium severity 1 role can be activated without MFA"), "{text}");
    assert!(text.contains("Reader /prod Reader can be activated at /prod without MFA"), "{text}");
    assert!(text.contains("high severity 1 emergency access account is not permanent Global Administrator"));
    assert!(text.contains("breakglass"), "affected principals are named");
    assert!(evaluated.has("Fix: 1 role can be activated without MFA"), "a remediable alert offers its fix");
    assert!(text.contains("Alert rules") && text.contains("Potential stale accounts in a privileged role"));

    // Dismissing needs a reason; with one, the alert is dismissed and shows under its state.
    let unprotected = active_alert(&s, "emergencyAccountUnprotected").await;
    let path = format!("/manage/alerts/{}/dismiss", unprotected.id);
    let refused = web.submit(&path, &[("reason", "  ")]).await;
    assert!(refused.message().unwrap_or_default().contains("a reason is required"), "{:?}", refused.message());
    assert_eq!(s.admin.get_alert(unprotected.id).await.unwrap().state, AlertState::Active);
    let dismissed = web.submit(&path, &[("reason", "lab tenant, accepted")]).await;
    assert_eq!(
        dismissed.message().as_deref(),
        Some("Dismissed: 1 emergency access account is not permanent Global Administrator.")
    );
    let a = s.admin.get_alert(unprotected.id).await.unwrap();
    assert_eq!((a.state, a.dismiss_reason.as_deref()), (AlertState::Dismissed, Some("lab tenant, accepted")));
    let listed = web.open("/manage/alerts?state=dismissed").await;
    assert!(
        listed.words().contains("Dismissed by admin at 2026-01-05 09:00 UTC: lab tenant, accepted"),
        "{}",
        listed.words()
    );
    assert!(!listed.has(&path), "a dismissed alert cannot be dismissed again");
    assert_eq!(web.open("/manage/alerts?state=sideways").await.status, 400);

    // The fix turns on MFA for Reader at /prod; the flash says so and the alert resolves.
    let no_mfa = active_alert(&s, "rolesWithoutMfa").await;
    let fixed = web.submit(&format!("/manage/alerts/{}/fix", no_mfa.id), &[]).await;
    assert_eq!(
        fixed.message().as_deref(),
        Some("Fixed: MFA on activation required for Reader at /prod. The alert is resolved.")
    );
    let settings = s.admin.get_settings(&role::READER.to_string(), &sp("/prod")).await.unwrap().settings;
    assert!(settings.require_mfa_on_activation);
    assert_eq!(s.admin.get_alert(no_mfa.id).await.unwrap().state, AlertState::Resolved);
    assert_eq!(s.audited("alert.remediated").await.len(), 1);
    let again = web.submit(&format!("/manage/alerts/{}/fix", no_mfa.id), &[]).await;
    assert!(again.message().unwrap_or_default().contains("only an active alert can be remediated"));

    // A rule's severity, flag and thresholds change; bad values change nothing.
    let rule = "/manage/alert-rules/staleAccounts";
    let saved = web.submit(rule, &[("severity", "high"), ("threshold_days", "45")]).await;
    assert_eq!(
        saved.message().as_deref(),
        Some("Rule saved: Potential stale accounts in a privileged role is disabled.")
    );
    let stale = |rules: Vec<AlertRule>| rules.into_iter().find(|r| r.id == "staleAccounts").expect("rule");
    let r = stale(s.admin.list_alert_rules().await.unwrap().items);
    assert_eq!((r.severity, r.enabled, r.thresholds["days"]), (Severity::High, false, 45));
    for (field, value, says) in [
        ("threshold_days", "many", "Threshold days: 'many' is not a whole number."),
        ("threshold_days", "0", "threshold days of rule staleAccounts must be between 1 and 3650 (got 0)"),
        ("severity", "extreme", "Severity: 'extreme' is not low, medium or high."),
    ] {
        let bad = web.submit(rule, &[(field, value), ("enabled", "on")]).await;
        assert!(bad.message().unwrap_or_default().contains(says), "{:?}", bad.message());
    }
    assert_eq!(stale(s.admin.list_alert_rules().await.unwrap().items), r, "nothing changed");
    s.stop().await;
}

async fn readers_see_alerts_without_changing_them(b: Backend) {
    let s = TestServer::start(&b).await;
    emergency_account(&s, "breakglass").await;
    s.admin.evaluate_alerts().await.expect("evaluate");
    let alert = active_alert(&s, "emergencyAccountUnprotected").await;
    let reader = s.user_with_password("rita", PW).await;
    s.assign(reader, role::SECURITY_READER, "/", AssignmentKind::Active, None).await;
    let web = Browser::new(&s);
    web.sign_in("rita", PW, None).await;
    let page = web.open("/manage/alerts").await;
    assert_eq!(page.status, 200);
    assert!(page.words().contains("1 emergency access account is not permanent Global Administrator"));
    for write in ["/dismiss", "/fix", "Evaluate now", "Save rule", "/manage/alert-rules/"] {
        assert!(!page.has(write), "a reader sees no {write}");
    }
    let rules = s.admin.list_alert_rules().await.unwrap().items;
    let events = s.audited("alert.dismissed").await.len();
    for (path, fields) in [
        (format!("/manage/alerts/{}/dismiss", alert.id), vec![("reason", "forged")]),
        (format!("/manage/alerts/{}/fix", alert.id), vec![]),
        ("/manage/alerts/evaluate".to_owned(), vec![]),
        ("/manage/alert-rules/staleAccounts".to_owned(), vec![("threshold_days", "99")]),
    ] {
        let forged = web.post(&path, &fields).await;
        assert_eq!(forged.status, 403, "{path}");
        assert!(forged.words().contains("lacks the permission pim.alerts.write at /"), "{}", forged.words());
    }
    assert_eq!(s.admin.get_alert(alert.id).await.unwrap().state, AlertState::Active);
    assert_eq!(s.admin.list_alert_rules().await.unwrap().items, rules);
    let failed = s.audited("alert.dismissed").await;
    assert_eq!((failed.len(), failed[0].outcome), (events + 1, Outcome::Failure), "the refusal is recorded");

    // A plain user may not open the tab at all, nor the reviews.
    s.user_with_password("paul", PW).await;
    let plain = Browser::new(&s);
    plain.sign_in("paul", PW, None).await;
    for path in ["/manage/alerts", "/manage/reviews", "/manage/reviews/new"] {
        assert_eq!(plain.open(path).await.status, 403, "{path}");
    }
    assert_eq!(plain.post(&format!("/manage/alerts/{}/dismiss", alert.id), &[("reason", "x")]).await.status, 403);
    s.stop().await;
}

/// The fields of the new-review form for a one-time review of Reader at /prod by `reviewers`.
fn review_form<'a>(reviewers: &'a str, days: &'a str, reader: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", "Prod readers"),
        ("description", "Who still needs to read prod?"),
        ("target_type", "roles"),
        ("role_id", reader),
        ("scope", "/prod"),
        ("kinds", "both"),
        ("reviewers_type", "selected"),
        ("reviewers", reviewers),
        ("start", "2026-01-05T09:00"),
        ("recurrence", "oneTime"),
        ("duration_days", days),
        ("end_type", "never"),
        ("if_no_response", "noChange"),
        ("reason_required", "on"),
    ]
}

async fn admins_create_run_and_apply_access_reviews(b: Backend) {
    let s = TestServer::start(&b).await;
    let (alice, _) = s.user("alice").await;
    let (_, bob_c) = s.user("bob").await;
    let elig = s.assign(alice, role::READER, "/prod", AssignmentKind::Eligible, None).await;
    let web = admin_browser(&s).await;
    let reader = role::READER.to_string();

    let form = web.open("/manage/reviews/new").await;
    assert_eq!(form.status, 200);
    assert!(form.has("<label for=\"review-reviewers\">") && form.has("name=\"role_id\""));
    // Bad input is shown again with what is wrong, and creates nothing.
    let bad = web.post("/manage/reviews/new", &review_form("nobody", "0", &reader)).await;
    assert_eq!(bad.status, 422);
    assert!(bad.words().contains("Reviewers: there is no user or group named 'nobody'."), "{}", bad.words());
    assert!(bad.has("value=\"Prod readers\""), "the values typed are kept");
    let bad = web.post("/manage/reviews/new", &review_form("bob", "0", &reader)).await;
    assert_eq!(bad.status, 422);
    assert!(bad.words().contains("durationDays must be between 1 and 180"), "{}", bad.words());
    assert!(s.admin.list_reviews().await.unwrap().items.is_empty());

    let created = web.submit("/manage/reviews/new", &review_form("bob", "7", &reader)).await;
    assert_eq!(created.status, 200);
    assert_eq!(
        created.message().as_deref(),
        Some("Access review Prod readers created; its first instance has started.")
    );
    let def = s.admin.list_reviews().await.unwrap().items.pop().expect("the review");
    assert_eq!(def.target, ReviewTarget::Roles { role_ids: vec![role::READER], scope: sp("/prod") });
    let bob = s.engine.index().resolve_name("bob").unwrap();
    assert_eq!(
        def.reviewers,
        Reviewers::Selected { reviewers: vec![ApproverRef { kind: PrincipalKind::User, id: bob }] }
    );
    assert_eq!((def.schedule.recurrence, def.schedule.duration_days, def.schedule.start), (Recurrence::OneTime, 7, T0));
    assert_eq!((def.reason_required, def.auto_apply, def.if_no_response), (true, false, IfNoResponse::NoChange));
    assert_eq!(def.description.as_deref(), Some("Who still needs to read prod?"));
    let text = created.words();
    assert!(text.contains("What is reviewed Reader at /prod") && text.contains("Reviewers bob"), "{text}");
    assert!(text.contains("Occurrence 1 2026-01-05 09:00 UTC 2026-01-12 09:00 UTC in progress 1 0 0 1 0 0"), "{text}");
    let list = web.open("/manage/reviews").await.words();
    assert!(list.contains("Prod readers Reader at /prod bob One time, 7 days each running"), "{list}");

    // Every other setting: a group's membership, managers with a fallback, monthly for 3 times.
    let ops = s.group("ops").await;
    let monthly = [
        ("name", "Ops members"),
        ("target_type", "group"),
        ("group", "ops"),
        ("kinds", "eligible"),
        ("inactive_days", "90"),
        ("reviewers_type", "managers"),
        ("fallback", "bob, ops"),
        ("start", "2026-01-06T08:30"),
        ("recurrence", "monthly"),
        ("duration_days", "10"),
        ("end_type", "afterOccurrences"),
        ("end_count", "3"),
        ("auto_apply", "on"),
        ("if_no_response", "takeRecommendation"),
    ];
    let later = web.submit("/manage/reviews/new", &monthly).await;
    assert_eq!(
        later.message().as_deref(),
        Some("Access review Ops members created; its first instance starts 2026-01-06 08:30 UTC.")
    );
    assert!(later.words().contains("No instance has started yet."));
    let m = s.admin.list_reviews().await.unwrap().items.into_iter().find(|r| r.name == "Ops members").unwrap();
    assert_eq!(m.target, ReviewTarget::GroupMembership { group_id: ops });
    assert_eq!((m.kinds, m.inactive_days), (ReviewedKinds::Eligible, Some(90)));
    let fallback =
        vec![ApproverRef { kind: PrincipalKind::User, id: bob }, ApproverRef { kind: PrincipalKind::Group, id: ops }];
    assert_eq!(m.reviewers, Reviewers::Managers { fallback });
    let start = Timestamp::parse_rfc3339("2026-01-06T08:30:00Z").unwrap();
    assert_eq!(
        m.schedule,
        ReviewSchedule {
            start,
            recurrence: Recurrence::Monthly,
            duration_days: 10,
            end: ReviewEnd::AfterOccurrences { count: 3 }
        }
    );
    assert_eq!((m.auto_apply, m.if_no_response, m.reason_required), (true, IfNoResponse::TakeRecommendation, false));

    // The instance and its item; bob denies it through the API; the admin stops and applies.
    let instance = s.admin.get_review(def.id).await.unwrap().instances[0].id;
    let path = format!("/manage/review-instances/{instance}");
    let page = web.open(&path).await;
    assert!(page.words().contains("alice Reader /prod eligible - - deny not reviewed bob"), "{}", page.words());
    assert!(!page.has(&format!("{path}/apply")), "nothing to apply while in progress");
    let item = s.admin.review_results(instance).await.unwrap().items[0].clone();
    let body = DecideReviewItem { verdict: Verdict::Deny, reason: Some("not needed".into()) };
    bob_c.decide_review_item(instance, item.id, &body).await.expect("bob decides");
    let stopped = web.submit(&format!("{path}/stop"), &[]).await;
    assert_eq!(stopped.message().as_deref(), Some("Stopped: the instance is completed; 1 of 1 item is to be removed."));
    assert!(stopped.words().contains("alice Reader /prod eligible - - deny deny bob not needed remove -"));
    let reset = web.submit(&format!("{path}/reset"), &[]).await;
    assert!(reset.message().unwrap_or_default().contains("is Completed"), "{:?}", reset.message());
    let applied = web.submit(&format!("{path}/apply"), &[]).await;
    assert_eq!(applied.message().as_deref(), Some("Applied: 1 of 1 item to remove was removed."));
    assert!(applied.words().contains("not needed remove removed"), "{}", applied.words());
    let q = AssignmentQuery { principal_id: Some(alice), ..Default::default() };
    assert!(s.admin.list_assignments(&q).await.unwrap().items.is_empty(), "alice's access is gone");
    assert!(s.admin.get_assignment(elig.id).await.unwrap().ended_early_at.is_some());
    let twice = web.submit(&format!("{path}/apply"), &[]).await;
    assert!(twice.message().unwrap_or_default().contains("is Applied"), "{:?}", twice.message());

    // The results as the API's CSV.
    let csv = web.get(&format!("{path}/results.csv")).await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(csv.headers["content-disposition"], format!("attachment; filename=\"pim-review-{instance}.csv\""));
    let mut lines = csv.body.lines();
    assert_eq!(
        lines.next(),
        Some(
            "itemId,principalId,principalName,roleId,roleName,scope,kind,assignmentId,lastActivity,lastUse,recommendation,decision,reason,reviewedBy,reviewedByName,reviewedAt,outcome,applied,appliedMessage,appliedRequestId,reviewers"
        )
    );
    let row = lines.next().expect("a row");
    assert!(
        row.starts_with(&format!("{},{alice},alice,{},Reader,/prod,eligible,{}", item.id, role::READER, elig.id)),
        "{row}"
    );
    assert!(row.contains(",deny,deny,not needed,") && row.contains(",remove,removed,"), "{row}");
    let api = s.admin.review_results_file(instance, ExportFormat::Csv).await.unwrap();
    assert_eq!(csv.body.as_bytes(), api.as_slice(), "the same file as the API's");

    // Stopping the review itself; a plain user may do none of it.
    let done = web.submit(&format!("/manage/reviews/{}/stop", def.id), &[]).await;
    assert!(done.message().unwrap_or_default().starts_with("Stopped Prod readers"), "{:?}", done.message());
    assert!(s.admin.get_review(def.id).await.unwrap().review.stopped_at.is_some());
    assert!(!done.has("Stop this review"));
    s.user_with_password("paul", PW).await;
    let plain = Browser::new(&s);
    plain.sign_in("paul", PW, None).await;
    assert_eq!(plain.open(&path).await.status, 403);
    assert_eq!(plain.get(&format!("{path}/results.csv")).await.status, 403);
    assert_eq!(plain.post(&format!("{path}/reset"), &[]).await.status, 403);
    assert_eq!(plain.post("/manage/reviews/new", &review_form("bob", "7", &reader)).await.status, 403);
    assert_eq!(s.admin.list_reviews().await.unwrap().items.len(), 2);
    assert_eq!(web.open("/manage/review-instances/not-an-id").await.status, 404);
    s.stop().await;
}

async fn the_audit_history_filters_exports_and_charts(b: Backend) {
    let s = TestServer::start(&b).await;
    s.without_mfa(role::READER).await;
    let alice = s.user_with_password("alice", PW).await;
    s.assign(alice, role::READER, "/prod", AssignmentKind::Eligible, None).await;
    let alice_c = s.client_for(alice).await;
    s.advance(MINUTE_MS);
    let out = alice_c.create_request(&activation(role::READER, "/prod", 60)).await.expect("activate");
    s.advance(MINUTE_MS);
    s.user("bob").await;
    let web = admin_browser(&s).await;

    let page = web.open("/audit?action=request.selfActivate").await;
    assert_eq!(page.status, 200);
    let text = page.words();
    assert!(text.contains("Audit history"), "{text}");
    assert!(
        text.contains(&format!(
            "2026-01-05 09:01 UTC request.selfActivate success alice alice Reader /prod incident INC-1 {}",
            out.request.id
        )),
        "{text}"
    );
    assert!(!text.contains("request.adminAssign") && !text.contains("directory."), "the filter applies: {text}");
    assert!(page.has("value=\"request.selfActivate\""), "the filter is shown");
    // The chart: one activation on 2026-01-05, as a bar, a label and a table row.
    assert!(page.has("role=\"img\" aria-labelledby=\"chart-title chart-desc\""));
    assert!(page.has("<title>2026-01-05: 1 activation</title>"), "the bar's title");
    assert!(page.has("text-anchor=\"middle\">1</text>"), "the bar's label");
    assert!(text.contains("1 activation in total, at most 1 in one day"), "{text}");
    assert!(text.contains("2026-01-05 1"), "the table row");
    let only_admin = web.open("/audit?actor=admin&action=request.").await.words();
    assert!(only_admin.contains("request.adminAssign") && !only_admin.contains("request.selfActivate"));
    let bad = web.open("/audit?from=yesterday&scope=no-slash").await;
    assert_eq!(bad.status, 400);
    assert!(bad.words().contains("From: 'yesterday' is not a date and time."), "{}", bad.words());
    assert!(bad.words().contains("Scope:"));

    // Downloads with the same filters.
    assert!(page.has("href=\"/audit/export?format=csv&#38;action=request.selfActivate\""));
    let csv = web.get("/audit/export?format=csv&action=request.selfActivate").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(csv.headers["content-disposition"], "attachment; filename=\"pim-audit.csv\"");
    assert!(csv.body.starts_with("seq,at,action,outcome,errorCode,actorId,actorName,principalId"));
    assert_eq!(csv.body.lines().count(), 2, "{}", csv.body);
    assert!(csv.body.contains(&format!(",request.selfActivate,success,,{alice},alice,{alice},")));
    let json = web.get("/audit/export?format=json&action=request.selfActivate").await;
    assert_eq!(json.headers["content-type"], "application/json");
    assert_eq!(json.headers["content-disposition"], "attachment; filename=\"pim-audit.json\"");
    let events: Vec<AuditEvent> = serde_json::from_str(&json.body).expect("JSON events");
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].action.as_str(), events[0].request_id), ("request.selfActivate", Some(out.request.id)));
    assert_eq!(web.get("/audit/export?format=xml").await.status, 400);

    // Paging: 50 events a page, then a link to the older ones carrying the cursor.
    for i in 0..52 {
        let body = CreateUser {
            name: format!("user{i:02}"),
            display_name: None,
            email: None,
            manager_id: None,
            password: None,
            emergency_access: None,
        };
        s.admin.create_user(&body).await.expect("user");
    }
    let all = AuditQuery { action: Some("user.create".into()), limit: Some(1000), ..Default::default() };
    let total = s.admin.list_audit(&all).await.unwrap().items.len();
    let rows = |p: &Page| p.words().matches("user.create success").count();
    let first = web.open("/audit?action=user.create").await;
    assert_eq!(rows(&first), 50);
    let at = first.body.find("<a href=\"/audit?cursor=").expect("a next page link");
    let (href, rest) = first.body[at + 9..].split_once('"').unwrap();
    assert!(rest.starts_with(">Next page (older events)</a>") && href.ends_with("&#38;action=user.create"), "{href}");
    let second = web.open(&unescape(href)).await;
    assert_eq!(rows(&second), total - 50, "the rest, older");
    assert!(!second.has("Next page"));
    assert!(second.words().contains("user01") && !second.words().contains("user51"), "older events come next");
    let garbage = web.open("/audit?cursor=!!").await;
    assert_eq!(garbage.status, 400);
    assert!(garbage.words().contains("The page link is not one this server made"));

    // A Reader at /prod (while her activation lasts) reads the history there, with its chart.
    let mine = Browser::new(&s);
    mine.sign_in("alice", PW, None).await;
    let scoped = mine.open("/audit").await;
    assert!(scoped.words().contains("Audit history"));
    assert!(
        scoped.words().contains("Activations per day at /prod, 2025-12-07 to 2026-01-05 (UTC)"),
        "her scope's chart"
    );
    assert!(!scoped.words().contains("bob"), "nothing outside /prod");

    // Once it ended, she is a plain user: her own events only, without admin filters or downloads.
    s.advance(2 * HOUR_MS);
    let mine = Browser::new(&s);
    mine.sign_in("alice", PW, None).await;
    let page = mine.open("/audit").await;
    assert_eq!(page.status, 200);
    let text = page.words();
    assert!(
        text.contains("My audit") && text.contains("request.selfActivate") && text.contains("request.adminAssign"),
        "{text}"
    );
    assert!(!text.contains("bob") && !page.has("Download CSV") && !page.has("id=\"audit-actor\""), "{text}");
    assert!(!page.has("<svg"), "no chart");
    assert!(page.has("aria-current=\"page\">Audit</a>"));
    let denied = s.audited("access.denied").await.len();
    let export = mine.get("/audit/export?format=csv").await;
    assert_eq!(export.status, 403);
    assert!(export.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(s.audited("access.denied").await.len(), denied + 1, "the refusal is recorded");
    s.stop().await;
}

crate::backend_tests!(
    admins_evaluate_dismiss_and_fix_alerts,
    readers_see_alerts_without_changing_them,
    admins_create_run_and_apply_access_reviews,
    the_audit_history_filters_exports_and_charts,
);
