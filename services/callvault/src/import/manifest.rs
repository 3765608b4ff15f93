//! A manifest of one's own: CSV or JSON Lines, one call segment per row,
//! naming its audio file and its call metadata (docs/import.md).

use std::collections::BTreeMap;

use anyhow::bail;
use serde_json::{Map, Value, json};

use super::Item;

/// The CSV columns; `file` and `external_call_id` are required, the rest
/// as the upload route requires them.
const COLUMNS: &[&str] = &[
    "file",
    "external_call_id",
    "segment",
    "direction",
    "caller_number",
    "callee_number",
    "agent",
    "queue",
    "started_at",
    "ended_at",
    "tags",
    "attributes",
    "agent_channel",
    "customer_channel",
    "content_type",
];

/// Every row, or every row's problem (by line): a manifest with one bad
/// row imports nothing.
pub fn parse(name: &str, text: &str) -> anyhow::Result<Vec<Item>> {
    let (items, problems) = if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
        json_lines(text)
    } else {
        csv_rows(text)?
    };
    if !problems.is_empty() {
        bail!(
            "the manifest {name} has {} bad row(s), nothing was imported:\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    if items.is_empty() {
        bail!("the manifest {name} lists no recording");
    }
    Ok(items)
}

fn json_lines(text: &str) -> (Vec<Item>, Vec<String>) {
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let row: Value = match serde_json::from_str(line) {
            Ok(row) => row,
            Err(error) => {
                problems.push(format!("line {line_no}: not JSON ({error})"));
                continue;
            }
        };
        let Some(file) = row["file"].as_str().filter(|f| !f.is_empty()) else {
            problems.push(format!("line {line_no}: no `file`"));
            continue;
        };
        let call = row["call"].clone();
        match item(file, call, row["content_type"].as_str()) {
            Ok(item) => items.push(item),
            Err(problem) => problems.push(format!("line {line_no}: {problem}")),
        }
    }
    (items, problems)
}

fn csv_rows(text: &str) -> anyhow::Result<(Vec<Item>, Vec<String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers()?.clone();
    if let Some(unknown) = headers.iter().find(|h| !COLUMNS.contains(h)) {
        bail!(
            "unknown manifest column {unknown:?}; the columns are {}",
            COLUMNS.join(", ")
        );
    }
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for (n, record) in reader.records().enumerate() {
        // The header is line 1.
        let line_no = n + 2;
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                problems.push(format!("line {line_no}: {error}"));
                continue;
            }
        };
        let field = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
        };
        let Some(file) = field("file") else {
            problems.push(format!("line {line_no}: no `file`"));
            continue;
        };
        let mut call = Map::new();
        for column in [
            "external_call_id",
            "direction",
            "caller_number",
            "callee_number",
            "agent",
            "queue",
            "started_at",
            "ended_at",
            "agent_channel",
            "customer_channel",
        ] {
            if let Some(value) = field(column) {
                call.insert(column.to_owned(), json!(value));
            }
        }
        let segment = match field("segment").map(str::parse::<u32>) {
            None => 0,
            Some(Ok(segment)) => segment,
            Some(Err(_)) => {
                problems.push(format!("line {line_no}: segment is not a number"));
                continue;
            }
        };
        call.insert("segment".into(), json!(segment));
        let tags: Vec<&str> = field("tags")
            .map(|t| {
                t.split(';')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        call.insert("tags".into(), json!(tags));
        let mut attributes = BTreeMap::new();
        for pair in field("attributes").unwrap_or_default().split(';') {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let Some((key, value)) = pair.split_once('=') else {
                problems.push(format!(
                    "line {line_no}: attributes are key=value;key=value"
                ));
                continue;
            };
            attributes.insert(key.trim().to_owned(), value.trim().to_owned());
        }
        call.insert("attributes".into(), json!(attributes));
        match item(file, Value::Object(call), field("content_type")) {
            Ok(item) => items.push(item),
            Err(problem) => problems.push(format!("line {line_no}: {problem}")),
        }
    }
    Ok((items, problems))
}

/// A row's item, its call metadata checked as the upload route will.
fn item(file: &str, call: Value, content_type: Option<&str>) -> Result<Item, String> {
    let id = call["external_call_id"].as_str().unwrap_or_default();
    if id.trim().is_empty() {
        return Err("no external_call_id (the call id)".to_owned());
    }
    let parsed =
        callvault_ingestion::call::parse(call.to_string().as_bytes()).map_err(|error| error.0)?;
    let content_type = match content_type {
        Some(content_type) => content_type.to_owned(),
        None => content_type_of(file).ok_or_else(|| {
            format!("{file}: say its content_type (the extension is not .wav, .mp3, .flac or .ogg)")
        })?,
    };
    Ok(Item {
        key: format!("{}#{}", parsed.external_call_id, parsed.segment),
        file: file.to_owned(),
        call: serde_json::to_value(&parsed).map_err(|e| e.to_string())?,
        content_type,
    })
}

/// The audio type an extension says.
pub fn content_type_of(file: &str) -> Option<String> {
    let extension = file.rsplit_once('.')?.1.to_ascii_lowercase();
    let mime = match extension.as_str() {
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "ogg" | "opus" => "audio/ogg",
        _ => return None,
    };
    Some(mime.to_owned())
}
