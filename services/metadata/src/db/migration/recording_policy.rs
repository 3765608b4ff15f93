//! Recording policies: one per tenant (as JSON, checked by the service),
//! the do-not-record list (a blind index to match by and the sealed number
//! to list, both under the tenant's catalogue key), and the calls kept as
//! metadata only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, blob, text, text_null, timestamp_with_time_zone, uuid,
};

use super::tenancy::Tenants;

#[derive(DeriveIden)]
enum RecordingPolicies {
    Table,
    TenantId,
    Policy,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DoNotRecordNumbers {
    Table,
    TenantId,
    NumberIndex,
    NumberCiphertext,
    AddedAt,
}

#[derive(DeriveIden)]
enum NotRecordedCalls {
    Table,
    TenantId,
    ExternalCallId,
    Segment,
    RecordingId,
    Reason,
    PolicyVersion,
    Call,
    DecidedAt,
    Agent,
}

pub(super) struct CreateRecordingPolicies;

impl MigrationName for CreateRecordingPolicies {
    fn name(&self) -> &str {
        "m_metadata_recording_policies"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateRecordingPolicies {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RecordingPolicies::Table)
                    .if_not_exists()
                    .col(uuid(RecordingPolicies::TenantId).primary_key())
                    .col(text(RecordingPolicies::Policy))
                    .col(big_integer(RecordingPolicies::Version))
                    .col(timestamp_with_time_zone(RecordingPolicies::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recording_policies_tenant")
                            .from(RecordingPolicies::Table, RecordingPolicies::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DoNotRecordNumbers::Table)
                    .if_not_exists()
                    .col(uuid(DoNotRecordNumbers::TenantId))
                    .col(blob(DoNotRecordNumbers::NumberIndex))
                    .col(blob(DoNotRecordNumbers::NumberCiphertext))
                    .col(timestamp_with_time_zone(DoNotRecordNumbers::AddedAt))
                    .primary_key(
                        Index::create()
                            .col(DoNotRecordNumbers::TenantId)
                            .col(DoNotRecordNumbers::NumberIndex),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_do_not_record_numbers_tenant")
                            .from(DoNotRecordNumbers::Table, DoNotRecordNumbers::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotRecordedCalls::Table)
                    .if_not_exists()
                    .col(uuid(NotRecordedCalls::TenantId))
                    .col(text(NotRecordedCalls::ExternalCallId))
                    .col(big_integer(NotRecordedCalls::Segment))
                    .col(uuid(NotRecordedCalls::RecordingId))
                    .col(text(NotRecordedCalls::Reason))
                    .col(big_integer(NotRecordedCalls::PolicyVersion))
                    .col(text_null(NotRecordedCalls::Agent))
                    .col(text(NotRecordedCalls::Call))
                    .col(timestamp_with_time_zone(NotRecordedCalls::DecidedAt))
                    .primary_key(
                        Index::create()
                            .col(NotRecordedCalls::TenantId)
                            .col(NotRecordedCalls::ExternalCallId)
                            .col(NotRecordedCalls::Segment),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_not_recorded_calls_tenant")
                            .from(NotRecordedCalls::Table, NotRecordedCalls::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            NotRecordedCalls::Table.into_iden(),
            DoNotRecordNumbers::Table.into_iden(),
            RecordingPolicies::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
