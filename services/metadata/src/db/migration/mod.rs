//! Schema of the metadata service's own database.
//!
//! Migrations are append-only: once one has shipped, a change is a new
//! migration, never an edit, because deployed databases already recorded it
//! as applied.

mod attributes;
mod audit;
mod call_lookup;
mod catalogue;
mod catalogue_keys;
mod disclosure;
mod holds_deletion;
mod offboarding;
mod phone_e164;
mod recording_policy;
mod retention;
mod signed_certificates;
mod tenancy;

use sea_orm_migration::MigratorTraitSelf;
use sea_orm_migration::prelude::*;

use crate::pii::PiiKeys;

/// The service's migrations. It holds the PII keys because one migration
/// rewrites data only readable with them: the phone numbers' blind indexes.
pub struct Migrator {
    pii: PiiKeys,
}

impl Migrator {
    pub fn new(pii: PiiKeys) -> Self {
        Self { pii }
    }
}

#[async_trait::async_trait]
impl MigratorTraitSelf for Migrator {
    fn migrations(&self) -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(tenancy::CreateTenancy),
            Box::new(catalogue::CreateCatalogue),
            // The service's events go out through the outbox, and the
            // ingest consumer deduplicates through the inbox, both in this
            // database's transactions.
            callvault_bus::outbox::migration(),
            callvault_bus::inbox::migration(),
            // The lifecycle came after the first release: appended, so a
            // database that already applied the ones above finds them in
            // the same order.
            Box::new(retention::AddRetention),
            Box::new(holds_deletion::CreateHoldsDeletion),
            Box::new(audit::CreateAudit),
            Box::new(phone_e164::ReindexPhoneNumbers {
                pii: self.pii.clone(),
            }),
            Box::new(call_lookup::AddCallLookup),
            Box::new(signed_certificates::AddSignedCertificates),
            Box::new(catalogue_keys::CreateCatalogueKeys),
            Box::new(offboarding::CreateOffboarding),
            Box::new(disclosure::AddDisclosure),
            Box::new(attributes::AddAttributeSearch),
            Box::new(recording_policy::CreateRecordingPolicies),
        ]
    }

    // Not the default `seaql_migrations`: several services may share one
    // database (embedded mode, small sites), and each service's migrator
    // must only see its own history.
    fn migration_table_name(&self) -> DynIden {
        "metadata_migrations".into_iden()
    }
}
