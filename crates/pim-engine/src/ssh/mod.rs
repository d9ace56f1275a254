//! pim as an OpenSSH user certificate authority: certificates for the caller's grant in effect,
//! with the principals of the role's settings, never valid past the grant's end (and at most
//! [`crate::engine::EngineOptions::ssh_max_certificate_ms`]); the CA key is made on first need and
//! sealed at rest. See docs/SSH.md and docs/designs/ssh-certificates.md.

pub mod ca;
pub mod cert;
pub mod choose;
pub mod key;
mod recheck;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use pim_domain::{AssignmentId, DomainError, ErrorKind, RoleId, ScopePath, Timestamp};
use pim_store::q;

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::roles::{find_role, settings_at};
use choose::Candidate;

/// Default longest lifetime of a certificate: 8 hours.
pub const DEFAULT_MAX_CERTIFICATE_MS: i64 = 8 * pim_domain::time::HOUR_MS;

/// What the caller asks for.
#[derive(Clone, Debug, Default)]
pub struct SshCertificateRequest {
    /// The public key to certify, one OpenSSH line.
    pub public_key: String,
    /// Only a grant of this role (id or name).
    pub role: Option<String>,
    /// Only a grant that applies at this scope (the principals are the settings in force there).
    pub scope: Option<ScopePath>,
}

/// A certificate pim signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedSshCertificate {
    /// The certificate, one OpenSSH line (the content of `id_ed25519-cert.pub`).
    pub certificate: String,
    /// The principals it is valid for.
    pub principals: Vec<String>,
    /// Its key id (names the user and the activation).
    pub key_id: String,
    /// Its serial.
    pub serial: u64,
    /// Valid from: a minute before it was issued, but not before the grant started.
    pub valid_after: Timestamp,
    /// Valid until: never after the end of the grant it relies on.
    pub valid_before: Timestamp,
    /// The assignment (activation) it relies on.
    pub assignment_id: AssignmentId,
    /// Its role.
    pub role_id: RoleId,
    /// The role's name.
    pub role_name: String,
    /// The scope whose settings gave the principals.
    pub scope: ScopePath,
    /// When the grant ends (`None`: permanent; the certificate then lasts the maximum).
    pub grant_ends_at: Option<Timestamp>,
    /// SHA-256 fingerprint of the certified key.
    pub public_key_fingerprint: String,
    /// SHA-256 fingerprint of the CA key that signed it.
    pub ca_fingerprint: String,
}

/// The CA's public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshCaPublicKey {
    /// One OpenSSH line, for `TrustedUserCAKeys`.
    pub public_key: String,
    /// Its SHA-256 fingerprint.
    pub fingerprint: String,
}

fn secs(t: u64) -> Timestamp {
    Timestamp(i64::try_from(t).unwrap_or(i64::MAX).saturating_mul(1000))
}

fn internal(e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(format!("SSH certificate: {e}"))
}

impl Engine {
    /// The CA's public key, made on first need. Anyone may read it (it is what hosts trust).
    pub async fn ssh_ca_public_key(&self, ctx: &Context) -> Result<SshCaPublicKey> {
        let mut c = self.store.read().await?;
        let found = self.ssh_ca_row(&mut c).await?;
        drop(c);
        let row = match found {
            Some(row) => row,
            None => {
                let now = self.now();
                let mut tx = self.store.write(now).await?;
                let row = self.ssh_ca_in(&mut tx, now, &self.draft(ctx, "ssh.caCreated")).await?;
                tx.commit().await?;
                row
            }
        };
        let public = ssh_key::PublicKey::from_openssh(&row.public_key).map_err(internal)?;
        Ok(SshCaPublicKey { fingerprint: cert::fingerprint(&public), public_key: row.public_key })
    }

    /// Signs an OpenSSH user certificate of the caller's key for one of its grants in effect.
    pub async fn issue_ssh_certificate(
        &self,
        ctx: &Context,
        req: SshCertificateRequest,
    ) -> Result<IssuedSshCertificate> {
        let mut draft = self.draft(ctx, "ssh.certificateIssued");
        draft.principal_id = ctx.actor.as_ref().map(|a| a.id);
        draft.scope = req.scope.clone();
        self.audited(draft.clone(), async {
            let actor = self.actor(ctx)?.clone();
            let subject = key::parse_user_key(&req.public_key)?;
            let now = self.now();
            let chosen = self.ssh_grant(&actor, &req, now).await?;
            // Writers are serialized: looked at again inside the write transaction, the assignment,
            // the memberships it comes through, the principal and the role's settings are as every
            // committed change left them (a deactivation or a settings change that committed a
            // moment ago, before the index heard of it, is seen here).
            let mut tx = self.store.write(now).await?;
            let span = recheck::current_span(tx.conn(), &chosen, actor.id, now).await?;
            let ends_at = span.end;
            let principals = settings_at(tx.conn(), chosen.grant.role_id, &chosen.at).await?.settings.ssh_principals;
            if principals.is_empty() {
                return Err(DomainError::new(
                    ErrorKind::NoSshPrincipals,
                    format!("{} has no SSH principals at {} (any more)", chosen.role_name, chosen.at),
                )
                .into());
            }
            let (after, before) = cert::window(now, span.start, ends_at, self.options.ssh_max_certificate_ms)
                .ok_or_else(|| DomainError::new(ErrorKind::NotActive, "the assignment ends in less than a second"))?;
            let spec = cert::CertificateSpec {
                principals,
                key_id: cert::key_id(&actor.name, chosen.grant.assignment_id),
                serial: cert::random_serial(),
                valid_after: after,
                valid_before: before,
            };
            let row = self.ssh_ca_in(&mut tx, now, &draft).await?;
            let ca = self.open_ssh_ca(&row)?;
            let certificate = cert::sign(&ca, &subject, &spec).map_err(internal)?;
            let issued = IssuedSshCertificate {
                certificate,
                principals: spec.principals,
                key_id: spec.key_id,
                serial: spec.serial,
                valid_after: secs(spec.valid_after),
                valid_before: secs(spec.valid_before),
                assignment_id: chosen.grant.assignment_id,
                role_id: chosen.grant.role_id,
                role_name: chosen.role_name,
                scope: chosen.at,
                grant_ends_at: ends_at,
                public_key_fingerprint: cert::fingerprint(&subject),
                ca_fingerprint: cert::fingerprint(ca.public_key()),
            };
            let mut d = draft.clone();
            d.role_id = Some(issued.role_id);
            d.scope = Some(issued.scope.clone());
            d.details = serde_json::json!({
                "serial": issued.serial.to_string(),
                "keyId": issued.key_id,
                "principals": issued.principals,
                "validAfter": issued.valid_after.to_rfc3339(),
                "validBefore": issued.valid_before.to_rfc3339(),
                "assignmentId": issued.assignment_id,
                "viaGroup": chosen.grant.via_group,
                "publicKeyFingerprint": issued.public_key_fingerprint,
                "caFingerprint": issued.ca_fingerprint,
            });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(issued)
        })
        .await
    }

    /// The grant in effect a certificate for `actor` relies on, with its SSH principals.
    async fn ssh_grant(&self, actor: &crate::Actor, req: &SshCertificateRequest, now: Timestamp) -> Result<Candidate> {
        let mut c = self.store.read().await?;
        match q::get_principal(&mut c, actor.id).await? {
            Some(p) if p.enabled => {}
            Some(_) => {
                return Err(
                    DomainError::new(ErrorKind::PrincipalDisabled, format!("{} is disabled", actor.name)).into()
                );
            }
            None => return Err(DomainError::not_found(format!("principal {}", actor.id)).into()),
        }
        let role = match &req.role {
            Some(r) => Some(find_role(&mut c, r.trim()).await?),
            None => None,
        };
        let mut asked = String::new();
        if let Some(r) = &role {
            asked.push_str(&format!(" of role {}", r.name));
        }
        if let Some(s) = &req.scope {
            asked.push_str(&format!(" at {s}"));
        }
        let mut names: HashMap<RoleId, String> = HashMap::new();
        let mut principals: HashMap<(RoleId, ScopePath), Vec<String>> = HashMap::new();
        let mut candidates = Vec::new();
        for grant in self.index.effective(actor.id, now) {
            if role.as_ref().is_some_and(|r| r.id != grant.role_id) {
                continue;
            }
            let Ok(scope) = ScopePath::parse(&grant.scope) else { continue };
            let at = match &req.scope {
                Some(s) if scope.contains(s) => s.clone(),
                Some(_) => continue,
                None => scope,
            };
            let key = (grant.role_id, at.clone());
            let list = match principals.get(&key) {
                Some(l) => l.clone(),
                None => {
                    let l = settings_at(&mut c, grant.role_id, &at).await?.settings.ssh_principals;
                    principals.insert(key, l.clone());
                    l
                }
            };
            let role_name = match names.get(&grant.role_id) {
                Some(n) => n.clone(),
                None => {
                    let n = q::get_role(&mut c, grant.role_id).await?.map(|r| r.name).unwrap_or_default();
                    names.insert(grant.role_id, n.clone());
                    n
                }
            };
            candidates.push(Candidate { grant, role_name, at, principals: list });
        }
        Ok(choose::choose(candidates, &asked)?)
    }
}
