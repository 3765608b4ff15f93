//! Checks on what callers send, before anything is written or read. Each
//! returns the value in the shape the database keeps, or an `InvalidInput`
//! error naming the field (never echoing its value: it may be personal).

use std::collections::BTreeMap;

use callvault_contracts::lifecycle_api::RetentionMatch;
use callvault_contracts::metadata_api::{ApiError, ApiResult};

use crate::phone::{self, IndexKey, Region};

pub(crate) const MAX_NAME_CHARS: usize = 200;
const MAX_SUBJECT_CHARS: usize = 255;
const MAX_RETENTION_DAYS: u32 = 36_500;
pub(crate) const MAX_PAGE_SIZE: u32 = 100;
const MAX_FILTER_TAGS: usize = 20;
const MAX_RULE_NAME_CHARS: usize = 100;
/// Tags and attributes a retention rule may require, each.
const MAX_RULE_CONDITIONS: usize = 20;
/// Bytes of a rule's queue, tag, attribute key or value: they are compared
/// with call fields, never shown at length.
const MAX_RULE_TEXT_BYTES: usize = 100;
const MAX_REASON_CHARS: usize = 500;
const MAX_LEGAL_BASIS_CHARS: usize = 500;

/// A display name: trimmed, 1..=200 characters, no control characters.
pub(crate) fn name(raw: &str, field: &str) -> ApiResult<String> {
    text(raw, field, MAX_NAME_CHARS)
}

/// An identity provider subject (or an email in embedded mode).
pub(crate) fn subject(raw: &str) -> ApiResult<String> {
    text(raw, "subject", MAX_SUBJECT_CHARS)
}

fn text(raw: &str, field: &str, max: usize) -> ApiResult<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ApiError::invalid(format!("{field} must not be empty")));
    }
    if trimmed.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(trimmed.to_string())
}

/// A zone of the IANA tz database (`Asia/Tokyo`, `UTC`), by its exact
/// name: a typo such as `Asai/Tokyo`, a made-up `Asia/Atlantis` or a bare
/// offset is refused, since tenant-local periods and deadlines are computed
/// in it.
pub(crate) fn time_zone(raw: &str) -> ApiResult<String> {
    let zone = raw.trim();
    if zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::invalid(
            "time_zone must be an IANA time zone such as Asia/Tokyo",
        ));
    }
    Ok(zone.to_string())
}

/// The tenant's default phone region: the one given (an ISO 3166 alpha-2
/// code with a numbering plan, such as `JP`), else its time zone's country,
/// else none (then only numbers with a country code are numbers).
pub(crate) fn default_region(raw: Option<&str>, time_zone: &str) -> ApiResult<Option<Region>> {
    match raw {
        Some(code) => Region::parse(code).map(Some).ok_or_else(|| {
            ApiError::invalid("default_region must be an ISO 3166 alpha-2 country code such as JP")
        }),
        None => Ok(Region::from_time_zone(time_zone)),
    }
}

/// A stored region, as written by [`default_region`]. One that no longer
/// parses (a hand-edited row) is treated as none rather than failing every
/// search: numbers with a country code still work.
pub(crate) fn stored_region(raw: Option<&str>) -> Option<Region> {
    let region = raw.and_then(Region::parse);
    if raw.is_some() && region.is_none() {
        tracing::warn!("tenant default_region is not a known region, ignored");
    }
    region
}

/// A phone number to search or hold by, as the key of its blind index.
pub(crate) fn phone_search_key(raw: &str, region: Option<Region>) -> ApiResult<IndexKey> {
    phone::search_key(raw, region).map_err(|err| ApiError::invalid(err.to_string()))
}

pub(crate) fn retention_days(days: u32) -> ApiResult<i32> {
    days_in_range(days, "default_retention_days")
}

/// A retention period: 1..=36500 days (100 years).
pub(crate) fn days_in_range(days: u32, field: &str) -> ApiResult<i32> {
    if !(1..=MAX_RETENTION_DAYS).contains(&days) {
        return Err(ApiError::invalid(format!(
            "{field} must be between 1 and {MAX_RETENTION_DAYS}"
        )));
    }
    i32::try_from(days).map_err(|_| ApiError::invalid(format!("{field} is too large")))
}

/// A retention rule's name: trimmed, 1..=100 characters.
pub(crate) fn rule_name(raw: &str) -> ApiResult<String> {
    text(raw, "name", MAX_RULE_NAME_CHARS)
}

/// A retention rule's conditions, trimmed (as ingest trims tags), with
/// duplicate tags removed.
pub(crate) fn retention_match(raw: &RetentionMatch) -> ApiResult<RetentionMatch> {
    if raw.tags.len() > MAX_RULE_CONDITIONS {
        return Err(ApiError::invalid(format!(
            "a rule can require at most {MAX_RULE_CONDITIONS} tags"
        )));
    }
    if raw.attributes.len() > MAX_RULE_CONDITIONS {
        return Err(ApiError::invalid(format!(
            "a rule can require at most {MAX_RULE_CONDITIONS} attributes"
        )));
    }
    let queue = raw
        .queue
        .as_deref()
        .map(|queue| rule_text(queue, "matches.queue", false))
        .transpose()?;
    let mut tags: Vec<String> = Vec::with_capacity(raw.tags.len());
    for tag in &raw.tags {
        let tag = rule_text(tag, "matches.tags", false)?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let mut attributes = BTreeMap::new();
    for (key, value) in &raw.attributes {
        // Attributes are compared exactly as the recorder sent them.
        let key = rule_text(key, "matches.attributes key", true)?;
        let value = rule_text(value, "matches.attributes value", true)?;
        attributes.insert(key, value);
    }
    Ok(RetentionMatch {
        queue,
        direction: raw.direction,
        tags,
        attributes,
    })
}

/// Non-empty, at most 100 bytes, no control characters; trimmed unless
/// `exact`.
fn rule_text(raw: &str, field: &str, exact: bool) -> ApiResult<String> {
    let value = if exact { raw } else { raw.trim() };
    if value.trim().is_empty() {
        return Err(ApiError::invalid(format!("{field} must not be empty")));
    }
    if value.len() > MAX_RULE_TEXT_BYTES {
        return Err(ApiError::invalid(format!(
            "{field} must be at most {MAX_RULE_TEXT_BYTES} bytes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(value.to_string())
}

/// A statutory rule's legal basis (e.g. "MiFID II art. 16(7)"): trimmed,
/// 1 to 500 characters, line breaks allowed, no other control characters.
pub(crate) fn legal_basis(raw: Option<&str>) -> ApiResult<Option<String>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let basis = raw.trim();
    if basis.is_empty() {
        return Err(ApiError::invalid(
            "legal_basis must not be empty when given (omit it for a rule that is not statutory)",
        ));
    }
    if basis.chars().count() > MAX_LEGAL_BASIS_CHARS {
        return Err(ApiError::invalid(format!(
            "legal_basis must be at most {MAX_LEGAL_BASIS_CHARS} characters"
        )));
    }
    if basis
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::invalid(
            "legal_basis must not contain control characters",
        ));
    }
    Ok(Some(basis.to_string()))
}

/// Why someone plays a recording: trimmed, at most 500 characters; blank
/// is no reason.
pub(crate) fn reason(raw: Option<&str>) -> ApiResult<Option<String>> {
    let Some(reason) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::invalid(format!(
            "reason must be at most {MAX_REASON_CHARS} characters"
        )));
    }
    // Line breaks are allowed in a free-text reason; other control
    // characters would only garble the trail's display.
    if reason
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid(
            "reason must not contain control characters",
        ));
    }
    Ok(Some(reason.to_string()))
}

pub(crate) fn page_size(first: u32) -> ApiResult<u64> {
    if !(1..=MAX_PAGE_SIZE).contains(&first) {
        return Err(ApiError::invalid(format!(
            "first must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    Ok(u64::from(first))
}

/// A call id to look up, as recorders send it.
pub(crate) fn external_call_id(raw: &str) -> ApiResult<String> {
    text(
        raw,
        "external_call_id",
        callvault_contracts::call::MAX_CALL_ID_CHARS,
    )
}

/// A filter value that must not be blank when given (agent, queue).
pub(crate) fn filter_text(raw: Option<&String>, field: &str) -> ApiResult<Option<String>> {
    raw.map(|value| text(value, field, MAX_NAME_CHARS))
        .transpose()
}

pub(crate) fn filter_tags(tags: &[String]) -> ApiResult<Vec<String>> {
    if tags.len() > MAX_FILTER_TAGS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_FILTER_TAGS} tags can be filtered on"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = text(tag, "tag", MAX_NAME_CHARS)?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// Custom attributes a search or a case hold filters on: at most as many
/// as a call carries, keys and values as ingestion accepts them (compared
/// exactly, so not trimmed).
pub(crate) fn filter_attributes(
    attributes: &BTreeMap<String, String>,
) -> ApiResult<BTreeMap<String, String>> {
    // Ingestion's limits on a call's attributes: a longer filter can match
    // nothing.
    const MAX_ATTRIBUTES: usize = 20;
    const MAX_ATTRIBUTE_KEY_CHARS: usize = 64;
    const MAX_ATTRIBUTE_VALUE_CHARS: usize = 128;
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(ApiError::invalid(format!(
            "at most {MAX_ATTRIBUTES} attributes can be filtered on"
        )));
    }
    for (key, value) in attributes {
        if key.is_empty() || key.chars().count() > MAX_ATTRIBUTE_KEY_CHARS {
            return Err(ApiError::invalid(format!(
                "an attribute key is 1 to {MAX_ATTRIBUTE_KEY_CHARS} characters"
            )));
        }
        if value.chars().count() > MAX_ATTRIBUTE_VALUE_CHARS {
            return Err(ApiError::invalid(format!(
                "an attribute value is at most {MAX_ATTRIBUTE_VALUE_CHARS} characters"
            )));
        }
        if key.chars().chain(value.chars()).any(char::is_control) {
            return Err(ApiError::invalid(
                "attribute keys and values must not contain control characters",
            ));
        }
    }
    Ok(attributes.clone())
}

/// Durations are unsigned in the API and signed in the database.
pub(crate) fn duration_ms(ms: Option<u64>, field: &str) -> ApiResult<Option<i64>> {
    ms.map(|ms| i64::try_from(ms).map_err(|_| ApiError::invalid(format!("{field} is too large"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use callvault_contracts::metadata_api::ErrorCode;

    use super::*;

    #[test]
    fn time_zones() {
        for ok in [
            "UTC",
            "Asia/Tokyo",
            " Europe/Paris ",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+9",
            "America/Port-au-Prince",
        ] {
            assert_eq!(time_zone(ok).ok().as_deref(), Some(ok.trim()), "{ok}");
        }
        for bad in [
            "",
            "utc",
            "Tokyo",
            "Asai/Tokyo",
            "Asia/Atlantis",
            "Europe/Springfield",
            "Asia/",
            "/Tokyo",
            "+09:00",
            "Asia/To kyo",
            "Asia/Tokyo/A/B",
        ] {
            let err = time_zone(bad).err().map(|e| e.code);
            assert_eq!(err, Some(ErrorCode::InvalidInput), "{bad}");
        }
    }

    #[test]
    fn default_regions() {
        let region = |raw: Option<&str>, zone: &str| {
            default_region(raw, zone).map(|r| r.map(|r| r.to_string()))
        };
        assert_eq!(region(None, "Asia/Tokyo"), Ok(Some("JP".into())));
        assert_eq!(region(None, "UTC"), Ok(None));
        assert_eq!(region(Some("fr"), "Asia/Tokyo"), Ok(Some("FR".into())));
        for bad in ["", "XX", "Japan", "J"] {
            let err = region(Some(bad), "Asia/Tokyo").err().map(|e| e.code);
            assert_eq!(err, Some(ErrorCode::InvalidInput), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("  Acme  ", "name").ok().as_deref(), Some("Acme"));
        assert!(name("   ", "name").is_err());
        assert!(name(&"x".repeat(201), "name").is_err());
        assert!(name(&"日".repeat(200), "name").is_ok());
        assert!(name("a\u{0}b", "name").is_err());
    }
}
