//! The HTTP middleware in an actix app, its spans caught in memory.

mod http;
