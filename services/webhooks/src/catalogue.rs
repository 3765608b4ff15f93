//! From bus events to webhooks: which topics become which webhook `type`,
//! for which tenant, and the `data` they carry — ids, kinds and dates,
//! never personal data (no phone number, no requester, no subject).

use callvault_bus::Message;
use callvault_contracts::billing_api::Account;
use callvault_contracts::events::{
    DeletionCertificateIssuedV1, DisclosureClosedV1, DisclosureDeliveredV1, DisclosureDueSoonV1,
    DisclosureOverdueV1, DisclosureRequestCreatedV1, DisclosureRequestV1, Event,
    InvoiceFinalizedV1, LegalHoldPlacedV1, LegalHoldReleasedV1, RecordingShreddedV1,
    RecordingStoredV1, WebhookEndpointDisabledV1,
};
use callvault_contracts::webhooks_api::EVENT_TYPES;
use serde_json::{Value, json};
use uuid::Uuid;

/// Every topic the service turns into webhooks.
pub const TOPICS: [&str; 12] = [
    RecordingStoredV1::TOPIC,
    RecordingShreddedV1::TOPIC,
    LegalHoldPlacedV1::TOPIC,
    LegalHoldReleasedV1::TOPIC,
    DeletionCertificateIssuedV1::TOPIC,
    DisclosureRequestCreatedV1::TOPIC,
    DisclosureDueSoonV1::TOPIC,
    DisclosureOverdueV1::TOPIC,
    DisclosureDeliveredV1::TOPIC,
    DisclosureClosedV1::TOPIC,
    InvoiceFinalizedV1::TOPIC,
    WebhookEndpointDisabledV1::TOPIC,
];

/// One event as its webhooks see it.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookEvent {
    pub tenant: Uuid,
    pub event_type: &'static str,
    pub data: Value,
    /// An endpoint the event must not go to (a disabled endpoint's own
    /// `webhook.endpoint_disabled`).
    pub except_endpoint: Option<Uuid>,
}

pub fn is_known(event_type: &str) -> bool {
    EVENT_TYPES.contains(&event_type)
}

/// The webhook an event makes: `None` for one no tenant receives (a BPO's
/// invoice) or a topic the service doesn't handle; `Err` for a payload
/// that doesn't decode (never going to).
pub fn webhook_of(message: &Message) -> Result<Option<WebhookEvent>, String> {
    let bad = |e: callvault_contracts::events::DecodeError| e.to_string();
    let event = match message.topic.as_str() {
        RecordingStoredV1::TOPIC => {
            let e: RecordingStoredV1 = message.decode().map_err(bad)?;
            tenant_event(
                e.tenant_id.0,
                "recording.stored",
                json!({"tenant_id": e.tenant_id, "recording_id": e.recording_id, "stored_at": e.stored_at}),
            )
        }
        RecordingShreddedV1::TOPIC => {
            let e: RecordingShreddedV1 = message.decode().map_err(bad)?;
            tenant_event(
                e.tenant_id.0,
                "recording.deleted",
                json!({"tenant_id": e.tenant_id, "recording_id": e.recording_id, "deleted_at": e.shredded_at}),
            )
        }
        LegalHoldPlacedV1::TOPIC => {
            let e: LegalHoldPlacedV1 = message.decode().map_err(bad)?;
            tenant_event(
                e.tenant_id.0,
                "hold.placed",
                json!({
                    "tenant_id": e.tenant_id,
                    "hold_id": e.hold_id,
                    "recording_ids": e.recording_ids,
                    "by_filter": e.by_filter,
                    "placed_at": e.placed_at,
                }),
            )
        }
        LegalHoldReleasedV1::TOPIC => {
            let e: LegalHoldReleasedV1 = message.decode().map_err(bad)?;
            tenant_event(
                e.tenant_id.0,
                "hold.released",
                json!({"tenant_id": e.tenant_id, "hold_id": e.hold_id, "released_at": e.released_at}),
            )
        }
        DeletionCertificateIssuedV1::TOPIC => {
            let e: DeletionCertificateIssuedV1 = message.decode().map_err(bad)?;
            tenant_event(
                e.tenant_id.0,
                "deletion.certificate_issued",
                json!({
                    "tenant_id": e.tenant_id,
                    "certificate_id": e.certificate_id,
                    "deleted": e.deleted,
                    "held_back": e.held_back,
                    "failed": e.failed,
                    "finished_at": e.finished_at,
                }),
            )
        }
        DisclosureRequestCreatedV1::TOPIC => disclosure(
            &message
                .decode::<DisclosureRequestCreatedV1>()
                .map_err(bad)?
                .0,
            "disclosure.request_created",
        ),
        DisclosureDueSoonV1::TOPIC => disclosure(
            &message.decode::<DisclosureDueSoonV1>().map_err(bad)?.0,
            "disclosure.due_soon",
        ),
        DisclosureOverdueV1::TOPIC => disclosure(
            &message.decode::<DisclosureOverdueV1>().map_err(bad)?.0,
            "disclosure.overdue",
        ),
        DisclosureDeliveredV1::TOPIC => disclosure(
            &message.decode::<DisclosureDeliveredV1>().map_err(bad)?.0,
            "disclosure.delivered",
        ),
        DisclosureClosedV1::TOPIC => disclosure(
            &message.decode::<DisclosureClosedV1>().map_err(bad)?.0,
            "disclosure.closed",
        ),
        InvoiceFinalizedV1::TOPIC => {
            let e: InvoiceFinalizedV1 = message.decode().map_err(bad)?;
            // A BPO's own invoices concern no tenant's endpoints.
            let Account::Tenant(tenant) = e.account else {
                return Ok(None);
            };
            tenant_event(
                tenant.0,
                "invoice.finalized",
                json!({
                    "tenant_id": tenant,
                    "invoice_id": e.invoice_id,
                    "number": e.number,
                    "period_first_day": e.period_first_day,
                    "period_last_day": e.period_last_day,
                    "finalized_at": e.finalized_at,
                }),
            )
        }
        WebhookEndpointDisabledV1::TOPIC => {
            let e: WebhookEndpointDisabledV1 = message.decode().map_err(bad)?;
            let mut event = tenant_event(
                e.tenant_id.0,
                "webhook.endpoint_disabled",
                json!({
                    "tenant_id": e.tenant_id,
                    "endpoint_id": e.endpoint_id,
                    "delivery_id": e.delivery_id,
                    "disabled_at": e.disabled_at,
                }),
            );
            event.except_endpoint = Some(e.endpoint_id);
            event
        }
        _ => return Ok(None),
    };
    Ok(Some(event))
}

fn tenant_event(tenant: Uuid, event_type: &'static str, data: Value) -> WebhookEvent {
    WebhookEvent {
        tenant,
        event_type,
        data,
        except_endpoint: None,
    }
}

fn disclosure(request: &DisclosureRequestV1, event_type: &'static str) -> WebhookEvent {
    tenant_event(
        request.tenant_id.0,
        event_type,
        json!({
            "tenant_id": request.tenant_id,
            "request_id": request.request_id,
            "kind": request.kind,
            "regime": request.regime,
            "state": request.state,
            "due_date": request.due_date,
        }),
    )
}

/// The body sent, per Standard Webhooks: `{type, timestamp, data}`.
pub fn body(event: &WebhookEvent, message: &Message) -> String {
    json!({
        "type": event.event_type,
        "timestamp": message.occurred_at,
        "data": event.data,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_of_the_catalogue_comes_from_a_topic() {
        // The catalogue and the topics move together: a type nobody can
        // produce would be a subscription that never fires.
        assert_eq!(TOPICS.len(), EVENT_TYPES.len());
        assert!(is_known("recording.stored"));
        assert!(!is_known("recording.shredded"));
    }
}
