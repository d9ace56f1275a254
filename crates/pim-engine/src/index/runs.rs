//! Where each scope's run of entries begins in a long entry list, in a few cache lines: the runs
//! of the shallowest scopes inline in the slot, the others behind a Bloom filter (also inline) in
//! a flat open-addressed table.
//!
//! A check looks up the few ancestors of the requested scope that hold any assignment. In a
//! group's list the shallow ones (the root, a tenant) are the ones usually found, and they are
//! found in the slot's own lines; a deeper ancestor is usually ruled out by the filter, and a
//! table probe reads one line of a small array (no control bytes, no hashing of keys beyond one
//! multiplication).

use super::{Entry, NONE, len_u32};

/// How many runs a slot holds inline.
#[cfg(not(test))]
pub(super) const NEAR: usize = 5;
/// Few in tests, so that their small lists also use the filter and the table.
#[cfg(test)]
pub(super) const NEAR: usize = 2;

/// A run found without leaving the slot: its scope (`NONE` when unused) and first entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Near {
    pub(super) scope: u32,
    pub(super) from: u32,
}

impl Near {
    pub(super) const EMPTY: Near = Near { scope: NONE, from: 0 };
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

/// The word and bit of a scope in a list's Bloom filter.
fn bloom_bit(scope: u32) -> (usize, u64) {
    let h = scope.wrapping_mul(0x9E37_79B9) >> 24;
    ((h >> 6) as usize & 3, 1 << (h & 63))
}

/// Whether the filter may hold `scope`.
pub(super) fn bloom_has(bloom: &[u64; 4], scope: u32) -> bool {
    let (word, bit) = bloom_bit(scope);
    bloom[word] & bit != 0
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
pub(super) fn index(entries: &[Entry]) -> ([Near; NEAR], [u64; 4], FarRuns) {
    let mut runs: Vec<(u8, u32, u32)> = Vec::new();
    let mut from = 0;
    for run in entries.chunk_by(|a, b| a.scope == b.scope) {
        if let Some(first) = run.first() {
            runs.push((first.depth, first.scope, len_u32(from)));
        }
        from += run.len();
    }
    runs.sort_by_key(|&(depth, _, from)| (depth, from));
    let mut near = [Near::EMPTY; NEAR];
    for (n, &(_, scope, from)) in near.iter_mut().zip(&runs) {
        *n = Near { scope, from };
    }
    let far: Vec<(u32, u32)> = runs.iter().skip(NEAR).map(|&(_, scope, from)| (scope, from)).collect();
    let mut bloom = [0; 4];
    for &(scope, _) in &far {
        let (word, bit) = bloom_bit(scope);
        bloom[word] |= bit;
    }
    (near, bloom, FarRuns::new(&far))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use proptest::prelude::*;

    fn entry(scope: u32, depth: u8) -> Entry {
        Entry { start: 0, end: 0, rec: 0, scope, role: 0, depth }
    }

    /// Where the directory says `scope`'s run begins, as a check looks it up.
    fn find(near: &[Near; NEAR], bloom: &[u64; 4], far: &FarRuns, scope: u32) -> Option<u32> {
        match near.iter().find(|n| n.scope == scope) {
            Some(n) => Some(n.from),
            None if bloom_has(bloom, scope) => far.get(scope),
            None => None,
        }
    }

    proptest! {
        /// Every run is found at its first entry, the shallowest inline; no other scope is found.
        #[test]
        fn every_run_is_found_and_nothing_else(
            scopes in prop::collection::vec((0u32..3000, 0u8..8), 0..300),
            absent in prop::collection::vec(3000u32..u32::MAX, 0..50),
        ) {
            let mut entries: Vec<Entry> = scopes.iter().map(|&(s, _)| entry(s, (s % 8) as u8)).collect();
            entries.sort_by_key(|e| e.scope);
            let mut want: BTreeMap<u32, u32> = BTreeMap::new();
            for (i, e) in entries.iter().enumerate() {
                want.entry(e.scope).or_insert(len_u32(i));
            }
            let (near, bloom, far) = index(&entries);
            for (&scope, &from) in &want {
                prop_assert_eq!(find(&near, &bloom, &far, scope), Some(from), "scope {}", scope);
            }
            for scope in absent {
                prop_assert_eq!(find(&near, &bloom, &far, scope), None);
            }
            let inline: Vec<u8> = near.iter().filter(|n| n.scope != NONE).map(|n| (n.scope % 8) as u8).collect();
            let deepest_inline = inline.iter().max().copied().unwrap_or(0);
            let held = want.len().min(NEAR);
            prop_assert_eq!(inline.len(), held);
            if want.len() > NEAR {
                let shallower_outside = want.keys().filter(|s| !near.iter().any(|n| n.scope == **s))
                    .any(|s| (*s % 8) < u32::from(deepest_inline));
                prop_assert!(!shallower_outside, "the shallowest runs are inline");
            }
        }
    }

    #[test]
    fn an_empty_list_has_no_runs() {
        let (near, bloom, far) = index(&[]);
        assert_eq!(near, [Near::EMPTY; NEAR]);
        assert_eq!(bloom, [0; 4]);
        assert_eq!(far.get(0), None);
        assert_eq!(far.heap_bytes(), 0);
    }
}
