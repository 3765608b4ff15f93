//! `Int64`, for the numbers that outgrow GraphQL's `Int`; `Amount`, for
//! money; `Decimal`, for exact fractions.
//!
//! The spec makes `Int` a signed 32-bit number and tells servers to refuse
//! to send anything wider, so a recording's size (uploads go to 8 GiB), the
//! bytes a verification read, durations in milliseconds and audit sequence
//! numbers would break strict clients, or be cut, past 2^31 − 1. Money in
//! minor units passes 2^31 too (¥2.2 billion, $21 million), and a margin
//! can be negative, which `Int64` is not: hence `Amount`. Prices per unit,
//! quantities and tax rates have decimals that a float would round: hence
//! `Decimal`, a string.

use async_graphql::{InputValueError, InputValueResult, Number, Scalar, ScalarType, Value};
use callvault_contracts::billing_api::Dec;

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

/// Money in its currency's minor unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(pub i64);

/// An amount of money in its currency's minor unit (JPY has none, USD
/// and EUR cents): a whole number from −2^63 to 2^63 − 1. Sent as a JSON
/// number; accepted as a JSON number or a string of decimal digits with an
/// optional leading `-`. The amounts callvault sends stay below 2^53, so
/// JavaScript numbers hold them exactly. Fractional values are refused
/// with BAD_USER_INPUT.
#[Scalar(name = "Amount")]
impl ScalarType for Amount {
    fn parse(value: Value) -> InputValueResult<Self> {
        let parsed = match &value {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => {
                let digits = text.strip_prefix('-').unwrap_or(text);
                let whole = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
                if whole {
                    text.parse::<i64>().ok()
                } else {
                    None
                }
            }
            _ => return Err(InputValueError::expected_type(value)),
        };
        parsed.map(Amount).ok_or_else(|| {
            InputValueError::custom(
                "expected a whole number from -9223372036854775808 to 9223372036854775807",
            )
        })
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::Number(_) | Value::String(_))
    }

    fn to_value(&self) -> Value {
        Value::Number(Number::from(self.0))
    }
}

/// An exact decimal number, as a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal(pub Dec);

/// An exact decimal number, always written as a string: `"1.5"`,
/// `"0.0025"`, `"-3"`. Digits with at most one `.` and an optional leading
/// `-`; no exponent, no thousands separators, at most 28 significant
/// digits. Prices per unit, quantities and tax rates (percent) are
/// decimals. A JSON number or anything else is refused with
/// BAD_USER_INPUT.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        let plain = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
        let parsed = if plain {
            text.parse::<Dec>().ok()
        } else {
            None
        };
        parsed.map(Decimal).ok_or_else(|| {
            InputValueError::custom("expected a decimal number as a string, such as \"1.5\"")
        })
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(_))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
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

    fn amount(value: Value) -> Option<i64> {
        Amount::parse(value).ok().map(|amount| amount.0)
    }

    #[test]
    fn amounts_are_signed_whole_numbers() {
        assert_eq!(amount(Value::from(0)), Some(0));
        assert_eq!(amount(Value::from(-5)), Some(-5));
        assert_eq!(amount(Value::from(4_294_967_296i64)), Some(4_294_967_296));
        assert_eq!(amount(Value::from("-4294967296")), Some(-4_294_967_296));
        assert_eq!(amount(Value::from(i64::MIN)), Some(i64::MIN));
        assert_eq!(amount(Value::from(1.5)), None);
        assert_eq!(amount(Value::from(u64::MAX)), None);
        for text in ["", "-", "+1", "1e3", "1.0", " 1", "--1"] {
            assert_eq!(amount(Value::from(text)), None, "{text:?}");
        }
        assert_eq!(
            Amount(-12).to_value().into_json().expect("a json number"),
            serde_json::json!(-12)
        );
    }

    fn decimal(value: Value) -> Option<String> {
        Decimal::parse(value).ok().map(|d| d.0.to_string())
    }

    #[test]
    fn decimals_are_exact_strings() {
        assert_eq!(decimal(Value::from("1.5")).as_deref(), Some("1.5"));
        assert_eq!(decimal(Value::from("0.0025")).as_deref(), Some("0.0025"));
        assert_eq!(decimal(Value::from("-3")).as_deref(), Some("-3"));
        assert_eq!(decimal(Value::from("10.000")).as_deref(), Some("10"));
        for text in ["", "1e3", "1,000", "abc", " 1", "1.2.3", "--1", "1-"] {
            assert_eq!(decimal(Value::from(text)), None, "{text:?}");
        }
        assert_eq!(decimal(Value::from(1.5)), None, "a json number");
        assert_eq!(decimal(Value::from(2)), None, "a json number");
        let sent = Decimal("0.10".parse().expect("decimal")).to_value();
        assert_eq!(sent, Value::from("0.1"));
    }
}
