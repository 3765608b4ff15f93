//! The webhooks service's settings (docs/webhooks.md).

use serde::{Deserialize, Deserializer};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// How often due deliveries are looked for (seconds; 0 leaves only the
    /// wake-up when an event makes deliveries, so retries never run).
    #[serde(
        default = "default_worker_interval",
        deserialize_with = "super::jobs::number_or_text"
    )]
    pub worker_interval_secs: u64,
    /// Networks (CIDRs, or single addresses) webhooks may reach although
    /// they are not public: a list in TOML, comma-separated in
    /// `CALLVAULT_WEBHOOKS__ALLOW_NETWORKS`. Empty by default: loopback,
    /// private, link-local and the like are refused.
    #[serde(default, deserialize_with = "list_or_text")]
    pub allow_networks: Vec<String>,
    /// Attempts in flight at once to one endpoint, per process.
    #[serde(
        default = "default_concurrency",
        deserialize_with = "super::jobs::number_or_text"
    )]
    pub per_endpoint_concurrency: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            worker_interval_secs: default_worker_interval(),
            allow_networks: Vec::new(),
            per_endpoint_concurrency: default_concurrency(),
        }
    }
}

fn default_worker_interval() -> u64 {
    1
}

fn default_concurrency() -> u64 {
    4
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ListOrText {
    List(Vec<String>),
    Text(String),
}

fn list_or_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(match ListOrText::deserialize(deserializer)? {
        ListOrText::List(list) => list,
        ListOrText::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}
