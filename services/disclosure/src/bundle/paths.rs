//! Which paths a bundle may hold: ones that extract to the same place on
//! every system, and that `sha256sum` lists without escaping.

use std::collections::HashSet;

use super::{BundleError, MANIFEST_PATH, SIGNATURE_PATH, SUMS_PATH};

/// Longest file or folder name most file systems take.
const MAX_NAME: usize = 255;

/// The paths claimed so far, lowercased: on a case-insensitive file system
/// (Windows, macOS) `A.wav` and `a.wav` would extract over each other.
#[derive(Debug, Default)]
pub(super) struct Paths {
    files: HashSet<String>,
    folders: HashSet<String>,
}

impl Paths {
    /// Claims `path` for a caller's file.
    pub(super) fn claim(&mut self, path: &str) -> Result<(), BundleError> {
        let invalid = |why| BundleError::InvalidPath {
            path: path.to_owned(),
            why,
        };
        check_syntax(path).map_err(invalid)?;
        let key = path.to_ascii_lowercase();
        if [MANIFEST_PATH, SUMS_PATH, SIGNATURE_PATH]
            .iter()
            .any(|reserved| reserved.eq_ignore_ascii_case(&key))
        {
            return Err(invalid("reserved for the manifest"));
        }
        if self.files.contains(&key) {
            return Err(BundleError::DuplicatePath {
                path: path.to_owned(),
            });
        }
        if self.folders.contains(&key) {
            return Err(invalid("a folder of the bundle has this name"));
        }
        let folders: Vec<&str> = key.match_indices('/').map(|(at, _)| &key[..at]).collect();
        if folders.iter().any(|folder| self.files.contains(*folder)) {
            return Err(invalid(
                "a file of the bundle has the name of one of its folders",
            ));
        }
        self.folders.extend(folders.into_iter().map(str::to_owned));
        self.files.insert(key);
        Ok(())
    }
}

/// Relative, `/`-separated, each name of ASCII letters, digits, `.`, `_`
/// and `-`, not `.` or `..`: no traversal on extraction, nothing a file
/// system refuses, nothing `sha256sum` would escape.
fn check_syntax(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty");
    }
    for name in path.split('/') {
        if name.is_empty() {
            return Err("empty name (leading, trailing or double slash)");
        }
        if name == "." || name == ".." {
            return Err("relative names are not allowed");
        }
        if name.len() > MAX_NAME {
            return Err("name longer than 255 bytes");
        }
        if !name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
        {
            return Err("only ascii letters, digits, '.', '_' and '-' are allowed");
        }
    }
    Ok(())
}
