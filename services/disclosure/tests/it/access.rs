//! An APPI access request from intake to a downloaded, verified bundle:
//! identity at the second attempt, a reviewer's span on the customer
//! channel, a PCI pause, four-eyes approval, the signed ZIP.

use std::io::Read;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use callvault_contracts::call::PauseSpan;
use callvault_contracts::disclosure_api::{
    BundleState, DisclosureRequest, RedactionMode, RedactionSpan, Regime, RequestKind,
    RequestState, SpanChannel,
};
use callvault_contracts::lifecycle_api::AuditAction;
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::disclosure::{
    ApproveRequest, AuthorizeBundleDownload, CloseRequest, DeliverRequest, GetDisclosureRequest,
    SetRedactions,
};
use callvault_contracts::ops::lifecycle::AuditTrail;
use callvault_contracts::{RecordingId, Role, TenantId};
use chrono::Duration;
use futures_util::TryStreamExt;
use uuid::Uuid;

use crate::audio::samples;
use crate::lab::{COMPANY, Call, Lab, SUBJECT_E164, approver, code, member, officer};
use crate::steps::{ask, identity, submit};

on_both_backends!(
    an_access_request_ends_in_a_verified_redacted_bundle,
    bad_spans_are_refused,
);

pub async fn wait_for_bundle(lab: &Lab, tenant: TenantId, id: Uuid) -> DisclosureRequest {
    for _ in 0..300 {
        let request = lab
            .rpc
            .call(GetDisclosureRequest {
                actor: officer(tenant),
                tenant,
                id,
            })
            .await
            .expect("read");
        match request.bundle.as_ref().map(|b| b.state) {
            Some(BundleState::Ready) => return request,
            Some(BundleState::Failed) => panic!("the bundle failed"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    panic!("the bundle was not ready in 30 s");
}

fn span(channel: SpanChannel, start_ms: u64, end_ms: u64, mode: RedactionMode) -> RedactionSpan {
    RedactionSpan {
        channel,
        start_ms,
        end_ms,
        mode,
    }
}

async fn set_spans(
    lab: &Lab,
    tenant: TenantId,
    id: Uuid,
    recording: RecordingId,
    spans: Vec<RedactionSpan>,
) -> Result<DisclosureRequest, callvault_contracts::metadata_api::ApiError> {
    lab.rpc
        .call(SetRedactions {
            actor: officer(tenant),
            tenant,
            id,
            recording,
            spans,
        })
        .await
}

fn entry(archive: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> Vec<u8> {
    let mut file = archive.by_name(name).expect(name);
    let mut out = Vec::new();
    file.read_to_end(&mut out).expect("read entry");
    out
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data).as_ref())
}

async fn an_access_request_ends_in_a_verified_redacted_bundle(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let plain = lab
        .record(&tenant, Call::from_subject(lab.now() - Duration::days(9)))
        .await;
    let mut paused = Call::from_subject(lab.now() - Duration::days(8));
    paused.seed = 2;
    paused.pauses = vec![PauseSpan {
        start_ms: 1000,
        end_ms: 1500,
    }];
    let paused = lab.record(&tenant, paused).await;

    let request = lab
        .request(&tenant, RequestKind::Access, Regime::Appi)
        .await;
    ask(lab, tenant.id, request.id).await;
    identity(lab, tenant.id, request.id, false).await;
    identity(lab, tenant.id, request.id, true).await;
    let reviewed = set_spans(
        lab,
        tenant.id,
        request.id,
        plain,
        vec![span(
            SpanChannel::Customer,
            500,
            1200,
            RedactionMode::Silence,
        )],
    )
    .await
    .expect("spans set");
    let pauses = &reviewed
        .recordings
        .iter()
        .find(|r| r.recording_id == paused)
        .expect("paused call matched")
        .pci_pauses;
    assert_eq!(pauses.len(), 1, "the pci pause is redacted without asking");
    submit(lab, officer(tenant.id), tenant.id, request.id).await;
    lab.rpc
        .call(ApproveRequest {
            actor: approver(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await
        .expect("approved");
    // Frozen from approval on.
    let frozen = set_spans(lab, tenant.id, request.id, plain, vec![]).await;
    assert_eq!(code(frozen), ErrorCode::Conflict);
    let ready = wait_for_bundle(lab, tenant.id, request.id).await;
    let delivered = lab
        .rpc
        .call(DeliverRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await
        .expect("delivered");
    assert_eq!(delivered.state, RequestState::Delivered);
    let bundle = delivered.bundle.expect("bundle");
    assert!(
        bundle.expires_at.is_some(),
        "its retention runs from delivery"
    );

    let download = lab
        .rpc
        .call(AuthorizeBundleDownload {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await
        .expect("download authorised");
    assert_eq!(Some(download.bundle_id), ready.bundle.map(|b| b.id));
    let opened = lab
        .disclosure
        .open_bundle(tenant.id, download.bundle_id)
        .await
        .expect("opened");
    let chunks: Vec<bytes::Bytes> = opened.body.try_collect().await.expect("bundle bytes");
    let zip_bytes = chunks.concat();
    assert_eq!(zip_bytes.len() as u64, download.size);
    assert_eq!(sha256_hex(&zip_bytes), download.sha256);

    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).expect("a zip");
    // SHA256SUMS covers every other file, and each line is right.
    let sums = String::from_utf8(entry(&mut archive, "SHA256SUMS")).expect("utf-8");
    let mut listed = Vec::new();
    for line in sums.lines() {
        let (hash, path) = line.split_once("  ").expect("`<hash>  <path>`");
        assert_eq!(sha256_hex(&entry(&mut archive, path)), hash, "{path}");
        listed.push(path.to_owned());
    }
    for required in [
        "calls.json",
        "calls.csv",
        "information.json",
        "information.txt",
        "manifest.json",
    ] {
        assert!(listed.iter().any(|p| p == required), "{required} listed");
    }
    // manifest.sig verifies against the tenant's published key.
    let manifest = entry(&mut archive, "manifest.json");
    let signature = STANDARD
        .decode(
            String::from_utf8(entry(&mut archive, "manifest.sig"))
                .expect("text")
                .trim(),
        )
        .expect("base64");
    let public = STANDARD
        .decode(lab.manifest.public_key(tenant.id))
        .expect("base64 key");
    UnparsedPublicKey::new(&ED25519, public)
        .verify(&manifest, &signature)
        .expect("manifest.sig verifies");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).expect("json");
    assert_eq!(manifest["kind"], "disclosure_manifest");
    assert_eq!(manifest["request_id"], request.id.to_string());
    let redactions = manifest["redactions"].as_array().expect("redactions");
    assert_eq!(redactions.len(), 2, "{redactions:?}");

    // The redacted spans are silent; every other sample is the original.
    let wav_of = |archive: &mut zip::ZipArchive<_>, id: RecordingId| {
        let name = listed
            .iter()
            .find(|p| p.ends_with(&format!("_{id}.wav")))
            .expect("recording in the bundle")
            .clone();
        samples(&entry(archive, &name))
    };
    let (_, original_plain) = samples(&lab.audio(tenant.id, plain).await);
    let (channels, redacted_plain) = wav_of(&mut archive, plain);
    assert_eq!(channels, 2);
    assert_eq!(redacted_plain.len(), original_plain.len());
    for (index, (got, was)) in redacted_plain.iter().zip(&original_plain).enumerate() {
        let (frame, channel) = (index / 2, index % 2);
        // The customer is on the right channel; 500–1200 ms at 8 kHz.
        if channel == 1 && (4000..9600).contains(&frame) {
            assert_eq!(*got, 0, "frame {frame} customer silenced");
        } else {
            assert_eq!(got, was, "frame {frame} channel {channel} untouched");
        }
    }
    let (_, original_paused) = samples(&lab.audio(tenant.id, paused).await);
    let (_, redacted_paused) = wav_of(&mut archive, paused);
    for (index, (got, was)) in redacted_paused.iter().zip(&original_paused).enumerate() {
        let frame = index / 2;
        if (8000..12000).contains(&frame) {
            assert_eq!(*got, 0, "frame {frame} paused on both channels");
        } else {
            assert_eq!(got, was, "frame {frame} untouched");
        }
    }
    // The subject's own number, never the other party's; agents by
    // pseudonym.
    let csv = String::from_utf8(entry(&mut archive, "calls.csv")).expect("utf-8");
    assert!(csv.contains(SUBJECT_E164), "{csv}");
    assert!(!csv.contains("+81399990000") && !csv.contains(COMPANY));
    // The agent column is the last: a pseudonym (`agent-` and 8 hex
    // digits, which may well start with a 7), never the agent id itself.
    assert!(
        csv.lines().skip(1).all(|line| {
            let agent = line.rsplit(',').next().unwrap_or_default();
            agent != "agent-7" && agent.len() == "agent-".len() + 8
        }),
        "{csv}"
    );
    let information = String::from_utf8(entry(&mut archive, "information.txt")).expect("utf-8");
    assert!(information.contains("品質向上と紛争解決"));
    assert!(information.contains("Quality and dispute resolution"));

    // The download is an EXPORT entry in the chain, with who and where.
    let trail = lab
        .rpc
        .call(AuditTrail {
            actor: member(Role::Auditor, tenant.id, "auditor"),
            tenant: tenant.id,
            after_seq: None,
            first: 200,
        })
        .await
        .expect("trail");
    let export = trail
        .items
        .iter()
        .find(|entry| entry.action == AuditAction::Export)
        .expect("an export entry");
    assert_eq!(export.actor, officer(tenant.id).subject);
    assert_eq!(export.origin.as_deref(), Some("192.0.2.10"));

    let closed = lab
        .rpc
        .call(CloseRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
            reason: None,
        })
        .await
        .expect("closed");
    assert_eq!(closed.state, RequestState::Closed);
}

async fn bad_spans_are_refused(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let call = lab
        .record(&tenant, Call::from_subject(lab.now() - Duration::days(1)))
        .await;
    let request = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    // Before the review: refused.
    let early = set_spans(lab, tenant.id, request.id, call, vec![]).await;
    assert_eq!(code(early), ErrorCode::Conflict);
    identity(lab, tenant.id, request.id, true).await;
    let cases = [
        vec![span(SpanChannel::Agent, 0, 3001, RedactionMode::Tone)],
        vec![
            span(SpanChannel::Agent, 0, 1000, RedactionMode::Tone),
            span(SpanChannel::Both, 500, 1500, RedactionMode::Silence),
        ],
        vec![
            span(SpanChannel::Agent, 1000, 1200, RedactionMode::Tone),
            span(SpanChannel::Customer, 100, 200, RedactionMode::Silence),
        ],
        vec![span(SpanChannel::Agent, 700, 700, RedactionMode::Tone)],
    ];
    for spans in cases {
        let result = set_spans(lab, tenant.id, request.id, call, spans).await;
        assert_eq!(code(result), ErrorCode::InvalidInput);
    }
    let unknown = set_spans(lab, tenant.id, request.id, RecordingId::new(), vec![]).await;
    assert_eq!(code(unknown), ErrorCode::NotFound);
    let read = lab
        .rpc
        .call(GetDisclosureRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await
        .expect("read");
    assert!(read.recordings.iter().all(|r| r.redactions.is_empty()));
}
