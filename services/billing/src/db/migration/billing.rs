//! Usage (one row per metered event), plans and their versions, plan
//! assignments, billing profiles, finalized invoices and the issuers'
//! invoice counters.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, integer, text, text_null, timestamp_with_time_zone, uuid, uuid_null,
};

#[derive(DeriveIden)]
enum BillingUsage {
    Table,
    TenantId,
    DedupeKey,
    Meter,
    AtS,
    Quantity,
    Subject,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum BillingPlans {
    Table,
    PlanId,
    Version,
    Level,
    BpoId,
    Terms,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum BillingAssignments {
    Table,
    Id,
    AccountKind,
    AccountId,
    PlanId,
    TimeZone,
    EffectiveFrom,
    AssignedAt,
    AssignedBy,
}

#[derive(DeriveIden)]
enum BillingProfiles {
    Table,
    PartyKind,
    PartyId,
    Profile,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum BillingInvoices {
    Table,
    Id,
    AccountKind,
    AccountId,
    IssuerKind,
    IssuerId,
    PeriodStart,
    Seq,
    Number,
    Doc,
    FinalizedAt,
}

#[derive(DeriveIden)]
enum BillingBilled {
    Table,
    AccountKind,
    AccountId,
    PeriodStart,
    Meter,
    Quantity,
}

#[derive(DeriveIden)]
enum BillingInvoiceCounters {
    Table,
    IssuerKind,
    IssuerId,
    LastSeq,
}

pub(super) struct CreateBilling;

impl MigrationName for CreateBilling {
    fn name(&self) -> &str {
        "m_billing"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateBilling {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BillingUsage::Table)
                    .col(uuid(BillingUsage::TenantId))
                    // What makes an event the same event whatever message
                    // carried it (`ingested:<recording>`, …).
                    .col(text(BillingUsage::DedupeKey))
                    .col(text(BillingUsage::Meter))
                    // Unix seconds of when it happened: integer arithmetic
                    // on both backends.
                    .col(big_integer(BillingUsage::AtS))
                    .col(big_integer(BillingUsage::Quantity))
                    .col(text_null(BillingUsage::Subject))
                    .col(timestamp_with_time_zone(BillingUsage::ReceivedAt))
                    .primary_key(
                        Index::create()
                            .col(BillingUsage::TenantId)
                            .col(BillingUsage::DedupeKey),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_billing_usage_meter_at")
                    .table(BillingUsage::Table)
                    .col(BillingUsage::TenantId)
                    .col(BillingUsage::Meter)
                    .col(BillingUsage::AtS)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BillingPlans::Table)
                    .col(uuid(BillingPlans::PlanId))
                    .col(integer(BillingPlans::Version))
                    .col(text(BillingPlans::Level))
                    .col(uuid_null(BillingPlans::BpoId))
                    .col(text(BillingPlans::Terms))
                    .col(timestamp_with_time_zone(BillingPlans::CreatedAt))
                    .col(text(BillingPlans::CreatedBy))
                    .primary_key(
                        Index::create()
                            .col(BillingPlans::PlanId)
                            .col(BillingPlans::Version),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BillingAssignments::Table)
                    .col(uuid(BillingAssignments::Id).primary_key())
                    .col(text(BillingAssignments::AccountKind))
                    .col(uuid(BillingAssignments::AccountId))
                    .col(uuid(BillingAssignments::PlanId))
                    .col(text(BillingAssignments::TimeZone))
                    .col(timestamp_with_time_zone(BillingAssignments::EffectiveFrom))
                    .col(timestamp_with_time_zone(BillingAssignments::AssignedAt))
                    .col(text(BillingAssignments::AssignedBy))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_billing_assignments_account")
                    .table(BillingAssignments::Table)
                    .col(BillingAssignments::AccountKind)
                    .col(BillingAssignments::AccountId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BillingProfiles::Table)
                    .col(text(BillingProfiles::PartyKind))
                    .col(uuid(BillingProfiles::PartyId))
                    .col(text(BillingProfiles::Profile))
                    .col(timestamp_with_time_zone(BillingProfiles::UpdatedAt))
                    .col(text(BillingProfiles::UpdatedBy))
                    .primary_key(
                        Index::create()
                            .col(BillingProfiles::PartyKind)
                            .col(BillingProfiles::PartyId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BillingInvoices::Table)
                    .col(uuid(BillingInvoices::Id).primary_key())
                    .col(text(BillingInvoices::AccountKind))
                    .col(uuid(BillingInvoices::AccountId))
                    .col(text(BillingInvoices::IssuerKind))
                    .col(uuid(BillingInvoices::IssuerId))
                    .col(timestamp_with_time_zone(BillingInvoices::PeriodStart))
                    .col(big_integer(BillingInvoices::Seq))
                    .col(text(BillingInvoices::Number))
                    .col(text(BillingInvoices::Doc))
                    .col(timestamp_with_time_zone(BillingInvoices::FinalizedAt))
                    .to_owned(),
            )
            .await?;
        // Numbers without gaps or repeats per issuer.
        manager
            .create_index(
                Index::create()
                    .name("ux_billing_invoices_issuer_seq")
                    .table(BillingInvoices::Table)
                    .col(BillingInvoices::IssuerKind)
                    .col(BillingInvoices::IssuerId)
                    .col(BillingInvoices::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // One finalized invoice per account and period.
        manager
            .create_index(
                Index::create()
                    .name("ux_billing_invoices_account_period")
                    .table(BillingInvoices::Table)
                    .col(BillingInvoices::AccountKind)
                    .col(BillingInvoices::AccountId)
                    .col(BillingInvoices::PeriodStart)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // What finalized invoices billed of each period, per meter (base
        // unit, exact decimal): later events are billed as the difference.
        manager
            .create_table(
                Table::create()
                    .table(BillingBilled::Table)
                    .col(text(BillingBilled::AccountKind))
                    .col(uuid(BillingBilled::AccountId))
                    .col(timestamp_with_time_zone(BillingBilled::PeriodStart))
                    .col(text(BillingBilled::Meter))
                    .col(text(BillingBilled::Quantity))
                    .primary_key(
                        Index::create()
                            .col(BillingBilled::AccountKind)
                            .col(BillingBilled::AccountId)
                            .col(BillingBilled::PeriodStart)
                            .col(BillingBilled::Meter),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BillingInvoiceCounters::Table)
                    .col(text(BillingInvoiceCounters::IssuerKind))
                    .col(uuid(BillingInvoiceCounters::IssuerId))
                    .col(big_integer(BillingInvoiceCounters::LastSeq))
                    .primary_key(
                        Index::create()
                            .col(BillingInvoiceCounters::IssuerKind)
                            .col(BillingInvoiceCounters::IssuerId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            BillingInvoiceCounters::Table.into_iden(),
            BillingBilled::Table.into_iden(),
            BillingInvoices::Table.into_iden(),
            BillingProfiles::Table.into_iden(),
            BillingAssignments::Table.into_iden(),
            BillingPlans::Table.into_iden(),
            BillingUsage::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
