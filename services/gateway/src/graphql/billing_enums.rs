//! The enums of billing, mirroring the contracts' `billing_api` (each
//! converts both ways where the contracts have it).

use async_graphql::Enum;

/// What is metered. Each meter has a base unit its usage is kept in.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::billing_api::Meter")]
pub enum Meter {
    /// Seconds of audio ingested: each recording's duration rounded up to
    /// the second.
    IngestedSeconds,
    /// Recordings ingested.
    Recordings,
    /// Audio kept over time, in GB-months (byte-hours / 2^30 / the hours of
    /// the month).
    StorageGbMonths,
    /// Seconds of audio played or downloaded.
    PlayedSeconds,
    /// Data-subject requests answered.
    DisclosuresDelivered,
    /// Distinct people who made a request in the period.
    ActiveUsers,
}

/// The unit a charge's quantity, tiers, allowance and unit price are in.
/// Seconds meters take `SECOND`, `MINUTE` or `HOUR`; every other meter its
/// own unit.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::billing_api::ChargeUnit")]
pub enum ChargeUnit {
    /// A second.
    Second,
    /// 60 seconds.
    Minute,
    /// 3,600 seconds.
    Hour,
    /// A recording.
    Recording,
    /// A GB-month of storage.
    GbMonth,
    /// A data-subject request.
    Request,
    /// An active user.
    User,
}

/// How a charge prices its quantity (after the allowance).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChargeModelKind {
    /// Every unit at one price (`unitPrice`).
    PerUnit,
    /// Each unit at the price of the tier it falls in (`tiers`).
    Graduated,
    /// Every unit at the price of the tier the whole quantity reaches
    /// (`tiers`).
    Volume,
    /// `packagePrice` per started package of `packageSize` units.
    Package,
}

/// Who a plan is for.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::billing_api::PlanLevel")]
pub enum PlanLevel {
    /// The platform bills a BPO for all its tenants' usage.
    Wholesale,
    /// A BPO bills one of its tenants.
    Retail,
}

/// Whose billing account.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountKind {
    /// A tenant, billed by its BPO on a retail plan.
    Tenant,
    /// A BPO, billed by the platform on a wholesale plan.
    Bpo,
}

/// Whose billing profile.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyKind {
    /// The platform: the issuer of wholesale invoices.
    Platform,
    /// A BPO: the issuer of its tenants' invoices, the recipient of its
    /// wholesale ones.
    Bpo,
    /// A tenant: the recipient of its invoices.
    Tenant,
}

/// How an issuer rounds tax (once per rate per invoice) and line amounts.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::billing_api::RoundingMode")]
pub enum RoundingMode {
    /// Towards zero (切り捨て).
    Down,
    /// Half away from zero (四捨五入).
    HalfUp,
    /// Away from zero (切り上げ).
    Up,
}

/// Usage per local day or per local month.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::billing_api::Granularity")]
pub enum Granularity {
    /// One bucket per day of the account's time zone.
    Day,
    /// One bucket per month of the account's time zone.
    Month,
}

/// Where an invoice stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::billing_api::InvoiceStatus")]
pub enum InvoiceStatus {
    /// The period runs or its grace period does: amounts may still change.
    Draft,
    /// Numbered and frozen.
    Finalized,
}

/// What an invoice line is for.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::billing_api::LineKind")]
pub enum LineKind {
    /// The plan's base fee.
    BaseFee,
    /// One meter's usage in the period.
    Usage,
    /// Usage of an earlier, finalized period that arrived after it was
    /// finalized.
    Adjustment,
}
