//! Security alerts end to end (docs/ALERTS.md): every rule raised and resolved with its thresholds
//! (time moved with the manual clock), thresholds changed, disabled rules, an alert updated and not
//! duplicated, dismissal, remediation, notifications, the scheduled evaluation, the connectors'
//! entry point and the emergency access accounts.

use std::collections::BTreeMap;

use pim_engine::engine::EngineOptions;

use crate::harness::prelude::*;

const NOW: AssignmentKind = AssignmentKind::Active;
const ELIG: AssignmentKind = AssignmentKind::Eligible;

async fn active_of(s: &TestServer, rule: &str) -> Vec<Alert> {
    let all = s.admin.list_alerts(Some(AlertState::Active)).await.expect("alerts").items;
    all.into_iter().filter(|a| a.rule_id == rule).collect()
}

async fn evaluate(s: &TestServer, rule: &str) -> Vec<Alert> {
    let active = s.admin.evaluate_alerts().await.expect("evaluate").items;
    active.into_iter().filter(|a| a.rule_id == rule).collect()
}

async fn set(s: &TestServer, rule: &str, enabled: Option<bool>, thresholds: &[(&str, i64)]) -> AlertRule {
    let body = UpdateAlertRule {
        severity: None,
        enabled,
        thresholds: thresholds.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect::<BTreeMap<_, _>>(),
    };
    s.admin.update_alert_rule(rule, &body).await.expect("update rule")
}

async fn activate_and_deactivate(client: &Client) {
    let out = client.create_request(&activation(role::READER, "/", 30)).await.expect("activate");
    let a = out.assignment.expect("activation").id;
    client.create_request(&CreateRequest::for_assignment(RequestAction::SelfDeactivate, a)).await.expect("deactivate");
}

async fn rules_have_defaults_and_can_be_changed(b: Backend) {
    let s = TestServer::start(&b).await;
    let rules = s.admin.list_alert_rules().await.expect("rules").items;
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    for id in [
        "tooManyGlobalAdmins",
        "frequentActivations",
        "rolesWithoutMfa",
        "staleAccounts",
        "unusedRoles",
        "externalAccess",
        "tooManyOwners",
        "emergencyAccountUnprotected",
        "emergencyAccountUsed",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let rule = |id: &str| rules.iter().find(|r| r.id == id).cloned().expect("rule");
    let ga = rule("tooManyGlobalAdmins");
    assert_eq!((ga.severity, ga.thresholds["count"], ga.thresholds["percent"]), (Severity::Low, 5, 10));
    let fa = rule("frequentActivations");
    assert_eq!((fa.severity, fa.thresholds["activations"], fa.thresholds["windowMinutes"]), (Severity::Medium, 3, 60));
    assert_eq!(rule("staleAccounts").thresholds["days"], 30);
    assert_eq!((rule("unusedRoles").severity, rule("unusedRoles").thresholds["days"]), (Severity::Low, 30));
    assert_eq!(rule("externalAccess").severity, Severity::High);
    assert_eq!(rule("emergencyAccountUsed").severity, Severity::High);
    assert!(rules.iter().all(|r| r.enabled));
    assert!(rule("rolesWithoutMfa").remediable && !ga.remediable);

    let changed = set(&s, "frequentActivations", Some(false), &[("activations", 5)]).await;
    assert!(!changed.enabled);
    assert_eq!((changed.thresholds["activations"], changed.thresholds["windowMinutes"]), (5, 60));
    let body = UpdateAlertRule { severity: Some(Severity::High), ..Default::default() };
    let again = s.admin.update_alert_rule("frequentActivations", &body).await.expect("severity");
    assert_eq!((again.severity, again.enabled, again.thresholds["activations"]), (Severity::High, false, 5));
    let listed = s.admin.list_alert_rules().await.expect("rules").items;
    assert_eq!(listed.iter().find(|r| r.id == "frequentActivations"), Some(&again));
    let events = s.audited("alertRule.update").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].details["ruleId"], "frequentActivations");
    s.stop().await;
}

async fn frequent_activations_are_raised_updated_and_resolved(b: Backend) {
    let s = TestServer::start(&b).await;
    s.without_mfa(role::READER).await;
    let (u, client) = s.user("frequent").await;
    s.assign(u, role::READER, "/", ELIG, None).await;
    set(&s, "frequentActivations", None, &[("activations", 4)]).await;
    for _ in 0..3 {
        activate_and_deactivate(&client).await;
        s.advance(10 * MINUTE_MS);
    }
    // Three activations within the hour: below the threshold of 4.
    assert!(evaluate(&s, "frequentActivations").await.is_empty());
    // Back to the default of 3: raised, listing the principal, role and scope.
    set(&s, "frequentActivations", None, &[("activations", 3)]).await;
    let raised = evaluate(&s, "frequentActivations").await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    let a = &raised[0];
    assert_eq!(a.severity, Severity::Medium);
    assert_eq!(a.items.len(), 1);
    assert_eq!(
        (a.items[0].principal_id, a.items[0].role_id, a.items[0].scope.clone()),
        (Some(u), Some(role::READER), Some(sp("/")))
    );
    assert!(a.items[0].detail.contains("3 activations"), "{}", a.items[0].detail);
    // Still applying after a fourth activation: the same alert, updated.
    activate_and_deactivate(&client).await;
    s.advance(10 * MINUTE_MS);
    let again = evaluate(&s, "frequentActivations").await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, a.id);
    assert!(again[0].items[0].detail.contains("4 activations"), "{}", again[0].items[0].detail);
    assert_eq!(
        s.audited("alert.raised").await.iter().filter(|e| e.details["ruleId"] == "frequentActivations").count(),
        1
    );
    // An hour later the window holds none: resolved.
    s.advance(HOUR_MS);
    assert!(evaluate(&s, "frequentActivations").await.is_empty());
    let resolved = s.admin.get_alert(a.id).await.expect("alert");
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.resolved_at, Some(s.engine.now()));
    assert!(s.audited("alert.resolved").await.iter().any(|e| e.details["alertId"] == a.id.to_string()));
    let listed = s.admin.list_alerts(Some(AlertState::Resolved)).await.expect("resolved").items;
    assert!(listed.iter().any(|x| x.id == a.id));
    s.stop().await;
}

async fn raised_alerts_notify_the_alert_administrators(b: Backend) {
    let s = TestServer::start(&b).await;
    // A Security Administrator (pim.alerts.*) is notified; a Reader is not.
    let (sec, _) = s.user("secadmin").await;
    s.assign(sec, role::SECURITY_ADMINISTRATOR, "/", NOW, None).await;
    let (reader, _) = s.user("reader").await;
    s.assign(reader, role::READER, "/", NOW, None).await;
    set(&s, "tooManyGlobalAdmins", None, &[("count", 1), ("percent", 10)]).await;
    let raised = evaluate(&s, "tooManyGlobalAdmins").await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].severity, Severity::Low);
    let sent = s.notices("alert.raised").await;
    let to: Vec<&str> = sent.iter().filter(|n| n.channel == Channel::Email).map(|n| n.recipient.as_str()).collect();
    assert!(to.contains(&"secadmin@example.com"), "{to:?}");
    assert!(to.contains(&"admin@example.com"), "{to:?}");
    assert!(!to.contains(&"reader@example.com"), "{to:?}");
    assert!(sent.iter().all(|n| !n.critical), "low severity is not critical");
    // A high-severity alert is critical.
    let item =
        AlertItem { principal_id: Some(reader), detail: "owner in the cloud console".into(), ..Default::default() };
    s.engine.report_external_access("cloud", vec![item]).await.expect("report");
    let sent = s.notices("alert.raised").await;
    assert!(sent.iter().any(|n| n.critical && n.recipient == "secadmin@example.com"));
    s.stop().await;
}

async fn too_many_global_admins_and_owners(b: Backend) {
    let s = TestServer::start(&b).await;
    // One Global Administrator (the admin): below the default count of 5.
    assert!(evaluate(&s, "tooManyGlobalAdmins").await.is_empty());
    let (u, _) = s.user("second").await;
    let second = s.assign(u, role::GLOBAL_ADMINISTRATOR, "/", ELIG, None).await;
    set(&s, "tooManyGlobalAdmins", None, &[("count", 2)]).await;
    let raised = evaluate(&s, "tooManyGlobalAdmins").await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].items.len(), 2);
    assert!(raised[0].items.iter().any(|i| i.assignment_id == Some(second.id)));
    // Share threshold: with two Reader assignments, 2 of 4 assignments is 50 %; at 60 % it no longer applies.
    s.assign(u, role::READER, "/", NOW, None).await;
    s.assign(s.admin_id, role::READER, "/", NOW, None).await;
    set(&s, "tooManyGlobalAdmins", None, &[("percent", 50)]).await;
    assert_eq!(evaluate(&s, "tooManyGlobalAdmins").await.len(), 1);
    set(&s, "tooManyGlobalAdmins", None, &[("percent", 60)]).await;
    assert!(evaluate(&s, "tooManyGlobalAdmins").await.is_empty());
    assert_eq!(s.admin.get_alert(raised[0].id).await.expect("alert").state, AlertState::Resolved);

    // Owners: two permanent active owners of one scope with permanentCount 2.
    let (o1, _) = s.user("owner1").await;
    let (o2, _) = s.user("owner2").await;
    s.assign(o1, role::OWNER, "/", NOW, None).await;
    assert!(evaluate(&s, "tooManyOwners").await.is_empty());
    s.assign(o2, role::OWNER, "/", NOW, None).await;
    assert!(evaluate(&s, "tooManyOwners").await.is_empty());
    set(&s, "tooManyOwners", None, &[("permanentCount", 2)]).await;
    let owners = evaluate(&s, "tooManyOwners").await;
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].items.len(), 2);
    assert_eq!(owners[0].items[0].detail, "one of 2 owners (2 permanent) of /");
    // Disabling the rule resolves its alert.
    set(&s, "tooManyOwners", Some(false), &[]).await;
    assert!(evaluate(&s, "tooManyOwners").await.is_empty());
    let resolved = s.admin.get_alert(owners[0].id).await.expect("alert");
    assert_eq!(resolved.state, AlertState::Resolved);
    assert!(s.audited("alert.resolved").await.iter().any(|e| e.details["reason"] == "rule disabled"));
    s.stop().await;
}

async fn roles_without_mfa_are_remediated(b: Backend) {
    let s = TestServer::start(&b).await;
    let (u, _) = s.user("eligible").await;
    s.assign(u, role::READER, "/", ELIG, None).await;
    // The default settings require MFA on activation.
    assert!(evaluate(&s, "rolesWithoutMfa").await.is_empty());
    s.without_mfa(role::READER).await;
    let raised = evaluate(&s, "rolesWithoutMfa").await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].items.len(), 1);
    assert_eq!((raised[0].items[0].role_id, raised[0].items[0].scope.clone()), (Some(role::READER), Some(sp("/"))));
    // Someone without pim.alerts.write cannot remediate.
    let (_, nobody) = s.user("nobody").await;
    assert_eq!(status(nobody.remediate_alert(raised[0].id).await), 403);
    let fixed = s.admin.remediate_alert(raised[0].id).await.expect("remediate");
    assert_eq!(fixed.changes.len(), 1, "{:?}", fixed.changes);
    assert_eq!(fixed.alert.expect("alert").state, AlertState::Resolved);
    let settings = s.admin.get_settings(&role::READER.to_string(), &sp("/")).await.expect("settings").settings;
    assert!(settings.require_mfa_on_activation);
    assert!(s.audited("alert.remediated").await.iter().any(|e| e.details["alertId"] == raised[0].id.to_string()));
    assert!(!s.audited("settings.update").await.is_empty());
    s.stop().await;
}

async fn stale_and_unused_assignments_are_found_and_removed(b: Backend) {
    let s = TestServer::start(&b).await;
    let (u, _) = s.user("idle").await;
    let elig = s.assign(u, role::SECURITY_ADMINISTRATOR, "/", ELIG, None).await;
    // A non-privileged role is not concerned.
    let reader = s.assign(u, role::READER, "/", ELIG, None).await;
    assert!(evaluate(&s, "staleAccounts").await.is_empty());
    assert!(evaluate(&s, "unusedRoles").await.is_empty());
    s.advance(29 * DAY_MS);
    assert!(evaluate(&s, "unusedRoles").await.is_empty());
    s.advance(DAY_MS);
    let stale = evaluate(&s, "staleAccounts").await;
    assert_eq!(stale.len(), 1);
    assert!(stale[0].items.iter().any(|i| i.assignment_id == Some(elig.id)));
    assert!(!stale[0].items.iter().any(|i| i.assignment_id == Some(reader.id)));
    let unused = evaluate(&s, "unusedRoles").await;
    assert_eq!(unused.len(), 1);
    assert_eq!(unused[0].items.len(), 1);
    assert_eq!(unused[0].items[0].assignment_id, Some(elig.id));
    // A longer threshold: no longer applies.
    set(&s, "unusedRoles", None, &[("days", 60)]).await;
    assert!(evaluate(&s, "unusedRoles").await.is_empty());
    set(&s, "unusedRoles", None, &[("days", 30)]).await;
    let unused = evaluate(&s, "unusedRoles").await;
    assert_eq!(unused.len(), 1);
    // Remediation removes the eligible assignment through an adminRemove request.
    let fixed = s.admin.remediate_alert(unused[0].id).await.expect("remediate");
    assert_eq!(fixed.changes.len(), 1);
    assert_eq!(fixed.alert.expect("alert").state, AlertState::Resolved);
    let q = RequestQuery { principal_id: Some(u), ..Default::default() };
    let removals: Vec<Request> = s
        .admin
        .list_requests(&q)
        .await
        .expect("requests")
        .items
        .into_iter()
        .filter(|r| r.action == RequestAction::AdminRemove)
        .collect();
    assert_eq!(removals.len(), 1);
    assert_eq!(removals[0].target_assignment, Some(elig.id));
    // The stale-account alert loses that item on the next evaluation (the admin, never signed in
    // with a password, may still be in it).
    let stale = evaluate(&s, "staleAccounts").await;
    assert!(stale.iter().all(|a| !a.items.iter().any(|i| i.assignment_id == Some(elig.id))));
    s.stop().await;
}

async fn dismissed_alerts_stay_dismissed_until_resolved(b: Backend) {
    let s = TestServer::start(&b).await;
    s.admin
        .create_user(&CreateUser {
            name: "glass".into(),
            display_name: None,
            email: None,
            manager_id: None,
            password: None,
            emergency_access: Some(true),
        })
        .await
        .expect("user");
    let raised = evaluate(&s, "emergencyAccountUnprotected").await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].severity, Severity::High);
    let glass = raised[0].items[0].principal_id.expect("principal");
    let dismissed = s.admin.dismiss_alert(raised[0].id, "known, being set up").await.expect("dismiss");
    assert_eq!(dismissed.state, AlertState::Dismissed);
    assert_eq!(dismissed.dismiss_reason.as_deref(), Some("known, being set up"));
    assert_eq!(dismissed.dismissed_by, Some(s.admin_id));
    assert!(s.audited("alert.dismissed").await.iter().any(|e| e.details["reason"] == "known, being set up"));
    // Still applying: not raised again.
    assert!(evaluate(&s, "emergencyAccountUnprotected").await.is_empty());
    let listed = s.admin.list_alerts(Some(AlertState::Dismissed)).await.expect("dismissed").items;
    assert_eq!(listed.iter().filter(|a| a.rule_id == "emergencyAccountUnprotected").count(), 1);
    assert_eq!(code(s.admin.dismiss_alert(raised[0].id, "again").await), "alert_not_active");
    // Fixed: a permanent active Global Administrator assignment at `/` resolves it.
    s.assign(glass, role::GLOBAL_ADMINISTRATOR, "/", NOW, None).await;
    assert!(evaluate(&s, "emergencyAccountUnprotected").await.is_empty());
    assert_eq!(s.admin.get_alert(raised[0].id).await.expect("alert").state, AlertState::Resolved);
    s.stop().await;
}

async fn emergency_account_sign_in_raises_an_alert_at_once(b: Backend) {
    let s = TestServer::start(&b).await;
    let (pra, _) = s.user("pra").await;
    s.assign(pra, role::PRIVILEGED_ROLE_ADMINISTRATOR, "/", NOW, None).await;
    let (reader, _) = s.user("reader").await;
    s.assign(reader, role::READER, "/", NOW, None).await;
    let glass = s
        .admin
        .create_user(&CreateUser {
            name: "glass".into(),
            display_name: None,
            email: Some("glass@example.com".into()),
            manager_id: None,
            password: Some("correct horse battery".into()),
            emergency_access: Some(true),
        })
        .await
        .expect("user");
    s.assign(glass.id, role::GLOBAL_ADMINISTRATOR, "/", NOW, None).await;
    // A permanent active Global Administrator: not unprotected.
    assert!(evaluate(&s, "emergencyAccountUnprotected").await.is_empty());
    let login = |name: &str| LoginRequest {
        username: name.into(),
        password: "correct horse battery".into(),
        token_name: None,
        otp: None,
    };
    s.anonymous().login(&login("glass")).await.expect("sign in");
    // Raised at once, without an evaluation.
    let used = active_of(&s, "emergencyAccountUsed").await;
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].severity, Severity::High);
    assert_eq!(used[0].items[0].principal_id, Some(glass.id));
    let sent = s.notices("alert.emergencyAccountUsed").await;
    let to: Vec<&str> = sent.iter().filter(|n| n.channel == Channel::Email).map(|n| n.recipient.as_str()).collect();
    assert!(to.contains(&"pra@example.com") && to.contains(&"admin@example.com"), "{to:?}");
    assert!(!to.contains(&"reader@example.com"), "{to:?}");
    assert!(sent.iter().all(|n| n.critical));
    // In the sign-in's transaction: the audit events are next to each other.
    let sign_in = s.audited("auth.signIn").await;
    let raised = s.audited("alert.raised").await;
    assert_eq!(raised[0].seq, sign_in[0].seq + 1);
    // Every sign-in raises another; evaluations do not resolve them.
    s.anonymous().login(&login("glass")).await.expect("sign in");
    assert_eq!(evaluate(&s, "emergencyAccountUsed").await.len(), 2);
    // An ordinary user's sign-in raises nothing.
    s.admin
        .create_user(&CreateUser {
            name: "plain".into(),
            display_name: None,
            email: None,
            manager_id: None,
            password: Some("correct horse battery".into()),
            emergency_access: None,
        })
        .await
        .expect("user");
    s.anonymous().login(&login("plain")).await.expect("sign in");
    assert_eq!(active_of(&s, "emergencyAccountUsed").await.len(), 2);
    // Disabled: sign-ins raise nothing.
    set(&s, "emergencyAccountUsed", Some(false), &[]).await;
    s.anonymous().login(&login("glass")).await.expect("sign in");
    assert_eq!(active_of(&s, "emergencyAccountUsed").await.len(), 2);
    s.stop().await;
}

async fn connectors_report_external_access(b: Backend) {
    let s = TestServer::start(&b).await;
    let (u, _) = s.user("shadow").await;
    let item = |d: &str| AlertItem {
        principal_id: Some(u),
        role_id: Some(role::OWNER),
        scope: Some(sp("/")),
        assignment_id: None,
        detail: d.into(),
    };
    let a =
        s.engine.report_external_access("entra", vec![item("Owner in Entra")]).await.expect("report").expect("alert");
    assert_eq!((a.severity, a.state, a.items.len()), (Severity::High, AlertState::Active, 1));
    assert_eq!(a.title, "1 grant found in entra that pim did not make");
    // The same system again: updated, not duplicated; another system: its own alert.
    let b2 = s
        .engine
        .report_external_access("entra", vec![item("Owner in Entra"), item("Contributor in Entra")])
        .await
        .expect("report")
        .expect("alert");
    assert_eq!(b2.id, a.id);
    assert_eq!(b2.items.len(), 2);
    assert_eq!(b2.title, "2 grants found in entra that pim did not make");
    let other =
        s.engine.report_external_access("aws", vec![item("admin in AWS")]).await.expect("report").expect("alert");
    assert_ne!(other.id, a.id);
    // Evaluations leave connector alerts alone.
    assert_eq!(evaluate(&s, "externalAccess").await.len(), 2);
    // Nothing found any more in entra: its alert is resolved, aws's stays.
    assert!(s.engine.report_external_access("entra", vec![]).await.expect("report").is_none());
    assert_eq!(s.admin.get_alert(a.id).await.expect("alert").state, AlertState::Resolved);
    assert_eq!(s.admin.get_alert(other.id).await.expect("alert").state, AlertState::Active);
    // Disabled rule: nothing raised.
    set(&s, "externalAccess", Some(false), &[]).await;
    assert!(s.engine.report_external_access("gcp", vec![item("x")]).await.expect("report").is_none());
    s.stop().await;
}

async fn the_background_jobs_evaluate_at_most_every_interval(b: Backend) {
    let s = TestServer::start(&b).await;
    s.admin
        .create_user(&CreateUser {
            name: "glass".into(),
            display_name: None,
            email: None,
            manager_id: None,
            password: None,
            emergency_access: Some(true),
        })
        .await
        .expect("user");
    s.engine.run_jobs_once().await.expect("jobs");
    let raised = active_of(&s, "emergencyAccountUnprotected").await;
    assert_eq!(raised.len(), 1);
    let glass = raised[0].items[0].principal_id.expect("principal");
    s.assign(glass, role::GLOBAL_ADMINISTRATOR, "/", NOW, None).await;
    // Within the interval (15 minutes by default): not evaluated again.
    s.advance(10 * MINUTE_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    assert_eq!(active_of(&s, "emergencyAccountUnprotected").await.len(), 1);
    s.advance(5 * MINUTE_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    assert!(active_of(&s, "emergencyAccountUnprotected").await.is_empty());
    // With the interval at 0, the jobs never evaluate.
    let s = s.restart(EngineOptions { alert_evaluation_ms: 0, ..EngineOptions::default() }).await;
    s.admin
        .create_user(&CreateUser {
            name: "glass2".into(),
            display_name: None,
            email: None,
            manager_id: None,
            password: None,
            emergency_access: Some(true),
        })
        .await
        .expect("user");
    s.advance(HOUR_MS);
    s.engine.run_jobs_once().await.expect("jobs");
    assert!(active_of(&s, "emergencyAccountUnprotected").await.is_empty());
    // On demand it still applies.
    assert_eq!(evaluate(&s, "emergencyAccountUnprotected").await.len(), 1);
    s.stop().await;
}

async fn alert_reads_and_writes_need_the_alert_actions(b: Backend) {
    let s = TestServer::start(&b).await;
    let (r, reader) = s.user("secreader").await;
    s.assign(r, role::SECURITY_READER, "/", NOW, None).await;
    let (_, nobody) = s.user("nobody").await;
    assert!(reader.list_alert_rules().await.is_ok());
    assert!(reader.list_alerts(None).await.is_ok());
    assert_eq!(status(reader.evaluate_alerts().await), 403);
    assert_eq!(status(reader.update_alert_rule("staleAccounts", &UpdateAlertRule::default()).await), 403);
    assert_eq!(status(nobody.list_alerts(None).await), 403);
    assert_eq!(status(nobody.list_alert_rules().await), 403);
    let (sa, secadmin) = s.user("secadmin").await;
    s.assign(sa, role::SECURITY_ADMINISTRATOR, "/", NOW, None).await;
    assert!(secadmin.evaluate_alerts().await.is_ok());
    assert!(secadmin.update_alert_rule("staleAccounts", &UpdateAlertRule::default()).await.is_ok());
    // A refused change is audited as a failure.
    let failed = s.audited("alertRule.update").await;
    assert!(failed.iter().any(|e| e.outcome == Outcome::Failure));
    s.stop().await;
}

crate::backend_tests!(
    rules_have_defaults_and_can_be_changed,
    frequent_activations_are_raised_updated_and_resolved,
    raised_alerts_notify_the_alert_administrators,
    too_many_global_admins_and_owners,
    roles_without_mfa_are_remediated,
    stale_and_unused_assignments_are_found_and_removed,
    dismissed_alerts_stay_dismissed_until_resolved,
    emergency_account_sign_in_raises_an_alert_at_once,
    connectors_report_external_access,
    the_background_jobs_evaluate_at_most_every_interval,
    alert_reads_and_writes_need_the_alert_actions,
);
