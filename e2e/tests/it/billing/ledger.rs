//! What the scenario sent (and, for the real uploads, shreds and
//! deliveries, what the services reported doing, read off the bus), and
//! the invoices that follows from it, computed here with the test's own
//! arithmetic: exact fractions of integers, Tokyo months from the fixed
//! +09:00 offset (Japan has had no daylight saving time since 1951), the
//! plans' prices written out again. Nothing here uses billing's code.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};

/// Bytes in the GB of a GB-month.
pub const GIB: i128 = 1 << 30;

pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00")
}

/// The Tokyo day `at` falls on.
pub fn tokyo_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&jst()).date_naive()
}

/// The instant a Tokyo day begins.
pub fn tokyo_midnight(day: NaiveDate) -> DateTime<Utc> {
    jst()
        .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .single()
        .expect("a fixed offset has every local time once")
        .with_timezone(&Utc)
}

/// A calendar month of Asia/Tokyo: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Month {
    pub first_day: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Month {
    pub fn of(at: DateTime<Utc>) -> Month {
        Month::starting(tokyo_day(at))
    }

    /// The month `day` is in.
    pub fn starting(day: NaiveDate) -> Month {
        let first_day = day.with_day(1).expect("day 1");
        let next = first_day
            .checked_add_months(chrono::Months::new(1))
            .expect("a later month");
        Month {
            first_day,
            start: tokyo_midnight(first_day),
            end: tokyo_midnight(next),
        }
    }

    pub fn next(&self) -> Month {
        Month::starting(self.last_day().succ_opt().expect("a day after"))
    }

    pub fn previous(&self) -> Month {
        Month::starting(self.first_day.pred_opt().expect("a day before"))
    }

    pub fn last_day(&self) -> NaiveDate {
        tokyo_day(self.end - Duration::seconds(1))
    }

    pub fn seconds(&self) -> i128 {
        i128::from((self.end - self.start).num_seconds())
    }

    /// Local time `hh:mm:ss` of the month's day `day` (from 1), as an instant.
    pub fn at(&self, day: u32, hour: i64, minute: i64, second: i64) -> DateTime<Utc> {
        self.start
            + Duration::days(i64::from(day) - 1)
            + Duration::seconds(hour * 3600 + minute * 60 + second)
    }
}

/// An exact fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Q {
    num: i128,
    den: i128,
}

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Q {
    pub fn new(num: i128, den: i128) -> Q {
        assert!(den != 0, "a fraction over zero");
        let sign = if den < 0 { -1 } else { 1 };
        let g = gcd(num, den);
        Q {
            num: sign * num / g,
            den: sign * den / g,
        }
    }

    pub fn int(n: i128) -> Q {
        Q { num: n, den: 1 }
    }

    pub fn add(self, other: Q) -> Q {
        Q::new(
            self.num * other.den + other.num * self.den,
            self.den * other.den,
        )
    }

    pub fn sub(self, other: Q) -> Q {
        self.add(Q::new(-other.num, other.den))
    }

    pub fn scale(self, num: i128, den: i128) -> Q {
        // Reduce first: the products stay far inside i128.
        let a = Q::new(self.num, den);
        let b = Q::new(num, self.den);
        Q::new(a.num * b.num, a.den * b.den)
    }

    pub fn min(self, other: Q) -> Q {
        if self.num * other.den <= other.num * self.den {
            self
        } else {
            other
        }
    }

    pub fn max(self, other: Q) -> Q {
        if self.num * other.den >= other.num * self.den {
            self
        } else {
            other
        }
    }

    /// Rounded to a whole number the issuer's way.
    pub fn round(self, mode: Rounding) -> i64 {
        let (sign, abs) = (self.num.signum(), self.num.abs());
        let magnitude = match mode {
            Rounding::Down => abs / self.den,
            Rounding::HalfUp => (2 * abs + self.den) / (2 * self.den),
        };
        i64::try_from(sign * magnitude).expect("an amount within i64")
    }

    /// In units of 10^-18, rounded down: fractions with unrelated
    /// denominators compare there without overflowing.
    fn fixed(self) -> i128 {
        let whole = self.num.div_euclid(self.den);
        let rest = self.num.rem_euclid(self.den);
        whole * UNIT + rest * UNIT / self.den
    }

    /// Whether `text` (a decimal the API printed) is this fraction within
    /// 2 × 10^-15: the API's decimals have 28 significant digits, so a
    /// fraction like 1/3 can only be compared that far.
    pub fn matches(self, text: &str) -> bool {
        (fixed(text) - self.fixed()).abs() <= SLACK
    }

    /// Whether `text` lies in `[low, high]`, give or take 2 × 10^-15.
    pub fn between(text: &str, low: Q, high: Q) -> bool {
        let value = fixed(text);
        low.fixed() - SLACK <= value && value <= high.fixed() + SLACK
    }
}

/// 10^18: [`Q::fixed`]'s unit.
const UNIT: i128 = 1_000_000_000_000_000_000;
/// 2 × 10^-15 in that unit.
const SLACK: i128 = 2_000;

/// A decimal the API printed in units of 10^-18, truncated.
fn fixed(text: &str) -> i128 {
    const PLACES: usize = 18;
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let frac: String = format!("{frac:0<PLACES$}").chars().take(PLACES).collect();
    let scaled: i128 = format!("{int}{frac}")
        .parse()
        .unwrap_or_else(|_| panic!("not a decimal: {text:?}"));
    if negative { -scaled } else { scaled }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// 切り捨て: towards zero.
    Down,
    /// 四捨五入: halves away from zero.
    HalfUp,
}

/// The meters the scenario's plans charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Meter {
    IngestedSeconds,
    Recordings,
    StorageGbMonths,
    DisclosuresDelivered,
}

impl Meter {
    pub fn name(self) -> &'static str {
        match self {
            Meter::IngestedSeconds => "INGESTED_SECONDS",
            Meter::Recordings => "RECORDINGS",
            Meter::StorageGbMonths => "STORAGE_GB_MONTHS",
            Meter::DisclosuresDelivered => "DISCLOSURES_DELIVERED",
        }
    }
}

/// One charge of a plan, priced by the test's own formula.
pub struct Charge {
    pub meter: Meter,
    /// Base units (seconds, GB-months, recordings, requests) per charge unit.
    pub unit: i128,
    /// Its own tax rate (percent), else the plan's.
    pub tax_rate: Option<i128>,
    /// The exact amount, in yen, for a quantity in base units.
    pub price: fn(Q) -> Q,
}

pub struct Plan {
    pub base_fee: i64,
    pub tax_rate: i128,
    pub charges: Vec<Charge>,
    /// The issuer's rounding.
    pub rounding: Rounding,
}

/// The retail plan (docs/billing.md §6): the first 1,000 minutes at ¥0,
/// then ¥2 a minute up to 10,000 minutes, ¥1.5 above; ¥3 per GB-month;
/// ¥500 per delivered disclosure; ¥10,000 a month; 10 %. The BPO rounds
/// down.
pub fn retail_plan() -> Plan {
    Plan {
        base_fee: 10_000,
        tax_rate: 10,
        rounding: Rounding::Down,
        charges: vec![
            Charge {
                meter: Meter::IngestedSeconds,
                unit: 60,
                tax_rate: None,
                price: |seconds| {
                    // Seconds 60,000 to 600,000 at ¥2 a minute (2/60 a
                    // second), those above at ¥1.5 (1.5/60).
                    let zero = Q::int(0);
                    let second_tier = seconds.min(Q::int(600_000)).sub(Q::int(60_000)).max(zero);
                    let third_tier = seconds.sub(Q::int(600_000)).max(zero);
                    second_tier.scale(2, 60).add(third_tier.scale(3, 120))
                },
            },
            Charge {
                meter: Meter::StorageGbMonths,
                unit: 1,
                tax_rate: None,
                price: |gb_months| gb_months.scale(3, 1),
            },
            Charge {
                meter: Meter::DisclosuresDelivered,
                unit: 1,
                tax_rate: None,
                price: |requests| requests.scale(500, 1),
            },
        ],
    }
}

/// The wholesale plan: ¥0.8 a minute, ¥1.2 per GB-month, ¥100 per
/// delivered disclosure, ¥50 per started package of 10 recordings at 8 %,
/// ¥5,000 a month, 10 %. The platform rounds half up.
pub fn wholesale_plan() -> Plan {
    Plan {
        base_fee: 5_000,
        tax_rate: 10,
        rounding: Rounding::HalfUp,
        charges: vec![
            Charge {
                meter: Meter::IngestedSeconds,
                unit: 60,
                tax_rate: None,
                price: |seconds| seconds.scale(8, 600),
            },
            Charge {
                meter: Meter::StorageGbMonths,
                unit: 1,
                tax_rate: None,
                price: |gb_months| gb_months.scale(12, 10),
            },
            Charge {
                meter: Meter::DisclosuresDelivered,
                unit: 1,
                tax_rate: None,
                price: |requests| requests.scale(100, 1),
            },
            Charge {
                meter: Meter::Recordings,
                unit: 1,
                tax_rate: Some(8),
                price: |recordings| {
                    // Started packages of 10: ceil(n / 10).
                    let packages =
                        (recordings.num + 10 * recordings.den - 1) / (10 * recordings.den);
                    Q::int(packages * 50)
                },
            },
        ],
    }
}

/// One expected invoice line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub kind: &'static str,
    pub meter: Option<&'static str>,
    /// In the charge's unit.
    pub quantity: Q,
    pub amount: i64,
    pub tax_rate: i128,
    pub original_date: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub lines: Vec<Line>,
    /// Per rate, ascending: (rate, subtotal, tax).
    pub taxes: Vec<(i128, i64, i64)>,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
}

/// Usage of an earlier, finalized month that arrived after it was
/// finalized: what was billed and what there is now, in base units.
pub struct Late {
    pub meter: Meter,
    pub billed: Q,
    pub now: Q,
    pub original_date: NaiveDate,
}

impl Plan {
    /// The invoice of a month with `usage` (base units per meter) and the
    /// late usage of earlier months.
    pub fn invoice(&self, usage: &BTreeMap<Meter, Q>, late: &[Late]) -> Expected {
        let mut lines = vec![Line {
            kind: "BASE_FEE",
            meter: None,
            quantity: Q::int(1),
            amount: self.base_fee,
            tax_rate: self.tax_rate,
            original_date: None,
        }];
        for charge in &self.charges {
            let quantity = usage.get(&charge.meter).copied().unwrap_or(Q::int(0));
            lines.push(Line {
                kind: "USAGE",
                meter: Some(charge.meter.name()),
                quantity: quantity.scale(1, charge.unit),
                amount: (charge.price)(quantity).round(self.rounding),
                tax_rate: charge.tax_rate.unwrap_or(self.tax_rate),
                original_date: None,
            });
        }
        for late in late {
            let charge = self
                .charges
                .iter()
                .find(|c| c.meter == late.meter)
                .expect("a charged meter");
            let difference = (charge.price)(late.now).sub((charge.price)(late.billed));
            lines.push(Line {
                kind: "ADJUSTMENT",
                meter: Some(charge.meter.name()),
                quantity: late.now.sub(late.billed).scale(1, charge.unit),
                amount: difference.round(self.rounding),
                tax_rate: charge.tax_rate.unwrap_or(self.tax_rate),
                original_date: Some(late.original_date),
            });
        }
        let mut by_rate: BTreeMap<i128, i64> = BTreeMap::new();
        for line in &lines {
            *by_rate.entry(line.tax_rate).or_default() += line.amount;
        }
        let taxes: Vec<(i128, i64, i64)> = by_rate
            .into_iter()
            .map(|(rate, subtotal)| {
                let tax = Q::int(i128::from(subtotal))
                    .scale(rate, 100)
                    .round(self.rounding);
                (rate, subtotal, tax)
            })
            .collect();
        let subtotal = taxes.iter().map(|t| t.1).sum();
        let tax = taxes.iter().map(|t| t.2).sum();
        Expected {
            lines,
            taxes,
            subtotal,
            tax,
            total: subtotal + tax,
        }
    }
}

/// A recording's `recording.ingested`.
#[derive(Clone, Debug)]
pub struct Ingested {
    pub tenant: String,
    pub at: DateTime<Utc>,
    pub duration_ms: u64,
}

/// A recording kept from `from` until `until` (shredded) or for good.
#[derive(Clone, Debug)]
pub struct Stored {
    pub tenant: String,
    /// Stored by the storage service (not published by the test).
    pub real: bool,
    pub size: u64,
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

/// A `disclosure.delivered`.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub tenant: String,
    pub at: DateTime<Utc>,
}

/// Everything metered: real and published alike.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    pub ingested: Vec<Ingested>,
    pub stored: Vec<Stored>,
    pub delivered: Vec<Delivered>,
}

/// `[start, end)` in Unix seconds: billing keeps whole seconds.
fn within(at: DateTime<Utc>, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    start.timestamp() <= at.timestamp() && at.timestamp() < end.timestamp()
}

impl Ledger {
    /// Only what the storage service stored: what its records know.
    pub fn real(&self) -> Ledger {
        Ledger {
            stored: self.stored.iter().filter(|s| s.real).cloned().collect(),
            ..self.clone()
        }
    }

    fn of<'a, T>(
        rows: &'a [T],
        tenants: &'a [&str],
        tenant: fn(&T) -> &str,
    ) -> impl Iterator<Item = &'a T> {
        rows.iter()
            .filter(move |row| tenants.contains(&tenant(row)))
    }

    /// Seconds ingested in `[start, end)`: each recording's duration
    /// rounded up to the second.
    pub fn seconds(&self, tenants: &[&str], start: DateTime<Utc>, end: DateTime<Utc>) -> i128 {
        Self::of(&self.ingested, tenants, |r| &r.tenant)
            .filter(|r| within(r.at, start, end))
            .map(|r| i128::from(r.duration_ms.div_ceil(1000)))
            .sum()
    }

    pub fn recordings(&self, tenants: &[&str], start: DateTime<Utc>, end: DateTime<Utc>) -> i128 {
        Self::of(&self.ingested, tenants, |r| &r.tenant)
            .filter(|r| within(r.at, start, end))
            .count() as i128
    }

    pub fn deliveries(&self, tenants: &[&str], start: DateTime<Utc>, end: DateTime<Utc>) -> i128 {
        Self::of(&self.delivered, tenants, |r| &r.tenant)
            .filter(|r| within(r.at, start, end))
            .count() as i128
    }

    /// Bytes × seconds kept within `[start, end)`.
    pub fn byte_seconds(&self, tenants: &[&str], start: DateTime<Utc>, end: DateTime<Utc>) -> i128 {
        let (a, b) = (start.timestamp(), end.timestamp());
        Self::of(&self.stored, tenants, |r| &r.tenant)
            .map(|r| {
                let from = r.from.timestamp().max(a);
                let until = r.until.map_or(b, |u| u.timestamp()).min(b);
                i128::from(r.size) * i128::from((until - from).max(0))
            })
            .sum()
    }

    /// GB-months kept within `[start, end)` of `month`.
    pub fn gb_months(
        &self,
        tenants: &[&str],
        month: &Month,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Q {
        Q::new(
            self.byte_seconds(tenants, start, end),
            GIB * month.seconds(),
        )
    }

    /// Each charged meter's usage in `month`, storage counted up to
    /// `stored_until` (the month's end once it is over).
    pub fn usage(
        &self,
        tenants: &[&str],
        month: &Month,
        stored_until: DateTime<Utc>,
    ) -> BTreeMap<Meter, Q> {
        let (start, end) = (month.start, month.end);
        BTreeMap::from([
            (
                Meter::IngestedSeconds,
                Q::int(self.seconds(tenants, start, end)),
            ),
            (
                Meter::Recordings,
                Q::int(self.recordings(tenants, start, end)),
            ),
            (
                Meter::StorageGbMonths,
                self.gb_months(tenants, month, start, stored_until.min(end)),
            ),
            (
                Meter::DisclosuresDelivered,
                Q::int(self.deliveries(tenants, start, end)),
            ),
        ])
    }
}

/// `¥12,345`, `-¥150`: money as the PDF prints it.
pub fn yen(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}¥{grouped}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_round_and_compare() {
        assert_eq!(Q::new(2_343_165, 120).round(Rounding::Down), 19_526);
        assert_eq!(Q::new(5, 2).round(Rounding::HalfUp), 3);
        assert_eq!(Q::new(-5, 2).round(Rounding::HalfUp), -3);
        assert_eq!(Q::new(-29, 10).round(Rounding::Down), -2);
        assert!(Q::new(661_055, 60).matches("11017.583333333333333333333333"));
        assert!(!Q::new(661_055, 60).matches("11017.583333333"));
        assert!(Q::int(2).matches("2"));
        assert_eq!(yen(1_234_567), "¥1,234,567");
        assert_eq!(yen(-150), "-¥150");
        assert_eq!(yen(999), "¥999");
    }

    #[test]
    fn tokyo_months() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 17).expect("day");
        let december = Month::starting(day);
        assert_eq!(december.start.to_rfc3339(), "2026-11-30T15:00:00+00:00");
        assert_eq!(december.end.to_rfc3339(), "2026-12-31T15:00:00+00:00");
        assert_eq!(december.seconds(), 31 * 86_400);
        assert_eq!(december.last_day().day(), 31);
        assert_eq!(december.next().first_day.month(), 1);
        assert_eq!(december.previous().seconds(), 30 * 86_400);
        assert_eq!(Month::of(december.end), december.next());
    }
}
