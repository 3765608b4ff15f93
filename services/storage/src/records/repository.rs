//! Tenant-scoped reads and writes of storage records.

use callvault_contracts::events::{RecordingDiscardedV1, RecordingShreddedV1, RecordingStoredV1};
use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, SqlErr, TransactionTrait,
};
use uuid::Uuid;

use super::entity::{self, Column, Entity, STATE_SHREDDED, STATE_STORED};
use super::model::db_time;
use super::{
    ListedRecord, NewRecord, RecordError, ShredOutcome, StorageRecord, StoredSpan, enqueue,
};

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

    /// Records a freshly written object, in state stored, and its
    /// `recording.stored` in the same transaction. (The store records
    /// through [`super::WriteIntents::commit`], which does the same.)
    pub async fn insert(&self, record: &NewRecord) -> Result<(), RecordError> {
        let row = record.to_row()?;
        let event = stored_event(&row)?;
        let txn = self.db.begin().await?;
        let result = Entity::insert(row.into_active_model())
            .exec_without_returning(&txn)
            .await;
        match result {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => return Err(RecordError::AlreadyExists),
            Err(err) => return Err(err.into()),
        }
        enqueue(&txn, &event).await?;
        txn.commit().await?;
        Ok(())
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
    ///
    /// The call that shreds it also enqueues its `recording.shredded`, in
    /// the same transaction: one event per recording, however many times
    /// (and by whatever path: deletion, erasure, offboarding) it is
    /// shredded.
    pub async fn mark_shredded(
        &self,
        tenant_id: Uuid,
        recording_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<ShredOutcome, RecordError> {
        let at = db_time(at);
        let txn = self.db.begin().await?;
        let updated = Entity::update_many()
            .col_expr(Column::WrappedKey, Expr::value(Option::<Vec<u8>>::None))
            .col_expr(Column::State, Expr::value(STATE_SHREDDED))
            .col_expr(Column::ShreddedAt, Expr::value(at))
            .filter(recording(tenant_id, recording_id))
            .filter(Column::State.eq(STATE_STORED))
            .exec(&txn)
            .await?;
        if updated.rows_affected > 0 {
            // Read back under the update's lock: the size and age the
            // event reports are the row's own (neither ever changes).
            let row = Entity::find()
                .filter(recording(tenant_id, recording_id))
                .one(&txn)
                .await?
                .ok_or(RecordError::NotFound)?;
            let event = RecordingShreddedV1 {
                tenant_id: TenantId(tenant_id),
                recording_id: RecordingId(recording_id),
                size: row_len(&row)?,
                stored_at: row.created_at,
                shredded_at: at,
            };
            enqueue(&txn, &event).await?;
            txn.commit().await?;
            return Ok(ShredOutcome::Shredded);
        }
        // Nothing stored matched: either there is no such record (for this
        // tenant), or it was shredded already. Only telling the two apart
        // needs a read; the shredding itself was the single update above.
        let existing = Entity::find()
            .filter(recording(tenant_id, recording_id))
            .one(&txn)
            .await?;
        txn.commit().await?;
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
    /// it, so no tombstone is owed. Returns whether a row was removed; when
    /// one was, its `recording.discarded` (at `at`) is enqueued in the
    /// same transaction.
    pub async fn delete(
        &self,
        tenant_id: Uuid,
        recording_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<bool, RecordError> {
        // Read first, outside the transaction: a transaction that reads
        // before it writes can't take SQLite's write lock once another
        // connection has written meanwhile. The size and age never change;
        // the delete below is pinned to this very row by its `created_at`.
        let Some(row) = Entity::find()
            .filter(recording(tenant_id, recording_id))
            .filter(Column::State.eq(STATE_STORED))
            .one(&self.db)
            .await?
        else {
            return Ok(false);
        };
        let txn = self.db.begin().await?;
        // Only a stored record: a shred that raced in keeps its tombstone,
        // and nothing is reported discarded (nor by a second discard).
        let deleted = Entity::delete_many()
            .filter(recording(tenant_id, recording_id))
            .filter(Column::State.eq(STATE_STORED))
            .filter(Column::CreatedAt.eq(row.created_at))
            .exec(&txn)
            .await?;
        if deleted.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        let event = RecordingDiscardedV1 {
            tenant_id: TenantId(tenant_id),
            recording_id: RecordingId(recording_id),
            size: row_len(&row)?,
            stored_at: row.created_at,
            discarded_at: db_time(at),
        };
        enqueue(&txn, &event).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// One page of every tenant's records (stored, or shredded after
    /// `from`) created before `to`, in (tenant_id, recording_id) order
    /// after `after`: what [`StoredSpan::byte_seconds`] sums for billing's
    /// reconciliation. Every record stored for a whole second of `[from,
    /// to)` is on some page; a few that were not may be too (they count
    /// zero). Across tenants by design, like [`Self::list_stored_before`].
    pub async fn list_spans(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<(TenantId, RecordingId)>,
        limit: u64,
    ) -> Result<Vec<StoredSpan>, RecordError> {
        let mut query = Entity::find()
            .select_only()
            .columns([
                Column::TenantId,
                Column::RecordingId,
                Column::PlaintextLen,
                Column::CreatedAt,
                Column::ShreddedAt,
            ])
            .filter(Column::CreatedAt.lt(db_time(to)))
            .filter(
                Condition::any()
                    .add(Column::ShreddedAt.is_null())
                    .add(Column::ShreddedAt.gt(db_time(from))),
            );
        if let Some((tenant, recording)) = after {
            query = query.filter(
                Condition::any().add(Column::TenantId.gt(tenant.0)).add(
                    Condition::all()
                        .add(Column::TenantId.eq(tenant.0))
                        .add(Column::RecordingId.gt(recording.0)),
                ),
            );
        }
        let rows: Vec<SpanRow> = query
            .order_by_asc(Column::TenantId)
            .order_by_asc(Column::RecordingId)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(
                |(tenant_id, recording_id, plaintext_len, created_at, shredded_at)| {
                    Ok(StoredSpan {
                        tenant_id: TenantId(tenant_id),
                        recording_id: RecordingId(recording_id),
                        plaintext_len: u64::try_from(plaintext_len)
                            .map_err(|_| RecordError::Invalid("plaintext_len"))?,
                        created_at,
                        shredded_at,
                    })
                },
            )
            .collect()
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

/// The columns [`StorageRecords::list_spans`] reads: tenant, recording,
/// plaintext length, created and shredded at.
type SpanRow = (Uuid, Uuid, i64, DateTime<Utc>, Option<DateTime<Utc>>);

/// The `recording.stored` of a row about to be inserted: its plaintext
/// size, and its `created_at` exactly as stored (microseconds).
pub(super) fn stored_event(row: &entity::Model) -> Result<RecordingStoredV1, RecordError> {
    Ok(RecordingStoredV1 {
        tenant_id: TenantId(row.tenant_id),
        recording_id: RecordingId(row.recording_id),
        size: row_len(row)?,
        stored_at: row.created_at,
    })
}

fn row_len(row: &entity::Model) -> Result<u64, RecordError> {
    u64::try_from(row.plaintext_len).map_err(|_| RecordError::Invalid("plaintext_len"))
}

pub(super) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
