//! Schema of the billing service's own database.
//!
//! Migrations are append-only: once one has shipped, a change is a new
//! migration, never an edit.

mod billing;

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(billing::CreateBilling),
            // Events are counted once: each message id is recorded in the
            // transaction that counts it.
            callvault_bus::inbox::migration(),
            // `invoice.finalized` goes out in the transaction that
            // finalizes.
            callvault_bus::outbox::migration(),
        ]
    }

    // Not the default `seaql_migrations`: services may share one database
    // (embedded mode), each migrator must see only its own history.
    fn migration_table_name() -> DynIden {
        "billing_migrations".into_iden()
    }
}
