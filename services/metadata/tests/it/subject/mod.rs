//! What the disclosure service asks of the metadata service about a data
//! subject (`ops::subject`), through the real storage service (the
//! deletion lab): finding the subject's recordings by number, preserving,
//! restricting and erasing them, the audit chain and signed evidence, and
//! that none of it reaches another tenant or an offboarded one.

mod erasure;
mod evidence;
mod holds;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use callvault_bus::RpcClient;
use callvault_bus::in_process::InProcessBus;
use callvault_contracts::events::RecordingIngestedV1;
use callvault_contracts::lifecycle_api::{HoldScope, NewRetentionRule, RetentionMatch};
use callvault_contracts::metadata_api::{ErrorCode, NewTenant, RecordingFilter};
use callvault_contracts::ops::subject::{FindSubjectRecordings, IndexSubjectNumbers};
use callvault_contracts::{BpoId, RecordingId, Role, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use uuid::Uuid;

use crate::deletion::lab::Lab;
use crate::support::{Env, at, code, event, member, onboard, platform};

/// The subject's line, as a Tokyo PBX shows it and in E.164.
pub const NATIONAL: &str = "03-1234-5678";
pub const E164: &str = "+81312345678";
/// Someone else.
pub const OTHER: &str = "+819012345678";

pub fn days(n: i64) -> DateTime<Utc> {
    at(0) + chrono::Duration::days(n)
}

/// A call of `tenant` at `at(offset)` between these numbers.
pub fn call(tenant: TenantId, offset: i64, caller: &str, callee: &str) -> RecordingIngestedV1 {
    let mut e = event(tenant, offset);
    e.call.caller_number = caller.into();
    e.call.callee_number = callee.into();
    e
}

/// A statutory rule: calls of the `trading` queue are kept ten years.
pub fn statutory_rule() -> NewRetentionRule {
    NewRetentionRule {
        name: "trading lines".into(),
        matches: RetentionMatch {
            queue: Some("trading".into()),
            ..RetentionMatch::default()
        },
        retention_days: 3650,
        overriding: false,
        legal_basis: Some("MiFID II art. 16(7): records of telephone conversations".into()),
    }
}

/// A tenant with no default region: only numbers with a country code are
/// numbers there.
pub async fn regionless_tenant(lab: &Lab, bpo: BpoId) -> TenantId {
    lab.svc
        .onboard_tenant(
            &platform(),
            NewTenant {
                time_zone: "UTC".into(),
                ..onboard(bpo, "no region")
            },
        )
        .await
        .expect("onboard")
        .id
}

/// The blind index the catalogue stores for the recording's caller, hex.
pub async fn stored_caller_index(env: &Env, tenant: TenantId, id: RecordingId) -> String {
    let select = Query::select()
        .column(Alias::new("caller_index"))
        .from(Alias::new("recordings"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(Alias::new("id")).eq(id.0))
        .to_owned();
    let row = env
        .db
        .query_one(&select)
        .await
        .expect("select")
        .expect("the recording's row");
    let index: Vec<u8> = row.try_get("", "caller_index").expect("caller_index");
    hex::encode(index)
}

/// Every log line written while it is alive (on this thread: the tests
/// run on a current-thread runtime), to show what is never logged.
pub struct Logs {
    lines: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log sink").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    pub fn capture() -> Self {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(lines.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        Self {
            lines,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lines.lock().expect("log sink")).into_owned()
    }
}

async fn finds_a_subjects_recordings_by_number_in_the_tenant_only(env: Env) {
    let lab = Lab::new(&env).await;
    let bpo = env.bpo("bpo").await;
    let t = lab.tenant(bpo, "acme").await;
    let u = lab.tenant(bpo, "other").await;
    let as_caller = lab.record(&env, call(t, 100, NATIONAL, OTHER)).await;
    let as_callee = lab
        .record(&env, call(t, 200, OTHER, "+81 3 1234 5678"))
        .await;
    let unrelated = lab.record(&env, call(t, 300, OTHER, "+819099999999")).await;
    let later = lab.record(&env, call(t, 20 * 86_400, E164, OTHER)).await;
    let elsewhere = lab.record(&env, call(u, 150, E164, OTHER)).await;

    // Any way of writing the number finds the same recordings, oldest
    // first; another tenant's calls with the same number never.
    for number in [NATIONAL, E164, "+81 (0)3 1234 5678"] {
        let found = lab
            .svc
            .find_subject_recordings(t, vec![number.into()], None, None)
            .await
            .expect("find");
        let ids: Vec<RecordingId> = found.iter().map(|r| r.recording.id).collect();
        assert_eq!(ids, vec![as_caller, as_callee, later], "{number}");
        assert!(found.iter().all(|r| r.recording.tenant_id == t));
    }
    let ids = |found: Vec<callvault_contracts::ops::subject::SubjectRecording>| {
        found
            .into_iter()
            .map(|r| r.recording.id)
            .collect::<Vec<_>>()
    };
    // Two numbers: either one matches.
    let both = lab
        .svc
        .find_subject_recordings(t, vec![E164.into(), "+819099999999".into()], None, None)
        .await
        .expect("find");
    assert_eq!(ids(both), vec![as_caller, as_callee, unrelated, later]);
    // [from, to): from inclusive, to exclusive.
    let ranged = lab
        .svc
        .find_subject_recordings(t, vec![E164.into()], Some(at(200)), Some(days(20)))
        .await
        .expect("find");
    assert_eq!(ids(ranged), vec![as_callee]);
    let from_only = lab
        .svc
        .find_subject_recordings(t, vec![E164.into()], Some(at(101)), None)
        .await
        .expect("find");
    assert_eq!(ids(from_only), vec![as_callee, later]);
    let outcome = lab
        .svc
        .find_subject_recordings(t, vec![E164.into()], Some(days(2)), Some(days(1)))
        .await;
    assert_eq!(code(outcome), ErrorCode::InvalidInput);
    let outcome = lab
        .svc
        .find_subject_recordings(t, Vec::new(), None, None)
        .await;
    assert_eq!(code(outcome), ErrorCode::InvalidInput);
    // The other tenant finds its own call only.
    let theirs = lab
        .svc
        .find_subject_recordings(u, vec![NATIONAL.into()], None, None)
        .await
        .expect("find");
    assert_eq!(ids(theirs), vec![elsewhere]);

    // The numbers as the catalogue indexes them: E.164, and the hex of the
    // very index stored; another tenant's index of the same number differs.
    let indexed = lab
        .svc
        .index_subject_numbers(t, vec![NATIONAL.into(), E164.into(), " 2001 ".into()])
        .await
        .expect("index");
    assert_eq!(indexed[0].e164, E164);
    assert_eq!(indexed[1].e164, E164);
    assert_eq!(indexed[0].blind_index, indexed[1].blind_index);
    assert_eq!(
        indexed[0].blind_index,
        stored_caller_index(&env, t, as_caller).await
    );
    // A short dial string is searched as dialled, as search does.
    assert_eq!(indexed[2].e164, "2001");
    let theirs = lab
        .svc
        .index_subject_numbers(u, vec![E164.into()])
        .await
        .expect("index");
    assert_ne!(theirs[0].blind_index, indexed[0].blind_index);
    assert_eq!(
        theirs[0].blind_index,
        stored_caller_index(&env, u, elsewhere).await
    );
    assert!(
        lab.svc
            .index_subject_numbers(t, Vec::new())
            .await
            .expect("index")
            .is_empty()
    );

    // The tenant, for its zone and region.
    let tenant = lab.svc.subject_tenant(t).await.expect("tenant");
    assert_eq!(tenant.id, t);
    assert_eq!(tenant.default_region.as_deref(), Some("JP"));
}

async fn numbers_without_a_region_need_their_country_code(env: Env) {
    let lab = Lab::new(&env).await;
    let bpo = env.bpo("bpo").await;
    let v = regionless_tenant(&lab, bpo).await;
    let id = lab.record(&env, call(v, 0, E164, OTHER)).await;
    let outcome = lab
        .svc
        .find_subject_recordings(v, vec![E164.into(), NATIONAL.into()], None, None)
        .await;
    let err = outcome.expect_err("a national number without a region");
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("numbers[1]"), "{}", err.message);
    assert!(err.message.contains("country code"), "{}", err.message);
    let found = lab
        .svc
        .find_subject_recordings(v, vec!["+81 3-1234-5678".into()], None, None)
        .await
        .expect("find");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].recording.id, id);
    assert_eq!(found[0].recording.caller_number, E164);
}

async fn invalid_numbers_are_refused_by_position_and_never_logged(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    lab.record(&env, call(t, 0, E164, OTHER)).await;
    let trail = env.audit_entries(t).await.len();

    let logs = Logs::capture();
    // 03-1234-567 is a digit short of a Tokyo number.
    let secret = "03-9876-543";
    let numbers = vec![E164.to_string(), secret.to_string()];
    let find = lab
        .svc
        .find_subject_recordings(t, numbers.clone(), None, None)
        .await
        .expect_err("refused");
    let index = lab
        .svc
        .index_subject_numbers(t, numbers)
        .await
        .expect_err("refused");
    let blank = lab
        .svc
        .index_subject_numbers(t, vec!["anonymous".into()])
        .await
        .expect_err("refused");
    for err in [&find, &index] {
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(err.message.contains("numbers[1]"), "{}", err.message);
        assert!(err.message.contains("(JP)"), "{}", err.message);
        assert!(!err.message.contains("9876"), "{}", err.message);
    }
    assert_eq!(blank.code, ErrorCode::InvalidInput);
    assert!(blank.message.contains("numbers[0]"), "{}", blank.message);
    // Through the bus too (the operation is logged by name only).
    let bus = Arc::new(InProcessBus::new());
    Arc::new(lab.service(None))
        .router()
        .serve(bus.as_ref())
        .await
        .expect("serve");
    let client = RpcClient::new(bus, Duration::from_secs(10));
    let outcome = client
        .call(FindSubjectRecordings {
            tenant: t,
            numbers: vec![secret.into()],
            from: None,
            to: None,
        })
        .await;
    assert_eq!(code(outcome), ErrorCode::InvalidInput);
    let found = client
        .call(IndexSubjectNumbers {
            tenant: t,
            numbers: vec![NATIONAL.into()],
        })
        .await
        .expect("index over the bus");
    assert_eq!(found[0].e164, E164);

    tracing::info!("end of the refused calls");
    let logged = logs.text();
    drop(logs);
    assert!(
        logged.contains("end of the refused calls"),
        "the capture works"
    );
    for digits in ["9876", "98765", "1234-5678", "12345678"] {
        assert!(!logged.contains(digits), "{digits} logged:\n{logged}");
    }
    // A refused search changes nothing: no audit entry.
    assert_eq!(env.audit_entries(t).await.len(), trail);
}

async fn subject_recordings_tell_what_stands_in_the_way_of_erasure(env: Env) {
    let lab = Lab::new(&env).await;
    let bpo = env.bpo("bpo").await;
    let t = lab.tenant(bpo, "acme").await;
    let u = lab.tenant(bpo, "other").await;
    let officer = member(Role::ComplianceOfficer, t);
    let rule = lab
        .svc
        .create_retention_rule(&officer, t, statutory_rule())
        .await
        .expect("statutory rule");
    assert_eq!(rule.legal_basis, statutory_rule().legal_basis);
    let plain = lab.record(&env, call(t, 0, E164, OTHER)).await;
    let mut vip = call(t, 100, OTHER, E164);
    vip.call.tags = vec!["vip".into()];
    let vip = lab.record(&env, vip).await;
    let mut trading = call(t, 200, E164, OTHER);
    trading.call.queue = Some("trading".into());
    let trading = lab.record(&env, trading).await;
    let theirs = lab.record(&env, call(u, 0, E164, OTHER)).await;

    let explicit = lab
        .hold(&officer, t, HoldScope::Recordings { ids: vec![plain] })
        .await;
    let case = lab
        .hold(
            &officer,
            t,
            HoldScope::Filter {
                filter: RecordingFilter {
                    tags: vec!["vip".into()],
                    ..RecordingFilter::default()
                },
            },
        )
        .await;
    let request = Uuid::new_v4();
    lab.svc
        .restrict_recordings(&officer, t, request, vec![trading], true, "art. 18".into())
        .await
        .expect("restrict");

    let found = lab
        .svc
        .find_subject_recordings(t, vec![E164.into()], None, None)
        .await
        .expect("find");
    assert_eq!(found.len(), 3);
    let (p, v, s) = (&found[0], &found[1], &found[2]);
    assert_eq!(p.recording.id, plain);
    assert_eq!(p.legal_holds, vec![explicit.id]);
    assert_eq!(p.retain_until, days(30));
    assert_eq!((p.statutory.clone(), p.restricted), (None, false));
    assert_eq!(v.recording.id, vip);
    assert_eq!(v.legal_holds, vec![case.id]);
    assert!(s.legal_holds.is_empty());
    let statutory = s.statutory.clone().expect("statutory");
    assert_eq!(statutory.rule_id, rule.id);
    assert_eq!(statutory.rule_name, "trading lines");
    assert_eq!(Some(statutory.legal_basis), rule.legal_basis);
    assert_eq!(s.retain_until, at(200) + chrono::Duration::days(3650));
    assert!(s.restricted && s.recording.restricted);
    // Phone numbers decrypted, as stored.
    assert_eq!(p.recording.caller_number, E164);
    assert_eq!(v.recording.callee_number, E164);

    // The named ones, in the order asked, the same views.
    let named = lab
        .svc
        .subject_recordings(t, vec![trading, plain])
        .await
        .expect("get");
    assert_eq!(named, vec![s.clone(), p.clone()]);
    // Another tenant's id is not found, like an unknown one.
    for ids in [vec![plain, theirs], vec![RecordingId::new()]] {
        assert_eq!(
            code(lab.svc.subject_recordings(t, ids).await),
            ErrorCode::NotFound
        );
    }
}

on_both_backends!(
    finds_a_subjects_recordings_by_number_in_the_tenant_only,
    numbers_without_a_region_need_their_country_code,
    invalid_numbers_are_refused_by_position_and_never_logged,
    subject_recordings_tell_what_stands_in_the_way_of_erasure,
);
