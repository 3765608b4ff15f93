//! Answering a request: the APPI fee, delivery per kind (the bundle handed
//! over, the erasure or the restriction done through metadata), refusal,
//! and lifting a restriction.

use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::disclosure_api::{BundleState, DisclosureRequest, Refusal, RequestKind};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::ops::disclosure::{
    DeliverRequest, LiftRestriction, RecordFeePayment, RefuseRequest,
};
use callvault_contracts::ops::subject::{EraseForRequest, RestrictRecordings};
use callvault_contracts::permissions::Permission;
use callvault_contracts::{Actor, TenantId};
use uuid::Uuid;

use super::steps::{Change, required_text};
use super::{DisclosureService, bad_input, required_reason, store};
use crate::lifecycle::Step;

pub(super) fn routes(router: &mut Router, service: &Arc<DisclosureService>) {
    router
        .route(service, |s, r: RecordFeePayment| async move {
            s.record_fee(&r.actor, r.tenant, r.id, r.paid).await
        })
        .route(service, |s, r: DeliverRequest| async move {
            s.deliver(&r.actor, r.tenant, r.id).await
        })
        .route(service, |s, r: RefuseRequest| async move {
            s.refuse(&r.actor, r.tenant, r.id, r.refusal).await
        })
        .route(service, |s, r: LiftRestriction| async move {
            s.lift_restriction(&r.actor, r.tenant, r.id, &r.reason)
                .await
        });
}

impl DisclosureService {
    async fn record_fee(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        id: Uuid,
        paid: bool,
    ) -> ApiResult<DisclosureRequest> {
        let tenant = self
            .authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        self.apply(actor, &tenant, id, move |_, from, doc| {
            if doc.fee.is_none() {
                return Err(bad_input("this request has no fee"));
            }
            if !from.is_open() {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "the request is answered",
                ));
            }
            doc.fee_paid = paid;
            Ok(Change {
                step: None,
                reason: None,
                details: serde_json::json!({ "step": "fee", "paid": paid }),
            })
        })
        .await
    }

    async fn deliver(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        id: Uuid,
    ) -> ApiResult<DisclosureRequest> {
        let tenant = self
            .authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        let (row, doc) = store::load(&self.db, tenant_id, id).await?;
        Step::Deliver.check(store::state_of(&row)?)?;
        let ids: Vec<_> = doc.included().map(|r| r.recording_id).collect();
        let reason = format!("disclosure request {id}");
        let mut erasure = None;
        let mut restricted = false;
        match store::parse_kind(&row.kind)? {
            RequestKind::Access | RequestKind::Portability => {
                if doc.fee.is_some() && !doc.fee_paid {
                    return Err(ApiError::new(
                        ErrorCode::Conflict,
                        "the disclosure fee is not paid",
                    ));
                }
                let bundle = match doc.bundle_id {
                    Some(bundle) => self.bundle_info(tenant_id, bundle).await?,
                    None => None,
                };
                if bundle.as_ref().map(|b| b.state) != Some(BundleState::Ready) {
                    return Err(ApiError::new(
                        ErrorCode::Conflict,
                        "the export bundle is not ready yet",
                    ));
                }
            }
            RequestKind::Erasure if ids.is_empty() => {
                erasure = Some(callvault_contracts::ops::subject::ErasureOutcome {
                    erased: Vec::new(),
                    retained: Vec::new(),
                    certificate_id: None,
                });
            }
            RequestKind::Restriction if ids.is_empty() => restricted = true,
            RequestKind::Erasure => {
                let outcome = self
                    .metadata
                    .call(EraseForRequest {
                        actor: actor.clone(),
                        tenant: tenant_id,
                        request: id,
                        ids,
                    })
                    .await?;
                erasure = Some(outcome);
            }
            RequestKind::Restriction => {
                self.metadata
                    .call(RestrictRecordings {
                        actor: actor.clone(),
                        tenant: tenant_id,
                        request: id,
                        ids,
                        restricted: true,
                        reason,
                    })
                    .await?;
                restricted = true;
            }
        }
        let bundle_id = doc.bundle_id;
        let reply = self
            .apply(actor, &tenant, id, move |_, _, doc| {
                if let Some(outcome) = erasure {
                    doc.erasure = Some(outcome);
                }
                if restricted {
                    doc.restriction_active = true;
                }
                let erased = doc.erasure.as_ref().map(|e| e.erased.len());
                let retained = doc.erasure.as_ref().map(|e| e.retained.len());
                Ok(Change {
                    step: Some(Step::Deliver),
                    reason: None,
                    details: serde_json::json!({
                        "step": "delivered",
                        "erased": erased,
                        "retained": retained,
                        "restricted": restricted,
                    }),
                })
            })
            .await?;
        if let Some(bundle) = bundle_id {
            self.bundle_delivered(tenant_id, bundle).await?;
            return self.reply(&tenant, id).await;
        }
        Ok(reply)
    }

    async fn refuse(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        id: Uuid,
        refusal: Refusal,
    ) -> ApiResult<DisclosureRequest> {
        let refusal = Refusal {
            ground: refusal.ground,
            text: required_text(&refusal.text, "the text sent to the requester")?,
            complaint_notice: required_text(
                &refusal.complaint_notice,
                "the notice of the right to complain",
            )?,
        };
        let tenant = self
            .authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        self.apply(actor, &tenant, id, move |_, _, doc| {
            let ground = refusal.ground;
            doc.refusal = Some(refusal);
            Ok(Change {
                step: Some(Step::Refuse),
                reason: Some(format!("{ground:?}")),
                details: serde_json::json!({ "step": "refused", "ground": format!("{ground:?}") }),
            })
        })
        .await
    }

    async fn lift_restriction(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        id: Uuid,
        reason: &str,
    ) -> ApiResult<DisclosureRequest> {
        let reason = required_reason(reason)?;
        let tenant = self
            .authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        let (row, doc) = store::load(&self.db, tenant_id, id).await?;
        if store::parse_kind(&row.kind)? != RequestKind::Restriction || !doc.restriction_active {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "no restriction of this request is in force",
            ));
        }
        let ids: Vec<_> = doc.included().map(|r| r.recording_id).collect();
        if !ids.is_empty() {
            self.metadata
                .call(RestrictRecordings {
                    actor: actor.clone(),
                    tenant: tenant_id,
                    request: id,
                    ids,
                    restricted: false,
                    reason: reason.clone(),
                })
                .await?;
        }
        self.apply(actor, &tenant, id, move |_, _, doc| {
            doc.restriction_active = false;
            Ok(Change {
                step: None,
                reason: Some(reason),
                details: serde_json::json!({ "step": "restriction_lifted" }),
            })
        })
        .await
    }
}
