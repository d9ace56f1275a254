//! Server configuration: defaults, then `pim.toml`, then `PIM_*` environment variables, then flags.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

/// Address `pim serve` listens on when nothing else is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8420";
/// Data directory when nothing else is configured.
pub const DEFAULT_DATA_DIR: &str = "pim-data";

/// The keys `pim.toml` may hold.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileConfig {
    /// Address to listen on.
    pub listen: Option<String>,
    /// Data directory (embedded SQLite, keys).
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL.
    pub database_url: Option<String>,
    /// Seconds between background job runs.
    pub job_interval_secs: Option<u64>,
    /// Minutes between scheduled evaluations of the alert rules (default 15).
    pub alert_interval_mins: Option<u64>,
    /// The secret key file (32 bytes, mode 0600) sealing MFA secrets.
    pub secret_key_file: Option<PathBuf>,
    /// The SMTP server for email notifications.
    pub smtp: Option<SmtpFile>,
    /// Webhooks that receive notifications.
    #[serde(default)]
    pub webhooks: Vec<WebhookFile>,
    /// Delivery of notifications.
    pub notifications: Option<NotificationsFile>,
    /// Days audit events are kept before the periodic job removes them [default: for ever].
    pub audit_retention_days: Option<u32>,
    /// The web portal's sessions.
    pub portal: Option<PortalFile>,
    /// The per-source rate limit on the anonymous endpoints.
    pub rate_limit: Option<RateLimitFile>,
    /// Connectors: target systems where pim grants and revokes the real access.
    #[serde(default)]
    pub connectors: Vec<ConnectorFile>,
    /// Signed access tokens (docs/TOKENS.md).
    pub tokens: Option<TokensFile>,
    /// The SSH certificate authority (docs/SSH.md).
    pub ssh: Option<SshFile>,
    /// OpenID Connect providers users sign in through.
    #[serde(default)]
    pub oidc: Vec<OidcFile>,
}

/// `[tokens]` of `pim.toml`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct TokensFile {
    /// The tokens' `iss` [default: `[notifications] public_url`, else `http://<listen address>`].
    pub issuer: Option<String>,
    /// `EdDSA` or `ES256`, for audiences that name none [default: EdDSA].
    pub algorithm: Option<String>,
    /// Days after which a new signing key replaces the current one [default: 0, only `pim keys rotate`].
    pub rotate_every_days: Option<u32>,
}

/// The access tokens' settings from `[tokens]`; `listen` is the address the server listens on
/// (the issuer when neither `issuer` nor `[notifications] public_url` is set).
pub fn token_options(file: &FileConfig, listen: &str) -> anyhow::Result<pim_engine::tokens::TokenOptions> {
    let public_url = file.notifications.as_ref().and_then(|n| n.public_url.as_deref());
    token_options_from(file.tokens.as_ref(), public_url, listen)
}

/// [`token_options`] from `[tokens]` and `[notifications] public_url`.
pub fn token_options_from(
    t: Option<&TokensFile>,
    public_url: Option<&str>,
    listen: &str,
) -> anyhow::Result<pim_engine::tokens::TokenOptions> {
    let issuer = match t.and_then(|t| t.issuer.clone()).or(public_url.map(str::to_owned)) {
        Some(i) => i,
        None => {
            // A wildcard address names no host a resource server could check `iss` against.
            if listen.parse::<std::net::SocketAddr>().is_ok_and(|a| a.ip().is_unspecified()) {
                anyhow::bail!(
                    "listening on {listen}, pim cannot tell its own address for the access tokens' issuer: \
                     set [tokens] issuer or [notifications] public_url (e.g. https://pim.example.com)"
                );
            }
            format!("http://{listen}")
        }
    };
    let issuer = issuer.trim_end_matches('/').to_owned();
    match url::Url::parse(&issuer) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.query().is_none() && u.fragment().is_none() => {}
        _ => anyhow::bail!("[tokens] issuer must be an http or https URL without query or fragment, not '{issuer}'"),
    }
    let default_algorithm = match t.and_then(|t| t.algorithm.as_deref()) {
        None => pim_domain::token::SigningAlg::EdDSA,
        Some(a) => pim_domain::token::SigningAlg::parse(a)
            .with_context(|| format!("[tokens] algorithm must be EdDSA or ES256, not '{a}'"))?,
    };
    let days = t.and_then(|t| t.rotate_every_days).unwrap_or(0);
    if days > 3650 {
        anyhow::bail!("[tokens] rotate_every_days must be at most 3650 (0: rotate only with pim keys rotate)");
    }
    Ok(pim_engine::tokens::TokenOptions {
        issuer,
        default_algorithm,
        rotate_every_ms: i64::from(days) * pim_domain::time::DAY_MS,
    })
}

/// `[ssh]` of `pim.toml`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SshFile {
    /// The longest lifetime of a certificate, in hours (1 to 168); it also ends with its activation [default: 8].
    pub max_certificate_hours: Option<u32>,
}

/// The longest lifetime of an SSH certificate from `[ssh]`, in milliseconds.
pub fn ssh_max_certificate_ms(file: &FileConfig) -> anyhow::Result<i64> {
    let hours = file.ssh.as_ref().and_then(|s| s.max_certificate_hours).unwrap_or(8);
    if !(1..=168).contains(&hours) {
        anyhow::bail!("[ssh] max_certificate_hours must be between 1 and 168");
    }
    Ok(i64::from(hours) * pim_domain::time::HOUR_MS)
}

/// One `[[oidc]]` of `pim.toml` (docs/IDENTITY-OIDC.md).
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct OidcFile {
    /// A unique name, in URLs and `pim login --oidc NAME`.
    pub name: String,
    /// "Sign in with ..." [default: the name].
    pub display_name: Option<String>,
    /// The issuer URL (discovery at `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// The confidential client of the portal (and of the CLI without `cli_client_id`).
    pub client_id: String,
    /// A file holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// An environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// A public (native) client for `pim login --oidc`.
    pub cli_client_id: Option<String>,
    /// Scopes [default: openid, profile, email].
    pub scopes: Option<Vec<String>>,
    /// The claim naming a user created on first sign-in [default: preferred_username].
    pub username_claim: Option<String>,
    /// Create a pim user on first sign-in [default: false].
    pub create_users: Option<bool>,
    /// Link an existing user by a verified email, once [default: false].
    pub link_by_verified_email: Option<bool>,
    /// The claim listing the user's groups [default: groups].
    pub groups_claim: Option<String>,
    /// Provider group -> pim group (static membership follows the claim).
    #[serde(default)]
    pub group_map: std::collections::BTreeMap<String, String>,
    /// `amr` values that count as MFA [default: mfa; otp, hwk, swk alone are single factors].
    pub mfa_amr: Option<Vec<String>>,
    /// `acr` values that count as MFA [default: none].
    pub mfa_acr: Option<Vec<String>>,
    /// `totp` [default] or `idp`: how a session without the provider's MFA steps up.
    pub step_up: Option<String>,
    /// Accept ID tokens signed with the client secret (HS256/384/512) [default: false].
    pub allow_symmetric_id_tokens: Option<bool>,
}

/// The providers of `[[oidc]]`, client secrets read from their files or environment variables.
pub fn oidc_options(
    file: &FileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<pim_engine::oidc::OidcProviderOptions>> {
    use pim_engine::oidc::{OidcProviderOptions, StepUp};
    let mut out: Vec<OidcProviderOptions> = Vec::new();
    for f in &file.oidc {
        let n = &f.name;
        let secret = match (&f.client_secret_file, &f.client_secret_env) {
            (Some(_), Some(_)) => {
                anyhow::bail!("oidc provider '{n}': give client_secret_file or client_secret_env, not both")
            }
            (Some(path), None) => Some(read_secret(path, "OpenID Connect client secret")?),
            (None, Some(var)) => Some(
                env(var)
                    .filter(|v| !v.is_empty())
                    .with_context(|| format!("oidc provider '{n}': the environment variable {var} is not set"))?,
            ),
            (None, None) => None,
        };
        let mut o = OidcProviderOptions::new(n, &f.issuer, &f.client_id);
        o.client_secret = secret;
        if let Some(d) = &f.display_name {
            o.display_name = d.clone();
        }
        o.cli_client_id = f.cli_client_id.clone();
        if let Some(s) = &f.scopes {
            o.scopes = s.clone();
        }
        if let Some(c) = &f.username_claim {
            o.username_claim = c.clone();
        }
        o.create_users = f.create_users.unwrap_or(false);
        o.link_by_verified_email = f.link_by_verified_email.unwrap_or(false);
        o.allow_symmetric_id_tokens = f.allow_symmetric_id_tokens.unwrap_or(false);
        if let Some(c) = &f.groups_claim {
            o.groups_claim = c.clone();
        }
        o.group_map = f.group_map.clone();
        if let Some(v) = &f.mfa_amr {
            o.mfa_amr = v.clone();
        }
        if let Some(v) = &f.mfa_acr {
            o.mfa_acr = v.clone();
        }
        if let Some(s) = &f.step_up {
            o.step_up = StepUp::parse(s)
                .with_context(|| format!("oidc provider '{n}': step_up must be totp or idp, not '{s}'"))?;
        }
        o.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        if out.iter().any(|p| p.name == o.name) {
            anyhow::bail!("two [[oidc]] providers are named '{n}'");
        }
        out.push(o);
    }
    Ok(out)
}

/// One `[[connectors]]` of `pim.toml` (docs/CONNECTORS.md).
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ConnectorFile {
    /// A unique name, e.g. `prod-db`.
    pub name: String,
    /// `postgres`, `mariadb` or `webhook`.
    pub kind: String,
    /// PostgreSQL: the connection URL without the password. Webhook: where grants and revokes go.
    pub url: String,
    /// The PostgreSQL password, or the webhook's signing key, in a file.
    pub password_file: Option<PathBuf>,
    /// The PostgreSQL password, or the webhook's signing key, in this environment variable.
    pub password_env: Option<String>,
    /// PostgreSQL: create a login per user, `VALID UNTIL` the end, and drop it after [default: false].
    pub managed_logins: Option<bool>,
    /// MariaDB: the host part of the accounts pim grants to, `'user'@'host'` [default: `%`].
    pub account_host: Option<String>,
    /// Webhook: where the target's current holdings are read, for reconciliation.
    pub list_url: Option<String>,
    /// `name` [default], `email` or `email_local_part`: what names a user's account in the target.
    pub login_attribute: Option<String>,
    /// Revoke what the target holds of the mapped entitlements that pim did not grant [default: false].
    pub revoke_unmanaged: Option<bool>,
    /// Seconds between reconciliations; 0: at start-up only [default: 300].
    pub reconcile_every_secs: Option<u64>,
    /// The longest wait between two attempts, in seconds [default: 30].
    pub retry_max_secs: Option<u64>,
    /// Attempts of a grant before it is marked failed; revokes are retried for ever [default: 10].
    pub max_grant_attempts: Option<u32>,
    /// Which roles at which scopes give which entitlements.
    #[serde(default)]
    pub mappings: Vec<MappingFile>,
}

/// One `[[connectors.mappings]]`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct MappingFile {
    /// The pim role's name.
    pub role: String,
    /// The scope the entitlement stands for (an assignment there or above it gives it).
    pub scope: String,
    /// The entitlement in the target (a PostgreSQL role, ...).
    pub entitlement: String,
    /// End the account's open sessions when it is revoked [default: true].
    pub terminate_sessions: Option<bool>,
}

/// The connectors of `[[connectors]]`, secrets read from their files or environment variables.
pub fn connector_options(
    file: &FileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<pim_engine::connectors::ConnectorOptions>> {
    use pim_engine::connectors::{
        ConnectorKind, ConnectorOptions, LoginAttribute, Mapping, MariaDbOptions, PostgresOptions, WebhookTarget,
    };
    let mut out = Vec::new();
    for c in &file.connectors {
        let n = &c.name;
        let secret = match (&c.password_file, &c.password_env) {
            (Some(_), Some(_)) => anyhow::bail!("connector '{n}': give password_file or password_env, not both"),
            (Some(path), None) => Some(read_secret(path, "connector password")?),
            (None, Some(var)) => {
                Some(env(var).with_context(|| format!("connector '{n}': the environment variable {var} is not set"))?)
            }
            (None, None) => None,
        };
        if c.account_host.is_some() && c.kind != "mariadb" {
            anyhow::bail!("connector '{n}': account_host is for MariaDB");
        }
        let kind = match c.kind.as_str() {
            "postgres" => {
                if c.list_url.is_some() {
                    anyhow::bail!("connector '{n}': list_url is for webhooks");
                }
                ConnectorKind::Postgres(PostgresOptions {
                    url: c.url.clone(),
                    password: secret,
                    managed_logins: c.managed_logins.unwrap_or(false),
                })
            }
            "mariadb" => {
                if c.list_url.is_some() {
                    anyhow::bail!("connector '{n}': list_url is for webhooks");
                }
                ConnectorKind::MariaDb(MariaDbOptions {
                    url: c.url.clone(),
                    password: secret,
                    account_host: c
                        .account_host
                        .clone()
                        .unwrap_or_else(|| MariaDbOptions::DEFAULT_ACCOUNT_HOST.to_owned()),
                    managed_logins: c.managed_logins.unwrap_or(false),
                })
            }
            "webhook" => {
                if c.managed_logins.is_some() {
                    anyhow::bail!("connector '{n}': managed_logins is for PostgreSQL");
                }
                ConnectorKind::Webhook(WebhookTarget { url: c.url.clone(), secret, list_url: c.list_url.clone() })
            }
            other => anyhow::bail!("connector '{n}': kind must be postgres, mariadb or webhook, not '{other}'"),
        };
        let mut mappings = Vec::new();
        for m in &c.mappings {
            let scope = pim_domain::ScopePath::parse(&m.scope)
                .map_err(|e| anyhow::anyhow!("connector '{n}': mapping scope '{}': {e}", m.scope))?;
            mappings.push(Mapping {
                role: m.role.clone(),
                scope,
                entitlement: m.entitlement.clone(),
                terminate_sessions: m.terminate_sessions.unwrap_or(true),
            });
        }
        let mut o = ConnectorOptions::new(n, kind, mappings);
        if let Some(a) = &c.login_attribute {
            o.login_attribute = LoginAttribute::parse(a).with_context(|| {
                format!("connector '{n}': login_attribute must be name, email or email_local_part, not '{a}'")
            })?;
        }
        o.revoke_unmanaged = c.revoke_unmanaged.unwrap_or(false);
        let ms = |secs: u64| i64::try_from(secs).unwrap_or(i64::MAX / 1000).saturating_mul(1000);
        if let Some(s) = c.reconcile_every_secs {
            o.reconcile_every_ms = ms(s);
        }
        if let Some(s) = c.retry_max_secs {
            o.retry_max_ms = ms(s);
        }
        if let Some(a) = c.max_grant_attempts {
            o.max_grant_attempts = i64::from(a);
        }
        o.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        out.push(o);
    }
    Ok(out)
}

/// `[rate_limit]` of `pim.toml`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RateLimitFile {
    /// Limit sign-in and setup per source address [default: true].
    pub enabled: Option<bool>,
    /// Requests a source regains per second [default: 1].
    pub per_second: Option<u32>,
    /// Requests a source may make at once [default: 10].
    pub burst: Option<u32>,
    /// Take the source from `X-Forwarded-For` (only behind a proxy that sets it) [default: false].
    pub trust_forwarded_for: Option<bool>,
}

/// The rate limit from `[rate_limit]`.
pub fn rate_limit_options(file: &FileConfig) -> anyhow::Result<pim_server::rate_limit::RateLimitOptions> {
    use std::num::NonZeroU32;
    let d = pim_server::rate_limit::RateLimitOptions::default();
    let Some(r) = file.rate_limit.as_ref() else { return Ok(d) };
    let positive = |v: Option<u32>, name: &str, default: NonZeroU32| match v {
        None => Ok(default),
        Some(n) => NonZeroU32::new(n).ok_or_else(|| anyhow::anyhow!("[rate_limit] {name} must be at least 1")),
    };
    Ok(pim_server::rate_limit::RateLimitOptions {
        enabled: r.enabled.unwrap_or(d.enabled),
        per_second: positive(r.per_second, "per_second", d.per_second)?,
        burst: positive(r.burst, "burst", d.burst)?,
        trust_forwarded_for: r.trust_forwarded_for.unwrap_or(d.trust_forwarded_for),
    })
}

/// `[portal]` of `pim.toml`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct PortalFile {
    /// A session not used for this many minutes ends [default: 30].
    pub idle_timeout_mins: Option<u32>,
    /// A session ends this many hours after sign-in [default: 8].
    pub session_hours: Option<u32>,
    /// Mark cookies Secure and send HSTS [default: when `[notifications] public_url` is https].
    pub secure_cookies: Option<bool>,
}

/// The portal's session settings from `[portal]` (and whether `public_url` is https).
pub fn portal_options(file: &FileConfig) -> anyhow::Result<pim_server::portal::PortalOptions> {
    use pim_domain::time::{HOUR_MS, MINUTE_MS};
    let p = file.portal.as_ref();
    let idle = p.and_then(|p| p.idle_timeout_mins).unwrap_or(30);
    let hours = p.and_then(|p| p.session_hours).unwrap_or(8);
    if !(1..=1440).contains(&idle) {
        anyhow::bail!("[portal] idle_timeout_mins must be between 1 and 1440");
    }
    if !(1..=720).contains(&hours) {
        anyhow::bail!("[portal] session_hours must be between 1 and 720");
    }
    let public_url = file.notifications.as_ref().and_then(|n| n.public_url.as_deref());
    let public_origin = match public_url {
        Some(u) => Some(pim_server::portal::origin::origin_of(u).ok_or_else(|| {
            anyhow::anyhow!(
                "[notifications] public_url must be an absolute http or https URL, like https://pim.example.com"
            )
        })?),
        None => None,
    };
    let https = public_origin.as_deref().is_some_and(|o| o.starts_with("https://"));
    Ok(pim_server::portal::PortalOptions {
        idle_ms: i64::from(idle) * MINUTE_MS,
        absolute_ms: i64::from(hours) * HOUR_MS,
        secure_cookies: p.and_then(|p| p.secure_cookies).unwrap_or(https),
        public_origin,
    })
}

/// `[smtp]` of `pim.toml`: a URL, or host, port and TLS mode; credentials; the From address.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SmtpFile {
    /// `smtp://host:port`, `smtp://host:port?tls=required` or `smtps://host:port`.
    pub url: Option<String>,
    /// The server's host name (instead of `url`).
    pub host: Option<String>,
    /// Its port [default: 25, 587 with starttls, 465 with tls].
    pub port: Option<u16>,
    /// `none`, `starttls` or `tls` [default: starttls].
    pub tls: Option<String>,
    /// User name for SMTP AUTH.
    pub username: Option<String>,
    /// Password for SMTP AUTH.
    pub password: Option<String>,
    /// A file holding the password (instead of `password`).
    pub password_file: Option<PathBuf>,
    /// The From address, e.g. `pim <pim@example.com>`.
    pub from: Option<String>,
}

/// One `[[webhooks]]` of `pim.toml`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct WebhookFile {
    /// A unique name (outbox rows name their webhook by it).
    pub name: String,
    /// Where to POST.
    pub url: String,
    /// The HMAC-SHA256 signing key.
    pub secret: Option<String>,
    /// A file holding the signing key (instead of `secret`).
    pub secret_file: Option<PathBuf>,
    /// `json` [default] or `slack`.
    pub format: Option<String>,
    /// Events to send: names or `prefix.*` [default: all].
    pub events: Option<Vec<String>>,
}

/// `[notifications]` of `pim.toml`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct NotificationsFile {
    /// Delivery attempts before a notification is marked failed [default: 10].
    pub max_attempts: Option<u32>,
    /// The server's address as people reach it, quoted in notifications.
    pub public_url: Option<String>,
}

fn read_secret(path: &Path, what: &str) -> anyhow::Result<String> {
    let s = std::fs::read_to_string(path).with_context(|| format!("reading the {what} file {}", path.display()))?;
    Ok(s.trim_end_matches(['\n', '\r']).to_owned())
}

/// The notification settings: `PIM_SMTP_URL`, `PIM_SMTP_FROM`, `PIM_SMTP_USERNAME` and
/// `PIM_SMTP_PASSWORD` from `env` over `[smtp]`; `[[webhooks]]` and `[notifications]` from the file.
pub fn notify_options(
    file: &FileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<pim_engine::notify::NotifyOptions> {
    use pim_engine::notify::{NotifyOptions, SmtpOptions, WebhookFormat, WebhookOptions};
    let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let smtp_file = file.smtp.as_ref();
    let url = match env("PIM_SMTP_URL").or_else(|| smtp_file.and_then(|s| s.url.clone())) {
        Some(url) => Some(url),
        None => match smtp_file.and_then(|s| s.host.as_deref()) {
            Some(host) => {
                let tls = smtp_file.and_then(|s| s.tls.as_deref()).unwrap_or("starttls");
                let port = smtp_file.and_then(|s| s.port);
                Some(match tls {
                    "none" => format!("smtp://{host}:{}", port.unwrap_or(25)),
                    "starttls" => format!("smtp://{host}:{}?tls=required", port.unwrap_or(587)),
                    "tls" => format!("smtps://{host}:{}", port.unwrap_or(465)),
                    other => anyhow::bail!("[smtp] tls must be none, starttls or tls, not '{other}'"),
                })
            }
            None if smtp_file.is_some() => anyhow::bail!("[smtp] needs url or host"),
            None => None,
        },
    };
    let smtp = match url {
        None => None,
        Some(url) => {
            let from = env("PIM_SMTP_FROM")
                .or_else(|| smtp_file.and_then(|s| s.from.clone()))
                .context("email notifications need a From address: set from in [smtp] or PIM_SMTP_FROM")?;
            let password = match env("PIM_SMTP_PASSWORD").or_else(|| smtp_file.and_then(|s| s.password.clone())) {
                Some(p) => Some(p),
                None => match smtp_file.and_then(|s| s.password_file.as_deref()) {
                    Some(path) => Some(read_secret(path, "SMTP password")?),
                    None => None,
                },
            };
            let username = env("PIM_SMTP_USERNAME").or_else(|| smtp_file.and_then(|s| s.username.clone()));
            Some(SmtpOptions { url, username, password, from })
        }
    };
    let mut webhooks = Vec::new();
    for w in &file.webhooks {
        let secret = match (&w.secret, &w.secret_file) {
            (Some(_), Some(_)) => anyhow::bail!("webhook '{}': give secret or secret_file, not both", w.name),
            (Some(s), None) => Some(s.clone()),
            (None, Some(path)) => Some(read_secret(path, "webhook secret")?),
            (None, None) => None,
        };
        let format = match w.format.as_deref() {
            None => WebhookFormat::Json,
            Some(f) => WebhookFormat::parse(f)
                .with_context(|| format!("webhook '{}': format must be json or slack, not '{f}'", w.name))?,
        };
        webhooks.push(WebhookOptions {
            name: w.name.clone(),
            url: w.url.clone(),
            secret,
            format,
            events: w.events.clone().unwrap_or_default(),
        });
    }
    let n = file.notifications.as_ref();
    let defaults = NotifyOptions::default();
    let options = NotifyOptions {
        smtp,
        webhooks,
        max_attempts: n.and_then(|n| n.max_attempts).unwrap_or(defaults.max_attempts),
        public_url: n.and_then(|n| n.public_url.clone()),
    };
    options.validate().map_err(|e| anyhow::anyhow!("notifications: {e}"))?;
    Ok(options)
}

impl FileConfig {
    /// Reads `path`; a missing default file is no error, a missing named file is.
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("pim.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("reading {}", path.display())),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

/// Where the database is.
pub fn database_url(database: Option<String>, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(url) = database {
        return Ok(url);
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {} to its owner", data_dir.display()))?;
    }
    let abs = std::fs::canonicalize(data_dir)?;
    Ok(format!("sqlite://{}", abs.join("pim.db").display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_keys_parse_and_unknown_keys_are_refused() {
        let c: FileConfig = toml::from_str("listen = \"0.0.0.0:9\"\ndata_dir = \"/var/lib/pim\"\n").unwrap();
        assert_eq!(c.listen.as_deref(), Some("0.0.0.0:9"));
        assert_eq!(c.data_dir, Some(PathBuf::from("/var/lib/pim")));
        assert!(toml::from_str::<FileConfig>("lisen = 1").is_err());
    }

    #[test]
    fn notification_settings_come_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("hook.secret");
        std::fs::write(&secret, "from-a-file\n").unwrap();
        let text = format!(
            "[smtp]\nhost = \"mail.example.com\"\nusername = \"pim\"\npassword = \"pw\"\nfrom = \"pim <pim@example.com>\"\n\
             [[webhooks]]\nname = \"siem\"\nurl = \"https://siem.example.com/pim\"\nsecret_file = \"{}\"\n\
             [[webhooks]]\nname = \"chat\"\nurl = \"https://hooks.example.com/x\"\nformat = \"slack\"\nevents = [\"request.*\"]\n\
             [notifications]\nmax_attempts = 3\npublic_url = \"https://pim.example.com\"\n",
            secret.display()
        );
        let file: FileConfig = toml::from_str(&text).unwrap();
        let none = |_: &str| None;
        let o = notify_options(&file, &none).unwrap();
        let smtp = o.smtp.clone().unwrap();
        assert_eq!(smtp.url, "smtp://mail.example.com:587?tls=required");
        assert_eq!((smtp.username.as_deref(), smtp.password.as_deref()), (Some("pim"), Some("pw")));
        assert_eq!(o.webhooks[0].secret.as_deref(), Some("from-a-file"));
        assert_eq!(o.webhooks[1].format, pim_engine::notify::WebhookFormat::Slack);
        assert!(o.webhooks[1].wants("request.approved") && !o.webhooks[1].wants("role.activated"));
        assert_eq!((o.max_attempts, o.public_url.as_deref()), (3, Some("https://pim.example.com")));
        // Nothing secret in the debug output.
        let debug = format!("{o:?}");
        assert!(!debug.contains("pw") && !debug.contains("from-a-file") && !debug.contains("/x"), "{debug}");
        // The environment wins over the file.
        let env = |k: &str| match k {
            "PIM_SMTP_URL" => Some("smtp://127.0.0.1:2525".to_owned()),
            "PIM_SMTP_PASSWORD" => Some("env-pw".to_owned()),
            _ => None,
        };
        let o = notify_options(&file, &env).unwrap();
        let smtp = o.smtp.unwrap();
        assert_eq!((smtp.url.as_str(), smtp.password.as_deref()), ("smtp://127.0.0.1:2525", Some("env-pw")));
        // Nothing configured: no SMTP, no webhooks. Mistakes are refused with a clear message.
        assert_eq!(notify_options(&FileConfig::default(), &none).unwrap(), Default::default());
        let from_env = |k: &str| (k == "PIM_SMTP_URL").then(|| "smtp://127.0.0.1:25".to_owned());
        assert!(notify_options(&FileConfig::default(), &from_env).unwrap_err().to_string().contains("From"));
        for bad in [
            "[smtp]\nhost = \"h\"\ntls = \"maybe\"\nfrom = \"a@b.c\"\n",
            "[smtp]\nfrom = \"a@b.c\"\n",
            "[smtp]\nurl = \"gopher://h\"\nfrom = \"a@b.c\"\n",
            "[[webhooks]]\nname = \"w\"\nurl = \"https://x.example.com\"\n",
            "[[webhooks]]\nname = \"w\"\nurl = \"ftp://x.example.com\"\nsecret = \"s\"\n",
            "[[webhooks]]\nname = \"w\"\nurl = \"https://x.example.com\"\nsecret = \"s\"\nformat = \"xml\"\n",
            "[notifications]\nmax_attempts = 0\n",
        ] {
            let file: FileConfig = toml::from_str(bad).unwrap();
            assert!(notify_options(&file, &none).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_mariadb_connector_is_configured_with_its_account_host() {
        use pim_engine::connectors::{ConnectorKind, MariaDbOptions};
        let text = "[[connectors]]\nname = \"maria\"\nkind = \"mariadb\"\nurl = \"mysql://pim@db:3306/mysql\"\n\
                    password_env = \"PW\"\n[[connectors.mappings]]\nrole = \"DBA\"\nscope = \"/\"\nentitlement = \"ops\"\n";
        let file: FileConfig = toml::from_str(text).unwrap();
        let env = |k: &str| (k == "PW").then(|| "s3cret".to_owned());
        let o = connector_options(&file, &env).unwrap();
        let want = MariaDbOptions {
            url: "mysql://pim@db:3306/mysql".into(),
            password: Some("s3cret".into()),
            account_host: "%".into(),
            managed_logins: false,
        };
        assert_eq!(o[0].kind, ConnectorKind::MariaDb(want));
        assert_eq!(o[0].kind_name(), "mariadb");
        assert!(!format!("{:?}", o[0]).contains("s3cret"));
        let file: FileConfig =
            toml::from_str(&text.replace("password_env", "account_host = \"10.0.%\"\npassword_env")).unwrap();
        let ConnectorKind::MariaDb(m) = &connector_options(&file, &env).unwrap()[0].kind else { panic!("mariadb") };
        assert_eq!(m.account_host, "10.0.%");
        let file: FileConfig = toml::from_str(
            &text.replace("mariadb", "postgres").replace("password_env", "account_host = \"%\"\npassword_env"),
        )
        .unwrap();
        let e = connector_options(&file, &env).unwrap_err().to_string();
        assert!(e.contains("account_host is for MariaDB"), "{e}");
    }

    #[test]
    fn oidc_providers_take_their_secret_from_a_file_or_the_environment_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("corp.secret");
        std::fs::write(&secret, "file-secret-123\n").unwrap();
        let text = format!(
            "[[oidc]]\nname = \"corp\"\ndisplay_name = \"Contoso\"\nissuer = \"https://login.example.com/t/v2.0\"\n\
             client_id = \"pim\"\nclient_secret_file = \"{}\"\ncli_client_id = \"pim-cli\"\ncreate_users = true\n\
             group_map = {{ \"idp-dba\" = \"database-admins\" }}\nmfa_acr = [\"phr\"]\nstep_up = \"idp\"\n\
             [[oidc]]\nname = \"okta\"\nissuer = \"https://example.okta.com\"\nclient_id = \"c\"\nclient_secret_env = \"OKTA_SECRET\"\n",
            secret.display()
        );
        let file: FileConfig = toml::from_str(&text).unwrap();
        let env = |k: &str| (k == "OKTA_SECRET").then(|| "env-secret-456".to_owned());
        let o = oidc_options(&file, &env).unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!((o[0].display_name.as_str(), o[0].client_secret.as_deref()), ("Contoso", Some("file-secret-123")));
        assert_eq!(o[0].cli_client_id.as_deref(), Some("pim-cli"));
        assert!(o[0].create_users && !o[0].link_by_verified_email);
        // Copied as written: the pim group is looked up by this name at sign-in.
        assert_eq!(o[0].group_map.get("idp-dba").map(String::as_str), Some("database-admins"));
        assert_eq!(o[0].step_up, pim_engine::oidc::StepUp::Idp);
        assert!(!o[0].allow_symmetric_id_tokens, "HS256 ID tokens are refused unless allowed");
        assert_eq!((o[1].display_name.as_str(), o[1].client_secret.as_deref()), ("okta", Some("env-secret-456")));
        let debug = format!("{o:?}");
        assert!(!debug.contains("file-secret") && !debug.contains("env-secret"), "{debug}");
        let none = |_: &str| None;
        let e = oidc_options(&file, &none).unwrap_err().to_string();
        assert!(e.contains("OKTA_SECRET is not set"), "{e}");
        for (bad, want) in [
            ("[[oidc]]\nname = \"a\"\nissuer = \"http://idp.example.com\"\nclient_id = \"c\"\n", "https"),
            ("[[oidc]]\nname = \"A B\"\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n", "lower-case"),
            (
                "[[oidc]]\nname = \"a\"\nissuer = \"https://i.example.com\"\nclient_id = \"c\"\nstep_up = \"sms\"\n",
                "totp or idp",
            ),
            (
                "[[oidc]]\nname = \"a\"\nissuer = \"https://i.example.com\"\nclient_id = \"c\"\n\
                 client_secret_env = \"X\"\nclient_secret_file = \"/x\"\n",
                "not both",
            ),
            (
                "[[oidc]]\nname = \"a\"\nissuer = \"https://i.example.com\"\nclient_id = \"c\"\n\
                 [[oidc]]\nname = \"a\"\nissuer = \"https://i.example.com\"\nclient_id = \"c\"\n",
                "two [[oidc]]",
            ),
            (
                "[[oidc]]\nname = \"a\"\nissuer = \"https://i.example.com\"\nclient_id = \"c\"\n\
                 group_map = { \"idp-dba\" = \"database admins\" }\n",
                "oidc provider 'a': group_map.\"idp-dba\" is not a pim group name",
            ),
            (
                "[[oidc]]\nname = \"a\"\nissuer = \"https://i.example.com\"\nclient_id = \"c\"\n\
                 group_map = { \"\" = \"dba\" }\n",
                "oidc provider 'a': group_map has an empty IdP group",
            ),
        ] {
            let file: FileConfig = toml::from_str(bad).unwrap();
            let e = oidc_options(&file, &none).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
        assert!(
            toml::from_str::<FileConfig>("[[oidc]]\nname = \"a\"\nissuer = \"x\"\nclient_id = \"c\"\nsecret = \"s\"\n")
                .is_err()
        );
        let allowed = "[[oidc]]\nname = \"a\"\nissuer = \"https://i.example.com\"\nclient_id = \"c\"\n\
                       allow_symmetric_id_tokens = true\n";
        let file: FileConfig = toml::from_str(allowed).unwrap();
        assert!(oidc_options(&file, &none).unwrap()[0].allow_symmetric_id_tokens);
    }

    #[test]
    fn missing_default_file_is_fine_but_a_named_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        assert!(FileConfig::load(Some(&dir.path().join("nope.toml"))).is_err());
        let url = database_url(None, &dir.path().join("data")).unwrap();
        assert!(url.starts_with("sqlite://") && url.ends_with("pim.db"), "{url}");
        assert_eq!(database_url(Some("postgres://x".into()), dir.path()).unwrap(), "postgres://x");
    }

    #[test]
    fn portal_sessions_default_and_follow_the_public_url() {
        let o = portal_options(&FileConfig::default()).unwrap();
        assert_eq!((o.idle_ms, o.absolute_ms, o.secure_cookies), (30 * 60_000, 8 * 3_600_000, false));
        let file: FileConfig = toml::from_str(
            "[notifications]\npublic_url = \"https://pim.example.com\"\n[portal]\nidle_timeout_mins = 10\n",
        )
        .unwrap();
        let o = portal_options(&file).unwrap();
        assert_eq!((o.idle_ms, o.secure_cookies), (10 * 60_000, true), "https: Secure cookies");
        assert_eq!(o.public_origin.as_deref(), Some("https://pim.example.com"), "forms must come from it");
        let file: FileConfig = toml::from_str("[notifications]\npublic_url = \"pim.example.com\"\n").unwrap();
        assert!(portal_options(&file).is_err(), "a public URL without a scheme is refused at start");
        let file: FileConfig = toml::from_str("[portal]\nsecure_cookies = true\nsession_hours = 2\n").unwrap();
        assert_eq!(portal_options(&file).unwrap().absolute_ms, 2 * 3_600_000);
        for bad in ["[portal]\nidle_timeout_mins = 0\n", "[portal]\nsession_hours = 1000\n", "[portal]\nidle = 3\n"] {
            assert!(
                toml::from_str::<FileConfig>(bad)
                    .map_err(anyhow::Error::from)
                    .and_then(|f| portal_options(&f))
                    .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn token_settings_default_to_the_public_url_and_are_checked() {
        use pim_domain::token::SigningAlg;
        let o = token_options(&FileConfig::default(), "127.0.0.1:8420").unwrap();
        assert_eq!(
            (o.issuer.as_str(), o.default_algorithm, o.rotate_every_ms),
            ("http://127.0.0.1:8420", SigningAlg::EdDSA, 0)
        );
        let file: FileConfig = toml::from_str("[notifications]\npublic_url = \"https://pim.example.com/\"\n").unwrap();
        assert_eq!(token_options(&file, "x").unwrap().issuer, "https://pim.example.com");
        // A wildcard listen address is no issuer: refused unless one is configured.
        for wildcard in ["0.0.0.0:8420", "[::]:8420"] {
            let e = token_options(&FileConfig::default(), wildcard).unwrap_err().to_string();
            assert!(e.contains("[tokens] issuer") && e.contains("public_url"), "{e}");
            assert_eq!(token_options(&file, wildcard).unwrap().issuer, "https://pim.example.com");
        }
        let file: FileConfig = toml::from_str(
            "[notifications]\npublic_url = \"https://pim.example.com\"\n\
             [tokens]\nissuer = \"https://id.example.com\"\nalgorithm = \"ES256\"\nrotate_every_days = 30\n",
        )
        .unwrap();
        let o = token_options(&file, "x").unwrap();
        assert_eq!((o.issuer.as_str(), o.default_algorithm), ("https://id.example.com", SigningAlg::ES256));
        assert_eq!(o.rotate_every_ms, 30 * 86_400_000);
        for bad in [
            "[tokens]\nissuer = \"pim.example.com\"\n",
            "[tokens]\nissuer = \"https://x.example.com/?a=1\"\n",
            "[tokens]\nalgorithm = \"HS256\"\n",
            "[tokens]\nrotate_every_days = 4000\n",
            "[tokens]\nlifetime = 3\n",
        ] {
            assert!(
                toml::from_str::<FileConfig>(bad)
                    .map_err(anyhow::Error::from)
                    .and_then(|f| token_options(&f, "x"))
                    .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_rate_limit_defaults_and_is_configurable() {
        let d = rate_limit_options(&FileConfig::default()).unwrap();
        assert_eq!((d.enabled, d.per_second.get(), d.burst.get(), d.trust_forwarded_for), (true, 1, 10, false));
        let file: FileConfig =
            toml::from_str("[rate_limit]\nburst = 3\nper_second = 2\ntrust_forwarded_for = true\n").unwrap();
        let o = rate_limit_options(&file).unwrap();
        assert_eq!((o.enabled, o.per_second.get(), o.burst.get(), o.trust_forwarded_for), (true, 2, 3, true));
        let off: FileConfig = toml::from_str("[rate_limit]\nenabled = false\n").unwrap();
        assert!(!rate_limit_options(&off).unwrap().enabled);
        for bad in ["[rate_limit]\nburst = 0\n", "[rate_limit]\nper_second = 0\n", "[rate_limit]\nrate = 3\n"] {
            assert!(
                toml::from_str::<FileConfig>(bad)
                    .map_err(anyhow::Error::from)
                    .and_then(|f| rate_limit_options(&f))
                    .is_err(),
                "{bad}"
            );
        }
    }
}
