//! # gnat-client
//!
//! The NATS core client: a connection to a server (plain or TLS, with token, user/password,
//! nkey or JWT credentials), publish and subscribe, request/reply over one shared inbox
//! subscription, flush, drain and close, and reconnection to a pool of servers with every
//! subscription restored.
//!
//! ```no_run
//! # async fn demo() -> Result<(), gnat_client::Error> {
//! let client = gnat_client::connect("nats://127.0.0.1:4222").await?;
//! let mut sub = client.subscribe("time.>").await?;
//! client.publish("time.utc", "12:00").await?;
//! client.flush().await?; // the server has processed the publish
//! if let Some(msg) = sub.next().await {
//!     println!("{} -> {:?}", msg.subject, msg.payload);
//! }
//! # Ok(()) }
//! ```
//!
//! ## How it works
//!
//! One driver task per client owns the connection's life; per connection a reader task and a
//! writer task do the IO.
//!
//! * **Publish** encodes straight into a shared, byte-bounded write buffer under a short lock —
//!   no channel send, no task wake-up (unless the writer is parked) and no allocation for
//!   small payloads. Large payloads are chained, not copied. The writer swaps the buffer out
//!   and writes it in large (vectored) writes. When the buffer is full, publishers wait; when
//!   disconnected, publishes go to the reconnect buffer and fail with a clear error once it is
//!   full.
//! * **Receive**: one read buffer per connection; frames are cut out of it and their subject
//!   and payload are slices of it (no copy). Each subscription has its own bounds in messages
//!   and bytes; a slow one drops and counts, raising one event per episode, and never blocks
//!   the reader. Consecutive messages for one subscription are handed over in batches (one
//!   queue lock and at most one wake-up per batch).
//! * **Pacing**: a subscription past half of its limits is *backlogged*; while it is being
//!   read, publishes on the same client to subjects it receives wait (10 ms without a batch
//!   taken, or 250 ms in all, ends a wait), so a client publishing to itself does not outrun
//!   its own subscriber into drops. Other publishes and the reading task never wait;
//!   [`ConnectOptions::pace_publishers`] turns it off.
//! * **Request/reply** uses one wildcard subscription per connection and a token per request;
//!   the token is removed on reply, timeout and cancellation. "No responders" fails at once.
//! * **`flush`** is a PING/PONG round trip: it returns when the server has processed
//!   everything before it.
//! * **Reconnect** walks the server pool (configured URLs plus servers the cluster announces)
//!   with jittered exponential backoff, moves away from a server in lame duck mode, detects
//!   stale connections by missed PONGs, and on each new connection restores every
//!   subscription (with the remaining auto-unsubscribe count) and the request inbox before
//!   sending what was buffered while disconnected.
//!
//! Beyond the basics — request-many ([`Client::send_request_many`]), auth callbacks and
//! signing callbacks ([`ConnectOptions::auth_callback`], [`ConnectOptions::jwt_with_signer`]),
//! server pool control ([`Client::servers`], [`Client::set_servers`],
//! [`ConnectOptions::reconnect_to_server`], [`ConnectOptions::lame_duck_max_delay`]), a custom
//! rustls configuration ([`TlsOptions::custom_config`]) and WebSocket (`ws://`, `wss://`,
//! feature `websocket`) — each has a compiled example in the crate's README.
//!
//! TLS (rustls with ring: `tls://` and `wss://` URLs, servers that require TLS, `TlsOptions`,
//! the `tls` module and the TLS methods of [`ConnectOptions`]) is the feature `tls`, on by
//! default. Without it no rustls is compiled, and a connection that needs TLS fails with an
//! [`ErrorKind::Tls`] error saying TLS support is not compiled in.
//!
//! ## What it does not do
//!
//! It does not parse or encode wire bytes itself (that is [`proto`]), and knows nothing about
//! JetStream (that is `gnat-jetstream`).
//!
//! ## Layout
//!
//! * The public API: `client` ([`Client`], [`Request`], [`State`]), `options`
//!   ([`ConnectOptions`]), `subscription` ([`Subscription`], the stream), `message`,
//!   `events` (events and statistics), `error`, and the public helpers [`addr`], [`auth`],
//!   [`tls`], [`rng`].
//! * The state, sans IO: `engine` — the connection engine: outbound queue with each frame's
//!   kind and length, PING/PONG ledger, connection phase from disconnected to closed, request
//!   mux flag and re-subscription plan; no tokio, socket or clock, unit-tested without a
//!   runtime. `sub_queue` — the reader's side of a subscription (its bounded queue, drops,
//!   auto-unsubscribe, close reason); `requests` — the table of requests waiting for a reply;
//!   `pacing` — publish pacing by backlogged subscriptions; `pool` — the server pool.
//! * The glue: `shared` — what the tasks share (the engine behind its short lock, the
//!   tables, notifications); each engine call goes through a method there that does the IO
//!   the engine asks for (wake the writer, write directly, complete waiters).
//! * The IO loops: `driver` (one per client: connects, reconnects, keep-alive timer, close),
//!   `reader` and `writer` (one each per connection), `connection` (transport and handshake),
//!   `transport` (TCP, TLS, custom streams).
//!
//! Tests come in tiers: unit tests (the engine with no runtime), scripted fake-server tests
//! over in-memory pipes on a paused clock (`tests/fake_server*.rs`), and tests against a real
//! nats-server (`tests/*.rs`).

#![forbid(unsafe_code)]

pub use proto;
/// The rustls version gnat-client uses, for [`TlsOptions::custom_config`].
#[cfg(feature = "tls")]
pub use rustls;

pub mod addr;
pub mod auth;
mod client;
mod connection;
mod driver;
mod engine;
mod error;
mod events;
mod message;
mod options;
mod pacing;
mod pool;
mod reader;
mod request_many;
mod requests;
pub mod rng;
mod shared;
mod sub_queue;
mod subscription;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;
#[cfg(feature = "websocket")]
mod websocket;
mod writer;

pub use bytes::Bytes;
pub use client::{Client, Request, State, connect};
pub use error::{Error, ErrorKind, Result};
pub use events::{Event, Events, Statistics};
pub use message::{Message, Subject};
pub use options::{Backoff, ConnectOptions, SubscriptionLimits};
pub use pool::{CurrentServer, ServerStatus};
pub use proto::{HeaderMap, StatusCode};
pub use request_many::{Replies, RequestMany};
pub use sub_queue::CloseReason;
pub use subscription::Subscription;
#[cfg(feature = "tls")]
pub use tls::TlsOptions;

/// This crate's README, compiled (and type-checked) as doctests (it shows TLS and WebSocket).
#[cfg(all(doctest, feature = "websocket", feature = "tls"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Locks a mutex, ignoring poisoning: a panic elsewhere must not take the connection down with
/// it, and every critical section leaves the state consistent between statements.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
