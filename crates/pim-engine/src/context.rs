//! Who is calling and from where: passed to every use case and written into audit events.

use pim_domain::{PrincipalId, PrincipalKind, Timestamp, TokenId};

/// An authenticated principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The principal's id.
    pub id: PrincipalId,
    /// User or service principal.
    pub kind: PrincipalKind,
    /// The principal's name.
    pub name: String,
    /// The token the call came with.
    pub token_id: Option<TokenId>,
    /// When this session last passed MFA (from the next issue on).
    pub mfa_at: Option<Timestamp>,
}

/// One call into the engine.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The caller, if authenticated.
    pub actor: Option<Actor>,
    /// The HTTP request id (`x-request-id`).
    pub http_request_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
}

impl Context {
    /// A context for the system itself (workers, bootstrap from the command line).
    pub fn system() -> Context {
        Context::default()
    }

    /// This context, with the caller's session having passed MFA at `at`.
    pub fn with_mfa_at(&self, at: Timestamp) -> Context {
        let mut c = self.clone();
        if let Some(a) = c.actor.as_mut() {
            a.mfa_at = Some(at);
        }
        c
    }
}
