//! What the upload endpoint needs: its database, the metadata service (for
//! recorder keys), storage, and a way to wake the outbox relay.

use std::sync::Arc;
use std::time::Duration;

use callvault_bus::RpcClient;
use sea_orm::DatabaseConnection;

use crate::metrics::UploadMetrics;
use crate::reconcile::Reconciler;
use crate::sink::RecordingSink;
use crate::tus::Tus;
use crate::uploads::Uploads;

/// Called after an upload's outbox message is committed, so the relay
/// publishes it at once instead of at its next poll.
pub type OutboxNotifier = Arc<dyn Fn() + Send + Sync>;

/// Bytes of the body buffered for probing: WAV headers with metadata
/// chunks, an MP3's ID3 tag and first frames, OGG's setup pages.
pub const PROBE_WINDOW: usize = 64 * 1024;

/// An in-progress upload silent for this long is taken to be abandoned
/// and a retry takes its place (and the reconciler may discard its
/// recording). Streaming uploads beat far more often. The default; the
/// binary's `ingestion.stale_after_secs` sets another.
pub const STALE_AFTER: Duration = Duration::from_secs(10 * 60);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(60);

/// The largest upload accepted (413 above it): a day-long call in 16-bit
/// stereo at 16 kHz is 5.5 GB, a day of G.711 700 MB. The default; the
/// binary's `ingestion.max_upload_bytes` sets another.
pub const MAX_UPLOAD_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// A body silent for this long is given up on.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

pub struct IngestionState {
    pub(crate) uploads: Uploads,
    pub(crate) metadata: RpcClient,
    pub(crate) sink: Arc<dyn RecordingSink>,
    pub(crate) notify: Option<OutboxNotifier>,
    pub(crate) stale_after: Duration,
    pub(crate) heartbeat_every: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_upload_bytes: u64,
    pub(crate) metrics: Arc<UploadMetrics>,
    /// Resumable uploads, when the process keeps a staging directory.
    pub(crate) tus: Option<Tus>,
}

impl IngestionState {
    /// `db` must have been migrated (see [`crate::connect`]).
    pub fn new(
        db: DatabaseConnection,
        metadata: RpcClient,
        sink: Arc<dyn RecordingSink>,
        notify: Option<OutboxNotifier>,
    ) -> Self {
        Self {
            uploads: Uploads::new(db),
            metadata,
            sink,
            notify,
            stale_after: STALE_AFTER,
            heartbeat_every: HEARTBEAT_EVERY,
            idle_timeout: IDLE_TIMEOUT,
            max_upload_bytes: MAX_UPLOAD_BYTES,
            metrics: Arc::default(),
            tus: None,
        }
    }

    /// The upload counters `/metrics` exposes.
    pub fn metrics(&self) -> Arc<UploadMetrics> {
        self.metrics.clone()
    }

    /// Overrides how long an upload may stay silent before a retry takes
    /// it over (tests; sites with very slow links).
    pub fn with_stale_after(mut self, stale_after: Duration) -> Self {
        self.stale_after = stale_after;
        self.heartbeat_every = self.heartbeat_every.min(stale_after / 4);
        self
    }

    /// Overrides the largest upload accepted.
    pub fn with_max_upload_bytes(mut self, max_upload_bytes: u64) -> Self {
        self.max_upload_bytes = max_upload_bytes;
        self
    }

    /// Serves resumable (tus) uploads too.
    pub fn with_tus(mut self, tus: Tus) -> Self {
        self.tus = Some(tus);
        self
    }

    pub fn tus(&self) -> Option<&Tus> {
        self.tus.as_ref()
    }

    pub fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// A reconciler over this endpoint's uploads and storage, with the same
    /// staleness limit as its take-overs: an upload the endpoint would still
    /// wait for is one the reconciler keeps.
    pub fn reconciler(&self) -> Reconciler {
        Reconciler::new(
            self.uploads.connection().clone(),
            self.sink.clone(),
            self.metadata.clone(),
        )
        .with_stale_after(self.stale_after)
    }
}
