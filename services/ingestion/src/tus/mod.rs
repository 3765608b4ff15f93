//! Resumable uploads: the tus 1.0 protocol (core, creation,
//! creation-with-upload, termination, expiration and checksum), for
//! recorders whose network drops mid-upload. docs/integrations.md §5.
//!
//! An upload is announced with its length and, in `Upload-Metadata`, its
//! call metadata (`call`, the same JSON as the `Callvault-Call` header) and
//! audio type (`filetype`). Its bytes arrive in PATCHes at the offset the
//! upload stands at, each sealed to disk as it arrives (`staging`) and
//! committed once synced, so a restarted process answers HEAD with every
//! byte it acknowledged. When the last byte is in, the staged parts are
//! read back and go through exactly the path a `POST /v1/recordings` body
//! takes: the recording policy, the idempotency claim, the probe, storage,
//! the outbox.
//!
//! `requests` checks the protocol's headers and answers each request;
//! `receiving` takes a request's bytes; `staging` seals them to disk;
//! `store` keeps each upload's row.

mod entity;
mod receiving;
mod requests;
mod staging;
mod store;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use actix_web::web;
use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use tracing::{info, warn};
use uuid::Uuid;

use crate::error::IngestError;
pub use staging::{StagingDir, StagingKeys};

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
const PATCH_CONTENT_TYPE: &str = "application/offset+octet-stream";
/// The response header naming the stored recording, once the last byte is
/// in (on that PATCH and on every HEAD after it).
pub const RECORDING_HEADER: &str = "callvault-recording-id";

/// The resumable uploads of one ingestion process.
pub struct Tus {
    dir: StagingDir,
    keys: StagingKeys,
    /// An upload left alone this long expires (each PATCH moves it).
    expiry: Duration,
    /// Uploads a request is writing now: one at a time each.
    busy: Mutex<HashSet<Uuid>>,
}

impl Tus {
    /// `dir` holds the staged parts (on the process's data directory);
    /// `root` derives their keys (`secrets.pii`).
    pub fn new(dir: impl Into<PathBuf>, root: &[u8; 32], expiry: Duration) -> Self {
        Tus {
            dir: StagingDir::new(dir),
            keys: StagingKeys::derive(root),
            expiry,
            busy: Mutex::default(),
        }
    }

    fn lock(&self, upload: Uuid) -> Result<Busy<'_>, IngestError> {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        if !busy.insert(upload) {
            return Err(IngestError::UploadLocked);
        }
        Ok(Busy { tus: self, upload })
    }

    fn expires_at(&self) -> chrono::DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.expiry).unwrap_or(chrono::Duration::days(1))
    }

    /// Removes expired uploads (rows and parts) and part directories no row
    /// knows: the sweep timer's pass. How many it removed.
    pub async fn sweep(&self, db: &DatabaseConnection) -> Result<usize, DbErr> {
        let mut removed = 0;
        loop {
            let expired = store::expired(db, Utc::now(), 100).await?;
            if expired.is_empty() {
                break;
            }
            for upload in expired {
                let Ok(_busy) = self.lock(upload) else {
                    continue;
                };
                if let Err(error) = self.dir.remove(upload).await {
                    warn!(%upload, %error, "could not remove an expired upload's parts");
                    continue;
                }
                store::delete(db, upload).await?;
                removed += 1;
            }
        }
        let known: HashSet<Uuid> = store::all_ids(db).await?.into_iter().collect();
        match self.dir.orphans(&|upload| known.contains(&upload)).await {
            Ok(orphans) => {
                for upload in orphans {
                    if self.dir.remove(upload).await.is_ok() {
                        removed += 1;
                    }
                }
            }
            Err(error) => warn!(%error, "could not list the staging directory"),
        }
        if removed > 0 {
            info!(removed, "expired resumable uploads removed");
        }
        Ok(removed)
    }
}

struct Busy<'a> {
    tus: &'a Tus,
    upload: Uuid,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.tus
            .busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.upload);
    }
}
/// Mounts the tus routes (only when the state has a [`Tus`]).
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/v1/uploads")
                .route(web::method(actix_web::http::Method::OPTIONS).to(requests::options))
                .route(web::post().to(requests::create)),
        )
        .service(
            web::resource("/v1/uploads/{id}")
                .route(web::head().to(requests::head))
                .route(web::patch().to(requests::patch))
                .route(web::delete().to(requests::terminate)),
        );
}

/// Marks an upload stored, in the transaction that commits its recording.
pub(crate) async fn finish_in<C: sea_orm::ConnectionTrait>(
    conn: &C,
    upload: Uuid,
    receipt: &str,
) -> Result<(), DbErr> {
    store::finish(conn, upload, receipt).await
}

fn internal(error: impl std::fmt::Display) -> IngestError {
    IngestError::Internal(format!("resumable upload: {error}"))
}

fn database(error: DbErr) -> IngestError {
    IngestError::Unavailable(format!("ingestion database: {error}"))
}
