//! The JSON Schema of every operation a service serves, checked in under
//! schema/events/rpc/ as `<service>.<operation>.json` (`{"request": …,
//! "reply": …}`). The list comes from the services' own routers, so an
//! operation is documented exactly when something serves it.
//! `UPDATE_SCHEMA=1 cargo nextest run -p callvault` rewrites the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use callvault_blob::fs::FsBlobStore;
use callvault_bus::Router;
use callvault_keys::local::LocalKeyring;
use callvault_metadata::{CatalogueKeys, MetadataService, PiiKeys};
use callvault_storage::RecordingStore;
use callvault_storage::records::StorageRecords;
use serde_json::{Map, Value, json};

use crate::adapters::KeyProviderTenantKeys;

/// Every service's router, over throwaway databases.
async fn every_router(dir: &Path) -> Router {
    let keys = Arc::new(LocalKeyring::open(dir.join("keyring.json")).expect("keyring"));
    let url = |name: &str| format!("sqlite://{}", dir.join(name).display());
    let records = callvault_storage::records::connect(&url("storage.db"))
        .await
        .expect("storage database");
    let store = Arc::new(RecordingStore::new(
        Arc::new(FsBlobStore::new(dir.join("blobs"))),
        keys.clone(),
        StorageRecords::new(records),
    ));
    let pii = PiiKeys::new([7u8; 32]);
    let metadata_db = callvault_metadata::connect(&url("metadata.db"), &pii)
        .await
        .expect("metadata database");
    let metadata = Arc::new(MetadataService::new(
        metadata_db,
        Arc::new(KeyProviderTenantKeys(keys.clone())),
        CatalogueKeys::new(keys.clone()),
    ));
    let disclosure_db = callvault_disclosure::connect(&url("disclosure.db"))
        .await
        .expect("disclosure database");
    let bus = Arc::new(callvault_bus::in_process::InProcessBus::new());
    let rpc = callvault_bus::RpcClient::new(bus, std::time::Duration::from_secs(1));
    let disclosure = Arc::new(callvault_disclosure::DisclosureService::new(
        disclosure_db,
        rpc.clone(),
        keys,
    ));
    let billing_db = callvault_billing::connect(&url("billing.db"))
        .await
        .expect("billing database");
    let billing = Arc::new(callvault_billing::BillingService::new(
        billing_db,
        rpc.clone(),
    ));
    let webhooks_db = callvault_webhooks::connect(&url("webhooks.db"))
        .await
        .expect("webhooks database");
    let webhooks = Arc::new(
        callvault_webhooks::WebhooksService::new(
            webhooks_db,
            rpc,
            callvault_webhooks::secret::SecretSeal::derive(&[9u8; 32]),
            callvault_webhooks::address::AddressPolicy::default(),
            callvault_webhooks::DeliveryOptions::default(),
        )
        .expect("webhooks service"),
    );
    let mut router = metadata.router();
    router.merge(callvault_storage::operations::router(&store));
    router.merge(disclosure.router());
    router.merge(billing.router());
    router.merge(webhooks.router());
    router
}

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/events/rpc")
}

/// Pretty JSON with sorted keys: the same bytes whatever map order.
fn render(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let ordered: BTreeMap<&String, Value> = map
                    .iter()
                    .map(|(key, value)| (key, sorted(value)))
                    .collect();
                Value::Object(
                    ordered
                        .into_iter()
                        .map(|(key, value)| (key.clone(), value))
                        .collect::<Map<String, Value>>(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut text = serde_json::to_string_pretty(&sorted(value)).expect("serialize a schema");
    text.push('\n');
    text
}

#[tokio::test]
async fn committed_operation_schemas_match_the_routers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = every_router(dir.path()).await;
    let update = std::env::var("UPDATE_SCHEMA").is_ok_and(|value| value == "1");
    let out = schema_dir();
    let mut expected = BTreeMap::new();
    for operation in router.operations() {
        let file = format!("{}.{}.json", operation.service.name(), operation.name);
        let schema = json!({
            "service": operation.service.name(),
            "operation": operation.name,
            "request": (operation.request_schema)().as_value(),
            "reply": (operation.reply_schema)().as_value(),
        });
        expected.insert(file, render(&schema));
    }
    if update {
        std::fs::create_dir_all(&out).expect("create schema/events/rpc");
        for entry in std::fs::read_dir(&out).expect("list schema/events/rpc") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|ext| ext == "json") {
                std::fs::remove_file(path).expect("remove a stale schema");
            }
        }
        for (file, text) in &expected {
            std::fs::write(out.join(file), text).expect("write a schema");
        }
        return;
    }
    let mut stale = Vec::new();
    for (file, text) in &expected {
        match std::fs::read_to_string(out.join(file)) {
            Ok(committed) if &committed == text => {}
            Ok(_) => stale.push(format!("{file} differs")),
            Err(err) => stale.push(format!("{file} unreadable: {err}")),
        }
    }
    for entry in std::fs::read_dir(&out).expect("list schema/events/rpc") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".json") && !expected.contains_key(&name) {
            stale.push(format!("{name} is served by nobody"));
        }
    }
    assert!(
        stale.is_empty(),
        "schema/events/rpc is stale ({}); regenerate it with \
         `UPDATE_SCHEMA=1 cargo nextest run -p callvault` and commit the result",
        stale.join(", ")
    );
}
