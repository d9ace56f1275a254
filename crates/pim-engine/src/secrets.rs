//! Secrets at rest: a [`SecretBox`] seals small secrets (TOTP seeds) with XChaCha20-Poly1305 and
//! computes keyed hashes (HMAC-SHA256) of things that are only ever compared (recovery codes).
//!
//! One 32-byte key (`EngineOptions::secret_key`, from the server's key file) is the root: two
//! subkeys are derived from it with HMAC-SHA256 under fixed labels, one for encryption and one for
//! hashing, so the two uses never share a key. A sealed secret is text,
//! `v1:` + base64(24-byte random nonce || ciphertext and tag), and is bound to a context (the
//! owner's principal id) as associated data: a ciphertext copied to another principal's row does
//! not open. Without the key nothing sealed can be read, so the key file must be backed up.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Version prefix of sealed secrets; a new scheme would get `v2:` and open both.
const V1: &str = "v1:";
/// Bytes of an XChaCha20 nonce.
const NONCE_LEN: usize = 24;
/// Bytes of the Poly1305 tag.
const TAG_LEN: usize = 16;
/// Label of the encryption subkey.
const ENCRYPTION_LABEL: &[u8] = b"pim secret box v1: XChaCha20-Poly1305";
/// Label of the hashing subkey.
const HASHING_LABEL: &[u8] = b"pim secret box v1: HMAC-SHA256";
/// What [`SecretBox::key_check`] hashes.
const KEY_CHECK_INPUT: &[u8] = b"pim secret box v1: key check";

/// Why a sealed secret could not be opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Not a sealed secret of a known version (damaged, or written by a newer pim).
    #[error("the sealed secret is malformed or of an unknown version")]
    Malformed,
    /// The key, the context or the ciphertext is not the one it was sealed with.
    #[error("the sealed secret does not open with this key for this owner (wrong key, or tampered with)")]
    WrongKeyOrTampered,
    /// The plaintext is beyond what the cipher seals in one message (256 GiB).
    #[error("the secret is too long to seal")]
    TooLong,
}

/// Seals and opens secrets, and hashes codes, with keys derived from one 32-byte root key.
pub struct SecretBox {
    aead: XChaCha20Poly1305,
    hash_key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

/// HMAC-SHA256 of `data` under `key`.
fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    #[allow(clippy::expect_used)]
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn derive(root: &[u8; 32], label: &[u8]) -> [u8; 32] {
    hmac(root, label)
}

impl SecretBox {
    /// A box over the root key `key`.
    pub fn new(key: &[u8; 32]) -> SecretBox {
        let enc = derive(key, ENCRYPTION_LABEL);
        SecretBox { aead: XChaCha20Poly1305::new(&enc.into()), hash_key: derive(key, HASHING_LABEL) }
    }

    /// Seals `plaintext` for `context` (e.g. `totp:<principal id>`) with a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .aead
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: context.as_bytes() })
            .map_err(|_| SecretError::TooLong)?;
        let mut raw = Vec::with_capacity(NONCE_LEN + sealed.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Ok(format!("{V1}{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw)))
    }

    /// Opens what [`SecretBox::seal`] sealed for the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SecretError> {
        let body = sealed.strip_prefix(V1).ok_or(SecretError::Malformed)?;
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD.decode(body).map_err(|_| SecretError::Malformed)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context.as_bytes() })
            .map_err(|_| SecretError::WrongKeyOrTampered)
    }

    /// HMAC-SHA256 of `data` under the hashing subkey, in hex.
    pub fn keyed_hash(&self, data: &[u8]) -> String {
        hex::encode(hmac(&self.hash_key, data))
    }

    /// A value that identifies the key without revealing it (a keyed hash of a fixed text): stored
    /// once, it lets the server refuse to start with a different key than the data was sealed with.
    pub fn key_check(&self) -> String {
        self.keyed_hash(KEY_CHECK_INPUT)
    }
}

/// 32 random bytes from the operating system: a new root key.
pub fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_context() {
        let b = SecretBox::new(&[7; 32]);
        let sealed = b.seal(b"totp seed bytes", "totp:alice").unwrap();
        assert!(sealed.starts_with("v1:"), "{sealed}");
        assert!(!sealed.contains("totp seed"), "not in clear");
        assert_eq!(b.open(&sealed, "totp:alice").unwrap(), b"totp seed bytes");
        assert_ne!(b.seal(b"totp seed bytes", "totp:alice").unwrap(), sealed, "a fresh nonce every time");
        assert_eq!(b.open(&sealed, "totp:bob"), Err(SecretError::WrongKeyOrTampered), "bound to its owner");
        let other = SecretBox::new(&[8; 32]);
        assert_eq!(other.open(&sealed, "totp:alice"), Err(SecretError::WrongKeyOrTampered), "another key");
    }

    #[test]
    fn tampered_or_malformed_secrets_are_refused() {
        let b = SecretBox::new(&[7; 32]);
        let sealed = b.seal(b"seed", "c").unwrap();
        let mut raw = base64::engine::general_purpose::STANDARD_NO_PAD.decode(&sealed[3..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let flipped = format!("v1:{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(&raw));
        assert_eq!(b.open(&flipped, "c"), Err(SecretError::WrongKeyOrTampered));
        for bad in ["", "seed", "v2:AAAA", "v1:not base64!", "v1:AAAA"] {
            assert_eq!(b.open(bad, "c"), Err(SecretError::Malformed), "{bad}");
        }
    }

    #[test]
    fn keyed_hashes_depend_on_the_key_and_differ_from_the_encryption_key() {
        let (a, b) = (SecretBox::new(&[1; 32]), SecretBox::new(&[2; 32]));
        assert_eq!(a.keyed_hash(b"code"), a.keyed_hash(b"code"));
        assert_ne!(a.keyed_hash(b"code"), b.keyed_hash(b"code"));
        assert_ne!(a.keyed_hash(b"code"), a.keyed_hash(b"code2"));
        assert_eq!(a.keyed_hash(b"code").len(), 64);
        assert_ne!(a.key_check(), b.key_check());
        assert_ne!(derive(&[1; 32], ENCRYPTION_LABEL), derive(&[1; 32], HASHING_LABEL));
        assert_ne!(random_key(), random_key());
        assert_eq!(format!("{a:?}"), "SecretBox(..)", "no key in debug output");
    }
}
