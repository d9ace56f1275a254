//! Signing one OpenSSH user certificate with the CA key (`ssh-key`'s certificate builder): the
//! validity window in whole seconds, never past the end it is given, and the extensions
//! `ssh-keygen -s` grants by default.

use pim_domain::{AssignmentId, Timestamp};
use ssh_key::certificate::{Builder, CertType};
use ssh_key::{HashAlg, PrivateKey, PublicKey};

/// How long before now a certificate starts, for clocks that run a little behind pim's.
pub const CLOCK_SKEW_SECS: u64 = 60;

/// The extensions of a certificate (those `ssh-keygen -s` grants when none are named).
pub const EXTENSIONS: [&str; 5] =
    ["permit-X11-forwarding", "permit-agent-forwarding", "permit-port-forwarding", "permit-pty", "permit-user-rc"];

/// The largest serial pim writes: serials stay exact in JSON numbers (2^53 - 1).
pub const MAX_SERIAL: u64 = (1 << 53) - 1;

/// What a certificate says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSpec {
    /// The principals (login names) it is valid for; never empty.
    pub principals: Vec<String>,
    /// The key id sshd logs (names the user and the activation).
    pub key_id: String,
    /// Its serial.
    pub serial: u64,
    /// Valid from this Unix second.
    pub valid_after: u64,
    /// Valid until this Unix second (exclusive: sshd refuses it from then on).
    pub valid_before: u64,
}

/// The key id of a certificate for `username` relying on `assignment`.
pub fn key_id(username: &str, assignment: AssignmentId) -> String {
    format!("pim user={username} activation={assignment}")
}

/// The validity window for a grant that started at `start` and ends at `end` (`None`: permanent),
/// issued at `now` with at most `max_ms` of lifetime: `(valid_after, valid_before)` in Unix
/// seconds. `valid_after` is a minute before now (clock skew), but never before the grant's start
/// (rounded down to the second). `valid_before` is the earlier of the end and now + max, rounded down
/// to the second, so the certificate never outlives either; `None` when less than a second is left.
pub fn window(now: Timestamp, start: Timestamp, end: Option<Timestamp>, max_ms: i64) -> Option<(u64, u64)> {
    let cap = now.0.saturating_add(max_ms.max(0));
    let until = end.map_or(cap, |e| e.0.min(cap));
    let now_secs = u64::try_from(now.0.div_euclid(1000)).ok()?;
    let before = u64::try_from(until.div_euclid(1000)).ok()?;
    if before <= now_secs {
        return None;
    }
    let start_secs = u64::try_from(start.0.div_euclid(1000)).unwrap_or(0);
    Some((now_secs.saturating_sub(CLOCK_SKEW_SECS).max(start_secs.min(now_secs)), before))
}

/// A random serial in `1..=MAX_SERIAL`.
pub fn random_serial() -> u64 {
    use rand::Rng as _;
    rand::rngs::OsRng.gen_range(1..=MAX_SERIAL)
}

/// Signs a user certificate for `subject` with `ca`; the certificate as one OpenSSH line.
pub fn sign(ca: &PrivateKey, subject: &PublicKey, spec: &CertificateSpec) -> Result<String, ssh_key::Error> {
    let mut b = Builder::new_with_random_nonce(
        &mut rand::rngs::OsRng,
        subject.key_data().clone(),
        spec.valid_after,
        spec.valid_before,
    )?;
    b.serial(spec.serial)?;
    b.cert_type(CertType::User)?;
    b.key_id(spec.key_id.clone())?;
    for p in &spec.principals {
        b.valid_principal(p.clone())?;
    }
    for e in EXTENSIONS {
        b.extension(e, "")?;
    }
    b.comment(spec.key_id.clone())?;
    b.sign(ca)?.to_openssh()
}

/// The SHA-256 fingerprint of a public key, as `ssh-keygen -l` prints it (`SHA256:...`).
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pim_domain::time::{HOUR_MS, MINUTE_MS};
    use ssh_key::{Algorithm, Certificate};

    const NOW: Timestamp = Timestamp(1_767_603_600_500);

    const LONG_AGO: Timestamp = Timestamp(NOW.0 - 24 * HOUR_MS);

    #[test]
    fn the_window_ends_at_the_grant_or_the_maximum_whichever_comes_first() {
        let now_s = 1_767_603_600;
        let end = NOW.plus_millis(30 * MINUTE_MS);
        assert_eq!(
            window(NOW, LONG_AGO, Some(end), 8 * HOUR_MS),
            Some((now_s - 60, now_s + 30 * 60)),
            "the grant's end"
        );
        let far = NOW.plus_millis(3 * 24 * HOUR_MS);
        assert_eq!(window(NOW, LONG_AGO, Some(far), 8 * HOUR_MS), Some((now_s - 60, now_s + 8 * 3600)), "the maximum");
        assert_eq!(
            window(NOW, LONG_AGO, None, 8 * HOUR_MS),
            Some((now_s - 60, now_s + 8 * 3600)),
            "permanent: the maximum"
        );
        // Rounded down: never a moment past the end.
        let odd = Timestamp(NOW.0 + 10_999);
        assert_eq!(window(NOW, LONG_AGO, Some(odd), 8 * HOUR_MS).map(|w| w.1), Some(now_s + 11));
        assert!(window(NOW, LONG_AGO, Some(odd), 8 * HOUR_MS).unwrap().1 * 1000 <= odd.0 as u64);
        assert_eq!(window(NOW, LONG_AGO, Some(NOW.plus_millis(400)), 8 * HOUR_MS), None, "less than a second left");
    }

    #[test]
    fn the_window_never_starts_before_the_grant() {
        let now_s = 1_767_603_600;
        let started = Timestamp(NOW.0 - 20_500);
        assert_eq!(window(NOW, started, None, HOUR_MS), Some((now_s - 20, now_s + 3600)), "the start, to the second");
        assert_eq!(window(NOW, NOW, None, HOUR_MS).map(|w| w.0), Some(now_s), "started now");
        let early = Timestamp(NOW.0 - 61_000);
        assert_eq!(window(NOW, early, None, HOUR_MS).map(|w| w.0), Some(now_s - 60), "else a minute before now");
    }

    #[test]
    fn signed_certificates_carry_the_spec_and_verify_against_the_ca() {
        let ca = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
        let user = PublicKey::from_openssh(include_str!("testdata/ed25519.pub")).unwrap();
        let spec = CertificateSpec {
            principals: vec!["deploy".into(), "root".into()],
            key_id: key_id("alice", AssignmentId::new()),
            serial: random_serial(),
            valid_after: 1_767_603_540,
            valid_before: 1_767_605_400,
        };
        let line = sign(&ca, &user, &spec).unwrap();
        assert!(line.starts_with("ssh-ed25519-cert-v01@openssh.com "), "{line}");
        let cert = Certificate::from_openssh(&line).unwrap();
        assert_eq!(cert.cert_type(), CertType::User);
        assert_eq!(cert.valid_principals(), ["deploy", "root"]);
        assert_eq!((cert.valid_after(), cert.valid_before()), (spec.valid_after, spec.valid_before));
        assert_eq!(cert.serial(), spec.serial);
        assert!(cert.key_id().starts_with("pim user=alice activation="), "{}", cert.key_id());
        assert_eq!(cert.public_key(), user.key_data());
        assert!(cert.critical_options().is_empty());
        assert_eq!(cert.extensions().len(), EXTENSIONS.len());
        let ca_fp = ca.public_key().fingerprint(HashAlg::Sha256);
        cert.validate_at(spec.valid_after + 1, &[ca_fp]).expect("valid inside the window");
        assert!(cert.validate_at(spec.valid_before, &[ca_fp]).is_err(), "not at valid_before");
        let other = PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).unwrap();
        assert!(cert.validate_at(spec.valid_after + 1, &[other.public_key().fingerprint(HashAlg::Sha256)]).is_err());
        assert!(fingerprint(ca.public_key()).starts_with("SHA256:"));
        assert!((1..=MAX_SERIAL).contains(&random_serial()));
    }
}
