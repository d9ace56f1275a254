//! What clients send, made canonical: attribute names as the schema spells them, `"True"` and
//! `"False"` as booleans, a bare string as a complex attribute's `value`, read-only and unknown
//! attributes dropped, wrong types and oversized values refused.

use serde_json::{Map, Value};

use crate::ScimError;
use crate::schema::{self, Attr, Mutability, ResourceKind, Type};

/// Longest string value accepted, in characters.
pub const MAX_STRING: usize = 2048;
/// Most values of a multi-valued attribute (members excepted).
pub const MAX_VALUES: usize = 100;
/// Most members of a group in one request.
pub const MAX_MEMBERS: usize = 20_000;

/// A boolean as clients send it: `true`, or the strings `"True"`/`"true"` (Entra ID).
pub fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn string(attr: &Attr, v: &Value) -> Result<Value, ScimError> {
    let Value::String(s) = v else {
        return Err(ScimError::invalid_value(format!("'{}' must be a string", attr.name)));
    };
    if s.chars().count() > MAX_STRING {
        return Err(ScimError::invalid_value(format!("'{}' is longer than {MAX_STRING} characters", attr.name)));
    }
    if s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ScimError::invalid_value(format!("'{}' holds control characters", attr.name)));
    }
    if attr.ty == Type::DateTime && crate::filter::parse_time(s).is_none() {
        return Err(ScimError::invalid_value(format!("'{}' must be an RFC 3339 date and time", attr.name)));
    }
    Ok(v.clone())
}

/// One value of `attr` (one element, for multi-valued ones); `None` when it is null or empty.
pub fn single(attr: &'static Attr, v: &Value) -> Result<Option<Value>, ScimError> {
    if v.is_null() {
        return Ok(None);
    }
    match attr.ty {
        Type::Boolean => boolean(v)
            .map(|b| Some(Value::Bool(b)))
            .ok_or_else(|| ScimError::invalid_value(format!("'{}' must be true or false", attr.name))),
        Type::String | Type::Reference | Type::DateTime => string(attr, v).map(Some),
        Type::Complex => {
            let obj = match v {
                Value::Object(o) => o.clone(),
                // Entra ID sends the manager as a bare id.
                Value::String(_) if schema::find_sub(attr, "value").is_some() => {
                    let mut o = Map::new();
                    o.insert("value".into(), v.clone());
                    o
                }
                _ => return Err(ScimError::invalid_value(format!("'{}' must be an object", attr.name))),
            };
            let mut out = Map::new();
            for (k, sv) in &obj {
                let Some(sub) = schema::find_sub(attr, k) else { continue };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(n) = single(sub, sv)? {
                    out.insert(sub.name.to_owned(), n);
                }
            }
            Ok(if out.is_empty() { None } else { Some(Value::Object(out)) })
        }
    }
}

/// The whole value of `attr`: a list for multi-valued attributes (a single value is wrapped);
/// `None` when null or empty.
pub fn value(attr: &'static Attr, v: &Value) -> Result<Option<Value>, ScimError> {
    if !attr.multi {
        if v.is_array() {
            return Err(ScimError::invalid_value(format!("'{}' takes one value, not a list", attr.name)));
        }
        return single(attr, v);
    }
    let items: Vec<&Value> = match v {
        Value::Null => return Ok(None),
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let max = if attr.name == "members" { MAX_MEMBERS } else { MAX_VALUES };
    if items.len() > max {
        return Err(ScimError::invalid_value(format!("'{}' takes at most {max} values", attr.name)));
    }
    let mut out: Vec<Value> = Vec::new();
    for i in items {
        if let Some(n) = single(attr, i)?
            && !out.contains(&n)
        {
            out.push(n);
        }
    }
    if attr.ty == Type::Complex && out.iter().filter(|o| o.get("primary") == Some(&Value::Bool(true))).count() > 1 {
        return Err(ScimError::invalid_value(format!("at most one of '{}' may be primary", attr.name)));
    }
    Ok(if out.is_empty() { None } else { Some(Value::Array(out)) })
}

/// A resource body made canonical for `kind`: known, writable attributes only (an extension's
/// under its URN), `id`, `meta`, `schemas` and read-only attributes dropped.
pub fn resource(kind: ResourceKind, body: &Value) -> Result<Value, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::bad("invalidSyntax", "the body must be a JSON object"));
    };
    let mut out = Map::new();
    for (k, v) in obj {
        if let Some(urn) = schema::extension_urn(kind, k) {
            let Value::Object(inner) = v else {
                if v.is_null() {
                    continue;
                }
                return Err(ScimError::invalid_value(format!("'{urn}' must be an object")));
            };
            let ext = extension(kind, urn, inner)?;
            if !ext.is_empty() {
                out.insert(urn.to_owned(), Value::Object(ext));
            }
            continue;
        }
        let Some(attr) = schema::find_attr(kind, None, k) else { continue };
        if attr.mutability == Mutability::ReadOnly {
            continue;
        }
        if let Some(n) = value(attr, v)? {
            out.insert(attr.name.to_owned(), n);
        }
    }
    Ok(Value::Object(out))
}

fn extension(
    kind: ResourceKind,
    urn: &'static str,
    inner: &Map<String, Value>,
) -> Result<Map<String, Value>, ScimError> {
    let mut out = Map::new();
    for (k, v) in inner {
        let Some(attr) = schema::find_attr(kind, Some(urn), k) else { continue };
        if attr.mutability == Mutability::ReadOnly {
            continue;
        }
        if let Some(n) = value(attr, v)? {
            out.insert(attr.name.to_owned(), n);
        }
    }
    Ok(out)
}

/// The schema URNs a resource of `kind` with these attributes declares.
pub fn schemas_of(kind: ResourceKind, resource: &Value) -> Value {
    let mut s = vec![Value::String(kind.schema().to_owned())];
    for (urn, _) in kind.extensions() {
        if resource.get(*urn).is_some() {
            s.push(Value::String((*urn).to_owned()));
        }
    }
    Value::Array(s)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_become_canonical_and_strings_booleans() {
        let v = resource(
            ResourceKind::User,
            &json!({
                "schemas": ["x"], "id": "client-chosen", "USERNAME": "a", "Active": "False",
                "name": {"GIVENNAME": "A", "nope": 1}, "emails": {"value": "a@b.c", "Primary": "True"},
                "groups": [{"value": "g"}], "password": "secret",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"Department": "R", "manager": "m1"}
            }),
        )
        .expect("normalizes");
        assert_eq!(
            v,
            json!({
                "userName": "a", "active": false, "name": {"givenName": "A"},
                "emails": [{"value": "a@b.c", "primary": true}],
                schema::ENTERPRISE: {"department": "R", "manager": {"value": "m1"}}
            })
        );
    }

    #[test]
    fn wrong_types_are_refused() {
        for bad in [
            json!({"userName": 1}),
            json!({"active": "maybe"}),
            json!({"name": "x"}),
            json!({"emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
            json!({"displayName": "a\u{7}b"}),
            json!({"displayName": "x".repeat(MAX_STRING + 1)}),
            json!({"displayName": ["a"]}),
            json!({ schema::ENTERPRISE: "x" }),
        ] {
            let e = resource(ResourceKind::User, &bad).expect_err("refused");
            assert_eq!(e.scim_type, Some("invalidValue"), "{bad}");
        }
        assert!(resource(ResourceKind::User, &json!([1])).is_err());
    }
}
