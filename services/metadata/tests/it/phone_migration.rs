//! The E.164 migration on rows the code before it wrote: numbers sealed and
//! indexed over their dialled form ('+' and digits), tenants without a
//! default region. Afterwards a national-format search finds them, and a
//! case hold placed by a national number covers the calls it should.
//!
//! The old rows are sealed here by an independent writer of the stored
//! format (HKDF-derived tenant keys, AES-256-GCM bound to tenant, row and
//! party, HMAC-SHA256 index): what a deployed database holds, not what
//! today's code would write. After the E.164 migration they move to the
//! tenants' catalogue keys (`pii_rekey`), and the searches run on those.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use aws_lc_rs::hmac;
use callvault_contracts::metadata_api::{PageRequest, RecordingFilter, TenantKeys};
use callvault_contracts::{RecordingId, Role, TenantId};
use callvault_keys::KeyProvider;
use callvault_keys::local::LocalKeyring;
use callvault_metadata::pii_rekey::rekey_catalogue;
use callvault_metadata::{CatalogueKeys, MetadataService, PiiKeys};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, StatementBuilder};
use sea_orm_migration::MigratorTraitSelf;
use std::sync::Arc;
use uuid::Uuid;

use crate::support::{FakeKeys, PII_SECRET, at, member};

/// Migrations applied before the E.164 one.
const BEFORE_E164: u32 = 7;

struct Len32;

impl KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// One tenant's keys as the service derives them from its secret.
fn derive(tenant: Uuid, purpose: &[u8]) -> [u8; 32] {
    let prk = Salt::new(HKDF_SHA256, b"callvault/metadata/pii/v1").extract(&PII_SECRET);
    let info: [&[u8]; 4] = [
        b"callvault/metadata/",
        purpose,
        b"/tenant/",
        tenant.as_bytes(),
    ];
    let mut out = [0u8; 32];
    prk.expand(&info, Len32)
        .and_then(|okm| okm.fill(&mut out))
        .expect("hkdf");
    out
}

/// `1 ‖ nonce ‖ ciphertext ‖ tag`, bound to tenant, row and party.
pub(crate) fn seal(tenant: Uuid, row: Uuid, party: &str, number: &str) -> Vec<u8> {
    let key = UnboundKey::new(&AES_256_GCM, &derive(tenant, b"phone-encryption"))
        .map(LessSafeKey::new)
        .expect("aead key");
    let mut aad = vec![1u8];
    aad.extend_from_slice(tenant.as_bytes());
    aad.extend_from_slice(row.as_bytes());
    aad.extend_from_slice(party.as_bytes());
    let nonce = [9u8; NONCE_LEN];
    let mut body = number.as_bytes().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut body,
    )
    .expect("seal");
    let mut out = vec![1u8];
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    out
}

/// The old index: HMAC over '+' and the digits, `None` without digits.
pub(crate) fn old_index(tenant: Uuid, number: &str) -> Option<Vec<u8>> {
    let trimmed = number.trim();
    let mut form = String::new();
    if trimmed.starts_with('+') {
        form.push('+');
    }
    form.extend(trimmed.chars().filter(char::is_ascii_digit));
    if !form.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, &derive(tenant, b"phone-blind-index"));
    Some(hmac::sign(&key, form.as_bytes()).as_ref()[..16].to_vec())
}

fn build<S: StatementBuilder>(db: &DatabaseConnection, statement: &S) -> Statement {
    db.get_database_backend().build(statement)
}

pub(crate) async fn insert(db: &DatabaseConnection, table: &str, values: Vec<(&str, SimpleExpr)>) {
    let (columns, values): (Vec<_>, Vec<_>) = values.into_iter().unzip();
    let statement = Query::insert()
        .into_table(Alias::new(table))
        .columns(columns.into_iter().map(Alias::new))
        .values_panic(values)
        .to_owned();
    db.execute_raw(build(db, &statement)).await.expect("insert");
}

async fn old_tenant(
    db: &DatabaseConnection,
    keys: &Arc<dyn KeyProvider>,
    bpo: Uuid,
    zone: &str,
) -> Uuid {
    let id = Uuid::new_v4();
    let key_ref = keys
        .create_tenant_key(&id.to_string())
        .await
        .expect("tenant key")
        .0;
    insert(
        db,
        "tenants",
        vec![
            ("id", id.into()),
            ("bpo_id", bpo.into()),
            ("name", zone.into()),
            ("time_zone", zone.into()),
            ("default_retention_days", 365.into()),
            ("key_ref", key_ref.into()),
            ("created_at", at(0).into()),
        ],
    )
    .await;
    id
}

/// A recording as the ingest consumer before E.164 wrote it.
pub(crate) async fn old_recording(
    db: &DatabaseConnection,
    tenant: Uuid,
    caller: &str,
    callee: &str,
) -> Uuid {
    let id = Uuid::new_v4();
    insert(
        db,
        "recordings",
        vec![
            ("tenant_id", tenant.into()),
            ("id", id.into()),
            ("external_call_id", format!("call-{id}").into()),
            ("segment", 0_i64.into()),
            ("direction", "inbound".into()),
            (
                "caller_ciphertext",
                seal(tenant, id, "caller", caller).into(),
            ),
            ("caller_index", old_index(tenant, caller).into()),
            (
                "callee_ciphertext",
                seal(tenant, id, "callee", callee).into(),
            ),
            ("callee_index", old_index(tenant, callee).into()),
            ("started_at", at(0).into()),
            ("ended_at", at(60).into()),
            ("codec", "wav/pcm_mulaw".into()),
            ("sample_rate", 8000_i64.into()),
            ("channels", 1_i32.into()),
            ("duration_ms", 60_000_i64.into()),
            ("size", 480_000_i64.into()),
            ("sha256", "ab".repeat(32).into()),
            ("key_ref", format!("tenant/{tenant}").into()),
            ("ingested_at", at(90).into()),
            ("retain_until", (at(0) + chrono::Duration::days(365)).into()),
        ],
    )
    .await;
    id
}

/// A case hold by number as `place_hold` before E.164 wrote it: the number
/// sealed under the hold's id, as the caller.
pub(crate) async fn old_phone_hold(db: &DatabaseConnection, tenant: Uuid, number: &str) -> Uuid {
    let id = Uuid::new_v4();
    insert(
        db,
        "legal_holds",
        vec![
            ("tenant_id", tenant.into()),
            ("id", id.into()),
            ("case_name", "case 7".into()),
            ("reason", "regulator".into()),
            ("scope_kind", "filter".into()),
            (
                "filter",
                serde_json::to_string(&RecordingFilter::default())
                    .expect("json")
                    .into(),
            ),
            (
                "filter_phone_ciphertext",
                seal(tenant, id, "caller", number).into(),
            ),
            ("filter_phone_index", old_index(tenant, number).into()),
            ("placed_by", "officer".into()),
            ("placed_at", at(0).into()),
        ],
    )
    .await;
    id
}

async fn run(db: DatabaseConnection) {
    let dir = tempfile::tempdir().expect("keyring directory");
    let keyring: Arc<dyn KeyProvider> =
        Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring"));
    let pii = PiiKeys::new(PII_SECRET);
    callvault_metadata::Migrator::new(pii.clone())
        .up(&db, Some(BEFORE_E164))
        .await
        .expect("migrations before e164");
    let bpo = Uuid::new_v4();
    insert(
        &db,
        "bpos",
        vec![
            ("id", bpo.into()),
            ("name", "bpo".into()),
            ("created_at", at(0).into()),
        ],
    )
    .await;
    let tokyo = old_tenant(&db, &keyring, bpo, "Asia/Tokyo").await;
    let utc = old_tenant(&db, &keyring, bpo, "UTC").await;
    let national = old_recording(&db, tokyo, "03-1234-5678", "+81 3 9876 5432").await;
    let international = old_recording(&db, tokyo, "anonymous", "+81312345678").await;
    let extension = old_recording(&db, tokyo, "+81 90 1111 2222", "100").await;
    let utc_national = old_recording(&db, utc, "03-1234-5678", "+81 3 9876 5432").await;
    let hold = old_phone_hold(&db, tokyo, "0312345678").await;

    callvault_metadata::migrate(&db, &pii)
        .await
        .expect("the e164 migration");

    // Down past it (and every migration after it): the indexes are the old
    // code's once more; then up again.
    let migrator = callvault_metadata::Migrator::new(PiiKeys::new(PII_SECRET));
    let names: Vec<String> = migrator
        .migrations()
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect();
    let e164 = names
        .iter()
        .position(|name| name.contains("e164"))
        .expect("the e164 migration is listed");
    let steps = u32::try_from(names.len() - e164).expect("a few migrations");
    migrator.down(&db, Some(steps)).await.expect("down");
    let select = Query::select()
        .columns(["caller_index", "callee_index"].map(Alias::new))
        .from(Alias::new("recordings"))
        .and_where(Expr::col(Alias::new("id")).eq(national))
        .to_owned();
    let row = db
        .query_one_raw(build(&db, &select))
        .await
        .expect("select")
        .expect("a row");
    let caller: Option<Vec<u8>> = row.try_get("", "caller_index").expect("caller");
    let callee: Option<Vec<u8>> = row.try_get("", "callee_index").expect("callee");
    assert_eq!(caller, old_index(tokyo, "03-1234-5678"));
    assert_eq!(callee, old_index(tokyo, "+81 3 9876 5432"));
    callvault_metadata::migrate(&db, &pii)
        .await
        .expect("the e164 migration, again");

    // The numbers move to the tenants' keys, two rows a batch.
    let catalogue = CatalogueKeys::new(keyring.clone()).with_legacy(pii);
    let report = rekey_catalogue(&db, &catalogue, 2)
        .await
        .expect("the move to the tenants' keys");
    assert_eq!(report.resealed, 5, "four recordings and a hold");
    assert!(report.skipped_tenants.is_empty());

    let svc = MetadataService::new(
        db.clone(),
        Arc::new(FakeKeys::new(keyring)) as Arc<dyn TenantKeys>,
        catalogue,
    );
    let officer = member(Role::ComplianceOfficer, TenantId(tokyo));
    let tenant = svc
        .get_tenant(&officer, TenantId(tokyo))
        .await
        .expect("tenant");
    assert_eq!(
        tenant.default_region.as_deref(),
        Some("JP"),
        "derived from Asia/Tokyo"
    );
    let search = |tenant: Uuid, number: &'static str| {
        let svc = &svc;
        async move {
            let actor = member(Role::Supervisor, TenantId(tenant));
            let filter = RecordingFilter {
                phone_number: Some(number.into()),
                ..Default::default()
            };
            let page = PageRequest {
                first: 100,
                after: None,
            };
            let mut ids: Vec<Uuid> = svc
                .search_recordings(&actor, TenantId(tenant), filter, page)
                .await
                .expect("search")
                .items
                .into_iter()
                .map(|r| r.id.0)
                .collect();
            ids.sort();
            ids
        }
    };
    let mut both = vec![national, international];
    both.sort();
    assert_eq!(search(tokyo, "03-1234-5678").await, both);
    assert_eq!(search(tokyo, "+81312345678").await, both);
    assert_eq!(search(tokyo, "03-9876-5432").await, vec![national]);
    assert_eq!(search(tokyo, "090-1111-2222").await, vec![extension]);
    assert_eq!(search(tokyo, "100").await, vec![extension]);
    // A tenant without a region keeps its numbers as they were indexed.
    let utc_tenant = svc
        .get_tenant(&member(Role::TenantAdmin, TenantId(utc)), TenantId(utc))
        .await
        .expect("utc tenant");
    assert_eq!(utc_tenant.default_region, None);
    assert_eq!(search(utc, "+81 3 9876 5432").await, vec![utc_national]);

    // The case placed by the national number covers both forms now.
    for id in [national, international] {
        let lifecycle = svc
            .recording_lifecycle(&officer, TenantId(tokyo), RecordingId(id))
            .await
            .expect("lifecycle");
        assert_eq!(lifecycle.holds, vec![hold], "{id}");
    }
    let lifecycle = svc
        .recording_lifecycle(&officer, TenantId(tokyo), RecordingId(extension))
        .await
        .expect("lifecycle");
    assert!(lifecycle.holds.is_empty());
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    run(Database::connect(url).await.expect("open sqlite")).await;
}

#[tokio::test]
async fn postgres() {
    callvault_testkit::with_pg_database(|url| async move {
        let db = Database::connect(url).await.expect("open postgres");
        run(db.clone()).await;
        db.close().await.expect("close");
    })
    .await;
}
