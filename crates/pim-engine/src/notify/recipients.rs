//! Resolving audiences to email addresses when a notice is written: users' addresses, groups'
//! nested current members', the holders of an action at a scope; disabled users and principals
//! without an address get nothing by email; every address once.

use std::collections::HashMap;

use pim_domain::{Principal, PrincipalId, PrincipalKind, Timestamp};
use pim_store::{AnyConnection, q};

use super::Audience;
use crate::engine::Engine;
use crate::error::Result;

/// Longest address accepted (RFC 5321's path limit).
const MAX_ADDRESS_LEN: usize = 254;

/// Whether `a` can be an email recipient: `local@domain`, no spaces, no control characters, no
/// list separators. (The SMTP library checks the full syntax when sending.)
pub(crate) fn plausible_address(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && a.len() <= MAX_ADDRESS_LEN
        && !a.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ';' | '<' | '>'))
}

impl Engine {
    /// The principal itself and, for a group, its members at `now` (transitively).
    fn expand(&self, id: PrincipalId, now: Timestamp, out: &mut Vec<PrincipalId>) {
        out.push(id);
        out.extend(self.index.members(id, now));
    }

    /// The email addresses `to` resolves to at `now`, each once (compared case-insensitively), in
    /// a stable order; `except`'s address is left out.
    /// Principals in `known` (read in the same transaction) are taken from there instead of
    /// being read again; those read here are returned beside the addresses.
    pub(crate) async fn addresses_known(
        &self,
        c: &mut AnyConnection,
        now: Timestamp,
        to: &[Audience],
        except: Option<PrincipalId>,
        known: &HashMap<PrincipalId, Principal>,
    ) -> Result<(Vec<String>, HashMap<PrincipalId, Principal>)> {
        let mut principals = Vec::new();
        let mut literal = Vec::new();
        for a in to {
            match a {
                Audience::Principal(id) => self.expand(*id, now, &mut principals),
                Audience::Approvers(list) => {
                    for r in list {
                        self.expand(r.id, now, &mut principals);
                    }
                }
                Audience::HoldersOf { action, scope } => {
                    principals.extend(self.index.holders(action, scope.as_str(), now));
                }
                Audience::Address(s) => literal.push(s.trim().to_owned()),
            }
        }
        principals.sort_unstable();
        principals.dedup();
        // The ones not known yet, in one statement.
        let unknown: Vec<PrincipalId> = principals.iter().copied().filter(|id| !known.contains_key(id)).collect();
        let read: HashMap<PrincipalId, Principal> = if unknown.is_empty() {
            HashMap::new()
        } else {
            q::get_principals(c, &unknown).await?.into_iter().map(|p| (p.id, p)).collect()
        };
        let mut out: Vec<String> = Vec::new();
        let mut excluded = None;
        for id in principals {
            let Some(p) = known.get(&id).or_else(|| read.get(&id)) else { continue };
            let Some(email) = p.email.as_deref().map(str::trim).filter(|e| plausible_address(e)) else { continue };
            if Some(id) == except {
                excluded = Some(email.to_lowercase());
                continue;
            }
            if p.kind == PrincipalKind::User && p.enabled {
                out.push(email.to_owned());
            }
        }
        for a in literal {
            if plausible_address(&a) {
                out.push(a);
            } else {
                tracing::warn!(address = %a, "not an email address; no notification is written for it");
            }
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|a| {
            let key = a.to_lowercase();
            Some(&key) != excluded.as_ref() && seen.insert(key)
        });
        Ok((out, read))
    }
}
