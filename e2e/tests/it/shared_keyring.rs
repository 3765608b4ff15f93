//! One service per process on the local keyring: the four processes share
//! one keyring file. Storage opened it before the tenant existed; the
//! metadata service adds the tenant's key at onboarding and rotates it on a
//! key change; storage must see both at once. And where the processes
//! don't share a file (a misconfiguration), an upload is refused as the
//! permanent failure it is, never with a status a recorder would retry
//! forever.

use std::time::{Duration, Instant};

use callvault_e2e::{graphql, mulaw_wav};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cluster::{Cluster, with_cluster};
use crate::support::{Tenant, call, create_bpo, onboard, search_until, upload};

async fn play(client: &reqwest::Client, url: &str) -> Vec<u8> {
    let response = client.get(url).send().await.expect("play");
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response.bytes().await.expect("body").to_vec()
}

/// Uploads `audio` as call `external_id` and returns the recording's
/// playback URL once catalogued.
async fn store_and_find(
    cluster: &Cluster,
    tenant: &Tenant,
    supervisor: &str,
    external_id: &str,
    agent: &str,
    audio: &[u8],
) -> String {
    let client = reqwest::Client::new();
    let response = upload(
        &cluster.ingestion,
        &client,
        &tenant.key,
        &call(external_id, "+819055556666", agent),
        audio,
    )
    .await;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{body}\n{}",
        cluster.storage.log_text()
    );
    let found = search_until(
        &cluster.gateway,
        &client,
        supervisor,
        &tenant.id,
        json!({ "agent": agent }),
        1,
    )
    .await;
    found[0]["playbackUrl"].as_str().expect("url").to_owned()
}

#[tokio::test]
async fn four_processes_on_one_local_keyring_store_a_tenant_onboarded_after_they_started() {
    let keyring_dir = tempfile::tempdir().expect("tempdir");
    let keyring = keyring_dir.path().join("keyring.json");
    let keyring = keyring.to_str().expect("utf-8 path").to_owned();
    let env = [
        ("CALLVAULT_KEYS__PROVIDER", "local"),
        ("CALLVAULT_KEYS__KEYRING_FILE", keyring.as_str()),
    ];
    with_cluster(&env, |cluster| async move {
        let client = reqwest::Client::new();
        let gateway = &cluster.gateway;
        let admin = gateway.admin_token(&[]);
        // Every process is up, storage has read the (empty) keyring: the
        // tenant and its key come after.
        let bpo = create_bpo(gateway, &client, &admin, "Keyring BPO").await;
        let tenant = onboard(gateway, &client, &admin, &bpo, "Late Bank").await;
        let supervisor = gateway.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
        let tenant_admin = gateway.admin_token(&["--role", "tenant_admin", "--tenant", &tenant.id]);

        let first = mulaw_wav(5, 21);
        let first_url =
            store_and_find(&cluster, &tenant, &supervisor, "late-1", "agent-1", &first).await;
        assert_eq!(play(&client, &first_url).await, first);

        // The metadata process rotates the key; storage re-wraps onto the
        // new version, which it must find in the file.
        let changed = graphql(
            &client,
            &gateway.base_url,
            &tenant_admin,
            "mutation($t: UUID!) { changeTenantKey(tenantId: $t, input: {mode: MANAGED, reason: \"rotation\"}) { id } }",
            json!({ "t": tenant.id }),
        )
        .await
        .expect("changeTenantKey");
        assert_eq!(changed["changeTenantKey"]["id"], tenant.id.as_str());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let logs = cluster.storage.log_text();
            if logs
                .lines()
                .any(|line| line.contains("tenant data keys re-wrapped") && line.contains(&tenant.id))
            {
                break;
            }
            assert!(Instant::now() < deadline, "no re-wrap within 30 s:\n{logs}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(play(&client, &first_url).await, first, "plays after the rotation");
        let second = mulaw_wav(4, 22);
        let second_url =
            store_and_find(&cluster, &tenant, &supervisor, "late-2", "agent-2", &second).await;
        assert_eq!(play(&client, &second_url).await, second);
    })
    .await;
}

/// Each process on a keyring of its own (its data directory's): the key
/// the metadata process created at onboarding is not in storage's. The
/// upload is refused with 422 `tenant_key_unusable` and no `Retry-After`:
/// retrying can never help, so the recorder must not be told to.
#[tokio::test]
async fn an_upload_under_a_key_storage_cannot_find_is_422_not_a_retryable_503() {
    with_cluster(&[("CALLVAULT_KEYS__PROVIDER", "local")], refused_upload).await;
}

/// A function, not a closure: an `async move` block would capture only the
/// cluster's fields it names, and drop (kill) storage and metadata at once.
async fn refused_upload(cluster: Cluster) {
    let client = reqwest::Client::new();
    let gateway = &cluster.gateway;
    let admin = gateway.admin_token(&[]);
    let bpo = create_bpo(gateway, &client, &admin, "Split BPO").await;
    let tenant = onboard(gateway, &client, &admin, &bpo, "Split Bank").await;
    let response = upload(
        &cluster.ingestion,
        &client,
        &tenant.key,
        &call("split-1", "+819055557777", "agent-1"),
        &mulaw_wav(3, 23),
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        cluster.storage.log_text()
    );
    assert!(response.headers().get("retry-after").is_none());
    let body: Value = response.json().await.expect("json error");
    assert_eq!(body["error"]["code"], "tenant_key_unusable", "{body}");
}
