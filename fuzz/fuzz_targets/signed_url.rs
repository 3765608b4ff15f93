//! Signed playback, object and listing URLs, parsed and verified.
//! The harness is `callvault_storage::fuzzing::signed_url`, which the normal suite also runs
//! over corpus/signed_url/ and regressions/signed_url/.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = callvault_storage::fuzzing::signed_url(data);
});
