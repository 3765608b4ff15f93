//! Hand-written entities of the disclosure database (see `super::migration`).

pub mod audit_queue;
pub mod bundle;
pub mod request;
pub mod request_number;
pub mod settings;
