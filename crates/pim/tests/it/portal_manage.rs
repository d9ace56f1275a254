//! The portal's Manage section over HTTP: an administrator creates users, a service principal, a
//! group and its members, and a custom role; makes, checks, changes, removes and renews
//! assignments; edits every role setting (two approval stages, ticket, notifications, protected
//! settings waiting for a second administrator, reset to inherited). A scoped User Access
//! Administrator sees and acts only at its scope; a plain user gets 403 everywhere and changes
//! nothing; bad input gets a clear message and changes nothing. Engine state is read through the
//! API.

use crate::harness::ADMIN_PASSWORD;
use crate::harness::prelude::*;
use crate::portal::{Browser, Page};

const PW: &str = "a-long-password-1";

/// What a user reads on `page` (askama escapes `'` as `&#39;`).
fn words(page: &Page) -> String {
    page.text().replace("&#39;", "'")
}

/// The page's one-time message, as a user reads it.
fn message(page: &Page) -> Option<String> {
    page.flash().map(|f| unescape(&f))
}

fn unescape(v: &str) -> String {
    v.replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in the tag text `tag`.
fn attr(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(unescape(tag[at..].split('"').next()?))
}

/// What a browser sends with the form posting to `action` as `page` fills it: text fields and
/// textareas with their values, checked boxes and radios, selected options (no submit buttons).
fn form_fields(page: &Page, action: &str) -> Vec<(String, String)> {
    let at = format!("method=\"post\" action=\"{action}\"");
    let start = page.body.find(&at).unwrap_or_else(|| panic!("no form posting to {action}"));
    let html = &page.body[start..];
    let html = &html[..html.find("</form>").expect("form end")];
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let tag = &rest[..rest.find('>').expect("tag end")];
        let Some(name) = attr(tag, "name") else { continue };
        if tag.starts_with("input") {
            match attr(tag, "type").as_deref() {
                Some("checkbox" | "radio") if tag.contains(" checked") => {
                    out.push((name, attr(tag, "value").unwrap_or_else(|| "on".into())));
                }
                Some("checkbox" | "radio" | "submit") => {}
                _ => out.push((name, attr(tag, "value").unwrap_or_default())),
            }
        } else if tag.starts_with("textarea") {
            let body = &rest[rest.find('>').expect("tag end") + 1..];
            out.push((name, unescape(&body[..body.find("</textarea>").expect("textarea end")])));
        } else if tag.starts_with("select") {
            let body = &rest[..rest.find("</select>").expect("select end")];
            let selected = body.split("<option").find(|o| o.contains(" selected"));
            out.push((name, selected.and_then(|o| attr(o, "value")).unwrap_or_default()));
        }
    }
    out
}

/// Sets field `name` (adding it, as ticking a box does).
fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    fields.retain(|(k, _)| k != name);
    fields.push((name.to_owned(), value.to_owned()));
}

/// Removes field `name` (unticks a box).
fn unset(fields: &mut Vec<(String, String)>, name: &str) {
    fields.retain(|(k, _)| k != name);
}

fn field(fields: &[(String, String)], name: &str) -> String {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

async fn send(web: &Browser, action: &str, fields: &[(String, String)]) -> Page {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    web.submit(action, &pairs).await
}

/// The administrator, signed in to the portal.
async fn admin(s: &TestServer) -> Browser {
    let web = Browser::new(s);
    assert_eq!(web.sign_in("admin", ADMIN_PASSWORD, None).await.status, 200);
    web
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("time literal")
}

async fn current_of(s: &TestServer, principal: PrincipalId) -> Vec<Assignment> {
    let q = AssignmentQuery { principal_id: Some(principal), ..Default::default() };
    s.admin.list_assignments(&q).await.expect("assignments").items
}

async fn all_assignments(s: &TestServer) -> Vec<Assignment> {
    let q = AssignmentQuery { state: Some(AssignmentState::All), limit: Some(1000), ..Default::default() };
    s.admin.list_assignments(&q).await.expect("assignments").items
}

async fn directory_roles_and_assignments_through_the_portal(b: Backend) {
    let s = TestServer::start(&b).await;
    let web = admin(&s).await;
    let landing = web.open("/manage").await;
    assert_eq!(landing.status, 200);
    assert!(landing.has("<a href=\"/manage/users\" aria-current=\"page\">Users</a>"), "the first tab");

    // A user with a password and a manager; the password is never shown back.
    let fields = [
        ("name", "erin"),
        ("display_name", "Erin Example"),
        ("email", "erin@example.com"),
        ("manager", "admin"),
        ("password", "erin-password-123"),
    ];
    let created = web.submit("/manage/users", &fields).await;
    assert_eq!(message(&created).as_deref(), Some("Created user erin."));
    assert!(!created.has("erin-password-123"));
    let erin = s.admin.get_principal("erin").await.unwrap();
    assert_eq!((erin.display_name.as_str(), erin.manager_id), ("Erin Example", Some(s.admin_id)));
    assert!(erin.enabled && !erin.emergency_access);
    assert_eq!(Browser::new(&s).sign_in("erin", "erin-password-123", None).await.status, 200, "the password works");

    // Edit: display name, email, no manager, emergency access; then disable and enable again.
    let page = web.open(&format!("/manage/users/{}", erin.id)).await;
    let action = format!("/manage/users/{}", erin.id);
    let mut edit = form_fields(&page, &action);
    assert_eq!(field(&edit, "manager"), "admin");
    assert_eq!(field(&edit, "password"), "", "no password is shown");
    set(&mut edit, "display_name", "Erin E.");
    set(&mut edit, "email", "erin@corp.example");
    set(&mut edit, "manager", "");
    set(&mut edit, "emergency_access", "on");
    assert_eq!(message(&send(&web, &action, &edit).await).as_deref(), Some("Saved user erin."));
    let e = s.admin.get_principal("erin").await.unwrap();
    assert_eq!(
        (e.display_name.as_str(), e.email.as_deref(), e.manager_id),
        ("Erin E.", Some("erin@corp.example"), None)
    );
    assert!(e.emergency_access && e.enabled);
    unset(&mut edit, "enabled");
    send(&web, &action, &edit).await;
    assert!(!s.admin.get_principal("erin").await.unwrap().enabled, "disabled");
    set(&mut edit, "enabled", "on");
    send(&web, &action, &edit).await;
    assert!(s.admin.get_principal("erin").await.unwrap().enabled, "enabled again");
    let list = web.open("/manage/users?q=er").await;
    let text = words(&list);
    assert!(text.contains("Erin E.") && text.contains("emergency access") && !text.contains("The Admin"), "{text}");

    // A service principal.
    let sp = web.submit("/manage/service-principals", &[("name", "ci-bot"), ("description", "The CI")]).await;
    assert!(words(&sp).contains("Created service principal ci-bot."), "{}", words(&sp));
    assert_eq!(s.admin.get_principal("ci-bot").await.unwrap().kind, PrincipalKind::ServicePrincipal);

    // A group, its members by name; a service principal or an unknown name is refused.
    let g = web.submit("/manage/groups", &[("name", "dbas"), ("description", "Database admins")]).await;
    assert_eq!(message(&g).as_deref(), Some("Created group dbas."));
    let dbas = s.admin.get_principal("dbas").await.unwrap();
    let members = format!("/manage/groups/{}/members", dbas.id);
    assert_eq!(message(&web.submit(&members, &[("member", "erin")]).await).as_deref(), Some("Added erin to dbas."));
    let ops = s.group("ops").await;
    web.submit(&members, &[("member", "ops")]).await;
    let bot = web.submit(&members, &[("member", "ci-bot")]).await;
    assert!(words(&bot).contains("groups hold users and groups, not service principals"), "{}", words(&bot));
    let nobody = web.submit(&members, &[("member", "nobody")]).await;
    assert!(words(&nobody).contains("Member: there is no user, group or service principal named 'nobody'."));
    let ops_id = ops.to_string();
    let removed = web.submit(&format!("{members}/remove"), &[("member_id", ops_id.as_str())]).await;
    assert_eq!(message(&removed).as_deref(), Some("Removed ops from dbas."));
    let names: Vec<String> = s.admin.list_members(dbas.id).await.unwrap().items.into_iter().map(|p| p.name).collect();
    assert_eq!(names, vec!["erin".to_owned()]);
    assert!(words(&removed).contains("erin user enabled"), "{}", words(&removed));

    // A custom role; a bad action is refused with the typed values kept.
    let bad = web
        .post("/manage/roles", &[("name", "DB Operator"), ("actions", "db..read"), ("not_actions", "db.drop")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(words(&bad).contains("Actions: action 'db..read' is not dot-separated segments"), "{}", words(&bad));
    assert_eq!(field(&form_fields(&bad, "/manage/roles"), "not_actions"), "db.drop");
    let role_fields = [
        ("name", "DB Operator"),
        ("description", "Runs the databases"),
        ("actions", "db.read\r\ndb.write\r\n"),
        ("not_actions", "db.drop"),
    ];
    let made = web.submit("/manage/roles", &role_fields).await;
    assert_eq!(message(&made).as_deref(), Some("Created the custom role DB Operator."));
    let role = s.admin.get_role("DB Operator").await.unwrap();
    let pats = |v: &[Pattern]| v.iter().map(|p| p.as_str().to_owned()).collect::<Vec<_>>();
    assert_eq!(pats(&role.permissions.actions), ["db.read", "db.write"]);
    assert_eq!(pats(&role.permissions.not_actions), ["db.drop"]);
    let page = web.open(&format!("/manage/roles/{}", role.id)).await;
    let action = format!("/manage/roles/{}", role.id);
    let mut edit = form_fields(&page, &action);
    set(&mut edit, "description", "Operates the databases");
    assert_eq!(message(&send(&web, &action, &edit).await).as_deref(), Some("Saved the role DB Operator."));
    assert_eq!(s.admin.get_role("DB Operator").await.unwrap().description, "Operates the databases");
    let builtin = web.open(&format!("/manage/roles/{}", role::GLOBAL_ADMINISTRATOR)).await;
    assert!(
        words(&builtin).contains("built-in (read only)") && !builtin.has("Save role") && !builtin.has("Delete role")
    );
    let temp = s.custom_role("Temp Role", &["tmp.read"]).await;
    let gone = web.submit(&format!("/manage/roles/{temp}/delete"), &[]).await;
    assert_eq!(message(&gone).as_deref(), Some("Deleted the role Temp Role."));
    assert_eq!(status(s.admin.get_role("Temp Role").await), 404);
    let kept = web.submit(&format!("/manage/roles/{}/delete", role::READER), &[]).await;
    assert!(words(&kept).contains("the built-in role Reader cannot be deleted"), "{}", words(&kept));

    // An eligible, time-bound assignment to the group: checked first (nothing made), then made.
    let eligible = [
        ("principal", "dbas"),
        ("role", "DB Operator"),
        ("scope", "/db"),
        ("kind", "eligible"),
        ("duration", "bound"),
        ("end", "2026-02-01T00:00"),
        ("justification", "on-call rota"),
    ];
    let mut check = eligible.to_vec();
    check.push(("intent", "check"));
    let checked = web.submit("/manage/assignments", &check).await;
    assert_eq!(checked.status, 200);
    assert!(
        words(&checked).contains("This assignment would be made from 2026-01-05 09:00 UTC until 2026-02-01 00:00 UTC."),
        "{}",
        words(&checked)
    );
    assert_eq!(field(&form_fields(&checked, "/manage/assignments"), "principal"), "dbas", "the form keeps its values");
    assert!(current_of(&s, dbas.id).await.is_empty(), "a check changes nothing");
    let mut assign = eligible.to_vec();
    assign.push(("intent", "assign"));
    let done = web.submit("/manage/assignments", &assign).await;
    assert!(
        words(&done).contains("Assigned DB Operator at /db to dbas: eligible, until 2026-02-01 00:00 UTC"),
        "{}",
        words(&done)
    );
    let held = current_of(&s, dbas.id).await;
    assert_eq!(held.len(), 1);
    assert_eq!(
        (held[0].kind, held[0].principal_kind, held[0].role_id),
        (AssignmentKind::Eligible, PrincipalKind::Group, role.id)
    );
    assert_eq!(held[0].window.end, Some(at("2026-02-01T00:00:00Z")));
    let group_elig = held[0].id;

    // An active, permanent assignment to the user.
    let active = [
        ("principal", "erin"),
        ("role", "Reader"),
        ("scope", "/db"),
        ("kind", "active"),
        ("duration", "permanent"),
        ("justification", "reads the dashboards"),
        ("intent", "assign"),
    ];
    let done = web.submit("/manage/assignments", &active).await;
    assert!(words(&done).contains("Assigned Reader at /db to erin: active, permanent"), "{}", words(&done));
    let held = current_of(&s, erin.id).await;
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].kind, held[0].window.end), (AssignmentKind::Active, None));
    let erin_active = held[0].id;

    // The list and its filters.
    let all = words(&web.open("/manage/assignments").await);
    assert!(all.contains("DB Operator") && all.contains("Reader") && all.contains("dbas group"), "{all}");
    let only_erin = words(&web.open("/manage/assignments?principal=erin").await);
    assert!(only_erin.contains("Reader") && !only_erin.contains("DB Operator"), "{only_erin}");
    let only_eligible = words(&web.open("/manage/assignments?kind=eligible&scope=%2Fdb&match=exact").await);
    assert!(only_eligible.contains("DB Operator") && !only_eligible.contains("erin user"), "{only_eligible}");

    // Change the window, remove, and renew the removed one.
    let id = erin_active.to_string();
    let changed = web
        .submit(
            "/manage/assignments/update",
            &[("assignment_id", id.as_str()), ("end", "2026-03-01T00:00"), ("justification", "until March")],
        )
        .await;
    assert!(
        words(&changed)
            .contains("Changed Reader at /db for erin: from 2026-01-05 09:00 UTC until 2026-03-01 00:00 UTC."),
        "{}",
        words(&changed)
    );
    assert_eq!(s.admin.get_assignment(erin_active).await.unwrap().window.end, Some(at("2026-03-01T00:00:00Z")));
    let id = group_elig.to_string();
    let back = "/manage/assignments?principal=dbas";
    let removed = web
        .post(
            "/manage/assignments/remove",
            &[("assignment_id", id.as_str()), ("justification", "rota ended"), ("back", back)],
        )
        .await;
    assert_eq!(removed.location.as_deref(), Some(back), "back to the list as it was filtered");
    let removed = web.open(back).await;
    assert_eq!(message(&removed).as_deref(), Some("Removed DB Operator at /db for dbas."));
    assert!(current_of(&s, dbas.id).await.is_empty());
    let ended = web.open("/manage/assignments?principal=dbas&ended=1").await;
    assert!(words(&ended).contains("ended") && ended.has(&format!("renew-end-{group_elig}")), "{}", words(&ended));
    let renewed = web
        .submit(
            "/manage/assignments/renew",
            &[("assignment_id", id.as_str()), ("end", "2026-04-01T00:00"), ("justification", "new rota")],
        )
        .await;
    assert!(
        words(&renewed).contains("Renewed DB Operator at /db for dbas until 2026-04-01 00:00 UTC."),
        "{}",
        words(&renewed)
    );
    let held = current_of(&s, dbas.id).await;
    assert_eq!((held.len(), held[0].window.end), (1, Some(at("2026-04-01T00:00:00Z"))));

    // The user's page: groups and assignments, direct and through the group; MFA reset.
    let client = s.client_for(erin.id).await;
    s.enroll_mfa(&client).await;
    let page = web.open(&format!("/manage/users/{}", erin.id)).await;
    let text = words(&page);
    assert!(
        text.contains("dbas direct member") && text.contains("DB Operator") && text.contains("group dbas"),
        "{text}"
    );
    let reset = web.submit(&format!("/manage/users/{}/reset-mfa", erin.id), &[]).await;
    assert!(words(&reset).contains("Reset the MFA of erin: 1 authenticator and 10 recovery codes removed. They must set up an authenticator again."), "{}", words(&reset));
    assert!(client.mfa_status().await.unwrap().confirmed_at.is_none());
}

/// The settings page's form for `role` at `scope`, as shown.
async fn settings_form(web: &Browser, role: &str, scope: &str) -> (Page, Vec<(String, String)>) {
    let page = web.open(&format!("/manage/settings?role={role}&scope={scope}")).await;
    assert_eq!(page.status, 200, "{}", words(&page));
    let fields = form_fields(&page, "/manage/settings");
    (page, fields)
}

async fn every_role_setting_through_the_portal(b: Backend) {
    let s = TestServer::start(&b).await;
    let (ann, _) = s.user("ann").await;
    let (bob, _) = s.user("bob").await;
    let approvers = s.group("approvers").await;
    let web = admin(&s).await;
    let settings = |scope: &'static str| {
        let c = &s.admin;
        async move { c.get_settings("Contributor", &sp(scope)).await.unwrap() }
    };

    // Nothing defined: the defaults; the form sent back unchanged defines exactly them.
    let (page, fields) = settings_form(&web, "Contributor", "%2Fprod").await;
    assert!(
        words(&page).contains("These are pim's defaults: nothing is defined at /prod or above it."),
        "{}",
        words(&page)
    );
    let saved = send(&web, "/manage/settings", &fields).await;
    assert_eq!(
        message(&saved).as_deref(),
        Some("Saved the settings of Contributor at /prod: they apply there and below.")
    );
    let e = settings("/prod").await;
    assert_eq!((e.defined_at, e.settings), (Some(sp("/prod")), RoleSettings::default()));

    // Approval in two stages (N of M, timeout, escalation), a ticket, shorter activations, no
    // permanent active assignments, notification rules.
    let (_, mut f) = settings_form(&web, "Contributor", "%2Fprod").await;
    set(&mut f, "activation_max_minutes", "120");
    set(&mut f, "require_ticket_on_activation", "on");
    set(&mut f, "require_approval_to_activate", "on");
    set(&mut f, "stage1_approvers", "ann, approvers");
    set(&mut f, "stage1_required", "2");
    set(&mut f, "stage1_timeout", "120");
    set(&mut f, "stage1_escalation", "bob");
    set(&mut f, "stage1_escalation_after", "60");
    set(&mut f, "stage2_approvers", "admin");
    set(&mut f, "stage2_timeout", "240");
    unset(&mut f, "allow_permanent_active");
    set(&mut f, "active_expire_after_days", "90");
    unset(&mut f, "require_approval_for_extension");
    set(&mut f, "allow_break_glass", "on");
    set(&mut f, "require_mfa_on_active_assignment", "on");
    set(&mut f, "assigned_active_admins_additional", "sec@example.com, audit@example.com");
    set(&mut f, "assigned_active_admins_critical", "on");
    unset(&mut f, "eligible_member_activated_requester_default");
    set(&mut f, "ssh_principals", "deploy, root");
    let saved = send(&web, "/manage/settings", &f).await;
    assert_eq!(saved.status, 200);
    let user = |id| ApproverRef { kind: PrincipalKind::User, id };
    let mut want = RoleSettings {
        activation_max_minutes: 120,
        require_ticket_on_activation: true,
        require_approval_to_activate: true,
        approval_stages: vec![
            ApprovalStage {
                approvers: vec![user(ann), ApproverRef { kind: PrincipalKind::Group, id: approvers }],
                required_approvals: 2,
                timeout_minutes: 120,
                escalation: Some(Escalation { approvers: vec![user(bob)], after_minutes: 60 }),
            },
            ApprovalStage {
                approvers: vec![user(s.admin_id)],
                required_approvals: 1,
                timeout_minutes: 240,
                escalation: None,
            },
        ],
        allow_permanent_active: false,
        active_expire_after_days: 90,
        require_approval_for_extension: false,
        allow_break_glass: true,
        require_mfa_on_active_assignment: true,
        ssh_principals: vec!["deploy".into(), "root".into()],
        ..RoleSettings::default()
    };
    want.notifications.assigned_active.admins.additional_recipients =
        vec!["sec@example.com".into(), "audit@example.com".into()];
    want.notifications.assigned_active.admins.critical_only = true;
    want.notifications.eligible_member_activated.requester.default_recipients = false;
    assert_eq!(settings("/prod").await.settings, want, "every field as the form set it");
    let below = settings("/prod/db").await;
    assert_eq!((below.defined_at, below.settings), (Some(sp("/prod")), want.clone()), "inherited below");
    let (page, f) = settings_form(&web, "Contributor", "%2Fprod%2Fdb").await;
    let text = words(&page);
    assert!(text.contains("They are inherited from /prod: nothing is defined at /prod/db itself."), "{text}");
    assert!(text.contains("Approval stage 2 admin; 1 approval needed; times out after 240 minutes"), "{text}");
    assert_eq!(field(&f, "stage1_approvers"), "ann, approvers");
    assert_eq!(field(&f, "ssh_principals"), "deploy, root", "the form shows the SSH principals");
    assert!(text.contains("SSH certificate principals deploy, root"), "{text}");
    assert_eq!(field(&f, "stage1_escalation"), "bob");
    // The engine applies them: an activation now needs approval and a ticket.
    let (dev, dev_client) = s.user("dev").await;
    s.assign(dev, role::CONTRIBUTOR, "/prod", AssignmentKind::Eligible, None).await;
    let mut ask = activation(role::CONTRIBUTOR, "/prod", 60);
    ask.validate_only = Some(true);
    let v = dev_client.validate_request(&ask).await.unwrap();
    assert!(v.needs.ticket && v.needs.approval, "{v:?}");

    // Bad input: shown again as typed with a message; nothing changes.
    let (_, good) = settings_form(&web, "Contributor", "%2Fprod").await;
    for (name, value, message) in [
        ("activation_max_minutes", "abc", "Longest activation (minutes, 30 to 1440): 'abc' is not a valid number."),
        ("activation_max_minutes", "10", "activationMaxMinutes must be between 30 and 1440"),
        (
            "stage1_approvers",
            "ghost",
            "Approval stage 1, approvers: there is no user, group or service principal named 'ghost'.",
        ),
        ("stage1_required", "two", "Approval stage 1, approvals needed: 'two' is not a valid number."),
        ("assigned_eligible_admins_additional", "not-an-address", "'not-an-address' is not an email address"),
        ("ssh_principals", "deploy, -oProxyCommand=x", "SSH principals: '-oProxyCommand=x' is not a login name"),
        ("ssh_principals", "root root", "sshPrincipals: 'root' is named twice"),
    ] {
        let mut f = good.clone();
        set(&mut f, name, value);
        let page = send(&web, "/manage/settings", &f).await;
        assert_eq!(page.status, 422, "{name}");
        assert!(words(&page).contains(message), "{name}: {}", words(&page));
        assert_eq!(field(&form_fields(&page, "/manage/settings"), name), value, "typed values are kept");
    }
    let mut f = good.clone();
    for k in ["stage1_approvers", "stage2_approvers"] {
        set(&mut f, k, "");
    }
    let page = send(&web, "/manage/settings", &f).await;
    assert!(words(&page).contains("Approval: to require approval, name the approvers of stage 1."), "{}", words(&page));
    assert_eq!(settings("/prod").await.settings, want, "nothing changed");

    // Reset to inherited.
    let (_, f) = settings_form(&web, "Contributor", "%2Fprod%2Fx").await;
    send(&web, "/manage/settings", &f).await;
    assert_eq!(settings("/prod/x").await.defined_at, Some(sp("/prod/x")));
    let reset = web.submit("/manage/settings/reset", &[("role", "Contributor"), ("scope", "/prod/x")]).await;
    assert_eq!(message(&reset).as_deref(), Some("Contributor at /prod/x now inherits its settings."));
    assert_eq!(settings("/prod/x").await.defined_at, Some(sp("/prod")));

    // Protected settings: the next change waits for a second administrator.
    let mut f = good.clone();
    set(&mut f, "protected", "on");
    send(&web, "/manage/settings", &f).await;
    assert!(settings("/prod").await.settings.protected);
    set(&mut f, "activation_max_minutes", "60");
    let pending = send(&web, "/manage/settings", &f).await;
    assert!(
        words(&pending)
            .contains("These settings are protected: your change waits for a second administrator to approve it"),
        "{}",
        words(&pending)
    );
    assert!(words(&pending).contains("it waits for another administrator"), "the page shows the pending change");
    assert_eq!(settings("/prod").await.settings.activation_max_minutes, 120, "not applied");
    let changes = s.admin.list_settings_changes(Some(RequestStatus::PendingApproval)).await.unwrap().items;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].settings.as_ref().map(|x| x.activation_max_minutes), Some(60));
}

async fn a_scoped_user_access_administrator_acts_only_at_its_scope(b: Backend) {
    let s = TestServer::start(&b).await;
    let uaa = s.user_with_password("uaa", PW).await;
    s.assign(uaa, role::USER_ACCESS_ADMINISTRATOR, "/prod", AssignmentKind::Active, None).await;
    let (erin, _) = s.user("erin").await;
    let at_root = s.assign(erin, role::READER, "/", AssignmentKind::Active, None).await;
    s.assign(erin, role::READER, "/prod/app", AssignmentKind::Eligible, None).await;
    let web = Browser::new(&s);
    web.sign_in("uaa", PW, None).await;

    let page = web.open("/manage").await;
    assert_eq!(page.status, 200);
    assert!(page.has("<a href=\"/manage/assignments\" aria-current=\"page\">Assignments</a>"), "lands on assignments");
    assert!(!page.has("href=\"/manage/users\"") && !page.has("href=\"/manage/roles\""), "tabs it may not use");
    assert!(page.has("<td><code>/prod/app</code></td>") && page.has("<td><code>/prod</code></td>"));
    assert!(!page.has("<td><code>/</code></td>"), "nothing outside /prod");
    assert!(words(&page).contains("You may assign at /prod and below."), "{}", words(&page));
    assert_eq!(field(&form_fields(&page, "/manage/assignments"), "scope"), "/prod");
    let filtered = web.open("/manage/assignments?principal=erin").await;
    assert!(filtered.has("<td><code>/prod/app</code></td>") && !filtered.has("<td><code>/</code></td>"));

    // It assigns at /prod, by name; at / it is refused and nothing is made.
    let before = all_assignments(&s).await.len();
    let mut f = vec![("principal", "erin"), ("role", "Reader"), ("scope", "/prod/db"), ("kind", "eligible")];
    f.extend([("duration", "permanent"), ("intent", "assign")]);
    let done = web.submit("/manage/assignments", &f).await;
    assert!(words(&done).contains("Assigned Reader at /prod/db to erin: eligible, permanent"), "{}", words(&done));
    assert_eq!(all_assignments(&s).await.len(), before + 1);
    let f: Vec<_> = f.into_iter().map(|(k, v)| (k, if k == "scope" { "/" } else { v })).collect();
    let refused = web.submit("/manage/assignments", &f).await;
    assert_eq!(refused.status, 422);
    assert!(words(&refused).contains("uaa lacks the permission pim.assignments.write at /"), "{}", words(&refused));
    assert_eq!(all_assignments(&s).await.len(), before + 1);
    let id = at_root.id.to_string();
    let remove =
        web.post("/manage/assignments/remove", &[("assignment_id", id.as_str()), ("justification", "x")]).await;
    assert_eq!(remove.status, 403);
    assert!(s.admin.get_assignment(at_root.id).await.unwrap().ended_early_at.is_none(), "still there");

    // Directory and roles are read at / only; settings it may read at /prod but not change.
    assert_eq!(web.get("/manage/users").await.status, 403);
    assert_eq!(web.get("/manage/roles").await.status, 403);
    let settings = web.open("/manage/settings?role=Reader").await;
    assert_eq!(settings.status, 200);
    assert!(words(&settings).contains("Reader at /prod") && !settings.has("Save settings"), "{}", words(&settings));
    let post =
        web.post("/manage/settings", &[("role", "Reader"), ("scope", "/prod"), ("activation_max_minutes", "60")]).await;
    assert_eq!(post.status, 403);
    assert!(s.admin.list_settings(None).await.unwrap().items.is_empty());
}

/// Everything the Manage section could change, as the administrator reads it.
async fn snapshot(s: &TestServer, group: PrincipalId) -> String {
    let q = ListQuery { limit: Some(1000), ..Default::default() };
    let users = s.admin.list_users(&q).await.unwrap().items;
    let groups = s.admin.list_groups(&q).await.unwrap().items;
    let sps = s.admin.list_service_principals(&q).await.unwrap().items;
    let roles = s.admin.list_roles().await.unwrap().items;
    let settings = s.admin.list_settings(None).await.unwrap().items;
    let members = s.admin.list_members(group).await.unwrap().items;
    let assignments = all_assignments(s).await;
    serde_json::to_string(&(users, groups, sps, roles, settings, members, assignments)).unwrap()
}

async fn a_plain_user_gets_403_everywhere_and_changes_nothing(b: Backend) {
    let s = TestServer::start(&b).await;
    let pat = s.user_with_password("pat", PW).await;
    let group = s.group("team").await;
    s.admin.add_member(group, pat).await.unwrap();
    let custom = s.custom_role("Custom", &["x.read"]).await;
    let a = s.assign(pat, custom, "/x", AssignmentKind::Eligible, Some(T0.plus_millis(DAY_MS))).await;
    s.set_settings(custom, "/x", |st| st.activation_max_minutes = 60).await;
    let web = Browser::new(&s);
    web.sign_in("pat", PW, None).await;
    let before = snapshot(&s, group).await;

    let (pat_s, group_s, role_s, a_s) = (pat.to_string(), group.to_string(), custom.to_string(), a.id.to_string());
    for path in [
        "/manage".to_owned(),
        "/manage/users".into(),
        format!("/manage/users/{pat_s}"),
        "/manage/groups".into(),
        format!("/manage/groups/{group_s}"),
        "/manage/roles".into(),
        format!("/manage/roles/{role_s}"),
        "/manage/assignments".into(),
        "/manage/assignments?principal=pat".into(),
        "/manage/settings".into(),
        "/manage/settings?role=Custom&scope=%2Fx".into(),
    ] {
        let page = web.get(&path).await;
        assert_eq!(page.status, 403, "GET {path}");
        assert!(words(&page).contains("pat lacks the permission") || path == "/manage", "{path}: {}", words(&page));
    }
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/manage/users".into(), vec![("name", "mallory"), ("password", PW)]),
        (
            format!("/manage/users/{pat_s}"),
            vec![("display_name", "Pat"), ("enabled", "on"), ("emergency_access", "on")],
        ),
        (format!("/manage/users/{pat_s}/reset-mfa"), vec![]),
        ("/manage/service-principals".into(), vec![("name", "bot")]),
        ("/manage/groups".into(), vec![("name", "g2")]),
        (format!("/manage/groups/{group_s}/members"), vec![("member", "admin")]),
        (format!("/manage/groups/{group_s}/members/remove"), vec![("member_id", pat_s.as_str())]),
        ("/manage/roles".into(), vec![("name", "Mine"), ("actions", "*")]),
        (format!("/manage/roles/{role_s}"), vec![("name", "Custom"), ("actions", "*")]),
        (format!("/manage/roles/{role_s}/delete"), vec![]),
        (
            "/manage/assignments".into(),
            vec![
                ("principal", "pat"),
                ("role", "Global Administrator"),
                ("scope", "/"),
                ("kind", "active"),
                ("intent", "assign"),
            ],
        ),
        ("/manage/assignments/remove".into(), vec![("assignment_id", a_s.as_str())]),
        ("/manage/assignments/update".into(), vec![("assignment_id", a_s.as_str()), ("permanent", "on")]),
        ("/manage/assignments/renew".into(), vec![("assignment_id", a_s.as_str()), ("permanent", "on")]),
        ("/manage/settings".into(), vec![("role", "Custom"), ("scope", "/x"), ("activation_max_minutes", "1440")]),
        ("/manage/settings/reset".into(), vec![("role", "Custom"), ("scope", "/x")]),
    ];
    for (path, fields) in posts {
        let page = web.post(&path, &fields).await;
        assert_eq!(page.status, 403, "POST {path}");
        assert!(words(&page).contains("pat lacks the permission"), "POST {path}: {}", words(&page));
    }
    assert_eq!(snapshot(&s, group).await, before, "nothing changed");
}

async fn bad_input_gets_a_clear_message_and_changes_nothing(b: Backend) {
    let s = TestServer::start(&b).await;
    let (erin, _) = s.user("erin").await;
    let web = admin(&s).await;
    let before = all_assignments(&s).await.len();
    let base = [
        ("principal", "erin"),
        ("role", "Reader"),
        ("scope", "/prod"),
        ("kind", "eligible"),
        ("duration", "bound"),
        ("start", "2026-01-10T00:00"),
        ("end", "2026-02-10T00:00"),
        ("intent", "assign"),
    ];
    for (name, value, message) in [
        ("principal", "nobody", "Principal: there is no user, group or service principal named 'nobody'."),
        ("role", "Nope", "Role: there is no role named 'Nope'."),
        ("scope", "prod/db", "Scope: scope 'prod/db' must start with '/'."),
        ("scope", "/prod//db", "Scope: scope '/prod//db' has an empty segment"),
        ("end", "2026-01-09T00:00", "End: the end must be after the start."),
        ("end", "", "End: give the end of a time-bound assignment."),
        ("start", "tomorrow", "Start: 'tomorrow' is not a date and time."),
        ("kind", "sometimes", "Type: choose eligible or active."),
        ("ticket_system", "jira", "Ticket: give both the ticket system and its number."),
    ] {
        let mut f: Vec<(&str, &str)> = base.iter().copied().filter(|(k, _)| *k != name).collect();
        f.push((name, value));
        let page = web.submit("/manage/assignments", &f).await;
        assert_eq!(page.status, 422, "{name}={value}");
        assert!(words(&page).contains(message), "{name}={value}: {}", words(&page));
        if name != "kind" {
            assert_eq!(field(&form_fields(&page, "/manage/assignments"), name), value, "kept as typed");
        }
    }
    // The engine's own rules come back the same way.
    s.user("old").await;
    s.admin
        .update_user(
            s.admin.get_principal("old").await.unwrap().id,
            &UpdateUser { enabled: Some(false), ..Default::default() },
        )
        .await
        .unwrap();
    let mut f = base.to_vec();
    f[0] = ("principal", "old");
    let page = web.submit("/manage/assignments", &f).await;
    assert!(words(&page).contains("old is disabled"), "{}", words(&page));
    assert_eq!(all_assignments(&s).await.len(), before, "nothing was assigned");

    // Filters that name nothing, or a malformed scope.
    let page = web.get("/manage/assignments?role=Nope").await;
    assert_eq!(page.status, 400);
    assert!(words(&page).contains("Role: there is no role named 'Nope'."));
    let page = web.get("/manage/assignments?scope=db").await;
    assert!(page.status == 400 && words(&page).contains("Scope: scope 'db' must start with '/'."));
    let page = web.get("/manage/settings?role=Reader&scope=..").await;
    assert!(page.status == 400 && words(&page).contains("Scope:"), "{}", words(&page));

    // Row actions.
    let a = s.assign(erin, role::READER, "/prod", AssignmentKind::Active, None).await;
    let id = a.id.to_string();
    let page = web.submit("/manage/assignments/update", &[("assignment_id", id.as_str()), ("end", "soon")]).await;
    assert_eq!(message(&page).as_deref(), Some("End: 'soon' is not a date and time."));
    let page = web.submit("/manage/assignments/update", &[("assignment_id", id.as_str())]).await;
    assert!(words(&page).contains("End: give the new end, or make the assignment permanent."));
    let page =
        web.submit("/manage/assignments/update", &[("assignment_id", id.as_str()), ("end", "2025-01-01T00:00")]).await;
    assert!(words(&page).contains("the end must be after the start and in the future"), "{}", words(&page));
    let page = web.submit("/manage/assignments/remove", &[("assignment_id", "not-an-id")]).await;
    assert!(words(&page).contains("Choose the assignment to change."));
    assert_eq!(s.admin.get_assignment(a.id).await.unwrap().window.end, None, "unchanged");

    // Directory input.
    let page = web.submit("/manage/users", &[("name", "zed"), ("email", "not-an-email")]).await;
    assert!(words(&page).contains("'not-an-email' is not an email address"), "{}", words(&page));
    let page = web.submit("/manage/users", &[("name", "erin")]).await;
    assert!(words(&page).contains("the name 'erin' is already taken"), "{}", words(&page));
    let page = web.submit("/manage/users", &[("name", "zed"), ("password", "short")]).await;
    assert!(words(&page).contains("a password must be"), "{}", words(&page));
    let page = web.submit("/manage/users", &[("name", "zed"), ("manager", "ghost")]).await;
    assert!(words(&page).contains("Manager: there is no user, group or service principal named 'ghost'."));
    assert_eq!(status(s.admin.get_principal("zed").await), 404, "no user was made");
    assert_eq!(web.get("/manage/users/not-an-id").await.status, 404);
    assert_eq!(web.get(&format!("/manage/groups/{erin}")).await.status, 404, "a user is not a group");
    assert_eq!(web.get("/manage/roles/not-a-role").await.status, 404);
}

crate::backend_tests!(
    directory_roles_and_assignments_through_the_portal,
    every_role_setting_through_the_portal,
    a_scoped_user_access_administrator_acts_only_at_its_scope,
    a_plain_user_gets_403_everywhere_and_changes_nothing,
    bad_input_gets_a_clear_message_and_changes_nothing,
);
