//! `GET /v1/objects`: the reconciler's listing of stored objects, on a real
//! server. Only a listing URL lists, a listing URL does nothing else, and
//! paging through it sees every stored object once.

use std::collections::BTreeSet;
use std::time::Duration;

use callvault_auth::signed_url::{Grant, Operation, UrlSigner};
use callvault_contracts::{RecordingId, TenantId};
use callvault_storage::listing::{self, DEFAULT_LIMIT, MAX_LIMIT};
use callvault_storage::{ListedRecord, ObjectListing, list_path};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Harness, audio, body, in_minutes, signer, spawn_objects};

struct Fixture {
    harness: Harness,
    base: String,
    client: reqwest::Client,
}

impl Fixture {
    async fn new() -> Self {
        let harness = Harness::embedded().await;
        let base = spawn_objects(harness.store.clone());
        Self {
            harness,
            base,
            client: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("get");
        let status = response.status();
        let body = response.bytes().await.expect("body");
        let json = serde_json::from_slice(&body).unwrap_or_else(|_| {
            panic!(
                "a json body, got {status}: {}",
                String::from_utf8_lossy(&body)
            )
        });
        (status, json)
    }

    /// Walks every page of the listing before `before`, `limit` at a time.
    async fn walk(&self, before: DateTime<Utc>, limit: u32) -> Vec<ListedRecord> {
        let mut seen = Vec::new();
        let mut after: Option<ListedRecord> = None;
        for _ in 0..100 {
            let path = list_path(&signer(), before, after.as_ref(), limit, in_minutes(1));
            let (status, json) = self.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{json}");
            let page: ObjectListing = serde_json::from_value(json).expect("a listing");
            assert!(page.objects.len() <= limit as usize);
            let listed: Vec<ListedRecord> = page
                .objects
                .iter()
                .map(|object| ListedRecord {
                    created_at: object.created_at,
                    tenant_id: object.tenant_id,
                    recording_id: object.recording_id,
                })
                .collect();
            match (&page.next, listed.last()) {
                (Some(next), Some(last)) => assert_eq!(next, &listing::cursor(last)),
                (Some(next), None) => panic!("an empty page with a next cursor {next}"),
                (None, _) => {
                    seen.extend(listed);
                    return seen;
                }
            }
            after = listed.last().copied();
            seen.extend(listed);
        }
        panic!("the listing never ended");
    }
}

async fn error_code(fixture: &Fixture, path: &str) -> (StatusCode, String) {
    let (status, json) = fixture.get(path).await;
    let code = json["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an error body, got {json}"))
        .to_owned();
    (status, code)
}

#[tokio::test]
async fn paging_sees_every_stored_object_of_every_tenant_once() {
    let fixture = Fixture::new().await;
    let store = &fixture.harness.store;
    let tenants = [TenantId::new(), TenantId::new()];
    let mut stored = BTreeSet::new();
    for index in 0..9 {
        let tenant = tenants[index % 2];
        let recording = RecordingId::new();
        fixture
            .harness
            .store_bytes(tenant, recording, &audio(1_000 + index))
            .await;
        stored.insert((tenant, recording));
    }
    // A shredded recording is not listed: its catalogue entry exists.
    let shredded = *stored.iter().next().expect("one stored");
    store.shred(shredded.0, shredded.1).await.expect("shred");
    stored.remove(&shredded);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cutoff = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Stored after the cutoff: not listed.
    let late = RecordingId::new();
    fixture
        .harness
        .store_bytes(tenants[0], late, &audio(500))
        .await;

    let walked = fixture.walk(cutoff, 3).await;
    let ids: BTreeSet<(TenantId, RecordingId)> = walked
        .iter()
        .map(|record| (record.tenant_id, record.recording_id))
        .collect();
    assert_eq!(ids, stored, "each stored object before the cutoff");
    assert_eq!(walked.len(), stored.len(), "none twice");
    assert!(walked.windows(2).all(|w| w[0] < w[1]), "oldest first");
    // Stable: the same walk again, in one page or many, and in process.
    assert_eq!(fixture.walk(cutoff, 2).await, walked);
    assert_eq!(fixture.walk(cutoff, MAX_LIMIT).await, walked);
    let in_process = store
        .list_stored(cutoff, None, DEFAULT_LIMIT)
        .await
        .expect("list in process");
    assert_eq!(in_process, walked);
}

#[tokio::test]
async fn before_may_be_unix_seconds_and_limit_defaults() {
    let fixture = Fixture::new().await;
    let tenant = TenantId::new();
    fixture
        .harness
        .store_bytes(tenant, RecordingId::new(), &audio(100))
        .await;
    let before = Utc::now().timestamp() + 1;
    let exp = in_minutes(1);
    // The grant is over the parsed values: the µs of the cutoff, no cursor
    // and the default limit.
    let grant = Grant {
        operation: Operation::Reconcile,
        tenant: "*".into(),
        recording: format!("{}||{DEFAULT_LIMIT}", before * 1_000_000),
        expires_at: exp,
    };
    let path = format!("/v1/objects?before={before}&{}", signer().query(&grant));
    let (status, json) = fixture.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let page: ObjectListing = serde_json::from_value(json).expect("a listing");
    assert_eq!(page.objects.len(), 1);
    assert_eq!(page.objects[0].tenant_id, tenant);
    assert_eq!(page.next, None);
}

#[tokio::test]
async fn unsigned_forged_altered_and_expired_listings_are_refused() {
    let fixture = Fixture::new().await;
    fixture
        .harness
        .store_bytes(TenantId::new(), RecordingId::new(), &audio(100))
        .await;
    let before = Utc::now() + chrono::Duration::seconds(1);
    let good = list_path(&signer(), before, None, 10, in_minutes(1));
    let unsigned = good.split("&exp=").next().expect("a query").to_owned();
    assert_eq!(
        error_code(&fixture, &unsigned).await,
        (StatusCode::UNAUTHORIZED, "unsigned_url".to_owned())
    );
    let no_sig = good.split("&sig=").next().expect("a query").to_owned();
    assert_eq!(
        error_code(&fixture, &no_sig).await.0,
        StatusCode::UNAUTHORIZED
    );

    let stranger = UrlSigner::new(&[9u8; 32]).expect("secret");
    let forged = list_path(&stranger, before, None, 10, in_minutes(1));
    let garbage = format!("{no_sig}&sig=AAAA");
    // A signed page can't be widened to a bigger one.
    let widened = good.replace("&limit=10&", "&limit=11&");
    assert_ne!(widened, good);
    // Nor moved to another cutoff.
    let moved = list_path(&signer(), before, None, 10, in_minutes(1)).replacen(
        "before=",
        "before=1&ignored=",
        1,
    );
    for path in [forged, garbage, widened, moved] {
        assert_eq!(
            error_code(&fixture, &path).await,
            (StatusCode::FORBIDDEN, "invalid_signature".to_owned()),
            "{path}"
        );
    }

    let expired = list_path(&signer(), before, None, 10, in_minutes(0) - 5);
    assert_eq!(
        error_code(&fixture, &expired).await,
        (StatusCode::FORBIDDEN, "url_expired".to_owned())
    );
}

#[tokio::test]
async fn no_other_operation_lists_and_a_listing_url_does_nothing_else() {
    let fixture = Fixture::new().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key_ref = fixture.harness.tenant_key(tenant).await;
    fixture
        .harness
        .store
        .store(tenant, recording, &key_ref, body(&audio(1_000), 100))
        .await
        .expect("stored");
    let before = Utc::now() + chrono::Duration::seconds(1);
    let exp = in_minutes(1);
    let listing = list_path(&signer(), before, None, 10, exp);
    let query = listing.split_once('?').expect("a query").1;
    let fields = query.split("&exp=").next().expect("fields");
    let recording_field = format!("{}||10", before.timestamp_micros());

    // The listing's own fields, signed for any other operation.
    for operation in [Operation::Playback, Operation::Upload, Operation::Discard] {
        let grant = Grant {
            operation,
            tenant: "*".into(),
            recording: recording_field.clone(),
            expires_at: exp,
        };
        let path = format!("/v1/objects?{fields}&{}", signer().query(&grant));
        assert_eq!(
            error_code(&fixture, &path).await,
            (StatusCode::FORBIDDEN, "invalid_signature".to_owned()),
            "signed for {operation:?}"
        );
    }

    // A listing grant over one recording's fields is refused by every
    // endpoint that acts on that recording.
    let reconcile = Grant {
        operation: Operation::Reconcile,
        tenant: tenant.to_string(),
        recording: recording.to_string(),
        expires_at: exp,
    };
    let signed = signer().query(&reconcile);
    let object = format!("{}/v1/objects/{tenant}/{recording}?{signed}", fixture.base);
    let response = fixture.client.delete(&object).send().await.expect("delete");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let playback = format!("{}/v1/playback/{tenant}/{recording}?{signed}", fixture.base);
    let response = fixture.client.get(&playback).send().await.expect("play");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let upload = format!(
        "{}/v1/objects/{tenant}/{}?key_ref={}&{signed}",
        fixture.base,
        RecordingId::new(),
        key_ref.0
    );
    let response = fixture
        .client
        .put(&upload)
        .body(audio(100))
        .send()
        .await
        .expect("put");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(fixture.walk(before, 10).await.len(), 1, "still stored");
}

#[tokio::test]
async fn bad_queries_are_400_with_a_json_body() {
    let fixture = Fixture::new().await;
    let sig = format!("exp={}&sig=AAAA", in_minutes(1));
    let cases = [
        (format!("/v1/objects?{sig}"), "missing_before"),
        (
            format!("/v1/objects?before=yesterday&{sig}"),
            "invalid_before",
        ),
        (
            format!("/v1/objects?before=1&after=x_y_z&{sig}"),
            "invalid_cursor",
        ),
        (
            format!("/v1/objects?before=1&limit=0&{sig}"),
            "invalid_limit",
        ),
        (
            format!("/v1/objects?before=1&limit={}&{sig}", MAX_LIMIT + 1),
            "invalid_limit",
        ),
        (
            format!("/v1/objects?before=1&limit=ten&{sig}"),
            "invalid_limit",
        ),
    ];
    for (path, code) in cases {
        assert_eq!(
            error_code(&fixture, &path).await,
            (StatusCode::BAD_REQUEST, code.to_owned()),
            "{path}"
        );
    }
    // An expiry that is not a number is a malformed signature.
    assert_eq!(
        error_code(&fixture, "/v1/objects?before=1&exp=soon&sig=AAAA").await,
        (StatusCode::FORBIDDEN, "invalid_signature".to_owned())
    );
}
