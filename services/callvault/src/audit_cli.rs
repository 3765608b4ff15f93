//! `callvault audit verify --tenant <uuid>`: recomputes one tenant's audit
//! chain straight from the metadata database, for an operator or an
//! auditor's script, and checks it against the audit heads signed into the
//! tenant's stored daily manifests. Exit status: 0 the chain verifies, 1 an entry does
//! not verify, 2 the chain could not be checked (configuration, database).

use std::process::ExitCode;

use anyhow::Context;
use callvault_contracts::TenantId;
use callvault_contracts::lifecycle_api::ChainVerification;
use clap::{Args, Subcommand};

use crate::config::Config;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recomputes a tenant's hash chain; exits 1 naming the first entry
    /// that does not verify, 2 when it could not be checked.
    Verify(VerifyArgs),
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The tenant whose chain to verify.
    #[arg(long)]
    tenant: TenantId,
}

const CANNOT_CHECK: u8 = 2;

pub fn run(config: &Config, command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Verify(args) => verify(config, args.tenant),
    }
}

fn verify(config: &Config, tenant: TenantId) -> ExitCode {
    match chain(config, tenant) {
        Ok(verification) => {
            println!("{}", report(tenant, &verification));
            if verification.first_bad_seq.is_none() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("callvault: {}", crate::describe(&error));
            ExitCode::from(CANNOT_CHECK)
        }
    }
}

/// Walks the tenant's chain in the metadata database.
fn chain(config: &Config, tenant: TenantId) -> anyhow::Result<ChainVerification> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Only reads: no migration (a newer binary must not change a
        // running deployment's schema), no SQLite file created.
        let mut options = sea_orm::ConnectOptions::new(config.database_url("metadata"));
        options.sqlx_logging(false);
        let db = sea_orm::Database::connect(options)
            .await
            .context("cannot open the metadata database")?;
        let outcome = callvault_metadata::audit::verify(&db, tenant)
            .await
            .context("cannot read the audit trail");
        // Closing is best effort: the verdict is already known.
        let _ = db.close().await;
        outcome
    })
}

/// The one line the command prints.
fn report(tenant: TenantId, verification: &ChainVerification) -> String {
    if let (Some(date), Some(seq)) = (verification.mismatched_manifest, verification.first_bad_seq)
    {
        return format!(
            "audit chain of tenant {tenant}: rewritten after the manifest of {date} was signed \
             (the chain no longer passes through its audit head; entry {seq} and every later \
             entry are suspect)"
        );
    }
    match verification.first_bad_seq {
        None => format!(
            "audit chain of tenant {tenant}: {} entries verify",
            verification.entries_checked
        ),
        Some(seq) => format!(
            "audit chain of tenant {tenant}: entry {seq} does not verify \
             (checked {} entries before it, which verify; {seq} and every later entry are suspect)",
            verification.entries_checked
        ),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(subcommand)]
        command: AuditCommand,
    }

    fn tenant() -> TenantId {
        "0b7e4a4c-2f7d-4a39-9a57-1c7c1d3f0e11"
            .parse()
            .expect("tenant")
    }

    #[test]
    fn a_verified_chain_says_how_many_entries() {
        let verification = ChainVerification {
            entries_checked: 42,
            first_bad_seq: None,
            manifests_checked: 3,
            mismatched_manifest: None,
        };
        assert_eq!(
            report(tenant(), &verification),
            "audit chain of tenant 0b7e4a4c-2f7d-4a39-9a57-1c7c1d3f0e11: 42 entries verify"
        );
    }

    #[test]
    fn a_broken_chain_names_the_entry() {
        let verification = ChainVerification {
            entries_checked: 6,
            first_bad_seq: Some(7),
            manifests_checked: 0,
            mismatched_manifest: None,
        };
        assert_eq!(
            report(tenant(), &verification),
            "audit chain of tenant 0b7e4a4c-2f7d-4a39-9a57-1c7c1d3f0e11: entry 7 does not verify \
             (checked 6 entries before it, which verify; 7 and every later entry are suspect)"
        );
    }

    #[test]
    fn a_chain_rewritten_behind_a_manifest_names_the_manifest() {
        let verification = ChainVerification {
            entries_checked: 4,
            first_bad_seq: Some(5),
            manifests_checked: 2,
            mismatched_manifest: chrono::NaiveDate::from_ymd_opt(2026, 3, 1),
        };
        assert_eq!(
            report(tenant(), &verification),
            "audit chain of tenant 0b7e4a4c-2f7d-4a39-9a57-1c7c1d3f0e11: rewritten after the \
             manifest of 2026-03-01 was signed (the chain no longer passes through its audit \
             head; entry 5 and every later entry are suspect)"
        );
    }

    #[test]
    fn the_tenant_must_be_a_uuid() {
        let parsed = Wrapper::try_parse_from(["audit", "verify", "--tenant", "not-a-uuid"]);
        assert!(parsed.is_err());
        let parsed = Wrapper::try_parse_from(["audit", "verify"]);
        assert!(parsed.is_err());
        let parsed = Wrapper::try_parse_from([
            "audit",
            "verify",
            "--tenant",
            "0b7e4a4c-2f7d-4a39-9a57-1c7c1d3f0e11",
        ])
        .expect("parse");
        let AuditCommand::Verify(args) = parsed.command;
        assert_eq!(args.tenant, tenant());
    }
}
