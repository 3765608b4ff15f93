//! Configuration: built-in defaults (the embedded mode needs none), then a
//! TOML file, then `CALLVAULT_*` environment variables, layered by figment.
//! Every secret can also be read from a file named by `<key>_file` (Garage
//! style), which is how Kubernetes secrets are mounted.
//!
//! Environment variables map to keys with `__` between sections:
//! `CALLVAULT_BLOB__BACKEND=s3` sets `[blob] backend = "s3"`,
//! `CALLVAULT_AUTH__HS256_SECRET_FILE=/run/secrets/jwt` sets
//! `[auth] hs256_secret_file`.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Deserialize;

mod jobs;
mod webhooks;

pub use jobs::{BillingConfig, DisclosureConfig, IngestionConfig, LifecycleConfig, StorageConfig};
pub use webhooks::WebhooksConfig;

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

/// The prefix of every configuration variable.
const ENV_PREFIX: &str = "CALLVAULT_";

/// `CALLVAULT_*` variables read elsewhere (the CLI's `--config`, the log
/// filter, the e2e harness), not configuration keys: without this list
/// `deny_unknown_fields` would refuse them.
const NOT_KEYS: [&str; 4] = ["config", "log", "log_format", "bin"];

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
    #[serde(default)]
    pub disclosure: DisclosureConfig,
    #[serde(default)]
    pub billing: BillingConfig,
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// Base URL of the disclosure service's HTTP endpoint (export bundle
    /// downloads). Defaults to `public_url`: right when one process serves
    /// everything.
    pub disclosure_url: Option<String>,
    /// Base URL of the storage service's HTTP endpoints (uploads from
    /// ingestion, playback for clients). Defaults to `public_url`: right when
    /// one process serves everything.
    pub storage_url: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
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
    /// Clock skew tolerated on a token's `exp` and `nbf`, in seconds.
    #[serde(default = "default_leeway", deserialize_with = "jobs::number_or_text")]
    pub leeway_secs: u64,
    /// The longest a token may be valid (`exp` − `iat`), in seconds; a
    /// longer-lived token is refused, however well it is signed.
    #[serde(
        default = "default_max_token_lifetime",
        deserialize_with = "jobs::number_or_text"
    )]
    pub max_token_lifetime_secs: u64,
    /// Whether GraphQL introspection (`__schema`, `__type`) is answered;
    /// GraphiQL needs it. The SDL is published in any case.
    #[serde(
        default = "default_introspection",
        deserialize_with = "jobs::bool_or_text"
    )]
    pub introspection: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: None,
            hs256_secret: None,
            hs256_secret_file: None,
            jwks_url: None,
            jwks_file: None,
            leeway_secs: default_leeway(),
            max_token_lifetime_secs: default_max_token_lifetime(),
            introspection: default_introspection(),
        }
    }
}

fn default_leeway() -> u64 {
    callvault_gateway::auth::DEFAULT_LEEWAY_SECS
}

fn default_max_token_lifetime() -> u64 {
    callvault_gateway::auth::DEFAULT_MAX_TOKEN_LIFETIME_SECS
}

fn default_introspection() -> bool {
    true
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// One database URL per service (`sqlite://…` or `postgres://…`);
    /// SQLite files under the data directory by default.
    pub storage_url: Option<String>,
    pub metadata_url: Option<String>,
    pub ingestion_url: Option<String>,
    pub disclosure_url: Option<String>,
    pub billing_url: Option<String>,
    pub webhooks_url: Option<String>,
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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    #[serde(default)]
    pub provider: KeyProviderKind,
    /// Local keyring file; `<data_dir>/keyring.json` by default.
    pub keyring_file: Option<PathBuf>,
    pub kms_endpoint: Option<String>,
    pub kms_region: Option<String>,
    /// How long the metadata service keeps a tenant's unwrapped catalogue
    /// key (phone numbers) in memory, in seconds: the longest a disabled or
    /// deleted master key still reads the tenant's phone numbers. 0 asks
    /// the provider on every request.
    #[serde(
        default = "default_catalogue_key_cache",
        deserialize_with = "jobs::number_or_text"
    )]
    pub catalogue_key_cache_secs: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            provider: KeyProviderKind::default(),
            keyring_file: None,
            kms_endpoint: None,
            kms_region: None,
            catalogue_key_cache_secs: default_catalogue_key_cache(),
        }
    }
}

fn default_catalogue_key_cache() -> u64 {
    60
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
    /// Loads defaults ← `file` ← the process's `CALLVAULT_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut layers = Figment::new();
        if let Some(path) = file {
            // figment would report an unreadable file by its OS error alone;
            // this names it.
            std::fs::File::open(path).map_err(|error| ConfigError::Read {
                path: path.to_owned(),
                error,
            })?;
            layers = layers.merge(Toml::file_exact(path));
        }
        Self::from_layers(layers.merge(EnvText::callvault()))
    }

    /// Extracts and checks the configuration. The defaults, the bottom
    /// layer, are the fields' serde defaults: a key no layer sets takes its
    /// default.
    fn from_layers(layers: Figment) -> Result<Self, ConfigError> {
        // figment's error names the key and the layer (the file, or the
        // variable) its value came from.
        let config: Config = layers
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if !(1..=MAX_HTTP_WORKERS).contains(&config.http_workers) {
            return Err(ConfigError::Invalid(format!(
                "http_workers must be between 1 and {MAX_HTTP_WORKERS}"
            )));
        }
        config.ingestion.check()?;
        config.storage.check()?;
        callvault_webhooks::address::AddressPolicy::new(&config.webhooks.allow_networks)
            .map_err(ConfigError::Invalid)?;
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

    pub fn disclosure_url(&self) -> String {
        self.disclosure_url
            .clone()
            .map(|url| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| self.public_url())
    }

    pub fn database_url(&self, service: &str) -> String {
        let configured = match service {
            "storage" => &self.database.storage_url,
            "metadata" => &self.database.metadata_url,
            "ingestion" => &self.database.ingestion_url,
            "disclosure" => &self.database.disclosure_url,
            "billing" => &self.database.billing_url,
            "webhooks" => &self.database.webhooks_url,
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

/// The environment layer: figment's [`Env`] picks the variables and names
/// their keys, but their values stay text. `Env` would read `123` as a
/// number, `true` as a boolean and `[a]` as a list, so a secret, a path or a
/// prefix that happened to look like one would fail to load (and the error
/// would quote it); the numeric keys take text (`jobs::number_or_text`).
struct EnvText(Env);

impl EnvText {
    fn callvault() -> Self {
        Self(Env::prefixed(ENV_PREFIX).split("__").ignore(&NOT_KEYS))
    }
}

impl Provider for EnvText {
    fn metadata(&self) -> Metadata {
        // Errors name the variable to fix, not figment's dotted key path.
        Metadata::named("environment").interpolater(|_, keys| variable(keys))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut root = Dict::new();
        for (key, value) in self.0.iter() {
            let path: Vec<&str> = key.as_str().split('.').collect();
            let Some((last, sections)) = path.split_last() else {
                continue;
            };
            let mut dict = &mut root;
            for section in sections {
                let entry = dict
                    .entry((*section).to_owned())
                    .or_insert_with(|| Dict::new().into());
                dict = match entry {
                    Value::Dict(_, dict) => dict,
                    // `CALLVAULT_A=x` and `CALLVAULT_A__B=y` together.
                    _ => {
                        return Err(
                            format!("{}: {section} is not a section", variable(&path)).into()
                        );
                    }
                };
            }
            if let Some(Value::Dict(..)) = dict.get(*last) {
                return Err(format!("{}: {last} is a section", variable(&path)).into());
            }
            dict.insert((*last).to_owned(), value.into());
        }
        Ok(Profile::Default.collect(root))
    }
}

/// The variable that sets the key at `path`.
fn variable(path: &[&str]) -> String {
    format!("{ENV_PREFIX}{}", path.join("__").to_ascii_uppercase())
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
pub(crate) mod tests;
