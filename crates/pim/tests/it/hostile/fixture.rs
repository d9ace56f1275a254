//! The fixtures every bad-input test works on, and bodies the server accepts.

use serde_json::{Value, json};

use super::{review_by_admin, start_review};
use crate::harness::prelude::*;

/// The fixtures every bad-input test works on.
pub(crate) struct Fx {
    pub(crate) ops: RoleId,
    pub(crate) alice: PrincipalId,
    pub(crate) alice_token: String,
    pub(crate) grp: PrincipalId,
    pub(crate) robot: PrincipalId,
    /// alice's permanent eligibility for Ops at /a.
    pub(crate) a_elig: AssignmentId,
    /// alice's eligibility for Ops at /b, ending in 7 days.
    pub(crate) b_elig: AssignmentId,
    pub(crate) now: Timestamp,
    /// The bootstrap administrator.
    pub(crate) admin: PrincipalId,
    /// An access review of Ops at /a, reviewed by the administrator with a reason required, its
    /// instance in progress (for 7 days) and the item of alice's eligibility at /a.
    pub(crate) review: ReviewId,
    pub(crate) instance: ReviewInstanceId,
    pub(crate) item: ReviewItemId,
}

pub(crate) async fn fixture(s: &TestServer) -> Fx {
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    s.without_mfa(ops).await;
    s.custom_role("Target", &["target.*"]).await;
    let (alice, client) = s.user("alice").await;
    let grp = s.group("grp").await;
    s.admin.add_member(grp, alice).await.expect("member");
    let robot = s.service_principal("robot").await;
    s.admin
        .create_resource(&CreateResource { scope: sp("/a"), name: "A".into(), kind: "subscription".into() })
        .await
        .expect("resource");
    let a_elig = s.assign(alice, ops, "/a", AssignmentKind::Eligible, None).await.id;
    let now = s.engine.now();
    let b_elig = s.assign(alice, ops, "/b", AssignmentKind::Eligible, Some(now.plus_millis(7 * DAY_MS))).await.id;
    let (review, instance) = start_review(s, &review_by_admin(s, "fixture", ops, "/a")).await;
    let items = s.admin.review_results(instance).await.expect("results").items;
    let item = items.iter().find(|i| i.assignment_id == Some(a_elig)).expect("alice's eligibility is reviewed").id;
    Fx {
        ops,
        alice,
        alice_token: client.token().expect("token").to_owned(),
        grp,
        robot,
        a_elig,
        b_elig,
        now,
        admin: s.admin_id,
        review,
        instance,
        item,
    }
}

/// A user's SSH public key (made by `ssh-keygen -t ed25519`).
pub(crate) const SSH_PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1Tmz+3YtGIEs56Rd5iQyEbRts9ImhFJ+/btHisKLVy alice@laptop";

/// The endpoints that take a JSON body, each with a body that would be accepted.
pub(crate) fn json_endpoints(fx: &Fx) -> Vec<(&'static str, String, Value)> {
    vec![
        ("POST", "/api/v1/setup".into(), json!({"setupSecret": "s", "username": "x", "password": "password-123"})),
        ("POST", "/api/v1/auth/login".into(), json!({"username": "admin", "password": "admin-password-123"})),
        ("POST", "/api/v1/tokens".into(), json!({"name": "t", "expiresInDays": 30})),
        ("POST", "/api/v1/tokens".into(), json!({"audience": "nowhere", "role": "Ops"})),
        ("POST", "/api/v1/audiences".into(), json!({"name": "hostile-aud", "roles": ["Reader"], "lifetimeSecs": 600})),
        ("POST", "/api/v1/users".into(), json!({"name": "newuser", "password": "password-123"})),
        ("PATCH", format!("/api/v1/users/{}", fx.alice), json!({"displayName": "Alice"})),
        ("POST", "/api/v1/groups".into(), json!({"name": "newgroup", "description": "d"})),
        ("PATCH", format!("/api/v1/groups/{}", fx.grp), json!({"displayName": "Group"})),
        ("POST", "/api/v1/service-principals".into(), json!({"name": "newsp"})),
        ("PATCH", format!("/api/v1/service-principals/{}", fx.robot), json!({"displayName": "Robot"})),
        ("POST", "/api/v1/resources".into(), json!({"scope": "/new", "name": "n", "type": "db"})),
        ("POST", "/api/v1/scopes/validate".into(), json!({"scope": "/a"})),
        ("POST", "/api/v1/roles".into(), json!({"name": "NewRole", "permissions": {"actions": ["new.*"]}})),
        ("PUT", "/api/v1/roles/Target".into(), json!({"name": "Target", "permissions": {"actions": ["t.*"]}})),
        ("PUT", format!("/api/v1/roles/{}/settings?scope=%2Fnew", fx.ops), json!({"activationMaxMinutes": 60})),
        (
            "POST",
            "/api/v1/requests".into(),
            json!({"action": "adminAssign", "principalId": fx.alice, "roleId": fx.ops, "scope": "/new",
                "kind": "eligible", "justification": "j"}),
        ),
        ("POST", "/api/v1/check".into(), json!({"principal": "alice", "action": "ops.read", "scope": "/a"})),
        ("POST", "/api/v1/auth/mfa".into(), json!({"code": "123456"})),
        ("POST", "/api/v1/ssh/certificates".into(), json!({"publicKey": SSH_PUBLIC_KEY})),
        ("POST", "/api/v1/me/mfa/totp/confirm".into(), json!({"code": "123456"})),
        ("POST", "/api/v1/reviews".into(), review_json(fx, json!({}))),
        (
            "POST",
            format!("/api/v1/review-instances/{}/decisions", fx.instance),
            json!({"itemIds": [fx.item], "verdict": "approve", "reason": "still needed"}),
        ),
        (
            "POST",
            format!("/api/v1/review-instances/{}/items/{}/decision", fx.instance, fx.item),
            json!({"verdict": "approve", "reason": "still needed"}),
        ),
    ]
}

/// A `CreateReview` body the server accepts (a review of Ops at /n by the administrator), with the
/// top-level fields of `patch` set over it (`null` removes one).
pub(crate) fn review_json(fx: &Fx, patch: Value) -> Value {
    let mut v = json!({
        "name": "quarterly",
        "target": {"type": "roles", "roleIds": [fx.ops], "scope": "/n"},
        "reviewers": {"type": "selected", "reviewers": [{"kind": "user", "id": fx.admin}]},
        "schedule": {"durationDays": 7},
    });
    if let (Some(o), Some(p)) = (v.as_object_mut(), patch.as_object()) {
        for (k, x) in p {
            if x.is_null() {
                o.remove(k);
            } else {
                o.insert(k.clone(), x.clone());
            }
        }
    }
    v
}
