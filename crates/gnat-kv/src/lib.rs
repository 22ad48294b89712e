//! # gnat-kv
//!
//! The JetStream Key-Value store (ADR-8 with its refinements: ADR-19 prefixes, ADR-31 direct
//! get, ADR-48 TTLs and limit markers, ADR-57 mirrors and sources) on top of
//! `gnat-jetstream`, re-exported here as [`jetstream`] (and through it the client and the
//! protocol), so an application needs only this crate.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gnat_kv::{Config, WatchEvent};
//! let js = gnat_kv::jetstream::connect("nats://127.0.0.1:4222").await?;
//! let kv = gnat_kv::create_bucket(&js, Config::new("profiles").history(5)).await?;
//! let rev = kv.put("sue.color", "blue").await?;
//! kv.update("sue.color", "green", rev).await?;
//! assert_eq!(kv.get("sue.color").await?.as_deref(), Some(&b"green"[..]));
//! let mut watch = kv.watch("sue.*").await?;
//! while let Some(event) = watch.next().await {
//!     match event? {
//!         WatchEvent::Entry(e) => println!("{} @ {} -> {:?}", e.key, e.revision, e.value),
//!         WatchEvent::InitialDone => println!("-- now live --"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ## What it does
//!
//! * **Buckets** ([`create_bucket`], [`update_bucket`], [`create_or_update_bucket`], [`bind`],
//!   [`delete_bucket`], [`bucket_names`], [`bucket_statuses`]): every option of [`Config`],
//!   mapped onto the stream `KV_<bucket>`; names, history and limit-marker support are
//!   checked before anything is sent.
//! * **Keys** on a [`Store`]: `get`/`entry` (one direct get, no JSON), `entry_at`, `put`,
//!   `create` (also over a deleted or purged key, keeping a TTL), `update` (compare and set),
//!   `delete`, `purge`, `revert`, `history`, `keys` (collected or streamed, with filters),
//!   `purge_deletes`, and a `status` read fresh from the server.
//! * **Watchers** ([`Watcher`]): latest values, all history, or updates only, with or without
//!   values and deletes, from a revision; an explicit [`WatchEvent::InitialDone`] exactly
//!   once; no gap and no duplicate across reconnects and server restarts.
//! * **Live views** ([`LiveView`], [`Store::live_view`]): a local map of the bucket (or of
//!   filtered keys) kept current by a background watcher; await the initial load, read
//!   entries from any task without a round trip, wait for a revision (read-your-writes).
//! * **Locks and semaphores** ([`Store::lock`], [`Lease`], [`Store::semaphore`], [`Permit`]):
//!   leases on create + update + per-key TTL, with keep-alive, release that cannot delete a
//!   newer holder's key, waiting without polling, and expiry of crashed holders (semantics
//!   in [`lock`]).
//! * **Many keys at once** ([`Store::get_many`]): one direct get multi-last round trip per
//!   1024 keys, falling back to concurrent single gets where the server or bucket lacks it.
//! * **Transactions** ([`Store::transaction`], [`Transaction`]): puts, creates, updates at
//!   a revision, deletes and purges on any keys of the bucket, committed as one ADR-50 atomic
//!   batch — all or nothing; a conflict names the key and its actual revision
//!   ([`Error::conflict`]). Buckets get `allow_atomic` from
//!   [`Config::allow_transactions`], or on their first transaction.
//! * **Snapshots** ([`Store::snapshot`], [`Store::snapshot_at`], [`Snapshot`]): `get`,
//!   `get_many` of any number of keys, `keys` and a full dump, all as of one revision
//!   (ADR-31 `up_to_seq`).
//! * **Codecs** ([`Store::with_codecs`], [`CodecStore`], ADR-54): key and value codecs —
//!   [`NoOpCodec`], [`Base64Codec`] (per token), [`PathCodec`], chains ([`KeyChain`],
//!   [`ValueChain`]) and your own ([`KeyCodec`], [`ValueCodec`], e.g. encryption); filters
//!   keep their wildcards.
//! * **Typed values** ([`Store::typed`], [`Typed`]): serde types as JSON, with
//!   [`Typed::update_with`], a bounded compare-and-set loop.
//! * **Errors** ([`Error`]) are kinds with predicates (`is_key_exists`,
//!   `is_wrong_last_revision`, `is_not_found`, `is_bucket_not_found` …) that keep the
//!   server's `err_code`.
//!
//! ## What it does not do
//!
//! It talks to the server only through [`jetstream`]; it has no connection handling or wire
//! protocol of its own. Values are bytes; codecs and typed views are opt-in layers over the
//! byte API, which stays the fast path.
//!
//! ## Layout
//!
//! `name` (bucket, key and filter validation), `config` ([`Config`] and its stream mapping),
//! `manage` (bucket management), `status` ([`Status`]), `entry` ([`Entry`], [`Operation`],
//! decoding), `store` ([`Store`], where it reads and writes, single-key reads), `write`
//! (put, create, update, delete, purge, revert), `reader` (the ordered-consumer engine and
//! the end-of-initial-data marker), `watch` ([`Watcher`], [`WatchOptions`]), `list`
//! (history, keys, purge-deletes), `many` (`get_many`), `live` ([`LiveView`]), [`lock`]
//! ([`Lease`], [`Semaphore`], [`Permit`]), `txn` ([`Transaction`]), `snapshot`
//! ([`Snapshot`]), `codec` ([`CodecStore`] and the codecs), `typed` ([`Typed`]).

#![forbid(unsafe_code)]

pub use jetstream;

pub use bytes::Bytes;
pub use jetstream::{Placement, Republish, StorageType, StreamSource, Timestamp};

mod codec;
mod config;
mod entry;
mod error;
mod list;
mod live;
pub mod lock;
mod manage;
mod many;
mod name;
mod reader;
mod snapshot;
mod status;
mod store;
mod txn;
mod typed;
mod watch;
mod write;

pub use codec::{
    Base64Codec, CodecStore, CodecWatcher, KeyChain, KeyCodec, NoOpCodec, PathCodec, ValueChain,
    ValueCodec,
};
pub use config::{Config, MAX_HISTORY};
pub use entry::{Entry, Key, Operation};
pub use error::{Conflict, Error, ErrorKind, Result};
pub use list::{DEFAULT_PURGE_DELETES_OLDER_THAN, Keys};
pub use live::{LiveView, ViewStatus};
pub use lock::{Lease, LockOptions, Permit, Semaphore};
pub use manage::{
    bind, bucket_names, bucket_statuses, create_bucket, create_or_update_bucket, delete_bucket,
    update_bucket,
};
pub use many::GET_MANY_CHUNK;
pub use name::{validate_bucket, validate_filter, validate_key, validate_write_key};
pub use snapshot::Snapshot;
pub use status::Status;
pub use store::Store;
pub use txn::{Committed, MAX_TRANSACTION_WRITES, Transaction};
pub use typed::{DEFAULT_UPDATE_ATTEMPTS, Typed};
pub use watch::{WatchEvent, WatchOptions, Watcher};
pub use write::PurgeOptions;

/// This crate's README, compiled (and type-checked) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
