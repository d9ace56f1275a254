//! The discovery documents (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes` and
//! `/Schemas`, written from the schema table.

use serde_json::{Value, json};

use crate::schema::{self, Attr, ResourceKind, attr_json};

/// The schema of schemas.
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// The schema of resource types.
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// The schema of the service provider configuration.
pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// Most resources one list returns.
pub const MAX_RESULTS: usize = 1000;

/// What pim supports (RFC 7643 §5).
pub fn service_provider_config(base: &str, docs: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": docs,
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "SCIM client token",
            "description": "A bearer secret of a SCIM client registered in pim (pim scim clients create NAME).",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "documentationUri": docs,
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

/// A resource type.
pub fn resource_type(kind: ResourceKind, base: &str) -> Value {
    let extensions: Vec<Value> =
        kind.extensions().iter().map(|(urn, _)| json!({"schema": urn, "required": false})).collect();
    let mut v = json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": format!("/{}", kind.endpoint()),
        "description": match kind { ResourceKind::User => "pim's users", ResourceKind::Group => "pim's groups" },
        "schema": kind.schema(),
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", kind.name())}
    });
    if !extensions.is_empty() {
        v["schemaExtensions"] = Value::Array(extensions);
    }
    v
}

/// Every resource type.
pub fn resource_types(base: &str) -> Vec<Value> {
    [ResourceKind::User, ResourceKind::Group].into_iter().map(|k| resource_type(k, base)).collect()
}

fn schema_doc(id: &str, name: &str, description: &str, attrs: &[Attr], base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attrs.iter().map(attr_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}
    })
}

const fn ro(name: &'static str, ty: schema::Type, description: &'static str) -> Attr {
    Attr {
        name,
        ty,
        multi: false,
        required: false,
        case_exact: false,
        mutability: schema::Mutability::ReadOnly,
        returned: schema::Returned::Default,
        uniqueness: "none",
        canonical: &[],
        reference_types: &[],
        sub: &[],
        description,
    }
}

const fn many(mut a: Attr, sub: &'static [Attr]) -> Attr {
    a.ty = schema::Type::Complex;
    a.multi = true;
    a.sub = sub;
    a
}

const fn strings(mut a: Attr) -> Attr {
    a.multi = true;
    a
}

const fn one(mut a: Attr, sub: &'static [Attr]) -> Attr {
    a.ty = schema::Type::Complex;
    a.sub = sub;
    a
}

const fn refs(mut a: Attr, types: &'static [&'static str]) -> Attr {
    a.ty = schema::Type::Reference;
    a.reference_types = types;
    a
}

use schema::Type::{Boolean as B, String as S};

const ATTR_DEF_LEAF: &[Attr] = &[
    ro("name", S, "The attribute's name."),
    ro("type", S, "Its data type."),
    ro("multiValued", B, "Whether it holds a list."),
    ro("description", S, "What it is."),
    ro("required", B, "Whether it is required."),
    strings(ro("canonicalValues", S, "Suggested values.")),
    ro("caseExact", B, "Whether comparisons are case-sensitive."),
    ro("mutability", S, "Who may change it."),
    ro("returned", S, "When it is returned."),
    ro("uniqueness", S, "How unique it is."),
    strings(ro("referenceTypes", S, "What a reference may name.")),
];

const ATTR_DEF: &[Attr] = &[
    ro("name", S, "The attribute's name."),
    ro("type", S, "Its data type."),
    ro("multiValued", B, "Whether it holds a list."),
    ro("description", S, "What it is."),
    ro("required", B, "Whether it is required."),
    strings(ro("canonicalValues", S, "Suggested values.")),
    ro("caseExact", B, "Whether comparisons are case-sensitive."),
    ro("mutability", S, "Who may change it."),
    ro("returned", S, "When it is returned."),
    ro("uniqueness", S, "How unique it is."),
    strings(ro("referenceTypes", S, "What a reference may name.")),
    many(ro("subAttributes", S, "The sub-attributes of a complex attribute."), ATTR_DEF_LEAF),
];

const SCHEMA_ATTRS: &[Attr] = &[
    ro("id", S, "The schema's URI."),
    ro("name", S, "The schema's name."),
    ro("description", S, "What the schema is."),
    many(ro("attributes", S, "The schema's attributes."), ATTR_DEF),
];

const EXTENSION_ATTRS: &[Attr] =
    &[refs(ro("schema", S, "The extension's URI."), &["uri"]), ro("required", B, "Whether a resource must have it.")];

const RESOURCE_TYPE_ATTRS: &[Attr] = &[
    ro("id", S, "The resource type's id."),
    ro("name", S, "Its name."),
    ro("description", S, "What it is."),
    refs(ro("endpoint", S, "Its endpoint, relative to the base URL."), &["uri"]),
    refs(ro("schema", S, "Its core schema."), &["uri"]),
    many(ro("schemaExtensions", S, "Its schema extensions."), EXTENSION_ATTRS),
];

const SUPPORTED: &[Attr] = &[ro("supported", B, "Whether it is supported.")];
const BULK: &[Attr] = &[
    ro("supported", B, "Whether it is supported."),
    ro("maxOperations", schema::Type::String, "Most operations."),
    ro("maxPayloadSize", schema::Type::String, "Largest payload."),
];
const FILTER: &[Attr] = &[ro("supported", B, "Whether it is supported."), ro("maxResults", S, "Most results.")];
const AUTH: &[Attr] = &[
    ro("type", S, "The scheme's type."),
    ro("name", S, "Its name."),
    ro("description", S, "What it is."),
    refs(ro("specUri", S, "Its specification."), &["external"]),
    refs(ro("documentationUri", S, "Its documentation."), &["external"]),
    ro("primary", B, "Whether it is the primary scheme."),
];

const SPC_ATTRS: &[Attr] = &[
    refs(ro("documentationUri", S, "The service's documentation."), &["external"]),
    one(ro("patch", S, "PATCH."), SUPPORTED),
    one(ro("bulk", S, "Bulk operations."), BULK),
    one(ro("filter", S, "Filters."), FILTER),
    one(ro("changePassword", S, "Changing passwords."), SUPPORTED),
    one(ro("sort", S, "Sorting."), SUPPORTED),
    one(ro("etag", S, "ETags."), SUPPORTED),
    many(ro("authenticationSchemes", S, "How clients authenticate."), AUTH),
];

/// Every schema: User, the enterprise extension, Group, and the three of discovery.
pub fn schemas(base: &str) -> Vec<Value> {
    let mut out = vec![
        schema_doc(schema::USER, "User", "User Account", schema::USER_ATTRS, base),
        schema_doc(schema::ENTERPRISE, "EnterpriseUser", "Enterprise User", schema::ENTERPRISE_ATTRS, base),
        schema_doc(schema::GROUP, "Group", "Group", schema::GROUP_ATTRS, base),
        schema_doc(SCHEMA_SCHEMA, "Schema", "Specifies the schema of a resource", SCHEMA_ATTRS, base),
        schema_doc(RESOURCE_TYPE_SCHEMA, "ResourceType", "Specifies a resource type", RESOURCE_TYPE_ATTRS, base),
        schema_doc(SPC_SCHEMA, "ServiceProviderConfig", "What the service provider supports", SPC_ATTRS, base),
    ];
    // The maxima are integers (this table has no integer type, so they are fixed up here).
    if let Some(spc) = out.last_mut()
        && let Some(attrs) = spc["attributes"].as_array_mut()
    {
        for a in attrs.iter_mut() {
            if let Some(subs) = a.get_mut("subAttributes").and_then(Value::as_array_mut) {
                for s in subs {
                    if matches!(s["name"].as_str(), Some("maxOperations" | "maxPayloadSize" | "maxResults")) {
                        s["type"] = json!("integer");
                    }
                }
            }
        }
    }
    out
}
