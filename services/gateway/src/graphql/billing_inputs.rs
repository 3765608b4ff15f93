//! Inputs of billing and the checks the gateway makes before any call:
//! who is meant (exactly one account, a party with its id), ordered date
//! ranges (BAD_USER_INPUT), and a plan's currency and each charge model's
//! fields (INVALID_PLAN, the code the billing service gives every other
//! fault of a plan: tiers, prices, units, tax rates). Everything that
//! needs the stored plans or accounts the billing service checks.

use async_graphql::InputObject;
use callvault_contracts::billing_api as api;
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::{BpoId, TenantId};
use chrono::NaiveDate;
use uuid::Uuid;

use super::billing_enums::{
    AccountKind, ChargeModelKind, ChargeUnit, InvoiceStatus, Meter, PartyKind, PlanLevel,
    RoundingMode,
};
use super::scalars::{Amount, Decimal};
use crate::error::{bad_input, coded};

type Result<T> = async_graphql::Result<T>;

fn invalid_plan(message: impl Into<String>) -> async_graphql::Error {
    coded(ErrorCode::InvalidPlan, message)
}

/// Whose billing profile.
#[derive(InputObject)]
pub struct PartyInput {
    /// The platform, a BPO or a tenant.
    pub kind: PartyKind,
    /// The BPO's or the tenant's id; none for the platform.
    pub id: Option<Uuid>,
}

impl PartyInput {
    pub(super) fn into_api(self) -> Result<api::Party> {
        match (self.kind, self.id) {
            (PartyKind::Platform, None) => Ok(api::Party::Platform),
            (PartyKind::Platform, Some(_)) => Err(bad_input("party.id must be null for PLATFORM")),
            (PartyKind::Bpo, Some(id)) => Ok(api::Party::Bpo(BpoId(id))),
            (PartyKind::Tenant, Some(id)) => Ok(api::Party::Tenant(TenantId(id))),
            (PartyKind::Bpo | PartyKind::Tenant, None) => {
                Err(bad_input("party.id is required for a BPO or a tenant"))
            }
        }
    }
}

/// Whose billing account.
#[derive(InputObject)]
pub struct AccountInput {
    /// A tenant or a BPO.
    pub kind: AccountKind,
    /// The tenant's or the BPO's id.
    pub id: Uuid,
}

impl From<AccountInput> for api::Account {
    fn from(account: AccountInput) -> Self {
        match account.kind {
            AccountKind::Tenant => api::Account::Tenant(TenantId(account.id)),
            AccountKind::Bpo => api::Account::Bpo(BpoId(account.id)),
        }
    }
}

/// `usage`'s account: exactly one of `tenantId` and `bpoId`.
pub(super) fn usage_account(tenant_id: Option<Uuid>, bpo_id: Option<Uuid>) -> Result<api::Account> {
    match (tenant_id, bpo_id) {
        (Some(tenant), None) => Ok(api::Account::Tenant(TenantId(tenant))),
        (None, Some(bpo)) => Ok(api::Account::Bpo(BpoId(bpo))),
        _ => Err(bad_input("give exactly one of tenantId and bpoId")),
    }
}

/// `from` on or before `to`.
pub(super) fn ordered(from: NaiveDate, to: NaiveDate) -> Result<()> {
    if from > to {
        return Err(bad_input("from must not be after to"));
    }
    Ok(())
}

/// A party as printed on invoices. The billing service checks it
/// (BAD_USER_INPUT): a name and an address of 1 to 500 characters, a
/// registration number of `T` and 13 digits, a prefix of 1 to 20
/// characters.
#[derive(InputObject)]
pub struct BillingProfileInput {
    /// The legal name.
    pub legal_name: String,
    /// The postal address.
    pub address: String,
    /// Japan's qualified invoice issuer registration number (`T` and 13
    /// digits); required to issue invoices in JPY.
    pub registration_number: Option<String>,
    /// The prefix of the invoice numbers this party issues.
    #[graphql(default = "INV")]
    pub invoice_prefix: String,
    /// How this party rounds tax and line amounts on the invoices it
    /// issues.
    #[graphql(default_with = "RoundingMode::Down")]
    pub rounding: RoundingMode,
}

impl From<BillingProfileInput> for api::BillingProfile {
    fn from(profile: BillingProfileInput) -> Self {
        Self {
            legal_name: profile.legal_name,
            address: profile.address,
            registration_number: profile.registration_number,
            invoice_prefix: profile.invoice_prefix,
            rounding: profile.rounding.into(),
        }
    }
}

/// One tier of a graduated or volume charge.
#[derive(InputObject)]
pub struct TierInput {
    /// The tier's upper bound (inclusive) in the charge's unit, above the
    /// previous tier's; null for the last tier, and only for it.
    pub up_to: Option<Decimal>,
    /// In the currency's minor unit per charge unit; may have decimals.
    pub unit_price: Decimal,
}

/// How a charge prices its quantity: `model`, and exactly the fields that
/// model uses (INVALID_PLAN for a missing one or one it doesn't use).
#[derive(InputObject)]
pub struct ChargeModelInput {
    /// The pricing model.
    pub model: ChargeModelKind,
    /// `PER_UNIT`: the price of every unit, in minor units.
    pub unit_price: Option<Decimal>,
    /// `GRADUATED` and `VOLUME`: the tiers, in increasing order, the last
    /// one unbounded.
    pub tiers: Option<Vec<TierInput>>,
    /// `PACKAGE`: units in one package (more than zero).
    pub package_size: Option<Decimal>,
    /// `PACKAGE`: the price of each started package, in minor units.
    pub package_price: Option<Decimal>,
}

impl ChargeModelInput {
    fn into_api(self, charge: &str) -> Result<api::ChargeModel> {
        let model = self.model;
        let given = [
            ("unitPrice", self.unit_price.is_some()),
            ("tiers", self.tiers.is_some()),
            ("packageSize", self.package_size.is_some()),
            ("packagePrice", self.package_price.is_some()),
        ];
        let uses: &[&str] = match model {
            ChargeModelKind::PerUnit => &["unitPrice"],
            ChargeModelKind::Graduated | ChargeModelKind::Volume => &["tiers"],
            ChargeModelKind::Package => &["packageSize", "packagePrice"],
        };
        let name = model_name(model);
        for (field, present) in given {
            if present && !uses.contains(&field) {
                return Err(invalid_plan(format!(
                    "charge {charge}: a {name} charge takes no {field}"
                )));
            }
            if !present && uses.contains(&field) {
                return Err(invalid_plan(format!(
                    "charge {charge}: a {name} charge needs {field}"
                )));
            }
        }
        let tiers = || -> Vec<api::Tier> {
            self.tiers
                .into_iter()
                .flatten()
                .map(|tier| api::Tier {
                    up_to: tier.up_to.map(|d| d.0),
                    unit_price: tier.unit_price.0,
                })
                .collect()
        };
        let value = |d: Option<Decimal>| d.map(|d| d.0).unwrap_or_default();
        Ok(match model {
            ChargeModelKind::PerUnit => api::ChargeModel::PerUnit {
                unit_price: value(self.unit_price),
            },
            ChargeModelKind::Graduated => api::ChargeModel::Graduated { tiers: tiers() },
            ChargeModelKind::Volume => api::ChargeModel::Volume { tiers: tiers() },
            ChargeModelKind::Package => api::ChargeModel::Package {
                package_size: value(self.package_size),
                package_price: value(self.package_price),
            },
        })
    }
}

fn model_name(model: ChargeModelKind) -> &'static str {
    match model {
        ChargeModelKind::PerUnit => "PER_UNIT",
        ChargeModelKind::Graduated => "GRADUATED",
        ChargeModelKind::Volume => "VOLUME",
        ChargeModelKind::Package => "PACKAGE",
    }
}

fn meter_name(meter: Meter) -> &'static str {
    match meter {
        Meter::IngestedSeconds => "INGESTED_SECONDS",
        Meter::Recordings => "RECORDINGS",
        Meter::StorageGbMonths => "STORAGE_GB_MONTHS",
        Meter::PlayedSeconds => "PLAYED_SECONDS",
        Meter::DisclosuresDelivered => "DISCLOSURES_DELIVERED",
        Meter::ActiveUsers => "ACTIVE_USERS",
    }
}

/// What a plan charges for one meter.
#[derive(InputObject)]
pub struct ChargeInput {
    /// What is metered; one charge per meter.
    pub meter: Meter,
    /// The unit the quantity, tiers, allowance and prices are in: `SECOND`,
    /// `MINUTE` or `HOUR` for the seconds meters, the meter's own unit for
    /// the others.
    pub unit: ChargeUnit,
    /// Units free each period, taken off before the model applies; none
    /// when null.
    pub included: Option<Decimal>,
    /// How the rest is priced.
    pub model: ChargeModelInput,
    /// Percent; null uses the plan's `taxRate`.
    pub tax_rate: Option<Decimal>,
}

/// A plan's terms.
#[derive(InputObject)]
pub struct PlanInput {
    /// The plan's name (1 to 200 characters).
    pub name: String,
    /// ISO 4217: `JPY`, `USD` or `EUR` (INVALID_PLAN otherwise). An update
    /// keeps the plan's currency (BAD_USER_INPUT otherwise).
    pub currency: String,
    /// Charged each period, in the minor unit; not negative.
    pub base_fee: Amount,
    /// Percent (0 to 100, at most 4 decimals), for the base fee and every
    /// charge without its own.
    pub tax_rate: Decimal,
    /// At most one charge per meter.
    pub charges: Vec<ChargeInput>,
}

impl PlanInput {
    pub(super) fn into_api(self) -> Result<api::NewPlan> {
        let charges = self
            .charges
            .into_iter()
            .map(|charge| {
                let name = meter_name(charge.meter);
                Ok(api::Charge {
                    meter: charge.meter.into(),
                    unit: charge.unit.into(),
                    included: charge.included.map(|d| d.0).unwrap_or_default(),
                    model: charge.model.into_api(name)?,
                    tax_rate: charge.tax_rate.map(|d| d.0),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(api::NewPlan {
            name: self.name,
            currency: currency(&self.currency)?,
            base_fee: self.base_fee.0,
            tax_rate: self.tax_rate.0,
            charges,
        })
    }
}

/// An ISO 4217 code billing prices in.
fn currency(code: &str) -> Result<api::Currency> {
    let code = code.trim().to_ascii_uppercase();
    serde_json::from_value(serde_json::Value::String(code))
        .map_err(|_| invalid_plan("currency must be one of JPY, USD and EUR"))
}

/// A new plan: a wholesale one (the platform's, no `bpoId`) or a retail
/// one of BPO `bpoId`.
#[derive(InputObject)]
pub struct CreatePlanInput {
    /// Wholesale (the platform bills BPOs) or retail (a BPO bills its
    /// tenants).
    pub level: PlanLevel,
    /// The BPO a retail plan belongs to; null for a wholesale plan.
    pub bpo_id: Option<Uuid>,
    /// The plan's terms.
    #[graphql(flatten)]
    pub terms: PlanInput,
}

/// A plan to create, checked: its owner and its terms.
pub(super) enum NewPlanFor {
    Wholesale(api::NewPlan),
    Retail(BpoId, api::NewPlan),
}

impl CreatePlanInput {
    pub(super) fn into_api(self) -> Result<NewPlanFor> {
        let owner = match (self.level, self.bpo_id) {
            (PlanLevel::Wholesale, None) => None,
            (PlanLevel::Retail, Some(bpo)) => Some(BpoId(bpo)),
            (PlanLevel::Wholesale, Some(_)) => {
                return Err(bad_input("a wholesale plan has no bpoId"));
            }
            (PlanLevel::Retail, None) => return Err(bad_input("a retail plan needs bpoId")),
        };
        let terms = self.terms.into_api()?;
        Ok(match owner {
            None => NewPlanFor::Wholesale(terms),
            Some(bpo) => NewPlanFor::Retail(bpo, terms),
        })
    }
}

/// Which invoices; every condition given must hold.
#[derive(InputObject, Default)]
pub struct InvoiceFilterInput {
    /// One account's; every account the caller reads when null.
    pub account: Option<AccountInput>,
    /// In this status.
    pub status: Option<InvoiceStatus>,
    /// Periods starting on or after this local day.
    pub from: Option<NaiveDate>,
    /// Periods starting on or before this local day.
    pub to: Option<NaiveDate>,
}

impl InvoiceFilterInput {
    pub(super) fn check(&self) -> Result<()> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            ordered(from, to)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(kind: ChargeModelKind) -> ChargeModelInput {
        ChargeModelInput {
            model: kind,
            unit_price: None,
            tiers: None,
            package_size: None,
            package_price: None,
        }
    }

    fn dec(text: &str) -> Option<Decimal> {
        Some(Decimal(text.parse().expect("decimal")))
    }

    fn code(result: Result<api::ChargeModel>) -> Option<String> {
        let error = result.err()?;
        let code = error.extensions?.get("code")?.clone();
        Some(code.into_json().ok()?.as_str()?.to_owned())
    }

    #[test]
    fn each_model_takes_exactly_its_fields() {
        let per_unit = ChargeModelInput {
            unit_price: dec("1.5"),
            ..model(ChargeModelKind::PerUnit)
        };
        assert!(per_unit.into_api("RECORDINGS").is_ok());
        let package = ChargeModelInput {
            package_size: dec("100"),
            package_price: dec("500"),
            ..model(ChargeModelKind::Package)
        };
        assert!(package.into_api("RECORDINGS").is_ok());
        let graduated = ChargeModelInput {
            tiers: Some(vec![TierInput {
                up_to: None,
                unit_price: Decimal(api::Dec::ZERO),
            }]),
            ..model(ChargeModelKind::Graduated)
        };
        assert!(graduated.into_api("RECORDINGS").is_ok());

        let missing = [
            model(ChargeModelKind::PerUnit),
            model(ChargeModelKind::Graduated),
            model(ChargeModelKind::Volume),
            ChargeModelInput {
                package_size: dec("100"),
                ..model(ChargeModelKind::Package)
            },
        ];
        for input in missing {
            assert_eq!(
                code(input.into_api("RECORDINGS")).as_deref(),
                Some("INVALID_PLAN")
            );
        }
        let extra = ChargeModelInput {
            unit_price: dec("1"),
            package_size: dec("100"),
            ..model(ChargeModelKind::PerUnit)
        };
        assert_eq!(
            code(extra.into_api("RECORDINGS")).as_deref(),
            Some("INVALID_PLAN")
        );
    }

    #[test]
    fn currencies_are_the_ones_billing_prices_in() {
        assert_eq!(currency("JPY").ok(), Some(api::Currency::Jpy));
        assert_eq!(currency(" usd ").ok(), Some(api::Currency::Usd));
        assert_eq!(currency("EUR").ok(), Some(api::Currency::Eur));
        for bad in ["XYZ", "", "YEN", "JPYX"] {
            assert!(currency(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usage_names_exactly_one_account() {
        let id = Uuid::new_v4();
        assert!(usage_account(Some(id), None).is_ok());
        assert!(usage_account(None, Some(id)).is_ok());
        assert!(usage_account(None, None).is_err());
        assert!(usage_account(Some(id), Some(id)).is_err());
    }
}
