//! Playback's `Range` header parser, against any body length.
//! The harness is `callvault_storage::fuzzing::range`, which the normal suite also runs
//! over corpus/range/ and regressions/range/.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = callvault_storage::fuzzing::range(data);
});
