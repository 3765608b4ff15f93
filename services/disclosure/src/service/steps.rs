//! The steps that move a request through its lifecycle (see
//! [`crate::lifecycle`]): identity, review hand-over, four-eyes approval,
//! closing and withdrawal, and the deadline's extension; the one
//! [`DisclosureService::apply`] every change goes through. Answering a
//! request is in [`super::delivery`].

use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::disclosure_api::{
    DisclosureRequest, IdentityAttempt, IdentityMethod, Refusal, RefusalGround, Regime,
    RequestKind, RequestState, Transition,
};
use callvault_contracts::events::{DisclosureClosedV1, DisclosureDeliveredV1, DisclosureRequestV1};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode, Tenant};
use callvault_contracts::ops::disclosure::{
    ApproveRequest, AskForIdentity, CloseRequest, ExtendDeadline, RecordIdentityAttempt,
    ReopenRequest, SendBackRequest, SubmitForApproval, WithdrawRequest,
};
use callvault_contracts::ops::subject::{DisclosureAuditAction, RecordDisclosureAudit};
use callvault_contracts::permissions::Permission;
use callvault_contracts::{Actor, TenantId};
use sea_orm::TransactionTrait;
use uuid::Uuid;

use super::{DisclosureService, bad_input, required_reason, store};
use crate::db::entity::request;
use crate::db::{db_time, internal};
use crate::deadline::Pause;
use crate::deadlines;
use crate::doc::RequestDoc;
use crate::lifecycle::{Step, reopenable, state_name};

/// Failed identity checks that end a request.
const MAX_FAILED_IDENTITY_CHECKS: u32 = 3;

pub(super) fn routes(router: &mut Router, service: &Arc<DisclosureService>) {
    router
        .route(service, |s, r: AskForIdentity| async move {
            let reason = r
                .reason
                .map(|reason| required_reason(&reason))
                .transpose()?;
            s.simple_step(&r.actor, r.tenant, r.id, Step::AskForIdentity, reason)
                .await
        })
        .route(service, |s, r: RecordIdentityAttempt| async move {
            s.identity_attempt(&r.actor, r.tenant, r.id, r.method, r.verified)
                .await
        })
        .route(service, |s, r: ReopenRequest| async move {
            let reason = required_reason(&r.reason)?;
            s.simple_step(&r.actor, r.tenant, r.id, Step::Reopen, Some(reason))
                .await
        })
        .route(service, |s, r: ExtendDeadline| async move {
            s.extend(&r.actor, r.tenant, r.id, r.months, &r.reasons)
                .await
        })
        .route(service, |s, r: SubmitForApproval| async move {
            s.simple_step(&r.actor, r.tenant, r.id, Step::Submit, None)
                .await
        })
        .route(service, |s, r: SendBackRequest| async move {
            let reason = required_reason(&r.reason)?;
            s.simple_step(&r.actor, r.tenant, r.id, Step::SendBack, Some(reason))
                .await
        })
        .route(service, |s, r: ApproveRequest| async move {
            s.approve(&r.actor, r.tenant, r.id).await
        })
        .route(service, |s, r: CloseRequest| async move {
            let reason = r
                .reason
                .map(|reason| required_reason(&reason))
                .transpose()?;
            s.simple_step(&r.actor, r.tenant, r.id, Step::Close, reason)
                .await
        })
        .route(service, |s, r: WithdrawRequest| async move {
            let reason = required_reason(&r.reason)?;
            s.simple_step(&r.actor, r.tenant, r.id, Step::Withdraw, Some(reason))
                .await
        });
}

/// A change to apply: the step (or none: the state stays), the reason, and
/// what else the audit entry says.
pub(super) struct Change {
    pub step: Option<Step>,
    pub reason: Option<String>,
    pub details: serde_json::Value,
}

impl DisclosureService {
    /// Loads the request, lets `edit` change its document, moves it by
    /// `change.step`, and writes it with its audit entry and event in one
    /// transaction. Nothing changes when `edit` or the step refuses.
    pub(super) async fn apply(
        &self,
        actor: &Actor,
        tenant: &Tenant,
        id: Uuid,
        edit: impl FnOnce(&request::Model, RequestState, &mut RequestDoc) -> ApiResult<Change>,
    ) -> ApiResult<DisclosureRequest> {
        let now = self.now();
        let (row, mut doc) = store::load(&self.db, tenant.id, id).await?;
        let from = store::state_of(&row)?;
        let change = edit(&row, from, &mut doc)?;
        let to = match change.step {
            Some(step) => step.check(from)?,
            None => from,
        };
        if let Some(step) = change.step {
            doc.transitions.push(Transition {
                from: Some(from),
                to,
                at: db_time(now),
                actor: actor.subject.clone(),
                role: actor.role.as_str().to_owned(),
                reason: change.reason.clone(),
            });
            tracing::info!(tenant_id = %tenant.id, request_id = %id, ?step, to = state_name(to), "disclosure request moved");
        }
        let mut details = change.details;
        if let Some(map) = details.as_object_mut() {
            map.insert("from".into(), state_name(from).into());
            map.insert("to".into(), state_name(to).into());
        }
        let audit = RecordDisclosureAudit {
            actor: actor.clone(),
            tenant: tenant.id,
            action: DisclosureAuditAction::Disclosure,
            target: id.to_string(),
            reason: change.reason,
            details,
        };
        let event = DisclosureRequestV1 {
            tenant_id: tenant.id,
            request_id: id,
            kind: store::parse_kind(&row.kind)?,
            regime: super::intake::parse_regime(&row.regime)?,
            state: to,
            received_at: row.received_at,
            due_date: doc.deadline.due_date,
            at: db_time(now),
        };
        let txn = self.db.begin().await.map_err(internal)?;
        store::update(&txn, &row, to, &doc, now).await?;
        // Any change may change what is preserved (a recording added or
        // removed, a state left): the sync after commit settles it.
        store::set_preservation_synced(&txn, id, false).await?;
        store::queue_audit(&txn, tenant.id, &audit, now).await?;
        match to {
            _ if from == to => {}
            RequestState::Delivered => store::publish(&txn, &DisclosureDeliveredV1(event)).await?,
            RequestState::Closed | RequestState::Refused | RequestState::Withdrawn => {
                store::publish(&txn, &DisclosureClosedV1(event)).await?
            }
            _ => {}
        }
        txn.commit().await.map_err(internal)?;
        if matches!(to, RequestState::Refused | RequestState::Withdrawn)
            && let Some(bundle) = doc.bundle_id
        {
            // Never handed out: nothing to keep it for.
            self.expire_bundle(tenant.id, bundle).await?;
        }
        self.after_change(tenant.id, id).await;
        self.reply(tenant, id).await
    }

    async fn simple_step(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        id: Uuid,
        step: Step,
        reason: Option<String>,
    ) -> ApiResult<DisclosureRequest> {
        let tenant = self
            .authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        let today = deadlines::today(self.now(), &tenant.time_zone)?;
        let subject = actor.subject.clone();
        self.apply(actor, &tenant, id, move |_, _, doc| {
            match step {
                Step::AskForIdentity => doc.identity_wait_since = Some(today),
                Step::Reopen => {
                    if !reopenable(doc.refusal.as_ref().map(|r| r.ground)) {
                        return Err(ApiError::new(
                            ErrorCode::Conflict,
                            "only a refusal for an unverified identity can be reopened",
                        ));
                    }
                    doc.refusal = None;
                    doc.failed_attempts = 0;
                    doc.identity_wait_since = Some(today);
                }
                Step::Submit => doc.prepared_by = Some(subject),
                Step::SendBack => doc.approved_by = None,
                _ => {}
            }
            Ok(Change {
                step: Some(step),
                reason,
                details: serde_json::json!({ "step": step.label() }),
            })
        })
        .await
    }

    async fn identity_attempt(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        id: Uuid,
        method: IdentityMethod,
        verified: bool,
    ) -> ApiResult<DisclosureRequest> {
        let tenant = self
            .authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        let settings = self.settings_of(tenant_id).await?;
        let now = self.now();
        let today = deadlines::today(now, &tenant.time_zone)?;
        let zone = tenant.time_zone.clone();
        let recorded_by = actor.subject.clone();
        self.apply(actor, &tenant, id, move |row, from, doc| {
            // Attempts belong before the review: checked here so a refused
            // attempt records nothing.
            if !matches!(
                from,
                RequestState::Received | RequestState::AwaitingIdentity
            ) {
                return Err(Step::IdentityVerified.check(from).err().unwrap_or_else(|| {
                    ApiError::new(ErrorCode::Conflict, "identity is already settled")
                }));
            }
            doc.identity_attempts.push(IdentityAttempt {
                at: db_time(now),
                method,
                verified,
                recorded_by,
            });
            let details = serde_json::json!({
                "step": "identity_attempt",
                "method": format!("{method:?}"),
                "verified": verified,
            });
            if verified {
                if let Some(since) = doc.identity_wait_since.take() {
                    doc.identity_pauses.push(Pause {
                        asked: since,
                        answered: today,
                    });
                    doc.deadline = recompute(row, &zone, &settings, doc)?;
                }
                return Ok(Change {
                    step: Some(Step::IdentityVerified),
                    reason: None,
                    details,
                });
            }
            doc.failed_attempts += 1;
            if doc.failed_attempts < MAX_FAILED_IDENTITY_CHECKS {
                return Ok(Change {
                    step: None,
                    reason: None,
                    details,
                });
            }
            // The wait ends with the refusal: a reopened request starts a
            // new one, and the days waited so far still count.
            if let Some(since) = doc.identity_wait_since.take() {
                doc.identity_pauses.push(Pause {
                    asked: since,
                    answered: today,
                });
                doc.deadline = recompute(row, &zone, &settings, doc)?;
            }
            doc.refusal = Some(Refusal {
                ground: RefusalGround::IdentityNotVerified,
                text: "We could not verify your identity after three attempts, so we cannot \
                       answer your request. You may make a new request."
                    .into(),
                complaint_notice: complaint_notice(regime_of(row)?),
            });
            Ok(Change {
                step: Some(Step::IdentityFailedThreeTimes),
                reason: Some("identity not verified after three attempts".into()),
                details,
            })
        })
        .await
    }

    async fn extend(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        id: Uuid,
        months: u32,
        reasons: &str,
    ) -> ApiResult<DisclosureRequest> {
        let reasons = required_reason(reasons)?;
        let tenant = self
            .authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        let settings = self.settings_of(tenant_id).await?;
        let today = deadlines::today(self.now(), &tenant.time_zone)?;
        let zone = tenant.time_zone.clone();
        self.apply(actor, &tenant, id, move |row, from, doc| {
            if !from.is_open() {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "only an open request's deadline can be extended",
                ));
            }
            if regime_of(row)? != Regime::Gdpr {
                return Err(bad_input(
                    "only a GDPR deadline can be extended (APPI asks for an answer without delay)",
                ));
            }
            if doc.extension.is_some() {
                return Err(bad_input("the deadline was extended already: once only"));
            }
            doc.extension = Some((months, reasons.clone(), today));
            doc.deadline = recompute(row, &zone, &settings, doc)?;
            Ok(Change {
                step: None,
                reason: Some(reasons.clone()),
                details: serde_json::json!({
                    "step": "deadline_extended",
                    "months": months,
                    "due_date": doc.deadline.due_date.to_string(),
                }),
            })
        })
        .await
    }

    async fn approve(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        id: Uuid,
    ) -> ApiResult<DisclosureRequest> {
        let tenant = self
            .authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        let settings = self.settings_of(tenant_id).await?;
        let approver = actor.subject.clone();
        let has_builder = self.bundles.is_some();
        let bundle_id = Uuid::new_v4();
        let mut builds_bundle = false;
        let reply = self
            .apply(actor, &tenant, id, |row, from, doc| {
                Step::Approve.check(from)?;
                if doc.prepared_by.as_deref() == Some(approver.as_str()) {
                    return Err(ApiError::new(
                        ErrorCode::Forbidden,
                        "four eyes: the approver must not be the one who prepared the review",
                    ));
                }
                if !settings.privacy.is_complete() {
                    return Err(ApiError::new(
                        ErrorCode::Conflict,
                        "the tenant's privacy notice is incomplete: fill in every field in \
                         English and Japanese first",
                    ));
                }
                let kind = store::parse_kind(&row.kind)?;
                if matches!(kind, RequestKind::Access | RequestKind::Portability) {
                    if !has_builder {
                        return Err(ApiError::new(
                            ErrorCode::Unavailable,
                            "export bundles can't be built here",
                        ));
                    }
                    doc.bundle_id = Some(bundle_id);
                    builds_bundle = true;
                }
                doc.approved_by = Some(approver.clone());
                Ok(Change {
                    step: Some(Step::Approve),
                    reason: None,
                    details: serde_json::json!({
                        "step": "approved",
                        "recordings": doc.included().count(),
                        "spans": doc.included().map(|r| r.redactions.len()).sum::<usize>(),
                    }),
                })
            })
            .await;
        let reply = reply?;
        if builds_bundle {
            self.start_bundle(&tenant, id, bundle_id).await?;
            return self.reply(&tenant, id).await;
        }
        Ok(reply)
    }
}

/// The deadline again from the receipt, the identity waits and the
/// extension: one computation, whatever happened in between.
fn recompute(
    row: &request::Model,
    zone: &str,
    settings: &callvault_contracts::disclosure_api::DisclosureSettings,
    doc: &RequestDoc,
) -> ApiResult<callvault_contracts::disclosure_api::Deadline> {
    let extension =
        doc.extension
            .as_ref()
            .map(|(months, reasons, asked_on)| deadlines::Extension {
                months: *months,
                reasons,
                asked_on: *asked_on,
            });
    deadlines::compute(
        regime_of(row)?,
        row.received_at,
        zone,
        settings,
        &doc.identity_pauses,
        extension,
    )
}

fn regime_of(row: &request::Model) -> ApiResult<Regime> {
    super::intake::parse_regime(&row.regime)
}

pub(super) fn required_text(text: &str, what: &str) -> ApiResult<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(bad_input(format!("{what} is required")));
    }
    if text.chars().count() > 10_000 {
        return Err(bad_input(format!("{what} is longer than 10000 characters")));
    }
    Ok(text.to_owned())
}

/// The notice sent with a refusal for an unverified identity.
fn complaint_notice(regime: Regime) -> String {
    match regime {
        Regime::Gdpr => "You have the right to lodge a complaint with a supervisory authority \
                         (GDPR art. 77) and to seek a judicial remedy (art. 79)."
            .into(),
        Regime::Appi => "個人情報保護委員会（Personal Information Protection Commission）に相談・\
                         苦情を申し出ることができます。You may contact the Personal Information \
                         Protection Commission of Japan."
            .into(),
    }
}
