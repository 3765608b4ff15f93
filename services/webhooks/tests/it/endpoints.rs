//! Subscribing endpoints: what is refused (and then nothing is stored),
//! what is kept, and that the secret is shown once.

use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::webhooks::{
    CreateWebhookEndpoint, DeleteWebhookEndpoint, ListWebhookEndpoints, UpdateWebhookEndpoint,
};
use callvault_contracts::webhooks_api::{NewWebhookEndpoint, WebhookEndpointPatch};

use crate::lab::Lab;

on_both_backends!(
    a_private_or_loopback_url_is_refused_and_nothing_is_stored,
    an_unknown_event_type_is_refused_and_nothing_is_stored,
    an_endpoint_is_created_listed_changed_and_deleted,
    a_bad_update_changes_nothing,
);

fn new(url: &str, types: &[&str]) -> NewWebhookEndpoint {
    NewWebhookEndpoint {
        url: url.to_owned(),
        event_types: types.iter().map(|t| (*t).to_owned()).collect(),
        description: String::new(),
    }
}

async fn stored_endpoints(lab: &Lab) -> usize {
    lab.call(ListWebhookEndpoints {
        actor: lab.admin(),
        tenant: lab.tenant,
    })
    .await
    .expect("list")
    .len()
}

async fn a_private_or_loopback_url_is_refused_and_nothing_is_stored(lab: &Lab) {
    for url in [
        "http://10.0.0.5/hook",
        "https://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
        // Allow-listed 127.0.0.1 is the only loopback allowed, and
        // localhost also resolves to ::1 here.
        "http://127.0.0.2/hook",
    ] {
        let refused = lab
            .call(CreateWebhookEndpoint {
                actor: lab.admin(),
                tenant: lab.tenant,
                endpoint: new(url, &["recording.stored"]),
            })
            .await
            .expect_err(url);
        assert_eq!(
            refused.code,
            ErrorCode::WebhookUrlRefused,
            "{url}: {refused:?}"
        );
        assert!(!refused.message.contains(url), "the url isn't echoed");
    }
    for url in [
        "ftp://example.com/x",
        "not a url",
        "https://user:pw@example.com/",
    ] {
        let refused = lab
            .call(CreateWebhookEndpoint {
                actor: lab.admin(),
                tenant: lab.tenant,
                endpoint: new(url, &["recording.stored"]),
            })
            .await
            .expect_err(url);
        assert_eq!(refused.code, ErrorCode::WebhookUrlRefused, "{url}");
    }
    assert_eq!(stored_endpoints(lab).await, 0);
}

async fn an_unknown_event_type_is_refused_and_nothing_is_stored(lab: &Lab) {
    for types in [
        &["recording.stored", "recording.exploded"][..],
        &["recording.shredded"][..],
        &[][..],
    ] {
        let refused = lab
            .call(CreateWebhookEndpoint {
                actor: lab.admin(),
                tenant: lab.tenant,
                endpoint: new("http://127.0.0.1:9/hook", types),
            })
            .await
            .expect_err("refused");
        assert_eq!(refused.code, ErrorCode::InvalidInput, "{types:?}");
    }
    assert_eq!(stored_endpoints(lab).await, 0);
}

async fn an_endpoint_is_created_listed_changed_and_deleted(lab: &Lab) {
    let created = lab
        .subscribe(
            "http://127.0.0.1:9/hook",
            &["recording.stored", "disclosure.overdue", "recording.stored"],
        )
        .await;
    assert!(created.secret.starts_with("whsec_"));
    assert!(
        !format!("{created:?}").contains(&created.secret),
        "Debug hides it"
    );
    assert_eq!(
        created.endpoint.event_types,
        ["disclosure.overdue", "recording.stored"]
    );
    assert!(created.endpoint.enabled);
    let listed = lab
        .call(ListWebhookEndpoints {
            actor: lab.admin(),
            tenant: lab.tenant,
        })
        .await
        .expect("list");
    assert_eq!(listed, std::slice::from_ref(&created.endpoint));

    let changed = lab
        .call(UpdateWebhookEndpoint {
            actor: lab.admin(),
            endpoint_id: created.endpoint.id,
            patch: WebhookEndpointPatch {
                event_types: Some(vec!["recording.deleted".into()]),
                description: Some("deletions only".into()),
                ..Default::default()
            },
        })
        .await
        .expect("changed");
    assert_eq!(changed.event_types, ["recording.deleted"]);
    assert_eq!(changed.description, "deletions only");
    assert_eq!(changed.url, created.endpoint.url);

    assert!(
        lab.call(DeleteWebhookEndpoint {
            actor: lab.admin(),
            endpoint_id: created.endpoint.id,
        })
        .await
        .expect("deleted")
    );
    assert_eq!(stored_endpoints(lab).await, 0);
}

async fn a_bad_update_changes_nothing(lab: &Lab) {
    let created = lab
        .subscribe("http://127.0.0.1:9/hook", &["recording.stored"])
        .await;
    for patch in [
        WebhookEndpointPatch {
            url: Some("http://10.1.1.1/".into()),
            description: Some("moved".into()),
            ..Default::default()
        },
        WebhookEndpointPatch {
            event_types: Some(vec!["nope".into()]),
            description: Some("moved".into()),
            ..Default::default()
        },
    ] {
        lab.call(UpdateWebhookEndpoint {
            actor: lab.admin(),
            endpoint_id: created.endpoint.id,
            patch,
        })
        .await
        .expect_err("refused");
    }
    let listed = lab
        .call(ListWebhookEndpoints {
            actor: lab.admin(),
            tenant: lab.tenant,
        })
        .await
        .expect("list");
    assert_eq!(listed, [created.endpoint]);
}
