//! `pim scim clients`: register, list and revoke the SCIM clients (identity providers) that
//! provision pim's users and groups through `/scim/v2`.

use pim_api::{CreateScimClient, ScimClient};

use super::Ctx;
use super::output::{self, Format, Table, listing, opt_time, time};

/// `pim scim ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ScimCommand {
    /// The SCIM clients: identity providers allowed to provision pim's directory.
    Clients {
        #[command(subcommand)]
        command: ScimClientsCommand,
    },
}

/// `pim scim clients ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ScimClientsCommand {
    /// List the SCIM clients, revoked ones included.
    List,
    /// Register a SCIM client; its bearer secret is printed only now.
    Create {
        /// A unique name, e.g. `entra` (shown in the audit history as `scim client NAME`).
        name: String,
    },
    /// Revoke a SCIM client (by name or id): its secret stops working at once.
    Revoke {
        /// The client's name or id.
        client: String,
    },
}

fn status(c: &ScimClient) -> &'static str {
    if c.revoked_at.is_some() { "revoked" } else { "active" }
}

/// Runs `pim scim ...`.
pub async fn run(ctx: &Ctx, cmd: ScimCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let ScimCommand::Clients { command } = cmd;
    match command {
        ScimClientsCommand::List => {
            let page = client.list_scim_clients().await?;
            output::show(ctx.format, &page, || {
                let mut t = Table::new(&["ID", "NAME", "STATUS", "CREATED", "LAST USED"]);
                for c in &page.items {
                    t.row(vec![
                        c.id.to_string(),
                        c.name.clone(),
                        status(c).to_owned(),
                        time(c.created_at),
                        opt_time(c.last_used_at),
                    ]);
                }
                t.render()
            })
        }
        ScimClientsCommand::Create { name } => {
            let created = client.create_scim_client(&CreateScimClient { name }).await?;
            output::show(ctx.format, &created, || {
                listing(&[
                    ("secret", created.secret.clone()),
                    ("id", created.client.id.to_string()),
                    ("name", created.client.name.clone()),
                    ("endpoint", format!("{}/scim/v2", client.base_url().as_str().trim_end_matches('/'))),
                ])
            })?;
            if ctx.format == Format::Table {
                output::note("The secret is shown only now: give it to the identity provider and store it safely.");
            }
            Ok(())
        }
        ScimClientsCommand::Revoke { client: which } => {
            let c = client.revoke_scim_client(&which).await?;
            output::show(ctx.format, &c, || {
                listing(&[("id", c.id.to_string()), ("name", c.name.clone()), ("status", status(&c).to_owned())])
            })
        }
    }
}
