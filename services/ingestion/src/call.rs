//! The `Callvault-Call` header: call metadata as one-line JSON, parsed and
//! checked before a byte of audio is read.
//!
//! Error messages name the offending field, never its value: phone numbers
//! are personal data and error bodies end up in recorder logs.

pub use callvault_contracts::call::MAX_CALL_ID_CHARS;
use callvault_contracts::call::{CallMetadata, Channel};
use chrono::Duration;

pub const MAX_SEGMENT: u32 = 10_000;
pub const MAX_NUMBER_CHARS: usize = 32;
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_CHARS: usize = 64;
pub const MAX_NAME_CHARS: usize = 128;
pub const MAX_ATTRIBUTES: usize = 20;
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 64;
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 128;
pub const MAX_PAUSES: usize = 100;

/// Why call metadata was refused: safe to return to the caller as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidMetadata(pub String);

fn invalid(message: impl Into<String>) -> InvalidMetadata {
    InvalidMetadata(message.into())
}

/// Parses and checks the header value. Empty `agent` / `queue` strings are
/// read as absent: PBXs commonly send `""` for "no queue".
pub fn parse(header: &[u8]) -> Result<CallMetadata, InvalidMetadata> {
    let mut deserializer = serde_json::Deserializer::from_slice(header);
    let mut call: CallMetadata =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let error = error.into_inner();
            // serde's "missing field `x`" names a field only; every other
            // message may quote a value (a phone number sent as a JSON number),
            // so those are replaced by the field's path.
            let text = error.to_string();
            if let Some(field) = text.strip_prefix("missing field ") {
                let field = field.split(' ').next().unwrap_or_default();
                return invalid(format!("callvault-call: missing field {field}"));
            }
            if path != "." {
                return invalid(format!("callvault-call: invalid value for {path}"));
            }
            invalid(format!(
                "callvault-call is not valid json (column {})",
                error.column()
            ))
        })?;
    deserializer.end().map_err(|error| {
        invalid(format!(
            "callvault-call is not valid json (column {})",
            error.column()
        ))
    })?;
    call.agent = call.agent.filter(|agent| !agent.is_empty());
    call.queue = call.queue.filter(|queue| !queue.is_empty());
    validate(&call)?;
    Ok(call)
}

pub fn validate(call: &CallMetadata) -> Result<(), InvalidMetadata> {
    check_text(
        "external_call_id",
        &call.external_call_id,
        MAX_CALL_ID_CHARS,
    )?;
    if call.segment > MAX_SEGMENT {
        return Err(invalid(format!("segment must be at most {MAX_SEGMENT}")));
    }
    check_number("caller_number", &call.caller_number)?;
    check_number("callee_number", &call.callee_number)?;
    if call.ended_at < call.started_at {
        return Err(invalid("ended_at must not be before started_at"));
    }
    if call.ended_at - call.started_at > Duration::hours(24) {
        return Err(invalid(
            "a call may last at most 24 hours (ended_at - started_at)",
        ));
    }
    if call.tags.len() > MAX_TAGS {
        return Err(invalid(format!("at most {MAX_TAGS} tags")));
    }
    for tag in &call.tags {
        check_text("tags", tag, MAX_TAG_CHARS)?;
    }
    if let Some(agent) = &call.agent {
        check_text("agent", agent, MAX_NAME_CHARS)?;
    }
    if let Some(queue) = &call.queue {
        check_text("queue", queue, MAX_NAME_CHARS)?;
    }
    validate_attributes(call)?;
    validate_pauses(call)?;
    // Both parties on the same side of a stereo file can't be right.
    if let (Some(agent), Some(customer)) = (call.agent_channel, call.customer_channel)
        && agent == customer
        && agent != Channel::Mixed
    {
        return Err(invalid("agent_channel and customer_channel must differ"));
    }
    Ok(())
}

/// Attributes are matched by retention rules and shown to every reader:
/// keys are identifiers, so a recorder can't smuggle free text (or a phone
/// number) into a key.
fn validate_attributes(call: &CallMetadata) -> Result<(), InvalidMetadata> {
    if call.attributes.len() > MAX_ATTRIBUTES {
        return Err(invalid(format!("at most {MAX_ATTRIBUTES} attributes")));
    }
    for (key, value) in &call.attributes {
        let key_ok = (1..=MAX_ATTRIBUTE_KEY_CHARS).contains(&key.len())
            && key.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.')
            });
        if !key_ok {
            return Err(invalid(format!(
                "attribute names must be 1 to {MAX_ATTRIBUTE_KEY_CHARS} characters of a-z 0-9 _ - ."
            )));
        }
        check_text("attributes", value, MAX_ATTRIBUTE_VALUE_CHARS)?;
    }
    Ok(())
}

/// Pause spans are where card numbers were spoken and not recorded: a
/// player greys them out, so they must lie inside the call, in order.
fn validate_pauses(call: &CallMetadata) -> Result<(), InvalidMetadata> {
    if call.pauses.len() > MAX_PAUSES {
        return Err(invalid(format!("at most {MAX_PAUSES} pauses")));
    }
    let call_ms = u64::try_from((call.ended_at - call.started_at).num_milliseconds()).unwrap_or(0);
    let mut previous_end = 0;
    for pause in &call.pauses {
        if pause.end_ms <= pause.start_ms {
            return Err(invalid("each pause must end after it starts"));
        }
        if pause.start_ms < previous_end {
            return Err(invalid("pauses must be sorted and must not overlap"));
        }
        if pause.end_ms > call_ms {
            return Err(invalid(
                "pauses must lie within the call (ended_at - started_at)",
            ));
        }
        previous_end = pause.end_ms;
    }
    Ok(())
}

/// 1..=`max` characters, none of them a control character.
fn check_text(field: &str, value: &str, max: usize) -> Result<(), InvalidMetadata> {
    let chars = value.chars().count();
    if chars == 0 || chars > max {
        return Err(invalid(format!("{field} must be 1 to {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(format!("{field} must be printable characters")));
    }
    Ok(())
}

fn check_number(field: &str, value: &str) -> Result<(), InvalidMetadata> {
    let valid = !value.is_empty()
        && value.len() <= MAX_NUMBER_CHARS
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '*' | '#'));
    if !valid {
        return Err(invalid(format!(
            "{field} must be 1 to {MAX_NUMBER_CHARS} characters of + 0-9 * #"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(overrides: serde_json::Value) -> Vec<u8> {
        let mut call = serde_json::json!({
            "external_call_id": "pbx-1",
            "segment": 0,
            "direction": "inbound",
            "caller_number": "+81312345678",
            "callee_number": "100",
            "agent": "",
            "queue": null,
            "started_at": "2025-01-01T00:00:00Z",
            "ended_at": "2025-01-01T00:05:00Z",
            "agent_channel": null,
            "customer_channel": null
        });
        if let (Some(call), Some(overrides)) = (call.as_object_mut(), overrides.as_object()) {
            for (key, value) in overrides {
                call.insert(key.clone(), value.clone());
            }
        }
        serde_json::to_vec(&call).expect("json")
    }

    #[test]
    fn empty_agent_reads_as_absent() {
        let call = parse(&header(serde_json::json!({}))).expect("valid");
        assert_eq!(call.agent, None);
        assert!(call.tags.is_empty());
    }

    #[test]
    fn json_errors_never_quote_values() {
        let error = parse(&header(
            serde_json::json!({ "caller_number": 81312345678u64 }),
        ))
        .expect_err("a number is not a string");
        assert!(!error.0.contains("81312345678"), "{error}");
        let error = parse(br#"{"segment":0}"#).expect_err("missing fields");
        assert_eq!(error.0, "callvault-call: missing field `external_call_id`");
    }

    #[test]
    fn type_errors_name_the_field() {
        let error =
            parse(&header(serde_json::json!({ "direction": null }))).expect_err("null direction");
        assert_eq!(error.0, "callvault-call: invalid value for direction");
    }

    #[test]
    fn same_stereo_side_for_both_parties_is_refused() {
        let error = parse(&header(
            serde_json::json!({ "agent_channel": "left", "customer_channel": "left" }),
        ))
        .expect_err("same side");
        assert!(error.0.contains("agent_channel"));
    }

    #[test]
    fn notice_pauses_and_attributes_are_read() {
        let call = parse(&header(serde_json::json!({
            "notice_played": true,
            "pauses": [{"start_ms": 1000, "end_ms": 5000}, {"start_ms": 9000, "end_ms": 12000}],
            "attributes": {"product": "securities"}
        })))
        .expect("valid");
        assert_eq!(call.notice_played, Some(true));
        assert_eq!(call.pauses.len(), 2);
        assert_eq!(call.attributes["product"], "securities");
    }

    #[test]
    fn bad_pauses_are_refused() {
        for (pauses, why) in [
            (
                serde_json::json!([{"start_ms": 5000, "end_ms": 5000}]),
                "end after",
            ),
            (
                serde_json::json!([{"start_ms": 1000, "end_ms": 5000}, {"start_ms": 4000, "end_ms": 6000}]),
                "overlap",
            ),
            (
                serde_json::json!([{"start_ms": 0, "end_ms": 300_001}]),
                "within the call",
            ),
        ] {
            let error = parse(&header(serde_json::json!({ "pauses": pauses }))).expect_err(why);
            assert!(error.0.contains(why), "{error}");
        }
    }

    #[test]
    fn bad_attributes_are_refused() {
        let error = parse(&header(
            serde_json::json!({ "attributes": {"Product Name": "x"} }),
        ))
        .expect_err("key");
        assert!(error.0.contains("attribute names"), "{error}");
        let many: serde_json::Map<String, serde_json::Value> = (0..21)
            .map(|i| (format!("k{i}"), serde_json::json!("v")))
            .collect();
        let error = parse(&header(serde_json::json!({ "attributes": many }))).expect_err("count");
        assert!(error.0.contains("at most 20 attributes"), "{error}");
    }
}
