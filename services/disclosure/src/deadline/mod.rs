//! Legal deadlines for data-subject requests: GDPR Art. 12(3) and the Japanese
//! APPI (個人情報の保護に関する法律) Arts. 33(2) and 39(1).
//!
//! All dates are local dates in the tenant's IANA time zone: convert instants
//! with [`local_date`] before calling anything else, and turn a due date back
//! into the instant it expires with [`due_at_end_of_day`].
//!
//! # GDPR
//!
//! "Within one month of receipt of the request", counted as Regulation (EEC,
//! Euratom) No 1182/71 counts it (EDPB Guidelines 01/2022, para. 160):
//!
//! - the day of receipt is not counted (Art. 3(1));
//! - a period in months ends with the expiry of the last hour of the day in
//!   the last month that has the same date as the day of receipt, or of that
//!   month's last day when it has no such date (Art. 3(2)(c)): 15 March → 15
//!   April, 31 January → 28 or 29 February;
//! - a period whose last day is a public holiday, Saturday or Sunday ends
//!   with the expiry of the last hour of the following working day (Art.
//!   3(4)). Holidays are the tenant's [`Calendar`].
//!
//! One extension by one or two further months ([`extend`]) must be decided
//! while the first month runs (Art. 12(3), third sentence).
//!
//! # APPI
//!
//! The law says only "without delay" (遅滞なく, Art. 33(2)); a requester may
//! sue once two weeks have passed since the request reached the business
//! (Art. 39(1)). The tenant sets an internal limit in calendar days (default
//! 14, the same two weeks), counted from the day after receipt.
//!
//! # Waiting for identity proof
//!
//! Per regime, [`ClockStop`] says whether the time spent waiting for identity
//! proof counts; the defaults and their sources are on [`GdprSettings`] and
//! [`AppiSettings`].

pub mod holidays_jp;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Working days ahead of a due date at which [`due_soon`] starts to warn,
/// when the tenant has not chosen another number.
pub const DEFAULT_DUE_SOON_WORKING_DAYS: u32 = 3;

/// The law a request is made under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// EU GDPR, Art. 12(3).
    Gdpr,
    /// Japan's APPI, Arts. 33(2) and 39(1).
    Appi,
}

/// What waiting for the requester's identity proof does to the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockStop {
    /// The clock keeps running while the proof is awaited.
    Runs,
    /// The clock stops on the day the proof is asked for and resumes on the
    /// day it arrives: the whole calendar days in between are added to the
    /// end of the period (the EDPB's "suspension in time").
    Suspend,
    /// The period is counted afresh from the day the proof arrives (the UK
    /// ICO's reading: the time limit runs from receipt of the requested
    /// information).
    Restart,
}

/// Which way an APPI due date that falls on a non-working day moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Roll {
    /// To the next working day, as GDPR does.
    Following,
    /// To the previous working day after the day of receipt, so the answer
    /// stays inside the limit; where there is none, to the next working day.
    Preceding,
}

/// Tenant settings for GDPR requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GdprSettings {
    /// Default [`ClockStop::Suspend`]: EDPB Guidelines 01/2022 on data
    /// subject rights - Right of access (version 2.0 adopted 28 March 2023;
    /// version 2.1 of 30 May 2024 made minor corrections), para. 159: "when the controller needs to communicate with the data
    /// subject due to the uncertainty regarding the identity of the person
    /// making the request there may be a suspension in time until the
    /// controller has obtained the information needed from the data subject,
    /// provided the controller has asked for additional information without
    /// undue delay". A suspension, not a restart, so the days before the
    /// question was asked still count. Record a pause only when the question
    /// was asked without undue delay and the doubt was reasonable (Art.
    /// 12(6)): this module cannot check either. UK GDPR tenants may choose
    /// [`ClockStop::Restart`], which is what the ICO describes.
    pub clock_stop: ClockStop,
}

impl Default for GdprSettings {
    fn default() -> Self {
        Self {
            clock_stop: ClockStop::Suspend,
        }
    }
}

/// Tenant settings for APPI requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppiSettings {
    /// Internal limit in calendar days after receipt; default 14, because
    /// Art. 39(1) lets the requester sue once two weeks have passed.
    pub limit_days: u16,
    /// Default [`Roll::Preceding`]: the limit exists to answer before a suit
    /// becomes possible, and rolling forward past a holiday would land on or
    /// after that day.
    pub roll: Roll,
    /// Default [`ClockStop::Runs`]: neither the Act nor anything found of the
    /// PPC's guidance says the time stops while identity is checked, and the
    /// Art. 39(1) two weeks run from the day the request arrived whatever
    /// happens afterwards.
    pub clock_stop: ClockStop,
}

impl Default for AppiSettings {
    fn default() -> Self {
        Self {
            limit_days: 14,
            roll: Roll::Preceding,
            clock_stop: ClockStop::Runs,
        }
    }
}

/// A tenant's deadline settings, one part per regime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Settings for GDPR requests.
    pub gdpr: GdprSettings,
    /// Settings for APPI requests.
    pub appi: AppiSettings,
}

/// The days on which a tenant does not work, besides Saturdays and Sundays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Calendar {
    /// Whether Japanese public holidays are closed days (built in for
    /// [`holidays_jp::FIRST_YEAR`] to [`holidays_jp::LAST_YEAR`]).
    pub japanese_holidays: bool,
    /// The tenant's own closed days (company holidays, or an EU tenant's
    /// public holidays).
    pub closed_days: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// Japanese public holidays and no other closed days.
    pub fn japan() -> Self {
        Self {
            japanese_holidays: true,
            closed_days: BTreeSet::new(),
        }
    }

    /// Only the given closed days, as an EU tenant would use.
    pub fn with_closed_days(closed_days: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self {
            japanese_holidays: false,
            closed_days: closed_days.into_iter().collect(),
        }
    }

    /// Whether `date` is a working day: not a Saturday, Sunday, Japanese
    /// holiday (when enabled) or closed day.
    ///
    /// Outside the years the holiday table covers, Japanese holidays are not
    /// known and only weekends and closed days count; [`due_date`] and
    /// [`extend`] refuse such dates instead.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        let japanese_holiday = self.japanese_holidays && holidays_jp::holiday_name(date).is_some();
        !(is_weekend(date) || japanese_holiday || self.closed_days.contains(&date))
    }

    /// Like [`Calendar::is_working_day`], but fails where the answer depends
    /// on Japanese holidays the table does not have.
    fn checked_working_day(&self, date: NaiveDate) -> Result<bool, DeadlineError> {
        if self.japanese_holidays && !holidays_jp::covers(date.year()) {
            return Err(DeadlineError::HolidaysNotCovered(date.year()));
        }
        Ok(self.is_working_day(date))
    }
}

/// A span during which the request waited for identity proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// Day the requester was asked for proof.
    pub asked: NaiveDate,
    /// Day the proof arrived.
    pub answered: NaiveDate,
}

impl From<(NaiveDate, NaiveDate)> for Pause {
    fn from((asked, answered): (NaiveDate, NaiveDate)) -> Self {
        Self { asked, answered }
    }
}

/// A computed deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// Law the request was made under.
    pub regime: Regime,
    /// Day the request was received.
    pub received: NaiveDate,
    /// Day the period is counted from: `received`, or the day the last proof
    /// arrived under [`ClockStop::Restart`].
    pub counted_from: NaiveDate,
    /// Whole calendar days added under [`ClockStop::Suspend`].
    pub paused_days: i64,
    /// Last day of the period before moving off a non-working day; extensions
    /// are counted from here.
    pub period_end: NaiveDate,
    /// The day the answer is due, until the end of that local day.
    pub due: NaiveDate,
    /// Due day of the first period, which is also the last day to decide and
    /// notify a GDPR extension. Equal to `due` until [`extend`] is applied.
    pub first_due: NaiveDate,
    /// Further months granted under GDPR Art. 12(3), if any.
    pub extended_by_months: Option<u32>,
    /// APPI only: the first day the requester may sue (Art. 39(1)). The two
    /// weeks start the day after arrival (Civil Code Art. 140) and end with
    /// received + 14 days, so a suit is possible from received + 15. This is
    /// a calendar period: it does not move for holidays or pauses.
    pub sue_possible_from: Option<NaiveDate>,
}

/// Why a deadline could not be computed or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    /// The time zone is not an IANA name chrono-tz knows.
    #[error("unknown time zone {0:?}")]
    UnknownTimeZone(String),
    /// Art. 12(3) allows "two further months", so one or two.
    #[error("an extension must be 1 or 2 months, not {0}")]
    InvalidExtensionMonths(u32),
    /// Only GDPR has an extension.
    #[error("only gdpr deadlines can be extended")]
    NotExtendable,
    /// Art. 12(3) allows one extension.
    #[error("the deadline was already extended")]
    AlreadyExtended,
    /// The extension must be notified within the first period.
    #[error("too late to extend: the first period ended on {first_due}")]
    ExtensionTooLate {
        /// Due day of the first period.
        first_due: NaiveDate,
    },
    /// A pause whose proof arrived before it was asked for.
    #[error("pause answered on {answered}, before it was asked on {asked}")]
    PauseEndsBeforeStart {
        /// Day the proof was asked for.
        asked: NaiveDate,
        /// Day the proof arrived.
        answered: NaiveDate,
    },
    /// A pause that starts before the request existed.
    #[error("pause asked on {asked}, before the request was received on {received}")]
    PauseBeforeReceipt {
        /// Day the proof was asked for.
        asked: NaiveDate,
        /// Day the request was received.
        received: NaiveDate,
    },
    /// The calendar uses Japanese holidays and the date is outside the table.
    #[error("japanese holidays are only known for 2020 to 2035, not {0}")]
    HolidaysNotCovered(i32),
    /// Date arithmetic left chrono's range.
    #[error("date out of range")]
    DateOutOfRange,
}

/// Computes when a request received on `received` must be answered.
///
/// `paused` are the spans spent waiting for identity proof; what they do
/// depends on the regime's [`ClockStop`]. Overlapping pauses are merged, and a
/// pause asked for after the period had already ended changes nothing, since
/// an expired period cannot be stopped.
pub fn due_date(
    regime: Regime,
    received: NaiveDate,
    paused: &[Pause],
    settings: &Settings,
    calendar: &Calendar,
) -> Result<Deadline, DeadlineError> {
    let pauses = merge_pauses(received, paused)?;
    let period = match regime {
        Regime::Gdpr => Period::Months(1),
        Regime::Appi => Period::Days(settings.appi.limit_days),
    };
    let clock_stop = match regime {
        Regime::Gdpr => settings.gdpr.clock_stop,
        Regime::Appi => settings.appi.clock_stop,
    };

    let mut counted_from = received;
    let mut period_end = period.end_from(received)?;
    let mut paused_days = 0;
    for pause in &pauses {
        if pause.asked > period_end {
            break;
        }
        match clock_stop {
            ClockStop::Runs => break,
            ClockStop::Suspend => {
                let days = (pause.answered - pause.asked).num_days();
                paused_days += days;
                period_end = add_days(period_end, days)?;
            }
            ClockStop::Restart => {
                counted_from = pause.answered;
                period_end = period.end_from(counted_from)?;
            }
        }
    }

    let due = match (regime, settings.appi.roll) {
        (Regime::Appi, Roll::Preceding) => roll_preceding(calendar, period_end, counted_from)?,
        _ => roll_following(calendar, period_end)?,
    };
    let sue_possible_from = match regime {
        Regime::Gdpr => None,
        Regime::Appi => Some(add_days(received, 15)?),
    };
    Ok(Deadline {
        regime,
        received,
        counted_from,
        paused_days,
        period_end,
        due,
        first_due: due,
        extended_by_months: None,
        sue_possible_from,
    })
}

/// Extends a GDPR deadline by one or two further months (Art. 12(3)).
///
/// The months are added to the first period's end before it was moved off a
/// non-working day, and the result is then moved to the next working day.
/// Allowed once, and only while the first period runs (`today <=
/// deadline.first_due`), since the data subject must be told of the
/// extension within it.
///
/// Where the first period ended on a shortened month-end, the extension keeps
/// the shorter day: received 31 January 2025 → 28 February → 28 April, where
/// counting three months from receipt (the ICO's method) would give 30
/// April. The earlier day is the safe one.
pub fn extend(
    deadline: &Deadline,
    months: u32,
    today: NaiveDate,
    calendar: &Calendar,
) -> Result<Deadline, DeadlineError> {
    if deadline.regime != Regime::Gdpr {
        return Err(DeadlineError::NotExtendable);
    }
    if !(1..=2).contains(&months) {
        return Err(DeadlineError::InvalidExtensionMonths(months));
    }
    if deadline.extended_by_months.is_some() {
        return Err(DeadlineError::AlreadyExtended);
    }
    if today > deadline.first_due {
        return Err(DeadlineError::ExtensionTooLate {
            first_due: deadline.first_due,
        });
    }
    let period_end = Period::Months(months).end_from(deadline.period_end)?;
    let due = roll_following(calendar, period_end)?;
    Ok(Deadline {
        period_end,
        due,
        extended_by_months: Some(months),
        ..deadline.clone()
    })
}

/// Working days after `today` up to and including `due`; when `due` is past,
/// minus the working days after `due` up to and including `today`.
///
/// Zero means due today, or no working day left before it; use
/// [`is_overdue`] to tell a past due date.
pub fn working_days_until(today: NaiveDate, due: NaiveDate, calendar: &Calendar) -> i64 {
    let (from, to, sign) = if due >= today {
        (today, due, 1)
    } else {
        (due, today, -1)
    };
    let count = from
        .iter_days()
        .skip(1)
        .take_while(|day| *day <= to)
        .filter(|day| calendar.is_working_day(*day))
        .count();
    sign * i64::try_from(count).unwrap_or(i64::MAX)
}

/// Whether a request still open on `today` is due within
/// `ahead_working_days` working days (see [`DEFAULT_DUE_SOON_WORKING_DAYS`]).
/// An overdue request is not "due soon": it is overdue.
pub fn due_soon(
    today: NaiveDate,
    due: NaiveDate,
    ahead_working_days: u32,
    calendar: &Calendar,
) -> bool {
    !is_overdue(today, due)
        && working_days_until(today, due, calendar) <= i64::from(ahead_working_days)
}

/// Whether a request due on `due` and still open on `today` is overdue: the
/// due day lasts until its end, so only from the next day.
pub fn is_overdue(today: NaiveDate, due: NaiveDate) -> bool {
    today > due
}

/// The local date of `at` in the IANA time zone `tz` (e.g. "Asia/Tokyo").
pub fn local_date(at: DateTime<Utc>, tz: &str) -> Result<NaiveDate, DeadlineError> {
    Ok(at.with_timezone(&parse_tz(tz)?).date_naive())
}

/// The instant a due day expires in the IANA time zone `tz`: the next local
/// midnight, in UTC ("the expiry of the last hour of the day", 1182/71 Art.
/// 3(2)(c)).
///
/// Where a daylight-saving change skips that midnight, the day ends when the
/// clocks jump; where midnight happens twice, at the first one, the earlier
/// and so safer instant.
pub fn due_at_end_of_day(due: NaiveDate, tz: &str) -> Result<DateTime<Utc>, DeadlineError> {
    let tz = parse_tz(tz)?;
    let midnight = due
        .succ_opt()
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .ok_or(DeadlineError::DateOutOfRange)?;
    let end = match tz.from_local_datetime(&midnight) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Some(at),
        // The first local minute that exists after a skipped midnight is the
        // instant of the jump; a day or more was skipped only once (Samoa,
        // 2011), so a day and an hour of minutes is enough to find it.
        LocalResult::None => (1..=25 * 60).find_map(|minute| {
            tz.from_local_datetime(&(midnight + Duration::minutes(minute)))
                .earliest()
        }),
    };
    end.map(|at| at.with_timezone(&Utc))
        .ok_or(DeadlineError::DateOutOfRange)
}

fn parse_tz(tz: &str) -> Result<Tz, DeadlineError> {
    tz.parse::<Tz>()
        .map_err(|_| DeadlineError::UnknownTimeZone(tz.to_owned()))
}

/// A legal period, counted from the day after an event.
#[derive(Debug, Clone, Copy)]
enum Period {
    Months(u32),
    Days(u16),
}

impl Period {
    /// Last day of the period that starts the day after `from`.
    fn end_from(self, from: NaiveDate) -> Result<NaiveDate, DeadlineError> {
        match self {
            // chrono clamps to the month's last day where the date does not
            // exist, which is exactly 1182/71 Art. 3(2)(c).
            Period::Months(months) => from
                .checked_add_months(Months::new(months))
                .ok_or(DeadlineError::DateOutOfRange),
            Period::Days(days) => add_days(from, i64::from(days)),
        }
    }
}

fn add_days(date: NaiveDate, days: i64) -> Result<NaiveDate, DeadlineError> {
    date.checked_add_signed(Duration::days(days))
        .ok_or(DeadlineError::DateOutOfRange)
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn roll_following(calendar: &Calendar, mut date: NaiveDate) -> Result<NaiveDate, DeadlineError> {
    // Ends: closed days are finite, and weekends never last a whole week.
    while !calendar.checked_working_day(date)? {
        date = date.succ_opt().ok_or(DeadlineError::DateOutOfRange)?;
    }
    Ok(date)
}

/// The last working day on or before `date` and after `after`, or the next
/// working day after `date` when there is none (a short limit over a long
/// closure must not end before the request arrived).
fn roll_preceding(
    calendar: &Calendar,
    date: NaiveDate,
    after: NaiveDate,
) -> Result<NaiveDate, DeadlineError> {
    let mut day = date;
    while day > after {
        if calendar.checked_working_day(day)? {
            return Ok(day);
        }
        day = day.pred_opt().ok_or(DeadlineError::DateOutOfRange)?;
    }
    roll_following(calendar, date)
}

/// Validates the pauses and merges overlapping ones, sorted by start, so a
/// day is never counted twice.
fn merge_pauses(received: NaiveDate, paused: &[Pause]) -> Result<Vec<Pause>, DeadlineError> {
    let mut pauses = paused.to_vec();
    for pause in &pauses {
        if pause.answered < pause.asked {
            return Err(DeadlineError::PauseEndsBeforeStart {
                asked: pause.asked,
                answered: pause.answered,
            });
        }
        if pause.asked < received {
            return Err(DeadlineError::PauseBeforeReceipt {
                asked: pause.asked,
                received,
            });
        }
    }
    pauses.sort_by_key(|pause| pause.asked);
    let mut merged: Vec<Pause> = Vec::with_capacity(pauses.len());
    for pause in pauses {
        match merged.last_mut() {
            Some(last) if pause.asked <= last.answered => {
                last.answered = last.answered.max(pause.answered)
            }
            _ => merged.push(pause),
        }
    }
    Ok(merged)
}
