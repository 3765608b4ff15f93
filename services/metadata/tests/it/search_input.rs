//! Bad search input: each refused with InvalidInput.

use callvault_contracts::Role;
use callvault_contracts::metadata_api::{ErrorCode, PageRequest, RecordingFilter};

use crate::support::{Env, at, code, event, member};

fn page(first: u32) -> PageRequest {
    PageRequest { first, after: None }
}

async fn bad_search_input_is_refused(env: Env) {
    let w = env.world().await;
    env.ingest(event(w.a, 0)).await;
    let sup = member(Role::Supervisor, w.a);
    let bad_filters = [
        RecordingFilter {
            min_duration_ms: Some(10),
            max_duration_ms: Some(9),
            ..Default::default()
        },
        RecordingFilter {
            started_after: Some(at(10)),
            started_before: Some(at(9)),
            ..Default::default()
        },
        RecordingFilter {
            phone_number: Some("anonymous".into()),
            ..Default::default()
        },
        RecordingFilter {
            phone_number: Some("".into()),
            ..Default::default()
        },
        RecordingFilter {
            tags: vec!["  ".into()],
            ..Default::default()
        },
        RecordingFilter {
            tags: (0..21).map(|i| format!("t{i}")).collect(),
            ..Default::default()
        },
        RecordingFilter {
            agent: Some(" ".into()),
            ..Default::default()
        },
        RecordingFilter {
            queue: Some("".into()),
            ..Default::default()
        },
        RecordingFilter {
            min_duration_ms: Some(u64::MAX),
            ..Default::default()
        },
    ];
    for filter in bad_filters {
        assert_eq!(
            code(
                env.svc
                    .search_recordings(&sup, w.a, filter.clone(), page(10))
                    .await
            ),
            ErrorCode::InvalidInput,
            "{filter:?}"
        );
    }
    for bad_page in [
        page(0),
        page(101),
        PageRequest {
            first: 10,
            after: Some("not a cursor".into()),
        },
        PageRequest {
            first: 10,
            after: Some("AAAA".into()),
        },
    ] {
        assert_eq!(
            code(
                env.svc
                    .search_recordings(&sup, w.a, RecordingFilter::default(), bad_page.clone())
                    .await
            ),
            ErrorCode::InvalidInput,
            "{bad_page:?}"
        );
    }
}

on_both_backends!(bad_search_input_is_refused);
