//! The settings of the services' background work: the metadata service's
//! deletion worker, ingestion's claims and reconciler, storage's sweep.

use serde::Deserialize;

use super::ConfigError;

/// The metadata service's background work: the deletion worker and the
/// daily manifests.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    /// How often due recordings are looked for and shredded, and
    /// yesterday's manifests signed (seconds; 0 turns the timer off, leaving
    /// only the `runDeletion` mutation).
    #[serde(
        default = "default_deletion_interval",
        deserialize_with = "number_or_text"
    )]
    pub deletion_interval_secs: u64,
    /// Moves the service's clock forward (seconds), for retention drills
    /// and end-to-end tests: with it set, recordings are deleted that early.
    /// Logged as a warning at start; never set it in production.
    #[serde(default, deserialize_with = "number_or_text")]
    pub clock_offset_secs: i64,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            deletion_interval_secs: default_deletion_interval(),
            clock_offset_secs: 0,
        }
    }
}

fn default_deletion_interval() -> u64 {
    3600
}

/// The disclosure service's timer: deadline warnings, bundles shredded
/// after their retention, work a crash interrupted.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosureConfig {
    /// How often it runs (seconds; 0 turns it off).
    #[serde(
        default = "default_disclosure_interval",
        deserialize_with = "number_or_text"
    )]
    pub timer_interval_secs: u64,
}

impl Default for DisclosureConfig {
    fn default() -> Self {
        Self {
            timer_interval_secs: default_disclosure_interval(),
        }
    }
}

fn default_disclosure_interval() -> u64 {
    60
}

/// The billing service's timer (drafts finalized once their grace period
/// is over; the daily storage reconciliation) and its grace period.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingConfig {
    /// How often the timer runs (seconds; 0 turns it off).
    #[serde(
        default = "default_billing_interval",
        deserialize_with = "number_or_text"
    )]
    pub timer_interval_secs: u64,
    /// Hours after a period ends in which late events still land on its
    /// draft; then it is finalized.
    #[serde(default = "default_grace_hours", deserialize_with = "number_or_text")]
    pub grace_hours: u64,
    /// A TrueType/OpenType font with Japanese glyphs for PDF invoices
    /// (e.g. Debian's fonts-ipafont-gothic `ipagp.ttf`); Helvetica without.
    #[serde(default)]
    pub invoice_font_path: Option<std::path::PathBuf>,
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            timer_interval_secs: default_billing_interval(),
            grace_hours: default_grace_hours(),
            invoice_font_path: None,
        }
    }
}

fn default_billing_interval() -> u64 {
    60
}

fn default_grace_hours() -> u64 {
    72
}

/// The ingestion service's upload claims and its reconciler, which discards
/// recordings storage holds that no upload will ever commit (left by a
/// process killed between storing and committing).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestionConfig {
    /// An upload silent for this long (seconds) is taken to be abandoned: a
    /// retry takes its key over, and the reconciler may discard its
    /// recording. Raise it for very slow recorder links.
    #[serde(default = "default_stale_after", deserialize_with = "number_or_text")]
    pub stale_after_secs: u64,
    /// How often the reconciler runs (seconds; 0 turns it off). The first
    /// run is one interval after start.
    #[serde(
        default = "default_reconcile_interval",
        deserialize_with = "number_or_text"
    )]
    pub reconcile_interval_secs: u64,
    /// The reconciler only looks at recordings stored at least this long
    /// ago (seconds).
    #[serde(
        default = "default_reconcile_grace",
        deserialize_with = "number_or_text"
    )]
    pub reconcile_grace_secs: u64,
    /// The largest recording accepted, in bytes: a larger upload is
    /// refused with 413 before a byte of it is read (one sent chunked,
    /// without a length, as soon as it passes the limit).
    #[serde(
        default = "default_max_upload_bytes",
        deserialize_with = "number_or_text"
    )]
    pub max_upload_bytes: u64,
    /// A resumable (tus) upload untouched this long (seconds) expires: its
    /// sealed parts are removed and its URL answers 410/404.
    #[serde(
        default = "default_resumable_expiry",
        deserialize_with = "number_or_text"
    )]
    pub resumable_expiry_secs: u64,
}

impl Default for IngestionConfig {
    fn default() -> Self {
        Self {
            stale_after_secs: default_stale_after(),
            reconcile_interval_secs: default_reconcile_interval(),
            reconcile_grace_secs: default_reconcile_grace(),
            max_upload_bytes: default_max_upload_bytes(),
            resumable_expiry_secs: default_resumable_expiry(),
        }
    }
}

fn default_resumable_expiry() -> u64 {
    24 * 3600
}

fn default_max_upload_bytes() -> u64 {
    callvault_ingestion::MAX_UPLOAD_BYTES
}

fn default_stale_after() -> u64 {
    callvault_ingestion::STALE_AFTER.as_secs()
}

fn default_reconcile_interval() -> u64 {
    3600
}

fn default_reconcile_grace() -> u64 {
    3600
}

/// The longest staleness limit: a week of silence is no upload.
const MAX_STALE_AFTER_SECS: u64 = 7 * 24 * 3600;

/// The shortest sweep grace period.
const MIN_SWEEP_GRACE_SECS: u64 = 10;

/// The longest grace period (reconciler and sweep): ten years.
const MAX_GRACE_SECS: u64 = 10 * 366 * 24 * 3600;

/// The longest timer interval (reconciler and sweep): a year (a timer
/// that far out is off).
const MAX_TIMER_INTERVAL_SECS: u64 = 366 * 24 * 3600;

impl IngestionConfig {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_STALE_AFTER_SECS).contains(&self.stale_after_secs) {
            return Err(ConfigError::Invalid(format!(
                "ingestion.stale_after_secs must be between 1 and {MAX_STALE_AFTER_SECS}"
            )));
        }
        if self.reconcile_interval_secs > MAX_TIMER_INTERVAL_SECS {
            return Err(ConfigError::Invalid(format!(
                "ingestion.reconcile_interval_secs must be at most {MAX_TIMER_INTERVAL_SECS} \
                 (0 turns the reconciler off)"
            )));
        }
        if self.reconcile_grace_secs > MAX_GRACE_SECS {
            return Err(ConfigError::Invalid(format!(
                "ingestion.reconcile_grace_secs must be at most {MAX_GRACE_SECS}"
            )));
        }
        if !(1..=MAX_STALE_AFTER_SECS).contains(&self.resumable_expiry_secs) {
            return Err(ConfigError::Invalid(format!(
                "ingestion.resumable_expiry_secs must be between 1 and {MAX_STALE_AFTER_SECS}"
            )));
        }
        if self.max_upload_bytes == 0 {
            return Err(ConfigError::Invalid(
                "ingestion.max_upload_bytes must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// The storage service's sweep of objects a killed store left without their
/// record (`callvault_storage::sweep`). Not `storage_url`, a top-level key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// How often the sweep runs (seconds; 0 turns it off). The first run is
    /// one interval after start.
    #[serde(default = "default_sweep", deserialize_with = "number_or_text")]
    pub sweep_interval_secs: u64,
    /// Writes older than this (seconds) are taken for abandoned: it must
    /// exceed the longest upload, or that upload fails (retryably).
    #[serde(default = "default_sweep", deserialize_with = "number_or_text")]
    pub sweep_grace_secs: u64,
    /// How often the scrub runs (seconds; 0 turns it off): each run reads
    /// `scrub_share_percent` % of the stored recordings whole.
    #[serde(
        default = "default_scrub_interval",
        deserialize_with = "number_or_text"
    )]
    pub scrub_interval_secs: u64,
    /// The share of the stored recordings each scrub reads (1 to 100): at
    /// 10, every recording is read once every 10 runs.
    #[serde(default = "default_scrub_share", deserialize_with = "number_or_text")]
    pub scrub_share_percent: u8,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            sweep_interval_secs: default_sweep(),
            sweep_grace_secs: default_sweep(),
            scrub_interval_secs: default_scrub_interval(),
            scrub_share_percent: default_scrub_share(),
        }
    }
}

fn default_sweep() -> u64 {
    3600
}

fn default_scrub_interval() -> u64 {
    24 * 3600
}

fn default_scrub_share() -> u8 {
    10
}

impl StorageConfig {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        // Shorter, and every pass would abandon uploads still streaming:
        // each would fail with a 503.
        if self.sweep_grace_secs < MIN_SWEEP_GRACE_SECS {
            return Err(ConfigError::Invalid(format!(
                "storage.sweep_grace_secs must be at least {MIN_SWEEP_GRACE_SECS}, and longer \
                 than the longest upload"
            )));
        }
        if self.sweep_interval_secs > MAX_TIMER_INTERVAL_SECS {
            return Err(ConfigError::Invalid(format!(
                "storage.sweep_interval_secs must be at most {MAX_TIMER_INTERVAL_SECS} \
                 (0 turns the sweep off)"
            )));
        }
        if self.sweep_grace_secs > MAX_GRACE_SECS {
            return Err(ConfigError::Invalid(format!(
                "storage.sweep_grace_secs must be at most {MAX_GRACE_SECS}"
            )));
        }
        if self.scrub_interval_secs > MAX_TIMER_INTERVAL_SECS {
            return Err(ConfigError::Invalid(format!(
                "storage.scrub_interval_secs must be at most {MAX_TIMER_INTERVAL_SECS} \
                 (0 turns the scrub off)"
            )));
        }
        if !(1..=100).contains(&self.scrub_share_percent) {
            return Err(ConfigError::Invalid(
                "storage.scrub_share_percent must be between 1 and 100".into(),
            ));
        }
        Ok(())
    }
}

/// A boolean from a TOML file (`true`) or from the environment, where
/// every value is text (`CALLVAULT_AUTH__INTROSPECTION=false`).
pub(super) fn bool_or_text<'de, D>(deserializer: D) -> Result<bool, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bool(bool),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Bool(value) => Ok(value),
        Raw::Text(text) => match text.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(serde::de::Error::custom("expected true or false")),
        },
    }
}

/// A number from the TOML file, or from an environment variable (always a
/// string there).
pub(super) fn number_or_text<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr + TryFrom<i64>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Text(String),
    }
    let invalid = || serde::de::Error::custom("expected a whole number");
    match Raw::deserialize(deserializer)? {
        Raw::Number(n) => T::try_from(n).map_err(|_| invalid()),
        Raw::Text(text) => text.trim().parse().map_err(|_| invalid()),
    }
}
