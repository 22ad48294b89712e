//! # gnat-kv
//!
//! The JetStream Key-Value store (ADR-8 with its refinements) on top of `gnat-jetstream`.
//!
//! **Status:** not implemented yet; this crate arrives with the Key-Value issue. Nothing here
//! pretends to work. Until then it only re-exports the JetStream layer it is built on.
//!
//! ## What it does not do
//!
//! It talks to the server only through [`jetstream`]; it has no connection handling or wire
//! protocol of its own.

#![forbid(unsafe_code)]

pub use jetstream;
