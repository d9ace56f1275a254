//! `pim admin bootstrap`: create the first Global Administrator directly in the database.

use std::io::BufRead;
use std::path::PathBuf;

use pim_engine::Context;
use pim_engine::auth::NewAdmin;

use crate::config;

/// Options of `pim admin bootstrap`.
#[derive(Debug, Clone, clap::Args)]
pub struct BootstrapArgs {
    /// Data directory of the server (embedded SQLite).
    #[arg(long, env = "PIM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (`postgres://...`), instead of the data directory.
    #[arg(long, env = "PIM_DATABASE_URL")]
    pub database: Option<String>,
    /// User name of the first administrator.
    #[arg(long)]
    pub username: String,
    /// Read the password from standard input (first line) instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Creates the first account; refused once any account exists.
pub async fn run(args: BootstrapArgs) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let p = rpassword::prompt_password("Password for the first administrator: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(p == again, "the passwords differ");
        p
    };
    let data_dir = args.data_dir.unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR));
    // Creating the first account seals no secret: no key is needed.
    let engine = crate::serve::open_engine(&data_dir, args.database, None).await?;
    let admin = NewAdmin { username: args.username, password, display_name: None, email: None };
    let user = engine.bootstrap(&Context::system(), admin).await.map_err(|e| match e.refusal() {
        Some(r) => anyhow::anyhow!("{} ({})", r.message, r.code()),
        None => anyhow::anyhow!("{e}"),
    })?;
    println!("created {} ({}) as a permanent active Global Administrator at /", user.name, user.id);
    Ok(())
}
