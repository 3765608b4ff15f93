//! Signed evidence: a body of canonical JSON signed with the tenant's
//! manifest key (see [`crate::manifest::ManifestKeys`]), for anything a
//! tenant keeps to check callvault later without trusting its database:
//! the daily manifests, deletion certificates, and any later certificate
//! (offboarding) that wants the same treatment.
//!
//! Every body names its `kind`, its `version` and its `tenant_id`, so a
//! signature over one kind of body can never be passed off as another kind
//! signed with the same key. services/metadata/AUDIT.md documents the
//! bodies for third parties.

use callvault_contracts::TenantId;
use serde_json::{Map, Value};

use crate::audit::canonical_json;
use crate::manifest::ManifestKeys;

/// `kind` of the daily manifests (from body version 2 on).
pub const DAILY_MANIFEST: &str = "daily_manifest";
/// `kind` of deletion certificates.
pub const DELETION_CERTIFICATE: &str = "deletion_certificate";

/// A signed body, as stored and as served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedBody {
    /// Canonical JSON: the exact bytes signed.
    pub body: String,
    /// Base64 (standard, padded) Ed25519 signature over `body`.
    pub signature: String,
}

/// Signs `fields` for `tenant` as a body of `kind` and `version`: the three
/// are added to `fields` (which must not carry them), the whole is written
/// as canonical JSON and signed with the tenant's manifest key.
pub fn sign(
    keys: &ManifestKeys,
    tenant: TenantId,
    kind: &str,
    version: u32,
    mut fields: Map<String, Value>,
) -> SignedBody {
    debug_assert!(
        ["kind", "version", "tenant_id"]
            .iter()
            .all(|key| !fields.contains_key(*key)),
        "sign() sets kind, version and tenant_id itself"
    );
    fields.insert("kind".to_owned(), Value::from(kind));
    fields.insert("version".to_owned(), Value::from(version));
    fields.insert(
        "tenant_id".to_owned(),
        Value::from(tenant.0.hyphenated().to_string()),
    );
    let body = canonical_json(&Value::Object(fields));
    let signature = keys.sign(tenant, body.as_bytes());
    SignedBody { body, signature }
}

/// Whether `signature` (base64) is `tenant`'s signature over `body`.
pub fn verifies(keys: &ManifestKeys, tenant: TenantId, body: &str, signature: &str) -> bool {
    keys.verify(tenant, body.as_bytes(), signature)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn bodies_name_kind_version_and_tenant_and_verify() {
        let keys = ManifestKeys::new(vec![0x3c; 32]);
        let tenant =
            TenantId(Uuid::parse_str("0b7e4a4c-2f7d-4a39-9a57-1c7c1d3f0e11").expect("uuid"));
        let Value::Object(fields) = json!({"deleted": [], "a": "é"}) else {
            unreachable!()
        };
        let signed = sign(&keys, tenant, DELETION_CERTIFICATE, 1, fields);
        assert_eq!(
            signed.body,
            r#"{"a":"é","deleted":[],"kind":"deletion_certificate","tenant_id":"0b7e4a4c-2f7d-4a39-9a57-1c7c1d3f0e11","version":1}"#
        );
        assert!(verifies(&keys, tenant, &signed.body, &signed.signature));
        let other = TenantId(Uuid::from_u128(9));
        assert!(!verifies(&keys, other, &signed.body, &signed.signature));
        let tampered = signed.body.replace("é", "e");
        assert!(!verifies(&keys, tenant, &tampered, &signed.signature));
        assert!(!verifies(&keys, tenant, &signed.body, "not base64!"));
    }
}
