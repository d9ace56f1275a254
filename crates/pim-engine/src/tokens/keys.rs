//! Signing keys: made with `ring`, the private half sealed at rest by the secret box and kept in
//! the database (so every replica signs and verifies with the same keys), a cache of parsed keys
//! by kid, the JWKS, rotation (on demand and on a schedule) and retirement.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use parking_lot::RwLock;
use pim_domain::token::{MAX_LIFETIME_SECS, SigningAlg, SigningKeyInfo};
use pim_domain::{AuditDraft, Timestamp};
use pim_store::WriteTx;
use pim_store::q::{self, StoredKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// A key parsed for use: what signs (when its private half was opened) and what verifies.
pub struct LoadedKey {
    info: SigningKeyInfo,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey").field("kid", &self.info.kid).finish_non_exhaustive()
    }
}

impl LoadedKey {
    /// The key id.
    pub fn kid(&self) -> &str {
        &self.info.kid
    }
    /// Its public facts.
    pub fn info(&self) -> &SigningKeyInfo {
        &self.info
    }
    /// What verifies its signatures.
    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }
    /// Signs `claims` as a compact JWS with this key's algorithm and kid.
    pub(crate) fn sign<T: serde::Serialize>(&self, claims: &T) -> Result<String> {
        let Some(enc) = &self.encoding else { return Err(internal("the signing key's private half is not loaded")) };
        let mut header = Header::new(jose_alg(self.info.algorithm));
        header.kid = Some(self.info.kid.clone());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, enc).map_err(|e| internal(format!("signing failed: {e}")))
    }
}

/// Parsed keys by kid, shared by the engine's clones.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: RwLock<HashMap<String, Arc<LoadedKey>>>,
}

impl KeyRing {
    fn get(&self, kid: &str) -> Option<Arc<LoadedKey>> {
        self.keys.read().get(kid).cloned()
    }
    fn put(&self, key: LoadedKey) -> Arc<LoadedKey> {
        let key = Arc::new(key);
        self.keys.write().insert(key.info.kid.clone(), key.clone());
        key
    }
}

fn internal(m: impl Into<String>) -> EngineError {
    EngineError::Internal(m.into())
}

/// jsonwebtoken's name of an algorithm.
pub(crate) fn jose_alg(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::EdDSA => Algorithm::EdDSA,
        SigningAlg::ES256 => Algorithm::ES256,
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The context the private half is sealed for.
fn seal_context(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// A new key pair of `alg`: its PKCS#8 private key and its public JWK (without kid, alg and use).
pub fn generate(alg: SigningAlg) -> Result<(Vec<u8>, serde_json::Value)> {
    let rng = SystemRandom::new();
    let failed = |e: ring::error::Unspecified| internal(format!("key generation failed: {e}"));
    match alg {
        SigningAlg::EdDSA => {
            let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(failed)?;
            let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref())
                .map_err(|e| internal(format!("the new Ed25519 key does not parse: {e}")))?;
            let x = b64url(pair.public_key().as_ref());
            Ok((doc.as_ref().to_vec(), serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": x })))
        }
        SigningAlg::ES256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(failed)?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng)
                .map_err(|e| internal(format!("the new P-256 key does not parse: {e}")))?;
            // An uncompressed point: 0x04, then x and y of 32 bytes each.
            let point = pair.public_key().as_ref();
            if point.len() != 65 || point[0] != 4 {
                return Err(internal("unexpected P-256 public key encoding"));
            }
            let (x, y) = (b64url(&point[1..33]), b64url(&point[33..65]));
            Ok((doc.as_ref().to_vec(), serde_json::json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y })))
        }
    }
}

/// What verifies signatures of the key whose public JWK is `jwk`.
fn decoding_key(alg: SigningAlg, jwk: &serde_json::Value) -> Result<DecodingKey> {
    let part = |k: &str| jwk[k].as_str().ok_or_else(|| internal(format!("a stored JWK lacks '{k}'")));
    let bad = |e: jsonwebtoken::errors::Error| internal(format!("a stored JWK does not parse: {e}"));
    match alg {
        SigningAlg::EdDSA => DecodingKey::from_ed_components(part("x")?).map_err(bad),
        SigningAlg::ES256 => DecodingKey::from_ec_components(part("x")?, part("y")?).map_err(bad),
    }
}

impl Engine {
    /// Parses a stored key; with `private`, opens its sealed private half too.
    fn load_key(&self, k: &StoredKey, private: bool) -> Result<LoadedKey> {
        let jwk: serde_json::Value = serde_json::from_str(&k.public_jwk)
            .map_err(|e| internal(format!("the stored JWK of {} is not JSON: {e}", k.info.kid)))?;
        let decoding = decoding_key(k.info.algorithm, &jwk)?;
        let encoding = if private {
            let der = self
                .secrets
                .open(&k.private_sealed, &seal_context(&k.info.kid))
                .map_err(|e| internal(format!("the signing key {} does not open: {e}", k.info.kid)))?;
            Some(match k.info.algorithm {
                SigningAlg::EdDSA => EncodingKey::from_ed_der(&der),
                SigningAlg::ES256 => EncodingKey::from_ec_der(&der),
            })
        } else {
            None
        };
        Ok(LoadedKey { info: k.info.clone(), encoding, decoding })
    }

    /// The key that signs new tokens of `alg`, made (and audited) in `tx` when there is none.
    pub(crate) async fn current_key(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        alg: SigningAlg,
        now: Timestamp,
    ) -> Result<Arc<LoadedKey>> {
        let stored = match q::current_signing_key(tx.conn(), alg).await? {
            Some(k) => k,
            None => self.create_key(tx, ctx, alg, now, "signingKey.create").await?,
        };
        match self.signing.get(&stored.info.kid) {
            Some(k) if k.encoding.is_some() => Ok(k),
            _ => Ok(self.signing.put(self.load_key(&stored, true)?)),
        }
    }

    /// Makes, seals and stores a new key of `alg`, with an audit event `action`.
    async fn create_key(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        alg: SigningAlg,
        now: Timestamp,
        action: &str,
    ) -> Result<StoredKey> {
        let (der, mut jwk) = generate(alg)?;
        let kid = uuid::Uuid::now_v7().simple().to_string();
        jwk["kid"] = kid.clone().into();
        jwk["alg"] = alg.as_str().into();
        jwk["use"] = "sig".into();
        let sealed = self
            .secrets
            .seal(&der, &seal_context(&kid))
            .map_err(|e| internal(format!("sealing the signing key failed: {e}")))?;
        let stored = StoredKey {
            info: SigningKeyInfo {
                kid: kid.clone(),
                algorithm: alg,
                created_at: now,
                rotated_at: None,
                retire_at: None,
                retired_at: None,
            },
            public_jwk: jwk.to_string(),
            private_sealed: sealed,
        };
        q::insert_signing_key(tx.conn(), &stored).await?;
        let mut d = self.draft(ctx, action);
        d.details = serde_json::json!({ "kid": kid, "algorithm": alg.as_str() });
        tx.audit(now, d).await?;
        Ok(stored)
    }

    /// The key `kid` for verifying, from the cache or, when this replica has not seen it yet
    /// (another replica made it), from the database.
    pub(crate) async fn verifying_key(&self, kid: &str) -> Result<Option<Arc<LoadedKey>>> {
        if let Some(k) = self.signing.get(kid) {
            return Ok(Some(k));
        }
        let mut c = self.store.read().await?;
        let Some(stored) = q::get_signing_key(&mut c, kid).await? else { return Ok(None) };
        Ok(Some(self.signing.put(self.load_key(&stored, false)?)))
    }

    /// The JWKS: the public keys of every key not yet retired (current and rotated ones).
    pub async fn jwks(&self) -> Result<serde_json::Value> {
        let now = self.now();
        let mut c = self.store.read().await?;
        let keys = q::list_signing_keys(&mut c).await?;
        let mut out = Vec::new();
        for k in keys.iter().filter(|k| k.info.published(now)) {
            let jwk: serde_json::Value = serde_json::from_str(&k.public_jwk)
                .map_err(|e| internal(format!("the stored JWK of {} is not JSON: {e}", k.info.kid)))?;
            out.push(jwk);
        }
        Ok(serde_json::json!({ "keys": out }))
    }

    /// Every signing key (public facts only), oldest first; needs `pim.tokens.read` at `/`.
    pub async fn list_signing_keys(&self, ctx: &Context) -> Result<Vec<SigningKeyInfo>> {
        self.authorize_read(ctx, pim_domain::actions::TOKENS_READ, &pim_domain::ScopePath::root()).await?;
        let mut c = self.store.read().await?;
        Ok(q::list_signing_keys(&mut c).await?.into_iter().map(|k| k.info).collect())
    }

    /// Rotates the signing keys now: needs `pim.tokens.write` at `/`. Returns every key.
    pub async fn rotate_signing_keys(&self, ctx: &Context) -> Result<Vec<SigningKeyInfo>> {
        let draft = self.draft(ctx, "signingKey.rotate");
        self.audited(draft, async {
            self.authorize(ctx, pim_domain::actions::TOKENS_WRITE, &pim_domain::ScopePath::root())?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            self.rotate_in(&mut tx, ctx, now, |_| true).await?;
            let keys = q::list_signing_keys(tx.conn()).await?.into_iter().map(|k| k.info).collect();
            tx.commit().await?;
            Ok(keys)
        })
        .await
    }

    /// In `tx`: for every algorithm with a current key that `due` picks (and the default
    /// algorithm when there is no key at all), a new key, the old one rotated and leaving the JWKS
    /// once every token it signed has expired. Audited as `signingKey.rotate`.
    async fn rotate_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        now: Timestamp,
        due: impl Fn(&SigningKeyInfo) -> bool,
    ) -> Result<usize> {
        let mut n = 0;
        let mut any = false;
        for alg in [SigningAlg::EdDSA, SigningAlg::ES256] {
            let Some(old) = q::current_signing_key(tx.conn(), alg).await? else { continue };
            any = true;
            if !due(&old.info) {
                continue;
            }
            let retire_at = now.plus_millis(i64::from(MAX_LIFETIME_SECS) * 1000);
            q::rotate_signing_key(tx.conn(), &old.info.kid, now, retire_at).await?;
            let new = self.create_key(tx, ctx, alg, now, "signingKey.create").await?;
            let mut d = self.draft(ctx, "signingKey.rotate");
            d.details = serde_json::json!({
                "algorithm": alg.as_str(), "kid": new.info.kid, "previousKid": old.info.kid, "retireAt": retire_at,
            });
            tx.audit(now, d).await?;
            n += 1;
        }
        if !any {
            self.create_key(tx, ctx, self.options.tokens.default_algorithm, now, "signingKey.create").await?;
            n += 1;
        }
        Ok(n)
    }

    /// The periodic key job: rotates keys older than `[tokens] rotate_every_days` and records the
    /// retirement of rotated keys whose `retire_at` has come. Returns how many keys changed.
    pub async fn run_key_jobs(&self) -> Result<usize> {
        let now = self.now();
        let every = self.options.tokens.rotate_every_ms;
        let mut c = self.store.read().await?;
        let keys = q::list_signing_keys(&mut c).await?;
        drop(c);
        let rotate_due = |k: &SigningKeyInfo| every > 0 && k.rotated_at.is_none() && k.created_at.0 + every <= now.0;
        let retire_due = |k: &SigningKeyInfo| k.retired_at.is_none() && k.retire_at.is_some_and(|r| r <= now);
        if !keys.iter().any(|k| rotate_due(&k.info) || retire_due(&k.info)) {
            return Ok(0);
        }
        let ctx = Context::system();
        let mut tx = self.store.write(now).await?;
        let mut n = self.rotate_in_if_any(&mut tx, &ctx, now, rotate_due).await?;
        for k in q::list_signing_keys(tx.conn()).await? {
            if retire_due(&k.info) {
                q::mark_signing_key_retired(tx.conn(), &k.info.kid, now).await?;
                tx.audit(
                    now,
                    AuditDraft {
                        action: "signingKey.retire".into(),
                        details: serde_json::json!({ "kid": k.info.kid, "algorithm": k.info.algorithm.as_str() }),
                        ..AuditDraft::default()
                    },
                )
                .await?;
                n += 1;
            }
        }
        tx.commit().await?;
        Ok(n)
    }

    /// [`Engine::rotate_in`] without making a first key when there is none.
    async fn rotate_in_if_any(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        now: Timestamp,
        due: impl Fn(&SigningKeyInfo) -> bool,
    ) -> Result<usize> {
        if q::list_signing_keys(tx.conn()).await?.is_empty() {
            return Ok(0);
        }
        self.rotate_in(tx, ctx, now, due).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_their_jwk_verifies() {
        for alg in [SigningAlg::EdDSA, SigningAlg::ES256] {
            let (der, jwk) = generate(alg).unwrap();
            let enc = match alg {
                SigningAlg::EdDSA => EncodingKey::from_ed_der(&der),
                SigningAlg::ES256 => EncodingKey::from_ec_der(&der),
            };
            let claims = serde_json::json!({ "sub": "x", "exp": 4_000_000_000_i64 });
            let token = jsonwebtoken::encode(&Header::new(jose_alg(alg)), &claims, &enc).unwrap();
            let dec = decoding_key(alg, &jwk).unwrap();
            let v = jsonwebtoken::Validation::new(jose_alg(alg));
            let got = jsonwebtoken::decode::<serde_json::Value>(&token, &dec, &v).unwrap();
            assert_eq!(got.claims["sub"], "x");
            // Another key of the same algorithm does not verify it.
            let (_, other) = generate(alg).unwrap();
            assert!(
                jsonwebtoken::decode::<serde_json::Value>(&token, &decoding_key(alg, &other).unwrap(), &v).is_err()
            );
        }
    }
}
