//! Checks on what callers send, before anything is written or read. Each
//! returns the value in the shape the database keeps, or an `InvalidInput`
//! error naming the field (never echoing its value: it may be personal).

use std::collections::BTreeMap;

use callvault_contracts::lifecycle_api::RetentionMatch;
use callvault_contracts::metadata_api::{ApiError, ApiResult};

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

/// The areas of IANA zone names (`Area/Location`), so a typo such as
/// `Asai/Tokyo` or a bare offset is refused without shipping a tz database.
const IANA_AREAS: [&str; 11] = [
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Etc",
    "Europe",
    "Indian",
    "Pacific",
];

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

/// `UTC`, or `Area/Location[/Sub]` with a known IANA area.
pub(crate) fn time_zone(raw: &str) -> ApiResult<String> {
    let zone = raw.trim();
    if zone == "UTC" {
        return Ok(zone.to_string());
    }
    let invalid = || ApiError::invalid("time_zone must be an IANA zone such as Asia/Tokyo");
    let mut parts = zone.split('/');
    let area = parts.next().ok_or_else(invalid)?;
    if !IANA_AREAS.contains(&area) {
        return Err(invalid());
    }
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() || rest.len() > 2 {
        return Err(invalid());
    }
    let well_formed = rest.iter().all(|part| {
        part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && part.len() <= 30
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
    });
    if !well_formed {
        return Err(invalid());
    }
    Ok(zone.to_string())
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

/// Durations are unsigned in the API and signed in the database.
pub(crate) fn duration_ms(ms: Option<u64>, field: &str) -> ApiResult<Option<i64>> {
    ms.map(|ms| i64::try_from(ms).map_err(|_| ApiError::invalid(format!("{field} is too large"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones() {
        for ok in [
            "UTC",
            "Asia/Tokyo",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+9",
            "America/Port-au-Prince",
        ] {
            assert!(time_zone(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "utc",
            "Tokyo",
            "Asai/Tokyo",
            "Asia/",
            "/Tokyo",
            "+09:00",
            "Asia/To kyo",
            "Asia/Tokyo/A/B",
        ] {
            assert!(time_zone(bad).is_err(), "{bad}");
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
