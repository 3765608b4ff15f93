//! The request's deadline in the contract's terms, computed by
//! [`crate::deadline`] from the tenant's settings: regime, APPI limit,
//! whether waiting for identity stops the clock, and its calendar.

use callvault_contracts::disclosure_api::{Deadline, DisclosureSettings, Regime};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use chrono::{DateTime, NaiveDate, Utc};

use crate::deadline::{self, Calendar, ClockStop, DeadlineError, Pause};

/// An extension asked for: months and the reasons sent.
pub(crate) struct Extension<'a> {
    pub months: u32,
    pub reasons: &'a str,
    /// The local day it is asked on (only while the first month runs).
    pub asked_on: NaiveDate,
}

/// The local date of `at` in the tenant's time zone.
pub(crate) fn today(at: DateTime<Utc>, tz: &str) -> ApiResult<NaiveDate> {
    deadline::local_date(at, tz).map_err(error)
}

pub(crate) fn calendar(settings: &DisclosureSettings) -> Calendar {
    Calendar {
        japanese_holidays: settings.japanese_holidays,
        closed_days: settings.closed_days.iter().copied().collect(),
    }
}

fn rules(settings: &DisclosureSettings) -> deadline::Settings {
    let stop = |stops: bool| {
        if stops {
            ClockStop::Suspend
        } else {
            ClockStop::Runs
        }
    };
    let mut rules = deadline::Settings::default();
    rules.gdpr.clock_stop = stop(settings.gdpr_identity_stops_clock);
    rules.appi.clock_stop = stop(settings.appi_identity_stops_clock);
    rules.appi.limit_days = u16::try_from(settings.appi_limit_days).unwrap_or(14);
    rules
}

/// The deadline of a request received at `received_at`, with the identity
/// waits in `pauses`, extended when `extension` says so.
pub(crate) fn compute(
    regime: Regime,
    received_at: DateTime<Utc>,
    tz: &str,
    settings: &DisclosureSettings,
    pauses: &[Pause],
    extension: Option<Extension<'_>>,
) -> ApiResult<Deadline> {
    let received = today(received_at, tz)?;
    let regime_rule = match regime {
        Regime::Gdpr => deadline::Regime::Gdpr,
        Regime::Appi => deadline::Regime::Appi,
    };
    let calendar = calendar(settings);
    let base = deadline::due_date(regime_rule, received, pauses, &rules(settings), &calendar)
        .map_err(error)?;
    let (computed, reasons) = match extension {
        Some(extension) => (
            deadline::extend(&base, extension.months, extension.asked_on, &calendar)
                .map_err(error)?,
            Some(extension.reasons.to_owned()),
        ),
        None => (base.clone(), None),
    };
    // The deadline as it stood at receipt: no wait, no extension.
    let original = if pauses.is_empty() {
        base.due
    } else {
        deadline::due_date(regime_rule, received, &[], &rules(settings), &calendar)
            .map_err(error)?
            .due
    };
    Ok(Deadline {
        due_date: computed.due,
        due_at: deadline::due_at_end_of_day(computed.due, tz).map_err(error)?,
        original_due_date: original,
        extended_by_months: computed.extended_by_months,
        extension_reasons: reasons,
        clock_stopped_days: u32::try_from(computed.paused_days.max(0)).unwrap_or(u32::MAX),
        sue_possible_from: computed.sue_possible_from,
    })
}

pub(crate) fn working_days_until(
    today: NaiveDate,
    due: NaiveDate,
    settings: &DisclosureSettings,
) -> ApiResult<i64> {
    Ok(deadline::working_days_until(
        today,
        due,
        &calendar(settings),
    ))
}

fn error(err: DeadlineError) -> ApiError {
    let code = match err {
        DeadlineError::UnknownTimeZone(_) | DeadlineError::DateOutOfRange => ErrorCode::Internal,
        _ => ErrorCode::InvalidInput,
    };
    if code == ErrorCode::Internal {
        tracing::error!(error = %err, "deadline computation failed");
    }
    ApiError::new(code, err.to_string())
}
