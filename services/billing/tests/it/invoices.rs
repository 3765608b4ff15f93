//! Invoices: the JPY scenario computed by hand, drafts, grace,
//! finalization, numbering, adjustments for late events, the timer, the
//! files, and the BPO's statement.

use base64::Engine;
use callvault_contracts::billing_api::{
    Account, Charge, ChargeModel, ChargeUnit, Currency, Invoice, InvoiceFilter, InvoiceStatus,
    LineKind, Meter, NewPlan, RoundingMode,
};
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::billing::{
    AssignPlan, FinalizeInvoice, GetBpoStatement, GetInvoice, InvoiceFormat, ListInvoices,
    RenderInvoice,
};
use callvault_contracts::{Actor, TenantId};
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, Statement};
use uuid::Uuid;

use crate::lab::{Lab, at, dec, delivered, ingested, jpy_retail, platform, shredded, stored};

on_both_backends!(
    the_jpy_scenario_matches_hand_computed_amounts,
    half_up_rounding_changes_lines_and_tax,
    the_timer_finalizes_after_the_grace_period_in_order,
    the_bpo_sees_both_levels_side_by_side,
    invoice_files_show_the_numbers,
);

const GIB: u64 = 1 << 30;

async fn invoices(lab: &Lab, actor: Actor, tenant: TenantId) -> Vec<Invoice> {
    lab.call(ListInvoices {
        actor,
        filter: InvoiceFilter {
            account: Some(Account::Tenant(tenant)),
            ..Default::default()
        },
    })
    .await
    .expect("invoices")
}

fn line(invoice: &Invoice, kind: LineKind, meter: Option<Meter>) -> i64 {
    invoice
        .lines
        .iter()
        .filter(|l| l.kind == kind && l.meter == meter)
        .map(|l| l.amount)
        .sum()
}

/// November in Tokyo: 12,000.5 minutes ingested, 3.5 GB-months stored (one
/// GiB shredded mid-month), two disclosures delivered.
async fn november(lab: &Lab, rounding: RoundingMode) {
    lab.set_now(at(2026, 11, 20, 0, 0, 0));
    lab.profiles(rounding).await;
    let plan = lab.retail_plan(jpy_retail()).await;
    lab.call(AssignPlan {
        actor: lab.bpo_admin(),
        account: Account::Tenant(lab.tokyo),
        plan_id: plan.id,
        time_zone: None,
    })
    .await
    .expect("assign");
    let t = lab.tokyo;
    let month_start = at(2026, 10, 31, 15, 0, 0);
    let (one, three) = (Uuid::new_v4(), Uuid::new_v4());
    lab.send(&[
        // 10,000 minutes, and 2,000 minutes 29.5 s → rounded up to 30 s.
        ingested(t, Uuid::new_v4(), 600_000_000, at(2026, 11, 2, 0, 0, 0)),
        ingested(t, Uuid::new_v4(), 120_029_500, at(2026, 11, 3, 0, 0, 0)),
        stored(t, one, GIB, month_start),
        stored(t, three, 3 * GIB, month_start),
        shredded(t, one, GIB, month_start, at(2026, 11, 15, 15, 0, 0)),
        delivered(t, Uuid::new_v4(), at(2026, 11, 10, 0, 0, 0)),
        delivered(t, Uuid::new_v4(), at(2026, 11, 11, 0, 0, 0)),
        // October, before the plan: never billed.
        ingested(t, Uuid::new_v4(), 60_000_000, at(2026, 10, 20, 0, 0, 0)),
    ])
    .await;
}

async fn the_jpy_scenario_matches_hand_computed_amounts(lab: &Lab) {
    november(lab, RoundingMode::Down).await;
    // While the month runs nobody finalizes.
    let running = invoices(lab, lab.tenant_admin(lab.tokyo), lab.tokyo).await;
    let refused = lab
        .call(FinalizeInvoice {
            actor: lab.bpo_admin(),
            id: running[0].id,
        })
        .await
        .expect_err("running");
    assert_eq!(refused.code, ErrorCode::Conflict);
    // 1 December 10:00 in Tokyo: November has ended, its grace runs.
    lab.set_now(at(2026, 12, 1, 1, 0, 0));
    let drafts = invoices(lab, lab.tenant_admin(lab.tokyo), lab.tokyo).await;
    assert_eq!(drafts.len(), 2, "December runs; October had no plan");
    let drafts = &drafts[1..];
    let draft = &drafts[0];
    assert_eq!(draft.status, InvoiceStatus::Draft);
    assert_eq!(
        draft.period_first_day,
        NaiveDate::from_ymd_opt(2026, 11, 1).expect("day")
    );
    // 1,000 × 0 + 9,000 × ¥2 + 2,000.5 × ¥1.5 = ¥21,000.75 → ¥21,000 (down).
    assert_eq!(
        line(draft, LineKind::Usage, Some(Meter::IngestedSeconds)),
        21_000
    );
    // 3.5 GB-months × ¥3 = ¥10.5 → ¥10.
    assert_eq!(
        line(draft, LineKind::Usage, Some(Meter::StorageGbMonths)),
        10
    );
    assert_eq!(
        line(draft, LineKind::Usage, Some(Meter::DisclosuresDelivered)),
        1_000
    );
    assert_eq!(line(draft, LineKind::BaseFee, None), 10_000);
    assert_eq!(
        (draft.subtotal, draft.tax, draft.total),
        (32_010, 3_201, 35_211)
    );
    let tiers = &draft
        .lines
        .iter()
        .find(|l| l.meter == Some(Meter::IngestedSeconds))
        .expect("line")
        .tiers;
    assert_eq!(tiers.len(), 3);
    assert_eq!(tiers[2].quantity, dec("2000.5"));

    // In the grace period a late delivery lands on the draft.
    lab.send(&[delivered(
        lab.tokyo,
        Uuid::new_v4(),
        at(2026, 11, 29, 0, 0, 0),
    )])
    .await;
    // A tenant admin reads but doesn't finalize; another BPO's admin finds nothing.
    let refused = lab
        .call(FinalizeInvoice {
            actor: lab.tenant_admin(lab.tokyo),
            id: draft.id,
        })
        .await
        .expect_err("tenant admin");
    assert_eq!(refused.code, ErrorCode::Forbidden);
    let finalized = lab
        .call(FinalizeInvoice {
            actor: lab.bpo_admin(),
            id: draft.id,
        })
        .await
        .expect("finalize");
    assert_eq!(finalized.id, draft.id);
    assert_eq!(finalized.status, InvoiceStatus::Finalized);
    assert_eq!(finalized.number.as_deref(), Some("INV-000001"));
    assert_eq!(
        (finalized.subtotal, finalized.tax, finalized.total),
        (32_510, 3_251, 35_761)
    );
    assert_eq!(
        finalized.issuer_profile.registration_number.as_deref(),
        Some("T1234567890123")
    );
    let again = lab
        .call(FinalizeInvoice {
            actor: lab.bpo_admin(),
            id: draft.id,
        })
        .await
        .expect_err("twice");
    assert_eq!(again.code, ErrorCode::Conflict);

    // After finalization: a minute more of November becomes an adjustment
    // on December's invoice, at November's third tier (¥1.5 → ¥1 down),
    // dated the day it happened; November's invoice never changes.
    lab.set_now(at(2026, 12, 2, 0, 0, 0));
    lab.send(&[ingested(
        lab.tokyo,
        Uuid::new_v4(),
        60_000,
        at(2026, 11, 28, 3, 0, 0),
    )])
    .await;
    let frozen = lab
        .call(GetInvoice {
            actor: lab.tenant_admin(lab.tokyo),
            id: draft.id,
        })
        .await
        .expect("november");
    assert_eq!(frozen, finalized);
    let all = invoices(lab, lab.tenant_admin(lab.tokyo), lab.tokyo).await;
    assert_eq!(all.len(), 2);
    let december = &all[0];
    assert_eq!(december.status, InvoiceStatus::Draft);
    let adjustment = december
        .lines
        .iter()
        .find(|l| l.kind == LineKind::Adjustment)
        .expect("adjustment");
    assert_eq!(adjustment.meter, Some(Meter::IngestedSeconds));
    assert_eq!(adjustment.quantity, dec("1"));
    assert_eq!(adjustment.amount, 1);
    assert_eq!(
        adjustment.original_date,
        NaiveDate::from_ymd_opt(2026, 11, 28)
    );
    // December's own storage so far: 3 GiB for 33 hours of 744, ¥0.4 → ¥0.
    let storage = december
        .lines
        .iter()
        .find(|l| l.meter == Some(Meter::StorageGbMonths))
        .expect("storage");
    assert_eq!(storage.quantity.0.round_dp(6), dec("0.133065").0);
    assert_eq!(storage.amount, 0);

    // The finalization went out through the outbox.
    let backend = lab.billing_db.get_database_backend();
    let rows = lab
        .billing_db
        .query_all_raw(Statement::from_string(backend, "SELECT topic FROM outbox"))
        .await
        .expect("outbox");
    assert_eq!(rows.len(), 1);
}

async fn half_up_rounding_changes_lines_and_tax(lab: &Lab) {
    november(lab, RoundingMode::HalfUp).await;
    lab.set_now(at(2026, 12, 1, 1, 0, 0));
    let draft = &invoices(lab, lab.bpo_admin(), lab.tokyo).await[1];
    assert_eq!(
        line(draft, LineKind::Usage, Some(Meter::IngestedSeconds)),
        21_001
    );
    assert_eq!(
        line(draft, LineKind::Usage, Some(Meter::StorageGbMonths)),
        11
    );
    // 32,012 × 10 % = 3,201.2 → 3,201: tax once on the rate's subtotal.
    assert_eq!(
        (draft.subtotal, draft.tax, draft.total),
        (32_012, 3_201, 35_213)
    );
}

async fn the_timer_finalizes_after_the_grace_period_in_order(lab: &Lab) {
    november(lab, RoundingMode::Down).await;
    // 1 December 10:00 in Tokyo: within the 72-hour grace.
    lab.set_now(at(2026, 12, 1, 1, 0, 0));
    assert_eq!(lab.billing.run_timer().await.finalized, 0);
    // January 2027, past November's and December's grace periods.
    lab.set_now(at(2027, 1, 4, 0, 0, 0));
    let report = lab.billing.run_timer().await;
    assert_eq!(report.finalized, 2, "{report:?}");
    let all = invoices(lab, lab.bpo_admin(), lab.tokyo).await;
    let numbers: Vec<_> = all.iter().filter_map(|i| i.number.clone()).collect();
    // Newest first: December took the issuer's second number.
    assert_eq!(
        numbers,
        vec!["INV-000002".to_owned(), "INV-000001".to_owned()]
    );
    assert_eq!(all[0].status, InvoiceStatus::Draft, "January runs");
    assert_eq!(lab.billing.run_timer().await.finalized, 0);
}

async fn the_bpo_sees_both_levels_side_by_side(lab: &Lab) {
    november(lab, RoundingMode::Down).await;
    // The platform bills the BPO ¥1 a minute for all its tenants' audio.
    let wholesale = lab
        .wholesale_plan(NewPlan {
            name: "Wholesale".into(),
            currency: Currency::Jpy,
            base_fee: 0,
            tax_rate: dec("10"),
            charges: vec![Charge {
                meter: Meter::IngestedSeconds,
                unit: ChargeUnit::Minute,
                included: dec("0"),
                model: ChargeModel::PerUnit {
                    unit_price: dec("1"),
                },
                tax_rate: None,
            }],
        })
        .await;
    lab.call(AssignPlan {
        actor: platform(),
        account: Account::Bpo(lab.bpo),
        plan_id: wholesale.id,
        time_zone: Some("Asia/Tokyo".into()),
    })
    .await
    .expect("wholesale");
    lab.set_now(at(2026, 12, 1, 1, 0, 0));
    // Berlin's tenant, on no retail plan, still counts for the platform.
    lab.send(&[ingested(
        lab.berlin,
        Uuid::new_v4(),
        59_999_500,
        at(2026, 11, 5, 0, 0, 0),
    )])
    .await;
    let statement = lab
        .call(GetBpoStatement {
            actor: lab.bpo_admin(),
            bpo: lab.bpo,
            month: NaiveDate::from_ymd_opt(2026, 11, 17).expect("day"),
        })
        .await
        .expect("statement");
    assert_eq!(statement.clients.len(), 2);
    let tokyo = statement
        .clients
        .iter()
        .find(|c| c.tenant_id == lab.tokyo)
        .expect("tokyo");
    assert_eq!(tokyo.invoice.as_ref().map(|i| i.subtotal), Some(32_010));
    let berlin = statement
        .clients
        .iter()
        .find(|c| c.tenant_id == lab.berlin)
        .expect("berlin");
    assert!(berlin.invoice.is_none());
    // 12,000.5 + 1,000 minutes at ¥1 = ¥13,000.5 → ¥13,000.
    let owed = statement.wholesale.as_ref().expect("wholesale invoice");
    assert_eq!(owed.subtotal, 13_000);
    assert_eq!(statement.margins.len(), 1);
    assert_eq!(statement.margins[0].margin, 32_010 - 13_000);
    // Nobody else sees it.
    for actor in [
        lab.tenant_admin(lab.tokyo),
        crate::lab::actor(
            callvault_contracts::Role::BpoAdmin,
            Some(lab.other_bpo),
            None,
        ),
    ] {
        let refused = lab
            .call(GetBpoStatement {
                actor,
                bpo: lab.bpo,
                month: NaiveDate::from_ymd_opt(2026, 11, 1).expect("day"),
            })
            .await
            .expect_err("refused");
        assert_eq!(refused.code, ErrorCode::Forbidden);
    }
}

async fn invoice_files_show_the_numbers(lab: &Lab) {
    november(lab, RoundingMode::Down).await;
    lab.set_now(at(2026, 12, 1, 1, 0, 0));
    let id = invoices(lab, lab.bpo_admin(), lab.tokyo).await[1].id;
    lab.call(FinalizeInvoice {
        actor: lab.bpo_admin(),
        id,
    })
    .await
    .expect("finalize");
    let csv = lab
        .call(RenderInvoice {
            actor: lab.tenant_admin(lab.tokyo),
            id,
            format: InvoiceFormat::Csv,
        })
        .await
        .expect("csv");
    let text = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(csv.content)
            .expect("base64"),
    )
    .expect("utf-8");
    for needle in ["INV-000001", "21000", "35211", "T1234567890123"] {
        assert!(text.contains(needle), "{needle} in the CSV:\n{text}");
    }
    let pdf = lab
        .call(RenderInvoice {
            actor: lab.tenant_admin(lab.tokyo),
            id,
            format: InvoiceFormat::Pdf,
        })
        .await
        .expect("pdf");
    assert_eq!(pdf.content_type, "application/pdf");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(pdf.content)
        .expect("base64");
    assert!(bytes.starts_with(b"%PDF"));
    // Another tenant's admin can't have it.
    let refused = lab
        .call(RenderInvoice {
            actor: lab.tenant_admin(lab.berlin),
            id,
            format: InvoiceFormat::Csv,
        })
        .await
        .expect_err("other tenant");
    assert_eq!(refused.code, ErrorCode::NotFound);
}
