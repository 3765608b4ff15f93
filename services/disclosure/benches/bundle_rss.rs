//! Memory benchmark of the export (`cargo bench -p callvault-disclosure
//! --bench bundle_rss`): generates N five-minute dual-channel
//! 8 kHz 16-bit PCM WAV recordings on disk, renders each with one span
//! redacted into a bundle written to a file, signs the manifest with a
//! throwaway Ed25519 key, and prints the bundle's size, the time taken and
//! the peak resident memory (VmHWM).
//!
//! `bundle_rss [--recordings N] [--seconds S] [--dir PATH] [--keep]`
//! (defaults: 100 recordings of 300 s): the recordings and
//! the bundle go to PATH (default: a new folder in the temp dir, removed
//! at the end unless `--keep`).

use std::error::Error;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair};
use callvault_disclosure::bundle::{
    AppliedRedaction, Bilingual, BundleWriter, CallRow, Direction, ManifestFields, PrivacyNotice,
    RedactionSource, recording_path,
};
use callvault_disclosure::redact::{
    ChannelMap, Hint, RedactionMode, RedactionSpan, SpanChannel, prepare_render, wav,
};
use callvault_envelope::{DataKey, ObjectContext, Sealer};
use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

const RATE: u32 = 8_000;

struct Args {
    recordings: u64,
    seconds: u64,
    dir: Option<PathBuf>,
    keep: bool,
}

fn args() -> Result<Args, Box<dyn Error>> {
    let mut parsed = Args {
        recordings: 100,
        seconds: 300,
        dir: None,
        keep: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--recordings" => {
                parsed.recordings = args.next().ok_or("--recordings needs a count")?.parse()?
            }
            "--seconds" => {
                parsed.seconds = args.next().ok_or("--seconds needs a length")?.parse()?;
                if parsed.seconds == 0 {
                    return Err("--seconds must be at least 1".into());
                }
            }
            "--dir" => parsed.dir = Some(args.next().ok_or("--dir needs a path")?.into()),
            "--keep" => parsed.keep = true,
            // `cargo bench` passes it to every bench target.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    Ok(parsed)
}

/// A file the bundle is sealed into as it is written.
struct SealingFile {
    sealer: Option<Sealer>,
    file: BufWriter<File>,
}

impl SealingFile {
    fn create(path: &Path) -> Result<Self, Box<dyn Error>> {
        let (tenant, bundle) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
        let sealer = Sealer::new(
            &DataKey::generate(),
            ObjectContext::new(&tenant, &bundle),
            callvault_envelope::DEFAULT_FRAME_SIZE,
        )?;
        let mut file = BufWriter::with_capacity(1 << 16, File::create(path)?);
        file.write_all(&sealer.header())?;
        Ok(Self {
            sealer: Some(sealer),
            file,
        })
    }

    fn finish(mut self) -> Result<(), Box<dyn Error>> {
        let sealer = self.sealer.take().ok_or("finished twice")?;
        self.file.write_all(&sealer.finish())?;
        self.file
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        Ok(())
    }
}

impl Write for SealingFile {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let sealer = self
            .sealer
            .as_mut()
            .ok_or_else(|| std::io::Error::other("finished"))?;
        let sealed = sealer.update(data);
        self.file.write_all(&sealed)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = args()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("bundle_rss-{}", std::process::id())));
    fs::create_dir_all(&dir)?;
    let result = run(&args, &dir);
    if !args.keep {
        // Best effort: a leftover temp folder is not worth masking the
        // benchmark's own error.
        let _ = fs::remove_dir_all(&dir);
    }
    result
}

fn run(args: &Args, dir: &Path) -> Result<(), Box<dyn Error>> {
    let generating = Instant::now();
    let mut sources = Vec::new();
    for n in 0..args.recordings {
        let path = dir.join(format!("source-{n:03}.wav"));
        generate(&path, n, args.seconds)?;
        sources.push(path);
    }
    let generated = generating.elapsed();
    let source_bytes = (44 + args.seconds * u64::from(RATE) * 4) * args.recordings;
    println!(
        "recordings: {} x {} s dual-channel {} kHz 16-bit PCM, {:.1} MB generated in {:.1} s",
        args.recordings,
        args.seconds,
        RATE / 1000,
        source_bytes as f64 / 1e6,
        generated.as_secs_f64()
    );
    let rss_before = peak_rss_kib()?;

    let bundling = Instant::now();
    let bundle_path = dir.join("bundle.zip");
    let key =
        Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())?.as_ref())?;
    // Sealed as it is written, as the service's vault does (envelope
    // format, 64 KiB frames, a fresh data key).
    let mut bundle = BundleWriter::new(SealingFile::create(&bundle_path)?);
    let mut hint = Hint::new();
    hint.with_extension("wav");
    let map = ChannelMap {
        agent: Some(0),
        customer: Some(1),
    };
    let mut rows = Vec::new();
    let mut redactions = Vec::new();
    let mut redacted_frames = 0u64;
    for (n, source) in (0u64..).zip(&sources) {
        let recording_id = Uuid::new_v4();
        let started_at = start_of(n);
        let span = span_for(n, args.seconds);
        // Checked before the entry opens: a refused span leaves the
        // bundle usable.
        let render = prepare_render(File::open(source)?, &hint, &[span], map)?;
        let (report, _) = bundle
            .add_file_with(&recording_path(started_at, recording_id), |out| {
                render.write(out)
            })?;
        redacted_frames += report.redacted_frames_per_channel.iter().sum::<u64>();
        rows.push(CallRow {
            recording_id,
            started_at,
            ended_at: started_at
                + Duration::milliseconds(report.frames as i64 * 1000 / i64::from(RATE)),
            direction: if n.is_multiple_of(2) {
                Direction::Inbound
            } else {
                Direction::Outbound
            },
            subject_number: "+819012345678".into(),
            queue: Some("support".into()),
            duration_ms: report.frames * 1000 / u64::from(report.sample_rate),
            agent: Some(format!("agent-{:04x}", n * 7919 % 65_536)),
        });
        redactions.push(AppliedRedaction {
            recording_id,
            channel: span.channel,
            start_ms: span.start_ms,
            end_ms: span.end_ms,
            mode: span.mode,
            source: RedactionSource::Reviewer,
        });
    }
    bundle.add_calls(&rows)?;
    bundle.add_information(&notice())?;
    let fields = ManifestFields {
        request_id: Uuid::new_v4(),
        tenant_id: Uuid::new_v4(),
        generated_at: Utc::now(),
        redactions,
    };
    let mut signed = None;
    let summary = bundle.finish(&fields, |manifest| {
        let body = serde_json::to_vec(manifest)?;
        let signature = key.sign(&body);
        signed = Some((body.clone(), signature.as_ref().to_vec()));
        Ok::<_, serde_json::Error>((body, base64(signature.as_ref())))
    })?;
    summary.out.finish()?;
    let elapsed = bundling.elapsed();
    let rss = peak_rss_kib()?;

    let (body, signature) = signed.ok_or("the signer was not called")?;
    signature::UnparsedPublicKey::new(&signature::ED25519, key.public_key().as_ref())
        .verify(&body, &signature)
        .map_err(|_| "the manifest signature does not verify")?;
    println!(
        "bundle: {} ({} files, {} bytes = {:.1} MB, sha256 {})",
        bundle_path.display(),
        summary.files.len() + 2,
        summary.size,
        summary.size as f64 / 1e6,
        summary.sha256
    );
    println!(
        "redacted: {:.1} s of audio-channel time over {} recordings",
        redacted_frames as f64 / f64::from(RATE),
        args.recordings
    );
    println!(
        "elapsed: {:.2} s for the bundle ({:.0} MB/s of WAV in)",
        elapsed.as_secs_f64(),
        source_bytes as f64 / 1e6 / elapsed.as_secs_f64()
    );
    println!(
        "peak rss (VmHWM): {:.1} MiB after generating, {:.1} MiB at the end",
        rss_before as f64 / 1024.0,
        rss as f64 / 1024.0
    );
    Ok(())
}

fn start_of(n: u64) -> DateTime<Utc> {
    let base = Utc
        .with_ymd_and_hms(2026, 4, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    base + Duration::minutes(37 * n as i64)
}

/// One span per recording (20 s, or a tenth of a short one), placed
/// and sided differently each time.
fn span_for(n: u64, seconds: u64) -> RedactionSpan {
    let duration_ms = seconds * 1000;
    let length = (duration_ms / 10).clamp(1, 20_000);
    let start_ms = (n * 7_919) % (duration_ms - length).max(1);
    RedactionSpan {
        channel: [SpanChannel::Agent, SpanChannel::Customer, SpanChannel::Both][(n % 3) as usize],
        start_ms,
        end_ms: start_ms + length,
        mode: if n.is_multiple_of(2) {
            RedactionMode::Silence
        } else {
            RedactionMode::Tone
        },
    }
}

/// A tone per side (a different pitch per recording) plus xorshift noise:
/// deterministic, and nothing a compressor could shrink to nothing.
fn generate(path: &Path, n: u64, seconds: u64) -> Result<(), Box<dyn Error>> {
    let frames = seconds * u64::from(RATE);
    let mut out = BufWriter::with_capacity(1 << 16, File::create(path)?);
    out.write_all(&wav::header(RATE, 2, frames * 4))?;
    // Whole-hertz tones repeat every second: one table each.
    let table = |hz: u64| -> Vec<i16> {
        (0..u64::from(RATE))
            .map(|i| {
                (6_000.0
                    * (std::f64::consts::TAU * (i * hz % u64::from(RATE)) as f64 / f64::from(RATE))
                        .sin()) as i16
            })
            .collect()
    };
    let (agent, customer) = (table(300 + n % 200), table(500 + n % 300));
    let mut state = 0x2545_F491_4F6C_DD1D ^ (n + 1);
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 54) as i16) - 512
    };
    let mut frame = [0u8; 4];
    for i in 0..frames {
        let at = (i % u64::from(RATE)) as usize;
        frame[..2].copy_from_slice(&agent[at].saturating_add(noise()).to_le_bytes());
        frame[2..].copy_from_slice(&customer[at].saturating_add(noise()).to_le_bytes());
        out.write_all(&frame)?;
    }
    out.flush()?;
    Ok(())
}

fn notice() -> PrivacyNotice {
    let text = |en: &str, ja: &str| Bilingual {
        en: en.into(),
        ja: ja.into(),
    };
    PrivacyNotice {
        purposes: text(
            "Quality assurance and dispute resolution.",
            "品質管理および紛争解決のため。",
        ),
        categories: text(
            "Call audio, phone numbers, call times.",
            "通話音声、電話番号、通話日時。",
        ),
        recipients: text("No third parties.", "第三者への提供はありません。"),
        retention: text("Two years from the call.", "通話から2年間。"),
        source: text(
            "Your calls with our contact centre.",
            "当社コンタクトセンターとの通話。",
        ),
        rights: text(
            "Access, correction, erasure; complaints to the PPC.",
            "開示、訂正、削除。個人情報保護委員会への申出。",
        ),
    }
}

/// Peak resident set size of this process, in KiB.
fn peak_rss_kib() -> Result<u64, Box<dyn Error>> {
    let status = fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc/self/status")?;
    Ok(line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?)
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let triple = chunk.iter().enumerate().fold(0u32, |acc, (i, byte)| {
            acc | u32::from(*byte) << (16 - 8 * i)
        });
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(char::from(
                    ALPHABET[(triple >> (18 - 6 * i) & 0x3f) as usize],
                ));
            } else {
                text.push('=');
            }
        }
    }
    text
}
