//! `callvault`: every service in one process (`serve`, the embedded mode
//! with zero configuration) or one service per process (`serve --target`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod adapters;
mod audit_cli;
mod backends;
mod config;
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
        /// Which service to run; `all` runs every one in this process.
        #[arg(long, value_enum, default_value_t = Target::All)]
        target: Target,
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
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::All => "all",
            Target::Gateway => "gateway",
            Target::Ingestion => "ingestion",
            Target::Storage => "storage",
            Target::Metadata => "metadata",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Dropped last, once the services have stopped: flushes their spans.
    let _telemetry =
        matches!(cli.command, Command::Serve { .. } | Command::Reconcile).then(telemetry::install);
    let config = match config::Config::load(cli.config.as_deref(), std::env::vars()) {
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
        Command::Migrate => runtime().and_then(|rt| rt.block_on(serve::migrate(&config))),
        Command::Serve { target } => {
            runtime().and_then(|rt| rt.block_on(serve::serve(config, target)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("callvault: {error}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}
