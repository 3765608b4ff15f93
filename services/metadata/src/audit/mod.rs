//! The append-only, hash-chained audit trail of each tenant.
//!
//! Every entry carries the hash of the one before it and its own hash over
//! a canonical encoding of all its fields ([`chain`], documented for third
//! parties in services/metadata/AUDIT.md), so editing, removing or
//! reordering an entry breaks the chain from that entry on. A head row per
//! tenant holds the last sequence number and hash: appenders serialise on
//! it (numbers stay gapless under concurrency), and [`verify`] compares it
//! with the last entry, so cutting off the tail is noticed too. The signed
//! daily manifests carry the head when they were signed ([`ChainAnchor`]),
//! so even a chain rewritten consistently to the end is caught against
//! them.

mod chain;
mod store;

use callvault_contracts::lifecycle_api::{AuditAction, AuditEntry, AuditPage, ChainVerification};
use callvault_contracts::{Actor, TenantId};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::db::db_time;
use crate::db::entity::audit_entry;
use chain::{EntryFields, GENESIS_HASH};

pub(crate) use chain::{canonical_json, timestamp};

/// The largest page [`page`] is asked for by the API.
pub const MAX_PAGE: u32 = 500;

/// Entries read per query while verifying: a chain of any length is
/// checked in constant memory.
const VERIFY_BATCH: u64 = 1000;

/// How often an appender re-reads a head that moved under it before giving
/// up. Inside a transaction the head's row lock makes the first try win;
/// only appends outside a transaction can race.
const MAX_APPEND_ATTEMPTS: usize = 1000;

/// What happened, for [`append`]; who and from where come from the actor.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub action: AuditAction,
    pub target: Option<String>,
    pub reason: Option<String>,
    /// Never personal data (no phone numbers), never secrets.
    pub details: serde_json::Value,
}

/// Appends one entry to `tenant`'s chain, inside the caller's transaction
/// when `conn` is one (so the entry commits with the change it records).
///
/// Best called last in the transaction: from here to the commit the
/// tenant's head row is locked (PostgreSQL) or the database is write-locked
/// (SQLite), so the tenant's other audited changes wait for this one.
/// Outside a transaction it is still gapless and linked, but a crash
/// between moving the head and writing the entry leaves a head that
/// [`verify`] reports as a cut-off tail.
pub async fn append<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    actor: &Actor,
    at: DateTime<Utc>,
    record: AuditRecord,
) -> Result<AuditEntry, DbErr> {
    let at = db_time(at);
    let details = canonical_json(&record.details);
    let action = action_str(record.action);
    store::ensure_head(conn, tenant).await?;
    store::lock_head(conn, tenant).await?;
    for _ in 0..MAX_APPEND_ATTEMPTS {
        let head = store::head(conn, tenant)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("audit head".to_owned()))?;
        let seq = head
            .seq
            .checked_add(1)
            .ok_or_else(|| DbErr::Custom("audit sequence exhausted".to_owned()))?;
        let hash = chain::hash(&EntryFields {
            tenant_id: tenant.0,
            seq: u64::try_from(seq).map_err(|_| corrupt_head())?,
            at,
            actor: &actor.subject,
            role: actor.role.as_str(),
            action,
            target: record.target.as_deref(),
            origin: actor.origin.as_deref(),
            reason: record.reason.as_deref(),
            details: &details,
            prev_hash: &head.hash,
        });
        if !store::advance_head(conn, &head, seq, &hash).await? {
            continue;
        }
        let row = audit_entry::Model {
            tenant_id: tenant.0,
            seq,
            at,
            actor: actor.subject.clone(),
            role: actor.role.as_str().to_owned(),
            action: action.to_owned(),
            target: record.target,
            origin: actor.origin.clone(),
            reason: record.reason,
            details,
            prev_hash: head.hash,
            hash,
        };
        store::insert_entry(conn, row.clone()).await?;
        return entry_from_row(row);
    }
    Err(DbErr::Custom(
        "the audit head kept moving; append not done".to_owned(),
    ))
}

/// One page of the trail, oldest first, after `after_seq`.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    after_seq: Option<u64>,
    first: u32,
) -> Result<AuditPage, DbErr> {
    let after = after_seq.map_or(0, |seq| i64::try_from(seq).unwrap_or(i64::MAX));
    let wanted = usize::try_from(first).unwrap_or(usize::MAX);
    let mut rows = store::entries_after(conn, tenant, after, u64::from(first) + 1).await?;
    let has_next_page = rows.len() > wanted;
    rows.truncate(wanted);
    let items = rows
        .into_iter()
        .map(entry_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AuditPage {
        end_seq: items.last().map(|entry| entry.seq),
        items,
        has_next_page,
    })
}

/// A point of the chain a signed manifest fixed: the head (`seq`, `hash`)
/// when the manifest of `date` was signed. `seq` 0 is the empty chain
/// (the genesis hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainAnchor {
    pub date: NaiveDate,
    pub seq: u64,
    pub hash: String,
}

/// The tenant's head now: the last sequence number (0 before the first
/// entry) and its hash.
pub(crate) async fn head<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<(u64, String), DbErr> {
    match store::head(conn, tenant).await? {
        Some(head) => Ok((
            u64::try_from(head.seq).map_err(|_| corrupt_head())?,
            head.hash,
        )),
        None => Ok((0, GENESIS_HASH.to_owned())),
    }
}

/// Recomputes the whole chain of `tenant` and checks it against the
/// manifests stored for it ([`verify_against`]).
pub async fn verify<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<ChainVerification, DbErr> {
    let anchors = crate::manifest::stored_anchors(conn, tenant).await?;
    verify_against(conn, tenant, &anchors).await
}

/// Recomputes the whole chain of `tenant`, and checks that it still
/// passes through every anchor (the entry at each anchor's `seq` has the
/// anchor's hash), which a chain rewritten consistently from some entry to
/// the end does not.
///
/// `first_bad_seq` is the first sequence number that does not verify: a
/// missing entry (the number the chain expected), an entry whose
/// `prev_hash` is not its predecessor's hash or whose hash is not the hash
/// of its fields, or the head disagreeing with the entries (a cut-off tail
/// names its first missing number). When an anchor disagrees (its entry
/// has another hash, or the chain ends before it), `mismatched_manifest`
/// names its date and `first_bad_seq` is the first entry after the last
/// anchor that agreed: the rewrite is at or after it. `entries_checked`
/// counts the entries that verified before `first_bad_seq` (all of them
/// when the chain verifies).
pub async fn verify_against<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    anchors: &[ChainAnchor],
) -> Result<ChainVerification, DbErr> {
    let mut anchors: Vec<&ChainAnchor> = anchors.iter().collect();
    anchors.sort_by_key(|anchor| (anchor.seq, anchor.date));
    let mut anchors = Anchors {
        pending: anchors.into_iter().peekable(),
        checked: 0,
        last_agreed: 0,
    };
    // Read before the walk: every entry up to this head was committed with
    // it, so the walk must find them all; appends racing the walk only add
    // entries after it.
    let (head_seq, head_hash) = match store::head(conn, tenant).await? {
        Some(head) => (head.seq, head.hash),
        None => (0, GENESIS_HASH.to_owned()),
    };
    if let Some(mismatch) = anchors.check(0, GENESIS_HASH) {
        return Ok(mismatch);
    }
    let mut expected: i64 = 1;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut checked: u64 = 0;
    loop {
        let rows = store::entries_after(conn, tenant, expected - 1, VERIFY_BATCH).await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let at_head_but_differs = row.seq == head_seq && row.hash != head_hash;
            if row.seq != expected || !row_verifies(&row, &prev_hash) || at_head_but_differs {
                return Ok(anchors.bad(expected, checked));
            }
            if let Some(mismatch) = anchors.check(checked + 1, &row.hash) {
                return Ok(mismatch);
            }
            prev_hash = row.hash;
            checked += 1;
            expected += 1;
        }
    }
    // An anchor beyond the last entry: the chain was cut back and (head
    // included) rewritten to end before it.
    if let Some(mismatch) = anchors.check(u64::MAX, "") {
        return Ok(mismatch);
    }
    let last = expected - 1;
    if head_seq > last {
        return Ok(anchors.bad(last + 1, checked));
    }
    // Entries beyond the head were not appended through it: read it again,
    // so an append that committed during the walk is not taken for one.
    let head_now = store::head(conn, tenant).await?.map_or(0, |head| head.seq);
    if head_now < last {
        return Ok(anchors.bad(head_now + 1, checked));
    }
    Ok(ChainVerification {
        entries_checked: checked,
        first_bad_seq: None,
        manifests_checked: anchors.checked,
        mismatched_manifest: None,
    })
}

/// The anchors still to check, in `seq` order, during one walk.
struct Anchors<'a, I: Iterator<Item = &'a ChainAnchor>> {
    pending: std::iter::Peekable<I>,
    checked: u64,
    /// The highest `seq` an anchor agreed with so far.
    last_agreed: u64,
}

impl<'a, I: Iterator<Item = &'a ChainAnchor>> Anchors<'a, I> {
    /// Checks the anchors at `seq` against the entry's `hash` (and, with
    /// `seq` past every entry, fails those left); the verdict when one
    /// disagrees.
    fn check(&mut self, seq: u64, hash: &str) -> Option<ChainVerification> {
        while let Some(anchor) = self.pending.next_if(|anchor| anchor.seq <= seq) {
            self.checked += 1;
            if anchor.seq < seq || anchor.hash != hash {
                return Some(ChainVerification {
                    entries_checked: self.last_agreed,
                    first_bad_seq: Some(self.last_agreed + 1),
                    manifests_checked: self.checked,
                    mismatched_manifest: Some(anchor.date),
                });
            }
            self.last_agreed = anchor.seq;
        }
        None
    }

    fn bad(&self, seq: i64, checked: u64) -> ChainVerification {
        ChainVerification {
            entries_checked: checked,
            first_bad_seq: Some(u64::try_from(seq).unwrap_or(0)),
            manifests_checked: self.checked,
            mismatched_manifest: None,
        }
    }
}

/// The hash an entry must carry: SHA-256 over its canonical encoding
/// (AUDIT.md), computed from the entry alone.
pub fn entry_hash(entry: &AuditEntry) -> String {
    chain::hash(&EntryFields {
        tenant_id: entry.tenant_id.0,
        seq: entry.seq,
        at: entry.at,
        actor: &entry.actor,
        role: &entry.role,
        action: action_str(entry.action),
        target: entry.target.as_deref(),
        origin: entry.origin.as_deref(),
        reason: entry.reason.as_deref(),
        details: &canonical_json(&entry.details),
        prev_hash: &entry.prev_hash,
    })
}

/// A stored row links to `prev_hash` and hashes to its `hash`; its details
/// must be stored canonical, so rewriting them in an equivalent form is
/// noticed too.
fn row_verifies(row: &audit_entry::Model, prev_hash: &str) -> bool {
    if row.prev_hash != prev_hash {
        return false;
    }
    let Ok(seq) = u64::try_from(row.seq) else {
        return false;
    };
    let Ok(details) = serde_json::from_str::<serde_json::Value>(&row.details) else {
        return false;
    };
    if canonical_json(&details) != row.details {
        return false;
    }
    let hash = chain::hash(&EntryFields {
        tenant_id: row.tenant_id,
        seq,
        at: row.at,
        actor: &row.actor,
        role: &row.role,
        action: &row.action,
        target: row.target.as_deref(),
        origin: row.origin.as_deref(),
        reason: row.reason.as_deref(),
        details: &row.details,
        prev_hash: &row.prev_hash,
    });
    hash == row.hash
}

fn entry_from_row(row: audit_entry::Model) -> Result<AuditEntry, DbErr> {
    let unreadable = |field: &str| {
        DbErr::Custom(format!(
            "audit entry {} of tenant {} has an unreadable {field}",
            row.seq, row.tenant_id
        ))
    };
    let seq = u64::try_from(row.seq).map_err(|_| unreadable("seq"))?;
    let action = parse_action(&row.action).ok_or_else(|| unreadable("action"))?;
    let details = serde_json::from_str(&row.details).map_err(|_| unreadable("details"))?;
    Ok(AuditEntry {
        tenant_id: TenantId(row.tenant_id),
        seq,
        at: row.at,
        actor: row.actor,
        role: row.role,
        action,
        target: row.target,
        origin: row.origin,
        reason: row.reason,
        details,
        prev_hash: row.prev_hash,
        hash: row.hash,
    })
}

fn corrupt_head() -> DbErr {
    DbErr::Custom("the audit head holds a negative sequence number".to_owned())
}

const ACTIONS: [AuditAction; 14] = [
    AuditAction::Playback,
    AuditAction::Download,
    AuditAction::Export,
    AuditAction::ViewRecording,
    AuditAction::Search,
    AuditAction::RetentionChange,
    AuditAction::HoldPlaced,
    AuditAction::HoldReleased,
    AuditAction::Deletion,
    AuditAction::KeyChange,
    AuditAction::RoleChange,
    AuditAction::IntegrityFailure,
    AuditAction::Disclosure,
    AuditAction::RecordingPolicyChange,
];

/// The action as stored and hashed: its serde (snake_case) name.
fn action_str(action: AuditAction) -> &'static str {
    match action {
        AuditAction::Playback => "playback",
        AuditAction::Download => "download",
        AuditAction::Export => "export",
        AuditAction::ViewRecording => "view_recording",
        AuditAction::Search => "search",
        AuditAction::RetentionChange => "retention_change",
        AuditAction::HoldPlaced => "hold_placed",
        AuditAction::HoldReleased => "hold_released",
        AuditAction::Deletion => "deletion",
        AuditAction::KeyChange => "key_change",
        AuditAction::RoleChange => "role_change",
        AuditAction::IntegrityFailure => "integrity_failure",
        AuditAction::Disclosure => "disclosure",
        AuditAction::RecordingPolicyChange => "recording_policy_change",
    }
}

fn parse_action(text: &str) -> Option<AuditAction> {
    ACTIONS
        .into_iter()
        .find(|action| action_str(*action) == text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The vectors AUDIT.md's reference code (Python, written from the
    /// document alone) computes: the encoding here and the document agree.
    #[test]
    fn hashes_match_the_documented_vectors() {
        let first = AuditEntry {
            tenant_id: TenantId(
                uuid::Uuid::parse_str("0b7e4a4c-2f7d-4a39-9a57-1c7c1d3f0e11").expect("uuid"),
            ),
            seq: 1,
            at: "2026-03-01T09:30:00.123456Z".parse().expect("time"),
            actor: "auditor@example.com".into(),
            role: "auditor".into(),
            action: AuditAction::Playback,
            target: Some("8f0d6c1e-5b8a-4d2e-9c3f-2a1b0c9d8e7f".into()),
            origin: Some("203.0.113.7".into()),
            reason: None,
            details: json!({"segment": 0, "channel": "left", "note": "é\n"}),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        };
        let first_hash = entry_hash(&first);
        assert_eq!(
            first_hash,
            "0869dd1ae39361ee1bd670f2b1a08f3e2e7481487125a3688f63b90ca008faef"
        );
        let second = AuditEntry {
            seq: 2,
            at: "2026-03-01T09:31:00Z".parse().expect("time"),
            action: AuditAction::Search,
            target: None,
            origin: None,
            reason: Some(String::new()),
            details: json!({}),
            prev_hash: first_hash,
            ..first
        };
        assert_eq!(
            entry_hash(&second),
            "a295b69f4e334eadb0dcb4cd68e19300360f0dc6191212d8bd7f4faef93a2bc1"
        );
    }

    #[test]
    fn action_names_are_the_contract_names() {
        for action in ACTIONS {
            let serde_name = serde_json::to_value(action).expect("serialise");
            assert_eq!(serde_name, serde_json::Value::from(action_str(action)));
            assert_eq!(parse_action(action_str(action)), Some(action));
        }
        assert_eq!(parse_action("Playback"), None);
    }
}
