//! Time zones checked against the IANA database, the tenant's default phone
//! region (given or derived from the zone), and phone numbers meeting in
//! their E.164 form wherever they enter: ingest, search, and case holds.

use callvault_contracts::lifecycle_api::{HoldScope, NewLegalHold};
use callvault_contracts::metadata_api::{
    ApiResult, ErrorCode, NewTenant, PageRequest, RecordingFilter, Tenant,
};
use callvault_contracts::{Actor, BpoId, RecordingId, Role, TenantId};

use crate::support::{Env, code, event, member, onboard, platform};

fn page() -> PageRequest {
    PageRequest {
        first: 100,
        after: None,
    }
}

fn by_phone(number: &str) -> RecordingFilter {
    RecordingFilter {
        phone_number: Some(number.into()),
        ..Default::default()
    }
}

async fn search(env: &Env, actor: &Actor, tenant: TenantId, number: &str) -> Vec<RecordingId> {
    let mut ids: Vec<RecordingId> = env
        .svc
        .search_recordings(actor, tenant, by_phone(number), page())
        .await
        .expect("search")
        .items
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort_by_key(|id| id.0);
    ids
}

fn sorted(mut ids: Vec<RecordingId>) -> Vec<RecordingId> {
    ids.sort_by_key(|id| id.0);
    ids
}

async fn onboard_in(env: &Env, bpo: BpoId, zone: &str, region: Option<&str>) -> ApiResult<Tenant> {
    env.svc
        .onboard_tenant(
            &platform(),
            NewTenant {
                time_zone: zone.into(),
                default_region: region.map(Into::into),
                ..onboard(bpo, zone)
            },
        )
        .await
}

async fn tenant_in(env: &Env, zone: &str, region: Option<&str>) -> TenantId {
    let bpo = env.bpo("bpo").await;
    onboard_in(env, bpo, zone, region)
        .await
        .expect("onboard")
        .id
}

async fn time_zones_are_checked_against_the_iana_database(env: Env) {
    let bpo = env.bpo("bpo").await;
    for zone in ["Asia/Atlantis", "Europe/Springfield", "asia/tokyo", "JST"] {
        let result = env
            .svc
            .onboard_tenant(
                &platform(),
                NewTenant {
                    time_zone: zone.into(),
                    ..onboard(bpo, "t")
                },
            )
            .await;
        let err = result.expect_err(zone);
        assert_eq!(err.code, ErrorCode::InvalidInput, "{zone}");
        assert!(err.message.contains("time_zone"), "{}", err.message);
    }
    assert_eq!(env.count("tenants").await, 0, "nothing onboarded");

    let tokyo = env
        .svc
        .onboard_tenant(
            &platform(),
            NewTenant {
                time_zone: " Asia/Tokyo ".into(),
                ..onboard(bpo, "t")
            },
        )
        .await
        .expect("Asia/Tokyo");
    assert_eq!(tokyo.time_zone, "Asia/Tokyo");
}

async fn the_default_region_is_given_or_derived_from_the_zone(env: Env) {
    let bpo = env.bpo("bpo").await;
    for (zone, region, expected) in [
        ("Asia/Tokyo", None, Some("JP")),
        ("Europe/Paris", None, Some("FR")),
        ("America/New_York", None, Some("US")),
        ("UTC", None, None),
        ("Etc/GMT-9", None, None),
        ("UTC", Some("jp"), Some("JP")),
        ("Asia/Tokyo", Some(" GB "), Some("GB")),
    ] {
        let tenant = onboard_in(&env, bpo, zone, region).await.expect("onboard");
        assert_eq!(
            tenant.default_region.as_deref(),
            expected,
            "{zone} {region:?}"
        );
        let read = env
            .svc
            .get_tenant(&platform(), tenant.id)
            .await
            .expect("get tenant");
        assert_eq!(read.default_region.as_deref(), expected);
    }
    let before = env.count("tenants").await;
    for bad in ["XX", "JPN", "", "J1"] {
        let err = onboard_in(&env, bpo, "Asia/Tokyo", Some(bad))
            .await
            .expect_err(bad);
        assert_eq!(err.code, ErrorCode::InvalidInput, "{bad}");
        assert!(err.message.contains("default_region"), "{}", err.message);
    }
    assert_eq!(env.count("tenants").await, before, "nothing onboarded");
}

async fn national_and_international_forms_find_the_same_calls(env: Env) {
    let tokyo = tenant_in(&env, "Asia/Tokyo", None).await;
    let other = tenant_in(&env, "Asia/Tokyo", None).await;
    let sup = member(Role::Supervisor, tokyo);

    let mut e = event(tokyo, 0);
    e.call.caller_number = "03-1234-5678".into();
    let national = env.ingest(e).await;
    let mut e = event(tokyo, 100);
    e.call.callee_number = "+81312345678".into();
    let international = env.ingest(e).await;
    let mut e = event(tokyo, 200);
    e.call.caller_number = "0312345679".into();
    let neighbour = env.ingest(e).await;
    let mut e = event(other, 0);
    e.call.caller_number = "03-1234-5678".into();
    env.ingest(e).await;

    let both = sorted(vec![national, international]);
    for form in [
        "03-1234-5678",
        "0312345678",
        "+81312345678",
        "+81 3-1234-5678",
        "(03) 1234-5678",
    ] {
        assert_eq!(search(&env, &sup, tokyo, form).await, both, "{form}");
    }
    assert_eq!(
        search(&env, &sup, tokyo, "03-1234-5679").await,
        vec![neighbour]
    );
    // Numbers are shown as the recorder sent them.
    let shown = env
        .svc
        .get_recording(&sup, tokyo, national)
        .await
        .expect("get");
    assert_eq!(shown.caller_number, "03-1234-5678");
}

async fn numbers_that_are_not_numbers_are_refused_in_searches(env: Env) {
    let tokyo = tenant_in(&env, "Asia/Tokyo", None).await;
    let utc = tenant_in(&env, "UTC", None).await;
    let mut e = event(tokyo, 0);
    e.call.callee_number = "2001".into();
    let extension = env.ingest(e).await;
    let mut e = event(utc, 0);
    e.call.caller_number = "+81312345678".into();
    let utc_call = env.ingest(e).await;

    let sup = member(Role::Supervisor, tokyo);
    for bad in ["03-1234-567", "+999 1234 5678", "1234567", "anonymous", " "] {
        let result = env
            .svc
            .search_recordings(&sup, tokyo, by_phone(bad), page())
            .await;
        let err = result.expect_err(bad);
        assert_eq!(err.code, ErrorCode::InvalidInput, "{bad}");
        assert!(err.message.contains("phone_number"), "{}", err.message);
        assert!(!err.message.contains("1234"), "{}", err.message);
    }
    // An extension is a short dial string: searched as dialled.
    assert_eq!(search(&env, &sup, tokyo, "2001").await, vec![extension]);

    // Without a region a national number can't be read: refused, saying
    // why, while the international form finds the call.
    let utc_sup = member(Role::Supervisor, utc);
    let err = env
        .svc
        .search_recordings(&utc_sup, utc, by_phone("03-1234-5678"), page())
        .await
        .expect_err("no region");
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("no default region"), "{}", err.message);
    assert_eq!(
        search(&env, &utc_sup, utc, "+81 3 1234 5678").await,
        vec![utc_call]
    );
}

async fn a_case_hold_by_number_covers_every_form_of_it(env: Env) {
    let tokyo = tenant_in(&env, "Asia/Tokyo", None).await;
    let officer = member(Role::ComplianceOfficer, tokyo);
    let mut e = event(tokyo, 0);
    e.call.caller_number = "+81 3 1234 5678".into();
    let before = env.ingest(e).await;
    let hold = env
        .svc
        .place_hold(
            &officer,
            tokyo,
            NewLegalHold {
                case_name: "case 12".into(),
                reason: "regulator".into(),
                scope: HoldScope::Filter {
                    filter: by_phone("03-1234-5678"),
                },
            },
        )
        .await
        .expect("hold");
    let mut e = event(tokyo, 100);
    e.call.callee_number = "0312345678".into();
    let after = env.ingest(e).await;
    for id in [before, after] {
        let lifecycle = env
            .svc
            .recording_lifecycle(&officer, tokyo, id)
            .await
            .expect("lifecycle");
        assert_eq!(lifecycle.holds, vec![hold.id]);
    }

    let refused = env
        .svc
        .place_hold(
            &officer,
            tokyo,
            NewLegalHold {
                case_name: "case 13".into(),
                reason: "regulator".into(),
                scope: HoldScope::Filter {
                    filter: by_phone("03-1234-567"),
                },
            },
        )
        .await;
    assert_eq!(code(refused), ErrorCode::InvalidInput);
    assert_eq!(env.count("legal_holds").await, 1);
}

on_both_backends!(
    time_zones_are_checked_against_the_iana_database,
    the_default_region_is_given_or_derived_from_the_zone,
    national_and_international_forms_find_the_same_calls,
    numbers_that_are_not_numbers_are_refused_in_searches,
    a_case_hold_by_number_covers_every_form_of_it,
);
