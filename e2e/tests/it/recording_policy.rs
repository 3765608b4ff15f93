//! Recording policies through the embedded binary: a do-not-record number
//! refused, then kept as metadata only; a 10 % rule over 1,000 calls; pause
//! spans silenced in what plays back; bad policies and numbers refused
//! without a change; another tenant reaches none of it.

use std::sync::Arc;

use callvault_e2e::{Callvault, graphql, mulaw_wav, pcm16_stereo_wav};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::support::{Tenant, call, create_bpo, onboard, upload};

async fn set_policy(
    cv: &Callvault,
    client: &reqwest::Client,
    token: &str,
    tenant: &str,
    input: Value,
) -> Result<Value, String> {
    graphql(
        client,
        &cv.base_url,
        token,
        "mutation($t: UUID!, $i: RecordingPolicyInput!) { setRecordingPolicy(tenantId: $t, input: $i) { keep notKept silencePauses version rules { queue percent } } }",
        json!({ "t": tenant, "i": input }),
    )
    .await
    .map(|data| data["setRecordingPolicy"].clone())
}

async fn call_lookup(
    cv: &Callvault,
    client: &reqwest::Client,
    token: &str,
    tenant: &str,
    external_id: &str,
) -> Value {
    let data = graphql(
        client,
        &cv.base_url,
        token,
        "query($t: UUID!, $c: String!) { call(tenantId: $t, externalCallId: $c) { segments { id playbackUrl } } }",
        json!({ "t": tenant, "c": external_id }),
    )
    .await
    .expect("call query");
    data["call"].clone()
}

/// Waits for the ingest event to reach the catalogue.
async fn played_back(
    cv: &Callvault,
    client: &reqwest::Client,
    token: &str,
    tenant: &str,
    external_id: &str,
) -> Vec<u8> {
    for _ in 0..100 {
        let found = call_lookup(cv, client, token, tenant, external_id).await;
        if let Some(url) = found["segments"][0]["playbackUrl"].as_str() {
            let played = client.get(url).send().await.expect("play");
            assert_eq!(played.status(), 200);
            return played.bytes().await.expect("audio").to_vec();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{external_id} never reached the catalogue");
}

struct Site {
    cv: Callvault,
    client: reqwest::Client,
    tenant: Tenant,
    admin: String,
    other: Tenant,
    other_admin: String,
}

async fn site() -> Site {
    let cv = Callvault::start_with(&[]).await;
    let client = reqwest::Client::new();
    let platform = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &platform, "Acme Contact Centers").await;
    let tenant = onboard(&cv, &client, &platform, &bpo, "Example Bank").await;
    let other = onboard(&cv, &client, &platform, &bpo, "Other Insurer").await;
    let admin = cv.admin_token(&["--role", "tenant_admin", "--tenant", &tenant.id]);
    let other_admin = cv.admin_token(&["--role", "tenant_admin", "--tenant", &other.id]);
    Site {
        cv,
        client,
        tenant,
        admin,
        other,
        other_admin,
    }
}

#[tokio::test]
async fn a_do_not_record_number_is_refused_or_kept_as_metadata_only() {
    let Site {
        cv,
        client,
        tenant,
        admin,
        other,
        other_admin,
    } = site().await;
    let add =
        "mutation($t: UUID!, $n: [String!]!) { addDoNotRecordNumbers(tenantId: $t, numbers: $n) }";
    // As dialled in Japan (the tenant's region) and in E.164: one number.
    let added = graphql(
        &client,
        &cv.base_url,
        &admin,
        add,
        json!({ "t": tenant.id, "n": ["090-1234-5678", "+819012345678"] }),
    )
    .await
    .expect("add");
    assert_eq!(added["addDoNotRecordNumbers"], 1);
    // A bad number refuses the whole change.
    let bad = graphql(
        &client,
        &cv.base_url,
        &admin,
        add,
        json!({ "t": tenant.id, "n": ["+81 3 5555 0199", "call me"] }),
    )
    .await;
    assert_eq!(bad, Err("BAD_USER_INPUT".to_owned()));
    let list = "query($t: UUID!) { doNotRecordNumbers(tenantId: $t) { total entries { number } nextCursor } }";
    let listed = graphql(
        &client,
        &cv.base_url,
        &admin,
        list,
        json!({ "t": tenant.id }),
    )
    .await
    .expect("list");
    assert_eq!(listed["doNotRecordNumbers"]["total"], 1);
    assert_eq!(
        listed["doNotRecordNumbers"]["entries"][0]["number"],
        "+819012345678"
    );

    // Refused: nothing kept.
    let audio = mulaw_wav(5, 1);
    let listed_call = call("dnr-1", "+819012345678", "agent-1");
    let refused = upload(&cv, &client, &tenant.key, &listed_call, &audio).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "call_not_recorded");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("do_not_record")
    );
    // The callee side counts too; another number goes in.
    let mut outbound = call("dnr-2", "+81355550100", "agent-1");
    outbound["callee_number"] = json!("09012345678");
    let refused = upload(&cv, &client, &tenant.key, &outbound, &audio).await;
    assert_eq!(refused.status(), 422);
    let fine = upload(
        &cv,
        &client,
        &tenant.key,
        &call("ok-1", "+819011112222", "agent-1"),
        &audio,
    )
    .await;
    assert_eq!(fine.status(), 201);
    // The same number is not on the other tenant's list.
    let theirs = upload(
        &cv,
        &client,
        &other.key,
        &call("dnr-1", "+819012345678", "agent-9"),
        &audio,
    )
    .await;
    assert_eq!(theirs.status(), 201);

    // Metadata only: the call is listed with its reason, the audio never
    // stored.
    let policy = set_policy(
        &cv,
        &client,
        &admin,
        &tenant.id,
        json!({ "keep": "ALL", "notKept": "METADATA_ONLY" }),
    )
    .await
    .expect("policy");
    assert_eq!(policy["version"], 1);
    let kept = upload(
        &cv,
        &client,
        &tenant.key,
        &call("dnr-3", "+819012345678", "agent-2"),
        &audio,
    )
    .await;
    assert_eq!(kept.status(), 200);
    let receipt: Value = kept.json().await.expect("json");
    assert_eq!(receipt["stored"], false);
    assert_eq!(receipt["reason"], "do_not_record");
    let again = upload(
        &cv,
        &client,
        &tenant.key,
        &call("dnr-3", "+819012345678", "agent-2"),
        &audio,
    )
    .await;
    assert_eq!(again.status(), 200, "a retry gets the same answer");
    let calls = graphql(
        &client,
        &cv.base_url,
        &admin,
        "query($t: UUID!) { notRecordedCalls(tenantId: $t) { calls { externalCallId segment agent queue reason policyVersion } nextCursor } }",
        json!({ "t": tenant.id }),
    )
    .await
    .expect("not recorded calls");
    assert_eq!(
        calls["notRecordedCalls"]["calls"],
        json!([{ "externalCallId": "dnr-3", "segment": 0, "agent": "agent-2", "queue": "support", "reason": "DO_NOT_RECORD", "policyVersion": 1 }])
    );
    assert!(
        call_lookup(&cv, &client, &admin, &tenant.id, "dnr-3")
            .await
            .is_null()
    );
    assert!(
        call_lookup(&cv, &client, &admin, &tenant.id, "dnr-1")
            .await
            .is_null()
    );

    // Removed from the list: recorded again.
    let removed = graphql(
        &client,
        &cv.base_url,
        &admin,
        "mutation($t: UUID!, $n: [String!]!) { removeDoNotRecordNumbers(tenantId: $t, numbers: $n) }",
        json!({ "t": tenant.id, "n": ["+819012345678"] }),
    )
    .await
    .expect("remove");
    assert_eq!(removed["removeDoNotRecordNumbers"], 1);
    let stored = upload(
        &cv,
        &client,
        &tenant.key,
        &call("dnr-4", "+819012345678", "agent-2"),
        &audio,
    )
    .await;
    assert_eq!(stored.status(), 201);

    // The trail says what changed, never the number.
    let auditor = cv.admin_token(&["--role", "auditor", "--tenant", &tenant.id]);
    let trail = graphql(
        &client,
        &cv.base_url,
        &auditor,
        "query($t: UUID!) { tenant(id: $t) { auditTrail(first: 100) { nodes { action details } } } }",
        json!({ "t": tenant.id }),
    )
    .await
    .expect("audit trail");
    let entries = trail["tenant"]["auditTrail"]["nodes"]
        .as_array()
        .expect("entries");
    let changes: Vec<&Value> = entries
        .iter()
        .filter(|entry| entry["action"] == "RECORDING_POLICY_CHANGE")
        .collect();
    assert_eq!(changes.len(), 3, "{entries:?}");
    assert!(!trail.to_string().contains("9012345678"));

    // The tenant's export carries its policy, list and not-recorded calls.
    let platform = cv.admin_token(&[]);
    let export = graphql(
        &client,
        &cv.base_url,
        &platform,
        "mutation($t: UUID!) { exportTenant(tenantId: $t) { content } }",
        json!({ "t": tenant.id }),
    )
    .await
    .expect("export");
    let lines: Vec<Value> = export["exportTenant"]["content"]
        .as_str()
        .expect("content")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a json line"))
        .collect();
    let of = |kind: &str| lines.iter().filter(|line| line["type"] == kind).count();
    assert_eq!(of("recording_policy"), 1);
    assert_eq!(of("not_recorded_call"), 1);
    assert_eq!(of("do_not_record"), 0, "the number was removed");

    // Another tenant's admin reaches none of it.
    for (query, variables) in [
        (list, json!({ "t": tenant.id })),
        (
            "query($t: UUID!) { recordingPolicy(tenantId: $t) { version } }",
            json!({ "t": tenant.id }),
        ),
        (
            "query($t: UUID!) { notRecordedCalls(tenantId: $t) { nextCursor } }",
            json!({ "t": tenant.id }),
        ),
        (add, json!({ "t": tenant.id, "n": ["+819099998888"] })),
    ] {
        let refused = graphql(&client, &cv.base_url, &other_admin, query, variables).await;
        assert_eq!(refused, Err("FORBIDDEN".to_owned()), "{query}");
    }
    let agent = cv.admin_token(&[
        "--role", "agent", "--tenant", &tenant.id, "--agent", "agent-1",
    ]);
    let refused = graphql(
        &client,
        &cv.base_url,
        &agent,
        list,
        json!({ "t": tenant.id }),
    )
    .await;
    assert_eq!(refused, Err("FORBIDDEN".to_owned()));
}

#[tokio::test]
async fn a_ten_percent_rule_keeps_ten_percent_of_a_thousand_calls() {
    let Site {
        cv,
        client,
        tenant,
        admin,
        ..
    } = site().await;
    // Bad policies change nothing.
    for bad in [
        json!({ "keep": "MATCHING_RULES", "notKept": "REFUSE" }),
        json!({ "keep": "MATCHING_RULES", "notKept": "REFUSE", "rules": [{ "queue": "support", "percent": 0 }] }),
        json!({ "keep": "MATCHING_RULES", "notKept": "REFUSE", "rules": [{ "queue": "support", "percent": 100.5 }] }),
        json!({ "keep": "MATCHING_RULES", "notKept": "REFUSE", "rules": [{ "queue": "", "percent": 10 }] }),
    ] {
        let refused = set_policy(&cv, &client, &admin, &tenant.id, bad.clone()).await;
        assert_eq!(refused, Err("BAD_USER_INPUT".to_owned()), "{bad}");
    }
    let current = graphql(
        &client,
        &cv.base_url,
        &admin,
        "query($t: UUID!) { recordingPolicy(tenantId: $t) { keep version } }",
        json!({ "t": tenant.id }),
    )
    .await
    .expect("policy");
    assert_eq!(
        current["recordingPolicy"],
        json!({ "keep": "ALL", "version": 0 })
    );

    let policy = set_policy(
        &cv,
        &client,
        &admin,
        &tenant.id,
        json!({ "keep": "MATCHING_RULES", "notKept": "REFUSE", "rules": [{ "queue": "support", "percent": 10 }] }),
    )
    .await
    .expect("policy");
    assert_eq!(
        policy["rules"],
        json!([{ "queue": "support", "percent": 10.0 }])
    );

    const CALLS: usize = 1_000;
    let audio = Arc::new(mulaw_wav(1, 3));
    let in_flight = Arc::new(Semaphore::new(8));
    let mut uploads = Vec::new();
    for n in 0..CALLS {
        let (client, key, audio, permit) = (
            client.clone(),
            tenant.key.clone(),
            audio.clone(),
            in_flight.clone(),
        );
        let url = format!("{}/v1/recordings", cv.base_url);
        uploads.push(tokio::spawn(async move {
            let _permit = permit.acquire_owned().await.expect("permit");
            let call = call(&format!("sample-{n}"), "+819011112222", "agent-1");
            let response = client
                .post(url)
                .bearer_auth(key)
                .header("content-type", "audio/wav")
                .header("callvault-call", call.to_string())
                .body(audio.to_vec())
                .send()
                .await
                .expect("upload");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("json");
            (status, body)
        }));
    }
    let mut kept = Vec::new();
    for (n, upload) in uploads.into_iter().enumerate() {
        let (status, body) = upload.await.expect("task");
        match status {
            201 => kept.push(n),
            422 => assert_eq!(body["error"]["code"], "call_not_recorded", "{body}"),
            other => panic!("upload {n}: {other} {body}"),
        }
    }
    // Binomial(1000, 0.1): mean 100, standard deviation 9.5; three of them
    // either side.
    println!("kept {} of {CALLS} calls at 10 %", kept.len());
    assert!(
        (72..=128).contains(&kept.len()),
        "kept {} of {CALLS}",
        kept.len()
    );
    // The draw is the call id's: a retry gets the same answer.
    let first_kept = kept[0];
    let again = upload(
        &cv,
        &client,
        &tenant.key,
        &call(&format!("sample-{first_kept}"), "+819011112222", "agent-1"),
        &audio,
    )
    .await;
    assert_eq!(again.status(), 200, "replayed");
    let refused_n = (0..CALLS)
        .find(|n| !kept.contains(n))
        .expect("a refused call");
    let again = upload(
        &cv,
        &client,
        &tenant.key,
        &call(&format!("sample-{refused_n}"), "+819011112222", "agent-1"),
        &audio,
    )
    .await;
    assert_eq!(again.status(), 422);
    // Another queue matches no rule.
    let mut sales = call("sales-1", "+819011112222", "agent-1");
    sales["queue"] = json!("sales");
    let refused = upload(&cv, &client, &tenant.key, &sales, &audio).await;
    let body: Value = refused.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("no_rule_matched"),
        "{body}"
    );
}

/// A FLAC stream: STREAMINFO (8 kHz mono 16-bit) and one frame of 256
/// samples stored verbatim. Audio the probe reads but that can't be
/// silenced in place.
fn flac() -> Vec<u8> {
    const BLOCK: u16 = 256;
    fn crc8(bytes: &[u8]) -> u8 {
        bytes.iter().fold(0u8, |crc, &byte| {
            (0..8).fold(crc ^ byte, |crc, _| {
                if crc & 0x80 != 0 {
                    (crc << 1) ^ 0x07
                } else {
                    crc << 1
                }
            })
        })
    }
    fn crc16(bytes: &[u8]) -> u16 {
        bytes.iter().fold(0u16, |crc, &byte| {
            (0..8).fold(crc ^ (u16::from(byte) << 8), |crc, _| {
                if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x8005
                } else {
                    crc << 1
                }
            })
        })
    }
    let mut out = b"fLaC".to_vec();
    // The last metadata block (0x80), STREAMINFO, 34 bytes.
    out.extend_from_slice(&[0x80, 0x00, 0x00, 0x22]);
    out.extend_from_slice(&BLOCK.to_be_bytes());
    out.extend_from_slice(&BLOCK.to_be_bytes());
    out.extend_from_slice(&[0; 6]);
    let packed: u64 = (8000 << 44) | (15 << 36) | u64::from(BLOCK);
    out.extend_from_slice(&packed.to_be_bytes());
    out.extend_from_slice(&[0; 16]);
    // Frame header: sync and fixed blocking, block size in 8 bits at the
    // end, rate from STREAMINFO, mono, 16-bit, frame 0.
    let mut frame = vec![0xFF, 0xF8, 0x60, 0x08, 0x00, (BLOCK - 1) as u8];
    frame.push(crc8(&frame));
    // A verbatim subframe.
    frame.push(0x02);
    for i in 0..BLOCK {
        let sample = ((f64::from(i) / 8.0).sin() * 8_000.0) as i16;
        frame.extend_from_slice(&sample.to_be_bytes());
    }
    let crc = crc16(&frame);
    frame.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&frame);
    out
}

#[tokio::test]
async fn silenced_pause_spans_are_digital_silence_in_playback() {
    let Site {
        cv,
        client,
        tenant,
        admin,
        ..
    } = site().await;
    set_policy(
        &cv,
        &client,
        &admin,
        &tenant.id,
        json!({ "keep": "ALL", "notKept": "REFUSE", "silencePauses": true }),
    )
    .await
    .expect("policy");
    let supervisor = cv.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);

    // G.711 µ-law, 8 kHz: the pause from 2 s to 3.5 s is bytes
    // 16,000..28,000 of the samples, after the 58-byte header.
    let audio = mulaw_wav(10, 5);
    let mut paused = call("pci-1", "+819011112222", "agent-1");
    paused["pauses"] = json!([{ "start_ms": 2000, "end_ms": 3500 }]);
    let response = upload(&cv, &client, &tenant.key, &paused, &audio).await;
    assert_eq!(response.status(), 201);
    let receipt: Value = response.json().await.expect("json");
    let sha =
        |bytes: &[u8]| hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes));
    assert_eq!(receipt["received_sha256"], sha(&audio));
    let played = played_back(&cv, &client, &supervisor, &tenant.id, "pci-1").await;
    assert_eq!(receipt["sha256"], sha(&played));
    let (from, to) = (58 + 16_000, 58 + 28_000);
    assert!(played[from..to].iter().all(|&b| b == 0xFF), "µ-law silence");
    assert_eq!(played[..from], audio[..from]);
    assert_eq!(played[to..], audio[to..]);
    let retry = upload(&cv, &client, &tenant.key, &paused, &audio).await;
    assert_eq!(
        retry.status(),
        200,
        "a retry is recognised by the audio as sent"
    );

    // 16-bit PCM stereo at 16 kHz: 4 bytes a frame, silence is zeros.
    let stereo = pcm16_stereo_wav(4, 16_000);
    let mut paused = call("pci-2", "+819011112222", "agent-1");
    paused["agent_channel"] = json!("left");
    paused["customer_channel"] = json!("right");
    paused["pauses"] = json!([{ "start_ms": 1000, "end_ms": 1250 }]);
    let response = upload(&cv, &client, &tenant.key, &paused, &stereo).await;
    assert_eq!(response.status(), 201);
    let played = played_back(&cv, &client, &supervisor, &tenant.id, "pci-2").await;
    let header = stereo.len() - 4 * 16_000 * 4;
    let (from, to) = (header + 16_000 * 4, header + 20_000 * 4);
    assert!(played[from..to].iter().all(|&b| b == 0));
    assert_eq!(played[..from], stereo[..from]);
    assert_eq!(played[to..], stereo[to..]);

    // Audio that can't be silenced in place, with pauses: refused, nothing
    // kept. Without pauses it goes in.
    let mut paused = call("pci-3", "+819011112222", "agent-1");
    paused["pauses"] = json!([{ "start_ms": 100, "end_ms": 200 }]);
    let refused = client
        .post(format!("{}/v1/recordings", cv.base_url))
        .bearer_auth(&tenant.key)
        .header("content-type", "audio/flac")
        .header("callvault-call", paused.to_string())
        .body(flac())
        .send()
        .await
        .expect("upload");
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "pauses_not_silenceable");
    assert!(
        call_lookup(&cv, &client, &supervisor, &tenant.id, "pci-3")
            .await
            .is_null()
    );
}
