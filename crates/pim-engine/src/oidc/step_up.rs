//! Step-up at the identity provider (`step_up = "idp"`, docs/designs/oidc-portal-step-up.md): a
//! portal session that signed in through such a provider passes MFA there again, as the same
//! subject, and its `mfa_at` becomes the fresh ID token's `auth_time`.

use pim_domain::{ErrorKind, Principal, PrincipalId, Timestamp, TokenId};
use pim_store::q;
use serde::{Deserialize, Serialize};

use super::{OidcProviderInfo, OidcProviderOptions, OidcPurpose, OidcStart, StepUp, VerifiedIdentity};
use crate::auth::IssuedToken;
use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};

/// The most a step-up keeps of the form to go back to (bytes).
pub const RESUME_MAX: usize = 8 * 1024;

/// What a step-up's pending row keeps (sealed): the session it is for and the form to go back to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct StepUpFor {
    token: TokenId,
    principal: PrincipalId,
    resume: String,
}

/// A step-up done: the session passed MFA at the provider.
#[derive(Clone, Debug)]
pub struct SteppedUp {
    /// The provider.
    pub provider: OidcProviderInfo,
    /// The session's new MFA time (the ID token's `auth_time`).
    pub mfa_at: Timestamp,
    /// What the portal gave at the start, to go back to.
    pub resume: String,
}

/// What the portal's callback finished.
#[derive(Debug)]
pub enum OidcReturn {
    /// A sign-in: a new session (boxed: it is the larger answer by far).
    SignedIn(Box<(IssuedToken, Principal)>),
    /// A step-up of an existing session.
    SteppedUp(SteppedUp),
}

fn info(o: &OidcProviderOptions) -> OidcProviderInfo {
    OidcProviderInfo { name: o.name.clone(), display_name: o.display_name.clone() }
}

impl Engine {
    /// The provider where the caller's session passes MFA again: the one it signed in through,
    /// when that provider is configured with `step_up = "idp"`; `None` otherwise (pim's TOTP).
    pub async fn oidc_step_up_provider(&self, ctx: &Context) -> Result<Option<OidcProviderInfo>> {
        let Some(token) = self.actor(ctx)?.token_id else { return Ok(None) };
        let mut c = self.store.read().await?;
        let Some((provider, _)) = q::get_token_oidc(&mut c, token).await? else { return Ok(None) };
        let p = self.oidc.list.iter().find(|p| p.options.name == provider && p.options.step_up == StepUp::Idp);
        Ok(p.map(|p| info(&p.options)))
    }

    /// Begins a step-up of the caller's (portal) session at its provider: `max_age=0` and
    /// `acr_values`, bound to the browser by `binding`; `resume` (at most [`RESUME_MAX`] bytes) is
    /// handed back when it is done.
    pub async fn oidc_step_up_begin(
        &self,
        ctx: &Context,
        redirect_uri: &str,
        binding: &str,
        resume: &str,
    ) -> Result<OidcStart> {
        let actor = self.actor(ctx)?.clone();
        let (Some(p), Some(token)) = (self.oidc_step_up_provider(ctx).await?, actor.token_id) else {
            return refuse(
                ErrorKind::InvalidInput,
                "this session did not sign in through a provider that steps up (step_up = \"idp\")",
            );
        };
        if resume.len() > RESUME_MAX {
            return refuse(ErrorKind::InvalidInput, format!("resume must be at most {RESUME_MAX} bytes"));
        }
        let session = StepUpFor { token, principal: actor.id, resume: resume.to_owned() };
        self.oidc_begin_with(&p.name, OidcPurpose::PortalStepUp, redirect_uri, Some(binding), true, Some(session)).await
    }

    /// Finishes a step-up: the ID token must be the session's own subject, show MFA (`amr` /
    /// `acr`) and a fresh `auth_time`; then the session's `mfa_at` is that time. Audited as
    /// `mfa.verify` (`method: oidc`), refusals too; a refusal leaves the session as it was.
    pub(super) async fn oidc_step_up_finish(
        &self,
        ctx: &Context,
        o: &OidcProviderOptions,
        i: &VerifiedIdentity,
        s: StepUpFor,
    ) -> Result<SteppedUp> {
        let mut draft = self.draft(ctx, "mfa.verify");
        let mut c = self.store.read().await?;
        draft.actor_name = q::get_principal(&mut c, s.principal).await?.map(|p| p.name);
        drop(c);
        draft.actor_id = Some(s.principal);
        draft.principal_id = Some(s.principal);
        draft.details = serde_json::json!({
            "method": "oidc", "provider": o.name, "subject": i.subject, "tokenId": s.token,
        });
        self.audited(draft.clone(), self.oidc_step_up_apply(o, i, s, draft)).await
    }

    async fn oidc_step_up_apply(
        &self,
        o: &OidcProviderOptions,
        i: &VerifiedIdentity,
        s: StepUpFor,
        draft: pim_domain::AuditDraft,
    ) -> Result<SteppedUp> {
        let now = self.now();
        let unchanged = "your session is unchanged";
        let mut tx = self.store.write(now).await?;
        let token = q::get_token(tx.conn(), s.token).await?;
        let live = token.is_some_and(|t| t.principal_id == s.principal && t.revoked_at.is_none() && t.expires_at > now);
        if !live {
            return refuse(ErrorKind::InvalidCredentials, "the session this step-up was for has ended; sign in again");
        }
        if q::get_token_oidc(tx.conn(), s.token).await? != Some((o.name.clone(), i.subject.clone())) {
            let m =
                format!("you came back from {} as another account than this session's; {unchanged}", o.display_name);
            return refuse(ErrorKind::Forbidden, m);
        }
        let Some(at) = Self::oidc_mfa_at(o, i, now)? else {
            let m = format!("{} did not report MFA for this sign-in; {unchanged}", o.display_name);
            return refuse(ErrorKind::MfaRequired, m);
        };
        if now.0 - at.0 >= self.options.mfa_freshness_ms {
            let m =
                format!("{} answered with an earlier sign-in, not a fresh one with MFA; {unchanged}", o.display_name);
            return refuse(ErrorKind::MfaRequired, m);
        }
        q::set_token_mfa(tx.conn(), s.token, at).await?;
        let mut draft = draft;
        draft.details["mfaAt"] = serde_json::json!(at.0);
        tx.audit(now, draft).await?;
        tx.commit().await?;
        self.tokens.set_mfa(s.token, at);
        Ok(SteppedUp { provider: info(o), mfa_at: at, resume: s.resume })
    }
}
