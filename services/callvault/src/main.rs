//! `callvault`: every service in one process (`serve`, the embedded mode
//! with zero configuration) or one service per process (`serve --target`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

mod adapters;
mod audit_cli;
mod backends;
mod config;
mod import;
mod modules;
#[cfg(test)]
mod operation_schemas;
mod process;
mod readiness;
mod reconcile_cli;
mod secrets;
mod serve;
mod telemetry;
mod token;

#[derive(Parser)]
#[command(name = "callvault", version, about = "The call-recording vault")]
struct Cli {
    /// A TOML configuration file; CALLVAULT_* environment variables override it.
    #[arg(long, short, global = true, env = "CALLVAULT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the services.
    Serve {
        /// Which services to run, comma-separated (`--target
        /// ingestion,storage`); `all` runs every one in this process.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
        target: Vec<Target>,
    },
    /// Runs every service's database migrations and exits.
    Migrate,
    /// Administrative commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The tenants' audit trails.
    Audit {
        #[command(subcommand)]
        command: audit_cli::AuditCommand,
    },
    /// Runs one pass of ingestion's reconciler (discards stored recordings
    /// no upload will ever commit) and prints what it did.
    Reconcile,
    /// Imports recordings from a folder or an S3 prefix into a running
    /// callvault (docs/import.md). Exit code 0: everything is in; 1: some
    /// recordings failed (listed); 2: nothing was imported (bad input).
    Import(import::ImportArgs),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Prints a signed API token (HS256, for the embedded mode). Without
    /// options: a platform-admin token.
    Token(token::TokenArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    All,
    Gateway,
    Ingestion,
    Storage,
    Metadata,
    Disclosure,
    Billing,
    Webhooks,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::All => "all",
            Target::Gateway => "gateway",
            Target::Ingestion => "ingestion",
            Target::Storage => "storage",
            Target::Metadata => "metadata",
            Target::Disclosure => "disclosure",
            Target::Billing => "billing",
            Target::Webhooks => "webhooks",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Dropped last, once the services have stopped: flushes their spans.
    let _telemetry = match &cli.command {
        Command::Serve { target } => Some(telemetry::install(&telemetry::service_name(target))),
        Command::Reconcile => Some(telemetry::install("callvault-reconcile")),
        _ => None,
    };
    let config = match config::Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("callvault: {error}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Admin {
            command: AdminCommand::Token(args),
        } => token::print_token(&config, &args),
        Command::Audit { command } => return audit_cli::run(&config, command),
        Command::Reconcile => return reconcile_cli::run(&config),
        Command::Import(args) => return import::run(args),
        Command::Migrate => runtime().and_then(|rt| rt.block_on(serve::migrate(&config))),
        Command::Serve { target } => {
            runtime().and_then(|rt| rt.block_on(serve::serve(config, target)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("callvault: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// An error and its causes on one line, outermost first. A cause whose text
/// an outer message already holds is left out: many error types print
/// their source in their own message, and `{:#}` would repeat it.
pub(crate) fn describe(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::describe;

    #[derive(Debug, thiserror::Error)]
    #[error("connection error: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn causes_are_described_once_outermost_first() {
        let io = || std::io::Error::other("refused");
        let chained: anyhow::Result<()> = Err(io()).context("cannot open the metadata database");
        let chained = chained.expect_err("an error");
        assert_eq!(
            describe(&chained),
            "cannot open the metadata database: refused"
        );
        let repeated: anyhow::Result<()> =
            Err(Repeats(io())).context("cannot open the metadata database");
        let repeated = repeated.expect_err("an error");
        assert_eq!(
            describe(&repeated),
            "cannot open the metadata database: connection error: refused"
        );
    }
}
