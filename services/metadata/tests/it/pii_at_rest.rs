//! Phone numbers at rest: readable through the API, absent from the
//! database's bytes.

use callvault_contracts::Role;

use crate::support::{Env, event, member};

async fn phone_numbers_are_not_stored_in_plaintext(env: Env) {
    let w = env.world().await;
    let mut e = event(w.a, 0);
    e.call.caller_number = "+81 90-4321-8765".into();
    e.call.callee_number = "+44 20 7946 0321".into();
    let id = env.ingest(e).await;
    // Readable through the API...
    let read = env
        .svc
        .get_recording(&member(Role::Supervisor, w.a), w.a, id)
        .await
        .expect("get");
    assert_eq!(read.caller_number, "+81 90-4321-8765");
    assert_eq!(read.callee_number, "+44 20 7946 0321");
    // ... and nowhere in the database, in any spelling or encoding.
    let raw = env.raw_contents("recordings").await;
    // The scan does see the row's plain columns (the queue, the codec).
    assert!(
        raw.contains("sales") && raw.contains("wav/pcm_mulaw"),
        "the scan misses the row"
    );
    for needle in ["43218765", "4321-8765", "79460321", "7946 0321"] {
        assert!(!raw.contains(needle), "{needle} is stored in plaintext");
        assert!(
            !raw.contains(&hex::encode(needle)),
            "{needle} is stored as plaintext bytes"
        );
    }
}

on_both_backends!(phone_numbers_are_not_stored_in_plaintext);
