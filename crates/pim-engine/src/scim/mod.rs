//! SCIM provisioning: registered SCIM clients (secrets stored as SHA-256 hashes), their
//! authority over the directory, and (in `directory`) the users and groups they read and write.

mod directory;

pub use directory::{ScimMembers, ScimRecord};
pub use pim_scim::resource::{GroupWrite, UserWrite};
pub use pim_scim::schema::ResourceKind;

use base64::Engine as _;
use pim_domain::actions::{DIRECTORY_READ, DIRECTORY_WRITE};
use pim_domain::principal::validate_name;
use pim_domain::{DomainError, ErrorKind, ScimClient, ScimClientId, ScopePath};
use pim_store::q;
use rand::RngCore;

use crate::auth::token_hash;
use crate::context::Context;
use crate::engine::Engine;
use crate::error::{EngineError, Result, refuse};

/// Prefix of every SCIM client secret (not `pim_`: no API route accepts one).
pub const SCIM_SECRET_PREFIX: &str = "pimscim_";
/// How often a client's `lastUsedAt` is written at most, in milliseconds.
const TOUCH_EVERY_MS: i64 = pim_domain::time::MINUTE_MS;

/// The authority of an authenticated SCIM client to read and write pim's users and groups through
/// the SCIM use cases, and nothing else. Only [`Engine::authenticate_scim`] makes one, so no
/// caller can claim it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimAuthority {
    pub(crate) client: ScimClientId,
    pub(crate) name: String,
}

impl ScimAuthority {
    /// The client's id.
    pub fn client_id(&self) -> ScimClientId {
        self.client
    }
    /// The client's name.
    pub fn client_name(&self) -> &str {
        &self.name
    }
}

/// A client just registered: its bearer secret (shown once) and what is stored about it.
#[derive(Clone, Debug)]
pub struct IssuedScimClient {
    /// The bearer secret.
    pub secret: String,
    /// The client.
    pub client: ScimClient,
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SCIM_SECRET_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl Engine {
    /// Registers a SCIM client (needs `pim.directory.write` at `/`); its secret is returned once.
    pub async fn create_scim_client(&self, ctx: &Context, name: &str) -> Result<IssuedScimClient> {
        let mut draft = self.draft(ctx, "scimClient.create");
        draft.scope = Some(ScopePath::root());
        draft.details = serde_json::json!({ "name": name });
        self.audited(draft.clone(), async {
            self.authorize(ctx, DIRECTORY_WRITE, &ScopePath::root())?;
            validate_name(name)?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            if q::get_scim_client_by_name(tx.conn(), name).await?.is_some() {
                return refuse(ErrorKind::NameTaken, format!("a SCIM client named '{name}' exists"));
            }
            let client = ScimClient {
                id: ScimClientId::new(),
                name: name.to_owned(),
                created_at: now,
                created_by: ctx.actor.as_ref().map(|a| a.id).filter(|id| *id != pim_domain::PrincipalId::SYSTEM),
                revoked_at: None,
                last_used_at: None,
            };
            let secret = new_secret();
            q::insert_scim_client(tx.conn(), &client, &token_hash(&secret)).await?;
            let mut d = draft.clone();
            d.details = serde_json::json!({ "name": name, "scimClientId": client.id });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(IssuedScimClient { secret, client })
        })
        .await
    }

    /// Every SCIM client, revoked ones included (needs `pim.directory.read` at `/`).
    pub async fn list_scim_clients(&self, ctx: &Context) -> Result<Vec<ScimClient>> {
        self.authorize_read(ctx, DIRECTORY_READ, &ScopePath::root()).await?;
        let mut c = self.store.read().await?;
        Ok(q::list_scim_clients(&mut c).await?)
    }

    /// Revokes a SCIM client by id or name (needs `pim.directory.write` at `/`): its secret stops
    /// working at once. What it provisioned stays. Revoking it again answers it unchanged.
    pub async fn revoke_scim_client(&self, ctx: &Context, id_or_name: &str) -> Result<ScimClient> {
        let mut draft = self.draft(ctx, "scimClient.revoke");
        draft.scope = Some(ScopePath::root());
        draft.details = serde_json::json!({ "client": id_or_name });
        self.audited(draft.clone(), async {
            self.authorize(ctx, DIRECTORY_WRITE, &ScopePath::root())?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let found = match id_or_name.parse::<ScimClientId>() {
                Ok(id) => q::get_scim_client(tx.conn(), id).await?,
                Err(_) => q::get_scim_client_by_name(tx.conn(), id_or_name).await?,
            };
            let mut client = found.ok_or_else(|| DomainError::not_found(format!("SCIM client '{id_or_name}'")))?;
            // Revoking a revoked client changes nothing: the answer is the client as it is.
            if !q::revoke_scim_client(tx.conn(), client.id, now).await? {
                return Ok(client);
            }
            client.revoked_at = Some(now);
            let mut d = draft.clone();
            d.details = serde_json::json!({ "name": client.name, "scimClientId": client.id });
            tx.audit(now, d).await?;
            tx.commit().await?;
            Ok(client)
        })
        .await
    }

    /// Resolves a SCIM client's bearer secret to its authority, or `unauthenticated` (an unknown,
    /// revoked or malformed secret; API tokens are not SCIM secrets).
    pub async fn authenticate_scim(&self, secret: &str) -> Result<ScimAuthority> {
        let refused = || {
            EngineError::Refused(DomainError::new(
                ErrorKind::Unauthenticated,
                "the SCIM client secret is invalid or revoked",
            ))
        };
        if !secret.starts_with(SCIM_SECRET_PREFIX) || secret.len() > 100 {
            return Err(refused());
        }
        let now = self.now();
        let hash = token_hash(secret);
        let client = {
            let mut c = self.store.read().await?;
            q::get_scim_client_by_hash(&mut c, &hash).await?
        };
        let client = client.filter(|c| c.revoked_at.is_none()).ok_or_else(refused)?;
        if client.last_used_at.is_none_or(|t| now.0 - t.0 >= TOUCH_EVERY_MS) {
            let store = self.store.clone();
            let id = client.id;
            tokio::spawn(async move {
                if let Ok(mut c) = store.read().await
                    && let Err(e) = q::touch_scim_client(&mut c, id, now).await
                {
                    tracing::debug!(error = %e, "could not record a SCIM client's use");
                }
            });
        }
        Ok(ScimAuthority { client: client.id, name: client.name })
    }

    /// The SCIM authority of the call, or `forbidden`.
    pub(crate) fn scim_authority<'a>(&self, ctx: &'a Context) -> Result<&'a ScimAuthority> {
        ctx.scim.as_ref().ok_or_else(|| {
            EngineError::Refused(DomainError::new(ErrorKind::Forbidden, "only a SCIM client may call the SCIM service"))
        })
    }
}
