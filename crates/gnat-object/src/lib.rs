//! # gnat-object
//!
//! The JetStream Object Store (ADR-20, revision 3 with compression) on top of
//! `gnat-jetstream`, re-exported here as [`jetstream`] (and through it the client and the
//! protocol), so an application needs only this crate. Objects are written and read the way
//! the other NATS clients do (stream `OBJ_<bucket>`, chunks on `$O.<bucket>.C.<nuid>`, info
//! as JSON on `$O.<bucket>.M.<base64url(name)>`, digest `SHA-256=<base64url>`), so an object
//! put by nats.go, nats.js, nats-py or async-nats is read here and the other way round.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gnat_object::{Config, ObjectMeta};
//! let js = gnat_object::jetstream::connect("nats://127.0.0.1:4222").await?;
//! let store = gnat_object::create_bucket(&js, Config::new("assets").compression(true)).await?;
//! let file = tokio::fs::File::open("logo.png").await?;
//! let info = store
//!     .put(ObjectMeta::new("logo.png").header("Content-Type", "image/png"), file)
//!     .await?;
//! println!("{} bytes, {}", info.size, info.digest.as_deref().unwrap_or(""));
//! let mut reader = store.get("logo.png").await?; // an AsyncRead, digest checked at the end
//! tokio::io::copy(&mut reader, &mut tokio::io::sink()).await?;
//! for object in store.list().await? {
//!     println!("{} {}", object.name, object.size);
//! }
//! # Ok(()) }
//! ```
//!
//! ## What it does
//!
//! * **Buckets** ([`create_bucket`], [`update_bucket`], [`create_or_update_bucket`], [`bind`],
//!   [`delete_bucket`], [`bucket_names`], [`bucket_statuses`], [`ObjectStore::status`],
//!   [`ObjectStore::seal`]): every option of [`Config`] (description, TTL, max bytes,
//!   storage, replicas, compression, placement, metadata) mapped onto the stream.
//! * **Puts** ([`ObjectStore::put`] from any `AsyncRead`, [`ObjectStore::put_bytes`]): chunked
//!   (128 KiB by default, per put with [`ObjectMeta::chunk_size`], lowered to the server's
//!   max payload), pipelined with a bounded window, hashed; the meta message is written last
//!   with a subject rollup, so a failed put leaves nothing visible (and its chunks are
//!   purged); an overwrite purges the chunks of the version it replaced.
//! * **Reads** ([`ObjectStore::get`] → [`ObjectReader`], an `AsyncRead` and a `Stream` of
//!   chunks): flow-controlled, bounded memory, size and digest checked at the end; a deleted
//!   object, missing chunks or a stalled read are errors, never a hang. Links to objects are
//!   followed.
//! * **Meta** ([`ObjectStore::info`], [`ObjectStore::update_meta`] with rename,
//!   [`ObjectStore::delete`], [`ObjectStore::list`], [`ObjectStore::watch`] with an explicit
//!   [`WatchEvent::InitialDone`], [`ObjectStore::add_link`],
//!   [`ObjectStore::add_bucket_link`]).
//! * **Errors** ([`Error`]) are kinds with predicates (`is_not_found`, `is_object_exists`,
//!   `is_digest_mismatch`, `is_link` …) that keep the server's `err_code`.
//!
//! ## What it does not do
//!
//! It talks to the server only through [`jetstream`]; it has no connection handling or wire
//! protocol of its own. It keeps no local cache of object info, does not resume an
//! interrupted put or read (a failed put is purged; a failed read starts again), and writes
//! only SHA-256 digests (the one algorithm ADR-20 names). Bucket mirrors and sources are not
//! mapped.
//!
//! ## Layout
//!
//! `name` (bucket and object names, base64url, digests), `config` ([`Config`] and its stream
//! mapping), `manage` (bucket management), `status` ([`Status`]), `info` ([`ObjectInfo`],
//! [`ObjectMeta`], [`ObjectLink`]), `store` ([`ObjectStore`]: info, update meta, delete,
//! links, seal), `put` (chunked writes), `get` ([`ObjectReader`]), `watch` ([`Watcher`],
//! list), `error` ([`Error`]).

#![forbid(unsafe_code)]

pub use jetstream;

pub use bytes::Bytes;
pub use jetstream::{Placement, StorageType, Timestamp};

mod config;
mod error;
mod get;
mod info;
mod manage;
mod name;
mod put;
mod status;
mod store;
mod watch;

pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use get::{BATCH_BYTES, ObjectReader};
pub use info::{Headers, ObjectInfo, ObjectLink, ObjectMeta, ObjectOptions};
pub use manage::{
    bind, bucket_names, bucket_statuses, create_bucket, create_or_update_bucket, delete_bucket,
    update_bucket,
};
pub use name::{validate_bucket, validate_name};
pub use put::DEFAULT_CHUNK_SIZE;
pub use status::Status;
pub use store::{DEFAULT_READ_TIMEOUT, ObjectStore};
pub use watch::{WatchEvent, WatchOptions, Watcher};

#[cfg(test)]
mod tests {
    #[test]
    fn handles_move_between_tasks() {
        fn send<T: Send>() {}
        fn shared<T: Send + Sync>() {}
        send::<crate::ObjectReader>();
        send::<crate::Watcher>();
        shared::<crate::ObjectStore>();
        shared::<crate::Error>();
    }
}
