//! Where each scope's run of entries begins in a long entry list, in a few cache lines: the runs
//! of the shallowest scopes inline in the slot (with the set of roles in each, so a run whose roles
//! cannot allow the action is passed over without reading its entries), the others behind a Bloom
//! filter (also inline) in a flat open-addressed table.
//!
//! A check looks up the few ancestors of the requested scope that hold any assignment. In a
//! group's list the shallow ones (the root, a tenant) are the ones usually found, and they are
//! found in the slot's own lines; a deeper ancestor is usually ruled out by the filter, and a
//! table probe reads one line of a small array (no control bytes, no hashing of keys beyond one
//! multiplication).

use super::{Entry, NONE, len_u32};

/// How many runs a slot holds inline (one cache line of them).
#[cfg(not(test))]
pub(super) const NEAR: usize = 4;
/// Few in tests, so that their small lists also use the filter and the table.
#[cfg(test)]
pub(super) const NEAR: usize = 2;

/// A run found without leaving the slot: its scope (`NONE` when unused), first entry, and the
/// [`role_bit`]s of its entries' roles (whatever their windows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Near {
    pub(super) scope: u32,
    pub(super) from: u32,
    pub(super) roles: u64,
}

/// The inline runs, in a cache line of their own, field by field (so that finding a scope is one
/// comparison of the four scopes at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(64))]
pub(super) struct NearRuns {
    scopes: [u32; NEAR],
    froms: [u32; NEAR],
    roles: [u64; NEAR],
}

impl NearRuns {
    pub(super) const EMPTY: NearRuns = NearRuns { scopes: [NONE; NEAR], froms: [0; NEAR], roles: [0; NEAR] };

    /// The run of `scope` (not `NONE`), if inline. The scopes of a list's runs are distinct.
    #[inline]
    pub(super) fn find(&self, scope: u32) -> Option<Near> {
        let hits = self.scopes.iter().enumerate().fold(0u32, |h, (k, &s)| h | (u32::from(s == scope) << k));
        let k = hits.trailing_zeros() as usize;
        Some(Near { scope, from: *self.froms.get(k)?, roles: *self.roles.get(k)? })
    }

    /// Every inline run (scope `NONE` for the unused places).
    #[cfg(test)]
    fn runs(&self) -> impl Iterator<Item = Near> + '_ {
        (0..NEAR).map(|k| Near { scope: self.scopes[k], from: self.froms[k], roles: self.roles[k] })
    }

    fn set(&mut self, k: usize, n: Near) {
        if let (Some(s), Some(f), Some(r)) = (self.scopes.get_mut(k), self.froms.get_mut(k), self.roles.get_mut(k)) {
            (*s, *f, *r) = (n.scope, n.from, n.roles);
        }
    }
}

/// The bit that stands for every role from index 63 on in a set of [`role_bit`]s.
pub(super) const HIGH_ROLES: u64 = 1 << 63;

/// Role `role`'s bit in a run's set of roles: its own below 63, else [`HIGH_ROLES`].
pub(super) fn role_bit(role: u32) -> u64 {
    1 << role.min(63)
}

/// A run in the table: its scope (`NONE` for an empty place) and first entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Far {
    scope: u32,
    from: u32,
}

/// The runs not held inline, by scope: a power-of-two array at most two thirds full, linear
/// probing (so every probe sequence ends at an empty place).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct FarRuns {
    table: Box<[Far]>,
}

/// The two bits of a scope in a list's 256-bit Bloom filter, as (word, bit), from one
/// multiplication (two bits: about 8% false positives at 40 scopes, against 15% with one).
fn bloom_bits(scope: u32) -> [(usize, u64); 2] {
    let h = u64::from(scope).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let (a, b) = ((h >> 56) as usize, (h >> 48) as usize & 255);
    [(a >> 6, 1 << (a & 63)), (b >> 6, 1 << (b & 63))]
}

/// Whether the filter may hold `scope`.
pub(super) fn bloom_has(bloom: &[u64; 4], scope: u32) -> bool {
    bloom_bits(scope).iter().all(|&(word, bit)| bloom.get(word).is_some_and(|w| w & bit != 0))
}

/// The first place to probe for `scope` in a table of `mask + 1` places.
fn home(scope: u32, mask: usize) -> usize {
    ((u64::from(scope).wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 32) as usize) & mask
}

impl FarRuns {
    fn new(runs: &[(u32, u32)]) -> FarRuns {
        if runs.is_empty() {
            return FarRuns::default();
        }
        let size = (runs.len() * 3 / 2 + 1).next_power_of_two();
        let mask = size - 1;
        let mut table = vec![Far { scope: NONE, from: 0 }; size].into_boxed_slice();
        for &(scope, from) in runs {
            let mut i = home(scope, mask);
            while table.get(i).is_some_and(|f| f.scope != NONE) {
                i = (i + 1) & mask;
            }
            if let Some(f) = table.get_mut(i) {
                *f = Far { scope, from };
            }
        }
        FarRuns { table }
    }

    /// The first entry of `scope`'s run, if the table holds it.
    pub(super) fn get(&self, scope: u32) -> Option<u32> {
        let mask = self.table.len().wrapping_sub(1);
        let mut i = home(scope, mask);
        loop {
            let f = self.table.get(i)?;
            if f.scope == scope {
                return Some(f.from);
            }
            if f.scope == NONE {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.table)
    }
}

/// The directory of a list sorted by scope: the `NEAR` runs of least depth (ties: list order)
/// inline, the rest in the filter and the table.
pub(super) fn index(entries: &[Entry]) -> (NearRuns, [u64; 4], FarRuns) {
    let mut runs: Vec<(u8, u32, u32, u64)> = Vec::new();
    let mut from = 0;
    for run in entries.chunk_by(|a, b| a.scope == b.scope) {
        if let Some(first) = run.first() {
            let roles = run.iter().fold(0, |set, e| set | role_bit(e.role));
            runs.push((first.depth, first.scope, len_u32(from), roles));
        }
        from += run.len();
    }
    runs.sort_by_key(|&(depth, _, from, _)| (depth, from));
    let mut near = NearRuns::EMPTY;
    for (k, &(_, scope, from, roles)) in runs.iter().take(NEAR).enumerate() {
        near.set(k, Near { scope, from, roles });
    }
    let far: Vec<(u32, u32)> = runs.iter().skip(NEAR).map(|&(_, scope, from, _)| (scope, from)).collect();
    let mut bloom = [0; 4];
    for &(scope, _) in &far {
        for (word, bit) in bloom_bits(scope) {
            if let Some(w) = bloom.get_mut(word) {
                *w |= bit;
            }
        }
    }
    (near, bloom, FarRuns::new(&far))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use proptest::prelude::*;

    fn entry(scope: u32, depth: u8, role: u32) -> Entry {
        Entry { start: 0, end: 0, rec: 0, scope, role, depth }
    }

    /// Where the directory says `scope`'s run begins, as a check looks it up.
    fn find(near: &NearRuns, bloom: &[u64; 4], far: &FarRuns, scope: u32) -> Option<u32> {
        match near.find(scope) {
            Some(n) => Some(n.from),
            None if bloom_has(bloom, scope) => far.get(scope),
            None => None,
        }
    }

    proptest! {
        /// Every run is found at its first entry, the shallowest inline with every role of its
        /// entries in its set; no other scope is found.
        #[test]
        fn every_run_is_found_and_nothing_else(
            scopes in prop::collection::vec((0u32..3000, 0u32..80), 0..300),
            absent in prop::collection::vec(3000u32..u32::MAX, 0..50),
        ) {
            let mut entries: Vec<Entry> = scopes.iter().map(|&(s, r)| entry(s, (s % 8) as u8, r)).collect();
            entries.sort_by_key(|e| e.scope);
            let mut want: BTreeMap<u32, u32> = BTreeMap::new();
            for (i, e) in entries.iter().enumerate() {
                want.entry(e.scope).or_insert(len_u32(i));
            }
            let (near, bloom, far) = index(&entries);
            for (&scope, &from) in &want {
                prop_assert_eq!(find(&near, &bloom, &far, scope), Some(from), "scope {}", scope);
            }
            for n in near.runs().filter(|n| n.scope != NONE) {
                let roles = entries.iter().filter(|e| e.scope == n.scope).fold(0, |set, e| set | role_bit(e.role));
                prop_assert_eq!(n.roles, roles, "scope {}", n.scope);
                for e in entries.iter().filter(|e| e.scope == n.scope) {
                    let own = if e.role < 63 { 1 << e.role } else { HIGH_ROLES };
                    prop_assert!(n.roles & own != 0, "role {} of scope {}", e.role, n.scope);
                }
            }
            for scope in absent {
                prop_assert_eq!(find(&near, &bloom, &far, scope), None);
            }
            let inline: Vec<u8> = near.runs().filter(|n| n.scope != NONE).map(|n| (n.scope % 8) as u8).collect();
            let deepest_inline = inline.iter().max().copied().unwrap_or(0);
            let held = want.len().min(NEAR);
            prop_assert_eq!(inline.len(), held);
            if want.len() > NEAR {
                let shallower_outside = want.keys().filter(|s| !near.runs().any(|n| n.scope == **s))
                    .any(|s| (*s % 8) < u32::from(deepest_inline));
                prop_assert!(!shallower_outside, "the shallowest runs are inline");
            }
        }
    }

    #[test]
    fn an_empty_list_has_no_runs() {
        let (near, bloom, far) = index(&[]);
        assert_eq!(near, NearRuns::EMPTY);
        assert_eq!(bloom, [0; 4]);
        assert_eq!(far.get(0), None);
        assert_eq!(far.heap_bytes(), 0);
    }
}
