//! The ingestion service.
