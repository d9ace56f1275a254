//! Whom a validated identity signs in as: the linked user, one linked by verified email, or one
//! created; then the mapped groups' memberships follow the groups claim, and a session is issued.

use std::collections::BTreeMap;

use pim_domain::{AuditDraft, ErrorKind, Principal, PrincipalId, PrincipalKind, Timestamp};
use pim_store::{WriteTx, q};

use super::{OidcProviderOptions, VerifiedIdentity};
use crate::auth::{IssuedToken, issue_token};
use crate::engine::{Engine, index_principal};
use crate::error::{Result, refuse};
use crate::follow::Change;

/// How the user was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Matched {
    Linked,
    ByEmail,
    Created,
}

impl Matched {
    fn as_str(self) -> &'static str {
        match self {
            Matched::Linked => "linked",
            Matched::ByEmail => "linkedByEmail",
            Matched::Created => "created",
        }
    }
}

/// A string claim by name (`sub`, `email`, ... or one of the provider's own).
fn claim_str<'a>(i: &'a VerifiedIdentity, name: &str) -> Option<&'a str> {
    i.claims.get(name).and_then(|v| v.as_str()).filter(|s| !s.is_empty())
}

/// The groups claim: an array of strings (or one string); `None` when the token does not carry it
/// (absent, or moved elsewhere as Entra's group overage does with `_claim_names`), so it says
/// nothing about memberships.
fn claim_groups(i: &VerifiedIdentity, name: &str) -> Option<Vec<String>> {
    let overage = i.claims.get("_claim_names").and_then(|n| n.get(name)).is_some();
    match i.claims.get(name) {
        _ if overage => None,
        Some(serde_json::Value::Array(a)) => Some(a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()),
        Some(serde_json::Value::String(s)) => Some(vec![s.clone()]),
        _ => None,
    }
}

/// Per mapped pim group, whether the user should be a member (any of its IdP groups claimed) and
/// the IdP group that says so (else the first mapped one); `None` when the claim says nothing.
fn wanted_groups<'a>(o: &'a OidcProviderOptions, i: &VerifiedIdentity) -> Option<BTreeMap<&'a str, (bool, &'a str)>> {
    let claimed = claim_groups(i, &o.groups_claim)?;
    let mut want: BTreeMap<&str, (bool, &str)> = BTreeMap::new();
    for (idp_group, pim_group) in &o.group_map {
        let here = claimed.iter().any(|c| c == idp_group);
        let e = want.entry(pim_group.as_str()).or_insert((false, idp_group.as_str()));
        if here && !e.0 {
            *e = (true, idp_group.as_str());
        }
    }
    Some(want)
}

impl Engine {
    /// Matches the user, syncs the mapped groups and issues the session (one transaction) named
    /// `session.0` for `session.1` milliseconds; every grant (code or device) ends here.
    pub(super) async fn oidc_sign_in(
        &self,
        o: &OidcProviderOptions,
        mut draft: AuditDraft,
        i: &VerifiedIdentity,
        session: (Option<String>, i64),
    ) -> Result<(IssuedToken, Principal)> {
        let (token_name, lifetime_ms) = session;
        let now = self.now();
        let mfa_at = Self::oidc_mfa_at(o, i, now)?;
        let mut tx = self.store.write(now).await?;
        let (mut user, matched) = self.oidc_match(&mut tx, o, i, now).await?;
        draft.actor_id = Some(user.id);
        draft.actor_name = Some(user.name.clone());
        draft.principal_id = Some(user.id);
        if user.kind != PrincipalKind::User {
            return refuse(ErrorKind::InvalidCredentials, "only users sign in through OpenID Connect");
        }
        if !user.enabled {
            return refuse(ErrorKind::PrincipalDisabled, format!("{} is disabled; ask an administrator", user.name));
        }
        let mut changes = Vec::new();
        if matched == Matched::Created {
            changes.push(Change::Principal(user.id));
        }
        let memberships = self.oidc_sync_groups(&mut tx, o, i, &user, &draft, now).await?;
        changes.extend(memberships.iter().map(|(g, _)| Change::Membership(*g, user.id)));
        user.last_sign_in_at = Some(now);
        q::update_principal(tx.conn(), &user).await?;
        let name = token_name.unwrap_or_else(|| "sign-in".to_owned());
        let issued = issue_token(tx.conn(), user.id, name, now, now.plus_millis(lifetime_ms), mfa_at).await?;
        q::set_token_oidc(tx.conn(), issued.info.id, &o.name, &i.subject).await?;
        let grant = draft.details.get("grant").cloned().unwrap_or_else(|| serde_json::json!("code"));
        draft.details = serde_json::json!({
            "grant": grant,
            "method": "oidc",
            "provider": o.name,
            "subject": i.subject,
            "username": user.name,
            "tokenId": issued.info.id,
            "mfa": mfa_at.is_some(),
            "match": matched.as_str(),
        });
        tx.audit(now, draft).await?;
        if user.emergency_access {
            self.emergency_sign_in(&mut tx, now, &user).await?;
        }
        if !changes.is_empty() {
            self.record_changes(&mut tx, now, &changes).await?;
        }
        tx.commit().await?;
        if matched == Matched::Created {
            self.index.upsert_principal(index_principal(&user));
        }
        for (g, add) in memberships {
            self.index.set_membership(g, user.id, add);
        }
        Ok((issued, user))
    }

    /// The user of this identity: linked by `(provider, sub)`; else, as configured, linked by a
    /// verified email (only a plain enabled, non-emergency user not linked at any provider) or
    /// created; else refused.
    async fn oidc_match(
        &self,
        tx: &mut WriteTx,
        o: &OidcProviderOptions,
        i: &VerifiedIdentity,
        now: Timestamp,
    ) -> Result<(Principal, Matched)> {
        if let Some(id) = q::get_oidc_identity(tx.conn(), &o.name, &i.subject).await? {
            let p = q::get_principal(tx.conn(), id)
                .await?
                .ok_or_else(|| crate::error::EngineError::Internal(format!("linked principal {id} is missing")))?;
            q::touch_oidc_identity(tx.conn(), &o.name, &i.subject, now).await?;
            return Ok((p, Matched::Linked));
        }
        if o.link_by_verified_email
            && i.email_verified
            && let Some(email) = i.email.as_deref()
        {
            let found = q::users_with_email(tx.conn(), email).await?;
            // Only a plain enabled user never linked at any provider: an email claim must not
            // take over an account that signs in another way, nor a break-glass account.
            if let [id] = found.as_slice()
                && !q::principal_has_any_oidc_identity(tx.conn(), *id).await?
                && let Some(p) = q::get_principal(tx.conn(), *id).await?
                && p.kind == PrincipalKind::User
                && p.enabled
                && !p.emergency_access
            {
                q::insert_oidc_identity(tx.conn(), &o.name, &i.subject, p.id, Some(email), now).await?;
                return Ok((p, Matched::ByEmail));
            }
        }
        if !o.create_users {
            return refuse(
                ErrorKind::Forbidden,
                format!("no pim user for this identity at '{}'; ask an administrator", o.name),
            );
        }
        let Some(name) = claim_str(i, &o.username_claim) else {
            return refuse(
                ErrorKind::InvalidCredentials,
                format!("the ID token has no '{}' claim to name a new user", o.username_claim),
            );
        };
        if pim_domain::principal::validate_name(name).is_err() {
            return refuse(
                ErrorKind::InvalidCredentials,
                format!("the '{}' claim '{name}' is not a valid pim user name", o.username_claim),
            );
        }
        if q::get_principal_by_name(tx.conn(), name).await?.is_some() {
            return refuse(
                ErrorKind::NameTaken,
                format!("the user name '{name}' belongs to an existing pim user; ask an administrator to link it"),
            );
        }
        let email = i.email.clone().filter(|e| i.email_verified && crate::directory::validate_email(e).is_ok());
        let display = claim_str(i, "name")
            .filter(|d| d.len() <= 256 && !d.chars().any(char::is_control))
            .unwrap_or(name)
            .to_owned();
        let p = Principal {
            id: PrincipalId::new(),
            kind: PrincipalKind::User,
            name: name.to_owned(),
            display_name: display,
            email: email.clone(),
            description: None,
            manager_id: None,
            enabled: true,
            emergency_access: false,
            last_sign_in_at: None,
            created_at: now,
            updated_at: now,
        };
        q::insert_principal(tx.conn(), &p).await?;
        q::insert_oidc_identity(tx.conn(), &o.name, &i.subject, p.id, email.as_deref(), now).await?;
        let d = AuditDraft {
            action: "user.create".into(),
            actor_name: Some(format!("pim (OpenID Connect {})", o.name)),
            principal_id: Some(p.id),
            scope: Some(pim_domain::ScopePath::root()),
            details: serde_json::json!({ "name": p.name, "provider": o.name, "subject": i.subject }),
            ..AuditDraft::default()
        };
        tx.audit(now, d).await?;
        Ok((p, Matched::Created))
    }

    /// Brings the user's memberships of the mapped pim groups in line with the groups claim;
    /// answers the changes (group, added).
    async fn oidc_sync_groups(
        &self,
        tx: &mut WriteTx,
        o: &OidcProviderOptions,
        i: &VerifiedIdentity,
        user: &Principal,
        draft: &AuditDraft,
        now: Timestamp,
    ) -> Result<Vec<(PrincipalId, bool)>> {
        if o.group_map.is_empty() {
            return Ok(Vec::new());
        }
        let Some(wanted) = wanted_groups(o, i) else {
            tracing::info!(provider = %o.name, claim = %o.groups_claim, "no groups claim; memberships left alone");
            return Ok(Vec::new());
        };
        let current = q::list_groups_of(tx.conn(), user.id).await?;
        let mut out = Vec::new();
        for (pim_group, (want, idp_group)) in wanted {
            let Some(g) = q::get_principal_by_name(tx.conn(), pim_group).await? else {
                tracing::warn!(provider = %o.name, group = %pim_group, "group_map names no pim group");
                continue;
            };
            if g.kind != PrincipalKind::Group {
                continue;
            }
            let has = current.contains(&g.id);
            let changed = match (want, has) {
                (true, false) => q::add_member(tx.conn(), g.id, user.id, now).await?,
                (false, true) => q::remove_member(tx.conn(), g.id, user.id).await?,
                _ => false,
            };
            if changed {
                let mut d = draft.clone();
                d.action = if want { "group.addMember" } else { "group.removeMember" }.into();
                d.actor_id = None;
                d.actor_name = Some(format!("pim (OpenID Connect {})", o.name));
                d.scope = Some(pim_domain::ScopePath::for_group(g.id));
                d.principal_id = Some(user.id);
                d.details = serde_json::json!({ "groupId": g.id, "provider": o.name, "claim": idp_group });
                tx.audit(now, d).await?;
                out.push((g.id, want));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(claims: serde_json::Value) -> VerifiedIdentity {
        VerifiedIdentity {
            subject: "s".into(),
            email: None,
            email_verified: false,
            amr: Vec::new(),
            acr: None,
            auth_time: None,
            claims,
        }
    }

    #[test]
    fn an_absent_or_overage_groups_claim_says_nothing_and_any_mapped_idp_group_keeps_the_pim_group() {
        let mut o = OidcProviderOptions::new("corp", "https://idp.example.com", "pim");
        o.group_map = BTreeMap::from([
            ("a".to_owned(), "dba".to_owned()),
            ("b".to_owned(), "dba".to_owned()),
            ("c".to_owned(), "ops".to_owned()),
        ]);
        assert_eq!(wanted_groups(&o, &identity(serde_json::json!({ "sub": "s" }))), None, "absent");
        let overage = serde_json::json!({ "groups": [], "_claim_names": { "groups": "src1" } });
        assert_eq!(wanted_groups(&o, &identity(overage)), None, "Entra's overage");
        // Only the second IdP group of dba is claimed: dba is wanted (the first does not remove).
        let w = wanted_groups(&o, &identity(serde_json::json!({ "groups": ["b"] }))).expect("claimed");
        assert_eq!(w, BTreeMap::from([("dba", (true, "b")), ("ops", (false, "c"))]));
        let w = wanted_groups(&o, &identity(serde_json::json!({ "groups": [] }))).expect("claimed, empty");
        assert_eq!(w, BTreeMap::from([("dba", (false, "a")), ("ops", (false, "c"))]));
    }
}
