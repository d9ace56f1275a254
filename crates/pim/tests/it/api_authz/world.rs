//! The principals, roles, assignments, requests, alerts and reviews every row of the matrix acts on.

use super::grants::expected_grants;
use crate::harness::prelude::*;
use crate::hostile::{item_of, review_of, selected, start_review};

/// What every row shares.
pub(super) struct World {
    pub(super) ops: RoleId,
    pub(super) victim: PrincipalId,
    pub(super) robot: PrincipalId,
    pub(super) team: PrincipalId,
    pub(super) box_add: PrincipalId,
    pub(super) box_rm: PrincipalId,
    pub(super) res_a: ResourceId,
    pub(super) a_assignment: AssignmentId,
    pub(super) a_request: RequestId,
    pub(super) victim_activation: AssignmentId,
    pub(super) victim_extendable: AssignmentId,
    pub(super) victim_pending: RequestId,
    pub(super) change: SettingsChangeId,
    /// An active alert no row dismisses (of the non-remediable rule `externalAccess`).
    pub(super) alert: AlertId,
    /// The bootstrap administrator.
    pub(super) admin: PrincipalId,
    /// An access review of Ops at `/rvw` (the victim's access and every row's own), reviewed by
    /// the users of every row, and its instance in progress.
    pub(super) review: ReviewId,
    pub(super) instance: ReviewInstanceId,
    /// The item of `instance` reviewing the victim's access.
    pub(super) victim_item: ReviewItemId,
    /// An instance in progress reviewed by the administrator only, and its item.
    pub(super) other_instance: ReviewInstanceId,
    pub(super) other_item: ReviewItemId,
}

/// One row of the matrix: a principal holding one role, and what it may act on.
pub(super) struct RowFx {
    pub(super) label: String,
    pub(super) grants: Option<Vec<&'static str>>,
    pub(super) i: usize,
    pub(super) uid: PrincipalId,
    pub(super) uname: String,
    pub(super) token: Option<String>,
    pub(super) logout_token: String,
    pub(super) own_token: TokenId,
    pub(super) own_activation: AssignmentId,
    pub(super) own_extendable: AssignmentId,
    pub(super) own_expired: AssignmentId,
    pub(super) own_pending: RequestId,
    pub(super) robot_token: TokenId,
    pub(super) v_update: AssignmentId,
    pub(super) v_remove: AssignmentId,
    pub(super) v_extend: AssignmentId,
    pub(super) v_renew: AssignmentId,
    pub(super) v_approve: RequestId,
    pub(super) v_deny: RequestId,
    pub(super) v_break_glass: RequestId,
    pub(super) change_approve: SettingsChangeId,
    pub(super) change_deny: SettingsChangeId,
    /// The first code of the TOTP authenticator the row's user enrolled (pending).
    pub(super) mfa_confirm: String,
    /// A later code of it (the next time step), for passing MFA after confirming.
    pub(super) mfa_verify: String,
    /// An active alert of the row's own, to dismiss.
    pub(super) alert: AlertId,
    /// Resources of the row's own, to rename and to remove.
    pub(super) res_upd: ResourceId,
    pub(super) res_del: ResourceId,
    /// The item of the world's review instance reviewing the row's own access.
    pub(super) own_item: ReviewItemId,
    /// A review of the row's own to stop; its instance is completed, to apply.
    pub(super) rv_stop: ReviewId,
    pub(super) ri_apply: ReviewInstanceId,
    /// Instances in progress of the row's own, to reset and to stop.
    pub(super) ri_reset: ReviewInstanceId,
    pub(super) ri_stop: ReviewInstanceId,
}

/// Makes the settings of `role` at `scope` protected, then has the administrator propose a change
/// there: a settings change waiting for a second administrator.
pub(crate) async fn propose_change(s: &TestServer, role: RoleId, scope: &str) -> SettingsChangeId {
    s.set_settings(role, scope, |x| x.protected = true).await;
    let mut st = s.admin.get_settings(&role.to_string(), &sp(scope)).await.expect("settings").settings;
    st.activation_max_minutes = 90;
    match s.admin.put_settings(&role.to_string(), &sp(scope), &st).await.expect("proposed") {
        pim_client::SettingsOutcome::Pending(c) => c.id,
        other => panic!("expected a pending change, got {other:?}"),
    }
}

/// An active `externalAccess` alert, as a connector would raise it for `system`.
pub(crate) async fn external_alert(s: &TestServer, system: &str) -> AlertId {
    let item = AlertItem { detail: format!("found in {system}"), ..Default::default() };
    s.engine.report_external_access(system, vec![item]).await.expect("report").expect("alert").id
}

pub(super) struct Holding {
    pub(super) label: String,
    /// (role, scope, kind) assigned to the row's user; `None` scope means the group `team`.
    pub(super) role: Option<(RoleId, Option<&'static str>, AssignmentKind)>,
    pub(super) grants: Option<Vec<&'static str>>,
    pub(super) via_group: bool,
}

pub(super) async fn build_world(s: &TestServer, rows: &[Holding]) -> (World, Vec<RowFx>) {
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    s.without_mfa(ops).await;
    s.custom_role("Target", &["target.*"]).await;
    let (victim, victim_client) = s.user("victim").await;
    let robot = s.service_principal("robot").await;
    let team = s.group("team").await;
    let box_add = s.group("box-add").await;
    let box_rm = s.group("box-rm").await;
    let readers = s.group("readers").await;
    s.assign(readers, role::SECURITY_READER, "/", AssignmentKind::Active, None).await;
    s.admin
        .create_user(&CreateUser {
            name: "loginuser".into(),
            password: Some("login-password-1".into()),
            ..Default::default()
        })
        .await
        .expect("login user");
    let res_a = s
        .admin
        .create_resource(&CreateResource { scope: sp("/a"), name: "A".into(), kind: "subscription".into() })
        .await
        .expect("resource")
        .id;
    s.set_settings(ops, "/a", |x| x.activation_max_minutes = 240).await;
    let a = s.assign(victim, ops, "/a", AssignmentKind::Eligible, None).await;
    // The audience every row reads (each row that may write makes, changes and removes its own).
    s.admin
        .create_audience(&CreateAudience {
            name: "shared".into(),
            roles: Some(vec!["Reader".into()]),
            scope_prefix: None,
            lifetime_secs: None,
            algorithm: None,
            introspector: None,
        })
        .await
        .expect("audience");

    // Phase 1: what must have ended by the time the matrix runs.
    let end_soon = Some(T0.plus_millis(HOUR_MS));
    let mut users = Vec::new();
    for (i, _) in rows.iter().enumerate() {
        let name = format!("u{i}");
        let (uid, client) = s.user(&name).await;
        let own_expired = s.assign(uid, ops, &format!("/sr{i}"), AssignmentKind::Eligible, end_soon).await.id;
        let v_renew = s.assign(victim, ops, &format!("/n{i}"), AssignmentKind::Eligible, end_soon).await.id;
        users.push((uid, name, client, own_expired, v_renew));
    }
    s.advance(2 * HOUR_MS);
    let now = s.engine.now();

    s.assign(victim, ops, "/va", AssignmentKind::Eligible, None).await;
    let victim_activation =
        victim_client.create_request(&activation(ops, "/va", 60)).await.expect("victim activates").assignment;
    let victim_activation = victim_activation.expect("activation").id;
    let in_week = Some(now.plus_millis(7 * DAY_MS));
    let victim_extendable = s.assign(victim, ops, "/vext", AssignmentKind::Eligible, in_week).await.id;
    let mut ext = CreateRequest::for_assignment(RequestAction::SelfExtend, victim_extendable);
    ext.justification = Some("need more".into());
    let victim_pending = victim_client.create_request(&ext).await.expect("victim selfExtend").request.id;
    let change = propose_change(s, ops, "/prot").await;
    // Access reviews: the rows review the victim's access and each other's, and the administrator
    // alone reviews another instance.
    s.assign(victim, ops, "/rvw/v", AssignmentKind::Eligible, None).await;
    for (i, (uid, ..)) in users.iter().enumerate() {
        s.assign(*uid, ops, &format!("/rvw/{i}"), AssignmentKind::Eligible, None).await;
    }
    let row_users: Vec<PrincipalId> = users.iter().map(|u| u.0).collect();
    let (review, instance) = start_review(s, &review_of("world", ops, "/rvw", selected(&row_users))).await;
    let victim_item = item_of(s, instance, victim).await;
    s.assign(victim, ops, "/rvo", AssignmentKind::Eligible, None).await;
    let (_, other_instance) = start_review(s, &review_of("others", ops, "/rvo", selected(&[s.admin_id]))).await;
    let other_item = item_of(s, other_instance, victim).await;
    let world = World {
        ops,
        victim,
        robot,
        team,
        box_add,
        box_rm,
        res_a,
        a_assignment: a.id,
        a_request: a.created_by_request,
        victim_activation,
        victim_extendable,
        victim_pending,
        change,
        alert: external_alert(s, "world").await,
        admin: s.admin_id,
        review,
        instance,
        victim_item,
        other_instance,
        other_item,
    };

    let mut out = Vec::new();
    for (i, (h, (uid, uname, client, own_expired, v_renew))) in rows.iter().zip(users).enumerate() {
        if let Some((role, scope, kind)) = h.role {
            let scope = match scope {
                Some(sc) => sc.to_owned(),
                None => format!("/groups/{team}"),
            };
            s.assign(uid, role, &scope, kind, None).await;
        }
        if h.via_group {
            s.assign(uid, role::GROUP_MEMBER, &format!("/groups/{readers}"), AssignmentKind::Active, None).await;
        }
        let token = if h.grants.is_some() { client.token().map(str::to_owned) } else { None };
        let extra = |name: &'static str, principal: PrincipalId| CreateTokenRequest {
            name: name.into(),
            expires_in_days: Some(365),
            principal_id: Some(principal),
        };
        let logout_token = s.admin.create_token(&extra("logout", uid)).await.expect("token").token;
        let own_token = s.admin.create_token(&extra("to-revoke", uid)).await.expect("token").info.id;
        let robot_token = s.admin.create_token(&extra("robot", robot)).await.expect("token").info.id;
        // Own activation (to deactivate), own extendable assignment, own pending request.
        s.assign(uid, ops, &format!("/ops{i}"), AssignmentKind::Eligible, None).await;
        s.assign(uid, ops, &format!("/deact{i}"), AssignmentKind::Eligible, None).await;
        let own_activation = client
            .create_request(&activation(ops, &format!("/deact{i}"), 60))
            .await
            .expect("activate")
            .assignment
            .expect("activation")
            .id;
        let own_extendable = s.assign(uid, ops, &format!("/ext{i}"), AssignmentKind::Eligible, in_week).await.id;
        let pending = s.assign(uid, ops, &format!("/cx{i}"), AssignmentKind::Eligible, in_week).await.id;
        let mut ext = CreateRequest::for_assignment(RequestAction::SelfExtend, pending);
        ext.justification = Some("need more".into());
        let own_pending = client.create_request(&ext).await.expect("selfExtend").request.id;
        // The victim's assignments an administrator would change.
        let in_month = Some(now.plus_millis(30 * DAY_MS));
        let v_update = s.assign(victim, ops, &format!("/u{i}"), AssignmentKind::Eligible, in_month).await.id;
        let v_remove = s.assign(victim, ops, &format!("/r{i}"), AssignmentKind::Eligible, None).await.id;
        let in_ten = Some(now.plus_millis(10 * DAY_MS));
        let v_extend = s.assign(victim, ops, &format!("/x{i}"), AssignmentKind::Eligible, in_ten).await.id;
        // Directory, role and settings targets.
        s.admin.add_member(box_rm, uid).await.expect("member");
        s.custom_role(&format!("del{i}"), &["gone.*"]).await;
        s.set_settings(ops, &format!("/d{i}"), |x| x.activation_max_minutes = 60).await;
        // Requests and settings changes to decide, and a break-glass activation to review.
        let mut pending_of = Vec::new();
        for scope in [format!("/pe{i}"), format!("/pn{i}")] {
            let a = s.assign(victim, ops, &scope, AssignmentKind::Eligible, in_week).await.id;
            let mut ext = CreateRequest::for_assignment(RequestAction::SelfExtend, a);
            ext.justification = Some("need more".into());
            ext.end = Some(now.plus_millis(14 * DAY_MS));
            pending_of.push(victim_client.create_request(&ext).await.expect("victim selfExtend").request.id);
        }
        let bg_scope = format!("/bg{i}");
        s.set_settings(ops, &bg_scope, |x| x.allow_break_glass = true).await;
        s.assign(victim, ops, &bg_scope, AssignmentKind::Eligible, None).await;
        let mut bg = activation(ops, &bg_scope, 60);
        bg.break_glass = Some(true);
        let v_break_glass = victim_client.create_request(&bg).await.expect("break-glass").request.id;
        let change_approve = propose_change(s, ops, &format!("/pa{i}")).await;
        let change_deny = propose_change(s, ops, &format!("/pd{i}")).await;
        // A pending TOTP authenticator, and codes of it for the time the matrix runs at.
        let totp = TotpHelper::new(&client.enroll_totp().await.expect("enroll"));
        let step = TotpHelper::step(now);
        let (mfa_confirm, mfa_verify) = (totp.code_for_step(step), totp.code_for_step(step + 1));
        // Reviews to stop, reset and apply: the instance of the first is completed (the review
        // itself is not stopped), the others are in progress.
        let by_admin = selected(&[s.admin_id]);
        let (rv_stop, ri_apply) =
            start_review(s, &review_of(&format!("to stop {i}"), ops, &format!("/rvs{i}"), by_admin.clone())).await;
        s.admin.stop_review_instance(ri_apply).await.expect("complete the instance to apply");
        let (_, ri_reset) =
            start_review(s, &review_of(&format!("to reset {i}"), ops, &format!("/rvr{i}"), by_admin.clone())).await;
        let (_, ri_stop) =
            start_review(s, &review_of(&format!("to stop early {i}"), ops, &format!("/rvx{i}"), by_admin)).await;
        let own_item = item_of(s, instance, uid).await;
        let res_upd = resource(s, &format!("/resu{i}")).await;
        let res_del = resource(s, &format!("/resd{i}")).await;
        out.push(RowFx {
            label: h.label.clone(),
            grants: h.grants.clone(),
            i,
            uid,
            uname,
            token,
            logout_token,
            own_token,
            own_activation,
            own_extendable,
            own_expired,
            own_pending,
            robot_token,
            v_update,
            v_remove,
            v_extend,
            v_renew,
            v_approve: pending_of[0],
            v_deny: pending_of[1],
            v_break_glass,
            change_approve,
            change_deny,
            mfa_confirm,
            mfa_verify,
            alert: external_alert(s, &format!("row{i}")).await,
            own_item,
            res_upd,
            res_del,
            rv_stop,
            ri_apply,
            ri_reset,
            ri_stop,
        });
    }
    (world, out)
}

/// A resource registered at `scope`.
async fn resource(s: &TestServer, scope: &str) -> ResourceId {
    let body = CreateResource { scope: sp(scope), name: scope.to_owned(), kind: "database".into() };
    s.admin.create_resource(&body).await.expect("resource").id
}

pub(super) fn holdings(full: bool) -> Vec<Holding> {
    let mut rows = Vec::new();
    let builtin = pim_domain::role::builtin_roles();
    for r in &builtin {
        let grants = expected_grants(&r.name)
            .unwrap_or_else(|| panic!("built-in role '{}' has no expectation in this test: add one", r.name));
        let group_role = r.id == role::GROUP_MEMBER || r.id == role::GROUP_OWNER;
        let scope = if group_role { None } else { Some("/") };
        rows.push(Holding {
            label: r.name.clone(),
            role: Some((r.id, scope, AssignmentKind::Active)),
            grants: Some(grants),
            via_group: false,
        });
    }
    rows.push(Holding {
        label: "Security Reader via group".into(),
        role: None,
        grants: expected_grants("Security Reader"),
        via_group: true,
    });
    rows.push(Holding {
        label: "Global Admin, eligible only".into(),
        role: Some((role::GLOBAL_ADMINISTRATOR, Some("/"), AssignmentKind::Eligible)),
        grants: Some(vec![]),
        via_group: false,
    });
    rows.push(Holding { label: "(no role)".into(), role: None, grants: Some(vec![]), via_group: false });
    rows.push(Holding { label: "(no token)".into(), role: None, grants: None, via_group: false });
    if !full {
        // A representative slice: all of pim's rights, reads only, assignments only, nothing, anonymous.
        let keep = ["Global Administrator", "Security Reader", "User Access Administrator", "Owner of group"];
        rows.retain(|h| keep.contains(&h.label.as_str()) || h.label.starts_with('('));
    }
    rows
}
