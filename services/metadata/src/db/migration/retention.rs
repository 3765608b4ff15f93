//! Retention: each recording's retain-until date and the rule that set it,
//! the tenant's retention rules, the playback-reason setting, and the call
//! fields that came with them (attributes, recording notice, pauses).

use chrono::{DateTime, Duration, Utc};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, boolean_null, integer, text, timestamp_with_time_zone, uuid, uuid_null,
};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::tenancy::Tenants;

#[derive(DeriveIden)]
enum Recordings {
    Table,
    TenantId,
    Id,
    StartedAt,
    RetainUntil,
    RetentionRuleId,
    Attributes,
    NoticePlayed,
    Pauses,
}

#[derive(DeriveIden)]
enum RetentionRules {
    Table,
    TenantId,
    Id,
    Name,
    Matches,
    RetentionDays,
    Overriding,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TenantsRetention {
    RequirePlaybackReason,
}

/// Only there while the backfill runs (and left as the column's default on
/// SQLite, which can't drop one): every existing row gets its real date.
const PLACEHOLDER_RETAIN_UNTIL: &str = "1970-01-01T00:00:00+00:00";

/// Rows updated per statement batch by the SQLite backfill.
const BACKFILL_BATCH: u64 = 500;

pub(super) struct AddRetention;

impl MigrationName for AddRetention {
    fn name(&self) -> &str {
        "m_metadata_0003_retention"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddRetention {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RetentionRules::Table)
                    .col(uuid(RetentionRules::TenantId))
                    .col(uuid(RetentionRules::Id))
                    .col(text(RetentionRules::Name))
                    .col(text(RetentionRules::Matches))
                    .col(integer(RetentionRules::RetentionDays))
                    .col(boolean(RetentionRules::Overriding))
                    .col(text(RetentionRules::CreatedBy))
                    .col(timestamp_with_time_zone(RetentionRules::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(RetentionRules::TenantId)
                            .col(RetentionRules::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_retention_rules_tenant")
                            .from(RetentionRules::Table, RetentionRules::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .check((
                        "retention_rules_days_check",
                        Expr::cust("retention_days >= 1 AND retention_days <= 36500"),
                    ))
                    .to_owned(),
            )
            .await?;

        // SQLite adds one column per ALTER TABLE.
        let columns = [
            timestamp_with_time_zone(Recordings::RetainUntil)
                .default(PLACEHOLDER_RETAIN_UNTIL)
                .to_owned(),
            uuid_null(Recordings::RetentionRuleId),
            text(Recordings::Attributes).default("{}").to_owned(),
            boolean_null(Recordings::NoticePlayed),
            text(Recordings::Pauses).default("[]").to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Recordings::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        backfill_retain_until(manager).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            // Every writer sets the date: a forgotten one must fail, not
            // silently keep a call until 1970 (i.e. delete it at once).
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE recordings ALTER COLUMN retain_until DROP DEFAULT")
                .await?;
        }
        // The deletion worker's scan: one tenant's recordings that are due.
        manager
            .create_index(
                Index::create()
                    .name("idx_recordings_tenant_retain_until")
                    .table(Recordings::Table)
                    .col(Recordings::TenantId)
                    .col(Recordings::RetainUntil)
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(boolean(TenantsRetention::RequirePlaybackReason).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(TenantsRetention::RequirePlaybackReason)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_recordings_tenant_retain_until")
                    .table(Recordings::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Recordings::Pauses,
            Recordings::NoticePlayed,
            Recordings::Attributes,
            Recordings::RetentionRuleId,
            Recordings::RetainUntil,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Recordings::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(RetentionRules::Table).to_owned())
            .await
    }
}

/// Existing recordings had no rules: each is kept for its tenant's default.
async fn backfill_retain_until(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    if manager.get_database_backend() == DbBackend::Postgres {
        conn.execute_unprepared(
            "UPDATE recordings AS r \
             SET retain_until = r.started_at + t.default_retention_days * INTERVAL '1 day' \
             FROM tenants AS t WHERE t.id = r.tenant_id",
        )
        .await?;
        return Ok(());
    }
    // SQLite keeps timestamps as RFC 3339 text compared as text: the new
    // dates must be written in exactly the encoding the driver binds, so
    // they are computed here and bound, not computed in SQL.
    let mut after: Option<(uuid::Uuid, uuid::Uuid)> = None;
    loop {
        let mut select = Query::select();
        select
            .column((Recordings::Table, Recordings::TenantId))
            .column((Recordings::Table, Recordings::Id))
            .column((Recordings::Table, Recordings::StartedAt))
            .column((Tenants::Table, Tenants::DefaultRetentionDays))
            .from(Recordings::Table)
            .inner_join(
                Tenants::Table,
                Expr::col((Tenants::Table, Tenants::Id))
                    .equals((Recordings::Table, Recordings::TenantId)),
            )
            .order_by((Recordings::Table, Recordings::TenantId), Order::Asc)
            .order_by((Recordings::Table, Recordings::Id), Order::Asc)
            .limit(BACKFILL_BATCH);
        if let Some((tenant, id)) = after {
            select.cond_where(
                Cond::any()
                    .add(Expr::col((Recordings::Table, Recordings::TenantId)).gt(tenant))
                    .add(
                        Cond::all()
                            .add(Expr::col((Recordings::Table, Recordings::TenantId)).eq(tenant))
                            .add(Expr::col((Recordings::Table, Recordings::Id)).gt(id)),
                    ),
            );
        }
        let (sql, values) = select.build(SqliteQueryBuilder);
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                values,
            ))
            .await?;
        if rows.is_empty() {
            return Ok(());
        }
        for row in &rows {
            let tenant: uuid::Uuid = row.try_get("", "tenant_id")?;
            let id: uuid::Uuid = row.try_get("", "id")?;
            let started_at: DateTime<Utc> = row.try_get("", "started_at")?;
            let days: i32 = row.try_get("", "default_retention_days")?;
            let retain_until = started_at + Duration::days(i64::from(days));
            let update = Query::update()
                .table(Recordings::Table)
                .value(Recordings::RetainUntil, retain_until)
                .and_where(Expr::col(Recordings::TenantId).eq(tenant))
                .and_where(Expr::col(Recordings::Id).eq(id))
                .to_owned();
            let (sql, values) = update.build(SqliteQueryBuilder);
            conn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                values,
            ))
            .await?;
            after = Some((tenant, id));
        }
    }
}
