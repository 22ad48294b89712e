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
//! ## Self-healing consumers
//!
//! No consumer stream stalls silently: on every fault it either keeps delivering (no gap;
//! duplicates only as at-least-once redelivery of unacknowledged messages allows) or yields
//! an error that names the cause and then ends (`None`). The bound is two idle-heartbeat
//! intervals (`HB`) of silence, counted from what *arrived* (the subscription is drained
//! before the timer is looked at, so an application that is busy and not polling never
//! trips it). Retries are visible: warnings are stream items with counters
//! ([`PullMessages::pins_lost`], [`PushMessages::warnings`], [`OrderedConsumer::resets`]),
//! never an invisible loop. "Check" below is a consumer-info request made after 1.5 HB of
//! silence (answered by 2 HB), on a `503`, and after a reconnect (push).
//!
//! | Fault | pull `consume` | push `messages` | ordered | KV watcher (`gnat-kv`) |
//! |---|---|---|---|---|
//! | reconnect | paused while down; fresh pull request on reconnect; resumes, unacked redelivered | client re-subscribes; check; resumes, unacked redelivered after `ack_wait` | recreated at last stream seq + 1: no gap, no duplicate | as ordered (it is one) |
//! | server restart (file storage) | as reconnect; `503` while JetStream starts → warning, check, retry each HB | as reconnect | as reconnect; recreate retried with backoff while `5xx`/timeout, counted in `resets` | as ordered |
//! | consumer deleted while connected | `409 Consumer Deleted` → error [`Error::is_consumer_deleted`], end | check at 1.5 HB → same error, end (≤ 2 HB) | recreated (it owns its consumer) | as ordered |
//! | consumer deleted while disconnected | `503` on the new pull → check → same error, end | check on reconnect → same error, end | recreated | as ordered |
//! | stream deleted | `409` or check → error (`is_consumer_deleted` / [`Error::is_stream_not_found`]), end | check → same, end | recreate refused → `is_stream_not_found`, end | as ordered |
//! | leader change, R3 | requests may be lost: missed-heartbeat warning, new request; resumes | server-side continues on the new leader; warning if silent; resumes | gap or silence → recreated | as ordered |
//! | lame duck (cluster node of the client) | client moves to another node; fresh pull request; resumes | re-subscribed on the new node; resumes | recreated on the new node | as ordered |
//! | heartbeats missed, app not polling | no warning (queued heartbeats count) | no warning | no reset | no reset |
//! | client closed (by the application, or for good) | error (`ErrorKind::Client`, "client is closed", with the last disconnect reason), end | same | same | as ordered |
//! | JetStream disabled (account) | check → [`Error::is_jetstream_disabled`], end | check → same, end | recreate refused → same, end | as ordered |
//!
//! Tested against real servers in `tests/self_healing.rs`, `tests/consumer_push.rs`,
//! `tests/consumer_consume.rs` and `tests/consumer_ordered.rs` (single server with the fault
//! proxy, SIGSTOP, restarts and a config reload that disables the account's JetStream; a
//! 3-node cluster for the leader change and lame duck mode), and the KV watcher's
//! stream-deleted cell in `gnat-kv`'s `tests/watch.rs`.
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
pub mod stream_details;
pub mod time;

pub use account::{AccountInfo, AccountLimits, AccountTier, ApiStats};
pub use batch::{AtomicBatch, BatchAck};
pub use consumer::{
    AckPolicy, ConsumeOptions, ConsumerClusterInfo, ConsumerConfig, ConsumerInfo, ConsumerPeerInfo,
    ConsumerPriorityGroupState, DeliverPolicy, Fetch, FetchOptions, JsMessage, MessageInfo,
    OrderedConfig, OrderedConsumer, PauseState, PriorityOptions, PriorityPolicy, PullConsumer,
    PullMessages, PushConsumer, PushMessages, ReplayPolicy, ResetState, ResetTo, SequenceInfo,
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
pub use stream_details::StreamInfoOptions;
pub use time::Timestamp;

/// Connects with default options and returns a JetStream [`Context`] on that connection.
pub async fn connect(urls: impl AsRef<str>) -> Result<Context> {
    Ok(Context::new(client::connect(urls).await?))
}
