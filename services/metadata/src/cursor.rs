//! The opaque keyset cursor of a recordings page: the (started_at, id) of
//! its last item, base64url-encoded. Callers can't build a meaningful one,
//! and a cursor from another tenant only positions within the caller's own
//! tenant (every query is scoped by tenant anyway).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use callvault_contracts::metadata_api::{ApiError, ApiResult};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Format byte, so the encoding can change without misreading old cursors.
const CURSOR_V1: u8 = 1;
const CURSOR_LEN: usize = 1 + 8 + 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub started_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub(crate) fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(CURSOR_LEN);
        bytes.push(CURSOR_V1);
        bytes.extend_from_slice(&self.started_at.timestamp_micros().to_be_bytes());
        bytes.extend_from_slice(self.id.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub(crate) fn decode(raw: &str) -> ApiResult<Self> {
        let invalid = || ApiError::invalid("after is not a valid cursor");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        if bytes.len() != CURSOR_LEN || bytes[0] != CURSOR_V1 {
            return Err(invalid());
        }
        let micros: [u8; 8] = bytes[1..9].try_into().map_err(|_| invalid())?;
        let started_at =
            DateTime::from_timestamp_micros(i64::from_be_bytes(micros)).ok_or_else(invalid)?;
        let id = Uuid::from_slice(&bytes[9..]).map_err(|_| invalid())?;
        Ok(Cursor { started_at, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            started_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("time"),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).ok(), Some(cursor));
        for bad in [
            "",
            "!!!",
            "AAAA",
            &URL_SAFE_NO_PAD.encode([2u8; CURSOR_LEN]),
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }
}
