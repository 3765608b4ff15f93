//! `user.active`: the gateway tells billing which people use a tenant, for
//! its active-users meter.
//!
//! Every request with a verified token of a tenant role (a person: the
//! gateway takes no recorder API keys) publishes a [`UserActiveV1`], at most
//! once per tenant, user and quarter hour (`floor(unix seconds / 900)`) in
//! this process: any local day with activity has one, whatever its time
//! zone. Platform and BPO admins belong to no tenant and are not counted.
//!
//! The event never carries the token subject (often an email address):
//! `user` is a pseudonym, the first 32 hex digits of HMAC-SHA256 of the
//! subject under a key of its own ([`UserPseudonyms`]), so billing counts
//! distinct users without learning who they are. Every gateway of a
//! deployment derives the same key, so a person counts once whichever
//! gateway they reach.
//!
//! Publishing happens off the request path: a spawned task, whose failure
//! is logged at warn and never fails the request (the next request of that
//! user in the quarter tries again).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::hmac;
use callvault_bus::{Bus, Message};
use callvault_contracts::events::UserActiveV1;
use callvault_contracts::{Actor, TenantId};
use chrono::{DateTime, Utc};
use tracing::warn;

/// A quarter hour, in seconds.
pub const QUARTER_SECS: i64 = 900;

/// HKDF-SHA256 salt of the pseudonym key: the label that makes the key
/// this one purpose's. Changing it changes every pseudonym (and so counts
/// every user again in the month it changes).
pub const PSEUDONYM_SALT: &[u8] = b"callvault/gateway/user-pseudonym";
/// HKDF-SHA256 info of the pseudonym key: the event it is for, and its
/// version.
pub const PSEUDONYM_INFO: &[u8] = b"user.active/v1";
/// Hex digits of a pseudonym: 128 bits.
pub const PSEUDONYM_HEX_LEN: usize = 32;

/// What time it is: tests move it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Turns token subjects into pseudonyms.
#[derive(Clone)]
pub struct UserPseudonyms {
    key: hmac::Key,
}

impl std::fmt::Debug for UserPseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserPseudonyms(<key>)")
    }
}

impl UserPseudonyms {
    /// The pseudonym key derived from `secret` with HKDF-SHA256 (RFC 5869;
    /// salt [`PSEUDONYM_SALT`], info [`PSEUDONYM_INFO`], 32 bytes): a key of
    /// its own, never the secret itself. The binary passes the
    /// deployment's `secrets.pii` (the blind-index secret: configured in
    /// every process, and never rotated, so pseudonyms stay stable across
    /// restarts and gateways).
    pub fn derive(secret: &[u8]) -> Self {
        // HKDF with one block of output, written with HMAC so it has no
        // failure path: PRK = HMAC(salt, secret); OKM = HMAC(PRK, info || 1).
        let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, PSEUDONYM_SALT), secret);
        let mut block = PSEUDONYM_INFO.to_vec();
        block.push(1);
        let okm = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()), &block);
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, okm.as_ref()),
        }
    }

    /// `subject`'s pseudonym: HMAC-SHA256 in lowercase hex, its first 32
    /// digits.
    pub fn of(&self, subject: &str) -> String {
        let tag = hmac::sign(&self.key, subject.as_bytes());
        let mut hex = String::with_capacity(PSEUDONYM_HEX_LEN);
        for byte in &tag.as_ref()[..PSEUDONYM_HEX_LEN / 2] {
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }
}

type SeenKey = (TenantId, String, i64);

/// The (tenant, pseudonym, quarter) this process has published, pruned of
/// past quarters.
#[derive(Default)]
struct Seen {
    keys: HashSet<SeenKey>,
    /// The latest quarter pruned up to.
    pruned: i64,
}

/// Publishes `user.active` for the people making requests.
pub struct UserActivity {
    bus: Arc<dyn Bus>,
    pseudonyms: UserPseudonyms,
    clock: Clock,
    seen: Arc<Mutex<Seen>>,
}

impl UserActivity {
    pub fn new(bus: Arc<dyn Bus>, pseudonyms: UserPseudonyms) -> Self {
        Self {
            bus,
            pseudonyms,
            clock: Arc::new(Utc::now),
            seen: Arc::new(Mutex::new(Seen::default())),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Notes a request by `actor`; publishes its `user.active` when it is
    /// the first of its tenant, user and quarter. Returns whether it did.
    /// Never blocks on the bus.
    pub fn observe(&self, actor: &Actor) -> bool {
        let Some(tenant) = actor.tenant_id else {
            return false;
        };
        if !actor.role.is_tenant_role() {
            return false;
        }
        let now = (self.clock)();
        let quarter = now.timestamp().div_euclid(QUARTER_SECS);
        let user = self.pseudonyms.of(&actor.subject);
        let key = (tenant, user.clone(), quarter);
        if !self.first(&key) {
            return false;
        }
        let event = UserActiveV1 {
            tenant_id: tenant,
            user,
            active_at: now,
        };
        let mut message = match Message::new(&event) {
            Ok(message) => message,
            Err(error) => {
                warn!(%tenant, %error, "user.active not encoded");
                self.forget(&key);
                return false;
            }
        };
        callvault_bus::trace::stamp(&mut message);
        let bus = self.bus.clone();
        let seen = self.seen.clone();
        tokio::spawn(async move {
            if let Err(error) = bus.publish(&message).await {
                warn!(%tenant, %error, "user.active not published; the user's next request tries again");
                lock(&seen).keys.remove(&key);
            }
        });
        true
    }

    /// Records `key`; false when it was there already. Prunes the quarters
    /// before `key`'s once per quarter.
    fn first(&self, key: &SeenKey) -> bool {
        let mut seen = lock(&self.seen);
        let quarter = key.2;
        if quarter > seen.pruned {
            seen.keys.retain(|(_, _, kept)| *kept >= quarter);
            seen.pruned = quarter;
        }
        seen.keys.insert(key.clone())
    }

    fn forget(&self, key: &SeenKey) {
        lock(&self.seen).keys.remove(key);
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        lock(&self.seen).keys.len()
    }
}

fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use callvault_bus::in_process::InProcessBus;
    use callvault_contracts::{BpoId, Role};

    use super::*;

    fn actor(role: Role, tenant: Option<TenantId>, subject: &str) -> Actor {
        Actor {
            subject: subject.to_owned(),
            role,
            bpo_id: (role == Role::BpoAdmin).then(BpoId::new),
            tenant_id: tenant,
            agent_id: None,
            origin: None,
        }
    }

    fn activity(now: Arc<AtomicI64>) -> UserActivity {
        let clock: Clock = Arc::new(move || {
            DateTime::from_timestamp(now.load(Ordering::SeqCst), 0).unwrap_or_default()
        });
        UserActivity::new(
            Arc::new(InProcessBus::new()),
            UserPseudonyms::derive(&[5u8; 32]),
        )
        .with_clock(clock)
    }

    #[tokio::test]
    async fn once_per_tenant_user_and_quarter_hour() {
        // 2025-11-24T16:00:00Z: the first second of a quarter hour.
        let now = Arc::new(AtomicI64::new(1_764_000_000));
        let activity = activity(now.clone());
        let tenant = TenantId::new();
        let alice = actor(Role::Supervisor, Some(tenant), "alice@example.test");
        assert!(activity.observe(&alice));
        assert!(!activity.observe(&alice), "same quarter");
        now.fetch_add(899, Ordering::SeqCst);
        assert!(!activity.observe(&alice), "last second of the quarter");
        // Another user, or the same subject in another tenant, counts apart.
        assert!(activity.observe(&actor(Role::Agent, Some(tenant), "bob@example.test")));
        assert!(activity.observe(&actor(
            Role::Supervisor,
            Some(TenantId::new()),
            "alice@example.test"
        )));
        now.fetch_add(1, Ordering::SeqCst);
        assert!(activity.observe(&alice), "next quarter");
        assert_eq!(activity.remembered(), 1, "past quarters pruned");
    }

    #[tokio::test]
    async fn only_people_of_a_tenant() {
        let activity = activity(Arc::new(AtomicI64::new(1_764_000_000)));
        assert!(!activity.observe(&actor(Role::PlatformAdmin, None, "root@example.test")));
        assert!(!activity.observe(&actor(Role::BpoAdmin, None, "bpo@example.test")));
        assert_eq!(activity.remembered(), 0);
    }

    struct Len32;

    impl aws_lc_rs::hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }

    #[test]
    fn the_key_is_hkdf_sha256_of_the_secret() {
        use aws_lc_rs::hkdf;
        let secret = [5u8; 32];
        let mut expected = [0u8; 32];
        hkdf::Salt::new(hkdf::HKDF_SHA256, PSEUDONYM_SALT)
            .extract(&secret)
            .expand(&[PSEUDONYM_INFO], Len32)
            .and_then(|okm| okm.fill(&mut expected))
            .expect("hkdf");
        let reference = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &expected), b"alice");
        let hex: String = reference.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(UserPseudonyms::derive(&secret).of("alice"), hex);
    }

    #[test]
    fn pseudonyms_are_keyed_hex_and_stable() {
        let keys = UserPseudonyms::derive(&[5u8; 32]);
        let alice = keys.of("alice@example.test");
        assert_eq!(alice.len(), PSEUDONYM_HEX_LEN);
        assert!(
            alice
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(
            alice,
            UserPseudonyms::derive(&[5u8; 32]).of("alice@example.test")
        );
        assert_ne!(alice, keys.of("bob@example.test"));
        assert_ne!(
            alice,
            UserPseudonyms::derive(&[6u8; 32]).of("alice@example.test")
        );
        // Not a plain hash of the subject, nor an HMAC under the secret itself.
        let under_secret = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &[5u8; 32]),
            b"alice@example.test",
        );
        assert!(
            !under_secret
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .starts_with(&alice)
        );
    }
}
