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

/// When the grant `chosen` ends, by what is stored: the assignment's end, and for a grant through
/// a group, the end of the longest-lasting chain of memberships in effect that leads from
/// `principal` to that group through enabled groups. Refused when the principal is disabled, the
/// assignment is no longer in effect, or no such chain is left.
pub(super) async fn current_end(
    c: &mut AnyConnection,
    chosen: &Candidate,
    principal: PrincipalId,
    now: Timestamp,
) -> Result<Option<Timestamp>> {
    if !q::get_principal(c, principal).await?.is_some_and(|p| p.enabled) {
        return Err(DomainError::new(ErrorKind::PrincipalDisabled, "the principal is disabled").into());
    }
    let a = q::get_assignment(c, chosen.grant.assignment_id).await?;
    let Some(a) = a.filter(|a| a.in_effect(now)) else {
        return Err(DomainError::new(ErrorKind::NotActive, "the assignment ended meanwhile").into());
    };
    let Some(group) = chosen.grant.via_group else { return Ok(a.window.end) };
    let Some(path_end) = membership_end(c, principal, group, now).await? else {
        return Err(DomainError::new(
            ErrorKind::NotActive,
            "the group membership the assignment comes through ended meanwhile",
        )
        .into());
    };
    Ok(match (a.window.end, path_end) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    })
}

/// Whether `member` is (transitively) in `group` at `now` by the store, and until when:
/// `Some(None)` permanently, `Some(Some(t))` until `t` (the latest-ending chain), `None` not at all.
/// Static memberships last; a JIT membership (an active `Member` assignment at the group's scope)
/// lasts until its end; a disabled group confers nothing.
async fn membership_end(
    c: &mut AnyConnection,
    member: PrincipalId,
    group: PrincipalId,
    now: Timestamp,
) -> Result<Option<Option<Timestamp>>> {
    const FOREVER: i64 = i64::MAX;
    let mut best: HashMap<PrincipalId, i64> = HashMap::from([(member, FOREVER)]);
    let mut queue = VecDeque::from([member]);
    let mut enabled: HashMap<PrincipalId, bool> = HashMap::new();
    while let Some(x) = queue.pop_front() {
        let reach = best.get(&x).copied().unwrap_or(FOREVER);
        let mut edges: Vec<(PrincipalId, i64)> =
            q::list_groups_of(c, x).await?.into_iter().map(|g| (g, FOREVER)).collect();
        let filter = q::AssignmentFilter {
            principal: Some(x),
            role: Some(GROUP_MEMBER),
            kind: Some(AssignmentKind::Active),
            not_ended_at: Some(now),
            ..q::AssignmentFilter::default()
        };
        for a in q::list_assignments(c, &filter).await? {
            if let (true, Some(g)) = (a.in_effect(now), a.scope.group()) {
                edges.push((g, a.window.end.map_or(FOREVER, |t| t.0)));
            }
        }
        for (g, edge_end) in edges {
            let end = reach.min(edge_end);
            if best.get(&g).is_some_and(|&b| b >= end) {
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
                best.insert(g, end);
                queue.push_back(g);
            }
        }
    }
    Ok(best.get(&group).filter(|_| group != member).map(|&e| (e != FOREVER).then_some(Timestamp(e))))
}
