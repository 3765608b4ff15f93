//! Which calls a tenant keeps: its recording policy, its do-not-record list,
//! and the decision ingestion asks for before storing an upload.
//!
//! The random share of a rule is drawn from the call id, not from a random
//! generator: every segment of a call and every retry of an upload get the
//! same answer, and over many calls with unrelated ids the kept share is
//! binomial around the rule's percentage.

use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::call::{CallMetadata, Direction};
use callvault_contracts::lifecycle_api::AuditAction;
use callvault_contracts::metadata_api::{ApiError, ApiResult};
use callvault_contracts::permissions::Permission;
use callvault_contracts::recording_policy_api::{
    DoNotRecordEntry, DoNotRecordPage, KeepCalls, MAX_NUMBERS_PER_CHANGE, MAX_RULES, NotKeptAction,
    NotRecordedCall, NotRecordedCallPage, NotRecordedReason, RecordingPolicy, RecordingRule,
    UploadDecision,
};
use callvault_contracts::{Actor, RecordingId, TenantId};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{MetadataService, corrupt};
use crate::audit::{self, AuditRecord};
use crate::db::entity::{do_not_record_number, not_recorded_call, recording_policy};
use crate::db::{db_time, internal};
use crate::pii::{Party, TenantPii};
use crate::{input, phone, store};

/// Default and largest page of the list and of the not-recorded calls.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1_000;

impl MetadataService {
    pub async fn get_recording_policy(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<RecordingPolicy> {
        self.authorize_tenant(actor, Permission::ManagePolicy, tenant)
            .await?;
        self.recording_policy(tenant).await
    }

    async fn recording_policy(&self, tenant: TenantId) -> ApiResult<RecordingPolicy> {
        let Some(row) = store::recording_policy::policy(&self.db, tenant.0)
            .await
            .map_err(internal)?
        else {
            return Ok(RecordingPolicy::default());
        };
        let mut policy: RecordingPolicy =
            serde_json::from_str(&row.policy).map_err(|_| corrupt("recording policy"))?;
        policy.version = u32::try_from(row.version).map_err(|_| corrupt("policy version"))?;
        policy.updated_at = Some(row.updated_at);
        Ok(policy)
    }

    pub async fn set_recording_policy(
        &self,
        actor: &Actor,
        tenant: TenantId,
        policy: RecordingPolicy,
    ) -> ApiResult<RecordingPolicy> {
        self.authorize_tenant(actor, Permission::ManagePolicy, tenant)
            .await?;
        let mut policy = checked_policy(policy)?;
        let txn = self.db.begin().await.map_err(internal)?;
        // Serialises changes: two can't both take the next version.
        store::tenancy::lock_tenant(&txn, tenant)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("tenant"))?;
        let version = store::recording_policy::policy(&txn, tenant.0)
            .await
            .map_err(internal)?
            .map_or(0, |row| row.version)
            + 1;
        let now = self.now();
        policy.version = u32::try_from(version).map_err(|_| corrupt("policy version"))?;
        policy.updated_at = Some(now);
        let stored = StoredPolicy::from(&policy);
        let row = recording_policy::Model {
            tenant_id: tenant.0,
            policy: serde_json::to_string(&stored).map_err(|_| corrupt("recording policy"))?,
            version,
            updated_at: db_time(now),
        };
        store::recording_policy::save_policy(&txn, row)
            .await
            .map_err(internal)?;
        let details = json!({ "change": "policy", "policy": stored, "version": version });
        self.audit_policy_change(&txn, actor, tenant, details)
            .await?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, version, "recording policy changed");
        Ok(policy)
    }

    pub async fn add_do_not_record_numbers(
        &self,
        actor: &Actor,
        tenant: TenantId,
        numbers: &[String],
    ) -> ApiResult<u64> {
        let (pii, keys) = self.list_keys(actor, tenant, numbers).await?;
        let now = db_time(self.now());
        let rows = keys
            .iter()
            .map(|key| {
                Ok(do_not_record_number::Model {
                    tenant_id: tenant.0,
                    number_index: pii.blind_index(key),
                    number_ciphertext: seal_listed(&pii, key.as_str())?,
                    added_at: now,
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let txn = self.db.begin().await.map_err(internal)?;
        let added = store::recording_policy::add_numbers(&txn, rows)
            .await
            .map_err(internal)?;
        let details = json!({ "change": "do_not_record_added", "numbers": added });
        self.audit_policy_change(&txn, actor, tenant, details)
            .await?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, added, "numbers added to the do-not-record list");
        Ok(added)
    }

    pub async fn remove_do_not_record_numbers(
        &self,
        actor: &Actor,
        tenant: TenantId,
        numbers: &[String],
    ) -> ApiResult<u64> {
        let (pii, keys) = self.list_keys(actor, tenant, numbers).await?;
        let indexes = keys.iter().map(|key| pii.blind_index(key)).collect();
        let txn = self.db.begin().await.map_err(internal)?;
        let removed = store::recording_policy::remove_numbers(&txn, tenant.0, indexes)
            .await
            .map_err(internal)?;
        let details = json!({ "change": "do_not_record_removed", "numbers": removed });
        self.audit_policy_change(&txn, actor, tenant, details)
            .await?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, removed, "numbers removed from the do-not-record list");
        Ok(removed)
    }

    pub async fn list_do_not_record_numbers(
        &self,
        actor: &Actor,
        tenant: TenantId,
        first: Option<u32>,
        after: Option<&str>,
    ) -> ApiResult<DoNotRecordPage> {
        self.authorize_tenant(actor, Permission::ManagePolicy, tenant)
            .await?;
        let limit = page_size(first)?;
        let after = after
            .map(|cursor| {
                hex::decode(cursor)
                    .map_err(|_| ApiError::invalid("after is not a cursor of this list"))
            })
            .transpose()?;
        let pii = self.tenant_pii(tenant).await?;
        let rows = store::recording_policy::numbers_page(&self.db, tenant.0, after, limit + 1)
            .await
            .map_err(internal)?;
        let total = store::recording_policy::count_numbers(&self.db, tenant.0)
            .await
            .map_err(internal)?;
        let more = rows.len() as u64 > limit;
        let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
        let next_cursor = more
            .then(|| rows.last().map(|row| hex::encode(&row.number_index)))
            .flatten();
        let entries = rows
            .into_iter()
            .map(|row| {
                Ok(DoNotRecordEntry {
                    number: open_listed(&pii, &row.number_ciphertext)?,
                    added_at: row.added_at,
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(DoNotRecordPage {
            entries,
            total,
            next_cursor,
        })
    }

    pub async fn list_not_recorded_calls(
        &self,
        actor: &Actor,
        tenant: TenantId,
        first: Option<u32>,
        after: Option<&str>,
    ) -> ApiResult<NotRecordedCallPage> {
        self.authorize_tenant(actor, Permission::ManagePolicy, tenant)
            .await?;
        let limit = page_size(first)?;
        let after = after.map(decode_call_cursor).transpose()?;
        let rows = store::recording_policy::not_recorded_page(&self.db, tenant.0, after, limit + 1)
            .await
            .map_err(internal)?;
        let more = rows.len() as u64 > limit;
        let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
        let next_cursor = more
            .then(|| {
                rows.last()
                    .map(|row| encode_call_cursor(&row.external_call_id, row.segment))
            })
            .flatten();
        let calls = rows
            .into_iter()
            .map(not_recorded_from_row)
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(NotRecordedCallPage { calls, next_cursor })
    }

    /// Ingestion's question before storing an upload of `tenant`.
    pub async fn decide_upload(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        call: &CallMetadata,
    ) -> ApiResult<UploadDecision> {
        let row = store::tenancy::get_tenant(&self.db, tenant)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("tenant"))?;
        self.refuse_if_frozen(tenant, Permission::ManageApiKeys)
            .await?;
        let policy = self.recording_policy(tenant).await?;
        let region = input::stored_region(row.default_region.as_deref());
        let listed = {
            let pii = self.tenant_pii(tenant).await?;
            let indexes = party_indexes(&pii, call, region);
            store::recording_policy::any_listed(&self.db, tenant.0, indexes)
                .await
                .map_err(internal)?
        };
        let reason = if listed {
            Some(NotRecordedReason::DoNotRecord)
        } else {
            not_kept_by_rules(&policy, tenant, call)
        };
        let Some(reason) = reason else {
            return Ok(UploadDecision::Keep {
                silence_pauses: policy.silence_pauses,
            });
        };
        match policy.not_kept {
            NotKeptAction::Refuse => {
                tracing::info!(tenant_id = %tenant, %recording, reason = reason.as_str(), "upload refused by the recording policy");
                Ok(UploadDecision::Refuse { reason })
            }
            NotKeptAction::MetadataOnly => {
                let kept = not_recorded_row(tenant, recording, call, reason, &policy, self.now())?;
                store::recording_policy::keep_not_recorded(&self.db, kept)
                    .await
                    .map_err(internal)?;
                tracing::info!(tenant_id = %tenant, %recording, reason = reason.as_str(), "call kept as metadata only");
                Ok(UploadDecision::MetadataOnly { reason })
            }
        }
    }

    /// A change of the list: the caller may manage the policy, and every
    /// number is a valid one (all checked before anything changes); with
    /// the tenant's catalogue keys.
    async fn list_keys(
        &self,
        actor: &Actor,
        tenant: TenantId,
        numbers: &[String],
    ) -> ApiResult<(Arc<TenantPii>, Vec<phone::IndexKey>)> {
        let (_, row) = self
            .authorize_tenant_row(actor, Permission::ManagePolicy, tenant)
            .await?;
        check_count(numbers)?;
        let region = input::stored_region(row.and_then(|row| row.default_region).as_deref());
        let keys = numbers
            .iter()
            .enumerate()
            .map(|(position, number)| list_key(number, region, position))
            .collect::<ApiResult<Vec<_>>>()?;
        Ok((self.tenant_pii(tenant).await?, keys))
    }

    async fn audit_policy_change(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        actor: &Actor,
        tenant: TenantId,
        details: serde_json::Value,
    ) -> ApiResult<()> {
        let record = AuditRecord {
            action: AuditAction::RecordingPolicyChange,
            target: None,
            reason: None,
            details,
        };
        audit::append(txn, tenant, actor, self.now(), record)
            .await
            .map_err(internal)?;
        Ok(())
    }
}

/// The policy as stored: without its version and time, which have columns.
#[derive(Serialize, Deserialize)]
struct StoredPolicy {
    keep: KeepCalls,
    rules: Vec<RecordingRule>,
    not_kept: NotKeptAction,
    silence_pauses: bool,
}

impl From<&RecordingPolicy> for StoredPolicy {
    fn from(policy: &RecordingPolicy) -> Self {
        StoredPolicy {
            keep: policy.keep,
            rules: policy.rules.clone(),
            not_kept: policy.not_kept,
            silence_pauses: policy.silence_pauses,
        }
    }
}

fn checked_policy(mut policy: RecordingPolicy) -> ApiResult<RecordingPolicy> {
    if policy.rules.len() > MAX_RULES {
        return Err(ApiError::invalid(format!(
            "a recording policy has at most {MAX_RULES} rules"
        )));
    }
    if policy.keep == KeepCalls::MatchingRules && policy.rules.is_empty() {
        return Err(ApiError::invalid(
            "keep MATCHING_RULES needs at least one rule (or every call would be refused)",
        ));
    }
    for rule in &mut policy.rules {
        if !rule.percent.is_finite() || rule.percent <= 0.0 || rule.percent > 100.0 {
            return Err(ApiError::invalid(
                "a rule's percent must be above 0 and at most 100",
            ));
        }
        rule.queue = input::filter_text(rule.queue.as_ref(), "queue")?;
        rule.tags = input::filter_tags(&rule.tags)?;
        rule.attributes = input::filter_attributes(&rule.attributes)?;
    }
    Ok(policy)
}

/// A listed number, sealed under the tenant's catalogue key (bound to no
/// recording: the nil id).
fn seal_listed(pii: &TenantPii, number: &str) -> ApiResult<Vec<u8>> {
    pii.seal(RecordingId(uuid::Uuid::nil()), Party::DoNotRecord, number)
        .map_err(|_| corrupt("do-not-record number"))
}

pub(super) fn open_listed(pii: &TenantPii, sealed: &[u8]) -> ApiResult<String> {
    pii.open(RecordingId(uuid::Uuid::nil()), Party::DoNotRecord, sealed)
        .map_err(|_| corrupt("do-not-record number"))
}

fn check_count(numbers: &[String]) -> ApiResult<()> {
    if numbers.is_empty() || numbers.len() > MAX_NUMBERS_PER_CHANGE {
        return Err(ApiError::invalid(format!(
            "give 1 to {MAX_NUMBERS_PER_CHANGE} numbers"
        )));
    }
    Ok(())
}

/// A listed number's key: as strict as a search by number. The error
/// names the position, never the number.
fn list_key(
    number: &str,
    region: Option<phone::Region>,
    position: usize,
) -> ApiResult<phone::IndexKey> {
    phone::search_key(number, region)
        .map_err(|err| ApiError::invalid(format!("numbers[{position}]: {err}")))
}

fn page_size(first: Option<u32>) -> ApiResult<u64> {
    let first = first.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(ApiError::invalid(format!(
            "first must be between 1 and {MAX_PAGE}"
        )));
    }
    Ok(u64::from(first))
}

/// The call's numbers' blind indexes, as the catalogue computes them.
fn party_indexes(
    pii: &TenantPii,
    call: &CallMetadata,
    region: Option<phone::Region>,
) -> Vec<Vec<u8>> {
    [&call.caller_number, &call.callee_number]
        .into_iter()
        .filter_map(|number| phone::index_key(number, region))
        .map(|key| pii.blind_index(&key))
        .collect()
}

/// Why the rules don't keep `call`, or none if they do.
fn not_kept_by_rules(
    policy: &RecordingPolicy,
    tenant: TenantId,
    call: &CallMetadata,
) -> Option<NotRecordedReason> {
    if policy.keep == KeepCalls::All {
        return None;
    }
    let best = policy
        .rules
        .iter()
        .filter(|rule| matches(rule, call))
        .map(|rule| rule.percent)
        .reduce(f64::max);
    let Some(percent) = best else {
        return Some(NotRecordedReason::NoRuleMatched);
    };
    (sample_point(tenant, &call.external_call_id) >= percent)
        .then_some(NotRecordedReason::NotSampled)
}

fn matches(rule: &RecordingRule, call: &CallMetadata) -> bool {
    rule.queue
        .as_ref()
        .is_none_or(|queue| call.queue.as_ref() == Some(queue))
        && rule
            .direction
            .is_none_or(|direction| direction == call.direction)
        && rule.tags.iter().all(|tag| call.tags.contains(tag))
        && rule
            .attributes
            .iter()
            .all(|(key, value)| call.attributes.get(key) == Some(value))
}

/// Where the call falls in [0, 100): from SHA-256 of the tenant and the
/// call id, so every segment and retry of a call lands on the same point.
pub(crate) fn sample_point(tenant: TenantId, external_call_id: &str) -> f64 {
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    digest.update(b"callvault/recording-sample/v1");
    digest.update(tenant.0.as_bytes());
    digest.update(external_call_id.as_bytes());
    let digest = digest.finish();
    let mut top = [0u8; 8];
    top.copy_from_slice(&digest.as_ref()[..8]);
    // 53 bits: exactly representable, uniform in [0, 1).
    let unit = (u64::from_be_bytes(top) >> 11) as f64 / (1u64 << 53) as f64;
    unit * 100.0
}

/// The rest of a not-recorded call, as its `call` column holds it.
#[derive(Serialize, Deserialize)]
struct KeptCall {
    direction: Direction,
    queue: Option<String>,
    started_at: chrono::DateTime<chrono::Utc>,
    ended_at: chrono::DateTime<chrono::Utc>,
    tags: Vec<String>,
    attributes: std::collections::BTreeMap<String, String>,
}

fn not_recorded_row(
    tenant: TenantId,
    recording: RecordingId,
    call: &CallMetadata,
    reason: NotRecordedReason,
    policy: &RecordingPolicy,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<not_recorded_call::Model> {
    // No phone numbers: the call was not to be recorded, and for a listed
    // number the person asked exactly that.
    let kept = KeptCall {
        direction: call.direction,
        queue: call.queue.clone(),
        started_at: call.started_at,
        ended_at: call.ended_at,
        tags: call.tags.clone(),
        attributes: call.attributes.clone(),
    };
    Ok(not_recorded_call::Model {
        tenant_id: tenant.0,
        external_call_id: call.external_call_id.clone(),
        segment: i64::from(call.segment),
        recording_id: recording.0,
        reason: reason.as_str().to_owned(),
        policy_version: i64::from(policy.version),
        agent: call.agent.clone(),
        call: serde_json::to_string(&kept).map_err(|_| corrupt("not-recorded call"))?,
        decided_at: db_time(now),
    })
}

pub(super) fn not_recorded_from_row(row: not_recorded_call::Model) -> ApiResult<NotRecordedCall> {
    let kept: KeptCall =
        serde_json::from_str(&row.call).map_err(|_| corrupt("not-recorded call"))?;
    let reason = [
        NotRecordedReason::DoNotRecord,
        NotRecordedReason::NoRuleMatched,
        NotRecordedReason::NotSampled,
    ]
    .into_iter()
    .find(|reason| reason.as_str() == row.reason)
    .ok_or_else(|| corrupt("not-recorded reason"))?;
    Ok(NotRecordedCall {
        tenant_id: TenantId(row.tenant_id),
        recording_id: RecordingId(row.recording_id),
        external_call_id: row.external_call_id,
        segment: u32::try_from(row.segment).map_err(|_| corrupt("segment"))?,
        direction: kept.direction,
        agent: row.agent,
        queue: kept.queue,
        started_at: kept.started_at,
        ended_at: kept.ended_at,
        tags: kept.tags,
        attributes: kept.attributes,
        reason,
        policy_version: u32::try_from(row.policy_version).map_err(|_| corrupt("policy version"))?,
        decided_at: row.decided_at,
    })
}

/// `hex(call id) . segment`: opaque to callers, ordered like the key.
fn encode_call_cursor(call: &str, segment: i64) -> String {
    format!("{}.{segment}", hex::encode(call))
}

fn decode_call_cursor(cursor: &str) -> ApiResult<(String, i64)> {
    let invalid = || ApiError::invalid("after is not a cursor of this list");
    let (call, segment) = cursor.split_once('.').ok_or_else(invalid)?;
    let call =
        String::from_utf8(hex::decode(call).map_err(|_| invalid())?).map_err(|_| invalid())?;
    Ok((call, segment.parse().map_err(|_| invalid())?))
}

/// Serves this module's operations.
pub(super) fn routes(router: &mut Router, service: &Arc<MetadataService>) {
    use callvault_contracts::ops::recording_policy::{
        AddDoNotRecordNumbers, DecideUpload, GetRecordingPolicy, ListDoNotRecordNumbers,
        ListNotRecordedCalls, RemoveDoNotRecordNumbers, SetRecordingPolicy,
    };
    router
        .route(service, |s, r: GetRecordingPolicy| async move {
            s.get_recording_policy(&r.actor, r.tenant).await
        })
        .route(service, |s, r: SetRecordingPolicy| async move {
            s.set_recording_policy(&r.actor, r.tenant, r.policy).await
        })
        .route(service, |s, r: AddDoNotRecordNumbers| async move {
            s.add_do_not_record_numbers(&r.actor, r.tenant, &r.numbers)
                .await
        })
        .route(service, |s, r: RemoveDoNotRecordNumbers| async move {
            s.remove_do_not_record_numbers(&r.actor, r.tenant, &r.numbers)
                .await
        })
        .route(service, |s, r: ListDoNotRecordNumbers| async move {
            s.list_do_not_record_numbers(&r.actor, r.tenant, r.first, r.after.as_deref())
                .await
        })
        .route(service, |s, r: ListNotRecordedCalls| async move {
            s.list_not_recorded_calls(&r.actor, r.tenant, r.first, r.after.as_deref())
                .await
        })
        .route(service, |s, r: DecideUpload| async move {
            s.decide_upload(r.tenant, r.recording, &r.call).await
        });
}
