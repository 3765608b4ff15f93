//! A tenant's disclosure settings, as answered and as set. The gateway
//! only converts them: the disclosure service checks the ranges (APPI limit
//! 1–14 days, bundle retention 1–365 days, due-soon 1–20 working days, a
//! known currency) and answers BAD_USER_INPUT itself.

use async_graphql::{InputObject, SimpleObject};
use callvault_contracts::disclosure_api as api;
use chrono::NaiveDate;

use super::disclosure_enums::Regime;
use super::disclosure_types::Fee;
use super::scalars::Int64;

/// A text in English and Japanese, the languages of the bundle's
/// `information.txt`.
#[derive(SimpleObject)]
pub struct Bilingual {
    /// In English.
    pub en: String,
    /// In Japanese.
    pub ja: String,
}

impl From<api::Bilingual> for Bilingual {
    fn from(text: api::Bilingual) -> Self {
        Self {
            en: text.en,
            ja: text.ja,
        }
    }
}

/// What the controller tells a requester (GDPR art. 15(1), APPI art. 32).
/// A request can't be approved while any text is empty in either language.
#[derive(SimpleObject)]
pub struct PrivacyNotice {
    /// The purposes of the processing.
    pub purposes: Bilingual,
    /// The categories of personal data concerned.
    pub categories: Bilingual,
    /// The recipients the data is disclosed to.
    pub recipients: Bilingual,
    /// How long the data is kept.
    pub retention: Bilingual,
    /// Where the data comes from.
    pub source: Bilingual,
    /// The subject's rights, and how to complain.
    pub rights: Bilingual,
}

impl From<api::PrivacyNotice> for PrivacyNotice {
    fn from(notice: api::PrivacyNotice) -> Self {
        Self {
            purposes: notice.purposes.into(),
            categories: notice.categories.into(),
            recipients: notice.recipients.into(),
            retention: notice.retention.into(),
            source: notice.source.into(),
            rights: notice.rights.into(),
        }
    }
}

/// A tenant's disclosure settings (the defaults until set).
#[derive(SimpleObject)]
pub struct DisclosureSettings {
    /// The regime of a request created without one.
    pub default_regime: Regime,
    /// APPI's internal limit, in days from receipt (1 to 14).
    pub appi_limit_days: u32,
    /// Whether the GDPR clock stops while waiting for the requester's
    /// identity.
    pub gdpr_identity_stops_clock: bool,
    /// Whether the APPI clock stops while waiting for the requester's
    /// identity.
    pub appi_identity_stops_clock: bool,
    /// Japanese public holidays count as closed days.
    pub japanese_holidays: bool,
    /// The tenant's own closed days.
    pub closed_days: Vec<NaiveDate>,
    /// APPI art. 38: the fee for a disclosure, when the tenant charges one.
    pub appi_fee: Option<Fee>,
    /// Agents by name in the bundle's call lists, instead of a pseudonym.
    pub agent_names: bool,
    /// Days a bundle is kept after delivery before it is shredded.
    pub bundle_retention_days: u32,
    /// Working days before the due date a request counts as due soon.
    pub due_soon_working_days: u32,
    /// What the bundle tells the requester.
    pub privacy: PrivacyNotice,
}

impl From<api::DisclosureSettings> for DisclosureSettings {
    fn from(settings: api::DisclosureSettings) -> Self {
        Self {
            default_regime: settings.default_regime.into(),
            appi_limit_days: settings.appi_limit_days,
            gdpr_identity_stops_clock: settings.gdpr_identity_stops_clock,
            appi_identity_stops_clock: settings.appi_identity_stops_clock,
            japanese_holidays: settings.japanese_holidays,
            closed_days: settings.closed_days,
            appi_fee: settings.appi_fee.map(Into::into),
            agent_names: settings.agent_names,
            bundle_retention_days: settings.bundle_retention_days,
            due_soon_working_days: settings.due_soon_working_days,
            privacy: settings.privacy.into(),
        }
    }
}

/// A text in English and Japanese.
#[derive(InputObject)]
pub struct BilingualInput {
    /// In English.
    pub en: String,
    /// In Japanese.
    pub ja: String,
}

impl From<BilingualInput> for api::Bilingual {
    fn from(text: BilingualInput) -> Self {
        Self {
            en: text.en,
            ja: text.ja,
        }
    }
}

/// The privacy notice; every text may be left empty while drafting, but a
/// request can't be approved until all are filled in both languages.
#[derive(InputObject)]
pub struct PrivacyNoticeInput {
    /// The purposes of the processing.
    pub purposes: BilingualInput,
    /// The categories of personal data concerned.
    pub categories: BilingualInput,
    /// The recipients the data is disclosed to.
    pub recipients: BilingualInput,
    /// How long the data is kept.
    pub retention: BilingualInput,
    /// Where the data comes from.
    pub source: BilingualInput,
    /// The subject's rights, and how to complain.
    pub rights: BilingualInput,
}

impl From<PrivacyNoticeInput> for api::PrivacyNotice {
    fn from(notice: PrivacyNoticeInput) -> Self {
        Self {
            purposes: notice.purposes.into(),
            categories: notice.categories.into(),
            recipients: notice.recipients.into(),
            retention: notice.retention.into(),
            source: notice.source.into(),
            rights: notice.rights.into(),
        }
    }
}

/// A fee, in the currency's minor unit.
#[derive(InputObject)]
pub struct FeeInput {
    /// The amount in the currency's minor unit (JPY has none).
    pub amount: Int64,
    /// ISO 4217, e.g. `JPY`.
    pub currency: String,
}

/// A tenant's disclosure settings: they replace the current ones whole.
#[derive(InputObject)]
pub struct DisclosureSettingsInput {
    /// The regime of a request created without one.
    pub default_regime: Regime,
    /// APPI's internal limit, in days from receipt (1 to 14).
    pub appi_limit_days: u32,
    /// Whether the GDPR clock stops while waiting for the requester's
    /// identity.
    pub gdpr_identity_stops_clock: bool,
    /// Whether the APPI clock stops while waiting for the requester's
    /// identity.
    pub appi_identity_stops_clock: bool,
    /// Japanese public holidays (2020–2035) count as closed days.
    pub japanese_holidays: bool,
    /// The tenant's own closed days.
    #[graphql(default)]
    pub closed_days: Vec<NaiveDate>,
    /// APPI art. 38: the fee for a disclosure; null charges none.
    pub appi_fee: Option<FeeInput>,
    /// Agents by name in the bundle's call lists, instead of a pseudonym.
    pub agent_names: bool,
    /// Days a bundle is kept after delivery (1 to 365).
    pub bundle_retention_days: u32,
    /// Working days before the due date a request counts as due soon (1
    /// to 20).
    pub due_soon_working_days: u32,
    /// What the bundle tells the requester.
    pub privacy: PrivacyNoticeInput,
}

impl From<DisclosureSettingsInput> for api::DisclosureSettings {
    fn from(input: DisclosureSettingsInput) -> Self {
        Self {
            default_regime: input.default_regime.into(),
            appi_limit_days: input.appi_limit_days,
            gdpr_identity_stops_clock: input.gdpr_identity_stops_clock,
            appi_identity_stops_clock: input.appi_identity_stops_clock,
            japanese_holidays: input.japanese_holidays,
            closed_days: input.closed_days,
            appi_fee: input.appi_fee.map(|fee| api::Fee {
                amount: fee.amount.0,
                currency: fee.currency,
            }),
            agent_names: input.agent_names,
            bundle_retention_days: input.bundle_retention_days,
            due_soon_working_days: input.due_soon_working_days,
            privacy: input.privacy.into(),
        }
    }
}
