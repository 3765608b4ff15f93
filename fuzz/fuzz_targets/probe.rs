//! The audio probe (container sniffing, RIFF walk, symphonia), as each declared type.
//! The harness is `callvault_ingestion::fuzzing::probe`, which the normal suite also runs
//! over corpus/probe/ and regressions/probe/.
//!
//! symphonia panics on some inputs (three are in regressions/probe/); the probe runs it
//! under `catch_unwind` and refuses the input with a 422, so such a panic is handled, not
//! a crash. libFuzzer's panic hook aborts on every panic, caught or not, which stopped
//! each run within seconds on the same third-party bug. So this target's hook lets a
//! panic raised inside symphonia's own source unwind to the probe's guard, and aborts on
//! any other panic as before: a panic in our code, or one the guard misses (it would
//! unwind out of the harness, which libfuzzer-sys turns into an abort), is still a crash.
#![no_main]

use std::panic::{self, PanicHookInfo};
use std::sync::Once;

static HOOK: Once = Once::new();

/// Panics located in symphonia's crates (`…/symphonia-format-riff-0.5.4/src/…`): a
/// panic's location is the panicking call's, `#[track_caller]` std functions
/// (indexing, arithmetic overflow, `unwrap`) included.
fn raised_in_symphonia(info: &PanicHookInfo<'_>) -> bool {
    info.location()
        .is_some_and(|location| location.file().contains("/symphonia"))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        let abort = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !raised_in_symphonia(info) {
                abort(info);
            }
        }));
    });
    let _ = callvault_ingestion::fuzzing::probe(data);
});
