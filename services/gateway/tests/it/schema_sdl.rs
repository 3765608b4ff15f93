//! schema/schema.graphql is generated from the code and must not go stale.

use std::path::Path;

/// Fails when the checked-in SDL differs from the code's; run with
/// `UPDATE_SCHEMA=1` to rewrite it.
#[test]
fn checked_in_sdl_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/schema.graphql");
    let generated = callvault_gateway::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|value| value == "1") {
        std::fs::write(&path, &generated).expect("write schema/schema.graphql");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema/schema.graphql is stale: run `UPDATE_SCHEMA=1 cargo nextest run -p callvault-gateway checked_in_sdl_is_up_to_date`"
    );
}

#[test]
fn sdl_has_the_agreed_surface() {
    let sdl = callvault_gateway::sdl();
    for needle in [
        "me: Me!",
        "bpos: [Bpo!]!",
        "tenants(bpoId: UUID!): [Tenant!]!",
        "tenant(id: UUID!): Tenant!",
        "users(tenantId: UUID!): [User!]!",
        "apiKeys(tenantId: UUID!): [ApiKey!]!",
        "recordings(tenantId: UUID!, filter: RecordingFilter, first: Int = 20, after: String): RecordingConnection!",
        "recording(tenantId: UUID!, id: UUID!): Recording!",
        "playbackUrl(reason: String): String!",
        "lifecycle: RecordingLifecycle!",
        "attributes: [Attribute!]!",
        "noticePlayed: Boolean",
        "pauses: [PauseSpan!]!",
        "restricted: Boolean!",
        "legalBasis: String",
        "statutory: Boolean!",
        "policy: TenantPolicy",
        "retentionRules: [RetentionRule!]",
        "legalHolds: [LegalHold!]",
        "deletionCertificates: [DeletionCertificate!]",
        "auditTrail(after: Int64, first: Int!): AuditPage",
        "verifyAuditChain(manifests: [KeptManifestInput!]): ChainVerification",
        "mismatchedManifest: NaiveDate",
        "dailyManifest(date: NaiveDate!): SignedManifest",
        "manifestPublicKey: String!",
        "setTenantPolicy(tenantId: UUID!, input: TenantPolicyInput!): TenantPolicy!",
        "createRetentionRule(tenantId: UUID!, input: RetentionRuleInput!): RetentionRule!",
        "deleteRetentionRule(tenantId: UUID!, id: UUID!): RetentionRule!",
        "placeLegalHold(tenantId: UUID!, input: LegalHoldInput!): LegalHold!",
        "releaseLegalHold(tenantId: UUID!, id: UUID!, reason: String!): LegalHold!",
        "deleteRecording(tenantId: UUID!, id: UUID!, reason: DeletionRequestReason!, note: String!): DeletionCertificate!",
        "runDeletion(tenantId: UUID!): DeletionCertificate!",
        "createBpo(name: String!): Bpo!",
        "onboardTenant(input: OnboardTenantInput!): Tenant!",
        "defaultRegion: String",
        "createUser(input: CreateUserInput!): User!",
        "createApiKey(tenantId: UUID!, name: String!): CreatedApiKey!",
        "revokeApiKey(tenantId: UUID!, id: UUID!): ApiKey!",
        "endCursor: String",
        "hasNextPage: Boolean!",
    ] {
        assert!(sdl.contains(needle), "sdl lacks `{needle}`:\n{sdl}");
    }
}
