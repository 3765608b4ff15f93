//! Plans: versions, refusals of bad plans with a code, who may make and
//! assign them.

use callvault_contracts::billing_api::{
    Account, ChargeModel, ChargeUnit, Currency, NewPlan, PlanLevel, Tier,
};
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::billing::{
    AssignPlan, CreatePlan, GetPlan, ListAssignments, ListPlans, UpdatePlan,
};
use callvault_contracts::{Actor, Role};

use crate::lab::{Lab, actor, at, dec, jpy_retail, platform};

on_both_backends!(
    plans_are_versioned_and_old_versions_stay_readable,
    bad_plans_are_refused_with_a_code_and_write_nothing,
    only_owners_make_plans,
    tenants_get_only_their_own_bpos_retail_plans,
    the_first_plan_bills_the_running_month_and_a_change_the_next,
);

async fn create(
    lab: &Lab,
    actor: Actor,
    level: PlanLevel,
    terms: NewPlan,
) -> Result<(), ErrorCode> {
    let bpo = (level == PlanLevel::Retail).then_some(lab.bpo);
    lab.call(CreatePlan {
        actor,
        level,
        bpo,
        plan: terms,
    })
    .await
    .map(|_| ())
    .map_err(|e| e.code)
}

async fn plans_are_versioned_and_old_versions_stay_readable(lab: &Lab) {
    let plan = lab.retail_plan(jpy_retail()).await;
    assert_eq!(plan.version, 1);
    let mut cheaper = jpy_retail();
    cheaper.base_fee = 5_000;
    let v2 = lab
        .call(UpdatePlan {
            actor: lab.bpo_admin(),
            plan_id: plan.id,
            plan: cheaper,
        })
        .await
        .expect("update");
    assert_eq!(v2.version, 2);
    let v1 = lab
        .call(GetPlan {
            actor: lab.bpo_admin(),
            plan_id: plan.id,
            version: Some(1),
        })
        .await
        .expect("version 1");
    assert_eq!(v1.terms.base_fee, 10_000);
    let listed = lab
        .call(ListPlans {
            actor: lab.bpo_admin(),
            bpo: Some(lab.bpo),
        })
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].version, 2);
    // A plan's currency is part of what was agreed.
    let mut dollars = jpy_retail();
    dollars.currency = Currency::Usd;
    let refused = lab
        .call(UpdatePlan {
            actor: lab.bpo_admin(),
            plan_id: plan.id,
            plan: dollars,
        })
        .await
        .expect_err("currency change");
    assert_eq!(refused.code, ErrorCode::InvalidInput);
}

async fn bad_plans_are_refused_with_a_code_and_write_nothing(lab: &Lab) {
    let with_tiers = |tiers: Vec<Tier>| {
        let mut plan = jpy_retail();
        plan.charges[0].model = ChargeModel::Graduated { tiers };
        plan
    };
    let tier = |up_to: Option<&str>, price: &str| Tier {
        up_to: up_to.map(dec),
        unit_price: dec(price),
    };
    let mut negative_fee = jpy_retail();
    negative_fee.base_fee = -1;
    let mut wrong_unit = jpy_retail();
    wrong_unit.charges[0].unit = ChargeUnit::GbMonth;
    let mut two_on_one_meter = jpy_retail();
    two_on_one_meter
        .charges
        .push(two_on_one_meter.charges[0].clone());
    let mut bad_tax = jpy_retail();
    bad_tax.tax_rate = dec("101");
    let bad = [
        (
            "overlapping tiers",
            with_tiers(vec![
                tier(Some("100"), "2"),
                tier(Some("50"), "1"),
                tier(None, "1"),
            ]),
        ),
        (
            "equal tiers",
            with_tiers(vec![
                tier(Some("100"), "2"),
                tier(Some("100"), "1"),
                tier(None, "1"),
            ]),
        ),
        (
            "bounded last tier",
            with_tiers(vec![tier(Some("100"), "2")]),
        ),
        (
            "unbounded tier first",
            with_tiers(vec![tier(None, "2"), tier(Some("100"), "1")]),
        ),
        (
            "negative price",
            with_tiers(vec![tier(Some("100"), "-2"), tier(None, "1")]),
        ),
        ("no tiers", with_tiers(Vec::new())),
        ("negative base fee", negative_fee),
        ("unit the meter isn't counted in", wrong_unit),
        ("two charges on one meter", two_on_one_meter),
        ("tax over 100 %", bad_tax),
    ];
    for (what, plan) in bad {
        let code = create(lab, lab.bpo_admin(), PlanLevel::Retail, plan).await;
        assert_eq!(code, Err(ErrorCode::InvalidPlan), "{what}");
    }
    let listed = lab
        .call(ListPlans {
            actor: lab.bpo_admin(),
            bpo: Some(lab.bpo),
        })
        .await
        .expect("list");
    assert!(listed.is_empty(), "no refused plan was written");
}

async fn only_owners_make_plans(lab: &Lab) {
    let other_admin = actor(Role::BpoAdmin, Some(lab.other_bpo), None);
    let cases = [
        (
            "another BPO's admin, retail",
            other_admin.clone(),
            PlanLevel::Retail,
            Err(ErrorCode::Forbidden),
        ),
        (
            "a tenant admin, retail",
            lab.tenant_admin(lab.tokyo),
            PlanLevel::Retail,
            Err(ErrorCode::Forbidden),
        ),
        (
            "a BPO admin, wholesale",
            lab.bpo_admin(),
            PlanLevel::Wholesale,
            Err(ErrorCode::Forbidden),
        ),
        (
            "the platform, retail",
            platform(),
            PlanLevel::Retail,
            Err(ErrorCode::Forbidden),
        ),
        (
            "an auditor, retail",
            actor(Role::Auditor, Some(lab.bpo), Some(lab.tokyo)),
            PlanLevel::Retail,
            Err(ErrorCode::Forbidden),
        ),
        (
            "the BPO's admin, retail",
            lab.bpo_admin(),
            PlanLevel::Retail,
            Ok(()),
        ),
        (
            "the platform, wholesale",
            platform(),
            PlanLevel::Wholesale,
            Ok(()),
        ),
    ];
    for (who, actor, level, expected) in cases {
        assert_eq!(
            create(lab, actor, level, jpy_retail()).await,
            expected,
            "{who}"
        );
    }
    // Another BPO's plans and ids tell nothing.
    let plan = lab.retail_plan(jpy_retail()).await;
    let hidden = lab
        .call(GetPlan {
            actor: other_admin.clone(),
            plan_id: plan.id,
            version: None,
        })
        .await
        .expect_err("hidden");
    assert_eq!(hidden.code, ErrorCode::NotFound);
    let refused = lab
        .call(ListPlans {
            actor: other_admin,
            bpo: Some(lab.bpo),
        })
        .await
        .expect_err("refused");
    assert_eq!(refused.code, ErrorCode::Forbidden);
}

async fn tenants_get_only_their_own_bpos_retail_plans(lab: &Lab) {
    let other_admin = actor(Role::BpoAdmin, Some(lab.other_bpo), None);
    let theirs = lab
        .call(CreatePlan {
            actor: other_admin.clone(),
            level: PlanLevel::Retail,
            bpo: Some(lab.other_bpo),
            plan: jpy_retail(),
        })
        .await
        .expect("their plan");
    let ours = lab.retail_plan(jpy_retail()).await;
    let wholesale = lab.wholesale_plan(jpy_retail()).await;
    let assign = |actor: Actor, account, plan_id| AssignPlan {
        actor,
        account,
        plan_id,
        time_zone: None,
    };
    let code = |r: Result<_, callvault_contracts::metadata_api::ApiError>| {
        r.map(|_| ()).map_err(|e| e.code)
    };
    // Another BPO's plan, a wholesale plan: not a plan this tenant can have.
    let r = lab
        .call(assign(
            lab.bpo_admin(),
            Account::Tenant(lab.tokyo),
            theirs.id,
        ))
        .await;
    assert_eq!(code(r), Err(ErrorCode::NotFound));
    let r = lab
        .call(assign(
            lab.bpo_admin(),
            Account::Tenant(lab.tokyo),
            wholesale.id,
        ))
        .await;
    assert_eq!(code(r), Err(ErrorCode::NotFound));
    // Another BPO's admin on our tenant.
    let r = lab
        .call(assign(other_admin, Account::Tenant(lab.tokyo), theirs.id))
        .await;
    assert_eq!(code(r), Err(ErrorCode::Forbidden));
    // A tenant admin assigns nothing.
    let r = lab
        .call(assign(
            lab.tenant_admin(lab.tokyo),
            Account::Tenant(lab.tokyo),
            ours.id,
        ))
        .await;
    assert_eq!(code(r), Err(ErrorCode::Forbidden));
    let r = lab
        .call(assign(lab.bpo_admin(), Account::Tenant(lab.tokyo), ours.id))
        .await;
    assert_eq!(code(r), Ok(()));
    let listed = lab
        .call(ListAssignments {
            actor: lab.tenant_admin(lab.tokyo),
            account: Account::Tenant(lab.tokyo),
        })
        .await
        .expect("assignments");
    assert_eq!(listed.len(), 1);
    let r = lab
        .call(ListAssignments {
            actor: lab.tenant_admin(lab.berlin),
            account: Account::Tenant(lab.tokyo),
        })
        .await;
    assert_eq!(r.map(|_| ()).map_err(|e| e.code), Err(ErrorCode::Forbidden));
}

async fn the_first_plan_bills_the_running_month_and_a_change_the_next(lab: &Lab) {
    let first = lab.retail_plan(jpy_retail()).await;
    let second = lab.retail_plan(jpy_retail()).await;
    lab.set_now(at(2026, 11, 20, 0, 0, 0));
    let assign = |plan_id| AssignPlan {
        actor: lab.bpo_admin(),
        account: Account::Tenant(lab.tokyo),
        plan_id,
        time_zone: None,
    };
    let a = lab.call(assign(first.id)).await.expect("first");
    assert_eq!(
        a.effective_from,
        at(2026, 10, 31, 15, 0, 0),
        "1 November in Tokyo"
    );
    assert_eq!(a.time_zone, "Asia/Tokyo");
    let b = lab.call(assign(second.id)).await.expect("change");
    assert_eq!(
        b.effective_from,
        at(2026, 11, 30, 15, 0, 0),
        "1 December in Tokyo"
    );
    // A BPO's wholesale periods: the time zone given with its first plan.
    let wholesale = lab.wholesale_plan(jpy_retail()).await;
    let w = lab
        .call(AssignPlan {
            actor: platform(),
            account: Account::Bpo(lab.bpo),
            plan_id: wholesale.id,
            time_zone: Some("Asia/Tokyo".into()),
        })
        .await
        .expect("wholesale");
    assert_eq!(w.effective_from, at(2026, 10, 31, 15, 0, 0));
    let bad = lab
        .call(AssignPlan {
            actor: platform(),
            account: Account::Bpo(lab.other_bpo),
            plan_id: wholesale.id,
            time_zone: Some("Mars/Olympus".into()),
        })
        .await
        .expect_err("unknown zone");
    assert_eq!(bad.code, ErrorCode::InvalidInput);
}
