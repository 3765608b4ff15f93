//! The gateway with the REAL webhooks service (`callvault_webhooks`, on
//! SQLite) on its bus, beside the metadata double (which answers the
//! service's tenant directory: tenants A and B of BPO X, C of BPO Y).
//! 127.0.0.1 is allow-listed, as the webhooks service's own tests do; no
//! delivery is attempted here.

use std::sync::Arc;
use std::time::Duration;

use callvault_bus::RpcClient;
use callvault_webhooks::address::AddressPolicy;
use callvault_webhooks::secret::SecretSeal;
use callvault_webhooks::{DeliveryOptions, WebhooksService};

use super::{TestApp, spawn_app};

pub struct WebhooksApp {
    pub app: TestApp,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for WebhooksApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

pub async fn spawn() -> WebhooksApp {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("webhooks.db").display());
    let db = callvault_webhooks::connect(&url)
        .await
        .expect("webhooks database");
    let rpc = RpcClient::new(app.bus.clone(), Duration::from_secs(10));
    let policy = AddressPolicy::new(&["127.0.0.1".to_owned()]).expect("policy");
    let service = WebhooksService::new(
        db,
        rpc,
        SecretSeal::derive(&[7u8; 32]),
        policy,
        DeliveryOptions::default(),
    )
    .expect("webhooks service");
    Arc::new(service)
        .router()
        .serve(app.bus.as_ref())
        .await
        .expect("serve webhooks");
    WebhooksApp { app, _dir: dir }
}
