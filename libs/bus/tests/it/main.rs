//! One test binary for the crate: the bus conformance suite run against
//! every implementation (in-process and RabbitMQ), the outbox and inbox on
//! every database, and the metadata API adapter.

mod conformance;
mod db;
mod in_process;
mod metadata;
mod outbox;
mod rabbitmq;
mod support;
