//! Who may reach webhooks: the tenant's admin and its BPO's admin; nobody
//! else, and no operation reaches another tenant's endpoints or
//! deliveries (they answer as if they didn't exist).

use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::webhooks::{
    CreateWebhookEndpoint, DeleteWebhookEndpoint, ListWebhookDeliveries, ListWebhookEndpoints,
    ReplayWebhookDelivery, RotateWebhookSecret, UpdateWebhookEndpoint,
};
use callvault_contracts::webhooks_api::{NewWebhookEndpoint, WebhookEndpointPatch};
use callvault_contracts::{Actor, Role};

use crate::lab::{Lab, actor, platform};

on_both_backends!(
    another_tenant_reaches_none_of_it,
    only_admins_manage_webhooks,
    a_bpo_admin_manages_its_own_tenants_only,
);

fn new() -> NewWebhookEndpoint {
    NewWebhookEndpoint {
        url: "http://127.0.0.1:9/hook".into(),
        event_types: vec!["recording.stored".into()],
        description: String::new(),
    }
}

/// Every operation on `lab`'s endpoint (and its delivery) as `who`: each
/// must fail with `expected`.
async fn refused_everywhere(lab: &Lab, who: &Actor, expected: ErrorCode) {
    let created = lab
        .subscribe("http://127.0.0.1:9/hook", &["recording.stored"])
        .await;
    lab.webhooks
        .accept(&crate::lab::stored(lab.tenant))
        .await
        .expect("accept");
    let delivery = lab.deliveries(created.endpoint.id).await[0].id.clone();
    let id = created.endpoint.id;
    let results = [
        lab.call(CreateWebhookEndpoint {
            actor: who.clone(),
            tenant: lab.tenant,
            endpoint: new(),
        })
        .await
        .map(|_| ()),
        lab.call(ListWebhookEndpoints {
            actor: who.clone(),
            tenant: lab.tenant,
        })
        .await
        .map(|_| ()),
        lab.call(UpdateWebhookEndpoint {
            actor: who.clone(),
            endpoint_id: id,
            patch: WebhookEndpointPatch {
                description: Some("mine now".into()),
                ..Default::default()
            },
        })
        .await
        .map(|_| ()),
        lab.call(RotateWebhookSecret {
            actor: who.clone(),
            endpoint_id: id,
        })
        .await
        .map(|_| ()),
        lab.call(ListWebhookDeliveries {
            actor: who.clone(),
            endpoint_id: id,
            status: None,
            limit: None,
        })
        .await
        .map(|_| ()),
        lab.call(ReplayWebhookDelivery {
            actor: who.clone(),
            delivery_id: delivery,
        })
        .await
        .map(|_| ()),
        lab.call(DeleteWebhookEndpoint {
            actor: who.clone(),
            endpoint_id: id,
        })
        .await
        .map(|_| ()),
    ];
    for (index, result) in results.into_iter().enumerate() {
        let err = result.expect_err("refused");
        // Creating and listing name the tenant: refused. The others name an
        // endpoint or a delivery: not found, as if there were none.
        let want = if index < 2 {
            ErrorCode::Forbidden
        } else {
            expected
        };
        assert_eq!(err.code, want, "operation {index} as {:?}", who.role);
    }
    // Nothing changed.
    let listed = lab
        .call(ListWebhookEndpoints {
            actor: lab.admin(),
            tenant: lab.tenant,
        })
        .await
        .expect("list");
    assert!(listed.contains(&created.endpoint), "{listed:?}");
}

async fn another_tenant_reaches_none_of_it(lab: &Lab) {
    let other_admin = actor(
        Role::TenantAdmin,
        Some(lab.other_bpo),
        Some(lab.other_tenant),
    );
    refused_everywhere(lab, &other_admin, ErrorCode::NotFound).await;
    let sibling_admin = actor(Role::TenantAdmin, Some(lab.bpo), Some(lab.sibling));
    refused_everywhere(lab, &sibling_admin, ErrorCode::NotFound).await;
    let other_bpo_admin = actor(Role::BpoAdmin, Some(lab.other_bpo), None);
    refused_everywhere(lab, &other_bpo_admin, ErrorCode::NotFound).await;
}

async fn only_admins_manage_webhooks(lab: &Lab) {
    for role in [
        Role::Supervisor,
        Role::Agent,
        Role::Auditor,
        Role::ComplianceOfficer,
    ] {
        let member = actor(role, Some(lab.bpo), Some(lab.tenant));
        refused_everywhere(lab, &member, ErrorCode::Forbidden).await;
    }
    refused_everywhere(lab, &platform(), ErrorCode::Forbidden).await;
}

async fn a_bpo_admin_manages_its_own_tenants_only(lab: &Lab) {
    let created = lab
        .call(CreateWebhookEndpoint {
            actor: lab.bpo_admin(),
            tenant: lab.sibling,
            endpoint: new(),
        })
        .await
        .expect("its own BPO's tenant");
    let listed = lab
        .call(ListWebhookEndpoints {
            actor: lab.bpo_admin(),
            tenant: lab.sibling,
        })
        .await
        .expect("list");
    assert_eq!(listed, [created.endpoint]);
    let refused = lab
        .call(ListWebhookEndpoints {
            actor: lab.bpo_admin(),
            tenant: lab.other_tenant,
        })
        .await
        .expect_err("another BPO's tenant");
    assert_eq!(refused.code, ErrorCode::Forbidden);
}
