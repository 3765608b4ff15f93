//! Deliveries over real HTTP to the Python receiver, which verifies each
//! with the reference standardwebhooks library.

use std::time::Duration;

use callvault_bus::Bus;
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::webhooks::{
    ListWebhookEndpoints, ReplayWebhookDelivery, RotateWebhookSecret, UpdateWebhookEndpoint,
};
use callvault_contracts::webhooks_api::{DeliveryStatus, WebhookDelivery, WebhookEndpointPatch};
use callvault_webhooks::WebhooksService;
use callvault_webhooks::address::AddressPolicy;
use callvault_webhooks::secret::SecretSeal;
use serde_json::Value;

use crate::lab::{Lab, SEAL_ROOT, fast_options};
use crate::receiver::Receiver;

on_both_backends!(
    the_python_receiver_verifies_every_delivery,
    a_receiver_failing_three_times_gets_the_event_once_acknowledged,
    a_redelivered_event_is_delivered_once_per_endpoint,
    during_a_rotation_either_secret_verifies,
    an_endpoint_failing_the_whole_schedule_is_disabled_with_an_event,
    a_failed_delivery_can_be_replayed,
    the_address_is_checked_again_at_delivery_time,
    an_endpoint_gets_no_more_attempts_at_once_than_its_limit,
);

fn all_done(log: &[WebhookDelivery], count: usize) -> bool {
    log.len() == count && log.iter().all(|d| d.status != DeliveryStatus::Pending)
}

async fn the_python_receiver_verifies_every_delivery(lab: &Lab) {
    let receiver = Receiver::start(0);
    let created = lab.subscribe(&receiver.url, &["recording.stored"]).await;
    receiver.trust(&[&created.secret]);
    let mut recordings = Vec::new();
    for _ in 0..3 {
        recordings.push(lab.recording_stored().await);
    }
    // Not subscribed: never delivered.
    lab.bus
        .publish(&crate::lab::stored(lab.sibling))
        .await
        .expect("publish");

    let log = lab
        .deliver_until(created.endpoint.id, |log| all_done(log, 3))
        .await;
    assert!(
        log.iter().all(|d| d.status == DeliveryStatus::Succeeded),
        "{log:?}"
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    for request in &requests {
        assert_eq!(request["verified_by"], serde_json::json!([0]), "{request}");
        assert_eq!(request["type"], "recording.stored");
        let body: Value =
            serde_json::from_str(request["body"].as_str().expect("body")).expect("a JSON body");
        let data = body["data"].as_object().expect("data");
        let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["recording_id", "stored_at", "tenant_id"], "ids only");
        assert!(body["timestamp"].is_string());
    }
    let delivered: Vec<&str> = requests
        .iter()
        .map(|r| r["id"].as_str().expect("webhook-id"))
        .collect();
    for d in &log {
        assert!(delivered.contains(&d.id.as_str()));
        assert_eq!(d.last_status_code, Some(204));
        assert_eq!(d.attempts, 1);
    }
}

async fn a_receiver_failing_three_times_gets_the_event_once_acknowledged(lab: &Lab) {
    let receiver = Receiver::start(3);
    let created = lab.subscribe(&receiver.url, &["recording.stored"]).await;
    receiver.trust(&[&created.secret]);
    lab.recording_stored().await;

    let log = lab
        .deliver_until(created.endpoint.id, |log| all_done(log, 1))
        .await;
    let delivery = &log[0];
    assert_eq!(delivery.status, DeliveryStatus::Succeeded, "{delivery:?}");
    assert_eq!(delivery.attempts, 4);
    let requests = receiver.requests();
    let statuses: Vec<i64> = requests
        .iter()
        .map(|r| r["status"].as_i64().expect("status"))
        .collect();
    assert_eq!(
        statuses,
        [500, 500, 500, 204],
        "acknowledged once, the last time"
    );
    assert!(
        requests.iter().all(|r| r["id"] == delivery.id.as_str()),
        "every attempt carries the same webhook-id"
    );
    assert!(
        requests
            .iter()
            .all(|r| r["verified_by"] == serde_json::json!([0]))
    );
    // Nothing is attempted again once acknowledged.
    lab.webhooks.deliver_due().await;
    assert_eq!(receiver.requests().len(), 4);
}

async fn a_redelivered_event_is_delivered_once_per_endpoint(lab: &Lab) {
    let receiver = Receiver::start(0);
    let first = lab.subscribe(&receiver.url, &["recording.stored"]).await;
    let second = lab
        .subscribe(&receiver.url, &["recording.stored", "recording.deleted"])
        .await;
    receiver.trust(&[&first.secret, &second.secret]);
    let message = crate::lab::stored(lab.tenant);
    let accepted = lab.webhooks.accept(&message).await.expect("accept");
    assert_eq!(accepted.deliveries, 2);
    let again = lab.webhooks.accept(&message).await.expect("accept again");
    assert!(again.duplicate);
    assert_eq!(again.deliveries, 0);

    for endpoint in [first.endpoint.id, second.endpoint.id] {
        lab.deliver_until(endpoint, |log| all_done(log, 1)).await;
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "once per endpoint: {requests:?}");
}

async fn during_a_rotation_either_secret_verifies(lab: &Lab) {
    let receiver = Receiver::start(0);
    let created = lab.subscribe(&receiver.url, &["recording.stored"]).await;
    let rotated = lab
        .call(RotateWebhookSecret {
            actor: lab.admin(),
            endpoint_id: created.endpoint.id,
        })
        .await
        .expect("rotated");
    assert_ne!(rotated.secret, created.secret);
    assert!(rotated.secret.starts_with("whsec_"));
    assert!(rotated.endpoint.previous_secret_expires_at.is_some());
    receiver.trust(&[
        &created.secret,
        &rotated.secret,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ]);
    lab.recording_stored().await;

    lab.deliver_until(created.endpoint.id, |log| all_done(log, 1))
        .await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0]["verified_by"],
        serde_json::json!([0, 1]),
        "the old secret and the new one each verify; another doesn't"
    );
    assert_eq!(requests[0]["signatures"], 2);
}

async fn an_endpoint_failing_the_whole_schedule_is_disabled_with_an_event(lab: &Lab) {
    let broken = Receiver::start(u32::MAX);
    let watcher = Receiver::start(0);
    let failing = lab.subscribe(&broken.url, &["recording.stored"]).await;
    let watching = lab
        .subscribe(&watcher.url, &["webhook.endpoint_disabled"])
        .await;
    broken.trust(&[&failing.secret]);
    watcher.trust(&[&watching.secret]);
    lab.recording_stored().await;

    let log = lab
        .deliver_until(failing.endpoint.id, |log| all_done(log, 1))
        .await;
    assert_eq!(log[0].status, DeliveryStatus::Failed);
    assert_eq!(log[0].attempts, 4, "the first attempt and three retries");
    assert_eq!(log[0].last_status_code, Some(500));
    let endpoints = lab
        .call(ListWebhookEndpoints {
            actor: lab.admin(),
            tenant: lab.tenant,
        })
        .await
        .expect("endpoints");
    let disabled = endpoints
        .iter()
        .find(|e| e.id == failing.endpoint.id)
        .expect("still listed");
    assert!(!disabled.enabled);
    assert!(disabled.disabled_reason.is_some());

    // The outbox relays the event; the other endpoint hears of it.
    lab.deliver_until(watching.endpoint.id, |log| all_done(log, 1))
        .await;
    let heard = watcher.requests();
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0]["type"], "webhook.endpoint_disabled");
    assert_eq!(heard[0]["verified_by"], serde_json::json!([0]));
    let body: Value = serde_json::from_str(heard[0]["body"].as_str().expect("body")).expect("json");
    assert_eq!(body["data"]["endpoint_id"], failing.endpoint.id.to_string());

    // A disabled endpoint gets no new deliveries.
    lab.recording_stored().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(lab.deliveries(failing.endpoint.id).await.len(), 1);
}

async fn a_failed_delivery_can_be_replayed(lab: &Lab) {
    let receiver = Receiver::start(4);
    let created = lab.subscribe(&receiver.url, &["recording.stored"]).await;
    receiver.trust(&[&created.secret]);
    lab.recording_stored().await;
    let log = lab
        .deliver_until(created.endpoint.id, |log| all_done(log, 1))
        .await;
    assert_eq!(log[0].status, DeliveryStatus::Failed);
    let replay = ReplayWebhookDelivery {
        actor: lab.admin(),
        delivery_id: log[0].id.clone(),
    };
    // Its schedule ran out with no success: the endpoint was disabled.
    let refused = lab.call(replay.clone()).await.expect_err("disabled");
    assert_eq!(refused.code, ErrorCode::Conflict);
    lab.call(UpdateWebhookEndpoint {
        actor: lab.admin(),
        endpoint_id: created.endpoint.id,
        patch: WebhookEndpointPatch {
            enabled: Some(true),
            ..Default::default()
        },
    })
    .await
    .expect("enabled");

    let replayed = lab.call(replay).await.expect("replayed");
    assert_eq!(replayed.status, DeliveryStatus::Pending);
    let log = lab
        .deliver_until(created.endpoint.id, |log| all_done(log, 1))
        .await;
    assert_eq!(log[0].status, DeliveryStatus::Succeeded);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 5);
    assert!(requests.iter().all(|r| r["id"] == log[0].id.as_str()));
}

async fn the_address_is_checked_again_at_delivery_time(lab: &Lab) {
    let receiver = Receiver::start(0);
    let created = lab.subscribe(&receiver.url, &["recording.stored"]).await;
    receiver.trust(&[&created.secret]);
    lab.recording_stored().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The operator took 127.0.0.1 off the allow-list since.
    let strict = std::sync::Arc::new(
        WebhooksService::new(
            lab.db.clone(),
            lab.rpc.clone(),
            SecretSeal::derive(&SEAL_ROOT),
            AddressPolicy::default(),
            fast_options(),
        )
        .expect("service"),
    );
    let report = strict.deliver_due().await;
    assert_eq!(report.attempted, 1, "{report:?}");
    let log = lab.deliveries(created.endpoint.id).await;
    assert_eq!(log[0].last_error.as_deref(), Some("address not allowed"));
    assert_eq!(log[0].last_status_code, None);
    assert!(receiver.requests().is_empty(), "nothing reached it");
}

async fn an_endpoint_gets_no_more_attempts_at_once_than_its_limit(lab: &Lab) {
    let receiver = Receiver::start(0);
    let created = lab.subscribe(&receiver.url, &["recording.stored"]).await;
    receiver.trust(&[&created.secret]);
    for _ in 0..3 {
        lab.webhooks
            .accept(&crate::lab::stored(lab.tenant))
            .await
            .expect("accept");
    }
    let one_at_a_time = std::sync::Arc::new(
        WebhooksService::new(
            lab.db.clone(),
            lab.rpc.clone(),
            SecretSeal::derive(&SEAL_ROOT),
            crate::lab::test_policy(),
            callvault_webhooks::DeliveryOptions {
                per_endpoint_concurrency: 1,
                ..fast_options()
            },
        )
        .expect("service"),
    );
    let report = one_at_a_time.deliver_due().await;
    assert_eq!(report.attempted, 1, "{report:?}");
    assert_eq!(report.deferred, 2, "{report:?}");
}
