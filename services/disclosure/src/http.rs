//! The bundle download: `GET /v1/disclosure/bundles/{tenant}/{bundle}` with
//! a signed, expiring URL the gateway handed out after recording the
//! download in the audit chain. The ZIP is decrypted as it streams.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::body::SizedStream;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use callvault_auth::signed_url::{Grant, Operation, UrlError, UrlSigner};
use callvault_contracts::TenantId;
use callvault_contracts::metadata_api::ErrorCode;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::DisclosureService;

pub struct DownloadState {
    pub service: Arc<DisclosureService>,
    pub signer: UrlSigner,
}

/// Mounts the download route.
pub fn configure(state: web::Data<DownloadState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config.app_data(state).service(
            web::resource("/v1/disclosure/bundles/{tenant}/{bundle}")
                .route(web::get().to(download)),
        );
    }
}

/// The path (with query) of a signed bundle URL.
pub fn bundle_path(signer: &UrlSigner, tenant: TenantId, bundle: Uuid, expires_at: u64) -> String {
    let grant = Grant {
        operation: Operation::Bundle,
        tenant: tenant.to_string(),
        recording: bundle.to_string(),
        expires_at,
    };
    format!(
        "/v1/disclosure/bundles/{tenant}/{bundle}?{}",
        signer.query(&grant)
    )
}

#[derive(Deserialize)]
struct Signature {
    exp: Option<String>,
    sig: Option<String>,
}

fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": { "code": code, "message": message } }))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn download(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<DownloadState>,
) -> HttpResponse {
    let (tenant_raw, bundle_raw) = path.into_inner();
    let (Ok(tenant), Ok(bundle)) = (tenant_raw.parse::<TenantId>(), bundle_raw.parse::<Uuid>())
    else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            "tenant and bundle must be uuids",
        );
    };
    let query = web::Query::<Signature>::from_query(request.query_string()).ok();
    let (Some(expires_at), Some(signature)) = (
        query.as_ref().and_then(|q| q.exp.as_deref()),
        query.as_ref().and_then(|q| q.sig.as_deref()),
    ) else {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "unsigned_url",
            "bundle urls must be signed",
        );
    };
    let Ok(expires_at) = expires_at.parse::<u64>() else {
        return json_error(
            StatusCode::FORBIDDEN,
            "invalid_signature",
            "the bundle url signature is invalid",
        );
    };
    let grant = Grant {
        operation: Operation::Bundle,
        tenant: tenant.to_string(),
        recording: bundle.to_string(),
        expires_at,
    };
    match state.signer.verify(&grant, signature, now()) {
        Ok(()) => {}
        Err(UrlError::Expired) => {
            return json_error(
                StatusCode::FORBIDDEN,
                "url_expired",
                "the bundle url has expired",
            );
        }
        Err(UrlError::BadSignature | UrlError::Malformed(_)) => {
            return json_error(
                StatusCode::FORBIDDEN,
                "invalid_signature",
                "the bundle url signature is invalid",
            );
        }
    }
    match state.service.open_bundle(tenant, bundle).await {
        Ok(opened) => HttpResponse::Ok()
            .content_type("application/zip")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", opened.file_name),
            ))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(SizedStream::new(opened.size, opened.body)),
        Err(err) => {
            let (status, code) = match err.code {
                ErrorCode::NotFound => (StatusCode::NOT_FOUND, "not_found"),
                ErrorCode::Conflict => (StatusCode::GONE, "bundle_gone"),
                ErrorCode::TenantKeyUnusable => (StatusCode::FORBIDDEN, "tenant_key_unusable"),
                _ => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            };
            json_error(status, code, &err.message)
        }
    }
}
