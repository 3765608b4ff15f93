use super::*;

/// Past 4 GiB the offsets no longer fit ZIP's 32-bit fields: the archive
/// must carry Zip64 records, and a reader must still find every file.
/// Writes 4.5 GiB to a temp file, so it runs on demand:
/// `cargo test -- --ignored zip64`.
#[test]
#[ignore = "writes 4.5 GiB"]
fn an_archive_past_4_gib_gets_zip64_records() {
    const PART: u64 = 900 << 20;
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("big.zip");
    let file = fs::File::create(&path).expect("creates");
    let mut bundle = BundleWriter::new_at(file, at(0));
    for n in 0..5u8 {
        let part = io::repeat(b'a' + n).take(PART);
        let entry = bundle
            .add_file(&format!("parts/{n}.bin"), part)
            .expect("adds a part");
        assert_eq!(entry.size, PART);
    }
    bundle
        .add_file("after.txt", &b"past the 4 gib mark\n"[..])
        .expect("adds");
    let summary = bundle.finish(&fields(), sign).expect("finishes");
    assert!(summary.size > 5 * PART);

    // Python's reader: the late entries sit past 4 GiB, and every
    // SHA256SUMS line holds for the content it reads back (CRC checked).
    let script = "import hashlib, sys, zipfile\n\
        z = zipfile.ZipFile(sys.argv[1])\n\
        late = [i.filename for i in z.infolist() if i.header_offset >= 2**32]\n\
        assert late == ['after.txt', 'manifest.json', 'SHA256SUMS', 'manifest.sig'], late\n\
        for line in z.read('SHA256SUMS').decode().splitlines():\n\
        \x20   digest, name = line.split('  ')\n\
        \x20   h = hashlib.sha256()\n\
        \x20   with z.open(name) as f:\n\
        \x20       for block in iter(lambda: f.read(1 << 20), b''):\n\
        \x20           h.update(block)\n\
        \x20   assert h.hexdigest() == digest, name\n\
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
    assert_eq!(String::from_utf8_lossy(&python.stdout).trim(), "9");
    // The Zip64 end-of-central-directory record and its locator.
    let tail = {
        use std::io::{Seek, SeekFrom};
        let mut file = fs::File::open(&path).expect("opens");
        file.seek(SeekFrom::End(-200)).expect("seeks");
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).expect("reads");
        tail
    };
    let has = |magic: &[u8]| tail.windows(4).any(|window| window == magic);
    assert!(has(b"PK\x06\x06") && has(b"PK\x06\x07"), "zip64 records");
}
