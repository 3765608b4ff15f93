//! The idempotency claims: who is uploading which call segment, and what a
//! finished upload answered.

use std::time::Duration;

use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QuerySelect, Set, SqlErr, Statement,
};

use super::entity::{ActiveModel, Column, Entity, STATE_DONE, STATE_IN_PROGRESS};

/// The idempotency key of an upload. Always carries the tenant: there is no
/// way to look up another tenant's upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadKey {
    pub tenant: TenantId,
    pub external_call_id: String,
    pub segment: u32,
}

impl UploadKey {
    fn condition(&self) -> Result<Condition, DbErr> {
        Ok(Condition::all()
            .add(Column::TenantId.eq(self.tenant.0))
            .add(Column::ExternalCallId.eq(self.external_call_id.as_str()))
            .add(Column::Segment.eq(segment(self.segment)?)))
    }

    /// The key, and only while `recording` still holds it in progress.
    fn held_by(&self, recording: RecordingId) -> Result<Condition, DbErr> {
        Ok(self
            .condition()?
            .add(Column::RecordingId.eq(recording.0))
            .add(Column::State.eq(STATE_IN_PROGRESS)))
    }
}

fn segment(segment: u32) -> Result<i32, DbErr> {
    i32::try_from(segment).map_err(|_| DbErr::Custom("segment out of range".into()))
}

/// What claiming a key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours: upload under the recording id we claimed it with.
    Claimed,
    /// The key was held by an upload silent for longer than the staleness
    /// limit; it is ours now. The previous attempt's recording may have
    /// been stored: the caller discards it.
    TookOver { previous: RecordingId },
    /// Already uploaded: here is the response it got.
    Done { response: String },
    /// Another upload of this key is running.
    InProgress,
}

/// What the uploads table says of a recording, for the reconciler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// No upload references it: none ever will again, as every claim and
    /// take-over picks a fresh recording id.
    None,
    /// Its upload committed: the catalogue references it.
    Done,
    /// Its upload holds the key in progress, last heard of at `updated_at`.
    InProgress {
        key: UploadKey,
        updated_at: DateTime<Utc>,
    },
}

/// Timestamps at microsecond precision (PostgreSQL's) on every backend.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[derive(Clone, Debug)]
pub struct Uploads {
    db: DatabaseConnection,
}

impl Uploads {
    /// Expects a database [`super::connect`] has migrated.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Claims `key` for an upload stored as `recording`.
    pub async fn claim(
        &self,
        key: &UploadKey,
        recording: RecordingId,
        stale_after: Duration,
    ) -> Result<Claim, DbErr> {
        // A few rounds: the row we collide with may be released or taken
        // over between our insert and our read.
        for _ in 0..3 {
            let at = now();
            let row = ActiveModel {
                tenant_id: Set(key.tenant.0),
                external_call_id: Set(key.external_call_id.clone()),
                segment: Set(segment(key.segment)?),
                recording_id: Set(recording.0),
                state: Set(STATE_IN_PROGRESS.to_owned()),
                response: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
            };
            match Entity::insert(row).exec_without_returning(&self.db).await {
                Ok(_) => return Ok(Claim::Claimed),
                Err(error) if is_unique_violation(&error) => {}
                Err(error) => return Err(error),
            }
            let Some(existing) = Entity::find()
                .filter(key.condition()?)
                .one(&self.db)
                .await?
            else {
                continue;
            };
            if existing.state == STATE_DONE {
                let response = existing
                    .response
                    .ok_or_else(|| DbErr::Custom("done upload without a response".into()))?;
                return Ok(Claim::Done { response });
            }
            let stale_after = chrono::Duration::from_std(stale_after)
                .map_err(|_| DbErr::Custom("staleness limit out of range".into()))?;
            if existing.updated_at > at - stale_after {
                return Ok(Claim::InProgress);
            }
            // Compare-and-set on the previous holder: of two retries taking
            // over at once, one wins.
            let previous = RecordingId(existing.recording_id);
            let taken = Entity::update_many()
                .col_expr(Column::RecordingId, Expr::value(recording.0))
                .col_expr(Column::CreatedAt, Expr::value(at))
                .col_expr(Column::UpdatedAt, Expr::value(at))
                .filter(key.held_by(previous)?)
                .filter(Column::UpdatedAt.eq(existing.updated_at))
                .exec(&self.db)
                .await?;
            if taken.rows_affected == 1 {
                return Ok(Claim::TookOver { previous });
            }
        }
        Ok(Claim::InProgress)
    }

    /// Tells other retries the upload under `recording` is alive. False if
    /// the claim was lost (taken over).
    pub async fn heartbeat(&self, key: &UploadKey, recording: RecordingId) -> Result<bool, DbErr> {
        let updated = Entity::update_many()
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(key.held_by(recording)?)
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }

    /// Marks the upload done with its response, inside the caller's
    /// transaction (the outbox message goes in the same one). False if the
    /// claim was lost: the caller rolls back and discards its recording.
    pub async fn finish<C: ConnectionTrait>(
        conn: &C,
        key: &UploadKey,
        recording: RecordingId,
        response: &str,
    ) -> Result<bool, DbErr> {
        let updated = Entity::update_many()
            .col_expr(Column::State, Expr::value(STATE_DONE))
            .col_expr(Column::Response, Expr::value(response))
            .col_expr(Column::UpdatedAt, Expr::value(now()))
            .filter(key.held_by(recording)?)
            .exec(conn)
            .await?;
        Ok(updated.rows_affected == 1)
    }

    /// When this database was first migrated (whole seconds): no upload
    /// it records can be older. `None` if it has no migration history.
    pub async fn first_migrated_at(&self) -> Result<Option<DateTime<Utc>>, DbErr> {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT MIN(applied_at) AS at FROM ingestion_migrations",
            ))
            .await?;
        let Some(seconds) = row
            .map(|row| row.try_get::<Option<i64>>("", "at"))
            .transpose()?
            .flatten()
        else {
            return Ok(None);
        };
        DateTime::from_timestamp(seconds, 0)
            .map(Some)
            .ok_or_else(|| DbErr::Custom("migration time out of range".into()))
    }

    /// Which upload, if any, references `recording` of `tenant`. Done rows
    /// are never deleted: a done upload's recording is in the catalogue.
    pub async fn holder(&self, tenant: TenantId, recording: RecordingId) -> Result<Holder, DbErr> {
        let mut rows = Entity::find()
            .filter(Column::TenantId.eq(tenant.0))
            .filter(Column::RecordingId.eq(recording.0))
            .limit(2)
            .all(&self.db)
            .await?;
        // Recording ids are fresh per claim, so two rows can't share one;
        // if they ever did, the caller must not act on either.
        if rows.len() > 1 {
            return Err(DbErr::Custom(
                "recording referenced by several uploads".into(),
            ));
        }
        let Some(row) = rows.pop() else {
            return Ok(Holder::None);
        };
        if row.state == STATE_DONE {
            return Ok(Holder::Done);
        }
        let segment = u32::try_from(row.segment)
            .map_err(|_| DbErr::Custom("negative segment in uploads".into()))?;
        Ok(Holder::InProgress {
            key: UploadKey {
                tenant,
                external_call_id: row.external_call_id,
                segment,
            },
            updated_at: row.updated_at,
        })
    }

    /// Removes an abandoned claim: only while `recording` still holds `key`
    /// in progress and nothing has touched the row since `updated_at` was
    /// read (no heartbeat, finish or take-over). True if it was removed;
    /// from then on that upload can neither heartbeat nor finish.
    pub async fn remove_abandoned(
        &self,
        key: &UploadKey,
        recording: RecordingId,
        updated_at: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        let deleted = Entity::delete_many()
            .filter(key.held_by(recording)?)
            .filter(Column::UpdatedAt.eq(updated_at))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected == 1)
    }

    /// Gives the key up after a failed upload, so a retry starts over. Only
    /// our own in-progress claim is removed, never a take-over's nor a done
    /// upload. True if it was still ours.
    pub async fn release(&self, key: &UploadKey, recording: RecordingId) -> Result<bool, DbErr> {
        let deleted = Entity::delete_many()
            .filter(key.held_by(recording)?)
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected == 1)
    }
}

fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
