//! The disclosure gauges: open requests and overdue ones, as the last
//! timer pass counted them.

use std::sync::OnceLock;

use prometheus_client::metrics::gauge::Gauge;

struct Gauges {
    open: Gauge,
    overdue: Gauge,
}

fn gauges() -> &'static Gauges {
    static GAUGES: OnceLock<Gauges> = OnceLock::new();
    GAUGES.get_or_init(|| {
        let gauges = Gauges {
            open: Gauge::default(),
            overdue: Gauge::default(),
        };
        callvault_telemetry::metrics::register(
            "callvault_disclosure_requests_open",
            "Data-subject requests not yet answered (all tenants)",
            gauges.open.clone(),
        );
        callvault_telemetry::metrics::register(
            "callvault_disclosure_requests_overdue",
            "Data-subject requests past their deadline and not yet answered",
            gauges.overdue.clone(),
        );
        gauges
    })
}

pub(crate) fn set_requests(open: u64, overdue: u64) {
    let gauges = gauges();
    gauges.open.set(i64::try_from(open).unwrap_or(i64::MAX));
    gauges
        .overdue
        .set(i64::try_from(overdue).unwrap_or(i64::MAX));
}
