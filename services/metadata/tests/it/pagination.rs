//! Keyset pagination: every recording exactly once, in order, with an exact
//! `has_next_page`, including recordings that start at the same instant.

use std::collections::HashSet;

use callvault_contracts::metadata_api::{PageRequest, Recording, RecordingFilter};
use callvault_contracts::{Actor, Role, TenantId};

use crate::support::{Env, event, member};

async fn walk(
    env: &Env,
    actor: &Actor,
    tenant: TenantId,
    first: u32,
    filter: RecordingFilter,
) -> Vec<Vec<Recording>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = env
            .svc
            .search_recordings(
                actor,
                tenant,
                filter.clone(),
                PageRequest {
                    first,
                    after: after.clone(),
                },
            )
            .await
            .expect("page");
        assert!(page.items.len() <= first as usize);
        let has_next = page.has_next_page;
        after = page.end_cursor.clone();
        pages.push(page.items);
        if !has_next {
            return pages;
        }
        assert!(after.is_some(), "a page with a next page has a cursor");
        assert!(pages.len() < 100, "pagination does not terminate");
    }
}

async fn pages_cover_everything_exactly_once(env: Env) {
    let w = env.world().await;
    let mut ingested = Vec::new();
    // 23 recordings over 8 distinct instants: ties are broken by id.
    for i in 0..23 {
        let mut e = event(w.a, (i % 8) * 30);
        // Odd ones carry a tag, to page through a filtered search too.
        if i % 2 == 1 {
            e.call.tags = vec!["odd".into()];
        }
        ingested.push(env.ingest(e).await);
    }
    env.ingest(event(w.b, 0)).await;
    let sup = member(Role::Supervisor, w.a);

    let pages = walk(&env, &sup, w.a, 5, RecordingFilter::default()).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![5, 5, 5, 5, 3]
    );
    let all: Vec<Recording> = pages.into_iter().flatten().collect();
    let ids: HashSet<_> = all.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 23, "no recording twice");
    assert_eq!(ids, ingested.iter().copied().collect::<HashSet<_>>());
    for pair in all.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            (a.started_at, a.id) > (b.started_at, b.id),
            "newest first, then id descending"
        );
    }

    // Exactly a page's worth left: the last full page says there is no more.
    let pages = walk(&env, &sup, w.a, 23, RecordingFilter::default()).await;
    assert_eq!(pages.len(), 1);
    let pages = walk(&env, &sup, w.a, 100, RecordingFilter::default()).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![23]);

    let odd = RecordingFilter {
        tags: vec!["odd".into()],
        ..Default::default()
    };
    let pages = walk(&env, &sup, w.a, 4, odd).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![4, 4, 3]
    );
    let odd_ids: HashSet<_> = pages.into_iter().flatten().map(|r| r.id).collect();
    assert_eq!(odd_ids.len(), 11);

    // An empty result: no cursor, no next page.
    let none = env
        .svc
        .search_recordings(
            &member(Role::Supervisor, w.c),
            w.c,
            RecordingFilter::default(),
            PageRequest {
                first: 10,
                after: None,
            },
        )
        .await
        .expect("empty");
    assert!(none.items.is_empty());
    assert_eq!(none.end_cursor, None);
    assert!(!none.has_next_page);
}

on_both_backends!(pages_cover_everything_exactly_once);
