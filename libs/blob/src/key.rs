use std::fmt;

/// A checked object key: `/`-separated segments of ASCII letters, digits,
/// `-`, `_` and `.`, none empty, `.` or `..`, at most 512 bytes. Keys are
/// built by the services from ids they generated, never from raw user input,
/// and this type makes it impossible to escape the store's root on the
/// filesystem backend.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

#[derive(Debug, thiserror::Error)]
#[error("invalid object key: {0}")]
pub struct InvalidObjectKey(&'static str);

impl ObjectKey {
    pub fn parse(raw: &str) -> Result<Self, InvalidObjectKey> {
        if raw.is_empty() {
            return Err(InvalidObjectKey("empty"));
        }
        if raw.len() > 512 {
            return Err(InvalidObjectKey("longer than 512 bytes"));
        }
        for segment in raw.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(InvalidObjectKey("empty, '.' or '..' segment"));
            }
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
            if !segment.chars().all(allowed) {
                return Err(InvalidObjectKey("characters outside [A-Za-z0-9._-/]"));
            }
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::ObjectKey;

    #[test]
    fn accepts_service_built_keys() {
        assert!(ObjectKey::parse("tenants/3f1c/recordings/9a.cvr").is_ok());
    }

    #[test]
    fn rejects_traversal_and_odd_characters() {
        for bad in [
            "", "/abs", "a//b", "a/../b", "..", "a/./b", "a b", "a\\b", "a/b/", "é",
        ] {
            assert!(ObjectKey::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
