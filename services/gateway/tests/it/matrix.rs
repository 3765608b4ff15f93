//! Every query and mutation against every kind of caller, through HTTP,
//! compared with a table written out here independently of the code's
//! `reach` (and matching services/gateway/PERMISSIONS.md).

use callvault_contracts::{Actor, Role};
use serde_json::json;

use crate::support::{bpo_admin, error_codes, platform_admin, spawn_app, tenant_user, token};

/// Callers, in column order: platform admin, BPO X admin, BPO Y admin,
/// then tenant A's tenant admin, supervisor, compliance officer, agent and
/// auditor, and last tenant B's tenant admin. Tenant A belongs to BPO X.
const COLUMNS: &str = "PA BX BY TA SU CO AG AU TB";

/// `Y` allowed, `n` FORBIDDEN.
const EXPECTED: [(&str, &str); 12] = [
    ("bpos", "Y n n n n n n n n"),
    ("tenants", "Y Y n n n n n n n"),
    ("tenant", "Y Y n Y Y Y Y Y n"),
    ("users", "Y Y n Y n n n n n"),
    ("apiKeys", "n Y n Y n n n n n"),
    ("recordings", "n Y n Y Y Y Y n n"),
    ("recording", "n Y n Y Y Y Y n n"),
    ("createBpo", "Y n n n n n n n n"),
    ("onboardTenant", "Y Y n n n n n n n"),
    ("createUser", "Y Y n Y n n n n n"),
    ("createApiKey", "n Y n Y n n n n n"),
    ("revokeApiKey", "n Y n Y n n n n n"),
];

fn operation(name: &str) -> &'static str {
    match name {
        "bpos" => "{ bpos { id } }",
        "tenants" => "query($b: UUID!) { tenants(bpoId: $b) { id } }",
        "tenant" => "query($a: UUID!) { tenant(id: $a) { id timeZone } }",
        "users" => "query($a: UUID!) { users(tenantId: $a) { id } }",
        "apiKeys" => "query($a: UUID!) { apiKeys(tenantId: $a) { id prefix } }",
        "recordings" => {
            "query($a: UUID!) { recordings(tenantId: $a, first: 10) { nodes { id playbackUrl } pageInfo { endCursor hasNextPage } } }"
        }
        "recording" => {
            "query($a: UUID!, $r: UUID!) { recording(tenantId: $a, id: $r) { id playbackUrl } }"
        }
        "createBpo" => "mutation { createBpo(name: \"New BPO\") { id } }",
        "onboardTenant" => {
            "mutation($b: UUID!) { onboardTenant(input: { bpoId: $b, name: \"New\", timeZone: \"UTC\", defaultRetentionDays: 365, keyMode: MANAGED }) { id } }"
        }
        "createUser" => {
            "mutation($a: UUID!) { createUser(input: { subject: \"qa@example.test\", role: SUPERVISOR, tenantId: $a }) { id } }"
        }
        "createApiKey" => {
            "mutation($a: UUID!) { createApiKey(tenantId: $a, name: \"pbx\") { secret } }"
        }
        "revokeApiKey" => {
            "mutation($a: UUID!, $k: UUID!) { revokeApiKey(tenantId: $a, id: $k) { revokedAt } }"
        }
        other => panic!("no operation {other}"),
    }
}

#[tokio::test]
async fn every_operation_against_every_caller_matches_the_table() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let callers: Vec<(&str, Actor)> = COLUMNS
        .split(' ')
        .zip([
            platform_admin(),
            bpo_admin(w.bpo_x),
            bpo_admin(w.bpo_y),
            tenant_user(Role::TenantAdmin, w.tenant_a),
            tenant_user(Role::Supervisor, w.tenant_a),
            tenant_user(Role::ComplianceOfficer, w.tenant_a),
            tenant_user(Role::Agent, w.tenant_a),
            tenant_user(Role::Auditor, w.tenant_a),
            tenant_user(Role::TenantAdmin, w.tenant_b),
        ])
        .collect();
    let vars =
        json!({ "a": w.tenant_a.0, "b": w.bpo_x.0, "r": w.rec_a1.0, "k": uuid::Uuid::new_v4() });
    let mut mismatches = Vec::new();
    for (name, row) in EXPECTED {
        for ((column, actor), expected) in callers.iter().zip(row.split(' ')) {
            let answer = app
                .gql(Some(&token(actor)), operation(name), vars.clone())
                .await;
            let codes = error_codes(&answer);
            let outcome = match codes.as_slice() {
                [] => "Y",
                [code] if code == "FORBIDDEN" => "n",
                _ => "?",
            };
            if outcome != expected {
                mismatches.push(format!(
                    "{name} as {column}: expected {expected}, got {answer}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
