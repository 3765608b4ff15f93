//! Who may do what, cell by cell, at the service (whatever the gateway
//! checked): compliance officers and their BPO's admins handle requests,
//! auditors read them, nobody else touches them — and never in another
//! tenant or another BPO's.

use callvault_contracts::disclosure_api::{
    DisclosureFilter, DisclosureSettings, Regime, RequestKind,
};
use callvault_contracts::metadata_api::{ApiResult, ErrorCode};
use callvault_contracts::ops::disclosure::{
    CreateDisclosureRequest, GetDisclosureRegister, GetDisclosureRequest, GetDisclosureSettings,
    ListDisclosureRequests, SetDisclosureSettings,
};
use callvault_contracts::{Actor, BpoId, Role, TenantId};
use chrono::NaiveDate;
use uuid::Uuid;

use crate::lab::{Lab, bpo_admin, complete_notice, member, new_request, platform};

on_both_backends!(every_role_on_every_kind_of_operation);

/// What each caller may do: (read, handle).
fn expected(caller: &str) -> (bool, bool) {
    match caller {
        "compliance_officer" | "own_bpo_admin" => (true, true),
        "auditor" => (true, false),
        _ => (false, false),
    }
}

fn callers(tenant: TenantId, bpo: BpoId, other_tenant: TenantId) -> Vec<(&'static str, Actor)> {
    vec![
        ("platform_admin", platform()),
        ("own_bpo_admin", bpo_admin(bpo)),
        ("other_bpo_admin", bpo_admin(BpoId::new())),
        ("tenant_admin", member(Role::TenantAdmin, tenant, "admin")),
        ("supervisor", member(Role::Supervisor, tenant, "supervisor")),
        ("agent", member(Role::Agent, tenant, "agent")),
        (
            "compliance_officer",
            member(Role::ComplianceOfficer, tenant, "co"),
        ),
        (
            "other_tenants_officer",
            member(Role::ComplianceOfficer, other_tenant, "co"),
        ),
        ("auditor", member(Role::Auditor, tenant, "auditor")),
        (
            "other_tenants_auditor",
            member(Role::Auditor, other_tenant, "auditor"),
        ),
    ]
}

fn allowed<T>(result: &ApiResult<T>) -> bool {
    match result {
        Ok(_) => true,
        Err(err) => {
            assert_eq!(
                err.code,
                ErrorCode::Forbidden,
                "refused as forbidden: {err:?}"
            );
            false
        }
    }
}

async fn every_role_on_every_kind_of_operation(lab: &Lab) {
    let bpo = lab.bpo().await;
    let tenant = lab.tenant(bpo).await;
    let other = lab.tenant(bpo).await;
    let existing = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    for (name, actor) in callers(tenant.id, bpo, other.id) {
        let (read, handle) = expected(name);
        let rpc = &lab.rpc;
        let got = rpc
            .call(GetDisclosureRequest {
                actor: actor.clone(),
                tenant: tenant.id,
                id: existing.id,
            })
            .await;
        assert_eq!(allowed(&got), read, "{name} reads a request");
        let got = rpc
            .call(ListDisclosureRequests {
                actor: actor.clone(),
                tenant: tenant.id,
                filter: DisclosureFilter::default(),
            })
            .await;
        assert_eq!(allowed(&got), read, "{name} lists requests");
        let got = rpc
            .call(GetDisclosureSettings {
                actor: actor.clone(),
                tenant: tenant.id,
            })
            .await;
        assert_eq!(allowed(&got), read, "{name} reads the settings");
        let day = NaiveDate::from_ymd_opt(2026, 4, 1).expect("date");
        let got = rpc
            .call(GetDisclosureRegister {
                actor: actor.clone(),
                tenant: tenant.id,
                from: day,
                to: day,
            })
            .await;
        assert_eq!(allowed(&got), read, "{name} reads the register");
        let got = rpc
            .call(CreateDisclosureRequest {
                actor: actor.clone(),
                tenant: tenant.id,
                request: new_request(RequestKind::Erasure, Regime::Appi, lab.now()),
            })
            .await;
        assert_eq!(allowed(&got), handle, "{name} creates a request");
        let got = rpc
            .call(SetDisclosureSettings {
                actor: actor.clone(),
                tenant: tenant.id,
                settings: DisclosureSettings {
                    privacy: complete_notice(),
                    ..DisclosureSettings::default()
                },
            })
            .await;
        assert_eq!(allowed(&got), handle, "{name} changes the settings");
    }
    // A request id of another tenant is not found, whoever may look.
    let got = lab
        .rpc
        .call(GetDisclosureRequest {
            actor: member(Role::ComplianceOfficer, other.id, "co"),
            tenant: other.id,
            id: existing.id,
        })
        .await;
    assert_eq!(got.err().map(|e| e.code), Some(ErrorCode::NotFound));
    let got = lab
        .rpc
        .call(GetDisclosureRequest {
            actor: member(Role::ComplianceOfficer, tenant.id, "co"),
            tenant: tenant.id,
            id: Uuid::new_v4(),
        })
        .await;
    assert_eq!(got.err().map(|e| e.code), Some(ErrorCode::NotFound));
}
