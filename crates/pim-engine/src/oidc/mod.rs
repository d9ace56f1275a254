//! OpenID Connect sign-in (docs/designs/oidc.md): begin (state, nonce, PKCE, a pending row any
//! replica can finish once), finish (exchange, ID token validation, user matching, group claims,
//! MFA from `amr` / `acr`), and a session token issued like a password sign-in.

mod client;
mod device;
mod options;
mod step_up;
mod users;

use std::sync::Arc;

use pim_domain::{ErrorKind, Principal, Timestamp};
use pim_store::q;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use client::VerifiedIdentity;
pub use device::{DEVICE_MAX_MS, OidcDevicePoll, OidcDevicePollRequest, OidcDeviceStart};
pub use options::{OidcProviderOptions, StepUp};
pub use step_up::{OidcReturn, RESUME_MAX, SteppedUp};

use crate::auth::IssuedToken;
use crate::context::Context;
use crate::engine::Engine;
use crate::error::{EngineError, Result, refuse};
use client::{Discovered, ProviderError};
use step_up::StepUpFor;

/// How long a begun sign-in can be finished, in milliseconds.
pub const PENDING_MS: i64 = 10 * pim_domain::time::MINUTE_MS;
/// How long discovery (and the JWKS) is trusted before it is read again, in milliseconds.
const DISCOVERY_MS: i64 = pim_domain::time::HOUR_MS;
/// How far in the future an ID token's `auth_time` may lie (the provider's clock runs ahead).
const AUTH_TIME_SKEW_MS: i64 = pim_domain::time::MINUTE_MS;

/// Who a sign-in is for: the portal (a browser bound by a cookie, the confidential client) or the
/// CLI (a loopback redirect, the native client when one is configured).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OidcPurpose {
    /// The web portal.
    Portal,
    /// `pim login --oidc`.
    Cli,
    /// A portal session passing MFA again at the provider it signed in through (`step_up = "idp"`).
    PortalStepUp,
}

impl OidcPurpose {
    fn as_str(self) -> &'static str {
        match self {
            OidcPurpose::Portal => "portal",
            OidcPurpose::Cli => "cli",
            OidcPurpose::PortalStepUp => "portal-step-up",
        }
    }

    /// Whether a finish for this purpose may take a pending row begun for `begun`: the portal's
    /// one callback finishes its sign-ins and its step-ups.
    fn takes(self, begun: &str) -> bool {
        begun == self.as_str() || (self == OidcPurpose::Portal && begun == OidcPurpose::PortalStepUp.as_str())
    }
}

/// A provider as the sign-in page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcProviderInfo {
    /// Its name (in URLs).
    pub name: String,
    /// "Sign in with ...".
    pub display_name: String,
}

/// A sign-in begun: where to send the browser, and the `state` that comes back.
#[derive(Clone, Debug)]
pub struct OidcStart {
    /// The provider's authorization URL.
    pub authorization_url: String,
    /// The `state` (also in the URL).
    pub state: String,
}

/// The configured providers and what discovery found for each.
#[derive(Debug, Default)]
pub struct Providers {
    list: Vec<Provider>,
}

#[derive(Debug)]
struct Provider {
    options: OidcProviderOptions,
    discovered: tokio::sync::Mutex<Option<(Arc<Discovered>, Timestamp)>>,
}

impl Providers {
    /// The providers of `options`, checked.
    pub fn build(options: &[OidcProviderOptions]) -> std::result::Result<Providers, String> {
        let mut list: Vec<Provider> = Vec::new();
        for o in options {
            o.validate()?;
            if list.iter().any(|p| p.options.name == o.name) {
                return Err(format!("two oidc providers are named '{}'", o.name));
            }
            list.push(Provider { options: o.clone(), discovered: tokio::sync::Mutex::new(None) });
        }
        Ok(Providers { list })
    }

    fn get(&self, name: &str) -> Result<&Provider> {
        self.list.iter().find(|p| p.options.name == name).ok_or_else(|| {
            EngineError::Refused(pim_domain::DomainError::not_found(format!(
                "no OpenID Connect provider is named '{name}'"
            )))
        })
    }
}

impl Provider {
    /// Discovery, cached for [`DISCOVERY_MS`].
    async fn discovered(&self, now: Timestamp) -> Result<Arc<Discovered>> {
        let mut slot = self.discovered.lock().await;
        if let Some((d, at)) = slot.as_ref()
            && now.0 - at.0 < DISCOVERY_MS
            && at.0 <= now.0
        {
            return Ok(d.clone());
        }
        let d = client::discover(&self.options).await.map_err(|e| unavailable(&self.options.name, e))?;
        *slot = Some((d.clone(), now));
        Ok(d)
    }

    /// Forgets discovery, so the next sign-in reads it (and the JWKS: a rotated key) again.
    async fn forget(&self) {
        *self.discovered.lock().await = None;
    }

    /// The engine's error for a provider-side failure; after an ID token failed validation (perhaps
    /// a rotated signing key) discovery and the JWKS are read again at the next sign-in.
    async fn refused(&self, e: ProviderError, draft: &mut pim_domain::AuditDraft) -> EngineError {
        if matches!(e, ProviderError::Unverified(_)) {
            self.forget().await;
        }
        provider_error(&self.options.name, e, draft)
    }

    /// The client id (and secret) used for `purpose`.
    fn client_for(&self, purpose: OidcPurpose) -> (&str, Option<&str>) {
        match (purpose, &self.options.cli_client_id) {
            (OidcPurpose::Cli, Some(cli)) => (cli, None),
            _ => (&self.options.client_id, self.options.client_secret.as_deref()),
        }
    }
}

/// What the person is told when the provider's answer fails validation (the log and the audit
/// event keep the reason).
pub const UNVERIFIED: &str = "the identity provider's answer could not be verified";

/// The engine's error for a provider-side failure. An ID token that failed validation is a generic
/// refusal; its reason (a fixed phrase, never the token) is logged, and put in `draft` for the audit.
fn provider_error(name: &str, e: ProviderError, draft: &mut pim_domain::AuditDraft) -> EngineError {
    if let ProviderError::Unverified(reason) = &e {
        tracing::warn!(provider = %name, reason = %reason, "an ID token failed validation");
        if let Some(d) = draft.details.as_object_mut() {
            d.insert("reason".into(), serde_json::Value::String(reason.clone()));
        }
    }
    unavailable(name, e)
}

fn unavailable(name: &str, e: ProviderError) -> EngineError {
    match e {
        ProviderError::Unverified(_) => EngineError::Refused(pim_domain::DomainError::new(
            ErrorKind::InvalidCredentials,
            format!("sign-in with '{name}' refused: {UNVERIFIED}"),
        )),
        ProviderError::Unavailable(m) => {
            EngineError::Internal(format!("the OpenID Connect provider '{name}' is unavailable: {m}"))
        }
        ProviderError::Refused(m) => EngineError::Refused(pim_domain::DomainError::new(
            ErrorKind::InvalidCredentials,
            format!("sign-in with '{name}' refused: {m}"),
        )),
    }
}

/// SHA-256 (hex) of a `state` or a binding cookie: what the store keeps.
fn hash(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A new random binding secret for a CLI sign-in (32 bytes, hex).
pub fn new_cli_secret() -> String {
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    hex::encode(raw)
}

/// The CLI's binding for its secret (SHA-256, hex): sent at start, recomputed from the secret at
/// finish.
pub fn cli_binding(secret: &str) -> String {
    hash(secret)
}

/// Checks a CLI's binding: the SHA-256 (64 hex digits) of a random secret.
fn check_cli_binding(binding: Option<&str>) -> Result<()> {
    if binding.is_some_and(|b| b.len() == 64 && b.bytes().all(|c| c.is_ascii_hexdigit())) {
        return Ok(());
    }
    refuse(ErrorKind::InvalidInput, "binding must be the SHA-256 (64 hex digits) of a random secret")
}

/// Checks a CLI's redirect URI: plain http to the loopback address with a port (RFC 8252 §7.3).
pub fn check_loopback_redirect(uri: &str) -> std::result::Result<(), String> {
    let bad = || {
        Err("redirectUri must be a loopback URL like http://127.0.0.1:PORT/callback or http://[::1]:PORT/callback"
            .to_owned())
    };
    let Ok(u) = url::Url::parse(uri) else { return bad() };
    let ip_loopback = match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        _ => false,
    };
    if u.scheme() != "http"
        || !ip_loopback
        || u.port().is_none()
        || !u.username().is_empty()
        || u.password().is_some()
        || u.fragment().is_some()
        || uri.len() > 512
    {
        return bad();
    }
    Ok(())
}

/// What the pending row seals: the nonce and the PKCE verifier.
#[derive(Serialize, Deserialize)]
struct Sealed {
    nonce: String,
    verifier: String,
    /// For a step-up: the session it is for, and the form to go back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    step_up: Option<StepUpFor>,
}

/// How a sign-in is finished.
#[derive(Clone, Debug)]
pub struct OidcFinish<'a> {
    /// The provider's name.
    pub provider: &'a str,
    /// The `state` that came back.
    pub state: &'a str,
    /// The authorization code.
    pub code: &'a str,
    /// Portal or CLI (a sign-in begun for one is not finished by the other).
    pub purpose: OidcPurpose,
    /// The browser-binding cookie (portal).
    pub binding: Option<&'a str>,
    /// The session token's name.
    pub token_name: Option<String>,
    /// The session's lifetime.
    pub lifetime_ms: i64,
}

impl Engine {
    /// The lifetime of a session token issued by sign-in, in milliseconds.
    pub fn session_token_ms(&self) -> i64 {
        self.options.session_token_ms
    }

    /// The configured providers (public: the sign-in page lists them).
    pub fn oidc_providers(&self) -> Vec<OidcProviderInfo> {
        self.oidc
            .list
            .iter()
            .map(|p| OidcProviderInfo { name: p.options.name.clone(), display_name: p.options.display_name.clone() })
            .collect()
    }

    /// Begins a sign-in at `provider`: a random `state`, `nonce` and PKCE verifier, kept (sealed) in
    /// a pending row for [`PENDING_MS`]. `binding` is the portal's browser cookie or the CLI's
    /// [`cli_binding`] (required for both); a CLI's `redirect_uri` must be a loopback URL. With `step_up` the provider is asked for a fresh
    /// authentication (`max_age=0`, and `acr_values` from `mfa_acr`).
    pub async fn oidc_begin(
        &self,
        provider: &str,
        purpose: OidcPurpose,
        redirect_uri: &str,
        binding: Option<&str>,
        step_up: bool,
    ) -> Result<OidcStart> {
        self.oidc_begin_with(provider, purpose, redirect_uri, binding, step_up, None).await
    }

    /// [`Engine::oidc_begin`], sealing the step-up's session in the pending row when there is one.
    async fn oidc_begin_with(
        &self,
        provider: &str,
        purpose: OidcPurpose,
        redirect_uri: &str,
        binding: Option<&str>,
        step_up: bool,
        session: Option<StepUpFor>,
    ) -> Result<OidcStart> {
        let p = self.oidc.get(provider)?;
        if purpose == OidcPurpose::Cli
            && let Err(m) = check_loopback_redirect(redirect_uri)
        {
            return refuse(ErrorKind::InvalidInput, m);
        }
        if purpose != OidcPurpose::Cli && binding.is_none() {
            return refuse(ErrorKind::InvalidInput, "a portal sign-in needs its browser binding");
        }
        if purpose == OidcPurpose::Cli {
            check_cli_binding(binding)?;
        }
        let now = self.now();
        let d = p.discovered(now).await?;
        let (client_id, _) = p.client_for(purpose);
        let begun = d.begin(&p.options, client_id, redirect_uri, step_up).map_err(|e| unavailable(provider, e))?;
        let state_hash = hash(&begun.state);
        let sealed = serde_json::to_vec(&Sealed { nonce: begun.nonce, verifier: begun.verifier, step_up: session })
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let sealed = self
            .secrets
            .seal(&sealed, &format!("oidc:{state_hash}"))
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let row = q::OidcPending {
            state_hash,
            provider: provider.to_owned(),
            sealed,
            redirect_uri: redirect_uri.to_owned(),
            purpose: purpose.as_str().to_owned(),
            binding: binding.map(hash).unwrap_or_default(),
            created_at: now,
            expires_at: now.plus_millis(PENDING_MS),
        };
        let mut tx = self.store.write(now).await?;
        q::prune_oidc_pending(tx.conn(), now).await?;
        q::insert_oidc_pending(tx.conn(), &row).await?;
        tx.commit().await?;
        Ok(OidcStart { authorization_url: begun.url, state: begun.state })
    }

    /// Finishes a sign-in: takes the pending row of `state` (once), exchanges the code, validates the
    /// ID token, matches the user (or links or creates one, as configured), brings the mapped
    /// groups in line with the groups claim and issues a session token, with MFA at `auth_time`
    /// when `amr` / `acr` say so. Audited as `auth.signIn` with `method: oidc`; refusals too.
    pub async fn oidc_finish(&self, ctx: &Context, f: OidcFinish<'_>) -> Result<(IssuedToken, Principal)> {
        match self.oidc_return(ctx, f).await? {
            OidcReturn::SignedIn(signed) => Ok(*signed),
            OidcReturn::SteppedUp(_) => refuse(ErrorKind::InvalidCredentials, "this was a step-up, not a sign-in"),
        }
    }

    /// What comes back to the portal's callback: a sign-in ([`Engine::oidc_finish`]) or, for a
    /// row begun by [`Engine::oidc_step_up_begin`], the step-up of the session it was begun for.
    pub async fn oidc_return(&self, ctx: &Context, f: OidcFinish<'_>) -> Result<OidcReturn> {
        let mut draft = self.draft(ctx, "auth.signIn");
        draft.details = serde_json::json!({ "method": "oidc", "provider": f.provider });
        let (identity, step_up) = match self.oidc_verify(&f, &mut draft).await {
            Ok(v) => v,
            Err(EngineError::Refused(e)) => {
                self.record_refusal(draft, &e).await?;
                return Err(e.into());
            }
            Err(e) => return Err(e),
        };
        let p = self.oidc.get(f.provider)?;
        if let Some(s) = step_up {
            return self.oidc_step_up_finish(ctx, &p.options, &identity, s).await.map(OidcReturn::SteppedUp);
        }
        draft.details["subject"] = serde_json::Value::String(identity.subject.clone());
        let session = (f.token_name.clone(), f.lifetime_ms);
        let signed =
            self.audited(draft.clone(), self.oidc_sign_in(&p.options, draft.clone(), &identity, session)).await;
        signed.map(|signed| OidcReturn::SignedIn(Box::new(signed)))
    }

    /// Takes the pending row and validates what the provider answers for it; a step-up row's
    /// session comes with it.
    async fn oidc_verify(
        &self,
        f: &OidcFinish<'_>,
        draft: &mut pim_domain::AuditDraft,
    ) -> Result<(VerifiedIdentity, Option<StepUpFor>)> {
        let p = self.oidc.get(f.provider)?;
        if f.state.is_empty() || f.state.len() > 512 || f.code.is_empty() || f.code.len() > 4096 {
            return refuse(ErrorKind::InvalidInput, "state and code must be given (at most 512 and 4096 characters)");
        }
        let now = self.now();
        let state_hash = hash(f.state);
        // Taken (deleted) in its own transaction: whatever follows, this state is used up.
        let mut tx = self.store.write(now).await?;
        let pending = q::take_oidc_pending(tx.conn(), &state_hash).await?;
        tx.commit().await?;
        let stale = || {
            refuse(
                ErrorKind::InvalidCredentials,
                "this sign-in is unknown, was finished already or has expired; start again",
            )
        };
        let Some(pending) = pending else { return stale() };
        if pending.provider != f.provider || !f.purpose.takes(&pending.purpose) || pending.expires_at <= now {
            return stale();
        }
        let bound = match f.binding {
            Some(b) => !pending.binding.is_empty() && hash(b) == pending.binding,
            None => pending.binding.is_empty(),
        };
        if !bound {
            let m = match f.purpose {
                OidcPurpose::Cli => {
                    "this sign-in was started by another client (the binding secret differs); start again"
                }
                _ => "this sign-in was started in another browser; start again",
            };
            return refuse(ErrorKind::InvalidCredentials, m);
        }
        let sealed = self
            .secrets
            .open(&pending.sealed, &format!("oidc:{state_hash}"))
            .map_err(|e| EngineError::Internal(format!("a pending sign-in could not be opened: {e}")))?;
        let sealed: Sealed = serde_json::from_slice(&sealed).map_err(|e| EngineError::Internal(e.to_string()))?;
        let d = p.discovered(now).await?;
        let (client_id, secret) = p.client_for(f.purpose);
        let finished = d.finish(
            &p.options,
            client_id,
            secret,
            &pending.redirect_uri,
            f.code,
            &sealed.verifier,
            &sealed.nonce,
            now,
        );
        match finished.await {
            Ok(i) => Ok((i, sealed.step_up)),
            Err(e) => Err(p.refused(e, draft).await),
        }
    }

    /// Whether the identity passed MFA at the provider, and when: `auth_time`. Without an
    /// `auth_time` nothing says when the MFA happened, so it does not count.
    fn oidc_mfa_at(o: &OidcProviderOptions, i: &VerifiedIdentity, now: Timestamp) -> Result<Option<Timestamp>> {
        let Some(at) = i.auth_time else { return Ok(None) };
        if at.0 > now.0 + AUTH_TIME_SKEW_MS {
            return refuse(ErrorKind::InvalidCredentials, "the ID token's auth_time lies in the future");
        }
        let by_amr = i.amr.iter().any(|a| o.mfa_amr.contains(a));
        let by_acr = i.acr.as_ref().is_some_and(|a| o.mfa_acr.contains(a));
        Ok((by_amr || by_acr).then_some(at.min(now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_portal_callback_takes_its_sign_ins_and_step_ups_and_the_cli_only_its_own() {
        assert!(OidcPurpose::Portal.takes("portal") && OidcPurpose::Portal.takes("portal-step-up"));
        assert!(OidcPurpose::Cli.takes("cli") && OidcPurpose::PortalStepUp.takes("portal-step-up"));
        assert!(!OidcPurpose::Portal.takes("cli") && !OidcPurpose::Cli.takes("portal"));
        assert!(!OidcPurpose::Cli.takes("portal-step-up") && !OidcPurpose::PortalStepUp.takes("portal"));
    }

    #[test]
    fn only_loopback_redirects_with_a_port_are_accepted_for_the_cli() {
        for ok in ["http://127.0.0.1:8765/callback", "http://[::1]:1/cb?x=1", "http://127.0.0.2:9/"] {
            assert_eq!(check_loopback_redirect(ok), Ok(()), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:8765/callback",
            "http://localhost:8765/callback",
            "http://127.0.0.1/callback",
            "http://evil.example.com:80/callback",
            "http://user:pw@127.0.0.1:9/cb",
            "http://127.0.0.1:9/cb#frag",
            "javascript:alert(1)",
            "",
        ] {
            assert!(check_loopback_redirect(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mfa_counts_from_amr_or_acr_at_auth_time_and_a_future_auth_time_is_refused() {
        let mut o = OidcProviderOptions::new("corp", "https://idp.example.com", "pim");
        o.mfa_acr = vec!["phr".into()];
        let now = Timestamp(1_000_000_000);
        let id = |amr: &[&str], acr: Option<&str>, at: Option<i64>| VerifiedIdentity {
            subject: "s".into(),
            email: None,
            email_verified: false,
            amr: amr.iter().map(|s| (*s).to_owned()).collect(),
            acr: acr.map(str::to_owned),
            auth_time: at.map(Timestamp),
            claims: serde_json::Value::Null,
        };
        let at = now.0 - 5_000;
        assert_eq!(Engine::oidc_mfa_at(&o, &id(&["pwd", "mfa"], None, Some(at)), now).ok(), Some(Some(Timestamp(at))));
        assert_eq!(Engine::oidc_mfa_at(&o, &id(&["pwd"], Some("phr"), Some(at)), now).ok(), Some(Some(Timestamp(at))));
        assert_eq!(Engine::oidc_mfa_at(&o, &id(&["pwd"], Some("low"), Some(at)), now).ok(), Some(None));
        let no_time = Engine::oidc_mfa_at(&o, &id(&["pwd", "mfa"], Some("phr"), None), now).ok();
        assert_eq!(no_time, Some(None), "no auth_time: no MFA");
        // By default a single factor (a one-time code, a key) is not MFA; configured, it is.
        for single in ["otp", "hwk", "swk", "fpt"] {
            assert_eq!(Engine::oidc_mfa_at(&o, &id(&[single], None, Some(at)), now).ok(), Some(None), "{single}");
        }
        o.mfa_amr.push("hwk".into());
        assert_eq!(Engine::oidc_mfa_at(&o, &id(&["hwk"], None, Some(at)), now).ok(), Some(Some(Timestamp(at))));
        assert!(Engine::oidc_mfa_at(&o, &id(&["mfa"], None, Some(now.0 + 3_600_000)), now).is_err());
    }
}
