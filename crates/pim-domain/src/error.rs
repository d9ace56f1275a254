//! Domain errors: a stable machine code (the `ErrorKind`) plus a human message.

use std::fmt;

macro_rules! error_kinds {
    ($($variant:ident => $code:literal,)*) => {
        /// Every way a request can be refused, each with a stable code used in problem+json `code`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorKind { $($variant,)* }

        impl ErrorKind {
            /// Every kind, for tables and tests.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$variant,)*];
            /// The stable machine code, e.g. `justification_required`.
            pub fn code(self) -> &'static str {
                match self { $(ErrorKind::$variant => $code,)* }
            }
        }
    };
}

error_kinds! {
    // Input that is malformed or out of range.
    InvalidInput => "invalid_input",
    InvalidScope => "invalid_scope",
    InvalidAction => "invalid_action",
    InvalidDuration => "invalid_duration",
    InvalidWindow => "invalid_window",
    InvalidSettings => "invalid_settings",
    InvalidPolicy => "invalid_policy",
    // Things that do not exist.
    NotFound => "not_found",
    // Conflicts with the current state.
    NameTaken => "name_taken",
    GroupCycle => "group_cycle",
    AlreadyExists => "already_exists",
    RoleInUse => "role_in_use",
    BuiltinRoleReadOnly => "builtin_role_read_only",
    PrincipalDisabled => "principal_disabled",
    LastGlobalAdmin => "last_global_admin",
    RequestNotPending => "request_not_pending",
    ExtensionPending => "extension_pending",
    AssignmentEnded => "assignment_ended",
    // The resource changed since the caller read the version it wrote from.
    VersionChanged => "version_changed",
    // Policy rules of role settings and of SPEC section 4.
    JustificationRequired => "justification_required",
    TicketRequired => "ticket_required",
    MfaRequired => "mfa_required",
    ApprovalRequired => "approval_required",
    DurationOutOfRange => "duration_out_of_range",
    NotEligible => "not_eligible",
    ScopeOutsideEligibility => "scope_outside_eligibility",
    PermanentNotAllowed => "permanent_not_allowed",
    ExpirationTooFar => "expiration_too_far",
    NotExtendable => "not_extendable",
    NotRenewable => "not_renewable",
    ActiveOnlyPrincipal => "service_principal_active_only",
    ApprovalSelfForbidden => "approval_self_forbidden",
    NotActive => "not_active",
    NotApprover => "not_approver",
    AlreadyDecided => "already_decided",
    BreakGlassNotAllowed => "break_glass_not_allowed",
    // Authentication and authorization.
    Unauthenticated => "unauthenticated",
    InvalidCredentials => "invalid_credentials",
    Forbidden => "forbidden",
    TooManyAttempts => "too_many_attempts",
    SetupCompleted => "setup_completed",
    InvalidSetupSecret => "invalid_setup_secret",
    // MFA.
    InvalidMfaCode => "invalid_mfa_code",
    MfaCodeReused => "mfa_code_reused",
    MfaNotEnrolled => "mfa_not_enrolled",
    // Alerts.
    AlertNotActive => "alert_not_active",
    // Access reviews.
    ReviewNotInProgress => "review_not_in_progress",
    ReviewNotCompleted => "review_not_completed",
    NotReviewer => "not_reviewer",
    ReasonRequired => "reason_required",
    // Signed access tokens.
    NoGrantForAudience => "no_grant_for_audience",
    // SSH certificates.
    NoSshPrincipals => "no_ssh_principals",
    AssignmentAmbiguous => "assignment_ambiguous",
    // Activity reports.
    ActivityTooLarge => "activity_too_large",
    ActivityTimeOutOfRange => "activity_time_out_of_range",
    ActivityAssignmentMismatch => "activity_assignment_mismatch",
}

/// A refused request: what rule it broke and a sentence that says so.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct DomainError {
    /// The stable kind.
    pub kind: ErrorKind,
    /// A clear message for people.
    pub message: String,
    /// Where in a submitted document the refusal points (a policy file's line and field), when it
    /// does; problem+json carries it as `line` and `field` members.
    pub location: Option<Location>,
}

/// A place in a submitted document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The 1-based line, when the text has the field.
    pub line: Option<usize>,
    /// The field, e.g. `assignments[1].role` (empty for the document as a whole).
    pub field: String,
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl DomainError {
    /// An error of `kind` with `message` (long quoted values shortened, see [`crate::message`]).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> DomainError {
        DomainError { kind, message: crate::message::bounded(message.into()), location: None }
    }
    /// The same refusal, pointing at `location` in the submitted document.
    pub fn at(mut self, location: Location) -> DomainError {
        self.location = Some(location);
        self
    }
    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
    /// `not_found` for a thing described as `what` (e.g. "user 0193...").
    pub fn not_found(what: impl fmt::Display) -> DomainError {
        DomainError::new(ErrorKind::NotFound, format!("{what} does not exist"))
    }
    /// `invalid_input` with a message.
    pub fn invalid(message: impl Into<String>) -> DomainError {
        DomainError::new(ErrorKind::InvalidInput, message)
    }
}

impl From<crate::scope::ScopeError> for DomainError {
    fn from(e: crate::scope::ScopeError) -> Self {
        DomainError::new(ErrorKind::InvalidScope, e.to_string())
    }
}

impl From<crate::permission::ActionError> for DomainError {
    fn from(e: crate::permission::ActionError) -> Self {
        DomainError::new(ErrorKind::InvalidAction, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = HashSet::new();
        for k in ErrorKind::ALL {
            let c = k.code();
            assert!(seen.insert(c), "duplicate code {c}");
            assert!(c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{c}");
        }
    }
}
