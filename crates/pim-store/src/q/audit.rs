//! Reading the audit log, and verifying its hash chain.

use futures_util::TryStreamExt as _;
use pim_domain::message::count;
use pim_domain::{AuditEvent, Outcome, PrincipalId, RoleId, ScopePath, Timestamp};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

use crate::audit::{ChainProblem, GENESIS_HASH, HashInput, ProblemKind, VerifyReport};
use crate::error::Result;
use crate::row;
use crate::sql::{Select, bind_all};

/// Which audit events to list. Every field set narrows the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// At or after this time.
    pub from: Option<Timestamp>,
    /// Before this time (exclusive).
    pub to: Option<Timestamp>,
    /// Done by this principal.
    pub actor: Option<PrincipalId>,
    /// Concerning this principal.
    pub principal: Option<PrincipalId>,
    /// Concerning this role.
    pub role: Option<RoleId>,
    /// At this scope or below (events without a scope count as `/`).
    pub scope_under: Option<ScopePath>,
    /// Visibility: at or below any of these scopes (events without a scope count as `/`);
    /// an empty list matches nothing.
    pub scopes_within: Option<Vec<ScopePath>>,
    /// Done by or concerning this principal ("my audit").
    pub involving: Option<PrincipalId>,
    /// Whose action starts with this (`request.`).
    pub action_prefix: Option<String>,
    /// With this outcome.
    pub outcome: Option<Outcome>,
    /// With a sequence number below this (the cursor when descending).
    pub before_seq: Option<i64>,
    /// With a sequence number above this (the cursor when ascending).
    pub after_seq: Option<i64>,
    /// Newest first.
    pub descending: bool,
    /// At most this many (`0`: all).
    pub limit: i64,
}

const AUDIT_COLS: &str = "seq, id, at, action, outcome, error_code, actor_id, actor_name, principal_id, role_id, \
                          scope, justification, ticket, request_id, http_request_id, client_addr, details, \
                          prev_hash, hash";

fn event(r: &AnyRow) -> Result<AuditEvent> {
    Ok(AuditEvent {
        seq: row::int(r, 0)?,
        id: row::id(r, 1)?,
        at: row::ts(r, 2)?,
        action: row::text(r, 3)?,
        outcome: row::name(r, 4, Outcome::parse)?,
        error_code: row::opt_text(r, 5)?,
        actor_id: row::opt_id(r, 6)?,
        actor_name: row::opt_text(r, 7)?,
        principal_id: row::opt_id(r, 8)?,
        role_id: row::opt_id(r, 9)?,
        scope: row::opt_scope(r, 10)?,
        justification: row::opt_text(r, 11)?,
        ticket: row::opt_text(r, 12)?,
        request_id: row::opt_id(r, 13)?,
        http_request_id: row::opt_text(r, 14)?,
        client_addr: row::opt_text(r, 15)?,
        details: row::json(r, 16)?,
        prev_hash: row::text(r, 17)?,
        hash: row::text(r, 18)?,
    })
}

/// Audit events matching `f`, by sequence number (descending if asked).
pub async fn list_audit(c: &mut AnyConnection, f: &AuditFilter) -> Result<Vec<AuditEvent>> {
    let mut s = Select::new(&format!("SELECT {AUDIT_COLS} FROM audit_events"));
    if let Some(t) = f.from {
        let p = s.arg(t.0);
        s.cond(format!("at >= {p}"));
    }
    if let Some(t) = f.to {
        let p = s.arg(t.0);
        s.cond(format!("at < {p}"));
    }
    if let Some(a) = f.actor {
        s.eq("actor_id", a.to_string());
    }
    if let Some(p) = f.principal {
        s.eq("principal_id", p.to_string());
    }
    if let Some(r) = f.role {
        s.eq("role_id", r.to_string());
    }
    if let Some(me) = f.involving {
        let a = s.arg(me.to_string());
        let b = s.arg(me.to_string());
        s.cond(format!("(actor_id = {a} OR principal_id = {b})"));
    }
    // A NULL scope counts as `/`: it matches only when the scope asked for is `/`, which adds no
    // condition at all.
    if let Some(u) = &f.scope_under {
        s.at_or_below("scope", u);
    }
    if let Some(within) = &f.scopes_within {
        if within.is_empty() {
            return Ok(Vec::new());
        }
        if !within.iter().any(ScopePath::is_root) {
            let ors: Vec<String> = within.iter().filter_map(|w| s.at_or_below_expr("scope", w)).collect();
            s.cond(format!("({})", ors.join(" OR ")));
        }
    }
    if let Some(p) = &f.action_prefix {
        s.starts_with("action", p);
    }
    if let Some(o) = f.outcome {
        s.eq("outcome", o.as_str());
    }
    if let Some(b) = f.before_seq {
        let p = s.arg(b);
        s.cond(format!("seq < {p}"));
    }
    if let Some(a) = f.after_seq {
        let p = s.arg(a);
        s.cond(format!("seq > {p}"));
    }
    let (sql, args) = s.finish(if f.descending { "seq DESC" } else { "seq" }, f.limit);
    let mut rows = bind_all(&sql, args).fetch(&mut *c);
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await? {
        out.push(event(&r)?);
    }
    Ok(out)
}

/// How many events [`verify_audit`] reads at a time.
const VERIFY_BATCH: i64 = 1000;

/// The stored text of one event, exactly as hashed.
struct RawEvent {
    seq: i64,
    action: String,
    at: i64,
    prev_hash: String,
    hash: String,
    computed: String,
    details: String,
}

fn raw_event(r: &AnyRow) -> Result<RawEvent> {
    let t = |i: usize| r.try_get::<Option<String>, _>(i);
    let (id, action, outcome, details, prev_hash, hash) = (t(1)?, t(3)?, t(4)?, t(16)?, t(17)?, t(18)?);
    let (seq, at) = (row::int(r, 0)?, row::int(r, 2)?);
    let opt: Vec<Option<String>> = (5..=15).map(t).collect::<std::result::Result<_, _>>()?;
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let computed = HashInput {
        prev_hash: &s(&prev_hash),
        seq,
        id: &s(&id),
        at,
        action: &s(&action),
        outcome: &s(&outcome),
        error_code: opt[0].as_deref(),
        actor_id: opt[1].as_deref(),
        actor_name: opt[2].as_deref(),
        principal_id: opt[3].as_deref(),
        role_id: opt[4].as_deref(),
        scope: opt[5].as_deref(),
        justification: opt[6].as_deref(),
        ticket: opt[7].as_deref(),
        request_id: opt[8].as_deref(),
        http_request_id: opt[9].as_deref(),
        client_addr: opt[10].as_deref(),
        details: &s(&details),
    }
    .hash();
    Ok(RawEvent {
        seq,
        action: s(&action),
        at,
        prev_hash: s(&prev_hash),
        hash: s(&hash),
        computed,
        details: s(&details),
    })
}

struct Problems {
    list: Vec<ChainProblem>,
    omitted: usize,
}

impl Problems {
    fn push(&mut self, seq: i64, kind: ProblemKind, message: String) {
        if self.list.len() < VerifyReport::MAX_PROBLEMS {
            self.list.push(ChainProblem { seq, kind, message });
        } else {
            self.omitted += 1;
        }
    }
}

fn range(from: i64, to: i64) -> String {
    if from == to {
        format!("event {from} is")
    } else {
        format!("events {from} to {to} ({} in all) are", to - from + 1)
    }
}

/// The `meta` key of the pruning anchor: the sequence number and hash of the last event removed
/// by retention (`seq:hash`); the first kept event links to it.
const ANCHOR_KEY: &str = "audit.anchor";

/// Where the chain starts: the last pruned event's sequence number and hash, or `(0, genesis)`.
pub async fn audit_anchor(c: &mut AnyConnection) -> Result<(i64, String)> {
    let v: Option<String> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1").bind(ANCHOR_KEY).fetch_optional(&mut *c).await?;
    let Some(v) = v else { return Ok((0, GENESIS_HASH.to_owned())) };
    let parsed = v.split_once(':').and_then(|(seq, hash)| Some((seq.parse::<i64>().ok()?, hash.to_owned())));
    parsed.ok_or_else(|| crate::StoreError::corrupt(format!("the audit anchor (meta '{ANCHOR_KEY}') is malformed")))
}

/// What one pruning removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pruned {
    /// How many events were removed.
    pub count: i64,
    /// The sequence number of the last removed event (the new anchor).
    pub anchor_seq: i64,
    /// Its hash.
    pub anchor_hash: String,
}

/// The events older than `before` that pruning would remove, if any: their count and the last
/// one's sequence number and hash. Only a prefix of the chain is ever removed.
pub async fn audit_prunable(c: &mut AnyConnection, before: Timestamp) -> Result<Option<Pruned>> {
    // Events are appended in time order, but take the prefix by sequence to be safe: everything
    // up to the first event that is not old enough.
    let first_kept: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_events WHERE at >= $1")
        .bind(before.0)
        .fetch_one(&mut *c)
        .await?;
    let r = match first_kept {
        Some(k) => {
            sqlx::query("SELECT seq, hash FROM audit_events WHERE seq < $1 ORDER BY seq DESC LIMIT 1")
                .bind(k)
                .fetch_optional(&mut *c)
                .await?
        }
        None => {
            sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *c).await?
        }
    };
    let Some(r) = r else { return Ok(None) };
    let (anchor_seq, anchor_hash) = (row::int(&r, 0)?, row::text(&r, 1)?);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE seq <= $1")
        .bind(anchor_seq)
        .fetch_one(&mut *c)
        .await?;
    Ok(Some(Pruned { count, anchor_seq, anchor_hash }))
}

/// Removes the events up to and including `p.anchor_seq` and records the new anchor. Run it in
/// a write transaction that also records the `audit.pruned` event naming the anchor.
pub async fn prune_audit(c: &mut AnyConnection, p: &Pruned) -> Result<()> {
    sqlx::query("DELETE FROM audit_events WHERE seq <= $1").bind(p.anchor_seq).execute(&mut *c).await?;
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(ANCHOR_KEY)
        .bind(format!("{}:{}", p.anchor_seq, p.anchor_hash))
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// The anchor an `audit.pruned` event records in its details.
fn pruned_anchor(details: &str) -> Option<(i64, String)> {
    let v: serde_json::Value = serde_json::from_str(details).ok()?;
    Some((v.get("anchorSeq")?.as_i64()?, v.get("anchorHash")?.as_str()?.to_owned()))
}

/// Walks the whole audit chain in sequence order, recomputing every hash, and compares its end
/// with the recorded head. Run it on a read connection (not inside a write transaction).
///
/// After retention pruned a prefix, the walk starts at the recorded anchor (the last removed
/// event's sequence number and hash), and the anchor must be the one the last `audit.pruned`
/// event in the chain names.
pub async fn verify_audit(c: &mut AnyConnection) -> Result<VerifyReport> {
    let mut problems = Problems { list: Vec::new(), omitted: 0 };
    let anchor = audit_anchor(c).await?;
    let (mut last_seq, mut last_hash) = anchor.clone();
    let mut named_anchor: Option<(i64, String)> = None;
    let mut checked = 0i64;
    let sql = format!("SELECT {AUDIT_COLS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2");
    loop {
        let rows = sqlx::query(&sql).bind(last_seq).bind(VERIFY_BATCH).fetch_all(&mut *c).await?;
        if rows.is_empty() {
            // The head is read after the walk: every event committed so far is at or below it.
            let (head_seq, head_hash) = head(c).await?;
            if head_seq > last_seq {
                let more: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE seq > $1")
                    .bind(last_seq)
                    .fetch_one(&mut *c)
                    .await?;
                if more > 0 {
                    continue; // committed while we walked
                }
                problems.push(
                    head_seq,
                    ProblemKind::Truncated,
                    format!(
                        "the chain head records {} but the log ends at event {last_seq}: {} missing from the end \
                         (deleted)",
                        count(head_seq, "event", "events"),
                        range(last_seq + 1, head_seq)
                    ),
                );
            } else if head_seq < last_seq {
                problems.push(
                    head_seq + 1,
                    ProblemKind::Inserted,
                    format!(
                        "the chain head records {} but the log goes on to event {last_seq}: {} beyond the head \
                         (inserted outside pim)",
                        count(head_seq, "event", "events"),
                        range(head_seq + 1, last_seq)
                    ),
                );
            } else if head_hash != last_hash {
                problems.push(
                    last_seq,
                    ProblemKind::Modified,
                    format!(
                        "event {last_seq}, the last one, is not the event the chain head records (its hash differs): \
                         it was replaced"
                    ),
                );
            }
            break;
        }
        for r in &rows {
            let e = raw_event(r)?;
            checked += 1;
            let expected = last_seq + 1;
            let intact = e.computed == e.hash;
            if !intact {
                problems.push(
                    e.seq,
                    ProblemKind::Modified,
                    format!(
                        "event {} ({} at {}) does not match its hash: it was changed after it was written",
                        e.seq,
                        e.action,
                        Timestamp(e.at)
                    ),
                );
            }
            if e.seq > expected {
                problems.push(e.seq, ProblemKind::Deleted, format!("{} missing (deleted)", range(expected, e.seq - 1)));
            } else if intact && e.prev_hash != last_hash {
                let message = if e.seq == 1 {
                    "event 1 does not start the chain (its prev_hash is not the genesis hash): it was inserted or \
                     replaced"
                        .to_owned()
                } else {
                    format!(
                        "event {} does not link to event {} (its prev_hash differs from that event's hash): it was \
                         inserted or replaced, or event {} was rewritten",
                        e.seq,
                        e.seq - 1,
                        e.seq - 1
                    )
                };
                problems.push(e.seq, ProblemKind::Inserted, message);
            }
            if e.action == "audit.pruned" && intact {
                named_anchor = pruned_anchor(&e.details);
            }
            last_seq = e.seq;
            last_hash = e.hash;
        }
    }
    if anchor.0 > 0 && named_anchor.as_ref() != Some(&anchor) {
        problems.push(
            anchor.0 + 1,
            ProblemKind::Modified,
            format!(
                "the pruning anchor (event {}) is not the one the last audit.pruned event records: the anchor was \
                 changed or events were removed outside pim",
                anchor.0
            ),
        );
    }
    let Problems { mut list, omitted } = problems;
    if let Some(p) = list.last_mut().filter(|_| omitted > 0) {
        p.message.push_str(&format!(" (and {} not listed)", count(omitted, "more problem", "more problems")));
    }
    Ok(VerifyReport { ok: list.is_empty(), checked, problems: list })
}

/// The recorded head of the chain: the last event's sequence number and hash.
pub async fn audit_head(c: &mut AnyConnection) -> Result<(i64, String)> {
    head(c).await
}

async fn head(c: &mut AnyConnection) -> Result<(i64, String)> {
    let r = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_optional(&mut *c).await?;
    match r {
        Some(r) => Ok((row::int(&r, 0)?, row::text(&r, 1)?)),
        None => Err(crate::StoreError::corrupt("the audit chain head (audit_head row 1) is missing")),
    }
}
