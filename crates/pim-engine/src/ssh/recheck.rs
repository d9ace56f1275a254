//! Looking again, inside the write transaction, at what a grant relies on: the principal, the
//! assignment, and for a grant through a group the memberships (static or JIT) that lead to it.

use std::collections::{HashMap, VecDeque};

use pim_domain::role::GROUP_MEMBER;
use pim_domain::{AssignmentKind, DomainError, ErrorKind, PrincipalId, Timestamp};
use pim_store::{AnyConnection, q};

use super::choose::Candidate;
use crate::error::Result;

/// At most this many groups are looked at on the way from a user to the group holding a grant.
const MAX_GROUPS: usize = 1024;

/// When the grant `chosen` started and ends, by what is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    /// The later of the assignment's start and (through a group) the memberships' starts.
    pub start: Timestamp,
    /// The earlier of the assignment's end and (through a group) the memberships' ends; `None`:
    /// permanent.
    pub end: Option<Timestamp>,
}

/// When the grant `chosen` started and ends, by what is stored: the assignment's window, and for a
/// grant through a group, that of the longest-lasting chain of memberships in effect that leads
/// from `principal` to that group through enabled groups. Refused when the principal is disabled,
/// the assignment is no longer in effect, or no such chain is left.
pub(super) async fn current_span(
    c: &mut AnyConnection,
    chosen: &Candidate,
    principal: PrincipalId,
    now: Timestamp,
) -> Result<Span> {
    if !q::get_principal(c, principal).await?.is_some_and(|p| p.enabled) {
        return Err(DomainError::new(ErrorKind::PrincipalDisabled, "the principal is disabled").into());
    }
    let a = q::get_assignment(c, chosen.grant.assignment_id).await?;
    let Some(a) = a.filter(|a| a.in_effect(now)) else {
        return Err(DomainError::new(ErrorKind::NotActive, "the assignment ended meanwhile").into());
    };
    let Some(group) = chosen.grant.via_group else { return Ok(Span { start: a.window.start, end: a.window.end }) };
    let Some(path) = membership_span(c, principal, group, now).await? else {
        return Err(DomainError::new(
            ErrorKind::NotActive,
            "the group membership the assignment comes through ended meanwhile",
        )
        .into());
    };
    let end = match (a.window.end, path.end) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    Ok(Span { start: a.window.start.max(path.start), end })
}

/// Whether `member` is (transitively) in `group` at `now` by the store, and since and until when
/// (the latest-ending chain; its start is the latest of its JIT memberships' starts), or `None`.
/// Static memberships last; a JIT membership (an active `Member` assignment at the group's scope)
/// lasts its window; a disabled group confers nothing.
async fn membership_span(
    c: &mut AnyConnection,
    member: PrincipalId,
    group: PrincipalId,
    now: Timestamp,
) -> Result<Option<Span>> {
    const FOREVER: i64 = i64::MAX;
    // Per group reached: (the chain's end, its start).
    let mut best: HashMap<PrincipalId, (i64, i64)> = HashMap::from([(member, (FOREVER, i64::MIN))]);
    let mut queue = VecDeque::from([member]);
    let mut enabled: HashMap<PrincipalId, bool> = HashMap::new();
    while let Some(x) = queue.pop_front() {
        let (reach, since) = best.get(&x).copied().unwrap_or((FOREVER, i64::MIN));
        let mut edges: Vec<(PrincipalId, i64, i64)> =
            q::list_groups_of(c, x).await?.into_iter().map(|g| (g, FOREVER, i64::MIN)).collect();
        let filter = q::AssignmentFilter {
            principal: Some(x),
            role: Some(GROUP_MEMBER),
            kind: Some(AssignmentKind::Active),
            not_ended_at: Some(now),
            ..q::AssignmentFilter::default()
        };
        for a in q::list_assignments(c, &filter).await? {
            if let (true, Some(g)) = (a.in_effect(now), a.scope.group()) {
                edges.push((g, a.window.end.map_or(FOREVER, |t| t.0), a.window.start.0));
            }
        }
        for (g, edge_end, edge_start) in edges {
            let end = reach.min(edge_end);
            if best.get(&g).is_some_and(|&(b, _)| b >= end) {
                continue;
            }
            let on = match enabled.get(&g) {
                Some(&on) => on,
                None => {
                    if enabled.len() >= MAX_GROUPS {
                        continue;
                    }
                    let on = q::get_principal(c, g).await?.is_some_and(|p| p.enabled);
                    enabled.insert(g, on);
                    on
                }
            };
            if on {
                best.insert(g, (end, since.max(edge_start)));
                queue.push_back(g);
            }
        }
    }
    Ok(best
        .get(&group)
        .filter(|_| group != member)
        .map(|&(end, start)| Span { start: Timestamp(start), end: (end != FOREVER).then_some(Timestamp(end)) }))
}
