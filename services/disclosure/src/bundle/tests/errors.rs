use super::*;

#[test]
fn bad_paths_are_refused() {
    let mut bundle = BundleWriter::new(Vec::new());
    bundle
        .add_file("recordings/a.wav", &b"x"[..])
        .expect("a plain path");
    let refused = [
        "",
        "/abs.wav",
        "../up.wav",
        "recordings/./a.wav",
        "recordings//a.wav",
        "dir\\a.wav",
        "über.wav",
        "a b.wav",
        "manifest.json",
        "sha256sums",
        "Manifest.Sig",
        "recordings",
        "recordings/a.wav/x",
    ];
    for path in refused {
        let error = bundle.add_file(path, &b"x"[..]).expect_err(path);
        assert!(
            matches!(error, BundleError::InvalidPath { .. }),
            "{path}: {error}"
        );
    }
    let error = bundle
        .add_file("RECORDINGS/A.wav", &b"x"[..])
        .expect_err("same name on windows");
    assert!(
        matches!(error, BundleError::DuplicatePath { .. }),
        "{error}"
    );
    // Refusals before an entry starts leave the bundle usable.
    bundle
        .add_file("calls.json", &b"[]"[..])
        .expect("still usable");
}

#[test]
fn a_failed_file_or_signer_leaves_no_valid_zip() {
    let mut bundle = BundleWriter::new(Vec::new());
    bundle.add_file("a.txt", &b"kept"[..]).expect("adds");
    let failed = bundle.add_file_with("b.txt", |out| {
        out.write_all(b"half")?;
        Err::<(), _>(io::Error::other("source went away"))
    });
    assert!(matches!(failed, Err(BundleError::Content { .. })));
    assert!(matches!(
        bundle.add_file("c.txt", &b"x"[..]),
        Err(BundleError::Poisoned)
    ));
    assert!(matches!(
        bundle.finish(&fields(), sign),
        Err(BundleError::Poisoned)
    ));

    let mut altered = BundleWriter::new(Vec::new());
    altered.add_file("a.txt", &b"kept"[..]).expect("adds");
    let result = altered.finish(&fields(), |manifest| {
        let mut manifest = manifest.clone();
        manifest["files"] = serde_json::json!([]);
        sign(&manifest)
    });
    assert!(matches!(result, Err(BundleError::SignerAltered)));

    let unsigned = BundleWriter::new(Vec::new());
    let result = unsigned.finish(&fields(), |_| {
        Err::<(Vec<u8>, String), _>(io::Error::other("kms down"))
    });
    assert!(matches!(result, Err(BundleError::Sign(_))));
    let bad_signature = BundleWriter::new(Vec::new());
    let result = bad_signature.finish(&fields(), |manifest| {
        Ok::<_, serde_json::Error>((sign(manifest)?.0, "not base64!".to_owned()))
    });
    assert!(matches!(result, Err(BundleError::BadSignature)));
}

#[test]
fn dropping_an_unfinished_bundle_leaves_no_zip_directory() {
    let mut out = Vec::new();
    {
        let mut bundle = BundleWriter::new(&mut out);
        bundle.add_file("a.txt", &b"kept"[..]).expect("adds");
    }
    assert!(
        zip::ZipArchive::new(Cursor::new(&out)).is_err(),
        "no end of central directory"
    );
}
