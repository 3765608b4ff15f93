//! The configuration's tests: each runs in figment's `Jail`, with exactly
//! the variables it sets.

use std::path::{Path, PathBuf};

use super::*;

/// Loads the configuration with exactly `vars` in the process
/// environment: figment's `Jail` clears it and restores it afterwards,
/// and runs one such test at a time (the environment is the process's).
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail fixes its closure's error type"
)]
pub(crate) fn load(file: Option<&Path>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut loaded = None;
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        for (name, value) in vars {
            jail.set_env(name, value);
        }
        loaded = Some(Config::load(file));
        Ok(())
    });
    loaded.expect("the jail runs its closure")
}

#[test]
fn no_configuration_at_all_is_the_embedded_mode() {
    let config = load(None, &[]).expect("defaults");
    assert_eq!(config.data_dir, PathBuf::from("./data"));
    assert_eq!(config.blob.backend, BlobBackend::Fs);
    assert_eq!(config.keys.provider, KeyProviderKind::Local);
    assert_eq!(
        config.database_url("metadata"),
        "sqlite://./data/metadata.db"
    );
    assert_eq!(config.public_url(), "http://127.0.0.1:8080");
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("callvault.toml");
    std::fs::write(
        &file,
        "listen = \"0.0.0.0:9000\"\n[blob]\nbackend = \"fs\"\n",
    )
    .expect("write");
    let config = load(
        Some(&file),
        &[
            ("CALLVAULT_BLOB__BACKEND", "s3"),
            ("CALLVAULT_BLOB__S3_BUCKET", "recordings"),
            ("CALLVAULT_DATABASE__METADATA_URL", "postgres://db/metadata"),
            ("UNRELATED", "x"),
        ],
    )
    .expect("loads");
    assert_eq!(config.listen, "0.0.0.0:9000");
    assert_eq!(config.blob.backend, BlobBackend::S3);
    assert_eq!(config.blob.s3_bucket.as_deref(), Some("recordings"));
    assert_eq!(config.database_url("metadata"), "postgres://db/metadata");
}

#[test]
fn http_workers_default_to_four_per_core_and_are_bounded() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let defaults = load(None, &[]).expect("defaults");
    assert_eq!(defaults.http_workers, 4 * cores);
    let set = load(None, &[("CALLVAULT_HTTP_WORKERS", "3")]).expect("set");
    assert_eq!(set.http_workers, 3);
    for bad in ["0", "1025", "-2", "many"] {
        let result = load(None, &[("CALLVAULT_HTTP_WORKERS", bad)]);
        assert!(matches!(result, Err(ConfigError::Invalid(_))), "{bad}");
    }
}

#[test]
fn variables_meant_for_others_are_not_configuration() {
    let config = load(
        None,
        &[
            ("CALLVAULT_CONFIG", "x.toml"),
            ("CALLVAULT_LOG", "debug"),
            ("CALLVAULT_BIN", "/bin/cv"),
        ],
    );
    assert!(config.is_ok(), "{:?}", config.err());
}

#[test]
fn typos_are_errors_not_silently_ignored() {
    let result = load(None, &[("CALLVAULT_BLOB__BACKEDN", "s3")]);
    assert!(matches!(result, Err(ConfigError::Invalid(_))));
    let result = load(None, &[("CALLVAULT_BLOB__BACKEND", "tape")]);
    assert!(matches!(result, Err(ConfigError::Invalid(_))));
}

#[test]
fn secrets_come_from_files_without_their_newline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secret");
    std::fs::write(&path, "s3cr3t\n").expect("write");
    let secret = read_secret(&None, &Some(path.clone()), "pii").expect("reads");
    assert_eq!(secret.as_deref(), Some(&b"s3cr3t"[..]));
    assert!(read_secret(&Some("x".into()), &Some(path), "pii").is_err());
    assert_eq!(read_secret(&None, &None, "pii").expect("none"), None);
}

#[test]
fn lifecycle_numbers_come_from_the_environment_too() {
    let config = load(
        None,
        &[
            ("CALLVAULT_LIFECYCLE__DELETION_INTERVAL_SECS", "60"),
            ("CALLVAULT_LIFECYCLE__CLOCK_OFFSET_SECS", "2678400"),
        ],
    )
    .expect("config");
    assert_eq!(config.lifecycle.deletion_interval_secs, 60);
    assert_eq!(config.lifecycle.clock_offset_secs, 2_678_400);
    let defaults = load(None, &[]).expect("config");
    assert_eq!(defaults.lifecycle.deletion_interval_secs, 3600);
    let bad = load(
        None,
        &[("CALLVAULT_LIFECYCLE__DELETION_INTERVAL_SECS", "-1")],
    );
    assert!(matches!(bad, Err(ConfigError::Invalid(_))));
}

#[test]
fn ingestion_numbers_come_from_the_environment_too() {
    let config = load(
        None,
        &[
            ("CALLVAULT_INGESTION__STALE_AFTER_SECS", "120"),
            ("CALLVAULT_INGESTION__RECONCILE_INTERVAL_SECS", "0"),
            ("CALLVAULT_INGESTION__RECONCILE_GRACE_SECS", "86400"),
        ],
    )
    .expect("config");
    assert_eq!(config.ingestion.stale_after_secs, 120);
    assert_eq!(config.ingestion.reconcile_interval_secs, 0);
    assert_eq!(config.ingestion.reconcile_grace_secs, 86_400);

    let defaults = load(None, &[]).expect("config");
    assert_eq!(defaults.ingestion.stale_after_secs, 600);
    assert_eq!(defaults.ingestion.reconcile_interval_secs, 3600);
    assert_eq!(defaults.ingestion.reconcile_grace_secs, 3600);

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("callvault.toml");
    std::fs::write(&file, "[ingestion]\nstale_after_secs = 900\n").expect("write");
    let from_file = load(Some(&file), &[]).expect("config");
    assert_eq!(from_file.ingestion.stale_after_secs, 900);

    for (name, value) in [
        ("CALLVAULT_INGESTION__STALE_AFTER_SECS", "0"),
        ("CALLVAULT_INGESTION__STALE_AFTER_SECS", "604801"),
        ("CALLVAULT_INGESTION__STALE_AFTER_SECS", "ten"),
        ("CALLVAULT_INGESTION__RECONCILE_INTERVAL_SECS", "-1"),
        (
            "CALLVAULT_INGESTION__RECONCILE_INTERVAL_SECS",
            "18446744073709551615",
        ),
        ("CALLVAULT_INGESTION__RECONCILE_GRACE_SECS", "99999999999"),
        ("CALLVAULT_INGESTION__RECONCILE_GRACE", "60"),
    ] {
        let bad = load(None, &[(name, value)]);
        assert!(
            matches!(bad, Err(ConfigError::Invalid(_))),
            "{name}={value}: {bad:?}"
        );
    }
}

#[test]
fn storage_sweep_numbers_come_from_the_environment_too() {
    let config = load(
        None,
        &[
            ("CALLVAULT_STORAGE__SWEEP_INTERVAL_SECS", "0"),
            ("CALLVAULT_STORAGE__SWEEP_GRACE_SECS", "7200"),
            ("CALLVAULT_STORAGE_URL", "http://storage.internal:8080/"),
        ],
    )
    .expect("config");
    assert_eq!(config.storage.sweep_interval_secs, 0);
    assert_eq!(config.storage.sweep_grace_secs, 7200);
    assert_eq!(config.storage_url(), "http://storage.internal:8080");
    let defaults = load(None, &[]).expect("config");
    assert_eq!(defaults.storage.sweep_interval_secs, 3600);
    assert_eq!(defaults.storage.sweep_grace_secs, 3600);
    // `storage_url` and the `[storage]` section live side by side.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("callvault.toml");
    let toml = "storage_url = \"http://s:1\"\n[storage]\nsweep_grace_secs = 60\n";
    std::fs::write(&file, toml).expect("write");
    let from_file = load(Some(&file), &[]).expect("config");
    assert_eq!(from_file.storage.sweep_grace_secs, 60);
    assert_eq!(from_file.storage_url(), "http://s:1");
    for (name, value) in [
        ("CALLVAULT_STORAGE__SWEEP_INTERVAL_SECS", "-1"),
        ("CALLVAULT_STORAGE__SWEEP_INTERVAL_SECS", "99999999999"),
        ("CALLVAULT_STORAGE__SWEEP_GRACE_SECS", "99999999999"),
        // Shorter would abandon uploads still streaming.
        ("CALLVAULT_STORAGE__SWEEP_GRACE_SECS", "0"),
        ("CALLVAULT_STORAGE__SWEEP_GRACE_SECS", "9"),
        ("CALLVAULT_STORAGE__SWEEP_GRACE", "60"),
    ] {
        let bad = load(None, &[(name, value)]);
        assert!(
            matches!(bad, Err(ConfigError::Invalid(_))),
            "{name}={value}: {bad:?}"
        );
    }
}

/// A file in a fresh temporary directory (kept alive by the guard).
fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("callvault.toml");
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

#[test]
fn each_layer_overrides_the_one_below_key_by_key() {
    let (_dir, path) = file(
        "listen = \"0.0.0.0:9000\"\nhttp_workers = 2\n\
         [blob]\nbackend = \"s3\"\ns3_bucket = \"from-file\"\ns3_region = \"eu-west-1\"\n\
         [lifecycle]\ndeletion_interval_secs = 60\n",
    );
    let env = [
        ("CALLVAULT_HTTP_WORKERS", "5"),
        ("CALLVAULT_BLOB__S3_BUCKET", "from-env"),
        ("CALLVAULT_LIFECYCLE__CLOCK_OFFSET_SECS", "7"),
    ];
    let config = load(Some(&path), &env).expect("loads");
    // The environment over the file…
    assert_eq!(config.http_workers, 5);
    assert_eq!(config.blob.s3_bucket.as_deref(), Some("from-env"));
    // …a section's other keys still from the file…
    assert_eq!(config.blob.backend, BlobBackend::S3);
    assert_eq!(config.blob.s3_region.as_deref(), Some("eu-west-1"));
    assert_eq!(config.listen, "0.0.0.0:9000");
    assert_eq!(config.lifecycle.deletion_interval_secs, 60);
    assert_eq!(config.lifecycle.clock_offset_secs, 7);
    // …and what neither sets from the defaults.
    assert_eq!(config.data_dir, PathBuf::from("./data"));
    assert_eq!(config.keys.provider, KeyProviderKind::Local);
    assert_eq!(config.ingestion.stale_after_secs, 600);

    // The file over the defaults, with no environment.
    let from_file = load(Some(&path), &[]).expect("loads");
    assert_eq!(from_file.http_workers, 2);
    assert_eq!(from_file.blob.s3_bucket.as_deref(), Some("from-file"));
    // The environment over the defaults, with no file.
    let from_env = load(None, &env).expect("loads");
    assert_eq!(from_env.http_workers, 5);
    assert_eq!(from_env.blob.backend, BlobBackend::Fs);
    assert_eq!(from_env.blob.s3_bucket.as_deref(), Some("from-env"));
}

#[test]
fn environment_values_are_taken_as_written() {
    // figment's own `Env` would make numbers, booleans, lists and
    // quoted strings of these; every one is a valid text value.
    let digits = "1234567890".repeat(4);
    let config = load(
        None,
        &[
            ("CALLVAULT_AUTH__HS256_SECRET", &digits),
            ("CALLVAULT_SECRETS__PII", "[not, a, list]"),
            ("CALLVAULT_SECRETS__URL_SIGNING", "{k=1}"),
            ("CALLVAULT_AUTH__ISSUER", "\"quoted\""),
            ("CALLVAULT_AUTH__AUDIENCE", "true"),
            ("CALLVAULT_BUS__NAME_PREFIX", "2024"),
            ("CALLVAULT_DATA_DIR", "-1.5"),
        ],
    )
    .expect("loads");
    assert_eq!(config.auth.hs256_secret.as_deref(), Some(digits.as_str()));
    assert_eq!(config.secrets.pii.as_deref(), Some("[not, a, list]"));
    assert_eq!(config.secrets.url_signing.as_deref(), Some("{k=1}"));
    assert_eq!(config.auth.issuer.as_deref(), Some("\"quoted\""));
    assert_eq!(config.auth.audience.as_deref(), Some("true"));
    assert_eq!(config.bus.name_prefix, "2024");
    assert_eq!(config.data_dir, PathBuf::from("-1.5"));
}

#[test]
fn errors_name_the_variable_or_the_file() {
    let message = |result: Result<Config, ConfigError>| match result {
        Err(ConfigError::Invalid(message)) => message,
        other => panic!("expected an invalid configuration, got {other:?}"),
    };
    let typo = message(load(None, &[("CALLVAULT_BLOB__BACKEDN", "s3")]));
    assert!(typo.contains("backedn"), "{typo}");
    assert!(typo.contains("CALLVAULT_BLOB__BACKEDN"), "{typo}");
    let text = message(load(None, &[("CALLVAULT_HTTP_WORKERS", "many")]));
    assert!(text.contains("CALLVAULT_HTTP_WORKERS"), "{text}");
    assert!(text.contains("whole number"), "{text}");

    let (_dir, path) = file("[blob]\nbackend = \"tape\"\n");
    let in_file = message(load(Some(&path), &[]));
    assert!(in_file.contains("tape"), "{in_file}");
    assert!(in_file.contains("callvault.toml"), "{in_file}");
    let (_dir, path) = file("[blob\n");
    let syntax = message(load(Some(&path), &[]));
    assert!(syntax.contains("callvault.toml"), "{syntax}");

    let missing = Path::new("/nonexistent/callvault.toml");
    match load(Some(missing), &[]) {
        Err(error @ ConfigError::Read { .. }) => {
            assert!(error.to_string().contains("/nonexistent/callvault.toml"));
        }
        other => panic!("expected a read error, got {other:?}"),
    }
}

#[test]
fn a_key_is_a_value_or_a_section_not_both() {
    for vars in [
        [
            ("CALLVAULT_PUBLIC_URL", "x"),
            ("CALLVAULT_PUBLIC_URL__A", "y"),
        ],
        [
            ("CALLVAULT_PUBLIC_URL__A", "y"),
            ("CALLVAULT_PUBLIC_URL", "x"),
        ],
        [("CALLVAULT_BLOB", "x"), ("CALLVAULT_BLOB__BACKEND", "s3")],
    ] {
        let result = load(None, &vars);
        assert!(matches!(result, Err(ConfigError::Invalid(_))), "{vars:?}");
    }
}

#[test]
fn booleans_come_from_the_environment_too() {
    for (value, expected) in [("false", false), ("true", true), (" false ", false)] {
        let config = load(None, &[("CALLVAULT_AUTH__INTROSPECTION", value)]).expect("config");
        assert_eq!(config.auth.introspection, expected, "{value:?}");
    }
    assert!(load(None, &[]).expect("config").auth.introspection);

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("callvault.toml");
    std::fs::write(&file, "[auth]\nintrospection = false\n").expect("write");
    assert!(!load(Some(&file), &[]).expect("config").auth.introspection);

    for value in ["no", "0", "False", ""] {
        let bad = load(None, &[("CALLVAULT_AUTH__INTROSPECTION", value)]);
        assert!(
            matches!(bad, Err(ConfigError::Invalid(_))),
            "{value:?}: {bad:?}"
        );
    }
}
