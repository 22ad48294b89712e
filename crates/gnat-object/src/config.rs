//! Bucket configuration and its mapping to the backing stream (ADR-20 "ObjectStore / Stream
//! Config", revision 3 for compression).

use std::collections::HashMap;
use std::time::Duration;

use jetstream::{DiscardPolicy, Placement, StorageType, StoreCompression, StreamConfig};

use crate::error::Result;
use crate::name::validate_bucket;

/// Stream names of object stores start with this.
pub(crate) const STREAM_PREFIX: &str = "OBJ_";

/// The configuration of an object store bucket.
///
/// Unset options keep the defaults: no TTL, no size limit, file storage, one replica, no
/// compression.
///
/// ```
/// use std::time::Duration;
/// use gnat_object::Config;
/// let config = Config::new("assets")
///     .description("build artefacts")
///     .ttl(Duration::from_secs(86_400))
///     .max_bytes(1 << 30)
///     .compression(true);
/// assert_eq!(config.bucket, "assets");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The bucket's name (`[a-zA-Z0-9_-]+`); the stream is `OBJ_<bucket>`.
    pub bucket: String,
    /// A description.
    pub description: Option<String>,
    /// How long objects are kept (zero: forever); the stream's `max_age`.
    pub ttl: Duration,
    /// The bucket's maximum size in bytes (0 or negative: unlimited).
    pub max_bytes: i64,
    /// File (default) or memory storage.
    pub storage: StorageType,
    /// Number of replicas (0 means 1).
    pub replicas: u32,
    /// S2-compress the stored data (ADR-20 revision 3).
    pub compression: bool,
    /// Where the replicas go.
    pub placement: Option<Placement>,
    /// Application-defined metadata of the bucket.
    pub metadata: HashMap<String, String>,
}

impl Default for Config {
    /// The defaults with an empty bucket name (which creating refuses).
    fn default() -> Self {
        Config {
            bucket: String::new(),
            description: None,
            ttl: Duration::ZERO,
            max_bytes: 0,
            storage: StorageType::File,
            replicas: 1,
            compression: false,
            placement: None,
            metadata: HashMap::new(),
        }
    }
}

impl Config {
    /// A configuration for bucket `bucket` with the defaults.
    pub fn new(bucket: impl Into<String>) -> Self {
        Config {
            bucket: bucket.into(),
            ..Config::default()
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets how long objects are kept.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the bucket's maximum size in bytes.
    pub fn max_bytes(mut self, max_bytes: i64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets the storage type.
    pub fn storage(mut self, storage: StorageType) -> Self {
        self.storage = storage;
        self
    }

    /// Sets the number of replicas.
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas;
        self
    }

    /// Turns S2 compression on or off.
    pub fn compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }

    /// Sets the placement.
    pub fn placement(mut self, placement: Placement) -> Self {
        self.placement = Some(placement);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The stream name of bucket `bucket`.
    pub(crate) fn stream_name(bucket: &str) -> String {
        let mut s = String::with_capacity(STREAM_PREFIX.len() + bucket.len());
        s.push_str(STREAM_PREFIX);
        s.push_str(bucket);
        s
    }

    /// Checks the configuration and builds the backing stream's configuration: `OBJ_<bucket>`
    /// capturing `$O.<bucket>.C.>` and `$O.<bucket>.M.>`, discard new, rollup headers allowed
    /// (the meta message rolls up its subject), direct get allowed.
    pub fn to_stream_config(&self) -> Result<StreamConfig> {
        validate_bucket(&self.bucket)?;
        let b = &self.bucket;
        let mut sc = StreamConfig::new(Self::stream_name(b));
        sc.description = self.description.clone();
        sc.subjects = Some(vec![format!("$O.{b}.C.>"), format!("$O.{b}.M.>")]);
        if !self.ttl.is_zero() {
            sc.max_age = Some(self.ttl);
        }
        sc.max_bytes = Some(if self.max_bytes <= 0 {
            -1
        } else {
            self.max_bytes
        });
        sc.storage = Some(self.storage.clone());
        sc.num_replicas = Some(self.replicas.max(1));
        sc.compression = Some(if self.compression {
            StoreCompression::S2
        } else {
            StoreCompression::None
        });
        sc.placement = self.placement.clone();
        if !self.metadata.is_empty() {
            sc.metadata = Some(self.metadata.clone());
        }
        sc.discard = Some(DiscardPolicy::New);
        sc.allow_rollup_hdrs = Some(true);
        sc.allow_direct = Some(true);
        Ok(sc)
    }

    /// Rebuilds a bucket configuration from its stream's configuration (the server's own
    /// `_nats.*` metadata entries are left out).
    pub fn from_stream_config(sc: &StreamConfig) -> Config {
        let bucket = sc
            .name
            .strip_prefix(STREAM_PREFIX)
            .unwrap_or(&sc.name)
            .to_string();
        let mut metadata = sc.metadata.clone().unwrap_or_default();
        metadata.retain(|k, _| !k.starts_with("_nats."));
        Config {
            bucket,
            description: sc.description.clone(),
            ttl: sc.max_age.unwrap_or_default(),
            max_bytes: sc.max_bytes.filter(|v| *v > 0).unwrap_or(0),
            storage: sc.storage.clone().unwrap_or(StorageType::File),
            replicas: sc.num_replicas.unwrap_or(1),
            compression: sc
                .compression
                .as_ref()
                .is_some_and(|c| *c != StoreCompression::None),
            placement: sc.placement.clone(),
            metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_map_to_the_object_stream() {
        let v = serde_json::to_value(Config::new("B").to_stream_config().unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"name":"OBJ_B","subjects":["$O.B.C.>","$O.B.M.>"],"max_bytes":-1,
                "discard":"new","storage":"file","num_replicas":1,"compression":"none",
                "allow_direct":true,"allow_rollup_hdrs":true})
        );
        assert!(
            Config::new("a.b")
                .to_stream_config()
                .unwrap_err()
                .is_invalid_bucket_name()
        );
    }

    #[test]
    fn every_option_and_back() {
        let c = Config::new("B")
            .description("d")
            .ttl(Duration::from_secs(60))
            .max_bytes(1 << 20)
            .storage(StorageType::Memory)
            .replicas(3)
            .compression(true)
            .placement(Placement {
                cluster: Some("c".into()),
                ..Placement::default()
            })
            .metadata("owner", "me");
        let sc = c.to_stream_config().unwrap();
        assert_eq!(sc.max_age, Some(Duration::from_secs(60)));
        assert_eq!(sc.compression, Some(StoreCompression::S2));
        assert_eq!(sc.num_replicas, Some(3));
        assert_eq!(Config::from_stream_config(&sc), c);
    }
}
