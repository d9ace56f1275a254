//! The password lockout: failed sign-ins per user name, counted in the store so the count holds
//! across restarts and replicas.
//!
//! [`MAX_FAILED_SIGN_INS`] failures of one (lower-case) user name within [`LOCKOUT_WINDOW_MS`] of
//! the first lock it for the rest of the window; a successful sign-in clears the count. Names of no
//! principal are counted too (so the lockout does not tell which names exist), but only while fewer
//! than [`MAX_TRACKED_NAMES`] names are counted: unknown names cannot grow the table without bound,
//! and counts of real principals are never crowded out. Counts whose window ended are pruned at
//! every failure. Rows are keyed by the SHA-256 of the name, so each is small whatever was typed.

use pim_domain::Timestamp;
use pim_store::{AnyConnection, q};
use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::error::Result;

/// Failed sign-ins of one user name within [`LOCKOUT_WINDOW_MS`] that lock it for the rest of the window.
pub const MAX_FAILED_SIGN_INS: u32 = 5;
/// The window of [`MAX_FAILED_SIGN_INS`], in milliseconds.
pub const LOCKOUT_WINDOW_MS: i64 = 15 * pim_domain::time::MINUTE_MS;
/// How many user names may have failures counted before names of no principal are no longer counted.
pub const MAX_TRACKED_NAMES: i64 = 10_000;

/// The key a user name's failures are stored under.
fn name_key(name: &str) -> String {
    hex::encode(Sha256::digest(name.to_lowercase().as_bytes()))
}

/// Whether `failures` (a count and the start of its window) lock the name at `now`.
fn locks(failures: Option<(i64, Timestamp)>, now: Timestamp) -> bool {
    failures.is_some_and(|(n, since)| n >= i64::from(MAX_FAILED_SIGN_INS) && now.0 - since.0 < LOCKOUT_WINDOW_MS)
}

/// The count after one more failure at `now`: a new window once the last one ended.
fn after_failure(failures: Option<(i64, Timestamp)>, now: Timestamp) -> (i64, Timestamp) {
    match failures {
        Some((n, since)) if now.0 - since.0 < LOCKOUT_WINDOW_MS => (n + 1, since),
        _ => (1, now),
    }
}

impl Engine {
    /// Whether sign-ins with `name` are locked at `now`.
    pub(crate) async fn sign_in_locked(&self, name: &str, now: Timestamp) -> Result<bool> {
        let mut c = self.store.read().await?;
        Ok(locks(q::get_sign_in_failures(&mut c, &name_key(name)).await?, now))
    }

    /// Counts a failed sign-in with `name` (`known`: the name is a principal's), in its own write
    /// transaction, so that failures on any replica add up.
    pub(crate) async fn sign_in_failed(&self, name: &str, known: bool, now: Timestamp) -> Result<()> {
        let key = name_key(name);
        let mut tx = self.store.write(now).await?;
        q::prune_sign_in_failures(tx.conn(), now.plus_millis(-LOCKOUT_WINDOW_MS)).await?;
        let before = q::get_sign_in_failures(tx.conn(), &key).await?;
        if before.is_some() || known || q::count_sign_in_failures(tx.conn()).await? < MAX_TRACKED_NAMES {
            let (n, since) = after_failure(before, now);
            q::set_sign_in_failures(tx.conn(), &key, n, since).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Clears the failures of `name` in the sign-in's transaction.
pub(crate) async fn sign_in_succeeded(c: &mut AnyConnection, name: &str) -> Result<()> {
    Ok(q::clear_sign_in_failures(c, &name_key(name)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_within_the_window_lock_until_it_ends() {
        let t = |ms| Timestamp(1_000_000 + ms);
        let mut f = None;
        for i in 0..i64::from(MAX_FAILED_SIGN_INS) {
            assert!(!locks(f, t(i)), "not locked after {i} failures");
            f = Some(after_failure(f, t(i)));
        }
        assert!(locks(f, t(10)));
        assert!(locks(f, t(LOCKOUT_WINDOW_MS - 1)));
        assert!(!locks(f, t(LOCKOUT_WINDOW_MS)), "the window ended");
        assert_eq!(after_failure(f, t(LOCKOUT_WINDOW_MS)), (1, t(LOCKOUT_WINDOW_MS)), "a new window starts");
    }

    #[test]
    fn names_are_keyed_case_insensitively_by_a_fixed_size_hash() {
        assert_eq!(name_key("Alice"), name_key("alice"));
        assert_ne!(name_key("alice"), name_key("bob"));
        assert_eq!(name_key(&"x".repeat(1 << 20)).len(), 64);
    }
}
