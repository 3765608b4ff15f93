//! Retention rules, and each recording's retain-until date derived from
//! them: the rule choice itself ([`effective_rule`], pure) and the writes
//! that keep every recording's date in step with the rules.

use std::collections::BTreeMap;

use callvault_contracts::TenantId;
use callvault_contracts::lifecycle_api::{RetentionMatch, RetentionRule};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};
use uuid::Uuid;

use crate::db::db_time;
use crate::db::entity::recording::{self, direction_str};
use crate::db::entity::retention_rule;
use crate::store::recordings;

/// Recordings read and rewritten per query while recomputing a tenant.
const RECOMPUTE_BATCH: u64 = 500;

/// What of a call the rules look at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallFacts<'a> {
    pub queue: Option<&'a str>,
    /// As stored (`direction_str`).
    pub direction: &'a str,
    pub tags: &'a [String],
    pub attributes: &'a BTreeMap<String, String>,
}

/// The outcome of [`effective_rule`]: `rule` is `None` for the tenant
/// default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Effective {
    pub rule: Option<Uuid>,
    pub days: u32,
}

/// Whether every condition of `matches` holds for the call (an empty match
/// holds for every call).
pub(crate) fn rule_matches(matches: &RetentionMatch, call: &CallFacts<'_>) -> bool {
    let queue_ok = matches
        .queue
        .as_deref()
        .is_none_or(|queue| call.queue == Some(queue));
    let direction_ok = matches
        .direction
        .is_none_or(|direction| direction_str(direction) == call.direction);
    let tags_ok = matches
        .tags
        .iter()
        .all(|tag| call.tags.iter().any(|t| t == tag));
    let attributes_ok = matches
        .attributes
        .iter()
        .all(|(key, value)| call.attributes.get(key) == Some(value));
    queue_ok && direction_ok && tags_ok && attributes_ok
}

/// Which retention applies to a call.
///
/// - If any matching rule is overriding, the overriding rules alone decide:
///   the longest of them, even when it is shorter than the tenant default.
///   That is the one way to keep a class of calls for less than the default
///   (a regulator's maximum, e.g. for data that must not be kept longer).
/// - Otherwise the tenant default is a candidate like any matching rule and
///   the longest period wins: an ordinary rule can extend retention but
///   never shorten it below the default.
/// - Ties go to a rule over the default (the more specific reason is the
///   one shown), and between rules to the oldest (earliest `created_at`,
///   then smallest id), so the choice doesn't change when a rule of the
///   same length is added later.
pub(crate) fn effective_rule(
    rules: &[RetentionRule],
    default_days: u32,
    call: &CallFacts<'_>,
) -> Effective {
    let matching = || {
        rules
            .iter()
            .filter(|rule| rule_matches(&rule.matches, call))
    };
    if let Some(rule) = longest(matching().filter(|rule| rule.overriding)) {
        return Effective {
            rule: Some(rule.id),
            days: rule.retention_days,
        };
    }
    match longest(matching()) {
        Some(rule) if rule.retention_days >= default_days => Effective {
            rule: Some(rule.id),
            days: rule.retention_days,
        },
        _ => Effective {
            rule: None,
            days: default_days,
        },
    }
}

/// The longest rule; among equally long ones the oldest.
fn longest<'r>(rules: impl Iterator<Item = &'r RetentionRule>) -> Option<&'r RetentionRule> {
    rules.max_by_key(|rule| {
        (
            rule.retention_days,
            std::cmp::Reverse(rule.created_at),
            std::cmp::Reverse(rule.id),
        )
    })
}

/// The call's start plus `days`.
pub(crate) fn retain_until(started_at: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    db_time(started_at + Duration::days(i64::from(days)))
}

/// The stored attributes of a recording.
pub(crate) fn row_attributes(row: &recording::Model) -> Result<BTreeMap<String, String>, DbErr> {
    serde_json::from_str(&row.attributes).map_err(|_| {
        DbErr::Custom(format!(
            "recording {} of tenant {} has unreadable attributes",
            row.id, row.tenant_id
        ))
    })
}

/// Sets `row.retain_until` and `row.retention_rule_id` from the rules.
pub(crate) fn apply(
    row: &mut recording::Model,
    tags: &[String],
    rules: &[RetentionRule],
    default_days: u32,
) -> Result<(), DbErr> {
    let attributes = row_attributes(row)?;
    let effective = effective_rule(
        rules,
        default_days,
        &CallFacts {
            queue: row.queue.as_deref(),
            direction: &row.direction,
            tags,
            attributes: &attributes,
        },
    );
    row.retain_until = retain_until(row.started_at, effective.days);
    row.retention_rule_id = effective.rule;
    Ok(())
}

/// The tenant's rules, oldest first.
pub(crate) async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<Vec<RetentionRule>, DbErr> {
    let rows = retention_rule::Entity::find()
        .filter(retention_rule::Column::TenantId.eq(tenant.0))
        .order_by_asc(retention_rule::Column::CreatedAt)
        .order_by_asc(retention_rule::Column::Id)
        .all(conn)
        .await?;
    rows.into_iter().map(rule_from_row).collect()
}

pub(crate) async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<RetentionRule>, DbErr> {
    retention_rule::Entity::find()
        .filter(retention_rule::Column::TenantId.eq(tenant.0))
        .filter(retention_rule::Column::Id.eq(id))
        .one(conn)
        .await?
        .map(rule_from_row)
        .transpose()
}

pub(crate) async fn count<C: ConnectionTrait>(conn: &C, tenant: TenantId) -> Result<u64, DbErr> {
    retention_rule::Entity::find()
        .filter(retention_rule::Column::TenantId.eq(tenant.0))
        .count(conn)
        .await
}

pub(crate) async fn insert<C: ConnectionTrait>(
    conn: &C,
    rule: &RetentionRule,
) -> Result<(), DbErr> {
    let row = retention_rule::Model {
        tenant_id: rule.tenant_id.0,
        id: rule.id,
        name: rule.name.clone(),
        matches: serde_json::to_string(&rule.matches)
            .map_err(|err| DbErr::Custom(format!("retention match not encodable: {err}")))?,
        retention_days: i32::try_from(rule.retention_days)
            .map_err(|_| DbErr::Custom("retention_days out of range".into()))?,
        overriding: rule.overriding,
        created_by: rule.created_by.clone(),
        created_at: db_time(rule.created_at),
        legal_basis: rule.legal_basis.clone(),
    };
    retention_rule::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Returns whether the tenant had this rule.
pub(crate) async fn delete<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: Uuid,
) -> Result<bool, DbErr> {
    let deleted = retention_rule::Entity::delete_many()
        .filter(retention_rule::Column::TenantId.eq(tenant.0))
        .filter(retention_rule::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// Recomputes the retain-until date and rule of every recording of the
/// tenant from its current rules and default, in batches; returns how many
/// changed. Run it in the transaction that changed the rules, so no reader
/// sees rules and dates that disagree.
pub(crate) async fn recompute_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    default_days: u32,
) -> Result<u64, DbErr> {
    use recording::Column;

    let rules = list(conn, tenant).await?;
    let mut changed = 0;
    let mut after: Option<Uuid> = None;
    loop {
        let mut select = recording::Entity::find().filter(Column::TenantId.eq(tenant.0));
        if let Some(after) = after {
            select = select.filter(Column::Id.gt(after));
        }
        let rows = select
            .order_by_asc(Column::Id)
            .limit(RECOMPUTE_BATCH)
            .all(conn)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(changed);
        };
        after = Some(last.id);
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let mut tags = recordings::tags(conn, tenant, &ids).await?;
        for mut row in rows {
            let before = (row.retain_until, row.retention_rule_id);
            let row_tags = tags.remove(&row.id).unwrap_or_default();
            apply(&mut row, &row_tags, &rules, default_days)?;
            if before == (row.retain_until, row.retention_rule_id) {
                continue;
            }
            recording::Entity::update_many()
                .col_expr(Column::RetainUntil, Expr::value(row.retain_until))
                .col_expr(Column::RetentionRuleId, Expr::value(row.retention_rule_id))
                .filter(Column::TenantId.eq(tenant.0))
                .filter(Column::Id.eq(row.id))
                .exec(conn)
                .await?;
            changed += 1;
        }
    }
}

fn rule_from_row(row: retention_rule::Model) -> Result<RetentionRule, DbErr> {
    let unreadable = |field: &str| {
        DbErr::Custom(format!(
            "retention rule {} of tenant {} has an unreadable {field}",
            row.id, row.tenant_id
        ))
    };
    let matches: RetentionMatch =
        serde_json::from_str(&row.matches).map_err(|_| unreadable("matches"))?;
    let retention_days =
        u32::try_from(row.retention_days).map_err(|_| unreadable("retention_days"))?;
    Ok(RetentionRule {
        id: row.id,
        tenant_id: TenantId(row.tenant_id),
        name: row.name,
        matches,
        retention_days,
        overriding: row.overriding,
        created_by: row.created_by,
        created_at: row.created_at,
        legal_basis: row.legal_basis,
    })
}

#[cfg(test)]
mod tests {
    use callvault_contracts::call::Direction;
    use chrono::TimeZone;

    use super::*;

    fn rule(n: u128, days: u32, overriding: bool, matches: RetentionMatch) -> RetentionRule {
        RetentionRule {
            id: Uuid::from_u128(n),
            tenant_id: TenantId(Uuid::from_u128(1)),
            name: format!("rule {n}"),
            matches,
            retention_days: days,
            overriding,
            created_by: "test".into(),
            // Rule n is older than rule n + 1.
            created_at: Utc
                .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
                .single()
                .expect("date")
                + Duration::seconds(i64::try_from(n).expect("small")),
            legal_basis: None,
        }
    }

    fn queue(q: &str) -> RetentionMatch {
        RetentionMatch {
            queue: Some(q.into()),
            ..RetentionMatch::default()
        }
    }

    struct Call {
        queue: Option<String>,
        direction: &'static str,
        tags: Vec<String>,
        attributes: BTreeMap<String, String>,
    }

    impl Call {
        fn new() -> Self {
            Self {
                queue: Some("sales".into()),
                direction: "inbound",
                tags: vec!["vip".into(), "complaint".into()],
                attributes: BTreeMap::from([("product".into(), "securities".into())]),
            }
        }

        fn facts(&self) -> CallFacts<'_> {
            CallFacts {
                queue: self.queue.as_deref(),
                direction: self.direction,
                tags: &self.tags,
                attributes: &self.attributes,
            }
        }
    }

    fn decide(rules: &[RetentionRule], default_days: u32) -> Effective {
        effective_rule(rules, default_days, &Call::new().facts())
    }

    #[test]
    fn no_rule_means_the_default() {
        assert_eq!(
            decide(&[], 90),
            Effective {
                rule: None,
                days: 90
            }
        );
        let other_queue = rule(1, 400, false, queue("support"));
        assert_eq!(decide(&[other_queue], 90).rule, None);
    }

    #[test]
    fn the_longest_matching_rule_wins_and_the_default_counts() {
        let short = rule(1, 30, false, RetentionMatch::default());
        let long = rule(2, 365, false, queue("sales"));
        let longer_elsewhere = rule(3, 3650, false, queue("support"));
        let rules = [short.clone(), long.clone(), longer_elsewhere];
        assert_eq!(
            decide(&rules, 90),
            Effective {
                rule: Some(long.id),
                days: 365
            }
        );
        // A shorter, non-overriding rule can't cut below the default.
        assert_eq!(
            decide(&[short], 90),
            Effective {
                rule: None,
                days: 90
            }
        );
    }

    #[test]
    fn an_overriding_rule_decides_even_when_shorter() {
        let long = rule(1, 3650, false, RetentionMatch::default());
        let capped = rule(2, 30, true, queue("sales"));
        let capped_longer = rule(3, 60, true, queue("sales"));
        assert_eq!(
            decide(&[long.clone(), capped.clone()], 90),
            Effective {
                rule: Some(capped.id),
                days: 30
            }
        );
        assert_eq!(
            decide(&[long, capped, capped_longer.clone()], 90).rule,
            Some(capped_longer.id)
        );
    }

    #[test]
    fn ties_go_to_the_rule_then_the_oldest_rule() {
        let older = rule(1, 90, false, RetentionMatch::default());
        let newer = rule(2, 90, false, queue("sales"));
        assert_eq!(
            decide(std::slice::from_ref(&newer), 90).rule,
            Some(newer.id)
        );
        assert_eq!(decide(&[newer, older.clone()], 90).rule, Some(older.id));
    }

    #[test]
    fn every_condition_must_hold() {
        let call = Call::new();
        let facts = call.facts();
        let all = RetentionMatch {
            queue: Some("sales".into()),
            direction: Some(Direction::Inbound),
            tags: vec!["vip".into()],
            attributes: BTreeMap::from([("product".into(), "securities".into())]),
        };
        assert!(rule_matches(&all, &facts));
        assert!(rule_matches(&RetentionMatch::default(), &facts));
        let mut wrong = all.clone();
        wrong.direction = Some(Direction::Outbound);
        assert!(!rule_matches(&wrong, &facts));
        let mut wrong = all.clone();
        wrong.tags.push("missing".into());
        assert!(!rule_matches(&wrong, &facts));
        let mut wrong = all.clone();
        wrong.attributes.insert("product".into(), "fx".into());
        assert!(!rule_matches(&wrong, &facts));
        let mut wrong = all;
        wrong.attributes.insert("desk".into(), "tokyo".into());
        assert!(!rule_matches(&wrong, &facts));
        assert!(!rule_matches(&queue("support"), &facts));
        let no_queue = Call {
            queue: None,
            ..Call::new()
        };
        assert!(!rule_matches(&queue("sales"), &no_queue.facts()));
    }

    #[test]
    fn retain_until_is_start_plus_days() {
        let start = Utc
            .with_ymd_and_hms(2024, 2, 28, 12, 0, 0)
            .single()
            .expect("date");
        assert_eq!(
            retain_until(start, 2),
            Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0)
                .single()
                .expect("date")
        );
    }
}
