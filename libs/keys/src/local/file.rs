//! The keyring file: its JSON shape, reading it and replacing it atomically,
//! and the advisory lock that orders the processes sharing it.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use tracing::warn;
use zeroize::Zeroizing;

use super::{Keys, MASTER_KEY_LEN};
use crate::KeyError;

const FILE_FORMAT: u32 = 1;

/// The file's JSON shape. Master keys are base64; the file's 0600 mode is
/// what protects them.
#[derive(Serialize, Deserialize)]
struct KeyringFile {
    format: u32,
    keys: BTreeMap<String, StoredKey>,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    versions: Vec<StoredVersion>,
}

#[derive(Serialize, Deserialize)]
struct StoredVersion {
    version: u32,
    material: String,
}

pub(super) fn parse_file(bytes: &[u8]) -> Result<Keys, KeyError> {
    let file: KeyringFile = serde_json::from_slice(bytes)
        .map_err(|error| KeyError::Other(format!("keyring file is not valid: {error}")))?;
    if file.format != FILE_FORMAT {
        return Err(KeyError::Other(format!(
            "unsupported keyring format {}",
            file.format
        )));
    }
    let mut keys = Keys::new();
    for (name, stored) in file.keys {
        let mut versions = Vec::with_capacity(stored.versions.len());
        for (index, stored_version) in stored.versions.into_iter().enumerate() {
            if stored_version.version as usize != index + 1 {
                return Err(KeyError::Other(format!(
                    "keyring entry {name} has versions out of order"
                )));
            }
            let material = Zeroizing::new(
                BASE64
                    .decode(stored_version.material.as_bytes())
                    .map_err(|_| KeyError::Other(format!("keyring entry {name} is not base64")))?,
            );
            let array: [u8; MASTER_KEY_LEN] = material.as_slice().try_into().map_err(|_| {
                KeyError::Other(format!("keyring entry {name} has a key of the wrong size"))
            })?;
            versions.push(Zeroizing::new(array));
        }
        if versions.is_empty() {
            return Err(KeyError::Other(format!(
                "keyring entry {name} has no versions"
            )));
        }
        keys.insert(name, versions);
    }
    Ok(keys)
}

/// Writes the whole keyring to a temporary file next to `path` (mode 0600
/// from creation, never wider), fsyncs it, renames it over `path` and fsyncs
/// the directory: a crash leaves either the old or the new keyring, never a
/// torn one, and losing a master key means losing every recording under it.
pub(super) fn write_file(path: &Path, keys: &Keys) -> Result<(), KeyError> {
    let file = KeyringFile {
        format: FILE_FORMAT,
        keys: keys
            .iter()
            .map(|(name, versions)| {
                let versions = versions
                    .iter()
                    .enumerate()
                    .map(|(index, material)| StoredVersion {
                        version: index as u32 + 1,
                        material: BASE64.encode(material.as_slice()),
                    })
                    .collect();
                (name.clone(), StoredKey { versions })
            })
            .collect(),
    };
    let json = Zeroizing::new(
        serde_json::to_vec_pretty(&file)
            .map_err(|error| KeyError::Other(format!("cannot encode the keyring: {error}")))?,
    );
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| KeyError::Other("keyring path has no file name".to_owned()))?;
    let mut suffix = [0u8; 8];
    aws_lc_rs::rand::fill(&mut suffix)
        .map_err(|_| KeyError::Other("system random source failed".to_owned()))?;
    let suffix: String = suffix.iter().map(|byte| format!("{byte:02x}")).collect();
    let temp_path = directory.join(format!(".{}.{suffix}.tmp", file_name.to_string_lossy()));
    let result = write_temp_and_rename(&temp_path, path, directory, &json);
    if result.is_err() {
        let _ = std::fs::remove_file(&temp_path);
    }
    result
}

fn write_temp_and_rename(
    temp_path: &Path,
    path: &Path,
    directory: &Path,
    contents: &[u8],
) -> Result<(), KeyError> {
    let mut temp = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp_path)
        .map_err(|error| io_error("cannot create the keyring temporary file", &error))?;
    temp.write_all(contents)
        .and_then(|()| temp.sync_all())
        .map_err(|error| io_error("cannot write the keyring", &error))?;
    drop(temp);
    std::fs::rename(temp_path, path)
        .map_err(|error| io_error("cannot replace the keyring", &error))?;
    File::open(directory)
        .and_then(|dir| dir.sync_all())
        .map_err(|error| io_error("cannot sync the keyring directory", &error))
}

/// Which version of the file a process last read: a writer replaces the
/// file by a rename, so its inode changes, and so do, in practice, its
/// length and times. Compared on every operation, at the cost of a `stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(metadata: &std::fs::Metadata) -> Self {
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
            len: metadata.len(),
            mtime: (metadata.mtime(), metadata.mtime_nsec()),
            ctime: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }
}

/// The stamp of the file at `path` now.
pub(super) fn stamp(path: &Path) -> Result<Stamp, KeyError> {
    std::fs::metadata(path)
        .map(|metadata| Stamp::of(&metadata))
        .map_err(|error| io_error("cannot stat the keyring", &error))
}

/// Reads and parses the keyring, with the stamp of the very file read
/// (taken from the open file, so a rename in between can't mix them up).
pub(super) fn read_file(path: &Path) -> Result<(Keys, Stamp), KeyError> {
    let mut file = File::open(path).map_err(|error| io_error("cannot read the keyring", &error))?;
    let stamp = file
        .metadata()
        .map(|metadata| Stamp::of(&metadata))
        .map_err(|error| io_error("cannot stat the keyring", &error))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.read_to_end(&mut bytes)
        .map_err(|error| io_error("cannot read the keyring", &error))?;
    Ok((parse_file(&bytes)?, stamp))
}

/// An advisory lock (`flock`) on the keyring's lock file, `<keyring>.lock`,
/// released when dropped. Exclusive around every read-modify-write of the
/// keyring, shared around every read: two processes adding keys never
/// lose each other's, and a reader never sees a writer half-way. The lock
/// is on its own file because the keyring itself is replaced by a rename.
pub(super) struct FileLock {
    _file: Option<File>,
}

impl FileLock {
    pub(super) fn exclusive(lock_path: &Path) -> Result<Self, KeyError> {
        let file = open_lock_file(lock_path)
            .map_err(|error| io_error("cannot open the keyring lock file", &error))?;
        file.lock()
            .map_err(|error| io_error("cannot lock the keyring", &error))?;
        Ok(Self { _file: Some(file) })
    }

    /// Shared. A keyring on a read-only filesystem, where the lock file
    /// can't be created, is read without one: nobody can write it either.
    pub(super) fn shared(lock_path: &Path) -> Result<Self, KeyError> {
        let file = match open_lock_file(lock_path) {
            Ok(file) => file,
            Err(error) if lock_file_unavailable(&error) => match File::open(lock_path) {
                Ok(file) => file,
                Err(_) => return Ok(Self { _file: None }),
            },
            Err(error) => return Err(io_error("cannot open the keyring lock file", &error)),
        };
        file.lock_shared()
            .map_err(|error| io_error("cannot lock the keyring", &error))?;
        Ok(Self { _file: Some(file) })
    }
}

fn open_lock_file(lock_path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(lock_path)
}

fn lock_file_unavailable(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
    )
}

pub(super) fn warn_if_readable_by_others(path: &Path) {
    let Ok(metadata) = std::fs::metadata(path) else {
        return;
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        warn!(path = %path.display(), mode = format!("{mode:o}"), "keyring file is readable by other users; expected mode 600");
    }
}

pub(super) fn io_error(what: &str, error: &std::io::Error) -> KeyError {
    KeyError::Other(format!("{what}: {error}"))
}
