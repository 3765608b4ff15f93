//! The lifecycle API adapter: a client and a server around a stand-in
//! `LifecycleApi` that records its calls and answers fixed values, over the
//! in-process bus and over RabbitMQ (two connections: two processes). It
//! checks the wire (every argument and result crosses intact, errors keep
//! their code), not the metadata service.

pub(crate) mod stand_in;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use callvault_bus::Bus;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::lifecycle::{LIFECYCLE_QUEUE, LifecycleClient, serve_lifecycle};
use callvault_contracts::call::Direction;
use callvault_contracts::lifecycle_api::{
    Access, DeletionReason, HoldScope, LifecycleApi, LifecycleRequest, NewLegalHold,
    NewRetentionRule, RetentionMatch, TenantPolicy,
};
use callvault_contracts::metadata_api::{
    ApiError, ErrorCode, KeyMode, MetadataReply, RecordingFilter,
};
use callvault_contracts::{Actor, RecordingId};
use serde_json::Value;
use uuid::Uuid;

use crate::metadata::stand_in::{INTRUDER, SLOW, actor, at, recording, tenant};
use crate::rabbitmq::broker::{Broker, with_broker};
use stand_in::{
    LifecycleStandIn, audit_page, certificate, day, hold, lifecycle, manifest, policy, public_key,
    rekeyed_tenant, rule, unknown_tenant, verification,
};

async fn served_in_process() -> (Arc<InProcessBus>, Arc<LifecycleStandIn>, LifecycleClient) {
    let bus = Arc::new(InProcessBus::new());
    let api = Arc::new(LifecycleStandIn::default());
    serve_lifecycle(bus.as_ref(), api.clone())
        .await
        .expect("serve lifecycle");
    let client = LifecycleClient::new(bus.clone(), Duration::from_secs(5));
    (bus, api, client)
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("encode")
}

/// An actor as the gateway sends it: with the client's address.
fn caller() -> Actor {
    Actor {
        origin: Some("203.0.113.9".to_owned()),
        ..actor("co@client.example")
    }
}

/// Calls every method once through `client` and checks what reached `api`
/// (served over whichever bus) and what came back.
async fn check_every_method_round_trips(client: &LifecycleClient, api: &LifecycleStandIn) {
    let who = caller();
    let tenant_id = tenant().id;
    let recording_id = RecordingId(Uuid::from_u128(77));
    let new_policy = TenantPolicy {
        default_retention_days: 90,
        require_playback_reason: false,
    };
    let new_rule = NewRetentionRule {
        name: "complaints".to_owned(),
        matches: RetentionMatch {
            queue: Some("support".to_owned()),
            direction: Some(Direction::Inbound),
            tags: vec!["complaint".to_owned(), "vip".to_owned()],
            attributes: BTreeMap::from([
                ("product".to_owned(), "loans".to_owned()),
                ("région".to_owned(), "kantō".to_owned()),
            ]),
        },
        retention_days: 3650,
        overriding: false,
    };
    let filter_hold = NewLegalHold {
        case_name: "Case 9".to_owned(),
        reason: "regulator inquiry".to_owned(),
        scope: HoldScope::Filter {
            filter: RecordingFilter {
                started_after: Some(at(1_600_000_000)),
                started_before: None,
                agent: Some("agent-7".to_owned()),
                queue: None,
                direction: Some(Direction::Outbound),
                phone_number: Some("+81312345678".to_owned()),
                tags: vec!["vip".to_owned()],
                min_duration_ms: None,
                max_duration_ms: Some(600_000),
                notice_played: Some(false),
            },
        },
    };
    let ids_hold = NewLegalHold {
        case_name: "Case 10".to_owned(),
        reason: "litigation".to_owned(),
        scope: HoldScope::Recordings {
            ids: vec![recording_id, recording().id],
        },
    };
    let hold_id = Uuid::from_u128(11);
    let rule_id = Uuid::from_u128(10);

    let mut expected = Vec::new();
    let mut expect = |call: LifecycleRequest| expected.push(json(&call));

    assert_eq!(client.get_policy(&who, tenant_id).await, Ok(policy()));
    expect(LifecycleRequest::GetPolicy {
        actor: who.clone(),
        tenant: tenant_id,
    });
    assert_eq!(
        client.set_policy(&who, tenant_id, new_policy.clone()).await,
        Ok(new_policy.clone())
    );
    expect(LifecycleRequest::SetPolicy {
        actor: who.clone(),
        tenant: tenant_id,
        policy: new_policy,
    });
    assert_eq!(
        client.list_retention_rules(&who, tenant_id).await,
        Ok(vec![rule(), rule()])
    );
    expect(LifecycleRequest::ListRetentionRules {
        actor: who.clone(),
        tenant: tenant_id,
    });
    assert_eq!(
        client
            .create_retention_rule(&who, tenant_id, new_rule.clone())
            .await,
        Ok(rule())
    );
    expect(LifecycleRequest::CreateRetentionRule {
        actor: who.clone(),
        tenant: tenant_id,
        rule: new_rule,
    });
    assert_eq!(
        client.delete_retention_rule(&who, tenant_id, rule_id).await,
        Ok(rule())
    );
    expect(LifecycleRequest::DeleteRetentionRule {
        actor: who.clone(),
        tenant: tenant_id,
        rule: rule_id,
    });
    assert_eq!(
        client
            .recording_lifecycle(&who, tenant_id, recording_id)
            .await,
        Ok(lifecycle())
    );
    expect(LifecycleRequest::RecordingLifecycle {
        actor: who.clone(),
        tenant: tenant_id,
        recording: recording_id,
    });
    for new_hold in [filter_hold, ids_hold] {
        assert_eq!(
            client.place_hold(&who, tenant_id, new_hold.clone()).await,
            Ok(hold())
        );
        expect(LifecycleRequest::PlaceHold {
            actor: who.clone(),
            tenant: tenant_id,
            hold: new_hold,
        });
    }
    assert_eq!(
        client
            .release_hold(&who, tenant_id, hold_id, "settled".to_owned())
            .await,
        Ok(hold())
    );
    expect(LifecycleRequest::ReleaseHold {
        actor: who.clone(),
        tenant: tenant_id,
        hold: hold_id,
        reason: "settled".to_owned(),
    });
    assert_eq!(client.list_holds(&who, tenant_id).await, Ok(vec![hold()]));
    expect(LifecycleRequest::ListHolds {
        actor: who.clone(),
        tenant: tenant_id,
    });
    for reason in [DeletionReason::UserRequest, DeletionReason::Erasure] {
        let deleted = client
            .delete_recording(
                &who,
                tenant_id,
                recording_id,
                reason,
                "ticket 42".to_owned(),
            )
            .await;
        assert_eq!(deleted, Ok(certificate()));
        expect(LifecycleRequest::DeleteRecording {
            actor: who.clone(),
            tenant: tenant_id,
            recording: recording_id,
            reason,
            note: "ticket 42".to_owned(),
        });
    }
    assert_eq!(
        client.run_deletion(&who, tenant_id).await,
        Ok(certificate())
    );
    expect(LifecycleRequest::RunDeletion {
        actor: who.clone(),
        tenant: tenant_id,
    });
    assert_eq!(
        client.list_deletion_certificates(&who, tenant_id).await,
        Ok(vec![certificate()])
    );
    expect(LifecycleRequest::ListDeletionCertificates {
        actor: who.clone(),
        tenant: tenant_id,
    });
    assert_eq!(
        client
            .authorize_playback(
                &who,
                tenant_id,
                recording_id,
                Access::Playback,
                Some("qa review".to_owned())
            )
            .await,
        Ok(recording())
    );
    expect(LifecycleRequest::AuthorizePlayback {
        actor: who.clone(),
        tenant: tenant_id,
        recording: recording_id,
        access: Access::Playback,
        reason: Some("qa review".to_owned()),
    });
    // No reason crosses as no reason (the stand-in refuses it, as a tenant
    // requiring one would), and a download as a download.
    let refused = client
        .authorize_playback(&who, tenant_id, recording_id, Access::Download, None)
        .await;
    assert_eq!(
        refused,
        Err(ApiError::invalid("a playback reason is required"))
    );
    expect(LifecycleRequest::AuthorizePlayback {
        actor: who.clone(),
        tenant: tenant_id,
        recording: recording_id,
        access: Access::Download,
        reason: None,
    });
    for (after_seq, first) in [(None, 1), (Some(u64::MAX - 1), 100)] {
        assert_eq!(
            client.audit_trail(&who, tenant_id, after_seq, first).await,
            Ok(audit_page())
        );
        expect(LifecycleRequest::AuditTrail {
            actor: who.clone(),
            tenant: tenant_id,
            after_seq,
            first,
        });
    }
    assert_eq!(
        client.verify_audit_chain(&who, tenant_id).await,
        Ok(verification())
    );
    expect(LifecycleRequest::VerifyAuditChain {
        actor: who.clone(),
        tenant: tenant_id,
    });
    assert_eq!(
        client.daily_manifest(&who, tenant_id, day()).await,
        Ok(manifest())
    );
    expect(LifecycleRequest::DailyManifest {
        actor: who.clone(),
        tenant: tenant_id,
        date: day(),
    });
    assert_eq!(
        client.manifest_public_key(tenant_id).await,
        Ok(public_key())
    );
    expect(LifecycleRequest::ManifestPublicKey { tenant: tenant_id });
    let modes = [
        KeyMode::Managed,
        KeyMode::External {
            key_arn: "arn:aws:kms:ap-northeast-1:111122223333:key/new".to_owned(),
        },
    ];
    for mode in modes {
        let reason = "annual rotation — 年次".to_owned();
        assert_eq!(
            client
                .change_tenant_key(&who, tenant_id, mode.clone(), reason.clone())
                .await,
            Ok(rekeyed_tenant())
        );
        expect(LifecycleRequest::ChangeTenantKey {
            actor: who.clone(),
            tenant: tenant_id,
            mode,
            reason,
        });
    }

    let calls = api.0.calls();
    assert_eq!(calls, expected);
    // The client's address crossed the bus with the actor.
    assert_eq!(calls[0]["actor"]["origin"], "203.0.113.9");
}

/// Errors keep their code; an absent or slow service is `Unavailable`.
async fn check_errors(bus: Arc<dyn Bus>, client: &LifecycleClient) {
    let refused = client.list_holds(&actor(INTRUDER), tenant().id).await;
    assert_eq!(refused, Err(ApiError::forbidden()));
    let unknown = client.manifest_public_key(unknown_tenant()).await;
    assert_eq!(unknown, Err(ApiError::not_found("tenant")));

    let impatient = LifecycleClient::new(bus, Duration::from_millis(200));
    let slow = impatient.run_deletion(&actor(SLOW), tenant().id).await;
    assert_eq!(slow.expect_err("too slow").code, ErrorCode::Unavailable);
}

#[tokio::test]
async fn every_lifecycle_method_round_trips_in_process() {
    let (bus, api, client) = served_in_process().await;
    check_every_method_round_trips(&client, &api).await;
    check_errors(bus, &client).await;
}

#[tokio::test]
async fn every_lifecycle_method_round_trips_between_two_rabbitmq_processes() {
    with_broker("lifecycle-api", async |broker: &Broker| {
        let server = broker.bus().await;
        let api = Arc::new(LifecycleStandIn::default());
        serve_lifecycle(&server, api.clone())
            .await
            .expect("serve lifecycle");
        let client_bus: Arc<dyn Bus> = Arc::new(broker.bus().await);
        let client = LifecycleClient::new(client_bus.clone(), Duration::from_secs(5));

        check_every_method_round_trips(&client, &api).await;
        check_errors(client_bus.clone(), &client).await;

        // The metadata process goes away, and its request queue with it.
        server.close().await.expect("close");
        let gone = client.get_policy(&caller(), tenant().id).await;
        assert_eq!(gone.expect_err("no server").code, ErrorCode::Unavailable);
    })
    .await;
}

#[tokio::test]
async fn a_malformed_lifecycle_request_gets_invalid_input() {
    let (bus, api, _client) = served_in_process().await;
    for body in [
        b"not json".to_vec(),
        br#"{"method":"shred_everything"}"#.to_vec(),
        br#"{"method":"get_policy","tenant":"not-a-uuid"}"#.to_vec(),
        // The metadata API's methods are not served here.
        br#"{"method":"list_bpos","actor":{"subject":"a","role":"platform_admin","bpo_id":null,"tenant_id":null,"agent_id":null}}"#.to_vec(),
    ] {
        let reply = bus
            .request(LIFECYCLE_QUEUE, body, Duration::from_secs(5))
            .await
            .expect("a reply, not a failure");
        let reply: MetadataReply = serde_json::from_slice(&reply).expect("a well-formed reply");
        let err = reply.expect_err("malformed requests are refused");
        assert_eq!(err.code, ErrorCode::InvalidInput);
    }
    assert!(api.0.calls().is_empty(), "nothing reached the api");
}

#[tokio::test]
async fn an_absent_lifecycle_service_is_unavailable_and_a_bad_reply_internal() {
    let nobody = LifecycleClient::new(Arc::new(InProcessBus::new()), Duration::from_secs(5));
    let err = nobody
        .get_policy(&caller(), tenant().id)
        .await
        .expect_err("nobody serves the lifecycle queue");
    assert_eq!(err.code, ErrorCode::Unavailable);

    // The metadata queue is not the lifecycle queue.
    let bus = Arc::new(InProcessBus::new());
    callvault_bus::metadata::serve_metadata(
        bus.as_ref(),
        Arc::new(crate::metadata::stand_in::StandIn::default()),
    )
    .await
    .expect("serve metadata");
    let client = LifecycleClient::new(bus.clone(), Duration::from_secs(5));
    let err = client
        .get_policy(&caller(), tenant().id)
        .await
        .expect_err("only metadata is served");
    assert_eq!(err.code, ErrorCode::Unavailable);

    // A reply that isn't the method's result type.
    let garbage = Arc::new(InProcessBus::new());
    garbage
        .serve(LIFECYCLE_QUEUE, Arc::new(Garbage))
        .await
        .expect("serve");
    let client = LifecycleClient::new(garbage, Duration::from_secs(5));
    let err = client
        .verify_audit_chain(&caller(), tenant().id)
        .await
        .expect_err("the reply is not a chain verification");
    assert_eq!(err.code, ErrorCode::Internal);
}

/// Answers something that decodes as a reply but as no method's result.
struct Garbage;

#[async_trait::async_trait]
impl callvault_bus::RequestHandler for Garbage {
    async fn handle(&self, _body: Vec<u8>) -> Vec<u8> {
        br#"{"Ok":{"unexpected":true}}"#.to_vec()
    }
}
