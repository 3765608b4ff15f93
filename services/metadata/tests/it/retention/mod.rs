//! Retention rules and policy: which rule wins, attribute matching, dates
//! recomputed when rules or the default change, ingest computing the date,
//! bad input refused without effect, tenant isolation, and the migration's
//! backfill of recordings catalogued before retention existed.

use std::collections::BTreeMap;

use callvault_contracts::call::Direction;
use callvault_contracts::lifecycle_api::{
    Access, AuditAction, EffectiveRule, NewRetentionRule, RetentionMatch, TenantPolicy,
};
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::{Actor, RecordingId, Role, TenantId};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::support::{Env, at, bpo_admin, code, event, member};

mod backfill;
mod concurrency;

fn rule(name: &str, days: u32, overriding: bool, matches: RetentionMatch) -> NewRetentionRule {
    NewRetentionRule {
        name: name.into(),
        matches,
        retention_days: days,
        overriding,
        legal_basis: None,
    }
}

fn on_queue(queue: &str) -> RetentionMatch {
    RetentionMatch {
        queue: Some(queue.into()),
        ..RetentionMatch::default()
    }
}

fn with_tag(tag: &str) -> RetentionMatch {
    RetentionMatch {
        tags: vec![tag.into()],
        ..RetentionMatch::default()
    }
}

fn with_attribute(key: &str, value: &str) -> RetentionMatch {
    RetentionMatch {
        attributes: BTreeMap::from([(key.into(), value.into())]),
        ..RetentionMatch::default()
    }
}

fn admin(tenant: TenantId) -> Actor {
    member(Role::TenantAdmin, tenant)
}

/// The rule and date `recording_lifecycle` reports for a recording that
/// started at `at(offset)`; the date must be start + the rule's days.
async fn lifecycle(env: &Env, tenant: TenantId, id: RecordingId, offset: i64) -> EffectiveRule {
    let life = env
        .svc
        .recording_lifecycle(&admin(tenant), tenant, id)
        .await
        .expect("recording_lifecycle");
    assert_eq!(life.recording_id, id);
    let days = match &life.rule {
        EffectiveRule::TenantDefault { retention_days } => *retention_days,
        EffectiveRule::Rule { retention_days, .. } => *retention_days,
    };
    assert_eq!(
        life.retain_until,
        at(offset) + Duration::days(i64::from(days)),
        "retain_until is the start plus the rule's days"
    );
    life.rule
}

fn is_rule(effective: &EffectiveRule, id: Uuid) -> bool {
    matches!(effective, EffectiveRule::Rule { id: rule, .. } if *rule == id)
}

fn default_of(days: u32) -> EffectiveRule {
    EffectiveRule::TenantDefault {
        retention_days: days,
    }
}

async fn the_longest_rule_wins_unless_one_overrides(env: Env) {
    let w = env.world().await;
    let boss = admin(w.a);

    let plain = env.ingest(event(w.a, 0)).await;
    let mut e = event(w.a, 10);
    e.call.attributes = BTreeMap::from([("product".into(), "securities".into())]);
    e.call.tags = vec!["vip".into()];
    let securities = env.ingest(e).await;
    let mut e = event(w.a, 20);
    e.call.tags = vec!["vip".into()];
    let vip = env.ingest(e).await;
    let mut e = event(w.a, 30);
    e.call.queue = Some("pci".into());
    e.call.tags = vec!["vip".into()];
    let pci = env.ingest(e).await;
    let mut e = event(w.a, 40);
    e.call.attributes = BTreeMap::from([("product".into(), "fx".into())]);
    let fx = env.ingest(e).await;

    let create = |new: NewRetentionRule| {
        let boss = boss.clone();
        let svc = &env.svc;
        async move {
            svc.create_retention_rule(&boss, w.a, new)
                .await
                .expect("create rule")
        }
    };
    // Shorter than the default (365) and not overriding: never applies.
    let short = create(rule(
        "everything short",
        30,
        false,
        RetentionMatch::default(),
    ))
    .await;
    let vip_rule = create(rule("vip", 730, false, with_tag("vip"))).await;
    let sec_rule = create(rule(
        "securities (FIEA)",
        3650,
        false,
        with_attribute("product", "securities"),
    ))
    .await;
    let pci_rule = create(rule("pci cap", 60, true, on_queue("pci"))).await;

    assert_eq!(lifecycle(&env, w.a, plain, 0).await, default_of(365));
    assert!(is_rule(
        &lifecycle(&env, w.a, securities, 10).await,
        sec_rule.id
    ));
    assert!(is_rule(&lifecycle(&env, w.a, vip, 20).await, vip_rule.id));
    assert!(
        is_rule(&lifecycle(&env, w.a, pci, 30).await, pci_rule.id),
        "the overriding rule decides though vip is longer"
    );
    assert_eq!(
        lifecycle(&env, w.a, fx, 40).await,
        default_of(365),
        "product=fx is not product=securities"
    );
    let life = env
        .svc
        .recording_lifecycle(&boss, w.a, securities)
        .await
        .expect("lifecycle");
    assert_eq!(
        life.rule,
        EffectiveRule::Rule {
            id: sec_rule.id,
            name: "securities (FIEA)".into(),
            retention_days: 3650,
        }
    );
    assert!(life.holds.is_empty());

    // The default counts: raised above the vip rule, it wins over it.
    env.svc
        .set_policy(
            &boss,
            w.a,
            TenantPolicy {
                default_retention_days: 1000,
                require_playback_reason: false,
            },
        )
        .await
        .expect("set policy");
    assert_eq!(lifecycle(&env, w.a, vip, 20).await, default_of(1000));
    assert!(is_rule(
        &lifecycle(&env, w.a, securities, 10).await,
        sec_rule.id
    ));
    assert!(is_rule(&lifecycle(&env, w.a, pci, 30).await, pci_rule.id));
    // Equal to the default: the rule is shown.
    env.svc
        .set_policy(
            &boss,
            w.a,
            TenantPolicy {
                default_retention_days: 730,
                require_playback_reason: false,
            },
        )
        .await
        .expect("set policy");
    assert!(is_rule(&lifecycle(&env, w.a, vip, 20).await, vip_rule.id));
    assert_eq!(lifecycle(&env, w.a, plain, 0).await, default_of(730));

    let rules = env
        .svc
        .list_retention_rules(&boss, w.a)
        .await
        .expect("list rules");
    let ids: Vec<Uuid> = rules.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![short.id, vip_rule.id, sec_rule.id, pci_rule.id]);
    assert_eq!(rules[2], sec_rule, "listed as created");
    assert_eq!(sec_rule.created_by, boss.subject);
}

async fn rule_changes_apply_retroactively_and_are_audited(env: Env) {
    let w = env.world().await;
    let boss = member(Role::ComplianceOfficer, w.a);
    let mut e = event(w.a, 0);
    e.call.direction = Direction::Outbound;
    let old = env.ingest(e).await;
    // Tenant B's call on the same queue must not move.
    let other = env.ingest(event(w.b, 0)).await;
    assert_eq!(lifecycle(&env, w.a, old, 0).await, default_of(365));

    let sales = env
        .svc
        .create_retention_rule(
            &boss,
            w.a,
            rule(
                "outbound sales",
                2000,
                false,
                RetentionMatch {
                    queue: Some("sales".into()),
                    direction: Some(Direction::Outbound),
                    ..RetentionMatch::default()
                },
            ),
        )
        .await
        .expect("create rule");
    assert!(
        is_rule(&lifecycle(&env, w.a, old, 0).await, sales.id),
        "an existing recording takes the new rule"
    );
    assert_eq!(lifecycle(&env, w.b, other, 0).await, default_of(365));

    // Ingested after the rule: the date is computed at ingest.
    let mut e = event(w.a, 100);
    e.call.direction = Direction::Outbound;
    let new = env.ingest(e).await;
    assert!(is_rule(&lifecycle(&env, w.a, new, 100).await, sales.id));
    let inbound = env.ingest(event(w.a, 200)).await;
    assert_eq!(lifecycle(&env, w.a, inbound, 200).await, default_of(365));

    let deleted = env
        .svc
        .delete_retention_rule(&boss, w.a, sales.id)
        .await
        .expect("delete rule");
    assert_eq!(deleted, sales);
    assert_eq!(lifecycle(&env, w.a, old, 0).await, default_of(365));
    assert_eq!(lifecycle(&env, w.a, new, 100).await, default_of(365));
    assert_eq!(
        code(env.svc.delete_retention_rule(&boss, w.a, sales.id).await),
        ErrorCode::NotFound,
        "deleted once"
    );

    let policy = TenantPolicy {
        default_retention_days: 90,
        require_playback_reason: true,
    };
    assert_eq!(
        env.svc
            .set_policy(&boss, w.a, policy.clone())
            .await
            .expect("set policy"),
        policy
    );
    assert_eq!(
        env.svc.get_policy(&boss, w.a).await.expect("get policy"),
        policy
    );
    for (id, offset) in [(old, 0), (new, 100), (inbound, 200)] {
        assert_eq!(lifecycle(&env, w.a, id, offset).await, default_of(90));
    }
    assert_eq!(lifecycle(&env, w.b, other, 0).await, default_of(365));
    // The tenant's settings say the same.
    let tenant = env.svc.get_tenant(&boss, w.a).await.expect("get tenant");
    assert_eq!(tenant.default_retention_days, 90);

    let changes = env.audit_of(w.a, AuditAction::RetentionChange).await;
    assert_eq!(changes.len(), 3, "create, delete, policy: {changes:#?}");
    let sales_id = sales.id.to_string();
    assert_eq!(changes[0].target.as_deref(), Some(sales_id.as_str()));
    assert_eq!(changes[0].details["change"], "rule_created");
    assert_eq!(changes[0].details["rule"]["retention_days"], 2000);
    assert_eq!(changes[0].details["recordings_recomputed"], 1);
    assert_eq!(changes[1].target.as_deref(), Some(sales_id.as_str()));
    assert_eq!(changes[1].details["change"], "rule_deleted");
    assert_eq!(changes[1].details["recordings_recomputed"], 2);
    assert_eq!(changes[2].target, None);
    assert_eq!(
        changes[2].details["policy"]["default_retention_days"],
        serde_json::json!({"from": 365, "to": 90})
    );
    assert_eq!(
        changes[2].details["policy"]["require_playback_reason"],
        serde_json::json!({"from": false, "to": true})
    );
    assert_eq!(changes[2].details["recordings_recomputed"], 3);
    assert!(changes.iter().all(|c| c.actor == boss.subject));
    assert!(
        env.audit_of(w.b, AuditAction::RetentionChange)
            .await
            .is_empty()
    );

    // Setting the same policy again changes nothing and records nothing.
    env.svc
        .set_policy(&boss, w.a, policy)
        .await
        .expect("same policy");
    assert_eq!(
        env.audit_of(w.a, AuditAction::RetentionChange).await.len(),
        3
    );
}

async fn bad_rules_and_policies_are_refused_and_change_nothing(env: Env) {
    let w = env.world().await;
    let boss = admin(w.a);
    let recording = env.ingest(event(w.a, 0)).await;
    let good = || rule("ok", 100, false, RetentionMatch::default());
    let long_text = "x".repeat(101);
    let bad_rules = [
        NewRetentionRule {
            retention_days: 0,
            ..good()
        },
        NewRetentionRule {
            retention_days: 36_501,
            ..good()
        },
        NewRetentionRule {
            name: "   ".into(),
            ..good()
        },
        NewRetentionRule {
            name: "n".repeat(101),
            ..good()
        },
        NewRetentionRule {
            matches: RetentionMatch {
                tags: (0..21).map(|i| format!("tag-{i}")).collect(),
                ..RetentionMatch::default()
            },
            ..good()
        },
        NewRetentionRule {
            matches: RetentionMatch {
                attributes: (0..21).map(|i| (format!("k{i}"), "v".into())).collect(),
                ..RetentionMatch::default()
            },
            ..good()
        },
        NewRetentionRule {
            matches: with_attribute(&long_text, "v"),
            ..good()
        },
        NewRetentionRule {
            matches: with_attribute("product", &long_text),
            ..good()
        },
        NewRetentionRule {
            matches: with_tag(&long_text),
            ..good()
        },
        NewRetentionRule {
            matches: with_tag(" "),
            ..good()
        },
        NewRetentionRule {
            matches: on_queue(""),
            ..good()
        },
        // A statutory rule names its legal basis: not blank, not a document.
        NewRetentionRule {
            legal_basis: Some("  ".into()),
            ..good()
        },
        NewRetentionRule {
            legal_basis: Some("b".repeat(501)),
            ..good()
        },
        NewRetentionRule {
            legal_basis: Some("art.\u{7}1".into()),
            ..good()
        },
    ];
    for bad in bad_rules {
        let outcome = env.svc.create_retention_rule(&boss, w.a, bad.clone()).await;
        assert_eq!(code(outcome), ErrorCode::InvalidInput, "{bad:?}");
    }
    // The limits themselves are allowed.
    let edge = env
        .svc
        .create_retention_rule(
            &boss,
            w.a,
            NewRetentionRule {
                name: "n".repeat(100),
                retention_days: 36_500,
                matches: RetentionMatch {
                    tags: (0..20).map(|i| format!("tag-{i}")).collect(),
                    attributes: (0..20)
                        .map(|i| (format!("k{i}"), "v".repeat(100)))
                        .collect(),
                    ..RetentionMatch::default()
                },
                overriding: false,
                legal_basis: Some("b".repeat(500)),
            },
        )
        .await
        .expect("rule at the limits");
    assert_eq!(edge.legal_basis, Some("b".repeat(500)));
    env.svc
        .delete_retention_rule(&boss, w.a, edge.id)
        .await
        .expect("delete");
    let audited = env.audit_of(w.a, AuditAction::RetentionChange).await.len();

    for days in [0, 36_501] {
        let policy = TenantPolicy {
            default_retention_days: days,
            require_playback_reason: true,
        };
        assert_eq!(
            code(env.svc.set_policy(&boss, w.a, policy).await),
            ErrorCode::InvalidInput
        );
    }
    assert!(
        env.svc
            .list_retention_rules(&boss, w.a)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        env.svc.get_policy(&boss, w.a).await.expect("policy"),
        TenantPolicy {
            default_retention_days: 365,
            require_playback_reason: false,
        }
    );
    assert_eq!(lifecycle(&env, w.a, recording, 0).await, default_of(365));
    assert_eq!(
        env.audit_of(w.a, AuditAction::RetentionChange).await.len(),
        audited,
        "refused changes leave no trail"
    );
    assert_eq!(
        code(
            env.svc
                .delete_retention_rule(&boss, w.a, Uuid::new_v4())
                .await
        ),
        ErrorCode::NotFound
    );
}

async fn a_tenant_has_at_most_a_hundred_rules(env: Env) {
    let w = env.world().await;
    let boss = admin(w.a);
    for i in 0..100 {
        env.svc
            .create_retention_rule(
                &boss,
                w.a,
                rule(&format!("r{i}"), 400, false, with_tag("t")),
            )
            .await
            .expect("create rule");
    }
    let outcome = env
        .svc
        .create_retention_rule(&boss, w.a, rule("one too many", 400, false, with_tag("t")))
        .await;
    assert_eq!(code(outcome), ErrorCode::InvalidInput);
    let rules = env
        .svc
        .list_retention_rules(&boss, w.a)
        .await
        .expect("list");
    assert_eq!(rules.len(), 100);
    // The limit is per tenant.
    env.svc
        .create_retention_rule(&admin(w.b), w.b, rule("b's", 400, false, with_tag("t")))
        .await
        .expect("tenant b has its own limit");
}

async fn another_tenants_actors_cannot_see_or_change_the_rules(env: Env) {
    let w = env.world().await;
    let a_rule = env
        .svc
        .create_retention_rule(&admin(w.a), w.a, rule("a's", 400, false, with_tag("t")))
        .await
        .expect("create rule");
    let recording = env.ingest(event(w.a, 0)).await;
    let policy = TenantPolicy {
        default_retention_days: 1,
        require_playback_reason: false,
    };
    let outsiders = [
        admin(w.b),
        member(Role::ComplianceOfficer, w.b),
        member(Role::Supervisor, w.b),
        bpo_admin(w.y),
    ];
    for outsider in &outsiders {
        let refused = [
            code(env.svc.get_policy(outsider, w.a).await),
            code(env.svc.set_policy(outsider, w.a, policy.clone()).await),
            code(env.svc.list_retention_rules(outsider, w.a).await),
            code(
                env.svc
                    .create_retention_rule(
                        outsider,
                        w.a,
                        rule("x", 1, true, RetentionMatch::default()),
                    )
                    .await,
            ),
            code(
                env.svc
                    .delete_retention_rule(outsider, w.a, a_rule.id)
                    .await,
            ),
            code(env.svc.recording_lifecycle(outsider, w.a, recording).await),
            code(
                env.svc
                    .authorize_playback(
                        outsider,
                        w.a,
                        recording,
                        Access::Playback,
                        Some("x".into()),
                    )
                    .await,
            ),
        ];
        assert!(
            refused.iter().all(|c| *c == ErrorCode::Forbidden),
            "{:?}: {refused:?}",
            outsider.role
        );
    }
    // Through its own tenant, tenant A's rule and recording are not there.
    let b_admin = admin(w.b);
    assert_eq!(
        code(
            env.svc
                .delete_retention_rule(&b_admin, w.b, a_rule.id)
                .await
        ),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(env.svc.recording_lifecycle(&b_admin, w.b, recording).await),
        ErrorCode::NotFound
    );
    assert!(
        env.svc
            .list_retention_rules(&b_admin, w.b)
            .await
            .expect("own rules")
            .is_empty()
    );
    // Nothing moved in tenant A.
    let rules = env
        .svc
        .list_retention_rules(&admin(w.a), w.a)
        .await
        .expect("list");
    assert_eq!(rules, vec![a_rule]);
    assert_eq!(
        env.svc
            .get_policy(&admin(w.a), w.a)
            .await
            .expect("policy")
            .default_retention_days,
        365
    );
}

on_both_backends!(
    the_longest_rule_wins_unless_one_overrides,
    rule_changes_apply_retroactively_and_are_audited,
    bad_rules_and_policies_are_refused_and_change_nothing,
    a_tenant_has_at_most_a_hundred_rules,
    another_tenants_actors_cannot_see_or_change_the_rules,
);
