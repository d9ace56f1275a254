//! The user public keys pim signs: Ed25519, ECDSA (NIST P-256/384/521) and RSA of at least 2048 bits,
//! as one OpenSSH line (`ssh-ed25519 AAAA... comment`); everything else is refused with a reason.

use pim_domain::{DomainError, ErrorKind};
use ssh_key::PublicKey;
use ssh_key::public::KeyData;

/// The longest public key line accepted, in bytes (an RSA key of 16384 bits is about 2.8 KiB).
pub const MAX_PUBLIC_KEY_LEN: usize = 8 * 1024;
/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits.
pub const MAX_RSA_BITS: usize = 16384;

fn bad(message: impl Into<String>) -> DomainError {
    DomainError::new(ErrorKind::InvalidInput, message)
}

/// Bits of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> usize {
    let bytes = match bytes.iter().position(|b| *b != 0) {
        Some(i) => &bytes[i..],
        None => return 0,
    };
    bytes.len() * 8 - bytes[0].leading_zeros() as usize
}

/// Parses and checks the public key a user sent.
pub fn parse_user_key(text: &str) -> Result<PublicKey, DomainError> {
    if text.len() > MAX_PUBLIC_KEY_LEN {
        return Err(bad(format!("publicKey is longer than {MAX_PUBLIC_KEY_LEN} bytes")));
    }
    let line = text.trim();
    if line.is_empty() {
        return Err(bad("publicKey is empty: give the contents of your .pub file (e.g. ~/.ssh/id_ed25519.pub)"));
    }
    if line.contains(['\n', '\r']) {
        return Err(bad("publicKey must be one line: one OpenSSH public key"));
    }
    if line.starts_with("-----") {
        return Err(bad("publicKey is a private key or a PEM file: send the public key (the .pub file) only"));
    }
    if line.split_whitespace().next().is_some_and(|t| t.contains("-cert-")) {
        return Err(bad("publicKey is a certificate: send the public key it was made for (the .pub file)"));
    }
    let key = PublicKey::from_openssh(line)
        .map_err(|_| bad("publicKey is not an OpenSSH public key (expected e.g. 'ssh-ed25519 AAAA... comment')"))?;
    let verdict = match key.key_data() {
        KeyData::Ed25519(_) | KeyData::Ecdsa(_) => Ok(()),
        KeyData::Rsa(rsa) => {
            let bits = rsa.n.as_positive_bytes().map(bit_length).unwrap_or(0);
            if bits < MIN_RSA_BITS {
                Err(bad(format!("publicKey: RSA keys need at least {MIN_RSA_BITS} bits (this one has {bits})")))
            } else if bits > MAX_RSA_BITS {
                Err(bad(format!("publicKey: RSA keys of more than {MAX_RSA_BITS} bits are not accepted")))
            } else {
                Ok(())
            }
        }
        _ => Err(bad(format!(
            "publicKey: {} keys are not accepted; use Ed25519 (ssh-keygen -t ed25519), ECDSA or RSA of at least {MIN_RSA_BITS} bits",
            key.algorithm().as_str()
        ))),
    };
    verdict.map(|()| key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys made by `ssh-keygen` (OpenSSH 9.2) for these tests.
    const ED25519: &str = include_str!("testdata/ed25519.pub");
    const ECDSA: &str = include_str!("testdata/ecdsa-p256.pub");
    const RSA_2048: &str = include_str!("testdata/rsa-2048.pub");
    const RSA_1024: &str = include_str!("testdata/rsa-1024.pub");
    const DSA: &str = include_str!("testdata/dsa.pub");
    const CERT: &str = include_str!("testdata/ed25519-cert.pub");

    #[test]
    fn ed25519_ecdsa_and_rsa_2048_are_accepted() {
        assert_eq!(parse_user_key(ED25519).expect("ed25519").algorithm().as_str(), "ssh-ed25519");
        assert_eq!(parse_user_key(ECDSA).expect("ecdsa").algorithm().as_str(), "ecdsa-sha2-nistp256");
        assert_eq!(parse_user_key(RSA_2048).expect("rsa").algorithm().as_str(), "ssh-rsa");
        parse_user_key(&format!("  {}\n", ED25519.trim())).expect("surrounding blanks are trimmed");
        let no_comment: Vec<&str> = ED25519.split(' ').take(2).collect();
        parse_user_key(&no_comment.join(" ")).expect("no comment");
    }

    #[test]
    fn bit_lengths_of_moduli() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01]), 1);
        assert_eq!(bit_length(&[0x00, 0x00]), 0);
        assert_eq!(bit_length(&[0xff; 256]), 2048);
        assert_eq!(bit_length(&[0x7f; 256]), 2047);
    }

    #[test]
    fn weak_kinds_garbage_private_keys_and_certificates_are_refused_with_a_reason() {
        let cases = [
            (RSA_1024, "at least 2048 bits (this one has 1024)"),
            (DSA, "ssh-dss keys are not accepted"),
            (CERT, "is a certificate"),
            ("", "empty"),
            ("   ", "empty"),
            ("not a key", "not an OpenSSH public key"),
            ("ssh-ed25519 !!!", "not an OpenSSH public key"),
            ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "not an OpenSSH public key"),
            ("-----BEGIN OPENSSH PRIVATE KEY-----", "private key"),
            ("ssh-ed25519 AAAA\nssh-ed25519 AAAA", "one line"),
        ];
        for (text, want) in cases {
            let e = parse_user_key(text).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidInput, "{text:?}");
            assert!(e.message.contains(want), "{text:?}: {}", e.message);
        }
        let long = format!("ssh-ed25519 {}", "A".repeat(MAX_PUBLIC_KEY_LEN));
        assert!(parse_user_key(&long).unwrap_err().message.contains("longer than"));
    }
}
