//! Who is calling and from where: passed to every use case and written into audit events.

use pim_domain::{PrincipalId, PrincipalKind, ReviewInstanceId, Timestamp, TokenId};

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
    /// Set only by the engine while it applies an access review's results: the authority of the
    /// review to remove the access its reviewers denied (see [`ReviewAuthority`]).
    pub on_behalf_of: Option<ReviewAuthority>,
    /// Set only for a call of an authenticated SCIM client (see [`crate::scim::ScimAuthority`]):
    /// what lets the SCIM use cases manage the directory, and nothing else.
    pub scim: Option<crate::scim::ScimAuthority>,
}

/// The authority of an access review instance to remove what it reviewed. Only the engine can make
/// one (after checking `pim.reviews.write` at the review's scope, or, for an automatic apply, when
/// the review was created), so no caller can claim it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReviewAuthority {
    pub(crate) instance: ReviewInstanceId,
}

impl Context {
    /// A context for the system itself (workers, bootstrap from the command line).
    pub fn system() -> Context {
        Context::default()
    }

    /// pim itself applying the results of review instance `instance` (named `review`), for the
    /// automatic apply at an instance's end: audited as `pim (access review <name>)`.
    pub(crate) fn review_system(review: &str, instance: ReviewInstanceId) -> Context {
        Context {
            actor: Some(Actor {
                id: PrincipalId::SYSTEM,
                kind: PrincipalKind::ServicePrincipal,
                name: format!("pim (access review {review})"),
                token_id: None,
                mfa_at: None,
            }),
            on_behalf_of: Some(ReviewAuthority { instance }),
            ..Context::default()
        }
    }

    /// The context of a SCIM client's call: the client is the actor (named `scim client NAME` in
    /// the audit history, with the nil principal id, which holds no role), carrying its authority.
    pub fn for_scim(
        authority: crate::scim::ScimAuthority,
        http_request_id: Option<String>,
        client_addr: Option<String>,
    ) -> Context {
        Context {
            actor: Some(Actor {
                id: PrincipalId::SYSTEM,
                kind: PrincipalKind::ServicePrincipal,
                name: format!("scim client {}", authority.client_name()),
                token_id: None,
                mfa_at: None,
            }),
            http_request_id,
            client_addr,
            on_behalf_of: None,
            scim: Some(authority),
        }
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
