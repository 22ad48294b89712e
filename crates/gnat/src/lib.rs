//! # gnat
//!
//! A NATS client written from scratch in Rust, from the wire protocol up: core
//! publish/subscribe and request/reply, JetStream and the Key-Value store — one crate to name
//! in `Cargo.toml`, with a cargo feature per layer.
//!
//! ```toml
//! [dependencies]
//! gnat = { version = "0.1", features = ["kv"] }
//! tokio = { version = "1", features = ["rt-multi-thread", "macros"] }
//! ```
//!
//! ```no_run
//! # async fn demo() -> Result<(), gnat::Error> {
//! let client = gnat::connect("nats://127.0.0.1:4222").await?;
//! let mut sub = client.subscribe("greet.*").await?;
//! client.publish("greet.joe", "hello").await?;
//! client.flush().await?; // returns when the server has processed the publish
//! if let Some(msg) = sub.next().await {
//!     println!("{} -> {:?}", msg.subject, msg.payload);
//! }
//! # Ok(()) }
//! ```
//!
//! With the `kv` feature:
//!
#![cfg_attr(feature = "kv", doc = "```no_run")]
#![cfg_attr(not(feature = "kv"), doc = "```ignore")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gnat::kv::{Config, WatchEvent};
//!
//! let js = gnat::jetstream::connect("nats://127.0.0.1:4222").await?;
//! let kv = gnat::kv::create_bucket(&js, Config::new("profiles").history(5)).await?;
//! let rev = kv.put("sue.color", "blue").await?;
//! kv.update("sue.color", "green", rev).await?; // compare-and-set on the revision
//! let mut watch = kv.watch("sue.*").await?;
//! while let Some(event) = watch.next().await {
//!     match event? {
//!         WatchEvent::Entry(e) => println!("{} @ {} -> {:?}", e.key, e.revision, e.value),
//!         WatchEvent::InitialDone => break,
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! | feature | what it adds |
//! |---|---|
//! | *(none)* | the core client: [`connect`], [`Client`], [`ConnectOptions`], [`Subscription`], [`Message`], [`Event`], WebSocket (`ws://`) and every kind of auth |
//! | `tls` (default) | TLS with rustls and ring: `tls://` and `wss://` URLs, servers that require TLS, `TlsOptions`, `gnat::tls`, `gnat::rustls` and the TLS methods of `ConnectOptions` |
//! | `jetstream` | `gnat::jetstream`: streams, consumers (pull, ordered), publish with acks |
//! | `kv` | `gnat::kv`: the Key-Value store, watchers, live views, locks (turns on `jetstream`) |
//! | `object` | `gnat::object`: the Object Store, chunked with digests, links, watch (turns on `jetstream`) |
//! | `service` | `gnat::service`: the Services framework (ADR-32), endpoints, discovery, stats |
//! | `blocking` | `gnat::blocking`: the same client without `async`, driven by a private runtime thread |
//! | `tracing` | connection events (connect, disconnect, reconnect, lame duck, slow consumer, server errors), each failed connect/reconnect attempt and TLS handshake, request spans and JetStream retries as [`tracing`](https://docs.rs/tracing) events |
//!
//! Only `tls` is on by default. With `default-features = false` no rustls is compiled, and a
//! connection that needs TLS (a `tls://` or `wss://` URL, or a server that requires TLS) fails
//! with an [`ErrorKind::Tls`] error saying TLS support is not compiled in.
//!
//! ## Layout
//!
//! This crate has no code of its own beyond the blocking API: it re-exports the layers
//! `gnat-client` (at the root), `gnat-jetstream` (as `gnat::jetstream`) and
//! `gnat-kv` (as `gnat::kv`). Each layer also re-exports the one below it (so
//! `gnat::jetstream::client` is the same crate as the root).
//!
//! Examples that run against a local server (or start a throwaway one) are in the
//! repository's `crates/gnat/examples`.

#![forbid(unsafe_code)]

/// This crate's version, as in its `Cargo.toml`. Every gnat crate is released with the same
/// version, and the client sends it in the `version` field of CONNECT (with `lang` set to
/// `"rust-gnat"`), so a server's connection list (`nats server report connections`, `/connz`)
/// shows which gnat a program runs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `lang` field the client sends in CONNECT.
pub const LANG: &str = "rust-gnat";

// The core client, at the root.
pub use client::{
    Backoff, Bytes, Client, CloseReason, ConnectOptions, CurrentServer, Error, ErrorKind, Event,
    Events, HeaderMap, Message, Replies, Request, RequestMany, Result, ServerStatus, State,
    Statistics, StatusCode, Subject, Subscription, SubscriptionLimits, auth, connect,
};
// TLS (feature `tls`, on by default).
#[cfg(feature = "tls")]
pub use client::{TlsOptions, rustls, tls};

/// The wire protocol layer (`gnat-proto`): headers, status codes, validation and the
/// sans-IO encoders and decoder.
pub use client::proto;

/// JetStream (`gnat-jetstream`): the [`Context`](jetstream::Context), streams, consumers,
/// publish with acks. Its errors are [`jetstream::Error`], which keep the server's
/// `err_code`.
#[cfg(feature = "jetstream")]
pub use jetstream;

/// The Key-Value store (`gnat-kv`): buckets, the [`Store`](kv::Store), watchers, live views,
/// locks. Its errors are [`kv::Error`].
#[cfg(feature = "kv")]
pub use kv;

/// The Object Store (`gnat-object`): buckets, objects put from an `AsyncRead` and read back
/// as checked chunks, metadata, links, watch. Its errors are [`object::Error`].
#[cfg(feature = "object")]
pub use object;

/// The Services framework (`gnat-service`, ADR-32): services with endpoints and groups,
/// `$SRV` discovery and statistics, and a discovery client.
#[cfg(feature = "service")]
pub use service;

#[cfg(feature = "blocking")]
pub mod blocking;

/// This crate's README (its page on crates.io), compiled (and type-checked) as doctests.
#[cfg(all(doctest, feature = "kv", feature = "blocking"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
