//! The sweeper: removes objects a store wrote but never recorded (its
//! process killed between the blob put and the record insert), and the
//! uploads such a process left half-written in the blob store.
//!
//! Every store inserts a *pending* write intent naming its object before it
//! writes a byte, and records the object in one transaction that deletes
//! that intent — `DELETE … WHERE object_key = ? AND state = 'pending'`,
//! which must remove exactly one row, or the transaction rolls back and the
//! store fails (retryably) and removes its object. A pass of the sweeper:
//!
//! 1. abandons the pending intents older than the grace period, by
//!    compare-and-set (`UPDATE … SET state = 'abandoned' WHERE state =
//!    'pending' AND created_at < cutoff`);
//! 2. for every abandoned intent, deletes its object (a missing one is
//!    fine), then the intent. An object that will not delete keeps its
//!    intent, abandoned, for the next pass;
//! 3. removes the blob store's incomplete uploads older than the cutoff.
//!
//! Why a committed store never loses its object: the intent's row decides.
//! The store's delete and the sweeper's update both need the row pending,
//! and the database applies one before the other (a row lock on
//! PostgreSQL, the single writer on SQLite). If the store's transaction
//! comes first, the intent is gone before the sweeper looks, so the sweeper
//! never learns the object exists. If the sweeper's update comes first, the
//! store's delete finds no pending row, its record is never written, and
//! the object is garbage whoever deletes it. Deleting blobs only for
//! abandoned intents, after the compare-and-set has committed, is what
//! makes the order safe; deleting first and abandoning after would race.
//!
//! The grace period must exceed the longest store (an upload's whole
//! duration): a slower one is abandoned under it, fails with `Unavailable`,
//! and its client retries. Several sweepers (storage replicas) may run at
//! once: each step tolerates another having done it already.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use callvault_blob::{BlobStore, ObjectKey};
use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::StorageError;
use crate::records::WriteIntents;

/// The default grace period: far longer than any upload.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// Abandoned intents handled per page.
const PAGE: u64 = 200;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Pending intents this pass found older than the grace period.
    pub abandoned: u64,
    /// Abandoned intents whose object (if any) and row are now gone.
    pub removed: u64,
    /// Abandoned intents left for the next pass (their object would not
    /// delete).
    pub failed: u64,
    /// Temp files or multipart uploads removed from the blob store.
    pub incomplete_uploads: u64,
}

pub struct Sweeper {
    blobs: Arc<dyn BlobStore>,
    intents: WriteIntents,
    grace: Duration,
}

impl Sweeper {
    pub fn new(blobs: Arc<dyn BlobStore>, intents: WriteIntents) -> Self {
        Self {
            blobs,
            intents,
            grace: DEFAULT_GRACE,
        }
    }

    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// One pass now. A database error stops it (the next pass resumes);
    /// a blob store failure on one object only skips that object.
    pub async fn run(&self) -> Result<SweepReport, StorageError> {
        let now = Utc::now();
        let cutoff = chrono::Duration::from_std(self.grace)
            .ok()
            .and_then(|grace| now.checked_sub_signed(grace))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut report = SweepReport {
            abandoned: self.intents.abandon_pending_before(cutoff).await?,
            ..SweepReport::default()
        };
        // Every abandoned intent, not only this pass's: also those an
        // earlier pass could not finish and those a store handed over.
        let mut after: Option<String> = None;
        loop {
            let page = self.intents.list_abandoned(after.as_deref(), PAGE).await?;
            for intent in &page {
                if self.remove(&intent.object_key).await? {
                    report.removed += 1;
                } else {
                    report.failed += 1;
                }
            }
            match page.last() {
                Some(last) if page.len() as u64 == PAGE => after = Some(last.object_key.clone()),
                _ => break,
            }
        }
        let before = SystemTime::now()
            .checked_sub(self.grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        match self.blobs.remove_incomplete_uploads(before).await {
            Ok(removed) => report.incomplete_uploads = removed,
            Err(error) => {
                warn!(%error, "could not remove incomplete uploads; the next sweep retries")
            }
        }
        if report != SweepReport::default() {
            info!(
                abandoned = report.abandoned,
                removed = report.removed,
                failed = report.failed,
                incomplete_uploads = report.incomplete_uploads,
                "sweep done"
            );
        }
        Ok(report)
    }

    /// Deletes an abandoned intent's object, then the intent. `false` when
    /// the object would not delete: the intent stays for the next pass.
    async fn remove(&self, object_key: &str) -> Result<bool, StorageError> {
        let key = match ObjectKey::parse(object_key) {
            Ok(key) => key,
            Err(error) => {
                // Stores only write keys they built; this is a bug or a
                // hand-made row. Left for a human, not guessed at.
                warn!(object = %object_key, %error, "write intent with an invalid object key");
                return Ok(false);
            }
        };
        if let Err(error) = self.blobs.delete(&key).await {
            warn!(object = %object_key, %error, "could not remove an abandoned object; the next sweep retries");
            return Ok(false);
        }
        self.intents.remove(object_key).await?;
        Ok(true)
    }
}
