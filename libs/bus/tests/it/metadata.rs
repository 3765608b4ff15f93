//! The metadata API adapter: a client and a server over the in-process bus,
//! around a stand-in `MetadataApi` that records its calls and answers fixed
//! values. It checks the adapter (every argument and result crosses the
//! bus intact, errors keep their code), not the metadata service.

pub(crate) mod stand_in;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::Bus;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::metadata::{METADATA_QUEUE, MetadataClient, serve_metadata};
use callvault_contracts::call::Direction;
use callvault_contracts::metadata_api::{
    ApiError, CreateUser, ErrorCode, KeyMode, MetadataApi, MetadataReply, MetadataRequest,
    OnboardTenant, PageRequest, RecordingFilter,
};
use callvault_contracts::{RecordingId, Role};
use serde_json::Value;
use uuid::Uuid;

use stand_in::{
    INTRUDER, SLOW, StandIn, actor, api_key, at, bpo, created_api_key, grant, page, recording,
    tenant, user,
};
async fn served() -> (Arc<InProcessBus>, Arc<StandIn>, MetadataClient) {
    let bus = Arc::new(InProcessBus::new());
    let api = Arc::new(StandIn::default());
    serve_metadata(bus.as_ref(), api.clone())
        .await
        .expect("serve metadata");
    let client = MetadataClient::new(bus.clone(), Duration::from_secs(5));
    (bus, api, client)
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("encode")
}

#[tokio::test]
async fn every_method_round_trips_its_arguments_and_result() {
    let (_bus, api, client) = served().await;
    check_every_method_round_trips(&client, &api).await;
}

/// Calls every method once through `client` and checks what reached `api`
/// (served over whichever bus) and what came back.
pub(crate) async fn check_every_method_round_trips(client: &MetadataClient, api: &StandIn) {
    let admin = actor("admin");
    let tenant_id = tenant().id;
    let onboard = OnboardTenant {
        bpo_id: bpo().id,
        name: "Client Co".to_owned(),
        time_zone: "Asia/Tokyo".to_owned(),
        default_retention_days: 365,
        key_mode: KeyMode::External {
            key_arn: "arn:aws:kms:ap-northeast-1:111122223333:key/own".to_owned(),
        },
        default_region: Some("JP".to_owned()),
    };
    let create_user = CreateUser {
        subject: "qa@client.example".to_owned(),
        role: Role::Supervisor,
        tenant_id: Some(tenant_id),
        bpo_id: None,
        agent_id: None,
    };
    let filter = RecordingFilter {
        started_after: Some(at(1_600_000_000)),
        started_before: Some(at(1_800_000_000)),
        agent: Some("agent-7".to_owned()),
        queue: Some("support".to_owned()),
        direction: Some(Direction::Outbound),
        phone_number: Some("+81312345678".to_owned()),
        tags: vec!["vip".to_owned()],
        min_duration_ms: Some(1_000),
        max_duration_ms: Some(600_000),
        notice_played: None,
    };
    let page_request = PageRequest {
        first: 25,
        after: Some("cursor-0".to_owned()),
    };
    let key_id = Uuid::from_u128(99);
    let recording_id = RecordingId(Uuid::from_u128(77));

    let mut expected_calls = Vec::new();
    let mut expect = |call: MetadataRequest| expected_calls.push(json(&call));

    assert_eq!(
        client.create_bpo(&admin, "Acme".to_owned()).await,
        Ok(bpo())
    );
    expect(MetadataRequest::CreateBpo {
        actor: admin.clone(),
        name: "Acme".to_owned(),
    });
    assert_eq!(client.list_bpos(&admin).await, Ok(vec![bpo(), bpo()]));
    expect(MetadataRequest::ListBpos {
        actor: admin.clone(),
    });
    assert_eq!(
        client.onboard_tenant(&admin, onboard.clone()).await,
        Ok(tenant())
    );
    expect(MetadataRequest::OnboardTenant {
        actor: admin.clone(),
        input: onboard,
    });
    assert_eq!(client.get_tenant(&admin, tenant_id).await, Ok(tenant()));
    expect(MetadataRequest::GetTenant {
        actor: admin.clone(),
        tenant: tenant_id,
    });
    assert_eq!(
        client.list_tenants(&admin, bpo().id).await,
        Ok(vec![tenant()])
    );
    expect(MetadataRequest::ListTenants {
        actor: admin.clone(),
        bpo: bpo().id,
    });
    assert_eq!(
        client.create_user(&admin, create_user.clone()).await,
        Ok(user())
    );
    expect(MetadataRequest::CreateUser {
        actor: admin.clone(),
        input: create_user,
    });
    assert_eq!(client.list_users(&admin, tenant_id).await, Ok(vec![user()]));
    expect(MetadataRequest::ListUsers {
        actor: admin.clone(),
        tenant: tenant_id,
    });
    assert_eq!(
        client
            .create_api_key(&admin, tenant_id, "rec".to_owned())
            .await,
        Ok(created_api_key())
    );
    expect(MetadataRequest::CreateApiKey {
        actor: admin.clone(),
        tenant: tenant_id,
        name: "rec".to_owned(),
    });
    assert_eq!(
        client.revoke_api_key(&admin, tenant_id, key_id).await,
        Ok(api_key())
    );
    expect(MetadataRequest::RevokeApiKey {
        actor: admin.clone(),
        tenant: tenant_id,
        key: key_id,
    });
    assert_eq!(
        client.list_api_keys(&admin, tenant_id).await,
        Ok(vec![api_key()])
    );
    expect(MetadataRequest::ListApiKeys {
        actor: admin.clone(),
        tenant: tenant_id,
    });
    assert_eq!(
        client.verify_api_key("cvk_ab12-secret".to_owned()).await,
        Ok(grant())
    );
    expect(MetadataRequest::VerifyApiKey {
        secret: "cvk_ab12-secret".to_owned(),
    });
    let asked = vec![recording_id, RecordingId::new()];
    assert_eq!(
        client.known_recordings(tenant_id, asked.clone()).await,
        Ok(vec![recording_id])
    );
    expect(MetadataRequest::KnownRecordings {
        tenant: tenant_id,
        ids: asked,
    });
    let found = client
        .search_recordings(&admin, tenant_id, filter.clone(), page_request.clone())
        .await;
    assert_eq!(found, Ok(page()));
    expect(MetadataRequest::SearchRecordings {
        actor: admin.clone(),
        tenant: tenant_id,
        filter,
        page: page_request,
    });
    assert_eq!(
        client.get_recording(&admin, tenant_id, recording_id).await,
        Ok(recording())
    );
    expect(MetadataRequest::GetRecording {
        actor: admin.clone(),
        tenant: tenant_id,
        id: recording_id,
    });

    assert_eq!(api.calls(), expected_calls);
}

#[tokio::test]
async fn api_errors_come_back_with_their_code() {
    let (_bus, _api, client) = served().await;

    let refused = client.get_tenant(&actor(INTRUDER), tenant().id).await;
    assert_eq!(refused, Err(ApiError::forbidden()));

    let unknown = client.verify_api_key("unknown".to_owned()).await;
    assert_eq!(
        unknown,
        Err(ApiError::new(ErrorCode::Unauthenticated, "unknown api key"))
    );
}

#[tokio::test]
async fn a_malformed_request_gets_invalid_input() {
    let (bus, api, _client) = served().await;

    for body in [
        b"not json".to_vec(),
        br#"{"method":"drop_everything"}"#.to_vec(),
        br#"{"method":"get_tenant","tenant":"not-a-uuid"}"#.to_vec(),
    ] {
        let reply = bus
            .request(METADATA_QUEUE, body, Duration::from_secs(5))
            .await
            .expect("a reply, not a failure");
        let reply: MetadataReply = serde_json::from_slice(&reply).expect("a well-formed reply");
        let err = reply.expect_err("malformed requests are refused");
        assert_eq!(err.code, ErrorCode::InvalidInput);
    }
    assert!(api.calls().is_empty(), "nothing reached the api");
}

#[tokio::test]
async fn an_absent_or_slow_service_is_unavailable() {
    let nobody = MetadataClient::new(Arc::new(InProcessBus::new()), Duration::from_secs(5));
    let err = nobody
        .list_bpos(&actor("admin"))
        .await
        .expect_err("nobody serves metadata");
    assert_eq!(err.code, ErrorCode::Unavailable);

    let (bus, _api, _client) = served().await;
    let impatient = MetadataClient::new(bus, Duration::from_millis(100));
    let err = impatient
        .list_bpos(&actor(SLOW))
        .await
        .expect_err("the service is too slow");
    assert_eq!(err.code, ErrorCode::Unavailable);
}

/// Answers garbage on the metadata queue.
struct Garbage;

#[async_trait]
impl callvault_bus::RequestHandler for Garbage {
    async fn handle(&self, _body: Vec<u8>) -> Vec<u8> {
        br#"{"Ok":{"unexpected":true}}"#.to_vec()
    }
}

#[tokio::test]
async fn a_malformed_reply_is_an_internal_error() {
    let bus = Arc::new(InProcessBus::new());
    bus.serve(METADATA_QUEUE, Arc::new(Garbage))
        .await
        .expect("serve");
    let client = MetadataClient::new(bus, Duration::from_secs(5));
    let err = client
        .get_tenant(&actor("admin"), tenant().id)
        .await
        .expect_err("the reply is not a tenant");
    assert_eq!(err.code, ErrorCode::Internal);
}
