//! # gnat-jetstream
//!
//! The JetStream API on top of `gnat-client`: a [`Context`] (API prefix or domain, timeout),
//! account information, streams, stored messages (get, direct get, delete), publishing with
//! acknowledgements (one by one or pipelined), and consumers (pull and ordered).
//!
//! ## What it does not do
//!
//! It owns no connection and speaks no wire protocol directly: every call is a request or a
//! subscription through [`client`]. The Key-Value store lives one layer up, in `gnat-kv`.
//!
//! ## Layout
//!
//! `context` (the [`Context`] and its API request helper), `error` (errors that keep the
//! server's `code`/`err_code`), `time` (RFC 3339 timestamps, nanosecond durations),
//! `wire_enum` (policy enums that keep values from newer servers), `account`, `stream`
//! (configuration, info, management), `message` (stored messages, get, direct get),
//! `publish` (acks, options, pipelining), `consumer` (configuration and management, pull,
//! ordered, acknowledgements).

#![forbid(unsafe_code)]

pub use client;

#[macro_use]
mod wire_enum;

pub mod account;
pub mod batch;
pub mod consumer;
pub mod context;
pub mod counter;
pub mod error;
pub mod fast;
pub mod message;
pub mod publish;
mod resend;
pub mod schedule;
pub mod stream;
pub mod time;

pub use account::*;
pub use batch::{AtomicBatch, BatchAck};
pub use consumer::*;
pub use context::Context;
pub use counter::{Counter, CounterEntry, CounterValue};
pub use error::{ApiError, Error, ErrorKind, Result};
pub use fast::{FastBatchAck, FastOptions, FastPublisher, FastReport};
pub use message::*;
pub use publish::*;
pub use schedule::Schedule;
pub use stream::*;
pub use time::Timestamp;

/// Connects with default options and returns a JetStream [`Context`] on that connection.
pub async fn connect(urls: impl AsRef<str>) -> Result<Context> {
    Ok(Context::new(client::connect(urls).await?))
}
