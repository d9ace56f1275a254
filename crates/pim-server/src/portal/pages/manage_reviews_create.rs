//! Manage, Access reviews: creating a review with every setting of `CreateReview`
//! (docs/REVIEWS.md): name and description; roles at a scope or a group's membership; the kinds
//! and the inactivity filter; the reviewers (self-review, managers with fallback reviewers, or
//! selected users and groups, by name); the start (UTC), recurrence, duration and end; and what
//! happens at the end. A refused form is shown again with the values typed and what is wrong.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use pim_domain::actions::{REVIEWS_WRITE, ROLES_READ};
use pim_domain::review::{IfNoResponse, Recurrence, ReviewEnd, ReviewSchedule, ReviewTarget, ReviewedKinds, Reviewers};
use pim_domain::settings::ApproverRef;
use pim_domain::{ErrorKind, PrincipalId, PrincipalKind, RoleId, ScopePath};
use pim_engine::reviews::NewReview;

use super::manage::{Tab, tabs};
use super::manage_reviews::{IF_NO_RESPONSE, KINDS, RECURRENCES};
use crate::AppState;
use crate::portal::session::Session;
use crate::portal::view::refused_text;
use crate::portal::view::{Choice, choices};
use crate::portal::view::{
    Chrome, Flash, FormData, PortalError, PortalResult, input_time, parse_input_time, redirect_with, render_status,
    time,
};

/// The routes of the form.
pub fn routes() -> Router<AppState> {
    Router::new().route("/manage/reviews/new", get(new_review_form).post(create_review))
}

/// The form's values as typed.
#[derive(Clone, Debug, Default)]
struct ReviewForm {
    name: String,
    description: String,
    target_type: String,
    role_ids: Vec<String>,
    role_names: String,
    scope: String,
    group: String,
    kinds: String,
    inactive_days: String,
    reviewers_type: String,
    reviewers: String,
    fallback: String,
    start: String,
    recurrence: String,
    duration_days: String,
    end_type: String,
    end_at: String,
    end_count: String,
    auto_apply: bool,
    if_no_response: String,
    reason_required: bool,
}

impl ReviewForm {
    fn read(f: &FormData) -> ReviewForm {
        let v = |k: &str| f.get(k).unwrap_or_default();
        ReviewForm {
            name: v("name"),
            description: v("description"),
            target_type: v("target_type"),
            role_ids: f.all("role_id"),
            role_names: v("role_names"),
            scope: v("scope"),
            group: v("group"),
            kinds: v("kinds"),
            inactive_days: v("inactive_days"),
            reviewers_type: v("reviewers_type"),
            reviewers: v("reviewers"),
            fallback: v("fallback"),
            start: v("start"),
            recurrence: v("recurrence"),
            duration_days: v("duration_days"),
            end_type: v("end_type"),
            end_at: v("end_at"),
            end_count: v("end_count"),
            auto_apply: f.checked("auto_apply"),
            if_no_response: v("if_no_response"),
            reason_required: f.checked("reason_required"),
        }
    }
}

struct RoleOption {
    id: String,
    name: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "manage_reviews_new.html")]
struct NewReviewPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    form: ReviewForm,
    errors: Vec<String>,
    roles: Vec<RoleOption>,
    scopes: Vec<String>,
    kinds: Vec<Choice>,
    recurrences: Vec<Choice>,
    if_no_response: Vec<Choice>,
}

async fn page(s: &AppState, session: &Session, form: ReviewForm, errors: Vec<String>) -> PortalResult {
    let chrome = Chrome::new(session, "manage", "New access review");
    let scopes: Vec<String> =
        s.engine.scopes_allowing(&session.ctx, REVIEWS_WRITE).iter().map(ScopePath::to_string).collect();
    if scopes.is_empty() {
        return Err(
            PortalError::new(ErrorKind::Forbidden, "you may not create access reviews anywhere").within(&chrome)
        );
    }
    // Roles are listed to those who may read them at `/`; others name them.
    let roles = if session.allowed(s, ROLES_READ, &ScopePath::root()) {
        let list = s.engine.list_roles(&session.ctx).await.map_err(|e| PortalError::from(e).within(&chrome))?;
        list.into_iter()
            .map(|r| RoleOption {
                checked: form.role_ids.contains(&r.id.to_string()),
                id: r.id.to_string(),
                name: r.name,
            })
            .collect()
    } else {
        vec![]
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(render_status(
        status,
        &NewReviewPage {
            tabs: tabs(s, session, "reviews"),
            kinds: choices(KINDS, &form.kinds),
            recurrences: choices(RECURRENCES, &form.recurrence),
            if_no_response: choices(IF_NO_RESPONSE, &form.if_no_response),
            form,
            errors,
            roles,
            scopes,
            chrome,
        },
    ))
}

/// `GET /manage/reviews/new`.
async fn new_review_form(State(s): State<AppState>, session: Session) -> PortalResult {
    let scope = s.engine.scopes_allowing(&session.ctx, REVIEWS_WRITE).first().map(ScopePath::to_string);
    let form = ReviewForm {
        target_type: "roles".into(),
        scope: scope.unwrap_or_else(|| "/".into()),
        kinds: "both".into(),
        reviewers_type: "selected".into(),
        start: input_time(s.engine.now()),
        recurrence: "oneTime".into(),
        duration_days: "14".into(),
        end_type: "never".into(),
        if_no_response: "noChange".into(),
        reason_required: true,
        ..ReviewForm::default()
    };
    page(&s, &session, form, vec![]).await
}

/// Names (or ids) separated by commas or new lines, as reviewer references.
fn reviewer_refs(s: &AppState, text: &str, what: &str, errors: &mut Vec<String>) -> Vec<ApproverRef> {
    let mut out = vec![];
    for name in text.split([',', '\n']).map(str::trim).filter(|n| !n.is_empty()) {
        let id = s.engine.index().resolve_name(name).or_else(|| name.parse::<PrincipalId>().ok());
        match id.and_then(|id| s.engine.index().principal(id)) {
            Some(p) => out.push(ApproverRef { kind: p.kind, id: p.id }),
            None => errors.push(format!("{what}: there is no user or group named '{name}'.")),
        }
    }
    out
}

fn number<T: std::str::FromStr>(text: &str, what: &str, errors: &mut Vec<String>) -> Option<T> {
    if text.is_empty() {
        return None;
    }
    text.parse().map_err(|_| errors.push(format!("{what}: '{text}' is not a whole number."))).ok()
}

/// A `datetime-local` value (UTC).
fn when(text: &str, what: &str, errors: &mut Vec<String>) -> Option<pim_domain::Timestamp> {
    parse_input_time(text, what).map_err(|_| errors.push(format!("{what}: '{text}' is not a date and time."))).ok()
}

/// The review the form describes, or what is wrong with it.
async fn new_review(s: &AppState, session: &Session, f: &ReviewForm) -> Result<NewReview, Vec<String>> {
    let mut errors = vec![];
    let target = if f.target_type == "group" {
        let id = s.engine.index().resolve_name(&f.group).or_else(|| f.group.parse().ok());
        match id.and_then(|id| s.engine.index().principal(id)) {
            Some(p) if p.kind == PrincipalKind::Group => Some(ReviewTarget::GroupMembership { group_id: p.id }),
            _ if f.group.is_empty() => {
                errors.push("Group: name the group whose membership is reviewed.".into());
                None
            }
            _ => {
                errors.push(format!("Group: there is no group named '{}'.", f.group));
                None
            }
        }
    } else {
        let mut role_ids: Vec<RoleId> = vec![];
        for r in &f.role_ids {
            match r.parse() {
                Ok(id) => role_ids.push(id),
                Err(_) => errors.push(format!("Roles: '{r}' is not a role.")),
            }
        }
        for name in f.role_names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match s.engine.get_role(&session.ctx, name).await {
                Ok(r) => role_ids.push(r.id),
                Err(e) => errors.push(format!("Roles: {}", refused_text(&e))),
            }
        }
        let mut seen = std::collections::HashSet::new();
        role_ids.retain(|r| seen.insert(*r));
        if role_ids.is_empty() && errors.is_empty() {
            errors.push("Roles: choose at least one role to review.".into());
        }
        match ScopePath::parse(&f.scope) {
            Ok(scope) => Some(ReviewTarget::Roles { role_ids, scope }),
            Err(e) => {
                errors.push(format!("Scope: {e}"));
                None
            }
        }
    };
    let kinds = match f.kinds.as_str() {
        "eligible" => ReviewedKinds::Eligible,
        "active" => ReviewedKinds::Active,
        _ => ReviewedKinds::Both,
    };
    let inactive_days = number::<u32>(&f.inactive_days, "Inactive days", &mut errors);
    let reviewers = match f.reviewers_type.as_str() {
        "self" => Reviewers::SelfReview,
        "managers" => {
            Reviewers::Managers { fallback: reviewer_refs(s, &f.fallback, "Fallback reviewers", &mut errors) }
        }
        _ => Reviewers::Selected { reviewers: reviewer_refs(s, &f.reviewers, "Reviewers", &mut errors) },
    };
    let start = if f.start.is_empty() { Some(s.engine.now()) } else { when(&f.start, "Start", &mut errors) };
    let recurrence = match f.recurrence.as_str() {
        "weekly" => Recurrence::Weekly,
        "monthly" => Recurrence::Monthly,
        "quarterly" => Recurrence::Quarterly,
        "semiAnnually" => Recurrence::SemiAnnually,
        "annually" => Recurrence::Annually,
        _ => Recurrence::OneTime,
    };
    let duration_days = number::<u32>(&f.duration_days, "Duration (days)", &mut errors);
    if f.duration_days.is_empty() {
        errors.push("Duration (days) is required.".into());
    }
    let end = match f.end_type.as_str() {
        "onDate" if f.end_at.is_empty() => {
            errors.push("End date: give the date after which no instance starts.".into());
            None
        }
        "onDate" => when(&f.end_at, "End date", &mut errors).map(|at| ReviewEnd::OnDate { at }),
        "afterOccurrences" => match number::<u32>(&f.end_count, "Occurrences", &mut errors) {
            Some(count) => Some(ReviewEnd::AfterOccurrences { count }),
            None => {
                if f.end_count.is_empty() {
                    errors.push("Occurrences: give how many instances run.".into());
                }
                None
            }
        },
        _ => Some(ReviewEnd::Never),
    };
    let if_no_response = match f.if_no_response.as_str() {
        "remove" => IfNoResponse::Remove,
        "approve" => IfNoResponse::Approve,
        "takeRecommendation" => IfNoResponse::TakeRecommendation,
        _ => IfNoResponse::NoChange,
    };
    match (target, start, duration_days, end) {
        (Some(target), Some(start), Some(duration_days), Some(end)) if errors.is_empty() => Ok(NewReview {
            name: f.name.clone(),
            description: Some(f.description.clone()).filter(|d| !d.is_empty()),
            target,
            kinds,
            inactive_days,
            reviewers,
            schedule: ReviewSchedule { start, recurrence, duration_days, end },
            auto_apply: f.auto_apply,
            if_no_response,
            reason_required: f.reason_required,
        }),
        _ => Err(errors),
    }
}

/// `POST /manage/reviews/new`: creates the review and opens it.
async fn create_review(State(s): State<AppState>, session: Session, form: FormData) -> PortalResult {
    let f = ReviewForm::read(&form);
    let new = match new_review(&s, &session, &f).await {
        Ok(n) => n,
        Err(errors) => return page(&s, &session, f, errors).await,
    };
    match s.engine.create_review(&session.ctx, new).await {
        Ok(d) => {
            let started = s.engine.get_review(&session.ctx, d.id).await.map(|r| r.instances.len()).unwrap_or(0);
            let text = if started > 0 {
                format!("Access review {} created; its first instance has started.", d.name)
            } else {
                format!("Access review {} created; its first instance starts {}.", d.name, time(d.schedule.start))
            };
            Ok(redirect_with(&format!("/manage/reviews/{}", d.id), Flash::ok(text)))
        }
        Err(e) if e.refusal().is_some_and(|d| d.kind == ErrorKind::Forbidden) => {
            Err(PortalError::from(e).within(&Chrome::new(&session, "manage", "")))
        }
        Err(e) => page(&s, &session, f, vec![refused_text(&e)]).await,
    }
}
