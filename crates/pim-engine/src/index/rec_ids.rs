//! The map from assignment id to record index, in 17 bytes a bucket instead of 21: keyed by the
//! id folded to 64 bits, with the rare ids whose fold clashes with another held id's in a second,
//! full map.

use std::collections::hash_map::Entry;

use pim_domain::AssignmentId;
use rustc_hash::FxHashMap;

use super::Rec;

/// Every held assignment id is in exactly one of the maps: `folded` under its fold when it was
/// free at insertion, else `clashes`. A `folded` entry always points at a live record whose id
/// folds to its key.
#[derive(Debug, Default)]
pub(super) struct RecIds {
    pub(super) folded: FxHashMap<u64, u32>,
    pub(super) clashes: FxHashMap<AssignmentId, u32>,
}

fn fold(id: AssignmentId) -> u64 {
    let v = id.0.as_u128();
    (v as u64) ^ ((v >> 64) as u64)
}

impl RecIds {
    /// The record of `id`, if held (`recs` tells a folded hit of another id apart).
    pub(super) fn get(&self, id: AssignmentId, recs: &[Rec]) -> Option<u32> {
        if let Some(&r) = self.folded.get(&fold(id))
            && recs.get(r as usize).is_some_and(|x| x.id == id)
        {
            return Some(r);
        }
        self.clashes.get(&id).copied()
    }

    /// Maps `id`, which is not held, to record `r`.
    pub(super) fn insert(&mut self, id: AssignmentId, r: u32) {
        match self.folded.entry(fold(id)) {
            Entry::Vacant(v) => {
                v.insert(r);
            }
            Entry::Occupied(_) => {
                self.clashes.insert(id, r);
            }
        }
    }

    /// Forgets `id`, held in record `r`.
    pub(super) fn remove(&mut self, id: AssignmentId, r: u32) {
        let k = fold(id);
        if self.folded.get(&k) == Some(&r) {
            self.folded.remove(&k);
        } else {
            self.clashes.remove(&id);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.folded.len() + self.clashes.len()
    }

    pub(super) fn reserve(&mut self, n: usize) {
        self.folded.reserve(n);
    }
}
