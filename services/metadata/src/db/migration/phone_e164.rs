//! Phone numbers indexed as E.164 in the tenant's default region (see
//! `crate::phone`): the tenants' `default_region` setting, derived from each
//! existing tenant's time zone, and every stored number's blind index
//! recomputed under the new rules — recordings' caller and callee, and legal
//! holds' filter numbers, so a case placed by `03-1234-5678` keeps covering
//! the calls it covered.
//!
//! The numbers are only stored encrypted, so this migration needs the PII
//! keys: it decrypts each number, computes its new key and rewrites the
//! index when it changed (a number stored with its country code keeps its
//! index). A number that doesn't decrypt stops the migration: indexes
//! computed under another secret would silently match nothing.
//!
//! On PostgreSQL it runs in the migrations' transaction; on SQLite a crash
//! part-way leaves the migration unrecorded and it runs again, which is
//! harmless: the new key of a number is the same whatever its old index.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text_null;
use sea_orm_migration::sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use callvault_contracts::{RecordingId, TenantId};

use super::tenancy::Tenants;
use crate::phone::{self, IndexKey, Region};
use crate::pii::{Party, PiiKeys, TenantPii};

/// Rows read per batch.
const BATCH: u64 = 500;

#[derive(DeriveIden)]
enum TenantsPhone {
    DefaultRegion,
    TimeZone,
}

#[derive(DeriveIden)]
enum Recordings {
    Table,
    TenantId,
    Id,
    CallerCiphertext,
    CallerIndex,
    CalleeCiphertext,
    CalleeIndex,
}

#[derive(DeriveIden)]
enum LegalHolds {
    Table,
    TenantId,
    Id,
    FilterPhoneCiphertext,
    FilterPhoneIndex,
}

pub(super) struct ReindexPhoneNumbers {
    pub(super) pii: PiiKeys,
}

impl MigrationName for ReindexPhoneNumbers {
    fn name(&self) -> &str {
        "m_metadata_0006_phone_e164"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for ReindexPhoneNumbers {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(text_null(TenantsPhone::DefaultRegion))
                    .to_owned(),
            )
            .await?;
        derive_regions(manager).await?;
        let reindex = Reindex {
            pii: &self.pii,
            key: phone::index_key,
        };
        reindex.recordings(manager).await?;
        reindex.holds(manager).await
    }

    /// Back to the index over the dialled form ('+' and digits), which is
    /// what the code before this migration computes.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let reindex = Reindex {
            pii: &self.pii,
            key: |raw, _| phone::dialled_key(raw),
        };
        reindex.recordings(manager).await?;
        reindex.holds(manager).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(TenantsPhone::DefaultRegion)
                    .to_owned(),
            )
            .await
    }
}

/// Each existing tenant gets its time zone's country, where it has one
/// (none for `UTC`: such a tenant's numbers need their country code, as
/// before).
async fn derive_regions(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let backend = manager.get_database_backend();
    let select = Query::select()
        .column(Tenants::Id)
        .column(TenantsPhone::TimeZone)
        .from(Tenants::Table)
        .to_owned();
    for row in conn.query_all_raw(backend.build(&select)).await? {
        let id: Uuid = row.try_get("", "id")?;
        let zone: String = row.try_get("", "time_zone")?;
        let Some(region) = Region::from_time_zone(&zone) else {
            continue;
        };
        let update = Query::update()
            .table(Tenants::Table)
            .value(TenantsPhone::DefaultRegion, region.to_string())
            .and_where(Expr::col(Tenants::Id).eq(id))
            .to_owned();
        conn.execute_raw(backend.build(&update)).await?;
    }
    Ok(())
}

/// Recomputes stored blind indexes with `key`, a tenant at a time.
struct Reindex<'a> {
    pii: &'a PiiKeys,
    key: fn(&str, Option<Region>) -> Option<IndexKey>,
}

/// One tenant's keys and region, kept while its rows are read in order.
struct TenantContext {
    id: Uuid,
    pii: TenantPii,
    region: Option<Region>,
}

impl Reindex<'_> {
    async fn recordings(&self, manager: &SchemaManager<'_>) -> Result<(), DbErr> {
        let mut tenant: Option<TenantContext> = None;
        let mut after: Option<(Uuid, Uuid)> = None;
        loop {
            let mut select = Query::select();
            select
                .columns([
                    Recordings::TenantId,
                    Recordings::Id,
                    Recordings::CallerCiphertext,
                    Recordings::CallerIndex,
                    Recordings::CalleeCiphertext,
                    Recordings::CalleeIndex,
                ])
                .from(Recordings::Table)
                .order_by(Recordings::TenantId, Order::Asc)
                .order_by(Recordings::Id, Order::Asc)
                .limit(BATCH);
            if let Some(after) = after {
                select.cond_where(after_key(after));
            }
            let rows = query(manager, &select).await?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = Some((last.try_get("", "tenant_id")?, last.try_get("", "id")?));
            for row in &rows {
                let (tenant_id, id): (Uuid, Uuid) =
                    (row.try_get("", "tenant_id")?, row.try_get("", "id")?);
                let context = self.tenant(manager, &mut tenant, tenant_id).await?;
                let what = || format!("recording {id} of tenant {tenant_id}");
                let mut update = Query::update();
                let mut changed = false;
                for (party, sealed, index, column) in [
                    (
                        Party::Caller,
                        "caller_ciphertext",
                        "caller_index",
                        Recordings::CallerIndex,
                    ),
                    (
                        Party::Callee,
                        "callee_ciphertext",
                        "callee_index",
                        Recordings::CalleeIndex,
                    ),
                ] {
                    let sealed: Vec<u8> = row.try_get("", sealed)?;
                    let old: Option<Vec<u8>> = row.try_get("", index)?;
                    let new = self.index(context, RecordingId(id), party, &sealed, what)?;
                    if new != old {
                        update.value(column, new);
                        changed = true;
                    }
                }
                if changed {
                    update
                        .table(Recordings::Table)
                        .and_where(Expr::col(Recordings::TenantId).eq(tenant_id))
                        .and_where(Expr::col(Recordings::Id).eq(id));
                    execute(manager, &update).await?;
                }
            }
        }
    }

    /// A filter hold's number is sealed under the hold's id, as the caller.
    async fn holds(&self, manager: &SchemaManager<'_>) -> Result<(), DbErr> {
        let mut select = Query::select();
        select
            .columns([
                LegalHolds::TenantId,
                LegalHolds::Id,
                LegalHolds::FilterPhoneCiphertext,
                LegalHolds::FilterPhoneIndex,
            ])
            .from(LegalHolds::Table)
            .and_where(Expr::col(LegalHolds::FilterPhoneCiphertext).is_not_null())
            .order_by(LegalHolds::TenantId, Order::Asc)
            .order_by(LegalHolds::Id, Order::Asc);
        // Holds are a handful per tenant: read at once.
        let rows = query(manager, &select).await?;
        let mut tenant: Option<TenantContext> = None;
        for row in &rows {
            let (tenant_id, id): (Uuid, Uuid) =
                (row.try_get("", "tenant_id")?, row.try_get("", "id")?);
            let context = self.tenant(manager, &mut tenant, tenant_id).await?;
            let sealed: Vec<u8> = row.try_get("", "filter_phone_ciphertext")?;
            let old: Option<Vec<u8>> = row.try_get("", "filter_phone_index")?;
            let what = || format!("legal hold {id} of tenant {tenant_id}");
            let new = self.index(context, RecordingId(id), Party::Caller, &sealed, what)?;
            if new != old {
                let update = Query::update()
                    .table(LegalHolds::Table)
                    .value(LegalHolds::FilterPhoneIndex, new)
                    .and_where(Expr::col(LegalHolds::TenantId).eq(tenant_id))
                    .and_where(Expr::col(LegalHolds::Id).eq(id))
                    .to_owned();
                execute(manager, &update).await?;
            }
        }
        Ok(())
    }

    /// The new index of one sealed number. `what` names the row (ids only)
    /// when it doesn't decrypt.
    fn index(
        &self,
        context: &TenantContext,
        id: RecordingId,
        party: Party,
        sealed: &[u8],
        what: impl Fn() -> String,
    ) -> Result<Option<Vec<u8>>, DbErr> {
        let number = context.pii.open(id, party, sealed).map_err(|err| {
            DbErr::Migration(format!(
                "{}: {err} (is secrets.pii the one it was written with?)",
                what()
            ))
        })?;
        Ok((self.key)(&number, context.region).map(|key| context.pii.blind_index(&key)))
    }

    /// The context of `tenant_id`, loaded when the rows move on to it.
    async fn tenant<'c>(
        &self,
        manager: &SchemaManager<'_>,
        current: &'c mut Option<TenantContext>,
        tenant_id: Uuid,
    ) -> Result<&'c TenantContext, DbErr> {
        if current.as_ref().is_some_and(|c| c.id == tenant_id) {
            return current
                .as_ref()
                .ok_or_else(|| DbErr::Migration("tenant context lost".into()));
        }
        let pii = self
            .pii
            .for_tenant(TenantId(tenant_id))
            .map_err(|err| DbErr::Migration(format!("tenant {tenant_id}: {err}")))?;
        let select = Query::select()
            .column(TenantsPhone::DefaultRegion)
            .from(Tenants::Table)
            .and_where(Expr::col(Tenants::Id).eq(tenant_id))
            .to_owned();
        let rows = query(manager, &select).await?;
        let region = match rows.first() {
            Some(row) => row
                .try_get::<Option<String>>("", "default_region")
                .ok()
                .flatten()
                .and_then(|code| Region::parse(&code)),
            None => None,
        };
        Ok(current.insert(TenantContext {
            id: tenant_id,
            pii,
            region,
        }))
    }
}

/// Recordings after `(tenant, id)` in (tenant, id) order.
fn after_key((tenant, id): (Uuid, Uuid)) -> Cond {
    Cond::any()
        .add(Expr::col(Recordings::TenantId).gt(tenant))
        .add(
            Cond::all()
                .add(Expr::col(Recordings::TenantId).eq(tenant))
                .add(Expr::col(Recordings::Id).gt(id)),
        )
}

async fn query(
    manager: &SchemaManager<'_>,
    select: &SelectStatement,
) -> Result<Vec<QueryResult>, DbErr> {
    let backend = manager.get_database_backend();
    manager
        .get_connection()
        .query_all_raw(backend.build(select))
        .await
}

async fn execute(manager: &SchemaManager<'_>, update: &UpdateStatement) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager
        .get_connection()
        .execute_raw(backend.build(update))
        .await
        .map(|_| ())
}
