//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5): which parts of a representation
//! are returned. `id` and `schemas` are always returned.

use serde_json::{Map, Value};

use crate::ScimError;
use crate::filter::{self, Resolved};
use crate::schema::{ResourceKind, Returned};

/// A parsed projection.
#[derive(Clone, Debug, Default)]
pub struct Projection {
    only: Vec<Resolved>,
    except: Vec<Resolved>,
}

fn list(kind: ResourceKind, s: Option<&str>) -> Result<Vec<Resolved>, ScimError> {
    let Some(s) = s else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let p = filter::parse_path(part).map_err(|e| ScimError::bad("invalidPath", e.0))?;
        if p.filter.is_some() {
            return Err(ScimError::bad("invalidPath", "attributes are named without filters"));
        }
        out.push(filter::resolve(kind, None, &p.attr).map_err(|e| ScimError::bad("invalidPath", e.0))?);
    }
    if out.len() > 100 {
        return Err(ScimError::bad("invalidPath", "at most 100 attributes"));
    }
    Ok(out)
}

impl Projection {
    /// Parses the two comma-separated lists (either may be absent).
    pub fn parse(
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimError> {
        Ok(Projection { only: list(kind, attributes)?, except: list(kind, excluded)? })
    }

    /// The representation with only what was asked for.
    pub fn apply(&self, v: Value) -> Value {
        let Value::Object(mut o) = v else { return v };
        if !self.only.is_empty() {
            let mut out = Map::new();
            for key in ["id", "schemas"] {
                if let Some(x) = o.get(key) {
                    out.insert(key.to_owned(), x.clone());
                }
            }
            for r in &self.only {
                copy(&o, &mut out, r);
            }
            o = out;
        }
        for r in &self.except {
            if r.attr.returned == Returned::Always && r.sub.is_none() {
                continue;
            }
            remove(&mut o, r);
        }
        Value::Object(o)
    }
}

fn holder<'m>(o: &'m Map<String, Value>, r: &Resolved) -> Option<&'m Map<String, Value>> {
    match &r.path.urn {
        None => Some(o),
        Some(u) => o.get(u.as_str()).and_then(Value::as_object),
    }
}

fn copy(from: &Map<String, Value>, to: &mut Map<String, Value>, r: &Resolved) {
    let Some(src) = holder(from, r) else { return };
    let Some(v) = src.get(r.attr.name) else { return };
    let picked = match r.sub {
        None => v.clone(),
        Some(sub) => match v {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .filter_map(|i| {
                        i.get(sub.name).map(|x| Value::Object(Map::from_iter([(sub.name.to_owned(), x.clone())])))
                    })
                    .collect(),
            ),
            Value::Object(m) => match m.get(sub.name) {
                Some(x) => Value::Object(Map::from_iter([(sub.name.to_owned(), x.clone())])),
                None => return,
            },
            _ => return,
        },
    };
    let dst = match &r.path.urn {
        None => to,
        Some(u) => {
            let e = to.entry(u.clone()).or_insert_with(|| Value::Object(Map::new()));
            match e.as_object_mut() {
                Some(m) => m,
                None => return,
            }
        }
    };
    match (dst.get_mut(r.attr.name), picked) {
        (Some(Value::Object(have)), Value::Object(add)) => have.extend(add),
        (Some(Value::Array(have)), Value::Array(add)) if have.len() == add.len() => {
            for (h, a) in have.iter_mut().zip(add) {
                if let (Some(h), Value::Object(a)) = (h.as_object_mut(), a) {
                    h.extend(a);
                }
            }
        }
        (_, picked) => {
            dst.insert(r.attr.name.to_owned(), picked);
        }
    }
}

fn remove(o: &mut Map<String, Value>, r: &Resolved) {
    let target = match &r.path.urn {
        None => Some(&mut *o),
        Some(u) => o.get_mut(u.as_str()).and_then(Value::as_object_mut),
    };
    let Some(t) = target else { return };
    match r.sub {
        None => {
            t.remove(r.attr.name);
        }
        Some(sub) => match t.get_mut(r.attr.name) {
            Some(Value::Array(items)) => {
                for i in items.iter_mut() {
                    if let Some(i) = i.as_object_mut() {
                        i.remove(sub.name);
                    }
                }
            }
            Some(Value::Object(m)) => {
                m.remove(sub.name);
            }
            _ => {}
        },
    }
    if let Some(u) = &r.path.urn
        && o.get(u.as_str()).and_then(Value::as_object).is_some_and(Map::is_empty)
    {
        o.remove(u.as_str());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema;

    fn user() -> Value {
        json!({
            "schemas": [schema::USER, schema::ENTERPRISE], "id": "1", "userName": "a", "displayName": "A",
            "name": {"givenName": "G", "familyName": "F"}, "emails": [{"value": "a@x.y", "type": "work"}],
            "meta": {"resourceType": "User"}, schema::ENTERPRISE: {"department": "R", "costCenter": "C"}
        })
    }

    #[test]
    fn attributes_keep_only_what_is_named() {
        let p = Projection::parse(
            ResourceKind::User,
            Some("USERNAME,name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            None,
        )
        .expect("parses");
        assert_eq!(
            p.apply(user()),
            json!({
                "schemas": [schema::USER, schema::ENTERPRISE], "id": "1", "userName": "a",
                "name": {"givenName": "G"}, "emails": [{"value": "a@x.y"}], schema::ENTERPRISE: {"department": "R"}
            })
        );
    }

    #[test]
    fn excluded_attributes_are_dropped_but_id_stays() {
        let p =
            Projection::parse(ResourceKind::User, None, Some("displayName,id,name.familyName,meta")).expect("parses");
        let v = p.apply(user());
        assert!(v.get("displayName").is_none() && v.get("meta").is_none());
        assert_eq!(v["id"], json!("1"));
        assert_eq!(v["name"], json!({"givenName": "G"}));
        assert!(Projection::parse(ResourceKind::User, Some("nope"), None).is_err());
    }
}
