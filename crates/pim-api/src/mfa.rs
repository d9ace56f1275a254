//! TOTP multi-factor authentication: enrollment, confirmation, verification of a session,
//! status and recovery codes.

use pim_domain::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The caller's MFA and this session's freshness.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaStatus {
    /// A confirmed TOTP authenticator exists.
    pub enrolled: bool,
    /// When it was confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<Timestamp>,
    /// When an authenticator waiting for its first code was enrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_since: Option<Timestamp>,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// Until when the authenticator refuses every code after 5 wrong ones (only while locked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<Timestamp>,
    /// When this session (the token of this call) last passed MFA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_mfa_at: Option<Timestamp>,
    /// The session passed MFA recently enough not to be asked again.
    pub fresh: bool,
    /// Until when it stays fresh (only while it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_until: Option<Timestamp>,
}

/// A new TOTP authenticator, waiting for its first code. The secret is shown only here.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TotpEnrollment {
    /// The secret in base 32, to type into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/pim:<user>?secret=...&issuer=pim`, what the QR code holds.
    pub otpauth_uri: String,
    /// The QR code of the URI, an SVG document.
    pub qr_svg: String,
    /// When it was enrolled.
    pub enrolled_at: Timestamp,
    /// Confirming it replaces the confirmed authenticator.
    pub replaces_confirmed: bool,
}

impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrollment").field("enrolled_at", &self.enrolled_at).finish_non_exhaustive()
    }
}

/// The first code of a new authenticator.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmTotp {
    /// The 6 digits the app shows.
    pub code: String,
}

impl std::fmt::Debug for ConfirmTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfirmTotp(..)")
    }
}

/// A confirmed authenticator: the recovery codes, shown only here.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaConfirmed {
    /// Ten single-use recovery codes (`xxxxx-xxxxx`); they replace any earlier ones.
    pub recovery_codes: Vec<String>,
    /// When this session passed MFA (now).
    pub mfa_at: Timestamp,
    /// Until when it stays fresh.
    pub fresh_until: Timestamp,
}

impl std::fmt::Debug for MfaConfirmed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaConfirmed").field("mfa_at", &self.mfa_at).finish_non_exhaustive()
    }
}

/// Passes MFA for this session: exactly one of `code` and `recoveryCode`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyMfa {
    /// The 6 digits the authenticator app shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// One of the recovery codes (each works once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
}

impl std::fmt::Debug for VerifyMfa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyMfa")
            .field("code", &self.code.as_ref().map(|_| ".."))
            .field("recovery_code", &self.recovery_code.as_ref().map(|_| ".."))
            .finish()
    }
}

/// A session that passed MFA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaVerified {
    /// When (now).
    pub mfa_at: Timestamp,
    /// Until when the session is not asked again.
    pub fresh_until: Timestamp,
    /// `totp` or `recoveryCode`.
    pub method: String,
    /// Unused recovery codes left.
    pub recovery_codes_left: i64,
}

/// New recovery codes, shown only here.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodes {
    /// Ten single-use recovery codes; every earlier one stops working.
    pub recovery_codes: Vec<String>,
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCodes(..)")
    }
}
