//! Search by custom attributes: one row per attribute of each recording,
//! copied from the JSON every recording already carries (which stays what
//! the API shows). Rows go with their recording (foreign key, cascade).
//!
//! On PostgreSQL the copy runs in the migrations' transaction; on SQLite a
//! crash part-way leaves the migration unrecorded and it runs again: the
//! copy skips rows already there.

use std::collections::BTreeMap;

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{text, uuid};
use sea_orm_migration::sea_orm::ConnectionTrait;
use uuid::Uuid;

/// Recordings read per batch.
const BATCH: u64 = 500;

#[derive(DeriveIden)]
enum Recordings {
    Table,
    TenantId,
    Id,
    Attributes,
}

#[derive(DeriveIden)]
enum RecordingAttributes {
    Table,
    TenantId,
    RecordingId,
    Name,
    Value,
}

pub(super) struct AddAttributeSearch;

impl MigrationName for AddAttributeSearch {
    fn name(&self) -> &str {
        "m_metadata_attribute_search"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddAttributeSearch {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RecordingAttributes::Table)
                    .if_not_exists()
                    .col(uuid(RecordingAttributes::TenantId))
                    .col(uuid(RecordingAttributes::RecordingId))
                    .col(text(RecordingAttributes::Name))
                    .col(text(RecordingAttributes::Value))
                    .primary_key(
                        Index::create()
                            .col(RecordingAttributes::TenantId)
                            .col(RecordingAttributes::RecordingId)
                            .col(RecordingAttributes::Name),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recording_attributes_recording")
                            .from_tbl(RecordingAttributes::Table)
                            .from_col(RecordingAttributes::TenantId)
                            .from_col(RecordingAttributes::RecordingId)
                            .to_tbl(Recordings::Table)
                            .to_col(Recordings::TenantId)
                            .to_col(Recordings::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // "Which recordings have product = securities", when the attribute
        // is the most selective filter; the primary key serves the EXISTS.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_recording_attributes_tenant_name_value")
                    .table(RecordingAttributes::Table)
                    .col(RecordingAttributes::TenantId)
                    .col(RecordingAttributes::Name)
                    .col(RecordingAttributes::Value)
                    .col(RecordingAttributes::RecordingId)
                    .to_owned(),
            )
            .await?;
        copy_existing(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RecordingAttributes::Table).to_owned())
            .await
    }
}

/// Every recording's attributes, in (tenant, id) order, a batch at a time.
async fn copy_existing(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let backend = manager.get_database_backend();
    let mut after: Option<(Uuid, Uuid)> = None;
    loop {
        let mut select = Query::select();
        select
            .columns([Recordings::TenantId, Recordings::Id, Recordings::Attributes])
            .from(Recordings::Table)
            .order_by(Recordings::TenantId, Order::Asc)
            .order_by(Recordings::Id, Order::Asc)
            .limit(BATCH);
        if let Some((tenant, id)) = after {
            select.cond_where(
                Cond::any()
                    .add(Expr::col(Recordings::TenantId).gt(tenant))
                    .add(
                        Cond::all()
                            .add(Expr::col(Recordings::TenantId).eq(tenant))
                            .add(Expr::col(Recordings::Id).gt(id)),
                    ),
            );
        }
        let rows = conn.query_all_raw(backend.build(&select)).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some((last.try_get("", "tenant_id")?, last.try_get("", "id")?));
        let mut insert = Query::insert();
        insert
            .into_table(RecordingAttributes::Table)
            .columns([
                RecordingAttributes::TenantId,
                RecordingAttributes::RecordingId,
                RecordingAttributes::Name,
                RecordingAttributes::Value,
            ])
            .on_conflict(
                OnConflict::columns([
                    RecordingAttributes::TenantId,
                    RecordingAttributes::RecordingId,
                    RecordingAttributes::Name,
                ])
                .do_nothing()
                .to_owned(),
            );
        let mut any = false;
        for row in &rows {
            let tenant: Uuid = row.try_get("", "tenant_id")?;
            let id: Uuid = row.try_get("", "id")?;
            let json: String = row.try_get("", "attributes")?;
            let attributes: BTreeMap<String, String> =
                serde_json::from_str(&json).map_err(|_| {
                    DbErr::Custom(format!(
                        "recording {id} of tenant {tenant} has unreadable attributes"
                    ))
                })?;
            for (name, value) in attributes {
                insert.values_panic([tenant.into(), id.into(), name.into(), value.into()]);
                any = true;
            }
        }
        if any {
            conn.execute_raw(backend.build(&insert)).await?;
        }
    }
}
