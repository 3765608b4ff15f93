//! The review: which recordings a request covers (matched, added or removed
//! by an officer, with a reason) and the spans the reviewer redacts. Both
//! are frozen from approval on.

use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::disclosure_api::{
    DisclosureRequest, RecordingSource, RedactionSpan, RequestState, SpanChannel,
};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::ops::disclosure::{
    AddRequestRecording, RemoveRequestRecording, SetRedactions,
};
use callvault_contracts::ops::subject::GetSubjectRecordings;
use callvault_contracts::permissions::Permission;
use callvault_contracts::{Actor, RecordingId, TenantId};
use uuid::Uuid;

use super::steps::Change;
use super::{DisclosureService, bad_input, required_reason};

/// Spans per recording.
const MAX_SPANS: usize = 500;

pub(super) fn routes(router: &mut Router, service: &Arc<DisclosureService>) {
    router
        .route(service, |s, r: AddRequestRecording| async move {
            s.add_recording(&r.actor, r.tenant, r.id, r.recording, &r.reason)
                .await
        })
        .route(service, |s, r: RemoveRequestRecording| async move {
            s.remove_recording(&r.actor, r.tenant, r.id, r.recording, &r.reason)
                .await
        })
        .route(service, |s, r: SetRedactions| async move {
            s.set_redactions(&r.actor, r.tenant, r.id, r.recording, r.spans)
                .await
        });
}

/// The recordings can change until the review is handed over.
fn check_editable(state: RequestState) -> ApiResult<()> {
    if matches!(
        state,
        RequestState::Received | RequestState::AwaitingIdentity | RequestState::InReview
    ) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::Conflict,
        "the request's recordings are frozen (handed over for approval, or answered)",
    ))
}

impl DisclosureService {
    async fn add_recording(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        id: Uuid,
        recording: RecordingId,
        reason: &str,
    ) -> ApiResult<DisclosureRequest> {
        let reason = required_reason(reason)?;
        let tenant = self
            .authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        // `NotFound` for another tenant's recording or a shredded one.
        let found = self
            .metadata
            .call(GetSubjectRecordings {
                tenant: tenant_id,
                ids: vec![recording],
            })
            .await?;
        let Some(found) = found.into_iter().next() else {
            return Err(ApiError::new(ErrorCode::NotFound, "no such recording"));
        };
        self.apply(actor, &tenant, id, move |_, state, doc| {
            check_editable(state)?;
            match doc
                .recordings
                .iter_mut()
                .find(|r| r.recording_id == recording)
            {
                Some(existing) if existing.included => {
                    return Err(ApiError::new(
                        ErrorCode::Conflict,
                        "the recording is already part of the request",
                    ));
                }
                Some(existing) => {
                    existing.included = true;
                    existing.reason = Some(reason.clone());
                }
                None => doc.recordings.push(super::intake::request_recording(
                    &found,
                    RecordingSource::Added,
                    Some(reason.clone()),
                )),
            }
            doc.recordings
                .sort_by_key(|r| (r.started_at, r.recording_id));
            Ok(Change {
                step: None,
                reason: Some(reason),
                details: serde_json::json!({
                    "step": "recording_added",
                    "recording_id": recording.to_string(),
                }),
            })
        })
        .await
    }

    async fn remove_recording(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        id: Uuid,
        recording: RecordingId,
        reason: &str,
    ) -> ApiResult<DisclosureRequest> {
        let reason = required_reason(reason)?;
        let tenant = self
            .authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        self.apply(actor, &tenant, id, move |_, state, doc| {
            check_editable(state)?;
            let Some(existing) = doc
                .recordings
                .iter_mut()
                .find(|r| r.recording_id == recording && r.included)
            else {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    "the recording is not part of the request",
                ));
            };
            existing.included = false;
            existing.reason = Some(reason.clone());
            Ok(Change {
                step: None,
                reason: Some(reason),
                details: serde_json::json!({
                    "step": "recording_removed",
                    "recording_id": recording.to_string(),
                }),
            })
        })
        .await
    }

    async fn set_redactions(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        id: Uuid,
        recording: RecordingId,
        spans: Vec<RedactionSpan>,
    ) -> ApiResult<DisclosureRequest> {
        let tenant = self
            .authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        // How the audio places the parties: checked now, so a bundle never
        // fails on a span it can't place.
        let layout = match spans.is_empty() {
            true => None,
            false => self
                .metadata
                .call(GetSubjectRecordings {
                    tenant: tenant_id,
                    ids: vec![recording],
                })
                .await?
                .into_iter()
                .next()
                .map(|found| Layout::of(&found.recording)),
        };
        self.apply(actor, &tenant, id, move |_, state, doc| {
            if state != RequestState::InReview {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "spans are set during the review (IN_REVIEW) only",
                ));
            }
            let Some(target) = doc
                .recordings
                .iter_mut()
                .find(|r| r.recording_id == recording && r.included)
            else {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    "the recording is not part of the request",
                ));
            };
            check_spans(&spans, target.duration_ms)?;
            if let Some(layout) = layout {
                layout.check(&spans)?;
            }
            let count = spans.len();
            target.redactions = spans;
            Ok(Change {
                step: None,
                reason: None,
                details: serde_json::json!({
                    "step": "redactions_set",
                    "recording_id": recording.to_string(),
                    "spans": count,
                }),
            })
        })
        .await
    }
}

/// Spans lie inside the recording, are ordered by start, and don't overlap
/// on a channel (`Both` covers the agent's and the customer's).
pub(crate) fn check_spans(spans: &[RedactionSpan], duration_ms: u64) -> ApiResult<()> {
    if spans.len() > MAX_SPANS {
        return Err(bad_input(format!(
            "at most {MAX_SPANS} spans per recording"
        )));
    }
    for (index, span) in spans.iter().enumerate() {
        if span.start_ms >= span.end_ms {
            return Err(bad_input(format!(
                "span {index} is empty: start must be before end"
            )));
        }
        if span.end_ms > duration_ms {
            return Err(bad_input(format!(
                "span {index} ends after the recording ({duration_ms} ms)"
            )));
        }
        if index > 0 && spans[index - 1].start_ms > span.start_ms {
            return Err(bad_input(format!(
                "span {index} starts before the span before it"
            )));
        }
    }
    for (index, span) in spans.iter().enumerate() {
        let overlapping = spans[..index].iter().any(|earlier| {
            shares_channel(earlier.channel, span.channel)
                && earlier.start_ms < span.end_ms
                && span.start_ms < earlier.end_ms
        });
        if overlapping {
            return Err(bad_input(format!(
                "span {index} overlaps an earlier span on the same channel"
            )));
        }
    }
    Ok(())
}

/// Which channels of the audio carry whom.
#[derive(Clone, Copy)]
struct Layout {
    mono: bool,
    agent: bool,
    customer: bool,
}

impl Layout {
    fn of(recording: &callvault_contracts::metadata_api::Recording) -> Self {
        use callvault_contracts::call::Channel;
        let placed =
            |channel: Option<Channel>| matches!(channel, Some(Channel::Left | Channel::Right));
        Self {
            mono: recording.channels <= 1,
            agent: placed(recording.agent_channel),
            customer: placed(recording.customer_channel),
        }
    }

    /// On a mono recording every span silences the one channel, so no two
    /// may overlap whatever side they name; on a multi-channel one a side
    /// must be placed on a channel to be redacted alone.
    fn check(self, spans: &[RedactionSpan]) -> ApiResult<()> {
        for (index, span) in spans.iter().enumerate() {
            if self.mono {
                if index > 0
                    && spans[..index]
                        .iter()
                        .any(|e| e.start_ms < span.end_ms && span.start_ms < e.end_ms)
                {
                    return Err(bad_input(format!(
                        "span {index} overlaps an earlier span: the recording is mono, every span covers its one channel"
                    )));
                }
                continue;
            }
            let placed = match span.channel {
                SpanChannel::Agent => self.agent,
                SpanChannel::Customer => self.customer,
                SpanChannel::Both => true,
            };
            if !placed {
                return Err(bad_input(format!(
                    "span {index}: the recording doesn't say which channel carries that side; use BOTH"
                )));
            }
        }
        Ok(())
    }
}

fn shares_channel(a: SpanChannel, b: SpanChannel) -> bool {
    a == b || a == SpanChannel::Both || b == SpanChannel::Both
}

#[cfg(test)]
mod tests {
    use super::*;
    use callvault_contracts::disclosure_api::RedactionMode;

    fn span(channel: SpanChannel, start_ms: u64, end_ms: u64) -> RedactionSpan {
        RedactionSpan {
            channel,
            start_ms,
            end_ms,
            mode: RedactionMode::Silence,
        }
    }

    #[test]
    fn spans_inside_ordered_and_apart_are_accepted() {
        let spans = [
            span(SpanChannel::Customer, 0, 1000),
            span(SpanChannel::Agent, 500, 1500),
            span(SpanChannel::Both, 2000, 3000),
        ];
        assert!(check_spans(&spans, 3000).is_ok());
    }

    #[test]
    fn bad_spans_are_refused_by_position() {
        let cases: [(&[RedactionSpan], &str); 5] = [
            (&[span(SpanChannel::Agent, 10, 10)], "span 0 is empty"),
            (&[span(SpanChannel::Agent, 0, 3001)], "span 0 ends after"),
            (
                &[
                    span(SpanChannel::Agent, 100, 200),
                    span(SpanChannel::Customer, 50, 60),
                ],
                "span 1 starts before",
            ),
            (
                &[
                    span(SpanChannel::Agent, 0, 200),
                    span(SpanChannel::Agent, 100, 300),
                ],
                "span 1 overlaps",
            ),
            (
                &[
                    span(SpanChannel::Customer, 0, 200),
                    span(SpanChannel::Both, 199, 300),
                ],
                "span 1 overlaps",
            ),
        ];
        for (spans, message) in cases {
            let err = check_spans(spans, 3000).expect_err(message);
            assert_eq!(err.code, ErrorCode::InvalidInput);
            assert!(err.message.starts_with(message), "{}", err.message);
        }
    }
}
