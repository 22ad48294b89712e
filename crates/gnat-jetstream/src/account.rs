//! Account information (`$JS.API.INFO`): usage, limits, API statistics and level, domain.

use std::collections::HashMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::Result;

/// JetStream usage and limits of the connected account, as `$JS.API.INFO` reports them.
///
/// Fields the server does not send keep their defaults; fields this crate does not know are
/// ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AccountInfo {
    /// Memory storage in use, in bytes.
    pub memory: u64,
    /// File storage in use, in bytes.
    pub storage: u64,
    /// Memory reserved by streams with `max_bytes`, in bytes.
    pub reserved_memory: u64,
    /// File storage reserved by streams with `max_bytes`, in bytes.
    pub reserved_storage: u64,
    /// Number of streams.
    pub streams: u64,
    /// Number of consumers.
    pub consumers: u64,
    /// The account's limits.
    pub limits: AccountLimits,
    /// The JetStream domain of the server that answered, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// API call statistics and the server's API level.
    pub api: ApiStats,
    /// Usage and limits per replication tier (`R1`, `R3` …) on servers with tiered limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiers: Option<HashMap<String, AccountTier>>,
}

/// Limits of an account (or of one tier); `-1` means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AccountLimits {
    /// Memory storage limit in bytes.
    pub max_memory: i64,
    /// File storage limit in bytes.
    pub max_storage: i64,
    /// Maximum number of streams.
    pub max_streams: i64,
    /// Maximum number of consumers.
    pub max_consumers: i64,
    /// Maximum ack pending per consumer.
    pub max_ack_pending: i64,
    /// Largest `max_bytes` a memory stream may have.
    pub memory_max_stream_bytes: i64,
    /// Largest `max_bytes` a file stream may have.
    pub storage_max_stream_bytes: i64,
    /// Streams must set `max_bytes`.
    pub max_bytes_required: bool,
}

/// Usage and limits of one replication tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AccountTier {
    /// Memory storage in use, in bytes.
    pub memory: u64,
    /// File storage in use, in bytes.
    pub storage: u64,
    /// Reserved memory, in bytes.
    pub reserved_memory: u64,
    /// Reserved file storage, in bytes.
    pub reserved_storage: u64,
    /// Number of streams.
    pub streams: u64,
    /// Number of consumers.
    pub consumers: u64,
    /// The tier's limits.
    pub limits: AccountLimits,
}

/// API statistics of the account and the server's JetStream API level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ApiStats {
    /// The JetStream API level the server supports (ADR-44); 0 for servers that predate it.
    pub level: u32,
    /// API calls made.
    pub total: u64,
    /// API calls that failed.
    pub errors: u64,
    /// API calls in progress (when the server reports it).
    pub inflight: u64,
}

impl Context {
    /// The account's JetStream usage, limits and API level (`$JS.API.INFO`).
    pub async fn account_info(&self) -> Result<AccountInfo> {
        self.request_bytes("INFO", Bytes::new()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_with_and_without_optional_parts() {
        let full = br#"{"type":"io.nats.jetstream.api.v1.account_info_response","memory":1,
            "storage":2,"reserved_memory":0,"reserved_storage":0,"streams":3,"consumers":4,
            "limits":{"max_memory":-1,"max_storage":-1,"max_streams":-1,"max_consumers":-1,
            "max_ack_pending":-1,"memory_max_stream_bytes":-1,"storage_max_stream_bytes":-1,
            "max_bytes_required":false},"domain":"hub","api":{"level":3,"total":10,"errors":1},
            "tiers":{"R1":{"memory":1,"storage":2,"streams":3,"consumers":4,
            "limits":{"max_memory":5}}},"something_new":{"x":1}}"#;
        let info: AccountInfo = crate::context::decode_reply(full).unwrap();
        assert_eq!(info.api.level, 3);
        assert_eq!(info.domain.as_deref(), Some("hub"));
        assert_eq!(info.limits.max_streams, -1);
        assert_eq!(info.tiers.unwrap()["R1"].limits.max_memory, 5);

        let old =
            br#"{"memory":0,"storage":0,"streams":0,"consumers":0,"api":{"total":0,"errors":0}}"#;
        let info: AccountInfo = crate::context::decode_reply(old).unwrap();
        assert_eq!(info.api.level, 0);
        assert!(info.domain.is_none() && info.tiers.is_none());
    }
}
