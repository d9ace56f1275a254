//! Introspection (RFC 7662): is this access token active now? Verified with the key its header
//! names, by the engine's clock, and against the access index, so it turns inactive the moment a
//! grant it carries ends, is deactivated or revoked, or its subject is disabled.

use std::collections::HashSet;

use pim_domain::actions::TOKENS_READ;
use pim_domain::token::{SigningAlg, unix_secs};
use pim_domain::{PrincipalId, ScopePath};
use pim_store::q;

use super::AccessClaims;
use super::keys::jose_alg;
use crate::context::Context;
use crate::engine::Engine;
use crate::error::Result;

impl Engine {
    /// Whether the caller may introspect: it holds `pim.tokens.read` at `/` (every audience), or
    /// it is the introspector of at least one audience (that audience's tokens only). Returns the
    /// audiences it may introspect for (`None`: all). Others are refused (and audited).
    async fn introspection_rights(&self, ctx: &Context) -> Result<Option<HashSet<String>>> {
        let actor = self.actor(ctx)?;
        if self.allowed(ctx, TOKENS_READ, &ScopePath::root()) {
            return Ok(None);
        }
        let mut c = self.store.read().await?;
        let mine: HashSet<String> = q::list_audiences(&mut c)
            .await?
            .into_iter()
            .filter(|a| a.introspector == Some(actor.id))
            .map(|a| a.name)
            .collect();
        drop(c);
        if mine.is_empty() {
            // Refused and audited as any read without the action.
            self.authorize_read(ctx, TOKENS_READ, &ScopePath::root()).await?;
        }
        Ok(Some(mine))
    }

    /// Introspects `token`: its claims when it is active now, `None` otherwise (never a reason:
    /// a caller learns only "not active").
    pub async fn introspect(&self, ctx: &Context, token: &str) -> Result<Option<AccessClaims>> {
        let rights = self.introspection_rights(ctx).await?;
        let Ok(header) = jsonwebtoken::decode_header(token) else { return Ok(None) };
        let Some(kid) = header.kid.as_deref() else { return Ok(None) };
        if kid.len() > 64 {
            return Ok(None);
        }
        let Some(key) = self.verifying_key(kid).await? else { return Ok(None) };
        let now = self.now();
        let alg: SigningAlg = key.info().algorithm;
        // The header's algorithm must be the key's: `none`, HS256 and the like never verify.
        if header.alg != jose_alg(alg) || !key.info().published(now) {
            return Ok(None);
        }
        let mut v = jsonwebtoken::Validation::new(jose_alg(alg));
        // Times are checked below by the engine's clock, the audience against the registry.
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims = HashSet::new();
        v.set_issuer(&[self.options.tokens.issuer.as_str()]);
        let Ok(data) = jsonwebtoken::decode::<AccessClaims>(token, key.decoding(), &v) else { return Ok(None) };
        let claims = data.claims;
        if claims.iss != self.options.tokens.issuer
            || now.0 < claims.nbf.saturating_mul(1000)
            || now.0 >= claims.exp.saturating_mul(1000)
        {
            return Ok(None);
        }
        if rights.as_ref().is_some_and(|mine| !mine.contains(&claims.aud)) {
            return Ok(None);
        }
        let Ok(sub) = claims.sub.parse::<PrincipalId>() else { return Ok(None) };
        if !self.index.principal(sub).is_some_and(|p| p.enabled) || claims.grants.is_empty() {
            return Ok(None);
        }
        // The index says which grants still apply (group memberships included) ...
        let effective = self.index.effective(sub, now);
        if !claims.grants.iter().all(|g| effective.iter().any(|e| e.assignment_id == g.assignment_id)) {
            return Ok(None);
        }
        // ... and the store has the last word: a change another replica committed a moment ago,
        // that this replica's index has not followed yet, is seen here.
        let mut c = self.store.read().await?;
        let audience = q::get_audience_by_name(&mut c, &claims.aud).await?;
        // The audience must still accept every grant (its roles or prefix may have changed), and
        // be the one the token was issued for: one deleted and made again since does not revive it.
        let accepted = audience.is_some_and(|a| {
            unix_secs(a.created_at) <= claims.iat && claims.grants.iter().all(|g| a.accepts(g.role_id, &g.scope))
        });
        if !accepted
            || !q::get_principal(&mut c, sub).await?.is_some_and(|p| p.enabled)
            || q::access_token_cutoff(&mut c, sub).await?.is_some_and(|t| claims.iat <= unix_secs(t))
            || !super::grants_hold(&mut c, &claims.grants, now).await?
        {
            return Ok(None);
        }
        Ok(Some(claims))
    }
}
