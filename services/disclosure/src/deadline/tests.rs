use super::*;

type Ymd = (i32, u32, u32);

fn d((year, month, day): Ymd) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("test dates are real dates")
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test instants are rfc 3339")
        .with_timezone(&Utc)
}

/// The calendars the table uses.
#[derive(Debug, Clone, Copy)]
enum Cal {
    /// Japanese holidays only.
    Japan,
    /// Japanese holidays and a 年末年始 closure, 29 Dec 2025 to 3 Jan 2026.
    JapanYearEnd,
    /// An EU tenant with no closed days entered.
    Eu,
    /// An EU tenant closed on 25 and 26 December 2025.
    EuChristmas,
}

fn calendar(kind: Cal) -> Calendar {
    match kind {
        Cal::Japan => Calendar::japan(),
        Cal::JapanYearEnd => Calendar {
            closed_days: d((2025, 12, 29)).iter_days().take(6).collect(),
            ..Calendar::japan()
        },
        Cal::Eu => Calendar::default(),
        Cal::EuChristmas => Calendar::with_closed_days([d((2025, 12, 25)), d((2025, 12, 26))]),
    }
}

use Cal::{Eu, EuChristmas, Japan, JapanYearEnd};
use Regime::{Appi, Gdpr};

/// (regime, received, calendar, expected due), default settings. Each row is
/// checked by hand in its comment: receipt, end of period, and why it moves.
const CASES: &[(Regime, Ymd, Cal, Ymd)] = &[
    // Sat 15 Mar 2025 → Tue 15 Apr 2025, a working day.
    (Gdpr, (2025, 3, 15), Japan, (2025, 4, 15)),
    // Fri 28 Feb 2025 → Fri 28 Mar 2025: same date, not "month end to month end".
    (Gdpr, (2025, 2, 28), Japan, (2025, 3, 28)),
    // Fri 31 Jan 2025 → no 31 Feb → last day, Fri 28 Feb 2025.
    (Gdpr, (2025, 1, 31), Japan, (2025, 2, 28)),
    // Wed 29 Jan 2025 → no 29 Feb in 2025 → Fri 28 Feb 2025.
    (Gdpr, (2025, 1, 29), Japan, (2025, 2, 28)),
    // Thu 30 Jan 2025 → Fri 28 Feb 2025.
    (Gdpr, (2025, 1, 30), Japan, (2025, 2, 28)),
    // Wed 31 Jan 2024 (leap year) → Thu 29 Feb 2024.
    (Gdpr, (2024, 1, 31), Japan, (2024, 2, 29)),
    // Mon 29 Jan 2024 → Thu 29 Feb 2024, which exists in a leap year.
    (Gdpr, (2024, 1, 29), Japan, (2024, 2, 29)),
    // Tue 30 Jan 2024 → no 30 Feb → Thu 29 Feb 2024.
    (Gdpr, (2024, 1, 30), Japan, (2024, 2, 29)),
    // Thu 29 Feb 2024 → Fri 29 Mar 2024 (春分の日 was Wed 20 Mar).
    (Gdpr, (2024, 2, 29), Japan, (2024, 3, 29)),
    // Thu 31 Jan 2030 → Thu 28 Feb 2030.
    (Gdpr, (2030, 1, 31), Japan, (2030, 2, 28)),
    // Mon 31 Mar 2025 → Wed 30 Apr 2025; 昭和の日 is the day before, Tue 29 Apr.
    (Gdpr, (2025, 3, 31), Japan, (2025, 4, 30)),
    // Sat 31 May 2025 → Mon 30 Jun 2025.
    (Gdpr, (2025, 5, 31), Japan, (2025, 6, 30)),
    // Sun 31 Aug 2025 → Tue 30 Sep 2025 (the EDPB's example 33 shape).
    (Gdpr, (2025, 8, 31), Japan, (2025, 9, 30)),
    // Mon 1 Dec 2025 → Thu 1 Jan 2026, 元日 → Fri 2 Jan 2026 (not a public holiday).
    (Gdpr, (2025, 12, 1), Japan, (2026, 1, 2)),
    // Same, tenant closed 29 Dec-3 Jan: Fri 2 Jan closed, Sat 3 closed, Sun 4 → Mon 5 Jan 2026.
    (Gdpr, (2025, 12, 1), JapanYearEnd, (2026, 1, 5)),
    // Same for an EU tenant with no closed days: Thu 1 Jan 2026 stays, 元日 is not theirs.
    (Gdpr, (2025, 12, 1), Eu, (2026, 1, 1)),
    // Thu 31 Dec 2026 → Sun 31 Jan 2027 → Mon 1 Feb 2027.
    (Gdpr, (2026, 12, 31), Japan, (2027, 2, 1)),
    // Fri 3 Apr 2026 → Sun 3 May 2026 憲法記念日; Mon 4 みどりの日, Tue 5 こどもの日,
    // Wed 6 振替休日 → Thu 7 May 2026.
    (Gdpr, (2026, 4, 3), Japan, (2026, 5, 7)),
    // Sat 5 Apr 2025 → Mon 5 May 2025 こどもの日; Tue 6 振替休日 → Wed 7 May 2025.
    (Gdpr, (2025, 4, 5), Japan, (2025, 5, 7)),
    // Sat 13 Sep 2025 → Mon 13 Oct 2025, スポーツの日 on a weekday → Tue 14 Oct 2025.
    (Gdpr, (2025, 9, 13), Japan, (2025, 10, 14)),
    // Sat 22 Aug 2026 → Tue 22 Sep 2026 国民の休日; Wed 23 秋分の日 → Thu 24 Sep 2026.
    (Gdpr, (2026, 8, 22), Japan, (2026, 9, 24)),
    // Tue 25 Nov 2025 → Thu 25 Dec 2025 closed; Fri 26 closed; Sat, Sun → Mon 29 Dec 2025.
    (Gdpr, (2025, 11, 25), EuChristmas, (2025, 12, 29)),
    // APPI, 14 days, roll back. Tue 1 Apr 2025 + 14 → Tue 15 Apr 2025, working.
    (Appi, (2025, 4, 1), Japan, (2025, 4, 15)),
    // Tue 22 Apr 2025 + 14 → Tue 6 May 2025 振替休日; back over Mon 5 こどもの日,
    // Sun 4, Sat 3 → Fri 2 May 2025.
    (Appi, (2025, 4, 22), Japan, (2025, 5, 2)),
    // Sat 20 Dec 2025 + 14 → Sat 3 Jan 2026; back → Fri 2 Jan 2026 (open without closures).
    (Appi, (2025, 12, 20), Japan, (2026, 1, 2)),
    // Same with the year-end closure: 2 Jan closed, 1 Jan 元日, 31-29 Dec closed,
    // Sun 28, Sat 27 → Fri 26 Dec 2025.
    (Appi, (2025, 12, 20), JapanYearEnd, (2025, 12, 26)),
    // Thu 1 May 2025 + 14 → Thu 15 May 2025, working.
    (Appi, (2025, 5, 1), Japan, (2025, 5, 15)),
];

#[test]
fn due_dates_match_the_hand_checked_table() {
    let settings = Settings::default();
    for &(regime, received, cal, expected) in CASES {
        let deadline = due_date(regime, d(received), &[], &settings, &calendar(cal))
            .expect("table rows are inside the holiday table's years");
        assert_eq!(
            deadline.due,
            d(expected),
            "{regime:?} received {received:?} with {cal:?}"
        );
        assert_eq!(deadline.first_due, deadline.due, "nothing extended yet");
        assert!(
            calendar(cal).is_working_day(deadline.due),
            "{regime:?} received {received:?}: due on a closed day"
        );
    }
    assert!(CASES.len() >= 20, "the issue asks for at least 20 rows");
}

#[test]
fn appi_exposes_the_day_a_suit_becomes_possible() {
    // Received Tue 1 Apr 2025: the two weeks are 2-15 Apr, a suit is
    // possible from Wed 16 Apr 2025; the answer is due Tue 15 Apr.
    let deadline = due_date(
        Appi,
        d((2025, 4, 1)),
        &[],
        &Settings::default(),
        &Calendar::japan(),
    )
    .expect("2025 is covered");
    assert_eq!(deadline.sue_possible_from, Some(d((2025, 4, 16))));
    assert_eq!(deadline.due, d((2025, 4, 15)));

    // Received Tue 22 Apr 2025: suit from Wed 7 May 2025 even though 6 May
    // is a holiday, because Art. 39(1) is a plain calendar period.
    let deadline = due_date(
        Appi,
        d((2025, 4, 22)),
        &[],
        &Settings::default(),
        &Calendar::japan(),
    )
    .expect("2025 is covered");
    assert_eq!(deadline.sue_possible_from, Some(d((2025, 5, 7))));

    let gdpr = due_date(
        Gdpr,
        d((2025, 4, 1)),
        &[],
        &Settings::default(),
        &Calendar::japan(),
    )
    .expect("2025 is covered");
    assert_eq!(gdpr.sue_possible_from, None);
}

#[test]
fn appi_limit_and_roll_are_tenant_settings() {
    let mut settings = Settings::default();

    // Rolling forward instead: Tue 22 Apr 2025 + 14 → Tue 6 May 2025 振替休日
    // → Wed 7 May 2025, the same day a suit becomes possible.
    settings.appi.roll = Roll::Following;
    let deadline = due_date(Appi, d((2025, 4, 22)), &[], &settings, &Calendar::japan())
        .expect("2025 is covered");
    assert_eq!(deadline.due, d((2025, 5, 7)));

    // Seven days: Tue 28 Apr 2026 + 7 → Tue 5 May 2026 こどもの日; back over
    // Mon 4 みどりの日, Sun 3, Sat 2 → Fri 1 May 2026.
    settings.appi = AppiSettings {
        limit_days: 7,
        ..AppiSettings::default()
    };
    let deadline = due_date(Appi, d((2026, 4, 28)), &[], &settings, &Calendar::japan())
        .expect("2026 is covered");
    assert_eq!(deadline.due, d((2026, 5, 1)));
    assert_eq!(
        deadline.sue_possible_from,
        Some(d((2026, 5, 13))),
        "Wed 13 May, whatever the limit"
    );

    // One day: Sat 2 May 2026 + 1 → Sun 3 May; no working day after receipt
    // to go back to, so forward over Mon 4, Tue 5, Wed 6 (振替) → Thu 7 May 2026.
    settings.appi.limit_days = 1;
    let deadline = due_date(Appi, d((2026, 5, 2)), &[], &settings, &Calendar::japan())
        .expect("2026 is covered");
    assert_eq!(deadline.due, d((2026, 5, 7)));
}

#[test]
fn extension_inside_the_first_month_adds_months_to_the_unrolled_end() {
    let settings = Settings::default();
    let japan = Calendar::japan();

    // Fri 31 Jan 2025 → Fri 28 Feb 2025; +2 months from 28 Feb → Mon 28 Apr
    // 2025 (three months from receipt would be Wed 30 Apr: we keep the earlier).
    let first = due_date(Gdpr, d((2025, 1, 31)), &[], &settings, &japan).expect("2025 is covered");
    let extended = extend(&first, 2, d((2025, 2, 20)), &japan).expect("inside the first month");
    assert_eq!(extended.due, d((2025, 4, 28)));
    assert_eq!(extended.first_due, d((2025, 2, 28)));
    assert_eq!(extended.extended_by_months, Some(2));

    // Sat 5 Apr 2025 → Mon 5 May こどもの日, due Wed 7 May; +1 month counts
    // from 5 May → Thu 5 Jun 2025 (from the rolled 7 May it would be Sat 7 Jun
    // → Mon 9 Jun).
    let first = due_date(Gdpr, d((2025, 4, 5)), &[], &settings, &japan).expect("2025 is covered");
    let extended = extend(&first, 1, d((2025, 5, 1)), &japan).expect("inside the first month");
    assert_eq!(extended.due, d((2025, 6, 5)));

    // Tue 3 Mar 2026 → Fri 3 Apr 2026; +1 → Sun 3 May 2026 (Golden Week) →
    // Thu 7 May 2026.
    let first = due_date(Gdpr, d((2026, 3, 3)), &[], &settings, &japan).expect("2026 is covered");
    let extended = extend(&first, 1, d((2026, 3, 20)), &japan).expect("inside the first month");
    assert_eq!(extended.due, d((2026, 5, 7)));
}

#[test]
fn extension_is_allowed_on_the_first_due_day_and_refused_after() {
    let japan = Calendar::japan();
    // Sat 15 Mar 2025 → due Tue 15 Apr 2025.
    let first = due_date(Gdpr, d((2025, 3, 15)), &[], &Settings::default(), &japan)
        .expect("2025 is covered");

    // On Tue 15 Apr itself: +1 → Thu 15 May 2025.
    let extended = extend(&first, 1, d((2025, 4, 15)), &japan).expect("the due day still counts");
    assert_eq!(extended.due, d((2025, 5, 15)));

    // Wed 16 Apr: the first month is over.
    assert_eq!(
        extend(&first, 1, d((2025, 4, 16)), &japan),
        Err(DeadlineError::ExtensionTooLate {
            first_due: d((2025, 4, 15))
        })
    );

    // Only one extension, even if the first was shorter than two months.
    assert_eq!(
        extend(&extended, 1, d((2025, 4, 15)), &japan),
        Err(DeadlineError::AlreadyExtended)
    );

    // "Two further months": neither 0 nor 3.
    assert_eq!(
        extend(&first, 3, d((2025, 4, 1)), &japan),
        Err(DeadlineError::InvalidExtensionMonths(3))
    );
    assert_eq!(
        extend(&first, 0, d((2025, 4, 1)), &japan),
        Err(DeadlineError::InvalidExtensionMonths(0))
    );
}

#[test]
fn appi_deadlines_cannot_be_extended() {
    let japan = Calendar::japan();
    let appi = due_date(Appi, d((2025, 4, 1)), &[], &Settings::default(), &japan)
        .expect("2025 is covered");
    assert_eq!(
        extend(&appi, 1, d((2025, 4, 2)), &japan),
        Err(DeadlineError::NotExtendable)
    );
}

#[test]
fn gdpr_identity_wait_suspends_the_clock_by_default() {
    let japan = Calendar::japan();
    let received = d((2025, 3, 3)); // Mon; without a pause due Thu 3 Apr 2025.
    let asked_wed_5 = Pause::from((d((2025, 3, 5)), d((2025, 3, 12))));

    // Asked Wed 5 Mar, proof Wed 12 Mar: 7 days stopped → Thu 10 Apr 2025.
    let deadline = due_date(Gdpr, received, &[asked_wed_5], &Settings::default(), &japan)
        .expect("2025 is covered");
    assert_eq!(deadline.paused_days, 7);
    assert_eq!(deadline.period_end, d((2025, 4, 10)));
    assert_eq!(deadline.due, d((2025, 4, 10)));

    // Overlapping pauses count once: 5-12 and 10-14 Mar are 5-14, 9 days →
    // Sat 12 Apr → Mon 14 Apr 2025.
    let overlapping = Pause {
        asked: d((2025, 3, 10)),
        answered: d((2025, 3, 14)),
    };
    let deadline = due_date(
        Gdpr,
        received,
        &[overlapping, asked_wed_5],
        &Settings::default(),
        &japan,
    )
    .expect("2025 is covered");
    assert_eq!(deadline.paused_days, 9);
    assert_eq!(deadline.due, d((2025, 4, 14)));

    // Asked after the period ended (Fri 4 Apr): too late to stop anything.
    let late = Pause {
        asked: d((2025, 4, 4)),
        answered: d((2025, 4, 20)),
    };
    let deadline =
        due_date(Gdpr, received, &[late], &Settings::default(), &japan).expect("2025 is covered");
    assert_eq!(deadline.due, d((2025, 4, 3)));
    assert_eq!(deadline.paused_days, 0);

    // The clock-running setting ignores the wait: Thu 3 Apr 2025.
    let mut settings = Settings::default();
    settings.gdpr.clock_stop = ClockStop::Runs;
    let deadline =
        due_date(Gdpr, received, &[asked_wed_5], &settings, &japan).expect("2025 is covered");
    assert_eq!(deadline.due, d((2025, 4, 3)));

    // The ICO's restart: one month from Wed 12 Mar → Sat 12 Apr → Mon 14 Apr 2025.
    settings.gdpr.clock_stop = ClockStop::Restart;
    let deadline =
        due_date(Gdpr, received, &[asked_wed_5], &settings, &japan).expect("2025 is covered");
    assert_eq!(deadline.counted_from, d((2025, 3, 12)));
    assert_eq!(deadline.due, d((2025, 4, 14)));
}

#[test]
fn appi_identity_wait_runs_by_default_and_can_suspend() {
    let japan = Calendar::japan();
    let received = d((2025, 4, 1)); // Tue; due Tue 15 Apr 2025, suit from Wed 16 Apr.
    let wait = Pause {
        asked: d((2025, 4, 2)),
        answered: d((2025, 4, 9)),
    };

    let deadline =
        due_date(Appi, received, &[wait], &Settings::default(), &japan).expect("2025 is covered");
    assert_eq!(deadline.due, d((2025, 4, 15)));

    // Suspended: 7 days → Tue 22 Apr 2025; the suit date does not move.
    let mut settings = Settings::default();
    settings.appi.clock_stop = ClockStop::Suspend;
    let deadline = due_date(Appi, received, &[wait], &settings, &japan).expect("2025 is covered");
    assert_eq!(deadline.due, d((2025, 4, 22)));
    assert_eq!(deadline.sue_possible_from, Some(d((2025, 4, 16))));
}

#[test]
fn bad_pauses_are_refused() {
    let japan = Calendar::japan();
    let received = d((2025, 3, 3));
    let backwards = Pause {
        asked: d((2025, 3, 10)),
        answered: d((2025, 3, 5)),
    };
    assert_eq!(
        due_date(Gdpr, received, &[backwards], &Settings::default(), &japan),
        Err(DeadlineError::PauseEndsBeforeStart {
            asked: d((2025, 3, 10)),
            answered: d((2025, 3, 5))
        })
    );
    let early = Pause {
        asked: d((2025, 3, 1)),
        answered: d((2025, 3, 5)),
    };
    assert_eq!(
        due_date(Gdpr, received, &[early], &Settings::default(), &japan),
        Err(DeadlineError::PauseBeforeReceipt {
            asked: d((2025, 3, 1)),
            received
        })
    );
}

#[test]
fn japanese_calendar_refuses_years_it_does_not_know() {
    // Sat 15 Dec 2035 → Tue 15 Jan 2036: a weekday, but 2036 holidays are unknown.
    let result = due_date(
        Gdpr,
        d((2035, 12, 15)),
        &[],
        &Settings::default(),
        &Calendar::japan(),
    );
    assert_eq!(result, Err(DeadlineError::HolidaysNotCovered(2036)));

    // An EU calendar does not depend on the table.
    let deadline = due_date(
        Gdpr,
        d((2035, 12, 15)),
        &[],
        &Settings::default(),
        &Calendar::default(),
    )
    .expect("no japanese holidays involved");
    assert_eq!(deadline.due, d((2036, 1, 15)));
}

#[test]
fn working_days_and_due_soon() {
    let japan = Calendar::japan();
    let due = d((2026, 5, 7)); // Thu, after Golden Week.

    // From Thu 30 Apr 2026: Fri 1 May works, Sat 2, Sun 3, Mon 4, Tue 5 and
    // Wed 6 do not, Thu 7 works → 2.
    assert_eq!(working_days_until(d((2026, 4, 30)), due, &japan), 2);
    assert!(due_soon(
        d((2026, 4, 30)),
        due,
        DEFAULT_DUE_SOON_WORKING_DAYS,
        &japan
    ));

    // An EU tenant works 1, 4, 5, 6, 7 May → 5, not yet due soon.
    assert_eq!(
        working_days_until(d((2026, 4, 30)), due, &Calendar::default()),
        5
    );
    assert!(!due_soon(
        d((2026, 4, 30)),
        due,
        DEFAULT_DUE_SOON_WORKING_DAYS,
        &Calendar::default()
    ));

    // From Fri 24 Apr 2026: Mon 27, Tue 28, (Wed 29 昭和の日), Thu 30, Fri 1,
    // Thu 7 → 5.
    assert_eq!(working_days_until(d((2026, 4, 24)), due, &japan), 5);
    assert!(!due_soon(
        d((2026, 4, 24)),
        due,
        DEFAULT_DUE_SOON_WORKING_DAYS,
        &japan
    ));

    // On the due day: 0 left, due soon, not overdue.
    assert_eq!(working_days_until(due, due, &japan), 0);
    assert!(due_soon(due, due, DEFAULT_DUE_SOON_WORKING_DAYS, &japan));
    assert!(!is_overdue(due, due));

    // Fri 8 May 2026: one working day late, overdue, no longer "due soon".
    assert_eq!(working_days_until(d((2026, 5, 8)), due, &japan), -1);
    assert!(is_overdue(d((2026, 5, 8)), due));
    assert!(!due_soon(
        d((2026, 5, 8)),
        due,
        DEFAULT_DUE_SOON_WORKING_DAYS,
        &japan
    ));
}

#[test]
fn local_dates_follow_the_tenant_time_zone() {
    // 15:30 UTC on 31 Mar 2026 is 00:30 on 1 Apr in Tokyo, 17:30 on 31 Mar in Berlin.
    let at = utc("2026-03-31T15:30:00Z");
    assert_eq!(local_date(at, "Asia/Tokyo"), Ok(d((2026, 4, 1))));
    assert_eq!(local_date(at, "Europe/Berlin"), Ok(d((2026, 3, 31))));
    assert_eq!(
        local_date(at, "Mars/Olympus"),
        Err(DeadlineError::UnknownTimeZone("Mars/Olympus".to_owned()))
    );
}

#[test]
fn due_days_end_at_the_next_local_midnight() {
    // Thu 7 May 2026 ends at 00:00 JST on 8 May = 15:00 UTC on 7 May.
    assert_eq!(
        due_at_end_of_day(d((2026, 5, 7)), "Asia/Tokyo"),
        Ok(utc("2026-05-07T15:00:00Z"))
    );
    // Berlin moves to summer time at 02:00 on Sun 29 Mar 2026: Sat 28 ends at
    // 00:00 CET (UTC+1), Sun 29 at 00:00 CEST (UTC+2).
    assert_eq!(
        due_at_end_of_day(d((2026, 3, 28)), "Europe/Berlin"),
        Ok(utc("2026-03-28T23:00:00Z"))
    );
    assert_eq!(
        due_at_end_of_day(d((2026, 3, 29)), "Europe/Berlin"),
        Ok(utc("2026-03-29T22:00:00Z"))
    );
    // Chile jumps from 00:00 to 01:00 on Sun 6 Sep 2026 (at 04:00 UTC), so
    // Sat 5 Sep ends at the jump.
    assert_eq!(
        due_at_end_of_day(d((2026, 9, 5)), "America/Santiago"),
        Ok(utc("2026-09-06T04:00:00Z"))
    );
    assert_eq!(
        due_at_end_of_day(d((2026, 9, 5)), "Nowhere/Special"),
        Err(DeadlineError::UnknownTimeZone("Nowhere/Special".to_owned()))
    );
}

#[test]
fn error_messages_are_lowercase() {
    let errors = [
        DeadlineError::UnknownTimeZone("x".to_owned()),
        DeadlineError::InvalidExtensionMonths(3),
        DeadlineError::NotExtendable,
        DeadlineError::AlreadyExtended,
        DeadlineError::ExtensionTooLate {
            first_due: d((2025, 1, 1)),
        },
        DeadlineError::PauseEndsBeforeStart {
            asked: d((2025, 1, 2)),
            answered: d((2025, 1, 1)),
        },
        DeadlineError::PauseBeforeReceipt {
            asked: d((2025, 1, 1)),
            received: d((2025, 1, 2)),
        },
        DeadlineError::HolidaysNotCovered(2036),
        DeadlineError::DateOutOfRange,
    ];
    for error in errors {
        let message = error.to_string();
        let first = message.chars().next().expect("messages are not empty");
        assert!(!first.is_uppercase(), "{message}");
    }
}

// ---- the holiday table -------------------------------------------------------

fn table() -> Vec<(NaiveDate, &'static str)> {
    holidays_jp::HOLIDAYS
        .iter()
        .map(|&(ymd, name)| (d(ymd), name))
        .collect()
}

#[test]
fn holiday_table_is_sorted_and_covers_every_year() {
    let rows = table();
    assert!(
        rows.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "strictly increasing, no duplicates"
    );
    for year in holidays_jp::FIRST_YEAR..=holidays_jp::LAST_YEAR {
        let in_year: Vec<_> = rows
            .iter()
            .filter(|(date, _)| date.year() == year)
            .collect();
        // 16 fixed holidays a year, plus substitutes and 国民の休日.
        assert!(
            (16..=21).contains(&in_year.len()),
            "{year}: {} rows",
            in_year.len()
        );
        assert_eq!(
            holidays_jp::holiday_name(d((year, 1, 1))),
            Some("元日"),
            "{year}"
        );
    }
    assert_eq!(rows.first().map(|row| row.0), Some(d((2020, 1, 1))));
    assert_eq!(rows.last().map(|row| row.0), Some(d((2035, 11, 23))));
}

#[test]
fn every_sunday_holiday_has_its_substitute_and_no_other_exists() {
    let rows = table();
    let is_holiday = |date: NaiveDate| holidays_jp::holiday_name(date).is_some();
    for &(date, name) in &rows {
        if date.weekday() == Weekday::Sun && name != "振替休日" {
            // Art. 3(2): the nearest following day that is not a holiday.
            let substitute = date
                .iter_days()
                .skip(1)
                .find(|day| holidays_jp::holiday_name(*day).is_none_or(|n| n == "振替休日"))
                .expect("the table goes on after every sunday holiday");
            assert_eq!(
                holidays_jp::holiday_name(substitute),
                Some("振替休日"),
                "after {date}"
            );
        }
        if name == "振替休日" {
            assert!(!is_weekend(date), "substitute {date} is a weekday");
            // Walking back over holidays must reach a Sunday holiday.
            let sunday = date
                .iter_days()
                .rev()
                .skip(1)
                .take_while(|day| is_holiday(*day))
                .any(|day| day.weekday() == Weekday::Sun);
            assert!(sunday, "substitute {date} follows a sunday holiday");
        }
        if name == "国民の休日" {
            let before = date.pred_opt().expect("in range");
            let after = date.succ_opt().expect("in range");
            assert!(
                is_holiday(before) && is_holiday(after),
                "{date} sits between two holidays"
            );
        }
    }
}

#[test]
fn holiday_table_matches_the_act_on_national_holidays() {
    // An independent reading of the rules; the table was generated the same
    // way and also checked against holiday-jp/holiday_jp, so this guards
    // against hand edits that break a rule.
    let mut expected = BTreeSet::new();
    for year in holidays_jp::FIRST_YEAR..=holidays_jp::LAST_YEAR {
        expected.extend(national_holidays(year));
    }
    let proper = expected.clone();
    for &date in &proper {
        if date.weekday() == Weekday::Sun {
            let substitute = date
                .iter_days()
                .skip(1)
                .find(|day| !expected.contains(day))
                .expect("in range");
            expected.insert(substitute);
        }
    }
    for &date in &proper {
        let middle = date.succ_opt().expect("in range");
        let next = middle.succ_opt().expect("in range");
        if proper.contains(&next) && !expected.contains(&middle) {
            expected.insert(middle);
        }
    }
    let actual: BTreeSet<NaiveDate> = table().into_iter().map(|(date, _)| date).collect();
    assert_eq!(actual, expected);
}

/// Art. 2 national holidays of `year`, with the Olympic moves of 2020-2021.
fn national_holidays(year: i32) -> Vec<NaiveDate> {
    let monday = |month: u32, nth: u8| {
        NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Mon, nth)
            .expect("months have mondays")
    };
    // The standard approximation; truncation is floor for these positive values.
    let since = f64::from(year - 1980);
    let leap_days = f64::from((year - 1980).div_euclid(4));
    let equinox = |base: f64| (base + 0.242_194 * since - leap_days).floor() as u32;
    let (marine, sports, mountain) = match year {
        2020 => (d((2020, 7, 23)), d((2020, 7, 24)), d((2020, 8, 10))),
        2021 => (d((2021, 7, 22)), d((2021, 7, 23)), d((2021, 8, 8))),
        _ => (monday(7, 3), monday(10, 2), d((year, 8, 11))),
    };
    vec![
        d((year, 1, 1)),
        monday(1, 2),
        d((year, 2, 11)),
        d((year, 2, 23)),
        d((year, 3, equinox(20.8431))),
        d((year, 4, 29)),
        d((year, 5, 3)),
        d((year, 5, 4)),
        d((year, 5, 5)),
        marine,
        mountain,
        monday(9, 3),
        d((year, 9, equinox(23.2488))),
        sports,
        d((year, 11, 3)),
        d((year, 11, 23)),
    ]
}

#[test]
fn holiday_spot_checks() {
    let name = |ymd| holidays_jp::holiday_name(d(ymd));
    // 建国記念の日 on Sun 11 Feb 2024 → substitute Mon 12 Feb.
    assert_eq!(name((2024, 2, 12)), Some("振替休日"));
    // Silver week 2026: Mon 21 敬老の日, Tue 22 between two holidays, Wed 23 秋分の日.
    assert_eq!(name((2026, 9, 21)), Some("敬老の日"));
    assert_eq!(name((2026, 9, 22)), Some("国民の休日"));
    assert_eq!(name((2026, 9, 23)), Some("秋分の日"));
    // Golden Week 2025: Tue 29 Apr, Sat 3, Sun 4, Mon 5, Tue 6 (for Sun 4) May.
    assert_eq!(name((2025, 4, 29)), Some("昭和の日"));
    assert_eq!(name((2025, 5, 3)), Some("憲法記念日"));
    assert_eq!(name((2025, 5, 4)), Some("みどりの日"));
    assert_eq!(name((2025, 5, 5)), Some("こどもの日"));
    assert_eq!(name((2025, 5, 6)), Some("振替休日"));
    // Olympic moves.
    assert_eq!(name((2020, 7, 23)), Some("海の日"));
    assert_eq!(name((2020, 7, 24)), Some("スポーツの日"));
    assert_eq!(name((2020, 8, 10)), Some("山の日"));
    assert_eq!(name((2021, 7, 22)), Some("海の日"));
    assert_eq!(name((2021, 7, 23)), Some("スポーツの日"));
    assert_eq!(name((2021, 8, 8)), Some("山の日"));
    assert_eq!(name((2021, 8, 9)), Some("振替休日"));
    // ... and the days they left: not holidays.
    assert_eq!(name((2020, 10, 12)), None);
    assert_eq!(name((2021, 10, 11)), None);
    assert_eq!(name((2021, 8, 11)), None);
    assert_eq!(name((2021, 7, 19)), None);
    // 元日 on Sun 1 Jan 2023 → Mon 2 Jan; 2 Jan is otherwise no holiday.
    assert_eq!(name((2023, 1, 2)), Some("振替休日"));
    assert_eq!(name((2025, 1, 2)), None);
    // Equinoxes: Wed 20 Mar 2024, Sun 22 Sep 2024 (→ Mon 23), Sun 21 Mar 2027 (→ Mon 22).
    assert_eq!(name((2024, 3, 20)), Some("春分の日"));
    assert_eq!(name((2024, 9, 22)), Some("秋分の日"));
    assert_eq!(name((2024, 9, 23)), Some("振替休日"));
    assert_eq!(name((2027, 3, 21)), Some("春分の日"));
    assert_eq!(name((2027, 3, 22)), Some("振替休日"));
    // Outside the table.
    assert!(!holidays_jp::covers(2036));
    assert_eq!(name((2036, 1, 1)), None);
}
