//! `pim setup`, `pim login`, `pim logout` and `pim whoami`.

use anyhow::anyhow;
use pim_api::{LoginRequest, MeResponse, Principal, SetupRequest, Timestamp};
use pim_client::{Client, ClientError};
use serde::Serialize;

use super::credentials::{self, Credentials};
use super::output::{self, Format, listing, time};
use super::resolve::Names;
use super::views::{assignments_table, assignments_table_with, kind_name};
use super::{Ctx, read_password};

/// Options of `pim setup`.
#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// The one-time setup secret the server printed at its first start.
    // The secret is URL-safe base64 and may begin with '-'.
    #[arg(long, env = "PIM_SETUP_SECRET", hide_env_values = true, allow_hyphen_values = true)]
    pub secret: String,
    /// User name of the first administrator.
    #[arg(long)]
    pub username: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
    /// Name for people.
    #[arg(long)]
    pub display_name: Option<String>,
    /// Email address.
    #[arg(long)]
    pub email: Option<String>,
}

/// Options of `pim login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// User name [default: the one stored by the last login].
    #[arg(long, short = 'u')]
    pub username: Option<String>,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
    /// A label for the token issued.
    #[arg(long, default_value = "pim cli")]
    pub token_name: String,
    /// A code from your authenticator app: the session starts having passed MFA.
    #[arg(long, value_name = "CODE", conflicts_with = "oidc")]
    pub otp: Option<String>,
    /// Sign in through the OpenID Connect provider NAME in a browser (RFC 8252 loopback redirect).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["username", "password_stdin"])]
    pub oidc: Option<String>,
    /// With --oidc: print the URL only, do not try to open a browser (also PIM_NO_BROWSER=1).
    #[arg(long, requires = "oidc")]
    pub no_browser: bool,
    /// With --oidc: ask the provider for a fresh sign-in with MFA (refreshes the session's MFA).
    #[arg(long, requires = "oidc")]
    pub step_up: bool,
    /// With --oidc: sign in on a machine without a browser (RFC 8628 device grant): prints a code
    /// to enter at the provider from any device, and waits until it is approved.
    #[arg(long, requires = "oidc", conflicts_with_all = ["no_browser", "step_up"])]
    pub device: bool,
}

/// What `pim login` and `pim setup` print in JSON (never the token itself).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignedIn<'a> {
    server: &'a str,
    username: &'a str,
    expires_at: Timestamp,
    principal: &'a Principal,
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_at: Option<Timestamp>,
}

async fn sign_in(
    ctx: &Ctx,
    server: &str,
    username: &str,
    password: String,
    token_name: String,
    otp: Option<String>,
) -> anyhow::Result<()> {
    let client = Client::new(server, None)?;
    let body = LoginRequest { username: username.to_owned(), password, token_name: Some(token_name), otp };
    let resp = client.login(&body).await?;
    store_and_show(ctx, server, resp)
}

/// Stores the token of a sign-in and says who signed in.
fn store_and_show(ctx: &Ctx, server: &str, resp: pim_api::LoginResponse) -> anyhow::Result<()> {
    let creds = Credentials {
        server: server.to_owned(),
        token: resp.token,
        expires_at: resp.expires_at,
        username: resp.principal.name.clone(),
    };
    credentials::save(&ctx.config_dir, &creds)?;
    let shown = SignedIn {
        server,
        username: &creds.username,
        expires_at: creds.expires_at,
        principal: &resp.principal,
        mfa_at: resp.mfa_at,
    };
    output::show(ctx.format, &shown, || {
        let mfa = if resp.mfa_at.is_some() { ", MFA passed" } else { "" };
        format!("Signed in to {server} as {} (until {}{mfa}).", creds.username, time(creds.expires_at))
    })
}

/// `pim setup`: creates the first account, then signs in as it.
pub async fn setup(ctx: &Ctx, args: SetupArgs) -> anyhow::Result<()> {
    let server = ctx.server()?;
    let password = read_password(args.password_stdin, "Password for the first administrator: ")?;
    let client = ctx.anonymous()?;
    let body = SetupRequest {
        setup_secret: args.secret,
        username: args.username.clone(),
        password: password.clone(),
        display_name: args.display_name,
        email: args.email,
    };
    let p = client.setup(&body).await?;
    if ctx.format == Format::Table {
        output::print(&format!("Created {} ({}), Global Administrator at /.", p.name, p.id))?;
    }
    sign_in(ctx, &server, &args.username, password, "pim setup".to_owned(), None).await
}

/// `pim login`: signs in and stores the token.
pub async fn login(ctx: &Ctx, args: LoginArgs) -> anyhow::Result<()> {
    let server = ctx.server()?;
    if let Some(provider) = &args.oidc {
        let browser = !args.no_browser && std::env::var("PIM_NO_BROWSER").map_or(true, |v| v != "1");
        let client = Client::new(&server, None)?;
        let resp = if args.device {
            super::oidc_device::sign_in(&client, provider, args.token_name).await?
        } else {
            super::oidc_login::sign_in(&client, provider, args.token_name, browser, args.step_up).await?
        };
        return store_and_show(ctx, &server, resp);
    }
    let username = match args.username {
        Some(u) => u,
        None => match ctx.credentials()? {
            Some(c) if credentials::same_server(&c.server, &server) => c.username,
            _ => return Err(anyhow!("pass --username NAME")),
        },
    };
    let password = read_password(args.password_stdin, &format!("Password for {username}: "))?;
    sign_in(ctx, &server, &username, password, args.token_name, args.otp).await
}

/// `pim logout`: revokes the stored token on the server and deletes it.
pub async fn logout(ctx: &Ctx) -> anyhow::Result<()> {
    let Some(c) = ctx.credentials()? else {
        return super::ack(ctx.format, serde_json::json!({"loggedOut": false}), "Not signed in.");
    };
    let client = Client::new(&c.server, Some(c.token.clone()))?;
    match client.logout().await {
        // An expired or revoked token is as good as logged out.
        Ok(()) | Err(ClientError::Api { status: 401, .. }) => {}
        Err(e) => output::note(&format!("warning: the server did not revoke the token: {e}")),
    }
    credentials::remove(&ctx.config_dir)?;
    super::ack(
        ctx.format,
        serde_json::json!({"loggedOut": true, "server": c.server}),
        &format!("Signed out of {} ({}).", c.server, c.username),
    )
}

/// `pim whoami`: the caller and their current roles.
pub async fn whoami(ctx: &Ctx) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let me: MeResponse = client.me().await?;
    if ctx.format == Format::Json {
        return output::print_json(&me);
    }
    let mut names = Names::new(&client);
    names.know_principal(&me.principal);
    let p = &me.principal;
    let mut text = listing(&[
        ("server", client.base_url().as_str().trim_end_matches('/').to_owned()),
        ("name", p.name.clone()),
        ("kind", kind_name(p.kind).to_owned()),
        ("display name", p.display_name.clone()),
        ("id", p.id.to_string()),
    ]);
    text.push_str("\n\nActive roles:\n");
    // With connectors, where each active role stands in their targets ("prod-db: granted").
    match super::connectors::my_targets(&client).await {
        Some(rows) => {
            let cell =
                |a: &pim_api::Assignment| super::connectors::targets_text(&super::connectors::of_assignment(&rows, a));
            let table = assignments_table_with(&mut names, &me.active_assignments, Some(("TARGETS", &cell))).await;
            text.push_str(&table);
            let ids: Vec<_> = me.active_assignments.iter().map(|a| Some(a.id)).collect();
            let others: Vec<_> = rows.iter().filter(|p| !ids.contains(&p.assignment_id)).cloned().collect();
            if !others.is_empty() {
                text.push_str("\n\nAlso in targets (group roles, or ended and being revoked):\n");
                text.push_str(&super::connectors::provisioning_table(&others));
            }
        }
        None => text.push_str(&assignments_table(&mut names, &me.active_assignments).await),
    }
    text.push_str("\n\nEligible roles:\n");
    text.push_str(&assignments_table(&mut names, &me.eligible_assignments).await);
    output::print(&text)
}
