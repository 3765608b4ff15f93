//! The call fields that came with the lifecycle (attributes, recording
//! notice, pauses) from ingest to reads and search, and the audit entries
//! every catalogue read leaves.

use std::collections::BTreeMap;

use callvault_contracts::call::PauseSpan;
use callvault_contracts::lifecycle_api::AuditAction;
use callvault_contracts::metadata_api::{ErrorCode, PageRequest, RecordingFilter, RecordingPage};
use callvault_contracts::{Actor, RecordingId, Role, TenantId};
use serde_json::json;

use crate::support::{Env, agent, code, event, member};

async fn search(
    env: &Env,
    actor: &Actor,
    tenant: TenantId,
    filter: RecordingFilter,
) -> RecordingPage {
    env.svc
        .search_recordings(
            actor,
            tenant,
            filter,
            PageRequest {
                first: 50,
                after: None,
            },
        )
        .await
        .expect("search")
}

fn ids(page: &RecordingPage) -> Vec<RecordingId> {
    page.items.iter().map(|r| r.id).collect()
}

async fn call_fields_round_trip_and_filter(env: Env) {
    let w = env.world().await;
    let sup = member(Role::Supervisor, w.a);
    let attributes = BTreeMap::from([
        ("product".to_string(), "securities".to_string()),
        ("desk".to_string(), "東京 equities".to_string()),
    ]);
    let pauses = vec![
        PauseSpan {
            start_ms: 1_000,
            end_ms: 4_500,
        },
        PauseSpan {
            start_ms: 10_000,
            end_ms: 12_000,
        },
    ];
    let mut e = event(w.a, 0);
    e.call.attributes = attributes.clone();
    e.call.notice_played = Some(true);
    e.call.pauses = pauses.clone();
    let heard = env.ingest(e).await;
    let mut e = event(w.a, 10);
    e.call.notice_played = Some(false);
    let not_heard = env.ingest(e).await;
    let unknown = env.ingest(event(w.a, 20)).await;
    // Tenant B's call that heard the notice must not show up in A's search.
    let mut e = event(w.b, 30);
    e.call.notice_played = Some(true);
    env.ingest(e).await;

    let got = env.svc.get_recording(&sup, w.a, heard).await.expect("get");
    assert_eq!(got.attributes, attributes);
    assert_eq!(got.notice_played, Some(true));
    assert_eq!(got.pauses, pauses);
    let got = env
        .svc
        .get_recording(&sup, w.a, not_heard)
        .await
        .expect("get");
    assert_eq!(got.notice_played, Some(false));
    assert!(got.attributes.is_empty());
    assert!(got.pauses.is_empty());
    let got = env
        .svc
        .get_recording(&sup, w.a, unknown)
        .await
        .expect("get");
    assert_eq!(got.notice_played, None);

    let all = search(&env, &sup, w.a, RecordingFilter::default()).await;
    assert_eq!(ids(&all), vec![unknown, not_heard, heard]);
    let found = all
        .items
        .iter()
        .find(|r| r.id == heard)
        .expect("heard in search");
    assert_eq!(found.attributes, attributes);
    assert_eq!(found.pauses, pauses);
    assert_eq!(found.notice_played, Some(true));

    let by_notice = |notice_played| RecordingFilter {
        notice_played: Some(notice_played),
        ..Default::default()
    };
    assert_eq!(
        ids(&search(&env, &sup, w.a, by_notice(true)).await),
        vec![heard]
    );
    assert_eq!(
        ids(&search(&env, &sup, w.a, by_notice(false)).await),
        vec![not_heard]
    );
    // Combined with another filter.
    let filter = RecordingFilter {
        notice_played: Some(true),
        queue: Some("support".into()),
        ..Default::default()
    };
    assert!(search(&env, &sup, w.a, filter).await.items.is_empty());
}

async fn catalogue_reads_are_audited_without_phone_numbers(env: Env) {
    let w = env.world().await;
    let sup = member(Role::Supervisor, w.a);
    let mut e = event(w.a, 0);
    e.call.tags = vec!["vip".into()];
    let r1 = env.ingest(e).await;
    env.ingest(event(w.a, 10)).await;

    env.svc.get_recording(&sup, w.a, r1).await.expect("get");
    let views = env.audit_of(w.a, AuditAction::ViewRecording).await;
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].target, Some(r1.to_string()));
    assert_eq!(views[0].actor, sup.subject);
    assert_eq!(views[0].role, "supervisor");

    let filter = RecordingFilter {
        phone_number: Some("+1 201 555 0100".into()),
        tags: vec!["vip".into()],
        queue: Some(" sales ".into()),
        notice_played: None,
        min_duration_ms: Some(1_000),
        ..Default::default()
    };
    let page = search(&env, &sup, w.a, filter).await;
    assert_eq!(ids(&page), vec![r1]);
    search(&env, &sup, w.a, RecordingFilter::default()).await;

    let searches = env.audit_of(w.a, AuditAction::Search).await;
    assert_eq!(searches.len(), 2);
    assert_eq!(
        searches[0].details,
        json!({
            "filters": {
                "phone_number": true,
                "tags": ["vip"],
                "queue": "sales",
                "min_duration_ms": 1000,
            },
            "first": 50,
            "next_page": false,
            "result_count": 1,
        })
    );
    assert_eq!(searches[0].target, None);
    assert_eq!(searches[1].details["filters"], json!({}));
    assert_eq!(searches[1].details["result_count"], 2);
    let trail = serde_json::to_string(&env.audit_entries(w.a).await).expect("json");
    // The number itself, in the forms it could take; not "555" alone, which
    // random ids and hashes contain now and then.
    for form in ["555 0100", "5550100", "2015550100"] {
        assert!(
            !trail.contains(form),
            "no phone number in the trail: {trail}"
        );
    }

    // Refused reads are not audited here (the gateway logs refusals).
    let other_agent = agent(w.a, "agent-8");
    assert_eq!(
        code(env.svc.get_recording(&other_agent, w.a, r1).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(
            env.svc
                .search_recordings(
                    &member(Role::Auditor, w.a),
                    w.a,
                    RecordingFilter::default(),
                    PageRequest {
                        first: 10,
                        after: None
                    }
                )
                .await
        ),
        ErrorCode::Forbidden
    );
    let bad = RecordingFilter {
        phone_number: Some("no digits".into()),
        ..Default::default()
    };
    assert_eq!(
        code(
            env.svc
                .search_recordings(
                    &sup,
                    w.a,
                    bad,
                    PageRequest {
                        first: 10,
                        after: None
                    }
                )
                .await
        ),
        ErrorCode::InvalidInput
    );
    assert_eq!(env.audit_of(w.a, AuditAction::ViewRecording).await.len(), 1);
    assert_eq!(env.audit_of(w.a, AuditAction::Search).await.len(), 2);
    assert!(env.audit_of(w.b, AuditAction::Search).await.is_empty());
}

on_both_backends!(
    call_fields_round_trip_and_filter,
    catalogue_reads_are_audited_without_phone_numbers,
);
