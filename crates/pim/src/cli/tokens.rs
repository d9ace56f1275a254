//! `pim token` (a signed access token for an audience, and introspection), `pim audiences` and
//! `pim keys`.

use anyhow::anyhow;
use pim_api::{
    Audience, CreateAccessTokenRequest, CreateAudience, ScopePath, SigningAlg, SigningKeyInfo, UpdateAudience,
};

use super::output::{self, Format, Table, listing, opt_time, time};
use super::resolve::Names;
use super::{Ctx, ack};

/// Options of `pim token`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TokenArgs {
    /// The audience (resource server) the token is for. Prints the token alone, so that
    /// `TOKEN=$(pim token --audience orders-api)` works; `-o json` shows its claims too.
    #[arg(long)]
    pub audience: Option<String>,
    /// Only grants of this role (name or id).
    #[arg(long)]
    pub role: Option<String>,
    /// Only grants that apply at, above or below this scope.
    #[arg(long)]
    pub scope: Option<String>,
    /// Or: introspect a token.
    #[command(subcommand)]
    pub command: Option<TokenCommand>,
}

/// `pim token ...` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Ask the server whether an access token is active now (RFC 7662); exits 1 when it is not.
    Introspect {
        /// The access token (`-` reads it from standard input).
        // Not named `token`: that is the global `--token` (the API token this command is sent with).
        #[arg(id = "access_token", value_name = "ACCESS_TOKEN")]
        access_token: String,
    },
}

/// `pim audiences ...`.
#[derive(Debug, clap::Subcommand)]
pub enum AudiencesCommand {
    /// List the audiences.
    List,
    /// Show one audience.
    Show {
        /// Name or id.
        audience: String,
    },
    /// Register an audience.
    Create(AudienceArgs),
    /// Change an audience.
    Update(AudienceArgs),
    /// Remove an audience.
    Delete {
        /// Name or id.
        audience: String,
    },
}

/// Fields of `pim audiences create|update`.
#[derive(Debug, clap::Args)]
pub struct AudienceArgs {
    /// The name (the tokens' `aud`), or for update the name or id of the audience to change.
    pub name: String,
    /// A new name (update only).
    #[arg(long)]
    pub rename: Option<String>,
    /// Roles whose grants its tokens carry (names or ids, comma-separated); at least one.
    #[arg(long = "role", value_delimiter = ',')]
    pub roles: Option<Vec<String>>,
    /// Grants at, above or below this scope are carried [default /].
    #[arg(long)]
    pub scope_prefix: Option<String>,
    /// Token lifetime, e.g. 15m or 1h (1 minute to 1 hour) [default 15m].
    #[arg(long)]
    pub lifetime: Option<String>,
    /// EdDSA or ES256 [default: the server's].
    #[arg(long)]
    pub algorithm: Option<String>,
    /// A user or service principal that may introspect its tokens; `''` removes it.
    #[arg(long)]
    pub introspector: Option<String>,
}

/// `pim keys ...`.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// List the signing keys (public facts only).
    List,
    /// Make a new signing key; the old one stays in the JWKS until its tokens have expired.
    Rotate,
}

fn scope(s: &str) -> anyhow::Result<ScopePath> {
    ScopePath::parse(s).map_err(|e| anyhow!("{e}"))
}

fn lifetime_secs(s: &str) -> anyhow::Result<u32> {
    let minutes = super::duration::parse_duration(s).map_err(|e| anyhow!("--lifetime: {e}"))?;
    u32::try_from(minutes.saturating_mul(60)).map_err(|_| anyhow!("--lifetime is too long"))
}

fn algorithm(s: &str) -> anyhow::Result<SigningAlg> {
    SigningAlg::parse(s).ok_or_else(|| anyhow!("--algorithm must be EdDSA or ES256, not '{s}'"))
}

/// Runs `pim token`.
pub async fn token(ctx: &Ctx, a: TokenArgs) -> anyhow::Result<()> {
    let client = ctx.client()?;
    if let Some(TokenCommand::Introspect { access_token: token }) = a.command {
        let token = if token == "-" {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_owned()
        } else {
            token
        };
        let r = client.introspect_token(&token).await?;
        output::show(ctx.format, &r, || {
            if !r.active {
                return "active: false".to_owned();
            }
            let grants: Vec<String> = r.grants.iter().flatten().map(|g| format!("{} at {}", g.role, g.scope)).collect();
            listing(&[
                ("active", "true".to_owned()),
                (
                    "subject",
                    format!("{} ({})", r.username.clone().unwrap_or_default(), r.sub.clone().unwrap_or_default()),
                ),
                ("audience", r.aud.clone().unwrap_or_default()),
                ("expires", r.exp.map(|e| time(pim_api::Timestamp(e * 1000))).unwrap_or_default()),
                ("grants", grants.join(", ")),
            ])
        })?;
        if !r.active {
            return Err(anyhow!("the token is not active"));
        }
        return Ok(());
    }
    let Some(audience) = a.audience else {
        return Err(anyhow!("pim token needs --audience NAME (or: pim token introspect TOKEN)"));
    };
    let body = CreateAccessTokenRequest { audience, role: a.role, scope: a.scope.as_deref().map(scope).transpose()? };
    let t = client.create_access_token(&body).await?;
    match ctx.format {
        Format::Json => output::print_json(&t),
        Format::Table => output::print(&t.access_token),
    }
}

fn audience_view(a: &Audience, roles: &[String], introspector: &str) -> String {
    listing(&[
        ("name", a.name.clone()),
        ("id", a.id.to_string()),
        ("roles", if roles.is_empty() { "none".to_owned() } else { roles.join(", ") }),
        ("scope prefix", a.scope_prefix.to_string()),
        ("lifetime", format!("{} s", a.lifetime_secs)),
        ("algorithm", a.algorithm.map(|x| x.as_str().to_owned()).unwrap_or_else(|| "server default".to_owned())),
        ("introspector", introspector.to_owned()),
    ])
}

/// Runs `pim audiences`.
pub async fn audiences(ctx: &Ctx, cmd: AudiencesCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let mut names = Names::new(&client);
    match cmd {
        AudiencesCommand::List => {
            let page = client.list_audiences().await?;
            if ctx.format == Format::Json {
                return output::print_json(&page);
            }
            let mut t = Table::new(&["NAME", "ROLES", "SCOPE PREFIX", "LIFETIME", "ALGORITHM", "INTROSPECTOR"]);
            for a in &page.items {
                let mut roles = Vec::new();
                for r in &a.role_ids {
                    roles.push(names.opt_role(Some(*r)).await);
                }
                t.row(vec![
                    a.name.clone(),
                    if roles.is_empty() { "-".to_owned() } else { roles.join(",") },
                    a.scope_prefix.to_string(),
                    format!("{} s", a.lifetime_secs),
                    a.algorithm.map(|x| x.as_str().to_owned()).unwrap_or_else(|| "default".to_owned()),
                    names.opt_principal(a.introspector).await,
                ]);
            }
            output::print(&t.render())
        }
        AudiencesCommand::Show { audience } => {
            let a = client.get_audience(&audience).await?;
            show_audience(ctx, &mut names, &a).await
        }
        AudiencesCommand::Create(x) => {
            let body = CreateAudience {
                name: x.name,
                roles: x.roles.map(|r| r.into_iter().filter(|s| !s.is_empty()).collect()),
                scope_prefix: x.scope_prefix.as_deref().map(scope).transpose()?,
                lifetime_secs: x.lifetime.as_deref().map(lifetime_secs).transpose()?,
                algorithm: x.algorithm.as_deref().map(algorithm).transpose()?,
                introspector: x.introspector,
            };
            if x.rename.is_some() {
                return Err(anyhow!("--rename is for pim audiences update"));
            }
            let a = client.create_audience(&body).await?;
            show_audience(ctx, &mut names, &a).await
        }
        AudiencesCommand::Update(x) => {
            let body = UpdateAudience {
                name: x.rename,
                roles: x.roles.map(|r| r.into_iter().filter(|s| !s.is_empty()).collect()),
                scope_prefix: x.scope_prefix.as_deref().map(scope).transpose()?,
                lifetime_secs: x.lifetime.as_deref().map(lifetime_secs).transpose()?,
                algorithm: x.algorithm.as_deref().map(algorithm).transpose()?,
                introspector: x.introspector,
            };
            let a = client.update_audience(&x.name, &body).await?;
            show_audience(ctx, &mut names, &a).await
        }
        AudiencesCommand::Delete { audience } => {
            client.delete_audience(&audience).await?;
            ack(ctx.format, serde_json::json!({ "deleted": audience }), &format!("Deleted the audience {audience}."))
        }
    }
}

async fn show_audience(ctx: &Ctx, names: &mut Names<'_>, a: &Audience) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        return output::print_json(a);
    }
    let mut roles = Vec::new();
    for r in &a.role_ids {
        roles.push(names.opt_role(Some(*r)).await);
    }
    let introspector = names.opt_principal(a.introspector).await;
    output::print(&audience_view(a, &roles, &introspector))
}

fn keys_table(keys: &[SigningKeyInfo]) -> String {
    let now = super::duration::now();
    let mut t = Table::new(&["KID", "ALGORITHM", "STATE", "CREATED", "ROTATED", "LEAVES JWKS"]);
    for k in keys {
        t.row(vec![
            k.kid.clone(),
            k.algorithm.as_str().to_owned(),
            k.state(now).to_owned(),
            time(k.created_at),
            opt_time(k.rotated_at),
            opt_time(k.retire_at),
        ]);
    }
    t.render()
}

/// Runs `pim keys`.
pub async fn keys(ctx: &Ctx, cmd: KeysCommand) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let page = match cmd {
        KeysCommand::List => client.list_keys().await?,
        KeysCommand::Rotate => client.rotate_keys().await?,
    };
    output::show(ctx.format, &page, || keys_table(&page.items))
}
