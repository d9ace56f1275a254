//! The `pim` binary: `pim serve` runs the server; every other subcommand is a client of its API.

mod bootstrap;
mod cli;
mod config;
mod secret_key;
mod serve;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cli::main().await
}
