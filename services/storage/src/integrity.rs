//! Integrity failures: what happens when a stored recording turns out to be
//! damaged, whoever finds it — a playback, `verifyRecording`, or the daily
//! scrub ([`Scrubber`]).
//!
//! Every failure is logged (tenant, recording, object key, the check that
//! failed), counted in `callvault_storage_integrity_failures_total`, and
//! published as `recording.integrity_failed`, which the metadata service
//! appends to the tenant's audit chain. Publishing is best effort: a broker
//! down at that moment loses the audit entry, never the log line or the
//! count, and the next read or scrub reports the damage again.

use std::sync::{Arc, LazyLock};

use callvault_bus::{Bus, Message};
use callvault_contracts::events::{IntegrityCheck, RecordingIntegrityFailedV1};
use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tracing::{error, info, warn};

use crate::records::ListedRecord;
use crate::{RecordingStore, StorageError};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    detected_by: &'static str,
}

static FAILURES: LazyLock<Family<FailureLabels, Counter>> = LazyLock::new(|| {
    let family = Family::default();
    callvault_telemetry::metrics::register(
        "callvault_storage_integrity_failures",
        "Stored recordings found damaged, by the check that found them",
        family.clone(),
    );
    family
});

/// Registers the failure counter, so `/metrics` shows it at 0 before the
/// first failure.
pub fn register_metrics() {
    LazyLock::force(&FAILURES);
}

fn check_name(check: IntegrityCheck) -> &'static str {
    match check {
        IntegrityCheck::Read => "read",
        IntegrityCheck::Verify => "verify",
        IntegrityCheck::Scrub => "scrub",
    }
}

/// Where integrity failures go; the store holds one.
#[derive(Clone, Default)]
pub struct IntegrityAlarm {
    /// Audit events, when the process has a bus.
    bus: Option<Arc<dyn Bus>>,
}

impl IntegrityAlarm {
    pub fn with_bus(bus: Arc<dyn Bus>) -> Self {
        Self { bus: Some(bus) }
    }

    /// Reports one failure. Never fails: the caller is already failing.
    pub fn raise(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        object_key: &str,
        check: IntegrityCheck,
        detail: &str,
    ) {
        error!(
            tenant_id = %tenant,
            recording_id = %recording,
            object_key,
            detected_by = check_name(check),
            detail,
            "recording failed its integrity check"
        );
        FAILURES
            .get_or_create(&FailureLabels {
                detected_by: check_name(check),
            })
            .inc();
        let Some(bus) = self.bus.clone() else { return };
        let event = RecordingIntegrityFailedV1 {
            tenant_id: tenant,
            recording_id: recording,
            object_key: object_key.to_owned(),
            detected_by: check,
            detail: detail.to_owned(),
            detected_at: Utc::now(),
        };
        let message = match Message::new(&event) {
            Ok(message) => message,
            Err(why) => {
                warn!(%why, "cannot encode recording.integrity_failed");
                return;
            }
        };
        // Off the request's path: a playback answers its 500 at once.
        tokio::spawn(async move {
            if let Err(why) = bus.publish(&message).await {
                warn!(%tenant, %recording, error = %why, "recording.integrity_failed not published");
            }
        });
    }
}

/// One damaged recording a scrub found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damaged {
    pub tenant: TenantId,
    pub recording: RecordingId,
    /// Which check failed.
    pub detail: String,
}

/// What one scrub pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrubReport {
    /// Recordings in today's share that were read whole and checked.
    pub checked: u64,
    pub damaged: Vec<Damaged>,
    /// Recordings that could not be checked (shredded meanwhile, a backend
    /// down): tried again on their next turn.
    pub unchecked: u64,
}

/// Reads a share of the stored recordings each day, whole, checking every
/// frame and the digest recorded at ingest, so damage is found before
/// anybody needs the recording.
///
/// Which recordings make today's share is fixed by their id and the date:
/// with a share of 10 % every recording is checked once every 10 days, with
/// no state to keep. Recordings are read one at a time, in constant memory.
pub struct Scrubber {
    store: Arc<RecordingStore>,
    share_percent: u8,
}

/// Records listed per query while scrubbing.
const PAGE: u32 = 500;

impl Scrubber {
    /// `share_percent`: 1 to 100.
    pub fn new(store: Arc<RecordingStore>, share_percent: u8) -> Self {
        Self {
            store,
            share_percent: share_percent.clamp(1, 100),
        }
    }

    /// How many days a full round of the store takes.
    fn period_days(&self) -> u64 {
        100u64.div_ceil(u64::from(self.share_percent))
    }

    fn in_share(&self, recording: RecordingId, day: NaiveDate) -> bool {
        let period = self.period_days();
        let bytes = recording.0.as_bytes();
        let mut head = [0u8; 8];
        head.copy_from_slice(&bytes[..8]);
        let slot = u64::from_be_bytes(head) % period;
        let day_number = u64::try_from(day.num_days_from_ce()).unwrap_or(0);
        slot == day_number % period
    }

    /// Checks today's share of the recordings stored before `now`.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<ScrubReport, StorageError> {
        let day = now.date_naive();
        let mut report = ScrubReport::default();
        let mut after: Option<ListedRecord> = None;
        loop {
            let page = self.store.list_stored(now, after, PAGE).await?;
            let Some(last) = page.last().copied() else {
                break;
            };
            for listed in page.iter().filter(|l| self.in_share(l.recording_id, day)) {
                let (tenant, recording) = (listed.tenant_id, listed.recording_id);
                match self
                    .store
                    .verify(tenant, recording, IntegrityCheck::Scrub)
                    .await
                {
                    Ok(verification) if verification.intact => report.checked += 1,
                    Ok(verification) => {
                        report.checked += 1;
                        report.damaged.push(Damaged {
                            tenant,
                            recording,
                            detail: verification.failure.unwrap_or_default(),
                        });
                    }
                    Err(error) => {
                        warn!(%tenant, %recording, code = error.code(), %error, "scrub could not check a recording");
                        report.unchecked += 1;
                    }
                }
            }
            after = Some(last);
        }
        info!(
            checked = report.checked,
            damaged = report.damaged.len(),
            unchecked = report.unchecked,
            share_percent = self.share_percent,
            "scrub done"
        );
        Ok(report)
    }
}
