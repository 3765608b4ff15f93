//! `GET /v1/objects?before=…&after=…&limit=…&exp=…&sig=…`: one page of the
//! stored objects of every tenant created before a cutoff, oldest first, for
//! ingestion's reconciler (another process in the distributed mode).
//!
//! `before` is unix seconds or RFC 3339 (`2026-01-02T03:04:05.123456Z`);
//! `after` is the `next` cursor of the previous page; `limit` is 1 to
//! [`MAX_LIMIT`] ([`DEFAULT_LIMIT`] when absent). The answer is
//! `{"objects": [{"tenant_id", "recording_id", "created_at"}], "next"}`,
//! `next` being null on the last page.
//!
//! The URL is signed for `Operation::Reconcile` over the listing's own
//! parameters (tenant `*`, recording field `"<before µs>|<after>|<limit>"`),
//! so it lists exactly that page: no upload, playback or discard URL can
//! list, and a listing URL can neither read, write nor delete a recording.
//! The answer carries ids and times only.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use callvault_auth::signed_url::{Grant, Operation, UrlSigner};
use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::records::ListedRecord;
use crate::upload::{Refusal, UploadState, storage_error, verify};

/// Objects per page when the URL does not say.
pub const DEFAULT_LIMIT: u32 = 500;
/// The most objects one page may ask for.
pub const MAX_LIMIT: u32 = 1000;

/// One stored object, as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedObject {
    pub tenant_id: TenantId,
    pub recording_id: RecordingId,
    pub created_at: DateTime<Utc>,
}

/// The 200 answer to a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectListing {
    pub objects: Vec<ListedObject>,
    /// The `after` of the next page; `None` on the last one.
    pub next: Option<String>,
}

/// The keyset position after `record`, as the `after` parameter carries it:
/// `"<created_at in unix µs>_<tenant>_<recording>"`.
pub fn cursor(record: &ListedRecord) -> String {
    format!(
        "{}_{}_{}",
        record.created_at.timestamp_micros(),
        record.tenant_id,
        record.recording_id
    )
}

fn parse_cursor(text: &str) -> Option<ListedRecord> {
    let mut parts = text.splitn(3, '_');
    let micros: i64 = parts.next()?.parse().ok()?;
    let tenant_id = parts.next()?.parse().ok()?;
    let recording_id = parts.next()?.parse().ok()?;
    Some(ListedRecord {
        created_at: DateTime::from_timestamp_micros(micros)?,
        tenant_id,
        recording_id,
    })
}

fn parse_before(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(secs) = text.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0);
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// The grant over a listing's parameters. Both sides build it from parsed
/// values, so `before=1700000000` and its RFC 3339 spelling sign the same.
pub(crate) fn list_grant(
    before: DateTime<Utc>,
    after: Option<&ListedRecord>,
    limit: u32,
    expires_at: u64,
) -> Grant {
    Grant {
        operation: Operation::Reconcile,
        tenant: "*".to_owned(),
        recording: format!(
            "{}|{}|{limit}",
            before.timestamp_micros(),
            after.map(cursor).unwrap_or_default()
        ),
        expires_at,
    }
}

/// The path (with query) of a signed listing URL. Clients build it with this
/// function (or a copy checked against it), never by hand. `before` is kept
/// to the microsecond, the precision of the records.
pub fn list_path(
    signer: &UrlSigner,
    before: DateTime<Utc>,
    after: Option<&ListedRecord>,
    limit: u32,
    expires_at: u64,
) -> String {
    let before = before.trunc_subsecs(6);
    let grant = list_grant(before, after, limit, expires_at);
    let before_text: String = form_urlencoded::byte_serialize(
        before
            .to_rfc3339_opts(SecondsFormat::Micros, true)
            .as_bytes(),
    )
    .collect();
    let after = after
        .map(|record| format!("&after={}", cursor(record)))
        .unwrap_or_default();
    format!(
        "/v1/objects?before={before_text}{after}&limit={limit}&{}",
        signer.query(&grant)
    )
}

/// Text fields, so a malformed value gets this endpoint's JSON answer
/// rather than the framework's.
#[derive(Deserialize)]
struct ListQuery {
    before: Option<String>,
    after: Option<String>,
    limit: Option<String>,
    exp: Option<String>,
    sig: Option<String>,
}

pub(crate) struct Listing {
    pub(crate) before: DateTime<Utc>,
    pub(crate) after: Option<ListedRecord>,
    pub(crate) limit: u32,
    pub(crate) expires_at: u64,
    pub(crate) signature: String,
}

fn bad_query(code: &'static str, message: &'static str) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, code, message)
}

pub(crate) fn parse(request: &HttpRequest) -> Result<Listing, Refusal> {
    let Ok(query) = web::Query::<ListQuery>::from_query(request.query_string()) else {
        return Err(bad_query("invalid_query", "the listing query is malformed"));
    };
    let ListQuery {
        before,
        after,
        limit,
        exp,
        sig,
    } = query.into_inner();
    let (Some(exp), Some(signature)) = (exp, sig) else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "unsigned_url",
            "object urls must be signed",
        ));
    };
    let Ok(expires_at) = exp.parse::<u64>() else {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "invalid_signature",
            "the object url is malformed",
        ));
    };
    let Some(before) = before else {
        return Err(bad_query(
            "missing_before",
            "a listing needs a before cutoff",
        ));
    };
    let Some(before) = parse_before(&before) else {
        return Err(bad_query(
            "invalid_before",
            "before must be unix seconds or an RFC 3339 time",
        ));
    };
    let after =
        match after.filter(|a| !a.is_empty()) {
            None => None,
            Some(text) => Some(parse_cursor(&text).ok_or_else(|| {
                bad_query("invalid_cursor", "after must be a cursor from a listing")
            })?),
        };
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| bad_query("invalid_limit", "limit must be between 1 and 1000"))?,
    };
    Ok(Listing {
        before,
        after,
        limit,
        expires_at,
        signature,
    })
}

pub(crate) async fn list(request: HttpRequest, state: web::Data<UploadState>) -> HttpResponse {
    let listing = match parse(&request) {
        Ok(listing) => listing,
        Err(refusal) => return refusal.response(),
    };
    let grant = list_grant(
        listing.before,
        listing.after.as_ref(),
        listing.limit,
        listing.expires_at,
    );
    if let Err(refusal) = verify(&state.signer, &grant, &listing.signature) {
        return refusal.response();
    }
    let page = match state
        .store
        .list_stored(listing.before, listing.after, listing.limit)
        .await
    {
        Ok(page) => page,
        Err(error) => return storage_error(&error),
    };
    let next = match page.last() {
        Some(last) if page.len() == listing.limit as usize => Some(cursor(last)),
        _ => None,
    };
    let objects = page
        .into_iter()
        .map(|record| ListedObject {
            tenant_id: record.tenant_id,
            recording_id: record.recording_id,
            created_at: record.created_at,
        })
        .collect();
    HttpResponse::Ok().json(ObjectListing { objects, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let record = ListedRecord {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("time"),
            tenant_id: TenantId::new(),
            recording_id: RecordingId::new(),
        };
        assert_eq!(parse_cursor(&cursor(&record)), Some(record));
        for bad in ["", "12", "x_y_z", "1_not-a-uuid_also-not"] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn both_spellings_of_before_sign_the_same() {
        let from_secs = parse_before("1700000000").expect("unix seconds");
        let from_text = parse_before("2023-11-14T22:13:20Z").expect("rfc 3339");
        assert_eq!(from_secs, from_text);
        assert_eq!(
            list_grant(from_secs, None, 10, 5),
            list_grant(from_text, None, 10, 5)
        );
        assert_eq!(parse_before("yesterday"), None);
    }
}
