//! SCIM 2.0 (RFC 7643/7644) for pim, without I/O: the schema table, filters and PATCH paths,
//! normalization of what clients send, PATCH operations, the mapping to pim's directory, and the
//! `attributes`/`excludedAttributes` projection.

pub mod attributes;
pub mod discovery;
pub mod filter;
pub mod normalize;
pub mod patch;
pub mod resource;
pub mod schema;

/// A refusal in SCIM's terms (RFC 7644 §3.12): an HTTP status, the `scimType` and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimError {
    /// The HTTP status.
    pub status: u16,
    /// `invalidFilter`, `invalidValue`, `invalidPath`, `noTarget`, `mutability`, `uniqueness`,
    /// `invalidSyntax`, `tooMany`, ...
    pub scim_type: Option<&'static str>,
    /// What went wrong, for people.
    pub detail: String,
}

impl ScimError {
    /// A 400 with `scim_type`.
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
        ScimError { status: 400, scim_type: Some(scim_type), detail: detail.into() }
    }
    /// `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> ScimError {
        ScimError::bad("invalidValue", detail)
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl From<filter::FilterError> for ScimError {
    fn from(e: filter::FilterError) -> ScimError {
        ScimError::bad("invalidFilter", e.0)
    }
}

/// At most 32 characters of `s`, with `…` when shortened (for messages that quote input).
pub(crate) fn shorten(s: &str) -> String {
    let mut it = s.chars();
    let head: String = it.by_ref().take(32).collect();
    if it.next().is_some() { format!("{head}…") } else { head }
}
