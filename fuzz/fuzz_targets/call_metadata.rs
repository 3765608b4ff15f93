//! The `Callvault-Call` header's call metadata parser.
//! The harness is `callvault_ingestion::fuzzing::call_metadata`, which the normal suite also runs
//! over corpus/call_metadata/ and regressions/call_metadata/.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = callvault_ingestion::fuzzing::call_metadata(data);
});
