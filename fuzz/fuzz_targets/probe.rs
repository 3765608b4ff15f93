//! The audio probe (container sniffing, RIFF walk, symphonia), as each declared type.
//! The harness is `callvault_ingestion::fuzzing::probe`, which the normal suite also runs
//! over corpus/probe/ and regressions/probe/.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = callvault_ingestion::fuzzing::probe(data);
});
