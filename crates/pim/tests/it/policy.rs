//! Declarative policy: export, plan and apply a TOML file (docs/POLICY.md). Round trip to a fresh
//! server byte for byte, plans that list exactly the edit, refusals with line and field that change
//! nothing, atomic apply, prune, protected settings as proposals, and the forbidden paths.

use crate::harness::prelude::*;
use crate::hostile::{Db, review_of};

/// A server with a custom role, groups (one nested), settings at two scopes (one with approvers),
/// an eligibility through a group, a time-bound eligibility, and an activation (which is not policy).
async fn world(s: &TestServer) {
    let (alice, alice_client) = s.user("alice").await;
    let (bob, _) = s.user("bob").await;
    let db_op = s.custom_role("DB Operator", &["db.*"]).await;
    let oncall = s.group("oncall").await;
    let leads = s.group("dba-leads").await;
    s.admin.add_member(oncall, alice).await.expect("member");
    s.admin.add_member(oncall, leads).await.expect("nested group");
    s.admin.add_member(leads, bob).await.expect("member");
    s.set_settings(db_op, "/db", |x| {
        x.activation_max_minutes = 60;
        x.require_mfa_on_activation = false;
    })
    .await;
    s.set_settings(db_op, "/prod", |x| {
        x.require_approval_to_activate = true;
        x.approval_stages = vec![pim_domain::settings::ApprovalStage {
            approvers: vec![pim_domain::settings::ApproverRef { kind: PrincipalKind::Group, id: leads }],
            required_approvals: 1,
            timeout_minutes: 120,
            escalation: None,
        }];
    })
    .await;
    s.assign(oncall, db_op, "/db", AssignmentKind::Eligible, None).await;
    s.assign(bob, role::READER, "/db/orders", AssignmentKind::Eligible, Some(Timestamp(T0.0 + 30 * DAY_MS))).await;
    alice_client.create_request(&activation(db_op, "/db", 30)).await.expect("activation");
    let rule = UpdateAlertRule {
        severity: Some(Severity::High),
        enabled: None,
        thresholds: [("count".to_owned(), 1)].into_iter().collect(),
    };
    s.admin.update_alert_rule("tooManyGlobalAdmins", &rule).await.expect("alert rule");
    for (scope, name, kind) in [("/db", "Databases", "folder"), ("/prod", "Production", "subscription")] {
        let r = CreateResource { scope: sp(scope), name: name.into(), kind: kind.into() };
        s.admin.create_resource(&r).await.expect("resource");
    }
    // Access reviews: a quarterly one of DB Operator at /db by the leads, its first instance in
    // progress; a one-time review of oncall's membership by managers, starting in three days.
    let leads_review = Reviewers::Selected { reviewers: vec![ApproverRef { kind: PrincipalKind::Group, id: leads }] };
    let quarterly = CreateReview {
        description: Some("Who may operate the databases".into()),
        kinds: ReviewedKinds::Eligible,
        schedule: ReviewScheduleInput {
            start: Some(T0),
            recurrence: Recurrence::Quarterly,
            duration_days: 14,
            end: ReviewEnd::AfterOccurrences { count: 4 },
        },
        auto_apply: true,
        if_no_response: IfNoResponse::Remove,
        reason_required: true,
        ..review_of(DB_REVIEW, db_op, "/db", leads_review)
    };
    s.admin.create_review(&quarterly).await.expect("review");
    let managers = Reviewers::Managers { fallback: vec![ApproverRef { kind: PrincipalKind::User, id: bob }] };
    let members = CreateReview {
        target: ReviewTarget::GroupMembership { group_id: oncall },
        inactive_days: Some(30),
        schedule: ReviewScheduleInput {
            start: Some(Timestamp(T0.0 + 3 * DAY_MS)),
            recurrence: Recurrence::OneTime,
            duration_days: 7,
            end: ReviewEnd::Never,
        },
        ..review_of("oncall members", db_op, "/", managers)
    };
    s.admin.create_review(&members).await.expect("review");
}

const DB_REVIEW: &str = "DB operators";

/// The `[[reviews]]` entry of the quarterly review as export writes it.
const DB_REVIEW_TEXT: &str = "[[reviews]]\nname = \"DB operators\"\ndescription = \"Who may operate the databases\"\n\
                              kinds = \"eligible\"\nautoApply = true\nifNoResponse = \"remove\"\n\n\
                              [reviews.target]\ntype = \"roles\"\nroles = [\"DB Operator\"]\nscope = \"/db\"\n\n\
                              [reviews.reviewers]\ntype = \"selected\"\nreviewers = [\"dba-leads\"]\n\n\
                              [reviews.schedule]\nstart = \"2026-01-05T09:00:00.000Z\"\nrecurrence = \"quarterly\"\n\
                              durationDays = 14\n\n[reviews.schedule.end]\ntype = \"afterOccurrences\"\ncount = 4\n";

const PROD: &str = "[[resources]]\nscope = \"/prod\"\nname = \"Production\"\ntype = \"subscription\"\n";

fn body(policy: &str) -> PolicyRequest {
    PolicyRequest { policy: policy.to_owned(), prune: false, justification: None }
}

fn pruning(policy: &str) -> PolicyRequest {
    PolicyRequest { prune: true, ..body(policy) }
}

async fn export(c: &Client) -> String {
    c.export_policy(&PolicyExportQuery::default()).await.expect("export")
}

/// The 1-based line of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l == needle).unwrap_or_else(|| panic!("no line {needle:?} in:\n{text}")) + 1
}

/// The problem a refused call answers.
fn problem<T: std::fmt::Debug>(r: Result<T, ClientError>) -> Problem {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(ClientError::Api { problem, .. }) => problem,
        Err(e) => panic!("expected a problem, got {e:?}"),
    }
}

/// What a refused call says, as `code: detail`.
fn refusal<T: std::fmt::Debug>(r: Result<T, ClientError>) -> String {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(ClientError::Api { problem, .. }) => format!("{}: {}", problem.code, problem.detail),
        Err(e) => panic!("expected a problem, got {e:?}"),
    }
}

async fn export_apply_on_a_fresh_server_exports_the_same_file(b: Backend) {
    let a = TestServer::start(&b).await;
    world(&a).await;
    let text = export(&a.admin).await;
    for expected in [
        "[[roles]]\nname = \"DB Operator\"\nactions = [\"db.*\"]\n",
        "[[groups]]\nname = \"oncall\"\nmembers = [\"alice\", \"dba-leads\"]\n",
        "[[settings.approvalStages]]\napprovers = [\"dba-leads\"]\n",
        "principal = \"bob\"\nrole = \"Reader\"\nscope = \"/db/orders\"\ntype = \"eligible\"\nend = ",
        "principal = \"admin\"\nrole = \"Global Administrator\"\nscope = \"/\"\ntype = \"active\"\n",
        "[[alertRules]]\nid = \"tooManyGlobalAdmins\"\nseverity = \"high\"\n",
        "scope = \"/\"\n\n[[resources]]\nscope = \"/db\"\nname = \"Databases\"\ntype = \"folder\"\n\n",
        PROD,
        DB_REVIEW_TEXT,
        "[[reviews]]\nname = \"oncall members\"\ninactiveDays = 30\nreasonRequired = false\n\n\
         [reviews.target]\ntype = \"groupMembership\"\ngroup = \"oncall\"\n\n\
         [reviews.reviewers]\ntype = \"managers\"\nfallback = [\"bob\"]\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Policy, not access in use: one assignment of DB Operator (oncall's), not alice's activation.
    assert_eq!(text.matches("role = \"DB Operator\"\nscope = \"/db\"\ntype").count(), 1, "{text}");
    assert!(!text.contains("principal = \"alice\""), "an activation was exported:\n{text}");
    assert!(!text.to_lowercase().contains("password") && !text.contains("token"), "{text}");

    // A fresh server with the same users: apply, export again, the same bytes.
    let fresh = TestServer::start(&b).await;
    let (_, alice) = fresh.user("alice").await;
    fresh.user("bob").await;
    let plan = fresh.admin.plan_policy(&body(&text)).await.expect("plan");
    assert!(plan.differs && plan.changes.iter().all(|c| c.status == "wouldApply"), "{plan:?}");
    let applied = fresh.admin.apply_policy(&body(&text)).await.expect("apply");
    assert!(applied.changes.iter().all(|c| c.status == "applied"), "{applied:?}");
    assert_eq!(export(&fresh.admin).await, text);
    let again = fresh.admin.plan_policy(&pruning(&text)).await.expect("plan");
    assert!(!again.differs && again.changes.is_empty(), "{again:?}");
    assert_eq!(fresh.audited("policy.applied").await.len(), 1);
    // The reviews are the same definitions, and the one due started its first instance.
    let reviews = fresh.admin.list_reviews().await.expect("reviews").items;
    assert_eq!(reviews.len(), 2);
    let db_review = reviews.iter().find(|r| r.name == DB_REVIEW).expect("the quarterly review");
    assert_eq!(fresh.admin.get_review(db_review.id).await.expect("review").instances.len(), 1);
    assert_eq!(fresh.audited("review.created").await.len(), 2);
    // The policy works: alice may activate DB Operator at /db through oncall on the new server.
    let db_op = fresh.admin.get_role("DB Operator").await.expect("role").id;
    let done = alice.create_request(&activation(db_op, "/db", 30)).await.expect("activation");
    assert_eq!(done.request.status, RequestStatus::Provisioned);
}

async fn plan_after_an_edit_lists_exactly_that_edit(b: Backend) {
    let s = TestServer::start(&b).await;
    world(&s).await;
    let text = export(&s.admin).await;
    let edited = text.replacen("activationMaxMinutes = 60", "activationMaxMinutes = 120", 1);
    assert_ne!(edited, text);
    let plan = s.admin.plan_policy(&body(&edited)).await.expect("plan");
    assert_eq!(plan.changes.len(), 1, "{plan:?}");
    let c = &plan.changes[0];
    assert_eq!((c.op.as_str(), c.object.as_str(), c.key.as_str()), ("update", "settings", "DB Operator at /db"));
    assert_eq!(c.fields.len(), 1);
    assert_eq!(
        (c.fields[0].field.as_str(), c.fields[0].from.clone(), c.fields[0].to.clone()),
        ("activationMaxMinutes", Some(60.into()), Some(120.into()))
    );
    assert_eq!(export(&s.admin).await, text, "plan changed something");

    let events_before = s.audited("settings.update").await.len();
    let done = s.admin.apply_policy(&body(&edited)).await.expect("apply");
    assert_eq!(done.changes.iter().map(|c| c.status.as_str()).collect::<Vec<_>>(), ["applied"]);
    assert_eq!(export(&s.admin).await, edited);
    // One audit event for the change, naming the actor, and one summary.
    let updates = s.audited("settings.update").await;
    assert_eq!(updates.len(), events_before + 1);
    assert_eq!(updates[0].actor_name.as_deref(), Some("admin"));
    let summary = s.audited("policy.applied").await;
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].details["applied"], 1);
}

async fn a_file_with_an_error_is_refused_with_line_and_field_and_changes_nothing(b: Backend) {
    let s = TestServer::start(&b).await;
    world(&s).await;
    let text = export(&s.admin).await;
    let mut db = Db::open(&s).await;
    let with_new_role = format!("{text}\n[[roles]]\nname = \"Fresh\"\nactions = [\"fresh.*\"]\n");
    let cases = [
        (
            "unknown role",
            with_new_role.replace("role = \"Reader\"", "role = \"Reeder\""),
            "role = \"Reeder\"",
            "assignments[",
            "no role is named 'Reeder'",
        ),
        (
            "bad scope",
            with_new_role.replace("scope = \"/db/orders\"", "scope = \"/db//orders\""),
            "scope = \"/db//orders\"",
            "assignments[",
            "",
        ),
        (
            "setting out of range",
            with_new_role.replace("activationMaxMinutes = 60", "activationMaxMinutes = 5000"),
            "activationMaxMinutes = 5000",
            "settings[0].activationMaxMinutes",
            "between 30 and 1440",
        ),
        (
            "unknown key",
            with_new_role.replace("activationMaxMinutes = 60", "activationMaxMinutez = 60"),
            "activationMaxMinutez = 60",
            "settings[0].activationMaxMinutez",
            "unknown field",
        ),
        (
            "unknown approver",
            with_new_role.replace("approvers = [\"dba-leads\"]", "approvers = [\"nobody\"]"),
            "approvers = [\"nobody\"]",
            "settings[1].approvalStages[0].approvers[0]",
            "'nobody'",
        ),
    ];
    for (what, file, bad_line, field, message) in cases {
        let line = line_of(&file, bad_line);
        let before = db.snapshot().await;
        for p in
            [problem(s.admin.plan_policy(&body(&file)).await), problem(s.admin.apply_policy(&pruning(&file)).await)]
        {
            let r = format!("{}: {}", p.code, p.detail);
            assert!(r.starts_with(&format!("invalid_policy: line {line}, field {field}")), "{what}: {r}");
            assert!(r.contains(message), "{what}: {r}");
            // The location is structured too, beside the detail.
            assert_eq!(p.line, Some(line as u32), "{what}: {p:?}");
            assert!(p.field.as_deref().is_some_and(|f| f.starts_with(field)), "{what}: {p:?}");
        }
        let (changes, _) = db.changes_since(&before).await;
        assert!(changes.is_empty(), "{what}: the refused file changed {changes:?}");
        assert_eq!(export(&s.admin).await, text, "{what}");
    }
    // The refusal itself is audited.
    let refused = s.audited("policy.apply").await;
    assert!(refused.iter().all(|e| e.outcome == Outcome::Failure && e.error_code.as_deref() == Some("invalid_policy")));
    assert_eq!(refused.len(), 5);
}

async fn removing_the_last_global_administrator_is_refused_as_a_whole(b: Backend) {
    let s = TestServer::start(&b).await;
    world(&s).await;
    let text = export(&s.admin).await;
    let ga =
        "[[assignments]]\nprincipal = \"admin\"\nrole = \"Global Administrator\"\nscope = \"/\"\ntype = \"active\"\n";
    assert!(text.contains(ga));
    // Also a new role and a settings change, which must not survive the refusal.
    let file = format!("{}\n[[roles]]\nname = \"Fresh\"\nactions = [\"fresh.*\"]\n", text.replace(ga, "")).replacen(
        "activationMaxMinutes = 60",
        "activationMaxMinutes = 90",
        1,
    );
    let plan = s.admin.plan_policy(&pruning(&file)).await.expect("plan");
    assert_eq!(plan.changes.len(), 3, "{plan:?}");
    let mut db = Db::open(&s).await;
    let before = db.snapshot().await;
    assert_eq!(code(s.admin.apply_policy(&pruning(&file)).await), "last_global_admin");
    let (changes, _) = db.changes_since(&before).await;
    assert!(changes.is_empty(), "a refused apply changed {changes:?}");
    assert_eq!(export(&s.admin).await, text);
}

async fn removals_need_prune(b: Backend) {
    let s = TestServer::start(&b).await;
    world(&s).await;
    let text = export(&s.admin).await;
    let start = text.find("\n\n[[assignments]]\nprincipal = \"bob\"").expect("bob's eligibility");
    let rest = &text[start + 2..];
    let len = rest.find("\n\n").unwrap_or(rest.len() - 1);
    let file = format!("{}{}", &text[..start], &rest[len..]);
    let plan = s.admin.plan_policy(&body(&file)).await.expect("plan");
    assert_eq!(plan.changes.len(), 1, "{plan:?}");
    assert_eq!(
        (plan.changes[0].op.as_str(), plan.changes[0].status.as_str(), plan.changes[0].key.as_str()),
        ("remove", "needsPrune", "eligible Reader at /db/orders for bob")
    );
    let kept = s.admin.apply_policy(&body(&file)).await.expect("apply");
    assert_eq!(kept.changes[0].status, "needsPrune");
    assert_eq!(export(&s.admin).await, text, "removed without --prune");
    let removed = s.admin.apply_policy(&pruning(&file)).await.expect("apply --prune");
    assert_eq!(removed.changes[0].status, "applied");
    assert_eq!(export(&s.admin).await, file);
    let remove = s.audited("request.adminRemove").await;
    assert_eq!(remove.len(), 1);
    assert_eq!(remove[0].justification.as_deref(), Some("pim apply: declarative policy"));
}

async fn a_protected_setting_becomes_a_proposal(b: Backend) {
    let s = TestServer::start(&b).await;
    world(&s).await;
    let db_op = s.admin.get_role("DB Operator").await.expect("role").id;
    s.set_settings(db_op, "/db", |x| x.protected = true).await;
    let text = export(&s.admin).await;
    let file = text.replacen("activationMaxMinutes = 60", "activationMaxMinutes = 240", 1);
    let plan = s.admin.plan_policy(&body(&file)).await.expect("plan");
    assert_eq!(plan.changes.iter().map(|c| c.status.as_str()).collect::<Vec<_>>(), ["wouldPropose"]);
    let done = s.admin.apply_policy(&body(&file)).await.expect("apply");
    assert_eq!(done.changes[0].status, "proposed");
    let id = done.changes[0].settings_change_id.expect("the proposal's id");
    assert_eq!(export(&s.admin).await, text, "a protected setting changed without a second administrator");
    let change = s.admin.get_settings_change(id).await.expect("proposal");
    assert_eq!(change.status, RequestStatus::PendingApproval);
    assert_eq!(change.settings.map(|x| x.activation_max_minutes), Some(240));
}

async fn forbidden_paths_change_nothing(b: Backend) {
    let s = TestServer::start(&b).await;
    world(&s).await;
    let text = export(&s.admin).await;
    let file = text.replacen("activationMaxMinutes = 60", "activationMaxMinutes = 90", 1);
    let mut db = Db::open(&s).await;

    // No role: not even export.
    let (_, nobody) = s.user("nobody").await;
    assert_eq!(code(nobody.export_policy(&PolicyExportQuery::default()).await), "forbidden");
    assert_eq!(code(nobody.plan_policy(&body(&file)).await), "forbidden");

    // A reader exports and plans, but cannot apply.
    let (reader_id, reader) = s.user("reader").await;
    s.assign(reader_id, role::SECURITY_READER, "/", AssignmentKind::Active, None).await;
    assert_eq!(export(&reader).await, export(&s.admin).await);
    assert!(reader.plan_policy(&body(&file)).await.expect("plan").differs);
    let before = db.snapshot().await;
    assert_eq!(code(reader.apply_policy(&body(&file)).await), "forbidden");
    let (changes, _) = db.changes_since(&before).await;
    assert!(changes.is_empty(), "a forbidden apply changed {changes:?}");

    // A Privileged Role Administrator may change the settings but not the directory: a file doing
    // both is refused as a whole, the settings included.
    let (pra_id, pra) = s.user("pra").await;
    s.assign(pra_id, role::PRIVILEGED_ROLE_ADMINISTRATOR, "/", AssignmentKind::Active, None).await;
    let text = export(&s.admin).await;
    let both = text
        .replacen("activationMaxMinutes = 60", "activationMaxMinutes = 90", 1)
        .replace("members = [\"alice\", \"dba-leads\"]", "members = [\"alice\", \"dba-leads\", \"reader\"]");
    let before_pra = db.snapshot().await;
    let r = refusal(pra.apply_policy(&body(&both)).await);
    assert!(r.starts_with("forbidden: ") && r.contains("pim.directory.write"), "{r}");
    let (changes, _) = db.changes_since(&before_pra).await;
    assert!(changes.is_empty(), "a forbidden apply changed {changes:?}");
    assert_eq!(export(&s.admin).await, text);
    // Without the membership the same administrator applies it.
    let settings_only = text.replacen("activationMaxMinutes = 60", "activationMaxMinutes = 90", 1);
    pra.apply_policy(&body(&settings_only)).await.expect("apply");
    assert_eq!(export(&s.admin).await, settings_only);
}

async fn a_scoped_file_manages_only_its_subtree(b: Backend) {
    let s = TestServer::start(&b).await;
    world(&s).await;
    let full = export(&s.admin).await;
    let text = s.admin.export_policy(&PolicyExportQuery { scope: Some(sp("/db")) }).await.expect("export");
    assert!(text.contains("\nscope = \"/db\"\n") && text.contains("name = \"DB Operator\""), "{text}");
    assert!(!text.contains("Global Administrator") && !text.contains("scope = \"/prod\""), "outside /db:\n{text}");

    // An eligibility's end changes: one update, through adminUpdate.
    let (old_end, new_end) = (Timestamp(T0.0 + 30 * DAY_MS).to_rfc3339(), Timestamp(T0.0 + 10 * DAY_MS).to_rfc3339());
    let shorter = text.replace(&old_end, &new_end);
    let plan = s.admin.plan_policy(&body(&shorter)).await.expect("plan");
    assert_eq!(plan.changes.len(), 1, "{plan:?}");
    assert_eq!((plan.changes[0].op.as_str(), plan.changes[0].fields[0].field.as_str()), ("update", "end"));
    assert_eq!(plan.changes[0].fields[0].to, Some(new_end.clone().into()));
    s.admin.apply_policy(&body(&shorter)).await.expect("apply");
    assert_eq!(s.admin.export_policy(&PolicyExportQuery { scope: Some(sp("/db")) }).await.expect("export"), shorter);
    assert_eq!(s.audited("request.adminUpdate").await.len(), 1);

    // Pruning with an empty file for /db removes what lies below /db, and nothing else.
    let empty = "version = 1\nscope = \"/db\"\n";
    let plan = s.admin.plan_policy(&pruning(empty)).await.expect("plan");
    let mut keys: Vec<String> = plan.changes.iter().map(|c| format!("{} {} {}", c.op, c.object, c.key)).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "remove assignment eligible DB Operator at /db for oncall",
            "remove assignment eligible Reader at /db/orders for bob",
            "remove resource /db",
            "remove review DB operators",
            "remove settings DB Operator at /db",
        ]
    );
    s.admin.apply_policy(&pruning(empty)).await.expect("apply");
    let after = export(&s.admin).await;
    assert!(after.contains("name = \"DB Operator\"") && after.contains("scope = \"/prod\""), "{after}");
    assert!(after.contains("role = \"Global Administrator\"") && after.contains("name = \"oncall\""), "{after}");
    assert!(!after.contains(DB_REVIEW) && after.contains("name = \"oncall members\""), "{after}");
    assert_ne!(after, full);

    // A file may not reach outside its scope.
    let outside = format!("{empty}\n[[settings]]\nrole = \"Reader\"\nscope = \"/prod\"\nactivationMaxMinutes = 60\n");
    assert_eq!(
        refusal(s.admin.apply_policy(&body(&outside)).await),
        format!(
            "invalid_policy: line {}, field settings[0].scope: /prod is outside the file's scope /db",
            line_of(&outside, "scope = \"/prod\"")
        )
    );
}

async fn alert_rules_are_policy_of_the_root(b: Backend) {
    let s = TestServer::start(&b).await;
    world(&s).await;
    let text = export(&s.admin).await;
    let start = text.find("\n\n[[alertRules]]").expect("the configured rule");
    let without = format!("{}\n", &text[..start]);
    let plan = s.admin.plan_policy(&body(&without)).await.expect("plan");
    assert_eq!(plan.changes.len(), 1, "{plan:?}");
    let c = &plan.changes[0];
    assert_eq!(
        (c.op.as_str(), c.object.as_str(), c.key.as_str(), c.status.as_str()),
        ("remove", "alertRule", "tooManyGlobalAdmins", "needsPrune")
    );
    let fields: Vec<(String, Option<serde_json::Value>, Option<serde_json::Value>)> =
        c.fields.iter().map(|f| (f.field.clone(), f.from.clone(), f.to.clone())).collect();
    assert_eq!(
        fields,
        [
            ("severity".to_owned(), Some("high".into()), Some("low".into())),
            ("thresholds.count".to_owned(), Some(1.into()), Some(5.into())),
        ]
    );
    s.admin.apply_policy(&pruning(&without)).await.expect("apply");
    let rules = s.admin.list_alert_rules().await.expect("rules").items;
    let rule = rules.iter().find(|r| r.id == "tooManyGlobalAdmins").expect("rule");
    assert_eq!((rule.severity, rule.thresholds["count"]), (Severity::Low, 5));
    assert_eq!(export(&s.admin).await, without);
    assert_eq!(s.audited("alertRule.update").await[0].actor_name.as_deref(), Some("admin"));

    // Alert rules are global: reading them is needed for a file of /, not for one below it.
    let (uaa_id, uaa) = s.user("uaa").await;
    s.assign(uaa_id, role::USER_ACCESS_ADMINISTRATOR, "/", AssignmentKind::Active, None).await;
    assert_eq!(code(uaa.export_policy(&PolicyExportQuery::default()).await), "forbidden");
    let scoped = uaa.export_policy(&PolicyExportQuery { scope: Some(sp("/db")) }).await.expect("export /db");
    assert!(!scoped.contains("alertRules"), "{scoped}");
}

/// The registered resources as `scope name type`.
async fn scopes(c: &Client) -> Vec<String> {
    let all = c.list_resources(&ResourceQuery::default()).await.expect("list").items;
    all.into_iter().map(|r| format!("{} {} {}", r.scope, r.name, r.kind)).collect()
}

async fn resources_are_policy_by_scope(b: Backend) {
    let s = TestServer::start(&b).await;
    world(&s).await;
    let text = export(&s.admin).await;
    let renamed = "scope = \"/db\"\nname = \"DB servers\"\ntype = \"folder\"\n";
    let file = format!(
        "{}\n[[resources]]\nscope = \"/db/orders\"\nname = \"Orders\"\ntype = \"postgres.database\"\n",
        text.replace("scope = \"/db\"\nname = \"Databases\"\ntype = \"folder\"\n", renamed).replace(PROD, "")
    );
    let plan = s.admin.plan_policy(&body(&file)).await.expect("plan");
    let seen: Vec<(&str, &str, &str, &str)> =
        plan.changes.iter().map(|c| (c.op.as_str(), c.object.as_str(), c.key.as_str(), c.status.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("update", "resource", "/db", "wouldApply"),
            ("create", "resource", "/db/orders", "wouldApply"),
            ("remove", "resource", "/prod", "needsPrune"),
        ]
    );
    let f = &plan.changes[0].fields;
    assert_eq!(
        f.iter().map(|f| (f.field.as_str(), f.from.clone(), f.to.clone())).collect::<Vec<_>>(),
        [("name", Some("Databases".into()), Some("DB servers".into()))]
    );
    s.admin.apply_policy(&body(&file)).await.expect("apply");
    assert_eq!(
        scopes(&s.admin).await,
        ["/db DB servers folder", "/db/orders Orders postgres.database", "/prod Production subscription"],
        "without prune the unlisted resource stays"
    );
    s.admin.apply_policy(&pruning(&file)).await.expect("apply --prune");
    assert_eq!(scopes(&s.admin).await, ["/db DB servers folder", "/db/orders Orders postgres.database"]);
    assert!(export(&s.admin).await.contains("scope = \"/prod\"\n"), "the settings at /prod stay");
    let ok = |v: Vec<AuditEvent>| v.into_iter().filter(|e| e.error_code.is_none()).count();
    assert_eq!(
        (ok(s.audited("resource.create").await), ok(s.audited("resource.update").await)),
        (3, 1),
        "world's two and the file's one; one rename"
    );
    assert_eq!(s.audited("resource.delete").await[0].scope, Some(sp("/prod")));

    // A resource at / or without a name is refused with its line and field, and changes nothing.
    let before = export(&s.admin).await;
    for (what, entry, field) in [
        ("root", "scope = \"/\"\nname = \"All\"\ntype = \"x\"", "resources[0].scope"),
        ("blank name", "scope = \"/new\"\nname = \" \"\ntype = \"x\"", "resources[0].name"),
        ("twice", "scope = \"/db\"\nname = \"Again\"\ntype = \"x\"", "resources[1].scope"),
    ] {
        let bad = before.replacen("[[resources]]\n", &format!("[[resources]]\n{entry}\n\n[[resources]]\n"), 1);
        let p = problem(s.admin.apply_policy(&pruning(&bad)).await);
        assert_eq!((p.code.as_str(), p.field.as_deref()), ("invalid_policy", Some(field)), "{what}: {p:?}");
        let line = p.line.expect("line") as usize;
        let key = field.rsplit('.').next().expect("key");
        let at = bad.lines().nth(line - 1).expect("line");
        assert!(at.starts_with(&format!("{key} = ")), "{what}: line {line} is {at:?}");
        assert_eq!(export(&s.admin).await, before, "{what}");
    }
    // Renaming needs pim.scopes.write at the resource's scope: a Privileged Role Administrator is refused.
    let (pra_id, pra) = s.user("pra").await;
    s.assign(pra_id, role::PRIVILEGED_ROLE_ADMINISTRATOR, "/", AssignmentKind::Active, None).await;
    let again = before.replace("name = \"DB servers\"", "name = \"Renamed\"");
    let r = refusal(pra.apply_policy(&body(&again)).await);
    assert!(r.starts_with("forbidden: ") && r.contains("pim.scopes.write"), "{r}");
    assert_eq!(scopes(&s.admin).await, ["/db DB servers folder", "/db/orders Orders postgres.database"]);
}

/// The review named `name` (not stopped) on `s`.
async fn review_named(s: &TestServer, name: &str) -> ReviewDefinition {
    let all = s.admin.list_reviews().await.expect("reviews").items;
    all.into_iter().find(|r| r.name == name && r.stopped_at.is_none()).unwrap_or_else(|| panic!("no review {name}"))
}

async fn reviews_are_policy_by_name(b: Backend) {
    let s = TestServer::start(&b).await;
    world(&s).await;
    let text = export(&s.admin).await;
    let db_review = review_named(&s, DB_REVIEW).await;
    let instance = s.admin.get_review(db_review.id).await.expect("review").instances[0].clone();

    // An edit of the definition is one update, field by field, applied for the future instances.
    let edited = text.replacen("durationDays = 14", "durationDays = 21", 1).replacen(
        "reviewers = [\"dba-leads\"]",
        "reviewers = [\"alice\", \"dba-leads\"]",
        1,
    );
    let plan = s.admin.plan_policy(&body(&edited)).await.expect("plan");
    assert_eq!(plan.changes.len(), 1, "{plan:?}");
    let c = &plan.changes[0];
    assert_eq!((c.op.as_str(), c.object.as_str(), c.key.as_str()), ("update", "review", DB_REVIEW));
    let fields: Vec<(&str, Option<serde_json::Value>, Option<serde_json::Value>)> =
        c.fields.iter().map(|f| (f.field.as_str(), f.from.clone(), f.to.clone())).collect();
    assert_eq!(
        fields,
        [
            (
                "reviewers",
                Some(serde_json::json!({"type": "selected", "reviewers": ["dba-leads"]})),
                Some(serde_json::json!({"type": "selected", "reviewers": ["alice", "dba-leads"]}))
            ),
            ("schedule.durationDays", Some(14.into()), Some(21.into())),
        ]
    );
    s.admin.apply_policy(&body(&edited)).await.expect("apply");
    assert_eq!(export(&s.admin).await, edited);
    let after = s.admin.get_review(db_review.id).await.expect("review");
    assert_eq!(after.review.schedule.duration_days, 21);
    assert_eq!(after.instances.len(), 1, "the instance in progress stays the only one");
    assert_eq!((after.instances[0].id, after.instances[0].end), (instance.id, instance.end), "it keeps its end");
    let updated = s.audited("review.updated").await;
    assert_eq!((updated.len(), updated[0].actor_name.as_deref()), (1, Some("admin")));

    // What would change the meaning of the instance that ran is refused as a whole.
    let mut db = Db::open(&s).await;
    let moved = edited
        .replacen("start = \"2026-01-05T09:00:00.000Z\"", "start = \"2026-01-06T09:00:00.000Z\"", 1)
        .replacen("activationMaxMinutes = 60", "activationMaxMinutes = 90", 1);
    let before = db.snapshot().await;
    let r = refusal(s.admin.apply_policy(&body(&moved)).await);
    assert!(r.starts_with("invalid_input: schedule.start cannot change once an instance of 'DB operators'"), "{r}");
    let (changes, _) = db.changes_since(&before).await;
    assert!(changes.is_empty(), "a refused apply changed {changes:?}");

    // A review the file does not list is stopped with --prune only; its name is free again.
    let start = edited.find("[[reviews]]\nname = \"oncall members\"").expect("the membership review");
    let rest = &edited[start..];
    let end = rest.find("\n\n[[").map_or(edited.len(), |i| start + i + 2);
    let without = format!("{}{}", &edited[..start], &edited[end..]);
    let plan = s.admin.plan_policy(&body(&without)).await.expect("plan");
    let seen: Vec<(&str, &str, &str, &str)> =
        plan.changes.iter().map(|c| (c.op.as_str(), c.object.as_str(), c.key.as_str(), c.status.as_str())).collect();
    assert_eq!(seen, [("remove", "review", "oncall members", "needsPrune")]);
    s.admin.apply_policy(&body(&without)).await.expect("apply");
    assert!(review_named(&s, "oncall members").await.stopped_at.is_none(), "stopped without --prune");
    s.admin.apply_policy(&pruning(&without)).await.expect("apply --prune");
    assert_eq!(export(&s.admin).await, without);
    let stopped = s.audited("review.stopped").await;
    assert_eq!((stopped.len(), stopped[0].details["name"].as_str()), (1, Some("oncall members")));
    assert!(s.admin.list_reviews().await.expect("reviews").items.iter().any(|r| r.stopped_at.is_some()));
    s.admin.apply_policy(&body(&edited)).await.expect("the same name again, for a new review");
    assert_eq!(export(&s.admin).await, edited);
    assert_eq!(s.admin.list_reviews().await.expect("reviews").items.len(), 3, "the stopped one stays as history");

    // Bad review entries are refused with their line and field, and change nothing.
    let text = export(&s.admin).await;
    let cases = [
        (
            "unknown role",
            "roles = [\"DB Operator\"]",
            "roles = [\"DB Operater\"]",
            "target.roles[0]",
            "no role is named",
        ),
        ("out of range", "durationDays = 21", "durationDays = 400", "schedule.durationDays", "between 1 and 180"),
        (
            "unknown reviewer",
            "reviewers = [\"alice\",",
            "reviewers = [\"nobody\",",
            "reviewers.reviewers[0]",
            "'nobody'",
        ),
        ("not a group", "group = \"oncall\"", "group = \"alice\"", "target.group", "not a group"),
        ("unknown kind", "kinds = \"eligible\"", "kinds = \"some\"", "", "unknown variant"),
    ];
    for (what, from, to, field, message) in cases {
        let file = text.replacen(from, to, 1);
        assert_ne!(file, text, "{what}");
        let line = file.lines().position(|l| l.starts_with(to)).expect("the edited line") + 1;
        let before = db.snapshot().await;
        let p = problem(s.admin.apply_policy(&pruning(&file)).await);
        assert_eq!((p.code.as_str(), p.line), ("invalid_policy", Some(line as u32)), "{what}: {p:?}");
        assert!(p.detail.contains(message), "{what}: {p:?}");
        if !field.is_empty() {
            assert!(
                p.field.as_deref().is_some_and(|f| f.starts_with("reviews[") && f.ends_with(field)),
                "{what}: {p:?}"
            );
        }
        let (changes, _) = db.changes_since(&before).await;
        assert!(changes.is_empty(), "{what}: the refused file changed {changes:?}");
    }
    // A new review may not start more than a day in the past.
    let old = format!(
        "{text}\n[[reviews]]\nname = \"late\"\n\n[reviews.target]\ntype = \"roles\"\nroles = [\"Reader\"]\nscope = \"/\"\n\n\
         [reviews.reviewers]\ntype = \"selfReview\"\n\n[reviews.schedule]\nstart = \"2025-12-01T00:00:00Z\"\ndurationDays = 7\n"
    );
    let p = problem(s.admin.plan_policy(&body(&old)).await);
    assert_eq!(p.field.as_deref(), Some("reviews[2].schedule.start"), "{p:?}");
    assert_eq!(p.line, Some(line_of(&old, "start = \"2025-12-01T00:00:00Z\"") as u32), "{p:?}");
    // A group's membership review is at the group's scope: not in a file below /.
    let scoped = "version = 1\nscope = \"/db\"\n\n[[reviews]]\nname = \"x\"\n\n[reviews.target]\ntype = \"groupMembership\"\n\
                  group = \"oncall\"\n\n[reviews.reviewers]\ntype = \"selfReview\"\n\n[reviews.schedule]\n\
                  start = \"2026-01-05T09:00:00Z\"\ndurationDays = 7\n";
    assert_eq!(problem(s.admin.plan_policy(&body(scoped)).await).field.as_deref(), Some("reviews[0].target"));
}

async fn reviews_need_reviews_read_and_names_a_file_can_hold(b: Backend) {
    let s = TestServer::start(&b).await;
    world(&s).await;
    // A User Access Administrator reads assignments but not reviews: its file has none, its plan
    // and apply leave them alone, and a file listing reviews is refused.
    let (uaa_id, uaa) = s.user("uaa").await;
    s.assign(uaa_id, role::USER_ACCESS_ADMINISTRATOR, "/", AssignmentKind::Active, None).await;
    let scoped = PolicyExportQuery { scope: Some(sp("/db")) };
    let theirs = uaa.export_policy(&scoped).await.expect("export /db");
    assert!(!theirs.contains("[[reviews]]"), "{theirs}");
    let plan = uaa.plan_policy(&pruning(&theirs)).await.expect("plan");
    assert!(!plan.differs, "{plan:?}");
    let admins = s.admin.export_policy(&scoped).await.expect("export /db");
    assert!(admins.contains(DB_REVIEW_TEXT), "{admins}");
    let r = refusal(uaa.plan_policy(&body(&admins)).await);
    assert!(r.starts_with("forbidden: ") && r.contains("pim.reviews.read"), "{r}");
    uaa.apply_policy(&pruning(&theirs)).await.expect("apply");
    assert!(review_named(&s, DB_REVIEW).await.stopped_at.is_none(), "a caller who cannot read reviews stopped one");

    // A Security Reader reads reviews but cannot change them.
    let (reader_id, reader) = s.user("reader").await;
    s.assign(reader_id, role::SECURITY_READER, "/", AssignmentKind::Active, None).await;
    let edited = admins.replacen("durationDays = 14", "durationDays = 21", 1);
    assert!(reader.plan_policy(&body(&edited)).await.expect("plan").differs);
    let r = refusal(reader.apply_policy(&body(&edited)).await);
    assert!(r.starts_with("forbidden: ") && r.contains("pim.reviews.write"), "{r}");
    assert_eq!(s.admin.export_policy(&scoped).await.expect("export"), admins);

    // Two reviews not stopped with one name (a database from before names were unique) cannot be
    // written as a file: export says which to rename.
    let mut db = Db::open(&s).await;
    let dup = "UPDATE access_reviews SET name = 'db OPERATORS' WHERE name = 'oncall members'";
    db.execute(dup).await;
    let r = refusal(s.admin.export_policy(&PolicyExportQuery::default()).await);
    assert!(r.starts_with("already_exists: two access reviews not stopped are named"), "{r}");
    assert!(r.contains("rename one"), "{r}");
}

/// Review finding: a custom role that a review (not stopped) targets can be removed by
/// `apply --prune` while the file keeps the review. The review then names a role id that no
/// longer exists: the next export writes that id as a role name, and its plan is refused, so the
/// export is no longer a file the server accepts. Apply must refuse such a file as a whole.
async fn pruning_a_role_a_kept_review_targets_is_refused(b: Backend) {
    let s = TestServer::start(&b).await;
    let temp = s.custom_role("Temp Operator", &["temp.*"]).await;
    let review = CreateReview {
        schedule: ReviewScheduleInput {
            start: Some(Timestamp(T0.0 + 3 * DAY_MS)),
            recurrence: Recurrence::OneTime,
            duration_days: 7,
            end: ReviewEnd::Never,
        },
        ..review_of("temp review", temp, "/", Reviewers::SelfReview)
    };
    s.admin.create_review(&review).await.expect("review");
    let text = export(&s.admin).await;
    let start = text.find("[[roles]]\nname = \"Temp Operator\"").expect("the custom role");
    let rest = &text[start..];
    let end = rest.find("\n\n[[").map_or(text.len(), |i| start + i + 2);
    let without = format!("{}{}", &text[..start], &text[end..]);
    assert!(without.contains("roles = [\"Temp Operator\"]"), "the review stays:\n{without}");
    let applied = s.admin.apply_policy(&pruning(&without)).await;
    // Whatever apply answered, the server's own export must still be a file it accepts.
    let after = export(&s.admin).await;
    let plan = s.admin.plan_policy(&pruning(&after)).await;
    assert!(plan.as_ref().is_ok_and(|p| !p.differs), "apply answered {applied:?}; export:\n{after}\nplan: {plan:?}");
    assert!(applied.is_err(), "the role a kept review targets was removed: {applied:?}");
    assert_eq!(code(applied), "role_in_use");
    // The endpoint refuses the same, and once the review is stopped the role may go.
    assert_eq!(code(s.admin.delete_role("Temp Operator").await), "role_in_use");
    let id = s.admin.list_reviews().await.expect("reviews").items[0].id;
    s.admin.stop_review(id).await.expect("stop");
    s.admin.delete_role("Temp Operator").await.expect("a role only stopped reviews name");
}

/// Review finding: apply finds the review to update or stop by name among all reviews not
/// stopped, not among those in the file's scope. With two reviews of one name (a database from
/// before names were unique), `apply --prune` of a file for `/db` stops the one at `/prod`,
/// outside the file's scope, and leaves the one at `/db` that its plan said it would stop.
async fn a_scoped_prune_stops_only_reviews_in_its_scope(b: Backend) {
    let s = TestServer::start(&b).await;
    world(&s).await;
    let db_op = s.admin.get_role("DB Operator").await.expect("role").id;
    let other = CreateReview {
        schedule: ReviewScheduleInput {
            start: Some(Timestamp(T0.0 + 3 * DAY_MS)),
            recurrence: Recurrence::OneTime,
            duration_days: 7,
            end: ReviewEnd::Never,
        },
        ..review_of("prod operators", db_op, "/prod", Reviewers::SelfReview)
    };
    let prod = s.admin.create_review(&other).await.expect("review").id;
    // The old database: the /prod review has the /db review's name and sorts first by id.
    let mut db = Db::open(&s).await;
    let first = "00000000-0000-7000-8000-000000000001";
    db.execute(&format!("UPDATE access_reviews SET name = 'db OPERATORS', id = '{first}' WHERE id = '{prod}'")).await;
    let scoped = PolicyExportQuery { scope: Some(sp("/db")) };
    let text = s.admin.export_policy(&scoped).await.expect("export /db");
    let without = text.replacen(&format!("\n{DB_REVIEW_TEXT}"), "", 1).replacen(DB_REVIEW_TEXT, "", 1);
    assert!(!without.contains("[[reviews]]"), "{without}");
    let plan = s.admin.plan_policy(&pruning(&without)).await.expect("plan");
    let keys: Vec<(&str, &str)> = plan.changes.iter().map(|c| (c.op.as_str(), c.key.as_str())).collect();
    assert_eq!(keys, [("remove", DB_REVIEW)], "{plan:?}");
    s.admin.apply_policy(&pruning(&without)).await.expect("apply --prune");
    let all = s.admin.list_reviews().await.expect("reviews").items;
    let state = |n: &str| all.iter().find(|r| r.name == n).map(|r| r.stopped_at.is_some());
    assert_eq!(
        (state(DB_REVIEW), state("db OPERATORS")),
        (Some(true), Some(false)),
        "the /db review must be stopped and the /prod one left alone"
    );
}

crate::backend_tests!(
    pruning_a_role_a_kept_review_targets_is_refused,
    a_scoped_prune_stops_only_reviews_in_its_scope,
    reviews_are_policy_by_name,
    reviews_need_reviews_read_and_names_a_file_can_hold,
    resources_are_policy_by_scope,
    alert_rules_are_policy_of_the_root,
    a_scoped_file_manages_only_its_subtree,
    export_apply_on_a_fresh_server_exports_the_same_file,
    plan_after_an_edit_lists_exactly_that_edit,
    a_file_with_an_error_is_refused_with_line_and_field_and_changes_nothing,
    removing_the_last_global_administrator_is_refused_as_a_whole,
    removals_need_prune,
    a_protected_setting_becomes_a_proposal,
    forbidden_paths_change_nothing,
);
