//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): a bounded recursive-descent parser,
//! canonicalization against the schema table, and evaluation over a resource's JSON.

use serde_json::Value;

use crate::schema::{self, Attr, ResourceKind, Type};

/// Longest filter or path accepted, in bytes.
pub const MAX_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and value paths accepted.
pub const MAX_DEPTH: usize = 32;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<CompareOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
    /// The operator's word.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// An attribute path: `[URN:]name[.sub]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN, when given (or, after [`Filter::canonical`], when the attribute is an
    /// extension's).
    pub urn: Option<String>,
    /// The attribute.
    pub name: String,
    /// The sub-attribute.
    pub sub: Option<String>,
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        write!(f, "{}", self.name)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare(AttrPath, CompareOp, Value),
    /// `path pr`.
    Present(AttrPath),
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`.
    Not(Box<Filter>),
    /// `path[filter]`: some value of the multi-valued `path` matches `filter` (whose paths are
    /// relative to it).
    ValuePath(AttrPath, Box<Filter>),
}

impl Filter {
    /// How tightly the filter's top operator binds: `or` 1, `and` 2, the rest 3.
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 1,
            Filter::And(..) => 2,
            _ => 3,
        }
    }
}

/// Prints `a op b` with the parentheses the structure needs (both operators are left-associative).
fn infix(f: &mut std::fmt::Formatter<'_>, parent: &Filter, a: &Filter, word: &str, b: &Filter) -> std::fmt::Result {
    let p = parent.precedence();
    if a.precedence() < p {
        write!(f, "({a})")?
    } else {
        write!(f, "{a}")?
    }
    write!(f, " {word} ")?;
    if b.precedence() <= p { write!(f, "({b})") } else { write!(f, "{b}") }
}

/// The canonical text of a filter, which parses back to the same filter.
impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Filter::Compare(p, op, v) => write!(f, "{p} {} {v}", op.as_str()),
            Filter::Present(p) => write!(f, "{p} pr"),
            Filter::And(a, b) => infix(f, self, a, "and", b),
            Filter::Or(a, b) => infix(f, self, a, "or", b),
            Filter::Not(a) => write!(f, "not ({a})"),
            Filter::ValuePath(p, a) => write!(f, "{p}[{a}]"),
        }
    }
}

/// A PATCH operation's target: `attrPath`, `attrPath[filter]` or `attrPath[filter].sub`.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    /// The attribute (its `sub` is set for `name.givenName`).
    pub attr: AttrPath,
    /// The value filter of a multi-valued attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`emails[type eq "work"].value`).
    pub sub_after: Option<String>,
}

/// Why a filter or path was refused: a message for the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError(pub String);

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type R<T> = Result<T, FilterError>;

fn err<T>(m: impl Into<String>) -> R<T> {
    Err(FilterError(m.into()))
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    depth: usize,
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-' | '$')
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> R<Parser<'a>> {
        if s.len() > MAX_LEN {
            return err(format!("a filter is at most {MAX_LEN} bytes"));
        }
        Ok(Parser { s, pos: 0, depth: 0 })
    }

    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// A word made of path characters, not consumed.
    fn peek_word(&self) -> &'a str {
        let rest = self.rest();
        let end = rest.find(|c: char| !is_path_char(c)).unwrap_or(rest.len());
        &rest[..end]
    }

    fn word(&mut self) -> &'a str {
        let w = self.peek_word();
        self.pos += w.len();
        w
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(format!("the filter nests deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos >= self.s.len()
    }

    /// `or` binds loosest.
    fn filter(&mut self) -> R<Filter> {
        self.enter()?;
        let mut left = self.and()?;
        loop {
            self.skip_ws();
            if self.peek_word().eq_ignore_ascii_case("or") {
                self.word();
                let right = self.and()?;
                left = Filter::Or(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> R<Filter> {
        let mut left = self.unary()?;
        loop {
            self.skip_ws();
            if self.peek_word().eq_ignore_ascii_case("and") {
                self.word();
                let right = self.unary()?;
                left = Filter::And(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        Ok(left)
    }

    fn unary(&mut self) -> R<Filter> {
        self.skip_ws();
        if self.eat('(') {
            let f = self.filter()?;
            self.skip_ws();
            if !self.eat(')') {
                return err("a '(' is not closed");
            }
            return Ok(f);
        }
        let save = self.pos;
        if self.peek_word().eq_ignore_ascii_case("not") {
            self.word();
            self.skip_ws();
            if self.eat('(') {
                self.enter()?;
                let f = self.filter()?;
                self.depth -= 1;
                self.skip_ws();
                if !self.eat(')') {
                    return err("a 'not (' is not closed");
                }
                return Ok(Filter::Not(Box::new(f)));
            }
            // An attribute named "not".
            self.pos = save;
        }
        self.attr_exp()
    }

    fn attr_path(&mut self) -> R<AttrPath> {
        self.skip_ws();
        let w = self.word();
        parse_attr_path(w)
    }

    fn attr_exp(&mut self) -> R<Filter> {
        let path = self.attr_path()?;
        if self.eat('[') {
            if path.sub.is_some() {
                return err(format!("'{path}[' : a value filter follows an attribute, not a sub-attribute"));
            }
            self.enter()?;
            let inner = self.filter()?;
            self.depth -= 1;
            self.skip_ws();
            if !self.eat(']') {
                return err("a '[' is not closed");
            }
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        self.skip_ws();
        let opw = self.word();
        if opw.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::parse(opw) else {
            return if opw.is_empty() {
                err(format!("an operator must follow '{path}'"))
            } else {
                err(format!("'{}' is not a filter operator", crate::shorten(opw)))
            };
        };
        self.skip_ws();
        let value = self.comp_value()?;
        Ok(Filter::Compare(path, op, value))
    }

    fn comp_value(&mut self) -> R<Value> {
        let rest = self.rest();
        if rest.starts_with('"') {
            let bytes = rest.as_bytes();
            let mut i = 1;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'"' => break,
                    _ => i += 1,
                }
            }
            if i >= bytes.len() {
                return err("a string value is not closed");
            }
            let lit = &rest[..=i];
            let v: String = serde_json::from_str(lit).map_err(|_| FilterError("a string value is malformed".into()))?;
            self.pos += lit.len();
            return Ok(Value::String(v));
        }
        let end =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'))).unwrap_or(rest.len());
        let w = &rest[..end];
        self.pos += w.len();
        match w.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            "" => err("a value must follow the operator"),
            _ => match serde_json::from_str::<serde_json::Number>(w) {
                Ok(n) => Ok(Value::Number(n)),
                Err(_) => err(format!("'{}' is not a value: quote strings", crate::shorten(w))),
            },
        }
    }
}

/// Splits `[URN:]name[.sub]`.
fn parse_attr_path(w: &str) -> R<AttrPath> {
    if w.is_empty() {
        return err("an attribute name is expected");
    }
    let (urn, rest) = if w.len() > 4 && w[..4].eq_ignore_ascii_case("urn:") {
        match w.rfind(':') {
            Some(i) if i + 1 < w.len() => (Some(w[..i].to_owned()), &w[i + 1..]),
            _ => return err(format!("'{}' names a schema but no attribute", crate::shorten(w))),
        }
    } else {
        (None, w)
    };
    let mut parts = rest.split('.');
    let name = parts.next().unwrap_or("");
    let sub = parts.next();
    if parts.next().is_some() {
        return err(format!("'{}' has more than one sub-attribute", crate::shorten(w)));
    }
    let valid = |n: &str| {
        n == "$ref"
            || (n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    };
    if !valid(name) || sub.is_some_and(|s| !valid(s)) {
        return err(format!("'{}' is not an attribute name", crate::shorten(w)));
    }
    Ok(AttrPath { urn, name: name.to_owned(), sub: sub.map(str::to_owned) })
}

/// Parses a filter.
pub fn parse(s: &str) -> R<Filter> {
    let mut p = Parser::new(s)?;
    let f = p.filter()?;
    if !p.at_end() {
        return err(format!("unexpected '{}' in the filter", crate::shorten(p.rest())));
    }
    Ok(f)
}

/// Parses a PATCH path.
pub fn parse_path(s: &str) -> R<PatchPath> {
    let mut p = Parser::new(s)?;
    let attr = p.attr_path()?;
    let mut filter = None;
    let mut sub_after = None;
    if p.eat('[') {
        if attr.sub.is_some() {
            return err("a value filter follows an attribute, not a sub-attribute");
        }
        filter = Some(p.filter()?);
        p.skip_ws();
        if !p.eat(']') {
            return err("a '[' is not closed");
        }
        if p.eat('.') {
            let w = p.word();
            let ap = parse_attr_path(w)?;
            if ap.urn.is_some() || ap.sub.is_some() {
                return err("one sub-attribute may follow a value filter");
            }
            sub_after = Some(ap.name);
        }
    }
    if !p.at_end() {
        return err(format!("unexpected '{}' in the path", crate::shorten(p.rest())));
    }
    Ok(PatchPath { attr, filter, sub_after })
}

/// A canonical attribute path resolved against the schema: the attribute (and sub-attribute)
/// definitions, with canonical names in `path`.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The canonical path.
    pub path: AttrPath,
    /// The top-level attribute.
    pub attr: &'static Attr,
    /// The sub-attribute.
    pub sub: Option<&'static Attr>,
}

/// Resolves `p` for `kind`, or relative to the complex attribute `within` (value filters).
pub fn resolve(kind: ResourceKind, within: Option<&'static Attr>, p: &AttrPath) -> R<Resolved> {
    let unknown = || FilterError(format!("'{p}' is not an attribute of {}", kind.name()));
    if let Some(parent) = within {
        if p.urn.is_some() || p.sub.is_some() {
            return Err(unknown());
        }
        let sub = schema::find_sub(parent, &p.name).ok_or_else(unknown)?;
        return Ok(Resolved {
            path: AttrPath { urn: None, name: sub.name.to_owned(), sub: None },
            attr: sub,
            sub: None,
        });
    }
    let (ns, name, sub) = match &p.urn {
        None => (None, p.name.as_str(), p.sub.as_deref()),
        Some(u) if u.eq_ignore_ascii_case(kind.schema()) => (None, p.name.as_str(), p.sub.as_deref()),
        Some(u) => match schema::extension_urn(kind, u) {
            Some(urn) => (Some(urn), p.name.as_str(), p.sub.as_deref()),
            None => return Err(unknown()),
        },
    };
    // A bare `name` that is only an extension's attribute (e.g. `department`) is not accepted:
    // extension attributes are named with their URN.
    let attr = schema::find_attr(kind, ns, name).ok_or_else(unknown)?;
    let sub_attr = match sub {
        Some(s) => Some(schema::find_sub(attr, s).ok_or_else(unknown)?),
        None => None,
    };
    Ok(Resolved {
        path: AttrPath {
            urn: ns.map(str::to_owned),
            name: attr.name.to_owned(),
            sub: sub_attr.map(|a| a.name.to_owned()),
        },
        attr,
        sub: sub_attr,
    })
}

/// A filter whose paths are canonical and known, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Compiled {
    kind: ResourceKind,
    node: Node,
}

#[derive(Clone, Debug)]
enum Node {
    Compare(Resolved, CompareOp, Value),
    Present(Resolved),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    ValuePath(Resolved, Box<Node>),
}

impl Filter {
    /// Checks every path against `kind`'s schema and compiles the filter.
    pub fn compile(&self, kind: ResourceKind) -> R<Compiled> {
        Ok(Compiled { kind, node: compile(self, kind, None)? })
    }
}

fn compile(f: &Filter, kind: ResourceKind, within: Option<&'static Attr>) -> R<Node> {
    Ok(match f {
        Filter::Compare(p, op, v) => {
            let r = resolve(kind, within, p)?;
            let t = leaf(&r).ty;
            let bad = match (t, v) {
                (Type::Complex, _) => !matches!(v, Value::Null | Value::String(_)),
                (Type::Boolean, Value::Bool(_) | Value::Null) => false,
                (Type::Boolean, _) => true,
                (_, Value::Bool(_)) => true,
                _ => false,
            };
            if bad {
                return err(format!("'{}' cannot be compared with {v}", r.path));
            }
            if t == Type::Boolean && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return err(format!("'{}' is a boolean: use eq or ne", r.path));
            }
            if t == Type::DateTime
                && let Value::String(s) = v
                && parse_time(s).is_none()
            {
                return err(format!("'{}' is not a date and time (RFC 3339)", crate::shorten(s)));
            }
            Node::Compare(r, *op, v.clone())
        }
        Filter::Present(p) => Node::Present(resolve(kind, within, p)?),
        Filter::And(a, b) => Node::And(Box::new(compile(a, kind, within)?), Box::new(compile(b, kind, within)?)),
        Filter::Or(a, b) => Node::Or(Box::new(compile(a, kind, within)?), Box::new(compile(b, kind, within)?)),
        Filter::Not(a) => Node::Not(Box::new(compile(a, kind, within)?)),
        Filter::ValuePath(p, inner) => {
            if within.is_some() {
                return err("value filters do not nest");
            }
            let r = resolve(kind, None, p)?;
            if r.attr.ty != Type::Complex || r.sub.is_some() {
                return err(format!("'{}' has no values to filter", r.path));
            }
            let node = compile(inner, kind, Some(r.attr))?;
            Node::ValuePath(r, Box::new(node))
        }
    })
}

fn leaf(r: &Resolved) -> &'static Attr {
    r.sub.unwrap_or(r.attr)
}

/// The time of an RFC 3339 date and time, in milliseconds.
pub fn parse_time(s: &str) -> Option<i128> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos() / 1_000_000)
}

/// The values at `r` in `resource`: one per element of multi-valued attributes, nulls left out.
pub fn values_at<'v>(resource: &'v Value, r: &Resolved) -> Vec<&'v Value> {
    let base = match &r.path.urn {
        Some(u) => resource.get(u.as_str()),
        None => Some(resource),
    };
    let Some(top) = base.and_then(|b| b.get(r.attr.name)) else { return Vec::new() };
    let items: Vec<&Value> = match top {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        v => vec![v],
    };
    let mut out = Vec::new();
    for item in items {
        let v = match r.sub {
            Some(sub) => item.get(sub.name),
            // A complex value compared as a whole is compared by its `value`.
            None if r.attr.ty == Type::Complex => item.get("value").or(Some(item)),
            None => Some(item),
        };
        match v {
            Some(Value::Null) | None => {}
            Some(Value::Array(a)) => out.extend(a.iter()),
            Some(v) => out.push(v),
        }
    }
    out
}

impl Compiled {
    /// Whether `resource` (a representation with canonical names) matches.
    pub fn matches(&self, resource: &Value) -> bool {
        eval(&self.node, resource)
    }

    /// When the filter is exactly `attr eq "value"` on a core attribute, that attribute's canonical
    /// name and the value (for an indexed lookup).
    pub fn simple_eq(&self) -> Option<(&'static str, &str)> {
        match &self.node {
            Node::Compare(r, CompareOp::Eq, Value::String(v)) if r.path.urn.is_none() && r.sub.is_none() => {
                Some((r.attr.name, v.as_str()))
            }
            _ => None,
        }
    }

    /// The resource type the filter was compiled for.
    pub fn kind(&self) -> ResourceKind {
        self.kind
    }
}

/// Whether `item`, one element of a multi-valued complex attribute, matches a value filter compiled
/// for that attribute.
pub fn matches_value(f: &Compiled, item: &Value) -> bool {
    eval(&f.node, item)
}

/// Compiles `f` relative to the complex attribute `within` (a PATCH path's value filter).
pub fn compile_within(f: &Filter, kind: ResourceKind, within: &'static Attr) -> R<Compiled> {
    Ok(Compiled { kind, node: compile(f, kind, Some(within))? })
}

fn eval(n: &Node, resource: &Value) -> bool {
    match n {
        Node::And(a, b) => eval(a, resource) && eval(b, resource),
        Node::Or(a, b) => eval(a, resource) || eval(b, resource),
        Node::Not(a) => !eval(a, resource),
        Node::Present(r) => values_at(resource, r).iter().any(|v| match v {
            Value::String(s) => !s.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        }),
        Node::Compare(r, op, want) => {
            let vals = values_at(resource, r);
            let a = leaf(r);
            match op {
                CompareOp::Ne => !vals.iter().any(|v| compare(a, CompareOp::Eq, v, want)),
                CompareOp::Eq if want.is_null() => vals.is_empty(),
                _ => vals.iter().any(|v| compare(a, *op, v, want)),
            }
        }
        Node::ValuePath(r, inner) => {
            let base = match &r.path.urn {
                Some(u) => resource.get(u.as_str()),
                None => Some(resource),
            };
            match base.and_then(|b| b.get(r.attr.name)) {
                Some(Value::Array(items)) => items.iter().any(|i| eval(inner, i)),
                Some(v @ Value::Object(_)) => eval(inner, v),
                _ => false,
            }
        }
    }
}

fn compare(a: &Attr, op: CompareOp, have: &Value, want: &Value) -> bool {
    use std::cmp::Ordering;
    match (have, want) {
        (Value::Bool(h), Value::Bool(w)) => op == CompareOp::Eq && h == w,
        (Value::Number(h), Value::Number(w)) => {
            let (Some(h), Some(w)) = (h.as_f64(), w.as_f64()) else { return false };
            ordered(op, h.partial_cmp(&w))
        }
        (Value::String(h), Value::String(w)) => {
            if a.ty == Type::DateTime
                && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
                && let (Some(h), Some(w)) = (parse_time(h), parse_time(w))
            {
                return ordered(op, Some(h.cmp(&w)));
            }
            let (h, w) = if a.case_exact { (h.clone(), w.clone()) } else { (h.to_lowercase(), w.to_lowercase()) };
            match op {
                CompareOp::Co => h.contains(&w),
                CompareOp::Sw => h.starts_with(&w),
                CompareOp::Ew => h.ends_with(&w),
                _ => ordered(op, Some(h.cmp(&w))),
            }
        }
        _ => {
            let _ = Ordering::Equal;
            false
        }
    }
}

fn ordered(op: CompareOp, o: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    match (op, o) {
        (_, None) => false,
        (CompareOp::Eq, Some(o)) => o == Equal,
        (CompareOp::Ne, Some(o)) => o != Equal,
        (CompareOp::Gt, Some(o)) => o == Greater,
        (CompareOp::Ge, Some(o)) => o != Less,
        (CompareOp::Lt, Some(o)) => o == Less,
        (CompareOp::Le, Some(o)) => o != Greater,
        (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> Value {
        json!({
            "id": "1",
            "userName": "Alice@Example.com",
            "externalId": "ext-1",
            "displayName": "Alice",
            "active": true,
            "name": {"givenName": "Alice", "familyName": "Liddell"},
            "emails": [{"value": "alice@work.example", "type": "work", "primary": true}, {"value": "a@home.example", "type": "home"}],
            "meta": {"lastModified": "2026-12-07T10:00:00Z", "created": "2026-01-01T00:00:00Z"},
            schema::ENTERPRISE: {"department": "Research"}
        })
    }

    /// The fuzz target's first find: a long fraction must parse correctly rounded, so that the
    /// filter prints to text that parses back to the same filter (serde_json's `float_roundtrip`).
    #[test]
    fn a_long_fraction_parses_correctly_rounded_and_prints_back_to_itself() {
        let f = parse("d eq 133380330333.33338033033333").expect("parses");
        let printed = f.to_string();
        assert_eq!(parse(&printed).as_ref(), Ok(&f), "{printed}");
        assert!(printed.contains("133380330333.33337"), "{printed}");
        for text in ["x gt 0.1000000000000000055511151231257827", "x lt 1.7976931348623157e308", "x eq 5e-324"] {
            let f = parse(text).expect("parses");
            assert_eq!(parse(&f.to_string()).as_ref(), Ok(&f), "{text}");
        }
    }

    fn m(f: &str) -> bool {
        parse(f).expect("parses").compile(ResourceKind::User).expect("compiles").matches(&user())
    }

    #[test]
    fn comparisons() {
        assert!(m(r#"userName eq "alice@example.com""#), "userName is case-insensitive");
        assert!(!m(r#"externalId eq "EXT-1""#), "externalId is case-exact");
        assert!(m(r#"externalId eq "ext-1""#));
        assert!(m(r#"userName ne "bob""#));
        assert!(m(r#"displayName co "lic""#));
        assert!(m(r#"displayName sw "Al""#));
        assert!(m(r#"displayName ew "ce""#));
        assert!(!m(r#"displayName ew "Al""#));
        assert!(m("title ne \"x\""), "ne on a missing attribute matches");
        assert!(m("title eq null"));
        assert!(m("active eq true"));
        assert!(!m("active eq false"));
        assert!(m("displayName pr"));
        assert!(!m("title pr"));
        assert!(m(r#"emails.value eq "a@home.example""#));
        assert!(m(r#"emails co "work.example""#), "a complex value compares by its value");
        assert!(m(r#"emails[type eq "work" and value ew "work.example"]"#));
        assert!(!m(r#"emails[type eq "home" and value ew "work.example"]"#));
        assert!(m(r#"name.familyName eq "liddell""#));
        assert!(m(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "research""#));
        assert!(m(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "alice""#));
    }

    #[test]
    fn dates_compare_as_times() {
        assert!(m(r#"meta.lastModified gt "2026-12-07T09:00:00Z""#));
        assert!(m(r#"meta.lastModified gt "2026-12-07T10:00:00+01:00""#), "09:00Z is earlier");
        assert!(!m(r#"meta.lastModified lt "2026-12-07T10:00:00Z""#));
        assert!(m(r#"meta.lastModified le "2026-12-07T10:00:00Z""#));
        assert!(m(r#"meta.lastModified ge "2026-12-07T10:00:00.000Z""#));
        assert!(parse(r#"meta.lastModified gt "yesterday""#).expect("parses").compile(ResourceKind::User).is_err());
    }

    #[test]
    fn logic_and_precedence() {
        assert!(m(r#"userName eq "x" or displayName eq "Alice" and active eq true"#));
        assert!(!m(r#"(userName eq "x" or displayName eq "Alice") and active eq false"#));
        assert!(m(r#"not (userName eq "x")"#));
        assert!(!m(r#"NOT (userName eq "alice@example.com")"#));
        assert!(m(r#"userName EQ "alice@example.com" AND (title pr OR active eq true)"#));
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName zz \"a\"",
            "userName eq \"a",
            "(userName eq \"a\"",
            "userName eq \"a\" and",
            "userName eq a",
            "emails[type eq \"work\"",
            "a.b.c eq \"x\"",
            "userName eq \"a\" )",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} must be refused");
        }
        let deep = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
        assert!(parse(&"a".repeat(MAX_LEN + 1)).is_err());
        for unknown in
            ["nope eq \"x\"", "emails.nope eq \"x\"", "urn:x:y eq \"z\"", "department eq \"x\"", "active gt true"]
        {
            let compiled = parse(unknown).and_then(|f| f.compile(ResourceKind::User));
            assert!(compiled.is_err(), "{unknown:?} must not compile");
        }
    }

    #[test]
    fn paths() {
        let p = parse_path(r#"members[value eq "abc"]"#).expect("parses");
        assert_eq!(p.attr.name, "members");
        assert!(p.filter.is_some());
        let p = parse_path(r#"addresses[type eq "work"].streetAddress"#).expect("parses");
        assert_eq!(p.sub_after.as_deref(), Some("streetAddress"));
        let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").expect("parses");
        assert_eq!(p.attr.urn.as_deref(), Some(schema::ENTERPRISE));
        assert_eq!(p.attr.sub.as_deref(), Some("value"));
        assert!(parse_path("name.givenName[value eq \"x\"]").is_err());
        assert!(parse_path("emails[type eq \"work\"].value.x").is_err());
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;

        fn path() -> impl Strategy<Value = AttrPath> {
            prop_oneof![
                Just(AttrPath { urn: None, name: "userName".into(), sub: None }),
                Just(AttrPath { urn: None, name: "displayName".into(), sub: None }),
                Just(AttrPath { urn: None, name: "emails".into(), sub: Some("value".into()) }),
                Just(AttrPath { urn: None, name: "meta".into(), sub: Some("lastModified".into()) }),
                Just(AttrPath { urn: Some(crate::schema::ENTERPRISE.into()), name: "department".into(), sub: None }),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<String>().prop_map(Value::String),
                any::<bool>().prop_map(Value::Bool),
                Just(Value::Null),
                any::<i32>().prop_map(Value::from),
            ]
        }

        fn op() -> impl Strategy<Value = CompareOp> {
            use CompareOp::*;
            prop::sample::select(vec![Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le])
        }

        fn filter() -> impl Strategy<Value = Filter> {
            let leaf = prop_oneof![
                (path(), op(), value()).prop_map(|(p, o, v)| Filter::Compare(p, o, v)),
                path().prop_map(Filter::Present),
            ];
            leaf.prop_recursive(6, 48, 2, |inner| {
                prop_oneof![
                    (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                    (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                    inner.clone().prop_map(|a| Filter::Not(Box::new(a))),
                    (op(), value()).prop_map(|(o, v)| Filter::ValuePath(
                        AttrPath { urn: None, name: "emails".into(), sub: None },
                        Box::new(Filter::Compare(AttrPath { urn: None, name: "type".into(), sub: None }, o, v))
                    )),
                ]
            })
        }

        proptest! {
            #[test]
            fn printed_filters_parse_back_to_themselves(f in filter()) {
                let printed = f.to_string();
                prop_assert_eq!(parse(&printed).expect("a printed filter parses"), f);
            }

            #[test]
            fn any_text_is_parsed_or_refused_without_panicking(s in ".{0,200}") {
                if let Ok(f) = parse(&s) {
                    let _ = f.compile(ResourceKind::User).map(|c| c.matches(&Value::Null));
                }
                let _ = parse_path(&s);
            }

            #[test]
            fn filter_like_text_never_panics(s in "[a-zA-Z. \\[\\]()\"]{0,80}( (eq|pr|and|or|not) [a-z\" ()]{0,20}){0,4}") {
                if let Ok(f) = parse(&s) {
                    let _ = f.compile(ResourceKind::Group).map(|c| c.matches(&serde_json::json!({"displayName": "x"})));
                }
            }
        }
    }
}
