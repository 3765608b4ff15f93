//! One test binary for the crate: the bus conformance suite run against
//! every implementation (in-process and RabbitMQ), the outbox and inbox on
//! every database, request/reply for operation types on both buses, and
//! trace context across them.

mod conformance;
mod db;
mod in_process;
mod outbox;
mod rabbitmq;
mod rpc;
mod support;
mod tracing_context;
