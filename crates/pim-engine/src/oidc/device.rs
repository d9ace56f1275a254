//! The device authorization grant (RFC 8628) behind `pim login --oidc NAME --device`: pim begins it
//! at the provider for the CLI, keeps it sealed in `oidc_device_pending` (bound to the CLI, used
//! once, expiring), asks the provider at most once per interval when the CLI polls, and signs the
//! approved user in exactly as the code flow does (docs/designs/oidc-device.md).

use pim_domain::{ErrorKind, Principal, Timestamp};
use pim_store::q;

use super::client::{DevicePolled, ProviderError, VerifiedIdentity};
use super::{OidcPurpose, check_cli_binding, hash, new_cli_secret, unavailable};
use crate::auth::IssuedToken;
use crate::context::Context;
use crate::engine::Engine;
use crate::error::{EngineError, Result, refuse};

/// The longest a device sign-in can be finished, in milliseconds (less when the provider says so).
pub const DEVICE_MAX_MS: i64 = 15 * pim_domain::time::MINUTE_MS;
/// The bounds of the poll interval, in milliseconds, whatever the provider asks.
const INTERVAL_MS: (i64, i64) = (1_000, 60_000);

/// A device sign-in begun: what the CLI shows the person, and the handle it polls with.
#[derive(Clone, Debug)]
pub struct OidcDeviceStart {
    /// What the CLI polls with (secret; useless without the binding secret).
    pub handle: String,
    /// The code the person enters at the provider.
    pub user_code: String,
    /// Where the person enters it.
    pub verification_uri: String,
    /// The same with the code in it, when the provider gives one.
    pub verification_uri_complete: Option<String>,
    /// Seconds to wait between polls.
    pub interval_secs: u64,
    /// When the sign-in can no longer be finished.
    pub expires_at: Timestamp,
}

/// What a poll answers.
#[derive(Debug)]
pub enum OidcDevicePoll {
    /// Not approved yet: poll again after this many seconds.
    Pending {
        /// Seconds to wait.
        interval_secs: u64,
    },
    /// Approved: the session, as a password sign-in issues it.
    SignedIn(Box<(IssuedToken, Principal)>),
}

/// How a device sign-in is polled.
#[derive(Clone, Debug)]
pub struct OidcDevicePollRequest<'a> {
    /// The provider's name.
    pub provider: &'a str,
    /// The handle of the start.
    pub handle: &'a str,
    /// The CLI's binding, recomputed from its secret ([`super::cli_binding`]).
    pub binding: &'a str,
    /// The session token's name.
    pub token_name: Option<String>,
    /// The session's lifetime.
    pub lifetime_ms: i64,
}

/// A poll's outcome before the user is matched.
enum Checked {
    Pending(i64),
    Approved(VerifiedIdentity),
}

fn seal_context(handle_hash: &str) -> String {
    format!("oidc-device:{handle_hash}")
}

fn interval_secs(ms: i64) -> u64 {
    u64::try_from((ms + 999) / 1_000).unwrap_or(1)
}

impl Engine {
    /// Begins a device sign-in at `provider` for the CLI whose [`super::cli_binding`] is
    /// `binding`. Refused (400) when the provider's discovery lists no device authorization endpoint.
    pub async fn oidc_device_begin(&self, provider: &str, binding: &str) -> Result<OidcDeviceStart> {
        let p = self.oidc.get(provider)?;
        check_cli_binding(Some(binding))?;
        let now = self.now();
        let d = p.discovered(now).await?;
        if !d.offers_device_grant() {
            return refuse(
                ErrorKind::InvalidInput,
                format!(
                    "the provider '{provider}' offers no device sign-in (its discovery lists no \
                     device_authorization_endpoint); sign in with a browser: pim login --oidc {provider}"
                ),
            );
        }
        let (client_id, secret) = p.client_for(OidcPurpose::Cli);
        let begun = d.device_begin(&p.options, client_id, secret).await.map_err(|e| unavailable(provider, e))?;
        let Some(begun) = begun else {
            return refuse(ErrorKind::InvalidInput, format!("the provider '{provider}' offers no device sign-in"));
        };
        let r = begun.response;
        let handle = new_cli_secret();
        let handle_hash = hash(&handle);
        let plain = serde_json::to_vec(&r).map_err(|e| EngineError::Internal(e.to_string()))?;
        let sealed =
            self.secrets.seal(&plain, &seal_context(&handle_hash)).map_err(|e| EngineError::Internal(e.to_string()))?;
        let lifetime = i64::try_from(r.expires_in().as_millis()).unwrap_or(DEVICE_MAX_MS).clamp(1, DEVICE_MAX_MS);
        let interval_ms =
            i64::try_from(r.interval().as_millis()).unwrap_or(INTERVAL_MS.1).clamp(INTERVAL_MS.0, INTERVAL_MS.1);
        let row = q::OidcDevicePending {
            handle_hash,
            provider: provider.to_owned(),
            sealed,
            binding: hash(binding),
            interval_ms,
            next_poll_at: now,
            created_at: now,
            expires_at: now.plus_millis(lifetime),
        };
        let mut tx = self.store.write(now).await?;
        q::prune_oidc_device(tx.conn(), now).await?;
        q::insert_oidc_device(tx.conn(), &row).await?;
        tx.commit().await?;
        Ok(OidcDeviceStart {
            handle,
            user_code: r.user_code().secret().clone(),
            verification_uri: r.verification_uri().to_string(),
            verification_uri_complete: r.verification_uri_complete().map(|u| u.secret().clone()),
            interval_secs: interval_secs(interval_ms),
            expires_at: row.expires_at,
        })
    }

    /// Polls a device sign-in: pending until the person approves it at the provider (the provider
    /// is asked at most once per interval), then the user is matched and a session issued as in
    /// the code flow. A wrong binding secret, or a refusal by the provider, uses the sign-in up.
    /// Finished and refused polls are audited as `auth.signIn` (`method: oidc`, `grant: device`).
    pub async fn oidc_device_poll(&self, ctx: &Context, r: OidcDevicePollRequest<'_>) -> Result<OidcDevicePoll> {
        let mut draft = self.draft(ctx, "auth.signIn");
        draft.details = serde_json::json!({ "method": "oidc", "grant": "device", "provider": r.provider });
        let identity = match self.oidc_device_check(&r, &mut draft).await {
            Ok(Checked::Pending(ms)) => return Ok(OidcDevicePoll::Pending { interval_secs: interval_secs(ms) }),
            Ok(Checked::Approved(i)) => i,
            Err(EngineError::Refused(e)) => {
                self.record_refusal(draft, &e).await?;
                return Err(e.into());
            }
            Err(e) => return Err(e),
        };
        draft.details["subject"] = serde_json::Value::String(identity.subject.clone());
        let p = self.oidc.get(r.provider)?;
        let session = (r.token_name.clone(), r.lifetime_ms);
        let signed =
            self.audited(draft.clone(), self.oidc_sign_in(&p.options, draft.clone(), &identity, session)).await?;
        Ok(OidcDevicePoll::SignedIn(Box::new(signed)))
    }

    /// Finds the device sign-in, checks its binding, claims a poll and asks the provider once.
    async fn oidc_device_check(
        &self,
        r: &OidcDevicePollRequest<'_>,
        draft: &mut pim_domain::AuditDraft,
    ) -> Result<Checked> {
        let p = self.oidc.get(r.provider)?;
        if r.handle.is_empty() || r.handle.len() > 128 {
            return refuse(ErrorKind::InvalidInput, "handle must be given (at most 128 characters)");
        }
        let stale = || {
            refuse(
                ErrorKind::InvalidCredentials,
                "this device sign-in is unknown, was finished already or has expired; start again",
            )
        };
        let now = self.now();
        let handle_hash = hash(r.handle);
        let mut tx = self.store.write(now).await?;
        let Some(row) = q::get_oidc_device(tx.conn(), &handle_hash).await? else { return stale() };
        if row.provider != r.provider || row.expires_at <= now {
            q::delete_oidc_device(tx.conn(), &handle_hash).await?;
            tx.commit().await?;
            return stale();
        }
        if hash(r.binding) != row.binding {
            // Like the loopback flow: a guess uses the sign-in up.
            q::delete_oidc_device(tx.conn(), &handle_hash).await?;
            tx.commit().await?;
            return refuse(
                ErrorKind::InvalidCredentials,
                "this device sign-in was started by another client (the binding secret differs); start again",
            );
        }
        let claimed = q::claim_oidc_device_poll(tx.conn(), &handle_hash, now).await?;
        tx.commit().await?;
        if !claimed {
            // Polled before the interval is up: the provider is not asked.
            return Ok(Checked::Pending(row.interval_ms));
        }
        let plain = self
            .secrets
            .open(&row.sealed, &seal_context(&handle_hash))
            .map_err(|e| EngineError::Internal(format!("a pending device sign-in could not be opened: {e}")))?;
        let response = serde_json::from_slice(&plain).map_err(|e| EngineError::Internal(e.to_string()))?;
        let d = p.discovered(now).await?;
        let (client_id, secret) = p.client_for(OidcPurpose::Cli);
        let polled = d.device_poll(&p.options, client_id, secret, &response, now).await;
        let mut tx = self.store.write(now).await?;
        let out = match polled {
            Ok(DevicePolled::Pending(interval)) => {
                let ms =
                    i64::try_from(interval.as_millis()).unwrap_or(INTERVAL_MS.1).clamp(INTERVAL_MS.0, INTERVAL_MS.1);
                if ms != row.interval_ms {
                    // `slow_down`: the provider asked for a longer interval; pim keeps to it.
                    q::set_oidc_device_interval(tx.conn(), &handle_hash, ms, now).await?;
                }
                Ok(Checked::Pending(ms))
            }
            Ok(DevicePolled::Done(identity)) => {
                if q::delete_oidc_device(tx.conn(), &handle_hash).await? {
                    Ok(Checked::Approved(identity))
                } else {
                    stale()
                }
            }
            Err(ProviderError::Unavailable(m)) => Err(unavailable(r.provider, ProviderError::Unavailable(m))),
            Err(e) => {
                // Denied, expired, or an ID token that failed validation: used up.
                q::delete_oidc_device(tx.conn(), &handle_hash).await?;
                Err(p.refused(e, draft).await)
            }
        };
        tx.commit().await?;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_whole_seconds_rounded_up() {
        assert_eq!(interval_secs(5_000), 5);
        assert_eq!(interval_secs(5_001), 6);
        assert_eq!(interval_secs(1_000), 1);
    }
}
