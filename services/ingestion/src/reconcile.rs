//! The reconciler: discards recordings storage holds that no upload will
//! ever commit, so no catalogue entry will ever reference them. They are
//! left by a process killed between storing and committing, or by a discard
//! that failed (storage down when an upload was refused or taken over).
//!
//! For every recording storage listed as created before `now - grace`, the
//! uploads table decides:
//!
//! - a done upload references it: kept (it is catalogued);
//! - an in-progress upload holds it and beat within the staleness limit:
//!   kept (alive);
//! - an in-progress upload holds it but went silent: the claim is removed by
//!   compare-and-set (only if still held by that recording and untouched
//!   since read), then the recording is discarded;
//! - no upload references it: discarded.
//!
//! Before anything is discarded (or a claim removed), the catalogue is
//! asked: a recording it holds is never an orphan, whatever the uploads
//! table says, so finding one trips the breaker below. If the catalogue
//! can't be asked, nothing is discarded this pass.
//!
//! Why that is safe: an upload commits only through [`Uploads::finish`],
//! which needs its key still held in progress by its recording. A claim
//! picks a fresh recording id, before anything is stored, and a take-over
//! picks another, so once no row references a stored recording none ever
//! will again, and a removed claim can't finish. Done rows are never
//! deleted. A discard that fails is counted and found again next run.
//!
//! A pass starts where the previous one left everything settled
//! (catalogued or discarded), so the hourly pass looks at the hour's new
//! recordings, not the whole store. Every [`FULL_WALK_EVERY`]th pass, and a
//! process's first, walks it all: a store whose commit lagged its
//! `created_at` by more than the grace period may appear behind the resume
//! point.
//!
//! "No upload references it" is only proof against the ingestion database
//! the recording was uploaded through. A database that is newer than the
//! recording (deleted and recreated, or the wrong one configured) would
//! condemn the whole archive, so recordings stored before this database was
//! first migrated are never looked at. And since a damaged or restored
//! database would make many recordings look orphaned at once, a pass that
//! finds more than its discard limit trips a breaker: from then on nothing
//! is discarded until the process restarts, and the error log says why.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use callvault_bus::RpcClient;
use callvault_contracts::ops::catalogue::KnownRecordings;
use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use tracing::{debug, error, info, warn};

use crate::sink::{RecordingSink, SinkError, StoredObject};
use crate::state::STALE_AFTER;
use crate::uploads::{Holder, Uploads};

/// Only recordings at least this old are looked at by default: a fresh
/// orphan costs little, and an hour leaves slow clocks and slow commits
/// well alone.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// Recordings asked of storage per page.
const PAGE: u32 = 500;

/// Orphans one pass may discard: crashes leave a handful, so more means
/// the uploads table doesn't describe this storage.
pub const DEFAULT_DISCARD_LIMIT: u64 = 100;

/// Passes between two walks of the whole store (a day at the default
/// hourly interval).
pub const FULL_WALK_EVERY: u64 = 24;

/// What one pass did. `checked = kept + discarded + failed + held_back`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Stored recordings older than the cutoff that were looked at.
    pub checked: u64,
    /// Catalogued, or their upload is still alive.
    pub kept: u64,
    /// Orphans removed from storage.
    pub discarded: u64,
    /// Orphans storage could not remove, or recordings the uploads table
    /// could not be asked about; the next pass tries them again.
    pub failed: u64,
    /// Orphans left alone because the discard limit tripped.
    pub held_back: u64,
}

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileFailure {
    #[error("listing stored recordings failed: {0}")]
    Listing(SinkError),
    #[error("the ingestion database: {0}")]
    Database(DbErr),
}

/// A pass stopped early; `partial` is what it did before.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct ReconcileError {
    pub source: ReconcileFailure,
    pub partial: ReconcileReport,
}

enum Verdict {
    /// A done upload references it: settled for good.
    Catalogued,
    /// Its upload may still commit: to be looked at again.
    Alive,
    Discarded,
    /// Could not decide (a database or the catalogue unreachable).
    Failed,
    /// Condemned, but storage could not discard it.
    DiscardFailed,
    /// An orphan, left alone: the breaker has tripped.
    HeldBack,
}

pub struct Reconciler {
    uploads: Uploads,
    sink: Arc<dyn RecordingSink>,
    catalogue: RpcClient,
    stale_after: Duration,
    grace: Duration,
    page: u32,
    /// The last recording of the longest settled run from the start: the
    /// next pass lists after it.
    settled: Mutex<Option<StoredObject>>,
    passes: AtomicU64,
    discard_limit: u64,
    /// Set for good (for this process) once a pass exceeds the limit.
    tripped: AtomicBool,
}

impl Reconciler {
    /// `db` is the ingestion database (migrated), `sink` the storage the
    /// uploads go to, `catalogue` the metadata service. The staleness limit
    /// must be the one uploads are taken over after
    /// ([`crate::IngestionState::reconciler`] sees to that).
    pub fn new(db: DatabaseConnection, sink: Arc<dyn RecordingSink>, catalogue: RpcClient) -> Self {
        Self {
            uploads: Uploads::new(db),
            sink,
            catalogue,
            stale_after: STALE_AFTER,
            grace: DEFAULT_GRACE,
            page: PAGE,
            settled: Mutex::new(None),
            passes: AtomicU64::new(0),
            discard_limit: DEFAULT_DISCARD_LIMIT,
            tripped: AtomicBool::new(false),
        }
    }

    pub fn with_stale_after(mut self, stale_after: Duration) -> Self {
        self.stale_after = stale_after;
        self
    }

    /// Recordings younger than `grace` are not looked at.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Orphans one pass may discard before the breaker trips.
    pub fn with_discard_limit(mut self, limit: u64) -> Self {
        self.discard_limit = limit;
        self
    }

    /// Recordings asked of storage per page (at least 1).
    pub fn with_page_size(mut self, page: u32) -> Self {
        self.page = page.max(1);
        self
    }

    /// One pass over the recordings stored before `now - grace`.
    pub async fn run(&self) -> Result<ReconcileReport, ReconcileError> {
        let grace = chrono::Duration::from_std(self.grace).unwrap_or(chrono::Duration::MAX);
        let cutoff = Utc::now()
            .checked_sub_signed(grace)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.run_before(cutoff).await
    }

    /// One pass over the recordings stored before `cutoff`.
    pub async fn run_before(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<ReconcileReport, ReconcileError> {
        let mut report = ReconcileReport::default();
        let floor = match self.uploads.first_migrated_at().await {
            Ok(Some(at)) => at,
            Ok(None) => {
                let missing = DbErr::Custom("no migration history: not migrated?".into());
                return Err(ReconcileError {
                    source: ReconcileFailure::Database(missing),
                    partial: report,
                });
            }
            Err(error) => {
                return Err(ReconcileError {
                    source: ReconcileFailure::Database(error),
                    partial: report,
                });
            }
        };
        // Strictly after this cursor: everything stored from `floor` on.
        let floor = StoredObject {
            created_at: floor,
            tenant: TenantId(uuid::Uuid::nil()),
            recording: RecordingId(uuid::Uuid::nil()),
        };
        let full_walk = self
            .passes
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(FULL_WALK_EVERY);
        let resume = if full_walk {
            None
        } else {
            self.settled.lock().ok().and_then(|settled| *settled)
        };
        let start = resume.max(Some(floor));
        let mut after = start;
        // Advanced while every recording so far is settled; frozen at the
        // first that isn't, which the next pass must see again.
        let mut settled = start;
        let mut all_settled = true;
        // Discards tried: what the limit counts (not failures to decide, so
        // a metadata outage can't trip the breaker).
        let mut attempts: u64 = 0;
        let outcome = loop {
            let page = match self.sink.list_stored(cutoff, after, self.page).await {
                Ok(page) => page,
                Err(source) => {
                    warn!(
                        checked = report.checked,
                        kept = report.kept,
                        discarded = report.discarded,
                        failed = report.failed,
                        error = %source,
                        "reconciliation stopped: storage could not be listed"
                    );
                    break Err(source);
                }
            };
            let Some(last) = page.last().copied() else {
                break Ok(());
            };
            let full = page.len() >= self.page as usize;
            for object in page {
                report.checked += 1;
                let may_discard = attempts < self.discard_limit;
                let verdict = self.reconcile(object, may_discard).await;
                match verdict {
                    Verdict::Catalogued | Verdict::Alive => report.kept += 1,
                    Verdict::Discarded => {
                        report.discarded += 1;
                        attempts += 1;
                    }
                    Verdict::Failed => report.failed += 1,
                    Verdict::DiscardFailed => {
                        report.failed += 1;
                        attempts += 1;
                    }
                    Verdict::HeldBack => report.held_back += 1,
                }
                all_settled &= matches!(verdict, Verdict::Catalogued | Verdict::Discarded);
                if all_settled {
                    settled = Some(object);
                }
            }
            if !full {
                break Ok(());
            }
            after = Some(last);
        };
        if let Ok(mut resume) = self.settled.lock() {
            *resume = settled;
        }
        if let Err(source) = outcome {
            return Err(ReconcileError {
                source: ReconcileFailure::Listing(source),
                partial: report,
            });
        }
        if report.held_back > 0 && !self.tripped.swap(true, Ordering::SeqCst) {
            error!(
                limit = self.discard_limit,
                held_back = report.held_back,
                "more orphans than one pass may discard: discarding stopped until restart; \
                 check that the ingestion database is this storage's and complete"
            );
        }
        info!(
            checked = report.checked,
            kept = report.kept,
            discarded = report.discarded,
            failed = report.failed,
            held_back = report.held_back,
            "reconciliation finished"
        );
        Ok(report)
    }

    /// `may_discard` false (or a tripped breaker): an orphan is held back,
    /// its claim untouched.
    async fn reconcile(&self, object: StoredObject, may_discard: bool) -> Verdict {
        let may_discard = may_discard && !self.tripped.load(Ordering::SeqCst);
        let StoredObject {
            tenant, recording, ..
        } = object;
        let holder = match self.uploads.holder(tenant, recording).await {
            Ok(holder) => holder,
            Err(error) => {
                warn!(%tenant, %recording, %error, "reconciler could not read the uploads table");
                return Verdict::Failed;
            }
        };
        match holder {
            Holder::Done => return Verdict::Catalogued,
            Holder::InProgress { key, updated_at } => {
                if !self.is_stale(updated_at) {
                    return Verdict::Alive;
                }
                if !may_discard {
                    return Verdict::HeldBack;
                }
                if let Some(verdict) = self.catalogued(tenant, recording).await {
                    return verdict;
                }
                match self
                    .uploads
                    .remove_abandoned(&key, recording, updated_at)
                    .await
                {
                    Ok(true) => {}
                    // It beat, finished or was taken over since we read it:
                    // the next pass decides again.
                    Ok(false) => return Verdict::Alive,
                    Err(error) => {
                        warn!(%tenant, %recording, %error, "reconciler could not remove an abandoned claim");
                        return Verdict::Failed;
                    }
                }
            }
            Holder::None if !may_discard => return Verdict::HeldBack,
            Holder::None => {
                if let Some(verdict) = self.catalogued(tenant, recording).await {
                    return verdict;
                }
            }
        }
        match self.sink.discard(tenant, recording).await {
            Ok(()) => {
                debug!(%tenant, %recording, "orphaned recording discarded");
                Verdict::Discarded
            }
            Err(error) => {
                // Unreferenced now, so the next pass finds it an orphan.
                warn!(%tenant, %recording, %error, "could not discard an orphaned recording");
                Verdict::DiscardFailed
            }
        }
    }

    /// What to do instead of discarding, if anything: held back (and the
    /// breaker tripped) when the catalogue holds the recording, failed when
    /// it can't be asked.
    async fn catalogued(&self, tenant: TenantId, recording: RecordingId) -> Option<Verdict> {
        let ask = KnownRecordings {
            tenant,
            ids: vec![recording],
        };
        match self.catalogue.call(ask).await {
            Ok(known) if known.is_empty() => None,
            Ok(_) => {
                if !self.tripped.swap(true, Ordering::SeqCst) {
                    error!(
                        %tenant,
                        %recording,
                        "a catalogued recording has no upload row: discarding stopped until \
                         restart; check that the ingestion database is this deployment's and \
                         complete"
                    );
                }
                Some(Verdict::HeldBack)
            }
            Err(error) => {
                warn!(%tenant, %recording, code = error.code.as_str(), "reconciler could not ask the catalogue");
                Some(Verdict::Failed)
            }
        }
    }

    /// The same rule as a take-over's in [`Uploads::claim`].
    fn is_stale(&self, updated_at: DateTime<Utc>) -> bool {
        // A limit too large to subtract never goes stale.
        chrono::Duration::from_std(self.stale_after)
            .ok()
            .and_then(|stale_after| Utc::now().checked_sub_signed(stale_after))
            .is_some_and(|limit| updated_at <= limit)
    }
}
