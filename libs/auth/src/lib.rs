//! Authentication and authorisation shared by the services.

pub mod signed_url;
