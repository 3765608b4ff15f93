//! The reach checks of billing's answers, caller by caller.

use callvault_contracts::billing_api::{Currency, Dec};
use callvault_contracts::{Role, TenantId};
use chrono::{TimeZone, Utc};

use super::*;

fn actor(role: Role, bpo: Option<BpoId>, tenant: Option<TenantId>) -> Actor {
    Actor {
        subject: "someone@example.test".into(),
        role,
        bpo_id: bpo,
        tenant_id: tenant,
        agent_id: None,
        origin: None,
    }
}

fn profile() -> BillingProfile {
    BillingProfile {
        legal_name: "n".into(),
        address: "a".into(),
        registration_number: None,
        invoice_prefix: "INV".into(),
        rounding: callvault_contracts::billing_api::RoundingMode::Down,
    }
}

fn invoice(level: PlanLevel, account: Account, issuer: Party) -> Invoice {
    let at = Utc
        .with_ymd_and_hms(2025, 3, 1, 0, 0, 0)
        .single()
        .expect("time");
    let day = at.date_naive();
    Invoice {
        id: Uuid::new_v4(),
        status: InvoiceStatus::Draft,
        number: None,
        level,
        account,
        issuer,
        issuer_profile: profile(),
        recipient_profile: None,
        plan_id: Uuid::new_v4(),
        plan_version: 1,
        currency: Currency::Jpy,
        time_zone: "Asia/Tokyo".into(),
        period_first_day: day,
        period_last_day: day,
        period_start: at,
        period_end: at,
        finalize_after: at,
        finalized_at: None,
        lines: Vec::new(),
        taxes: Vec::new(),
        subtotal: 0,
        tax: 0,
        total: 0,
    }
}

fn plan(level: PlanLevel, bpo: Option<BpoId>) -> Plan {
    Plan {
        id: Uuid::new_v4(),
        version: 1,
        level,
        bpo_id: bpo,
        terms: NewPlan {
            name: "p".into(),
            currency: Currency::Jpy,
            base_fee: 0,
            tax_rate: Dec::from_int(10),
            charges: Vec::new(),
        },
        created_at: Utc::now(),
        created_by: "someone@example.test".into(),
    }
}

#[test]
fn an_invoice_is_read_by_its_account_and_its_issuer() {
    let (x, y) = (BpoId::new(), BpoId::new());
    let (a, b) = (TenantId::new(), TenantId::new());
    let retail = invoice(PlanLevel::Retail, Account::Tenant(a), Party::Bpo(x));
    let wholesale = invoice(PlanLevel::Wholesale, Account::Bpo(x), Party::Platform);
    let platform = actor(Role::PlatformAdmin, None, None);
    let admin_x = actor(Role::BpoAdmin, Some(x), None);
    let admin_y = actor(Role::BpoAdmin, Some(y), None);
    let tenant_a = actor(Role::TenantAdmin, None, Some(a));
    let auditor_b = actor(Role::Auditor, None, Some(b));
    let agent_a = actor(Role::Agent, None, Some(a));

    let reads = |who: &Actor| (reads_invoice(who, &retail), reads_invoice(who, &wholesale));
    assert_eq!(reads(&platform), (false, true));
    assert_eq!(reads(&admin_x), (true, true));
    assert_eq!(reads(&admin_y), (false, false));
    assert_eq!(reads(&tenant_a), (true, false));
    assert_eq!(reads(&auditor_b), (false, false));
    assert_eq!(reads(&agent_a), (false, false));

    let finalizes = |who: &Actor| {
        (
            finalizes_invoice(who, &retail),
            finalizes_invoice(who, &wholesale),
        )
    };
    assert_eq!(finalizes(&platform), (false, true));
    assert_eq!(finalizes(&admin_x), (true, false));
    assert_eq!(finalizes(&admin_y), (false, false));
    assert_eq!(finalizes(&tenant_a), (false, false));

    // Parties that don't go together are no invoice we pass on.
    for odd in [
        invoice(PlanLevel::Retail, Account::Bpo(x), Party::Platform),
        invoice(PlanLevel::Wholesale, Account::Tenant(a), Party::Bpo(x)),
        invoice(PlanLevel::Retail, Account::Tenant(a), Party::Platform),
    ] {
        assert!(!reads_invoice(&platform, &odd) && !reads_invoice(&admin_x, &odd));
    }
}

#[test]
fn a_plan_is_its_owners() {
    let (x, y) = (BpoId::new(), BpoId::new());
    let retail = plan(PlanLevel::Retail, Some(x));
    let wholesale = plan(PlanLevel::Wholesale, None);
    let platform = actor(Role::PlatformAdmin, None, None);
    let admin_x = actor(Role::BpoAdmin, Some(x), None);
    let admin_y = actor(Role::BpoAdmin, Some(y), None);
    let tenant = actor(Role::TenantAdmin, None, Some(TenantId::new()));
    let both = |f: fn(&Actor, &Plan) -> bool, who: &Actor| (f(who, &retail), f(who, &wholesale));
    assert_eq!(both(reads_plan, &platform), (false, true));
    assert_eq!(both(reads_plan, &admin_x), (true, false));
    assert_eq!(both(reads_plan, &admin_y), (false, false));
    assert_eq!(both(reads_plan, &tenant), (false, false));
    assert_eq!(both(manages_plan, &platform), (false, true));
    assert_eq!(both(manages_plan, &admin_x), (true, false));
    assert_eq!(both(manages_plan, &admin_y), (false, false));
    assert!(!reads_plan(&platform, &plan(PlanLevel::Wholesale, Some(x))));
    assert!(!reads_plan(&admin_x, &plan(PlanLevel::Retail, None)));
}
