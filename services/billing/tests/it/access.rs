//! Who reads billing: every role against a tenant's and a BPO's usage and
//! invoices, tenant isolation included.

use callvault_contracts::billing_api::{Account, Granularity, InvoiceFilter, Party};
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::billing::{GetBillingProfile, GetUsage, ListInvoices};
use callvault_contracts::{Actor, Role};
use chrono::NaiveDate;

use crate::lab::{Lab, actor, platform};

on_both_backends!(every_role_reads_only_what_the_table_allows);

async fn every_role_reads_only_what_the_table_allows(lab: &Lab) {
    let (b, t) = (Some(lab.bpo), Some(lab.tokyo));
    let day = NaiveDate::from_ymd_opt(2026, 11, 1).expect("day");
    let roles: Vec<(&str, Actor, bool, bool)> = vec![
        // (who, actor, reads the tenant's billing, reads the BPO's)
        ("tenant admin", actor(Role::TenantAdmin, b, t), true, false),
        ("auditor", actor(Role::Auditor, b, t), true, false),
        (
            "compliance officer",
            actor(Role::ComplianceOfficer, b, t),
            false,
            false,
        ),
        ("supervisor", actor(Role::Supervisor, b, t), false, false),
        ("agent", actor(Role::Agent, b, t), false, false),
        (
            "another tenant's admin",
            actor(
                Role::TenantAdmin,
                Some(lab.other_bpo),
                Some(lab.other_tenant),
            ),
            false,
            false,
        ),
        (
            "same BPO, other tenant's admin",
            actor(Role::TenantAdmin, b, Some(lab.berlin)),
            false,
            false,
        ),
        ("BPO admin", lab.bpo_admin(), true, true),
        (
            "another BPO's admin",
            actor(Role::BpoAdmin, Some(lab.other_bpo), None),
            false,
            false,
        ),
        ("platform admin", platform(), false, true),
    ];
    for (who, actor, tenant_ok, bpo_ok) in roles {
        let tenant_usage = lab
            .call(GetUsage {
                actor: actor.clone(),
                account: Account::Tenant(lab.tokyo),
                from: day,
                to: day,
                granularity: Granularity::Day,
            })
            .await;
        assert_eq!(
            tenant_usage.is_ok(),
            tenant_ok,
            "{who}: tenant usage {tenant_usage:?}"
        );
        if let Err(e) = tenant_usage {
            assert_eq!(e.code, ErrorCode::Forbidden, "{who}");
        }
        let invoices = lab
            .call(ListInvoices {
                actor: actor.clone(),
                filter: InvoiceFilter {
                    account: Some(Account::Tenant(lab.tokyo)),
                    ..Default::default()
                },
            })
            .await;
        assert_eq!(invoices.is_ok(), tenant_ok, "{who}: tenant invoices");
        let bpo_usage = lab
            .call(GetUsage {
                actor: actor.clone(),
                account: Account::Bpo(lab.bpo),
                from: day,
                to: day,
                granularity: Granularity::Month,
            })
            .await;
        assert_eq!(bpo_usage.is_ok(), bpo_ok, "{who}: BPO usage {bpo_usage:?}");
        let profile = lab
            .call(GetBillingProfile {
                actor: actor.clone(),
                party: Party::Tenant(lab.tokyo),
            })
            .await;
        // Readers get NOT_FOUND (nothing set yet), the rest FORBIDDEN.
        let expected = if tenant_ok {
            ErrorCode::NotFound
        } else {
            ErrorCode::Forbidden
        };
        assert_eq!(
            profile.map(|_| ()).map_err(|e| e.code),
            Err(expected),
            "{who}: profile"
        );
    }
    // Bad ranges are refused with a code.
    let backwards = lab
        .call(GetUsage {
            actor: lab.tenant_admin(lab.tokyo),
            account: Account::Tenant(lab.tokyo),
            from: day,
            to: day.pred_opt().expect("day"),
            granularity: Granularity::Day,
        })
        .await
        .expect_err("backwards");
    assert_eq!(backwards.code, ErrorCode::InvalidInput);
}
