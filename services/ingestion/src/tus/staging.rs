//! A resumable upload's bytes on the ingestion process's disk, sealed as
//! they arrive: no plaintext of the audio is ever written, even for an
//! upload left half-finished.
//!
//! Each upload has its own random data key, kept only sealed (in its
//! database row) under the staging key, which is derived from the
//! operator's `secrets.pii` (every process has it and it never rotates, as
//! the webhooks' secret seal). Each PATCH becomes one part file, named by
//! the offset it starts at and written under a temporary name until it is
//! complete and synced; a part is a run of frames `u32 length ‖ nonce ‖
//! ciphertext ‖ tag` (AES-256-GCM, random nonces), each bound to the upload
//! and to the offset of its first byte, so frames can't be moved, swapped
//! or replayed into another upload.

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::error::PayloadError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::LocalBoxStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use uuid::Uuid;
use zeroize::Zeroizing;

/// The largest plaintext of one frame: incoming chunks are cut to it.
const FRAME: usize = 64 * 1024;
/// Reads and writes of part files go through buffers this big: each
/// `tokio::fs` call is a trip to the blocking pool.
const IO_BUFFER: usize = 1024 * 1024;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("staged upload i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("a staged upload does not open: damaged or not ours")]
    Open,
    #[error("the system random number generator failed")]
    Random,
}

/// Derives and opens the per-upload keys.
#[derive(Clone)]
pub struct StagingKeys {
    kek: Arc<LessSafeKey>,
}

impl std::fmt::Debug for StagingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StagingKeys(<redacted>)")
    }
}

impl StagingKeys {
    pub fn derive(root: &[u8; 32]) -> Self {
        let mac = hmac::Key::new(hmac::HMAC_SHA256, root);
        let tag = hmac::sign(&mac, b"callvault ingestion: resumable upload staging v1");
        let key = UnboundKey::new(&AES_256_GCM, tag.as_ref())
            .expect("an HMAC-SHA256 tag is an AES-256 key");
        StagingKeys {
            kek: Arc::new(LessSafeKey::new(key)),
        }
    }

    /// A new upload's key, and its sealed copy for the database.
    pub fn new_upload(&self, upload: Uuid) -> Result<(UploadSeal, Vec<u8>), StagingError> {
        let mut key = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(key.as_mut()).map_err(|_| StagingError::Random)?;
        let wrapped = seal(&self.kek, &aad(upload, b"key", 0), key.as_ref())?;
        Ok((UploadSeal::new(upload, key.as_ref())?, wrapped))
    }

    pub fn open_upload(&self, upload: Uuid, wrapped: &[u8]) -> Result<UploadSeal, StagingError> {
        let key = Zeroizing::new(open(&self.kek, &aad(upload, b"key", 0), wrapped)?);
        UploadSeal::new(upload, &key)
    }
}

/// One upload's key.
pub struct UploadSeal {
    upload: Uuid,
    key: LessSafeKey,
}

impl UploadSeal {
    fn new(upload: Uuid, key: &[u8]) -> Result<Self, StagingError> {
        let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| StagingError::Open)?;
        Ok(UploadSeal {
            upload,
            key: LessSafeKey::new(key),
        })
    }

    /// The call metadata, sealed for its database row.
    pub fn seal_call(&self, json: &[u8]) -> Result<Vec<u8>, StagingError> {
        seal(&self.key, &aad(self.upload, b"call", 0), json)
    }

    pub fn open_call(&self, sealed: &[u8]) -> Result<Vec<u8>, StagingError> {
        open(&self.key, &aad(self.upload, b"call", 0), sealed)
    }
}

fn aad(upload: Uuid, purpose: &[u8], offset: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + purpose.len() + 8);
    aad.extend_from_slice(upload.as_bytes());
    aad.extend_from_slice(purpose);
    aad.extend_from_slice(&offset.to_be_bytes());
    aad
}

/// `nonce ‖ ciphertext ‖ tag`.
fn seal(key: &LessSafeKey, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, StagingError> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| StagingError::Random)?;
    let mut body = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut body,
    )
    .map_err(|_| StagingError::Random)?;
    let mut out = Vec::with_capacity(NONCE_LEN + body.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

fn open(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, StagingError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(StagingError::Open);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StagingError::Open)?;
    let mut body = body.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad), &mut body)
        .map_err(|_| StagingError::Open)?;
    let length = plain.len();
    body.truncate(length);
    Ok(body)
}

/// Where an upload's parts live: `<root>/<upload id>/<offset>.part`.
#[derive(Clone, Debug)]
pub struct StagingDir {
    root: PathBuf,
}

impl StagingDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StagingDir { root: root.into() }
    }

    fn upload_dir(&self, upload: Uuid) -> PathBuf {
        self.root.join(upload.simple().to_string())
    }

    fn part_path(&self, upload: Uuid, offset: u64) -> PathBuf {
        self.upload_dir(upload).join(format!("{offset:020}.part"))
    }

    /// Starts the part that begins at `offset`, under a temporary name.
    pub async fn start_part(&self, upload: Uuid, offset: u64) -> Result<PartWriter, StagingError> {
        let dir = self.upload_dir(upload);
        tokio::fs::create_dir_all(&dir).await?;
        let path = self.part_path(upload, offset);
        let temporary = path.with_extension("part.tmp");
        let file = BufWriter::with_capacity(IO_BUFFER, tokio::fs::File::create(&temporary).await?);
        Ok(PartWriter {
            file,
            temporary,
            path,
            upload,
            next: offset,
            start: offset,
        })
    }

    /// Removes an upload's parts.
    pub async fn remove(&self, upload: Uuid) -> Result<(), StagingError> {
        match tokio::fs::remove_dir_all(self.upload_dir(upload)).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
            _ => Ok(()),
        }
    }

    /// Directories of uploads not in `known` (a crash between creating a
    /// directory and its row, or a row swept): for the sweep.
    pub async fn orphans(
        &self,
        known: &(dyn Fn(Uuid) -> bool + Sync),
    ) -> Result<Vec<Uuid>, StagingError> {
        let mut orphans = Vec::new();
        let mut entries = match tokio::fs::read_dir(&self.root).await {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(orphans),
            Err(err) => return Err(err.into()),
        };
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            if let Some(id) = name.to_str().and_then(|name| Uuid::try_parse(name).ok())
                && !known(id)
            {
                orphans.push(id);
            }
        }
        Ok(orphans)
    }

    /// The upload's plaintext, `0..length`, read back part by part. A part
    /// missing or damaged ends the stream with an error.
    pub fn read(
        &self,
        seal: UploadSeal,
        length: u64,
    ) -> LocalBoxStream<'static, Result<Bytes, PayloadError>> {
        let dir = self.clone();
        let state = Reading {
            dir,
            seal,
            length,
            offset: 0,
            file: None,
        };
        futures_util::stream::unfold(state, |mut state| async move {
            match state.next().await {
                Ok(Some(chunk)) => Some((Ok(chunk), state)),
                Ok(None) => None,
                Err(err) => {
                    // Nothing more after an error.
                    state.offset = state.length;
                    Some((
                        Err(PayloadError::Io(std::io::Error::other(err.to_string()))),
                        state,
                    ))
                }
            }
        })
        // A body is polled again after it ended (as actix's payload allows).
        .fuse()
        .boxed_local()
    }
}

struct Reading {
    dir: StagingDir,
    seal: UploadSeal,
    length: u64,
    offset: u64,
    file: Option<BufReader<tokio::fs::File>>,
}

impl Reading {
    async fn next(&mut self) -> Result<Option<Bytes>, StagingError> {
        loop {
            if self.offset >= self.length {
                return Ok(None);
            }
            let file = match &mut self.file {
                Some(file) => file,
                None => {
                    let path = self.dir.part_path(self.seal.upload, self.offset);
                    let file = tokio::fs::File::open(path).await?;
                    self.file.insert(BufReader::with_capacity(IO_BUFFER, file))
                }
            };
            let mut length = [0u8; 4];
            match file.read_exact(&mut length).await {
                Ok(_) => {}
                // The part ended: the next one starts where it stopped.
                Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.file = None;
                    continue;
                }
                Err(err) => return Err(err.into()),
            }
            let length = u32::from_le_bytes(length) as usize;
            if length > NONCE_LEN + FRAME + TAG_LEN {
                return Err(StagingError::Open);
            }
            let mut sealed = vec![0u8; length];
            file.read_exact(&mut sealed).await?;
            let plain = open(
                &self.seal.key,
                &aad(self.seal.upload, b"part", self.offset),
                &sealed,
            )?;
            self.offset += plain.len() as u64;
            return Ok(Some(Bytes::from(plain)));
        }
    }
}

/// One PATCH's bytes going to disk.
pub struct PartWriter {
    file: BufWriter<tokio::fs::File>,
    temporary: PathBuf,
    path: PathBuf,
    upload: Uuid,
    start: u64,
    /// Offset of the next byte.
    next: u64,
}

impl PartWriter {
    pub async fn write(&mut self, seal: &UploadSeal, chunk: &[u8]) -> Result<(), StagingError> {
        for piece in chunk.chunks(FRAME) {
            let sealed = seal.seal_frame(self.upload, self.next, piece)?;
            let length = u32::try_from(sealed.len()).map_err(|_| StagingError::Open)?;
            self.file.write_all(&length.to_le_bytes()).await?;
            self.file.write_all(&sealed).await?;
            self.next += piece.len() as u64;
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.next - self.start
    }

    /// Makes the part durable under its real name.
    pub async fn commit(mut self) -> Result<u64, StagingError> {
        self.file.flush().await?;
        self.file.get_ref().sync_all().await?;
        tokio::fs::rename(&self.temporary, &self.path).await?;
        Ok(self.next)
    }

    pub async fn discard(self) {
        drop(self.file);
        let _ = tokio::fs::remove_file(&self.temporary).await;
    }
}

impl UploadSeal {
    fn seal_frame(&self, upload: Uuid, offset: u64, plain: &[u8]) -> Result<Vec<u8>, StagingError> {
        seal(&self.key, &aad(upload, b"part", offset), plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parts_read_back_whole_and_hold_no_plaintext() {
        let dir = tempfile::tempdir().expect("tempdir");
        let staging = StagingDir::new(dir.path());
        let keys = StagingKeys::derive(&[7; 32]);
        let upload = Uuid::new_v4();
        let (seal, wrapped) = keys.new_upload(upload).expect("key");
        let audio: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut offset = 0u64;
        for part in audio.chunks(100_001) {
            let mut writer = staging.start_part(upload, offset).await.expect("part");
            writer.write(&seal, part).await.expect("write");
            offset = writer.commit().await.expect("commit");
        }
        for entry in std::fs::read_dir(dir.path().join(upload.simple().to_string())).expect("dir") {
            let bytes = std::fs::read(entry.expect("entry").path()).expect("part");
            assert!(!bytes.windows(32).any(|w| w == &audio[1000..1032]));
        }
        let reopened = keys.open_upload(upload, &wrapped).expect("reopen");
        let read: Vec<u8> = staging
            .read(reopened, audio.len() as u64)
            .map(|chunk| chunk.expect("chunk").to_vec())
            .concat()
            .await;
        assert_eq!(read, audio);
        // Another upload's id doesn't open the key.
        assert!(keys.open_upload(Uuid::new_v4(), &wrapped).is_err());
    }
}
