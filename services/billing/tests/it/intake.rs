//! Metering from events: exactly once, attributed by when they happened,
//! cut at the tenant's local midnight, storage integrated over time.

use callvault_contracts::billing_api::{Account, Granularity, Meter, UsageBucket};
use callvault_contracts::events::{Message, RecordingServedV1, ServedAs};
use callvault_contracts::ops::billing::GetUsage;
use callvault_contracts::{RecordingId, TenantId};
use chrono::NaiveDate;
use uuid::Uuid;

use crate::lab::{Lab, active, at, dec, delivered, ingested, shredded, stored};

on_both_backends!(
    a_redelivered_or_duplicated_event_counts_once,
    usage_is_cut_at_the_tenants_local_midnight,
    storage_accrues_from_stored_until_shredded,
    played_seconds_come_from_bytes_and_byte_rate,
    unreadable_events_are_left_out_and_change_nothing,
    active_users_are_counted_distinct,
);

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

async fn usage(
    lab: &Lab,
    tenant: TenantId,
    from: NaiveDate,
    to: NaiveDate,
    g: Granularity,
) -> Vec<UsageBucket> {
    lab.call(GetUsage {
        actor: lab.tenant_admin(tenant),
        account: Account::Tenant(tenant),
        from,
        to,
        granularity: g,
    })
    .await
    .expect("usage")
}

fn quantity(bucket: &UsageBucket, meter: Meter) -> String {
    bucket
        .meters
        .iter()
        .find(|m| m.meter == meter)
        .map(|m| m.quantity.to_string())
        .expect("every meter is listed")
}

async fn a_redelivered_or_duplicated_event_counts_once(lab: &Lab) {
    let recording = Uuid::new_v4();
    let message = ingested(lab.tokyo, recording, 90_001, at(2026, 11, 10, 3, 0, 0));
    // The same event under another message id (a republished event).
    let mut again = message.clone();
    again.id = Uuid::new_v4();
    lab.send(std::slice::from_ref(&message)).await;
    let report = lab
        .billing
        .record(&[message.clone(), again])
        .await
        .expect("intake");
    assert_eq!(
        report.duplicates, 1,
        "the redelivered message is skipped by the inbox"
    );

    let days = usage(
        lab,
        lab.tokyo,
        day(2026, 11, 10),
        day(2026, 11, 10),
        Granularity::Day,
    )
    .await;
    // 90.001 s rounds up to 91 s, once.
    assert_eq!(quantity(&days[0], Meter::IngestedSeconds), "91");
    assert_eq!(quantity(&days[0], Meter::Recordings), "1");
}

async fn usage_is_cut_at_the_tenants_local_midnight(lab: &Lab) {
    // 23:59:59 on 30 November in Tokyo, then 00:00:00 on 1 December.
    let before = at(2026, 11, 30, 14, 59, 59);
    let after = at(2026, 11, 30, 15, 0, 0);
    lab.send(&[
        ingested(lab.tokyo, Uuid::new_v4(), 60_000, before),
        ingested(lab.tokyo, Uuid::new_v4(), 120_000, after),
    ])
    .await;
    let days = usage(
        lab,
        lab.tokyo,
        day(2026, 11, 30),
        day(2026, 12, 1),
        Granularity::Day,
    )
    .await;
    assert_eq!(days.len(), 2);
    assert_eq!(days[0].start, at(2026, 11, 29, 15, 0, 0));
    assert_eq!(quantity(&days[0], Meter::IngestedSeconds), "60");
    assert_eq!(quantity(&days[1], Meter::IngestedSeconds), "120");
    let months = usage(
        lab,
        lab.tokyo,
        day(2026, 11, 1),
        day(2026, 12, 31),
        Granularity::Month,
    )
    .await;
    assert_eq!(months.len(), 2);
    assert_eq!(
        months[1].start,
        at(2026, 11, 30, 15, 0, 0),
        "December starts 15:00 UTC the day before"
    );
    assert_eq!(quantity(&months[0], Meter::IngestedSeconds), "60");
    assert_eq!(quantity(&months[1], Meter::IngestedSeconds), "120");
    // Another tenant sees none of it.
    let theirs = usage(
        lab,
        lab.berlin,
        day(2026, 11, 30),
        day(2026, 12, 1),
        Granularity::Day,
    )
    .await;
    assert!(
        theirs
            .iter()
            .all(|d| quantity(d, Meter::IngestedSeconds) == "0")
    );
}

async fn storage_accrues_from_stored_until_shredded(lab: &Lab) {
    let gib = 1u64 << 30;
    let (one, three) = (Uuid::new_v4(), Uuid::new_v4());
    let stored_at = at(2026, 10, 31, 15, 0, 0); // 1 November, 00:00 in Tokyo
    // Half of November: shredded at 00:00 on the 16th, Tokyo time.
    let shred_at = at(2026, 11, 15, 15, 0, 0);
    // Storage counts up to now: look back from January.
    lab.set_now(at(2027, 1, 5, 0, 0, 0));
    lab.send(&[
        stored(lab.tokyo, one, gib, stored_at),
        stored(lab.tokyo, three, 3 * gib, stored_at),
        shredded(lab.tokyo, one, gib, stored_at, shred_at),
    ])
    .await;
    let months = usage(
        lab,
        lab.tokyo,
        day(2026, 11, 1),
        day(2026, 12, 31),
        Granularity::Month,
    )
    .await;
    assert_eq!(quantity(&months[0], Meter::StorageGbMonths), "3.5");
    // December: 3 GiB the whole month.
    assert_eq!(quantity(&months[1], Meter::StorageGbMonths), "3");
    // Per day, in November's GB-months: the 16th holds 3 GiB for a day of
    // a 720-hour month.
    let days = usage(
        lab,
        lab.tokyo,
        day(2026, 11, 15),
        day(2026, 11, 16),
        Granularity::Day,
    )
    .await;
    assert_eq!(
        quantity(&days[0], Meter::StorageGbMonths),
        dec("0.1333333333333333333333333333").to_string()
    );
    assert_eq!(quantity(&days[1], Meter::StorageGbMonths), "0.1");
}

async fn played_seconds_come_from_bytes_and_byte_rate(lab: &Lab) {
    let served = |bytes, at| {
        Message::new(&RecordingServedV1 {
            tenant_id: lab.tokyo,
            recording_id: RecordingId(Uuid::new_v4()),
            served_as: ServedAs::Playback,
            bytes,
            byte_rate: 16_000,
            served_at: at,
        })
        .expect("message")
    };
    let when = at(2026, 11, 12, 1, 0, 0);
    // 90 s, then a 0.5 s range: each response is its own event.
    lab.send(&[served(1_440_000, when), served(8_000, when)])
        .await;
    let days = usage(
        lab,
        lab.tokyo,
        day(2026, 11, 12),
        day(2026, 11, 12),
        Granularity::Day,
    )
    .await;
    assert_eq!(quantity(&days[0], Meter::PlayedSeconds), "90.5");
}

async fn unreadable_events_are_left_out_and_change_nothing(lab: &Lab) {
    let mut broken = stored(lab.tokyo, Uuid::new_v4(), 1 << 30, at(2026, 11, 3, 0, 0, 0));
    broken.payload = serde_json::json!({"tenant_id": "not a uuid"});
    let report = lab.billing.record(&[broken]).await.expect("intake");
    assert_eq!(report.unreadable, 1);
    assert_eq!(report.counted, 0);
    let days = usage(
        lab,
        lab.tokyo,
        day(2026, 11, 3),
        day(2026, 11, 3),
        Granularity::Day,
    )
    .await;
    assert_eq!(quantity(&days[0], Meter::StorageGbMonths), "0");
}

async fn active_users_are_counted_distinct(lab: &Lab) {
    let morning = at(2026, 11, 12, 0, 0, 0);
    lab.send(&[
        active(lab.tokyo, "u1", morning),
        active(lab.tokyo, "u1", morning + chrono::Duration::hours(2)),
        active(lab.tokyo, "u2", morning),
        active(lab.tokyo, "u1", morning + chrono::Duration::days(1)),
        delivered(lab.tokyo, Uuid::new_v4(), morning),
    ])
    .await;
    let days = usage(
        lab,
        lab.tokyo,
        day(2026, 11, 12),
        day(2026, 11, 13),
        Granularity::Day,
    )
    .await;
    assert_eq!(quantity(&days[0], Meter::ActiveUsers), "2");
    assert_eq!(quantity(&days[1], Meter::ActiveUsers), "1");
    assert_eq!(quantity(&days[0], Meter::DisclosuresDelivered), "1");
    let months = usage(
        lab,
        lab.tokyo,
        day(2026, 11, 1),
        day(2026, 11, 30),
        Granularity::Month,
    )
    .await;
    assert_eq!(quantity(&months[0], Meter::ActiveUsers), "2");
}
