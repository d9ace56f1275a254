//! `pim users`, `pim groups`, `pim sps` (service principals) and `pim tokens`.

use anyhow::anyhow;
use clap::builder::BoolishValueParser;
use pim_api::{
    ApiToken, CreateGroup, CreateServicePrincipal, CreateTokenRequest, CreateUser, ListQuery, Page, Principal,
    PrincipalKind, TokenId, UpdateGroup, UpdateServicePrincipal, UpdateUser,
};
use pim_client::Client;

use super::duration::now;
use super::output::{self, Format, Table, listing, more_hint, opt_time, time};
use super::resolve::{self, Names};
use super::views::{principal_listing, principals_table};
use super::{Ctx, read_password};

/// Paging and prefix options of the directory lists.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only names starting with this.
    #[arg(long)]
    pub q: Option<String>,
    /// Page size (1-1000).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue after a previous page.
    #[arg(long)]
    pub cursor: Option<String>,
}

impl ListArgs {
    fn query(self) -> ListQuery {
        ListQuery { q: self.q, limit: self.limit, cursor: self.cursor }
    }
}

/// `pim users ...`.
#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// List users.
    List(ListArgs),
    /// Show a user.
    Show {
        /// Name or id.
        user: String,
    },
    /// Create a user.
    Create {
        /// User name.
        name: String,
        /// Name for people.
        #[arg(long)]
        display_name: Option<String>,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// The user's manager (name or id).
        #[arg(long)]
        manager: Option<String>,
        /// Mark as a break-glass (emergency access) account.
        #[arg(long)]
        emergency_access: bool,
        /// Set a password read from the first line of standard input.
        #[arg(long, conflicts_with = "password_prompt")]
        password_stdin: bool,
        /// Set a password typed at a prompt.
        #[arg(long)]
        password_prompt: bool,
    },
    /// Change a user.
    Update {
        /// Name or id.
        user: String,
        /// Name for people.
        #[arg(long)]
        display_name: Option<String>,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// The user's manager (name or id).
        #[arg(long)]
        manager: Option<String>,
        /// Mark or unmark as a break-glass account.
        #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
        emergency_access: Option<bool>,
        /// Enable or disable.
        #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
        enabled: Option<bool>,
        /// Set a new password read from the first line of standard input.
        #[arg(long, conflicts_with = "password_prompt")]
        password_stdin: bool,
        /// Set a new password typed at a prompt.
        #[arg(long)]
        password_prompt: bool,
    },
    /// Disable a user (users are never deleted).
    Disable {
        /// Name or id.
        user: String,
    },
    /// Enable a user.
    Enable {
        /// Name or id.
        user: String,
    },
}

/// `pim groups ...`.
#[derive(Debug, clap::Subcommand)]
pub enum GroupsCommand {
    /// List groups.
    List(ListArgs),
    /// Show a group.
    Show {
        /// Name or id.
        group: String,
    },
    /// Create a group.
    Create {
        /// Group name.
        name: String,
        /// Name for people.
        #[arg(long)]
        display_name: Option<String>,
        /// What the group is for.
        #[arg(long)]
        description: Option<String>,
        /// The group's email address.
        #[arg(long)]
        email: Option<String>,
    },
    /// Change a group.
    Update {
        /// Name or id.
        group: String,
        /// Name for people.
        #[arg(long)]
        display_name: Option<String>,
        /// What the group is for.
        #[arg(long)]
        description: Option<String>,
        /// The group's email address.
        #[arg(long)]
        email: Option<String>,
        /// Enable or disable.
        #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
        enabled: Option<bool>,
    },
    /// Disable a group.
    Disable {
        /// Name or id.
        group: String,
    },
    /// Enable a group.
    Enable {
        /// Name or id.
        group: String,
    },
    /// List a group's direct members.
    Members {
        /// Name or id.
        group: String,
    },
    /// Add a user or group to a group.
    AddMember {
        /// The group (name or id).
        group: String,
        /// The new member (name or id).
        member: String,
    },
    /// Remove a member from a group.
    RemoveMember {
        /// The group (name or id).
        group: String,
        /// The member (name or id).
        member: String,
    },
}

/// `pim sps ...`.
#[derive(Debug, clap::Subcommand)]
pub enum SpsCommand {
    /// List service principals.
    List(ListArgs),
    /// Show a service principal.
    Show {
        /// Name or id.
        sp: String,
    },
    /// Create a service principal (then `pim tokens create NAME --for SP` gives it a token).
    Create {
        /// Client name.
        name: String,
        /// Name for people.
        #[arg(long)]
        display_name: Option<String>,
        /// What it is for.
        #[arg(long)]
        description: Option<String>,
    },
    /// Change a service principal.
    Update {
        /// Name or id.
        sp: String,
        /// Name for people.
        #[arg(long)]
        display_name: Option<String>,
        /// What it is for.
        #[arg(long)]
        description: Option<String>,
        /// Enable or disable.
        #[arg(long, value_name = "BOOL", value_parser = BoolishValueParser::new())]
        enabled: Option<bool>,
    },
    /// Disable a service principal.
    Disable {
        /// Name or id.
        sp: String,
    },
    /// Enable a service principal.
    Enable {
        /// Name or id.
        sp: String,
    },
}

/// `pim tokens ...`.
#[derive(Debug, clap::Subcommand)]
pub enum TokensCommand {
    /// List your API tokens, or another principal's.
    List {
        /// Whose tokens (name or id) [default: yours].
        #[arg(long = "for", value_name = "PRINCIPAL")]
        principal: Option<String>,
    },
    /// Issue an API token; the secret is printed only now.
    Create {
        /// A label for the token.
        name: String,
        /// For whom (e.g. a service principal, by name or id) [default: yourself].
        #[arg(long = "for", value_name = "PRINCIPAL")]
        principal: Option<String>,
        /// Lifetime in days (1-365) [default: 30].
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Revoke an API token.
    Revoke {
        /// The token's id.
        id: TokenId,
    },
}

fn print_page(ctx: &Ctx, page: &Page<Principal>) -> anyhow::Result<()> {
    output::show(ctx.format, page, || principals_table(&page.items))?;
    more_hint(ctx.format, page.next_cursor.as_deref());
    Ok(())
}

async fn print_principal(ctx: &Ctx, client: &Client, p: &Principal) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        return output::print_json(p);
    }
    let manager = match p.manager_id {
        Some(m) => Some(Names::new(client).principal(m).await),
        None => None,
    };
    output::print(&principal_listing(p, manager))
}

/// The principal named `s`, which must be of `kind`.
async fn principal_of_kind(client: &Client, s: &str, kind: PrincipalKind) -> anyhow::Result<Principal> {
    let p = resolve::principal(client, s).await?;
    if p.kind != kind {
        return Err(anyhow!("{} is a {}, not a {}", p.name, p.kind.as_str(), kind.as_str()));
    }
    Ok(p)
}

fn new_password(stdin: bool, prompt: bool) -> anyhow::Result<Option<String>> {
    if stdin || prompt { read_password(stdin, "New password: ").map(Some) } else { Ok(None) }
}

/// Runs `pim users ...`.
pub async fn users(ctx: &Ctx, cmd: UsersCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let user = |s: String| {
        let client = &client;
        async move { principal_of_kind(client, &s, PrincipalKind::User).await }
    };
    let p = match cmd {
        UsersCommand::List(args) => return print_page(ctx, &client.list_users(&args.query()).await?),
        UsersCommand::Show { user: u } => user(u).await?,
        UsersCommand::Create {
            name,
            display_name,
            email,
            manager,
            emergency_access,
            password_stdin,
            password_prompt,
        } => {
            let manager_id = match manager {
                Some(m) => Some(resolve::principal_id(&client, &m).await?),
                None => None,
            };
            let body = CreateUser {
                name,
                display_name,
                email,
                manager_id,
                password: new_password(password_stdin, password_prompt)?,
                emergency_access: emergency_access.then_some(true),
            };
            client.create_user(&body).await?
        }
        UsersCommand::Update {
            user: u,
            display_name,
            email,
            manager,
            emergency_access,
            enabled,
            password_stdin,
            password_prompt,
        } => {
            let id = user(u).await?.id;
            let manager_id = match manager {
                Some(m) => Some(resolve::principal_id(&client, &m).await?),
                None => None,
            };
            let body = UpdateUser {
                display_name,
                email,
                manager_id,
                enabled,
                emergency_access,
                password: new_password(password_stdin, password_prompt)?,
            };
            client.update_user(id, &body).await?
        }
        UsersCommand::Disable { user: u } => {
            let id = user(u).await?.id;
            client.update_user(id, &UpdateUser { enabled: Some(false), ..Default::default() }).await?
        }
        UsersCommand::Enable { user: u } => {
            let id = user(u).await?.id;
            client.update_user(id, &UpdateUser { enabled: Some(true), ..Default::default() }).await?
        }
    };
    print_principal(ctx, &client, &p).await
}

/// Runs `pim groups ...`.
pub async fn groups(ctx: &Ctx, cmd: GroupsCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let group = |s: String| {
        let client = &client;
        async move { principal_of_kind(client, &s, PrincipalKind::Group).await }
    };
    let p = match cmd {
        GroupsCommand::List(args) => return print_page(ctx, &client.list_groups(&args.query()).await?),
        GroupsCommand::Show { group: g } => group(g).await?,
        GroupsCommand::Create { name, display_name, description, email } => {
            client.create_group(&CreateGroup { name, display_name, description, email }).await?
        }
        GroupsCommand::Update { group: g, display_name, description, email, enabled } => {
            let id = group(g).await?.id;
            client.update_group(id, &UpdateGroup { display_name, description, email, enabled }).await?
        }
        GroupsCommand::Disable { group: g } => {
            let id = group(g).await?.id;
            client.update_group(id, &UpdateGroup { enabled: Some(false), ..Default::default() }).await?
        }
        GroupsCommand::Enable { group: g } => {
            let id = group(g).await?.id;
            client.update_group(id, &UpdateGroup { enabled: Some(true), ..Default::default() }).await?
        }
        GroupsCommand::Members { group: g } => {
            let id = group(g).await?.id;
            return print_page(ctx, &client.list_members(id).await?);
        }
        GroupsCommand::AddMember { group: g, member } => {
            let g = group(g).await?;
            let m = resolve::principal(&client, &member).await?;
            client.add_member(g.id, m.id).await?;
            return super::ack(
                ctx.format,
                serde_json::json!({"group": g.id, "member": m.id, "added": true}),
                &format!("Added {} to {}.", m.name, g.name),
            );
        }
        GroupsCommand::RemoveMember { group: g, member } => {
            let g = group(g).await?;
            let m = resolve::principal(&client, &member).await?;
            client.remove_member(g.id, m.id).await?;
            return super::ack(
                ctx.format,
                serde_json::json!({"group": g.id, "member": m.id, "removed": true}),
                &format!("Removed {} from {}.", m.name, g.name),
            );
        }
    };
    print_principal(ctx, &client, &p).await
}

/// Runs `pim sps ...`.
pub async fn sps(ctx: &Ctx, cmd: SpsCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let sp = |s: String| {
        let client = &client;
        async move { principal_of_kind(client, &s, PrincipalKind::ServicePrincipal).await }
    };
    let p = match cmd {
        SpsCommand::List(args) => return print_page(ctx, &client.list_service_principals(&args.query()).await?),
        SpsCommand::Show { sp: s } => sp(s).await?,
        SpsCommand::Create { name, display_name, description } => {
            client.create_service_principal(&CreateServicePrincipal { name, display_name, description }).await?
        }
        SpsCommand::Update { sp: s, display_name, description, enabled } => {
            let id = sp(s).await?.id;
            client.update_service_principal(id, &UpdateServicePrincipal { display_name, description, enabled }).await?
        }
        SpsCommand::Disable { sp: s } => {
            let id = sp(s).await?.id;
            let body = UpdateServicePrincipal { enabled: Some(false), ..Default::default() };
            client.update_service_principal(id, &body).await?
        }
        SpsCommand::Enable { sp: s } => {
            let id = sp(s).await?.id;
            let body = UpdateServicePrincipal { enabled: Some(true), ..Default::default() };
            client.update_service_principal(id, &body).await?
        }
    };
    print_principal(ctx, &client, &p).await
}

fn token_status(t: &ApiToken) -> &'static str {
    if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at <= now() {
        "expired"
    } else {
        "valid"
    }
}

/// Runs `pim tokens ...`.
pub async fn tokens(ctx: &Ctx, cmd: TokensCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    match cmd {
        TokensCommand::List { principal } => {
            let principal_id = match principal {
                Some(p) => Some(resolve::principal_id(&client, &p).await?),
                None => None,
            };
            let page = client.list_tokens(principal_id).await?;
            if ctx.format == Format::Json {
                return output::print_json(&page);
            }
            let mut names = Names::new(&client);
            let mut t = Table::new(&["ID", "NAME", "PRINCIPAL", "STATUS", "CREATED", "EXPIRES", "LAST USED"]);
            for tok in &page.items {
                t.row(vec![
                    tok.id.to_string(),
                    tok.name.clone(),
                    names.principal(tok.principal_id).await,
                    token_status(tok).to_owned(),
                    time(tok.created_at),
                    time(tok.expires_at),
                    opt_time(tok.last_used_at),
                ]);
            }
            output::print(&t.render())
        }
        TokensCommand::Create { name, principal, expires_in_days } => {
            let principal_id = match principal {
                Some(p) => Some(resolve::principal_id(&client, &p).await?),
                None => None,
            };
            let created = client.create_token(&CreateTokenRequest { name, expires_in_days, principal_id }).await?;
            if ctx.format == Format::Json {
                return output::print_json(&created);
            }
            let owner = Names::new(&client).principal(created.info.principal_id).await;
            output::print(&listing(&[
                ("token", created.token.clone()),
                ("id", created.info.id.to_string()),
                ("name", created.info.name.clone()),
                ("principal", owner),
                ("expires", time(created.info.expires_at)),
            ]))?;
            output::note("The token is shown only now: store it safely.");
            Ok(())
        }
        TokensCommand::Revoke { id } => {
            client.revoke_token(id).await?;
            super::ack(ctx.format, serde_json::json!({"id": id, "revoked": true}), &format!("Revoked token {id}."))
        }
    }
}
