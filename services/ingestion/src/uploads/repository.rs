//! The idempotency claims: who is uploading which call segment, and what a
//! finished upload answered.

use std::time::Duration;

use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    Set, SqlErr,
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

    /// Gives the key up after a failed upload, so a retry starts over. Only
    /// our own in-progress claim is removed, never a take-over's nor a done
    /// upload.
    pub async fn release(&self, key: &UploadKey, recording: RecordingId) -> Result<(), DbErr> {
        Entity::delete_many()
            .filter(key.held_by(recording)?)
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
