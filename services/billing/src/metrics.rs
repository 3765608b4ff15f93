//! The billing metrics: events counted and duplicates skipped, invoices
//! finalized, and the last storage reconciliation's differences.

use std::sync::OnceLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::intake::IntakeReport;

struct Instruments {
    counted: Counter,
    duplicates: Counter,
    unreadable: Counter,
    finalized: Counter,
    reconciled: Gauge,
    mismatches: Gauge,
}

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let i = Instruments {
            counted: Counter::default(),
            duplicates: Counter::default(),
            unreadable: Counter::default(),
            finalized: Counter::default(),
            reconciled: Gauge::default(),
            mismatches: Gauge::default(),
        };
        use callvault_telemetry::metrics::register;
        register(
            "callvault_billing_events_counted",
            "Events metered for the first time",
            i.counted.clone(),
        );
        register(
            "callvault_billing_events_duplicate",
            "Messages already counted (redelivered or duplicated), skipped",
            i.duplicates.clone(),
        );
        register(
            "callvault_billing_events_unreadable",
            "Metered topics whose payload did not decode, left out",
            i.unreadable.clone(),
        );
        register(
            "callvault_billing_invoices_finalized",
            "Invoices numbered and frozen",
            i.finalized.clone(),
        );
        register(
            "callvault_billing_reconciled_tenants",
            "Tenants the last storage reconciliation compared",
            i.reconciled.clone(),
        );
        register(
            "callvault_billing_reconciliation_mismatches",
            "Tenants whose billed byte-seconds differed from storage's records in the last reconciliation",
            i.mismatches.clone(),
        );
        i
    })
}

/// A handle on the process-wide billing instruments.
#[derive(Clone, Copy, Debug, Default)]
pub struct Metrics;

impl Metrics {
    pub(crate) fn counted(&self, report: &IntakeReport) {
        let i = instruments();
        i.counted.inc_by(report.counted);
        i.duplicates.inc_by(report.duplicates);
        i.unreadable.inc_by(report.unreadable);
    }

    pub(crate) fn finalized(&self) {
        instruments().finalized.inc();
    }

    pub(crate) fn reconciled(&self, tenants: usize, mismatches: usize) {
        let i = instruments();
        i.reconciled.set(i64::try_from(tenants).unwrap_or(i64::MAX));
        i.mismatches
            .set(i64::try_from(mismatches).unwrap_or(i64::MAX));
    }
}
