//! `/Users` and `/Groups`: create, read, list (filters, `startIndex`/`count` paging,
//! `attributes`/`excludedAttributes`), `.search`, replace (PUT), PATCH and delete, with ETags.
//! A PATCH reads the resource, applies the operations to its representation and writes the
//! result as a PUT would, so both share one write path.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use pim_domain::PrincipalKind;
use pim_engine::scim::{ScimMembers, ScimRecord};
use pim_scim::attributes::Projection;
use pim_scim::resource::{self, GroupView, Ref, UserView};
use pim_scim::schema::ResourceKind;
use pim_scim::{ScimError, discovery, filter, normalize, patch};
use serde_json::{Value, json};

use super::{Fail, ScimBody, ScimCtx, ScimId, ScimResult, base_url, scim_json};
use crate::AppState;

/// Page size when the client names none.
pub const DEFAULT_COUNT: usize = 100;

fn refs(related: &[pim_domain::Principal]) -> Vec<Ref> {
    related
        .iter()
        .map(|p| Ref {
            id: p.id.to_string(),
            display: p.display_name.clone(),
            kind: if p.kind == PrincipalKind::Group { ResourceKind::Group } else { ResourceKind::User },
        })
        .collect()
}

/// The full representation of a record.
fn representation(kind: ResourceKind, rec: &ScimRecord, base: &str) -> Value {
    let p = &rec.principal;
    let id = p.id.to_string();
    let related = refs(&rec.related);
    match kind {
        ResourceKind::User => {
            let manager = p.manager_id.map(|m| m.to_string());
            resource::user_json(
                &UserView {
                    id: &id,
                    user_name: &p.name,
                    display_name: &p.display_name,
                    email: p.email.as_deref(),
                    enabled: p.enabled,
                    manager_id: manager.as_deref(),
                    created_ms: p.created_at.0,
                    modified_ms: rec.modified.0,
                    doc: &rec.doc,
                    groups: &related,
                },
                base,
            )
        }
        ResourceKind::Group => resource::group_json(
            &GroupView {
                id: &id,
                display_name: &p.display_name,
                created_ms: p.created_at.0,
                modified_ms: rec.modified.0,
                doc: &rec.doc,
                members: &related,
            },
            base,
        ),
    }
}

/// The query string's parameters (the last of repeated ones).
fn params(uri: &Uri) -> HashMap<String, String> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect()
}

fn projection(kind: ResourceKind, p: &HashMap<String, String>) -> Result<Projection, Fail> {
    Ok(Projection::parse(
        kind,
        p.get("attributes").map(String::as_str),
        p.get("excludedAttributes").map(String::as_str),
    )?)
}

/// One resource as a response, with its `ETag` (and `Location` when created).
fn one(status: StatusCode, v: Value, projection: &Projection) -> ScimResult {
    let version = v["meta"]["version"].as_str().map(str::to_owned);
    let location = v["meta"]["location"].as_str().map(str::to_owned);
    let mut resp = scim_json(status, &projection.apply(v));
    if let Some(etag) = version.and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    if status == StatusCode::CREATED
        && let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok())
    {
        resp.headers_mut().insert(header::LOCATION, l);
    }
    Ok(resp)
}

/// Refuses with `412` a write whose `If-Match` names another version.
fn check_if_match(headers: &HeaderMap, current: &Value) -> Result<(), Fail> {
    let Some(want) = headers.get(header::IF_MATCH) else { return Ok(()) };
    let want = want.to_str().unwrap_or("");
    let have = current["meta"]["version"].as_str().unwrap_or("");
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    if want.trim() == "*" || want.split(',').any(|t| opaque(t) == opaque(have)) {
        return Ok(());
    }
    Err(Fail(ScimError {
        status: 412,
        scim_type: None,
        detail: format!("the resource is at version {have}, not the one If-Match names"),
    }))
}

fn number(p: &HashMap<String, String>, key: &str) -> Result<Option<i64>, Fail> {
    match p.get(key) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Fail(ScimError::invalid_value(format!("'{key}' must be an integer")))),
    }
}

async fn list(
    s: &AppState,
    ctx: &pim_engine::Context,
    kind: ResourceKind,
    headers: &HeaderMap,
    p: &HashMap<String, String>,
) -> ScimResult {
    let projection = projection(kind, p)?;
    let start = number(p, "startIndex")?.unwrap_or(1).max(1);
    let count = number(p, "count")?.map_or(DEFAULT_COUNT, |c| c.clamp(0, discovery::MAX_RESULTS as i64) as usize);
    let compiled = match p.get("filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => Some(filter::parse(f)?.compile(kind)?),
        None => None,
    };
    let fast = match compiled.as_ref().and_then(|c| c.simple_eq()) {
        Some((attr, value)) => s.engine.scim_find(ctx, kind, attr, value).await?,
        None => None,
    };
    let records = match fast {
        Some(r) => r,
        None => s.engine.scim_list(ctx, kind).await?,
    };
    let base = base_url(s, headers);
    let matched: Vec<Value> = records
        .iter()
        .map(|r| representation(kind, r, &base))
        .filter(|v| compiled.as_ref().is_none_or(|c| c.matches(v)))
        .collect();
    let total = matched.len();
    let page: Vec<Value> = matched
        .into_iter()
        .skip(usize::try_from(start - 1).unwrap_or(usize::MAX))
        .take(count)
        .map(|v| projection.apply(v))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [pim_scim::schema::LIST_RESPONSE],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": page.len(),
            "Resources": page,
        }),
    ))
}

/// The parameters of a `.search` body, as query parameters.
fn search_params(body: &Value) -> Result<HashMap<String, String>, Fail> {
    let bad = |m: &str| Fail(ScimError::invalid_value(m.to_owned()));
    let Value::Object(o) = body else { return Err(bad("the body must be a SearchRequest object")) };
    let mut out = HashMap::new();
    for (k, v) in o {
        match k.as_str() {
            "schemas" => {}
            "attributes" | "excludedAttributes" => {
                let list = match v {
                    Value::Array(a) => a
                        .iter()
                        .map(|x| x.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad("attributes are a list of names"))?,
                    Value::String(s) => vec![s.clone()],
                    _ => return Err(bad("attributes are a list of names")),
                };
                out.insert(k.clone(), list.join(","));
            }
            "filter" | "sortBy" | "sortOrder" => {
                let s = v.as_str().ok_or_else(|| bad("filter, sortBy and sortOrder are strings"))?;
                out.insert(k.clone(), s.to_owned());
            }
            "startIndex" | "count" => {
                let n = v.as_i64().ok_or_else(|| bad("startIndex and count are integers"))?;
                out.insert(k.clone(), n.to_string());
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Records a write refused before it reached the engine (a malformed value or PATCH) as a failed
/// `user.VERB` / `group.VERB` event by the client, as the engine records its own refusals.
async fn refused(s: &AppState, ctx: &ScimCtx, kind: ResourceKind, verb: &str, e: Fail) -> Fail {
    let noun = match kind {
        ResourceKind::User => "user",
        ResourceKind::Group => "group",
    };
    let d = pim_domain::DomainError::new(pim_domain::ErrorKind::InvalidInput, e.0.detail.clone());
    if let Err(err) = s.engine.record_refused(&ctx.0, &format!("{noun}.{verb}"), &d).await {
        tracing::warn!(error = %err, "could not record a refused SCIM write");
    }
    e
}

/// A resource body made canonical.
fn canonical(kind: ResourceKind, body: &Value) -> Result<Value, Fail> {
    Ok(normalize::resource(kind, body)?)
}

async fn create(
    s: AppState,
    ctx: ScimCtx,
    kind: ResourceKind,
    headers: HeaderMap,
    uri: Uri,
    body: Value,
) -> ScimResult {
    let p = params(&uri);
    let projection = projection(kind, &p)?;
    let prepared = canonical(kind, &body).and_then(|doc| match kind {
        ResourceKind::User => resource::user_write(doc).map(Ok).map_err(Fail::from),
        ResourceKind::Group => resource::group_write(doc).map(Err).map_err(Fail::from),
    });
    let rec = match prepared {
        Ok(Ok(user)) => s.engine.scim_create_user(&ctx.0, user).await?,
        Ok(Err(group)) => s.engine.scim_create_group(&ctx.0, group).await?,
        Err(e) => return Err(refused(&s, &ctx, kind, "create", e).await),
    };
    one(StatusCode::CREATED, representation(kind, &rec, &base_url(&s, &headers)), &projection)
}

async fn get(s: AppState, ctx: ScimCtx, kind: ResourceKind, headers: HeaderMap, uri: Uri, id: String) -> ScimResult {
    let projection = projection(kind, &params(&uri))?;
    let rec = s.engine.scim_get(&ctx.0, kind, &id).await?;
    one(StatusCode::OK, representation(kind, &rec, &base_url(&s, &headers)), &projection)
}

async fn replace(
    s: AppState,
    ctx: ScimCtx,
    kind: ResourceKind,
    headers: HeaderMap,
    uri: Uri,
    id: String,
    body: Value,
) -> ScimResult {
    let projection = projection(kind, &params(&uri))?;
    let base = base_url(&s, &headers);
    let current = s.engine.scim_get(&ctx.0, kind, &id).await?;
    check_if_match(&headers, &representation(kind, &current, &base))?;
    let prepared = canonical(kind, &body).and_then(|mut doc| match kind {
        ResourceKind::User => {
            // A PUT without `active` leaves the account as it is (never re-enables it).
            if doc.get("active").is_none()
                && let Some(o) = doc.as_object_mut()
            {
                o.insert("active".into(), Value::Bool(current.principal.enabled));
            }
            resource::user_write(doc).map(Ok).map_err(Fail::from)
        }
        ResourceKind::Group => resource::group_write(doc).map(Err).map_err(Fail::from),
    });
    let rec = match prepared {
        Ok(Ok(user)) => s.engine.scim_replace_user(&ctx.0, &id, user, Some(current.modified)).await?,
        Ok(Err(group)) => {
            let members = ScimMembers::Replace(group.members.clone());
            s.engine.scim_replace_group(&ctx.0, &id, group, members, Some(current.modified)).await?
        }
        Err(e) => return Err(refused(&s, &ctx, kind, "update", e).await),
    };
    one(StatusCode::OK, representation(kind, &rec, &base), &projection)
}

fn member_ids(v: &Value) -> Vec<String> {
    v.get("members")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned)).collect())
        .unwrap_or_default()
}

async fn patch(
    s: AppState,
    ctx: ScimCtx,
    kind: ResourceKind,
    headers: HeaderMap,
    uri: Uri,
    id: String,
    body: Value,
) -> ScimResult {
    let projection = projection(kind, &params(&uri))?;
    let base = base_url(&s, &headers);
    let current = s.engine.scim_get(&ctx.0, kind, &id).await?;
    let rep = representation(kind, &current, &base);
    check_if_match(&headers, &rep)?;
    let patched = patch::parse_request(&body).and_then(|ops| {
        let mut doc = resource::editable(kind, &rep)?;
        patch::apply(kind, &mut doc, &ops)?;
        Ok(doc)
    });
    let before = member_ids(&rep);
    let prepared = patched.map_err(Fail::from).and_then(|doc| {
        let after = member_ids(&doc);
        match kind {
            ResourceKind::User => resource::user_write(doc).map(|u| (Ok(u), after)).map_err(Fail::from),
            ResourceKind::Group => resource::group_write(doc).map(|g| (Err(g), after)).map_err(Fail::from),
        }
    });
    let rec = match prepared {
        Ok((Ok(user), _)) => s.engine.scim_replace_user(&ctx.0, &id, user, Some(current.modified)).await?,
        Ok((Err(group), after)) => {
            let add = after.iter().filter(|m| !before.contains(m)).cloned().collect();
            let remove = before.iter().filter(|m| !after.contains(m)).cloned().collect();
            let members = ScimMembers::Change { add, remove };
            s.engine.scim_replace_group(&ctx.0, &id, group, members, Some(current.modified)).await?
        }
        Err(e) => return Err(refused(&s, &ctx, kind, "update", e).await),
    };
    one(StatusCode::OK, representation(kind, &rec, &base), &projection)
}

async fn delete(s: AppState, ctx: ScimCtx, kind: ResourceKind, headers: HeaderMap, id: String) -> ScimResult {
    let current = s.engine.scim_get(&ctx.0, kind, &id).await?;
    check_if_match(&headers, &representation(kind, &current, &base_url(&s, &headers)))?;
    s.engine.scim_delete(&ctx.0, kind, &id).await?;
    Ok(axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT))
}

/// `GET /Users`.
pub async fn list_users(State(s): State<AppState>, ctx: ScimCtx, headers: HeaderMap, uri: Uri) -> ScimResult {
    list(&s, &ctx.0, ResourceKind::User, &headers, &params(&uri)).await
}

/// `POST /Users/.search`.
pub async fn search_users(
    State(s): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    ScimBody(b): ScimBody,
) -> ScimResult {
    list(&s, &ctx.0, ResourceKind::User, &headers, &search_params(&b)?).await
}

/// `POST /Users`.
pub async fn create_user(
    State(s): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    uri: Uri,
    ScimBody(b): ScimBody,
) -> ScimResult {
    create(s, ctx, ResourceKind::User, headers, uri, b).await
}

/// `GET /Users/{id}`.
pub async fn get_user(
    State(s): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    uri: Uri,
    ScimId(id): ScimId,
) -> ScimResult {
    get(s, ctx, ResourceKind::User, headers, uri, id).await
}

/// `PUT /Users/{id}`.
pub async fn replace_user(
    State(s): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    uri: Uri,
    ScimId(id): ScimId,
    ScimBody(b): ScimBody,
) -> ScimResult {
    replace(s, ctx, ResourceKind::User, headers, uri, id, b).await
}

/// `PATCH /Users/{id}`.
pub async fn patch_user(
    State(s): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    uri: Uri,
    ScimId(id): ScimId,
    ScimBody(b): ScimBody,
) -> ScimResult {
    patch(s, ctx, ResourceKind::User, headers, uri, id, b).await
}

/// `DELETE /Users/{id}`.
pub async fn delete_user(
    State(s): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    ScimId(id): ScimId,
) -> ScimResult {
    delete(s, ctx, ResourceKind::User, headers, id).await
}

/// `GET /Groups`.
pub async fn list_groups(State(s): State<AppState>, ctx: ScimCtx, headers: HeaderMap, uri: Uri) -> ScimResult {
    list(&s, &ctx.0, ResourceKind::Group, &headers, &params(&uri)).await
}

/// `POST /Groups/.search`.
pub async fn search_groups(
    State(s): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    ScimBody(b): ScimBody,
) -> ScimResult {
    list(&s, &ctx.0, ResourceKind::Group, &headers, &search_params(&b)?).await
}

/// `POST /Groups`.
pub async fn create_group(
    State(s): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    uri: Uri,
    ScimBody(b): ScimBody,
) -> ScimResult {
    create(s, ctx, ResourceKind::Group, headers, uri, b).await
}

/// `GET /Groups/{id}`.
pub async fn get_group(
    State(s): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    uri: Uri,
    ScimId(id): ScimId,
) -> ScimResult {
    get(s, ctx, ResourceKind::Group, headers, uri, id).await
}

/// `PUT /Groups/{id}`.
pub async fn replace_group(
    State(s): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    uri: Uri,
    ScimId(id): ScimId,
    ScimBody(b): ScimBody,
) -> ScimResult {
    replace(s, ctx, ResourceKind::Group, headers, uri, id, b).await
}

/// `PATCH /Groups/{id}`.
pub async fn patch_group(
    State(s): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    uri: Uri,
    ScimId(id): ScimId,
    ScimBody(b): ScimBody,
) -> ScimResult {
    patch(s, ctx, ResourceKind::Group, headers, uri, id, b).await
}

/// `DELETE /Groups/{id}`.
pub async fn delete_group(
    State(s): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    ScimId(id): ScimId,
) -> ScimResult {
    delete(s, ctx, ResourceKind::Group, headers, id).await
}
