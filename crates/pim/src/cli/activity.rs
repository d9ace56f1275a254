//! `pim activity ACTIVATION`: what was done under an activation (or any assignment), as the systems
//! that report to pim and pim's connectors recorded it.

use anyhow::anyhow;
use pim_api::{ActivityEvent, AssignmentId, RequestId};

use super::Ctx;
use super::output::{self, Table, time};

/// Options of `pim activity`.
#[derive(Debug, clap::Args)]
pub struct ActivityArgs {
    /// The activation: its assignment id, or the id of the request that made it.
    pub activation: String,
}

/// Runs `pim activity ACTIVATION`.
pub async fn run(ctx: &Ctx, a: ActivityArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let id = a.activation.trim();
    let assignment = if let Ok(req) = id.parse::<RequestId>()
        && let Ok(r) = client.get_request(req).await
    {
        r.target_assignment.ok_or_else(|| anyhow!("request {req} made no assignment"))?
    } else {
        id.parse::<AssignmentId>().map_err(|_| anyhow!("'{id}' is not an assignment or request id"))?
    };
    let events = client.all_assignment_activity(assignment).await?;
    output::show(ctx.format, &events, || activity_table(&events))
}

/// The events, one per line, oldest first.
pub fn activity_table(items: &[ActivityEvent]) -> String {
    if items.is_empty() {
        return "Nothing was reported under this assignment.".to_owned();
    }
    let mut t = Table::new(&["TIME", "SYSTEM", "ACTION", "TARGET", "OUTCOME", "MATCH", "SOURCE"]);
    for e in items {
        t.row(vec![
            time(e.at),
            e.system.clone(),
            e.action.clone(),
            e.target.clone().unwrap_or_default(),
            e.outcome.as_str().to_owned(),
            e.match_kind.as_str().to_owned(),
            e.source.as_str().to_owned(),
        ]);
    }
    t.render()
}
