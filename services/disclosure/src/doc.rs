//! What a request row keeps as JSON besides its columns: nothing personal
//! (the requester and the numbers are sealed, see [`crate::sealing`]).

use callvault_contracts::disclosure_api::{
    Deadline, DisclosureMethod, Fee, IdentityAttempt, IntakeChannel, Refusal, RequestRecording,
    Transition,
};
use callvault_contracts::ops::subject::ErasureOutcome;
use chrono::{DateTime, NaiveDate, Utc};

use crate::deadline::Pause;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RequestDoc {
    pub channel: IntakeChannel,
    pub method: DisclosureMethod,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub deadline: Deadline,
    /// The local day the request started waiting for identity proof.
    pub identity_wait_since: Option<NaiveDate>,
    /// Each wait for identity proof that ended (asked, answered): the clock
    /// stood still then if the tenant's setting says so.
    pub identity_pauses: Vec<Pause>,
    /// The extension granted: months, reasons, the local day asked.
    pub extension: Option<(u32, String, NaiveDate)>,
    pub identity_attempts: Vec<IdentityAttempt>,
    /// Failed attempts since creation or the last reopening.
    pub failed_attempts: u32,
    pub recordings: Vec<RequestRecording>,
    pub transitions: Vec<Transition>,
    pub prepared_by: Option<String>,
    pub approved_by: Option<String>,
    pub refusal: Option<Refusal>,
    pub fee: Option<Fee>,
    pub fee_paid: bool,
    pub erasure: Option<ErasureOutcome>,
    pub restriction_active: bool,
    pub bundle_id: Option<Uuid>,
}

impl RequestDoc {
    /// The recordings the request covers now.
    pub fn included(&self) -> impl Iterator<Item = &RequestRecording> {
        self.recordings
            .iter()
            .filter(|recording| recording.included)
    }
}
