//! Recordings catalogued before the retention migration get started_at +
//! their tenant's default; needs a database migrated only up to the
//! catalogue, so it opens its own.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, PostgresQueryBuilder, Query, SqliteQueryBuilder};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::MigratorTraitSelf;

use callvault_metadata::PiiKeys;

use super::*;
use crate::support::PII_SECRET;

async fn run(db: DatabaseConnection) {
    callvault_metadata::Migrator::new(PiiKeys::new(PII_SECRET))
        .up(&db, Some(2))
        .await
        .expect("tenancy and catalogue");
    let bpo = Uuid::new_v4();
    let tenants = [(Uuid::new_v4(), 30), (Uuid::new_v4(), 3650)];
    let started: DateTime<Utc> = at(0) + Duration::microseconds(123_456);
    exec(
        &db,
        Query::insert()
            .into_table(Alias::new("bpos"))
            .columns([
                Alias::new("id"),
                Alias::new("name"),
                Alias::new("created_at"),
            ])
            .values_panic([bpo.into(), "bpo".into(), started.into()])
            .to_owned(),
    )
    .await;
    let mut recordings = Vec::new();
    for (i, (tenant, days)) in tenants.iter().enumerate() {
        exec(
            &db,
            Query::insert()
                .into_table(Alias::new("tenants"))
                .columns(
                    [
                        "id",
                        "bpo_id",
                        "name",
                        "time_zone",
                        "default_retention_days",
                        "key_ref",
                        "created_at",
                    ]
                    .map(Alias::new),
                )
                .values_panic([
                    (*tenant).into(),
                    bpo.into(),
                    format!("t{i}").into(),
                    "UTC".into(),
                    (*days).into(),
                    "local:k".into(),
                    started.into(),
                ])
                .to_owned(),
        )
        .await;
        for n in 0..3_i64 {
            let id = Uuid::new_v4();
            let start = started + Duration::hours(n);
            exec(
                &db,
                Query::insert()
                    .into_table(Alias::new("recordings"))
                    .columns(
                        [
                            "tenant_id",
                            "id",
                            "external_call_id",
                            "segment",
                            "direction",
                            "caller_ciphertext",
                            "callee_ciphertext",
                            "started_at",
                            "ended_at",
                            "codec",
                            "sample_rate",
                            "channels",
                            "duration_ms",
                            "size",
                            "sha256",
                            "key_ref",
                            "ingested_at",
                        ]
                        .map(Alias::new),
                    )
                    .values_panic([
                        (*tenant).into(),
                        id.into(),
                        "c".into(),
                        0_i64.into(),
                        "inbound".into(),
                        vec![1_u8].into(),
                        vec![2_u8].into(),
                        start.into(),
                        start.into(),
                        "wav".into(),
                        8000_i64.into(),
                        1_i32.into(),
                        0_i64.into(),
                        0_i64.into(),
                        "00".into(),
                        "local:k".into(),
                        start.into(),
                    ])
                    .to_owned(),
            )
            .await;
            recordings.push((*tenant, id, start + Duration::days(i64::from(*days))));
        }
    }

    // Up to the retention migration only: these rows' numbers are
    // placeholders, which the later phone re-index would refuse to decrypt.
    callvault_metadata::Migrator::new(PiiKeys::new(PII_SECRET))
        .up(&db, Some(3))
        .await
        .expect("outbox, inbox and retention");

    for (tenant, id, expected) in recordings {
        let select = Query::select()
            .columns(["retain_until", "retention_rule_id", "attributes", "pauses"].map(Alias::new))
            .expr_as(
                Expr::col(Alias::new("notice_played")).is_null(),
                Alias::new("unknown"),
            )
            .from(Alias::new("recordings"))
            .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        let row = query_one(&db, select).await;
        let retain_until: DateTime<Utc> = row.try_get("", "retain_until").expect("date");
        assert_eq!(retain_until, expected);
        let rule: Option<Uuid> = row.try_get("", "retention_rule_id").expect("rule");
        assert_eq!(rule, None);
        assert_eq!(
            row.try_get::<String>("", "attributes").expect("attributes"),
            "{}"
        );
        assert_eq!(row.try_get::<String>("", "pauses").expect("pauses"), "[]");
        assert!(row.try_get::<bool>("", "unknown").expect("notice"));
    }
    let select = Query::select()
        .column(Alias::new("require_playback_reason"))
        .from(Alias::new("tenants"))
        .limit(1)
        .to_owned();
    let row = query_one(&db, select).await;
    assert!(
        !row.try_get::<bool>("", "require_playback_reason")
            .expect("flag")
    );
}

fn build<S: sea_orm::sea_query::QueryStatementWriter>(
    db: &DatabaseConnection,
    statement: &S,
) -> Statement {
    let backend = db.get_database_backend();
    let (sql, values) = match backend {
        DbBackend::Sqlite => statement.build(SqliteQueryBuilder),
        _ => statement.build(PostgresQueryBuilder),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

async fn exec<S: sea_orm::sea_query::QueryStatementWriter>(db: &DatabaseConnection, s: S) {
    db.execute_raw(build(db, &s)).await.expect("insert");
}

async fn query_one(
    db: &DatabaseConnection,
    select: sea_orm::sea_query::SelectStatement,
) -> sea_orm::QueryResult {
    db.query_one_raw(build(db, &select))
        .await
        .expect("select")
        .expect("a row")
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    run(Database::connect(url).await.expect("open sqlite")).await;
}

#[tokio::test]
async fn postgres() {
    callvault_testkit::with_pg_database(|url| async move {
        let db = Database::connect(url).await.expect("open postgres");
        run(db.clone()).await;
        db.close().await.expect("close");
    })
    .await;
}
