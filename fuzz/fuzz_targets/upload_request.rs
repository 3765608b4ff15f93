//! The upload request's headers, probe window and probe.
//! The harness is `callvault_ingestion::fuzzing::upload_request`, which the normal suite also runs
//! over corpus/upload_request/ and regressions/upload_request/.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = callvault_ingestion::fuzzing::upload_request(data);
});
