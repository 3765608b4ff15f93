//! Inputs of data-subject requests and the cheap checks the gateway makes
//! before any call (non-empty reasons and texts, an extension of one or two
//! months, ordered date ranges), so bad input is refused with
//! BAD_USER_INPUT and changes nothing. Everything that needs the request or
//! the tenant (states, deadlines, spans against the recording, settings
//! ranges) the disclosure service checks.

use async_graphql::InputObject;
use callvault_contracts::disclosure_api as api;
use chrono::{DateTime, NaiveDate, Utc};

use super::disclosure_enums::{
    DisclosureMethod, DisclosureState, IntakeChannel, RedactionMode, Regime, RequestKind,
    SpanChannel,
};
use super::inputs::checked_name;
use super::lifecycle_inputs::checked_text;
use super::scalars::Int64;
use crate::error::bad_input;

type Result<T> = async_graphql::Result<T>;

/// The most phone numbers one request names.
const MAX_SUBJECT_NUMBERS: usize = 50;
/// A phone number as typed: digits, spaces, `+`, `-`, parentheses.
const MAX_NUMBER_LEN: usize = 64;
/// A contact detail (email address, phone number, postal address).
const MAX_CONTACT_LEN: usize = 500;
/// A refusal's text or complaint notice: a letter, not a book.
const MAX_LETTER_LEN: usize = 10_000;
/// The most spans one recording's redactions hold.
const MAX_SPANS: usize = 1000;

/// Who asked, and how to answer them. Personal data: sealed at rest,
/// never logged.
#[derive(InputObject)]
pub struct RequesterContactInput {
    /// The requester's name.
    pub name: String,
    /// Their email address.
    pub email: Option<String>,
    /// Their phone number.
    pub phone: Option<String>,
    /// Their postal address.
    pub postal_address: Option<String>,
}

/// Whose recordings: the subject's phone numbers, in a time range.
#[derive(InputObject)]
pub struct SubjectIdentifiersInput {
    /// The subject's numbers (1 to 50), in E.164 or in the tenant's
    /// national format.
    pub numbers: Vec<String>,
    /// Only recordings started at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only recordings started before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// A data-subject request as received.
#[derive(InputObject)]
pub struct CreateDisclosureRequestInput {
    /// What the subject asks for.
    pub kind: RequestKind,
    /// The law it is answered under; the tenant's default when null.
    pub regime: Option<Regime>,
    /// When the request reached the company: in the past or now, never in
    /// the future. The deadline runs from it.
    pub received_at: DateTime<Utc>,
    /// How it reached the company.
    pub channel: IntakeChannel,
    /// Who asked.
    pub requester: RequesterContactInput,
    /// Whose recordings.
    pub subject: SubjectIdentifiersInput,
    /// APPI: the method the requester chose (`ELECTRONIC` when null).
    pub method: Option<DisclosureMethod>,
}

impl CreateDisclosureRequestInput {
    pub(super) fn into_api(self) -> Result<api::NewDisclosureRequest> {
        let requester = api::RequesterContact {
            name: checked_name(&self.requester.name, "requester.name")?,
            email: contact(self.requester.email, "requester.email")?,
            phone: contact(self.requester.phone, "requester.phone")?,
            postal_address: contact(self.requester.postal_address, "requester.postalAddress")?,
        };
        let subject = self.subject;
        if subject.numbers.is_empty() || subject.numbers.len() > MAX_SUBJECT_NUMBERS {
            return Err(bad_input(format!(
                "subject.numbers must list 1 to {MAX_SUBJECT_NUMBERS} numbers"
            )));
        }
        let numbers = subject
            .numbers
            .iter()
            .map(|number| checked_number(number, "subject.numbers"))
            .collect::<Result<Vec<_>>>()?;
        if let (Some(from), Some(to)) = (subject.from, subject.to)
            && from > to
        {
            return Err(bad_input("subject.from must not be after subject.to"));
        }
        Ok(api::NewDisclosureRequest {
            kind: self.kind.into(),
            regime: self.regime.map(Into::into),
            received_at: self.received_at,
            channel: self.channel.into(),
            requester,
            subject: api::SubjectIdentifiers {
                numbers,
                from: subject.from,
                to: subject.to,
            },
            method: self.method.map(Into::into),
        })
    }
}

/// Which requests to list; every condition given must hold.
#[derive(InputObject, Default)]
pub struct DisclosureRequestFilter {
    /// In this state.
    pub state: Option<DisclosureState>,
    /// Of this kind.
    pub kind: Option<RequestKind>,
    /// Due on or before this day.
    pub due_before: Option<NaiveDate>,
    /// Overdue (true) or not (false).
    pub overdue: Option<bool>,
    /// About this phone number (matched through the blind index).
    pub number: Option<String>,
}

impl DisclosureRequestFilter {
    pub(super) fn into_api(self) -> Result<api::DisclosureFilter> {
        let number = self
            .number
            .map(|number| checked_number(&number, "filter.number"))
            .transpose()?;
        Ok(api::DisclosureFilter {
            state: self.state.map(Into::into),
            kind: self.kind.map(Into::into),
            due_before: self.due_before,
            overdue: self.overdue,
            number,
        })
    }
}

/// A span of a recording to redact, in milliseconds from its start.
#[derive(InputObject)]
pub struct RedactionSpanInput {
    /// The channel it silences.
    pub channel: SpanChannel,
    /// Where it starts, in ms from the recording's start.
    pub start_ms: Int64,
    /// Where it ends (exclusive), after `startMs`.
    pub end_ms: Int64,
    /// What replaces the audio.
    pub mode: RedactionMode,
}

/// The spans as the service takes them; each must end after it starts.
/// Whether they lie inside the recording, are ordered and don't overlap is
/// the service's check.
pub(super) fn redaction_spans(spans: Vec<RedactionSpanInput>) -> Result<Vec<api::RedactionSpan>> {
    if spans.len() > MAX_SPANS {
        return Err(bad_input(format!("spans must list at most {MAX_SPANS}")));
    }
    spans
        .into_iter()
        .map(|span| {
            if span.end_ms <= span.start_ms {
                return Err(bad_input("a span's endMs must be after its startMs"));
            }
            Ok(api::RedactionSpan {
                channel: span.channel.into(),
                start_ms: span.start_ms.0,
                end_ms: span.end_ms.0,
                mode: span.mode.into(),
            })
        })
        .collect()
}

/// A required reason: trimmed, 1 to 1000 bytes.
pub(super) fn required_reason(text: &str, field: &str) -> Result<String> {
    checked_text(text, field)
}

/// An optional reason: when given, as a required one.
pub(super) fn optional_reason(text: Option<String>, field: &str) -> Result<Option<String>> {
    text.map(|text| checked_text(&text, field)).transpose()
}

/// GDPR art. 12(3): a deadline is extended by one or two months.
pub(super) fn extension_months(months: i32) -> Result<u32> {
    if !(1..=2).contains(&months) {
        return Err(bad_input("months must be 1 or 2"));
    }
    Ok(months.unsigned_abs())
}

/// A register period: `from` on or before `to`.
pub(super) fn register_period(from: NaiveDate, to: NaiveDate) -> Result<(NaiveDate, NaiveDate)> {
    if from > to {
        return Err(bad_input("from must not be after to"));
    }
    Ok((from, to))
}

/// A letter's text (a refusal, its complaint notice): trimmed, 1 to 10000
/// bytes, line breaks allowed.
pub(super) fn letter(text: &str, field: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty()
        || text.len() > MAX_LETTER_LEN
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(bad_input(format!(
            "{field} must be 1 to {MAX_LETTER_LEN} bytes of text"
        )));
    }
    Ok(text.to_owned())
}

/// An optional contact detail: when given, non-empty printable text.
fn contact(text: Option<String>, field: &str) -> Result<Option<String>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let text = text.trim();
    if text.is_empty()
        || text.len() > MAX_CONTACT_LEN
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(bad_input(format!(
            "{field} must be 1 to {MAX_CONTACT_LEN} bytes of text when given"
        )));
    }
    Ok(Some(text.to_owned()))
}

/// A phone number as typed; the service parses it (E.164 with the
/// tenant's region). The message never repeats it: it is personal data.
fn checked_number(number: &str, field: &str) -> Result<String> {
    let number = number.trim();
    if number.is_empty() || number.len() > MAX_NUMBER_LEN || number.chars().any(char::is_control) {
        return Err(bad_input(format!(
            "{field} must be phone numbers of 1 to {MAX_NUMBER_LEN} bytes"
        )));
    }
    Ok(number.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_one_or_two_months() {
        assert_eq!(extension_months(1).ok(), Some(1));
        assert_eq!(extension_months(2).ok(), Some(2));
        for months in [-1, 0, 3, i32::MAX] {
            assert!(extension_months(months).is_err(), "{months}");
        }
    }

    #[test]
    fn a_register_period_is_ordered() {
        let day = |d| NaiveDate::from_ymd_opt(2025, 1, d).expect("date");
        assert!(register_period(day(1), day(1)).is_ok());
        assert!(register_period(day(1), day(31)).is_ok());
        assert!(register_period(day(2), day(1)).is_err());
    }

    #[test]
    fn reasons_and_letters_are_not_blank() {
        assert!(required_reason("  ", "reason").is_err());
        assert_eq!(
            required_reason(" ok ", "reason").ok().as_deref(),
            Some("ok")
        );
        assert!(optional_reason(None, "reason").is_ok_and(|r| r.is_none()));
        assert!(optional_reason(Some(String::new()), "reason").is_err());
        assert!(letter("", "text").is_err());
        assert!(letter(&"x".repeat(MAX_LETTER_LEN + 1), "text").is_err());
        assert!(letter("line one\nline two", "text").is_ok());
    }

    #[test]
    fn spans_end_after_they_start() {
        let span = |start, end| RedactionSpanInput {
            channel: SpanChannel::Both,
            start_ms: Int64(start),
            end_ms: Int64(end),
            mode: RedactionMode::Tone,
        };
        assert!(redaction_spans(vec![span(0, 10), span(10, 20)]).is_ok());
        assert!(redaction_spans(vec![span(10, 10)]).is_err());
        assert!(redaction_spans(vec![span(20, 10)]).is_err());
        assert!(redaction_spans(Vec::new()).is_ok_and(|spans| spans.is_empty()));
    }
}
