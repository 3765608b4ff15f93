//! Every query, mutation and permission-gated field against every kind of
//! caller, through HTTP, compared with a table written out here
//! independently of the code's `reach` (and matching
//! services/gateway/PERMISSIONS.md and the lifecycle matrix). A refused
//! operation must leave no call behind at the backend but the tenant
//! lookups (`get_tenant`) that decide or precede it; an allowed one must
//! reach the backend method it names.

use callvault_contracts::{Actor, Role};
use serde_json::json;

use crate::support::{
    TestApp, bpo_admin, error_codes, platform_admin, spawn_app, tenant_user, token,
};

/// Callers, in column order: platform admin, BPO X admin, BPO Y admin,
/// then tenant A's tenant admin, supervisor, compliance officer, agent and
/// auditor, and last tenant B's tenant admin. Tenant A belongs to BPO X.
const COLUMNS: &str = "PA BX BY TA SU CO AG AU TB";

/// Operation, `Y` allowed / `n` FORBIDDEN per column, and the backend
/// method an allowed call reaches.
const EXPECTED: [(&str, &str, &str); 45] = [
    ("bpos", "Y n n n n n n n n", "list_bpos"),
    ("tenants", "Y Y n n n n n n n", "list_tenants"),
    ("tenant", "Y Y n Y Y Y Y Y n", "get_tenant"),
    ("users", "Y Y n Y n n n n n", "list_users"),
    ("apiKeys", "n Y n Y n n n n n", "list_api_keys"),
    ("recordings", "n Y n Y Y Y Y n n", "search_recordings"),
    ("recording", "n Y n Y Y Y Y n n", "get_recording"),
    ("callRecordings", "n Y n Y Y Y Y n n", "call_recordings"),
    ("call", "n Y n Y Y Y Y n n", "call_recordings"),
    ("createBpo", "Y n n n n n n n n", "create_bpo"),
    ("onboardTenant", "Y Y n n n n n n n", "onboard_tenant"),
    ("createUser", "Y Y n Y n n n n n", "create_user"),
    ("createApiKey", "n Y n Y n n n n n", "create_api_key"),
    ("revokeApiKey", "n Y n Y n n n n n", "revoke_api_key"),
    // get_policy, list_retention_rules; set_policy, create/delete rule
    ("policy", "n Y n Y n Y n n n", "get_policy"),
    (
        "retentionRules",
        "n Y n Y n Y n n n",
        "list_retention_rules",
    ),
    ("setTenantPolicy", "n Y n Y n Y n n n", "set_policy"),
    // The recording policy: ManagePolicy, as retention.
    (
        "recordingPolicy",
        "n Y n Y n Y n n n",
        "get_recording_policy",
    ),
    (
        "setRecordingPolicy",
        "n Y n Y n Y n n n",
        "set_recording_policy",
    ),
    (
        "doNotRecordNumbers",
        "n Y n Y n Y n n n",
        "list_do_not_record_numbers",
    ),
    (
        "addDoNotRecordNumbers",
        "n Y n Y n Y n n n",
        "add_do_not_record_numbers",
    ),
    (
        "removeDoNotRecordNumbers",
        "n Y n Y n Y n n n",
        "remove_do_not_record_numbers",
    ),
    (
        "notRecordedCalls",
        "n Y n Y n Y n n n",
        "list_not_recorded_calls",
    ),
    (
        "createRetentionRule",
        "n Y n Y n Y n n n",
        "create_retention_rule",
    ),
    (
        "deleteRetentionRule",
        "n Y n Y n Y n n n",
        "delete_retention_rule",
    ),
    // recording_lifecycle, authorize_playback (with the recording itself)
    (
        "recordingLifecycle",
        "n Y n Y Y Y Y n n",
        "recording_lifecycle",
    ),
    ("playbackUrl", "n Y n Y Y Y Y n n", "authorize_playback"),
    ("downloadUrl", "n Y n Y Y Y Y n n", "authorize_download"),
    (
        "searchPlaybackUrl",
        "n Y n Y Y Y Y n n",
        "authorize_playback",
    ),
    // place_hold, release_hold, list_holds
    ("legalHolds", "n n n Y n Y n n n", "list_holds"),
    ("placeLegalHold", "n n n Y n Y n n n", "place_hold"),
    ("placeCaseHold", "n n n Y n Y n n n", "place_hold"),
    ("releaseLegalHold", "n n n Y n Y n n n", "release_hold"),
    // delete_recording, run_deletion, list_deletion_certificates
    (
        "deletionCertificates",
        "n n n Y n Y n n n",
        "list_deletion_certificates",
    ),
    ("deleteRecording", "n n n Y n Y n n n", "delete_recording"),
    ("runDeletion", "n n n Y n Y n n n", "run_deletion"),
    // audit_trail, verify_audit_chain, daily_manifest
    ("auditTrail", "n n n n n Y n Y n", "audit_trail"),
    (
        "verifyAuditChain",
        "n n n n n Y n Y n",
        "verify_audit_chain",
    ),
    ("dailyManifest", "n n n n n Y n Y n", "daily_manifest"),
    // storage's verify_recording
    ("verifyRecording", "n n n n n Y n Y n", "verify_recording"),
    // change_tenant_key
    ("changeTenantKey", "n Y n Y n n n n n", "change_tenant_key"),
    // export_tenant, offboard_tenant, offboarding_certificate
    ("exportTenant", "Y Y n n n n n n n", "export_tenant"),
    ("offboardTenant", "Y Y n n n n n n n", "offboard_tenant"),
    (
        "offboardingCertificate",
        "Y Y n n n n n n n",
        "offboarding_certificate",
    ),
    // Public, but in GraphQL reached through `tenant`.
    (
        "manifestPublicKey",
        "Y Y n Y Y Y Y Y n",
        "manifest_public_key",
    ),
];

fn operation(name: &str) -> &'static str {
    match name {
        "bpos" => "{ bpos { id } }",
        "tenants" => "query($b: UUID!) { tenants(bpoId: $b) { id } }",
        "tenant" => "query($a: UUID!) { tenant(id: $a) { id timeZone } }",
        "users" => "query($a: UUID!) { users(tenantId: $a) { id } }",
        "apiKeys" => "query($a: UUID!) { apiKeys(tenantId: $a) { id prefix } }",
        "recordings" => {
            "query($a: UUID!) { recordings(tenantId: $a, first: 10) { nodes { id agent } pageInfo { endCursor hasNextPage } } }"
        }
        "recording" => "query($a: UUID!, $r: UUID!) { recording(tenantId: $a, id: $r) { id } }",
        "callRecordings" => {
            "query($a: UUID!) { callRecordings(tenantId: $a, externalCallId: \"crm-1\") { id } }"
        }
        "call" => {
            "query($a: UUID!) { call(tenantId: $a, externalCallId: \"crm-1\") { externalCallId segments { id } } }"
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
        "policy" => {
            "query($a: UUID!) { tenant(id: $a) { policy { defaultRetentionDays requirePlaybackReason } } }"
        }
        "retentionRules" => {
            "query($a: UUID!) { tenant(id: $a) { retentionRules { id name matches { queue tags attributes { key value } } retentionDays overriding } } }"
        }
        "setTenantPolicy" => {
            "mutation($a: UUID!) { setTenantPolicy(tenantId: $a, input: { defaultRetentionDays: 730, requirePlaybackReason: true }) { defaultRetentionDays } }"
        }
        "recordingPolicy" => {
            "query($a: UUID!) { recordingPolicy(tenantId: $a) { keep notKept silencePauses version rules { percent } } }"
        }
        "setRecordingPolicy" => {
            "mutation($a: UUID!) { setRecordingPolicy(tenantId: $a, input: { keep: MATCHING_RULES, rules: [{ queue: \"support\", percent: 10 }], notKept: METADATA_ONLY, silencePauses: true }) { version } }"
        }
        "doNotRecordNumbers" => {
            "query($a: UUID!) { doNotRecordNumbers(tenantId: $a, first: 10) { total entries { number addedAt } nextCursor } }"
        }
        "addDoNotRecordNumbers" => {
            "mutation($a: UUID!) { addDoNotRecordNumbers(tenantId: $a, numbers: [\"+819012345678\"]) }"
        }
        "removeDoNotRecordNumbers" => {
            "mutation($a: UUID!) { removeDoNotRecordNumbers(tenantId: $a, numbers: [\"+819012345678\"]) }"
        }
        "notRecordedCalls" => {
            "query($a: UUID!) { notRecordedCalls(tenantId: $a) { calls { externalCallId reason } nextCursor } }"
        }
        "createRetentionRule" => {
            "mutation($a: UUID!) { createRetentionRule(tenantId: $a, input: { name: \"securities\", matches: { attributes: [{ key: \"product\", value: \"securities\" }] }, retentionDays: 1825 }) { id } }"
        }
        "deleteRetentionRule" => {
            "mutation($a: UUID!, $k: UUID!) { deleteRetentionRule(tenantId: $a, id: $k) { id } }"
        }
        "recordingLifecycle" => {
            "query($a: UUID!, $r: UUID!) { recording(tenantId: $a, id: $r) { lifecycle { rule { source id name retentionDays } retainUntil holds } } }"
        }
        "playbackUrl" => {
            "query($a: UUID!, $r: UUID!) { recording(tenantId: $a, id: $r) { playbackUrl(reason: \"qa review\") } }"
        }
        "downloadUrl" => {
            "query($a: UUID!, $r: UUID!) { recording(tenantId: $a, id: $r) { downloadUrl(reason: \"dispute file\") } }"
        }
        "searchPlaybackUrl" => {
            "query($a: UUID!) { recordings(tenantId: $a) { nodes { playbackUrl(reason: \"qa review\") } } }"
        }
        "legalHolds" => {
            "query($a: UUID!) { tenant(id: $a) { legalHolds { id caseName recordingIds active } } }"
        }
        "placeLegalHold" => {
            "mutation($a: UUID!, $r: UUID!) { placeLegalHold(tenantId: $a, input: { caseName: \"Case 7\", reason: \"litigation\", recordingIds: [$r] }) { id recordingIds } }"
        }
        "placeCaseHold" => {
            "mutation($a: UUID!) { placeLegalHold(tenantId: $a, input: { caseName: \"Case 8\", reason: \"regulator\", filter: { agent: \"ag-2\", noticePlayed: false } }) { id filter { agent noticePlayed } } }"
        }
        "releaseLegalHold" => {
            "mutation($a: UUID!, $k: UUID!) { releaseLegalHold(tenantId: $a, id: $k, reason: \"settled\") { active releaseReason } }"
        }
        "deletionCertificates" => {
            "query($a: UUID!) { tenant(id: $a) { deletionCertificates { id deleted { recordingId } heldBack failed } } }"
        }
        "deleteRecording" => {
            "mutation($a: UUID!, $r: UUID!) { deleteRecording(tenantId: $a, id: $r, reason: ERASURE, note: \"request 42\") { deleted { recordingId reason policy } } }"
        }
        "runDeletion" => "mutation($a: UUID!) { runDeletion(tenantId: $a) { id } }",
        "auditTrail" => {
            "query($a: UUID!) { tenant(id: $a) { auditTrail(first: 2) { nodes { seq action origin hash } endSeq hasNextPage } } }"
        }
        "verifyAuditChain" => {
            "query($a: UUID!) { tenant(id: $a) { verifyAuditChain { entriesChecked firstBadSeq intact } } }"
        }
        "dailyManifest" => {
            "query($a: UUID!) { tenant(id: $a) { dailyManifest(date: \"2025-01-01\") { date body signature publicKey } } }"
        }
        "manifestPublicKey" => "query($a: UUID!) { tenant(id: $a) { manifestPublicKey } }",
        "verifyRecording" => {
            "mutation($a: UUID!, $r: UUID!) { verifyRecording(tenantId: $a, id: $r) { intact bytesChecked expectedSha256 failure verifiedAt } }"
        }
        "changeTenantKey" => {
            "mutation($a: UUID!) { changeTenantKey(tenantId: $a, input: { mode: MANAGED, reason: \"annual rotation\" }) { id keyRef } }"
        }
        "exportTenant" => {
            "mutation($a: UUID!) { exportTenant(tenantId: $a) { id tenantId sha256 sizeBytes recordings auditEntries content } }"
        }
        "offboardTenant" => {
            "mutation($a: UUID!) { offboardTenant(tenantId: $a, confirm: \"confirmed by the test double\") { id tenantId exportSha256 recordingsShredded keyDestroyed body signature algorithm } }"
        }
        "offboardingCertificate" => {
            "query($a: UUID!) { offboardingCertificate(tenantId: $a) { id tenantId bpoId requestedBy body signature } }"
        }
        other => panic!("no operation {other}"),
    }
}

fn callers(app: &TestApp) -> Vec<(&'static str, Actor)> {
    let w = &app.metadata.world;
    COLUMNS
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
        .collect()
}

#[tokio::test]
async fn every_operation_against_every_caller_matches_the_table() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let vars =
        json!({ "a": w.tenant_a.0, "b": w.bpo_x.0, "r": w.rec_a1.0, "k": uuid::Uuid::new_v4() });
    let mut mismatches = Vec::new();
    for (name, row, method) in EXPECTED {
        for ((column, actor), expected) in callers(&app).iter().zip(row.split(' ')) {
            app.metadata.clear();
            app.lifecycle.clear();
            let answer = app
                .gql(Some(&token(actor)), operation(name), vars.clone())
                .await;
            let codes = error_codes(&answer);
            let outcome = match codes.as_slice() {
                [] => "Y",
                [code] if code == "FORBIDDEN" => "n",
                _ => "?",
            };
            let reached: Vec<&str> = app
                .metadata
                .methods()
                .into_iter()
                .chain(app.lifecycle.methods())
                .collect();
            let consistent = match outcome {
                "Y" => reached.contains(&method),
                // Refused: nothing but the tenant lookups reached the backend.
                _ => reached.iter().all(|reached| *reached == "get_tenant"),
            };
            if outcome != expected || !consistent {
                mismatches.push(format!(
                    "{name} as {column}: expected {expected}, got {answer}, backend saw {reached:?}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test]
async fn the_table_covers_every_operation_of_the_schema() {
    // A new query, mutation or gated field must get a row above: compare
    // the schema's root fields and the tenant's and recording's gated
    // fields with the table's operations.
    let sdl = callvault_gateway::sdl();
    // The disclosure, billing and webhook fields have their own tables, in
    // disclosure.rs, billing.rs and webhooks.rs.
    let covered: Vec<&str> = EXPECTED
        .iter()
        .chain(crate::disclosure::EXPECTED.iter())
        .chain(crate::billing::EXPECTED.iter())
        .chain(crate::webhooks::EXPECTED.iter())
        .map(|(name, _, _)| crate::billing::field(name))
        .collect();
    let root_fields = |root: &str| -> Vec<String> {
        let start = sdl
            .find(&format!("type {root} {{"))
            .unwrap_or_else(|| panic!("no {root} in the sdl"));
        let body = &sdl[start..];
        let body = &body[..body.find("\n}").expect("end of type")];
        let mut in_doc = false;
        // Arguments with descriptions are written one a line, between a
        // line ending in `(` and one starting with `)`.
        let mut in_args = false;
        body.lines()
            .skip(1)
            .filter_map(|line| {
                let line = line.trim();
                // Descriptions: `"""` blocks and `"…"` lines.
                if line.starts_with("\"\"\"") {
                    let one_line = line.len() > 3 && line.ends_with("\"\"\"");
                    if !one_line {
                        in_doc = !in_doc;
                    }
                    return None;
                }
                if in_doc || line.starts_with('"') {
                    return None;
                }
                if in_args {
                    in_args = !line.starts_with(')');
                    return None;
                }
                in_args = line.ends_with('(');
                let name = line.split(['(', ':']).next()?.trim();
                (!name.is_empty()).then(|| name.to_owned())
            })
            .collect()
    };
    let mut missing = Vec::new();
    for field in root_fields("Query")
        .into_iter()
        .chain(root_fields("Mutation"))
    {
        if field != "me" && !covered.contains(&field.as_str()) {
            missing.push(field);
        }
    }
    for gated in [
        "policy",
        "retentionRules",
        "legalHolds",
        "deletionCertificates",
        "auditTrail",
        "verifyAuditChain",
        "dailyManifest",
        "manifestPublicKey",
        "recordingLifecycle",
        "playbackUrl",
        "downloadUrl",
    ] {
        if !covered.contains(&gated) {
            missing.push(gated.to_owned());
        }
    }
    assert!(missing.is_empty(), "no row for {missing:?}");
}
