//! `pim connectors`: the targets where pim grants the real access (list, reconcile, credential), where each grant stands (status), and the wait of `pim activate --wait` for them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use pim_api::{Assignment, AssignmentId, Connector, ConnectorCredential, Provisioning, ReconcileResult};
use pim_client::Client;
use pim_domain::ProvisionState;
use pim_domain::message::count;

use super::Ctx;
use super::output::{self, Format, Table, listing, opt_time, time};

/// Options of `pim connectors`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ConnectorsArgs {
    /// What to do [default: list].
    #[command(subcommand)]
    pub command: Option<ConnectorsCommand>,
}

/// `pim connectors ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ConnectorsCommand {
    /// List the connectors: their mappings, queue and last reconciliation (the default).
    List,
    /// Compare a connector's target with pim now, repair what is out of line, report what pim did not grant.
    Reconcile {
        /// The connector's name.
        name: String,
    },
    /// Get, once, the password of the login a connector made for you (managed logins).
    Credential {
        /// The connector's name.
        name: String,
    },
    /// Where your access (or a principal's) stands in every target.
    Status {
        /// The principal (name or id) [default: you].
        principal: Option<String>,
    },
}

/// Runs `pim connectors ...`.
pub async fn run(ctx: &Ctx, a: ConnectorsArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match a.command.unwrap_or(ConnectorsCommand::List) {
        ConnectorsCommand::List => {
            let list = client.list_connectors().await?;
            output::show(ctx.format, &list, || connectors_table(&list))
        }
        ConnectorsCommand::Reconcile { name } => {
            let r = client.reconcile_connector(&name).await?;
            output::show(ctx.format, &r, || reconcile_listing(&r))?;
            match &r.error {
                Some(e) => Err(anyhow!("connector {} could not be reconciled: {e}", r.connector)),
                None => Ok(()),
            }
        }
        ConnectorsCommand::Credential { name } => {
            let c = client.take_connector_credential(&name).await?;
            output::show(ctx.format, &c, || credential_listing(&c))?;
            if ctx.format == Format::Json {
                output::note("This password is shown only once: pim keeps no readable copy. Store it now.");
            }
            Ok(())
        }
        ConnectorsCommand::Status { principal } => {
            let rows = match &principal {
                Some(p) => client.principal_provisioning(p).await?,
                None => client.my_provisioning().await?,
            };
            output::show(ctx.format, &rows, || provisioning_table(&rows))
        }
    }
}

/// `Reader @ /prod -> db_reader, ...`.
fn mappings_text(c: &Connector) -> String {
    c.mappings.iter().map(|m| format!("{} @ {} -> {}", m.role, m.scope, m.entitlement)).collect::<Vec<_>>().join(", ")
}

/// The connectors, one per line.
pub fn connectors_table(items: &[Connector]) -> String {
    let mut t = Table::new(&["NAME", "KIND", "MAPPINGS", "DUE", "FAILING", "GRANTED", "RECONCILED"]);
    for c in items {
        t.row(vec![
            c.name.clone(),
            c.kind.clone(),
            mappings_text(c),
            c.due.to_string(),
            c.failing.to_string(),
            c.granted.to_string(),
            c.reconciled_at.map(time).unwrap_or_else(|| "never".to_owned()),
        ]);
    }
    t.render()
}

/// What a reconciliation found and did.
pub fn reconcile_listing(r: &ReconcileResult) -> String {
    let mut s = listing(&[
        ("connector", r.connector.clone()),
        ("listed", if r.listed { "yes".to_owned() } else { "no (the target cannot list what it holds)".to_owned() }),
        ("holdings", r.holdings.to_string()),
        ("repaired", count(r.repaired, "principal", "principals")),
        ("unmanaged", r.unmanaged.len().to_string()),
        ("revoked unmanaged", r.revoked_unmanaged.to_string()),
        ("error", r.error.clone().unwrap_or_default()),
    ]);
    if !r.unmanaged.is_empty() {
        s.push_str("\n\nHeld in the target, not granted by pim:\n");
        let mut t = Table::new(&["ACCOUNT", "ENTITLEMENT"]);
        for h in &r.unmanaged {
            t.row(vec![h.account.clone(), h.entitlement.clone()]);
        }
        s.push_str(&t.render());
    }
    s
}

/// A managed login's password, with the warning that it is shown once.
fn credential_listing(c: &ConnectorCredential) -> String {
    let mut s = listing(&[
        ("connector", c.connector.clone()),
        ("login", c.account.clone()),
        ("password", c.password.clone()),
        ("valid until", c.expires_at.map(time).unwrap_or_else(|| "the end of your access".to_owned())),
    ]);
    s.push_str("\n\nShown once: pim keeps no readable copy of this password. Store it now.");
    s
}

/// Where entitlements stand, one per line.
pub fn provisioning_table(items: &[Provisioning]) -> String {
    let mut t = Table::new(&["CONNECTOR", "ENTITLEMENT", "ACCOUNT", "STATE", "ATTEMPTS", "UPDATED", "LAST ERROR"]);
    for p in items {
        t.row(vec![
            p.connector.clone(),
            p.entitlement.clone(),
            p.account.clone().unwrap_or_default(),
            p.state.as_str().to_owned(),
            p.attempts.to_string(),
            opt_time(p.updated_at),
            p.last_error.clone().unwrap_or_default(),
        ]);
    }
    t.render()
}

/// `prod-db: granted, crm: failed` for the entries of one assignment (one state per connector:
/// the least advanced of its entitlements).
pub fn targets_text(entries: &[&Provisioning]) -> String {
    let mut by: BTreeMap<&str, ProvisionState> = BTreeMap::new();
    for p in entries {
        let e = by.entry(p.connector.as_str()).or_insert(p.state);
        if rank(p.state) < rank(*e) {
            *e = p.state;
        }
    }
    by.iter().map(|(c, s)| format!("{c}: {}", s.as_str())).collect::<Vec<_>>().join(", ")
}

/// Worst first: failed, then the ones still moving, then granted.
fn rank(s: ProvisionState) -> u8 {
    match s {
        ProvisionState::Failed => 0,
        ProvisionState::Pending => 1,
        ProvisionState::Revoking => 2,
        ProvisionState::Revoked => 3,
        ProvisionState::Granted => 4,
    }
}

/// The caller's provisioning by assignment, for `pim whoami`: `None` when no target holds anything
/// of theirs (no connector configured, or none maps their roles), or when the server cannot tell.
pub async fn my_targets(client: &Client) -> Option<Vec<Provisioning>> {
    match client.my_provisioning().await {
        Ok(rows) if !rows.is_empty() => Some(rows),
        _ => None,
    }
}

/// The entries of `rows` that belong to `a`.
pub fn of_assignment<'a>(rows: &'a [Provisioning], a: &Assignment) -> Vec<&'a Provisioning> {
    rows.iter().filter(|p| p.assignment_id == Some(a.id)).collect()
}

/// Where the wait for the targets stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Every entry is granted (or there are none): the connectors, each once, in order.
    Granted(Vec<String>),
    /// Some entry is still pending.
    Waiting,
    /// A connector gave up (or the access is being taken back): its name and why.
    Failed(String, String),
}

/// Where `rows` (one assignment's entries) stand.
pub fn progress(rows: &[Provisioning]) -> Progress {
    if let Some(p) = rows.iter().find(|p| p.state == ProvisionState::Failed) {
        let why = p.last_error.clone().unwrap_or_else(|| "no error was recorded".to_owned());
        return Progress::Failed(
            p.connector.clone(),
            format!("{} ({}): {why}", p.entitlement, count(p.attempts, "attempt", "attempts")),
        );
    }
    if let Some(p) = rows.iter().find(|p| matches!(p.state, ProvisionState::Revoking | ProvisionState::Revoked)) {
        return Progress::Failed(
            p.connector.clone(),
            format!("{} is {} (the access ended before it was granted)", p.entitlement, p.state.as_str()),
        );
    }
    if rows.iter().any(|p| p.state == ProvisionState::Pending) {
        return Progress::Waiting;
    }
    let mut names: Vec<String> = Vec::new();
    for p in rows {
        if !names.contains(&p.connector) {
            names.push(p.connector.clone());
        }
    }
    Progress::Granted(names)
}

/// Polls the provisioning of assignment `id` every `interval` until every mapped target has
/// granted it (their entries), a target failed (an error naming it and its last error), or
/// `deadline` passes. With no connector mapping the role, it returns at once.
pub async fn wait_for_targets(
    client: &Client,
    id: AssignmentId,
    interval: Duration,
    deadline: Option<Instant>,
) -> anyhow::Result<Vec<Provisioning>> {
    let mut announced = false;
    let mut last_error: Option<String> = None;
    loop {
        let rows = client.assignment_provisioning(id).await?;
        match progress(&rows) {
            Progress::Granted(_) => return Ok(rows),
            Progress::Failed(connector, why) => {
                return Err(anyhow!("the access was not granted in {connector}: {why}"));
            }
            Progress::Waiting => {}
        }
        let pending: Vec<&str> = pending_connectors(&rows);
        if !announced {
            output::note(&format!("Waiting for {} to grant the access...", pending.join(", ")));
            announced = true;
        }
        // Say once per new failure that a retry is coming, so a long wait is not silent.
        let err = rows.iter().find_map(|p| {
            p.last_error
                .as_ref()
                .filter(|_| p.state == ProvisionState::Pending)
                .map(|e| format!("{}: {e}", p.connector))
        });
        if err.is_some() && err != last_error {
            if let Some(e) = &err {
                output::note(&format!("{e} (retrying)"));
            }
            last_error = err;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(anyhow!("gave up waiting: the access is still pending in {}", pending.join(", ")));
        }
        tokio::time::sleep(interval).await;
    }
}

fn pending_connectors(rows: &[Provisioning]) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for p in rows.iter().filter(|p| p.state == ProvisionState::Pending) {
        if !v.contains(&p.connector.as_str()) {
            v.push(p.connector.as_str());
        }
    }
    v
}

/// After a successful wait: `granted in prod-db (db_reader)` per connector (table mode), and the hint
/// to fetch a managed login's password.
pub async fn report_granted(ctx: &Ctx, client: &Client, rows: &[Provisioning]) -> anyhow::Result<()> {
    let Progress::Granted(names) = progress(rows) else { return Ok(()) };
    if names.is_empty() {
        return Ok(());
    }
    if ctx.format == Format::Table {
        let lines: Vec<String> = names
            .iter()
            .map(|n| {
                let ents: Vec<&str> =
                    rows.iter().filter(|p| &p.connector == n).map(|p| p.entitlement.as_str()).collect();
                format!("granted in {n} ({})", ents.join(", "))
            })
            .collect();
        output::print(&lines.join("\n"))?;
    }
    // Which of them make logins (readable to administrators; others get the hint for each).
    match client.list_connectors().await {
        Ok(all) => {
            for c in all.iter().filter(|c| c.managed_logins && names.contains(&c.name)) {
                let account = rows.iter().find(|p| p.connector == c.name).and_then(|p| p.account.clone());
                output::note(&format!(
                    "{} made a login for you{}: get its password (shown once) with: pim connectors credential {}",
                    c.name,
                    account.map(|a| format!(" ({a})")).unwrap_or_default(),
                    c.name
                ));
            }
        }
        Err(_) => {
            for n in &names {
                output::note(&format!(
                    "If {n} made a login for you, get its password (shown once) with: pim connectors credential {n}"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pim_api::PrincipalId;

    fn entry(connector: &str, ent: &str, state: ProvisionState, err: Option<&str>) -> Provisioning {
        Provisioning {
            connector: connector.into(),
            principal_id: PrincipalId::new(),
            entitlement: ent.into(),
            account: Some("alice".into()),
            state,
            attempts: 1,
            last_error: err.map(str::to_owned),
            assignment_id: None,
            updated_at: None,
        }
    }

    #[test]
    fn progress_needs_every_entry_granted_and_names_a_failure() {
        assert_eq!(progress(&[]), Progress::Granted(vec![]));
        let g = entry("prod-db", "r", ProvisionState::Granted, None);
        let p = entry("crm", "admin", ProvisionState::Pending, Some("HTTP 500"));
        let f = entry("crm", "admin", ProvisionState::Failed, Some("the webhook answered HTTP 500"));
        assert_eq!(progress(&[g.clone(), g.clone()]), Progress::Granted(vec!["prod-db".into()]));
        assert_eq!(progress(&[g.clone(), p.clone()]), Progress::Waiting);
        match progress(&[g.clone(), p, f]) {
            Progress::Failed(c, why) => assert!(c == "crm" && why.contains("HTTP 500"), "{c}: {why}"),
            other => panic!("{other:?}"),
        }
        let r = entry("prod-db", "r", ProvisionState::Revoking, None);
        assert!(matches!(progress(&[r]), Progress::Failed(..)));
    }

    #[test]
    fn targets_show_the_least_advanced_state_per_connector() {
        let a = entry("prod-db", "r", ProvisionState::Granted, None);
        let b = entry("prod-db", "w", ProvisionState::Pending, None);
        let c = entry("crm", "x", ProvisionState::Granted, None);
        assert_eq!(targets_text(&[&a, &b, &c]), "crm: granted, prod-db: pending");
        assert_eq!(targets_text(&[&a]), "prod-db: granted");
    }
}
