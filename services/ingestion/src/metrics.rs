//! Upload metrics for `/metrics`: how many uploads ended how, the audio
//! bytes stored, and how long uploads took. Plain atomics: the handler
//! records on every upload, and the exposition reads them without locking.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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

#[derive(Default)]
pub struct UploadMetrics {
    by_outcome: [AtomicU64; 4],
    bytes_stored: AtomicU64,
    /// Cumulative counts per bucket of `BUCKETS`, then the +Inf bucket.
    latency_buckets: [AtomicU64; BUCKETS.len() + 1],
    latency_micros_sum: AtomicU64,
}

impl UploadMetrics {
    pub fn record(&self, outcome: Outcome, bytes_stored: u64, took: Duration) {
        let index = Outcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or_default();
        self.by_outcome[index].fetch_add(1, Ordering::Relaxed);
        self.bytes_stored.fetch_add(bytes_stored, Ordering::Relaxed);
        let seconds = took.as_secs_f64();
        for (bucket, bound) in self.latency_buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_buckets[BUCKETS.len()].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_micros_sum.fetch_add(micros, Ordering::Relaxed);
    }

    /// Appends the Prometheus text exposition of these metrics to `out`.
    pub fn render(&self, out: &mut String) {
        out.push_str("# HELP callvault_uploads_total Recorder uploads, by how they ended.\n");
        out.push_str("# TYPE callvault_uploads_total counter\n");
        for (outcome, count) in Outcome::ALL.iter().zip(&self.by_outcome) {
            let _ = writeln!(
                out,
                "callvault_uploads_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                count.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP callvault_upload_bytes_total Audio bytes stored by accepted uploads.\n",
        );
        out.push_str("# TYPE callvault_upload_bytes_total counter\n");
        let _ = writeln!(
            out,
            "callvault_upload_bytes_total {}",
            self.bytes_stored.load(Ordering::Relaxed)
        );
        out.push_str("# HELP callvault_upload_duration_seconds Time from request to answer.\n");
        out.push_str("# TYPE callvault_upload_duration_seconds histogram\n");
        for (bucket, bound) in self.latency_buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "callvault_upload_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "callvault_upload_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.latency_micros_sum.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "callvault_upload_duration_seconds_sum {sum}");
        let _ = writeln!(out, "callvault_upload_duration_seconds_count {count}");
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
        let mut out = String::new();
        metrics.render(&mut out);
        for line in [
            "callvault_uploads_total{outcome=\"stored\"} 2",
            "callvault_uploads_total{outcome=\"refused\"} 1",
            "callvault_uploads_total{outcome=\"failed\"} 0",
            "callvault_upload_bytes_total 2401044",
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
