//! `Int64`, for the numbers that outgrow GraphQL's `Int`.
//!
//! The spec makes `Int` a signed 32-bit number and tells servers to refuse
//! to send anything wider, so a recording's size (uploads go to 8 GiB), the
//! bytes a verification read, durations in milliseconds and audit sequence
//! numbers would break strict clients, or be cut, past 2^31 − 1.

use async_graphql::{InputValueError, InputValueResult, Number, Scalar, ScalarType, Value};

/// The largest value an `Int64` carries: i64's, so that clients that hold
/// it in a signed 64-bit integer (Java's `long`, Go's `int64`) never
/// overflow.
const MAX: u64 = i64::MAX as u64;

/// A whole number from 0 to 2^63 − 1, where GraphQL's `Int` stops at
/// 2^31 − 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Int64(pub u64);

/// A whole number from 0 to 2^63 − 1 (9223372036854775807): sizes in
/// bytes, durations in milliseconds and audit sequence numbers, which can
/// pass `Int`'s 2^31 − 1. Sent as a JSON number; accepted as a JSON number
/// or as a string of decimal digits (`"4294967296"`). The values callvault
/// sends stay below 2^53, so JavaScript numbers hold them exactly.
/// Negative, fractional or larger values are refused with BAD_USER_INPUT.
#[Scalar(name = "Int64")]
impl ScalarType for Int64 {
    fn parse(value: Value) -> InputValueResult<Self> {
        let parsed = match &value {
            Value::Number(number) => number.as_u64(),
            Value::String(text) if text.bytes().all(|byte| byte.is_ascii_digit()) => {
                text.parse::<u64>().ok()
            }
            _ => return Err(InputValueError::expected_type(value)),
        };
        match parsed {
            Some(number) if number <= MAX => Ok(Int64(number)),
            _ => Err(InputValueError::custom(
                "expected a whole number from 0 to 9223372036854775807",
            )),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::Number(_) | Value::String(_))
    }

    fn to_value(&self) -> Value {
        // Every value we make is far below MAX (bytes of one recording,
        // entries of one tenant's chain); clamp rather than send a number
        // the description says can't occur.
        Value::Number(Number::from(self.0.min(MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: Value) -> Option<u64> {
        Int64::parse(value).ok().map(|number| number.0)
    }

    #[test]
    fn accepts_numbers_and_digit_strings_past_two_to_the_31() {
        assert_eq!(parse(Value::from(4_294_967_296u64)), Some(4_294_967_296));
        assert_eq!(parse(Value::from("4294967296")), Some(4_294_967_296));
        assert_eq!(parse(Value::from(0)), Some(0));
        assert_eq!(parse(Value::from(MAX)), Some(MAX));
    }

    #[test]
    fn refuses_what_is_not_a_whole_number_in_range() {
        assert_eq!(parse(Value::from(-1)), None);
        assert_eq!(parse(Value::from(1.5)), None);
        assert_eq!(parse(Value::from(MAX + 1)), None);
        assert_eq!(parse(Value::from("-1")), None);
        assert_eq!(parse(Value::from("+1")), None);
        assert_eq!(parse(Value::from("1e3")), None);
        assert_eq!(parse(Value::from("")), None);
        assert_eq!(parse(Value::from(true)), None);
    }

    #[test]
    fn sends_a_json_number() {
        assert_eq!(
            Int64(8 * 1024 * 1024 * 1024)
                .to_value()
                .into_json()
                .expect("a json number"),
            serde_json::json!(8_589_934_592u64)
        );
    }
}
