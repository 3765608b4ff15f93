use std::fs;
use std::io::{Cursor, Read};
use std::process::Command;

use chrono::TimeZone;

use super::*;
use crate::redact::{self, ChannelMap, Hint, RedactionMode, RedactionSpan, SpanChannel};

mod errors;
mod files;

/// 88 characters, as an Ed25519 signature in base64 is.
const SIGNATURE: &str =
    "c2lnbmF0dXJlIG9mIHRoZSBtYW5pZmVzdCwgbm90IGEgcmVhbCBvbmUsIGZvciB0aGUgdGVzdHMgb25seQ==";

/// Writes only: proves the bundle never needs to seek.
struct WriteOnly(Vec<u8>);

impl Write for WriteOnly {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000 + seconds, 0)
        .single()
        .expect("a valid time")
}

fn stereo_wav(frames: u64, seed: u64) -> Vec<u8> {
    let mut wav = redact::wav::header(8000, 2, frames * 4).to_vec();
    for i in 0..frames * 2 {
        let x = (i ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 50;
        wav.extend_from_slice(&((x as i16) - 4096).to_le_bytes());
    }
    wav
}

/// The signing service's part: compact JSON with sorted keys, and a
/// signature.
fn sign(manifest: &serde_json::Value) -> Result<(Vec<u8>, String), serde_json::Error> {
    Ok((serde_json::to_vec(manifest)?, SIGNATURE.to_owned()))
}

fn notice() -> PrivacyNotice {
    let text = |en: &str, ja: &str| Bilingual {
        en: en.to_owned(),
        ja: ja.to_owned(),
    };
    PrivacyNotice {
        purposes: text("Quality assurance.", "品質管理のため。"),
        categories: text("Call audio, numbers, times.", "通話音声、電話番号、日時。"),
        recipients: text("None.", "なし。"),
        retention: text("Two years.", "2年間。"),
        source: text("Your calls with us.", "お客様との通話。"),
        rights: text(
            "Access, erasure.\nComplain to the PPC.",
            "開示、削除。\n個人情報保護委員会への申出。",
        ),
    }
}

fn call(recording_id: Uuid, started_at: DateTime<Utc>, queue: Option<&str>) -> CallRow {
    CallRow {
        recording_id,
        started_at,
        ended_at: started_at + chrono::Duration::seconds(3),
        direction: Direction::Inbound,
        subject_number: "+819012345678".to_owned(),
        queue: queue.map(str::to_owned),
        duration_ms: 3000,
        agent: Some("agent-7f3a".to_owned()),
    }
}

struct Built {
    zip: Vec<u8>,
    summary_files: Vec<FileEntry>,
    fields: ManifestFields,
    signed: Vec<u8>,
}

/// A bundle of 3 redacted recordings, the calls and the notice.
fn build() -> Built {
    let mut bundle = BundleWriter::new_at(WriteOnly(Vec::new()), at(0));
    let mut rows = Vec::new();
    let mut redactions = Vec::new();
    for n in 0..3u64 {
        let recording_id = Uuid::new_v4();
        let started_at = at(3600 * n as i64);
        let span = RedactionSpan {
            channel: SpanChannel::Customer,
            start_ms: 500,
            end_ms: 1500,
            mode: RedactionMode::Tone,
        };
        let source = Cursor::new(stereo_wav(24_000, n));
        let map = ChannelMap {
            agent: Some(0),
            customer: Some(1),
        };
        let mut hint = Hint::new();
        hint.with_extension("wav");
        let (report, entry) = bundle
            .add_file_with(&recording_path(started_at, recording_id), |out| {
                redact::prepare_render(source, &hint, &[span], map)?.write(out)
            })
            .expect("adds a recording");
        assert_eq!(report.redacted_frames_per_channel, vec![0, 8000]);
        assert_eq!(entry.size, 44 + 24_000 * 4);
        rows.push(call(
            recording_id,
            started_at,
            Some("サポート, \"premium\""),
        ));
        redactions.push(AppliedRedaction {
            recording_id,
            channel: span.channel,
            start_ms: span.start_ms,
            end_ms: span.end_ms,
            mode: span.mode,
            source: RedactionSource::Reviewer,
        });
    }
    bundle.add_calls(&rows).expect("adds the calls");
    bundle.add_information(&notice()).expect("adds the notice");
    let fields = ManifestFields {
        request_id: Uuid::new_v4(),
        tenant_id: Uuid::new_v4(),
        generated_at: at(86_400),
        redactions,
    };
    let mut signed = Vec::new();
    let summary = bundle
        .finish(&fields, |manifest| {
            let (body, signature) = sign(manifest)?;
            signed.clone_from(&body);
            Ok::<_, serde_json::Error>((body, signature))
        })
        .expect("finishes");
    let zip = summary.out.0;
    assert_eq!(summary.size, zip.len() as u64);
    assert_eq!(summary.sha256, sha256_hex(&zip));
    Built {
        zip,
        summary_files: summary.files,
        fields,
        signed,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&digest::digest(&digest::SHA256, bytes))
}

/// Every entry, in ZIP order, read back with the zip crate's reader.
fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).expect("a readable zip");
    (0..archive.len())
        .map(|index| {
            let mut file = archive.by_index(index).expect("an entry");
            let mut content = Vec::new();
            file.read_to_end(&mut content)
                .expect("its content (crc checked)");
            (file.name().expect("a utf-8 name").into_owned(), content)
        })
        .collect()
}

#[test]
fn a_bundle_checks_out_with_sha256sum_and_its_manifest() {
    let built = build();
    let entries = entries(&built.zip);
    let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.len(), 3 + 4 + 3);
    assert!(
        names[..3]
            .iter()
            .all(|name| name.starts_with("recordings/2026") && name.ends_with(".wav")),
        "{names:?}"
    );
    assert_eq!(
        names[3..],
        [
            "calls.json",
            "calls.csv",
            "information.json",
            "information.txt",
            MANIFEST_PATH,
            SUMS_PATH,
            SIGNATURE_PATH
        ]
    );
    let content = |name: &str| -> &[u8] {
        &entries
            .iter()
            .find(|(entry, _)| entry == name)
            .expect("present")
            .1
    };

    // manifest.json is the signer's bytes, manifest.sig its signature.
    assert_eq!(content(MANIFEST_PATH), built.signed.as_slice());
    assert_eq!(content(SIGNATURE_PATH), format!("{SIGNATURE}\n").as_bytes());
    let manifest: serde_json::Value = serde_json::from_slice(content(MANIFEST_PATH)).expect("json");
    assert_eq!(manifest["version"], 1);
    assert_eq!(manifest["request_id"], built.fields.request_id.to_string());
    assert_eq!(manifest["generated_at"], "2026-05-29T20:26:40Z");
    assert_eq!(manifest["redactions"][0]["source"], "reviewer");
    assert_eq!(manifest["redactions"][0]["channel"], "CUSTOMER");
    let listed: Vec<FileEntry> = serde_json::from_value(manifest["files"].clone()).expect("files");
    assert_eq!(listed.len(), 7, "the content files, not the manifest's own");
    assert_eq!(listed, built.summary_files[..7]);

    // SHA256SUMS: one line per file, manifest.json included, each right.
    let sums = String::from_utf8(content(SUMS_PATH).to_vec()).expect("utf-8");
    let lines: Vec<&str> = sums.lines().collect();
    assert_eq!(lines.len(), 8);
    assert!(sums.ends_with('\n'));
    for (line, (name, bytes)) in lines.iter().zip(&entries) {
        let (hash, path) = line.split_once("  ").expect("<hex>  <path>");
        assert_eq!(path, name);
        assert_eq!(hash, sha256_hex(bytes), "{path}");
    }
    for file in &listed {
        assert_eq!(file.size, content(&file.path).len() as u64, "{}", file.path);
    }

    // The real tool, on the extracted bundle.
    let dir = tempfile::tempdir().expect("a temp dir");
    for (name, bytes) in &entries {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        fs::write(path, bytes).expect("extracts");
    }
    let check = Command::new("sha256sum")
        .args(["--check", "--strict", SUMS_PATH])
        .current_dir(dir.path())
        .output()
        .expect("runs sha256sum");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(report.matches(": OK").count(), 8, "{report}");
}

#[test]
fn another_reader_accepts_the_stream_and_its_data_descriptors() {
    let built = build();
    // Local header of the first entry: general-purpose flag bit 3 (sizes
    // and CRC follow the data) and method 0 (stored).
    assert_eq!(&built.zip[..4], b"PK\x03\x04");
    let flags = u16::from_le_bytes([built.zip[6], built.zip[7]]);
    let method = u16::from_le_bytes([built.zip[8], built.zip[9]]);
    assert_eq!((flags & 0x08, method), (0x08, 0));

    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("bundle.zip");
    fs::write(&path, &built.zip).expect("writes");
    let script = "import sys, zipfile\n\
        z = zipfile.ZipFile(sys.argv[1])\n\
        assert z.testzip() is None\n\
        print(len(z.namelist()))\n";
    let python = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .output()
        .expect("runs python3");
    assert!(
        python.status.success(),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&python.stdout).trim(), "10");
}

fn fields() -> ManifestFields {
    ManifestFields {
        request_id: Uuid::nil(),
        tenant_id: Uuid::nil(),
        generated_at: at(0),
        redactions: Vec::new(),
    }
}
