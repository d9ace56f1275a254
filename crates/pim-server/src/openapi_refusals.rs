//! The refusals every operation can answer, added to the OpenAPI document as `application/problem+json`.

use serde_json::{Value, json};

use crate::handlers::PUBLIC_OPERATIONS;

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Query filters naming a principal or a role by id or name: an unknown one is `404`.
const NAME_FILTERS: [&str; 3] = ["actor", "principal", "role"];

/// Operations whose callers are rate limited per source.
const RATE_LIMITED: [(&str, &str); 7] = [
    ("post", "/api/v1/auth/login"),
    ("get", "/api/v1/setup"),
    ("post", "/api/v1/setup"),
    ("post", "/api/v1/auth/oidc/{name}/start"),
    ("post", "/api/v1/auth/oidc/{name}/finish"),
    ("post", "/api/v1/auth/oidc/{name}/device"),
    ("post", "/api/v1/auth/oidc/{name}/device/poll"),
];

/// Completes `doc`: a query parameter is never empty (the server answers `400` to `?actor=`);
/// every non-public operation needs the bearer token and may answer `401`; one
/// with a path id or a principal or role filter `404`; a non-`/me` one `403`; one with input `400`; one with a body `413` and `415`; a rate-limited one
/// `429`. Every answer of 400 and above is a problem (`application/problem+json`).
pub fn complete(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut() {
            complete_operation(method, path, op);
        }
    }
}

fn complete_operation(method: &str, path: &str, op: &mut Value) {
    let public = PUBLIC_OPERATIONS.iter().any(|(m, p)| m.eq_ignore_ascii_case(method) && *p == path);
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        params.iter_mut().for_each(refuse_empty);
    }
    let params = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
    let has_path_id = params.iter().any(|p| p["in"] == "path");
    let has_body = op.get("requestBody").is_some();
    let names_someone =
        params.iter().any(|p| p["in"] == "query" && NAME_FILTERS.contains(&p["name"].as_str().unwrap_or("")));
    let mut add = Vec::new();
    if !public {
        op["security"] = json!([{ "bearer": [] }]);
        add.push(("401", "no valid bearer token (checked before anything else)"));
        if !path.starts_with("/api/v1/me") {
            add.push(("403", "the caller lacks the pim action this needs"));
        }
    }
    if has_path_id {
        add.push(("404", "nothing has that id"));
    } else if names_someone {
        add.push(("404", "no principal or role has that id or name"));
    }
    if has_body || !params.is_empty() {
        add.push(("400", "the input is invalid"));
    }
    if has_body {
        add.push(("413", "the body is larger than 1 MiB"));
        add.push(("415", "the body is not sent as application/json"));
    }
    if RATE_LIMITED.contains(&(method, path)) {
        add.push(("429", "too many attempts; see Retry-After"));
    }
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else { return };
    for (status, description) in add {
        responses.entry(status).or_insert_with(|| json!({ "description": description }));
    }
    for (status, response) in responses.iter_mut() {
        if status.as_str() >= "400" {
            if response["description"].as_str().is_none_or(str::is_empty) {
                response["description"] = json!("refused; see the problem's code and detail");
            }
            response["content"] = json!({ PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } });
        }
    }
}

/// A string query parameter has at least one character.
fn refuse_empty(param: &mut Value) {
    if param["in"] == "query" && param["schema"]["type"] == "string" && param["schema"].get("minLength").is_none() {
        param["schema"]["minLength"] = json!(1);
    }
}
