//! The test on the deployment's RabbitMQ: it publishes the events it
//! makes up (as the services would, `Message::new` of the contracts'
//! events, with the instants it chooses) to the deployment's exchange, and
//! reads what the services publish through a queue of its own bound to the
//! same topics (the tap), to learn the instants the real uploads, shreds
//! and deliveries happened at.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use callvault_bus::rabbitmq::{RabbitMqBus, RabbitMqOptions};
use callvault_bus::{Bus as _, EventHandler, HandlerError, Message};
use callvault_contracts::call::{AudioInfo, CallMetadata, Direction};
use callvault_contracts::disclosure_api::{Regime, RequestKind, RequestState};
use callvault_contracts::events::{
    DisclosureDeliveredV1, DisclosureRequestV1, Event, InvoiceFinalizedV1, RecordingIngestedV1,
    RecordingShreddedV1, RecordingStoredV1,
};
use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::cluster::{AMQP_URL, TAP_CONSUMER};

/// What the tap reads.
const TAPPED: [&str; 5] = [
    RecordingIngestedV1::TOPIC,
    RecordingStoredV1::TOPIC,
    RecordingShreddedV1::TOPIC,
    DisclosureDeliveredV1::TOPIC,
    InvoiceFinalizedV1::TOPIC,
];

struct Recorder(Arc<Mutex<Vec<Message>>>);

#[async_trait::async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message);
        Ok(())
    }
}

pub struct TestBus {
    bus: RabbitMqBus,
    seen: Arc<Mutex<Vec<Message>>>,
}

impl TestBus {
    /// Connects under the deployment's `prefix` and starts the tap.
    pub async fn connect(prefix: &str) -> Self {
        let defaults = RabbitMqOptions::default();
        let options = RabbitMqOptions {
            exchange: format!("{prefix}{}", defaults.exchange),
            dead_letter_exchange: format!("{prefix}{}", defaults.dead_letter_exchange),
            name_prefix: prefix.to_owned(),
            ..defaults
        };
        let bus = RabbitMqBus::connect(AMQP_URL, options)
            .await
            .expect("the deployment's rabbitmq");
        let seen = Arc::new(Mutex::new(Vec::new()));
        bus.subscribe(TAP_CONSUMER, &TAPPED, Arc::new(Recorder(seen.clone())))
            .await
            .expect("the tap");
        Self { bus, seen }
    }

    pub async fn publish(&self, messages: &[Message]) {
        for message in messages {
            self.bus.publish(message).await.expect("publish");
        }
    }

    /// Every `E` the tap has read so far.
    pub fn seen<E: Event>(&self) -> Vec<E> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|m| m.topic == E::TOPIC)
            .filter_map(|m| m.decode::<E>().ok())
            .collect()
    }

    /// Waits (up to 30 s) for the first `E` that `which` picks.
    pub async fn wait_for<E: Event>(&self, what: &str, which: impl Fn(&E) -> bool) -> E {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(found) = self.seen::<E>().into_iter().find(|e| which(e)) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no {} for {what} on the bus after 30 s",
                E::TOPIC
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn tenant_id(tenant: &str) -> TenantId {
    tenant.parse().expect("a tenant id")
}

fn message<E: Event>(event: &E) -> Message {
    Message::new(event).expect("message")
}

/// A `recording.ingested` as ingestion publishes it, for a call that
/// ended at `at`, from `caller`.
pub fn ingested(
    tenant: &str,
    recording: Uuid,
    duration_ms: u64,
    at: DateTime<Utc>,
    caller: &str,
) -> Message {
    let length = chrono::Duration::milliseconds(i64::try_from(duration_ms).expect("ms"));
    message(&RecordingIngestedV1 {
        tenant_id: tenant_id(tenant),
        recording_id: RecordingId(recording),
        call: CallMetadata {
            external_call_id: format!("bulk-{recording}"),
            segment: 0,
            direction: Direction::Inbound,
            caller_number: caller.to_owned(),
            callee_number: "+81355550100".to_owned(),
            agent: Some("agent-bulk".to_owned()),
            queue: Some("claims".to_owned()),
            started_at: at - length,
            ended_at: at,
            tags: Vec::new(),
            agent_channel: None,
            customer_channel: None,
            attributes: Default::default(),
            notice_played: None,
            pauses: Vec::new(),
        },
        audio: AudioInfo {
            codec: "wav/pcm_mulaw".to_owned(),
            sample_rate: 8_000,
            channels: 1,
            duration_ms,
        },
        size: duration_ms * 8 + 58,
        sha256: "0".repeat(64),
        key_ref: "synthetic".to_owned(),
        ingested_at: at,
    })
}

pub fn stored(tenant: &str, recording: Uuid, size: u64, at: DateTime<Utc>) -> Message {
    message(&RecordingStoredV1 {
        tenant_id: tenant_id(tenant),
        recording_id: RecordingId(recording),
        size,
        stored_at: at,
    })
}

pub fn shredded(
    tenant: &str,
    recording: Uuid,
    size: u64,
    stored_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Message {
    message(&RecordingShreddedV1 {
        tenant_id: tenant_id(tenant),
        recording_id: RecordingId(recording),
        size,
        stored_at,
        shredded_at: at,
    })
}

pub fn delivered(tenant: &str, at: DateTime<Utc>) -> Message {
    message(&DisclosureDeliveredV1(DisclosureRequestV1 {
        tenant_id: tenant_id(tenant),
        request_id: Uuid::new_v4(),
        kind: RequestKind::Access,
        regime: Regime::Appi,
        state: RequestState::Delivered,
        received_at: at - chrono::Duration::days(3),
        due_date: (at + chrono::Duration::days(11)).date_naive(),
        at,
    }))
}
