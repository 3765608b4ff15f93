//! Schema of the webhooks service's own database.
//!
//! Migrations are append-only: once one has shipped, a change is a new
//! migration, never an edit.

mod webhooks;

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(webhooks::CreateWebhooks),
            // Each event becomes its deliveries once: the message id is
            // recorded in the transaction that creates them.
            callvault_bus::inbox::migration(),
            // `webhook.endpoint_disabled` goes out in the transaction that
            // disables.
            callvault_bus::outbox::migration(),
        ]
    }

    // Services may share one database (embedded mode): each migrator sees
    // only its own history.
    fn migration_table_name() -> DynIden {
        "webhooks_migrations".into_iden()
    }
}
