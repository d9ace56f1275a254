//! Access reviews: definitions, instances, results and decisions.

use serde_json::json;

use super::{Ep, Need, ep, req};
use crate::api_authz::grants::*;
use crate::api_authz::world::{RowFx, World};

pub(super) fn rows(w: &World, r: &RowFx) -> Vec<Ep> {
    use Need::*;
    let i = r.i;
    let ops = w.ops;
    vec![
        // Access reviews: definitions, instances and results need pim.reviews.* at the review's
        // scope; deciding needs no permission, only to be among the item's reviewers.
        ep(
            "POST",
            "/api/v1/reviews",
            "",
            "/api/v1/reviews",
            req(json!({"name": format!("review {i}"),
                "target": {"type": "roles", "roleIds": [ops], "scope": format!("/rn{i}")},
                "reviewers": {"type": "selected", "reviewers": [{"kind": "user", "id": w.admin}]},
                "schedule": {"durationDays": 7}})),
            Act(REVIEWS_WRITE),
            201,
        )
        .write(),
        ep("GET", "/api/v1/reviews", "", "/api/v1/reviews", None, Sees(REVIEWS_READ), 200).sentinel(w.review),
        ep("GET", "/api/v1/reviews/{id}", "", format!("/api/v1/reviews/{}", w.review), None, Act(REVIEWS_READ), 200),
        ep(
            "PATCH",
            "/api/v1/reviews/{id}",
            "",
            format!("/api/v1/reviews/{}", w.review),
            req(json!({"description": format!("edited by row {i}")})),
            Act(REVIEWS_WRITE),
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/reviews/{id}/stop",
            "",
            format!("/api/v1/reviews/{}/stop", r.rv_stop),
            None,
            Act(REVIEWS_WRITE),
            200,
        )
        .write(),
        ep(
            "GET",
            "/api/v1/review-instances/{id}",
            "",
            format!("/api/v1/review-instances/{}", w.instance),
            None,
            Act(REVIEWS_READ),
            200,
        ),
        ep(
            "GET",
            "/api/v1/review-instances/{id}/items",
            "json",
            format!("/api/v1/review-instances/{}/items", w.instance),
            None,
            Act(REVIEWS_READ),
            200,
        ),
        ep(
            "GET",
            "/api/v1/review-instances/{id}/items",
            "csv",
            format!("/api/v1/review-instances/{}/items?format=csv", w.instance),
            None,
            Act(REVIEWS_READ),
            200,
        ),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/reset",
            "",
            format!("/api/v1/review-instances/{}/reset", r.ri_reset),
            None,
            Act(REVIEWS_WRITE),
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/stop",
            "",
            format!("/api/v1/review-instances/{}/stop", r.ri_stop),
            None,
            Act(REVIEWS_WRITE),
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/apply",
            "completed",
            format!("/api/v1/review-instances/{}/apply", r.ri_apply),
            None,
            Act(REVIEWS_WRITE),
            200,
        )
        .write(),
        ep("GET", "/api/v1/me/reviews", "", "/api/v1/me/reviews", None, SignedIn, 200),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/decisions",
            "as a reviewer",
            format!("/api/v1/review-instances/{}/decisions", w.instance),
            req(json!({"itemIds": [w.victim_item], "verdict": "approve", "reason": format!("still needed ({i})")})),
            SignedIn,
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/items/{itemId}/decision",
            "as a reviewer",
            format!("/api/v1/review-instances/{}/items/{}/decision", w.instance, w.victim_item),
            req(json!({"verdict": "deny", "reason": format!("not needed ({i})")})),
            SignedIn,
            200,
        )
        .write(),
        // Not among the item's reviewers, or the item is one's own access (not a self-review):
        // refused for everyone, administrators included.
        ep(
            "POST",
            "/api/v1/review-instances/{id}/decisions",
            "not a reviewer",
            format!("/api/v1/review-instances/{}/decisions", w.other_instance),
            req(json!({"itemIds": [w.other_item], "verdict": "deny", "reason": "no"})),
            HolderOnly,
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/items/{itemId}/decision",
            "not a reviewer",
            format!("/api/v1/review-instances/{}/items/{}/decision", w.other_instance, w.other_item),
            req(json!({"verdict": "approve", "reason": "yes"})),
            HolderOnly,
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/items/{itemId}/decision",
            "own access",
            format!("/api/v1/review-instances/{}/items/{}/decision", w.instance, r.own_item),
            req(json!({"verdict": "approve", "reason": "I need it"})),
            HolderOnly,
            200,
        )
        .write(),
        ep(
            "POST",
            "/api/v1/review-instances/{id}/decisions",
            "own access among others",
            format!("/api/v1/review-instances/{}/decisions", w.instance),
            req(json!({"itemIds": [w.victim_item, r.own_item], "verdict": "approve", "reason": "all fine"})),
            HolderOnly,
            200,
        )
        .write(),
    ]
}
