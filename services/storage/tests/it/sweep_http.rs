//! The sweep seen from an upload: a store abandoned under a slow upload
//! answers 503 with Retry-After (which ingestion passes on as a 503 the
//! recorder retries),
//! and the retried upload is stored.

use std::sync::Arc;
use std::time::Duration;

use callvault_contracts::{RecordingId, TenantId};
use callvault_storage::upload::upload_path;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

use crate::support::{audio, in_minutes, signer, spawn_objects};
use crate::sweep::{Env, PausedAfterPut, sweep};

#[tokio::test]
async fn an_upload_the_sweep_abandoned_is_a_retryable_503() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = Env::new(&format!("sqlite://{}", dir.path().join("s.db").display())).await;
    let (put_done, mut puts) = mpsc::unbounded_channel();
    let resume = Arc::new(Notify::new());
    let paused = env.store_over(Arc::new(PausedAfterPut {
        inner: env.fs.clone(),
        put_done,
        resume: resume.clone(),
    }));
    let base = spawn_objects(paused);
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key_ref = env.key(tenant).await.0;
    let expires = in_minutes(1);
    let url = format!(
        "{base}{}",
        upload_path(&signer(), tenant, recording, &key_ref, expires)
    );
    let data = audio(50_000);
    let request = tokio::spawn({
        let (url, data) = (url.clone(), data.clone());
        async move { reqwest::Client::new().put(url).body(data).send().await }
    });
    puts.recv().await.expect("the put finished");
    tokio::time::sleep(Duration::from_millis(2)).await;
    sweep(&env.store(), Duration::ZERO).await;
    resume.notify_one();

    let response = request.await.expect("task").expect("response");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(
        env.records.get(tenant.0, recording.0).await.expect("get"),
        None
    );
    assert_eq!(env.objects(), Vec::<String>::new());
    assert_eq!(env.intent_count().await, 0);

    // The retry goes through (this server's store pauses again: let it).
    resume.notify_one();
    let retried = reqwest::Client::new()
        .put(url)
        .body(data)
        .send()
        .await
        .expect("retry");
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert!(
        env.records
            .get(tenant.0, recording.0)
            .await
            .expect("get")
            .is_some()
    );
}
