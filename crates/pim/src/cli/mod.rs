//! The command line: parsing (clap), the shared context (server, token, output format) and dispatch to
//! one module per command group. Every command but `serve` and `admin` is a client of the HTTP API.

pub mod activity;
pub mod alerts;
pub mod approvals;
pub mod assignments;
pub mod audit;
pub mod auth;
pub mod check;
pub mod connectors;
pub mod credentials;
pub mod directory;
pub mod duration;
pub mod mfa;
pub mod notifications;
pub mod oidc_device;
pub mod oidc_login;
pub mod output;
pub mod policy;
pub mod reports;
pub mod requests;
pub mod resolve;
pub mod reviews;
pub mod roles;
pub mod scim;
pub mod scopes;
pub mod ssh;
pub mod tokens;
pub mod views;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::{Parser, Subcommand};
use pim_client::Client;

use crate::{bootstrap, serve};
use credentials::Credentials;
use output::Format;

/// pim: Privileged Identity Management — just-in-time, time-bound, approved and audited access.
#[derive(Debug, Parser)]
#[command(name = "pim", version, propagate_version = true, max_term_width = 120)]
pub struct Cli {
    /// Server URL, e.g. http://127.0.0.1:8420 [default: the one stored by `pim login`].
    #[arg(long, global = true, env = "PIM_SERVER", value_name = "URL", help_heading = "Global options")]
    pub server: Option<String>,
    /// API token to use instead of the stored sign-in (e.g. a service principal's).
    #[arg(
        long,
        global = true,
        env = "PIM_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        help_heading = "Global options"
    )]
    pub token: Option<String>,
    /// Output format.
    #[arg(
        short = 'o',
        long,
        global = true,
        value_enum,
        default_value_t = Format::Table,
        env = "PIM_OUTPUT",
        help_heading = "Global options"
    )]
    pub output: Format,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pim server.
    Serve(serve::ServeArgs),
    /// Administer a server's database directly (no server needed).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Create the first account on a new server with its one-time setup secret, and sign in.
    Setup(auth::SetupArgs),
    /// Sign in and store the token (in $PIM_CONFIG_DIR or the config directory, mode 0600).
    Login(auth::LoginArgs),
    /// Revoke the stored token and forget it.
    Logout,
    /// Show who you are signed in as, and your active and eligible roles.
    Whoami,
    /// Users.
    Users {
        #[command(subcommand)]
        command: directory::UsersCommand,
    },
    /// Groups and their members.
    Groups {
        #[command(subcommand)]
        command: directory::GroupsCommand,
    },
    /// Service principals (non-human callers).
    #[command(name = "sps", alias = "service-principals")]
    Sps {
        #[command(subcommand)]
        command: directory::SpsCommand,
    },
    /// API tokens.
    Tokens {
        #[command(subcommand)]
        command: directory::TokensCommand,
    },
    /// Scopes and the resources registered at them.
    Scopes {
        #[command(subcommand)]
        command: scopes::ScopesCommand,
    },
    /// Role definitions.
    Roles {
        #[command(subcommand)]
        command: roles::RolesCommand,
    },
    /// Role settings (policy) of a role at a scope.
    Settings {
        #[command(subcommand)]
        command: roles::SettingsCommand,
    },
    /// Write the policy (custom roles, groups and members, role settings, eligible and permanent
    /// assignments) as one TOML file to keep in git. See docs/POLICY.md.
    Export(policy::ExportArgs),
    /// Show what applying a policy file would change; exits 0 when nothing differs, 2 when
    /// something does, 1 on error.
    Plan(policy::PlanArgs),
    /// Apply a policy file in one transaction (all of it or nothing); removals only with --prune;
    /// changes to protected settings are filed as proposals.
    Apply(policy::ApplyArgs),
    /// Assign a role to a principal at a scope, eligible or active.
    Assign(assignments::AssignArgs),
    /// List and change assignments.
    Assignments {
        #[command(subcommand)]
        command: assignments::AssignmentsCommand,
    },
    /// Activate a role you are eligible for.
    Activate(requests::ActivateArgs),
    /// End one of your activations early.
    Deactivate(requests::DeactivateArgs),
    /// Ask to extend one of your assignments that ends soon.
    Extend(requests::SelfChangeArgs),
    /// Ask to renew one of your assignments that expired recently.
    Renew(requests::SelfChangeArgs),
    /// List, show and cancel requests (`--pending`: those waiting for your decision).
    Requests(requests::RequestsArgs),
    /// Approve one or more requests waiting for your decision.
    Approve(approvals::DecideArgs),
    /// Deny one or more requests waiting for your decision.
    Deny(approvals::DecideArgs),
    /// Changes to protected role settings, waiting for a second administrator.
    #[command(name = "settings-changes")]
    SettingsChanges {
        #[command(subcommand)]
        command: approvals::SettingsChangesCommand,
    },
    /// Break-glass activations and their review after the fact.
    #[command(name = "break-glass")]
    BreakGlass {
        #[command(subcommand)]
        command: approvals::BreakGlassCommand,
    },
    /// Ask whether a principal may perform an action at a scope now.
    Check(check::CheckArgs),
    /// A signed access token (JWT) for a resource server: `pim token --audience NAME [--role R]
    /// [--scope S]` prints it; `pim token introspect TOKEN` asks whether one is still active.
    Token(tokens::TokenArgs),
    /// Audiences: the resource servers that accept pim's access tokens.
    Audiences {
        #[command(subcommand)]
        command: tokens::AudiencesCommand,
    },
    /// The keys that sign access tokens: list, rotate.
    Keys {
        #[command(subcommand)]
        command: tokens::KeysCommand,
    },
    /// Sign your SSH public key for a role you hold now: an OpenSSH certificate valid until the
    /// activation ends, written beside the key (`id_ed25519-cert.pub`), which `ssh` then uses.
    ///
    /// The certificate's principals (login names) are the role's SSH principals setting; it ends
    /// when the activation does (at most the server's maximum). See docs/SSH.md.
    #[command(name = "ssh-cert")]
    SshCert(ssh::SshCertArgs),
    /// Print pim's SSH CA public key (for a host's TrustedUserCAKeys); no sign-in needed.
    #[command(name = "ssh-ca")]
    SshCa,
    /// What was done under an activation: the activity the systems that report to pim recorded,
    /// and the connectors' grants and revokes (`--output json` for all of it).
    Activity(activity::ActivityArgs),
    /// Connectors: the targets where pim grants the real access, and where each grant stands.
    ///
    /// `pim connectors` lists them; `reconcile NAME` compares a target with pim now;
    /// `credential NAME` hands you, once, the password of a login a connector made for you;
    /// `status [PRINCIPAL]` shows where your access (or a principal's) stands in every target.
    Connectors(connectors::ConnectorsArgs),
    /// SCIM provisioning: the identity providers allowed to keep pim's users and groups in step
    /// through /scim/v2 (`pim scim clients create NAME` prints the bearer secret once).
    Scim {
        #[command(subcommand)]
        command: scim::ScimCommand,
    },
    /// Reports: who holds what, activation history.
    Reports {
        #[command(subcommand)]
        command: reports::ReportsCommand,
    },
    /// The audit history.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Multi-factor authentication: enroll an authenticator app, pass MFA, recovery codes.
    Mfa {
        #[command(subcommand)]
        command: mfa::MfaCommand,
    },
    /// Notifications sent by email and webhooks, and their delivery status.
    Notifications(notifications::NotificationsArgs),
    /// Security alerts and their rules: list, show, evaluate, dismiss, remediate.
    Alerts {
        #[command(subcommand)]
        command: alerts::AlertsCommand,
    },
    /// Access reviews: create and run them, decide your items, apply the results.
    ///
    /// A review asks reviewers (the principals themselves, their managers, or chosen users and
    /// groups) whether assignments of roles at a scope, or a group's memberships, are still needed.
    /// Each instance reviews a snapshot taken at its start; reviewers approve or deny each item (pim
    /// recommends deny when the principal has not activated or signed in for 30 days). When an
    /// instance ends or is stopped, each item gets its outcome; applying the results removes the
    /// denied access through adminRemove requests. See docs/REVIEWS.md.
    ///
    /// Administrators (pim.reviews.write at the scope): create, stop, reset, stop-instance, apply.
    /// Readers (pim.reviews.read): list, show, instance, results. Reviewers: mine, decide.
    #[command(after_help = REVIEWS_FLOW)]
    Reviews {
        #[command(subcommand)]
        command: reviews::ReviewsCommand,
    },
}

/// The usual flow of `pim reviews`, shown under `pim reviews --help`.
const REVIEWS_FLOW: &str = "A review from start to end:
  pim reviews create \"prod owners\" --role Owner --scope /prod --reviewer alice --duration-days 14
  pim reviews show REVIEW_ID                 # its instances, with their ids and counts
  pim reviews mine                           # (alice) the items waiting for her
  pim reviews decide INSTANCE_ID --deny -r \"left the team\" ITEM_ID
  pim reviews decide INSTANCE_ID --approve -r \"still on call\"   # every other undecided item
  pim reviews stop-instance INSTANCE_ID      # or wait for its end
  pim reviews results INSTANCE_ID --format csv --out results.csv
  pim reviews apply INSTANCE_ID              # removes what was denied";

/// `pim admin ...`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create the first Global Administrator directly in the database.
    Bootstrap(bootstrap::BootstrapArgs),
}

/// What every client command needs: the output format, the server and the credentials.
#[derive(Debug)]
pub struct Ctx {
    /// How to print results.
    pub format: Format,
    server: Option<String>,
    token: Option<String>,
    /// Where credentials are stored.
    pub config_dir: PathBuf,
}

impl Ctx {
    /// The stored credentials, if any.
    pub fn credentials(&self) -> anyhow::Result<Option<Credentials>> {
        credentials::load(&self.config_dir)
    }

    /// The server to talk to: `--server`/`PIM_SERVER`, else the stored one.
    pub fn server(&self) -> anyhow::Result<String> {
        if let Some(s) = self.server.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            return Ok(s.to_owned());
        }
        match self.credentials()? {
            Some(c) => Ok(c.server),
            None => Err(anyhow!("no server given: pass --server URL (or set PIM_SERVER), or run pim login first")),
        }
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.server()?, None)?)
    }

    /// A client with `--token`/`PIM_TOKEN`, else the stored token (only for the server it was issued by).
    pub fn client(&self) -> anyhow::Result<Client> {
        let server = self.server()?;
        if let Some(t) = self.token.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            return Ok(Client::new(&server, Some(t.to_owned()))?);
        }
        match self.credentials()? {
            Some(c) if credentials::same_server(&c.server, &server) => {
                if c.expires_at <= duration::now() {
                    return Err(anyhow!(
                        "your sign-in to {server} expired at {}; run pim login again",
                        output::time(c.expires_at)
                    ));
                }
                Ok(Client::new(&server, Some(c.token))?)
            }
            _ => Err(anyhow!("not signed in to {server}: run pim login --server {server} --username NAME")),
        }
    }
}

/// Parses the command line, runs the command and prints any error; the process exit code.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if policy::is_differs(&e) => ExitCode::from(2),
        Err(e) => {
            output::note(&format!("error: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = || -> anyhow::Result<Ctx> {
        Ok(Ctx {
            format: cli.output,
            server: cli.server.clone(),
            token: cli.token.clone(),
            config_dir: credentials::config_dir()?,
        })
    };
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Admin { command: AdminCommand::Bootstrap(args) } => bootstrap::run(args).await,
        Command::Setup(args) => auth::setup(&ctx()?, args).await,
        Command::Login(args) => auth::login(&ctx()?, args).await,
        Command::Logout => auth::logout(&ctx()?).await,
        Command::Whoami => auth::whoami(&ctx()?).await,
        Command::Users { command } => directory::users(&ctx()?, command).await,
        Command::Groups { command } => directory::groups(&ctx()?, command).await,
        Command::Sps { command } => directory::sps(&ctx()?, command).await,
        Command::Tokens { command } => directory::tokens(&ctx()?, command).await,
        Command::Scopes { command } => scopes::run(&ctx()?, command).await,
        Command::Roles { command } => roles::roles(&ctx()?, command).await,
        Command::Settings { command } => roles::settings(&ctx()?, command).await,
        Command::Export(args) => policy::export(&ctx()?, args).await,
        Command::Plan(args) => policy::plan(&ctx()?, args).await,
        Command::Apply(args) => policy::apply(&ctx()?, args).await,
        Command::Assign(args) => assignments::assign(&ctx()?, args).await,
        Command::Assignments { command } => assignments::run(&ctx()?, command).await,
        Command::Activate(args) => requests::activate(&ctx()?, args).await,
        Command::Deactivate(args) => requests::deactivate(&ctx()?, args).await,
        Command::Extend(args) => requests::self_change(&ctx()?, args, pim_api::RequestAction::SelfExtend).await,
        Command::Renew(args) => requests::self_change(&ctx()?, args, pim_api::RequestAction::SelfRenew).await,
        Command::Requests(args) => requests::requests(&ctx()?, args).await,
        Command::Approve(args) => approvals::decide(&ctx()?, args, pim_api::Verdict::Approve).await,
        Command::Deny(args) => approvals::decide(&ctx()?, args, pim_api::Verdict::Deny).await,
        Command::SettingsChanges { command } => approvals::settings_changes(&ctx()?, command).await,
        Command::BreakGlass { command } => approvals::break_glass(&ctx()?, command).await,
        Command::Check(args) => check::run(&ctx()?, args).await,
        Command::Token(args) => tokens::token(&ctx()?, args).await,
        Command::Audiences { command } => tokens::audiences(&ctx()?, command).await,
        Command::Keys { command } => tokens::keys(&ctx()?, command).await,
        Command::Connectors(args) => connectors::run(&ctx()?, args).await,
        Command::Activity(args) => activity::run(&ctx()?, args).await,
        Command::SshCert(args) => ssh::ssh_cert(&ctx()?, args).await,
        Command::SshCa => ssh::ssh_ca(&ctx()?).await,
        Command::Scim { command } => scim::run(&ctx()?, command).await,
        Command::Audit { command } => audit::run(&ctx()?, command).await,
        Command::Reports { command } => reports::run(&ctx()?, command).await,
        Command::Mfa { command } => mfa::run(&ctx()?, command).await,
        Command::Notifications(args) => notifications::run(&ctx()?, args).await,
        Command::Alerts { command } => alerts::run(&ctx()?, command).await,
        Command::Reviews { command } => reviews::run(&ctx()?, command).await,
    }
}

/// Reads a password: the first line of standard input with `from_stdin`, else a prompt on the terminal.
pub fn read_password(from_stdin: bool, prompt: &str) -> anyhow::Result<String> {
    let pw = if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        rpassword::prompt_password(prompt)
            .map_err(|e| anyhow!("cannot read the password from the terminal ({e}); use --password-stdin"))?
    };
    if pw.is_empty() {
        return Err(anyhow!("the password is empty"));
    }
    Ok(pw)
}

/// A small JSON acknowledgement for commands whose answer has no body.
pub fn ack(format: Format, json: serde_json::Value, text: &str) -> anyhow::Result<()> {
    output::show(format, &json, || text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_access_token_to_introspect_is_not_the_api_token() {
        let cli = Cli::try_parse_from(["pim", "token", "introspect", "eyJ.e30.sig", "--token", "pim_api"]).unwrap();
        assert_eq!(cli.token.as_deref(), Some("pim_api"));
        let Command::Token(t) = cli.command else { panic!("pim token") };
        let Some(tokens::TokenCommand::Introspect { access_token }) = t.command else { panic!("introspect") };
        assert_eq!(access_token, "eyJ.e30.sig");
        let cli = Cli::try_parse_from(["pim", "token", "introspect", "eyJ.e30.sig"]).unwrap();
        assert_eq!(cli.token, None, "the positional is not the global --token");
    }

    #[test]
    fn global_options_go_anywhere() {
        let cli = Cli::try_parse_from(["pim", "users", "list", "-o", "json", "--server", "http://x"]).unwrap();
        assert_eq!(cli.output, Format::Json);
        assert_eq!(cli.server.as_deref(), Some("http://x"));
        let e = Cli::try_parse_from(["pim", "activate"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn documented_command_lines_parse() {
        let id = "0193a000-0000-7000-8000-000000000001";
        let lines: &[&[&str]] = &[
            &["pim", "setup", "--secret", "s", "--username", "root", "--password-stdin"],
            &["pim", "login", "--username", "alice", "--password-stdin"],
            &["pim", "users", "create", "bob", "--email", "bob@example.com", "--manager", "alice"],
            &["pim", "users", "update", "bob", "--enabled", "false"],
            &["pim", "groups", "add-member", "ops", "bob"],
            &["pim", "sps", "create", "ci-bot", "--description", "CI"],
            &["pim", "tokens", "create", "ci", "--for", "ci-bot", "--expires-in-days", "7"],
            &["pim", "token", "--audience", "k8s-prod", "--role", "Operator", "--scope", "/k8s/prod"],
            &["pim", "token", "introspect", "eyJ.e30.sig"],
            &["pim", "audiences", "create", "k8s-prod", "--role", "Operator,Reader", "--scope-prefix", "/k8s"],
            &["pim", "audiences", "update", "k8s-prod", "--lifetime", "5m", "--algorithm", "ES256"],
            &["pim", "audiences", "delete", "k8s-prod"],
            &["pim", "keys", "rotate"],
            &["pim", "scopes", "add", "/prod/db", "--name", "orders", "--type", "postgres.database"],
            &["pim", "scopes", "list", "--under", "/prod"],
            &["pim", "roles", "create", "--name", "Blob Reader", "--action", "storage.blobs.read,storage.list"],
            &["pim", "settings", "set", "Reader", "--scope", "/prod", "--max-duration", "4h", "--require-mfa", "false"],
            &["pim", "settings", "set", "Reader", "--require-approval", "true", "--approver", "alice,bob"],
            &["pim", "assign", "bob", "Reader", "--scope", "/prod", "--eligible", "--duration", "30d", "-j", "x"],
            &["pim", "assignments", "list", "--principal", "bob", "--all"],
            &["pim", "assignments", "update", id, "--permanent"],
            &["pim", "assignments", "extend", id, "--by", "7d"],
            &[
                "pim",
                "activate",
                "Reader",
                "--scope",
                "/prod",
                "--duration",
                "2h",
                "-j",
                "fix",
                "--ticket",
                "jira:OPS-1",
            ],
            &["pim", "activate", "Reader", "-d", "1h30m", "--wait", "--wait-timeout", "1h"],
            &["pim", "deactivate", "Reader", "--scope", "/prod"],
            &["pim", "deactivate", "--assignment", id],
            &["pim", "extend", id, "-j", "more time"],
            &["pim", "renew", id, "--end", "2030-01-01"],
            &["pim", "requests", "--mine", "--status", "PendingApproval"],
            &["pim", "requests", "show", id],
            &["pim", "requests", "cancel", id],
            &["pim", "check", "bob", "storage.blobs.read", "/prod/db"],
            &["pim", "connectors"],
            &["pim", "connectors", "list"],
            &["pim", "-o", "json", "connectors"],
            &["pim", "connectors", "reconcile", "prod-db"],
            &["pim", "connectors", "credential", "prod-db"],
            &["pim", "connectors", "status"],
            &["pim", "connectors", "status", "bob"],
            &["pim", "audit", "list", "--from", "-1d", "--action", "request."],
            &["pim", "audit", "export", "--format", "json", "--out", "audit.json", "--scope", "/prod"],
            &["pim", "audit", "verify"],
            &["pim", "audit", "mine", "--limit", "10"],
            &["pim", "reports", "access", "--under", "/prod", "--format", "csv", "--out", "access.csv"],
            &["pim", "reports", "activations", "--from", "-7d", "--format", "csv"],
            &["pim", "-o", "json", "whoami"],
            &["pim", "login", "--username", "alice", "--otp", "123456"],
            &["pim", "mfa", "enroll"],
            &["pim", "mfa", "enroll", "--no-confirm"],
            &["pim", "mfa", "confirm", "123456"],
            &["pim", "mfa", "verify", "--otp", "123456"],
            &["pim", "mfa", "verify", "--recovery-code", "7kq2m-x9d4r"],
            &["pim", "mfa", "status"],
            &["pim", "mfa", "recovery-codes"],
            &["pim", "mfa", "reset", "bob"],
            &["pim", "notifications", "--status", "pending", "--event", "role.activated"],
            &["pim", "alerts", "list", "--state", "all"],
            &["pim", "alerts", "show", id],
            &["pim", "alerts", "evaluate"],
            &["pim", "alerts", "dismiss", id, "-r", "known"],
            &["pim", "alerts", "remediate", id],
            &["pim", "alerts", "rules"],
            &["pim", "alerts", "rules", "set", "frequentActivations", "-t", "activations=4", "--severity", "high"],
            &["pim", "alerts", "rules", "set", "staleAccounts", "--disable"],
            &[
                "pim",
                "reviews",
                "create",
                "q1",
                "--role",
                "Owner,Reader",
                "--scope",
                "/prod",
                "--reviewer",
                "alice",
                "--reviewer",
                "ops",
                "--duration-days",
                "14",
            ],
            &[
                "pim",
                "reviews",
                "create",
                "q1",
                "--group",
                "ops",
                "--managers",
                "--fallback",
                "alice",
                "--duration-days",
                "7",
            ],
            &[
                "pim",
                "reviews",
                "create",
                "q1",
                "--role",
                "Reader",
                "--scope",
                "/",
                "--self-review",
                "--kinds",
                "eligible",
                "--inactive-days",
                "90",
                "--start",
                "2030-01-06T09:00:00Z",
                "--recurrence",
                "semi-annually",
                "--duration-days",
                "14",
                "--end-after",
                "4",
                "--auto-apply",
                "--if-no-response",
                "take-recommendation",
                "--no-reason-required",
                "--description",
                "why",
            ],
            &["pim", "reviews", "list"],
            &["pim", "reviews", "show", id],
            &["pim", "reviews", "stop", id],
            &["pim", "reviews", "instance", id],
            &["pim", "reviews", "results", id],
            &["pim", "reviews", "results", id, "--format", "csv", "--out", "r.csv"],
            &["pim", "reviews", "reset", id],
            &["pim", "reviews", "stop-instance", id],
            &["pim", "reviews", "apply", id],
            &["pim", "reviews", "mine"],
            &["pim", "reviews", "decide", id, "--approve", "-r", "needed"],
            &["pim", "reviews", "decide", id, id, id, "--deny", "--reason", "left"],
            &["pim", "reviews", "decide", id, "--accept-recommendations"],
        ];
        for line in lines {
            if let Err(e) = Cli::try_parse_from(*line) {
                panic!("{line:?}: {e}");
            }
        }
        let bad: &[&[&str]] = &[
            &["pim", "assign", "bob", "Reader", "--eligible", "--active"],
            &["pim", "assign", "bob", "Reader"],
            &["pim", "activate", "Reader", "-d", "2h", "--ticket", "OPS-1"],
            &["pim", "deactivate"],
            &["pim", "-o", "yaml", "whoami"],
            &["pim", "alerts", "rules", "set", "staleAccounts", "-t", "days"],
            &["pim", "alerts", "rules", "set", "staleAccounts", "-t", "days=soon"],
            &["pim", "alerts", "rules", "set", "staleAccounts", "--severity", "critical"],
            &["pim", "alerts", "rules", "set", "staleAccounts", "--enable", "--disable"],
            &["pim", "alerts", "dismiss", "0193a000-0000-7000-8000-000000000001"],
            &["pim", "mfa", "verify", "--otp", "1", "--recovery-code", "2"],
            &["pim", "mfa", "reset"],
            &["pim", "connectors", "reconcile"],
            &["pim", "connectors", "credential"],
            &["pim", "connectors", "status", "a", "b"],
            &["pim", "reviews", "create", "q1", "--role", "Reader", "--reviewer", "alice", "--duration-days", "7"],
            &["pim", "reviews", "create", "q1", "--group", "ops", "--duration-days", "7"],
            &["pim", "reviews", "create", "q1", "--group", "ops", "--self-review"],
            &["pim", "reviews", "create", "q1", "--group", "ops", "--managers", "--duration-days", "7"],
            &[
                "pim",
                "reviews",
                "create",
                "q1",
                "--group",
                "ops",
                "--self-review",
                "--reviewer",
                "a",
                "--duration-days",
                "7",
            ],
            &[
                "pim",
                "reviews",
                "create",
                "q1",
                "--group",
                "ops",
                "--scope",
                "/",
                "--self-review",
                "--duration-days",
                "7",
            ],
            &[
                "pim",
                "reviews",
                "create",
                "q1",
                "--group",
                "ops",
                "--self-review",
                "--duration-days",
                "7",
                "--end-on",
                "2030-01-01",
                "--end-after",
                "2",
            ],
            &[
                "pim",
                "reviews",
                "create",
                "q1",
                "--group",
                "ops",
                "--self-review",
                "--duration-days",
                "7",
                "--recurrence",
                "daily",
            ],
            &["pim", "reviews", "decide", "0193a000-0000-7000-8000-000000000001"],
            &["pim", "reviews", "decide", "0193a000-0000-7000-8000-000000000001", "--approve", "--deny"],
            &["pim", "reviews", "results", "0193a000-0000-7000-8000-000000000001", "--format", "xml"],
            &["pim", "reviews", "show", "not-an-id"],
        ];
        for line in bad {
            assert_eq!(Cli::try_parse_from(*line).map(|_| ()).unwrap_err().exit_code(), 2, "{line:?}");
        }
    }
}
