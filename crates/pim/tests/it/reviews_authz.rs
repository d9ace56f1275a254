//! Authorization of access reviews: their target's scope, and an item's reviewers only.

use crate::harness::prelude::*;
use crate::hostile::{
    Db, first_instance, item_of, read_refused, refused, remove_req, review_of, selected, start_review,
};

/// The ids of the reviews `c` lists.
async fn listed_reviews(c: &Client) -> Vec<ReviewId> {
    c.list_reviews().await.expect("list reviews").items.iter().map(|r| r.id).collect()
}

/// Access reviews are authorized at their target's scope (roles: their scope; a group's
/// membership: `/groups/{id}`): Security Administrator at `/a` manages a review of `/a/b` and
/// nothing at `/`, `/c` or a group's scope; Security Reader at `/a` reads there and writes nothing.
/// Refusals change nothing; read refusals are audited as `access.denied`.
async fn reviews_follow_their_target_scope(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (victim, _) = s.user("victim").await;
    let g = s.group("g").await;
    let h = s.group("h").await;
    s.admin.add_member(g, victim).await.expect("member of g");
    s.admin.add_member(h, victim).await.expect("member of h");
    let (sa_id, sa) = s.user("secadmin").await;
    let (sr_id, sr) = s.user("secreader").await;
    let (root_sa_id, root_sa) = s.user("rootsec").await;
    let (go_id, go) = s.user("groupowner").await;
    s.assign(sa_id, role::SECURITY_ADMINISTRATOR, "/a", AssignmentKind::Active, None).await;
    s.assign(sr_id, role::SECURITY_READER, "/a", AssignmentKind::Active, None).await;
    s.assign(root_sa_id, role::SECURITY_ADMINISTRATOR, "/", AssignmentKind::Active, None).await;
    // Only the group roles are held at /groups/{id}: the Owner of g manages its membership, not
    // its reviews, which need pim.reviews.write at /groups/{g} (held at / only).
    s.assign(go_id, role::GROUP_OWNER, &format!("/groups/{g}"), AssignmentKind::Active, None).await;
    let in_ab = s.assign(victim, ops, "/a/b/x", AssignmentKind::Eligible, None).await;
    s.assign(victim, ops, "/x", AssignmentKind::Eligible, None).await;
    let by_admin = selected(&[s.admin_id]);
    let at = |scope: &str| review_of(&format!("at {scope}"), ops, scope, by_admin.clone());
    let of_group = |group: PrincipalId| CreateReview {
        target: ReviewTarget::GroupMembership { group_id: group },
        ..review_of(&format!("membership of {group}"), ops, "/", by_admin.clone())
    };

    // Creating.
    let ab = sa.create_review(&at("/a/b")).await.expect("Security Administrator@/a reviews /a/b").id;
    for scope in ["/", "/c", "/ab"] {
        refused!(db, format!("Security Administrator@/a reviews {scope}"), sa.create_review(&at(scope)));
    }
    refused!(db, "Security Administrator@/a reviews g's membership", sa.create_review(&of_group(g)));
    refused!(db, "Owner of g reviews g's membership", go.create_review(&of_group(g)));
    let gr = root_sa.create_review(&of_group(g)).await.expect("Security Administrator@/ reviews g").id;
    refused!(db, "Security Reader@/a reviews /a/b", sr.create_review(&at("/a/b")));
    let (root, root_i) = start_review(&s, &at("/")).await;
    let (hr, hr_i) = start_review(&s, &of_group(h)).await;
    assert_eq!(listed_reviews(&root_sa).await.len(), 4, "Security Administrator@/ lists every review");
    let (ab_i, gr_i) = (first_instance(&s, ab).await, first_instance(&s, gr).await);
    assert_eq!(s.admin.review_results(ab_i).await.expect("results").items.len(), 1, "/a/b/x is reviewed");

    // Reading: where the role is held, and nowhere else; the list hides the rest.
    for (who, c) in [("Security Administrator@/a", &sa), ("Security Reader@/a", &sr)] {
        c.get_review(ab).await.unwrap_or_else(|e| panic!("{who} reads the review of /a/b: {e}"));
        c.get_review_instance(ab_i).await.unwrap_or_else(|e| panic!("{who} reads its instance: {e}"));
        c.review_results(ab_i).await.unwrap_or_else(|e| panic!("{who} reads its results: {e}"));
        c.review_results_file(ab_i, ExportFormat::Csv).await.unwrap_or_else(|e| panic!("{who} gets the CSV: {e}"));
        assert_eq!(listed_reviews(c).await, vec![ab], "{who} lists the review of /a/b only");
        read_refused!(db, format!("{who} reads the review of /"), c.get_review(root));
        read_refused!(db, format!("{who} reads the instance of /"), c.get_review_instance(root_i));
        read_refused!(db, format!("{who} reads the results of /"), c.review_results(root_i));
        read_refused!(db, format!("{who} gets the CSV of /"), c.review_results_file(root_i, ExportFormat::Csv));
        read_refused!(db, format!("{who} reads the review of g"), c.get_review(gr));
        read_refused!(db, format!("{who} reads the results of g"), c.review_results(gr_i));
    }
    read_refused!(db, "Owner of g reads g's review", go.get_review(gr));
    read_refused!(db, "Owner of g reads g's instance", go.get_review_instance(gr_i));
    read_refused!(db, "Owner of g reads h's results", go.review_results(hr_i));
    assert!(listed_reviews(&go).await.is_empty(), "the Owner of g lists no review");

    // Writing: not at /, nor for another group, nor as a reader.
    refused!(db, "Security Administrator@/a resets at /", sa.reset_review_instance(root_i));
    refused!(db, "Security Administrator@/a stops the instance at /", sa.stop_review_instance(root_i));
    refused!(db, "Security Administrator@/a stops the review at /", sa.stop_review(root));
    refused!(db, "Security Administrator@/a stops h's review", sa.stop_review(hr));
    refused!(db, "Owner of g resets g's instance", go.reset_review_instance(gr_i));
    refused!(db, "Owner of g stops g's instance", go.stop_review_instance(gr_i));
    refused!(db, "Owner of g stops g's review", go.stop_review(gr));
    s.admin.stop_review_instance(root_i).await.expect("the administrator completes the instance at /");
    refused!(db, "Security Administrator@/a applies at /", sa.apply_review_instance(root_i));
    refused!(db, "Security Reader@/a resets at /a/b", sr.reset_review_instance(ab_i));
    refused!(db, "Security Reader@/a stops the instance at /a/b", sr.stop_review_instance(ab_i));
    refused!(db, "Security Reader@/a stops the review at /a/b", sr.stop_review(ab));
    // At /a/b the Security Administrator resets, stops and applies; the denied access is removed by
    // the review's authority, though the Security Administrator may not remove it directly.
    refused!(db, "Security Administrator@/a removes directly", sa.create_request(&remove_req(in_ab.id)));
    let item = item_of(&s, ab_i, victim).await;
    let deny = DecideReviewItem { verdict: Verdict::Deny, reason: Some("not needed".into()) };
    s.admin.decide_review_item(ab_i, item, &deny).await.expect("the administrator reviews");
    sa.reset_review_instance(ab_i).await.expect("Security Administrator@/a resets at /a/b");
    s.admin.decide_review_item(ab_i, item, &deny).await.expect("the administrator reviews again");
    sa.stop_review_instance(ab_i).await.expect("Security Administrator@/a stops the instance at /a/b");
    refused!(db, "Security Reader@/a applies at /a/b", sr.apply_review_instance(ab_i));
    let applied = sa.apply_review_instance(ab_i).await.expect("Security Administrator@/a applies at /a/b");
    assert_eq!(applied.status, InstanceStatus::Applied);
    let after = s.admin.get_assignment(in_ab.id).await.expect("assignment");
    assert!(!after.is_current(s.engine.now()), "applying removed the denied access: {after:?}");
    sa.stop_review(ab).await.expect("Security Administrator@/a stops the review at /a/b");
    root_sa.stop_review(gr).await.expect("Security Administrator@/ stops g's review");
    s.stop().await;
}

/// Deciding needs no permission but a place among the item's reviewers (directly or through a
/// group, as it is now), and nobody decides their own access unless the review is a self-review.
/// A refused decision is all or nothing, changes nothing and is audited as `not_reviewer`.
async fn only_an_items_reviewers_decide_it(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (alice, alice_c) = s.user("alice").await;
    let (bob, bob_c) = s.user("bob").await;
    let (_, carl_c) = s.user("carl").await;
    let (ga_id, ga) = s.user("ga").await;
    s.assign(ga_id, role::GLOBAL_ADMINISTRATOR, "/", AssignmentKind::Active, None).await;
    let team = s.group("reviewers").await;
    s.admin.add_member(team, bob).await.expect("bob reviews through the group");
    s.assign(alice, ops, "/d/a", AssignmentKind::Eligible, None).await;
    s.assign(bob, ops, "/d/b", AssignmentKind::Eligible, None).await;
    let by_team = Reviewers::Selected { reviewers: vec![ApproverRef { kind: PrincipalKind::Group, id: team }] };
    let (_, i) = start_review(&s, &review_of("by the team", ops, "/d", by_team)).await;
    let (a_item, b_item) = (item_of(&s, i, alice).await, item_of(&s, i, bob).await);
    let decide = |verdict| DecideReviewItem { verdict, reason: Some("checked".into()) };
    let bulk = |ids: Vec<ReviewItemId>, verdict| DecideReviewItems {
        item_ids: Some(ids),
        verdict: Some(verdict),
        accept_recommendations: false,
        reason: Some("checked".into()),
    };
    macro_rules! not_reviewer {
        ($what:expr, $call:expr) => {{
            let before = db.snapshot().await;
            let e = $call.await.map(|_| ()).expect_err($what);
            assert_eq!((e.status(), e.code()), (Some(403), Some("not_reviewer")), "{}: {e}", $what);
            let (changes, _) = db.changes_since(&before).await;
            assert!(changes.is_empty(), "{} was refused but changed {changes:?}", $what);
            let events = db.events_since(&before).await;
            assert!(
                events.iter().any(|e| e.action == "review.decided"
                    && e.outcome == "failure"
                    && e.error_code.as_deref() == Some("not_reviewer")),
                "{} is not audited: {events:?}",
                $what
            );
        }};
    }

    bob_c.decide_review_item(i, a_item, &decide(Verdict::Approve)).await.expect("bob reviews through the group");
    not_reviewer!("bob decides his own access", bob_c.decide_review_item(i, b_item, &decide(Verdict::Approve)));
    not_reviewer!(
        "bob decides alice's and his own together",
        bob_c.decide_review_items(i, &bulk(vec![a_item, b_item], Verdict::Deny))
    );
    let kept = item_of(&s, i, alice).await;
    let results = s.admin.review_results(i).await.expect("results").items;
    let a_decision = results.iter().find(|x| x.id == kept).and_then(|x| x.decision.as_ref()).map(|d| d.verdict);
    assert_eq!(a_decision, Some(Verdict::Approve), "the refused bulk decision left alice's item as it was");
    not_reviewer!("carl is not a reviewer", carl_c.decide_review_item(i, a_item, &decide(Verdict::Deny)));
    not_reviewer!("alice decides her own access", alice_c.decide_review_item(i, a_item, &decide(Verdict::Approve)));
    not_reviewer!("a Global Administrator is not a reviewer", ga.decide_review_item(i, a_item, &decide(Verdict::Deny)));
    not_reviewer!(
        "the administrator is not a reviewer",
        s.admin.decide_review_items(i, &bulk(vec![a_item], Verdict::Deny))
    );
    // Without item ids, a caller decides the undecided items it reviews: an outsider reviews none.
    let all = DecideReviewItems { item_ids: None, ..bulk(vec![], Verdict::Deny) };
    not_reviewer!("carl decides all of his items (he has none)", carl_c.decide_review_items(i, &all));
    // The reviewers' list is of now: out of the group, bob reviews no more.
    assert_eq!(bob_c.my_reviews().await.expect("mine").items.len(), 1, "bob has alice's item to review");
    assert!(carl_c.my_reviews().await.expect("mine").items.is_empty(), "carl has nothing to review");
    s.admin.remove_member(team, bob).await.expect("remove bob");
    not_reviewer!("bob, out of the group", bob_c.decide_review_item(i, a_item, &decide(Verdict::Deny)));
    assert!(bob_c.my_reviews().await.expect("mine").items.is_empty(), "bob has nothing to review any more");
    // A self-review: each user decides their own access, and nobody else's.
    s.assign(alice, ops, "/e/a", AssignmentKind::Eligible, None).await;
    let (_, si) = start_review(&s, &review_of("self", ops, "/e", Reviewers::SelfReview)).await;
    let own = item_of(&s, si, alice).await;
    alice_c.decide_review_item(si, own, &decide(Verdict::Approve)).await.expect("alice reviews her own access");
    not_reviewer!("bob decides alice's self-review", bob_c.decide_review_item(si, own, &decide(Verdict::Deny)));
    not_reviewer!(
        "the administrator decides alice's self-review",
        s.admin.decide_review_item(si, own, &decide(Verdict::Deny))
    );
    s.stop().await;
}

/// Contributor is "everything but access management" (SPEC section 3) and may not remove an
/// assignment. Applying a review removes the access its reviewers denied by the review's own
/// authority, so `pim.reviews.write` is access management too: found by this test when Contributor
/// still held it (a Contributor named itself reviewer, denied, applied, and the assignment was gone).
async fn contributors_cannot_remove_access_through_a_review(b: Backend) {
    let s = TestServer::start(&b).await;
    let mut db = Db::open(&s).await;
    let ops = s.custom_role("Ops", &["ops.*"]).await;
    let (victim, _) = s.user("victim").await;
    let (contrib_id, contrib) = s.user("contrib").await;
    s.assign(contrib_id, role::CONTRIBUTOR, "/", AssignmentKind::Active, None).await;
    let a = s.assign(victim, ops, "/x", AssignmentKind::Eligible, None).await;
    refused!(db, "Contributor removes the assignment directly", contrib.create_request(&remove_req(a.id)));
    let review = review_of("cleanup", ops, "/x", selected(&[contrib_id]));
    let through_review = async {
        let def = contrib.create_review(&review).await?;
        let i = contrib.get_review(def.id).await?.instances[0].id;
        let item = contrib.review_results(i).await?.items[0].id;
        let deny = DecideReviewItem { verdict: Verdict::Deny, reason: Some("gone".into()) };
        contrib.decide_review_item(i, item, &deny).await?;
        contrib.stop_review_instance(i).await?;
        contrib.apply_review_instance(i).await
    }
    .await;
    let after = s.admin.get_assignment(a.id).await.expect("assignment");
    assert!(
        after.is_current(s.engine.now()),
        "a Contributor, which may not remove access, removed {} through an access review: {through_review:?}",
        a.id,
    );
    let refused_with = through_review.as_ref().err().and_then(ClientError::status);
    assert_eq!(refused_with, Some(403), "refused as forbidden: {through_review:?}");
    s.stop().await;
}

crate::backend_tests!(
    reviews_follow_their_target_scope,
    only_an_items_reviewers_decide_it,
    contributors_cannot_remove_access_through_a_review,
);
