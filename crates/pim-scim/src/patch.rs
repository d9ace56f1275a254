//! PATCH (RFC 7644 §3.5.2) applied to a resource's canonical JSON, with the shapes Entra ID and
//! Okta send: capitalised `op`, no `path` with a map of dotted keys and extension URNs, value
//! filters (`members[value eq "…"]`), `remove` with a `value` listing members.

use serde_json::{Map, Value};

use crate::ScimError;
use crate::filter::{self, Filter, PatchPath};
use crate::normalize;
use crate::schema::{self, Attr, Mutability, ResourceKind, Type};

/// Most operations in one PATCH.
pub const MAX_OPERATIONS: usize = 1000;

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Add values.
    Add,
    /// Replace values.
    Replace,
    /// Remove values.
    Remove,
}

/// One operation as received.
#[derive(Clone, Debug)]
pub struct Operation {
    /// add, replace or remove.
    pub op: Op,
    /// The target, if any.
    pub path: Option<String>,
    /// The value.
    pub value: Option<Value>,
}

fn get_ci<'v>(o: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

/// Reads a PatchOp message.
pub fn parse_request(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let syntax = |m: &str| ScimError::bad("invalidSyntax", m.to_owned());
    let Value::Object(o) = body else { return Err(syntax("the body must be a JSON object")) };
    if let Some(s) = get_ci(o, "schemas") {
        let ok = s.as_array().is_some_and(|a| a.iter().any(|v| v.as_str() == Some(schema::PATCH_OP)));
        if !ok {
            return Err(syntax("'schemas' must list urn:ietf:params:scim:api:messages:2.0:PatchOp"));
        }
    }
    let Some(Value::Array(ops)) = get_ci(o, "Operations") else {
        return Err(syntax("'Operations' must be a list of operations"));
    };
    if ops.is_empty() {
        return Err(syntax("'Operations' is empty"));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::bad("tooMany", format!("at most {MAX_OPERATIONS} operations per request")));
    }
    ops.iter()
        .map(|op| {
            let Value::Object(m) = op else { return Err(syntax("each operation must be an object")) };
            let kind = match get_ci(m, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
                Some("add") => Op::Add,
                Some("replace") => Op::Replace,
                Some("remove") => Op::Remove,
                _ => return Err(syntax("'op' must be add, replace or remove")),
            };
            let path = match get_ci(m, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(ScimError::bad("invalidPath", "'path' must be a string")),
            };
            Ok(Operation { op: kind, path, value: get_ci(m, "value").cloned() })
        })
        .collect()
}

/// Applies `ops` to `resource` (canonical JSON of `kind`, as [`crate::normalize::resource`] makes it).
pub fn apply(kind: ResourceKind, resource: &mut Value, ops: &[Operation]) -> Result<(), ScimError> {
    for op in ops {
        apply_one(kind, resource, op)?;
    }
    // Canonical again: duplicates merged, at most one primary value per attribute.
    *resource = normalize::resource(kind, resource)?;
    Ok(())
}

fn apply_one(kind: ResourceKind, resource: &mut Value, op: &Operation) -> Result<(), ScimError> {
    match &op.path {
        Some(p) => {
            let path = filter::parse_path(p).map_err(|e| ScimError::bad("invalidPath", e.0))?;
            // A path naming an extension alone: its attributes are in the value.
            if path.filter.is_none()
                && path.attr.sub.is_none()
                && let Some(urn) = schema::extension_urn(
                    kind,
                    &format!("{}:{}", path.attr.urn.as_deref().unwrap_or(""), path.attr.name),
                )
            {
                return apply_map(kind, resource, op.op, op.value.as_ref(), Some(urn));
            }
            apply_path(kind, resource, op.op, &path, op.value.as_ref())
        }
        None => match op.op {
            Op::Remove => Err(ScimError::bad("noTarget", "a remove operation needs a 'path'")),
            _ => apply_map(kind, resource, op.op, op.value.as_ref(), None),
        },
    }
}

/// `add`/`replace` without a path: every key of the value is a path (`name.givenName`, an
/// extension URN holding an object, or `urn:…:User:department`).
fn apply_map(
    kind: ResourceKind,
    resource: &mut Value,
    op: Op,
    value: Option<&Value>,
    within: Option<&'static str>,
) -> Result<(), ScimError> {
    if op == Op::Remove {
        // Removing an extension removes all its attributes.
        if let Some(urn) = within
            && let Some(root) = resource.as_object_mut()
        {
            root.remove(urn);
            return Ok(());
        }
        return Err(ScimError::bad("noTarget", "a remove operation needs a 'path'"));
    }
    let Some(Value::Object(map)) = value else {
        return Err(ScimError::invalid_value("without a 'path', the value must be an object of attributes"));
    };
    for (k, v) in map {
        // The extension's own `schemas` (clients serializing an extension object send it).
        if k.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if within.is_none()
            && let Some(urn) = schema::extension_urn(kind, k)
        {
            apply_map(kind, resource, op, Some(v), Some(urn))?;
            continue;
        }
        let key = match within {
            Some(urn) => format!("{urn}:{k}"),
            None => k.clone(),
        };
        let path = filter::parse_path(&key).map_err(|e| ScimError::bad("invalidPath", e.0))?;
        match apply_path(kind, resource, op, &path, Some(v)) {
            // As in a PUT, read-only and unknown attributes in a map are ignored (Okta's pathless
            // replace repeats the group's `id`; clients send attributes pim does not keep).
            Err(e) if matches!(e.scim_type, Some("mutability" | "invalidPath")) => {}
            other => other?,
        }
    }
    Ok(())
}

fn resolve_target(kind: ResourceKind, path: &PatchPath) -> Result<filter::Resolved, ScimError> {
    let r = filter::resolve(kind, None, &path.attr).map_err(|e| ScimError::bad("invalidPath", e.0))?;
    let leaf = r.sub.unwrap_or(r.attr);
    if r.attr.mutability == Mutability::ReadOnly || leaf.mutability == Mutability::ReadOnly {
        return Err(ScimError::bad("mutability", format!("'{}' is read-only", r.path)));
    }
    Ok(r)
}

/// The object holding the attribute: the resource, or its extension's object (created if missing).
fn container<'v>(resource: &'v mut Value, urn: Option<&str>) -> Result<&'v mut Map<String, Value>, ScimError> {
    let root = resource.as_object_mut().ok_or_else(|| ScimError::bad("invalidSyntax", "not an object"))?;
    match urn {
        None => Ok(root),
        Some(u) => {
            let e = root.entry(u.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if !e.is_object() {
                *e = Value::Object(Map::new());
            }
            e.as_object_mut().ok_or_else(|| ScimError::bad("invalidSyntax", "not an object"))
        }
    }
}

fn apply_path(
    kind: ResourceKind,
    resource: &mut Value,
    op: Op,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let r = resolve_target(kind, path)?;
    let attr = r.attr;
    if op != Op::Remove && value.is_none() {
        return Err(ScimError::invalid_value(format!("an {op:?} of '{}' needs a value", r.path).to_lowercase()));
    }
    let urn = r.path.urn.clone();
    let result = match (&path.filter, r.sub) {
        (Some(f), _) => with_filter(kind, resource, op, attr, f, path.sub_after.as_deref(), value, urn.as_deref()),
        (None, Some(sub)) => with_sub(resource, op, attr, sub, value, urn.as_deref()),
        (None, None) => whole(resource, op, attr, value, urn.as_deref()),
    };
    // An extension left empty disappears.
    if let Some(u) = urn
        && let Some(root) = resource.as_object_mut()
        && root.get(&u).and_then(Value::as_object).is_some_and(Map::is_empty)
    {
        root.remove(&u);
    }
    result
}

fn whole(
    resource: &mut Value,
    op: Op,
    attr: &'static Attr,
    value: Option<&Value>,
    urn: Option<&str>,
) -> Result<(), ScimError> {
    let c = container(resource, urn)?;
    match op {
        Op::Remove => {
            match (attr.multi, value) {
                // Remove the listed values only (Okta and Entra ID remove members this way).
                (true, Some(v)) if !v.is_null() => {
                    let gone = normalize::value(attr, v)?.and_then(|v| v.as_array().cloned()).unwrap_or_default();
                    if let Some(Value::Array(items)) = c.get_mut(attr.name) {
                        items.retain(|i| !gone.iter().any(|g| same_value(attr, i, g)));
                        if items.is_empty() {
                            c.remove(attr.name);
                        }
                    }
                }
                _ => {
                    c.remove(attr.name);
                }
            }
            Ok(())
        }
        Op::Add | Op::Replace => {
            let v = value.unwrap_or(&Value::Null);
            let Some(n) = normalize::value(attr, v)? else {
                if op == Op::Replace {
                    c.remove(attr.name);
                }
                return Ok(());
            };
            match (attr.multi, attr.ty, op) {
                (true, _, Op::Add) => {
                    let items = c.entry(attr.name.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
                    if !items.is_array() {
                        *items = Value::Array(Vec::new());
                    }
                    if let (Value::Array(items), Value::Array(new)) = (items, n) {
                        for x in new {
                            if !items.iter().any(|i| same_value(attr, i, &x)) {
                                items.push(x);
                            }
                        }
                        if items.len() > normalize::MAX_MEMBERS {
                            return Err(ScimError::invalid_value(format!("'{}' has too many values", attr.name)));
                        }
                    }
                    fix_primary(c, attr);
                }
                (false, Type::Complex, _) => {
                    let cur = c.entry(attr.name.to_owned()).or_insert_with(|| Value::Object(Map::new()));
                    if !cur.is_object() {
                        *cur = Value::Object(Map::new());
                    }
                    if let (Value::Object(cur), Value::Object(new)) = (cur, n) {
                        for (k, v) in new {
                            cur.insert(k, v);
                        }
                    }
                }
                _ => {
                    c.insert(attr.name.to_owned(), n);
                }
            }
            Ok(())
        }
    }
}

/// Equal values of a multi-valued attribute: complex ones by their `value` when they have one.
fn same_value(attr: &Attr, a: &Value, b: &Value) -> bool {
    if attr.ty == Type::Complex
        && let (Some(x), Some(y)) = (a.get("value"), b.get("value"))
    {
        return match (x, y) {
            (Value::String(x), Value::String(y)) if attr.name == "members" => x == y,
            (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y) && a.get("type") == b.get("type"),
            _ => x == y,
        };
    }
    a == b
}

/// A value added as primary makes the others non-primary.
fn fix_primary(c: &mut Map<String, Value>, attr: &Attr) {
    if let Some(Value::Array(items)) = c.get_mut(attr.name)
        && let Some(last) = items.iter().rposition(|i| i.get("primary") == Some(&Value::Bool(true)))
    {
        for (i, item) in items.iter_mut().enumerate() {
            if i != last
                && let Some(o) = item.as_object_mut()
                && o.get("primary") == Some(&Value::Bool(true))
            {
                o.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

fn with_sub(
    resource: &mut Value,
    op: Op,
    attr: &'static Attr,
    sub: &'static Attr,
    value: Option<&Value>,
    urn: Option<&str>,
) -> Result<(), ScimError> {
    let c = container(resource, urn)?;
    let n = match (op, value) {
        (Op::Remove, _) => None,
        (_, Some(v)) => normalize::value(sub, v)?,
        (_, None) => None,
    };
    if attr.multi {
        // `emails.value` without a filter: every value (one is made when there is none).
        let items = c.entry(attr.name.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = items {
            if items.is_empty() && n.is_some() {
                items.push(Value::Object(Map::new()));
            }
            for item in items.iter_mut() {
                set_sub(item, sub, n.clone());
            }
            items.retain(|i| i.as_object().is_some_and(|o| !o.is_empty()));
        }
        if c.get(attr.name).and_then(Value::as_array).is_some_and(Vec::is_empty) {
            c.remove(attr.name);
        }
        return Ok(());
    }
    let cur = c.entry(attr.name.to_owned()).or_insert_with(|| Value::Object(Map::new()));
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    set_sub(cur, sub, n);
    if cur.as_object().is_some_and(Map::is_empty) {
        c.remove(attr.name);
    }
    Ok(())
}

fn set_sub(item: &mut Value, sub: &Attr, v: Option<Value>) {
    if let Some(o) = item.as_object_mut() {
        match v {
            Some(v) => {
                o.insert(sub.name.to_owned(), v);
            }
            None => {
                o.remove(sub.name);
            }
        }
    }
}

/// The `sub eq "x"` terms of a filter made only of them joined by `and` (what a new value
/// created by a filtered replace gets, as Entra ID expects for `addresses[type eq "work"].locality`).
fn eq_terms(f: &Filter, out: &mut Vec<(String, Value)>) -> bool {
    match f {
        Filter::Compare(p, filter::CompareOp::Eq, v) if p.urn.is_none() && p.sub.is_none() => {
            out.push((p.name.clone(), v.clone()));
            true
        }
        Filter::And(a, b) => eq_terms(a, out) && eq_terms(b, out),
        _ => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn with_filter(
    kind: ResourceKind,
    resource: &mut Value,
    op: Op,
    attr: &'static Attr,
    f: &Filter,
    sub_after: Option<&str>,
    value: Option<&Value>,
    urn: Option<&str>,
) -> Result<(), ScimError> {
    if !(attr.multi && attr.ty == Type::Complex) {
        return Err(ScimError::bad("invalidPath", format!("'{}' has no values to filter", attr.name)));
    }
    let compiled = filter::compile_within(f, kind, attr).map_err(|e| ScimError::bad("invalidPath", e.0))?;
    let sub = match sub_after {
        Some(s) => Some(schema::find_sub(attr, s).ok_or_else(|| {
            ScimError::bad("invalidPath", format!("'{}' has no sub-attribute '{}'", attr.name, crate::shorten(s)))
        })?),
        None => None,
    };
    if let Some(s) = sub
        && s.mutability == Mutability::ReadOnly
    {
        return Err(ScimError::bad("mutability", format!("'{}.{}' is read-only", attr.name, s.name)));
    }
    let c = container(resource, urn)?;
    let items = c.entry(attr.name.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
    if !items.is_array() {
        *items = Value::Array(Vec::new());
    }
    let Value::Array(items) = items else { return Ok(()) };
    let matching: Vec<usize> =
        items.iter().enumerate().filter(|(_, i)| filter::matches_value(&compiled, i)).map(|(n, _)| n).collect();
    match op {
        Op::Remove => match sub {
            Some(s) => {
                for &n in &matching {
                    if let Some(i) = items.get_mut(n) {
                        set_sub(i, s, None);
                    }
                }
                items.retain(|i| i.as_object().is_some_and(|o| !o.is_empty()));
            }
            None => {
                let mut n = 0;
                items.retain(|_| {
                    let keep = !matching.contains(&n);
                    n += 1;
                    keep
                });
            }
        },
        Op::Add | Op::Replace => {
            let v = value.unwrap_or(&Value::Null);
            match sub {
                Some(s) => {
                    let n = normalize::value(s, v)?;
                    if matching.is_empty() {
                        let mut terms = Vec::new();
                        if !eq_terms(f, &mut terms) {
                            return Err(ScimError::bad(
                                "noTarget",
                                format!("no value of '{}' matches the filter", attr.name),
                            ));
                        }
                        let mut o = Map::new();
                        for (k, tv) in terms {
                            let Some(ts) = schema::find_sub(attr, &k) else { continue };
                            if let Some(tv) = normalize::value(ts, &tv)? {
                                o.insert(ts.name.to_owned(), tv);
                            }
                        }
                        if let Some(n) = n {
                            o.insert(s.name.to_owned(), n);
                            items.push(Value::Object(o));
                        }
                    } else {
                        for &m in &matching {
                            if let Some(i) = items.get_mut(m) {
                                set_sub(i, s, n.clone());
                            }
                        }
                        items.retain(|i| i.as_object().is_some_and(|o| !o.is_empty()));
                    }
                }
                None => {
                    let Some(Value::Object(new)) = normalize::single(attr, v)? else {
                        return Err(ScimError::invalid_value(format!(
                            "the value for '{}[…]' must be an object",
                            attr.name
                        )));
                    };
                    if matching.is_empty() {
                        return Err(ScimError::bad(
                            "noTarget",
                            format!("no value of '{}' matches the filter", attr.name),
                        ));
                    }
                    for &m in &matching {
                        if let Some(Value::Object(i)) = items.get_mut(m) {
                            if op == Op::Replace {
                                i.clear();
                            }
                            for (k, v) in &new {
                                i.insert(k.clone(), v.clone());
                            }
                        }
                    }
                }
            }
            let len = items.len();
            if len > normalize::MAX_MEMBERS {
                return Err(ScimError::invalid_value(format!("'{}' has too many values", attr.name)));
            }
        }
    }
    if c.get(attr.name).and_then(Value::as_array).is_some_and(Vec::is_empty) {
        c.remove(attr.name);
    }
    // Renormalized, so at most one value stays primary.
    if let Some(v) = c.get(attr.name).cloned() {
        match normalize::value(attr, &v)? {
            Some(n) => {
                c.insert(attr.name.to_owned(), n);
            }
            None => {
                c.remove(attr.name);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patch(kind: ResourceKind, start: Value, body: Value) -> Result<Value, ScimError> {
        let mut r = normalize::resource(kind, &start)?;
        apply(kind, &mut r, &parse_request(&body)?)?;
        Ok(r)
    }

    fn ops(list: Value) -> Value {
        json!({"schemas": [schema::PATCH_OP], "Operations": list})
    }

    #[test]
    fn entra_id_shapes() {
        // Capitalised op, string boolean, no path with dotted keys and an extension attribute.
        let r = patch(
            ResourceKind::User,
            json!({"userName": "a", "active": true}),
            ops(json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "value": {"name.givenName": "Ann", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R"}},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m1"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ann@example.com"},
                {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Paris"}
            ])),
        )
        .expect("applies");
        assert_eq!(r["active"], json!(false));
        assert_eq!(r["name"], json!({"givenName": "Ann"}));
        assert_eq!(r[schema::ENTERPRISE], json!({"department": "R", "manager": {"value": "m1"}}));
        assert_eq!(r["emails"], json!([{"type": "work", "value": "ann@example.com"}]));
        assert_eq!(r["addresses"], json!([{"type": "work", "locality": "Paris"}]));
        // Removing the manager, then the department: the extension disappears.
        let r2 = {
            let mut r = r.clone();
            let body = ops(json!([
                {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"},
                {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}
            ]));
            apply(ResourceKind::User, &mut r, &parse_request(&body).expect("parses")).expect("applies");
            r
        };
        assert!(r2.get(schema::ENTERPRISE).is_none());
        // The extension as a whole: added with its own `schemas`, then removed.
        let mut r3 = r.clone();
        let body = ops(json!([
            {"op": "add", "path": schema::ENTERPRISE, "value": {"schemas": [schema::ENTERPRISE], "costCenter": "C"}}
        ]));
        apply(ResourceKind::User, &mut r3, &parse_request(&body).expect("parses")).expect("applies");
        assert_eq!(r3[schema::ENTERPRISE]["costCenter"], json!("C"));
        let body = ops(json!([{"op": "remove", "path": schema::ENTERPRISE}]));
        apply(ResourceKind::User, &mut r3, &parse_request(&body).expect("parses")).expect("applies");
        assert!(r3.get(schema::ENTERPRISE).is_none());
    }

    #[test]
    fn members_add_and_remove_by_filter_and_by_value() {
        let start = json!({"displayName": "g", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]});
        let r = patch(
            ResourceKind::Group,
            start,
            ops(json!([
                {"op": "add", "path": "members", "value": [{"value": "d"}, {"value": "a"}]},
                {"op": "remove", "path": "members[value eq \"b\"]"},
                {"op": "Remove", "path": "members", "value": [{"value": "c"}]}
            ])),
        )
        .expect("applies");
        assert_eq!(r["members"], json!([{"value": "a"}, {"value": "d"}]));
        let r = patch(ResourceKind::Group, r, ops(json!([{"op": "remove", "path": "members"}]))).expect("applies");
        assert!(r.get("members").is_none());
    }

    #[test]
    fn okta_shapes() {
        // Okta deactivates with a pathless replace.
        let r = patch(
            ResourceKind::User,
            json!({"userName": "a", "active": true, "name": {"givenName": "A", "familyName": "B"}}),
            ops(json!([{"op": "replace", "value": {"active": false, "name": {"familyName": "C"}}}])),
        )
        .expect("applies");
        assert_eq!(r["active"], json!(false));
        assert_eq!(r["name"], json!({"givenName": "A", "familyName": "C"}), "a complex replace merges");
        // Okta renames a group with a pathless replace carrying id and displayName.
        let g = patch(
            ResourceKind::Group,
            json!({"displayName": "old"}),
            ops(json!([{"op": "replace", "value": {"id": "x", "displayName": "new"}}])),
        )
        .expect("the id in a map is ignored");
        assert_eq!(g, json!({"displayName": "new"}));
        let u = patch(
            ResourceKind::User,
            json!({"userName": "a"}),
            ops(json!([{"op": "add", "value": {"customAttribute": "x", "title": "T"}}])),
        )
        .expect("unknown attributes in a map are ignored");
        assert_eq!(u, json!({"userName": "a", "title": "T"}));
    }

    #[test]
    fn refusals() {
        let user = json!({"userName": "a"});
        for (body, scim_type) in [
            (json!({"Operations": []}), "invalidSyntax"),
            (json!({"schemas": ["x"], "Operations": [{"op": "add", "path": "title", "value": "x"}]}), "invalidSyntax"),
            (ops(json!([{"op": "move", "path": "title"}])), "invalidSyntax"),
            (ops(json!([{"op": "remove"}])), "noTarget"),
            (ops(json!([{"op": "add", "path": "nope", "value": 1}])), "invalidPath"),
            (ops(json!([{"op": "add", "path": "title[", "value": 1}])), "invalidPath"),
            (ops(json!([{"op": "replace", "path": "groups", "value": []}])), "mutability"),
            (ops(json!([{"op": "replace", "path": "id", "value": "x"}])), "mutability"),
            (ops(json!([{"op": "replace", "path": "active", "value": "perhaps"}])), "invalidValue"),
            (ops(json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "x"}}])), "noTarget"),
            (
                ops(
                    json!([{"op": "replace", "path": "emails[type eq \"work\" or type eq \"home\"].value", "value": "x"}]),
                ),
                "noTarget",
            ),
            (ops(json!([{"op": "add", "value": "x"}])), "invalidValue"),
            (ops(json!([{"op": "add", "path": "title"}])), "invalidValue"),
        ] {
            let e = patch(ResourceKind::User, user.clone(), body.clone()).expect_err("refused");
            assert_eq!(e.scim_type, Some(scim_type), "{body}");
        }
    }

    #[test]
    fn add_keeps_one_primary_and_no_duplicates() {
        let r = patch(
            ResourceKind::User,
            json!({"userName": "a", "emails": [{"value": "a@x.y", "primary": true}]}),
            ops(json!([
                {"op": "add", "path": "emails", "value": [{"value": "b@x.y", "primary": true}]},
                {"op": "add", "path": "emails", "value": [{"value": "b@x.y", "primary": true}]}
            ])),
        )
        .expect("applies");
        assert_eq!(r["emails"], json!([{"value": "a@x.y", "primary": false}, {"value": "b@x.y", "primary": true}]));
    }
}
