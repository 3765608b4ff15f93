//! Invoices: drafts computed while the period and its grace run, finalized
//! ones numbered and frozen, late usage billed as adjustments on the next
//! invoice, and the CSV and PDF files.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use callvault_bus::{Message, Router, outbox};
use callvault_contracts::billing_api::{
    Account, BillingProfile, Invoice, InvoiceFilter, InvoiceStatus, Meter, Party, RoundingMode,
};
use callvault_contracts::events::InvoiceFinalizedV1;
use callvault_contracts::metadata_api::{ApiError, ApiResult};
use callvault_contracts::ops::billing::{
    FinalizeInvoice, GetInvoice, InvoiceFile, InvoiceFormat, ListInvoices, RenderInvoice,
};
use callvault_contracts::permissions::Permission;
use callvault_contracts::{Actor, BpoId, Role};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::accounts::{AccountInfo, account_key, account_of};
use super::profiles::party_key;
use super::{BillingService, conflict};
use crate::db::entity::{assignment, billed, counter, invoice};
use crate::db::{corrupt, db_time, internal};
use crate::invoicing::{self, Late, Parts, invoice_id};
use crate::meters::{self, Scope};
use crate::period::Period;
use crate::render;

pub(super) fn routes(router: &mut Router, service: &Arc<BillingService>) {
    router
        .route(service, |s, r: ListInvoices| async move {
            s.list_invoices(&r.actor, r.filter).await
        })
        .route(service, |s, r: GetInvoice| async move {
            s.get_invoice(&r.actor, r.id).await
        })
        .route(service, |s, r: RenderInvoice| async move {
            let invoice = s.get_invoice(&r.actor, r.id).await?;
            render_file(&invoice, r.format, &s.render)
        })
        .route(service, |s, r: FinalizeInvoice| async move {
            s.finalize_by(&r.actor, r.id).await
        });
}

fn render_file(
    invoice: &Invoice,
    format: InvoiceFormat,
    options: &render::pdf::RenderOptions,
) -> ApiResult<InvoiceFile> {
    let stem = invoice
        .number
        .clone()
        .unwrap_or_else(|| format!("draft-{}", invoice.period_first_day));
    let (bytes, content_type, ext) = match format {
        InvoiceFormat::Csv => (render::invoice_csv(invoice).into_bytes(), "text/csv", "csv"),
        InvoiceFormat::Pdf => (
            render::pdf::invoice_pdf_with(invoice, options).map_err(|e| {
                tracing::error!(error = %e, "invoice pdf failed");
                ApiError::new(
                    callvault_contracts::metadata_api::ErrorCode::Internal,
                    "internal error",
                )
            })?,
            "application/pdf",
            "pdf",
        ),
    };
    Ok(InvoiceFile {
        file_name: format!("invoice-{stem}.{ext}"),
        content_type: content_type.to_owned(),
        content: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

/// A finalized invoice as stored.
fn stored(row: &invoice::Model) -> ApiResult<Invoice> {
    serde_json::from_str(&row.doc).map_err(|_| corrupt("invoice"))
}

fn placeholder_issuer() -> BillingProfile {
    BillingProfile {
        legal_name: String::new(),
        address: String::new(),
        registration_number: None,
        invoice_prefix: "INV".to_owned(),
        rounding: RoundingMode::Down,
    }
}

fn price_error(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "invoice amounts out of range");
    ApiError::new(
        callvault_contracts::metadata_api::ErrorCode::Internal,
        "invoice amounts out of range",
    )
}

impl BillingService {
    /// The account's finalized invoices, oldest period first.
    async fn finalized<C: ConnectionTrait>(
        &self,
        conn: &C,
        account: Account,
    ) -> ApiResult<Vec<invoice::Model>> {
        let (kind, id) = account_key(account);
        invoice::Entity::find()
            .filter(invoice::Column::AccountKind.eq(kind))
            .filter(invoice::Column::AccountId.eq(id))
            .order_by_asc(invoice::Column::PeriodStart)
            .all(conn)
            .await
            .map_err(internal)
    }

    /// The period starts of the account's finalized invoices.
    pub(super) async fn finalized_starts(&self, account: Account) -> ApiResult<Vec<DateTime<Utc>>> {
        Ok(self
            .finalized(&self.db, account)
            .await?
            .into_iter()
            .map(|row| row.period_start)
            .collect())
    }

    /// The draft of `period` as it stands, with the quantities it bills.
    /// `None` when no plan bills that period.
    pub(super) async fn draft<C: ConnectionTrait>(
        &self,
        conn: &C,
        info: &AccountInfo,
        period: &Period,
        finalized: &[invoice::Model],
    ) -> ApiResult<Option<(Invoice, BTreeMap<Meter, Decimal>, Vec<Late>)>> {
        let assignments = self.assignments(conn, info.account).await?;
        let Some(plan) = self.plan_for(conn, &assignments, period).await? else {
            return Ok(None);
        };
        let scope = Scope::all(&info.tenants).until(self.now());
        let totals = meters::totals(conn, &scope, period.start, period.end)
            .await
            .map_err(internal)?;
        let quantities: BTreeMap<Meter, Decimal> = Meter::ALL
            .into_iter()
            .map(|m| (m, totals.base_quantity(m, period)))
            .collect();
        let late = self.late_usage(conn, info, period, finalized).await?;
        let issuer_profile = self
            .profile(conn, info.issuer())
            .await?
            .unwrap_or_else(placeholder_issuer);
        let recipient_profile = self.profile(conn, info.recipient()).await?;
        let invoice = invoicing::compose(Parts {
            account: info.account,
            issuer: info.issuer(),
            issuer_profile,
            recipient_profile,
            plan: &plan,
            time_zone: info.time_zone.name(),
            period,
            quantities: &quantities,
            late: &late,
            finalize_after: period.end + self.grace,
        })
        .map_err(price_error)?;
        Ok(Some((invoice, quantities, late)))
    }

    /// Usage of finalized periods before `period` that arrived after they
    /// were finalized, per period and meter.
    async fn late_usage<C: ConnectionTrait>(
        &self,
        conn: &C,
        info: &AccountInfo,
        period: &Period,
        finalized: &[invoice::Model],
    ) -> ApiResult<Vec<Late>> {
        let earlier: Vec<&invoice::Model> = finalized
            .iter()
            .filter(|f| f.period_start < period.start)
            .collect();
        let Some(last_finalized) = earlier.iter().map(|f| f.finalized_at).max() else {
            return Ok(Vec::new());
        };
        // Nothing received since the last finalization (with a margin for
        // events received just before it but committed after) touches an
        // earlier period: no adjustment, one query.
        let margin = chrono::Duration::minutes(10);
        let scope = Scope {
            tenants: &info.tenants,
            now: None,
            received_after: Some(last_finalized - margin),
            received_until: None,
        };
        let Some(earliest) = meters::earliest(conn, &scope, None, period.start)
            .await
            .map_err(internal)?
        else {
            return Ok(Vec::new());
        };
        let mut late = Vec::new();
        for row in earlier {
            let billed_period = stored(row)?;
            let p = crate::period::month_starting(info.time_zone, billed_period.period_first_day);
            if p.end.timestamp() <= earliest {
                continue;
            }
            let plan_row = crate::db::entity::plan::Entity::find_by_id((
                billed_period.plan_id,
                i32::try_from(billed_period.plan_version).map_err(|_| corrupt("plan version"))?,
            ))
            .one(conn)
            .await
            .map_err(internal)?
            .ok_or_else(|| corrupt("invoice plan"))?;
            let plan = super::accounts::plan_from_row(plan_row)?;
            let billed = self.billed(conn, info.account, p.start).await?;
            let now = meters::totals(conn, &Scope::all(&info.tenants), p.start, p.end)
                .await
                .map_err(internal)?;
            for charge in &plan.terms.charges {
                let meter = charge.meter;
                let was = billed.get(&meter).copied().unwrap_or_default();
                let is = now.base_quantity(meter, &p);
                if was == is {
                    continue;
                }
                let since = Scope {
                    tenants: &info.tenants,
                    now: None,
                    received_after: Some(row.finalized_at),
                    received_until: None,
                };
                let first = meters::earliest(conn, &since, Some(meter), p.end)
                    .await
                    .map_err(internal)?;
                let original_date = first
                    .and_then(|s| DateTime::from_timestamp(s, 0))
                    .map(|at| at.with_timezone(&info.time_zone).date_naive())
                    .unwrap_or(p.last_day);
                late.push(Late {
                    period: p,
                    plan: plan.clone(),
                    meter,
                    billed: was,
                    now: is,
                    original_date,
                });
            }
        }
        Ok(late)
    }

    /// What finalized invoices billed of one period, per meter.
    async fn billed<C: ConnectionTrait>(
        &self,
        conn: &C,
        account: Account,
        period_start: DateTime<Utc>,
    ) -> ApiResult<BTreeMap<Meter, Decimal>> {
        let (kind, id) = account_key(account);
        let rows = billed::Entity::find()
            .filter(billed::Column::AccountKind.eq(kind))
            .filter(billed::Column::AccountId.eq(id))
            .filter(billed::Column::PeriodStart.eq(period_start))
            .all(conn)
            .await
            .map_err(internal)?;
        let mut out = BTreeMap::new();
        for row in rows {
            let meter = Meter::ALL
                .into_iter()
                .find(|m| meters::key(*m) == row.meter)
                .ok_or_else(|| corrupt("billed meter"))?;
            let quantity: Decimal = row
                .quantity
                .parse()
                .map_err(|_| corrupt("billed quantity"))?;
            out.insert(meter, quantity);
        }
        Ok(out)
    }

    /// Every invoice of an account: the finalized ones and the drafts of
    /// the billed periods not finalized yet, newest period first.
    pub(super) async fn account_invoices(&self, info: &AccountInfo) -> ApiResult<Vec<Invoice>> {
        let assignments = self.assignments(&self.db, info.account).await?;
        let finalized = self.finalized(&self.db, info.account).await?;
        let mut out = Vec::new();
        for period in self.billed_periods(info, &assignments, self.now()) {
            if let Some(row) = finalized.iter().find(|f| f.period_start == period.start) {
                out.push(stored(row)?);
            } else if let Some((draft, _, _)) =
                self.draft(&self.db, info, &period, &finalized).await?
            {
                out.push(draft);
            }
        }
        out.reverse();
        Ok(out)
    }

    /// The accounts whose invoices the actor reads, when it names none.
    async fn visible_accounts(&self, actor: &Actor) -> ApiResult<Vec<Account>> {
        match actor.role {
            Role::PlatformAdmin => {
                self.authorize_platform(actor, Permission::ManageWholesale)?;
                let rows = assignment::Entity::find()
                    .filter(assignment::Column::AccountKind.eq("bpo"))
                    .select_only()
                    .column(assignment::Column::AccountId)
                    .distinct()
                    .into_tuple::<Uuid>()
                    .all(&self.db)
                    .await
                    .map_err(internal)?;
                Ok(rows.into_iter().map(|id| Account::Bpo(BpoId(id))).collect())
            }
            Role::BpoAdmin => {
                let bpo = actor.bpo_id.ok_or_else(ApiError::forbidden)?;
                self.authorize_bpo(actor, Permission::ReadBilling, bpo)?;
                let mut accounts = vec![Account::Bpo(bpo)];
                for tenant in self.tenants_of(bpo).await? {
                    accounts.push(Account::Tenant(tenant.id));
                }
                Ok(accounts)
            }
            _ => {
                let tenant = actor.tenant_id.ok_or_else(ApiError::forbidden)?;
                self.authorize_tenant(actor, Permission::ReadBilling, tenant)
                    .await?;
                Ok(vec![Account::Tenant(tenant)])
            }
        }
    }

    async fn list_invoices(&self, actor: &Actor, filter: InvoiceFilter) -> ApiResult<Vec<Invoice>> {
        let accounts = match filter.account {
            Some(account) => {
                self.authorize_account_read(actor, account).await?;
                vec![account]
            }
            None => self.visible_accounts(actor).await?,
        };
        let mut out = Vec::new();
        for account in accounts {
            let info = self.account_info(account, None).await?;
            for invoice in self.account_invoices(&info).await? {
                let keep = filter.status.is_none_or(|s| s == invoice.status)
                    && filter.from.is_none_or(|d| invoice.period_first_day >= d)
                    && filter.to.is_none_or(|d| invoice.period_first_day <= d);
                if keep {
                    out.push(invoice);
                }
            }
        }
        Ok(out)
    }

    /// An invoice by id: a finalized one, or the draft of a period of one
    /// of the actor's accounts. `NotFound` for anyone else's.
    async fn locate(&self, actor: &Actor, id: Uuid) -> ApiResult<(AccountInfo, Period)> {
        let found = invoice::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(internal)?;
        if let Some(row) = found {
            let account = account_of(&row.account_kind, row.account_id)
                .ok_or_else(|| corrupt("invoice account"))?;
            self.authorize_account_read(actor, account)
                .await
                .map_err(|_| ApiError::not_found("invoice"))?;
            let doc = stored(&row)?;
            let info = self.account_info(account, None).await?;
            let period = crate::period::month_starting(info.time_zone, doc.period_first_day);
            return Ok((info, period));
        }
        let accounts = self
            .visible_accounts(actor)
            .await
            .map_err(|_| ApiError::not_found("invoice"))?;
        for account in accounts {
            let info = self.account_info(account, None).await?;
            let assignments = self.assignments(&self.db, account).await?;
            for period in self.billed_periods(&info, &assignments, self.now()) {
                if invoice_id(account, &period) == id {
                    return Ok((info, period));
                }
            }
        }
        Err(ApiError::not_found("invoice"))
    }

    async fn get_invoice(&self, actor: &Actor, id: Uuid) -> ApiResult<Invoice> {
        let (info, period) = self.locate(actor, id).await?;
        if let Some(row) = invoice::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(internal)?
        {
            return stored(&row);
        }
        let finalized = self.finalized(&self.db, info.account).await?;
        self.draft(&self.db, &info, &period, &finalized)
            .await?
            .map(|(draft, _, _)| draft)
            .ok_or_else(|| ApiError::not_found("invoice"))
    }

    async fn finalize_by(&self, actor: &Actor, id: Uuid) -> ApiResult<Invoice> {
        let (info, period) = self.locate(actor, id).await?;
        match info.account {
            Account::Tenant(tenant) => {
                self.authorize_tenant(actor, Permission::ManageBilling, tenant)
                    .await?;
            }
            Account::Bpo(_) => self.authorize_platform(actor, Permission::ManageWholesale)?,
        }
        if self.now() < period.end {
            return Err(conflict("the period is still running"));
        }
        self.finalize(&info, &period).await
    }

    /// Numbers and freezes the invoice of an ended period, in one
    /// transaction with what it billed and its `invoice.finalized` event.
    pub(super) async fn finalize(&self, info: &AccountInfo, period: &Period) -> ApiResult<Invoice> {
        let tx = self.db.begin().await.map_err(internal)?;
        let finalized = self.finalized(&tx, info.account).await?;
        if finalized.iter().any(|f| f.period_start == period.start) {
            return Err(conflict("the invoice is finalized already"));
        }
        let assignments = self.assignments(&tx, info.account).await?;
        let earlier_open = self
            .billed_periods(info, &assignments, period.start)
            .into_iter()
            .filter(|p| p.start < period.start)
            .any(|p| !finalized.iter().any(|f| f.period_start == p.start));
        if earlier_open {
            return Err(conflict("an earlier period's invoice is not finalized yet"));
        }
        if self.profile(&tx, info.issuer()).await?.is_none() {
            return Err(conflict("the issuer has no billing profile yet"));
        }
        let Some((mut invoice, quantities, late)) =
            self.draft(&tx, info, period, &finalized).await?
        else {
            return Err(ApiError::not_found("invoice"));
        };
        let now = db_time(self.now());
        let seq = next_number(&tx, info.issuer()).await?;
        let number = format!("{}-{seq:06}", invoice.issuer_profile.invoice_prefix);
        invoice.status = InvoiceStatus::Finalized;
        invoice.number = Some(number.clone());
        invoice.finalized_at = Some(now);
        let (kind, id) = account_key(info.account);
        let (issuer_kind, issuer_id) = party_key(info.issuer());
        invoice::Entity::insert(invoice::ActiveModel {
            id: Set(invoice.id),
            account_kind: Set(kind.to_owned()),
            account_id: Set(id),
            issuer_kind: Set(issuer_kind.to_owned()),
            issuer_id: Set(issuer_id),
            period_start: Set(period.start),
            seq: Set(seq),
            number: Set(number.clone()),
            doc: Set(serde_json::to_string(&invoice).map_err(|_| corrupt("invoice"))?),
            finalized_at: Set(now),
        })
        .exec_without_returning(&tx)
        .await
        .map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                conflict("the invoice was finalized meanwhile")
            } else {
                internal(e)
            }
        })?;
        let mut billed_rows: Vec<(DateTime<Utc>, Meter, Decimal)> = quantities
            .iter()
            .map(|(m, q)| (period.start, *m, *q))
            .collect();
        billed_rows.extend(late.iter().map(|l| (l.period.start, l.meter, l.now)));
        for (start, meter, quantity) in billed_rows {
            billed::Entity::insert(billed::ActiveModel {
                account_kind: Set(kind.to_owned()),
                account_id: Set(id),
                period_start: Set(start),
                meter: Set(meters::key(meter).to_owned()),
                quantity: Set(quantity.normalize().to_string()),
            })
            .on_conflict(
                OnConflict::columns([
                    billed::Column::AccountKind,
                    billed::Column::AccountId,
                    billed::Column::PeriodStart,
                    billed::Column::Meter,
                ])
                .update_column(billed::Column::Quantity)
                .to_owned(),
            )
            .exec_without_returning(&tx)
            .await
            .map_err(internal)?;
        }
        let event = InvoiceFinalizedV1 {
            invoice_id: invoice.id,
            number: number.clone(),
            level: invoice.level,
            account: invoice.account,
            issuer: invoice.issuer,
            currency: invoice.currency,
            period_first_day: invoice.period_first_day,
            period_last_day: invoice.period_last_day,
            subtotal: invoice.subtotal,
            tax: invoice.tax,
            total: invoice.total,
            finalized_at: now,
        };
        let message = Message::new(&event).map_err(|_| corrupt("event"))?;
        outbox::enqueue(&tx, &message).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.metrics.finalized();
        tracing::info!(invoice_id = %invoice.id, %number, "invoice finalized");
        Ok(invoice)
    }
}

/// The issuer's next invoice number, in the caller's transaction: the
/// counter row is locked until it commits, so numbers have no gaps and no
/// repeats.
async fn next_number<C: ConnectionTrait>(conn: &C, issuer: Party) -> ApiResult<i64> {
    let (kind, id) = party_key(issuer);
    let updated = counter::Entity::update_many()
        .col_expr(
            counter::Column::LastSeq,
            Expr::col(counter::Column::LastSeq).add(1),
        )
        .filter(counter::Column::IssuerKind.eq(kind))
        .filter(counter::Column::IssuerId.eq(id))
        .exec(conn)
        .await
        .map_err(internal)?;
    if updated.rows_affected == 0 {
        counter::Entity::insert(counter::ActiveModel {
            issuer_kind: Set(kind.to_owned()),
            issuer_id: Set(id),
            last_seq: Set(1),
        })
        .exec_without_returning(conn)
        .await
        .map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                conflict("another invoice of the issuer was finalized meanwhile; retry")
            } else {
                internal(e)
            }
        })?;
        return Ok(1);
    }
    let row = counter::Entity::find_by_id((kind.to_owned(), id))
        .one(conn)
        .await
        .map_err(internal)?
        .ok_or_else(|| corrupt("invoice counter"))?;
    Ok(row.last_seq)
}
