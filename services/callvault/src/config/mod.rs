//! Configuration: built-in defaults (the embedded mode needs none), then a
//! TOML file, then `CALLVAULT_*` environment variables. Every secret can
//! also be read from a file named by `<key>_file` (Garage style), which is
//! how Kubernetes secrets are mounted.
//!
//! Environment variables map to keys with `__` between sections:
//! `CALLVAULT_BLOB__BACKEND=s3` sets `[blob] backend = "s3"`,
//! `CALLVAULT_AUTH__HS256_SECRET_FILE=/run/secrets/jwt` sets
//! `[auth] hs256_secret_file`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

mod jobs;

pub use jobs::{IngestionConfig, LifecycleConfig, StorageConfig};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded backends and generated secrets live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default = "default_listen")]
    pub listen: String,
    /// HTTP worker threads. Each is single-threaded and keeps the
    /// connections it accepted, and an upload's hashing and encryption run
    /// on its worker; with one worker per core, a worker whose uploads all
    /// wait on the disk or a database leaves its core idle while the other
    /// has work queued. Four per core let the kernel balance them (the
    /// ingest benchmark's idle CPU went from about 15 % to 4 %, and 8 beat
    /// 2, 4, 16 and 32 on two cores).
    #[serde(
        default = "default_http_workers",
        deserialize_with = "jobs::number_or_text"
    )]
    pub http_workers: usize,
    /// The base URL clients use to reach this deployment (playback URLs are
    /// built on it). Defaults to `http://{listen}`.
    pub public_url: Option<String>,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub blob: BlobConfig,
    #[serde(default)]
    pub keys: KeysConfig,
    #[serde(default)]
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub bus: BusConfig,
    #[serde(default)]
    pub lifecycle: LifecycleConfig,
    #[serde(default)]
    pub ingestion: IngestionConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    /// Base URL of the storage service's HTTP endpoints (uploads from
    /// ingestion, playback for clients). Defaults to `public_url`: right when
    /// one process serves everything.
    pub storage_url: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// HS256 secret for tokens issued by `callvault admin token`; generated
    /// under the data directory when unset.
    pub hs256_secret: Option<String>,
    pub hs256_secret_file: Option<PathBuf>,
    /// An OIDC provider's JWKS (RS256/ES256), by URL or file.
    pub jwks_url: Option<String>,
    pub jwks_file: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// One database URL per service (`sqlite://…` or `postgres://…`);
    /// SQLite files under the data directory by default.
    pub storage_url: Option<String>,
    pub metadata_url: Option<String>,
    pub ingestion_url: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BlobBackend {
    #[default]
    Fs,
    S3,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobConfig {
    #[serde(default)]
    pub backend: BlobBackend,
    /// Filesystem root; `<data_dir>/blobs` by default.
    pub fs_root: Option<PathBuf>,
    pub s3_bucket: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KeyProviderKind {
    #[default]
    Local,
    Kms,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    #[serde(default)]
    pub provider: KeyProviderKind,
    /// Local keyring file; `<data_dir>/keyring.json` by default.
    pub keyring_file: Option<PathBuf>,
    pub kms_endpoint: Option<String>,
    pub kms_region: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BusKind {
    /// Tokio channels in one process: the embedded mode.
    #[default]
    InProcess,
    /// RabbitMQ: required when services run in separate processes.
    Rabbitmq,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    #[serde(default)]
    pub kind: BusKind,
    /// `amqp://user:password@host:5672/vhost`; a secret (it holds the
    /// password), so also readable from `url_file`.
    pub url: Option<String>,
    pub url_file: Option<PathBuf>,
    /// Prefixes every exchange and queue name, so several deployments (or
    /// test runs) can share one broker vhost.
    #[serde(default)]
    pub name_prefix: String,
}

/// Secrets shared by services. Generated under the data directory when
/// unset, which is right for the embedded mode and wrong for several
/// processes (they must share them): the distributed mode sets them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// Signs playback and upload URLs (≥ 32 bytes).
    pub url_signing: Option<String>,
    pub url_signing_file: Option<PathBuf>,
    /// Derives the per-tenant keys that encrypt phone numbers and build
    /// their blind index (≥ 32 bytes).
    pub pii: Option<String>,
    pub pii_file: Option<PathBuf>,
    /// Derives each tenant's Ed25519 key that signs the daily manifests
    /// (≥ 32 bytes). Changing it changes every tenant's public key.
    pub manifest_signing: Option<String>,
    pub manifest_signing_file: Option<PathBuf>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}

const HTTP_WORKERS_PER_CORE: usize = 4;
const MAX_HTTP_WORKERS: usize = 1024;

fn default_http_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from) * HTTP_WORKERS_PER_CORE
}

impl Config {
    /// Loads defaults ← `file` ← environment (`vars`, normally `std::env::vars()`).
    pub fn load(
        file: Option<&Path>,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                    path: path.to_owned(),
                    error,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        for (name, value) in vars {
            let Some(key) = name.strip_prefix("CALLVAULT_") else {
                continue;
            };
            // Variables read elsewhere (the CLI, the log filter and format,
            // the e2e harness), not configuration keys.
            if matches!(key, "CONFIG" | "LOG" | "LOG_FORMAT" | "BIN") {
                continue;
            }
            set_path(&mut table, &key.to_ascii_lowercase(), value)?;
        }
        let config = toml::Value::Table(table)
            .try_into::<Config>()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if !(1..=MAX_HTTP_WORKERS).contains(&config.http_workers) {
            return Err(ConfigError::Invalid(format!(
                "http_workers must be between 1 and {MAX_HTTP_WORKERS}"
            )));
        }
        config.ingestion.check()?;
        config.storage.check()?;
        Ok(config)
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned()
    }

    pub fn storage_url(&self) -> String {
        self.storage_url
            .clone()
            .map(|url| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| self.public_url())
    }

    pub fn database_url(&self, service: &str) -> String {
        let configured = match service {
            "storage" => &self.database.storage_url,
            "metadata" => &self.database.metadata_url,
            "ingestion" => &self.database.ingestion_url,
            _ => &None,
        };
        configured.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir.join(format!("{service}.db")).display()
            )
        })
    }
}

/// Sets `a__b` = value in the table, creating sections as needed. Values
/// are strings; `deny_unknown_fields` then catches typos in variable names.
fn set_path(table: &mut toml::Table, key: &str, value: String) -> Result<(), ConfigError> {
    let mut parts: Vec<&str> = key.split("__").collect();
    let Some(last) = parts.pop() else {
        return Ok(());
    };
    let mut current = table;
    for section in parts {
        let entry = current
            .entry(section.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| {
            ConfigError::Invalid(format!("CALLVAULT_{key}: {section} is not a section"))
        })?;
    }
    current.insert(last.to_owned(), toml::Value::String(value));
    Ok(())
}

/// Reads a secret given inline or as a file; `None` when neither is set.
/// Trailing newlines of secret files are not part of the secret.
pub fn read_secret(
    inline: &Option<String>,
    file: &Option<PathBuf>,
    name: &str,
) -> Result<Option<Vec<u8>>, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid(format!(
            "set {name} or {name}_file, not both"
        ))),
        (Some(value), None) => Ok(Some(value.as_bytes().to_vec())),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                path: path.clone(),
                error,
            })?;
            Ok(Some(
                text.trim_end_matches(['\n', '\r']).as_bytes().to_vec(),
            ))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn no_configuration_at_all_is_the_embedded_mode() {
        let config = Config::load(None, vars(&[])).expect("defaults");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.blob.backend, BlobBackend::Fs);
        assert_eq!(config.keys.provider, KeyProviderKind::Local);
        assert_eq!(
            config.database_url("metadata"),
            "sqlite://./data/metadata.db"
        );
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("callvault.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\n[blob]\nbackend = \"fs\"\n",
        )
        .expect("write");
        let config = Config::load(
            Some(&file),
            vars(&[
                ("CALLVAULT_BLOB__BACKEND", "s3"),
                ("CALLVAULT_BLOB__S3_BUCKET", "recordings"),
                ("CALLVAULT_DATABASE__METADATA_URL", "postgres://db/metadata"),
                ("UNRELATED", "x"),
            ]),
        )
        .expect("loads");
        assert_eq!(config.listen, "0.0.0.0:9000");
        assert_eq!(config.blob.backend, BlobBackend::S3);
        assert_eq!(config.blob.s3_bucket.as_deref(), Some("recordings"));
        assert_eq!(config.database_url("metadata"), "postgres://db/metadata");
    }

    #[test]
    fn http_workers_default_to_four_per_core_and_are_bounded() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let defaults = Config::load(None, vars(&[])).expect("defaults");
        assert_eq!(defaults.http_workers, 4 * cores);
        let set = Config::load(None, vars(&[("CALLVAULT_HTTP_WORKERS", "3")])).expect("set");
        assert_eq!(set.http_workers, 3);
        for bad in ["0", "1025", "-2", "many"] {
            let result = Config::load(None, vars(&[("CALLVAULT_HTTP_WORKERS", bad)]));
            assert!(matches!(result, Err(ConfigError::Invalid(_))), "{bad}");
        }
    }

    #[test]
    fn variables_meant_for_others_are_not_configuration() {
        let config = Config::load(
            None,
            vars(&[
                ("CALLVAULT_CONFIG", "x.toml"),
                ("CALLVAULT_LOG", "debug"),
                ("CALLVAULT_LOG_FORMAT", "json"),
                ("CALLVAULT_BIN", "/bin/cv"),
            ]),
        );
        assert!(config.is_ok(), "{:?}", config.err());
    }

    #[test]
    fn typos_are_errors_not_silently_ignored() {
        let result = Config::load(None, vars(&[("CALLVAULT_BLOB__BACKEDN", "s3")]));
        assert!(matches!(result, Err(ConfigError::Invalid(_))));
        let result = Config::load(None, vars(&[("CALLVAULT_BLOB__BACKEND", "tape")]));
        assert!(matches!(result, Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn secrets_come_from_files_without_their_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cr3t\n").expect("write");
        let secret = read_secret(&None, &Some(path.clone()), "pii").expect("reads");
        assert_eq!(secret.as_deref(), Some(&b"s3cr3t"[..]));
        assert!(read_secret(&Some("x".into()), &Some(path), "pii").is_err());
        assert_eq!(read_secret(&None, &None, "pii").expect("none"), None);
    }

    #[test]
    fn lifecycle_numbers_come_from_the_environment_too() {
        let config = Config::load(
            None,
            vars(&[
                ("CALLVAULT_LIFECYCLE__DELETION_INTERVAL_SECS", "60"),
                ("CALLVAULT_LIFECYCLE__CLOCK_OFFSET_SECS", "2678400"),
            ]),
        )
        .expect("config");
        assert_eq!(config.lifecycle.deletion_interval_secs, 60);
        assert_eq!(config.lifecycle.clock_offset_secs, 2_678_400);
        let defaults = Config::load(None, vars(&[])).expect("config");
        assert_eq!(defaults.lifecycle.deletion_interval_secs, 3600);
        let bad = Config::load(
            None,
            vars(&[("CALLVAULT_LIFECYCLE__DELETION_INTERVAL_SECS", "-1")]),
        );
        assert!(matches!(bad, Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn ingestion_numbers_come_from_the_environment_too() {
        let config = Config::load(
            None,
            vars(&[
                ("CALLVAULT_INGESTION__STALE_AFTER_SECS", "120"),
                ("CALLVAULT_INGESTION__RECONCILE_INTERVAL_SECS", "0"),
                ("CALLVAULT_INGESTION__RECONCILE_GRACE_SECS", "86400"),
            ]),
        )
        .expect("config");
        assert_eq!(config.ingestion.stale_after_secs, 120);
        assert_eq!(config.ingestion.reconcile_interval_secs, 0);
        assert_eq!(config.ingestion.reconcile_grace_secs, 86_400);

        let defaults = Config::load(None, vars(&[])).expect("config");
        assert_eq!(defaults.ingestion.stale_after_secs, 600);
        assert_eq!(defaults.ingestion.reconcile_interval_secs, 3600);
        assert_eq!(defaults.ingestion.reconcile_grace_secs, 3600);

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("callvault.toml");
        std::fs::write(&file, "[ingestion]\nstale_after_secs = 900\n").expect("write");
        let from_file = Config::load(Some(&file), vars(&[])).expect("config");
        assert_eq!(from_file.ingestion.stale_after_secs, 900);

        for (name, value) in [
            ("CALLVAULT_INGESTION__STALE_AFTER_SECS", "0"),
            ("CALLVAULT_INGESTION__STALE_AFTER_SECS", "604801"),
            ("CALLVAULT_INGESTION__STALE_AFTER_SECS", "ten"),
            ("CALLVAULT_INGESTION__RECONCILE_INTERVAL_SECS", "-1"),
            (
                "CALLVAULT_INGESTION__RECONCILE_INTERVAL_SECS",
                "18446744073709551615",
            ),
            ("CALLVAULT_INGESTION__RECONCILE_GRACE_SECS", "99999999999"),
            ("CALLVAULT_INGESTION__RECONCILE_GRACE", "60"),
        ] {
            let bad = Config::load(None, vars(&[(name, value)]));
            assert!(
                matches!(bad, Err(ConfigError::Invalid(_))),
                "{name}={value}: {bad:?}"
            );
        }
    }

    #[test]
    fn storage_sweep_numbers_come_from_the_environment_too() {
        let config = Config::load(
            None,
            vars(&[
                ("CALLVAULT_STORAGE__SWEEP_INTERVAL_SECS", "0"),
                ("CALLVAULT_STORAGE__SWEEP_GRACE_SECS", "7200"),
                ("CALLVAULT_STORAGE_URL", "http://storage.internal:8080/"),
            ]),
        )
        .expect("config");
        assert_eq!(config.storage.sweep_interval_secs, 0);
        assert_eq!(config.storage.sweep_grace_secs, 7200);
        assert_eq!(config.storage_url(), "http://storage.internal:8080");
        let defaults = Config::load(None, vars(&[])).expect("config");
        assert_eq!(defaults.storage.sweep_interval_secs, 3600);
        assert_eq!(defaults.storage.sweep_grace_secs, 3600);
        // `storage_url` and the `[storage]` section live side by side.
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("callvault.toml");
        let toml = "storage_url = \"http://s:1\"\n[storage]\nsweep_grace_secs = 60\n";
        std::fs::write(&file, toml).expect("write");
        let from_file = Config::load(Some(&file), vars(&[])).expect("config");
        assert_eq!(from_file.storage.sweep_grace_secs, 60);
        assert_eq!(from_file.storage_url(), "http://s:1");
        for (name, value) in [
            ("CALLVAULT_STORAGE__SWEEP_INTERVAL_SECS", "-1"),
            ("CALLVAULT_STORAGE__SWEEP_INTERVAL_SECS", "99999999999"),
            ("CALLVAULT_STORAGE__SWEEP_GRACE_SECS", "99999999999"),
            // Shorter would abandon uploads still streaming.
            ("CALLVAULT_STORAGE__SWEEP_GRACE_SECS", "0"),
            ("CALLVAULT_STORAGE__SWEEP_GRACE_SECS", "9"),
            ("CALLVAULT_STORAGE__SWEEP_GRACE", "60"),
        ] {
            let bad = Config::load(None, vars(&[(name, value)]));
            assert!(
                matches!(bad, Err(ConfigError::Invalid(_))),
                "{name}={value}: {bad:?}"
            );
        }
    }
}
