//! The disclosure handles: data-subject requests (GDPR, APPI), the tenant's
//! disclosure settings and the register. `ReadDisclosure` reads them;
//! `HandleDisclosure` changes them, and authorises a bundle download (a
//! download is an export of personal data, not a read).
//!
//! Every answer that names a tenant is checked to be about the handle's
//! tenant, and every request answer to be the request asked about: a
//! disclosure service that answered otherwise is our fault, reported as
//! INTERNAL and never passed on. (The settings, the register and its CSV
//! carry no tenant to check; they are asked for this tenant only.)

use callvault_contracts::RecordingId;
use callvault_contracts::disclosure_api::{
    BundleDownload, DisclosureFilter, DisclosureRequest, DisclosureSettings, IdentityMethod,
    NewDisclosureRequest, RedactionSpan, Refusal, RegisterEntry,
};
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::disclosure::{
    AddRequestRecording, ApproveRequest, AskForIdentity, AuthorizeBundleDownload, CloseRequest,
    CreateDisclosureRequest, DeliverRequest, ExtendDeadline, GetDisclosureRegister,
    GetDisclosureRegisterCsv, GetDisclosureRequest, GetDisclosureSettings, LiftRestriction,
    ListDisclosureRequests, RecordFeePayment, RecordIdentityAttempt, RefuseRequest,
    RemoveRequestRecording, ReopenRequest, SendBackRequest, SetDisclosureSettings, SetRedactions,
    SubmitForApproval, WithdrawRequest,
};
use callvault_contracts::rpc::Rpc;
use chrono::NaiveDate;
use tracing::error;
use uuid::Uuid;

use super::handles::TenantScope;
use super::perm;
use crate::error::{coded, from_api};

type Result<T> = async_graphql::Result<T>;

impl<P> TenantScope<'_, P> {
    /// `request` must be about this tenant, and be the one asked about.
    fn check_request(&self, request: &DisclosureRequest, asked: Option<Uuid>) -> Result<()> {
        self.check_tenant(request.tenant_id, "disclosure request")?;
        if asked.is_some_and(|asked| asked != request.id) {
            error!(tenant = %self.tenant, returned = %request.id, "disclosure answered for another request");
            return Err(coded(ErrorCode::Internal, "internal error"));
        }
        Ok(())
    }

    /// Calls a change of request `id` and checks the answer.
    async fn change<R>(&self, id: Uuid, change: R) -> Result<DisclosureRequest>
    where
        R: Rpc<Reply = DisclosureRequest>,
    {
        let request = self.rpc.call(change).await.map_err(from_api)?;
        self.check_request(&request, Some(id))?;
        Ok(request)
    }
}

impl TenantScope<'_, perm::ReadDisclosure> {
    /// The tenant's settings (the defaults until set).
    pub async fn disclosure_settings(&self) -> Result<DisclosureSettings> {
        self.rpc
            .call(GetDisclosureSettings {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)
    }

    pub async fn disclosure_request(&self, id: Uuid) -> Result<DisclosureRequest> {
        let request = GetDisclosureRequest {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
        };
        let request = self.rpc.call(request).await.map_err(from_api)?;
        self.check_request(&request, Some(id))?;
        Ok(request)
    }

    pub async fn disclosure_requests(
        &self,
        filter: DisclosureFilter,
    ) -> Result<Vec<DisclosureRequest>> {
        let requests = self
            .rpc
            .call(ListDisclosureRequests {
                actor: self.actor.clone(),
                tenant: self.tenant,
                filter,
            })
            .await
            .map_err(from_api)?;
        for request in &requests {
            self.check_request(request, None)?;
        }
        Ok(requests)
    }

    /// The register of requests received in `[from, to]`.
    pub async fn disclosure_register(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<RegisterEntry>> {
        self.rpc
            .call(GetDisclosureRegister {
                actor: self.actor.clone(),
                tenant: self.tenant,
                from,
                to,
            })
            .await
            .map_err(from_api)
    }

    /// The same register as CSV.
    pub async fn disclosure_register_csv(&self, from: NaiveDate, to: NaiveDate) -> Result<String> {
        self.rpc
            .call(GetDisclosureRegisterCsv {
                actor: self.actor.clone(),
                tenant: self.tenant,
                from,
                to,
            })
            .await
            .map_err(from_api)
    }
}

impl TenantScope<'_, perm::HandleDisclosure> {
    pub async fn set_disclosure_settings(
        &self,
        settings: DisclosureSettings,
    ) -> Result<DisclosureSettings> {
        self.rpc
            .call(SetDisclosureSettings {
                actor: self.actor.clone(),
                tenant: self.tenant,
                settings,
            })
            .await
            .map_err(from_api)
    }

    pub async fn create_disclosure_request(
        &self,
        request: NewDisclosureRequest,
    ) -> Result<DisclosureRequest> {
        let created = self
            .rpc
            .call(CreateDisclosureRequest {
                actor: self.actor.clone(),
                tenant: self.tenant,
                request,
            })
            .await
            .map_err(from_api)?;
        self.check_request(&created, None)?;
        Ok(created)
    }

    pub async fn ask_for_identity(
        &self,
        id: Uuid,
        reason: Option<String>,
    ) -> Result<DisclosureRequest> {
        let change = AskForIdentity {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            reason,
        };
        self.change(id, change).await
    }

    pub async fn record_identity_attempt(
        &self,
        id: Uuid,
        method: IdentityMethod,
        verified: bool,
    ) -> Result<DisclosureRequest> {
        let change = RecordIdentityAttempt {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            method,
            verified,
        };
        self.change(id, change).await
    }

    pub async fn reopen_request(&self, id: Uuid, reason: String) -> Result<DisclosureRequest> {
        let change = ReopenRequest {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            reason,
        };
        self.change(id, change).await
    }

    pub async fn extend_deadline(
        &self,
        id: Uuid,
        months: u32,
        reasons: String,
    ) -> Result<DisclosureRequest> {
        let change = ExtendDeadline {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            months,
            reasons,
        };
        self.change(id, change).await
    }

    pub async fn add_request_recording(
        &self,
        id: Uuid,
        recording: RecordingId,
        reason: String,
    ) -> Result<DisclosureRequest> {
        let change = AddRequestRecording {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            recording,
            reason,
        };
        self.change(id, change).await
    }

    pub async fn remove_request_recording(
        &self,
        id: Uuid,
        recording: RecordingId,
        reason: String,
    ) -> Result<DisclosureRequest> {
        let change = RemoveRequestRecording {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            recording,
            reason,
        };
        self.change(id, change).await
    }

    pub async fn set_redactions(
        &self,
        id: Uuid,
        recording: RecordingId,
        spans: Vec<RedactionSpan>,
    ) -> Result<DisclosureRequest> {
        let change = SetRedactions {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            recording,
            spans,
        };
        self.change(id, change).await
    }

    pub async fn submit_for_approval(&self, id: Uuid) -> Result<DisclosureRequest> {
        let change = SubmitForApproval {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
        };
        self.change(id, change).await
    }

    pub async fn send_back_request(&self, id: Uuid, reason: String) -> Result<DisclosureRequest> {
        let change = SendBackRequest {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            reason,
        };
        self.change(id, change).await
    }

    /// Approves the review; the service refuses an approval of one's own
    /// review (FORBIDDEN).
    pub async fn approve_request(&self, id: Uuid) -> Result<DisclosureRequest> {
        let change = ApproveRequest {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
        };
        self.change(id, change).await
    }

    pub async fn record_fee_payment(&self, id: Uuid, paid: bool) -> Result<DisclosureRequest> {
        let change = RecordFeePayment {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            paid,
        };
        self.change(id, change).await
    }

    pub async fn deliver_request(&self, id: Uuid) -> Result<DisclosureRequest> {
        let change = DeliverRequest {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
        };
        self.change(id, change).await
    }

    pub async fn close_request(
        &self,
        id: Uuid,
        reason: Option<String>,
    ) -> Result<DisclosureRequest> {
        let change = CloseRequest {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            reason,
        };
        self.change(id, change).await
    }

    pub async fn refuse_request(&self, id: Uuid, refusal: Refusal) -> Result<DisclosureRequest> {
        let change = RefuseRequest {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            refusal,
        };
        self.change(id, change).await
    }

    pub async fn withdraw_request(&self, id: Uuid, reason: String) -> Result<DisclosureRequest> {
        let change = WithdrawRequest {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            reason,
        };
        self.change(id, change).await
    }

    pub async fn lift_restriction(&self, id: Uuid, reason: String) -> Result<DisclosureRequest> {
        let change = LiftRestriction {
            actor: self.actor.clone(),
            tenant: self.tenant,
            id,
            reason,
        };
        self.change(id, change).await
    }

    /// Authorises (and has the service audit) a download of request `id`'s
    /// bundle. The caller signs the link only after this said yes, and for
    /// the bundle it named.
    pub async fn authorize_bundle_download(&self, id: Uuid) -> Result<BundleDownload> {
        let download = self
            .rpc
            .call(AuthorizeBundleDownload {
                actor: self.actor.clone(),
                tenant: self.tenant,
                id,
            })
            .await
            .map_err(from_api)?;
        if download.request_id != id {
            error!(tenant = %self.tenant, returned = %download.request_id, "disclosure authorised another request's bundle");
            return Err(coded(ErrorCode::Internal, "internal error"));
        }
        Ok(download)
    }
}
