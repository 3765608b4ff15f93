//! The gateway over the REAL metadata service on SQLite, served on the
//! in-process bus exactly as in the embedded mode: for the positive paths,
//! where what matters is that a request goes all the way and comes back
//! right, permissions checked on both sides.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callvault_auth::signed_url::UrlSigner;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::{EventHandler, Message, RpcClient};
use callvault_contracts::TenantId;
use callvault_contracts::events::RecordingIngestedV1;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode, TenantKeys};
use callvault_gateway::{AuthConfig, PlaybackLinks, TokenVerifier};
use callvault_keys::KeyProvider;
use callvault_keys::local::LocalKeyring;
use callvault_metadata::{CatalogueKeys, IngestedConsumer, MetadataService, PiiKeys};

use super::keys::{AUDIENCE, HS_SECRET, ISSUER};
use super::{Gateway, PLAYBACK_BASE, PLAYBACK_TTL, URL_SECRET, serve_gateway};

/// Tenants' master keys in a local keyring (the catalogue's phone numbers
/// are sealed under them); rotations and external keys by name only: what
/// the key provider does is tested in libs/keys and through the binary,
/// here the gateway path is the point.
struct NamedKeys(Arc<LocalKeyring>);

#[async_trait]
impl TenantKeys for NamedKeys {
    async fn create_tenant_key(&self, tenant: TenantId) -> ApiResult<String> {
        let key = self
            .0
            .create_tenant_key(&tenant.to_string())
            .await
            .map_err(|err| ApiError::new(ErrorCode::Unavailable, err.to_string()))?;
        Ok(key.0)
    }

    async fn check_external_key(&self, key_arn: &str) -> ApiResult<String> {
        Ok(key_arn.to_owned())
    }

    async fn rotate_tenant_key(&self, _key_ref: &str) -> ApiResult<()> {
        Ok(())
    }
}

pub struct RealApp {
    pub gateway: Gateway,
    consumer: IngestedConsumer,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for RealApp {
    type Target = Gateway;

    fn deref(&self) -> &Gateway {
        &self.gateway
    }
}

impl RealApp {
    /// Catalogues a recording through the ingest consumer, as the bus would.
    pub async fn ingest(&self, event: RecordingIngestedV1) {
        let message = Message::new(&event).expect("message");
        self.consumer.handle(message).await.expect("ingest");
    }
}

pub async fn spawn() -> RealApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let pii = PiiKeys::new([3u8; 32]);
    let url = format!("sqlite://{}", dir.path().join("metadata.db").display());
    let db = callvault_metadata::connect(&url, &pii)
        .await
        .expect("metadata database");
    let keyring = Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring"));
    let catalogue = CatalogueKeys::new(keyring.clone()).with_legacy(pii);
    let service = Arc::new(MetadataService::new(
        db.clone(),
        Arc::new(NamedKeys(keyring)),
        catalogue.clone(),
    ));
    let bus = Arc::new(InProcessBus::new());
    service
        .router()
        .serve(bus.as_ref())
        .await
        .expect("serve metadata");
    let mut config = AuthConfig::new(ISSUER, AUDIENCE);
    config.hs256_secret = Some(HS_SECRET.to_vec());
    let verifier = TokenVerifier::new(config).await.expect("verifier starts");
    let signer = UrlSigner::new(URL_SECRET).expect("url secret is long enough");
    let links = PlaybackLinks::new(signer, PLAYBACK_BASE, PLAYBACK_TTL).expect("playback links");
    let rpc = RpcClient::new(bus, Duration::from_secs(5));
    RealApp {
        gateway: serve_gateway(verifier, rpc, links),
        consumer: IngestedConsumer::new(db, catalogue),
        _dir: dir,
    }
}
