//! Bucket configuration and its mapping to the backing stream's configuration (spec §5.2,
//! ADR-8, ADR-48, ADR-57).

use std::collections::HashMap;
use std::time::Duration;

use jetstream::{
    DiscardPolicy, Placement, Republish, RetentionPolicy, StorageType, StoreCompression,
    StreamConfig, StreamSource, SubjectTransform,
};

use crate::error::{Error, ErrorKind, Result};
use crate::name::validate_bucket;

/// The most history a bucket can keep per key.
pub const MAX_HISTORY: u32 = 64;

/// The duplicate window of a bucket without a TTL, and the largest one of any bucket.
const MAX_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Stream names of buckets start with this.
pub(crate) const STREAM_PREFIX: &str = "KV_";

/// The configuration of a bucket.
///
/// Unset options keep the Key-Value defaults: one value per key, no TTL, no size limits,
/// file storage, one replica, no compression, no limit markers.
///
/// ```
/// use std::time::Duration;
/// use gnat_kv::Config;
/// let config = Config::new("profiles")
///     .history(5)
///     .ttl(Duration::from_secs(3600))
///     .max_value_size(1024)
///     .description("user profiles");
/// assert_eq!(config.history, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The bucket's name (`[a-zA-Z0-9_-]+`); the stream is `KV_<bucket>`.
    pub bucket: String,
    /// A description.
    pub description: Option<String>,
    /// Values kept per key, 1 to 64 (0 means 1).
    pub history: u32,
    /// How long a value is kept (zero: forever).
    pub ttl: Duration,
    /// The bucket's maximum size in bytes (0 or negative: unlimited).
    pub max_bytes: i64,
    /// The largest value accepted, in bytes (0 or negative: unlimited).
    pub max_value_size: i32,
    /// File (default) or memory storage.
    pub storage: StorageType,
    /// Number of replicas (0 means 1).
    pub replicas: u32,
    /// S2-compress the stored data.
    pub compression: bool,
    /// Where the replicas go.
    pub placement: Option<Placement>,
    /// Republish every change to another subject.
    pub republish: Option<Republish>,
    /// Application-defined metadata.
    pub metadata: HashMap<String, String>,
    /// Leave a limit marker (a purge entry) with this TTL when a key's last value expires or
    /// is removed by a limit, and accept per-key TTLs (ADR-48). Zero: off. Needs an account
    /// with JetStream API level 1 or more; once on, it cannot be turned off.
    pub limit_marker_ttl: Duration,
    /// Make this bucket a read replica of another bucket (its name, with or without `KV_`).
    pub mirror: Option<StreamSource>,
    /// Copy the keys of other buckets into this one (names with or without `KV_`).
    pub sources: Vec<StreamSource>,
    /// Accept atomic multi-key transactions ([`Store::transaction`](crate::Store::transaction)):
    /// the stream's `allow_atomic` (ADR-50, nats-server 2.12+). A bucket without it gets it
    /// on its first transaction.
    pub allow_transactions: bool,
}

impl Default for Config {
    /// The defaults with an empty bucket name (which creating refuses).
    fn default() -> Self {
        Config {
            bucket: String::new(),
            description: None,
            history: 1,
            ttl: Duration::ZERO,
            max_bytes: 0,
            max_value_size: 0,
            storage: StorageType::File,
            replicas: 1,
            compression: false,
            placement: None,
            republish: None,
            metadata: HashMap::new(),
            limit_marker_ttl: Duration::ZERO,
            mirror: None,
            sources: Vec::new(),
            allow_transactions: false,
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

    /// Sets how many values are kept per key (1 to 64; more is refused when the bucket is
    /// created, before anything is sent).
    pub fn history(mut self, history: u32) -> Self {
        self.history = history;
        self
    }

    /// Sets how long values are kept (zero: forever).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the bucket's maximum size in bytes.
    pub fn max_bytes(mut self, max_bytes: i64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets the largest value accepted, in bytes.
    pub fn max_value_size(mut self, max_value_size: i32) -> Self {
        self.max_value_size = max_value_size;
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

    /// Sets republishing.
    pub fn republish(mut self, republish: Republish) -> Self {
        self.republish = Some(republish);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Turns on limit markers with this TTL (and per-key TTLs); see
    /// [`Config::limit_marker_ttl`](struct@Config#structfield.limit_marker_ttl).
    pub fn limit_marker_ttl(mut self, ttl: Duration) -> Self {
        self.limit_marker_ttl = ttl;
        self
    }

    /// Makes this bucket a mirror of another.
    pub fn mirror(mut self, origin: StreamSource) -> Self {
        self.mirror = Some(origin);
        self
    }

    /// Adds a source bucket.
    pub fn source(mut self, source: StreamSource) -> Self {
        self.sources.push(source);
        self
    }

    /// The stream name of bucket `bucket`.
    pub(crate) fn stream_name(bucket: &str) -> String {
        let mut s = String::with_capacity(STREAM_PREFIX.len() + bucket.len());
        s.push_str(STREAM_PREFIX);
        s.push_str(bucket);
        s
    }

    /// Accept atomic multi-key transactions from the start (`allow_atomic`, ADR-50).
    pub fn allow_transactions(mut self, on: bool) -> Self {
        self.allow_transactions = on;
        self
    }

    /// Checks the configuration and builds the backing stream's configuration (spec §5.2).
    pub fn to_stream_config(&self) -> Result<StreamConfig> {
        validate_bucket(&self.bucket)?;
        if self.history > MAX_HISTORY {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "history {} is above the maximum of {MAX_HISTORY}",
                    self.history
                ),
            ));
        }
        let mut sc = StreamConfig::new(Self::stream_name(&self.bucket));
        sc.description = self.description.clone();
        sc.max_msgs_per_subject = Some(i64::from(self.history.max(1)));
        if !self.ttl.is_zero() {
            sc.max_age = Some(self.ttl);
        }
        sc.duplicate_window = Some(if self.ttl.is_zero() {
            MAX_DUPLICATE_WINDOW
        } else {
            self.ttl.min(MAX_DUPLICATE_WINDOW)
        });
        sc.max_bytes = Some(if self.max_bytes <= 0 {
            -1
        } else {
            self.max_bytes
        });
        sc.max_msg_size = Some(if self.max_value_size <= 0 {
            -1
        } else {
            self.max_value_size
        });
        sc.storage = Some(self.storage.clone());
        sc.num_replicas = Some(self.replicas.max(1));
        sc.compression = Some(if self.compression {
            StoreCompression::S2
        } else {
            StoreCompression::None
        });
        sc.placement = self.placement.clone();
        sc.republish = self.republish.clone();
        if !self.metadata.is_empty() {
            sc.metadata = Some(self.metadata.clone());
        }
        if !self.limit_marker_ttl.is_zero() {
            sc.allow_msg_ttl = Some(true);
            sc.subject_delete_marker_ttl = Some(self.limit_marker_ttl);
        }
        sc.retention = Some(RetentionPolicy::Limits);
        sc.discard = Some(DiscardPolicy::New);
        sc.allow_rollup_hdrs = Some(true);
        sc.deny_delete = Some(true);
        sc.deny_purge = Some(false);
        sc.allow_direct = Some(true);
        if self.allow_transactions {
            sc.allow_atomic = Some(true);
        }
        sc.max_msgs = Some(-1);
        sc.max_consumers = Some(-1);

        if let Some(mirror) = &self.mirror {
            let mut m = mirror.clone();
            if !m.name.starts_with(STREAM_PREFIX) {
                m.name = Self::stream_name(&m.name);
            }
            sc.mirror = Some(m);
            sc.mirror_direct = Some(true);
        } else {
            sc.subjects = Some(vec![format!("$KV.{}.>", self.bucket)]);
            if !self.sources.is_empty() {
                let sources = self
                    .sources
                    .iter()
                    .map(|s| self.map_source(s))
                    .collect::<Vec<_>>();
                sc.sources = Some(sources);
            }
        }
        Ok(sc)
    }

    /// A source without transforms reads bucket `<name>` (stream `KV_<name>`) and maps its
    /// keys into this bucket; one with transforms is passed through untouched (ADR-57).
    fn map_source(&self, source: &StreamSource) -> StreamSource {
        if source
            .subject_transforms
            .as_ref()
            .is_some_and(|t| !t.is_empty())
        {
            return source.clone();
        }
        let mut s = source.clone();
        let origin_bucket = s
            .name
            .strip_prefix(STREAM_PREFIX)
            .unwrap_or(&s.name)
            .to_string();
        if !s.name.starts_with(STREAM_PREFIX) {
            s.name = Self::stream_name(&s.name);
        }
        // An external source of a bucket with our own name keeps its subjects as they are.
        let same_external = s.external.is_some() && origin_bucket == self.bucket;
        if !same_external {
            s.subject_transforms = Some(vec![SubjectTransform::new(
                format!("$KV.{origin_bucket}.>"),
                format!("$KV.{}.>", self.bucket),
            )]);
        }
        s
    }

    /// Rebuilds a bucket configuration from its stream's configuration.
    pub fn from_stream_config(sc: &StreamConfig) -> Config {
        let bucket = sc
            .name
            .strip_prefix(STREAM_PREFIX)
            .unwrap_or(&sc.name)
            .to_string();
        let positive = |v: Option<i64>| v.filter(|v| *v > 0).unwrap_or(0);
        Config {
            bucket,
            description: sc.description.clone(),
            history: u32::try_from(positive(sc.max_msgs_per_subject)).unwrap_or(u32::MAX),
            ttl: sc.max_age.unwrap_or_default(),
            max_bytes: positive(sc.max_bytes),
            max_value_size: sc.max_msg_size.filter(|v| *v > 0).unwrap_or(0),
            storage: sc.storage.clone().unwrap_or(StorageType::File),
            replicas: sc.num_replicas.unwrap_or(1),
            compression: sc
                .compression
                .as_ref()
                .is_some_and(|c| *c != StoreCompression::None),
            placement: sc.placement.clone(),
            republish: sc.republish.clone(),
            metadata: sc.metadata.clone().unwrap_or_default(),
            limit_marker_ttl: sc.subject_delete_marker_ttl.unwrap_or_default(),
            mirror: sc.mirror.clone(),
            sources: sc.sources.clone().unwrap_or_default(),
            allow_transactions: sc.allow_atomic == Some(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wire(config: &Config) -> serde_json::Value {
        serde_json::to_value(config.to_stream_config().unwrap()).unwrap()
    }

    #[test]
    fn defaults_map_to_the_kv_stream() {
        // Spec §6 item 36 (and §5.2).
        let v = wire(&Config::new("B"));
        assert_eq!(
            v,
            json!({"name":"KV_B","subjects":["$KV.B.>"],"retention":"limits",
                "max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_msgs_per_subject":1,
                "max_msg_size":-1,"discard":"new","storage":"file","num_replicas":1,
                "duplicate_window":120_000_000_000i64,"compression":"none",
                "allow_direct":true,"deny_delete":true,"deny_purge":false,
                "allow_rollup_hdrs":true})
        );
    }

    #[test]
    fn history_bounds() {
        // Spec §6 item 35.
        let c = Config::new("B").history(0).to_stream_config().unwrap();
        assert_eq!(c.max_msgs_per_subject, Some(1));
        let c = Config::new("B").history(64).to_stream_config().unwrap();
        assert_eq!(c.max_msgs_per_subject, Some(64));
        let e = Config::new("B").history(65).to_stream_config().unwrap_err();
        assert!(e.is_invalid_config());
        assert!(
            Config::new("a.b")
                .to_stream_config()
                .unwrap_err()
                .is_invalid_bucket_name()
        );
    }

    #[test]
    fn duplicate_window_follows_the_ttl() {
        // Spec §6 item 37.
        let window = |ttl| {
            Config::new("B")
                .ttl(ttl)
                .to_stream_config()
                .unwrap()
                .duplicate_window
        };
        assert_eq!(
            window(Duration::from_secs(30)),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            window(Duration::from_secs(3600)),
            Some(Duration::from_secs(120))
        );
        assert_eq!(window(Duration::ZERO), Some(Duration::from_secs(120)));
    }

    #[test]
    fn every_option() {
        let c = Config::new("B")
            .description("d")
            .history(5)
            .ttl(Duration::from_millis(1500))
            .max_bytes(1 << 20)
            .max_value_size(1024)
            .storage(StorageType::Memory)
            .replicas(3)
            .compression(true)
            .placement(Placement {
                cluster: Some("c".into()),
                ..Placement::default()
            })
            .republish(Republish {
                src: Some("$KV.B.>".into()),
                dest: "repub.>".into(),
                headers_only: Some(true),
            })
            .metadata("owner", "me")
            .limit_marker_ttl(Duration::from_secs(5));
        let sc = c.to_stream_config().unwrap();
        assert_eq!(sc.description.as_deref(), Some("d"));
        assert_eq!(sc.max_age, Some(Duration::from_millis(1500)));
        assert_eq!(sc.duplicate_window, Some(Duration::from_millis(1500)));
        assert_eq!(sc.max_bytes, Some(1 << 20));
        assert_eq!(sc.max_msg_size, Some(1024));
        assert_eq!(sc.storage, Some(StorageType::Memory));
        assert_eq!(sc.num_replicas, Some(3));
        assert_eq!(sc.compression, Some(StoreCompression::S2));
        assert_eq!(sc.placement.as_ref().unwrap().cluster.as_deref(), Some("c"));
        assert_eq!(sc.republish.as_ref().unwrap().dest, "repub.>");
        assert_eq!(sc.metadata.as_ref().unwrap()["owner"], "me");
        assert_eq!(sc.allow_msg_ttl, Some(true));
        assert_eq!(sc.subject_delete_marker_ttl, Some(Duration::from_secs(5)));
        // And back.
        let back = Config::from_stream_config(&sc);
        assert_eq!(back, c);
    }

    #[test]
    fn mirror_and_sources() {
        // Spec §6 items 67 and 68.
        let sc = Config::new("M")
            .mirror(StreamSource::new("O"))
            .to_stream_config()
            .unwrap();
        assert_eq!(sc.subjects, None);
        assert_eq!(sc.mirror_direct, Some(true));
        assert_eq!(sc.mirror.unwrap().name, "KV_O");
        let sc = Config::new("M")
            .mirror(StreamSource::new("KV_O"))
            .to_stream_config()
            .unwrap();
        assert_eq!(sc.mirror.unwrap().name, "KV_O");

        let sc = Config::new("B")
            .source(StreamSource::new("O"))
            .source(StreamSource::new("KV_P"))
            .source(StreamSource::new("X").subject_transform("$KV.X.a.>", "$KV.B.a.>"))
            .source(StreamSource::new("B").external("$JS.leaf.API", None))
            .to_stream_config()
            .unwrap();
        assert_eq!(sc.subjects, Some(vec!["$KV.B.>".to_string()]));
        let v = serde_json::to_value(sc.sources.unwrap()).unwrap();
        assert_eq!(
            v,
            json!([
                {"name":"KV_O","subject_transforms":[{"src":"$KV.O.>","dest":"$KV.B.>"}]},
                {"name":"KV_P","subject_transforms":[{"src":"$KV.P.>","dest":"$KV.B.>"}]},
                {"name":"X","subject_transforms":[{"src":"$KV.X.a.>","dest":"$KV.B.a.>"}]},
                {"name":"KV_B","external":{"api":"$JS.leaf.API"}}
            ])
        );
    }
}
