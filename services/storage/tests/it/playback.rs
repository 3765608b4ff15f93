//! HTTP playback behind signed URLs: ranges as a browser sends them, and
//! every way a URL can be wrong.

use callvault_auth::signed_url::UrlSigner;
use callvault_contracts::{RecordingId, TenantId};
use callvault_storage::playback::playback_path;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use serde_json::Value;

use crate::support::{Harness, audio, in_minutes, signer, spawn_playback};

struct Fixture {
    _harness: Harness,
    base: String,
    tenant: TenantId,
    recording: RecordingId,
    data: Vec<u8>,
    client: reqwest::Client,
}

impl Fixture {
    async fn new() -> Self {
        let harness = Harness::embedded().await;
        let (tenant, recording) = (TenantId::new(), RecordingId::new());
        let data = audio(500_000);
        harness.store_bytes(tenant, recording, &data).await;
        let base = spawn_playback(harness.store.clone());
        Self {
            _harness: harness,
            base,
            tenant,
            recording,
            data,
            client: reqwest::Client::new(),
        }
    }

    fn url(&self) -> String {
        format!(
            "{}{}",
            self.base,
            playback_path(&signer(), self.tenant, self.recording, in_minutes(5))
        )
    }

    async fn get(&self, url: &str, range: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(url);
        if let Some(range) = range {
            request = request.header(RANGE, range);
        }
        request.send().await.expect("request")
    }
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value =
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("json error body");
    body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned()
}

#[tokio::test]
async fn whole_body_without_range() {
    let fixture = Fixture::new().await;
    let response = fixture.get(&fixture.url(), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["accept-ranges"], "bytes");
    assert_eq!(response.headers()[CONTENT_LENGTH], "500000");
    assert_eq!(response.bytes().await.expect("body"), fixture.data);
}

#[tokio::test]
async fn a_player_seeking_around_gets_exact_bytes() {
    let fixture = Fixture::new().await;
    let url = fixture.url();
    // What an <audio> element does: open, then seek forward and back.
    let seeks = [
        ("bytes=0-", 0..500_000usize),
        ("bytes=400000-", 400_000..500_000),
        ("bytes=65530-65545", 65_530..65_546),
        ("bytes=-1000", 499_000..500_000),
        ("bytes=12345-12345", 12_345..12_346),
        ("bytes=499999-600000", 499_999..500_000),
    ];
    for (header, expected) in seeks {
        let response = fixture.get(&url, Some(header)).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{header}");
        let content_range = response.headers()[CONTENT_RANGE]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert_eq!(
            content_range,
            format!("bytes {}-{}/500000", expected.start, expected.end - 1),
            "{header}"
        );
        let body = response.bytes().await.expect("body");
        assert_eq!(&body[..], &fixture.data[expected.clone()], "{header}");
    }
}

#[tokio::test]
async fn a_range_past_the_end_is_416_with_the_length() {
    let fixture = Fixture::new().await;
    let response = fixture.get(&fixture.url(), Some("bytes=500000-")).await;
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(response.headers()[CONTENT_RANGE], "bytes */500000");
    assert_eq!(error_code(response).await, "range_not_satisfiable");
}

#[tokio::test]
async fn head_reports_the_length_without_a_body() {
    let fixture = Fixture::new().await;
    let response = fixture
        .client
        .head(fixture.url())
        .send()
        .await
        .expect("head");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_LENGTH], "500000");
}

#[tokio::test]
async fn an_expired_url_is_refused() {
    let fixture = Fixture::new().await;
    let past = in_minutes(0) - 10;
    let url = format!(
        "{}{}",
        fixture.base,
        playback_path(&signer(), fixture.tenant, fixture.recording, past)
    );
    let response = fixture.get(&url, None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(response).await, "url_expired");
}

#[tokio::test]
async fn an_altered_url_is_refused() {
    let fixture = Fixture::new().await;
    let url = fixture.url();
    let later = url.replace(
        &format!("exp={}", in_minutes(5)),
        &format!("exp={}", in_minutes(600)),
    );
    let other_recording = url.replace(
        &fixture.recording.to_string(),
        &RecordingId::new().to_string(),
    );
    let mut bad_sig = url.clone();
    let last = bad_sig.pop().expect("non-empty");
    bad_sig.push(if last == 'A' { 'B' } else { 'A' });
    let foreign = format!(
        "{}{}",
        fixture.base,
        playback_path(
            &UrlSigner::new(&[1u8; 32]).expect("secret"),
            fixture.tenant,
            fixture.recording,
            in_minutes(5)
        )
    );
    for url in [later, other_recording, bad_sig, foreign] {
        let response = fixture.get(&url, None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{url}");
        assert_eq!(error_code(response).await, "invalid_signature");
    }
}

#[tokio::test]
async fn an_unsigned_or_malformed_url_is_refused() {
    let fixture = Fixture::new().await;
    let unsigned = format!(
        "{}/v1/playback/{}/{}",
        fixture.base, fixture.tenant, fixture.recording
    );
    let response = fixture.get(&unsigned, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(response).await, "unsigned_url");
    let not_uuid = format!("{}/v1/playback/../etc?exp=1&sig=x", fixture.base);
    let response = fixture.get(&not_uuid, None).await;
    assert!(response.status().is_client_error());
}

#[tokio::test]
async fn a_url_for_another_tenant_reaches_nothing() {
    let fixture = Fixture::new().await;
    // A perfectly signed URL, but for tenant B naming tenant A's recording.
    let tenant_b = TenantId::new();
    let url = format!(
        "{}{}",
        fixture.base,
        playback_path(&signer(), tenant_b, fixture.recording, in_minutes(5))
    );
    let response = fixture.get(&url, None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "not_found");
}

#[tokio::test]
async fn a_shredded_recording_answers_410() {
    let fixture = Fixture::new().await;
    fixture
        ._harness
        .store
        .shred(fixture.tenant, fixture.recording)
        .await
        .expect("shred");
    let response = fixture.get(&fixture.url(), Some("bytes=0-")).await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert_eq!(error_code(response).await, "shredded");
}
