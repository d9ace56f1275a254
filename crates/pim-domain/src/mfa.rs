//! Multi-factor authentication with TOTP (RFC 6238): the stored factor, the rules that decide
//! whether a code is accepted (time steps, replay, lockout) and the formats of codes.
//!
//! Computing codes (HMAC-SHA-1) and decrypting secrets happen in the engine; here are only the
//! pure rules, with time as a parameter.

use crate::error::{DomainError, ErrorKind};
use crate::ids::{MfaFactorId, PrincipalId};
use crate::time::{MINUTE_MS, Timestamp};

/// Digits in a TOTP code.
pub const TOTP_DIGITS: usize = 6;
/// Length of a TOTP time step, in seconds.
pub const TOTP_STEP_SECS: u64 = 30;
/// Steps of clock skew accepted on either side of the current one.
pub const TOTP_SKEW_STEPS: i64 = 1;
/// Bytes of a TOTP secret (160 bits, as RFC 4226 recommends).
pub const TOTP_SECRET_BYTES: usize = 20;
/// Wrong codes in a row that lock a factor.
pub const MAX_FAILED_ATTEMPTS: i64 = 5;
/// How long a locked factor stays locked, in milliseconds.
pub const LOCKOUT_MS: i64 = 15 * MINUTE_MS;
/// Recovery codes issued at once.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Characters of a recovery code (without the dash in the middle).
pub const RECOVERY_CODE_LEN: usize = 10;
/// The alphabet of recovery codes: digits and lower-case letters without `i`, `l`, `o` and `u`,
/// so that no two characters look alike (Crockford's base 32).
pub const RECOVERY_CODE_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A TOTP authenticator of a user. A user has at most one confirmed factor and at most one
/// pending (enrolled, not yet confirmed) one; confirming the pending one replaces the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotpFactor {
    /// Its id.
    pub id: MfaFactorId,
    /// Whose it is.
    pub principal_id: PrincipalId,
    /// The secret, encrypted (a versioned ciphertext bound to the principal; never the secret).
    pub secret: String,
    /// When the user proved they hold it (absent while pending).
    pub confirmed_at: Option<Timestamp>,
    /// The last time step a code was accepted for: that step and earlier ones are refused (replay).
    pub last_step: Option<i64>,
    /// Wrong codes since the last accepted one (or the last lockout).
    pub failed_attempts: i64,
    /// Until when it refuses every code, after [`MAX_FAILED_ATTEMPTS`] wrong ones.
    pub locked_until: Option<Timestamp>,
    /// When it was enrolled.
    pub created_at: Timestamp,
}

impl TotpFactor {
    /// Whether it refuses every code at `now`.
    pub fn is_locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|t| now < t)
    }

    /// What a wrong code does to it at `now`: the new count of wrong codes and, when this one
    /// reaches [`MAX_FAILED_ATTEMPTS`], the lock (the count then starts again from zero).
    pub fn after_wrong_code(&self, now: Timestamp) -> (i64, Option<Timestamp>) {
        let failed = self.failed_attempts.saturating_add(1);
        if failed >= MAX_FAILED_ATTEMPTS { (0, Some(now.plus_millis(LOCKOUT_MS))) } else { (failed, None) }
    }

    /// Whether a code valid for `step` may be accepted: only steps after the last accepted one.
    pub fn is_replay(&self, step: i64) -> bool {
        self.last_step.is_some_and(|last| step <= last)
    }
}

/// The TOTP time step containing `now` (Unix seconds / 30).
pub fn time_step(now: Timestamp) -> i64 {
    now.0.div_euclid(1000 * TOTP_STEP_SECS as i64)
}

/// The steps a code may come from at `now`: the current one and [`TOTP_SKEW_STEPS`] on either side.
pub fn candidate_steps(now: Timestamp) -> impl Iterator<Item = i64> {
    let current = time_step(now);
    (current - TOTP_SKEW_STEPS)..=(current + TOTP_SKEW_STEPS)
}

/// Checks the form of a TOTP code: exactly six ASCII digits (surrounding spaces ignored).
pub fn parse_totp_code(code: &str) -> Result<String, DomainError> {
    let c = code.trim();
    if c.len() == TOTP_DIGITS && c.bytes().all(|b| b.is_ascii_digit()) {
        Ok(c.to_owned())
    } else {
        Err(DomainError::new(ErrorKind::InvalidInput, "a code must be the 6 digits your authenticator app shows"))
    }
}

/// Checks the form of a recovery code and normalizes it: case, spaces and dashes do not matter;
/// what remains must be 10 characters of [`RECOVERY_CODE_ALPHABET`].
pub fn parse_recovery_code(code: &str) -> Result<String, DomainError> {
    let c: String =
        code.chars().filter(|ch| !ch.is_whitespace() && *ch != '-').map(|ch| ch.to_ascii_lowercase()).collect();
    let ok = c.len() == RECOVERY_CODE_LEN && c.bytes().all(|b| RECOVERY_CODE_ALPHABET.contains(&b));
    if ok {
        Ok(c)
    } else {
        Err(DomainError::new(
            ErrorKind::InvalidInput,
            "a recovery code is 10 letters and digits as pim printed it, like 7kq2m-x9d4r",
        ))
    }
}

/// A recovery code from 10 random bytes (each taken modulo 32: unbiased), shown as `xxxxx-xxxxx`.
pub fn recovery_code_from(random: &[u8; RECOVERY_CODE_LEN]) -> String {
    let chars: String = random.iter().map(|b| RECOVERY_CODE_ALPHABET[usize::from(b % 32)] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factor() -> TotpFactor {
        TotpFactor {
            id: MfaFactorId::new(),
            principal_id: PrincipalId::new(),
            secret: "v1:x".into(),
            confirmed_at: None,
            last_step: None,
            failed_attempts: 0,
            locked_until: None,
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn steps_are_thirty_seconds_with_one_step_of_skew() {
        assert_eq!(time_step(Timestamp(59_999)), 1);
        assert_eq!(time_step(Timestamp(60_000)), 2);
        assert_eq!(time_step(Timestamp(-1)), -1, "floor, not truncation");
        assert_eq!(candidate_steps(Timestamp(60_000)).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn five_wrong_codes_lock_for_fifteen_minutes() {
        let mut f = factor();
        let now = Timestamp(1_000_000);
        for n in 1..MAX_FAILED_ATTEMPTS {
            let (count, lock) = f.after_wrong_code(now);
            assert_eq!((count, lock), (n, None));
            f.failed_attempts = count;
        }
        let (count, lock) = f.after_wrong_code(now);
        assert_eq!((count, lock), (0, Some(now.plus_millis(LOCKOUT_MS))));
        f.locked_until = lock;
        assert!(f.is_locked(now.plus_millis(LOCKOUT_MS - 1)));
        assert!(!f.is_locked(now.plus_millis(LOCKOUT_MS)));
    }

    #[test]
    fn a_step_is_accepted_once_and_never_an_earlier_one() {
        let mut f = factor();
        assert!(!f.is_replay(10));
        f.last_step = Some(10);
        assert!(f.is_replay(10));
        assert!(f.is_replay(9));
        assert!(!f.is_replay(11));
    }

    #[test]
    fn code_formats() {
        assert_eq!(parse_totp_code(" 012345 ").ok().as_deref(), Some("012345"));
        for bad in ["", "12345", "1234567", "12345a", "123 456", "１２３４５６", "-12345"] {
            assert!(parse_totp_code(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_recovery_code("7KQ2M-X9D4R").ok().as_deref(), Some("7kq2mx9d4r"));
        assert_eq!(parse_recovery_code(" 7kq2m x9d4r ").ok().as_deref(), Some("7kq2mx9d4r"));
        for bad in ["", "7kq2m", "7kq2m-x9d4r-1", "7kq2m-x9d4i", "7kq2m_x9d4r", "éééééééééé"] {
            assert!(parse_recovery_code(bad).is_err(), "{bad:?}");
        }
        let code = recovery_code_from(&[0, 31, 32, 255, 7, 8, 9, 10, 11, 12]);
        assert_eq!(code, "0z0z7-89abc");
        assert!(parse_recovery_code(&code).is_ok());
    }
}
