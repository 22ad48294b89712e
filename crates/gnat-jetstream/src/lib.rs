//! # gnat-jetstream
//!
//! The JetStream API on top of `gnat-client`: a [`Context`] (API prefix or domain, timeout),
//! account information, streams, stored messages (get, direct get, delete), publishing with
//! acknowledgements (one by one, pipelined with [`Publisher`]/[`SharedPublisher`], atomic
//! batches with [`AtomicBatch`], fast ingest with [`FastPublisher`], distributed counters with
//! [`Counter`], message schedules with [`Schedule`]), and consumers (pull and ordered).
//!
//! Single publishes have one true outcome when the connection drops: they are resent after
//! the reconnect with the same `Nats-Msg-Id` (one is made up when none was given), so the
//! stream's duplicate window stores them once, or fail at once with
//! [`Error::is_outcome_unknown`] where a resend cannot be exact. Features of newer servers
//! check the server's API level first (ADR-44, [`Context::api_level`]).
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
//! `publish` (acks, options, pipelining), `resend` (resending after a lost connection),
//! `batch` (atomic batches), `fast` (fast ingest), `counter` (counters), `schedule`
//! (message schedules), `consumer` (configuration and management, pull, ordered,
//! acknowledgements).

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

pub use account::{AccountInfo, AccountLimits, AccountTier, ApiStats};
pub use batch::{AtomicBatch, BatchAck};
pub use consumer::{
    AckPolicy, ConsumeOptions, ConsumerClusterInfo, ConsumerConfig, ConsumerInfo, ConsumerPeerInfo,
    ConsumerPriorityGroupState, DeliverPolicy, Fetch, FetchOptions, JsMessage, MessageInfo,
    OrderedConfig, OrderedConsumer, PriorityPolicy, PullConsumer, PullMessages, ReplayPolicy,
    SequenceInfo,
};
pub use context::Context;
pub use counter::{Counter, CounterEntry, CounterValue};
pub use error::{ApiError, Error, ErrorKind, Result};
pub use fast::{FastBatchAck, FastOptions, FastPublisher, FastReport};
pub use message::{
    DirectBatch, DirectBatchEnd, DirectBatchStream, DirectReplyHeaders, StoredMessage, UpTo,
};
pub use publish::{
    DEFAULT_PUBLISH_RETRIES, DEFAULT_PUBLISH_RETRY_WAIT, MAX_KEPT_FAILURES, PubAck, PubAckHandle,
    PublishFailures, PublishOptions, Publisher, Rollup, SharedPublisher,
};
pub use schedule::Schedule;
pub use stream::{
    ClusterInfo, DiscardPolicy, ExternalStream, LostStreamData, PeerInfo, PersistMode, Placement,
    PurgeRequest, Republish, RetentionPolicy, StorageType, StoreCompression, StreamAlternate,
    StreamConfig, StreamConsumerLimits, StreamInfo, StreamSource, StreamSourceConsumer,
    StreamSourceInfo, StreamState, SubjectTransform,
};
pub use time::Timestamp;

/// Connects with default options and returns a JetStream [`Context`] on that connection.
pub async fn connect(urls: impl AsRef<str>) -> Result<Context> {
    Ok(Context::new(client::connect(urls).await?))
}
