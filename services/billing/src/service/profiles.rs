//! Billing profiles: who issues and who receives invoices, as printed on
//! them, with the issuer's registration number, number prefix and rounding.

use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::Actor;
use callvault_contracts::billing_api::{BillingProfile, Party};
use callvault_contracts::metadata_api::{ApiError, ApiResult};
use callvault_contracts::ops::billing::{GetBillingProfile, SetBillingProfile};
use callvault_contracts::permissions::Permission;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::{BillingService, bad_input};
use crate::db::entity::profile;
use crate::db::{corrupt, db_time, internal};

pub(super) fn routes(router: &mut Router, service: &Arc<BillingService>) {
    router
        .route(service, |s, r: GetBillingProfile| async move {
            s.authorize_party(&r.actor, r.party, false).await?;
            s.profile(&s.db, r.party)
                .await?
                .ok_or_else(|| ApiError::not_found("billing profile"))
        })
        .route(service, |s, r: SetBillingProfile| async move {
            s.set_profile(&r.actor, r.party, r.profile).await
        });
}

/// How a party is keyed in the database.
pub(super) fn party_key(party: Party) -> (&'static str, Uuid) {
    match party {
        Party::Platform => ("platform", Uuid::nil()),
        Party::Bpo(bpo) => ("bpo", bpo.0),
        Party::Tenant(tenant) => ("tenant", tenant.0),
    }
}

impl BillingService {
    /// Reading a profile: whoever reads that party's billing. Changing one:
    /// the platform's by the platform admin, a BPO's and its tenants' by the
    /// BPO's admin.
    async fn authorize_party(&self, actor: &Actor, party: Party, change: bool) -> ApiResult<()> {
        match (party, change) {
            (Party::Platform, _) => self.authorize_platform(actor, Permission::ManageWholesale),
            (Party::Bpo(bpo), true) => self.authorize_bpo(actor, Permission::ManageBilling, bpo),
            (Party::Bpo(bpo), false) => self.authorize_bpo_read(actor, bpo),
            (Party::Tenant(tenant), change) => {
                let permission = if change {
                    Permission::ManageBilling
                } else {
                    Permission::ReadBilling
                };
                self.authorize_tenant(actor, permission, tenant).await?;
                Ok(())
            }
        }
    }

    pub(super) async fn profile<C: ConnectionTrait>(
        &self,
        conn: &C,
        party: Party,
    ) -> ApiResult<Option<BillingProfile>> {
        let (kind, id) = party_key(party);
        let row = profile::Entity::find_by_id((kind.to_owned(), id))
            .one(conn)
            .await
            .map_err(internal)?;
        row.map(|row| serde_json::from_str(&row.profile).map_err(|_| corrupt("profile")))
            .transpose()
    }

    async fn set_profile(
        &self,
        actor: &Actor,
        party: Party,
        new: BillingProfile,
    ) -> ApiResult<BillingProfile> {
        self.authorize_party(actor, party, true).await?;
        let new = check(new)?;
        let (kind, id) = party_key(party);
        let doc = serde_json::to_string(&new).map_err(|_| corrupt("profile"))?;
        let row = profile::ActiveModel {
            party_kind: Set(kind.to_owned()),
            party_id: Set(id),
            profile: Set(doc),
            updated_at: Set(db_time(self.now())),
            updated_by: Set(actor.subject.clone()),
        };
        profile::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([profile::Column::PartyKind, profile::Column::PartyId])
                    .update_columns([
                        profile::Column::Profile,
                        profile::Column::UpdatedAt,
                        profile::Column::UpdatedBy,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(internal)?;
        tracing::info!(party = kind, "billing profile set");
        Ok(new)
    }
}

const MAX_TEXT: usize = 500;

fn check(mut p: BillingProfile) -> ApiResult<BillingProfile> {
    p.legal_name = p.legal_name.trim().to_owned();
    p.address = p.address.trim().to_owned();
    p.invoice_prefix = p.invoice_prefix.trim().to_owned();
    if p.legal_name.is_empty() || p.legal_name.chars().count() > MAX_TEXT {
        return Err(bad_input("legal_name must be 1 to 500 characters"));
    }
    if p.address.is_empty() || p.address.chars().count() > MAX_TEXT {
        return Err(bad_input("address must be 1 to 500 characters"));
    }
    let prefix_ok = (1..=12).contains(&p.invoice_prefix.len())
        && p.invoice_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !prefix_ok {
        return Err(bad_input(
            "invoice_prefix must be 1 to 12 letters, digits, '-' or '_'",
        ));
    }
    if let Some(number) = &p.registration_number {
        let number = number.trim().to_owned();
        if !is_registration_number(&number) {
            return Err(bad_input(
                "registration_number must be T followed by 13 digits",
            ));
        }
        p.registration_number = Some(number);
    }
    Ok(p)
}

/// Japan's qualified invoice issuer registration number: `T` and 13 digits.
pub(crate) fn is_registration_number(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next() == Some('T') && text.len() == 14 && chars.all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::is_registration_number;

    #[test]
    fn registration_numbers_are_t_and_thirteen_digits() {
        assert!(is_registration_number("T1234567890123"));
        for bad in [
            "",
            "T",
            "1234567890123",
            "T123456789012",
            "T12345678901234",
            "t1234567890123",
            "T12345678901a3",
            "T１２３４５６７８９０１２３",
            " T1234567890123",
        ] {
            assert!(!is_registration_number(bad), "{bad:?}");
        }
    }
}
