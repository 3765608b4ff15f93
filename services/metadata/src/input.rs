//! Checks on what callers send, before anything is written or read. Each
//! returns the value in the shape the database keeps, or an `InvalidInput`
//! error naming the field (never echoing its value: it may be personal).

use callvault_contracts::metadata_api::{ApiError, ApiResult};

pub(crate) const MAX_NAME_CHARS: usize = 200;
const MAX_SUBJECT_CHARS: usize = 255;
const MAX_RETENTION_DAYS: u32 = 36_500;
pub(crate) const MAX_PAGE_SIZE: u32 = 100;
const MAX_FILTER_TAGS: usize = 20;

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
    if !(1..=MAX_RETENTION_DAYS).contains(&days) {
        return Err(ApiError::invalid(format!(
            "default_retention_days must be between 1 and {MAX_RETENTION_DAYS}"
        )));
    }
    i32::try_from(days).map_err(|_| ApiError::invalid("default_retention_days is too large"))
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
