//! The users and groups a SCIM client reads and writes. Every write is one transaction through the
//! directory's own paths: the disable cascade, the membership changes (cycle check, audit event,
//! change feed and connector work), the index updated after commit. Emergency access accounts and
//! service principals are invisible to SCIM; deleted resources are disabled and renamed, never
//! deleted. A client reads every user and group it sees but writes only those it created (and
//! adds only those as members); the others answer 404 to its writes.

use std::collections::{HashMap, HashSet};

use pim_domain::principal::{MAX_NAME_LEN, validate_name};
use pim_domain::{AuditDraft, DomainError, ErrorKind, Principal, PrincipalId, PrincipalKind, ScopePath, Timestamp};
use pim_scim::resource::{GroupWrite, UserWrite};
use pim_scim::schema::ResourceKind;
use pim_store::q::{self, ScimDocument};
use pim_store::{AnyConnection, WriteTx};
use serde_json::Value;

use super::ScimAuthority;
use crate::context::Context;
use crate::directory::{disable_cascade, validate_email, validate_text};
use crate::engine::{Engine, index_principal};
use crate::error::{Result, refuse};
use crate::follow::Change;

/// A user or group as SCIM sees it.
#[derive(Clone, Debug)]
pub struct ScimRecord {
    /// The principal.
    pub principal: Principal,
    /// Its stored SCIM document (`{}` when SCIM never wrote it).
    pub doc: Value,
    /// When it last changed (the principal or its document).
    pub modified: Timestamp,
    /// A user's groups, or a group's members (users and groups), that SCIM sees.
    pub related: Vec<Principal>,
}

/// What a group write does to its members.
#[derive(Clone, Debug)]
pub enum ScimMembers {
    /// Exactly these (members SCIM does not see are kept).
    Replace(Vec<String>),
    /// Add and remove these (a PATCH), leaving the others.
    Change {
        /// Ids to add.
        add: Vec<String>,
        /// Ids to remove.
        remove: Vec<String>,
    },
}

fn principal_kind(kind: ResourceKind) -> PrincipalKind {
    match kind {
        ResourceKind::User => PrincipalKind::User,
        ResourceKind::Group => PrincipalKind::Group,
    }
}

/// Whether SCIM sees `p` as a resource of `kind`.
fn visible(p: &Principal, doc: Option<&ScimDocument>, kind: ResourceKind) -> bool {
    p.kind == principal_kind(kind)
        && !(p.kind == PrincipalKind::User && p.emergency_access)
        && doc.is_none_or(|d| d.deleted_at.is_none())
}

/// Whether `auth`'s client owns the principal of `doc`: a client writes only the users and groups
/// it created itself, never an administrator's, another client's or one SCIM deleted.
fn owned(doc: Option<&ScimDocument>, auth: &ScimAuthority) -> bool {
    doc.is_some_and(|d| d.client_id == Some(auth.client) && d.deleted_at.is_none())
}

/// Whether SCIM sees `p` as a user or a group.
fn visible_any(p: &Principal, doc: Option<&ScimDocument>) -> bool {
    visible(p, doc, ResourceKind::User) || visible(p, doc, ResourceKind::Group)
}

fn not_found(kind: ResourceKind, id: &str) -> crate::error::EngineError {
    DomainError::not_found(format!("{} '{id}'", kind.name())).into()
}

/// pim's unique name for a group called `display` (pim names allow letters, digits and `. _ - @ +`).
pub fn group_name(display: &str) -> String {
    let mut out = String::new();
    for c in display.trim().chars() {
        let c = if c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+') { c } else { '-' };
        if out.len() + c.len_utf8() > MAX_NAME_LEN {
            break;
        }
        out.push(c);
    }
    if out.is_empty() { "group".to_owned() } else { out }
}

/// The name a deleted principal is renamed to, so the identity provider may reuse its name.
fn deleted_name(p: &Principal) -> String {
    let suffix = format!(".deleted-{}", p.id.as_uuid().simple());
    let mut base = String::new();
    for c in p.name.chars() {
        if base.len() + c.len_utf8() + suffix.len() > MAX_NAME_LEN {
            break;
        }
        base.push(c);
    }
    format!("{base}{suffix}")
}

fn with_client(mut details: Value, auth: &ScimAuthority) -> Value {
    if !details.is_object() {
        details = serde_json::json!({});
    }
    details["scimClient"] = Value::String(auth.name.clone());
    details["scimClientId"] = Value::String(auth.client.to_string());
    details
}

fn modified(p: &Principal, d: Option<&ScimDocument>) -> Timestamp {
    d.map_or(p.updated_at, |d| d.updated_at.max(p.updated_at))
}

impl Engine {
    fn scim_draft(&self, ctx: &Context, auth: &ScimAuthority, action: &str, details: Value) -> AuditDraft {
        let mut d = self.draft(ctx, action);
        d.scope = Some(ScopePath::root());
        d.details = with_client(details, auth);
        d
    }

    async fn load_visible(
        &self,
        c: &mut AnyConnection,
        kind: ResourceKind,
        id: &str,
    ) -> Result<(Principal, Option<ScimDocument>)> {
        let pid = id.parse::<PrincipalId>().map_err(|_| not_found(kind, id))?;
        let p = q::get_principal(c, pid).await?.ok_or_else(|| not_found(kind, id))?;
        let d = q::get_scim_document(c, pid).await?;
        if !visible(&p, d.as_ref(), kind) {
            return Err(not_found(kind, id));
        }
        Ok((p, d))
    }

    /// A user or group that `auth`'s client may write: one it created. The others answer as if
    /// they did not exist.
    async fn load_owned(
        &self,
        c: &mut AnyConnection,
        auth: &ScimAuthority,
        kind: ResourceKind,
        id: &str,
    ) -> Result<(Principal, Option<ScimDocument>)> {
        let (p, d) = self.load_visible(c, kind, id).await?;
        if !owned(d.as_ref(), auth) {
            return Err(not_found(kind, id));
        }
        Ok((p, d))
    }

    /// Refuses a write computed from version `expect` of `p` when `p` changed since (checked inside
    /// the write transaction, so a concurrent deprovisioning is never undone).
    fn check_version(&self, p: &Principal, d: Option<&ScimDocument>, expect: Option<Timestamp>) -> Result<()> {
        match expect {
            Some(v) if modified(p, d) != v => {
                refuse(ErrorKind::VersionChanged, "the resource changed since it was read; read it again")
            }
            _ => Ok(()),
        }
    }

    /// The members of `group` that `auth`'s client created (the ones its writes may remove).
    async fn owned_members(
        &self,
        c: &mut AnyConnection,
        auth: &ScimAuthority,
        group: PrincipalId,
    ) -> Result<Vec<Principal>> {
        let mut out = Vec::new();
        for id in q::list_members(c, group).await? {
            let Some(m) = q::get_principal(c, id).await? else { continue };
            let d = q::get_scim_document(c, id).await?;
            if visible_any(&m, d.as_ref()) && owned(d.as_ref(), auth) {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// The users or groups related to `p` that SCIM sees (a user's groups, a group's members).
    async fn related(&self, c: &mut AnyConnection, p: &Principal) -> Result<Vec<Principal>> {
        let ids = match p.kind {
            PrincipalKind::Group => q::list_members(c, p.id).await?,
            _ => q::list_groups_of(c, p.id).await?,
        };
        let mut out = Vec::new();
        for id in ids {
            let Some(r) = q::get_principal(c, id).await? else { continue };
            let d = q::get_scim_document(c, id).await?;
            if visible_any(&r, d.as_ref()) {
                out.push(r);
            }
        }
        Ok(out)
    }

    async fn record(&self, c: &mut AnyConnection, p: Principal, d: Option<ScimDocument>) -> Result<ScimRecord> {
        let related = self.related(c, &p).await?;
        let modified = modified(&p, d.as_ref());
        Ok(ScimRecord { doc: d.map_or_else(|| serde_json::json!({}), |d| d.document), principal: p, modified, related })
    }

    /// One user or group by id, as SCIM sees it.
    pub async fn scim_get(&self, ctx: &Context, kind: ResourceKind, id: &str) -> Result<ScimRecord> {
        self.scim_authority(ctx)?;
        let mut c = self.store.read().await?;
        let (p, d) = self.load_visible(&mut c, kind, id).await?;
        self.record(&mut c, p, d).await
    }

    /// Every user or group SCIM sees, by id.
    pub async fn scim_list(&self, ctx: &Context, kind: ResourceKind) -> Result<Vec<ScimRecord>> {
        self.scim_authority(ctx)?;
        let mut c = self.store.read().await?;
        let f = q::PrincipalFilter { kind: Some(principal_kind(kind)), name_prefix: None, after: None, limit: 0 };
        let principals = q::list_principals(&mut c, &f).await?;
        let mut docs: HashMap<PrincipalId, ScimDocument> =
            q::all_scim_documents(&mut c).await?.into_iter().map(|d| (d.principal_id, d)).collect();
        let memberships = q::all_memberships(&mut c).await?;
        // Who may appear as a group or member: every visible principal of either kind.
        let others = q::list_principals(
            &mut c,
            &q::PrincipalFilter {
                kind: Some(match kind {
                    ResourceKind::User => PrincipalKind::Group,
                    ResourceKind::Group => PrincipalKind::User,
                }),
                name_prefix: None,
                after: None,
                limit: 0,
            },
        )
        .await?;
        drop(c);
        let mut by_id: HashMap<PrincipalId, Principal> = HashMap::new();
        for p in principals.iter().chain(others.iter()) {
            if visible_any(p, docs.get(&p.id)) {
                by_id.insert(p.id, p.clone());
            }
        }
        let mut related: HashMap<PrincipalId, Vec<PrincipalId>> = HashMap::new();
        for (group, member) in memberships {
            let (owner, other) = match kind {
                ResourceKind::User => (member, group),
                ResourceKind::Group => (group, member),
            };
            related.entry(owner).or_default().push(other);
        }
        let mut out = Vec::new();
        for p in principals {
            let d = docs.remove(&p.id);
            if !visible(&p, d.as_ref(), kind) {
                continue;
            }
            let mut rel: Vec<Principal> = related
                .get(&p.id)
                .map(|ids| ids.iter().filter_map(|id| by_id.get(id).cloned()).collect())
                .unwrap_or_default();
            rel.sort_by_key(|r| r.id);
            let modified = modified(&p, d.as_ref());
            out.push(ScimRecord {
                doc: d.map_or_else(|| serde_json::json!({}), |d| d.document),
                principal: p,
                modified,
                related: rel,
            });
        }
        Ok(out)
    }

    /// The users or groups whose `attr` (`userName`, `externalId` or a group's `displayName`)
    /// equals `value`, found without a scan; `None` when `attr` has no such lookup.
    pub async fn scim_find(
        &self,
        ctx: &Context,
        kind: ResourceKind,
        attr: &str,
        value: &str,
    ) -> Result<Option<Vec<ScimRecord>>> {
        self.scim_authority(ctx)?;
        let mut c = self.store.read().await?;
        let mut found: Vec<(Principal, Option<ScimDocument>)> = Vec::new();
        match (kind, attr) {
            (ResourceKind::User, "userName") => {
                if let Some(p) = q::get_principal_by_name(&mut c, value).await? {
                    let d = q::get_scim_document(&mut c, p.id).await?;
                    found.push((p, d));
                }
            }
            (ResourceKind::Group, "displayName") => {
                // SCIM's groups are named after their display name; others are found by a scan.
                let hit = match q::get_principal_by_name(&mut c, &group_name(value)).await? {
                    Some(p) if p.display_name.eq_ignore_ascii_case(value) => Some(p),
                    _ => None,
                };
                match hit {
                    Some(p) => {
                        let d = q::get_scim_document(&mut c, p.id).await?;
                        found.push((p, d));
                    }
                    None => return Ok(None),
                }
            }
            (_, "externalId") => {
                for d in q::scim_documents_by_external_id(&mut c, value).await? {
                    if let Some(p) = q::get_principal(&mut c, d.principal_id).await? {
                        found.push((p, Some(d)));
                    }
                }
            }
            _ => return Ok(None),
        }
        let mut out = Vec::new();
        for (p, d) in found {
            if visible(&p, d.as_ref(), kind) {
                out.push(self.record(&mut c, p, d).await?);
            }
        }
        Ok(Some(out))
    }

    async fn scim_manager(
        &self,
        c: &mut AnyConnection,
        user: PrincipalId,
        m: Option<&str>,
    ) -> Result<Option<PrincipalId>> {
        let Some(m) = m else { return Ok(None) };
        let bad = || DomainError::invalid(format!("the manager '{m}' is not a user provisioned to pim"));
        let id = m.parse::<PrincipalId>().map_err(|_| bad())?;
        if id == user {
            return refuse(ErrorKind::InvalidInput, "a user cannot be their own manager");
        }
        let p = q::get_principal(c, id).await?.ok_or_else(bad)?;
        let d = q::get_scim_document(c, id).await?;
        if !visible(&p, d.as_ref(), ResourceKind::User) {
            return Err(bad().into());
        }
        Ok(Some(id))
    }

    fn check_user(&self, w: &UserWrite) -> Result<()> {
        validate_name(&w.user_name)?;
        validate_text("displayName", &w.display_name, 256)?;
        if let Some(e) = &w.email {
            validate_email(e)?;
        }
        Ok(())
    }

    /// Creates a user (`POST /Users`).
    pub async fn scim_create_user(&self, ctx: &Context, w: UserWrite) -> Result<ScimRecord> {
        let auth = self.scim_authority(ctx)?.clone();
        let draft = self.scim_draft(ctx, &auth, "user.create", serde_json::json!({ "name": w.user_name }));
        self.audited(draft.clone(), async {
            self.check_user(&w)?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            if q::get_principal_by_name(tx.conn(), &w.user_name).await?.is_some() {
                return refuse(ErrorKind::NameTaken, format!("the userName '{}' is already taken", w.user_name));
            }
            let id = PrincipalId::new();
            let manager_id = self.scim_manager(tx.conn(), id, w.manager.as_deref()).await?;
            let p = Principal {
                id,
                kind: PrincipalKind::User,
                name: w.user_name.clone(),
                display_name: w.display_name.clone(),
                email: w.email.clone(),
                description: None,
                manager_id,
                enabled: w.active,
                emergency_access: false,
                last_sign_in_at: None,
                created_at: now,
                updated_at: now,
            };
            q::insert_principal(tx.conn(), &p).await?;
            let doc = ScimDocument {
                principal_id: id,
                external_id: w.external_id.clone(),
                document: w.doc.clone(),
                client_id: Some(auth.client),
                updated_at: now,
                deleted_at: None,
            };
            q::put_scim_document(tx.conn(), &doc).await?;
            let mut d = draft.clone();
            d.principal_id = Some(id);
            d.details["externalId"] = serde_json::json!(w.external_id);
            d.details["enabled"] = Value::Bool(p.enabled);
            tx.audit(now, d).await?;
            self.record_changes(&mut tx, now, &[Change::Principal(id)]).await?;
            tx.commit().await?;
            self.index.upsert_principal(index_principal(&p));
            Ok(ScimRecord { principal: p, doc: w.doc.clone(), modified: now, related: Vec::new() })
        })
        .await
    }

    /// Replaces a user (`PUT /Users/{id}`, and every PATCH once applied). `active: false` runs the
    /// disable cascade in the same transaction; `active: true` enables only a user SCIM disabled
    /// (one a pim administrator disabled stays disabled).
    /// With `expect` (the `modified` of the record the write was computed from), a user changed
    /// since is refused (`VersionChanged`).
    pub async fn scim_replace_user(
        &self,
        ctx: &Context,
        id: &str,
        w: UserWrite,
        expect: Option<Timestamp>,
    ) -> Result<ScimRecord> {
        let auth = self.scim_authority(ctx)?.clone();
        let mut draft = self.scim_draft(ctx, &auth, "user.update", serde_json::json!({}));
        if let Ok(pid) = id.parse::<PrincipalId>() {
            draft.principal_id = Some(pid);
        }
        self.audited(draft.clone(), async {
            self.check_user(&w)?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let (mut p, doc) = self.load_owned(tx.conn(), &auth, ResourceKind::User, id).await?;
            self.check_version(&p, doc.as_ref(), expect)?;
            let mut changed: Vec<&str> = Vec::new();
            if p.name != w.user_name {
                if let Some(other) = q::get_principal_by_name(tx.conn(), &w.user_name).await?
                    && other.id != p.id
                {
                    return refuse(ErrorKind::NameTaken, format!("the userName '{}' is already taken", w.user_name));
                }
                p.name = w.user_name.clone();
                changed.push("name");
            }
            if p.display_name != w.display_name {
                p.display_name = w.display_name.clone();
                changed.push("displayName");
            }
            if p.email != w.email {
                p.email = w.email.clone();
                changed.push("email");
            }
            let manager = self.scim_manager(tx.conn(), p.id, w.manager.as_deref()).await?;
            if p.manager_id != manager {
                p.manager_id = manager;
                changed.push("managerId");
            }
            // SCIM undoes only its own disable: a user disabled while SCIM last said active was
            // disabled by a pim administrator and stays disabled.
            let scim_disabled = doc.as_ref().is_some_and(|d| d.document.get("active") == Some(&Value::Bool(false)));
            let active = w.active && (p.enabled || scim_disabled);
            let mut revoked = Vec::new();
            if p.enabled != active {
                if !active {
                    revoked = disable_cascade(tx.conn(), now, p.id).await?;
                }
                p.enabled = active;
                changed.push("enabled");
            }
            p.updated_at = now;
            q::update_principal(tx.conn(), &p).await?;
            let doc = ScimDocument {
                principal_id: p.id,
                external_id: w.external_id.clone(),
                document: w.doc.clone(),
                client_id: Some(auth.client),
                updated_at: now,
                deleted_at: None,
            };
            q::put_scim_document(tx.conn(), &doc).await?;
            let mut d = draft.clone();
            d.details["changed"] = serde_json::json!(changed);
            d.details["enabled"] = Value::Bool(p.enabled);
            if !revoked.is_empty() {
                d.details["revokedTokens"] = serde_json::json!(revoked.len());
            }
            tx.audit(now, d).await?;
            self.record_changes(&mut tx, now, &[Change::Principal(p.id)]).await?;
            let related = self.related(tx.conn(), &p).await?;
            tx.commit().await?;
            self.tokens.forget_principal(p.id);
            self.index.upsert_principal(index_principal(&p));
            Ok(ScimRecord { principal: p, doc: w.doc.clone(), modified: now, related })
        })
        .await
    }

    /// Resolves member ids to users and groups `auth`'s client created, refusing the others.
    async fn scim_members(
        &self,
        c: &mut AnyConnection,
        auth: &ScimAuthority,
        ids: &[String],
    ) -> Result<Vec<Principal>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            let bad = || {
                DomainError::invalid(format!("the member '{id}' is not a user or group this SCIM client provisioned"))
            };
            let pid = id.parse::<PrincipalId>().map_err(|_| bad())?;
            if !seen.insert(pid) {
                continue;
            }
            let p = q::get_principal(c, pid).await?.ok_or_else(bad)?;
            let d = q::get_scim_document(c, pid).await?;
            if !visible_any(&p, d.as_ref()) || !owned(d.as_ref(), auth) {
                return Err(bad().into());
            }
            out.push(p);
        }
        Ok(out)
    }

    /// Changes `group`'s memberships inside `tx`, each audited with its connector work; returns
    /// what the index must learn after commit.
    #[allow(clippy::too_many_arguments)]
    async fn scim_apply_members(
        &self,
        ctx: &Context,
        auth: &ScimAuthority,
        tx: &mut WriteTx,
        now: Timestamp,
        group: PrincipalId,
        add: &[Principal],
        remove: &[Principal],
    ) -> Result<Vec<(PrincipalId, bool)>> {
        let mut done = Vec::new();
        for (list, adding) in [(remove, false), (add, true)] {
            for m in list {
                let mut d = self.scim_draft(
                    ctx,
                    auth,
                    if adding { "group.addMember" } else { "group.removeMember" },
                    serde_json::json!({ "groupId": group }),
                );
                d.scope = Some(ScopePath::for_group(group));
                d.principal_id = Some(m.id);
                if self.membership_in_tx(tx, now, group, m, adding, d).await? {
                    done.push((m.id, adding));
                }
            }
        }
        Ok(done)
    }

    fn check_group(&self, w: &GroupWrite) -> Result<String> {
        validate_text("displayName", &w.display_name, 256)?;
        let name = group_name(&w.display_name);
        validate_name(&name)?;
        Ok(name)
    }

    /// Creates a group with its members (`POST /Groups`).
    pub async fn scim_create_group(&self, ctx: &Context, w: GroupWrite) -> Result<ScimRecord> {
        let auth = self.scim_authority(ctx)?.clone();
        let draft = self.scim_draft(ctx, &auth, "group.create", serde_json::json!({ "name": w.display_name }));
        self.audited(draft.clone(), async {
            let name = self.check_group(&w)?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            if q::get_principal_by_name(tx.conn(), &name).await?.is_some() {
                return refuse(ErrorKind::NameTaken, format!("the name '{name}' is already taken"));
            }
            let members = self.scim_members(tx.conn(), &auth, &w.members).await?;
            let p = Principal {
                id: PrincipalId::new(),
                kind: PrincipalKind::Group,
                name,
                display_name: w.display_name.clone(),
                email: None,
                description: None,
                manager_id: None,
                enabled: true,
                emergency_access: false,
                last_sign_in_at: None,
                created_at: now,
                updated_at: now,
            };
            q::insert_principal(tx.conn(), &p).await?;
            let doc = ScimDocument {
                principal_id: p.id,
                external_id: w.external_id.clone(),
                document: w.doc.clone(),
                client_id: Some(auth.client),
                updated_at: now,
                deleted_at: None,
            };
            q::put_scim_document(tx.conn(), &doc).await?;
            let mut d = draft.clone();
            d.principal_id = Some(p.id);
            d.details["externalId"] = serde_json::json!(w.external_id);
            tx.audit(now, d).await?;
            self.record_changes(&mut tx, now, &[Change::Principal(p.id)]).await?;
            let done = self.scim_apply_members(ctx, &auth, &mut tx, now, p.id, &members, &[]).await?;
            tx.commit().await?;
            self.index.upsert_principal(index_principal(&p));
            for (m, add) in done {
                self.index.set_membership(p.id, m, add);
            }
            Ok(ScimRecord { principal: p, doc: w.doc.clone(), modified: now, related: members })
        })
        .await
    }

    /// Replaces a group's name and document and changes its members (`PUT` and `PATCH /Groups/{id}`);
    /// `expect` as for [`Engine::scim_replace_user`].
    pub async fn scim_replace_group(
        &self,
        ctx: &Context,
        id: &str,
        w: GroupWrite,
        members: ScimMembers,
        expect: Option<Timestamp>,
    ) -> Result<ScimRecord> {
        let auth = self.scim_authority(ctx)?.clone();
        let mut draft = self.scim_draft(ctx, &auth, "group.update", serde_json::json!({}));
        if let Ok(pid) = id.parse::<PrincipalId>() {
            draft.principal_id = Some(pid);
        }
        self.audited(draft.clone(), async {
            let name = self.check_group(&w)?;
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let (mut p, doc) = self.load_owned(tx.conn(), &auth, ResourceKind::Group, id).await?;
            self.check_version(&p, doc.as_ref(), expect)?;
            let mut changed: Vec<&str> = Vec::new();
            if p.display_name != w.display_name {
                if p.name != name {
                    if let Some(other) = q::get_principal_by_name(tx.conn(), &name).await?
                        && other.id != p.id
                    {
                        return refuse(ErrorKind::NameTaken, format!("the name '{name}' is already taken"));
                    }
                    p.name = name;
                    changed.push("name");
                }
                p.display_name = w.display_name.clone();
                changed.push("displayName");
            }
            // Only the members this client created are its to remove; the others are kept.
            let current = self.owned_members(tx.conn(), &auth, p.id).await?;
            let (add, remove) = match &members {
                ScimMembers::Replace(ids) => {
                    let want = self.scim_members(tx.conn(), &auth, ids).await?;
                    let add: Vec<Principal> =
                        want.iter().filter(|m| !current.iter().any(|c| c.id == m.id)).cloned().collect();
                    let remove: Vec<Principal> =
                        current.iter().filter(|c| !want.iter().any(|m| m.id == c.id)).cloned().collect();
                    (add, remove)
                }
                ScimMembers::Change { add, remove } => {
                    let add = self.scim_members(tx.conn(), &auth, add).await?;
                    // Removing a member that is not there (or no longer exists) is not an error.
                    let remove: Vec<Principal> =
                        current.iter().filter(|c| remove.iter().any(|r| *r == c.id.to_string())).cloned().collect();
                    (add, remove)
                }
            };
            p.updated_at = now;
            q::update_principal(tx.conn(), &p).await?;
            let doc = ScimDocument {
                principal_id: p.id,
                external_id: w.external_id.clone(),
                document: w.doc.clone(),
                client_id: Some(auth.client),
                updated_at: now,
                deleted_at: None,
            };
            q::put_scim_document(tx.conn(), &doc).await?;
            let mut d = draft.clone();
            d.details["changed"] = serde_json::json!(changed);
            d.details["membersAdded"] = serde_json::json!(add.len());
            d.details["membersRemoved"] = serde_json::json!(remove.len());
            tx.audit(now, d).await?;
            self.record_changes(&mut tx, now, &[Change::Principal(p.id)]).await?;
            let done = self.scim_apply_members(ctx, &auth, &mut tx, now, p.id, &add, &remove).await?;
            let related = self.related(tx.conn(), &p).await?;
            tx.commit().await?;
            self.index.upsert_principal(index_principal(&p));
            for (m, add) in done {
                self.index.set_membership(p.id, m, add);
            }
            Ok(ScimRecord { principal: p, doc: w.doc.clone(), modified: now, related })
        })
        .await
    }

    /// Deletes a user or group as SCIM sees it (`DELETE`): pim never deletes principals, so it is
    /// disabled (the cascade: tokens and sessions revoked, access ended at once, connectors told),
    /// a group also loses the members this client created, it is renamed so its name can be used again, and SCIM no
    /// longer sees it.
    pub async fn scim_delete(&self, ctx: &Context, kind: ResourceKind, id: &str) -> Result<()> {
        let auth = self.scim_authority(ctx)?.clone();
        let action = match kind {
            ResourceKind::User => "user.delete",
            ResourceKind::Group => "group.delete",
        };
        let mut draft = self.scim_draft(ctx, &auth, action, serde_json::json!({}));
        if let Ok(pid) = id.parse::<PrincipalId>() {
            draft.principal_id = Some(pid);
        }
        self.audited(draft.clone(), async {
            let now = self.now();
            let mut tx = self.store.write(now).await?;
            let (mut p, doc) = self.load_owned(tx.conn(), &auth, kind, id).await?;
            let mut done = Vec::new();
            if p.kind == PrincipalKind::Group {
                let members = self.owned_members(tx.conn(), &auth, p.id).await?;
                done = self.scim_apply_members(ctx, &auth, &mut tx, now, p.id, &[], &members).await?;
            }
            let revoked = if p.enabled { disable_cascade(tx.conn(), now, p.id).await? } else { Vec::new() };
            let previous = p.name.clone();
            p.name = deleted_name(&p);
            p.enabled = false;
            p.updated_at = now;
            q::update_principal(tx.conn(), &p).await?;
            let doc = ScimDocument {
                principal_id: p.id,
                external_id: doc.as_ref().and_then(|d| d.external_id.clone()),
                document: doc.map_or_else(|| serde_json::json!({}), |d| d.document),
                client_id: Some(auth.client),
                updated_at: now,
                deleted_at: Some(now),
            };
            q::put_scim_document(tx.conn(), &doc).await?;
            let mut d = draft.clone();
            d.details["previousName"] = Value::String(previous);
            d.details["renamedTo"] = Value::String(p.name.clone());
            d.details["enabled"] = Value::Bool(false);
            d.details["revokedTokens"] = serde_json::json!(revoked.len());
            tx.audit(now, d).await?;
            self.record_changes(&mut tx, now, &[Change::Principal(p.id)]).await?;
            tx.commit().await?;
            self.tokens.forget_principal(p.id);
            self.index.upsert_principal(index_principal(&p));
            for (m, add) in done {
                self.index.set_membership(p.id, m, add);
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_follow_display_names_within_pim_rules() {
        assert_eq!(group_name("PIM Admins (prod)"), "PIM-Admins--prod-");
        assert_eq!(group_name("  "), "group");
        assert_eq!(group_name("Équipe"), "Équipe");
        let long = group_name(&"é".repeat(200));
        assert!(long.len() <= MAX_NAME_LEN && validate_name(&long).is_ok());
    }
}
