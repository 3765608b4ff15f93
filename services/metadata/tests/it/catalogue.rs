//! Searching and reading recordings: every filter, agents' own calls,
//! tenant isolation, bad input, phone numbers at rest.

use callvault_contracts::call::Direction;
use callvault_contracts::metadata_api::{ErrorCode, PageRequest, RecordingFilter, RecordingPage};
use callvault_contracts::ops::catalogue::MAX_KNOWN_RECORDINGS_ASKED;
use callvault_contracts::{Actor, RecordingId, Role, TenantId};

use crate::support::{Env, agent, at, bpo_admin, code, event, member};

fn page(first: u32) -> PageRequest {
    PageRequest { first, after: None }
}

async fn search(
    env: &Env,
    actor: &Actor,
    tenant: TenantId,
    filter: RecordingFilter,
) -> Vec<RecordingId> {
    let found: RecordingPage = env
        .svc
        .search_recordings(actor, tenant, filter, page(100))
        .await
        .expect("search");
    found.items.into_iter().map(|r| r.id).collect()
}

async fn every_filter_narrows_the_search(env: Env) {
    let w = env.world().await;
    let sup = member(Role::Supervisor, w.a);

    let mut e1 = event(w.a, 0);
    e1.call.caller_number = "+81 90-4321-8765".into();
    e1.call.tags = vec!["complaint".into(), "vip".into()];
    let r1 = env.ingest(e1).await;

    let mut e2 = event(w.a, 100);
    e2.call.direction = Direction::Outbound;
    e2.call.callee_number = "+81 90 4321 8765".into();
    e2.call.agent = Some("agent-8".into());
    e2.call.queue = Some("support".into());
    e2.call.tags = vec!["vip".into()];
    e2.audio.duration_ms = 5_000;
    let r2 = env.ingest(e2).await;

    let mut e3 = event(w.a, 200);
    e3.call.tags = vec!["complaint".into()];
    e3.audio.duration_ms = 600_000;
    e3.call.queue = None;
    e3.call.agent = None;
    let r3 = env.ingest(e3).await;

    // The same number in tenant B must not match tenant A's search.
    let mut other = event(w.b, 50);
    other.call.caller_number = "+819043218765".into();
    let r_b = env.ingest(other).await;

    let all = search(&env, &sup, w.a, RecordingFilter::default()).await;
    assert_eq!(all, vec![r3, r2, r1], "newest first, tenant a only");

    let by_phone = |number: &str| RecordingFilter {
        phone_number: Some(number.into()),
        ..Default::default()
    };
    // Caller of r1, callee of r2; normalized the same whatever the spacing.
    assert_eq!(
        search(&env, &sup, w.a, by_phone("+819043218765")).await,
        vec![r2, r1]
    );
    assert_eq!(
        search(&env, &sup, w.a, by_phone("+81 (90) 4321-8765")).await,
        vec![r2, r1]
    );
    assert_eq!(
        search(&env, &sup, w.a, by_phone("+1 201 555 0199")).await,
        vec![r3, r1]
    );
    assert!(
        search(&env, &sup, w.a, by_phone("+81 90 1234 0000"))
            .await
            .is_empty()
    );
    assert_eq!(
        search(
            &env,
            &member(Role::Supervisor, w.b),
            w.b,
            by_phone("+819043218765")
        )
        .await,
        vec![r_b]
    );

    let tags = |tags: &[&str]| RecordingFilter {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    assert_eq!(search(&env, &sup, w.a, tags(&["vip"])).await, vec![r2, r1]);
    assert_eq!(
        search(&env, &sup, w.a, tags(&["complaint"])).await,
        vec![r3, r1]
    );
    assert_eq!(
        search(&env, &sup, w.a, tags(&["complaint", "vip"])).await,
        vec![r1]
    );
    assert!(
        search(&env, &sup, w.a, tags(&["complaint", "vip", "nope"]))
            .await
            .is_empty()
    );

    let durations = |min, max| RecordingFilter {
        min_duration_ms: min,
        max_duration_ms: max,
        ..Default::default()
    };
    assert_eq!(
        search(&env, &sup, w.a, durations(Some(60_000), None)).await,
        vec![r3, r1]
    );
    assert_eq!(
        search(&env, &sup, w.a, durations(None, Some(60_000))).await,
        vec![r2, r1]
    );
    assert_eq!(
        search(&env, &sup, w.a, durations(Some(60_000), Some(60_000))).await,
        vec![r1]
    );
    assert_eq!(
        search(&env, &sup, w.a, durations(Some(1), Some(4_999))).await,
        vec![]
    );

    // started_after is inclusive, started_before exclusive.
    let window = |after: Option<i64>, before: Option<i64>| RecordingFilter {
        started_after: after.map(at),
        started_before: before.map(at),
        ..Default::default()
    };
    assert_eq!(
        search(&env, &sup, w.a, window(Some(100), None)).await,
        vec![r3, r2]
    );
    assert_eq!(
        search(&env, &sup, w.a, window(None, Some(100))).await,
        vec![r1]
    );
    assert_eq!(
        search(&env, &sup, w.a, window(Some(0), Some(200))).await,
        vec![r2, r1]
    );
    assert_eq!(
        search(&env, &sup, w.a, window(Some(1), Some(1))).await,
        vec![]
    );

    let direction = RecordingFilter {
        direction: Some(Direction::Outbound),
        ..Default::default()
    };
    assert_eq!(search(&env, &sup, w.a, direction).await, vec![r2]);
    let queue = RecordingFilter {
        queue: Some("support".into()),
        ..Default::default()
    };
    assert_eq!(search(&env, &sup, w.a, queue).await, vec![r2]);
    let by_agent = RecordingFilter {
        agent: Some("agent-7".into()),
        ..Default::default()
    };
    assert_eq!(search(&env, &sup, w.a, by_agent).await, vec![r1]);

    // Filters combine.
    let combined = RecordingFilter {
        phone_number: Some("+819043218765".into()),
        tags: vec!["vip".into()],
        direction: Some(Direction::Inbound),
        ..Default::default()
    };
    assert_eq!(search(&env, &sup, w.a, combined).await, vec![r1]);
}

async fn agents_see_only_their_own_calls(env: Env) {
    let w = env.world().await;
    let own = env.ingest(event(w.a, 0)).await;
    let mut theirs = event(w.a, 10);
    theirs.call.agent = Some("agent-8".into());
    let theirs = env.ingest(theirs).await;
    let mut nobody = event(w.a, 20);
    nobody.call.agent = None;
    let nobody = env.ingest(nobody).await;

    let seven = agent(w.a, "agent-7");
    assert_eq!(
        search(&env, &seven, w.a, RecordingFilter::default()).await,
        vec![own]
    );
    // Asking for another agent's calls finds nothing rather than widening.
    let ask_for_8 = RecordingFilter {
        agent: Some("agent-8".into()),
        ..Default::default()
    };
    assert!(search(&env, &seven, w.a, ask_for_8).await.is_empty());
    assert_eq!(
        env.svc
            .get_recording(&seven, w.a, own)
            .await
            .expect("own call")
            .id,
        own
    );
    assert_eq!(
        code(env.svc.get_recording(&seven, w.a, theirs).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(env.svc.get_recording(&seven, w.a, nobody).await),
        ErrorCode::NotFound
    );

    let eight = agent(w.a, "agent-8");
    assert_eq!(
        search(&env, &eight, w.a, RecordingFilter::default()).await,
        vec![theirs]
    );
    // Supervisors see all three.
    assert_eq!(
        search(
            &env,
            &member(Role::Supervisor, w.a),
            w.a,
            RecordingFilter::default()
        )
        .await
        .len(),
        3
    );
}

async fn recordings_stay_in_their_tenant(env: Env) {
    let w = env.world().await;
    let in_a = env.ingest(event(w.a, 0)).await;
    let in_b = env.ingest(event(w.b, 0)).await;
    let in_c = env.ingest(event(w.c, 0)).await;

    for role in [
        Role::TenantAdmin,
        Role::Supervisor,
        Role::ComplianceOfficer,
        Role::Agent,
    ] {
        let b_member = member(role, w.b);
        // Naming tenant A: refused outright.
        assert_eq!(
            code(
                env.svc
                    .search_recordings(&b_member, w.a, RecordingFilter::default(), page(10))
                    .await
            ),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(env.svc.get_recording(&b_member, w.a, in_a).await),
            ErrorCode::Forbidden
        );
        // Naming its own tenant with A's recording id: it doesn't exist there.
        assert_eq!(
            code(env.svc.get_recording(&b_member, w.b, in_a).await),
            ErrorCode::NotFound,
            "{role:?}"
        );
        assert_eq!(
            search(&env, &b_member, w.b, RecordingFilter::default()).await,
            vec![in_b]
        );
    }
    // BPO X's admin reads its tenants, not BPO Y's.
    let x_admin = bpo_admin(w.x);
    assert_eq!(
        search(&env, &x_admin, w.a, RecordingFilter::default()).await,
        vec![in_a]
    );
    assert_eq!(
        env.svc
            .get_recording(&x_admin, w.b, in_b)
            .await
            .expect("own bpo")
            .id,
        in_b
    );
    assert_eq!(
        code(env.svc.get_recording(&x_admin, w.c, in_c).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            env.svc
                .search_recordings(&x_admin, w.c, RecordingFilter::default(), page(10))
                .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(env.svc.get_recording(&x_admin, w.a, in_c).await),
        ErrorCode::NotFound
    );
    let y_admin = bpo_admin(w.y);
    assert_eq!(
        code(env.svc.get_recording(&y_admin, w.a, in_a).await),
        ErrorCode::Forbidden
    );
}

/// The reconciler's question: which of these ids are catalogued, for one
/// tenant only; too many ids at once is refused.
async fn known_recordings_answers_for_one_tenant(env: Env) {
    let w = env.world().await;
    let in_a = env.ingest(event(w.a, 0)).await;
    let in_b = env.ingest(event(w.b, 1)).await;
    let never = RecordingId::new();
    let known = env
        .svc
        .known_recordings(w.a, vec![in_a, in_b, never])
        .await
        .expect("known");
    assert_eq!(known, vec![in_a], "tenant B's recording is not tenant A's");
    assert_eq!(
        env.svc
            .known_recordings(w.b, vec![in_a])
            .await
            .expect("known"),
        Vec::<RecordingId>::new()
    );
    assert!(
        env.svc
            .known_recordings(w.a, vec![])
            .await
            .expect("none")
            .is_empty()
    );
    let too_many = (0..=MAX_KNOWN_RECORDINGS_ASKED)
        .map(|_| RecordingId::new())
        .collect();
    assert_eq!(
        code(env.svc.known_recordings(w.a, too_many).await),
        ErrorCode::InvalidInput
    );
}

/// A call's segments by the CTI's id: in segment order, an agent's own
/// only, one tenant's only, bad ids refused.
async fn a_call_is_found_by_its_external_id(env: Env) {
    let w = env.world().await;
    let segment = |tenant, offset, number: u32, agent: &str| {
        let mut e = event(tenant, offset);
        e.call.external_call_id = "crm-4711".into();
        e.call.segment = number;
        e.call.agent = Some(agent.into());
        e
    };
    let second = env.ingest(segment(w.a, 60, 1, "agent-7")).await;
    let first = env.ingest(segment(w.a, 0, 0, "agent-7")).await;
    let transferred = env.ingest(segment(w.a, 120, 2, "agent-8")).await;
    env.ingest(event(w.a, 300)).await;
    env.ingest(segment(w.b, 0, 0, "agent-7")).await;

    let ids = |items: Vec<callvault_contracts::metadata_api::Recording>| -> Vec<RecordingId> {
        items.into_iter().map(|r| r.id).collect()
    };
    let sup = member(Role::Supervisor, w.a);
    let found = env.svc.call_recordings(&sup, w.a, "crm-4711").await;
    assert_eq!(
        ids(found.expect("lookup")),
        vec![first, second, transferred]
    );
    let mine = env
        .svc
        .call_recordings(&agent(w.a, "agent-8"), w.a, "crm-4711")
        .await;
    assert_eq!(ids(mine.expect("lookup")), vec![transferred]);
    let none = env.svc.call_recordings(&sup, w.a, "crm-0000").await;
    assert!(none.expect("lookup").is_empty());

    let elsewhere = env
        .svc
        .call_recordings(&member(Role::Supervisor, w.b), w.a, "crm-4711")
        .await;
    assert_eq!(code(elsewhere), ErrorCode::Forbidden);
    let auditor = env
        .svc
        .call_recordings(&member(Role::Auditor, w.a), w.a, "crm-4711")
        .await;
    assert_eq!(code(auditor), ErrorCode::Forbidden);
    for bad in ["", "   ", &"x".repeat(129), "a\u{0}b"] {
        let refused = env.svc.call_recordings(&sup, w.a, bad).await;
        assert_eq!(code(refused), ErrorCode::InvalidInput, "{bad:?}");
    }
}

async fn custom_attributes_are_searchable(env: Env) {
    let w = env.world().await;
    let sup = member(Role::Supervisor, w.a);
    let with = |offset, pairs: &[(&str, &str)]| {
        let mut e = event(w.a, offset);
        e.call.attributes = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        e
    };
    let securities = env
        .ingest(with(0, &[("product", "securities"), ("crm.case", "C-1")]))
        .await;
    let fx = env.ingest(with(100, &[("product", "fx")])).await;
    let securities_2 = env
        .ingest(with(200, &[("product", "securities"), ("crm.case", "C-2")]))
        .await;
    let bare = env.ingest(event(w.a, 300)).await;
    // Tenant B has the same attribute: A's search must not find it.
    let mut other = event(w.b, 50);
    other.call.attributes = [("product".into(), "securities".into())].into();
    let r_b = env.ingest(other).await;

    let by = |pairs: &[(&str, &str)]| RecordingFilter {
        attributes: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    assert_eq!(
        search(&env, &sup, w.a, by(&[("product", "securities")])).await,
        vec![securities_2, securities]
    );
    assert_eq!(
        search(
            &env,
            &sup,
            w.a,
            by(&[("product", "securities"), ("crm.case", "C-1")])
        )
        .await,
        vec![securities]
    );
    assert_eq!(
        search(&env, &sup, w.a, by(&[("product", "fx")])).await,
        vec![fx]
    );
    // Exact: another case or spacing is another value.
    assert!(
        search(&env, &sup, w.a, by(&[("product", "Securities")]))
            .await
            .is_empty()
    );
    assert!(
        search(&env, &sup, w.a, by(&[("product", "fx ")]))
            .await
            .is_empty()
    );
    assert!(
        search(&env, &sup, w.a, by(&[("queue", "sales")]))
            .await
            .is_empty()
    );
    assert_eq!(
        search(&env, &sup, w.a, RecordingFilter::default()).await,
        vec![bare, securities_2, fx, securities]
    );
    let b_sup = member(Role::Supervisor, w.b);
    assert_eq!(
        search(&env, &b_sup, w.b, by(&[("product", "securities")])).await,
        vec![r_b]
    );
    let elsewhere = env
        .svc
        .search_recordings(&b_sup, w.a, by(&[("product", "securities")]), page(10))
        .await;
    assert_eq!(code(elsewhere), ErrorCode::Forbidden);

    let too_many: Vec<(String, String)> = (0..21).map(|n| (format!("k{n}"), "v".into())).collect();
    for bad in [
        by(&[("", "v")]),
        by(&[(&"k".repeat(65), "v")]),
        by(&[("k", &"v".repeat(129))]),
        by(&[("k", "a\u{0}b")]),
        RecordingFilter {
            attributes: too_many.into_iter().collect(),
            ..Default::default()
        },
    ] {
        let refused = env.svc.search_recordings(&sup, w.a, bad, page(10)).await;
        assert_eq!(code(refused), ErrorCode::InvalidInput);
    }
}

/// Recordings catalogued before attribute search: the migration copies
/// their attributes. Simulated by taking the migration back (its table
/// goes) and applying it again over the catalogued rows.
async fn the_migration_copies_existing_attributes(env: Env) {
    use sea_orm_migration::MigratorTraitSelf;
    let w = env.world().await;
    let sup = member(Role::Supervisor, w.a);
    let mut ids = Vec::new();
    // More than one of the migration's batches of 500.
    for n in 0..510 {
        let mut e = event(w.a, n);
        e.call.attributes = [("batch".into(), (n % 2).to_string())].into();
        ids.push(env.ingest(e).await);
    }
    let migrator = callvault_metadata::Migrator::new(callvault_metadata::PiiKeys::new(
        crate::support::PII_SECRET,
    ));
    migrator.down(&env.db, Some(1)).await.expect("down");
    migrator.up(&env.db, None).await.expect("up again");
    let odd = RecordingFilter {
        attributes: [("batch".into(), "1".into())].into(),
        ..Default::default()
    };
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let found_page = env
            .svc
            .search_recordings(&sup, w.a, odd.clone(), PageRequest { first: 100, after })
            .await
            .expect("search");
        found.extend(found_page.items.into_iter().map(|r| r.id));
        if !found_page.has_next_page {
            break;
        }
        after = found_page.end_cursor;
    }
    let mut expected: Vec<RecordingId> = ids.iter().skip(1).step_by(2).copied().collect();
    expected.reverse();
    assert_eq!(found, expected);
}

on_both_backends!(
    the_migration_copies_existing_attributes,
    custom_attributes_are_searchable,
    a_call_is_found_by_its_external_id,
    every_filter_narrows_the_search,
    agents_see_only_their_own_calls,
    recordings_stay_in_their_tenant,
    known_recordings_answers_for_one_tenant,
);
