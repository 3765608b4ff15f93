//! Signed deletion certificates: the signed body and its signature, and
//! whether the run finished (only a finished certificate is signed).
//! Certificates from before are marked finished and signed the first time
//! they are read: signing needs the manifest keys, which a migration has
//! not.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, text_null};

#[derive(DeriveIden)]
enum DeletionCertificates {
    Table,
    Finished,
    Body,
    Signature,
}

#[derive(DeriveMigrationName)]
pub struct AddSignedCertificates;

#[async_trait::async_trait]
impl MigrationTrait for AddSignedCertificates {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        let columns = [
            boolean(DeletionCertificates::Finished)
                .default(true)
                .to_owned(),
            text_null(DeletionCertificates::Body),
            text_null(DeletionCertificates::Signature),
        ];
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(DeletionCertificates::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            DeletionCertificates::Signature,
            DeletionCertificates::Body,
            DeletionCertificates::Finished,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(DeletionCertificates::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
