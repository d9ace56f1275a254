//! MFA (placeholder while TOTP lands on its own branch).

use pim_domain::{ErrorKind, Timestamp};

use crate::context::{Actor, Context};
use crate::engine::Engine;
use crate::error::{Result, refuse};

impl Engine {
    /// Whether the caller's session passed MFA recently enough.
    pub(crate) fn mfa_fresh(&self, actor: &Actor) -> bool {
        actor.mfa_at.is_some()
    }

    /// Verifies a TOTP code sent with a request; returns when MFA was passed.
    pub(crate) async fn verify_request_otp(&self, _ctx: &Context, _code: &str) -> Result<Timestamp> {
        refuse(ErrorKind::MfaRequired, "MFA is not available on this server yet")
    }
}
