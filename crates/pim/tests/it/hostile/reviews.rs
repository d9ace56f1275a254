//! Access reviews to start in a test, and the instances and items they open.

use crate::harness::prelude::*;

/// A one-time access review of `role` at `scope` by `reviewers`, starting now, for 7 days, without
/// a required reason.
pub(crate) fn review_of(name: &str, role: RoleId, scope: &str, reviewers: Reviewers) -> CreateReview {
    CreateReview {
        name: name.into(),
        description: None,
        target: ReviewTarget::Roles { role_ids: vec![role], scope: sp(scope) },
        kinds: ReviewedKinds::Both,
        inactive_days: None,
        reviewers,
        schedule: ReviewScheduleInput {
            start: None,
            recurrence: Recurrence::OneTime,
            duration_days: 7,
            end: ReviewEnd::Never,
        },
        auto_apply: false,
        if_no_response: IfNoResponse::NoChange,
        reason_required: false,
    }
}

/// The reviewers `users`, by id.
pub(crate) fn selected(users: &[PrincipalId]) -> Reviewers {
    Reviewers::Selected { reviewers: users.iter().map(|&id| ApproverRef { kind: PrincipalKind::User, id }).collect() }
}

/// A one-time review of `role` at `scope` by the administrator, starting now, for 7 days, with a
/// reason required.
pub(crate) fn review_by_admin(s: &TestServer, name: &str, role: RoleId, scope: &str) -> CreateReview {
    CreateReview { reason_required: true, ..review_of(name, role, scope, selected(&[s.admin_id])) }
}

/// Creates `review` as the administrator; returns it and the instance that started with it.
pub(crate) async fn start_review(s: &TestServer, review: &CreateReview) -> (ReviewId, ReviewInstanceId) {
    let def = s.admin.create_review(review).await.expect("create review");
    let detail = s.admin.get_review(def.id).await.expect("get review");
    let instance = detail.instances.first().unwrap_or_else(|| panic!("{} started no instance", review.name)).id;
    (def.id, instance)
}

/// The first instance of review `id`.
pub(crate) async fn first_instance(s: &TestServer, id: ReviewId) -> ReviewInstanceId {
    s.admin.get_review(id).await.expect("get review").instances.first().expect("an instance").id
}

/// The item of `instance` reviewing `principal`'s access (the first, if several).
pub(crate) async fn item_of(s: &TestServer, instance: ReviewInstanceId, principal: PrincipalId) -> ReviewItemId {
    let items = s.admin.review_results(instance).await.expect("results").items;
    items.iter().find(|it| it.principal_id == principal).unwrap_or_else(|| panic!("no item for {principal}")).id
}
