//! Phone numbers in the form the blind index is computed over.
//!
//! Recorders send numbers the way the PBX shows them: `03-1234-5678` from
//! a Tokyo site, `+81312345678` from a SIP trunk. Both are the same line,
//! so both must give the same index: a number that `phonenumber`
//! (libphonenumber's metadata) finds valid, read in the tenant's default
//! region when it has no country code, is indexed as its E.164 form.
//!
//! A number that isn't a valid one (an extension such as `100`, a short
//! code, a number the PBX mangled) is still catalogued, never refused: a
//! recording missing from the catalogue is worse than one that can't be
//! found by its number. It is indexed over its dialled form, '+' and
//! digits, exactly as before E.164 existed here: a legal hold placed on it
//! then keeps covering it, and it only meets an E.164 form when its digits
//! are that very number.
//!
//! A number someone searches (or holds) by must be a valid number, or a
//! short dial string (an extension): anything else is refused with a
//! reason, rather than quietly matching nothing.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use phonenumber::country::Id;
use phonenumber::{Mode, metadata::DATABASE};

/// Longest number looked at: E.164 has at most 15 digits, so this leaves
/// room for any punctuation and bounds the parser's work on junk input.
const MAX_NUMBER_CHARS: usize = 64;

/// Longest dial string searched for without being a valid number: internal
/// extensions and service codes are a few digits.
const MAX_SHORT_DIGITS: usize = 6;

/// The IANA zone table (zone → ISO 3166 country), compiled in.
const ZONE_TAB: &str = include_str!("../data/zone.tab");

static ZONE_COUNTRY: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    ZONE_TAB
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let mut columns = line.split('\t');
            let country = columns.next()?;
            let zone = columns.nth(1)?;
            Some((zone, country))
        })
        .collect()
});

/// A tenant's default phone region: an ISO 3166 alpha-2 code that
/// libphonenumber has numbering metadata for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Region(Id);

impl Region {
    /// `JP` (or `jp`); `None` for anything that isn't a region with a
    /// numbering plan.
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let id = Id::from_str(&code).ok()?;
        DATABASE.by_id(id.as_ref())?;
        Some(Self(id))
    }

    /// The region of a zone's country, from the IANA zone table
    /// (`Asia/Tokyo` → JP). `None` for zones that name no country (`UTC`,
    /// `Etc/GMT+9`) and for old link names the table doesn't list
    /// (`Japan`, `US/Eastern`).
    pub(crate) fn from_time_zone(zone: &str) -> Option<Self> {
        ZONE_COUNTRY
            .get(zone.trim())
            .and_then(|country| Self::parse(country))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_ref())
    }
}

/// What the blind index of a number is computed over. Only built here, so
/// a raw number can't reach the index by mistake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IndexKey {
    text: String,
    e164: bool,
}

impl IndexKey {
    fn e164(text: String) -> Self {
        Self { text, e164: true }
    }

    fn dialled(text: String) -> Self {
        Self { text, e164: false }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// Whether the number was a valid one (else it is its dialled form).
    pub(crate) fn is_e164(&self) -> bool {
        self.e164
    }

    /// The text indexed: the E.164 form, or a short dial string's digits.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }
}

/// Why a number can't be searched by. The messages name the field, never
/// the value.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SearchNumberError {
    #[error("phone_number must contain digits")]
    NoDigits,
    #[error("phone_number must be at most {MAX_NUMBER_CHARS} characters")]
    TooLong,
    #[error(
        "phone_number is not a valid number in the tenant's default region ({0}): check it, or give it with its country code (+…)"
    )]
    InvalidInRegion(Region),
    #[error(
        "phone_number must be a valid number with its country code (+…): the tenant has no default region"
    )]
    InvalidWithoutRegion,
}

/// The key a stored number is indexed under: E.164 when it is a valid
/// number, its dialled form otherwise; `None` without digits (a withheld
/// caller is not searchable, and must not match every other one).
pub(crate) fn index_key(raw: &str, region: Option<Region>) -> Option<IndexKey> {
    let dialled = dialled_form(raw)?;
    Some(e164(raw, region).unwrap_or(IndexKey::dialled(dialled)))
}

/// The key the code before E.164 computed: the dialled form of every
/// number (for migrating back down).
pub(crate) fn dialled_key(raw: &str) -> Option<IndexKey> {
    dialled_form(raw).map(IndexKey::dialled)
}

/// The key to search (or hold) by: a valid number's E.164 form, or a short
/// dial string's digits; anything else is refused.
pub(crate) fn search_key(raw: &str, region: Option<Region>) -> Result<IndexKey, SearchNumberError> {
    let raw = raw.trim();
    if raw.chars().count() > MAX_NUMBER_CHARS {
        return Err(SearchNumberError::TooLong);
    }
    let Some(dialled) = dialled_form(raw) else {
        return Err(SearchNumberError::NoDigits);
    };
    if let Some(key) = e164(raw, region) {
        return Ok(key);
    }
    let short = !dialled.starts_with('+')
        && dialled.len() <= MAX_SHORT_DIGITS
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'));
    if short {
        return Ok(IndexKey::dialled(dialled));
    }
    Err(match region {
        Some(region) => SearchNumberError::InvalidInRegion(region),
        None => SearchNumberError::InvalidWithoutRegion,
    })
}

/// The E.164 form of a valid number, read in `region` when it has no
/// country code.
fn e164(raw: &str, region: Option<Region>) -> Option<IndexKey> {
    if raw.chars().count() > MAX_NUMBER_CHARS {
        return None;
    }
    let number = phonenumber::parse(region.map(|r| r.0), raw.trim()).ok()?;
    if !phonenumber::is_valid(&number) {
        return None;
    }
    Some(IndexKey::e164(number.format().mode(Mode::E164).to_string()))
}

/// A leading '+' and the digits: the index form before E.164 (so indexes
/// of numbers that aren't valid ones are unchanged). `None` without digits.
fn dialled_form(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let mut out = String::with_capacity(trimmed.len());
    if trimmed.starts_with('+') {
        out.push('+');
    }
    out.extend(trimmed.chars().filter(char::is_ascii_digit));
    if !out.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jp() -> Option<Region> {
        Region::parse("JP")
    }

    fn key(raw: &str, region: Option<Region>) -> Option<String> {
        index_key(raw, region).map(|k| k.as_str().to_string())
    }

    #[test]
    fn national_and_international_forms_meet_in_e164() {
        for raw in [
            "03-1234-5678",
            "0312345678",
            "(03) 1234 5678",
            "+81312345678",
            "+81 3-1234-5678",
            "+81 (0)3 1234 5678",
        ] {
            assert_eq!(key(raw, jp()).as_deref(), Some("+81312345678"), "{raw}");
            assert_eq!(
                search_key(raw, jp()).map(|k| k.as_str().to_string()),
                Ok("+81312345678".to_string()),
                "{raw}"
            );
        }
        // Without a region only the international form is a number.
        assert_eq!(key("+81312345678", None).as_deref(), Some("+81312345678"));
        assert_eq!(key("03-1234-5678", None).as_deref(), Some("0312345678"));
        assert_eq!(
            search_key("03-1234-5678", None),
            Err(SearchNumberError::InvalidWithoutRegion)
        );
        // The region only fills in a missing country code.
        let us = Region::parse("US");
        assert_eq!(key("+81312345678", us).as_deref(), Some("+81312345678"));
        assert_eq!(key("(201) 555-0123", us).as_deref(), Some("+12015550123"));
    }

    #[test]
    fn the_numbers_the_end_to_end_tests_search_are_valid() {
        for raw in [
            "+819011110000",
            "+815011112222",
            "+819012345678",
            "+81355550100",
            "+819099999999",
            "+819010000000",
            "+819033334444",
            "+819044440000",
        ] {
            assert!(index_key(raw, jp()).is_some_and(|k| k.is_e164()), "{raw}");
        }
    }

    #[test]
    fn numbers_that_are_not_valid_keep_their_dialled_form() {
        assert_eq!(key("100", jp()).as_deref(), Some("100"));
        assert_eq!(key("+1 555 0100", jp()).as_deref(), Some("+15550100"));
        assert_eq!(key("03-1234-567", jp()).as_deref(), Some("031234567"));
        assert_eq!(key("anonymous", jp()), None);
        assert_eq!(key("", jp()), None);
        assert_eq!(key("+", jp()), None);
    }

    #[test]
    fn searches_need_a_valid_number_or_a_short_dial_string() {
        assert_eq!(
            search_key(" 2001 ", jp()).map(|k| k.as_str().to_string()),
            Ok("2001".to_string())
        );
        assert_eq!(
            search_key("anonymous", jp()),
            Err(SearchNumberError::NoDigits)
        );
        assert_eq!(search_key("  ", jp()), Err(SearchNumberError::NoDigits));
        for bad in ["03-1234-567", "+1 555 0100", "+999 1234 5678", "1234567"] {
            assert!(
                matches!(
                    search_key(bad, jp()),
                    Err(SearchNumberError::InvalidInRegion(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            search_key(&"1".repeat(65), jp()),
            Err(SearchNumberError::TooLong)
        );
        // The message names the region and the field, not the number.
        let message = search_key("03-1234-567", jp())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("(JP)"), "{message}");
        assert!(!message.contains("1234"), "{message}");
    }

    #[test]
    fn regions_are_alpha_2_codes_with_a_numbering_plan() {
        assert_eq!(Region::parse("jp"), jp());
        assert_eq!(
            Region::parse(" FR ").map(|r| r.to_string()).as_deref(),
            Some("FR")
        );
        for bad in ["", "J", "JPN", "XX", "ZZ", "1P", "J P"] {
            assert_eq!(Region::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn regions_derive_from_time_zones() {
        let derived = |zone: &str| Region::from_time_zone(zone).map(|r| r.to_string());
        assert_eq!(derived("Asia/Tokyo").as_deref(), Some("JP"));
        assert_eq!(derived("Europe/Paris").as_deref(), Some("FR"));
        assert_eq!(derived("America/New_York").as_deref(), Some("US"));
        assert_eq!(
            derived("America/Argentina/Buenos_Aires").as_deref(),
            Some("AR")
        );
        assert_eq!(derived("Europe/London").as_deref(), Some("GB"));
        for none in ["UTC", "Etc/GMT+9", "Japan", "Asia/Atlantis"] {
            assert_eq!(derived(none), None, "{none}");
        }
    }
}
