//! Building an export bundle: each recording of the request decoded and
//! rendered redacted, `calls.json`/`calls.csv`, `information.json`/`.txt`,
//! and the manifest signed by the metadata service, streamed as a ZIP
//! straight into the [`BundleVault`] (sealed as it is written). Nothing is
//! held whole in memory and no plaintext touches the disk.

use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_lc_rs::digest;
use bytes::Bytes;
use callvault_blob::ByteStream;
use callvault_bus::RpcClient;
use callvault_contracts::call::{Channel, Direction};
use callvault_contracts::disclosure_api::{self as api, DisclosureSettings};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode, Recording, Tenant};
use callvault_contracts::ops::subject::{GetSubjectRecordings, SignDisclosureEvidence};
use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};
use uuid::Uuid;

use crate::bundle::{
    AppliedRedaction, Bilingual, BundleWriter, CallRow, ManifestFields, PrivacyNotice,
    RedactionSource, recording_path,
};
use crate::doc::RequestDoc;
use crate::redact::{self, ChannelMap, Hint};
use crate::vault::{BundleVault, StoredBundle};

/// Where recordings' audio is read: the storage service (in the process,
/// or over HTTP with a signed playback URL).
#[async_trait]
pub trait AudioSource: Send + Sync + 'static {
    /// The recording's plaintext audio from byte `from` to its end.
    async fn open(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        from: u64,
    ) -> ApiResult<ByteStream>;
}

/// The signed manifest's `kind` (see docs/disclosure.md).
pub const MANIFEST_KIND: &str = "disclosure_manifest";

/// Builds bundles; knows which builds run in this process.
pub struct BundleBuilder {
    vault: BundleVault,
    audio: Arc<dyn AudioSource>,
    running: Mutex<HashSet<Uuid>>,
}

/// What one bundle is built from.
pub(crate) struct BundleJob {
    pub tenant: Tenant,
    pub request_id: Uuid,
    pub bundle_id: Uuid,
    pub doc: RequestDoc,
    /// The subject's numbers, E.164.
    pub numbers: Vec<String>,
    pub settings: DisclosureSettings,
    pub generated_at: DateTime<Utc>,
}

impl BundleBuilder {
    pub fn new(vault: BundleVault, audio: Arc<dyn AudioSource>) -> Self {
        Self {
            vault,
            audio,
            running: Mutex::new(HashSet::new()),
        }
    }

    pub fn vault(&self) -> &BundleVault {
        &self.vault
    }

    pub(crate) fn claim(&self, id: Uuid) -> bool {
        self.running
            .lock()
            .map(|mut running| running.insert(id))
            .unwrap_or(false)
    }

    pub(crate) fn release(&self, id: Uuid) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&id);
        }
    }

    pub(crate) fn is_running(&self, id: Uuid) -> bool {
        self.running
            .lock()
            .map(|running| running.contains(&id))
            .unwrap_or(false)
    }

    pub(crate) async fn build(
        &self,
        metadata: &RpcClient,
        job: BundleJob,
    ) -> ApiResult<StoredBundle> {
        let ids: Vec<RecordingId> = job.doc.included().map(|r| r.recording_id).collect();
        let recordings = if ids.is_empty() {
            Vec::new()
        } else {
            metadata
                .call(GetSubjectRecordings {
                    tenant: job.tenant.id,
                    ids,
                })
                .await?
        };
        let recordings: Vec<Recording> = recordings.into_iter().map(|r| r.recording).collect();
        let (tenant, bundle_id, master_key) =
            (job.tenant.id, job.bundle_id, job.tenant.key_ref.clone());
        let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(4);
        let body: ByteStream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|chunk| (chunk, receiver))
        })
        .boxed();
        let writing = {
            let audio = self.audio.clone();
            let metadata = metadata.clone();
            let handle = Handle::current();
            tokio::task::spawn_blocking(move || {
                let sink = ChannelWriter::new(sender.clone());
                let outcome = write_zip(&job, &recordings, audio, &metadata, &handle, sink);
                if let Err(err) = &outcome {
                    // The vault's put fails on this, so nothing is stored.
                    let _ = sender.blocking_send(Err(io::Error::other(err.message.clone())));
                }
                outcome
            })
        };
        let storing = self.vault.put(tenant, bundle_id, &master_key, body);
        let (stored, written) = tokio::join!(storing, writing);
        let written = written.map_err(|_| internal("the bundle writer stopped"))??;
        let stored = stored?;
        if written.size != stored.size || written.sha256 != stored.sha256 {
            self.vault.shred(&stored.object_key).await?;
            return Err(internal("the stored bundle differs from the one written"));
        }
        Ok(stored)
    }
}

/// What the ZIP writer made.
struct Written {
    size: u64,
    sha256: String,
}

/// Writes the whole ZIP into `sink` (on a blocking thread: the decoder and
/// the ZIP writer are synchronous; async calls go through `handle`).
fn write_zip(
    job: &BundleJob,
    recordings: &[Recording],
    audio: Arc<dyn AudioSource>,
    metadata: &RpcClient,
    handle: &Handle,
    sink: ChannelWriter,
) -> ApiResult<Written> {
    let mut writer = BundleWriter::new_at(sink, job.generated_at);
    let mut applied = Vec::new();
    let mut rows = Vec::new();
    for recording in recordings {
        let Some(entry) = job.doc.included().find(|r| r.recording_id == recording.id) else {
            continue;
        };
        let spans = spans_of(entry);
        for (span, source) in &spans {
            applied.push(AppliedRedaction {
                recording_id: recording.id.0,
                channel: span.channel,
                start_ms: span.start_ms,
                end_ms: span.end_ms,
                mode: span.mode,
                source: *source,
            });
        }
        let spans: Vec<redact::RedactionSpan> = spans.into_iter().map(|(span, _)| span).collect();
        let reader = RangeReader::new(
            audio.clone(),
            handle.clone(),
            job.tenant.id,
            recording.id,
            recording.size,
        );
        // Decoded once to count and check the spans before the ZIP entry
        // opens: an entry once started can't be taken back.
        let prepared = redact::prepare_render(reader, &Hint::new(), &spans, channel_map(recording))
            .map_err(|err| {
                tracing::warn!(recording_id = %recording.id, error = %err, "a recording of the bundle can't be rendered");
                ApiError::new(
                    ErrorCode::Internal,
                    format!("recording {} can't be rendered for the bundle", recording.id),
                )
            })?;
        writer
            .add_file_with(
                &recording_path(recording.started_at, recording.id.0),
                |out: &mut dyn Write| prepared.write(out).map(|_| ()),
            )
            .map_err(|err| bundle_error(&err))?;
        rows.push(call_row(job, recording));
    }
    writer.add_calls(&rows).map_err(|err| bundle_error(&err))?;
    writer
        .add_information(&notice(&job.settings.privacy))
        .map_err(|err| bundle_error(&err))?;
    let fields = ManifestFields {
        request_id: job.request_id,
        tenant_id: job.tenant.id.0,
        generated_at: job.generated_at,
        redactions: applied,
    };
    let tenant = job.tenant.id;
    let summary = writer
        .finish(&fields, |manifest| sign(metadata, handle, tenant, manifest))
        .map_err(|err| bundle_error(&err))?;
    let mut sink = summary.out;
    sink.flush()
        .map_err(|_| internal("the bundle store stopped reading"))?;
    Ok(Written {
        size: summary.size,
        sha256: summary.sha256,
    })
}

/// Asks the metadata service to sign the manifest with the tenant's
/// manifest key: the signed body is the manifest with `kind` added.
fn sign(
    metadata: &RpcClient,
    handle: &Handle,
    tenant: TenantId,
    manifest: &serde_json::Value,
) -> Result<(Vec<u8>, String), ApiError> {
    let mut fields = manifest
        .as_object()
        .cloned()
        .ok_or_else(|| internal("the manifest is not an object"))?;
    let version = fields
        .remove("version")
        .and_then(|version| version.as_u64())
        .and_then(|version| u32::try_from(version).ok())
        .ok_or_else(|| internal("the manifest has no version"))?;
    fields.remove("tenant_id");
    let signed = handle.block_on(metadata.call(SignDisclosureEvidence {
        tenant,
        kind: MANIFEST_KIND.to_owned(),
        version,
        fields,
    }))?;
    Ok((signed.body.into_bytes(), signed.signature))
}

/// The reviewer's spans and the PCI pauses, each with where it came from.
fn spans_of(entry: &api::RequestRecording) -> Vec<(redact::RedactionSpan, RedactionSource)> {
    let convert = |span: &api::RedactionSpan| redact::RedactionSpan {
        channel: match span.channel {
            api::SpanChannel::Agent => redact::SpanChannel::Agent,
            api::SpanChannel::Customer => redact::SpanChannel::Customer,
            api::SpanChannel::Both => redact::SpanChannel::Both,
        },
        start_ms: span.start_ms,
        end_ms: span.end_ms,
        mode: match span.mode {
            api::RedactionMode::Silence => redact::RedactionMode::Silence,
            api::RedactionMode::Tone => redact::RedactionMode::Tone,
        },
    };
    // A PCI pause is silenced on both channels whatever the reviewer did:
    // reviewer spans are cut around the pauses so the two never overlap.
    let mut spans: Vec<_> = entry
        .pci_pauses
        .iter()
        .map(|pause| (convert(pause), RedactionSource::PciPause))
        .collect();
    for reviewed in &entry.redactions {
        for (start_ms, end_ms) in outside(reviewed.start_ms, reviewed.end_ms, &entry.pci_pauses) {
            let mut span = convert(reviewed);
            span.start_ms = start_ms;
            span.end_ms = end_ms;
            spans.push((span, RedactionSource::Reviewer));
        }
    }
    spans.sort_by_key(|(span, _)| span.start_ms);
    spans
}

/// The parts of `[start, end)` no span in `taken` covers.
fn outside(start: u64, end: u64, taken: &[api::RedactionSpan]) -> Vec<(u64, u64)> {
    let mut parts = vec![(start, end)];
    for span in taken {
        parts = parts
            .into_iter()
            .flat_map(|(a, b)| {
                let mut kept = Vec::new();
                if span.start_ms > a {
                    kept.push((a, b.min(span.start_ms)));
                }
                if span.end_ms < b {
                    kept.push((a.max(span.end_ms), b));
                }
                kept.into_iter().filter(|(x, y)| x < y).collect::<Vec<_>>()
            })
            .collect();
    }
    parts
}

fn channel_map(recording: &Recording) -> ChannelMap {
    let index = |channel: Option<Channel>| match channel {
        Some(Channel::Left) => Some(0),
        Some(Channel::Right) => Some(1),
        Some(Channel::Mixed) | None => None,
    };
    ChannelMap {
        agent: index(recording.agent_channel),
        customer: index(recording.customer_channel),
    }
}

fn call_row(job: &BundleJob, recording: &Recording) -> CallRow {
    // The catalogue keeps numbers as the recorder sent them; the request
    // holds them in E.164. The call matched one of the subject's numbers
    // through the blind index, so with one number that is the one.
    let digits = |number: &str| -> String { number.chars().filter(char::is_ascii_digit).collect() };
    let subject_number = [&recording.caller_number, &recording.callee_number]
        .into_iter()
        .find_map(|number| {
            job.numbers
                .iter()
                .find(|subject| digits(subject) == digits(number))
        })
        .or(match job.numbers.as_slice() {
            [only] => Some(only),
            _ => None,
        })
        .cloned()
        .unwrap_or_default();
    let agent = recording.agent.as_ref().map(|agent| {
        if job.settings.agent_names {
            agent.clone()
        } else {
            pseudonym(job, agent)
        }
    });
    CallRow {
        recording_id: recording.id.0,
        started_at: recording.started_at,
        ended_at: recording.ended_at,
        direction: match recording.direction {
            Direction::Inbound => crate::bundle::Direction::Inbound,
            Direction::Outbound => crate::bundle::Direction::Outbound,
            Direction::Internal => crate::bundle::Direction::Internal,
        },
        subject_number,
        queue: recording.queue.clone(),
        duration_ms: recording.duration_ms,
        agent,
    }
}

/// The same agent has the same pseudonym within one bundle and a different
/// one in any other request's, so bundles can't be joined on it.
fn pseudonym(job: &BundleJob, agent: &str) -> String {
    let mut hash = digest::Context::new(&digest::SHA256);
    hash.update(b"callvault agent pseudonym v1");
    hash.update(job.request_id.as_bytes());
    hash.update(agent.as_bytes());
    format!("agent-{}", &hex::encode(hash.finish().as_ref())[..8])
}

fn notice(privacy: &api::PrivacyNotice) -> PrivacyNotice {
    let text = |text: &api::Bilingual| Bilingual {
        en: text.en.clone(),
        ja: text.ja.clone(),
    };
    PrivacyNotice {
        purposes: text(&privacy.purposes),
        categories: text(&privacy.categories),
        recipients: text(&privacy.recipients),
        retention: text(&privacy.retention),
        source: text(&privacy.source),
        rights: text(&privacy.rights),
    }
}

fn bundle_error(err: &crate::bundle::BundleError) -> ApiError {
    tracing::warn!(error = %err, "bundle writing failed");
    ApiError::new(ErrorCode::Internal, "the bundle could not be written")
}

fn internal(what: &'static str) -> ApiError {
    tracing::error!(what, "bundle build failure");
    ApiError::new(ErrorCode::Internal, "internal error")
}

/// Hands the ZIP's bytes to the vault in 64 KiB chunks; blocks while the
/// vault is behind, so memory stays bounded.
struct ChannelWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ChannelWriter {
    fn new(sender: mpsc::Sender<io::Result<Bytes>>) -> Self {
        Self {
            sender,
            buffer: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "bundle store stopped"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buffer.len();
        let taken = room.min(data.len());
        self.buffer.extend_from_slice(&data[..taken]);
        if self.buffer.len() == CHUNK {
            self.send()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// A recording's audio as `Read + Seek` for the decoder: read from the
/// audio source as a stream, re-opened at the new offset on a seek (the
/// decoder reads the whole file twice: once to count, once to render).
struct RangeReader {
    audio: Arc<dyn AudioSource>,
    handle: Handle,
    tenant: TenantId,
    recording: RecordingId,
    len: u64,
    /// Where the caller is.
    position: u64,
    /// The open stream and where it is.
    /// (In a mutex only to be `Sync`, as the decoder's source must be.)
    stream: Option<(Mutex<Box<dyn Read + Send>>, u64)>,
}

impl RangeReader {
    fn new(
        audio: Arc<dyn AudioSource>,
        handle: Handle,
        tenant: TenantId,
        recording: RecordingId,
        len: u64,
    ) -> Self {
        Self {
            audio,
            handle,
            tenant,
            recording,
            len,
            position: 0,
            stream: None,
        }
    }

    fn reopen(&mut self) -> io::Result<()> {
        let stream = self
            .handle
            .block_on(self.audio.open(self.tenant, self.recording, self.position))
            .map_err(|err| io::Error::other(err.message))?;
        let reader = SyncIoBridge::new_with_handle(StreamReader::new(stream), self.handle.clone());
        self.stream = Some((Mutex::new(Box::new(reader)), self.position));
        Ok(())
    }
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position >= self.len {
            return Ok(0);
        }
        let at = self.stream.as_ref().map(|(_, at)| *at);
        if at != Some(self.position) {
            self.reopen()?;
        }
        let Some((reader, at)) = self.stream.as_mut() else {
            return Ok(0);
        };
        let read = reader
            .get_mut()
            .map_err(|_| io::Error::other("audio reader poisoned"))?
            .read(buf)?;
        *at += read as u64;
        self.position += read as u64;
        Ok(read)
    }
}

impl Seek for RangeReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(offset) => self.len.checked_add_signed(offset),
            SeekFrom::Current(offset) => self.position.checked_add_signed(offset),
        };
        let Some(target) = target else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        };
        self.position = target.min(self.len);
        Ok(self.position)
    }
}
