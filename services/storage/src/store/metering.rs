//! What billing meters from storage besides the lifecycle events (stored,
//! discarded, shredded, which the records enqueue with their changes): the
//! audio served, and the stored byte-seconds billing's daily
//! reconciliation compares with its own count.

use callvault_contracts::TenantId;
use callvault_contracts::events::RecordingServedV1;
use chrono::{DateTime, Utc};
use tracing::field::Empty;

use super::{RecordingStore, traced};
use crate::StorageError;

/// Records read per page when summing byte-seconds: the sum runs over every
/// recording, in memory that does not grow with them.
const SPAN_PAGE: u64 = 1_000;

impl RecordingStore {
    /// Every tenant's stored byte-seconds over `[from, to)`, from the
    /// records: the sum over its recordings of plaintext bytes × the whole
    /// seconds of the window each was stored (created, not yet shredded),
    /// every instant floored to its Unix second (see
    /// [`crate::records::StoredSpan::byte_seconds`]). In tenant id order;
    /// tenants with nothing stored in the window are left out, and so are
    /// discarded recordings (they count as never stored). An empty window
    /// (`to` at or before `from`) has none.
    #[tracing::instrument(
        name = "storage.stored_byte_seconds",
        skip_all,
        fields(from = %from, to = %to, error.code = Empty, otel.status_code = Empty)
    )]
    pub async fn stored_byte_seconds(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(TenantId, u128)>, StorageError> {
        traced(self.sum_byte_seconds(from, to).await)
    }

    async fn sum_byte_seconds(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(TenantId, u128)>, StorageError> {
        let mut totals = Vec::new();
        if to <= from {
            return Ok(totals);
        }
        // The pages come in tenant order, so one running sum is enough.
        let mut current: Option<(TenantId, u128)> = None;
        let mut after = None;
        loop {
            let page = self.records.list_spans(from, to, after, SPAN_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.tenant_id, last.recording_id));
            let more = page.len() as u64 == SPAN_PAGE;
            for span in page {
                let amount = span.byte_seconds(from, to);
                match &mut current {
                    Some((tenant, sum)) if *tenant == span.tenant_id => {
                        *sum = sum.checked_add(amount).ok_or_else(|| {
                            StorageError::Internal("byte-seconds overflow".into())
                        })?;
                    }
                    _ => {
                        totals.extend(current.take().filter(|(_, sum)| *sum > 0));
                        current = Some((span.tenant_id, amount));
                    }
                }
            }
            if !more {
                break;
            }
        }
        totals.extend(current.filter(|(_, sum)| *sum > 0));
        Ok(totals)
    }

    /// Enqueues a `recording.served`: on its own, as serving changes
    /// nothing stored.
    pub async fn record_served(&self, event: &RecordingServedV1) -> Result<(), StorageError> {
        crate::records::enqueue(self.records.connection(), event)
            .await
            .map_err(|error| StorageError::Unavailable(format!("database: {error}")))?;
        self.enqueued();
        Ok(())
    }
}
