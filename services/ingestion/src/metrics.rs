//! Upload metrics for `/metrics`: how many uploads ended how, the audio
//! bytes stored, and how long uploads took. The handler records into these
//! handles on every upload; the binary registers them, once, in the
//! process registry (`callvault_telemetry::metrics`).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the latency histogram's buckets: a 2.4 MB
/// recording over a LAN takes tens of milliseconds, a slow link seconds.
const BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How an upload ended, as the `outcome` label says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 201: stored and catalogued.
    Stored,
    /// 200: a retry answered with the first result, nothing stored.
    Replayed,
    /// 4xx: refused, nothing stored.
    Refused,
    /// 5xx: failed, nothing stored; the recorder retries.
    Failed,
}

impl Outcome {
    const ALL: [Outcome; 4] = [
        Outcome::Stored,
        Outcome::Replayed,
        Outcome::Refused,
        Outcome::Failed,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Replayed => "replayed",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug)]
pub struct UploadMetrics {
    by_outcome: Family<OutcomeLabels, Counter>,
    bytes_stored: Counter,
    latency: Histogram,
}

impl Default for UploadMetrics {
    fn default() -> Self {
        let by_outcome = Family::<OutcomeLabels, Counter>::default();
        // Every outcome is exposed from the start, at 0, so a rate over
        // `failed` exists before the first failure.
        for outcome in Outcome::ALL {
            let _series = by_outcome.get_or_create(&OutcomeLabels {
                outcome: outcome.label(),
            });
        }
        Self {
            by_outcome,
            bytes_stored: Counter::default(),
            latency: Histogram::new(BUCKETS),
        }
    }
}

impl UploadMetrics {
    pub fn record(&self, outcome: Outcome, bytes_stored: u64, took: Duration) {
        let labels = OutcomeLabels {
            outcome: outcome.label(),
        };
        self.by_outcome.get_or_create(&labels).inc();
        self.bytes_stored.inc_by(bytes_stored);
        self.latency.observe(took.as_secs_f64());
    }

    /// Adds these metrics to `registry`: `callvault_uploads_total{outcome}`,
    /// `callvault_upload_bytes_total` and the
    /// `callvault_upload_duration_seconds` histogram.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "callvault_uploads",
            "Recorder uploads, by how they ended",
            self.by_outcome.clone(),
        );
        registry.register(
            "callvault_upload_bytes",
            "Audio bytes stored by accepted uploads",
            self.bytes_stored.clone(),
        );
        registry.register(
            "callvault_upload_duration_seconds",
            "Time from request to answer",
            self.latency.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let metrics = UploadMetrics::default();
        metrics.record(Outcome::Stored, 2_400_044, Duration::from_millis(40));
        metrics.record(Outcome::Refused, 0, Duration::from_millis(2));
        metrics.record(Outcome::Stored, 1_000, Duration::from_secs(30));
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let out = callvault_telemetry::metrics::render_registry(&registry);
        for line in [
            "# HELP callvault_uploads_total Recorder uploads, by how they ended.",
            "# TYPE callvault_uploads_total counter",
            "callvault_uploads_total{outcome=\"stored\"} 2",
            "callvault_uploads_total{outcome=\"refused\"} 1",
            "callvault_uploads_total{outcome=\"failed\"} 0",
            "# TYPE callvault_upload_bytes_total counter",
            "callvault_upload_bytes_total 2401044",
            "# TYPE callvault_upload_duration_seconds histogram",
            "callvault_upload_duration_seconds_bucket{le=\"0.01\"} 1",
            "callvault_upload_duration_seconds_bucket{le=\"0.05\"} 2",
            "callvault_upload_duration_seconds_bucket{le=\"10\"} 2",
            "callvault_upload_duration_seconds_bucket{le=\"+Inf\"} 3",
            "callvault_upload_duration_seconds_count 3",
        ] {
            assert!(out.contains(&format!("{line}\n")), "{line} in\n{out}");
        }
    }
}
