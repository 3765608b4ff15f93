//! A tenant's disclosure settings: regime, APPI limit, clock stop, closed
//! days, fee, agent names, bundle retention, and the privacy notice the
//! bundles quote.

use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::disclosure_api::DisclosureSettings;
use callvault_contracts::metadata_api::ApiResult;
use callvault_contracts::ops::disclosure::{GetDisclosureSettings, SetDisclosureSettings};
use callvault_contracts::permissions::Permission;
use callvault_contracts::{Actor, TenantId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use super::{DisclosureService, bad_input, store};
use crate::db::entity::settings;
use crate::db::{db_time, internal};

/// Currencies a fee may be published in (ISO 4217).
const CURRENCIES: [&str; 3] = ["JPY", "USD", "EUR"];

pub(super) fn routes(router: &mut Router, service: &Arc<DisclosureService>) {
    router
        .route(service, |s, r: GetDisclosureSettings| async move {
            s.authorize(&r.actor, Permission::ReadDisclosure, r.tenant)
                .await?;
            s.settings_of(r.tenant).await
        })
        .route(service, |s, r: SetDisclosureSettings| async move {
            s.set_settings(&r.actor, r.tenant, r.settings).await
        });
}

impl DisclosureService {
    /// The tenant's settings, or the defaults.
    pub(super) async fn settings_of(&self, tenant: TenantId) -> ApiResult<DisclosureSettings> {
        let row = settings::Entity::find_by_id(tenant.0)
            .one(&self.db)
            .await
            .map_err(internal)?;
        match row {
            Some(row) => {
                serde_json::from_str(&row.settings).map_err(|_| store::corrupt("settings"))
            }
            None => Ok(DisclosureSettings::default()),
        }
    }

    async fn set_settings(
        &self,
        actor: &Actor,
        tenant: TenantId,
        mut new: DisclosureSettings,
    ) -> ApiResult<DisclosureSettings> {
        self.authorize(actor, Permission::HandleDisclosure, tenant)
            .await?;
        check(&new)?;
        new.closed_days.sort();
        new.closed_days.dedup();
        let row = settings::ActiveModel {
            tenant_id: Set(tenant.0),
            settings: Set(serde_json::to_string(&new).map_err(|_| store::corrupt("settings"))?),
            updated_at: Set(db_time(self.now())),
            updated_by: Set(actor.subject.clone()),
        };
        settings::Entity::insert(row)
            .on_conflict(
                OnConflict::column(settings::Column::TenantId)
                    .update_columns([
                        settings::Column::Settings,
                        settings::Column::UpdatedAt,
                        settings::Column::UpdatedBy,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(internal)?;
        tracing::info!(tenant_id = %tenant, "disclosure settings changed");
        Ok(new)
    }
}

fn check(settings: &DisclosureSettings) -> ApiResult<()> {
    if !(1..=14).contains(&settings.appi_limit_days) {
        return Err(bad_input(
            "appiLimitDays must be 1 to 14 (APPI art. 39: two weeks)",
        ));
    }
    if !(1..=365).contains(&settings.bundle_retention_days) {
        return Err(bad_input("bundleRetentionDays must be 1 to 365"));
    }
    if !(1..=20).contains(&settings.due_soon_working_days) {
        return Err(bad_input("dueSoonWorkingDays must be 1 to 20"));
    }
    if settings.closed_days.len() > 1000 {
        return Err(bad_input("at most 1000 closed days"));
    }
    if let Some(fee) = &settings.appi_fee {
        if !CURRENCIES.contains(&fee.currency.as_str()) {
            return Err(bad_input("the fee's currency must be JPY, USD or EUR"));
        }
        if fee.amount == 0 {
            return Err(bad_input("a fee of zero is no fee: leave it out"));
        }
    }
    let texts = [
        &settings.privacy.purposes,
        &settings.privacy.categories,
        &settings.privacy.recipients,
        &settings.privacy.retention,
        &settings.privacy.source,
        &settings.privacy.rights,
    ];
    if texts
        .iter()
        .any(|text| text.en.chars().count() > 10_000 || text.ja.chars().count() > 10_000)
    {
        return Err(bad_input(
            "a privacy notice text is longer than 10000 characters",
        ));
    }
    Ok(())
}
