//! The one table of SCIM attributes pim serves (User, the enterprise extension, Group): it drives
//! `/Schemas`, input normalization, filtering and projection.

use serde_json::{Value, json};

/// The core User schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise User extension.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core Group schema.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The list response message.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The error message.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The PATCH message.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The search request message.
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// Text.
    String,
    /// `true` or `false`.
    Boolean,
    /// An xsd:dateTime.
    DateTime,
    /// A URI.
    Reference,
    /// Sub-attributes.
    Complex,
}

/// Whether and how a client may write an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    /// Only the server sets it.
    ReadOnly,
    /// Clients read and write it.
    ReadWrite,
    /// Set once (at creation or when added), then kept.
    Immutable,
}

/// When an attribute is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    /// Always, even when not asked for.
    Always,
    /// Unless excluded.
    Default,
}

/// One attribute.
#[derive(Debug)]
pub struct Attr {
    /// Its canonical name.
    pub name: &'static str,
    /// Its type.
    pub ty: Type,
    /// A list of values.
    pub multi: bool,
    /// Required in a resource.
    pub required: bool,
    /// Compared case-sensitively.
    pub case_exact: bool,
    /// Who may write it.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// `none` or `server`.
    pub uniqueness: &'static str,
    /// Suggested values.
    pub canonical: &'static [&'static str],
    /// What a reference may point to.
    pub reference_types: &'static [&'static str],
    /// Sub-attributes (complex attributes).
    pub sub: &'static [Attr],
    /// What it is.
    pub description: &'static str,
}

const fn s(name: &'static str, description: &'static str) -> Attr {
    Attr {
        name,
        ty: Type::String,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: "none",
        canonical: &[],
        reference_types: &[],
        sub: &[],
        description,
    }
}

const fn typed(mut a: Attr, ty: Type) -> Attr {
    a.ty = ty;
    a
}

const fn canonical(mut a: Attr, values: &'static [&'static str]) -> Attr {
    a.canonical = values;
    a
}

const fn reference(mut a: Attr, types: &'static [&'static str]) -> Attr {
    a.ty = Type::Reference;
    a.reference_types = types;
    a.case_exact = true;
    a
}

const fn read_only(mut a: Attr) -> Attr {
    a.mutability = Mutability::ReadOnly;
    a
}

const fn immutable(mut a: Attr) -> Attr {
    a.mutability = Mutability::Immutable;
    a
}

const fn complex(name: &'static str, multi: bool, sub: &'static [Attr], description: &'static str) -> Attr {
    let mut a = s(name, description);
    a.ty = Type::Complex;
    a.multi = multi;
    a.sub = sub;
    a
}

const PRIMARY: Attr = typed(s("primary", "Whether this is the primary value."), Type::Boolean);

const NAME_SUB: &[Attr] = &[
    s("formatted", "The full name, formatted for display."),
    s("familyName", "The family name."),
    s("givenName", "The given name."),
    s("middleName", "The middle name."),
    s("honorificPrefix", "The honorific prefix, e.g. Ms."),
    s("honorificSuffix", "The honorific suffix, e.g. III."),
];

const EMAIL_SUB: &[Attr] = &[
    s("value", "The email address."),
    s("display", "A label for people."),
    canonical(s("type", "The kind of address."), &["work", "home", "other"]),
    PRIMARY,
];

const PHONE_SUB: &[Attr] = &[
    s("value", "The phone number."),
    s("display", "A label for people."),
    canonical(s("type", "The kind of number."), &["work", "home", "mobile", "fax", "pager", "other"]),
    PRIMARY,
];

const ADDRESS_SUB: &[Attr] = &[
    s("formatted", "The full address, formatted for display."),
    s("streetAddress", "The street address."),
    s("locality", "The city or locality."),
    s("region", "The state or region."),
    s("postalCode", "The postal code."),
    s("country", "The country (ISO 3166-1 alpha-2)."),
    canonical(s("type", "The kind of address."), &["work", "home", "other"]),
    PRIMARY,
];

const USER_GROUPS_SUB: &[Attr] = &[
    read_only(s("value", "The group's id.")),
    read_only(reference(s("$ref", "The group's URI."), &["Group"])),
    read_only(s("display", "The group's display name.")),
    read_only(canonical(s("type", "direct or indirect membership."), &["direct", "indirect"])),
];

/// The core User attributes pim keeps.
pub const USER_ATTRS: &[Attr] = &[
    {
        let mut a = s("userName", "The unique name the user signs in with (pim's user name).");
        a.required = true;
        a.uniqueness = "server";
        a
    },
    complex("name", false, NAME_SUB, "The components of the user's name."),
    s("displayName", "The name shown for the user."),
    s("nickName", "The casual name of the user."),
    reference(s("profileUrl", "The user's online profile."), &["external"]),
    s("title", "The user's title, e.g. Vice President."),
    s("userType", "The relation of the user to the organization, e.g. Employee."),
    s("preferredLanguage", "The preferred language, e.g. en-US."),
    s("locale", "The default location, e.g. en-US."),
    s("timezone", "The time zone, e.g. Europe/Paris."),
    {
        // Required: Entra ID and Okta always send it, and pim's disable cascade hangs on it. A
        // resource created without it is active.
        let mut a =
            typed(s("active", "Whether the user may sign in and hold access (pim's enabled flag)."), Type::Boolean);
        a.required = true;
        a
    },
    complex("emails", true, EMAIL_SUB, "Email addresses; the primary (or first) one is pim's email."),
    complex("phoneNumbers", true, PHONE_SUB, "Phone numbers."),
    complex("addresses", true, ADDRESS_SUB, "Physical mailing addresses."),
    read_only(complex("groups", true, USER_GROUPS_SUB, "The groups the user is a direct member of.")),
];

const MANAGER_SUB: &[Attr] = &[
    s("value", "The manager's id (a user provisioned to pim)."),
    reference(s("$ref", "The manager's URI."), &["User"]),
];

/// The enterprise extension's attributes.
pub const ENTERPRISE_ATTRS: &[Attr] = &[
    s("employeeNumber", "The employee number."),
    s("costCenter", "The cost center."),
    s("organization", "The organization."),
    s("division", "The division."),
    s("department", "The department."),
    complex("manager", false, MANAGER_SUB, "The user's manager (pim's manager)."),
];

const MEMBER_SUB: &[Attr] = &[
    immutable(s("value", "The member's id.")),
    immutable(reference(s("$ref", "The member's URI."), &["User", "Group"])),
    immutable(canonical(s("type", "User or Group."), &["User", "Group"])),
];

/// The core Group attributes pim keeps.
pub const GROUP_ATTRS: &[Attr] = &[
    {
        let mut a = s("displayName", "The group's name.");
        a.required = true;
        a
    },
    complex("members", true, MEMBER_SUB, "The group's direct members (users and groups)."),
];

/// A resource type pim serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

impl ResourceKind {
    /// `User` or `Group`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
    /// `Users` or `Groups`.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }
    /// The core schema.
    pub fn schema(self) -> &'static str {
        match self {
            ResourceKind::User => USER,
            ResourceKind::Group => GROUP,
        }
    }
    /// The core attributes.
    pub fn attrs(self) -> &'static [Attr] {
        match self {
            ResourceKind::User => USER_ATTRS,
            ResourceKind::Group => GROUP_ATTRS,
        }
    }
    /// The extensions: (schema URN, attributes).
    pub fn extensions(self) -> &'static [(&'static str, &'static [Attr])] {
        match self {
            ResourceKind::User => &[(ENTERPRISE, ENTERPRISE_ATTRS)],
            ResourceKind::Group => &[],
        }
    }
}

/// The attributes every resource has (RFC 7643 §3.1), outside any schema.
pub const ID: Attr = {
    let mut a = read_only(s("id", "The server's id of the resource."));
    a.case_exact = true;
    a.returned = Returned::Always;
    a.uniqueness = "server";
    a
};
/// `externalId`: the client's id of the resource.
pub const EXTERNAL_ID: Attr = {
    let mut a = s("externalId", "The provisioning client's id of the resource.");
    a.case_exact = true;
    a
};
const META_SUB: &[Attr] = &[
    read_only(s("resourceType", "User or Group.")),
    read_only(typed(s("created", "When it was created."), Type::DateTime)),
    read_only(typed(s("lastModified", "When it was last changed."), Type::DateTime)),
    read_only(reference(s("location", "Its URI."), &["uri"])),
    {
        let mut a = read_only(s("version", "Its version (the ETag)."));
        a.case_exact = true;
        a
    },
];
/// `meta`.
pub const META: Attr = read_only(complex("meta", false, META_SUB, "Resource metadata."));

/// Where an attribute path lands: in the core schema (`None`) or in an extension (its URN).
pub type Namespace = Option<&'static str>;

/// Finds a top-level attribute by name (case-insensitive), the common ones included.
pub fn find_attr(kind: ResourceKind, ns: Namespace, name: &str) -> Option<&'static Attr> {
    match ns {
        None => [&ID, &EXTERNAL_ID, &META]
            .into_iter()
            .chain(kind.attrs().iter())
            .find(|a| a.name.eq_ignore_ascii_case(name)),
        Some(urn) => kind
            .extensions()
            .iter()
            .find(|(u, _)| *u == urn)
            .and_then(|(_, attrs)| attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))),
    }
}

/// Finds a sub-attribute by name (case-insensitive).
pub fn find_sub(attr: &'static Attr, name: &str) -> Option<&'static Attr> {
    attr.sub.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// The extension URN of `kind` that `s` is (case-insensitive), if it is one.
pub fn extension_urn(kind: ResourceKind, s: &str) -> Option<&'static str> {
    kind.extensions().iter().map(|(u, _)| *u).find(|u| u.eq_ignore_ascii_case(s))
}

fn type_name(t: Type) -> &'static str {
    match t {
        Type::String => "string",
        Type::Boolean => "boolean",
        Type::DateTime => "dateTime",
        Type::Reference => "reference",
        Type::Complex => "complex",
    }
}

/// An attribute's RFC 7643 §7 definition.
pub fn attr_json(a: &Attr) -> Value {
    let mut v = json!({
        "name": a.name,
        "type": type_name(a.ty),
        "multiValued": a.multi,
        "description": a.description,
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": match a.mutability {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
        },
        "returned": match a.returned { Returned::Always => "always", Returned::Default => "default" },
        "uniqueness": a.uniqueness,
    });
    if !a.canonical.is_empty() {
        v["canonicalValues"] = json!(a.canonical);
    }
    if a.ty == Type::Reference {
        v["referenceTypes"] = json!(a.reference_types);
    }
    if a.ty == Type::Complex {
        v["subAttributes"] = Value::Array(a.sub.iter().map(attr_json).collect());
    }
    v
}
