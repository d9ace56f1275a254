//! What the self-activations of a write batch read, read once for the whole batch: each role with its settings at every scope concerned, and the current assignments of the requesters and their groups there.
//!
//! Planning an activation reads the role and the settings in force at its scope, and the
//! eligibilities (and the activation to extend) of the caller and its groups at the scope or
//! above it: two statements. In a batch of many activations these are read at its start, in its
//! transaction (so under the write lock: nothing else changes them meanwhile), in one statement
//! per role and one for the assignments. A request uses them only where nothing the batch wrote
//! before it can differ: its requester made no earlier request of the batch (only a requester's
//! own requests change its assignments and those of its groups), its groups now are among those
//! read, and the clock has not gone back. Otherwise it reads for itself, as on its own.

use std::collections::{BTreeSet, HashMap, HashSet};

use pim_domain::{Assignment, PrincipalId, RoleDefinition, RoleId, RoleSettings, ScopePath, Timestamp};
use pim_store::{AnyConnection, q};

use crate::engine::Engine;
use crate::error::Result;

/// What planning one activation reads (see `Engine::plan_activate`).
#[derive(Debug)]
pub(crate) struct ActivationReads {
    /// The role.
    pub(crate) role: RoleDefinition,
    /// The settings in force at the scope.
    pub(crate) settings: RoleSettings,
    /// The current assignments of the role held by the caller or its groups at the scope or
    /// above it, ordered by id.
    pub(crate) current: Vec<Assignment>,
}

/// What a batch's activations read, read at its start.
#[derive(Debug)]
pub(crate) struct BatchReads {
    at: Timestamp,
    /// Each role read, with its explicit settings at every scope read.
    roles: HashMap<RoleId, (RoleDefinition, Vec<(ScopePath, RoleSettings)>)>,
    /// The (holder, role, scope) whose assignments were read: for each activation, its
    /// requester and the requester's groups, its role, its scope and each ancestor of it.
    keys: HashSet<q::AssignmentKey>,
    /// Their assignments not ended at `at`.
    current: Vec<Assignment>,
    /// The requesters who have made a request of the batch so far.
    seen: HashSet<PrincipalId>,
}

/// An activation of a batch: its requester, role and scope.
pub(crate) type Wanted = (PrincipalId, RoleId, ScopePath);

impl Engine {
    /// The principals whose eligibilities count for `actor`'s activations: itself and its groups.
    pub(crate) fn activation_holders(&self, actor: PrincipalId, now: Timestamp) -> Vec<PrincipalId> {
        let mut holders = vec![actor];
        holders.extend(self.index.groups_of(actor, now));
        holders
    }

    /// Reads at `now` what the activations `wanted` will plan with.
    pub(crate) async fn read_for_batch(
        &self,
        c: &mut AnyConnection,
        wanted: &[Wanted],
        now: Timestamp,
    ) -> Result<BatchReads> {
        let mut reads = BatchReads {
            at: now,
            roles: HashMap::new(),
            keys: HashSet::new(),
            current: Vec::new(),
            seen: HashSet::new(),
        };
        if wanted.is_empty() {
            return Ok(reads);
        }
        let mut roles = BTreeSet::new();
        let mut scopes = BTreeSet::new();
        let mut keys = Vec::new();
        for (actor, role, scope) in wanted {
            let holders = self.activation_holders(*actor, now);
            for at in scope.self_and_ancestors() {
                for h in &holders {
                    if reads.keys.insert((*h, *role, at.clone())) {
                        keys.push((*h, *role, at.clone()));
                    }
                }
                scopes.insert(at);
            }
            roles.insert(*role);
        }
        let scopes: Vec<ScopePath> = scopes.into_iter().collect();
        for role in &roles {
            if let Some(found) = q::get_role_with_settings_at(c, *role, &scopes).await? {
                reads.roles.insert(*role, found);
            }
        }
        // One index probe per key (see `q::current_assignments_at`), whatever the statistics.
        reads.current = q::current_assignments_at(c, &keys, now).await?;
        Ok(reads)
    }
}

impl BatchReads {
    /// What `actor`'s activation of `role` at `scope` at `now` plans with, when what was read
    /// for the batch still holds for it (see the module's comment); records that `actor` made a
    /// request of the batch, whatever it is.
    pub(crate) fn for_request(
        &mut self,
        actor: PrincipalId,
        holders: &[PrincipalId],
        role: RoleId,
        scope: &ScopePath,
        now: Timestamp,
    ) -> Option<ActivationReads> {
        if !self.seen.insert(actor)
            || now < self.at
            || !scope
                .self_and_ancestors()
                .into_iter()
                .all(|at| holders.iter().all(|h| self.keys.contains(&(*h, role, at.clone()))))
        {
            return None;
        }
        let (role_def, explicit) = self.roles.get(&role)?;
        let settings =
            q::nearest_settings(explicit.iter().cloned(), scope).map_or_else(RoleSettings::default, |(_, s)| s);
        let current = self
            .current
            .iter()
            .filter(|a| {
                a.role_id == role
                    && holders.contains(&a.principal_id)
                    && a.scope.contains(scope)
                    && a.window.end.is_none_or(|end| end > now)
            })
            .cloned()
            .collect();
        Some(ActivationReads { role: role_def.clone(), settings, current })
    }

    /// Records that `actor` made a request of the batch (one that plans without these reads).
    pub(crate) fn saw(&mut self, actor: PrincipalId) {
        self.seen.insert(actor);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use pim_domain::{AssignmentId, AssignmentKind, PrincipalKind, RequestId, Window};

    use super::*;

    fn sp(s: &str) -> ScopePath {
        ScopePath::parse(s).unwrap()
    }

    fn held(by: PrincipalId, role: RoleId, scope: &str, end: Option<i64>) -> Assignment {
        Assignment {
            id: AssignmentId::new(),
            principal_id: by,
            principal_kind: PrincipalKind::User,
            role_id: role,
            scope: sp(scope),
            kind: AssignmentKind::Eligible,
            window: Window { start: Timestamp(0), end: end.map(Timestamp) },
            activated_from: None,
            created_by_request: RequestId::new(),
            created_at: Timestamp(0),
            ended_early_at: None,
        }
    }

    /// Read for `a` and group `g` at /x/y (and its ancestors) at t = 100.
    fn reads(a: PrincipalId, g: PrincipalId, role: RoleId) -> (BatchReads, Vec<Assignment>) {
        let def = RoleDefinition {
            id: role,
            name: "r".into(),
            description: String::new(),
            builtin: false,
            permissions: Default::default(),
        };
        let strict = RoleSettings { require_justification_on_activation: true, ..RoleSettings::default() };
        let loose = RoleSettings { require_justification_on_activation: false, ..RoleSettings::default() };
        let kept = vec![held(a, role, "/", None), held(g, role, "/x", Some(500))];
        let mut current = kept.clone();
        // Ended by the time of the request, of another role, below the scope: left out.
        current.push(held(a, role, "/x", Some(150)));
        current.push(held(a, RoleId::new(), "/x", None));
        current.push(held(a, role, "/x/y/z", None));
        let keys =
            sp("/x/y").self_and_ancestors().into_iter().flat_map(|at| [(a, role, at.clone()), (g, role, at)]).collect();
        let reads = BatchReads {
            at: Timestamp(100),
            roles: HashMap::from([(role, (def, vec![(sp("/"), strict), (sp("/x"), loose)]))]),
            keys,
            current,
            seen: HashSet::new(),
        };
        (reads, kept)
    }

    #[test]
    fn a_request_plans_with_the_batch_reads_only_while_they_still_hold() {
        let (a, g, b, role) = (PrincipalId::new(), PrincipalId::new(), PrincipalId::new(), RoleId::new());
        let (mut r, kept) = reads(a, g, role);
        let got = r.for_request(a, &[a, g], role, &sp("/x/y"), Timestamp(200)).unwrap();
        assert_eq!(got.current, kept, "its own and its groups' at the scope or above, not ended, in order");
        assert!(!got.settings.require_justification_on_activation, "the settings nearest the scope");
        // The requester's second request of the batch reads for itself.
        assert!(r.for_request(a, &[a, g], role, &sp("/x/y"), Timestamp(200)).is_none());
        let (mut r, _) = reads(a, g, role);
        r.saw(a);
        assert!(r.for_request(a, &[a, g], role, &sp("/x/y"), Timestamp(200)).is_none(), "after a deactivation");
        let (mut r, _) = reads(a, g, role);
        assert!(r.for_request(a, &[a, b], role, &sp("/x/y"), Timestamp(200)).is_none(), "a group not read");
        let (mut r, _) = reads(a, g, role);
        assert!(r.for_request(a, &[a], role, &sp("/x/y"), Timestamp(99)).is_none(), "the clock went back");
        let (mut r, _) = reads(a, g, role);
        assert!(r.for_request(a, &[a], role, &sp("/x/w"), Timestamp(200)).is_none(), "a scope not read");
        let (mut r, _) = reads(a, g, role);
        assert!(r.for_request(a, &[a], RoleId::new(), &sp("/x/y"), Timestamp(200)).is_none(), "a role not read");
        let (mut r, _) = reads(a, g, role);
        let at_x = r.for_request(a, &[a], role, &sp("/x"), Timestamp(200)).unwrap();
        let got: Vec<_> = at_x.current.iter().map(|x| (x.principal_id, x.scope.as_str())).collect();
        assert_eq!(got, [(a, "/")], "without the group, not the group's");
    }
}
