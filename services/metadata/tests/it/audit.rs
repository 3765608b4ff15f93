//! The hash-chained audit trail: appends link and verify, any edit or
//! removal is named by its sequence number, concurrent appenders keep the
//! chain gapless, and only the tenant's auditors and compliance officers
//! read it.

use callvault_contracts::lifecycle_api::AuditAction;
use callvault_contracts::metadata_api::{ErrorCode, PageRequest, RecordingFilter};
use callvault_contracts::{Actor, Role, TenantId};
use callvault_metadata::audit::{self, AuditRecord};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::json;

use crate::support::{Env, at, bpo_admin, code, event, member, platform};

const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn record(action: AuditAction, n: u32) -> AuditRecord {
    AuditRecord {
        action,
        target: Some(format!("target-{n}")),
        reason: n.is_multiple_of(2).then(|| format!("ticket {n}")),
        details: json!({"n": n, "z": [true, null], "a": {"nested": "é\n"}}),
    }
}

fn with_origin(role: Role, tenant: TenantId) -> Actor {
    Actor {
        origin: Some("203.0.113.7".into()),
        ..member(role, tenant)
    }
}

/// Appends `n` entries of assorted actions and actors to `tenant`'s chain.
async fn append_n(env: &Env, tenant: TenantId, n: u32) {
    let actions = [
        AuditAction::Playback,
        AuditAction::Search,
        AuditAction::HoldPlaced,
        AuditAction::RetentionChange,
        AuditAction::Deletion,
    ];
    for i in 1..=n {
        let actor = if i % 2 == 0 {
            with_origin(Role::Supervisor, tenant)
        } else {
            member(Role::ComplianceOfficer, tenant)
        };
        let action = actions[(i as usize) % actions.len()];
        audit::append(&env.db, tenant, &actor, at(i64::from(i)), record(action, i))
            .await
            .expect("append");
    }
}

async fn verify(env: &Env, tenant: TenantId) -> (u64, Option<u64>) {
    let auditor = member(Role::Auditor, tenant);
    let outcome = env
        .svc
        .verify_audit_chain(&auditor, tenant, &[])
        .await
        .expect("verify");
    (outcome.entries_checked, outcome.first_bad_seq)
}

/// Runs a hand-written UPDATE or DELETE on one entry, as a tamperer with
/// database access would.
async fn tamper_update(env: &Env, tenant: TenantId, seq: i64, column: &str, value: &str) {
    let statement = Query::update()
        .table(Alias::new("audit_entries"))
        .value(Alias::new(column), value)
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(Alias::new("seq")).eq(seq))
        .to_owned();
    let result = env.db.execute(&statement).await.expect("update");
    assert_eq!(result.rows_affected(), 1);
}

async fn tamper_delete(env: &Env, tenant: TenantId, seq: i64) {
    let statement = Query::delete()
        .from_table(Alias::new("audit_entries"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(Alias::new("seq")).eq(seq))
        .to_owned();
    let result = env.db.execute(&statement).await.expect("delete");
    assert_eq!(result.rows_affected(), 1);
}

async fn chain_of_several_actions_verifies(env: Env) {
    let w = env.world().await;
    assert_eq!(
        verify(&env, w.a).await,
        (0, None),
        "an empty chain verifies"
    );
    append_n(&env, w.a, 7).await;
    append_n(&env, w.b, 3).await;
    assert_eq!(verify(&env, w.a).await, (7, None));
    assert_eq!(verify(&env, w.b).await, (3, None));

    // Read back through the API in pages of 3: oldest first, linked, and
    // every hash recomputable from the entry alone.
    let auditor = member(Role::Auditor, w.a);
    let mut entries = Vec::new();
    let mut after = None;
    loop {
        let page = env
            .svc
            .audit_trail(&auditor, w.a, after, 3)
            .await
            .expect("page");
        assert!(page.items.len() <= 3);
        entries.extend(page.items.clone());
        after = page.end_seq;
        if !page.has_next_page {
            break;
        }
    }
    assert_eq!(entries.len(), 7);
    let mut prev = ZEROS.to_string();
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry.seq, i as u64 + 1);
        assert_eq!(entry.tenant_id, w.a);
        assert_eq!(entry.prev_hash, prev);
        assert_eq!(entry.hash, audit::entry_hash(entry));
        assert_eq!(
            entry.target.as_deref(),
            Some(format!("target-{}", i + 1).as_str())
        );
        prev = entry.hash.clone();
    }
    let second = &entries[1];
    assert_eq!(second.actor, format!("supervisor@{}", w.a));
    assert_eq!(second.role, "supervisor");
    assert_eq!(second.origin.as_deref(), Some("203.0.113.7"));
    assert_eq!(second.reason.as_deref(), Some("ticket 2"));
    assert_eq!(second.at, at(2));
    assert_eq!(second.details["a"]["nested"], json!("é\n"));
    assert_eq!(entries[0].origin, None);
    assert_eq!(entries[0].reason, None);

    // The other tenant's chain is its own, from 1.
    let b_page = env
        .svc
        .audit_trail(&member(Role::ComplianceOfficer, w.b), w.b, None, 500)
        .await
        .expect("b page");
    assert_eq!(b_page.items.len(), 3);
    assert_eq!(b_page.items[0].seq, 1);
    assert_eq!(b_page.items[0].prev_hash, ZEROS);
    assert!(b_page.items.iter().all(|entry| entry.tenant_id == w.b));
    assert!(!b_page.has_next_page);
    assert_eq!(b_page.end_seq, Some(3));
}

async fn appended_entry_is_what_is_stored(env: Env) {
    let w = env.world().await;
    let actor = with_origin(Role::TenantAdmin, w.a);
    // Nanoseconds are cut to microseconds, as the database keeps them.
    let when = at(5) + chrono::Duration::nanoseconds(123_456_789);
    let appended = audit::append(
        &env.db,
        w.a,
        &actor,
        when,
        record(AuditAction::KeyChange, 4),
    )
    .await
    .expect("append");
    assert_eq!(appended.at, at(5) + chrono::Duration::microseconds(123_456));
    assert_eq!(appended.hash, audit::entry_hash(&appended));
    let page = env
        .svc
        .audit_trail(&member(Role::Auditor, w.a), w.a, None, 10)
        .await
        .expect("page");
    assert_eq!(page.items, vec![appended]);
}

async fn edited_details_or_actor_is_named(env: Env) {
    let w = env.world().await;
    append_n(&env, w.a, 6).await;
    append_n(&env, w.b, 6).await;
    tamper_update(&env, w.a, 4, "details", r#"{"n":99}"#).await;
    assert_eq!(verify(&env, w.a).await, (3, Some(4)));
    // Another tenant's chain is untouched by it.
    assert_eq!(verify(&env, w.b).await, (6, None));

    tamper_update(&env, w.b, 2, "actor", "someone-else").await;
    assert_eq!(verify(&env, w.b).await, (1, Some(2)));
}

async fn equivalent_but_rewritten_details_are_noticed(env: Env) {
    let w = env.world().await;
    append_n(&env, w.a, 3).await;
    let page = env
        .svc
        .audit_trail(&member(Role::Auditor, w.a), w.a, Some(1), 1)
        .await
        .expect("page");
    // Same JSON value, other key order and spacing: not the stored bytes.
    let value = serde_json::to_string_pretty(&page.items[0].details).expect("json");
    tamper_update(&env, w.a, 2, "details", &value).await;
    assert_eq!(verify(&env, w.a).await, (1, Some(2)));
}

async fn edited_hash_breaks_the_next_link(env: Env) {
    let w = env.world().await;
    append_n(&env, w.a, 4).await;
    // Rewriting an entry and its hash still leaves the next entry's link.
    tamper_update(&env, w.a, 2, "hash", &"f".repeat(64)).await;
    assert_eq!(verify(&env, w.a).await, (1, Some(2)));
}

async fn deleted_middle_row_is_named(env: Env) {
    let w = env.world().await;
    append_n(&env, w.a, 5).await;
    tamper_delete(&env, w.a, 3).await;
    assert_eq!(verify(&env, w.a).await, (2, Some(3)));
}

async fn deleted_last_row_is_detected(env: Env) {
    let w = env.world().await;
    append_n(&env, w.a, 5).await;
    tamper_delete(&env, w.a, 5).await;
    assert_eq!(verify(&env, w.a).await, (4, Some(5)));
    // Cutting further back names the first missing entry.
    tamper_delete(&env, w.a, 4).await;
    assert_eq!(verify(&env, w.a).await, (3, Some(4)));
}

async fn deleted_first_row_is_named(env: Env) {
    let w = env.world().await;
    append_n(&env, w.a, 3).await;
    tamper_delete(&env, w.a, 1).await;
    assert_eq!(verify(&env, w.a).await, (0, Some(1)));
}

async fn rows_beyond_the_head_are_noticed(env: Env) {
    let w = env.world().await;
    append_n(&env, w.a, 3).await;
    // Roll the head back one entry, as if the last append never happened:
    // the entry no append accounts for is named.
    let page = env
        .svc
        .audit_trail(&member(Role::Auditor, w.a), w.a, Some(1), 1)
        .await
        .expect("page");
    let statement = Query::update()
        .table(Alias::new("audit_heads"))
        .value(Alias::new("seq"), 2i64)
        .value(Alias::new("hash"), page.items[0].hash.clone())
        .and_where(Expr::col(Alias::new("tenant_id")).eq(w.a.0))
        .to_owned();
    env.db.execute(&statement).await.expect("update head");
    assert_eq!(verify(&env, w.a).await, (3, Some(3)));
}

async fn a_chain_longer_than_one_read_batch_verifies(env: Env) {
    let w = env.world().await;
    // Verification reads 1000 entries at a time: cross that boundary.
    let actor = member(Role::Supervisor, w.a);
    let txn = env.db.begin().await.expect("begin");
    for i in 1..=1003u32 {
        let record = record(AuditAction::ViewRecording, i);
        audit::append(&txn, w.a, &actor, at(i64::from(i)), record)
            .await
            .expect("append");
    }
    txn.commit().await.expect("commit");
    assert_eq!(verify(&env, w.a).await, (1003, None));
    tamper_update(&env, w.a, 1002, "target", "elsewhere").await;
    assert_eq!(verify(&env, w.a).await, (1001, Some(1002)));
    tamper_delete(&env, w.a, 1000).await;
    assert_eq!(verify(&env, w.a).await, (999, Some(1000)));
}

async fn concurrent_appends_are_gapless(env: Env) {
    let w = env.world().await;
    // A fresh tenant: the first appenders also race to create the head.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20u32 {
        let db = env.db.clone();
        let tenant = w.a;
        tasks.spawn(async move {
            let actor = member(Role::Supervisor, tenant);
            let entry_record = record(AuditAction::Playback, i);
            if i % 4 == 3 {
                // Outside a transaction: the head's compare-and-set keeps
                // these in line too.
                audit::append(&db, tenant, &actor, at(0), entry_record)
                    .await
                    .expect("append")
            } else {
                let txn = db.begin().await.expect("begin");
                let entry = audit::append(&txn, tenant, &actor, at(0), entry_record)
                    .await
                    .expect("append");
                txn.commit().await.expect("commit");
                entry
            }
        });
    }
    let mut seqs: Vec<u64> = tasks
        .join_all()
        .await
        .into_iter()
        .map(|entry| entry.seq)
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
    assert_eq!(verify(&env, w.a).await, (20, None));
    assert_eq!(env.count("audit_entries").await, 20);
}

async fn rolled_back_append_leaves_no_trace(env: Env) {
    let w = env.world().await;
    append_n(&env, w.a, 2).await;
    let txn = env.db.begin().await.expect("begin");
    let actor = member(Role::TenantAdmin, w.a);
    let entry = audit::append(&txn, w.a, &actor, at(9), record(AuditAction::RoleChange, 9))
        .await
        .expect("append");
    assert_eq!(entry.seq, 3);
    txn.rollback().await.expect("rollback");
    assert_eq!(verify(&env, w.a).await, (2, None));
    let next = audit::append(
        &env.db,
        w.a,
        &actor,
        at(10),
        record(AuditAction::RoleChange, 10),
    )
    .await
    .expect("append");
    assert_eq!(next.seq, 3);
    assert_eq!(verify(&env, w.a).await, (3, None));
}

async fn page_input_is_checked(env: Env) {
    let w = env.world().await;
    append_n(&env, w.a, 3).await;
    let auditor = member(Role::Auditor, w.a);
    for first in [0, 501, u32::MAX] {
        let outcome = env.svc.audit_trail(&auditor, w.a, None, first).await;
        assert_eq!(code(outcome), ErrorCode::InvalidInput, "first = {first}");
    }
    let outcome = env.svc.audit_trail(&auditor, w.a, Some(u64::MAX), 10).await;
    assert_eq!(code(outcome), ErrorCode::InvalidInput);
    let full = env
        .svc
        .audit_trail(&auditor, w.a, None, 500)
        .await
        .expect("page");
    assert_eq!(full.items.len(), 3);
    assert!(!full.has_next_page);
    let exact = env
        .svc
        .audit_trail(&auditor, w.a, None, 3)
        .await
        .expect("page");
    assert!(!exact.has_next_page, "nothing after the third entry");
    let past = env
        .svc
        .audit_trail(&auditor, w.a, Some(3), 10)
        .await
        .expect("page");
    assert!(past.items.is_empty());
    assert_eq!(past.end_seq, None);
    assert!(!past.has_next_page);
}

async fn only_auditors_and_compliance_officers_of_the_tenant_read_it(env: Env) {
    let w = env.world().await;
    append_n(&env, w.a, 2).await;
    let allowed = [
        member(Role::Auditor, w.a),
        member(Role::ComplianceOfficer, w.a),
    ];
    for actor in &allowed {
        let page = env.svc.audit_trail(actor, w.a, None, 10).await;
        assert_eq!(page.expect("trail").items.len(), 2, "{:?}", actor.role);
        let outcome = env.svc.verify_audit_chain(actor, w.a, &[]).await;
        assert_eq!(outcome.expect("verify").first_bad_seq, None);
    }
    let refused = [
        platform(),
        bpo_admin(w.x),
        bpo_admin(w.y),
        member(Role::TenantAdmin, w.a),
        member(Role::Supervisor, w.a),
        member(Role::Agent, w.a),
        member(Role::Auditor, w.b),
        member(Role::ComplianceOfficer, w.b),
        member(Role::Auditor, w.c),
        member(Role::TenantAdmin, w.b),
    ];
    for actor in &refused {
        let outcome = env.svc.audit_trail(actor, w.a, None, 10).await;
        assert_eq!(code(outcome), ErrorCode::Forbidden, "{:?}", actor.subject);
        let outcome = env.svc.verify_audit_chain(actor, w.a, &[]).await;
        assert_eq!(code(outcome), ErrorCode::Forbidden, "{:?}", actor.subject);
    }
}

async fn an_auditor_reaches_nothing_else(env: Env) {
    let w = env.world().await;
    let recording = env.ingest(event(w.a, 0)).await;
    let auditor = member(Role::Auditor, w.a);
    let outcome = env
        .svc
        .search_recordings(
            &auditor,
            w.a,
            RecordingFilter::default(),
            PageRequest {
                first: 10,
                after: None,
            },
        )
        .await;
    assert_eq!(code(outcome), ErrorCode::Forbidden);
    let outcome = env.svc.get_recording(&auditor, w.a, recording).await;
    assert_eq!(code(outcome), ErrorCode::Forbidden);
    let outcome = env.svc.list_users(&auditor, w.a).await;
    assert_eq!(code(outcome), ErrorCode::Forbidden);
    let outcome = env.svc.list_api_keys(&auditor, w.a).await;
    assert_eq!(code(outcome), ErrorCode::Forbidden);
    let outcome = env.svc.list_holds(&auditor, w.a).await;
    assert_eq!(code(outcome), ErrorCode::Forbidden);
}

on_both_backends!(
    chain_of_several_actions_verifies,
    appended_entry_is_what_is_stored,
    edited_details_or_actor_is_named,
    equivalent_but_rewritten_details_are_noticed,
    edited_hash_breaks_the_next_link,
    deleted_middle_row_is_named,
    deleted_last_row_is_detected,
    deleted_first_row_is_named,
    rows_beyond_the_head_are_noticed,
    a_chain_longer_than_one_read_batch_verifies,
    concurrent_appends_are_gapless,
    rolled_back_append_leaves_no_trace,
    page_input_is_checked,
    only_auditors_and_compliance_officers_of_the_tenant_read_it,
    an_auditor_reaches_nothing_else,
);
