//! Review access: the access review items waiting for the user, grouped by review instance, with
//! pim's recommendation and the decisions so far; approving, denying or taking the
//! recommendations for the ticked items (all or nothing, with a reason when the review asks).

use std::collections::HashSet;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use pim_domain::review::ReviewItem;
use pim_domain::{ReviewInstanceId, ReviewItemId, Verdict};
use pim_engine::reviews::ItemDecisionInput;

use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::principal_name;
use crate::portal::view::refused_text;
use crate::portal::view::{
    Chrome, Flash, FormData, PortalError, PortalResult, redirect_with, render, render_status, time,
};

/// The routes of this section.
pub fn routes() -> Router<AppState> {
    Router::new().route("/reviews", get(show_my_reviews)).route("/reviews/decide", post(decide_review_items))
}

struct ItemRow {
    id: String,
    principal: String,
    role: String,
    scope: String,
    kind: &'static str,
    last_activity: String,
    /// The last real use a system reported.
    last_use: String,
    recommendation: &'static str,
    recommendation_why: String,
    /// The decision so far, if any.
    decision: Option<String>,
    checked: bool,
}

struct InstanceBlock {
    id: String,
    name: String,
    description: Option<String>,
    due: String,
    reason_required: bool,
    decided: usize,
    items: Vec<ItemRow>,
    /// The reason typed, when the form comes back with a mistake.
    reason: String,
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct ReviewsPage {
    chrome: Chrome,
    instances: Vec<InstanceBlock>,
}

/// A decision form sent back with a mistake: shown again with what was ticked and typed.
struct Posted {
    instance: String,
    items: HashSet<String>,
    reason: String,
    error: String,
    status: StatusCode,
}

/// `GET /reviews`.
async fn show_my_reviews(State(s): State<AppState>, session: Session) -> PortalResult {
    build(&s, &session, None).await.map(|p| render(&p))
}

async fn build(s: &AppState, session: &Session, posted: Option<&Posted>) -> Result<ReviewsPage, PortalError> {
    let mut chrome = Chrome::new(session, "reviews", "Review access");
    let work = s.engine.my_reviews(&session.ctx).await.map_err(|e| PortalError::from(e).within(&chrome))?;
    let me = session.actor.id;
    let instances = work
        .into_iter()
        .map(|w| {
            let id = w.instance.id.to_string();
            let this = posted.filter(|p| p.instance == id);
            InstanceBlock {
                name: w.review.name.clone(),
                description: w.review.description.clone(),
                due: time(w.instance.end),
                reason_required: w.review.reason_required,
                decided: w.items.iter().filter(|i| i.decision.is_some()).count(),
                items: w
                    .items
                    .iter()
                    .map(|i| item_row(s, i, me, this.is_some_and(|p| p.items.contains(&i.id.to_string()))))
                    .collect(),
                reason: this.map(|p| p.reason.clone()).unwrap_or_default(),
                id,
            }
        })
        .collect();
    if let Some(p) = posted {
        chrome.flash = Some(Flash::error(p.error.clone()));
    }
    Ok(ReviewsPage { chrome, instances })
}

fn item_row(s: &AppState, i: &ReviewItem, me: pim_domain::PrincipalId, checked: bool) -> ItemRow {
    let recommendation = if i.recommendation == Verdict::Approve { "Approve" } else { "Deny" };
    let recommendation_why = pim_domain::review::recommendation_reason(i, s.engine.now());
    let decision = i.decision.as_ref().map(|d| {
        let verdict = if d.verdict == Verdict::Approve { "Approved" } else { "Denied" };
        let by = if d.by == me { "you".to_owned() } else { principal_name(s, d.by) };
        let why = d.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        format!("{verdict} by {by} at {}{why}", time(d.at))
    });
    ItemRow {
        id: i.id.to_string(),
        principal: i.principal_name.clone().unwrap_or_else(|| principal_name(s, i.principal_id)),
        role: i.role_name.clone().unwrap_or_else(|| i.role_id.to_string()),
        scope: i.scope.to_string(),
        kind: i.kind.as_str(),
        last_activity: i.last_activity.map_or_else(|| "none recorded".to_owned(), time),
        last_use: i.last_use.map_or_else(|| "none reported".to_owned(), time),
        recommendation,
        recommendation_why,
        decision,
        checked,
    }
}

/// `POST /reviews/decide` (`instance_id`, `item_id` repeated, `verdict=approve|deny|recommendation`,
/// `reason`): all the ticked items or none. Recommendations with nothing ticked: every item of
/// the instance the user has not decided yet.
async fn decide_review_items(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let instance_id: ReviewInstanceId = form.require("instance_id", "The access review")?;
    let raw = form.all("item_id");
    let reason = form.get("reason");
    let again = |error: String, status: StatusCode| Posted {
        instance: instance_id.to_string(),
        items: raw.iter().cloned().collect(),
        reason: reason.clone().unwrap_or_default(),
        error,
        status,
    };
    let bad = StatusCode::UNPROCESSABLE_ENTITY;
    let (verdict, recommendations) = match form.get("verdict").as_deref() {
        Some("approve") => (Some(Verdict::Approve), false),
        Some("deny") => (Some(Verdict::Deny), false),
        Some("recommendation") => (None, true),
        _ => {
            return show_again(&s, &session, again("Choose Approve, Deny or Accept recommendations.".into(), bad))
                .await;
        }
    };
    let mut ids: Vec<ReviewItemId> = vec![];
    for v in &raw {
        match v.parse() {
            Ok(id) => ids.push(id),
            Err(_) => return show_again(&s, &session, again(format!("'{v}' is not a review item."), bad)).await,
        }
    }
    if ids.is_empty() && !recommendations {
        return show_again(&s, &session, again("Tick at least one item to decide.".into(), bad)).await;
    }
    let input = ItemDecisionInput {
        item_ids: (!ids.is_empty()).then_some(ids),
        verdict,
        accept_recommendations: recommendations,
        reason: reason.clone(),
    };
    match s.engine.decide_review_items(&session.ctx, instance_id, input).await {
        Ok(items) => Ok(redirect_with("/reviews", Flash::ok(outcome_text(verdict, &items)))),
        Err(e) => {
            let status = e.refusal().map_or(StatusCode::INTERNAL_SERVER_ERROR, |d| crate::error::status_for(d.kind));
            show_again(&s, &session, again(refused_text(&e), status)).await
        }
    }
}

/// The page again with the ticked items, the reason typed and what was wrong.
async fn show_again(s: &AppState, session: &Session, posted: Posted) -> PortalResult {
    build(s, session, Some(&posted)).await.map(|p| render_status(posted.status, &p))
}

fn outcome_text(verdict: Option<Verdict>, items: &[ReviewItem]) -> String {
    let n = items.len();
    let plural = |n: usize| if n == 1 { "1 item".to_owned() } else { format!("{n} items") };
    match verdict {
        Some(Verdict::Approve) => format!("Approved {}.", plural(n)),
        Some(Verdict::Deny) => format!("Denied {}.", plural(n)),
        None if n == 0 => "Nothing left to decide: you have decided every item of this review.".to_owned(),
        None => {
            let denied =
                items.iter().filter(|i| i.decision.as_ref().is_some_and(|d| d.verdict == Verdict::Deny)).count();
            format!("Took pim's recommendation for {}: {} approved, {denied} denied.", plural(n), n - denied)
        }
    }
}
