//! One test binary for the crate: the bus conformance suite run against
//! every implementation (in-process and RabbitMQ), the outbox and inbox on
//! every database, and the metadata, lifecycle and storage API adapters.

mod conformance;
mod db;
mod in_process;
mod lifecycle;
mod metadata;
mod outbox;
mod rabbitmq;
mod storage;
mod support;
