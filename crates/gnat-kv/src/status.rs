//! The status of a bucket (ADR-8 `Status`), built from its stream's information as the
//! server reported it on the call that returned it.

use std::time::Duration;

use jetstream::{StoreCompression, StreamInfo};

use crate::config::Config;

/// A bucket's status: counts and settings, and the full stream information behind them.
///
/// Every [`Store::status`](crate::Store::status) call asks the server again, so the numbers
/// are those of that moment.
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

    /// Messages stored: every retained revision, tombstones included.
    pub fn values(&self) -> u64 {
        self.info.state.messages
    }

    /// Bytes stored.
    pub fn bytes(&self) -> u64 {
        self.info.state.bytes
    }

    /// Revisions kept per key.
    pub fn history(&self) -> i64 {
        self.info.config.max_msgs_per_subject.unwrap_or(1)
    }

    /// How long values are kept (zero: forever).
    pub fn ttl(&self) -> Duration {
        self.info.config.max_age.unwrap_or_default()
    }

    /// The TTL of limit markers (zero: limit markers are off).
    pub fn limit_marker_ttl(&self) -> Duration {
        self.info
            .config
            .subject_delete_marker_ttl
            .unwrap_or_default()
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

    /// The bucket's description.
    pub fn description(&self) -> Option<&str> {
        self.info.config.description.as_deref()
    }

    /// The bucket's metadata (the server adds `_nats.*` entries of its own).
    pub fn metadata(&self) -> Option<&std::collections::HashMap<String, String>> {
        self.info.config.metadata.as_ref()
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
