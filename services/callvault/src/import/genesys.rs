//! Genesys Cloud's recording export to S3 (the AWS S3 recording bulk
//! actions integration; docs/import.md, "Genesys Cloud"):
//! `<organizationId>/year=…/month=…/day=…/hour=…/conversation_id=<id>/`
//! holding each recording as `<recordingId>.<ext>` beside its metadata
//! `<recordingId>.<ext>_metadata.json` (`conversationId`, `recordingId`,
//! `mediaType`, `startTime`, `endTime`, `initialDirection`, `userIds`…).
//! Genesys documents no phone numbers in that file: the numbers are read
//! from `ani` and `dnis` (the names Genesys's conversation API gives a
//! participant's numbers) when the file has them, at its top level or on a
//! `participants` entry; a recording without them is reported as failed,
//! and can be imported through a manifest instead.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::Item;
use super::manifest::content_type_of;

const METADATA_SUFFIX: &str = "_metadata.json";

/// The objects to read before [`items`]: the recordings' metadata files.
pub fn is_document(path: &str) -> bool {
    path.ends_with(METADATA_SUFFIX)
}

/// The items, and the recordings that can't be imported with why. A
/// conversation's call recordings are its segments, in start order.
pub fn items(
    files: &[(String, u64)],
    documents: &HashMap<String, bytes::Bytes>,
) -> (Vec<Item>, Vec<(String, String)>) {
    let present: std::collections::HashSet<&str> =
        files.iter().map(|(path, _)| path.as_str()).collect();
    let mut conversations: HashMap<String, Vec<(String, String, Value)>> = HashMap::new();
    let mut unusable = Vec::new();
    let mut metadata_paths: Vec<&String> = documents.keys().collect();
    metadata_paths.sort();
    for path in metadata_paths {
        let audio = path.trim_end_matches(METADATA_SUFFIX).to_owned();
        let metadata: Value = match serde_json::from_slice(&documents[path]) {
            Ok(metadata) => metadata,
            Err(error) => {
                unusable.push((path.clone(), format!("metadata is not JSON: {error}")));
                continue;
            }
        };
        if metadata["mediaType"]
            .as_str()
            .is_some_and(|media| media != "Call")
        {
            continue;
        }
        if !present.contains(audio.as_str()) {
            unusable.push((
                path.clone(),
                "its recording is not in the source".to_owned(),
            ));
            continue;
        }
        let Some(conversation) = metadata["conversationId"].as_str() else {
            unusable.push((audio, "metadata without conversationId".to_owned()));
            continue;
        };
        let start = metadata["startTime"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        conversations
            .entry(conversation.to_owned())
            .or_default()
            .push((start, audio, metadata));
    }
    let mut items = Vec::new();
    let mut ids: Vec<&String> = conversations.keys().collect();
    ids.sort();
    for conversation in ids {
        let mut recordings = conversations[conversation].clone();
        recordings.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        for (segment, (_, audio, metadata)) in recordings.into_iter().enumerate() {
            let Some(content_type) = content_type_of(&audio) else {
                unusable.push((audio, "not an audio type callvault takes".to_owned()));
                continue;
            };
            match call(&metadata, conversation, segment) {
                Ok(call) => items.push(Item {
                    key: format!("{conversation}#{segment}"),
                    file: audio,
                    call,
                    content_type,
                }),
                Err(why) => unusable.push((audio, why)),
            }
        }
    }
    (items, unusable)
}

/// Genesys writes offsets as `+0000`; RFC 3339 wants `+00:00`.
fn rfc3339(time: &str) -> String {
    let bytes = time.as_bytes();
    let n = bytes.len();
    if n > 5
        && (bytes[n - 5] == b'+' || bytes[n - 5] == b'-')
        && bytes[n - 4..].iter().all(u8::is_ascii_digit)
    {
        return format!("{}:{}", &time[..n - 2], &time[n - 2..]);
    }
    time.to_owned()
}

fn call(metadata: &Value, conversation: &str, segment: usize) -> Result<Value, String> {
    let started = metadata["startTime"]
        .as_str()
        .ok_or("metadata without startTime")?;
    let ended = metadata["endTime"]
        .as_str()
        .ok_or("metadata without endTime")?;
    let direction = match metadata["initialDirection"].as_str() {
        Some("outbound") => "outbound",
        _ => "inbound",
    };
    let number = |field: &str| {
        metadata[field].as_str().or_else(|| {
            metadata["participants"]
                .as_array()?
                .iter()
                .find_map(|participant| participant[field].as_str())
        })
    };
    let (Some(ani), Some(dnis)) = (number("ani"), number("dnis")) else {
        return Err(format!(
            "conversation {conversation}: the metadata has no ani/dnis (phone numbers); import it with a manifest"
        ));
    };
    let ani = ani.trim_start_matches("tel:");
    let dnis = dnis.trim_start_matches("tel:");
    let call = json!({
        "external_call_id": conversation,
        "segment": segment,
        "direction": direction,
        "caller_number": ani,
        "callee_number": dnis,
        "agent": metadata["userIds"][0].as_str(),
        "started_at": rfc3339(started),
        "ended_at": rfc3339(ended),
        "tags": ["genesys-cloud"],
        "attributes": {
            "genesys.recording_id": metadata["recordingId"].as_str().unwrap_or_default(),
        },
    });
    let parsed = callvault_ingestion::call::parse(call.to_string().as_bytes())
        .map_err(|error| format!("conversation {conversation}: {}", error.0))?;
    serde_json::to_value(parsed).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn genesys_offsets_become_rfc3339() {
        assert_eq!(
            super::rfc3339("2023-08-29T23:19:04.873+0000"),
            "2023-08-29T23:19:04.873+00:00"
        );
        assert_eq!(
            super::rfc3339("2023-08-29T23:19:04Z"),
            "2023-08-29T23:19:04Z"
        );
    }
}
