//! The request's state machine: which step may leave which state.
//!
//! ```text
//! RECEIVED → AWAITING_IDENTITY → IN_REVIEW → AWAITING_APPROVAL → APPROVED → DELIVERED → CLOSED
//!    └────────── (identity verified) ─┘            └── sent back ──┘
//! any open state → REFUSED | WITHDRAWN;  REFUSED (identity) → AWAITING_IDENTITY (reopened)
//! ```

use callvault_contracts::disclosure_api::{RefusalGround, RequestState};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};

use RequestState as S;

/// A step a person takes on a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    AskForIdentity,
    IdentityVerified,
    IdentityFailedThreeTimes,
    Reopen,
    Submit,
    SendBack,
    Approve,
    Deliver,
    Close,
    Refuse,
    Withdraw,
}

impl Step {
    /// The states the step may start from.
    fn from_states(self) -> &'static [RequestState] {
        const OPEN: &[RequestState] = &[
            S::Received,
            S::AwaitingIdentity,
            S::InReview,
            S::AwaitingApproval,
            S::Approved,
        ];
        match self {
            Step::AskForIdentity => &[S::Received],
            Step::IdentityVerified | Step::IdentityFailedThreeTimes => {
                &[S::Received, S::AwaitingIdentity]
            }
            Step::Reopen => &[S::Refused],
            Step::Submit => &[S::InReview],
            Step::SendBack | Step::Approve => &[S::AwaitingApproval],
            Step::Deliver => &[S::Approved],
            Step::Close => &[S::Delivered],
            Step::Refuse | Step::Withdraw => OPEN,
        }
    }

    /// The step's name in the audit trail's details.
    pub fn label(self) -> &'static str {
        match self {
            Step::AskForIdentity => "asked_for_identity",
            Step::IdentityVerified => "identity_verified",
            Step::IdentityFailedThreeTimes => "identity_not_verified",
            Step::Reopen => "reopened",
            Step::Submit => "submitted",
            Step::SendBack => "sent_back",
            Step::Approve => "approved",
            Step::Deliver => "delivered",
            Step::Close => "closed",
            Step::Refuse => "refused",
            Step::Withdraw => "withdrawn",
        }
    }

    pub fn to_state(self) -> RequestState {
        match self {
            Step::AskForIdentity | Step::Reopen => S::AwaitingIdentity,
            Step::IdentityVerified | Step::SendBack => S::InReview,
            Step::IdentityFailedThreeTimes | Step::Refuse => S::Refused,
            Step::Submit => S::AwaitingApproval,
            Step::Approve => S::Approved,
            Step::Deliver => S::Delivered,
            Step::Close => S::Closed,
            Step::Withdraw => S::Withdrawn,
        }
    }

    /// Checks the step may leave `from`; `CONFLICT` (nothing changes)
    /// otherwise.
    pub fn check(self, from: RequestState) -> ApiResult<RequestState> {
        if self.from_states().contains(&from) {
            return Ok(self.to_state());
        }
        Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "the request is {}: this step needs it {}",
                state_name(from),
                self.from_states()
                    .iter()
                    .map(|state| state_name(*state))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ))
    }
}

/// Only a refusal for an unverified identity can be reopened.
pub(crate) fn reopenable(ground: Option<RefusalGround>) -> bool {
    ground == Some(RefusalGround::IdentityNotVerified)
}

pub(crate) fn state_name(state: RequestState) -> &'static str {
    match state {
        S::Received => "RECEIVED",
        S::AwaitingIdentity => "AWAITING_IDENTITY",
        S::InReview => "IN_REVIEW",
        S::AwaitingApproval => "AWAITING_APPROVAL",
        S::Approved => "APPROVED",
        S::Delivered => "DELIVERED",
        S::Closed => "CLOSED",
        S::Refused => "REFUSED",
        S::Withdrawn => "WITHDRAWN",
    }
}

pub(crate) fn parse_state(raw: &str) -> Option<RequestState> {
    [
        S::Received,
        S::AwaitingIdentity,
        S::InReview,
        S::AwaitingApproval,
        S::Approved,
        S::Delivered,
        S::Closed,
        S::Refused,
        S::Withdrawn,
    ]
    .into_iter()
    .find(|state| state_name(*state) == raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [RequestState; 9] = [
        S::Received,
        S::AwaitingIdentity,
        S::InReview,
        S::AwaitingApproval,
        S::Approved,
        S::Delivered,
        S::Closed,
        S::Refused,
        S::Withdrawn,
    ];

    /// Every (step, state) cell: allowed exactly where the lifecycle says.
    #[test]
    fn only_listed_transitions_are_possible() {
        let allowed: &[(Step, &[RequestState])] = &[
            (Step::AskForIdentity, &[S::Received]),
            (Step::IdentityVerified, &[S::Received, S::AwaitingIdentity]),
            (
                Step::IdentityFailedThreeTimes,
                &[S::Received, S::AwaitingIdentity],
            ),
            (Step::Reopen, &[S::Refused]),
            (Step::Submit, &[S::InReview]),
            (Step::SendBack, &[S::AwaitingApproval]),
            (Step::Approve, &[S::AwaitingApproval]),
            (Step::Deliver, &[S::Approved]),
            (Step::Close, &[S::Delivered]),
            (
                Step::Refuse,
                &[
                    S::Received,
                    S::AwaitingIdentity,
                    S::InReview,
                    S::AwaitingApproval,
                    S::Approved,
                ],
            ),
            (
                Step::Withdraw,
                &[
                    S::Received,
                    S::AwaitingIdentity,
                    S::InReview,
                    S::AwaitingApproval,
                    S::Approved,
                ],
            ),
        ];
        for (step, from) in allowed {
            for state in ALL {
                let outcome = step.check(state);
                assert_eq!(
                    outcome.is_ok(),
                    from.contains(&state),
                    "{step:?} from {state:?}"
                );
                if let Err(err) = outcome {
                    assert_eq!(err.code, ErrorCode::Conflict);
                }
            }
        }
    }

    #[test]
    fn open_states_are_the_ones_before_an_answer() {
        for state in ALL {
            let open = !matches!(state, S::Delivered | S::Closed | S::Refused | S::Withdrawn);
            assert_eq!(state.is_open(), open, "{state:?}");
            assert_eq!(parse_state(state_name(state)), Some(state));
        }
    }
}
