//! The gateway with the REAL billing service (`callvault_billing`, on
//! SQLite) on its bus, beside the metadata double (which answers the
//! billing service's tenant directory: tenants A and B of BPO X, C of BPO
//! Y, all in Asia/Tokyo). The billing service's clock is the test's.
//!
//! The storage service's `stored_byte_seconds`, which the storage
//! reconciliation asks, is answered by the lifecycle double (which stands
//! in for storage's `verify_recording` already): storage needs a blob
//! store and keys to run, and what it answers is not the gateway's
//! concern.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use callvault_billing::BillingService;
use callvault_bus::RpcClient;
use chrono::{DateTime, Utc};

use super::{TestApp, spawn_app};

pub struct BillingApp {
    pub app: TestApp,
    pub billing: Arc<BillingService>,
    clock: Arc<Mutex<DateTime<Utc>>>,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for BillingApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl BillingApp {
    /// Moves the billing service's clock.
    pub fn billing_now(&self, at: DateTime<Utc>) {
        *self.clock.lock().expect("clock") = at;
    }

    /// Has the billing service count every `user.active` the gateway
    /// published, as its bus consumer would.
    pub async fn count_user_activity(&self) {
        let published = self.bus.published("user.active");
        self.billing.record(&published).await.expect("counted");
    }
}

pub async fn spawn(start: DateTime<Utc>) -> BillingApp {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("billing.db").display());
    let db = callvault_billing::connect(&url)
        .await
        .expect("billing database");
    let clock = Arc::new(Mutex::new(start));
    let now = clock.clone();
    let rpc = RpcClient::new(app.bus.clone(), Duration::from_secs(10));
    let billing = Arc::new(
        BillingService::new(db, rpc).with_clock(Arc::new(move || *now.lock().expect("clock"))),
    );
    billing
        .router()
        .serve(app.bus.as_ref())
        .await
        .expect("serve billing");
    BillingApp {
        app,
        billing,
        clock,
        _dir: dir,
    }
}
