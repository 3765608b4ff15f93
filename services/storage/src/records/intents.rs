//! Write intents: the `storage_write_intents` row a store inserts before it
//! writes an object, and deletes in the transaction that records it. A row
//! older than any live store is an object a killed process may have left
//! without its record, which [`crate::sweep`] removes.
//!
//! Unlike [`super::StorageRecords`], these are keyed by object, not scoped by
//! tenant: only the store and the sweeper use them, never a tenant's request,
//! and the sweeper works across every tenant by design. The commit still
//! names the tenant and the recording, so an intent only ever commits the
//! record it was taken for.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::entity as objects;
use super::model::db_time;
use super::repository::{is_unique_violation, stored_event};
use super::{NewRecord, RecordError, enqueue};

mod row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "storage_write_intents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub object_key: String,
        pub tenant_id: Uuid,
        pub recording_id: Uuid,
        pub state: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use row::{Column, Entity};

const STATE_PENDING: &str = "pending";
const STATE_ABANDONED: &str = "abandoned";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentState {
    /// A store is (or was, until it was killed) writing the object; it may
    /// still commit.
    Pending,
    /// The sweeper, or a store that gave up, owns the object: it can never
    /// be committed, only removed.
    Abandoned,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteIntent {
    pub object_key: String,
    pub tenant_id: Uuid,
    pub recording_id: Uuid,
    pub state: IntentState,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<row::Model> for WriteIntent {
    type Error = RecordError;

    fn try_from(row: row::Model) -> Result<Self, RecordError> {
        let state = match row.state.as_str() {
            STATE_PENDING => IntentState::Pending,
            STATE_ABANDONED => IntentState::Abandoned,
            _ => return Err(RecordError::Invalid("intent state")),
        };
        Ok(WriteIntent {
            object_key: row.object_key,
            tenant_id: row.tenant_id,
            recording_id: row.recording_id,
            state,
            created_at: row.created_at,
        })
    }
}

/// Why [`WriteIntents::commit`] did not record the object.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The intent was no longer pending: a sweep abandoned it (and may be
    /// removing the object). Nothing was written.
    #[error("the write intent was abandoned before the store committed")]
    Abandoned,
    /// A statement failed and the transaction was rolled back: nothing was
    /// written and the intent is as it was.
    #[error(transparent)]
    Failed(RecordError),
    /// The commit itself failed: the record may or may not be there. If it
    /// is not, the intent is still pending and a sweep removes the object.
    #[error("commit outcome unknown: {0}")]
    Unknown(RecordError),
}

fn intent_row(
    object_key: &str,
    tenant_id: Uuid,
    recording_id: Uuid,
    state: &str,
    at: DateTime<Utc>,
) -> row::Model {
    row::Model {
        object_key: object_key.to_owned(),
        tenant_id,
        recording_id,
        state: state.to_owned(),
        created_at: db_time(at),
    }
}

#[derive(Clone, Debug)]
pub struct WriteIntents {
    db: DatabaseConnection,
}

impl WriteIntents {
    /// Expects a database [`super::connect`] has migrated.
    pub fn new(db: DatabaseConnection) -> Self {
        WriteIntents { db }
    }

    /// Declares that `object_key` is about to be written for the recording:
    /// a pending intent, committed before the first byte goes out.
    pub async fn begin(
        &self,
        object_key: &str,
        tenant_id: Uuid,
        recording_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), RecordError> {
        let row = intent_row(object_key, tenant_id, recording_id, STATE_PENDING, at);
        match Entity::insert(row.into_active_model())
            .exec_without_returning(&self.db)
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => Err(RecordError::AlreadyExists),
            Err(err) => Err(err.into()),
        }
    }

    /// Turns the pending intent for `record`'s object into the record, in
    /// one transaction: the intent's delete must find it pending, which is
    /// the compare-and-set the sweeper's abandonment races against. The
    /// recording's `recording.stored` is enqueued in the same transaction,
    /// so it is published exactly when the record exists.
    pub async fn commit(&self, record: &NewRecord) -> Result<(), CommitError> {
        let row = record.to_row().map_err(CommitError::Failed)?;
        let event = stored_event(&row).map_err(CommitError::Failed)?;
        let failed = |err: sea_orm::DbErr| CommitError::Failed(err.into());
        let txn = self.db.begin().await.map_err(failed)?;
        let claimed = Entity::delete_many()
            .filter(Column::ObjectKey.eq(record.object_key.as_str()))
            .filter(Column::TenantId.eq(record.tenant_id))
            .filter(Column::RecordingId.eq(record.recording_id))
            .filter(Column::State.eq(STATE_PENDING))
            .exec(&txn)
            .await;
        let outcome = match claimed {
            Ok(deleted) if deleted.rows_affected == 1 => {
                let inserted = objects::Entity::insert(row.into_active_model())
                    .exec_without_returning(&txn)
                    .await
                    .map(|_| ())
                    .map_err(|err| {
                        if is_unique_violation(&err) {
                            CommitError::Failed(RecordError::AlreadyExists)
                        } else {
                            failed(err)
                        }
                    });
                match inserted {
                    Ok(()) => enqueue(&txn, &event).await.map_err(failed),
                    Err(error) => Err(error),
                }
            }
            Ok(_) => Err(CommitError::Abandoned),
            Err(err) => Err(failed(err)),
        };
        if let Err(error) = outcome {
            // Dropping the transaction would roll it back too; saying so
            // returns the connection clean, and a failure here changes
            // nothing: the transaction is not committed either way.
            let _ = txn.rollback().await;
            return Err(error);
        }
        txn.commit()
            .await
            .map_err(|err| CommitError::Unknown(err.into()))
    }

    pub async fn get(&self, object_key: &str) -> Result<Option<WriteIntent>, RecordError> {
        Entity::find_by_id(object_key.to_owned())
            .one(&self.db)
            .await?
            .map(WriteIntent::try_from)
            .transpose()
    }

    /// Abandons every pending intent created before `cutoff`, by
    /// compare-and-set: one whose store committed first is gone already,
    /// and once abandoned none can commit. Returns how many.
    pub async fn abandon_pending_before(&self, cutoff: DateTime<Utc>) -> Result<u64, RecordError> {
        let updated = Entity::update_many()
            .col_expr(Column::State, Expr::value(STATE_ABANDONED))
            .filter(Column::State.eq(STATE_PENDING))
            .filter(Column::CreatedAt.lt(db_time(cutoff)))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected)
    }

    /// Hands an object its store could not remove over to the sweeper: the
    /// intent becomes (or is created) abandoned, so the next sweep retries
    /// the removal whatever its age.
    pub async fn hand_over(
        &self,
        object_key: &str,
        tenant_id: Uuid,
        recording_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), RecordError> {
        let row = intent_row(object_key, tenant_id, recording_id, STATE_ABANDONED, at);
        Entity::insert(row.into_active_model())
            .on_conflict(
                OnConflict::column(Column::ObjectKey)
                    .update_column(Column::State)
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// One page of abandoned intents, in object key order, after `after`
    /// (the last key of the previous page): a pass that leaves some behind
    /// (their object would not delete) still ends.
    pub async fn list_abandoned(
        &self,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<WriteIntent>, RecordError> {
        let mut query = Entity::find().filter(Column::State.eq(STATE_ABANDONED));
        if let Some(after) = after {
            query = query.filter(Column::ObjectKey.gt(after));
        }
        query
            .order_by_asc(Column::ObjectKey)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(WriteIntent::try_from)
            .collect()
    }

    /// Forgets the intent whatever its state, once its object is known to
    /// be gone (or never to have been written). Returns whether a row went.
    pub async fn remove(&self, object_key: &str) -> Result<bool, RecordError> {
        let deleted = Entity::delete_by_id(object_key.to_owned())
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected > 0)
    }
}
