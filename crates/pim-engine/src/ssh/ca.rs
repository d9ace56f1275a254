//! pim's SSH user CA key: one Ed25519 key made on first need inside a write transaction (writers are
//! serialized across replicas, so there is never a second one), stored with its private half sealed
//! by the [`crate::secrets::SecretBox`] and opened only to sign.

use pim_domain::{AuditDraft, Timestamp};
use pim_store::q::{self, SshCaKeyRow};
use pim_store::{AnyConnection, WriteTx};
use ssh_key::{Algorithm, PrivateKey, PublicKey};

use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// The comment of the CA's public key line.
const CA_COMMENT: &str = "pim user CA";

/// The sealing context of a CA key: a sealed key copied to another row does not open.
fn context(id: &str) -> String {
    format!("ssh-ca:{id}")
}

fn internal(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(format!("SSH CA key: {what}: {e}"))
}

impl Engine {
    /// The CA key in use, read on `c` (`None` before the first need).
    pub(crate) async fn ssh_ca_row(&self, c: &mut AnyConnection) -> Result<Option<SshCaKeyRow>> {
        Ok(q::current_ssh_ca_key(c).await?)
    }

    /// The CA key in use, made inside `tx` when there is none yet (with its `ssh.caCreated` event,
    /// attributed to `draft`'s actor).
    pub(crate) async fn ssh_ca_in(&self, tx: &mut WriteTx, now: Timestamp, draft: &AuditDraft) -> Result<SshCaKeyRow> {
        if let Some(row) = q::current_ssh_ca_key(tx.conn()).await? {
            return Ok(row);
        }
        let mut private =
            PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).map_err(|e| internal("generating", e))?;
        private.set_comment(CA_COMMENT);
        let public = private.public_key().to_openssh().map_err(|e| internal("encoding", e))?;
        let id = uuid::Uuid::now_v7().to_string();
        let secret = private.to_bytes().map_err(|e| internal("encoding", e))?;
        let sealed = self.secrets.seal(&secret, &context(&id)).map_err(|e| internal("sealing", e))?;
        let row = SshCaKeyRow {
            id,
            algorithm: Algorithm::Ed25519.as_str().to_owned(),
            public_key: public,
            sealed,
            created_at: now,
        };
        q::insert_ssh_ca_key(tx.conn(), &row).await?;
        let mut d = AuditDraft { action: "ssh.caCreated".into(), ..draft.clone() };
        d.error_code = None;
        d.details = serde_json::json!({
            "caKeyId": row.id,
            "algorithm": row.algorithm,
            "fingerprint": super::cert::fingerprint(private.public_key()),
        });
        tx.audit(now, d).await?;
        Ok(row)
    }

    /// Opens the private half of a stored CA key.
    pub(crate) fn open_ssh_ca(&self, row: &SshCaKeyRow) -> Result<PrivateKey> {
        let bytes = self.secrets.open(&row.sealed, &context(&row.id)).map_err(|e| internal("opening", e))?;
        let key = PrivateKey::from_bytes(&bytes).map_err(|e| internal("decoding", e))?;
        // The stored public line must be this key's: a swapped row is refused, not used.
        let public = PublicKey::from_openssh(&row.public_key).map_err(|e| internal("decoding", e))?;
        if public.key_data() != key.public_key().key_data() {
            return Err(internal("checking", "the public key does not match the sealed private key"));
        }
        Ok(key)
    }
}
