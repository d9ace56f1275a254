//! Which grant in effect a certificate relies on: of the caller's grants (narrowed by the role and
//! scope asked for), those whose role has SSH principals there; one role at one scope, or a refusal
//! that says what to ask for.

use pim_domain::{DomainError, ErrorKind, RoleId, ScopePath};

use crate::index::Grant;

/// A grant in effect, with the SSH principals its role has at the scope concerned.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The grant (assignment, role, scope, end).
    pub grant: Grant,
    /// The role's name.
    pub role_name: String,
    /// Where the settings were read: the scope asked for, else the grant's.
    pub at: ScopePath,
    /// The SSH principals of the role's settings in force at `at`.
    pub principals: Vec<String>,
}

fn label(c: &Candidate) -> String {
    format!("{} at {}", c.role_name, c.at)
}

fn labels<'a>(list: impl Iterator<Item = &'a Candidate>) -> String {
    let mut v: Vec<String> = list.map(label).collect();
    v.sort();
    v.dedup();
    v.join(", ")
}

/// Chooses among `candidates` (already narrowed by role and scope); `asked` describes the narrowing
/// for messages (e.g. " of role Ops at /a").
pub fn choose(candidates: Vec<Candidate>, asked: &str) -> Result<Candidate, DomainError> {
    if candidates.is_empty() {
        return Err(DomainError::new(
            ErrorKind::NotActive,
            format!("no assignment{asked} is in effect for you now: activate a role first (pim activate --wait)"),
        ));
    }
    let (with, without): (Vec<Candidate>, Vec<Candidate>) =
        candidates.into_iter().partition(|c| !c.principals.is_empty());
    if with.is_empty() {
        return Err(DomainError::new(
            ErrorKind::NoSshPrincipals,
            format!(
                "no SSH principals are set for {} (an administrator sets them: pim settings set ROLE --ssh-principal NAME)",
                labels(without.iter())
            ),
        ));
    }
    let mut keys: Vec<(RoleId, &ScopePath)> = with.iter().map(|c| (c.grant.role_id, &c.at)).collect();
    keys.sort_by(|a, b| (a.0.to_string(), a.1.as_str()).cmp(&(b.0.to_string(), b.1.as_str())));
    keys.dedup();
    if keys.len() > 1 {
        return Err(DomainError::new(
            ErrorKind::AssignmentAmbiguous,
            format!(
                "several assignments in effect have SSH principals: {}; choose one with --role and --scope (role and scope in the API)",
                labels(with.iter())
            ),
        ));
    }
    // One role at one scope (held directly and through groups, perhaps): the one ending last.
    let best = with.into_iter().max_by_key(|c| (c.grant.ends_at.is_none(), c.grant.ends_at.map(|t| t.0)));
    best.ok_or_else(|| DomainError::new(ErrorKind::NotActive, "no assignment is in effect"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pim_domain::{AssignmentId, PrincipalId, Timestamp};

    fn cand(role: RoleId, name: &str, at: &str, principals: &[&str], ends: Option<i64>) -> Candidate {
        Candidate {
            grant: Grant {
                assignment_id: AssignmentId::new(),
                role_id: role,
                scope: at.into(),
                holder: PrincipalId::new(),
                via_group: None,
                ends_at: ends.map(Timestamp),
            },
            role_name: name.into(),
            at: ScopePath::parse(at).unwrap(),
            principals: principals.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn nothing_in_effect_is_not_active() {
        let e = choose(vec![], " of role Ops").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotActive);
        assert!(e.message.contains("no assignment of role Ops is in effect"), "{}", e.message);
    }

    #[test]
    fn roles_without_principals_are_named() {
        let e = choose(vec![cand(RoleId::new(), "Reader", "/a", &[], None)], "").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NoSshPrincipals);
        assert!(e.message.contains("Reader at /a"), "{}", e.message);
    }

    #[test]
    fn the_one_with_principals_is_chosen_and_several_are_listed() {
        let (ops, db) = (RoleId::new(), RoleId::new());
        let only = choose(
            vec![cand(RoleId::new(), "Reader", "/", &[], None), cand(ops, "Ops", "/a", &["deploy"], Some(5))],
            "",
        )
        .unwrap();
        assert_eq!(only.role_name, "Ops");
        let e = choose(vec![cand(ops, "Ops", "/a", &["deploy"], None), cand(db, "DB", "/b", &["postgres"], None)], "")
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::AssignmentAmbiguous);
        assert!(e.message.contains("DB at /b, Ops at /a"), "{}", e.message);
        // The same role at the same scope twice (directly and through a group): the later end.
        let later = choose(
            vec![cand(ops, "Ops", "/a", &["deploy"], Some(5)), cand(ops, "Ops", "/a", &["deploy"], Some(9))],
            "",
        )
        .unwrap();
        assert_eq!(later.grant.ends_at, Some(Timestamp(9)));
        let permanent =
            choose(vec![cand(ops, "Ops", "/a", &["x"], Some(9)), cand(ops, "Ops", "/a", &["x"], None)], "").unwrap();
        assert_eq!(permanent.grant.ends_at, None, "permanent beats any end");
    }
}
