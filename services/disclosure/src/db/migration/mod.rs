//! Schema of the disclosure service's own database.
//!
//! Migrations are append-only: once one has shipped, a change is a new
//! migration, never an edit.

mod requests;

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(requests::CreateRequests),
            // Events go out through the outbox, in the transaction of the
            // state change that caused them.
            callvault_bus::outbox::migration(),
        ]
    }

    // Not the default `seaql_migrations`: services may share one database
    // (embedded mode), each migrator must see only its own history.
    fn migration_table_name() -> DynIden {
        "disclosure_migrations".into_iden()
    }
}
