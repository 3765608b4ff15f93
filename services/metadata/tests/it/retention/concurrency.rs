//! Rule changes racing ingest: the tenant row's lock orders them.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use uuid::Uuid;

use super::{admin, is_rule, lifecycle, on_queue, rule};
use crate::support::{Env, at, event};

async fn a_rule_created_during_ingest_reaches_every_recording(env: Env) {
    let w = env.world().await;
    let boss = admin(w.a);
    let ingests = futures_util::future::join_all((0..20).map(|i| env.ingest(event(w.a, i))));
    let create = env.svc.create_retention_rule(
        &boss,
        w.a,
        rule("all sales", 1500, false, on_queue("sales")),
    );
    let (ids, created) = tokio::join!(ingests, create);
    let created = created.expect("create rule");
    for (offset, id) in (0..).zip(ids) {
        assert!(
            is_rule(&lifecycle(&env, w.a, id, offset).await, created.id),
            "recording {offset} missed the rule"
        );
    }
}

/// A rule change holds the tenant row's lock from before it reads the
/// recordings until it commits: an ingest in between must wait for it and
/// then read the new rules, or its recording would keep a date from the old
/// ones that the change's recompute never saw. The change is done by hand
/// here (lock, insert the rule), so the ingest can be caught in between.
async fn ingest_waits_for_a_rule_change_in_progress(env: Env) {
    let w = env.world().await;
    let backend = env.db.get_database_backend();
    let txn = env.db.begin().await.expect("begin");
    let lock = match backend {
        DbBackend::Sqlite => "UPDATE tenants SET name = name WHERE id = ?",
        _ => "SELECT id FROM tenants WHERE id = $1 FOR UPDATE",
    };
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        lock,
        [w.a.0.into()],
    ))
    .await
    .expect("lock the tenant as a rule change does");
    let rule_id = Uuid::new_v4();
    let insert = match backend {
        DbBackend::Sqlite => {
            "INSERT INTO retention_rules (tenant_id, id, name, matches, retention_days, \
             overriding, created_by, created_at) VALUES (?, ?, 'sales', ?, 1500, false, 'x', ?)"
        }
        _ => {
            "INSERT INTO retention_rules (tenant_id, id, name, matches, retention_days, \
             overriding, created_by, created_at) VALUES ($1, $2, 'sales', $3, 1500, false, 'x', $4)"
        }
    };
    let matches = serde_json::to_string(&on_queue("sales")).expect("json");
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        insert,
        [w.a.0.into(), rule_id.into(), matches.into(), at(0).into()],
    ))
    .await
    .expect("insert the rule");

    let ingest = env.ingest(event(w.a, 0));
    tokio::pin!(ingest);
    let early = tokio::time::timeout(Duration::from_millis(500), &mut ingest).await;
    assert!(
        early.is_err(),
        "the ingest went past a rule change in progress"
    );
    txn.commit().await.expect("commit");
    let id = ingest.await;
    assert!(
        is_rule(&lifecycle(&env, w.a, id, 0).await, rule_id),
        "the ingest read the rules from before the change"
    );
}

on_both_backends!(
    ingest_waits_for_a_rule_change_in_progress,
    a_rule_created_during_ingest_reaches_every_recording,
);
