//! The metadata API over request/reply: a client implementing
//! `MetadataApi` by sending `MetadataRequest`s to the `metadata` queue, and
//! the server side dispatching them to a `MetadataApi` implementation.
