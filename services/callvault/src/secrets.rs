//! The secrets a deployment needs, from configuration or — in the embedded
//! mode, when unset — generated once under `<data_dir>/secrets/` (0600).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use anyhow::{Context, anyhow, bail};

use crate::config::{Config, read_secret};

pub struct Secrets {
    pub jwt_hs256: Vec<u8>,
    pub url_signing: Vec<u8>,
    pub pii: [u8; 32],
    pub manifest_signing: Vec<u8>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

impl Secrets {
    /// Every secret from the configuration: what separate processes need,
    /// since a secret generated per process would differ between them (URLs
    /// signed by one would not verify at another, and each would encrypt
    /// phone numbers under its own key).
    pub fn require_configured(config: &Config) -> anyhow::Result<Self> {
        let missing: Vec<&str> = [
            (
                "auth.hs256_secret",
                config.auth.hs256_secret.is_some() || config.auth.hs256_secret_file.is_some(),
            ),
            (
                "secrets.url_signing",
                config.secrets.url_signing.is_some() || config.secrets.url_signing_file.is_some(),
            ),
            (
                "secrets.pii",
                config.secrets.pii.is_some() || config.secrets.pii_file.is_some(),
            ),
            (
                "secrets.manifest_signing",
                config.secrets.manifest_signing.is_some()
                    || config.secrets.manifest_signing_file.is_some(),
            ),
        ]
        .into_iter()
        .filter(|(_, set)| !set)
        .map(|(name, _)| name)
        .collect();
        if !missing.is_empty() {
            bail!(
                "one service per process needs its shared secrets configured (or as *_file): {}",
                missing.join(", ")
            );
        }
        Self::load_or_generate(config)
    }

    pub fn load_or_generate(config: &Config) -> anyhow::Result<Self> {
        let dir = config.data_dir.join("secrets");
        let jwt_hs256 = match read_secret(
            &config.auth.hs256_secret,
            &config.auth.hs256_secret_file,
            "hs256_secret",
        )? {
            Some(secret) => secret,
            None => generated(&dir, "jwt-hs256.key")?,
        };
        let url_signing = match read_secret(
            &config.secrets.url_signing,
            &config.secrets.url_signing_file,
            "url_signing",
        )? {
            Some(secret) => secret,
            None => generated(&dir, "url-signing.key")?,
        };
        let pii_raw = match read_secret(&config.secrets.pii, &config.secrets.pii_file, "pii")? {
            Some(secret) => secret,
            None => generated(&dir, "pii.key")?,
        };
        let manifest_signing = match read_secret(
            &config.secrets.manifest_signing,
            &config.secrets.manifest_signing_file,
            "manifest_signing",
        )? {
            Some(secret) => secret,
            None => generated(&dir, "manifest-signing.key")?,
        };
        for (name, secret) in [
            ("hs256_secret", &jwt_hs256),
            ("url_signing", &url_signing),
            ("pii", &pii_raw),
            ("manifest_signing", &manifest_signing),
        ] {
            if secret.len() < 32 {
                bail!("{name} must be at least 32 bytes");
            }
        }
        // The PII key is derived from whatever length of secret was given.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &pii_raw);
        let mut pii = [0u8; 32];
        pii.copy_from_slice(digest.as_ref());
        Ok(Self {
            jwt_hs256,
            url_signing,
            pii,
            manifest_signing,
        })
    }
}

/// Reads `dir/name`, creating it with 32 random bytes (base64url) first if
/// missing. Created 0600 in a 0700 directory: whoever reads it can mint
/// admin tokens.
fn generated(dir: &Path, name: &str) -> anyhow::Result<Vec<u8>> {
    let path = dir.join(name);
    // The cause goes in the message rather than under a context: serve.rs
    // reports these errors with `to_string()`, which shows only the top.
    let io = |doing: &'static str, at: &Path| {
        let at = at.display().to_string();
        move |error: std::io::Error| anyhow!("cannot {doing} {at}: {error}")
    };
    if !path.exists() {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io("restrict", dir))?;
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).context("the system random source failed")?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io("create", &path))?;
        file.write_all(URL_SAFE_NO_PAD.encode(bytes).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io("write", &path))?;
    }
    let text = std::fs::read_to_string(&path).map_err(io("read", &path))?;
    Ok(text.trim_end().as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::Secrets;
    use crate::config::Config;

    fn config(vars: &[(&str, &str)]) -> Config {
        crate::config::tests::load(None, vars).expect("config")
    }

    #[test]
    fn separate_processes_refuse_to_invent_their_secrets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().display().to_string();
        let bare = config(&[("CALLVAULT_DATA_DIR", &data)]);
        let message = Secrets::require_configured(&bare)
            .expect_err("refused")
            .to_string();
        for name in [
            "auth.hs256_secret",
            "secrets.url_signing",
            "secrets.pii",
            "secrets.manifest_signing",
        ] {
            assert!(message.contains(name), "{message}");
        }
        assert!(!dir.path().join("secrets").exists(), "nothing is generated");

        let secret = "s".repeat(40);
        let complete = config(&[
            ("CALLVAULT_DATA_DIR", &data),
            ("CALLVAULT_AUTH__HS256_SECRET", &secret),
            ("CALLVAULT_SECRETS__URL_SIGNING", &secret),
            ("CALLVAULT_SECRETS__PII", &secret),
            ("CALLVAULT_SECRETS__MANIFEST_SIGNING", &secret),
        ]);
        assert!(Secrets::require_configured(&complete).is_ok());
    }

    #[test]
    fn the_embedded_mode_generates_them_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bare = config(&[("CALLVAULT_DATA_DIR", &dir.path().display().to_string())]);
        let first = Secrets::load_or_generate(&bare).expect("generated");
        let again = Secrets::load_or_generate(&bare).expect("read back");
        assert_eq!(first.url_signing, again.url_signing);
        assert_eq!(first.pii, again.pii);
        assert_eq!(first.manifest_signing, again.manifest_signing);
    }

    #[test]
    fn secrets_come_from_files_the_environment_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut vars = vec![(
            "CALLVAULT_DATA_DIR".to_owned(),
            dir.path().display().to_string(),
        )];
        for (name, variable) in [
            ("jwt", "CALLVAULT_AUTH__HS256_SECRET_FILE"),
            ("urls", "CALLVAULT_SECRETS__URL_SIGNING_FILE"),
            ("pii", "CALLVAULT_SECRETS__PII_FILE"),
            ("manifests", "CALLVAULT_SECRETS__MANIFEST_SIGNING_FILE"),
        ] {
            let path = dir.path().join(name);
            // Kubernetes and `echo` leave a newline: not part of the secret.
            std::fs::write(&path, format!("{}\n", name.repeat(40))).expect("write");
            vars.push((variable.to_owned(), path.display().to_string()));
        }
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let secrets = Secrets::require_configured(&config(&vars)).expect("configured");
        assert_eq!(secrets.jwt_hs256, "jwt".repeat(40).into_bytes());
        assert_eq!(secrets.url_signing, "urls".repeat(40).into_bytes());
        assert_eq!(
            secrets.manifest_signing,
            "manifests".repeat(40).into_bytes()
        );
        assert!(!dir.path().join("secrets").exists(), "nothing is generated");

        // A secret given both ways is refused rather than one picked.
        let pii = "p".repeat(40);
        let mut both = vars.clone();
        both.push(("CALLVAULT_SECRETS__PII", &pii));
        assert!(Secrets::require_configured(&config(&both)).is_err());
    }

    #[test]
    fn short_secrets_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let short = config(&[
            ("CALLVAULT_DATA_DIR", &dir.path().display().to_string()),
            ("CALLVAULT_SECRETS__PII", "31-bytes-are-one-byte-too-short"),
        ]);
        let message = Secrets::load_or_generate(&short)
            .expect_err("refused")
            .to_string();
        assert_eq!(message, "pii must be at least 32 bytes");
        // Nor is the secret itself in the message.
        assert!(!message.contains("too-short"));
    }

    #[test]
    fn generated_secrets_only_their_owner_reads() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().expect("tempdir");
        let bare = config(&[("CALLVAULT_DATA_DIR", &dir.path().display().to_string())]);
        Secrets::load_or_generate(&bare).expect("generated");
        let mode = |path: &std::path::Path| {
            std::fs::metadata(path)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777
        };
        let secrets = dir.path().join("secrets");
        assert_eq!(mode(&secrets), 0o700);
        for name in [
            "jwt-hs256.key",
            "url-signing.key",
            "pii.key",
            "manifest-signing.key",
        ] {
            assert_eq!(mode(&secrets.join(name)), 0o600, "{name}");
        }
    }
}
