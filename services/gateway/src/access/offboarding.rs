//! The offboarding handle: a tenant's export, its offboarding and the
//! signed certificate. Every answer is checked to be about the handle's
//! tenant.

use callvault_contracts::ops::offboarding::{
    ExportTenant, GetOffboardingCertificate, OffboardTenant, OffboardingCertificate, TenantExport,
};

use super::handles::TenantScope;
use super::perm;
use crate::error::from_api;

type Result<T> = async_graphql::Result<T>;

impl TenantScope<'_, perm::OffboardTenants> {
    pub async fn export_tenant(&self) -> Result<TenantExport> {
        let export = self
            .rpc
            .call(ExportTenant {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)?;
        self.check_tenant(export.tenant_id, "export")?;
        Ok(export)
    }

    pub async fn offboard_tenant(&self, confirm: String) -> Result<OffboardingCertificate> {
        let certificate = self
            .rpc
            .call(OffboardTenant {
                actor: self.actor.clone(),
                tenant: self.tenant,
                confirm,
            })
            .await
            .map_err(from_api)?;
        self.check_tenant(certificate.tenant_id, "offboarding certificate")?;
        Ok(certificate)
    }

    pub async fn offboarding_certificate(&self) -> Result<OffboardingCertificate> {
        let certificate = self
            .rpc
            .call(GetOffboardingCertificate {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)?;
        self.check_tenant(certificate.tenant_id, "offboarding certificate")?;
        Ok(certificate)
    }
}
