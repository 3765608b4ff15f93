//! Totals of the usage rows over a time window, in each meter's integer
//! unit, and their conversion to the base units plans price.
//!
//! Integer units in `billing_usage`: seconds (ingested), recordings, bytes
//! stored (+ when stored, − when shredded or discarded), milliseconds
//! played, requests delivered, user activity (a row per user and quarter
//! hour, counted distinct).

use std::collections::BTreeMap;

use callvault_contracts::billing_api::Meter;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};
use uuid::Uuid;

use crate::db::entity::usage::{Column, Entity};
use crate::period::{self, Period};

/// A meter's name in the `meter` column.
pub(crate) fn key(meter: Meter) -> &'static str {
    match meter {
        Meter::IngestedSeconds => "ingested_seconds",
        Meter::Recordings => "recordings",
        Meter::StorageGbMonths => "stored_bytes",
        Meter::PlayedSeconds => "played_millis",
        Meter::DisclosuresDelivered => "disclosures_delivered",
        Meter::ActiveUsers => "active_users",
    }
}

fn parse(key: &str) -> Option<Meter> {
    Meter::ALL.into_iter().find(|m| self::key(*m) == key)
}

/// Which rows count: some tenants' (one, or a BPO's), received within a
/// window of arrival (for the quick check for late events).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'a> {
    pub tenants: &'a [Uuid],
    /// Storage accrues up to this instant and no further: a running day or
    /// month counts what was stored so far, not a projection.
    pub now: Option<DateTime<Utc>>,
    /// Rows received strictly after this.
    pub received_after: Option<DateTime<Utc>>,
    /// Rows received at or before this.
    pub received_until: Option<DateTime<Utc>>,
}

impl<'a> Scope<'a> {
    pub fn all(tenants: &'a [Uuid]) -> Self {
        Self {
            tenants,
            now: None,
            received_after: None,
            received_until: None,
        }
    }

    pub fn until(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }
}

/// Integer totals over `[start, end)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Additive meters (not storage, not users).
    pub sums: BTreeMap<Meter, i128>,
    /// Bytes × seconds stored within the window.
    pub byte_seconds: i128,
    pub active_users: i64,
}

impl Totals {
    /// The quantity of `meter` in its base unit; storage as GB-months of
    /// `month` (the month the window lies in).
    pub fn base_quantity(&self, meter: Meter, month: &Period) -> Decimal {
        let sum = |m| self.sums.get(&m).copied().unwrap_or(0);
        match meter {
            Meter::StorageGbMonths => period::gb_months(self.byte_seconds, month),
            Meter::PlayedSeconds => decimal(sum(meter)) / Decimal::from(1000),
            Meter::ActiveUsers => Decimal::from(self.active_users),
            _ => decimal(sum(meter)),
        }
    }
}

/// i128 sums that fit no Decimal are beyond any real usage; saturate.
fn decimal(v: i128) -> Decimal {
    Decimal::try_from_i128_with_scale(v, 0).unwrap_or(Decimal::MAX)
}

#[derive(Debug, FromQueryResult)]
struct MeterSum {
    meter: String,
    total: Option<i64>,
}

#[derive(Debug, FromQueryResult)]
struct Bucket {
    slot: i64,
    total: Option<i64>,
    offset_total: Option<i64>,
}

#[derive(Debug, FromQueryResult)]
struct Single {
    total: Option<i64>,
}

/// Storage rows are summed per quarter hour so no SQL sum multiplies bytes
/// by a whole window's seconds (that overflows 64 bits on SQLite).
const SLOT: i64 = 900;

fn base(scope: &Scope<'_>) -> SelectStatement {
    let mut q = Query::select();
    q.from(Entity)
        .and_where(Expr::col(Column::TenantId).is_in(scope.tenants.iter().copied()));
    if let Some(after) = scope.received_after {
        q.and_where(Expr::col(Column::ReceivedAt).gt(after));
    }
    if let Some(until) = scope.received_until {
        q.and_where(Expr::col(Column::ReceivedAt).lte(until));
    }
    q
}

fn sum_of(expr: &str) -> Expr {
    // PostgreSQL's SUM(bigint) is numeric; both read BIGINT back.
    Expr::cust(format!("CAST(SUM({expr}) AS BIGINT)"))
}

async fn query<T: FromQueryResult, C: ConnectionTrait>(
    db: &C,
    stmt: &SelectStatement,
) -> Result<Vec<T>, DbErr> {
    let backend = db.get_database_backend();
    T::find_by_statement(backend.build(stmt)).all(db).await
}

/// The scope's totals over `[start, end)`.
pub(crate) async fn totals<C: ConnectionTrait>(
    db: &C,
    scope: &Scope<'_>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Totals, DbErr> {
    let mut totals = Totals::default();
    if scope.tenants.is_empty() {
        return Ok(totals);
    }
    let (a, b) = (start.timestamp(), end.timestamp());
    // Storage's window stops at `now`; nothing stored after it counts.
    let b_stored = std::cmp::max(
        scope.now.map_or(b, |now| std::cmp::min(b, now.timestamp())),
        a,
    );
    let storage = key(Meter::StorageGbMonths);
    let users = key(Meter::ActiveUsers);

    let mut sums = base(scope);
    sums.column(Column::Meter)
        .expr_as(sum_of("quantity"), Alias::new("total"))
        .and_where(Expr::col(Column::AtS).gte(a))
        .and_where(Expr::col(Column::AtS).lt(b))
        .and_where(Expr::col(Column::Meter).is_not_in([storage, users]))
        .group_by_col(Column::Meter);
    for row in query::<MeterSum, _>(db, &sums).await? {
        if let Some(meter) = parse(&row.meter) {
            totals
                .sums
                .insert(meter, i128::from(row.total.unwrap_or(0)));
        }
    }

    // Stored before the window: the level it opens with.
    let mut level = base(scope);
    level
        .expr_as(sum_of("quantity"), Alias::new("total"))
        .and_where(Expr::col(Column::Meter).eq(storage))
        .and_where(Expr::col(Column::AtS).lt(a));
    let opening = query::<Single, _>(db, &level)
        .await?
        .first()
        .and_then(|r| r.total)
        .unwrap_or(0);
    let mut byte_seconds = i128::from(opening) * i128::from(b_stored - a);
    // Each change inside it counts q × (end − at) = q × (end − slot start)
    // − q × (at − slot start).
    let mut buckets = base(scope);
    buckets
        .expr_as(Expr::cust(format!("at_s / {SLOT}")), Alias::new("slot"))
        .expr_as(sum_of("quantity"), Alias::new("total"))
        .expr_as(
            sum_of(&format!("quantity * (at_s % {SLOT})")),
            Alias::new("offset_total"),
        )
        .and_where(Expr::col(Column::Meter).eq(storage))
        .and_where(Expr::col(Column::AtS).gte(a))
        .and_where(Expr::col(Column::AtS).lt(b_stored))
        .add_group_by([Expr::cust(format!("at_s / {SLOT}"))]);
    for bucket in query::<Bucket, _>(db, &buckets).await? {
        let slot_start = i128::from(bucket.slot) * i128::from(SLOT);
        byte_seconds += i128::from(bucket.total.unwrap_or(0)) * (i128::from(b_stored) - slot_start)
            - i128::from(bucket.offset_total.unwrap_or(0));
    }
    totals.byte_seconds = byte_seconds;

    let mut distinct = base(scope);
    distinct
        .expr_as(
            Expr::cust("CAST(COUNT(DISTINCT subject) AS BIGINT)"),
            Alias::new("total"),
        )
        .and_where(Expr::col(Column::Meter).eq(users))
        .and_where(Expr::col(Column::AtS).gte(a))
        .and_where(Expr::col(Column::AtS).lt(b));
    totals.active_users = query::<Single, _>(db, &distinct)
        .await?
        .first()
        .and_then(|r| r.total)
        .unwrap_or(0);
    Ok(totals)
}

/// When the earliest row of the scope (of one meter, or any) before
/// `before` happened, in Unix seconds.
pub(crate) async fn earliest<C: ConnectionTrait>(
    db: &C,
    scope: &Scope<'_>,
    meter: Option<Meter>,
    before: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    if scope.tenants.is_empty() {
        return Ok(None);
    }
    let mut q = base(scope);
    q.expr_as(Expr::cust("MIN(at_s)"), Alias::new("total"))
        .and_where(Expr::col(Column::AtS).lt(before.timestamp()));
    if let Some(meter) = meter {
        q.and_where(Expr::col(Column::Meter).eq(key(meter)));
    }
    Ok(query::<Single, _>(db, &q)
        .await?
        .first()
        .and_then(|r| r.total))
}
