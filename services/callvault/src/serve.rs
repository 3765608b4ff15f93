//! `callvault serve`: which modules a process runs and in which order. What
//! each needs from the configuration is in [`crate::modules`]; what they
//! share (secrets, the bus, the key provider) in [`crate::process`].

use anyhow::Context;
use callvault_metadata::PiiKeys;
use tracing::info;

use crate::Target;
use crate::config::Config;
use crate::modules;
use crate::process::Process;
use crate::secrets::Secrets;

/// Every module, and those that must start before it when they run in the
/// same process. In this order a consumer subscribes before any relay of
/// the process publishes to its topic (across processes: start metadata
/// before ingestion), and storage's store exists before ingestion, in the
/// same process, stores through it directly instead of over HTTP.
pub const MODULES: [(Target, &[Target]); 7] = [
    // First: they consume what every other module's relay publishes (on the
    // in-process bus an event nobody is subscribed to yet is lost).
    (Target::Billing, &[]),
    (Target::Webhooks, &[]),
    (Target::Storage, &[]),
    (Target::Metadata, &[]),
    // After storage: in the same process it reads audio from the store
    // directly instead of over HTTP.
    (Target::Disclosure, &[Target::Storage, Target::Metadata]),
    (Target::Ingestion, &[Target::Storage, Target::Metadata]),
    (Target::Gateway, &[]),
];

/// The modules `targets` name (`all` is every one), in start order.
pub fn resolve(targets: &[Target]) -> Vec<Target> {
    MODULES
        .iter()
        .map(|(module, _)| *module)
        .filter(|module| targets.contains(&Target::All) || targets.contains(module))
        .collect()
}

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    callvault_storage::records::connect(&config.database_url("storage"))
        .await
        .context("storage database")?;
    // The metadata migrations re-index phone numbers, which needs their key.
    let secrets = Secrets::load_or_generate(config)?;
    callvault_metadata::connect(&config.database_url("metadata"), &PiiKeys::new(secrets.pii))
        .await
        .context("metadata database")?;
    callvault_ingestion::connect(&config.database_url("ingestion"))
        .await
        .context("ingestion database")?;
    callvault_disclosure::connect(&config.database_url("disclosure"))
        .await
        .context("disclosure database")?;
    callvault_billing::connect(&config.database_url("billing"))
        .await
        .context("billing database")?;
    callvault_webhooks::connect(&config.database_url("webhooks"))
        .await
        .context("webhooks database")?;
    println!("migrations applied");
    Ok(())
}

pub async fn serve(config: Config, targets: Vec<Target>) -> anyhow::Result<()> {
    let modules = resolve(&targets);
    let mut process = Process::start(config, &modules).await?;
    for module in &modules {
        let started = modules::start(*module, &mut process).await?;
        info!(module = started.name(), "module started");
        process.add(started);
    }
    process.print_banner(&modules);
    process.run().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_starts_after_those_it_waits_for() {
        for (position, (module, after)) in MODULES.iter().enumerate() {
            for earlier in *after {
                let found = MODULES[..position].iter().any(|(m, _)| m == earlier);
                assert!(found, "{module:?} must come after {earlier:?}");
            }
        }
    }

    #[test]
    fn targets_resolve_in_start_order() {
        assert_eq!(
            resolve(&[Target::Gateway, Target::Metadata]),
            vec![Target::Metadata, Target::Gateway]
        );
        assert_eq!(
            resolve(&[Target::Ingestion, Target::Storage]),
            vec![Target::Storage, Target::Ingestion]
        );
        assert_eq!(resolve(&[Target::All]).len(), MODULES.len());
    }
}
