//! `pim serve`: load the configuration, open the store, and run the HTTP server and workers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use pim_engine::engine::EngineOptions;
use pim_engine::{Engine, SystemClock};
use pim_server::AppState;

use crate::config::{self, FileConfig};

/// Options of `pim serve`. Each is also `PIM_*` in the environment or a key in `pim.toml`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8420].
    #[arg(long, env = "PIM_LISTEN")]
    pub listen: Option<String>,
    /// Directory for the embedded database and keys [default: ./pim-data].
    #[arg(long, env = "PIM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (`postgres://...`); the embedded SQLite in the data directory when absent.
    #[arg(long, env = "PIM_DATABASE_URL")]
    pub database: Option<String>,
    /// Configuration file [default: ./pim.toml when it exists].
    #[arg(long, env = "PIM_CONFIG")]
    pub config: Option<PathBuf>,
    /// The secret key sealing MFA secrets (32 bytes, mode 0600) [default: DATA_DIR/secret.key, created on first start].
    #[arg(long, env = "PIM_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Remove audit events older than this many days (the hash chain stays verifiable) [default: keep for ever].
    #[arg(long, env = "PIM_AUDIT_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub audit_retention_days: Option<u32>,
}

/// The effective settings of `pim serve`.
#[derive(Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Address to listen on.
    pub listen: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL, if not the embedded one.
    pub database: Option<String>,
    /// Seconds between job runs.
    pub job_interval_secs: u64,
    /// Minutes between scheduled evaluations of the alert rules.
    pub alert_interval_mins: u64,
    /// Where the secret key is.
    pub secret_key: crate::secret_key::KeySource,
    /// How notifications are delivered.
    pub notifications: pim_engine::notify::NotifyOptions,
    /// Days audit events are kept (`None`: for ever).
    pub audit_retention_days: Option<u32>,
    /// The portal's sessions.
    pub portal: pim_server::portal::PortalOptions,
    /// The per-source rate limit on the anonymous endpoints.
    pub rate_limit: pim_server::rate_limit::RateLimitOptions,
    /// The connectors.
    pub connectors: Vec<pim_engine::connectors::ConnectorOptions>,
    /// `[tokens]` as written (the issuer's default needs the address listened on).
    pub tokens: Option<config::TokensFile>,
    /// `[notifications] public_url` (the issuer's default).
    pub public_url: Option<String>,
    /// The longest lifetime of an SSH certificate, in milliseconds.
    pub ssh_max_certificate_ms: i64,
    /// The OpenID Connect providers.
    pub oidc: Vec<pim_engine::oidc::OidcProviderOptions>,
}

/// Flags and environment (already merged by clap) over the file over the defaults.
pub fn resolve(args: ServeArgs) -> anyhow::Result<Resolved> {
    let file = FileConfig::load(args.config.as_deref())?;
    let data_dir = args.data_dir.or(file.data_dir.clone()).unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR));
    let notifications = config::notify_options(&file, &|k| std::env::var(k).ok())?;
    let audit_retention_days = args.audit_retention_days.or(file.audit_retention_days);
    if audit_retention_days == Some(0) {
        anyhow::bail!("audit_retention_days must be at least 1 (leave it out to keep the audit history for ever)");
    }
    let connectors = config::connector_options(&file, &|k| std::env::var(k).ok())?;
    // Checked now, with a stand-in address, so a mistake stops the start before anything opens.
    config::token_options(&file, "127.0.0.1:8420")?;
    let oidc = config::oidc_options(&file, &|k| std::env::var(k).ok())?;
    Ok(Resolved {
        tokens: file.tokens.clone(),
        public_url: file.notifications.as_ref().and_then(|n| n.public_url.clone()),
        ssh_max_certificate_ms: config::ssh_max_certificate_ms(&file)?,
        connectors,
        oidc,
        audit_retention_days,
        portal: config::portal_options(&file)?,
        rate_limit: config::rate_limit_options(&file)?,
        listen: args.listen.or(file.listen).unwrap_or_else(|| config::DEFAULT_LISTEN.to_owned()),
        secret_key: crate::secret_key::KeySource::new(args.secret_key_file.or(file.secret_key_file), &data_dir),
        data_dir,
        database: args.database.or(file.database_url),
        job_interval_secs: file.job_interval_secs.unwrap_or(5).max(1),
        alert_interval_mins: file.alert_interval_mins.unwrap_or(15).clamp(1, 10_080),
        notifications,
    })
}

/// Opens the store and the engine described by a data directory or a database URL, sealing
/// secrets with `secret_key` (a random key when absent: for commands that never touch MFA).
pub async fn open_engine(
    data_dir: &std::path::Path,
    database: Option<String>,
    secret_key: Option<[u8; 32]>,
) -> anyhow::Result<Engine> {
    let mut options = EngineOptions::default();
    if let Some(key) = secret_key {
        options.secret_key = key;
    }
    open_engine_with(data_dir, database, options).await
}

/// [`open_engine`] with engine options.
pub async fn open_engine_with(
    data_dir: &std::path::Path,
    database: Option<String>,
    options: EngineOptions,
) -> anyhow::Result<Engine> {
    let url = config::database_url(database, data_dir)?;
    let store = pim_store::Store::open(&url).await.context("opening the database")?;
    Engine::open(store, Arc::new(SystemClock), options).await.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Runs the server until interrupted.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let cfg = resolve(args)?;
    // The data directory first: the default key file lives in it, and it must be private.
    let url = config::database_url(cfg.database.clone(), &cfg.data_dir)?;
    let key = cfg.secret_key.load()?;
    log_notifications(&cfg.notifications);
    let listener =
        tokio::net::TcpListener::bind(&cfg.listen).await.with_context(|| format!("listening on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let options = EngineOptions {
        tokens: config::token_options_from(cfg.tokens.as_ref(), cfg.public_url.as_deref(), &addr.to_string())?,
        notifications: cfg.notifications.clone(),
        secret_key: key,
        audit_retention_days: cfg.audit_retention_days,
        alert_evaluation_ms: i64::try_from(cfg.alert_interval_mins).unwrap_or(15) * pim_domain::time::MINUTE_MS,
        connectors: cfg.connectors.clone(),
        ssh_max_certificate_ms: cfg.ssh_max_certificate_ms,
        oidc: cfg.oidc.clone(),
        ..EngineOptions::default()
    };
    let opening = std::time::Instant::now();
    let engine = open_engine_with(&cfg.data_dir, Some(url), options).await?;
    tracing::info!(ms = opening.elapsed().as_millis() as u64, "store and engine open");
    if !engine.secret_key_matches().await.map_err(|e| anyhow::anyhow!("{e}"))? {
        anyhow::bail!(
            "the secret key {} is not the one this database's MFA secrets were sealed with; \
             start with the original key file (restore it from your backup)",
            cfg.secret_key.path.display()
        );
    }
    let secret = if engine.setup_required().await.map_err(|e| anyhow::anyhow!("{e}"))? {
        let s = pim_engine::auth::new_setup_secret();
        println!("pim: this server has no account yet. Create the first administrator with:");
        println!("  pim setup --server http://{addr} --username admin --secret {s}");
        println!("(or in a browser at http://{addr}/setup, with the secret {s})");
        println!("(or stop the server and run: pim admin bootstrap --data-dir DIR --username admin --password-stdin)");
        Some(s)
    } else {
        None
    };
    println!("pim: the portal is at http://{addr}/ (open it in a browser)");
    println!("pim: listening on http://{addr}");
    let workers = engine.spawn_workers(Duration::from_secs(cfg.job_interval_secs));
    // Other replicas' changes reach this one's access index within half a second.
    let follower = engine.spawn_follower(Duration::from_millis(500));
    // Grants and revokes in the connectors' targets, due to the millisecond.
    let connector_worker = engine.spawn_connector_worker();
    for c in &cfg.connectors {
        println!("pim: connector {} ({}) with {} mapping(s)", c.name, c.kind_name(), c.mappings.len());
    }
    let state = AppState::with_options(engine, secret, cfg.portal.clone(), cfg.rate_limit);
    pim_server::serve(listener, state, shutdown_signal()).await?;
    workers.abort();
    follower.abort();
    if let Some(w) = connector_worker {
        w.abort();
    }
    Ok(())
}

/// Says where notifications go (never credentials).
fn log_notifications(n: &pim_engine::notify::NotifyOptions) {
    match &n.smtp {
        Some(s) => tracing::info!(
            smtp = %pim_engine::notify::redact_url(&s.url),
            from = %s.from,
            "email notifications are sent through SMTP"
        ),
        None => tracing::info!("no [smtp] configured: email notifications are kept pending until it is"),
    }
    for w in &n.webhooks {
        tracing::info!(webhook = %w.name, events = ?w.events, "notifications are posted to a webhook");
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pim.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1\"\ndata_dir = \"/from/file\"\n").unwrap();
        let args = |listen: Option<&str>| ServeArgs {
            listen: listen.map(str::to_owned),
            data_dir: None,
            database: None,
            config: Some(file.clone()),
            secret_key_file: None,
            audit_retention_days: None,
        };
        let r = resolve(args(None)).unwrap();
        assert_eq!(r.listen, "127.0.0.1:1");
        assert_eq!(r.data_dir, PathBuf::from("/from/file"));
        let r = resolve(args(Some("127.0.0.1:2"))).unwrap();
        assert_eq!(r.listen, "127.0.0.1:2");
        assert_eq!(r.secret_key.path, PathBuf::from("/from/file/secret.key"), "in the data directory by default");
        assert!(r.secret_key.create);
        std::fs::write(&file, "secret_key_file = \"/etc/pim/key\"\n").unwrap();
        let r = resolve(args(None)).unwrap();
        assert_eq!((r.secret_key.path, r.secret_key.create), (PathBuf::from("/etc/pim/key"), false));
        let mut a = args(None);
        a.secret_key_file = Some(PathBuf::from("/flag/key"));
        assert_eq!(resolve(a).unwrap().secret_key.path, PathBuf::from("/flag/key"), "the flag wins");
    }

    #[test]
    fn audit_retention_from_the_file_and_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pim.toml");
        let args = |days: Option<u32>| ServeArgs {
            listen: None,
            data_dir: None,
            database: None,
            config: Some(file.clone()),
            secret_key_file: None,
            audit_retention_days: days,
        };
        std::fs::write(&file, "").unwrap();
        assert_eq!(resolve(args(None)).unwrap().audit_retention_days, None, "kept for ever by default");
        std::fs::write(&file, "audit_retention_days = 400\n").unwrap();
        assert_eq!(resolve(args(None)).unwrap().audit_retention_days, Some(400));
        assert_eq!(resolve(args(Some(30))).unwrap().audit_retention_days, Some(30), "the flag wins");
        std::fs::write(&file, "audit_retention_days = 0\n").unwrap();
        assert!(resolve(args(None)).is_err(), "zero is refused");
    }

    #[test]
    fn the_ssh_certificate_maximum_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pim.toml");
        let args = || ServeArgs {
            listen: None,
            data_dir: None,
            database: None,
            config: Some(file.clone()),
            secret_key_file: None,
            audit_retention_days: None,
        };
        std::fs::write(&file, "").unwrap();
        assert_eq!(resolve(args()).unwrap().ssh_max_certificate_ms, 8 * 3_600_000, "8 hours by default");
        std::fs::write(&file, "[ssh]\nmax_certificate_hours = 2\n").unwrap();
        assert_eq!(resolve(args()).unwrap().ssh_max_certificate_ms, 2 * 3_600_000);
        for bad in ["[ssh]\nmax_certificate_hours = 0\n", "[ssh]\nmax_certificate_hours = 169\n", "[ssh]\nmax = 1\n"] {
            std::fs::write(&file, bad).unwrap();
            assert!(resolve(args()).is_err(), "{bad}");
        }
    }
}
