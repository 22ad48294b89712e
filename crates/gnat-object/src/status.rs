//! The status of a bucket (ADR-20 `ObjectStoreStatus`), built from its stream's information
//! as the server reported it on the call that returned it.

use std::time::Duration;

use jetstream::{StorageType, StoreCompression, StreamInfo};

use crate::config::Config;

/// A bucket's status: size and settings, and the full stream information behind them.
///
/// Every [`ObjectStore::status`](crate::ObjectStore::status) call asks the server again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    bucket: String,
    info: StreamInfo,
}

impl Status {
    pub(crate) fn new(bucket: String, info: StreamInfo) -> Status {
        Status { bucket, info }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The bucket's description.
    pub fn description(&self) -> Option<&str> {
        self.info.config.description.as_deref()
    }

    /// The bucket's metadata (the server adds `_nats.*` entries of its own).
    pub fn metadata(&self) -> Option<&std::collections::HashMap<String, String>> {
        self.info.config.metadata.as_ref()
    }

    /// How long objects are kept (zero: forever).
    pub fn ttl(&self) -> Duration {
        self.info.config.max_age.unwrap_or_default()
    }

    /// The storage type.
    pub fn storage(&self) -> StorageType {
        self.info
            .config
            .storage
            .clone()
            .unwrap_or(StorageType::File)
    }

    /// The number of replicas.
    pub fn replicas(&self) -> u32 {
        self.info.config.num_replicas.unwrap_or(1)
    }

    /// Whether the bucket is sealed (no further changes).
    pub fn sealed(&self) -> bool {
        self.info.config.sealed == Some(true)
    }

    /// Bytes stored: chunks and meta messages.
    pub fn size(&self) -> u64 {
        self.info.state.bytes
    }

    /// The maximum size in bytes (negative or zero: unlimited).
    pub fn max_bytes(&self) -> i64 {
        self.info.config.max_bytes.unwrap_or(-1)
    }

    /// Whether stored data is compressed.
    pub fn is_compressed(&self) -> bool {
        self.info
            .config
            .compression
            .as_ref()
            .is_some_and(|c| *c != StoreCompression::None)
    }

    /// The kind of backend: always `JetStream`.
    pub fn backing_store(&self) -> &'static str {
        "JetStream"
    }

    /// The backing stream's information, as the server reported it.
    pub fn stream_info(&self) -> &StreamInfo {
        &self.info
    }

    /// The bucket's configuration, rebuilt from the stream's.
    pub fn config(&self) -> Config {
        Config::from_stream_config(&self.info.config)
    }
}
