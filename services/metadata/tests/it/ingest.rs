//! The `recording.ingested` consumer.

use callvault_bus::{EventHandler, Message};
use callvault_contracts::call::Channel;
use callvault_contracts::metadata_api::{ErrorCode, Recording};
use callvault_contracts::{Role, TenantId};
use sea_orm::ConnectionTrait;

use crate::support::{Env, at, code, event, member};

async fn duplicate_messages_catalogue_once(env: Env) {
    let w = env.world().await;
    let e = event(w.a, 0);
    let message = Message::new(&e).expect("message");
    for _ in 0..3 {
        env.consumer.handle(message.clone()).await.expect("handle");
    }
    assert_eq!(env.count("recordings").await, 1);
    // The same recording under a new message id (a re-published event)
    // keeps the one row too.
    env.consumer
        .handle(Message::new(&e).expect("message"))
        .await
        .expect("handle");
    assert_eq!(env.count("recordings").await, 1);
    assert_eq!(env.count("inbox").await, 2);

    // Once deleted (a tombstone in place of the row), the same event
    // published again doesn't bring the recording back.
    for sql in [
        "INSERT INTO recording_tombstones (tenant_id, recording_id, ingested_at, sha256, \
         deleted_at, reason, policy, deleted_by, certificate_id) \
         SELECT tenant_id, id, ingested_at, sha256, ingested_at, 'retention', 'test', \
         'test', id FROM recordings",
        "DELETE FROM recordings",
    ] {
        env.db
            .execute_unprepared(sql)
            .await
            .expect("delete by hand");
    }
    env.consumer
        .handle(Message::new(&e).expect("message"))
        .await
        .expect("handle");
    assert_eq!(
        env.count("recordings").await,
        0,
        "a deleted recording stays deleted"
    );
}

async fn ingested_recording_round_trips(env: Env) {
    let w = env.world().await;
    let mut e = event(w.a, 0);
    e.call.segment = 3;
    e.call.tags = vec!["zeta".into(), "alpha".into(), "zeta".into()];
    e.call.agent_channel = Some(Channel::Left);
    e.call.customer_channel = Some(Channel::Right);
    e.audio.channels = 2;
    // Nanoseconds are cut to microseconds, on every backend.
    e.call.started_at = at(0) + chrono::Duration::nanoseconds(123_456_789);
    e.ingested_at = at(90) + chrono::Duration::nanoseconds(1_999);
    let id = env.ingest(e.clone()).await;

    let read = env
        .svc
        .get_recording(&member(Role::ComplianceOfficer, w.a), w.a, id)
        .await
        .expect("get");
    let expected = Recording {
        id,
        tenant_id: w.a,
        external_call_id: e.call.external_call_id.clone(),
        segment: 3,
        direction: e.call.direction,
        caller_number: e.call.caller_number.clone(),
        callee_number: e.call.callee_number.clone(),
        agent: e.call.agent.clone(),
        queue: e.call.queue.clone(),
        started_at: at(0) + chrono::Duration::nanoseconds(123_456_000),
        ended_at: e.call.ended_at,
        tags: vec!["zeta".into(), "alpha".into()],
        agent_channel: Some(Channel::Left),
        customer_channel: Some(Channel::Right),
        codec: e.audio.codec.clone(),
        sample_rate: 8000,
        channels: 2,
        duration_ms: 60_000,
        size: 480_000,
        sha256: e.sha256.clone(),
        ingested_at: at(90) + chrono::Duration::nanoseconds(1_000),
        attributes: Default::default(),
        notice_played: None,
        pauses: Vec::new(),
        restricted: false,
    };
    assert_eq!(read, expected);
    // Search returns the very same thing.
    let page = env
        .svc
        .search_recordings(
            &member(Role::Supervisor, w.a),
            w.a,
            Default::default(),
            callvault_contracts::metadata_api::PageRequest {
                first: 1,
                after: None,
            },
        )
        .await
        .expect("search");
    assert_eq!(page.items, vec![expected]);
}

async fn bad_messages_are_errors_and_change_nothing(env: Env) {
    let w = env.world().await;
    // Another topic.
    let mut wrong_topic = Message::new(&event(w.a, 0)).expect("message");
    wrong_topic.topic = "recording.stored".into();
    assert!(env.consumer.handle(wrong_topic).await.is_err());
    // Another version.
    let mut wrong_version = Message::new(&event(w.a, 0)).expect("message");
    wrong_version.version = 2;
    assert!(env.consumer.handle(wrong_version).await.is_err());
    // A payload that isn't the event.
    let mut garbage = Message::new(&event(w.a, 0)).expect("message");
    garbage.payload = serde_json::json!({"tenant_id": "nope"});
    assert!(env.consumer.handle(garbage).await.is_err());
    // Ends before it starts.
    let mut backwards = event(w.a, 0);
    backwards.call.ended_at = at(-1);
    assert!(
        env.consumer
            .handle(Message::new(&backwards).expect("message"))
            .await
            .is_err()
    );
    assert_eq!(env.count("recordings").await, 0);
    assert_eq!(env.count("inbox").await, 0);
}

/// An unknown tenant is an error (redelivered, then dead-lettered), and the
/// inbox does not swallow the message: once the tenant exists, a
/// redelivery of the same message is catalogued.
async fn unknown_tenant_is_retried_not_swallowed(env: Env) {
    let w = env.world().await;
    let e = event(TenantId::new(), 0);
    let message = Message::new(&e).expect("message");
    let err = env
        .consumer
        .handle(message.clone())
        .await
        .expect_err("unknown tenant");
    assert!(
        !err.to_string().contains("555"),
        "the error names no phone number"
    );
    assert_eq!(env.count("inbox").await, 0);
    assert_eq!(env.count("recordings").await, 0);

    // The same message id, now naming a tenant that exists, goes through:
    // nothing of the failed attempt was recorded.
    let mut fixed = message.clone();
    fixed.payload = serde_json::to_value(callvault_contracts::events::RecordingIngestedV1 {
        tenant_id: w.a,
        ..e
    })
    .expect("payload");
    env.consumer.handle(fixed).await.expect("handle");
    assert_eq!(env.count("recordings").await, 1);
    assert_eq!(
        code(
            env.svc
                .get_recording(
                    &member(Role::Supervisor, w.b),
                    w.b,
                    callvault_contracts::RecordingId(
                        message.payload["recording_id"]
                            .as_str()
                            .expect("id")
                            .parse()
                            .expect("uuid")
                    )
                )
                .await
        ),
        ErrorCode::NotFound
    );
}

on_both_backends!(
    duplicate_messages_catalogue_once,
    ingested_recording_round_trips,
    bad_messages_are_errors_and_change_nothing,
    unknown_tenant_is_retried_not_swallowed,
);
