//! Lifecycle inputs and the checks that turn them into requests. Bad input
//! is refused here, before any call, so it changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use async_graphql::{Enum, InputObject};
use callvault_contracts::RecordingId;
use callvault_contracts::lifecycle_api as api;
use callvault_contracts::metadata_api::KeyMode as ApiKeyMode;
use uuid::Uuid;

use super::inputs::{KeyMode, MAX_RETENTION_DAYS, checked_name, key_mode};
use super::recordings::RecordingFilter;
use super::types::Direction;
use crate::error::bad_input;

/// Reasons, notes: enough for a paragraph, not a document.
pub(super) const MAX_REASON_LEN: usize = 1000;
const MAX_MATCH_TEXT_LEN: usize = 256;
const MAX_MATCH_TAGS: usize = 32;
const MAX_MATCH_ATTRIBUTES: usize = 32;
const MAX_ATTRIBUTE_KEY_LEN: usize = 64;
/// A hold on listed recordings names at most this many; a larger case is a
/// filter hold.
pub(super) const MAX_HOLD_RECORDINGS: usize = 1000;
/// The most audit entries one page may hold.
pub(super) const MAX_AUDIT_PAGE: i32 = 100;
/// Why a tenant's key changes: a sentence or two (the metadata service's
/// limit too).
const MAX_KEY_CHANGE_REASON_CHARS: usize = 500;
/// A statutory rule's legal basis: a citation, not a document (the
/// metadata service's limit too).
const MAX_LEGAL_BASIS_CHARS: usize = 500;

/// A daily manifest the tenant kept, handed back so the audit chain is
/// checked against the audit head it was signed with: `body` and
/// `signature` exactly as `dailyManifest` returned them.
#[derive(InputObject)]
pub struct KeptManifestInput {
    pub body: String,
    pub signature: String,
}

impl From<KeptManifestInput> for api::KeptManifest {
    fn from(input: KeptManifestInput) -> Self {
        Self {
            body: input.body,
            signature: input.signature,
        }
    }
}

#[derive(InputObject)]
pub struct TenantPolicyInput {
    pub default_retention_days: i32,
    pub require_playback_reason: bool,
}

impl TenantPolicyInput {
    pub(super) fn into_api(self) -> async_graphql::Result<api::TenantPolicy> {
        Ok(api::TenantPolicy {
            default_retention_days: retention_days(
                self.default_retention_days,
                "defaultRetentionDays",
            )?,
            require_playback_reason: self.require_playback_reason,
        })
    }
}

/// A change of the tenant's master key.
#[derive(InputObject)]
pub struct TenantKeyChangeInput {
    /// `MANAGED` rotates the tenant's managed key to a new version (or
    /// moves a tenant on its own key back to a managed one); `EXTERNAL`
    /// switches to the tenant's own KMS key `keyArn`, checked usable first.
    pub mode: KeyMode,
    /// Required with `EXTERNAL`, refused with `MANAGED`.
    pub key_arn: Option<String>,
    /// Why: kept in the audit trail.
    pub reason: String,
}

impl TenantKeyChangeInput {
    pub(super) fn into_api(self) -> async_graphql::Result<(ApiKeyMode, String)> {
        let mode = key_mode(self.mode, self.key_arn)?;
        let reason = checked_text(&self.reason, "reason")?;
        if reason.chars().count() > MAX_KEY_CHANGE_REASON_CHARS {
            return Err(bad_input(format!(
                "reason must be at most {MAX_KEY_CHANGE_REASON_CHARS} characters"
            )));
        }
        Ok((mode, reason))
    }
}

#[derive(InputObject)]
pub struct AttributeInput {
    pub key: String,
    pub value: String,
}

/// Which calls a rule applies to; every condition given must hold (none:
/// every call).
#[derive(InputObject, Default)]
pub struct RetentionMatchInput {
    pub queue: Option<String>,
    pub direction: Option<Direction>,
    #[graphql(default)]
    pub tags: Vec<String>,
    #[graphql(default)]
    pub attributes: Vec<AttributeInput>,
}

impl RetentionMatchInput {
    fn into_api(self) -> async_graphql::Result<api::RetentionMatch> {
        let printable = |text: &str, max: usize| {
            !text.is_empty() && text.len() <= max && !text.chars().any(char::is_control)
        };
        if self
            .queue
            .as_deref()
            .is_some_and(|queue| !printable(queue, MAX_MATCH_TEXT_LEN))
        {
            return Err(bad_input(format!(
                "matches.queue must be 1 to {MAX_MATCH_TEXT_LEN} bytes of printable text"
            )));
        }
        if self.tags.len() > MAX_MATCH_TAGS {
            return Err(bad_input(format!(
                "matches.tags holds at most {MAX_MATCH_TAGS} tags"
            )));
        }
        if !self
            .tags
            .iter()
            .all(|tag| printable(tag, MAX_MATCH_TEXT_LEN))
        {
            return Err(bad_input(format!(
                "matches.tags must be 1 to {MAX_MATCH_TEXT_LEN} bytes of printable text"
            )));
        }
        if self.attributes.len() > MAX_MATCH_ATTRIBUTES {
            return Err(bad_input(format!(
                "matches.attributes holds at most {MAX_MATCH_ATTRIBUTES} attributes"
            )));
        }
        let mut attributes = BTreeMap::new();
        for AttributeInput { key, value } in self.attributes {
            if !printable(&key, MAX_ATTRIBUTE_KEY_LEN) || !printable(&value, MAX_MATCH_TEXT_LEN) {
                return Err(bad_input(format!(
                    "attribute keys are 1 to {MAX_ATTRIBUTE_KEY_LEN} bytes, values 1 to {MAX_MATCH_TEXT_LEN}, printable"
                )));
            }
            if attributes.insert(key, value).is_some() {
                return Err(bad_input("matches.attributes names a key twice"));
            }
        }
        Ok(api::RetentionMatch {
            queue: self.queue,
            direction: self.direction.map(Into::into),
            tags: self.tags,
            attributes,
        })
    }
}

#[derive(InputObject)]
pub struct RetentionRuleInput {
    pub name: String,
    #[graphql(default)]
    pub matches: RetentionMatchInput,
    pub retention_days: i32,
    /// Overriding rules alone decide where they match (the longest of
    /// them), even against longer ordinary rules.
    #[graphql(default)]
    pub overriding: bool,
    /// The legal duty to keep what the rule matches (e.g. "MiFID II art.
    /// 16(7): records of telephone conversations"), 1 to 500 characters.
    /// Given, the rule is statutory: a data subject's erasure request keeps
    /// (restricted) the recordings whose retention it decides, until they
    /// are due.
    pub legal_basis: Option<String>,
}

impl RetentionRuleInput {
    pub(super) fn into_api(self) -> async_graphql::Result<api::NewRetentionRule> {
        Ok(api::NewRetentionRule {
            name: checked_name(&self.name, "name")?,
            retention_days: retention_days(self.retention_days, "retentionDays")?,
            matches: self.matches.into_api()?,
            overriding: self.overriding,
            legal_basis: self
                .legal_basis
                .as_deref()
                .map(checked_legal_basis)
                .transpose()?,
        })
    }
}

/// A legal hold: give exactly one of `recordingIds` and `filter`.
#[derive(InputObject)]
pub struct LegalHoldInput {
    pub case_name: String,
    pub reason: String,
    /// Hold these recordings.
    pub recording_ids: Option<Vec<Uuid>>,
    /// Hold every recording, present and future, this search matches.
    pub filter: Option<RecordingFilter>,
}

impl LegalHoldInput {
    pub(super) fn into_api(self) -> async_graphql::Result<api::NewLegalHold> {
        let case_name = checked_name(&self.case_name, "caseName")?;
        let reason = checked_text(&self.reason, "reason")?;
        let scope = match (self.recording_ids, self.filter) {
            (Some(ids), None) => {
                if ids.is_empty() || ids.len() > MAX_HOLD_RECORDINGS {
                    return Err(bad_input(format!(
                        "recordingIds must name 1 to {MAX_HOLD_RECORDINGS} recordings"
                    )));
                }
                if ids.iter().collect::<BTreeSet<_>>().len() != ids.len() {
                    return Err(bad_input("recordingIds names a recording twice"));
                }
                api::HoldScope::Recordings {
                    ids: ids.into_iter().map(RecordingId).collect(),
                }
            }
            (None, Some(filter)) => api::HoldScope::Filter {
                filter: filter.into_api()?,
            },
            _ => return Err(bad_input("give exactly one of recordingIds and filter")),
        };
        Ok(api::NewLegalHold {
            case_name,
            reason,
            scope,
        })
    }
}

/// Why a user deletes a recording now (retention deletions are the
/// deletion worker's).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletionRequestReason {
    /// A user with the right asked for it.
    UserRequest,
    /// A data subject's erasure request (GDPR art. 17, APPI).
    Erasure,
}

impl From<DeletionRequestReason> for api::DeletionReason {
    fn from(reason: DeletionRequestReason) -> Self {
        match reason {
            DeletionRequestReason::UserRequest => api::DeletionReason::UserRequest,
            DeletionRequestReason::Erasure => api::DeletionReason::Erasure,
        }
    }
}

fn retention_days(days: i32, field: &str) -> async_graphql::Result<u32> {
    if !(1..=MAX_RETENTION_DAYS).contains(&days) {
        return Err(bad_input(format!(
            "{field} must be between 1 and {MAX_RETENTION_DAYS}"
        )));
    }
    Ok(days.unsigned_abs())
}

/// A trimmed, non-empty reason or note; line breaks allowed, other control
/// characters not.
pub(super) fn checked_text(text: &str, field: &str) -> async_graphql::Result<String> {
    let text = text.trim();
    if text.is_empty()
        || text.len() > MAX_REASON_LEN
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(bad_input(format!(
            "{field} must be 1 to {MAX_REASON_LEN} bytes of text"
        )));
    }
    Ok(text.to_owned())
}

/// A statutory rule's legal basis: trimmed, 1 to 500 characters (the
/// metadata service's limit), line breaks allowed.
fn checked_legal_basis(text: &str) -> async_graphql::Result<String> {
    let text = text.trim();
    if text.is_empty()
        || text.chars().count() > MAX_LEGAL_BASIS_CHARS
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(bad_input(format!(
            "legalBasis must be 1 to {MAX_LEGAL_BASIS_CHARS} characters of text"
        )));
    }
    Ok(text.to_owned())
}

/// The page size of an audit trail page, if it makes sense.
pub(super) fn audit_page_size(first: i32) -> async_graphql::Result<u32> {
    if !(1..=MAX_AUDIT_PAGE).contains(&first) {
        return Err(bad_input(format!(
            "first must be between 1 and {MAX_AUDIT_PAGE}"
        )));
    }
    Ok(first.unsigned_abs())
}
