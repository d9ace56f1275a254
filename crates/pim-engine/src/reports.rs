//! Reports: who holds what at a scope now (directly, through groups, inherited), and how many
//! activations there were per role, per principal and per day.

use std::collections::{BTreeMap, HashMap, HashSet};

use pim_domain::actions::REPORTS_READ;
use pim_domain::{
    Assignment, AssignmentId, AssignmentKind, ErrorKind, PrincipalId, PrincipalKind, RoleId, ScopePath, Timestamp,
};
use pim_store::q;

use crate::context::Context;
use crate::engine::Engine;
use crate::error::{Result, refuse};

/// Filters of the access report.
#[derive(Clone, Debug)]
pub struct AccessFilter {
    /// The scope reported on (access at or below it, and inherited from above it).
    pub under: ScopePath,
    /// Only this principal.
    pub principal: Option<PrincipalId>,
    /// Only this role.
    pub role: Option<RoleId>,
    /// Only eligible or only active access.
    pub kind: Option<AssignmentKind>,
}

/// One principal's access through one assignment in effect now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRow {
    /// Who.
    pub principal_id: PrincipalId,
    /// Their name.
    pub principal_name: String,
    /// Their kind.
    pub principal_kind: PrincipalKind,
    /// The role.
    pub role_id: RoleId,
    /// Its name.
    pub role_name: String,
    /// Where the assignment is.
    pub scope: ScopePath,
    /// Eligible or active.
    pub kind: AssignmentKind,
    /// `eligible`, `activation` or `standing`.
    pub source: &'static str,
    /// The group whose assignment it is (id, name), when held through a group.
    pub via_group: Option<(PrincipalId, String)>,
    /// The assignment is at a parent of the scope reported on.
    pub inherited: bool,
    /// The assignment.
    pub assignment_id: AssignmentId,
    /// Its start.
    pub start: Timestamp,
    /// Its end.
    pub end: Option<Timestamp>,
}

/// Counts of activations over a time range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationCounts {
    /// Activations in the range.
    pub total: u64,
    /// (role id, role name, count), most first.
    pub by_role: Vec<(String, String, u64)>,
    /// (principal id, name, count), most first.
    pub by_principal: Vec<(String, String, u64)>,
    /// (day, count), in order.
    pub by_day: Vec<(String, u64)>,
    /// Activations in the range with reported use (activity a system reported; connectors' excluded).
    pub used: u64,
    /// Reported activity events of the activations in the range.
    pub activity_events: u64,
}

/// The longest range the activation report covers, in days.
pub const MAX_REPORT_DAYS: i64 = 3660;

fn source(a: &Assignment) -> &'static str {
    match a.kind {
        AssignmentKind::Eligible => "eligible",
        AssignmentKind::Active if a.is_activation() => "activation",
        AssignmentKind::Active => "standing",
    }
}

fn most_first(m: HashMap<String, (String, u64)>) -> Vec<(String, String, u64)> {
    let mut v: Vec<_> = m.into_iter().map(|(k, (n, c))| (k, n, c)).collect();
    v.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)).then_with(|| a.0.cmp(&b.0)));
    v
}

impl Engine {
    /// Refuses (and records the refusal) unless the caller may read reports at `scope`.
    pub async fn authorize_report(&self, ctx: &Context, scope: &ScopePath) -> Result<()> {
        self.authorize_read(ctx, REPORTS_READ, scope).await
    }

    /// Every principal's access at `filter.under` and below it, in effect now: direct or through a
    /// (nested) group, assigned there or inherited from a parent scope, eligible or active.
    /// Needs `pim.reports.read` at the scope reported on.
    pub async fn access_report(&self, ctx: &Context, filter: &AccessFilter) -> Result<Vec<AccessRow>> {
        self.authorize_read(ctx, REPORTS_READ, &filter.under).await?;
        let now = self.now();
        let mut c = self.store.read().await?;
        let base =
            q::AssignmentFilter { role: filter.role, kind: filter.kind, not_ended_at: Some(now), ..Default::default() };
        let below =
            q::list_assignments(&mut c, &q::AssignmentFilter { under: Some(filter.under.clone()), ..base.clone() })
                .await?;
        let above =
            q::list_assignments(&mut c, &q::AssignmentFilter { containing: Some(filter.under.clone()), ..base })
                .await?;
        let mut seen = HashSet::new();
        let mut rows = Vec::new();
        for a in below.into_iter().chain(above) {
            if !seen.insert(a.id) || !a.in_effect(now) || a.ended_early_at.is_some() {
                continue;
            }
            let Some(holder) = self.index.principal(a.principal_id).filter(|p| p.enabled) else { continue };
            let role_name = self.index.role_name(a.role_id).map(|n| n.to_string()).unwrap_or_default();
            let inherited = !filter.under.contains(&a.scope);
            let row =
                |id: PrincipalId, name: String, kind: PrincipalKind, via: Option<(PrincipalId, String)>| AccessRow {
                    principal_id: id,
                    principal_name: name,
                    principal_kind: kind,
                    role_id: a.role_id,
                    role_name: role_name.clone(),
                    scope: a.scope.clone(),
                    kind: a.kind,
                    source: source(&a),
                    via_group: via,
                    inherited,
                    assignment_id: a.id,
                    start: a.window.start,
                    end: a.window.end,
                };
            rows.push(row(holder.id, holder.name.clone(), holder.kind, None));
            if holder.kind == PrincipalKind::Group {
                for m in self.index.members(holder.id, now) {
                    if let Some(p) = self.index.principal(m) {
                        rows.push(row(p.id, p.name, p.kind, Some((holder.id, holder.name.clone()))));
                    }
                }
            }
        }
        rows.retain(|r| filter.principal.is_none_or(|p| r.principal_id == p));
        rows.sort_by(|a, b| {
            (&a.principal_name, &a.role_name, a.scope.as_str(), a.assignment_id.to_string()).cmp(&(
                &b.principal_name,
                &b.role_name,
                b.scope.as_str(),
                b.assignment_id.to_string(),
            ))
        });
        Ok(rows)
    }

    /// How many activations started in `[from, to)` at `under` or below it, per role, per
    /// principal and per UTC day. Needs `pim.reports.read` at `under`.
    pub async fn activation_report(
        &self,
        ctx: &Context,
        from: Timestamp,
        to: Timestamp,
        under: &ScopePath,
    ) -> Result<ActivationCounts> {
        self.authorize_read(ctx, REPORTS_READ, under).await?;
        if from >= to {
            return refuse(ErrorKind::InvalidWindow, format!("from ({from}) must be before to ({to})"));
        }
        if to.0 - from.0 > MAX_REPORT_DAYS * pim_domain::time::DAY_MS {
            return refuse(ErrorKind::InvalidWindow, format!("the range may cover at most {MAX_REPORT_DAYS} days"));
        }
        let mut c = self.store.read().await?;
        let filter = q::AssignmentFilter {
            under: Some(under.clone()),
            kind: Some(AssignmentKind::Active),
            ..Default::default()
        };
        let reported = q::reported_use_by_assignment(&mut c, from).await?;
        let (mut total, mut used, mut activity_events) = (0, 0, 0);
        let (mut roles, mut people) = (HashMap::new(), HashMap::new());
        let mut days: BTreeMap<String, u64> = BTreeMap::new();
        for a in q::list_assignments(&mut c, &filter).await? {
            if !a.is_activation() || a.created_at < from || a.created_at >= to {
                continue;
            }
            total += 1;
            if let Some((n, _)) = reported.get(&a.id) {
                used += 1;
                activity_events += n;
            }
            let role_name = self.index.role_name(a.role_id).map(|n| n.to_string()).unwrap_or_default();
            roles.entry(a.role_id.to_string()).or_insert((role_name, 0)).1 += 1;
            let name = self.index.principal(a.principal_id).map(|p| p.name).unwrap_or_default();
            people.entry(a.principal_id.to_string()).or_insert((name, 0)).1 += 1;
            let day = a.created_at.to_rfc3339().chars().take(10).collect::<String>();
            *days.entry(day).or_insert(0) += 1;
        }
        Ok(ActivationCounts {
            total,
            by_role: most_first(roles),
            by_principal: most_first(people),
            by_day: days.into_iter().collect(),
            used,
            activity_events,
        })
    }
}
