//! Data-subject requests (GDPR, APPI): the disclosure mutations, and the
//! queries `Query` delegates here. Reads need `ReadDisclosure` (a BPO's
//! admins for its tenants, the tenant's compliance officers and auditors);
//! every change and a bundle download need `HandleDisclosure` (the same
//! without auditors). docs/disclosure.md tells the lifecycle; the
//! disclosure service checks every call again, and the states.

use async_graphql::{Context, Object, Result};
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, NaiveDate, Utc};
use tracing::error;
use uuid::Uuid;

use super::disclosure_enums::{IdentityMethod, RefusalGround};
use super::disclosure_inputs::{
    CreateDisclosureRequestInput, DisclosureRequestFilter, RedactionSpanInput, extension_months,
    letter, optional_reason, redaction_spans, register_period, required_reason,
};
use super::disclosure_settings::{DisclosureSettings, DisclosureSettingsInput};
use super::disclosure_types::{DisclosureBundleUrl, DisclosureRequest, RegisterEntry};
use super::scalars::Int64;
use crate::access::{ScopeExt, TenantScope, perm};
use crate::error::coded;
use crate::playback::PlaybackLinks;

/// A handle to read the tenant's requests: FORBIDDEN without
/// `ReadDisclosure` on it.
async fn reader<'c>(
    ctx: &'c Context<'_>,
    tenant_id: Uuid,
) -> Result<TenantScope<'c, perm::ReadDisclosure>> {
    ctx.scope()?
        .tenant(TenantId(tenant_id), perm::ReadDisclosure)
        .await
}

/// A handle to change the tenant's requests: FORBIDDEN without
/// `HandleDisclosure` on it.
async fn handler<'c>(
    ctx: &'c Context<'_>,
    tenant_id: Uuid,
) -> Result<TenantScope<'c, perm::HandleDisclosure>> {
    ctx.scope()?
        .tenant(TenantId(tenant_id), perm::HandleDisclosure)
        .await
}

/// `Query.disclosureSettings`.
pub(super) async fn disclosure_settings(
    ctx: &Context<'_>,
    tenant_id: Uuid,
) -> Result<DisclosureSettings> {
    let settings = reader(ctx, tenant_id).await?.disclosure_settings().await?;
    Ok(settings.into())
}

/// `Query.disclosureRequest`.
pub(super) async fn disclosure_request(
    ctx: &Context<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<DisclosureRequest> {
    let request = reader(ctx, tenant_id).await?.disclosure_request(id).await?;
    Ok(request.into())
}

/// `Query.disclosureRequests`.
pub(super) async fn disclosure_requests(
    ctx: &Context<'_>,
    tenant_id: Uuid,
    filter: Option<DisclosureRequestFilter>,
) -> Result<Vec<DisclosureRequest>> {
    ctx.scope()?;
    let filter = filter.unwrap_or_default().into_api()?;
    let requests = reader(ctx, tenant_id)
        .await?
        .disclosure_requests(filter)
        .await?;
    Ok(requests.into_iter().map(Into::into).collect())
}

/// `Query.disclosureRegister`.
pub(super) async fn disclosure_register(
    ctx: &Context<'_>,
    tenant_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<RegisterEntry>> {
    ctx.scope()?;
    let (from, to) = register_period(from, to)?;
    let entries = reader(ctx, tenant_id)
        .await?
        .disclosure_register(from, to)
        .await?;
    Ok(entries.into_iter().map(Into::into).collect())
}

/// `Query.disclosureRegisterCsv`.
pub(super) async fn disclosure_register_csv(
    ctx: &Context<'_>,
    tenant_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<String> {
    ctx.scope()?;
    let (from, to) = register_period(from, to)?;
    reader(ctx, tenant_id)
        .await?
        .disclosure_register_csv(from, to)
        .await
}

#[derive(Default)]
pub struct DisclosureMutation;

#[Object]
impl DisclosureMutation {
    /// Replaces the tenant's disclosure settings whole. BAD_USER_INPUT for
    /// an APPI limit outside 1–14 days, a bundle retention outside 1–365
    /// days, a due-soon warning outside 1–20 working days or a fee in an
    /// unknown currency.
    async fn set_disclosure_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The new settings.")] input: DisclosureSettingsInput,
    ) -> Result<DisclosureSettings> {
        let settings = handler(ctx, tenant_id)
            .await?
            .set_disclosure_settings(input.into())
            .await?;
        Ok(settings.into())
    }

    /// Records a data-subject request (`RECEIVED`), computes its deadline,
    /// finds the subject's recordings and preserves them from deletion. A
    /// request for the same subject and kind while one is open is created
    /// and flagged (`duplicateOf`).
    async fn create_disclosure_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request as received.")] input: CreateDisclosureRequestInput,
    ) -> Result<DisclosureRequest> {
        ctx.scope()?;
        let input = input.into_api()?;
        let request = handler(ctx, tenant_id)
            .await?
            .create_disclosure_request(input)
            .await?;
        Ok(request.into())
    }

    /// `RECEIVED` → `AWAITING_IDENTITY`: proof of identity was asked for.
    async fn ask_for_identity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
        #[graphql(desc = "Why, if worth recording (1 to 1000 bytes when given).")] reason: Option<
            String,
        >,
    ) -> Result<DisclosureRequest> {
        ctx.scope()?;
        let reason = optional_reason(reason, "reason")?;
        let request = handler(ctx, tenant_id)
            .await?
            .ask_for_identity(id, reason)
            .await?;
        Ok(request.into())
    }

    /// Records a check of the requester's identity (the method and the
    /// outcome only, never the evidence). A verified one moves the request
    /// to `IN_REVIEW`; the third failed one refuses it
    /// (`IDENTITY_NOT_VERIFIED`).
    async fn record_identity_attempt(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
        #[graphql(desc = "How the identity was checked.")] method: IdentityMethod,
        #[graphql(desc = "Whether it was verified.")] verified: bool,
    ) -> Result<DisclosureRequest> {
        let request = handler(ctx, tenant_id)
            .await?
            .record_identity_attempt(id, method.into(), verified)
            .await?;
        Ok(request.into())
    }

    /// A request refused for an unverified identity → `AWAITING_IDENTITY`;
    /// the failed attempts are kept but no longer count.
    async fn reopen_disclosure_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
        #[graphql(desc = "Why (1 to 1000 bytes).")] reason: String,
    ) -> Result<DisclosureRequest> {
        ctx.scope()?;
        let reason = required_reason(&reason, "reason")?;
        let request = handler(ctx, tenant_id)
            .await?
            .reopen_request(id, reason)
            .await?;
        Ok(request.into())
    }

    /// GDPR art. 12(3): extends the deadline once, by one or two months,
    /// only while the first month runs, with the reasons sent to the
    /// requester.
    async fn extend_disclosure_deadline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
        #[graphql(desc = "1 or 2.")] months: i32,
        #[graphql(desc = "The reasons sent to the requester (1 to 1000 bytes).")] reasons: String,
    ) -> Result<DisclosureRequest> {
        ctx.scope()?;
        let months = extension_months(months)?;
        let reasons = required_reason(&reasons, "reasons")?;
        let request = handler(ctx, tenant_id)
            .await?
            .extend_deadline(id, months, reasons)
            .await?;
        Ok(request.into())
    }

    /// Adds one of the tenant's recordings to an open request; it is
    /// preserved.
    async fn add_request_recording(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
        #[graphql(desc = "The recording to add.")] recording_id: Uuid,
        #[graphql(desc = "Why (1 to 1000 bytes).")] reason: String,
    ) -> Result<DisclosureRequest> {
        ctx.scope()?;
        let reason = required_reason(&reason, "reason")?;
        let request = handler(ctx, tenant_id)
            .await?
            .add_request_recording(id, RecordingId(recording_id), reason)
            .await?;
        Ok(request.into())
    }

    /// Removes a recording from an open request; the request no longer
    /// preserves it.
    async fn remove_request_recording(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
        #[graphql(desc = "The recording to remove.")] recording_id: Uuid,
        #[graphql(desc = "Why (1 to 1000 bytes).")] reason: String,
    ) -> Result<DisclosureRequest> {
        ctx.scope()?;
        let reason = required_reason(&reason, "reason")?;
        let request = handler(ctx, tenant_id)
            .await?
            .remove_request_recording(id, RecordingId(recording_id), reason)
            .await?;
        Ok(request.into())
    }

    /// Replaces the reviewer's redaction spans on one of the request's
    /// recordings (`IN_REVIEW` only). Spans must lie inside the recording,
    /// be ordered by start and not overlap on a channel.
    async fn set_redactions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
        #[graphql(desc = "One of the request's recordings.")] recording_id: Uuid,
        #[graphql(desc = "Every span to redact (an empty list removes them all).")] spans: Vec<
            RedactionSpanInput,
        >,
    ) -> Result<DisclosureRequest> {
        ctx.scope()?;
        let spans = redaction_spans(spans)?;
        let request = handler(ctx, tenant_id)
            .await?
            .set_redactions(id, RecordingId(recording_id), spans)
            .await?;
        Ok(request.into())
    }

    /// `IN_REVIEW` → `AWAITING_APPROVAL`: the caller prepared the review.
    async fn submit_disclosure_for_approval(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
    ) -> Result<DisclosureRequest> {
        let request = handler(ctx, tenant_id)
            .await?
            .submit_for_approval(id)
            .await?;
        Ok(request.into())
    }

    /// `AWAITING_APPROVAL` → `IN_REVIEW`, with the reason.
    async fn send_back_disclosure_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
        #[graphql(desc = "What to change (1 to 1000 bytes).")] reason: String,
    ) -> Result<DisclosureRequest> {
        ctx.scope()?;
        let reason = required_reason(&reason, "reason")?;
        let request = handler(ctx, tenant_id)
            .await?
            .send_back_request(id, reason)
            .await?;
        Ok(request.into())
    }

    /// `AWAITING_APPROVAL` → `APPROVED`, by someone other than who prepared
    /// the review (FORBIDDEN otherwise); refused while the tenant's privacy
    /// notice is incomplete. Freezes the recordings and spans; an access or
    /// portability request's bundle starts building.
    async fn approve_disclosure_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
    ) -> Result<DisclosureRequest> {
        let request = handler(ctx, tenant_id).await?.approve_request(id).await?;
        Ok(request.into())
    }

    /// APPI: records whether the published fee was paid.
    async fn record_disclosure_fee(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
        #[graphql(desc = "Whether the fee was paid.")] paid: bool,
    ) -> Result<DisclosureRequest> {
        let request = handler(ctx, tenant_id)
            .await?
            .record_fee_payment(id, paid)
            .await?;
        Ok(request.into())
    }

    /// `APPROVED` → `DELIVERED`. Access and portability: the bundle must
    /// be ready (and an APPI fee paid); erasure: the recordings are erased,
    /// or kept with their reason; restriction: they are restricted.
    async fn deliver_disclosure_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
    ) -> Result<DisclosureRequest> {
        let request = handler(ctx, tenant_id).await?.deliver_request(id).await?;
        Ok(request.into())
    }

    /// `DELIVERED` → `CLOSED`; the request no longer preserves its
    /// recordings.
    async fn close_disclosure_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
        #[graphql(desc = "Why, if worth recording (1 to 1000 bytes when given).")] reason: Option<
            String,
        >,
    ) -> Result<DisclosureRequest> {
        ctx.scope()?;
        let reason = optional_reason(reason, "reason")?;
        let request = handler(ctx, tenant_id)
            .await?
            .close_request(id, reason)
            .await?;
        Ok(request.into())
    }

    /// Any open state → `REFUSED`, on a documented ground, with the text
    /// sent to the requester and the notice of their right to complain.
    async fn refuse_disclosure_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
        #[graphql(desc = "The documented ground.")] ground: RefusalGround,
        #[graphql(desc = "The text sent to the requester (1 to 10000 bytes).")] text: String,
        #[graphql(
            desc = "The notice of the right to complain to the supervisory authority (for APPI, the PPC) sent with it (1 to 10000 bytes)."
        )]
        complaint_notice: String,
    ) -> Result<DisclosureRequest> {
        ctx.scope()?;
        let refusal = callvault_contracts::disclosure_api::Refusal {
            ground: ground.into(),
            text: letter(&text, "text")?,
            complaint_notice: letter(&complaint_notice, "complaintNotice")?,
        };
        let request = handler(ctx, tenant_id)
            .await?
            .refuse_request(id, refusal)
            .await?;
        Ok(request.into())
    }

    /// Any open state → `WITHDRAWN`: the requester withdrew the request.
    async fn withdraw_disclosure_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
        #[graphql(desc = "How the requester withdrew it (1 to 1000 bytes).")] reason: String,
    ) -> Result<DisclosureRequest> {
        ctx.scope()?;
        let reason = required_reason(&reason, "reason")?;
        let request = handler(ctx, tenant_id)
            .await?
            .withdraw_request(id, reason)
            .await?;
        Ok(request.into())
    }

    /// Lifts a delivered restriction request's restriction: its recordings
    /// play again.
    async fn lift_disclosure_restriction(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The restriction request.")] id: Uuid,
        #[graphql(desc = "Why (1 to 1000 bytes).")] reason: String,
    ) -> Result<DisclosureRequest> {
        ctx.scope()?;
        let reason = required_reason(&reason, "reason")?;
        let request = handler(ctx, tenant_id)
            .await?
            .lift_restriction(id, reason)
            .await?;
        Ok(request.into())
    }

    /// A signed, short-lived link to download the request's export bundle,
    /// once it is ready. Each link handed out is audited as an `EXPORT` by
    /// the disclosure service before it is signed.
    async fn disclosure_bundle_url(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The access or portability request.")] request_id: Uuid,
    ) -> Result<DisclosureBundleUrl> {
        let links = ctx.data::<PlaybackLinks>()?;
        let handle = handler(ctx, tenant_id).await?;
        // Authorised (and audited) first: the URL is a capability, minted
        // only once the disclosure service said yes, for the bundle it named.
        let download = handle.authorize_bundle_download(request_id).await?;
        let signed = links.bundle_url(handle.tenant_id().0, download.bundle_id);
        let expires_at = i64::try_from(signed.expires_at)
            .ok()
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
            .ok_or_else(|| {
                error!(
                    expires_at = signed.expires_at,
                    "bundle url expiry out of range"
                );
                coded(ErrorCode::Internal, "internal error")
            })?;
        Ok(DisclosureBundleUrl {
            url: signed.url,
            expires_at,
            file_name: download.file_name,
            size: Int64(download.size),
            sha256: download.sha256,
        })
    }
}
