//! The canonical encoding of an audit entry and its hash: the part a third
//! party re-implements to check a chain (services/metadata/AUDIT.md says it
//! in prose, byte by byte). Changing anything here breaks every stored
//! chain: a new encoding needs a new version tag, never an edit.

use aws_lc_rs::digest::{Context, SHA256};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// `prev_hash` of a tenant's first entry.
pub(crate) const GENESIS_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// First field of every encoding, so an audit entry's bytes can never be
/// mistaken for another callvault structure hashed the same way.
const DOMAIN: &str = "callvault audit entry v1";

/// An entry's fields exactly as they are hashed: all text, `details`
/// already canonical JSON.
#[derive(Debug)]
pub(crate) struct EntryFields<'a> {
    pub tenant_id: uuid::Uuid,
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub details: &'a str,
    pub prev_hash: &'a str,
}

/// RFC 3339 in UTC with exactly six fractional digits and `Z`: the one
/// textual form of a timestamp in the audit trail and the manifests.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The entry's canonical bytes: each field is `0x01`, its UTF-8 length as
/// an unsigned 64-bit big-endian integer, then its bytes; an absent
/// optional field is the single byte `0x00`.
pub(crate) fn encode(entry: &EntryFields<'_>) -> Vec<u8> {
    let tenant = entry.tenant_id.hyphenated().to_string();
    let seq = entry.seq.to_string();
    let at = timestamp(entry.at);
    let fields: [Option<&str>; 12] = [
        Some(DOMAIN),
        Some(&tenant),
        Some(&seq),
        Some(&at),
        Some(entry.actor),
        Some(entry.role),
        Some(entry.action),
        entry.target,
        entry.origin,
        entry.reason,
        Some(entry.details),
        Some(entry.prev_hash),
    ];
    let mut out = Vec::with_capacity(fields.iter().flatten().map(|f| f.len() + 9).sum());
    for field in fields {
        match field {
            Some(text) => {
                out.push(1);
                out.extend_from_slice(&(text.len() as u64).to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            None => out.push(0),
        }
    }
    out
}

/// Lowercase hex SHA-256 of the canonical encoding.
pub(crate) fn hash(entry: &EntryFields<'_>) -> String {
    let mut context = Context::new(&SHA256);
    context.update(&encode(entry));
    hex::encode(context.finish().as_ref())
}

/// JSON with object keys sorted by their UTF-8 bytes and no whitespace;
/// strings and numbers as serde_json writes them. Written out rather than
/// left to `serde_json::to_string`, whose key order follows the
/// `preserve_order` feature that any crate in the build may switch on.
pub(crate) fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

/// serde_json's escaping: `"` `\` and control characters only (`\b \f \n
/// \r \t`, the rest as lowercase `\u00xx`), everything else as UTF-8.
fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields<'a>(details: &'a str, target: Option<&'a str>) -> EntryFields<'a> {
        EntryFields {
            tenant_id: uuid::Uuid::nil(),
            seq: 1,
            at: DateTime::from_timestamp(1_700_000_000, 5_000).expect("timestamp"),
            actor: "auditor@example.com",
            role: "auditor",
            action: "search",
            target,
            origin: None,
            reason: None,
            details,
            prev_hash: GENESIS_HASH,
        }
    }

    #[test]
    fn timestamps_have_six_digits_and_z() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("timestamp");
        assert_eq!(timestamp(at), "2023-11-14T22:13:20.000000Z");
        let at = DateTime::from_timestamp(1_700_000_000, 123_456_000).expect("timestamp");
        assert_eq!(timestamp(at), "2023-11-14T22:13:20.123456Z");
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let value = json!({"b": [1, {"z": null, "a": true}], "a": "x\"\n\u{1}é", "é": 1.5});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":"x\"\n\u0001é","b":[1,{"a":true,"z":null}],"é":1.5}"#
        );
        // serde_json agrees wherever it sorts keys itself.
        let plain = json!({"k": "tab\there", "n": -3, "list": ["\u{7f}", "\\"]});
        let mut sorted: Vec<_> = plain.as_object().expect("object").iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let expected = format!(
            "{{{}}}",
            sorted
                .iter()
                .map(|(k, v)| format!("{}:{}", json!(k), serde_json::to_string(v).expect("json")))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(canonical_json(&plain), expected);
    }

    #[test]
    fn encoding_is_length_prefixed_and_marks_absent_fields() {
        let encoded = encode(&fields("{}", None));
        let domain = b"callvault audit entry v1";
        assert_eq!(encoded[0], 1);
        assert_eq!(&encoded[1..9], &(domain.len() as u64).to_be_bytes());
        assert_eq!(&encoded[9..9 + domain.len()], domain);
        // target, origin, reason absent: three single zero bytes before details.
        let details_at = encoded.len() - (9 + 64) - (9 + 2);
        assert_eq!(&encoded[details_at - 3..details_at], &[0, 0, 0]);
        // An empty target is not an absent one.
        assert_ne!(hash(&fields("{}", None)), hash(&fields("{}", Some(""))));
    }

    #[test]
    fn moving_bytes_between_fields_changes_the_hash() {
        let a = EntryFields {
            actor: "ab",
            role: "c",
            ..fields("{}", None)
        };
        let b = EntryFields {
            actor: "a",
            role: "bc",
            ..fields("{}", None)
        };
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a).len(), 64);
    }
}
