//! Output types of billing (docs/billing.md): plans, assignments, billing
//! profiles, usage, invoices, a BPO's statement and the storage
//! reconciliation, converted from the contracts' `billing_api`. Money is
//! an `Amount` in the currency's minor unit; prices, quantities and tax
//! rates are `Decimal` strings.

use async_graphql::SimpleObject;
use callvault_contracts::billing_api as api;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::billing_enums::{
    AccountKind, ChargeModelKind, ChargeUnit, InvoiceStatus, LineKind, Meter, PartyKind, PlanLevel,
    RoundingMode,
};
use super::scalars::{Amount, Decimal};

fn dec(value: api::Dec) -> Decimal {
    Decimal(value)
}

/// One tier of a graduated or volume charge: from the previous tier's
/// `upTo` (or zero) up to `upTo`, inclusive.
#[derive(SimpleObject)]
pub struct Tier {
    /// The tier's upper bound in the charge's unit; null for the last,
    /// unbounded tier.
    pub up_to: Option<Decimal>,
    /// In the currency's minor unit per charge unit; may have decimals.
    pub unit_price: Decimal,
}

impl From<api::Tier> for Tier {
    fn from(tier: api::Tier) -> Self {
        Self {
            up_to: tier.up_to.map(dec),
            unit_price: dec(tier.unit_price),
        }
    }
}

/// How a charge prices its quantity: `model` and the fields it uses (the
/// others are null).
#[derive(SimpleObject)]
pub struct ChargeModel {
    /// The pricing model.
    pub model: ChargeModelKind,
    /// `PER_UNIT`: the price of every unit, in minor units.
    pub unit_price: Option<Decimal>,
    /// `GRADUATED` and `VOLUME`: the tiers, in increasing order.
    pub tiers: Option<Vec<Tier>>,
    /// `PACKAGE`: units in one package.
    pub package_size: Option<Decimal>,
    /// `PACKAGE`: the price of each started package, in minor units.
    pub package_price: Option<Decimal>,
}

impl From<api::ChargeModel> for ChargeModel {
    fn from(model: api::ChargeModel) -> Self {
        let tiers = |tiers: Vec<api::Tier>| Some(tiers.into_iter().map(Into::into).collect());
        let empty = |model| Self {
            model,
            unit_price: None,
            tiers: None,
            package_size: None,
            package_price: None,
        };
        match model {
            api::ChargeModel::PerUnit { unit_price } => Self {
                unit_price: Some(dec(unit_price)),
                ..empty(ChargeModelKind::PerUnit)
            },
            api::ChargeModel::Graduated { tiers: t } => Self {
                tiers: tiers(t),
                ..empty(ChargeModelKind::Graduated)
            },
            api::ChargeModel::Volume { tiers: t } => Self {
                tiers: tiers(t),
                ..empty(ChargeModelKind::Volume)
            },
            api::ChargeModel::Package {
                package_size,
                package_price,
            } => Self {
                package_size: Some(dec(package_size)),
                package_price: Some(dec(package_price)),
                ..empty(ChargeModelKind::Package)
            },
        }
    }
}

/// What a plan charges for one meter.
#[derive(SimpleObject)]
pub struct Charge {
    /// What is metered.
    pub meter: Meter,
    /// The unit the quantity, tiers, allowance and prices are in.
    pub unit: ChargeUnit,
    /// Units free each period, taken off before the model applies.
    pub included: Decimal,
    /// How the rest is priced.
    pub model: ChargeModel,
    /// Percent; null uses the plan's `taxRate`.
    pub tax_rate: Option<Decimal>,
}

impl From<api::Charge> for Charge {
    fn from(charge: api::Charge) -> Self {
        Self {
            meter: charge.meter.into(),
            unit: charge.unit.into(),
            included: dec(charge.included),
            model: charge.model.into(),
            tax_rate: charge.tax_rate.map(dec),
        }
    }
}

/// One version of a plan. Editing a plan makes a new version; a period is
/// billed on the version in force when it began.
#[derive(SimpleObject)]
pub struct Plan {
    /// The plan's id, the same for all its versions.
    pub id: Uuid,
    /// 1 for a new plan, one more for each update.
    pub version: u32,
    /// Wholesale (the platform bills a BPO) or retail (a BPO bills a
    /// tenant).
    pub level: PlanLevel,
    /// The BPO owning a retail plan; null for a wholesale plan.
    pub bpo_id: Option<Uuid>,
    /// The plan's name.
    pub name: String,
    /// ISO 4217: `JPY`, `USD` or `EUR`.
    pub currency: String,
    /// Charged each period, in the minor unit.
    pub base_fee: Amount,
    /// Percent, for the base fee and every charge without its own.
    pub tax_rate: Decimal,
    /// At most one charge per meter.
    pub charges: Vec<Charge>,
    /// When this version was made.
    pub created_at: DateTime<Utc>,
    /// Who made it (the token subject).
    pub created_by: String,
}

impl From<api::Plan> for Plan {
    fn from(plan: api::Plan) -> Self {
        let terms = plan.terms;
        Self {
            id: plan.id,
            version: plan.version,
            level: plan.level.into(),
            bpo_id: plan.bpo_id.map(|bpo| bpo.0),
            name: terms.name,
            currency: terms.currency.code().to_owned(),
            base_fee: Amount(terms.base_fee),
            tax_rate: dec(terms.tax_rate),
            charges: terms.charges.into_iter().map(Into::into).collect(),
            created_at: plan.created_at,
            created_by: plan.created_by,
        }
    }
}

/// Who is billed: a tenant (by its BPO, on a retail plan) or a BPO (by the
/// platform, on a wholesale plan, for all its tenants' usage).
#[derive(SimpleObject)]
pub struct Account {
    /// A tenant or a BPO.
    pub kind: AccountKind,
    /// The tenant's or the BPO's id.
    pub id: Uuid,
}

impl From<api::Account> for Account {
    fn from(account: api::Account) -> Self {
        match account {
            api::Account::Tenant(tenant) => Self {
                kind: AccountKind::Tenant,
                id: tenant.0,
            },
            api::Account::Bpo(bpo) => Self {
                kind: AccountKind::Bpo,
                id: bpo.0,
            },
        }
    }
}

/// Whoever issues or receives invoices.
#[derive(SimpleObject)]
pub struct Party {
    /// The platform, a BPO or a tenant.
    pub kind: PartyKind,
    /// The BPO's or the tenant's id; null for the platform.
    pub id: Option<Uuid>,
}

impl From<api::Party> for Party {
    fn from(party: api::Party) -> Self {
        let (kind, id) = match party {
            api::Party::Platform => (PartyKind::Platform, None),
            api::Party::Bpo(bpo) => (PartyKind::Bpo, Some(bpo.0)),
            api::Party::Tenant(tenant) => (PartyKind::Tenant, Some(tenant.0)),
        };
        Self { kind, id }
    }
}

/// An account put on a plan.
#[derive(SimpleObject)]
pub struct PlanAssignment {
    /// The account billed.
    pub account: Account,
    /// The plan it is on.
    pub plan_id: Uuid,
    /// The first period it bills: the running one for an account's first
    /// plan, the next one for a change.
    pub effective_from: DateTime<Utc>,
    /// The IANA time zone the account's periods are cut in.
    pub time_zone: String,
    /// When it was assigned.
    pub assigned_at: DateTime<Utc>,
    /// Who assigned it (the token subject).
    pub assigned_by: String,
}

impl From<api::PlanAssignment> for PlanAssignment {
    fn from(assignment: api::PlanAssignment) -> Self {
        Self {
            account: assignment.account.into(),
            plan_id: assignment.plan_id,
            effective_from: assignment.effective_from,
            time_zone: assignment.time_zone,
            assigned_at: assignment.assigned_at,
            assigned_by: assignment.assigned_by,
        }
    }
}

/// A party as printed on invoices.
#[derive(SimpleObject)]
pub struct BillingProfile {
    /// The legal name.
    pub legal_name: String,
    /// The postal address.
    pub address: String,
    /// Japan's qualified invoice issuer registration number (`T` and 13
    /// digits); required to issue invoices in JPY.
    pub registration_number: Option<String>,
    /// The prefix of the invoice numbers this party issues.
    pub invoice_prefix: String,
    /// How this party rounds tax and line amounts on the invoices it
    /// issues.
    pub rounding: RoundingMode,
}

impl From<api::BillingProfile> for BillingProfile {
    fn from(profile: api::BillingProfile) -> Self {
        Self {
            legal_name: profile.legal_name,
            address: profile.address,
            registration_number: profile.registration_number,
            invoice_prefix: profile.invoice_prefix,
            rounding: profile.rounding.into(),
        }
    }
}

/// One meter's usage in one bucket.
#[derive(SimpleObject)]
pub struct MeterUsage {
    /// What is metered.
    pub meter: Meter,
    /// In the meter's base unit (`unit`).
    pub quantity: Decimal,
    /// The meter's base unit.
    pub unit: ChargeUnit,
}

/// Usage in one day or month of the account's time zone.
#[derive(SimpleObject)]
pub struct UsageBucket {
    /// The bucket's first local day.
    pub date: NaiveDate,
    /// When the bucket starts.
    pub start: DateTime<Utc>,
    /// When it ends (exclusive).
    pub end: DateTime<Utc>,
    /// Every meter, zero included, in the same order each time.
    pub meters: Vec<MeterUsage>,
}

impl From<api::UsageBucket> for UsageBucket {
    fn from(bucket: api::UsageBucket) -> Self {
        Self {
            date: bucket.date,
            start: bucket.start,
            end: bucket.end,
            meters: bucket
                .meters
                .into_iter()
                .map(|usage| MeterUsage {
                    meter: usage.meter.into(),
                    quantity: dec(usage.quantity),
                    unit: usage.unit.into(),
                })
                .collect(),
        }
    }
}

/// How much of a line's quantity fell in one tier (or the allowance).
#[derive(SimpleObject)]
pub struct TierLine {
    /// Where the tier starts.
    pub from: Decimal,
    /// Where it ends; null for an unbounded tier.
    pub up_to: Option<Decimal>,
    /// The quantity in it.
    pub quantity: Decimal,
    /// Its price per unit, in minor units.
    pub unit_price: Decimal,
    /// Exact, before the line's rounding, in minor units.
    pub amount: Decimal,
}

/// One line of an invoice.
#[derive(SimpleObject)]
pub struct InvoiceLine {
    /// Base fee, usage, or a late adjustment.
    pub kind: LineKind,
    /// The meter of a usage or adjustment line.
    pub meter: Option<Meter>,
    /// The line as printed.
    pub description: String,
    /// In `unit`, exact.
    pub quantity: Decimal,
    /// The unit of a usage or adjustment line.
    pub unit: Option<ChargeUnit>,
    /// How the quantity fell in the tiers (and the allowance).
    pub tiers: Vec<TierLine>,
    /// In the minor unit, rounded once with the issuer's rounding mode.
    pub amount: Amount,
    /// Percent.
    pub tax_rate: Decimal,
    /// For an adjustment: the local day the usage happened on.
    pub original_date: Option<NaiveDate>,
}

impl From<api::InvoiceLine> for InvoiceLine {
    fn from(line: api::InvoiceLine) -> Self {
        Self {
            kind: line.kind.into(),
            meter: line.meter.map(Into::into),
            description: line.description,
            quantity: dec(line.quantity),
            unit: line.unit.map(Into::into),
            tiers: line
                .tiers
                .into_iter()
                .map(|tier| TierLine {
                    from: dec(tier.from),
                    up_to: tier.up_to.map(dec),
                    quantity: dec(tier.quantity),
                    unit_price: dec(tier.unit_price),
                    amount: dec(tier.amount),
                })
                .collect(),
            amount: Amount(line.amount),
            tax_rate: dec(line.tax_rate),
            original_date: line.original_date,
        }
    }
}

/// Tax for one rate, computed once from that rate's subtotal.
#[derive(SimpleObject)]
pub struct TaxSubtotal {
    /// Percent.
    pub rate: Decimal,
    /// The lines at this rate, in minor units.
    pub subtotal: Amount,
    /// The tax on them, in minor units.
    pub tax: Amount,
}

/// An invoice for one account and one period: a draft while the period
/// and its grace run, then numbered and frozen.
#[derive(SimpleObject)]
pub struct Invoice {
    /// Stable for an account and period: the draft and the finalized
    /// invoice share it.
    pub id: Uuid,
    /// Draft or finalized.
    pub status: InvoiceStatus,
    /// Given when finalized: the issuer's prefix and its next number.
    pub number: Option<String>,
    /// Retail (a BPO bills a tenant) or wholesale (the platform bills a
    /// BPO).
    pub level: PlanLevel,
    /// Who is billed.
    pub account: Account,
    /// Who bills.
    pub issuer: Party,
    /// The issuer as printed.
    pub issuer_profile: BillingProfile,
    /// The recipient as printed, when it has a profile.
    pub recipient_profile: Option<BillingProfile>,
    /// The plan billing the period.
    pub plan_id: Uuid,
    /// The plan version in force when the period began.
    pub plan_version: u32,
    /// ISO 4217: `JPY`, `USD` or `EUR`.
    pub currency: String,
    /// The IANA time zone the period is cut in.
    pub time_zone: String,
    /// The period's first local day.
    pub period_first_day: NaiveDate,
    /// The period's last local day.
    pub period_last_day: NaiveDate,
    /// When the period starts.
    pub period_start: DateTime<Utc>,
    /// When it ends (exclusive).
    pub period_end: DateTime<Utc>,
    /// When a draft is finalized by the timer (period end and grace).
    pub finalize_after: DateTime<Utc>,
    /// When it was finalized.
    pub finalized_at: Option<DateTime<Utc>>,
    /// The base fee, usage and adjustment lines.
    pub lines: Vec<InvoiceLine>,
    /// One entry per tax rate, by rate.
    pub taxes: Vec<TaxSubtotal>,
    /// Before tax, in minor units.
    pub subtotal: Amount,
    /// The tax, in minor units.
    pub tax: Amount,
    /// Subtotal and tax, in minor units.
    pub total: Amount,
}

impl From<api::Invoice> for Invoice {
    fn from(invoice: api::Invoice) -> Self {
        Self {
            id: invoice.id,
            status: invoice.status.into(),
            number: invoice.number,
            level: invoice.level.into(),
            account: invoice.account.into(),
            issuer: invoice.issuer.into(),
            issuer_profile: invoice.issuer_profile.into(),
            recipient_profile: invoice.recipient_profile.map(Into::into),
            plan_id: invoice.plan_id,
            plan_version: invoice.plan_version,
            currency: invoice.currency.code().to_owned(),
            time_zone: invoice.time_zone,
            period_first_day: invoice.period_first_day,
            period_last_day: invoice.period_last_day,
            period_start: invoice.period_start,
            period_end: invoice.period_end,
            finalize_after: invoice.finalize_after,
            finalized_at: invoice.finalized_at,
            lines: invoice.lines.into_iter().map(Into::into).collect(),
            taxes: invoice
                .taxes
                .into_iter()
                .map(|tax| TaxSubtotal {
                    rate: dec(tax.rate),
                    subtotal: Amount(tax.subtotal),
                    tax: Amount(tax.tax),
                })
                .collect(),
            subtotal: Amount(invoice.subtotal),
            tax: Amount(invoice.tax),
            total: Amount(invoice.total),
        }
    }
}

/// One client's retail invoice in a BPO's statement.
#[derive(SimpleObject)]
pub struct StatementLine {
    /// The client (tenant).
    pub tenant_id: Uuid,
    /// Its invoice for the month; null when it was billed nothing.
    pub invoice: Option<Invoice>,
}

/// Per currency: what the clients owe the BPO, what it owes the platform,
/// and the difference, before tax.
#[derive(SimpleObject)]
pub struct Margin {
    /// ISO 4217: `JPY`, `USD` or `EUR`.
    pub currency: String,
    /// The clients' invoices' subtotals, in minor units.
    pub retail_subtotal: Amount,
    /// The BPO's wholesale invoice's subtotal, in minor units.
    pub wholesale_subtotal: Amount,
    /// Retail less wholesale, in minor units; negative at a loss.
    pub margin: Amount,
}

/// A BPO's month side by side: each client's invoice, its own wholesale
/// invoice, and its margin.
#[derive(SimpleObject)]
pub struct BpoStatement {
    /// The BPO.
    pub bpo_id: Uuid,
    /// The month (its first day), in each account's time zone.
    pub month: NaiveDate,
    /// Each client's retail invoice.
    pub clients: Vec<StatementLine>,
    /// The BPO's wholesale invoice; null when it was billed nothing.
    pub wholesale: Option<Invoice>,
    /// One entry per currency.
    pub margins: Vec<Margin>,
}

impl From<api::BpoStatement> for BpoStatement {
    fn from(statement: api::BpoStatement) -> Self {
        Self {
            bpo_id: statement.bpo_id.0,
            month: statement.month,
            clients: statement
                .clients
                .into_iter()
                .map(|line| StatementLine {
                    tenant_id: line.tenant_id.0,
                    invoice: line.invoice.map(Into::into),
                })
                .collect(),
            wholesale: statement.wholesale.map(Into::into),
            margins: statement
                .margins
                .into_iter()
                .map(|margin| Margin {
                    currency: margin.currency.code().to_owned(),
                    retail_subtotal: Amount(margin.retail_subtotal),
                    wholesale_subtotal: Amount(margin.wholesale_subtotal),
                    margin: Amount(margin.margin),
                })
                .collect(),
        }
    }
}

/// One tenant's stored byte-seconds over one UTC day, as billing counted
/// them and as the storage service keeps them.
#[derive(SimpleObject)]
pub struct StorageReconciliation {
    /// The tenant.
    pub tenant_id: Uuid,
    /// The day's start.
    pub from: DateTime<Utc>,
    /// The day's end (exclusive).
    pub to: DateTime<Utc>,
    /// Byte-seconds billing counted (they pass 2^64: a decimal string).
    pub billed_byte_seconds: Decimal,
    /// Byte-seconds the storage service's records give.
    pub stored_byte_seconds: Decimal,
    /// Whether both agree to the byte-second.
    pub matches: bool,
}

impl From<api::StorageReconciliation> for StorageReconciliation {
    fn from(entry: api::StorageReconciliation) -> Self {
        Self {
            tenant_id: entry.tenant_id.0,
            from: entry.from,
            to: entry.to,
            billed_byte_seconds: dec(entry.billed_byte_seconds),
            stored_byte_seconds: dec(entry.stored_byte_seconds),
            matches: entry.matches,
        }
    }
}
