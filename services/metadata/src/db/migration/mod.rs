//! Schema of the metadata service's own database.
//!
//! Migrations are append-only: once one has shipped, a change is a new
//! migration, never an edit, because deployed databases already recorded it
//! as applied.

mod audit;
mod catalogue;
mod holds_deletion;
mod retention;
mod tenancy;

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
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
        ]
    }

    // Not the default `seaql_migrations`: several services may share one
    // database (embedded mode, small sites), and each service's migrator
    // must only see its own history.
    fn migration_table_name() -> DynIden {
        "metadata_migrations".into_iden()
    }
}
