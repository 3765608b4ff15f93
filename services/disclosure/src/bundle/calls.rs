//! `calls.json` and `calls.csv`: the subject's calls, one row each, in the
//! structured, machine-readable formats GDPR art. 20 asks for.

use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Which way a call went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
    Internal,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
        }
    }
}

/// One call of the data subject.
///
/// The other party's number has no field: it is a third party's personal
/// data (GDPR art. 15(4)), so it can't reach the export by mistake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRow {
    pub recording_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub direction: Direction,
    /// The data subject's own number (E.164 where known).
    pub subject_number: String,
    pub queue: Option<String>,
    pub duration_ms: u64,
    /// The agent's pseudonym, or name where the tenant discloses names.
    pub agent: Option<String>,
}

/// The CSV header, in column order.
const COLUMNS: [&str; 8] = [
    "recording_id",
    "started_at",
    "ended_at",
    "direction",
    "subject_number",
    "queue",
    "duration_ms",
    "agent",
];

/// Writes `rows` as a pretty-printed JSON array, one object per call.
pub fn write_calls_json(rows: &[CallRow], mut out: impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, rows)?;
    out.write_all(b"\n")
}

/// Writes `rows` as RFC 4180 CSV in UTF-8: a header row, CRLF line ends, a
/// field quoted (its quotes doubled) when it holds a comma, quote, CR or
/// LF. Times are RFC 3339 UTC, as in the JSON; an absent queue or agent is
/// an empty field. Values are written verbatim, with no spreadsheet
/// escaping: this is the subject's data, for any program to read.
pub fn write_calls_csv(rows: &[CallRow], mut out: impl Write) -> io::Result<()> {
    write_record(&mut out, COLUMNS)?;
    for row in rows {
        let recording_id = row.recording_id.to_string();
        let started_at = rfc3339(row.started_at);
        let ended_at = rfc3339(row.ended_at);
        let duration_ms = row.duration_ms.to_string();
        write_record(
            &mut out,
            [
                recording_id.as_str(),
                &started_at,
                &ended_at,
                row.direction.as_str(),
                &row.subject_number,
                row.queue.as_deref().unwrap_or(""),
                &duration_ms,
                row.agent.as_deref().unwrap_or(""),
            ],
        )?;
    }
    Ok(())
}

/// The same form serde gives the JSON.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn write_record<'a>(
    out: &mut impl Write,
    fields: impl IntoIterator<Item = &'a str>,
) -> io::Result<()> {
    for (index, field) in fields.into_iter().enumerate() {
        if index > 0 {
            out.write_all(b",")?;
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.write_all(b"\"")?;
            out.write_all(field.replace('"', "\"\"").as_bytes())?;
            out.write_all(b"\"")?;
        } else {
            out.write_all(field.as_bytes())?;
        }
    }
    out.write_all(b"\r\n")
}
