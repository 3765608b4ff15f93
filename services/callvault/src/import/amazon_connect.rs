//! Amazon Connect's call recordings with their contact records, as an
//! Amazon Connect instance writes them to S3 (docs/import.md, "Amazon
//! Connect"): recordings under `…/CallRecordings/YYYY/MM/DD/` named
//! `<ContactId>_<YYYYMMDD>T<HH>:<mm>_UTC.wav`, stereo WAV with the agent on
//! the right channel and everyone else on the left; contact records (the
//! contact record data model) streamed by Kinesis Data Firehose into other
//! objects, JSON objects one after the other with or without a newline
//! between them, delivered at least once.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::Item;

/// The items, and the recordings that can't be imported with why. A
/// recording is linked to its contact by the contact record's
/// `Recordings[].Location` (or the older `Recording.Location`), whose last
/// part is the file's name; the file name's own contact id is not relied
/// on.
pub fn items(
    files: &[(String, u64)],
    documents: &HashMap<String, bytes::Bytes>,
) -> (Vec<Item>, Vec<(String, String)>) {
    let mut records: HashMap<String, Value> = HashMap::new();
    for bytes in documents.values() {
        for record in serde_json::Deserializer::from_slice(bytes).into_iter::<Value>() {
            let Ok(record) = record else { break };
            let Some(contact) = record["ContactId"].as_str() else {
                continue;
            };
            // At least once: the copy updated last wins.
            let newer = records.get(contact).is_none_or(|known| {
                record["LastUpdateTimestamp"].as_str() >= known["LastUpdateTimestamp"].as_str()
            });
            if newer {
                records.insert(contact.to_owned(), record);
            }
        }
    }
    let recordings: HashMap<&str, &str> = files
        .iter()
        .filter(|(path, _)| !is_document(path))
        .map(|(path, _)| (path.rsplit('/').next().unwrap_or(path), path.as_str()))
        .collect();
    let mut linked = std::collections::HashSet::new();
    let mut items = Vec::new();
    let mut unusable = Vec::new();
    let mut contacts: Vec<&String> = records.keys().collect();
    contacts.sort();
    for contact in contacts {
        let record = &records[contact];
        if record["Channel"]
            .as_str()
            .is_some_and(|channel| channel != "VOICE")
        {
            continue;
        }
        let mut locations: Vec<&str> = record["Recordings"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|r| r["Status"].as_str().is_none_or(|s| s == "AVAILABLE"))
                    .filter(|r| r["MediaStreamType"].as_str().is_none_or(|t| t == "AUDIO"))
                    .filter_map(|r| r["Location"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        if locations.is_empty()
            && let Some(location) = record["Recording"]["Location"].as_str()
        {
            locations.push(location);
        }
        locations.sort_unstable();
        locations.dedup();
        for (segment, location) in locations.into_iter().enumerate() {
            let name = location.rsplit('/').next().unwrap_or(location);
            let Some(&path) = recordings.get(name) else {
                unusable.push((
                    location.to_owned(),
                    format!("contact {contact}: its recording is not in the source"),
                ));
                continue;
            };
            linked.insert(path);
            match call(record, contact, segment) {
                Ok(call) => items.push(Item {
                    key: format!("{contact}#{segment}"),
                    file: path.to_owned(),
                    call,
                    content_type: "audio/wav".to_owned(),
                }),
                Err(why) => unusable.push((path.to_owned(), why)),
            }
        }
    }
    let mut orphans: Vec<&str> = recordings
        .values()
        .filter(|path| path.ends_with(".wav") && !linked.contains(*path))
        .copied()
        .collect();
    orphans.sort_unstable();
    for path in orphans {
        unusable.push((
            path.to_owned(),
            "no contact record names this recording".to_owned(),
        ));
    }
    (items, unusable)
}

/// The objects to read before [`items`]: all but the recordings (the
/// contact records Firehose wrote, whatever their names).
pub fn is_document(path: &str) -> bool {
    !path.split('/').any(|part| part == "CallRecordings")
}

/// A contact record as call metadata.
fn call(record: &Value, contact: &str, segment: usize) -> Result<Value, String> {
    let method = record["InitiationMethod"].as_str().unwrap_or("INBOUND");
    let direction = match method {
        "OUTBOUND" | "CALLBACK" | "API" | "EXTERNAL_OUTBOUND" => "outbound",
        "MONITOR" => "internal",
        _ => "inbound",
    };
    let customer = record["CustomerEndpoint"]["Address"]
        .as_str()
        .unwrap_or_default();
    let system = record["SystemEndpoint"]["Address"]
        .as_str()
        .unwrap_or_default();
    let (caller, callee) = if direction == "outbound" {
        (system, customer)
    } else {
        (customer, system)
    };
    let started = record["InitiationTimestamp"]
        .as_str()
        .ok_or("the contact record has no InitiationTimestamp")?;
    let ended = record["DisconnectTimestamp"]
        .as_str()
        .ok_or("the contact record has no DisconnectTimestamp")?;
    let call = json!({
        "external_call_id": contact,
        "segment": segment,
        "direction": direction,
        "caller_number": caller,
        "callee_number": callee,
        "agent": record["Agent"]["Username"].as_str(),
        "queue": record["Queue"]["Name"].as_str(),
        "started_at": started,
        "ended_at": ended,
        "tags": ["amazon-connect"],
        "customer_channel": "left",
        "agent_channel": "right",
        "attributes": attributes(&record["Attributes"]),
    });
    let parsed = callvault_ingestion::call::parse(call.to_string().as_bytes())
        .map_err(|error| format!("contact {contact}: {}", error.0))?;
    serde_json::to_value(parsed).map_err(|e| e.to_string())
}

/// Contact attributes as call attributes: names lowercased with anything
/// but `a-z 0-9 _ - .` made `_`, values over 128 characters left out, the
/// first 20 by name (the upload route's limits).
fn attributes(raw: &Value) -> BTreeMap<String, String> {
    let Some(raw) = raw.as_object() else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (name, value) in raw {
        let Some(value) = value.as_str() else {
            continue;
        };
        if value.chars().count() > callvault_ingestion::call::MAX_ATTRIBUTE_VALUE_CHARS {
            continue;
        }
        let name: String = name
            .to_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_-.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(callvault_ingestion::call::MAX_ATTRIBUTE_KEY_CHARS)
            .collect();
        if !name.is_empty() {
            out.insert(name, value.to_owned());
        }
    }
    out.into_iter()
        .take(callvault_ingestion::call::MAX_ATTRIBUTES)
        .collect()
}
