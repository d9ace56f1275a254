//! Signed access tokens (SPEC §12): issuing a JWT that carries the caller's grants in effect and
//! dies with the first of them, the audiences that accept them, the signing keys and their
//! rotation, and introspection. docs/designs/tokens.md is the shape; docs/TOKENS.md the guide.

pub mod audiences;
pub mod introspect;
pub mod keys;
#[cfg(test)]
mod tests;

use pim_domain::token::{self, Audience, SigningAlg, grant_outlasts_issue, token_exp, unix_secs};
pub use pim_domain::token::{AccessClaims, TokenGrant};
use pim_domain::{ErrorKind, PrincipalId, RoleId, ScopePath, Timestamp};
use pim_store::q;

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};

pub use keys::KeyRing;

/// How pim signs access tokens (`[tokens]` of pim.toml).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenOptions {
    /// The `iss` of every token and the base of the metadata's URLs, e.g. `https://pim.example.com`.
    pub issuer: String,
    /// The algorithm of audiences that name none.
    pub default_algorithm: SigningAlg,
    /// A new key replaces the current one when it is this old, in milliseconds (`0`: only on demand).
    pub rotate_every_ms: i64,
}

impl Default for TokenOptions {
    fn default() -> Self {
        TokenOptions {
            issuer: "http://127.0.0.1:8420".to_owned(),
            default_algorithm: SigningAlg::EdDSA,
            rotate_every_ms: 0,
        }
    }
}

/// A signed access token and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedAccessToken {
    /// The compact JWS.
    pub token: String,
    /// The key that signed it.
    pub kid: String,
    /// Its algorithm.
    pub algorithm: SigningAlg,
    /// Its claims.
    pub claims: AccessClaims,
}

/// `grants` as the store has them at `now`: each kept only while its assignment is stored and in
/// effect, with the earlier of the stored end and the grant's own (e.g. a time-bound group
/// membership's), and only when it outlasts the current second.
async fn stored_grants(
    c: &mut pim_store::AnyConnection,
    grants: Vec<TokenGrant>,
    now: Timestamp,
) -> Result<Vec<TokenGrant>> {
    let mut out = Vec::with_capacity(grants.len());
    for mut g in grants {
        let Some(a) = q::get_assignment(c, g.assignment_id).await?.filter(|a| a.in_effect(now)) else { continue };
        let stored = a.window.end.map(unix_secs);
        g.ends_at = match (stored, g.ends_at) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        if grant_outlasts_issue(now, g.ends_at.map(|s| Timestamp(s * 1000))) {
            out.push(g);
        }
    }
    Ok(out)
}

/// Whether every grant of a token is still in effect in the store at `now` (its assignment stored and
/// in effect; a shortened one turns the token inactive at its new end).
async fn grants_hold(c: &mut pim_store::AnyConnection, grants: &[TokenGrant], now: Timestamp) -> Result<bool> {
    for g in grants {
        let Some(a) = q::get_assignment(c, g.assignment_id).await? else { return Ok(false) };
        if !a.in_effect(now) {
            return Ok(false);
        }
    }
    Ok(true)
}

impl Engine {
    /// The issuer of access tokens.
    pub fn token_issuer(&self) -> &str {
        &self.options.tokens.issuer
    }

    /// Issues an access token for the caller to `audience`, carrying its grants in effect that the
    /// audience accepts (narrowed to `role` and `scope` when given). Refused with
    /// `no_grant_for_audience` when none is left.
    pub async fn issue_access_token(
        &self,
        ctx: &Context,
        audience: &str,
        role: Option<&str>,
        scope: Option<&ScopePath>,
    ) -> Result<IssuedAccessToken> {
        let actor = self.actor(ctx)?.clone();
        let mut draft = self.draft(ctx, "accessToken.issue");
        draft.principal_id = Some(actor.id);
        draft.scope = scope.cloned();
        draft.details = serde_json::json!({ "audience": audience });
        self.audited(draft.clone(), async {
            let mut c = self.store.read().await?;
            let Some(aud) = q::get_audience_by_name(&mut c, audience).await? else {
                return Err(pim_domain::DomainError::not_found(format!("audience '{audience}'")).into());
            };
            let role_id = match role {
                Some(r) => Some(crate::roles::find_role(&mut c, r).await?.id),
                None => None,
            };
            drop(c);
            let now = self.now();
            let grants = self.grants_for(actor.id, &aud, role_id, scope, now);
            // Writers are serialized: inside the write transaction the principal and every
            // assignment are as every committed change left them, even one another replica made
            // a moment ago that this replica's index has not followed yet.
            let mut tx = self.store.write(now).await?;
            if !q::get_principal(tx.conn(), actor.id).await?.is_some_and(|p| p.enabled) {
                return refuse(ErrorKind::PrincipalDisabled, format!("{} is disabled", actor.name));
            }
            let grants = stored_grants(tx.conn(), grants, now).await?;
            if grants.is_empty() {
                return refuse(
                    ErrorKind::NoGrantForAudience,
                    format!(
                        "{} holds no assignment in effect that the audience '{}' accepts{}",
                        actor.name,
                        aud.name,
                        if role.is_some() || scope.is_some() { " (with the role and scope asked for)" } else { "" }
                    ),
                );
            }
            let exp = token_exp(now, aud.lifetime_secs, grants.iter().map(|g| g.ends_at.map(|s| Timestamp(s * 1000))));
            let iat = unix_secs(now);
            let claims = AccessClaims {
                iss: self.options.tokens.issuer.clone(),
                sub: actor.id.to_string(),
                name: actor.name.clone(),
                aud: aud.name.clone(),
                iat,
                nbf: iat,
                exp,
                jti: uuid::Uuid::now_v7().to_string(),
                grants,
            };
            let alg = aud.algorithm.unwrap_or(self.options.tokens.default_algorithm);
            let key = self.current_key(&mut tx, ctx, alg, now).await?;
            let token = key.sign(&claims)?;
            let mut d = draft.clone();
            d.details = serde_json::json!({
                "audience": aud.name,
                "jti": claims.jti,
                "kid": key.kid(),
                "exp": Timestamp(claims.exp * 1000),
                "assignmentIds": claims.grants.iter().map(|g| g.assignment_id).collect::<Vec<_>>(),
            });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(IssuedAccessToken { token, kid: key.kid().to_owned(), algorithm: alg, claims })
        })
        .await
    }

    /// The caller's grants in effect at `now` that `aud` accepts, narrowed to `role` and `scope`.
    fn grants_for(
        &self,
        principal: PrincipalId,
        aud: &Audience,
        role: Option<RoleId>,
        scope: Option<&ScopePath>,
        now: Timestamp,
    ) -> Vec<TokenGrant> {
        let mut out: Vec<TokenGrant> = Vec::new();
        for g in self.index.effective(principal, now) {
            if !aud.accepts(g.role_id, &g.scope)
                || role.is_some_and(|r| r != g.role_id)
                || scope.is_some_and(|s| !token::scopes_related(s.as_str(), &g.scope))
                || !grant_outlasts_issue(now, g.ends_at)
                || out.iter().any(|o| o.assignment_id == g.assignment_id)
            {
                continue;
            }
            let Some(role_name) = self.index.role_name(g.role_id) else { continue };
            out.push(TokenGrant {
                role: role_name.to_string(),
                role_id: g.role_id,
                scope: g.scope.to_string(),
                assignment_id: g.assignment_id,
                via_group: g.via_group,
                ends_at: g.ends_at.map(unix_secs),
            });
        }
        out
    }
}
