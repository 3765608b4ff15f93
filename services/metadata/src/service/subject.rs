//! What the disclosure service asks about a data subject
//! ([`callvault_contracts::ops::subject`]): the subject's numbers as the
//! tenant's blind index knows them, the subject's recordings with what
//! stands in the way of erasing them, and the tenant itself.
//!
//! These are machine calls: the disclosure service checked the person's
//! permission (`HandleDisclosure`, `ReadDisclosure`) before asking, and
//! names the person as the actor where a call changes something. What the
//! metadata service still checks, on every call: the tenant exists
//! (`NOT_FOUND`) and is not offboarded (`TENANT_OFFBOARDED`), and every
//! query names it, so no call reaches another tenant's rows. Phone numbers
//! are never logged, nor echoed in errors: an invalid one is named by its
//! position.
//!
//! Preservation and restriction are in `restriction`, erasure in
//! `erasure`, the audit and evidence calls in `disclosure_evidence`.

use std::collections::HashMap;
use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::metadata_api::{ApiError, ApiResult, Tenant};
use callvault_contracts::ops::subject::{StatutoryRetention, SubjectNumber, SubjectRecording};
use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::MetadataService;
use super::holds::holds_covering_each;
use super::offboarding::offboarded;
use super::tenancy::tenant_from_row;
use crate::db::entity::{recording, tenant};
use crate::db::{db_time, internal};
use crate::phone::{self, IndexKey, Region};
use crate::{input, store};

/// Numbers one call may name: a subject has a few lines, not a directory.
const MAX_SUBJECT_NUMBERS: usize = 50;
/// Recording ids one call may name (as a legal hold's list).
pub(super) const MAX_SUBJECT_IDS: usize = 1000;
/// Recordings one search may find: more is a number shared by many
/// callers (a switchboard), to be narrowed by date.
const MAX_SUBJECT_RECORDINGS: u64 = 10_000;
/// Rows turned into views per batch of queries.
const VIEW_BATCH: usize = 500;

impl MetadataService {
    /// The tenant of a machine call: `NOT_FOUND` when there is none,
    /// `TENANT_OFFBOARDED` when it is frozen.
    pub(super) async fn machine_tenant(&self, tenant: TenantId) -> ApiResult<tenant::Model> {
        let row = store::tenancy::get_tenant(&self.db, tenant)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("tenant"))?;
        if store::offboarding::is_frozen(&self.db, tenant)
            .await
            .map_err(internal)?
        {
            return Err(offboarded());
        }
        Ok(row)
    }

    pub async fn index_subject_numbers(
        &self,
        tenant: TenantId,
        numbers: Vec<String>,
    ) -> ApiResult<Vec<SubjectNumber>> {
        let row = self.machine_tenant(tenant).await?;
        let keys = subject_keys(&numbers, tenant_region(&row))?;
        let pii = self.tenant_pii(tenant).await?;
        Ok(keys
            .iter()
            .map(|key| SubjectNumber {
                e164: key.as_str().to_owned(),
                blind_index: hex::encode(pii.blind_index(key)),
            })
            .collect())
    }

    pub async fn subject_tenant(&self, tenant: TenantId) -> ApiResult<Tenant> {
        tenant_from_row(self.machine_tenant(tenant).await?)
    }

    pub async fn find_subject_recordings(
        &self,
        tenant: TenantId,
        numbers: Vec<String>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> ApiResult<Vec<SubjectRecording>> {
        let row = self.machine_tenant(tenant).await?;
        if numbers.is_empty() {
            return Err(ApiError::invalid(format!(
                "numbers must name 1 to {MAX_SUBJECT_NUMBERS} phone numbers"
            )));
        }
        let keys = subject_keys(&numbers, tenant_region(&row))?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(ApiError::invalid("from must not be later than to"));
        }
        let pii = self.tenant_pii(tenant).await?;
        let mut indexes: Vec<Vec<u8>> = keys.iter().map(|key| pii.blind_index(key)).collect();
        indexes.sort();
        indexes.dedup();
        let rows = store::subject::by_indexes(
            &self.db,
            tenant,
            &indexes,
            from.map(db_time),
            to.map(db_time),
            MAX_SUBJECT_RECORDINGS + 1,
        )
        .await
        .map_err(internal)?;
        if rows.len() as u64 > MAX_SUBJECT_RECORDINGS {
            return Err(ApiError::invalid(format!(
                "more than {MAX_SUBJECT_RECORDINGS} recordings match: narrow from and to"
            )));
        }
        self.subject_views(tenant, rows).await
    }

    pub async fn subject_recordings(
        &self,
        tenant: TenantId,
        ids: Vec<RecordingId>,
    ) -> ApiResult<Vec<SubjectRecording>> {
        self.machine_tenant(tenant).await?;
        if ids.len() > MAX_SUBJECT_IDS {
            return Err(ApiError::invalid(format!(
                "at most {MAX_SUBJECT_IDS} recording ids per call"
            )));
        }
        let wanted: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        let found = store::subject::rows(&self.db, tenant, &wanted)
            .await
            .map_err(internal)?;
        // In the order asked, each as often as asked; another tenant's id
        // (or a shredded one) is not found, like any unknown one.
        let rows = wanted
            .iter()
            .map(|id| {
                found
                    .get(id)
                    .cloned()
                    .ok_or_else(|| ApiError::not_found("recording"))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        self.subject_views(tenant, rows).await
    }

    /// Each row with its retention, the holds covering it, whether its rule
    /// is statutory and whether it is restricted.
    async fn subject_views(
        &self,
        tenant: TenantId,
        rows: Vec<recording::Model>,
    ) -> ApiResult<Vec<SubjectRecording>> {
        let pii = self.tenant_pii(tenant).await?;
        let rules = self.statutory_rules(tenant).await?;
        let mut views = Vec::with_capacity(rows.len());
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let batch: Vec<recording::Model> = rows.by_ref().take(VIEW_BATCH).collect();
            let recordings = self
                .recordings_from_rows(tenant, &pii, batch.clone())
                .await?;
            let pairs: Vec<(&recording::Model, &[String])> = batch
                .iter()
                .zip(&recordings)
                .map(|(row, recording)| (row, recording.tags.as_slice()))
                .collect();
            let holds = holds_covering_each(&self.db, tenant, &pairs).await?;
            for ((row, recording), legal_holds) in batch.iter().zip(recordings).zip(holds) {
                views.push(SubjectRecording {
                    retain_until: row.retain_until,
                    legal_holds,
                    statutory: statutory_of(row, &rules),
                    restricted: recording.restricted,
                    recording,
                });
            }
        }
        Ok(views)
    }

    /// The tenant's statutory rules, by id.
    pub(super) async fn statutory_rules(
        &self,
        tenant: TenantId,
    ) -> ApiResult<HashMap<Uuid, StatutoryRetention>> {
        let rules = store::retention::list(&self.db, tenant)
            .await
            .map_err(internal)?;
        Ok(rules
            .into_iter()
            .filter_map(|rule| {
                let legal_basis = rule.legal_basis?;
                Some((
                    rule.id,
                    StatutoryRetention {
                        rule_id: rule.id,
                        rule_name: rule.name,
                        legal_basis,
                    },
                ))
            })
            .collect())
    }
}

/// The statutory rule deciding the row's retention, if its rule is one.
pub(super) fn statutory_of(
    row: &recording::Model,
    rules: &HashMap<Uuid, StatutoryRetention>,
) -> Option<StatutoryRetention> {
    row.retention_rule_id
        .and_then(|rule| rules.get(&rule))
        .cloned()
}

fn tenant_region(row: &tenant::Model) -> Option<Region> {
    input::stored_region(row.default_region.as_deref())
}

/// Each number as search reads it (a valid number in E.164, or a short
/// dial string); the first that isn't one is refused by its position.
fn subject_keys(numbers: &[String], region: Option<Region>) -> ApiResult<Vec<IndexKey>> {
    if numbers.len() > MAX_SUBJECT_NUMBERS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_SUBJECT_NUMBERS} numbers per call"
        )));
    }
    numbers
        .iter()
        .enumerate()
        .map(|(position, number)| {
            phone::search_key(number, region).map_err(|err| {
                // The message names the field; here the field is a position.
                let message =
                    err.to_string()
                        .replacen("phone_number", &format!("numbers[{position}]"), 1);
                ApiError::invalid(message)
            })
        })
        .collect()
}

/// Serves the operations of `ops::subject`.
pub(super) fn routes(router: &mut Router, service: &Arc<MetadataService>) {
    use callvault_contracts::ops::subject::{
        EraseForRequest, FindSubjectRecordings, GetSubjectRecordings, GetSubjectTenant,
        IndexSubjectNumbers, PreserveForRequest, RecordDisclosureAudit, RestrictRecordings,
        SignDisclosureEvidence,
    };
    router
        .route(service, |s, r: IndexSubjectNumbers| async move {
            s.index_subject_numbers(r.tenant, r.numbers).await
        })
        .route(service, |s, r: GetSubjectTenant| async move {
            s.subject_tenant(r.tenant).await
        })
        .route(service, |s, r: FindSubjectRecordings| async move {
            s.find_subject_recordings(r.tenant, r.numbers, r.from, r.to)
                .await
        })
        .route(service, |s, r: GetSubjectRecordings| async move {
            s.subject_recordings(r.tenant, r.ids).await
        })
        .route(service, |s, r: PreserveForRequest| async move {
            s.preserve_for_request(r.tenant, r.request, r.ids).await
        })
        .route(service, |s, r: RestrictRecordings| async move {
            s.restrict_recordings(&r.actor, r.tenant, r.request, r.ids, r.restricted, r.reason)
                .await
        })
        .route(service, |s, r: EraseForRequest| async move {
            s.erase_for_request(&r.actor, r.tenant, r.request, r.ids)
                .await
        })
        .route(service, |s, r: RecordDisclosureAudit| async move {
            s.record_disclosure_audit(&r.actor, r.tenant, r.action, r.target, r.reason, r.details)
                .await
        })
        .route(service, |s, r: SignDisclosureEvidence| async move {
            s.sign_disclosure_evidence(r.tenant, &r.kind, r.version, r.fields)
                .await
        });
}
