//! Moves phone numbers sealed under the platform secret (format v1) to the
//! tenants' own catalogue keys (v2): each number is opened with the v1
//! keys, sealed again under the tenant's key and its blind index computed
//! again with the tenant's index key, recordings (caller and callee) and
//! legal holds (the filter number) alike.
//!
//! It runs when the metadata service starts, after the schema migrations
//! and before the service serves anything, and again on every lifecycle
//! pass while a tenant is left over. Resumable and idempotent: a row's
//! first ciphertext byte says which keys sealed it, so a row already moved
//! is skipped, and each row is replaced only if it still holds what was
//! read (two replicas starting together don't seal a number twice).
//! Batches commit one by one, so a crash loses at most the batch in hand.
//!
//! A tenant whose master key is unusable (or whose provider is down) is
//! left as it is, named in the log and the report: its rows stay v1, which
//! reads as `TENANT_KEY_UNUSABLE` anyway, until a later pass moves them.
//! Once nothing is left the platform secret (`secrets.pii`) protects
//! nothing any more.

use std::collections::HashMap;

use callvault_contracts::metadata_api::ApiError;
use callvault_contracts::{RecordingId, TenantId};
use sea_orm::sea_query::{Cond, Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, QueryResult, TransactionTrait};
use std::sync::Arc;
use uuid::Uuid;

use crate::catalogue_keys::CatalogueKeys;
use crate::db::entity::{legal_hold, recording};
use crate::input;
use crate::phone;
use crate::pii::{FORMAT_V1, Party, TenantPii, format_of};
use crate::store;

/// Rows read and re-sealed per transaction.
pub const DEFAULT_BATCH: u64 = 500;

/// What a pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RekeyReport {
    /// Rows (recordings and legal holds) moved to their tenant's key.
    pub resealed: u64,
    /// Tenants left on v1 because their key couldn't be used now.
    pub skipped_tenants: Vec<TenantId>,
}

#[derive(Debug, thiserror::Error)]
pub enum RekeyError {
    #[error("metadata database: {0}")]
    Db(#[from] DbErr),
    /// Rows sealed with v1 remain but no platform secret was given.
    #[error("phone numbers sealed with secrets.pii remain, but it is not configured")]
    NoLegacySecret,
    /// A v1 number that doesn't open: the configured secret isn't the one
    /// it was sealed with (ids only, never the number).
    #[error("{0} does not decrypt with secrets.pii (is it the one it was written with?)")]
    Undecryptable(String),
    #[error("tenant {tenant}: {error}")]
    Tenant { tenant: TenantId, error: ApiError },
}

/// The keys a tenant's v1 rows move between, or why they can't now.
enum TenantKeys {
    Ready {
        v1: Box<TenantPii>,
        v2: Arc<TenantPii>,
        region: Option<phone::Region>,
    },
    Skipped,
}

struct Pass<'a> {
    db: &'a DatabaseConnection,
    keys: &'a CatalogueKeys,
    tenants: HashMap<TenantId, TenantKeys>,
    report: RekeyReport,
}

/// Moves every v1 row it can; see the module documentation.
pub async fn rekey_catalogue(
    db: &DatabaseConnection,
    keys: &CatalogueKeys,
    batch: u64,
) -> Result<RekeyReport, RekeyError> {
    let mut pass = Pass {
        db,
        keys,
        tenants: HashMap::new(),
        report: RekeyReport::default(),
    };
    pass.recordings(Ord::max(batch, 1)).await?;
    pass.holds().await?;
    let mut report = pass.report;
    report.skipped_tenants.sort_by_key(|tenant| tenant.0);
    if report.resealed > 0 || !report.skipped_tenants.is_empty() {
        tracing::info!(
            resealed = report.resealed,
            skipped_tenants = report.skipped_tenants.len(),
            "catalogue phone numbers moved to the tenants' keys"
        );
    }
    Ok(report)
}

impl Pass<'_> {
    async fn recordings(&mut self, batch: u64) -> Result<(), RekeyError> {
        use recording::Column as C;
        let mut after: Option<(Uuid, Uuid)> = None;
        loop {
            let mut select = Query::select();
            select
                .columns([C::TenantId, C::Id, C::CallerCiphertext, C::CalleeCiphertext])
                .from(recording::Entity)
                .order_by(C::TenantId, Order::Asc)
                .order_by(C::Id, Order::Asc)
                .limit(batch);
            if let Some((tenant, id)) = after {
                select.cond_where(
                    Cond::any().add(Expr::col(C::TenantId).gt(tenant)).add(
                        Cond::all()
                            .add(Expr::col(C::TenantId).eq(tenant))
                            .add(Expr::col(C::Id).gt(id)),
                    ),
                );
            }
            let backend = self.db.get_database_backend();
            let rows = self.db.query_all_raw(backend.build(&select)).await?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = Some((last.try_get("", "tenant_id")?, last.try_get("", "id")?));
            // Keys first, outside the batch's transaction: a tenant's first
            // catalogue key is written on a connection of its own, which
            // on SQLite would wait for this transaction's writer lock.
            for row in &rows {
                if is_v1(row, "caller_ciphertext")? || is_v1(row, "callee_ciphertext")? {
                    self.tenant(TenantId(row.try_get("", "tenant_id")?)).await?;
                }
            }
            let txn = self.db.begin().await?;
            for row in &rows {
                self.recording(&txn, row).await?;
            }
            txn.commit().await?;
        }
    }

    async fn recording<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        row: &QueryResult,
    ) -> Result<(), RekeyError> {
        use recording::Column as C;
        let tenant = TenantId(row.try_get("", "tenant_id")?);
        let id: Uuid = row.try_get("", "id")?;
        let caller: Vec<u8> = row.try_get("", "caller_ciphertext")?;
        let callee: Vec<u8> = row.try_get("", "callee_ciphertext")?;
        if format_of(&caller) != Some(FORMAT_V1) && format_of(&callee) != Some(FORMAT_V1) {
            return Ok(());
        }
        let what = || format!("recording {id} of tenant {tenant}");
        let Some(keys) = self.tenant(tenant).await? else {
            return Ok(());
        };
        let (caller_sealed, caller_index) =
            reseal(keys, RecordingId(id), Party::Caller, &caller, what)?;
        let (callee_sealed, callee_index) =
            reseal(keys, RecordingId(id), Party::Callee, &callee, what)?;
        let update = Query::update()
            .table(recording::Entity)
            .value(C::CallerCiphertext, caller_sealed)
            .value(C::CallerIndex, caller_index)
            .value(C::CalleeCiphertext, callee_sealed)
            .value(C::CalleeIndex, callee_index)
            .and_where(Expr::col(C::TenantId).eq(tenant.0))
            .and_where(Expr::col(C::Id).eq(id))
            .and_where(Expr::col(C::CallerCiphertext).eq(caller))
            .and_where(Expr::col(C::CalleeCiphertext).eq(callee))
            .to_owned();
        let backend = conn.get_database_backend();
        let done = conn.execute_raw(backend.build(&update)).await?;
        self.report.resealed += done.rows_affected();
        Ok(())
    }

    /// A filter hold's number is sealed under the hold's id, as the caller.
    /// Holds are a handful per tenant: read at once.
    async fn holds(&mut self) -> Result<(), RekeyError> {
        use legal_hold::Column as C;
        let select = Query::select()
            .columns([C::TenantId, C::Id, C::FilterPhoneCiphertext])
            .from(legal_hold::Entity)
            .and_where(Expr::col(C::FilterPhoneCiphertext).is_not_null())
            .order_by(C::TenantId, Order::Asc)
            .order_by(C::Id, Order::Asc)
            .to_owned();
        let backend = self.db.get_database_backend();
        let rows = self.db.query_all_raw(backend.build(&select)).await?;
        for row in &rows {
            let tenant = TenantId(row.try_get("", "tenant_id")?);
            let id: Uuid = row.try_get("", "id")?;
            let sealed: Vec<u8> = row.try_get("", "filter_phone_ciphertext")?;
            if format_of(&sealed) != Some(FORMAT_V1) {
                continue;
            }
            let Some(keys) = self.tenant(tenant).await? else {
                continue;
            };
            let what = || format!("legal hold {id} of tenant {tenant}");
            let (resealed, index) = reseal(keys, RecordingId(id), Party::Caller, &sealed, what)?;
            let update = Query::update()
                .table(legal_hold::Entity)
                .value(C::FilterPhoneCiphertext, resealed)
                .value(C::FilterPhoneIndex, index)
                .and_where(Expr::col(C::TenantId).eq(tenant.0))
                .and_where(Expr::col(C::Id).eq(id))
                .and_where(Expr::col(C::FilterPhoneCiphertext).eq(sealed))
                .to_owned();
            let done = self.db.execute_raw(backend.build(&update)).await?;
            self.report.resealed += done.rows_affected();
        }
        Ok(())
    }

    /// The tenant's keys, looked up once per pass; `None` when it is
    /// skipped.
    async fn tenant(&mut self, tenant: TenantId) -> Result<Option<&TenantKeys>, RekeyError> {
        if !self.tenants.contains_key(&tenant) {
            let keys = self.load(tenant).await?;
            if matches!(keys, TenantKeys::Skipped) {
                self.report.skipped_tenants.push(tenant);
            }
            self.tenants.insert(tenant, keys);
        }
        Ok(self
            .tenants
            .get(&tenant)
            .filter(|keys| matches!(keys, TenantKeys::Ready { .. })))
    }

    async fn load(&self, tenant: TenantId) -> Result<TenantKeys, RekeyError> {
        let legacy = self.keys.legacy().ok_or(RekeyError::NoLegacySecret)?;
        let v1 = legacy
            .for_tenant(tenant)
            .map_err(|_| RekeyError::Undecryptable(format!("tenant {tenant}")))?;
        let v2 = match self.keys.for_tenant(self.db, tenant).await {
            Ok(v2) => v2,
            Err(error) => {
                use callvault_contracts::metadata_api::ErrorCode;
                return match error.code {
                    ErrorCode::TenantKeyUnusable | ErrorCode::Unavailable => {
                        tracing::warn!(
                            tenant_id = %tenant,
                            code = error.code.as_str(),
                            "tenant's phone numbers left under secrets.pii for now"
                        );
                        Ok(TenantKeys::Skipped)
                    }
                    _ => Err(RekeyError::Tenant { tenant, error }),
                };
            }
        };
        let default_region = store::tenancy::get_tenant(self.db, tenant)
            .await?
            .and_then(|row| row.default_region);
        Ok(TenantKeys::Ready {
            v1: Box::new(v1),
            v2,
            region: input::stored_region(default_region.as_deref()),
        })
    }
}

fn is_v1(row: &QueryResult, column: &str) -> Result<bool, DbErr> {
    let sealed: Vec<u8> = row.try_get("", column)?;
    Ok(format_of(&sealed) == Some(FORMAT_V1))
}

/// One number sealed again under the tenant's key, with its new index
/// (none for a number with no digits, as at ingest).
fn reseal(
    keys: &TenantKeys,
    id: RecordingId,
    party: Party,
    sealed: &[u8],
    what: impl Fn() -> String,
) -> Result<(Vec<u8>, Option<Vec<u8>>), RekeyError> {
    let TenantKeys::Ready { v1, v2, region } = keys else {
        return Err(RekeyError::Undecryptable(what()));
    };
    let number = v1
        .open(id, party, sealed)
        .map_err(|_| RekeyError::Undecryptable(what()))?;
    let index = phone::index_key(&number, *region).map(|key| v2.blind_index(&key));
    let resealed = v2
        .seal(id, party, &number)
        .map_err(|_| RekeyError::Undecryptable(what()))?;
    Ok((resealed, index))
}
