//! Creating requests: what is recorded, sealed and matched; duplicates
//! flagged; bad input refused with nothing written; other tenants' ids
//! unreachable.

use callvault_contracts::Role;
use callvault_contracts::disclosure_api::{
    DisclosureFilter, DisclosureMethod, Regime, RequestKind, RequestState, SubjectIdentifiers,
};
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::disclosure::{
    CreateDisclosureRequest, GetDisclosureRequest, ListDisclosureRequests,
};
use chrono::{Duration, NaiveDate};
use sea_orm::{ConnectionTrait, Statement};

use crate::lab::{Call, Lab, SUBJECT_E164, bpo_admin, code, member, new_request, officer};

on_both_backends!(
    a_request_is_recorded_with_its_deadline_and_the_subjects_calls,
    personal_data_is_sealed_at_rest,
    a_second_open_request_is_flagged_as_a_duplicate,
    bad_requests_are_refused_and_write_nothing,
    requests_are_found_by_number_and_deadline,
    another_tenants_request_is_not_found,
);

async fn count(lab: &Lab, table: &str) -> i64 {
    let backend = lab.disclosure_db.get_database_backend();
    let row = lab
        .disclosure_db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

async fn a_request_is_recorded_with_its_deadline_and_the_subjects_calls(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let first = lab
        .record(&tenant, Call::from_subject(lab.now() - Duration::days(10)))
        .await;
    let second = lab
        .record(&tenant, Call::from_subject(lab.now() - Duration::days(3)))
        .await;
    let mut other = Call::from_subject(lab.now() - Duration::days(2));
    other.caller = "+81 6 5555 0000";
    lab.record(&tenant, other).await;

    let request = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    assert_eq!(request.state, RequestState::Received);
    assert_eq!(request.subject.numbers, vec![SUBJECT_E164.to_owned()]);
    assert_eq!(request.requester.name, "Hanako Yamada");
    // APPI art. 33(1): electronic unless the requester chose otherwise.
    assert_eq!(request.method, DisclosureMethod::Electronic);
    // Received 3 April 2026 (a Friday): one month is 3 May, a Sunday and
    // Constitution Day, then Greenery Day, Children's Day and the
    // substitute holiday: Thursday 7 May.
    assert_eq!(
        request.deadline.due_date,
        NaiveDate::from_ymd_opt(2026, 5, 7).expect("date")
    );
    let ids: Vec<_> = request.recordings.iter().map(|r| r.recording_id).collect();
    assert_eq!(
        ids,
        vec![first, second],
        "the subject's calls, oldest first"
    );
    assert_eq!(request.transitions.len(), 1);
    assert_eq!(request.duplicate_of, None);
    assert!(!request.overdue);
}

async fn personal_data_is_sealed_at_rest(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    lab.request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    let backend = lab.disclosure_db.get_database_backend();
    let rows = lab
        .disclosure_db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT * FROM disclosure_requests".to_owned(),
        ))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    let dump = format!("{rows:?}");
    for secret in ["Hanako", "hanako@example.jp", "12345678", "1234 5678"] {
        assert!(!dump.contains(secret), "{secret} is stored in clear");
    }
}

async fn a_second_open_request_is_flagged_as_a_duplicate(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let first = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    let second = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    assert_eq!(second.duplicate_of, Some(first.id));
    // Another kind is not a duplicate.
    let erasure = lab
        .request(&tenant, RequestKind::Erasure, Regime::Gdpr)
        .await;
    assert_eq!(erasure.duplicate_of, None);
}

async fn bad_requests_are_refused_and_write_nothing(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let now = lab.now();
    let mut future = new_request(RequestKind::Access, Regime::Gdpr, now);
    future.received_at = now + Duration::hours(2);
    let mut bad_number = new_request(RequestKind::Access, Regime::Gdpr, now);
    bad_number.subject.numbers = vec!["not a number".into()];
    let mut no_numbers = new_request(RequestKind::Access, Regime::Gdpr, now);
    no_numbers.subject = SubjectIdentifiers::default();
    let mut no_name = new_request(RequestKind::Access, Regime::Gdpr, now);
    no_name.requester.name = "  ".into();
    let mut no_contact = new_request(RequestKind::Access, Regime::Gdpr, now);
    no_contact.requester.email = None;
    let mut empty_range = new_request(RequestKind::Access, Regime::Gdpr, now);
    empty_range.subject.from = Some(now);
    empty_range.subject.to = Some(now - Duration::days(1));
    for bad in [
        future,
        bad_number,
        no_numbers,
        no_name,
        no_contact,
        empty_range,
    ] {
        let result = lab
            .rpc
            .call(CreateDisclosureRequest {
                actor: officer(tenant.id),
                tenant: tenant.id,
                request: bad,
            })
            .await;
        assert_eq!(code(result), ErrorCode::InvalidInput);
    }
    for table in [
        "disclosure_requests",
        "disclosure_request_numbers",
        "disclosure_audit_queue",
        "outbox",
    ] {
        assert_eq!(count(lab, table).await, 0, "{table} untouched");
    }
}

async fn requests_are_found_by_number_and_deadline(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let gdpr = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    let appi = lab
        .request(&tenant, RequestKind::Access, Regime::Appi)
        .await;
    let list = |filter: DisclosureFilter| {
        let rpc = lab.rpc.clone();
        let tenant = tenant.id;
        async move {
            rpc.call(ListDisclosureRequests {
                actor: member(Role::Auditor, tenant, "auditor"),
                tenant,
                filter,
            })
            .await
            .expect("list")
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
        }
    };
    let by_number = list(DisclosureFilter {
        number: Some("03-1234-5678".into()),
        ..DisclosureFilter::default()
    })
    .await;
    assert_eq!(by_number.len(), 2, "the national form finds both");
    let elsewhere = list(DisclosureFilter {
        number: Some("+81 6 5555 0000".into()),
        ..DisclosureFilter::default()
    })
    .await;
    assert!(elsewhere.is_empty());
    // APPI's 14 days (rolled back off a weekend) come before GDPR's month.
    let soon = list(DisclosureFilter {
        due_before: Some(NaiveDate::from_ymd_opt(2026, 4, 30).expect("date")),
        ..DisclosureFilter::default()
    })
    .await;
    assert_eq!(soon, vec![appi.id]);
    lab.set_clock(lab.now() + Duration::days(20));
    let overdue = list(DisclosureFilter {
        overdue: Some(true),
        ..DisclosureFilter::default()
    })
    .await;
    assert_eq!(overdue, vec![appi.id]);
    let all = list(DisclosureFilter::default()).await;
    assert_eq!(all, vec![appi.id, gdpr.id], "oldest deadline first");
}

async fn another_tenants_request_is_not_found(lab: &Lab) {
    let bpo = lab.bpo().await;
    let mine = lab.tenant(bpo).await;
    let theirs = lab.tenant(bpo).await;
    let request = lab.request(&mine, RequestKind::Access, Regime::Gdpr).await;
    // Their officer asks in their own tenant for my request's id.
    let result = lab
        .rpc
        .call(GetDisclosureRequest {
            actor: officer(theirs.id),
            tenant: theirs.id,
            id: request.id,
        })
        .await;
    assert_eq!(code(result), ErrorCode::NotFound);
    // Their officer asks in my tenant.
    let result = lab
        .rpc
        .call(GetDisclosureRequest {
            actor: officer(theirs.id),
            tenant: mine.id,
            id: request.id,
        })
        .await;
    assert_eq!(code(result), ErrorCode::Forbidden);
    // Another BPO's admin.
    let other_bpo = lab.bpo().await;
    let result = lab
        .rpc
        .call(GetDisclosureRequest {
            actor: bpo_admin(other_bpo),
            tenant: mine.id,
            id: request.id,
        })
        .await;
    assert_eq!(code(result), ErrorCode::Forbidden);
    // Their own BPO's admin acts for them.
    let seen = lab
        .rpc
        .call(GetDisclosureRequest {
            actor: bpo_admin(bpo),
            tenant: mine.id,
            id: request.id,
        })
        .await
        .expect("the processor acts for its client");
    assert_eq!(seen.id, request.id);
}
