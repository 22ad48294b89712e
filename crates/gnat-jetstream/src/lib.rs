//! # gnat-jetstream
//!
//! The JetStream API on top of `gnat-client`: context (API prefix, domain), account info, streams,
//! messages (get, direct get, delete), publish with acknowledgement, pull and ordered consumers.
//!
//! **Status:** not implemented yet; this crate arrives with the JetStream issue. Nothing here
//! pretends to work. Until then it only re-exports the client layer it is built on.
//!
//! ## What it does not do
//!
//! It owns no connection of its own and speaks no wire protocol directly: every call is a request
//! through [`client`]. The Key-Value store lives one layer up, in `gnat-kv`.

#![forbid(unsafe_code)]

pub use client;
