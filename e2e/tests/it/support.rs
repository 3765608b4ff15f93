use std::time::{Duration, Instant};

use callvault_e2e::{Callvault, graphql};
use serde_json::{Value, json};

pub struct Tenant {
    pub id: String,
    pub key: String,
}

pub async fn create_bpo(
    cv: &Callvault,
    client: &reqwest::Client,
    admin: &str,
    name: &str,
) -> String {
    let data = graphql(
        client,
        &cv.base_url,
        admin,
        "mutation($n: String!) { createBpo(name: $n) { id } }",
        json!({ "n": name }),
    )
    .await
    .unwrap_or_else(|code| panic!("createBpo: {code}"));
    data["createBpo"]["id"].as_str().expect("bpo id").to_owned()
}

/// Onboards a tenant under `bpo` and creates a recorder key for it.
pub async fn onboard(
    cv: &Callvault,
    client: &reqwest::Client,
    admin: &str,
    bpo: &str,
    name: &str,
) -> Tenant {
    let data = graphql(
        client,
        &cv.base_url,
        admin,
        "mutation($b: UUID!, $n: String!) { onboardTenant(input: {bpoId: $b, name: $n, timeZone: \"Asia/Tokyo\", defaultRetentionDays: 365, keyMode: MANAGED}) { id } }",
        json!({ "b": bpo, "n": name }),
    )
    .await
    .unwrap_or_else(|code| panic!("onboardTenant: {code}"));
    let id = data["onboardTenant"]["id"]
        .as_str()
        .expect("tenant id")
        .to_owned();
    let tenant_admin = cv.admin_token(&["--role", "tenant_admin", "--tenant", &id]);
    let data = graphql(
        client,
        &cv.base_url,
        &tenant_admin,
        "mutation($t: UUID!) { createApiKey(tenantId: $t, name: \"recorder-1\") { secret } }",
        json!({ "t": id }),
    )
    .await
    .unwrap_or_else(|code| panic!("createApiKey: {code}"));
    let key = data["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    Tenant { id, key }
}

pub fn call(external_id: &str, caller: &str, agent: &str) -> Value {
    json!({
        "external_call_id": external_id,
        "segment": 0,
        "direction": "inbound",
        "caller_number": caller,
        "callee_number": "+81355550100",
        "agent": agent,
        "queue": "support",
        "started_at": "2026-11-29T09:00:00Z",
        "ended_at": "2026-11-29T09:00:30Z",
        "tags": ["complaint"],
        "agent_channel": "mixed",
        "customer_channel": "mixed"
    })
}

pub async fn upload(
    cv: &Callvault,
    client: &reqwest::Client,
    key: &str,
    call: &Value,
    audio: &[u8],
) -> reqwest::Response {
    client
        .post(format!("{}/v1/recordings", cv.base_url))
        .bearer_auth(key)
        .header("content-type", "audio/wav")
        .header("callvault-call", call.to_string())
        .body(audio.to_vec())
        .send()
        .await
        .expect("upload request")
}

/// Searches until `expected` recordings match (the catalogue is fed by an
/// event, so it lags the upload by a few milliseconds).
pub async fn search_until(
    cv: &Callvault,
    client: &reqwest::Client,
    token: &str,
    tenant: &str,
    filter: Value,
    expected: usize,
) -> Vec<Value> {
    search_fields_until(
        cv,
        client,
        token,
        tenant,
        filter,
        expected,
        "id agent callerNumber calleeNumber durationMs codec playbackUrl",
    )
    .await
}

/// [`search_until`] asking only for `fields` of each recording (without a
/// `playbackUrl` where the tenant requires a reason to play).
pub async fn search_fields_until(
    cv: &Callvault,
    client: &reqwest::Client,
    token: &str,
    tenant: &str,
    filter: Value,
    expected: usize,
    fields: &str,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let data = graphql(
            client,
            &cv.base_url,
            token,
            &format!(
                "query($t: UUID!, $f: RecordingFilter) {{ recordings(tenantId: $t, filter: $f) {{ edges {{ node {{ {fields} }} }} pageInfo {{ hasNextPage }} }} }}"
            ),
            json!({ "t": tenant, "f": filter }),
        )
        .await
        .unwrap_or_else(|code| panic!("recordings: {code}"));
        let nodes: Vec<Value> = data["recordings"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|edge| edge["node"].clone())
            .collect();
        if nodes.len() >= expected || Instant::now() > deadline {
            assert_eq!(
                nodes.len(),
                expected,
                "search {filter} found {} recordings",
                nodes.len()
            );
            return nodes;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates a versioned bucket on moto: versioning on, so a test can check
/// that deletion leaves no old version behind.
pub async fn create_bucket(client: &reqwest::Client, endpoint: &str, bucket: &str) {
    let created = client
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("create bucket");
    assert!(
        created.status().is_success(),
        "create bucket: {}",
        created.status()
    );
    let versioning = client
        .put(format!("{endpoint}/{bucket}?versioning"))
        .body("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>")
        .send()
        .await
        .expect("enable versioning");
    assert!(
        versioning.status().is_success(),
        "versioning: {}",
        versioning.status()
    );
}

/// Every object version and delete marker in `bucket` (moto's
/// ListObjectVersions, one page: tests hold few objects): their keys.
pub async fn object_versions(
    client: &reqwest::Client,
    endpoint: &str,
    bucket: &str,
) -> Vec<String> {
    let listing = client
        .get(format!("{endpoint}/{bucket}?versions"))
        .send()
        .await
        .expect("list object versions")
        .text()
        .await
        .expect("listing");
    assert!(
        !listing.contains("<IsTruncated>true</IsTruncated>"),
        "more versions than one page"
    );
    listing
        .split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split("</Key>").next())
        .map(str::to_owned)
        .collect()
}
