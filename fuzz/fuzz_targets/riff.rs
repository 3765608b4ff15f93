//! The RIFF/WAVE header walk of ingestion's audio probe.
//! The harness is `callvault_ingestion::fuzzing::riff`, which the normal suite also runs
//! over corpus/riff/ and regressions/riff/.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = callvault_ingestion::fuzzing::riff(data);
});
