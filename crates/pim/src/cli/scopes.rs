//! `pim scopes`: the resources registered in the scope tree, and scope path validation.

use pim_api::{CreateResource, Resource, ResourceId, ResourceQuery, ScopePath, UpdateResource};

use super::Ctx;
use super::duration::parse_scope;
use super::output::{self, Table, listing, more_hint, time};

/// `pim scopes ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ScopesCommand {
    /// List registered resources, the tree depth first.
    List {
        /// Only resources at this scope or below it.
        #[arg(long, value_parser = parse_scope)]
        under: Option<ScopePath>,
        /// Page size (1-1000).
        #[arg(long)]
        limit: Option<u32>,
        /// Continue after a previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Register a resource at a scope.
    Add {
        /// Its scope path, e.g. /subscriptions/prod.
        #[arg(value_parser = parse_scope)]
        scope: ScopePath,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Type, e.g. subscription or postgres.database.
        #[arg(long = "type")]
        kind: String,
    },
    /// Rename and/or retype a registered resource.
    Update {
        /// The resource's id.
        id: ResourceId,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// New type.
        #[arg(long = "type")]
        kind: Option<String>,
    },
    /// Remove a resource's registration (assignments and settings at its scope stay).
    Remove {
        /// The resource's id.
        id: ResourceId,
    },
    /// Check a scope path and show its ancestors.
    Validate {
        /// The path to check.
        scope: String,
    },
}

fn resource_listing(r: &Resource) -> String {
    listing(&[
        ("id", r.id.to_string()),
        ("scope", r.scope.to_string()),
        ("name", r.name.clone()),
        ("type", r.kind.clone()),
        ("created", time(r.created_at)),
    ])
}

/// Runs `pim scopes ...`.
pub async fn run(ctx: &Ctx, cmd: ScopesCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match cmd {
        ScopesCommand::List { under, limit, cursor } => {
            let page = client.list_resources(&ResourceQuery { under, limit, cursor }).await?;
            output::show(ctx.format, &page, || {
                let mut t = Table::new(&["SCOPE", "NAME", "TYPE", "ID"]);
                for r in &page.items {
                    t.row(vec![r.scope.to_string(), r.name.clone(), r.kind.clone(), r.id.to_string()]);
                }
                t.render()
            })?;
            more_hint(ctx.format, page.next_cursor.as_deref());
            Ok(())
        }
        ScopesCommand::Add { scope, name, kind } => {
            let r = client.create_resource(&CreateResource { scope, name, kind }).await?;
            output::show(ctx.format, &r, || resource_listing(&r))
        }
        ScopesCommand::Update { id, name, kind } => {
            let r = client.update_resource(id, &UpdateResource { name, kind }).await?;
            output::show(ctx.format, &r, || resource_listing(&r))
        }
        ScopesCommand::Remove { id } => {
            let r = client.delete_resource(id).await?;
            output::show(ctx.format, &r, || resource_listing(&r))
        }
        ScopesCommand::Validate { scope } => {
            let info = client.validate_scope(&scope).await?;
            output::show(ctx.format, &info, || {
                let ancestors = info.ancestors.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
                listing(&[
                    ("scope", info.scope.to_string()),
                    ("valid", "yes".to_owned()),
                    ("depth", info.depth.to_string()),
                    ("ancestors", ancestors),
                ])
            })
        }
    }
}
