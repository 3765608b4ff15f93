//! The billing service's domain: what is metered, plans and their charge
//! models, usage per period in the tenant's time zone, invoices, and the
//! BPO's statement. docs/billing.md tells the rules with worked examples.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{BpoId, TenantId};

/// An exact decimal number, written as a string (`"1.5"`, `"0.0025"`) so
/// no JSON reader turns it into a float. Prices per unit and quantities are
/// decimals; money amounts are integers in the currency's minor unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dec(pub Decimal);

impl Dec {
    pub const ZERO: Dec = Dec(Decimal::ZERO);

    pub fn from_int(value: i64) -> Self {
        Dec(Decimal::from(value))
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.normalize())
    }
}

impl FromStr for Dec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        // Only plain decimals: no exponent, no thousands separators.
        let plain = !trimmed.is_empty()
            && trimmed
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-');
        if !plain {
            return Err(format!("{s:?} is not a decimal number"));
        }
        Decimal::from_str_exact(trimmed)
            .map(Dec)
            .map_err(|_| format!("{s:?} is not a decimal number"))
    }
}

impl Serialize for Dec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Dec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Decimal".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^-?[0-9]+(\\.[0-9]+)?$",
            "description": "An exact decimal number."
        })
    }
}

/// ISO 4217 currencies plans are priced in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Currency {
    Jpy,
    Usd,
    Eur,
}

impl Currency {
    /// Digits after the point of the minor unit: JPY has no minor unit.
    pub fn minor_digits(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            Currency::Usd | Currency::Eur => 2,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Currency::Jpy => "JPY",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
        }
    }
}

/// What is metered. Each meter has a base unit its usage is kept in.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Meter {
    /// Seconds of audio ingested: each recording's duration rounded up to
    /// the second.
    IngestedSeconds,
    /// Recordings ingested.
    Recordings,
    /// Audio bytes kept over time, in GB-months: byte-hours / 2^30 / the
    /// hours of the month.
    StorageGbMonths,
    /// Seconds of audio played or downloaded: bytes served / the
    /// recording's byte rate.
    PlayedSeconds,
    /// Data-subject requests answered (`disclosure.delivered`).
    DisclosuresDelivered,
    /// Distinct people who made a request in the period.
    ActiveUsers,
}

impl Meter {
    pub const ALL: [Meter; 6] = [
        Meter::IngestedSeconds,
        Meter::Recordings,
        Meter::StorageGbMonths,
        Meter::PlayedSeconds,
        Meter::DisclosuresDelivered,
        Meter::ActiveUsers,
    ];

    /// The unit usage of this meter is reported in.
    pub fn base_unit(self) -> ChargeUnit {
        match self {
            Meter::IngestedSeconds | Meter::PlayedSeconds => ChargeUnit::Second,
            Meter::Recordings => ChargeUnit::Recording,
            Meter::StorageGbMonths => ChargeUnit::GbMonth,
            Meter::DisclosuresDelivered => ChargeUnit::Request,
            Meter::ActiveUsers => ChargeUnit::User,
        }
    }

    /// Units a charge on this meter may be priced in.
    pub fn allows(self, unit: ChargeUnit) -> bool {
        match self {
            Meter::IngestedSeconds | Meter::PlayedSeconds => matches!(
                unit,
                ChargeUnit::Second | ChargeUnit::Minute | ChargeUnit::Hour
            ),
            _ => unit == self.base_unit(),
        }
    }
}

/// The unit a charge's quantity, tiers, allowance and unit price are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeUnit {
    Second,
    /// 60 seconds.
    Minute,
    /// 3,600 seconds.
    Hour,
    Recording,
    GbMonth,
    Request,
    User,
}

impl ChargeUnit {
    /// Base units (of the meter) in one of these.
    pub fn base_units(self) -> i64 {
        match self {
            ChargeUnit::Minute => 60,
            ChargeUnit::Hour => 3600,
            _ => 1,
        }
    }
}

/// One tier of a tiered charge: from the previous tier's `up_to` (or zero)
/// up to `up_to` (inclusive), `None` for the last, unbounded tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tier {
    pub up_to: Option<Dec>,
    /// In the currency's minor unit per charge unit; may have decimals
    /// (`"1.5"` yen a minute).
    pub unit_price: Dec,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "model", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeModel {
    /// Every unit at one price.
    PerUnit { unit_price: Dec },
    /// Each unit at the price of the tier it falls in.
    Graduated { tiers: Vec<Tier> },
    /// Every unit at the price of the tier the whole quantity reaches.
    Volume { tiers: Vec<Tier> },
    /// `package_price` per started package of `package_size` units.
    Package {
        package_size: Dec,
        package_price: Dec,
    },
}

/// What a plan charges for one meter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Charge {
    pub meter: Meter,
    pub unit: ChargeUnit,
    /// Units free each period, taken off before the model applies.
    #[serde(default)]
    pub included: Dec,
    pub model: ChargeModel,
    /// Percent (`"10"`); the plan's rate when absent.
    #[serde(default)]
    pub tax_rate: Option<Dec>,
}

/// Who a plan is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlanLevel {
    /// The platform bills a BPO for all its tenants' usage.
    Wholesale,
    /// A BPO bills one of its tenants.
    Retail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NewPlan {
    pub name: String,
    pub currency: Currency,
    /// Each period, in the minor unit.
    pub base_fee: i64,
    /// Percent (`"10"`), for the base fee and every charge without its own.
    pub tax_rate: Dec,
    pub charges: Vec<Charge>,
}

/// One version of a plan. Editing a plan makes a new version; a period is
/// billed on the version in force when it began (docs/billing.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    pub id: Uuid,
    pub version: u32,
    pub level: PlanLevel,
    /// The BPO owning a retail plan; `None` for the platform's wholesale plans.
    pub bpo_id: Option<BpoId>,
    #[serde(flatten)]
    pub terms: NewPlan,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// Who is billed: one tenant (on a retail plan, by its BPO) or one BPO (on
/// a wholesale plan, by the platform, for all its tenants' usage).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "id", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Account {
    Tenant(TenantId),
    Bpo(BpoId),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanAssignment {
    pub account: Account,
    pub plan_id: Uuid,
    /// The first period it bills: the running one for an account's first
    /// plan, the next one for a change.
    pub effective_from: DateTime<Utc>,
    /// The time zone the account's periods are cut in: the tenant's own; a
    /// BPO's is given with its wholesale plan (UTC when not).
    pub time_zone: String,
    pub assigned_at: DateTime<Utc>,
    pub assigned_by: String,
}

/// How an issuer rounds tax (once per rate per invoice) and line amounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoundingMode {
    /// Towards zero (切り捨て).
    Down,
    /// Half away from zero (四捨五入).
    HalfUp,
    /// Away from zero (切り上げ).
    Up,
}

/// Whoever issues or receives invoices, as printed on them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BillingProfile {
    pub legal_name: String,
    pub address: String,
    /// Japan's qualified invoice issuer registration number: `T` and 13
    /// digits. Required to issue invoices in JPY.
    #[serde(default)]
    pub registration_number: Option<String>,
    /// Prefix of the invoice numbers this party issues (`INV`).
    #[serde(default = "default_prefix")]
    pub invoice_prefix: String,
    #[serde(default = "default_rounding")]
    pub rounding: RoundingMode,
}

fn default_prefix() -> String {
    "INV".to_owned()
}

fn default_rounding() -> RoundingMode {
    RoundingMode::Down
}

/// Whose profile: the platform (issuer of wholesale invoices), a BPO
/// (issuer of its tenants' invoices, recipient of wholesale ones) or a
/// tenant (recipient).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "id", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Party {
    Platform,
    Bpo(BpoId),
    Tenant(TenantId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Granularity {
    Day,
    Month,
}

/// One meter's usage in one bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MeterUsage {
    pub meter: Meter,
    /// In the meter's base unit.
    pub quantity: Dec,
    pub unit: ChargeUnit,
}

/// Usage in one day or month of the account's time zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UsageBucket {
    /// The bucket's first local day.
    pub date: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Every meter, zero included, in [`Meter::ALL`] order.
    pub meters: Vec<MeterUsage>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvoiceStatus {
    /// The period runs or its grace period does: amounts may still change.
    Draft,
    /// Numbered and frozen.
    Finalized,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LineKind {
    BaseFee,
    Usage,
    /// Usage of an earlier, finalized period that arrived after it was
    /// finalized.
    Adjustment,
}

/// How much of a line's quantity fell in one tier (or the allowance).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TierLine {
    pub from: Dec,
    pub up_to: Option<Dec>,
    pub quantity: Dec,
    pub unit_price: Dec,
    /// Exact, before the line's rounding.
    pub amount: Dec,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InvoiceLine {
    pub kind: LineKind,
    pub meter: Option<Meter>,
    pub description: String,
    /// In `unit`, exact.
    pub quantity: Dec,
    pub unit: Option<ChargeUnit>,
    pub tiers: Vec<TierLine>,
    /// Minor units, rounded once with the issuer's rounding mode.
    pub amount: i64,
    /// Percent.
    pub tax_rate: Dec,
    /// For an adjustment: the local day the usage happened on.
    pub original_date: Option<NaiveDate>,
}

/// Tax for one rate, computed once from that rate's subtotal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaxSubtotal {
    pub rate: Dec,
    pub subtotal: i64,
    pub tax: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Invoice {
    /// Stable for an account and period: the draft and the finalized invoice
    /// share it.
    pub id: Uuid,
    pub status: InvoiceStatus,
    /// Given when finalized: the issuer's prefix and its next number.
    pub number: Option<String>,
    pub level: PlanLevel,
    pub account: Account,
    pub issuer: Party,
    pub issuer_profile: BillingProfile,
    pub recipient_profile: Option<BillingProfile>,
    pub plan_id: Uuid,
    pub plan_version: u32,
    pub currency: Currency,
    pub time_zone: String,
    /// The period's first and last local days.
    pub period_first_day: NaiveDate,
    pub period_last_day: NaiveDate,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// When a draft is finalized by the timer (period end + grace).
    pub finalize_after: DateTime<Utc>,
    pub finalized_at: Option<DateTime<Utc>>,
    pub lines: Vec<InvoiceLine>,
    /// One entry per tax rate, by rate.
    pub taxes: Vec<TaxSubtotal>,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InvoiceFilter {
    pub account: Option<Account>,
    pub status: Option<InvoiceStatus>,
    /// Invoices whose period starts on or after this local day.
    pub from: Option<NaiveDate>,
    /// Invoices whose period starts on or before this local day.
    pub to: Option<NaiveDate>,
}

/// One client's retail invoice in a BPO's statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatementLine {
    pub tenant_id: TenantId,
    pub invoice: Option<Invoice>,
}

/// Per currency: what the clients owe the BPO, what it owes the platform,
/// and the difference (before tax).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Margin {
    pub currency: Currency,
    pub retail_subtotal: i64,
    pub wholesale_subtotal: i64,
    pub margin: i64,
}

/// A BPO's month side by side: each client's invoice, its own wholesale
/// invoice, and its margin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BpoStatement {
    pub bpo_id: BpoId,
    /// The month (its first day), in each account's time zone.
    pub month: NaiveDate,
    pub clients: Vec<StatementLine>,
    pub wholesale: Option<Invoice>,
    pub margins: Vec<Margin>,
}

/// The daily check of billing's stored byte-hours against storage's own
/// records, per tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StorageReconciliation {
    pub tenant_id: TenantId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Byte-seconds, as decimal strings (they pass 2^64).
    pub billed_byte_seconds: Dec,
    pub stored_byte_seconds: Dec,
    pub matches: bool,
}
