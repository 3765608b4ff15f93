//! The object reader: arbitrary bytes opened as a stored object under a fixed key.
//! The harness is `callvault_envelope::fuzzing::open_object`, which the normal suite also runs
//! over corpus/envelope_open/ and regressions/envelope_open/.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = callvault_envelope::fuzzing::open_object(data);
});
