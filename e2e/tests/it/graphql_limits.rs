//! GraphQL numbers and limits, through the running binary: 64-bit numbers
//! are `Int64`, and `__typename` counts toward the query complexity.

use callvault_e2e::{Callvault, graphql, mulaw_wav};
use serde_json::json;

use crate::support::{call, create_bpo, onboard, search_fields_until, upload};

#[tokio::test]
async fn sizes_and_durations_are_int64_and_typename_is_not_free() {
    let cv = Callvault::start_with(&[]).await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme BPO").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Bank").await;
    let supervisor = cv.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
    let segment = call("int64-1", "+819000000001", "a");
    let audio = mulaw_wav(3, 1);
    let response = upload(&cv, &client, &tenant.key, &segment, &audio).await;
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);

    // The schema says so…
    let fields = graphql(
        &client,
        &cv.base_url,
        &supervisor,
        "{ __type(name: \"Recording\") { fields { name type { ofType { name } } } } }",
        json!({}),
    )
    .await
    .expect("introspection");
    let type_of = |field: &str| {
        fields["__type"]["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|entry| entry["name"] == field)
            .map(|entry| entry["type"]["ofType"]["name"].clone())
    };
    assert_eq!(type_of("size"), Some(json!("Int64")));
    assert_eq!(type_of("durationMs"), Some(json!("Int64")));

    // …the values are JSON numbers…
    let nodes = search_fields_until(
        &cv,
        &client,
        &supervisor,
        &tenant.id,
        json!({}),
        1,
        "size durationMs",
    )
    .await;
    assert_eq!(nodes[0]["size"], json!(audio.len()), "{nodes:?}");
    assert_eq!(nodes[0]["durationMs"], json!(3_000), "{nodes:?}");

    // …and arguments take values past 2^31, as numbers or strings, but
    // nothing negative.
    for bound in [json!(4_294_967_296u64), json!("4294967296")] {
        search_fields_until(
            &cv,
            &client,
            &supervisor,
            &tenant.id,
            json!({ "maxDurationMs": bound }),
            1,
            "id",
        )
        .await;
    }
    let negative = graphql(
        &client,
        &cv.base_url,
        &supervisor,
        "query($t: UUID!) { recordings(tenantId: $t, filter: { minDurationMs: -1 }) { edges { node { id } } } }",
        json!({ "t": tenant.id }),
    )
    .await;
    assert_eq!(negative, Err("BAD_USER_INPUT".to_owned()));

    // 1001 aliases of `__typename` pass the complexity limit of 1000.
    let typenames = |n: usize| -> String { (0..n).map(|i| format!("t{i}: __typename ")).collect() };
    let refused = graphql(
        &client,
        &cv.base_url,
        &supervisor,
        &format!("{{ {} }}", typenames(1001)),
        json!({}),
    )
    .await;
    assert_eq!(refused, Err("BAD_USER_INPUT".to_owned()));
    let answered = graphql(
        &client,
        &cv.base_url,
        &supervisor,
        &format!("{{ {} }}", typenames(1000)),
        json!({}),
    )
    .await
    .expect("1000 is within the limit");
    assert_eq!(answered["t999"], "Query");
}
