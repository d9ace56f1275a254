//! `pim check`: may a principal perform an action at a scope now (or at a given time)?

use pim_api::{CheckRequest, Timestamp};

use super::Ctx;
use super::duration::parse_time;
use super::output::{self, Format, listing};
use super::resolve::Names;

/// Options of `pim check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The principal (name or id).
    pub principal: String,
    /// The action, e.g. storage.blobs.read.
    pub action: String,
    /// The scope, e.g. /subscriptions/prod.
    pub scope: String,
    /// Ask about this instant instead of now.
    #[arg(long, value_parser = parse_time, value_name = "TIME", allow_hyphen_values = true)]
    pub at: Option<Timestamp>,
}

/// Runs `pim check`; prints `allowed` or `denied` (the exit code is 0 either way).
pub async fn run(ctx: &Ctx, a: CheckArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let body =
        CheckRequest { principal: a.principal.clone(), action: a.action.clone(), scope: a.scope.clone(), at: a.at };
    let r = client.check(&body).await?;
    if ctx.format == Format::Json {
        return output::print_json(&r);
    }
    let mut names = Names::new(&client);
    let role = match (&r.role_name, r.role_id) {
        (Some(n), _) => n.clone(),
        (None, id) => names.opt_role(id).await,
    };
    output::print(&listing(&[
        ("result", if r.allowed { "allowed" } else { "denied" }.to_owned()),
        ("principal", format!("{} ({})", a.principal, r.principal_id)),
        ("action", a.action),
        ("scope", a.scope),
        ("role", role),
        ("assigned at", r.scope.map(|s| s.to_string()).unwrap_or_default()),
        (
            "via group",
            match &r.via_group_name {
                Some(n) => n.clone(),
                None => names.opt_principal(r.via_group).await,
            },
        ),
        ("assignment", r.assignment_id.map(|i| i.to_string()).unwrap_or_default()),
        (
            "ends",
            if r.allowed { r.ends_at.map(output::time).unwrap_or_else(|| "never".to_owned()) } else { String::new() },
        ),
    ]))
}
