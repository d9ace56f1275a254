//! The mapping between SCIM resources and pim's directory: what a canonical resource sets in pim
//! ([`UserWrite`], [`GroupWrite`]) and the representation of a pim user or group with its stored
//! SCIM document ([`user_json`], [`group_json`]).

use serde_json::{Map, Value, json};

use crate::ScimError;
use crate::schema::{self, ResourceKind};

/// What a User resource sets in pim.
#[derive(Clone, Debug, PartialEq)]
pub struct UserWrite {
    /// pim's user name (`userName`).
    pub user_name: String,
    /// pim's display name: `displayName`, else `name.formatted`, else given and family name,
    /// else the user name.
    pub display_name: String,
    /// pim's enabled flag (`active`; absent means active).
    pub active: bool,
    /// pim's email: the primary `emails` value, else the first.
    pub email: Option<String>,
    /// The enterprise `manager.value`.
    pub manager: Option<String>,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The canonical resource, kept as the SCIM document.
    pub doc: Value,
}

/// What a Group resource sets in pim.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupWrite {
    /// pim's display name (`displayName`).
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The members' ids, in order, without duplicates.
    pub members: Vec<String>,
    /// The canonical resource without its members, kept as the SCIM document.
    pub doc: Value,
}

fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

/// Reads a canonical User resource.
pub fn user_write(doc: Value) -> Result<UserWrite, ScimError> {
    let user_name =
        text(&doc, "userName").ok_or_else(|| ScimError::invalid_value("'userName' is required"))?.to_owned();
    let name = doc.get("name").cloned().unwrap_or(Value::Null);
    let given_family =
        [text(&name, "givenName"), text(&name, "familyName")].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let display_name = text(&doc, "displayName")
        .or_else(|| text(&name, "formatted"))
        .map(str::to_owned)
        .or_else(|| (!given_family.is_empty()).then_some(given_family))
        .unwrap_or_else(|| user_name.clone());
    let active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
    let emails = doc.get("emails").and_then(Value::as_array).cloned().unwrap_or_default();
    let email = emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| emails.first())
        .and_then(|e| text(e, "value"))
        .map(str::to_owned);
    let manager =
        doc.get(schema::ENTERPRISE).and_then(|e| e.get("manager")).and_then(|m| text(m, "value")).map(str::to_owned);
    let external_id = text(&doc, "externalId").map(str::to_owned);
    Ok(UserWrite { user_name, display_name, active, email, manager, external_id, doc })
}

/// Reads a canonical Group resource.
pub fn group_write(mut doc: Value) -> Result<GroupWrite, ScimError> {
    let display_name =
        text(&doc, "displayName").ok_or_else(|| ScimError::invalid_value("'displayName' is required"))?.to_owned();
    let external_id = text(&doc, "externalId").map(str::to_owned);
    let mut members: Vec<String> = Vec::new();
    if let Some(Value::Array(list)) = doc.as_object_mut().and_then(|o| o.remove("members")) {
        for m in list {
            let Some(id) = text(&m, "value") else {
                return Err(ScimError::invalid_value("every member needs a 'value' (its id)"));
            };
            if !members.iter().any(|x| x == id) {
                members.push(id.to_owned());
            }
        }
    }
    Ok(GroupWrite { display_name, external_id, members, doc })
}

/// An RFC 3339 text for milliseconds since the epoch.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The version (weak ETag) of a resource last changed at `modified_ms`.
pub fn version(modified_ms: i64) -> String {
    format!("W/\"{modified_ms}\"")
}

/// A member or group reference: id, display name and kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref {
    /// The id.
    pub id: String,
    /// The display name.
    pub display: String,
    /// User or Group.
    pub kind: ResourceKind,
}

/// What pim holds of a user, for its representation.
#[derive(Clone, Debug)]
pub struct UserView<'a> {
    /// The id.
    pub id: &'a str,
    /// The user name.
    pub user_name: &'a str,
    /// The display name.
    pub display_name: &'a str,
    /// The email.
    pub email: Option<&'a str>,
    /// Enabled.
    pub enabled: bool,
    /// The manager's id.
    pub manager_id: Option<&'a str>,
    /// Created, in ms.
    pub created_ms: i64,
    /// Last changed, in ms.
    pub modified_ms: i64,
    /// The stored SCIM document (`{}` for a user never written through SCIM).
    pub doc: &'a Value,
    /// The groups the user is a direct member of.
    pub groups: &'a [Ref],
}

fn meta(kind: ResourceKind, base: &str, id: &str, created: i64, modified: i64) -> Value {
    json!({
        "resourceType": kind.name(),
        "created": rfc3339(created),
        "lastModified": rfc3339(modified),
        "location": location(base, kind, id),
        "version": version(modified),
    })
}

/// The URI of a resource, under `base` (the server's `/scim/v2` URL).
pub fn location(base: &str, kind: ResourceKind, id: &str) -> String {
    format!("{base}/{}/{id}", kind.endpoint())
}

fn doc_object(doc: &Value) -> Map<String, Value> {
    let mut o = doc.as_object().cloned().unwrap_or_default();
    for k in ["id", "meta", "schemas", "groups", "members"] {
        o.remove(k);
    }
    o
}

/// The full representation of a user.
pub fn user_json(u: &UserView<'_>, base: &str) -> Value {
    let mut o = doc_object(u.doc);
    o.insert("id".into(), json!(u.id));
    o.insert("userName".into(), json!(u.user_name));
    o.insert("active".into(), json!(u.enabled));
    let doc_display = text(u.doc, "displayName").is_some();
    if !doc_display && u.display_name != u.user_name && !u.display_name.is_empty() {
        o.insert("displayName".into(), json!(u.display_name));
    }
    if let Some(email) = u.email {
        let mut emails = o.get("emails").and_then(Value::as_array).cloned().unwrap_or_default();
        let known = emails
            .iter()
            .any(|e| e.get("value").and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(email)));
        if !known {
            for e in emails.iter_mut() {
                if let Some(e) = e.as_object_mut() {
                    e.remove("primary");
                }
            }
            emails.insert(0, json!({"value": email, "primary": true}));
            o.insert("emails".into(), Value::Array(emails));
        }
    }
    let mut ext = o.remove(schema::ENTERPRISE).and_then(|e| e.as_object().cloned()).unwrap_or_default();
    match u.manager_id {
        Some(m) => {
            ext.insert("manager".into(), json!({"value": m, "$ref": location(base, ResourceKind::User, m)}));
        }
        None => {
            ext.remove("manager");
        }
    }
    if !ext.is_empty() {
        o.insert(schema::ENTERPRISE.into(), Value::Object(ext));
    }
    if !u.groups.is_empty() {
        let groups: Vec<Value> = u
            .groups
            .iter()
            .map(|g| {
                json!({"value": g.id, "$ref": location(base, g.kind, &g.id), "display": g.display, "type": "direct"})
            })
            .collect();
        o.insert("groups".into(), Value::Array(groups));
    }
    o.insert("meta".into(), meta(ResourceKind::User, base, u.id, u.created_ms, u.modified_ms));
    let mut v = Value::Object(o);
    v["schemas"] = crate::normalize::schemas_of(ResourceKind::User, &v);
    v
}

/// What pim holds of a group, for its representation.
#[derive(Clone, Debug)]
pub struct GroupView<'a> {
    /// The id.
    pub id: &'a str,
    /// The display name.
    pub display_name: &'a str,
    /// Created, in ms.
    pub created_ms: i64,
    /// Last changed, in ms.
    pub modified_ms: i64,
    /// The stored SCIM document.
    pub doc: &'a Value,
    /// The direct members SCIM may see.
    pub members: &'a [Ref],
}

/// The full representation of a group.
pub fn group_json(g: &GroupView<'_>, base: &str) -> Value {
    let mut o = doc_object(g.doc);
    o.insert("id".into(), json!(g.id));
    o.insert("displayName".into(), json!(g.display_name));
    if !g.members.is_empty() {
        // No `display`: what clients send there is not kept, so it is not returned either.
        let members: Vec<Value> = g
            .members
            .iter()
            .map(|m| json!({"value": m.id, "$ref": location(base, m.kind, &m.id), "type": m.kind.name()}))
            .collect();
        o.insert("members".into(), Value::Array(members));
    }
    o.insert("meta".into(), meta(ResourceKind::Group, base, g.id, g.created_ms, g.modified_ms));
    o.insert("schemas".into(), json!([schema::GROUP]));
    Value::Object(o)
}

/// A representation made canonical again (what a PATCH starts from): server-set attributes and
/// the manager's and members' `$ref` dropped.
pub fn editable(kind: ResourceKind, representation: &Value) -> Result<Value, ScimError> {
    crate::normalize::resource(kind, representation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_round_trip() {
        let doc = crate::normalize::resource(
            ResourceKind::User,
            &json!({
                "userName": "ann", "name": {"givenName": "Ann", "familyName": "Lee"}, "active": "False",
                "emails": [{"value": "a@home.example"}, {"value": "ann@work.example", "primary": true}],
                "externalId": "e1",
                schema::ENTERPRISE: {"manager": {"value": "m1"}, "department": "R"}
            }),
        )
        .expect("normalizes");
        let w = user_write(doc.clone()).expect("reads");
        assert_eq!(w.user_name, "ann");
        assert_eq!(w.display_name, "Ann Lee");
        assert!(!w.active);
        assert_eq!(w.email.as_deref(), Some("ann@work.example"));
        assert_eq!(w.manager.as_deref(), Some("m1"));
        assert_eq!(w.external_id.as_deref(), Some("e1"));
        let groups = [Ref { id: "g1".into(), display: "G".into(), kind: ResourceKind::Group }];
        let view = UserView {
            id: "u1",
            user_name: "ann",
            display_name: &w.display_name,
            email: w.email.as_deref(),
            enabled: false,
            manager_id: Some("m1"),
            created_ms: 0,
            modified_ms: 1_000,
            doc: &doc,
            groups: &groups,
        };
        let v = user_json(&view, "https://pim.example/scim/v2");
        assert_eq!(v["displayName"], json!("Ann Lee"), "pim's display name when SCIM set none");
        assert_eq!(v["active"], json!(false));
        assert_eq!(v[schema::ENTERPRISE]["manager"]["$ref"], json!("https://pim.example/scim/v2/Users/m1"));
        assert_eq!(v["groups"][0]["value"], json!("g1"));
        assert_eq!(v["meta"]["lastModified"], json!("1970-01-01T00:00:01Z"));
        assert_eq!(v["meta"]["version"], json!("W/\"1000\""));
        assert_eq!(v["schemas"], json!([schema::USER, schema::ENTERPRISE]));
        // What a PATCH starts from reads back to the same write.
        let again = user_write(editable(ResourceKind::User, &v).expect("canonical")).expect("reads");
        assert_eq!((again.user_name, again.email, again.manager), (w.user_name, w.email, w.manager));
    }

    #[test]
    fn groups_need_a_name_and_member_ids() {
        assert!(group_write(json!({})).is_err());
        assert!(group_write(json!({"displayName": "g", "members": [{"type": "User"}]})).is_err());
        let g = group_write(json!({"displayName": "g", "members": [{"value": "a"}, {"value": "a"}]})).expect("reads");
        assert_eq!(g.members, vec!["a".to_owned()]);
        assert_eq!(g.doc, json!({"displayName": "g"}));
    }
}
