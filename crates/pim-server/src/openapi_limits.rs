//! The server's input limits (lengths, patterns, ranges) written into the OpenAPI document's schemas.

use pim_domain::mfa::{RECOVERY_CODE_LEN, TOTP_DIGITS};
use pim_domain::permission::{MAX_ACTION_LEN, MAX_ACTION_SEGMENTS, MAX_BATCH_CHECKS};
use pim_domain::principal::MAX_NAME_LEN;
use pim_domain::request::{MAX_JUSTIFICATION_LEN, MAX_TICKET_FIELD_LEN};
use pim_domain::review::{MAX_DURATION_DAYS, MAX_INACTIVE_DAYS, MAX_ROLES};
use pim_domain::role::{MAX_DESCRIPTION_LEN, MAX_ROLE_NAME_LEN};
use pim_domain::scope::{MAX_SCOPE_DEPTH, MAX_SCOPE_LEN, MAX_SEGMENT_LEN};
use pim_domain::token::{MAX_AUDIENCE_NAME_LEN, MAX_AUDIENCE_ROLES, MAX_LIFETIME_SECS, MIN_LIFETIME_SECS};
use serde_json::{Value, json};

/// Longest label of a resource, a review or a token name (bytes; the engine's checks).
const MAX_LABEL_LEN: usize = 200;
const MAX_TOKEN_NAME_LEN: usize = 100;
/// How many requests one bulk decision names.
const MAX_BULK_REQUESTS: usize = 100;
/// How many items one review decision names.
const MAX_REVIEW_ITEMS: usize = 1000;
/// The directory's limits (pim-engine directory.rs).
const MAX_DISPLAY_NAME_LEN: usize = 256;
const MAX_EMAIL_LEN: usize = 254;
/// A local password's length.
const PASSWORD_LEN: (usize, usize) = (8, 1024);
const MAX_EVENT_LEN: usize = 100;
/// How many reviewers (or fallback reviewers) a review names (pim-domain review.rs).
const MAX_REVIEWERS: usize = 100;

/// A string of 1 to `max` characters, none a control character, not only white space (the
/// server counts bytes, so the runs generate ASCII: see scripts/schemathesis.sh).
fn printable(max: usize) -> Value {
    json!({ "maxLength": max, "pattern": r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$" })
}

/// A principal name: letters, digits or `. _ - @ +`.
fn principal_name() -> Value {
    json!({ "minLength": 1, "maxLength": MAX_NAME_LEN, "pattern": r"^[\w.@+-]+$" })
}

fn totp_code() -> Value {
    json!({ "pattern": format!("^[0-9]{{{TOTP_DIGITS}}}$") })
}

fn recovery_code() -> Value {
    let half = RECOVERY_CODE_LEN / 2;
    json!({ "pattern": format!("^[0-9a-hjkmnp-tv-z]{{{half}}}-?[0-9a-hjkmnp-tv-z]{{{half}}}$") })
}

/// A justification: at most 2000 bytes, no control character but a line break or a tab.
fn justification() -> Value {
    json!({ "maxLength": MAX_JUSTIFICATION_LEN, "pattern": r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$" })
}

/// An action name: dot-separated segments of letters, digits, `-` and `_`.
fn action() -> Value {
    let more = MAX_ACTION_SEGMENTS - 1;
    json!({ "maxLength": MAX_ACTION_LEN, "pattern": format!(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){{0,{more}}}$") })
}

/// An action pattern: like an action name, where a segment may be `*`.
fn action_pattern() -> Value {
    let more = MAX_ACTION_SEGMENTS - 1;
    json!({
        "maxLength": MAX_ACTION_LEN,
        "pattern": format!(r"^([A-Za-z0-9_-]+|\*)(\.([A-Za-z0-9_-]+|\*)){{0,{more}}}$"),
    })
}

/// Optional text of at most `max` bytes without control characters (the directory's fields).
fn text(max: usize) -> Value {
    json!({ "maxLength": max, "pattern": r"^[^\x00-\x1f\x7f-\x9f]*$" })
}

/// An email address as the directory checks it: `local@domain.tld`, no spaces or `, < >`.
fn email() -> Value {
    json!({ "maxLength": MAX_EMAIL_LEN, "pattern": r"^[^\s\x00-\x1f\x7f-\x9f,<>@]+@[^\s\x00-\x1f\x7f-\x9f,<>@.][^\s\x00-\x1f\x7f-\x9f,<>@]*\.[^\s\x00-\x1f\x7f-\x9f,<>@]+$" })
}

/// A notification event filter: 1 to 100 characters, no space or control character.
fn event() -> Value {
    json!({ "maxLength": MAX_EVENT_LEN, "pattern": "^[!-~]+$" })
}

/// An instant the server accepts: years 1970 to 8999 (pim_domain::time).
fn timestamp() -> Value {
    json!({ "pattern": "^(19[7-9][0-9]|[2-8][0-9]{3})-" })
}

/// A scope path other than `/` (a resource cannot be the directory itself).
fn below_root() -> Value {
    let mut s = scope();
    s["pattern"] = json!(s["pattern"].as_str().unwrap_or_default().replacen("^(/|(", "^((", 1));
    s
}

/// An audience name: 1 to 200 characters, no space or control character.
fn audience_name() -> Value {
    json!({ "minLength": 1, "maxLength": MAX_AUDIENCE_NAME_LEN, "pattern": r"^[^\s\x00-\x1f\x7f-\x9f]+$" })
}

/// A token lifetime in seconds.
fn lifetime() -> Value {
    json!({ "minimum": MIN_LIFETIME_SECS, "maximum": MAX_LIFETIME_SECS })
}

/// Query parameters holding a scope path.
const SCOPE_PARAMS: [&str; 2] = ["scope", "under"];

/// A scope path: `/`, or up to 16 segments of letters, digits and `- _ . : @ ~` (a segment
/// starting with a dot is left out, so `.` and `..` are).
pub fn scope() -> Value {
    let seg_rest = MAX_SEGMENT_LEN - 1;
    json!({
        "maxLength": MAX_SCOPE_LEN,
        "pattern": format!("^(/|(/[A-Za-z0-9_:@~-][A-Za-z0-9_:@~.-]{{0,{seg_rest}}}){{1,{MAX_SCOPE_DEPTH}}})$"),
    })
}

/// (schema, property, the keywords to add to it).
fn limits() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("LoginRequest", "otp", totp_code()),
        ("CreateRequest", "otp", totp_code()),
        ("ConfirmTotp", "code", totp_code()),
        ("VerifyMfa", "code", totp_code()),
        ("VerifyMfa", "recoveryCode", recovery_code()),
        ("BulkDecision", "requestIds", json!({ "minItems": 1, "maxItems": MAX_BULK_REQUESTS, "uniqueItems": true })),
        ("CreateRequest", "justification", justification()),
        ("DecideRequest", "justification", justification()),
        ("DecideSettingsChange", "justification", justification()),
        ("CheckRequest", "action", action()),
        ("BatchCheckRequest", "checks", json!({ "minItems": 1, "maxItems": MAX_BATCH_CHECKS })),
        ("CompleteReview", "note", justification()),
        ("CreateReview", "inactiveDays", json!({ "minimum": 1, "maximum": MAX_INACTIVE_DAYS })),
        ("ReviewScheduleInput", "durationDays", json!({ "minimum": 1, "maximum": MAX_DURATION_DAYS })),
        ("CreateTokenRequest", "expiresInDays", json!({ "minimum": 1, "maximum": 365 })),
        ("CreateTokenRequest", "name", printable(MAX_TOKEN_NAME_LEN)),
        ("LoginRequest", "tokenName", printable(MAX_TOKEN_NAME_LEN)),
        ("CreateRole", "name", printable(MAX_ROLE_NAME_LEN)),
        ("CreateRole", "description", json!({ "maxLength": MAX_DESCRIPTION_LEN })),
        ("CreateUser", "name", principal_name()),
        ("CreateGroup", "name", principal_name()),
        ("CreateServicePrincipal", "name", principal_name()),
        ("CreateUser", "password", json!({ "minLength": PASSWORD_LEN.0, "maxLength": PASSWORD_LEN.1 })),
        ("UpdateUser", "password", json!({ "minLength": PASSWORD_LEN.0, "maxLength": PASSWORD_LEN.1 })),
        ("CreateUser", "displayName", text(MAX_DISPLAY_NAME_LEN)),
        ("UpdateUser", "displayName", text(MAX_DISPLAY_NAME_LEN)),
        ("CreateGroup", "displayName", text(MAX_DISPLAY_NAME_LEN)),
        ("UpdateGroup", "displayName", text(MAX_DISPLAY_NAME_LEN)),
        ("CreateServicePrincipal", "displayName", text(MAX_DISPLAY_NAME_LEN)),
        ("UpdateServicePrincipal", "displayName", text(MAX_DISPLAY_NAME_LEN)),
        ("CreateGroup", "description", text(MAX_DESCRIPTION_LEN)),
        ("UpdateGroup", "description", text(MAX_DESCRIPTION_LEN)),
        ("CreateServicePrincipal", "description", text(MAX_DESCRIPTION_LEN)),
        ("UpdateServicePrincipal", "description", text(MAX_DESCRIPTION_LEN)),
        ("CreateUser", "email", email()),
        ("UpdateUser", "email", email()),
        ("CreateGroup", "email", email()),
        ("UpdateGroup", "email", email()),
        ("DecideReviewItems", "itemIds", json!({ "minItems": 1, "maxItems": MAX_REVIEW_ITEMS })),
        ("CheckRequest", "scope", scope()),
        ("CreateResource", "scope", below_root()),
        ("Ticket", "system", printable(MAX_TICKET_FIELD_LEN)),
        ("Ticket", "number", printable(MAX_TICKET_FIELD_LEN)),
        ("CreateReview", "name", printable(MAX_LABEL_LEN)),
        ("CreateResource", "name", printable(MAX_LABEL_LEN)),
        ("CreateResource", "type", printable(MAX_LABEL_LEN)),
        ("DismissAlert", "reason", printable(MAX_JUSTIFICATION_LEN)),
        ("ValidateScope", "scope", scope()),
        ("CreateAudience", "name", audience_name()),
        ("UpdateAudience", "name", audience_name()),
        ("CreateAudience", "lifetimeSecs", lifetime()),
        ("UpdateAudience", "lifetimeSecs", lifetime()),
        ("CreateAudience", "roles", json!({ "maxItems": MAX_AUDIENCE_ROLES })),
        ("UpdateAudience", "roles", json!({ "maxItems": MAX_AUDIENCE_ROLES })),
        ("CreateAccessTokenRequest", "scope", scope()),
    ]
}

/// Adds the limits to `doc`'s component schemas, the scope pattern to `ScopePath` and to the
/// string query parameters `scope` and `under`, and the year range to `Timestamp`.
pub fn complete(doc: &mut Value) {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        let ops = paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut());
        for param in ops.filter_map(|op| op.get_mut("parameters").and_then(Value::as_array_mut)).flatten() {
            let named = SCOPE_PARAMS.contains(&param["name"].as_str().unwrap_or(""));
            if param["in"] == "query" && named && param["schema"]["type"] == "string" {
                merge(&mut param["schema"], scope());
            }
            if param["in"] == "query" && param["name"] == "event" {
                merge(&mut param["schema"], event());
            }
        }
    }
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else { return };
    for (schema, property, keywords) in limits() {
        if let Some(target) = schemas.get_mut(schema).and_then(|s| s.pointer_mut(&format!("/properties/{property}"))) {
            merge(target, keywords);
        }
    }
    if let Some(target) = schemas.get_mut("ScopePath") {
        merge(target, scope());
    }
    if let Some(target) = schemas.get_mut("Timestamp") {
        merge(target, timestamp());
    }
    if let Some(target) = schemas.get_mut("Pattern") {
        merge(target, action_pattern());
    }
    let reviewers = schemas.get_mut("Reviewers").and_then(|r| r.get_mut("oneOf")).and_then(Value::as_array_mut);
    for kind in reviewers.into_iter().flatten() {
        merge(kind, json!({ "additionalProperties": false }));
        let Some(kind) = kind.get_mut("properties") else { continue };
        for key in ["reviewers", "fallback"] {
            if let Some(who) = kind.get_mut(key) {
                merge(who, json!({ "minItems": 1, "maxItems": MAX_REVIEWERS }));
            }
        }
    }
    let targets = schemas.get_mut("ReviewTarget").and_then(|t| t.get_mut("oneOf")).and_then(Value::as_array_mut);
    for target in targets.into_iter().flatten() {
        merge(target, json!({ "additionalProperties": false }));
    }
    if let Some(roles) = schemas.get_mut("ReviewTarget").and_then(|t| t.pointer_mut("/oneOf/0/properties/roleIds")) {
        merge(roles, json!({ "minItems": 1, "maxItems": MAX_ROLES }));
    }
}

fn merge(target: &mut Value, keywords: Value) {
    if let (Some(t), Value::Object(k)) = (target.as_object_mut(), keywords) {
        t.extend(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        let mut doc: Value = serde_json::from_str(&crate::openapi::document_json()).expect("json");
        complete(&mut doc);
        doc
    }

    #[test]
    fn limits_come_from_the_domain_constants() {
        let doc = doc();
        let user = &doc["components"]["schemas"]["CreateUser"]["properties"]["name"];
        assert_eq!(user["maxLength"], MAX_NAME_LEN);
        let role = &doc["components"]["schemas"]["CreateRole"]["properties"]["name"];
        assert_eq!(role["maxLength"], MAX_ROLE_NAME_LEN);
        let ids = &doc["components"]["schemas"]["BulkDecision"]["properties"]["requestIds"];
        assert_eq!((ids["minItems"].clone(), ids["maxItems"].clone()), (json!(1), json!(MAX_BULK_REQUESTS)));
        let otp = &doc["components"]["schemas"]["LoginRequest"]["properties"]["otp"];
        assert_eq!(otp["pattern"], "^[0-9]{6}$");
    }

    #[test]
    fn every_limit_names_a_documented_property() {
        let doc = doc();
        for (schema, property, _) in limits() {
            assert!(
                doc["components"]["schemas"][schema]["properties"].get(property).is_some(),
                "{schema}.{property} is not in the document"
            );
        }
    }

    #[test]
    fn scope_query_parameters_carry_the_scope_pattern() {
        let doc = doc();
        let params = doc["paths"]["/api/v1/resources"]["get"]["parameters"].as_array().expect("params").clone();
        let under = params.iter().find(|p| p["name"] == "under").expect("under");
        assert_eq!(under["schema"]["pattern"], scope()["pattern"]);
        assert_eq!(doc["components"]["schemas"]["ScopePath"]["maxLength"], MAX_SCOPE_LEN);
    }
}
