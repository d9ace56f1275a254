//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`, from the schema table in `pim-scim`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use pim_scim::ScimError;
use pim_scim::discovery;
use serde_json::{Value, json};

use super::ScimId;
use super::{Fail, ScimResult, base_url, scim_json};
use crate::AppState;

/// Where people read how to set pim up as a SCIM service provider.
const DOCS: &str = "https://pim.dev/docs/IDENTITY.md";

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [pim_scim::schema::LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

fn one_of(resources: Vec<Value>, id: &str, what: &str) -> ScimResult {
    resources
        .into_iter()
        .find(|r| r["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
        .map(|r| scim_json(StatusCode::OK, &r))
        .ok_or_else(|| Fail(ScimError { status: 404, scim_type: None, detail: format!("no {what} '{id}'") }))
}

/// What pim supports.
pub async fn service_provider_config(State(s): State<AppState>, headers: HeaderMap) -> ScimResult {
    Ok(scim_json(StatusCode::OK, &discovery::service_provider_config(&base_url(&s, &headers), DOCS)))
}

/// The resource types (User, Group).
pub async fn resource_types(State(s): State<AppState>, headers: HeaderMap) -> ScimResult {
    Ok(scim_json(StatusCode::OK, &list(discovery::resource_types(&base_url(&s, &headers)))))
}

/// One resource type.
pub async fn resource_type(State(s): State<AppState>, headers: HeaderMap, ScimId(id): ScimId) -> ScimResult {
    one_of(discovery::resource_types(&base_url(&s, &headers)), &id, "resource type")
}

/// The schemas.
pub async fn schemas(State(s): State<AppState>, headers: HeaderMap) -> ScimResult {
    Ok(scim_json(StatusCode::OK, &list(discovery::schemas(&base_url(&s, &headers)))))
}

/// One schema, by its URN.
pub async fn schema(State(s): State<AppState>, headers: HeaderMap, ScimId(id): ScimId) -> ScimResult {
    one_of(discovery::schemas(&base_url(&s, &headers)), &id, "schema")
}
