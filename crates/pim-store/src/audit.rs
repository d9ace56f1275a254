//! The audit hash chain: the canonical encoding of an event, its hash, and the verification report.
//!
//! `hash = hex(SHA-256("pim.audit.v1" ‖ field(prev_hash) ‖ field(seq) ‖ ... ‖ field(details)))`, where
//! every field is encoded unambiguously: an absent value as the byte `0`, a present one as the byte
//! `1`, its length in bytes as a big-endian `u64`, then its UTF-8 bytes. Integers are written in
//! decimal, ids as hyphenated lowercase UUIDs, `details` as its stored compact JSON text.

use pim_domain::AuditEvent;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const DOMAIN: &[u8] = b"pim.audit.v1";

/// The stored fields of an event, as text, in hashing order (after `prev_hash`).
pub(crate) struct HashInput<'a> {
    pub prev_hash: &'a str,
    pub seq: i64,
    pub id: &'a str,
    pub at: i64,
    pub action: &'a str,
    pub outcome: &'a str,
    pub error_code: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub actor_name: Option<&'a str>,
    pub principal_id: Option<&'a str>,
    pub role_id: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub justification: Option<&'a str>,
    pub ticket: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub http_request_id: Option<&'a str>,
    pub client_addr: Option<&'a str>,
    pub details: &'a str,
}

fn field(h: &mut Sha256, v: Option<&str>) {
    match v {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

impl HashInput<'_> {
    /// The hex SHA-256 of the encoding.
    pub(crate) fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(DOMAIN);
        field(&mut h, Some(self.prev_hash));
        field(&mut h, Some(&self.seq.to_string()));
        field(&mut h, Some(self.id));
        field(&mut h, Some(&self.at.to_string()));
        field(&mut h, Some(self.action));
        field(&mut h, Some(self.outcome));
        for v in [
            self.error_code,
            self.actor_id,
            self.actor_name,
            self.principal_id,
            self.role_id,
            self.scope,
            self.justification,
            self.ticket,
            self.request_id,
            self.http_request_id,
            self.client_addr,
        ] {
            field(&mut h, v);
        }
        field(&mut h, Some(self.details));
        hex::encode(h.finalize())
    }
}

/// The hash an event should have, given its `prev_hash` and fields (its own `hash` is ignored).
///
/// `details` is hashed as its compact JSON serialization, which is what the store keeps.
pub fn event_hash(e: &AuditEvent) -> String {
    let details = serde_json::to_string(&e.details).unwrap_or_default();
    let (id, actor, principal, role, request) = (
        e.id.to_string(),
        e.actor_id.map(|v| v.to_string()),
        e.principal_id.map(|v| v.to_string()),
        e.role_id.map(|v| v.to_string()),
        e.request_id.map(|v| v.to_string()),
    );
    HashInput {
        prev_hash: &e.prev_hash,
        seq: e.seq,
        id: &id,
        at: e.at.0,
        action: &e.action,
        outcome: e.outcome.as_str(),
        error_code: e.error_code.as_deref(),
        actor_id: actor.as_deref(),
        actor_name: e.actor_name.as_deref(),
        principal_id: principal.as_deref(),
        role_id: role.as_deref(),
        scope: e.scope.as_ref().map(|s| s.as_str()),
        justification: e.justification.as_deref(),
        ticket: e.ticket.as_deref(),
        request_id: request.as_deref(),
        http_request_id: e.http_request_id.as_deref(),
        client_addr: e.client_addr.as_deref(),
        details: &details,
    }
    .hash()
}

/// The result of walking the audit chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    /// Whether the chain is intact.
    pub ok: bool,
    /// How many events were checked.
    pub checked: i64,
    /// What is wrong, in chain order (at most [`VerifyReport::MAX_PROBLEMS`] are listed).
    pub problems: Vec<ChainProblem>,
}

impl VerifyReport {
    /// The most problems a report lists; more are summarized in the last one.
    pub const MAX_PROBLEMS: usize = 1000;
}

/// One break in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainProblem {
    /// The sequence number where the problem shows.
    pub seq: i64,
    /// What kind of tampering it looks like.
    pub kind: ProblemKind,
    /// A sentence saying what was found.
    pub message: String,
}

/// What kind of tampering a problem looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProblemKind {
    /// An event's content no longer matches its hash, or the last event is not the one the head records.
    Modified,
    /// An event does not link to the one before it, or lies beyond the recorded head.
    Inserted,
    /// Events are missing from the middle or the start of the chain.
    Deleted,
    /// Events are missing from the end of the chain.
    Truncated,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(details: &'a str, a: Option<&'a str>, b: Option<&'a str>) -> HashInput<'a> {
        HashInput {
            prev_hash: GENESIS_HASH,
            seq: 1,
            id: "id",
            at: 5,
            action: "x",
            outcome: "success",
            error_code: a,
            actor_id: b,
            actor_name: None,
            principal_id: None,
            role_id: None,
            scope: None,
            justification: None,
            ticket: None,
            request_id: None,
            http_request_id: None,
            client_addr: None,
            details,
        }
    }

    #[test]
    fn encoding_is_unambiguous() {
        // Moving text between adjacent fields, or turning absent into empty, changes the hash.
        let h1 = input("null", Some("ab"), Some("c")).hash();
        let h2 = input("null", Some("a"), Some("bc")).hash();
        let h3 = input("null", None, Some("")).hash();
        let h4 = input("null", Some(""), None).hash();
        let h5 = input("null", None, None).hash();
        let all = [&h1, &h2, &h3, &h4, &h5];
        for (i, a) in all.iter().enumerate() {
            assert_eq!(a.len(), 64);
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(h1, input("null", Some("ab"), Some("c")).hash());
    }
}
