//! Billing periods: local days and calendar months of an account's IANA
//! time zone, as UTC instants.
//!
//! A period starts at its first local day's midnight and ends (exclusive)
//! at the midnight after its last, so consecutive periods meet exactly.
//! Midnight can be missing or doubled by a clock change:
//! - a midnight that doesn't exist (a DST gap over it, as in
//!   America/Santiago each September or America/Sao_Paulo until 2019) is
//!   the first instant after it: the moment the clocks jump, when the day
//!   begins at, say, 01:00;
//! - a midnight that happens twice (clocks set back to it, as in
//!   America/Havana each November) is the earlier of the two.
//!
//! Chrono's dates end in year 262,143: the functions here panic only
//! beyond that.

use callvault_contracts::billing_api::Granularity;
use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveDateTime, TimeZone, Utc,
};
use chrono_tz::Tz;
use rust_decimal::Decimal;

const SECONDS_PER_HOUR: i64 = 3600;
const BYTES_PER_GB: i128 = 1 << 30;

/// One local day or calendar month of a time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub tz: Tz,
    pub granularity: Granularity,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub start: DateTime<Utc>,
    /// Exclusive: the next period's start.
    pub end: DateTime<Utc>,
}

impl Period {
    /// The period of the same kind right after this one.
    pub fn next(&self) -> Period {
        let after = self
            .last_day
            .succ_opt()
            .expect("a date before year 262,143");
        self.same_kind(after)
    }

    /// The period of the same kind right before this one.
    pub fn previous(&self) -> Period {
        let before = self
            .first_day
            .pred_opt()
            .expect("a date after year -262,144");
        self.same_kind(before)
    }

    /// Whether `at` is in `[start, end)`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }

    fn same_kind(&self, date: NaiveDate) -> Period {
        match self.granularity {
            Granularity::Day => day(self.tz, date),
            Granularity::Month => month_starting(self.tz, date),
        }
    }
}

/// The month of `tz` that `at` falls in.
pub fn month_of(tz: Tz, at: DateTime<Utc>) -> Period {
    let month = month_starting(tz, at.with_timezone(&tz).date_naive());
    // Where clocks are set back across midnight, an instant just after a
    // month's (earlier) midnight can still read as the month before.
    if at >= month.end {
        month.next()
    } else if at < month.start {
        month.previous()
    } else {
        month
    }
}

/// The calendar month of `tz` that `first_day` is in (normally its first
/// day; any day of the month gives the same month).
pub fn month_starting(tz: Tz, first_day: NaiveDate) -> Period {
    let first_day = first_day.with_day(1).expect("every month has a day 1");
    let next_first = first_day
        .checked_add_months(Months::new(1))
        .expect("a date before year 262,143");
    Period {
        tz,
        granularity: Granularity::Month,
        first_day,
        last_day: next_first
            .pred_opt()
            .expect("the day before a month's first"),
        start: local_start(tz, first_day),
        end: local_start(tz, next_first),
    }
}

/// One local day of `tz`.
pub fn day(tz: Tz, date: NaiveDate) -> Period {
    let next = date
        .checked_add_days(Days::new(1))
        .expect("a date before year 262,143");
    Period {
        tz,
        granularity: Granularity::Day,
        first_day: date,
        last_day: date,
        start: local_start(tz, date),
        end: local_start(tz, next),
    }
}

/// Each local day from `from` to `to_inclusive`; none when `from` is later.
pub fn days(tz: Tz, from: NaiveDate, to_inclusive: NaiveDate) -> Vec<Period> {
    successive(day(tz, from), to_inclusive)
}

/// Each month that overlaps the local days `from` to `to_inclusive`;
/// none when `from` is later.
pub fn months(tz: Tz, from: NaiveDate, to_inclusive: NaiveDate) -> Vec<Period> {
    successive(month_starting(tz, from), to_inclusive)
}

fn successive(first: Period, to_inclusive: NaiveDate) -> Vec<Period> {
    let mut periods = Vec::new();
    let mut period = first;
    while period.first_day <= to_inclusive {
        periods.push(period);
        period = period.next();
    }
    periods
}

/// The period's length in hours, exactly (a Europe/Berlin March has 743,
/// its October 745).
pub fn hours(period: &Period) -> Decimal {
    Decimal::from(seconds(period)) / Decimal::from(SECONDS_PER_HOUR)
}

/// Storage over a month in GB-months (GB = 2^30 bytes):
/// `byte_seconds / 3600 / 2^30 / hours(month)`, computed as
/// `byte_seconds / (2^30 × the month's seconds)`.
///
/// The whole part of the quotient is an exact `i128` division and only the
/// remainder goes through a `Decimal` division, so any `i128` fits, and the
/// result is exact to `Decimal`'s 28–29 significant digits (about 22
/// decimal places for a petabyte-month), rounded half to even beyond.
/// A period without duration (a day a zone skipped, like Pacific/Apia's
/// 2011-12-30) gives 0.
pub fn gb_months(byte_seconds: i128, month: &Period) -> Decimal {
    let seconds = seconds(month);
    if seconds <= 0 {
        return Decimal::ZERO;
    }
    let divisor = BYTES_PER_GB * i128::from(seconds);
    // A period of 2 seconds or more keeps |whole| < 2^127 / 2^31 = 2^96,
    // within Decimal's 96 bits; a month's 2^21 seconds leave it below 2^76.
    let whole = byte_seconds / divisor;
    let whole = Decimal::try_from_i128_with_scale(whole, 0).unwrap_or(if whole < 0 {
        Decimal::MIN
    } else {
        Decimal::MAX
    });
    // |remainder| < divisor < 2^30 × 2^23 for a month.
    let fraction = Decimal::from_i128_with_scale(byte_seconds % divisor, 0)
        / Decimal::from_i128_with_scale(divisor, 0);
    whole.saturating_add(fraction)
}

fn seconds(period: &Period) -> i64 {
    (period.end - period.start).num_seconds()
}

/// The instant a local day begins (see the module's doc for missing and
/// doubled midnights).
fn local_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&midnight) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => end_of_gap(tz, midnight),
    }
}

/// The first instant whose local time is at or past `midnight`, found by
/// bisection over whole seconds (tz transitions fall on whole seconds).
/// Offsets are under a day, so a day either side of `midnight` read as
/// UTC brackets it.
fn end_of_gap(tz: Tz, midnight: NaiveDateTime) -> DateTime<Utc> {
    let as_utc = midnight.and_utc().timestamp();
    let day = 24 * SECONDS_PER_HOUR;
    let reached = |seconds: i64| local_at(tz, seconds) >= midnight;
    let (mut before, mut after) = (as_utc - day, as_utc + day);
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        if reached(middle) {
            after = middle;
        } else {
            before = middle;
        }
    }
    instant(after)
}

fn local_at(tz: Tz, seconds: i64) -> NaiveDateTime {
    instant(seconds).with_timezone(&tz).naive_local()
}

fn instant(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).expect("an instant within chrono's range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 instant")
    }

    fn month(tz: Tz, year: i32, month: u32) -> Period {
        month_starting(tz, date(year, month, 1))
    }

    #[test]
    fn tokyo_months_start_at_15_utc_the_day_before() {
        let december = month(Tz::Asia__Tokyo, 2026, 12);
        assert_eq!(december.start, utc("2026-11-30T15:00:00Z"));
        assert_eq!(december.end, utc("2026-12-31T15:00:00Z"));
        assert_eq!(december.last_day, date(2026, 12, 31));
        assert_eq!(
            month_of(Tz::Asia__Tokyo, utc("2026-11-30T15:00:00Z")),
            december
        );
        assert_eq!(
            month_of(Tz::Asia__Tokyo, utc("2026-11-30T14:59:59Z")),
            december.previous()
        );
        assert_eq!(december.next().first_day, date(2027, 1, 1));
        assert!(december.contains(december.start) && !december.contains(december.end));
    }

    #[test]
    fn berlin_march_and_october_hours() {
        let berlin = Tz::Europe__Berlin;
        assert_eq!(hours(&month(berlin, 2026, 3)), Decimal::from(743));
        assert_eq!(hours(&month(berlin, 2026, 10)), Decimal::from(745));
        assert_eq!(hours(&month(berlin, 2026, 4)), Decimal::from(720));
        assert_eq!(month(berlin, 2026, 3).start, utc("2026-02-28T23:00:00Z"));
        assert_eq!(month(berlin, 2026, 3).end, utc("2026-03-31T22:00:00Z"));
    }

    #[test]
    fn leap_february_and_utc() {
        let february = month(Tz::UTC, 2028, 2);
        assert_eq!(
            (february.last_day, hours(&february)),
            (date(2028, 2, 29), Decimal::from(696))
        );
        assert_eq!(hours(&month(Tz::UTC, 2027, 2)), Decimal::from(672));
        assert_eq!(february.start, utc("2028-02-01T00:00:00Z"));
        assert_eq!(month_starting(Tz::UTC, date(2028, 2, 17)), february);
    }

    #[test]
    fn kolkata_days_start_at_18_30_utc() {
        let day = day(Tz::Asia__Kolkata, date(2026, 3, 10));
        assert_eq!(day.start, utc("2026-03-09T18:30:00Z"));
        assert_eq!(day.end, utc("2026-03-10T18:30:00Z"));
        assert_eq!(hours(&day), Decimal::from(24));
    }

    #[test]
    fn days_cross_a_month_edge_without_gaps() {
        let days = days(Tz::Asia__Kolkata, date(2026, 1, 30), date(2026, 2, 2));
        let firsts: Vec<_> = days.iter().map(|day| day.first_day).collect();
        assert_eq!(
            firsts,
            vec![
                date(2026, 1, 30),
                date(2026, 1, 31),
                date(2026, 2, 1),
                date(2026, 2, 2)
            ]
        );
        assert!(days.windows(2).all(|pair| pair[0].end == pair[1].start));
        assert_eq!(days[2].start, utc("2026-01-31T18:30:00Z"));
        assert!(super::days(Tz::UTC, date(2026, 2, 2), date(2026, 2, 1)).is_empty());
    }

    #[test]
    fn months_overlapping_a_range() {
        let months = months(Tz::Asia__Tokyo, date(2026, 11, 15), date(2027, 1, 1));
        let firsts: Vec<_> = months.iter().map(|month| month.first_day).collect();
        assert_eq!(
            firsts,
            vec![date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)]
        );
    }

    #[test]
    fn a_missing_midnight_starts_the_day_when_clocks_jump() {
        // Santiago 2026-09-06: 00:00 −04 never happens; 04:00Z is 01:00 −03.
        let santiago = day(Tz::America__Santiago, date(2026, 9, 6));
        assert_eq!(santiago.start, utc("2026-09-06T04:00:00Z"));
        assert_eq!(santiago.end, utc("2026-09-07T03:00:00Z"));
        assert_eq!(hours(&santiago), Decimal::from(23));
        assert_eq!(
            hours(&month(Tz::America__Santiago, 2026, 9)),
            Decimal::from(719)
        );
        let sao_paulo = day(Tz::America__Sao_Paulo, date(2018, 11, 4));
        assert_eq!(sao_paulo.start, utc("2018-11-04T03:00:00Z"));
        assert_eq!(sao_paulo.previous().end, sao_paulo.start);
    }

    #[test]
    fn a_doubled_midnight_is_the_earlier() {
        // Havana 2026-11-01: 00:00 CDT (04:00Z) and again 00:00 CST (05:00Z).
        let november = month(Tz::America__Havana, 2026, 11);
        assert_eq!(november.start, utc("2026-11-01T04:00:00Z"));
        assert_eq!(hours(&november), Decimal::from(721));
        assert_eq!(
            month_of(Tz::America__Havana, utc("2026-11-01T04:30:00Z")),
            november
        );
        assert_eq!(november.previous().end, november.start);
    }

    #[test]
    fn gb_months_of_a_month() {
        let april = month(Tz::UTC, 2026, 4);
        let gb = BYTES_PER_GB;
        // 1 GB kept all April: 720 hours of it.
        assert_eq!(gb_months(gb * 720 * 3600, &april), Decimal::ONE);
        assert_eq!(gb_months(gb * 360 * 3600, &april), Decimal::new(5, 1));
        assert_eq!(gb_months(0, &april), Decimal::ZERO);
        // A petabyte (2^50 bytes) all month, and one byte-second more.
        let petabyte_month = gb * gb / 1024 * 720 * 3600;
        let more = gb_months(petabyte_month + 1, &april);
        assert_eq!(more.trunc(), Decimal::from(1_048_576));
        assert!(more > Decimal::from(1_048_576));
        assert!(gb_months(i128::MAX, &april) > Decimal::ZERO);
        assert!(gb_months(i128::MIN, &april) < Decimal::ZERO);
    }
}
