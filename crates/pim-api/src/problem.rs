//! Error bodies: RFC 9457 `application/problem+json` with pim's stable `code`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error answer (RFC 9457 problem details); scripts should branch on `code`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// A URI naming the problem type, `https://pim.dev/problems/{code}`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence, for people.
    pub detail: String,
    /// The stable machine code, e.g. `justification_required`.
    pub code: String,
    /// The request id (`x-request-id`) of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For a refused document (`invalid_policy`): the 1-based line the refusal points at, when the
    /// text has the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// For a refused document (`invalid_policy`): the field, e.g. `assignments[1].role`
    /// (empty: the document as a whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The base of problem type URIs.
pub const PROBLEM_TYPE_BASE: &str = "https://pim.dev/problems/";

impl Problem {
    /// A problem with `status`, stable `code`, a `title` and a `detail`.
    pub fn new(status: u16, code: impl Into<String>, title: impl Into<String>, detail: impl Into<String>) -> Problem {
        let code = code.into();
        Problem {
            type_uri: format!("{PROBLEM_TYPE_BASE}{code}"),
            title: title.into(),
            status,
            detail: detail.into(),
            code,
            request_id: None,
            line: None,
            field: None,
        }
    }

    /// The same problem carrying the request id.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Problem {
        self.request_id = Some(request_id.into());
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.detail, self.code)
    }
}

/// One reason a request would be refused, as reported by `validateOnly`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProblemItem {
    /// The stable machine code, as in a refusal.
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_has_rfc9457_field_names() {
        let p = Problem::new(422, "justification_required", "Justification required", "give a reason")
            .with_request_id("r-1");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["type"], "https://pim.dev/problems/justification_required");
        assert_eq!(v["requestId"], "r-1");
        assert_eq!(v["status"], 422);
        assert_eq!(p.to_string(), "give a reason (justification_required)");
        assert_eq!(serde_json::from_value::<Problem>(v).unwrap(), p);
    }
}
