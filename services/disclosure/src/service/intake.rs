//! Intake: creating a request (its checks, deadline, matching and
//! preservation, duplicate flag), reading one, listing them.

use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::disclosure_api::{
    DisclosureFilter, DisclosureRequest, NewDisclosureRequest, Regime, RequestKind,
    RequestRecording, RequestState, SubjectIdentifiers, Transition,
};
use callvault_contracts::events::{DisclosureRequestCreatedV1, DisclosureRequestV1};
use callvault_contracts::metadata_api::{ApiResult, Tenant};
use callvault_contracts::ops::disclosure::{
    CreateDisclosureRequest, GetDisclosureRequest, ListDisclosureRequests,
};
use callvault_contracts::ops::subject::{
    DisclosureAuditAction, FindSubjectRecordings, IndexSubjectNumbers, RecordDisclosureAudit,
    SubjectRecording,
};
use callvault_contracts::permissions::Permission;
use callvault_contracts::{Actor, TenantId};
use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};
use uuid::Uuid;

use super::{DisclosureService, bad_input, store};
use crate::db::entity::request;
use crate::db::{db_time, internal};
use crate::deadlines;
use crate::doc::RequestDoc;
use crate::lifecycle::state_name;
use crate::sealing::PersonalData;

/// A request names at most this many numbers.
const MAX_NUMBERS: usize = 20;
/// How far ahead of our clock a receipt time may be (clock skew).
const RECEIPT_SKEW_SECS: i64 = 300;

pub(super) fn routes(router: &mut Router, service: &Arc<DisclosureService>) {
    router
        .route(service, |s, r: CreateDisclosureRequest| async move {
            s.create_request(&r.actor, r.tenant, r.request).await
        })
        .route(service, |s, r: GetDisclosureRequest| async move {
            let tenant = s
                .authorize(&r.actor, Permission::ReadDisclosure, r.tenant)
                .await?;
            s.reply(&tenant, r.id).await
        })
        .route(service, |s, r: ListDisclosureRequests| async move {
            s.list_requests(&r.actor, r.tenant, r.filter).await
        });
}

impl DisclosureService {
    async fn create_request(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        new: NewDisclosureRequest,
    ) -> ApiResult<DisclosureRequest> {
        let tenant = self
            .authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        let now = self.now();
        check_new(&new, now)?;
        let settings = self.settings_of(tenant_id).await?;
        let regime = new.regime.unwrap_or(settings.default_regime);
        // Validates and normalises every number (InvalidInput names its
        // position), and gives the tenant's blind index of each.
        let indexed = self
            .metadata
            .call(IndexSubjectNumbers {
                tenant: tenant_id,
                numbers: new.subject.numbers.clone(),
            })
            .await?;
        let found = self
            .metadata
            .call(FindSubjectRecordings {
                tenant: tenant_id,
                numbers: new.subject.numbers.clone(),
                from: new.subject.from,
                to: new.subject.to,
            })
            .await?;
        let deadline = deadlines::compute(
            regime,
            new.received_at,
            &tenant.time_zone,
            &settings,
            &[],
            None,
        )?;
        let indexes: Vec<String> = indexed.iter().map(|n| n.blind_index.clone()).collect();
        let duplicate_of = self.open_duplicate(tenant_id, new.kind, &indexes).await?;

        let id = Uuid::new_v4();
        let personal = PersonalData {
            requester: trimmed_contact(new.requester),
            numbers: indexed.iter().map(|n| n.e164.clone()).collect(),
        };
        let sealed = self
            .sealing
            .seal(tenant_id, id, &tenant.key_ref, &personal)
            .await?;
        let fee = match (regime, new.kind) {
            // APPI art. 38: a fee for disclosures only.
            (Regime::Appi, RequestKind::Access) => settings.appi_fee.clone(),
            _ => None,
        };
        let doc = RequestDoc {
            channel: new.channel,
            method: new.method.unwrap_or_default(),
            from: new.subject.from,
            to: new.subject.to,
            deadline,
            identity_wait_since: None,
            identity_pauses: Vec::new(),
            extension: None,
            identity_attempts: Vec::new(),
            failed_attempts: 0,
            recordings: found.iter().map(matched).collect(),
            transitions: vec![Transition {
                from: None,
                to: RequestState::Received,
                at: db_time(now),
                actor: actor.subject.clone(),
                role: actor.role.as_str().to_owned(),
                reason: None,
            }],
            prepared_by: None,
            approved_by: None,
            refusal: None,
            fee,
            fee_paid: false,
            erasure: None,
            restriction_active: false,
            bundle_id: None,
        };
        let row = request::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant_id.0),
            kind: Set(store::kind_name(new.kind).to_owned()),
            regime: Set(regime_name(regime).to_owned()),
            state: Set(state_name(RequestState::Received).to_owned()),
            received_at: Set(db_time(new.received_at)),
            due_date: Set(doc.deadline.due_date.to_string()),
            due_soon_sent: Set(false),
            overdue_sent: Set(false),
            duplicate_of: Set(duplicate_of),
            key_ref: Set(sealed.key_ref),
            wrapped_key: Set(sealed.wrapped_key),
            sealed: Set(sealed.body),
            doc: Set(serde_json::to_string(&doc).map_err(|_| store::corrupt("doc"))?),
            version: Set(1),
            preservation_synced: Set(false),
            created_at: Set(db_time(now)),
            updated_at: Set(db_time(now)),
            answered_at: Set(None),
        };
        let event = DisclosureRequestCreatedV1(DisclosureRequestV1 {
            tenant_id,
            request_id: id,
            kind: new.kind,
            regime,
            state: RequestState::Received,
            received_at: db_time(new.received_at),
            due_date: doc.deadline.due_date,
            at: db_time(now),
        });
        let audit = RecordDisclosureAudit {
            actor: actor.clone(),
            tenant: tenant_id,
            action: DisclosureAuditAction::Disclosure,
            target: id.to_string(),
            reason: None,
            details: serde_json::json!({
                "step": "created",
                "kind": store::kind_name(new.kind),
                "regime": regime_name(regime),
                "due_date": doc.deadline.due_date.to_string(),
                "recordings": doc.recordings.len(),
                "duplicate_of": duplicate_of,
            }),
        };
        let txn = self.db.begin().await.map_err(internal)?;
        request::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(internal)?;
        store::insert_numbers(&txn, tenant_id, id, &indexes).await?;
        store::queue_audit(&txn, tenant_id, &audit, now).await?;
        store::publish(&txn, &event).await?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant_id, request_id = %id, kind = store::kind_name(new.kind), "disclosure request created");

        self.after_change(tenant_id, id).await;
        self.reply(&tenant, id).await
    }

    /// An open request of the same kind about one of the same numbers.
    async fn open_duplicate(
        &self,
        tenant: TenantId,
        kind: RequestKind,
        indexes: &[String],
    ) -> ApiResult<Option<Uuid>> {
        let ids = store::requests_with_numbers(&self.db, tenant, indexes).await?;
        if ids.is_empty() {
            return Ok(None);
        }
        let filter = DisclosureFilter {
            kind: Some(kind),
            ..DisclosureFilter::default()
        };
        let rows = store::list(&self.db, tenant, &filter, Some(ids)).await?;
        for row in rows {
            if store::state_of(&row)?.is_open() {
                return Ok(Some(row.id));
            }
        }
        Ok(None)
    }

    async fn list_requests(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        filter: DisclosureFilter,
    ) -> ApiResult<Vec<DisclosureRequest>> {
        let tenant = self
            .authorize(actor, Permission::ReadDisclosure, tenant_id)
            .await?;
        let ids = match &filter.number {
            Some(number) => {
                let indexed = self
                    .metadata
                    .call(IndexSubjectNumbers {
                        tenant: tenant_id,
                        numbers: vec![number.clone()],
                    })
                    .await?;
                let indexes: Vec<String> = indexed.into_iter().map(|n| n.blind_index).collect();
                Some(store::requests_with_numbers(&self.db, tenant_id, &indexes).await?)
            }
            None => None,
        };
        let rows = store::list(&self.db, tenant_id, &filter, ids).await?;
        let today = deadlines::today(self.now(), &tenant.time_zone)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let doc = store::doc_of(&row)?;
            let overdue = is_overdue(&row, &doc, today)?;
            if filter.overdue.is_some_and(|wanted| wanted != overdue) {
                continue;
            }
            out.push(self.to_contract(&tenant, &row, &doc).await?);
        }
        Ok(out)
    }

    /// The contract view of a row: its personal data opened.
    pub(super) async fn to_contract(
        &self,
        tenant: &Tenant,
        row: &request::Model,
        doc: &RequestDoc,
    ) -> ApiResult<DisclosureRequest> {
        let personal = self
            .sealing
            .open(
                tenant.id,
                row.id,
                &row.key_ref,
                &row.wrapped_key,
                &row.sealed,
            )
            .await?;
        let today = deadlines::today(self.now(), &tenant.time_zone)?;
        let bundle = match doc.bundle_id {
            Some(id) => self.bundle_info(tenant.id, id).await?,
            None => None,
        };
        Ok(DisclosureRequest {
            id: row.id,
            tenant_id: tenant.id,
            kind: store::parse_kind(&row.kind)?,
            regime: parse_regime(&row.regime)?,
            state: store::state_of(row)?,
            received_at: row.received_at,
            channel: doc.channel,
            requester: personal.requester,
            subject: SubjectIdentifiers {
                numbers: personal.numbers,
                from: doc.from,
                to: doc.to,
            },
            method: doc.method,
            duplicate_of: row.duplicate_of,
            deadline: doc.deadline.clone(),
            overdue: is_overdue(row, doc, today)?,
            identity_attempts: doc.identity_attempts.clone(),
            recordings: doc.recordings.clone(),
            transitions: doc.transitions.clone(),
            prepared_by: doc.prepared_by.clone(),
            approved_by: doc.approved_by.clone(),
            refusal: doc.refusal.clone(),
            fee: doc.fee.clone(),
            fee_paid: doc.fee_paid,
            bundle,
            erasure: doc.erasure.clone(),
            restriction_active: doc.restriction_active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Open and past its due day (in the tenant's time zone).
pub(super) fn is_overdue(
    row: &request::Model,
    doc: &RequestDoc,
    today: chrono::NaiveDate,
) -> ApiResult<bool> {
    Ok(store::state_of(row)?.is_open() && today > doc.deadline.due_date)
}

pub(super) fn matched(found: &SubjectRecording) -> RequestRecording {
    request_recording(
        found,
        callvault_contracts::disclosure_api::RecordingSource::Matched,
        None,
    )
}

pub(super) fn request_recording(
    found: &SubjectRecording,
    source: callvault_contracts::disclosure_api::RecordingSource,
    reason: Option<String>,
) -> RequestRecording {
    use callvault_contracts::disclosure_api::{RedactionMode, RedactionSpan, SpanChannel};
    let recording = &found.recording;
    RequestRecording {
        recording_id: recording.id,
        started_at: recording.started_at,
        duration_ms: recording.duration_ms,
        direction: recording.direction,
        source,
        included: true,
        reason,
        redactions: Vec::new(),
        // A card number may have been spoken in a pause that failed: the
        // pause is always redacted, on both channels.
        pci_pauses: merged(&recording.pauses, recording.duration_ms)
            .into_iter()
            .map(|(start_ms, end_ms)| RedactionSpan {
                channel: SpanChannel::Both,
                start_ms,
                end_ms,
                mode: RedactionMode::Silence,
            })
            .collect(),
        legal_holds: found.legal_holds.clone(),
        statutory: found.statutory.clone(),
        retain_until: found.retain_until,
    }
}

/// The pauses inside the recording, ordered, overlapping ones merged.
fn merged(pauses: &[callvault_contracts::call::PauseSpan], duration_ms: u64) -> Vec<(u64, u64)> {
    let mut spans: Vec<(u64, u64)> = pauses
        .iter()
        .map(|pause| (pause.start_ms, pause.end_ms.min(duration_ms)))
        .filter(|(start, end)| start < end)
        .collect();
    spans.sort();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

fn check_new(new: &NewDisclosureRequest, now: chrono::DateTime<chrono::Utc>) -> ApiResult<()> {
    if new.received_at > now + chrono::Duration::seconds(RECEIPT_SKEW_SECS) {
        return Err(bad_input("the receipt time is in the future"));
    }
    if new.requester.name.trim().is_empty() {
        return Err(bad_input("the requester's name is required"));
    }
    let contact = &new.requester;
    if contact.email.is_none() && contact.phone.is_none() && contact.postal_address.is_none() {
        return Err(bad_input(
            "a way to answer the requester is required: email, phone or postal address",
        ));
    }
    if new.subject.numbers.is_empty() {
        return Err(bad_input(
            "at least one of the subject's numbers is required",
        ));
    }
    if new.subject.numbers.len() > MAX_NUMBERS {
        return Err(bad_input(format!(
            "at most {MAX_NUMBERS} numbers per request"
        )));
    }
    if let (Some(from), Some(to)) = (new.subject.from, new.subject.to)
        && from >= to
    {
        return Err(bad_input("the date range is empty: from must be before to"));
    }
    Ok(())
}

fn trimmed_contact(
    contact: callvault_contracts::disclosure_api::RequesterContact,
) -> callvault_contracts::disclosure_api::RequesterContact {
    let clean = |value: Option<String>| {
        value
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    callvault_contracts::disclosure_api::RequesterContact {
        name: contact.name.trim().to_owned(),
        email: clean(contact.email),
        phone: clean(contact.phone),
        postal_address: clean(contact.postal_address),
    }
}

pub(super) fn regime_name(regime: Regime) -> &'static str {
    match regime {
        Regime::Gdpr => "GDPR",
        Regime::Appi => "APPI",
    }
}

pub(super) fn parse_regime(raw: &str) -> ApiResult<Regime> {
    match raw {
        "GDPR" => Ok(Regime::Gdpr),
        "APPI" => Ok(Regime::Appi),
        _ => Err(store::corrupt("regime")),
    }
}
