//! The bus consumer batches: what was waiting in its queue is counted in
//! one transaction, and each message's result says what became of it.

use callvault_contracts::events::Message;
use uuid::Uuid;

use crate::lab::{Lab, active, at, ingested, stored};

on_both_backends!(a_batch_is_counted_in_one_transaction_and_every_message_acknowledged,);

fn three_events(lab: &Lab) -> Vec<Message> {
    let when = at(2026, 11, 10, 3, 0, 0);
    vec![
        ingested(lab.tokyo, Uuid::new_v4(), 60_000, when),
        stored(lab.tokyo, Uuid::new_v4(), 1 << 20, when),
        active(lab.tokyo, "agent-1", when),
    ]
}

async fn a_batch_is_counted_in_one_transaction_and_every_message_acknowledged(lab: &Lab) {
    let consumer = callvault_billing::consumer(lab.billing.clone());
    assert_eq!(consumer.max_batch(), 500, "the consumer asks for batches");
    let messages = three_events(lab);

    let results = consumer.handle_batch(messages.clone()).await;
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let again = lab.billing.record(&messages).await.expect("intake");
    assert_eq!(again.duplicates, 3, "all three were counted: {again:?}");
    assert_eq!(again.counted, 0);
}

/// PostgreSQL refuses a NUL in text, SQLite stores it: a message the
/// database refuses, on PostgreSQL only.
mod postgres_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_message_the_database_refuses_fails_alone_and_the_rest_are_counted() {
        let lab = Lab::on_postgres().await;
        let consumer = callvault_billing::consumer(lab.billing.clone());
        let mut messages = three_events(&lab);
        let refused = active(lab.tokyo, "agent\u{0}2", at(2026, 11, 10, 4, 0, 0));
        messages.insert(1, refused.clone());

        let results = consumer.handle_batch(messages.clone()).await;
        let failed: Vec<bool> = results.iter().map(Result::is_err).collect();
        assert_eq!(failed, [false, true, false, false], "{results:?}");
        assert!(
            results[1].as_ref().is_err_and(|e| !e.permanent),
            "retryable, as one at a time: the delivery limit dead-letters it"
        );

        let others: Vec<Message> = messages
            .into_iter()
            .filter(|message| message.id != refused.id)
            .collect();
        let again = lab.billing.record(&others).await.expect("intake");
        assert_eq!(
            again.duplicates, 3,
            "the other three were counted: {again:?}"
        );
        lab.drop_databases().await;
    }
}
