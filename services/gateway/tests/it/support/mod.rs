//! `spawn_app`: the gateway on a random port over the metadata, lifecycle
//! and disclosure doubles; `real::spawn` over the real metadata service;
//! `billing::spawn` with the real billing service as well.

pub mod billing;
pub mod bus;
pub mod disclosure;
pub mod keys;
pub mod lifecycle;
pub mod metadata;
pub mod real;
pub mod recording_policy;
pub mod webhooks;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use callvault_auth::signed_url::UrlSigner;
use callvault_bus::RpcClient;
use callvault_contracts::{Actor, BpoId, Role, TenantId};
use callvault_gateway::{
    AuthConfig, GatewayState, PlaybackLinks, TokenVerifier, UserActivity, UserPseudonyms,
    configure, issue_hs256,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use bus::RecordingBus;
use disclosure::FakeDisclosure;
use keys::{AUDIENCE, HS_SECRET, ISSUER};
use lifecycle::FakeLifecycle;
use metadata::FakeMetadata;

pub const URL_SECRET: &[u8] = &[9u8; 32];
pub const PLAYBACK_BASE: &str = "http://playback.test:8080";
pub const PLAYBACK_TTL: u64 = 300;
/// The secret the test gateways derive `user.active`'s pseudonym key from.
pub const PSEUDONYM_SECRET: &[u8] = &[4u8; 32];
/// Where the test gateways' activity clock starts: the first second of a
/// quarter hour (2026-12-04T10:00:00Z).
pub const ACTIVITY_START: i64 = 1_796_378_400;

/// A gateway on a random port, and a client for it.
pub struct Gateway {
    pub address: String,
    client: reqwest::Client,
}

/// The gateway over the doubles, which record what reaches them.
pub struct TestApp {
    pub gateway: Gateway,
    pub metadata: Arc<FakeMetadata>,
    pub lifecycle: Arc<FakeLifecycle>,
    pub disclosure: Arc<FakeDisclosure>,
    pub signer: UrlSigner,
    /// What the gateway sent on the bus.
    pub bus: Arc<RecordingBus>,
    /// The activity clock (`user.active`), in Unix seconds.
    pub clock: Arc<AtomicI64>,
}

impl std::ops::Deref for TestApp {
    type Target = Gateway;

    fn deref(&self) -> &Gateway {
        &self.gateway
    }
}

/// Serves the gateway, with HS256 tokens accepted, on 127.0.0.1.
pub async fn spawn_app() -> TestApp {
    let mut config = AuthConfig::new(ISSUER, AUDIENCE);
    config.hs256_secret = Some(HS_SECRET.to_vec());
    spawn_app_with(config).await
}

/// As `spawn_app`, with GraphQL introspection turned off.
pub async fn spawn_app_without_introspection() -> TestApp {
    let mut config = AuthConfig::new(ISSUER, AUDIENCE);
    config.hs256_secret = Some(HS_SECRET.to_vec());
    spawn(config, false).await
}

pub async fn spawn_app_with(config: AuthConfig) -> TestApp {
    spawn(config, true).await
}

async fn spawn(config: AuthConfig, introspection: bool) -> TestApp {
    let metadata = Arc::new(FakeMetadata::new());
    let lifecycle = Arc::new(FakeLifecycle::new(metadata.world.clone()));
    let disclosure = Arc::new(FakeDisclosure::new(metadata.world.clone()));
    let verifier = TokenVerifier::new(config).await.expect("verifier starts");
    let signer = UrlSigner::new(URL_SECRET).expect("url secret is long enough");
    let links =
        PlaybackLinks::new(signer.clone(), PLAYBACK_BASE, PLAYBACK_TTL).expect("playback links");
    // The doubles serve over the in-process bus, so the gateway's calls
    // take the same client, envelope and router as in production.
    let bus = Arc::new(RecordingBus::default());
    let mut router = metadata::router(&metadata);
    router.merge(lifecycle::router(&lifecycle));
    router.merge(disclosure::router(&disclosure));
    router.serve(bus.as_ref()).await.expect("serve the doubles");
    let rpc = RpcClient::new(bus.clone(), Duration::from_secs(5));
    let clock = Arc::new(AtomicI64::new(ACTIVITY_START));
    let now = clock.clone();
    let activity = UserActivity::new(bus.clone(), UserPseudonyms::derive(PSEUDONYM_SECRET))
        .with_clock(Arc::new(move || {
            DateTime::<Utc>::from_timestamp(now.load(Ordering::SeqCst), 0).unwrap_or_default()
        }));
    TestApp {
        gateway: serve_state(
            GatewayState::with_introspection(Arc::new(verifier), rpc, links, introspection)
                .with_activity(activity),
        ),
        metadata,
        lifecycle,
        disclosure,
        signer,
        bus,
        clock,
    }
}

/// Serves the gateway over `rpc` on 127.0.0.1.
pub fn serve_gateway(verifier: TokenVerifier, rpc: RpcClient, links: PlaybackLinks) -> Gateway {
    serve_state(GatewayState::new(Arc::new(verifier), rpc, links))
}

fn serve_state(state: GatewayState) -> Gateway {
    let state = web::Data::new(state);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
    let port = listener.local_addr().expect("local addr").port();
    let server = HttpServer::new(move || App::new().configure(configure(state.clone())))
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
    tokio::spawn(server);
    Gateway {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
    }
}

impl Gateway {
    /// POSTs a raw body to /graphql; the status and the JSON answer.
    pub async fn post_raw(&self, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("body");
        (status, serde_json::from_slice(&bytes).expect("json answer"))
    }

    /// Runs a GraphQL operation; asserts the 200 of GraphQL over HTTP.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.gql_with_header(token, None, query, variables).await
    }

    /// As `gql`, with one more request header.
    pub async fn gql_with_header(
        &self,
        token: Option<&str>,
        header: Option<(&str, &str)>,
        query: &str,
        variables: Value,
    ) -> Value {
        let body = json!({ "query": query, "variables": variables });
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status().as_u16(), 200);
        let bytes = response.bytes().await.expect("body");
        serde_json::from_slice(&bytes).expect("json answer")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request")
    }
}

pub fn token(actor: &Actor) -> String {
    issue_hs256(HS_SECRET, ISSUER, AUDIENCE, actor, Duration::from_secs(600)).expect("token")
}

pub fn platform_admin() -> Actor {
    actor(Role::PlatformAdmin, None, None)
}

pub fn bpo_admin(bpo: BpoId) -> Actor {
    actor(Role::BpoAdmin, Some(bpo), None)
}

pub fn tenant_user(role: Role, tenant: TenantId) -> Actor {
    let mut actor = actor(role, None, Some(tenant));
    if role == Role::Agent {
        actor.agent_id = Some("ag-1".into());
    }
    actor
}

fn actor(role: Role, bpo: Option<BpoId>, tenant: Option<TenantId>) -> Actor {
    Actor {
        subject: format!("{}@example.test", role.as_str()),
        role,
        bpo_id: bpo,
        tenant_id: tenant,
        agent_id: None,
        origin: None,
    }
}

/// The `extensions.code` of every error in a GraphQL answer.
pub fn error_codes(answer: &Value) -> Vec<String> {
    answer["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    error["extensions"]["code"]
                        .as_str()
                        .unwrap_or("<none>")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}
