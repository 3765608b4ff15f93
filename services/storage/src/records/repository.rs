//! Tenant-scoped reads and writes of storage records.

use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, SqlErr,
};
use uuid::Uuid;

use super::entity::{Column, Entity, STATE_SHREDDED, STATE_STORED};
use super::model::db_time;
use super::{ListedRecord, NewRecord, RecordError, ShredOutcome, StorageRecord};

/// The storage records of every tenant, reachable one tenant at a time.
#[derive(Clone, Debug)]
pub struct StorageRecords {
    db: DatabaseConnection,
}

/// The one filter every statement starts from: there is no way to build a
/// query here without naming the tenant.
fn recording(tenant_id: Uuid, recording_id: Uuid) -> Condition {
    Condition::all()
        .add(Column::TenantId.eq(tenant_id))
        .add(Column::RecordingId.eq(recording_id))
}

impl StorageRecords {
    /// Expects a database [`super::connect`] has migrated.
    pub fn new(db: DatabaseConnection) -> Self {
        StorageRecords { db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Records a freshly written object, in state stored.
    pub async fn insert(&self, record: &NewRecord) -> Result<(), RecordError> {
        let row = record.to_row()?.into_active_model();
        let result = Entity::insert(row).exec_without_returning(&self.db).await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => Err(RecordError::AlreadyExists),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn get(
        &self,
        tenant_id: Uuid,
        recording_id: Uuid,
    ) -> Result<Option<StorageRecord>, RecordError> {
        let Some(row) = Entity::find()
            .filter(recording(tenant_id, recording_id))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        StorageRecord::try_from(row).map(Some)
    }

    /// Crypto-shreds a recording: forgets its wrapped data key, for good.
    ///
    /// The key is cleared by the same statement that flips the state, so no
    /// reader ever sees a shredded record with a key or a stored one
    /// without. Shredding twice is not an error: the first time is kept.
    pub async fn mark_shredded(
        &self,
        tenant_id: Uuid,
        recording_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<ShredOutcome, RecordError> {
        let updated = Entity::update_many()
            .col_expr(Column::WrappedKey, Expr::value(Option::<Vec<u8>>::None))
            .col_expr(Column::State, Expr::value(STATE_SHREDDED))
            .col_expr(Column::ShreddedAt, Expr::value(db_time(at)))
            .filter(recording(tenant_id, recording_id))
            .filter(Column::State.eq(STATE_STORED))
            .exec(&self.db)
            .await?;
        if updated.rows_affected > 0 {
            return Ok(ShredOutcome::Shredded);
        }
        // Nothing stored matched: either there is no such record (for this
        // tenant), or it was shredded already. Only telling the two apart
        // needs a read; the shredding itself was the single update above.
        let existing = Entity::find()
            .filter(recording(tenant_id, recording_id))
            .one(&self.db)
            .await?;
        match existing.and_then(|row| row.shredded_at) {
            Some(at) => Ok(ShredOutcome::AlreadyShredded { at }),
            None => Err(RecordError::NotFound),
        }
    }

    /// One page of a tenant's stored records whose data key is wrapped by
    /// `key_ref`, in recording id order, starting after `after`.
    ///
    /// Keyset pagination, so a re-wrap job that moves records off `key_ref`
    /// while it walks never skips nor repeats one: pass the last recording id
    /// of a page as `after` for the next. Shredded records are left out,
    /// there is nothing left of them to re-wrap.
    pub async fn list_stored_for_key(
        &self,
        tenant_id: Uuid,
        key_ref: &str,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<StorageRecord>, RecordError> {
        let mut query = Entity::find()
            .filter(Column::TenantId.eq(tenant_id))
            .filter(Column::KeyRef.eq(key_ref))
            .filter(Column::State.eq(STATE_STORED));
        if let Some(after) = after {
            query = query.filter(Column::RecordingId.gt(after));
        }
        let rows = query
            .order_by_asc(Column::RecordingId)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.into_iter().map(StorageRecord::try_from).collect()
    }

    /// One page of every tenant's stored records created before `before`,
    /// in (created_at, tenant_id, recording_id) order, starting after
    /// `after` (the last record of the previous page).
    ///
    /// For ingestion's reconciler, which walks the lot while discarding
    /// some: keyset pagination neither skips nor repeats a record when
    /// listed ones disappear between pages, and records stored while it
    /// walks are created after `before`, so the walk ends. Shredded
    /// records are left out: they are catalogued by definition.
    pub async fn list_stored_before(
        &self,
        before: DateTime<Utc>,
        after: Option<ListedRecord>,
        limit: u64,
    ) -> Result<Vec<ListedRecord>, RecordError> {
        let mut query = Entity::find()
            .select_only()
            .columns([Column::CreatedAt, Column::TenantId, Column::RecordingId])
            .filter(Column::State.eq(STATE_STORED))
            .filter(Column::CreatedAt.lt(db_time(before)));
        if let Some(after) = after {
            let created_at = db_time(after.created_at);
            query = query.filter(
                Condition::any()
                    .add(Column::CreatedAt.gt(created_at))
                    .add(
                        Condition::all()
                            .add(Column::CreatedAt.eq(created_at))
                            .add(Column::TenantId.gt(after.tenant_id.0)),
                    )
                    .add(
                        Condition::all()
                            .add(Column::CreatedAt.eq(created_at))
                            .add(Column::TenantId.eq(after.tenant_id.0))
                            .add(Column::RecordingId.gt(after.recording_id.0)),
                    ),
            );
        }
        let rows: Vec<(DateTime<Utc>, Uuid, Uuid)> = query
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::TenantId)
            .order_by_asc(Column::RecordingId)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(created_at, tenant_id, recording_id)| ListedRecord {
                created_at,
                tenant_id: TenantId(tenant_id),
                recording_id: RecordingId(recording_id),
            })
            .collect())
    }

    /// Replaces a stored record's wrapped key with one wrapped by
    /// `new_key_ref`, if and only if the record still holds `old_wrapped`.
    ///
    /// A compare-and-set, so a re-wrap racing a shred or another re-wrap
    /// never resurrects a shredded key nor overwrites a newer one. Returns
    /// whether the record was updated; `false` means re-read and decide.
    pub async fn update_wrapped_key(
        &self,
        tenant_id: Uuid,
        recording_id: Uuid,
        old_wrapped: &[u8],
        new_key_ref: &str,
        new_wrapped: &[u8],
        at: DateTime<Utc>,
    ) -> Result<bool, RecordError> {
        if new_wrapped.is_empty() {
            return Err(RecordError::Invalid("wrapped_key"));
        }
        let updated = Entity::update_many()
            .col_expr(Column::KeyRef, Expr::value(new_key_ref))
            .col_expr(Column::WrappedKey, Expr::value(new_wrapped.to_vec()))
            .col_expr(Column::RewrappedAt, Expr::value(db_time(at)))
            .filter(recording(tenant_id, recording_id))
            .filter(Column::State.eq(STATE_STORED))
            .filter(Column::WrappedKey.eq(old_wrapped.to_vec()))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected > 0)
    }

    /// Removes a record outright. Only for an upload that was refused after
    /// its object was stored (ingestion's discard): nothing ever referenced
    /// it, so no tombstone is owed. Returns whether a row was removed.
    pub async fn delete(&self, tenant_id: Uuid, recording_id: Uuid) -> Result<bool, RecordError> {
        // Only a stored record: a shred that raced in keeps its tombstone.
        let deleted = Entity::delete_many()
            .filter(recording(tenant_id, recording_id))
            .filter(Column::State.eq(STATE_STORED))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected > 0)
    }

    /// One page of the recording ids of a tenant's records, stored and
    /// shredded alike, in id order after `after`: an offboarding shreds
    /// them all (again, for the shredded ones: their objects may have
    /// survived an earlier failed deletion).
    pub async fn list_tenant_ids(
        &self,
        tenant_id: Uuid,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Uuid>, RecordError> {
        let mut query = Entity::find()
            .select_only()
            .column(Column::RecordingId)
            .filter(Column::TenantId.eq(tenant_id));
        if let Some(after) = after {
            query = query.filter(Column::RecordingId.gt(after));
        }
        Ok(query
            .order_by_asc(Column::RecordingId)
            .limit(limit)
            .into_tuple::<Uuid>()
            .all(&self.db)
            .await?)
    }
}

pub(super) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
