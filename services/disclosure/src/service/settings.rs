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
use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};

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
        // Which parts changed, for the audit chain: names, not the texts.
        let before = self.settings_of(tenant).await?;
        let changed = changed_parts(&before, &new);
        let audit = callvault_contracts::ops::subject::RecordDisclosureAudit {
            actor: actor.clone(),
            tenant,
            action: callvault_contracts::ops::subject::DisclosureAuditAction::Disclosure,
            target: "settings".to_owned(),
            reason: None,
            details: serde_json::json!({ "step": "settings_changed", "changed": changed }),
        };
        let txn = self.db.begin().await.map_err(internal)?;
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
            .exec_without_returning(&txn)
            .await
            .map_err(internal)?;
        store::queue_audit(&txn, tenant, &audit, self.now()).await?;
        txn.commit().await.map_err(internal)?;
        if let Err(err) = self.flush_audit(Some(tenant)).await {
            tracing::warn!(tenant_id = %tenant, code = err.code.as_str(), "disclosure audit entries wait for the next pass");
        }
        tracing::info!(tenant_id = %tenant, "disclosure settings changed");
        Ok(new)
    }
}

/// The names of the settings that differ.
fn changed_parts(before: &DisclosureSettings, after: &DisclosureSettings) -> Vec<&'static str> {
    let parts: [(&'static str, bool); 11] = [
        (
            "default_regime",
            before.default_regime != after.default_regime,
        ),
        (
            "appi_limit_days",
            before.appi_limit_days != after.appi_limit_days,
        ),
        (
            "gdpr_identity_stops_clock",
            before.gdpr_identity_stops_clock != after.gdpr_identity_stops_clock,
        ),
        (
            "appi_identity_stops_clock",
            before.appi_identity_stops_clock != after.appi_identity_stops_clock,
        ),
        (
            "japanese_holidays",
            before.japanese_holidays != after.japanese_holidays,
        ),
        ("closed_days", before.closed_days != after.closed_days),
        ("appi_fee", before.appi_fee != after.appi_fee),
        ("agent_names", before.agent_names != after.agent_names),
        (
            "bundle_retention_days",
            before.bundle_retention_days != after.bundle_retention_days,
        ),
        (
            "due_soon_working_days",
            before.due_soon_working_days != after.due_soon_working_days,
        ),
        ("privacy", before.privacy != after.privacy),
    ];
    parts
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name)
        .collect()
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
