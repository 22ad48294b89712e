//! Streams: configuration (every field of nats-server 2.10–2.15, each optional so that unset
//! fields are left to the server's defaults), information and state, and management on
//! [`Context`] — create, update, delete, info (with paged subject details), names and lists
//! (paged to the end), purge.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize};

use crate::context::{Context, decode_reply, validate_token};
use crate::error::{ApiError, Error, ErrorKind, Result};
use crate::time::Timestamp;

wire_enum! {
    /// How a stream decides when a message may be removed.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub enum RetentionPolicy {
        /// Keep messages until a limit (count, bytes, age) removes them.
        Limits = "limits",
        /// Keep messages while a consumer has not acknowledged them.
        Interest = "interest",
        /// Remove each message once one consumer acknowledged it.
        WorkQueue = "workqueue",
    }
}

wire_enum! {
    /// What a full stream does with a new message.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub enum DiscardPolicy {
        /// Remove the oldest messages to make room.
        Old = "old",
        /// Refuse the new message.
        New = "new",
    }
}

wire_enum! {
    /// Where a stream keeps its messages.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub enum StorageType {
        /// On disk.
        File = "file",
        /// In memory.
        Memory = "memory",
    }
}

wire_enum! {
    /// On-disk compression of a file stream.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub enum StoreCompression {
        /// No compression.
        None = "none",
        /// S2 compression.
        S2 = "s2",
    }
}

wire_enum! {
    /// How a stream persists writes (nats-server 2.12+).
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub enum PersistMode {
        /// The server's default (synchronous per its `sync` settings).
        Default = "default",
        /// Asynchronous persistence (file storage, R1 only).
        Async = "async",
    }
}

/// Where a stream's replicas are placed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The cluster to place the stream in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Server tags every replica's server must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// The preferred leader (server name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred: Option<String>,
}

/// A subject mapping from `src` to `dest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectTransform {
    /// The subjects to match (may contain wildcards).
    #[serde(default)]
    pub src: String,
    /// The destination pattern.
    #[serde(default)]
    pub dest: String,
}

impl SubjectTransform {
    /// A transform from `src` to `dest`.
    pub fn new(src: impl Into<String>, dest: impl Into<String>) -> Self {
        SubjectTransform {
            src: src.into(),
            dest: dest.into(),
        }
    }
}

/// Republishes stored messages to another subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Republish {
    /// The stream subjects to republish (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// The destination pattern.
    #[serde(default)]
    pub dest: String,
    /// Republish only the headers (with `Nats-Msg-Size`), not the payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers_only: Option<bool>,
}

/// Access to a stream in another account or domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalStream {
    /// The API prefix of the other account or domain (`$JS.<domain>.API`).
    #[serde(default)]
    pub api: String,
    /// The delivery prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver: Option<String>,
}

/// A durable consumer used for sourcing (nats-server 2.14+).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSourceConsumer {
    /// The consumer's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its delivery subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_subject: Option<String>,
}

/// A stream to mirror or source from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSource {
    /// The origin stream's name.
    #[serde(default)]
    pub name: String,
    /// Start at this sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_seq: Option<u64>,
    /// Start at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<Timestamp>,
    /// Only messages on these subjects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_subject: Option<String>,
    /// Filters with subject transforms (exclusive with `filter_subject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_transforms: Option<Vec<SubjectTransform>>,
    /// The origin is in another account or domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    /// Source through this durable consumer (nats-server 2.14+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<StreamSourceConsumer>,
}

impl StreamSource {
    /// A source (or mirror) of stream `name`.
    pub fn new(name: impl Into<String>) -> Self {
        StreamSource {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Only messages on `subject`.
    pub fn filter_subject(mut self, subject: impl Into<String>) -> Self {
        self.filter_subject = Some(subject.into());
        self
    }

    /// Adds a subject transform (filter and mapping).
    pub fn subject_transform(mut self, src: impl Into<String>, dest: impl Into<String>) -> Self {
        self.subject_transforms
            .get_or_insert_with(Vec::new)
            .push(SubjectTransform::new(src, dest));
        self
    }

    /// Start at sequence `seq`.
    pub fn start_seq(mut self, seq: u64) -> Self {
        self.opt_start_seq = Some(seq);
        self
    }

    /// Start at time `time`.
    pub fn start_time(mut self, time: Timestamp) -> Self {
        self.opt_start_time = Some(time);
        self
    }

    /// The origin is in JetStream domain `domain`: its API prefix is `$JS.<domain>.API`
    /// (what nats.go's `StreamSource.Domain` means).
    pub fn domain(self, domain: impl AsRef<str>) -> Self {
        let api = format!("$JS.{}.API", domain.as_ref());
        self.external(api, None)
    }

    /// The origin lives behind API prefix `api` (and optionally delivery prefix `deliver`).
    pub fn external(mut self, api: impl Into<String>, deliver: Option<String>) -> Self {
        self.external = Some(ExternalStream {
            api: api.into(),
            deliver,
        });
        self
    }
}

/// Defaults for consumers created on a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamConsumerLimits {
    /// Default (and maximum) inactivity threshold.
    #[serde(
        default,
        with = "crate::time::nanos_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub inactive_threshold: Option<Duration>,
    /// Default (and maximum) ack pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ack_pending: Option<i64>,
}

/// A stream's configuration.
///
/// Every field is optional: unset fields are not sent, so the server applies its defaults,
/// and a configuration read back from the server (every field set) can be sent again
/// unchanged. Durations travel as nanoseconds; a zero duration from the server reads as
/// `None`.
///
/// ```
/// use std::time::Duration;
/// use gnat_jetstream::{StorageType, StreamConfig};
/// let config = StreamConfig::new("ORDERS")
///     .subjects(["orders.>"])
///     .max_age(Duration::from_secs(3600))
///     .storage(StorageType::Memory);
/// assert_eq!(config.subjects.as_deref(), Some(&["orders.>".to_string()][..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamConfig {
    /// The stream's name (one subject token).
    #[serde(default)]
    pub name: String,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The subjects the stream captures (default: its name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects: Option<Vec<String>>,
    /// Retention policy (default limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionPolicy>,
    /// Maximum number of consumers (-1 unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_consumers: Option<i64>,
    /// Maximum number of messages (-1 unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_msgs: Option<i64>,
    /// Maximum total size in bytes (-1 unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<i64>,
    /// Maximum age of a message.
    #[serde(
        default,
        with = "crate::time::nanos_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_age: Option<Duration>,
    /// Maximum number of messages per subject (-1 unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_msgs_per_subject: Option<i64>,
    /// Largest message accepted, in bytes (-1 unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_msg_size: Option<i32>,
    /// What to do when a limit is reached (default old).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discard: Option<DiscardPolicy>,
    /// With discard new and `max_msgs_per_subject`: refuse per subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discard_new_per_subject: Option<bool>,
    /// Storage type (default file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageType>,
    /// Number of replicas (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_replicas: Option<u32>,
    /// Do not acknowledge publishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_ack: Option<bool>,
    /// The template that owns the stream (templates were removed in nats-server 2.14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_owner: Option<String>,
    /// Window for `Nats-Msg-Id` de-duplication (server default 2 minutes).
    #[serde(
        default,
        with = "crate::time::nanos_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub duplicate_window: Option<Duration>,
    /// Replica placement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Mirror another stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    /// Source from other streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<StreamSource>>,
    /// Compression (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<StoreCompression>,
    /// The first sequence of a new stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seq: Option<u64>,
    /// Transform incoming subjects before storing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    /// Republish stored messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub republish: Option<Republish>,
    /// Allow direct get (`$JS.API.DIRECT.GET`) on every replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_direct: Option<bool>,
    /// A mirror answers direct gets for its origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_direct: Option<bool>,
    /// Seal the stream: no more writes, deletes or purges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<bool>,
    /// Refuse message deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_delete: Option<bool>,
    /// Refuse purges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_purge: Option<bool>,
    /// Accept `Nats-Rollup` headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_rollup_hdrs: Option<bool>,
    /// Defaults for consumers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_limits: Option<StreamConsumerLimits>,
    /// Accept per-message TTLs (`Nats-TTL`, nats-server 2.11+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_msg_ttl: Option<bool>,
    /// Leave delete markers with this TTL when limits remove a subject's last message
    /// (nats-server 2.11+).
    #[serde(
        default,
        with = "crate::time::nanos_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub subject_delete_marker_ttl: Option<Duration>,
    /// The stream holds counters (`Nats-Incr`, nats-server 2.12+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_msg_counter: Option<bool>,
    /// Accept atomic batch publishes (nats-server 2.12+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_atomic: Option<bool>,
    /// Accept scheduled messages (nats-server 2.12+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_msg_schedules: Option<bool>,
    /// Persistence mode (nats-server 2.12+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persist_mode: Option<PersistMode>,
    /// Accept fast batch publishes (nats-server 2.14+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_batched: Option<bool>,
    /// Application-defined metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<HashMap<String, String>>,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Self {
                self.$name = Some(value);
                self
            }
        )*
    };
}

impl StreamConfig {
    /// A configuration with only a name; everything else is left to the server.
    pub fn new(name: impl Into<String>) -> Self {
        StreamConfig {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the subjects.
    pub fn subjects<I, S>(mut self, subjects: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subjects = Some(subjects.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a source.
    pub fn source(mut self, source: StreamSource) -> Self {
        self.sources.get_or_insert_with(Vec::new).push(source);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata_entry(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata
            .get_or_insert_with(HashMap::new)
            .insert(key.into(), value.into());
        self
    }

    setters! {
        /// Sets the retention policy.
        retention: RetentionPolicy;
        /// Sets the maximum number of consumers.
        max_consumers: i64;
        /// Sets the maximum number of messages.
        max_msgs: i64;
        /// Sets the maximum size in bytes.
        max_bytes: i64;
        /// Sets the maximum message age.
        max_age: Duration;
        /// Sets the maximum number of messages per subject.
        max_msgs_per_subject: i64;
        /// Sets the largest message size.
        max_msg_size: i32;
        /// Sets the discard policy.
        discard: DiscardPolicy;
        /// Sets discard-new per subject.
        discard_new_per_subject: bool;
        /// Sets the storage type.
        storage: StorageType;
        /// Sets the number of replicas.
        num_replicas: u32;
        /// Sets no-ack.
        no_ack: bool;
        /// Sets the de-duplication window.
        duplicate_window: Duration;
        /// Sets the placement.
        placement: Placement;
        /// Sets the mirror.
        mirror: StreamSource;
        /// Sets the sources.
        sources: Vec<StreamSource>;
        /// Sets the compression.
        compression: StoreCompression;
        /// Sets the first sequence.
        first_seq: u64;
        /// Sets the input subject transform.
        subject_transform: SubjectTransform;
        /// Sets republishing.
        republish: Republish;
        /// Allows direct get.
        allow_direct: bool;
        /// Lets a mirror answer direct gets for its origin.
        mirror_direct: bool;
        /// Seals the stream.
        sealed: bool;
        /// Refuses message deletes.
        deny_delete: bool;
        /// Refuses purges.
        deny_purge: bool;
        /// Accepts rollup headers.
        allow_rollup_hdrs: bool;
        /// Sets consumer defaults.
        consumer_limits: StreamConsumerLimits;
        /// Accepts per-message TTLs.
        allow_msg_ttl: bool;
        /// Sets the delete-marker TTL.
        subject_delete_marker_ttl: Duration;
        /// Makes a counter stream.
        allow_msg_counter: bool;
        /// Accepts atomic batch publishes.
        allow_atomic: bool;
        /// Accepts scheduled messages.
        allow_msg_schedules: bool;
        /// Sets the persistence mode.
        persist_mode: PersistMode;
        /// Accepts fast batch publishes.
        allow_batched: bool;
        /// Sets the metadata.
        metadata: HashMap<String, String>;
    }
}

impl From<&str> for StreamConfig {
    fn from(name: &str) -> Self {
        StreamConfig::new(name)
    }
}

/// A stream's configuration, state and placement, as the server reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The configuration, with the server's defaults filled in.
    pub config: StreamConfig,
    /// When the stream was created.
    pub created: Timestamp,
    /// Messages, bytes, sequences.
    pub state: StreamState,
    /// Replication (clustered servers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// The mirror's progress, for a mirror.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSourceInfo>,
    /// Each source's progress.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sources: Vec<StreamSourceInfo>,
    /// Mirrors of this stream that can answer reads.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub alternates: Vec<StreamAlternate>,
    /// The domain of the server that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// When the server gathered this information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<Timestamp>,
}

/// A stream's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamState {
    /// Messages stored.
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// The first sequence stored.
    pub first_seq: u64,
    /// When the first message was stored (year 1 when empty).
    pub first_ts: Timestamp,
    /// The last sequence assigned.
    pub last_seq: u64,
    /// When the last message was stored.
    pub last_ts: Timestamp,
    /// Deleted sequences between first and last.
    pub num_deleted: u64,
    /// The deleted sequences (only when asked for details).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Vec<u64>>,
    /// Data lost to corruption, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<LostStreamData>,
    /// Distinct subjects stored.
    pub num_subjects: u64,
    /// Messages per subject (only with [`Context::stream_info_with_subjects`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<HashMap<String, u64>>,
    /// Consumers on the stream.
    pub consumer_count: u64,
}

/// Messages a stream lost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LostStreamData {
    /// The lost sequences.
    #[serde(deserialize_with = "null_as_default")]
    pub msgs: Vec<u64>,
    /// The lost bytes.
    pub bytes: u64,
}

/// Replication of a stream (or consumer) in a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClusterInfo {
    /// The cluster's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The RAFT group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raft_group: Option<String>,
    /// The leader's server name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// Since when the leader leads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader_since: Option<Timestamp>,
    /// The other replicas.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub replicas: Vec<PeerInfo>,
}

/// One replica of a stream (or consumer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PeerInfo {
    /// The server's name.
    pub name: String,
    /// Caught up with the leader.
    pub current: bool,
    /// Not reachable.
    pub offline: bool,
    /// Time since the last contact.
    #[serde(with = "crate::time::nanos")]
    pub active: Duration,
    /// Operations behind the leader.
    pub lag: u64,
    /// The peer id.
    pub peer: String,
}

/// Progress of a mirror or source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamSourceInfo {
    /// The origin stream.
    pub name: String,
    /// The origin's account or domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    /// Messages behind the origin.
    pub lag: u64,
    /// Time since the last activity (`None`: never).
    #[serde(
        with = "crate::time::nanos_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub active: Option<Duration>,
    /// Why sourcing fails, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// The subject filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_subject: Option<String>,
    /// The subject transforms.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subject_transforms: Vec<SubjectTransform>,
}

/// A mirror that can answer reads for a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamAlternate {
    /// The mirror's name.
    pub name: String,
    /// Its domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Its cluster.
    pub cluster: String,
}

/// Which messages [`Context::purge_stream`] removes; the default removes all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeRequest {
    /// Only messages on these subjects (wildcards allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Only messages below this sequence (exclusive with `keep`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Keep this many of the newest messages (exclusive with `seq`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep: Option<u64>,
}

impl PurgeRequest {
    /// Purge everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only messages on `subject`.
    pub fn filter(mut self, subject: impl Into<String>) -> Self {
        self.filter = Some(subject.into());
        self
    }

    /// Only messages with a sequence below `seq`.
    pub fn seq(mut self, seq: u64) -> Self {
        self.seq = Some(seq);
        self
    }

    /// Keep the newest `n` messages.
    pub fn keep(mut self, n: u64) -> Self {
        self.keep = Some(n);
        self
    }
}

/// Deserializes `null` (Go's nil slice or map) as the type's default.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The paging fields of a list reply.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Page {
    total: usize,
}

/// Fetches pages from offset 0 until `total` items were received or a page is empty.
/// `fetch(offset)` returns the page's items and the reply's `total`.
async fn collect_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, usize)>>,
{
    let mut out = Vec::new();
    loop {
        let (items, total) = fetch(out.len()).await?;
        if items.is_empty() {
            return Ok(out);
        }
        out.extend(items);
        if out.len() >= total {
            return Ok(out);
        }
    }
}

#[derive(Serialize)]
struct ListRequest<'a> {
    offset: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
}

#[derive(Deserialize)]
struct NamesReply {
    #[serde(default, deserialize_with = "null_as_default")]
    streams: Vec<String>,
    /// The paging total (so the page is read once more, not twice, after the error probe).
    #[serde(default)]
    total: usize,
}

#[derive(Deserialize)]
struct ListReply {
    #[serde(default, deserialize_with = "null_as_default")]
    streams: Vec<StreamInfo>,
    /// The paging total.
    #[serde(default)]
    total: usize,
}

/// `{"success": true}`, the reply of deletes.
#[derive(Deserialize)]
pub(crate) struct SuccessReply {
    #[serde(default)]
    pub(crate) success: bool,
}

#[derive(Deserialize)]
struct PurgeReply {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    purged: u64,
}

#[derive(Serialize)]
struct InfoRequest<'a> {
    subjects_filter: &'a str,
    offset: usize,
}

/// Checks a subject filter (wildcards allowed) given by the user.
pub(crate) fn check_subject_filter(subject: &str) -> Result<()> {
    client::proto::validate_subscribe_subject(subject).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("subject filter {subject:?}: {e}"),
        )
    })
}

impl Context {
    /// Creates a stream. Fails with [`Error::is_stream_name_in_use`] (10058) when a stream of
    /// that name exists with a different configuration; an identical one succeeds.
    pub async fn create_stream(&self, config: impl Borrow<StreamConfig>) -> Result<StreamInfo> {
        let config = config.borrow();
        validate_token("stream", &config.name)?;
        self.request(&format!("STREAM.CREATE.{}", config.name), config)
            .await
    }

    /// Updates a stream's configuration.
    pub async fn update_stream(&self, config: impl Borrow<StreamConfig>) -> Result<StreamInfo> {
        let config = config.borrow();
        validate_token("stream", &config.name)?;
        self.request(&format!("STREAM.UPDATE.{}", config.name), config)
            .await
    }

    /// Creates a stream, or updates it if it exists with another configuration.
    pub async fn create_or_update_stream(
        &self,
        config: impl Borrow<StreamConfig>,
    ) -> Result<StreamInfo> {
        let config = config.borrow();
        match self.create_stream(config).await {
            Err(e) if e.is_stream_name_in_use() => self.update_stream(config).await,
            other => other,
        }
    }

    /// Deletes a stream and its messages and consumers.
    pub async fn delete_stream(&self, name: &str) -> Result<()> {
        validate_token("stream", name)?;
        let reply: SuccessReply = self
            .request_bytes(&format!("STREAM.DELETE.{name}"), Bytes::new())
            .await?;
        success(reply.success, "stream delete")
    }

    /// The stream's configuration and state. A missing stream fails with
    /// [`Error::is_stream_not_found`] (404, 10059).
    pub async fn stream_info(&self, name: &str) -> Result<StreamInfo> {
        validate_token("stream", name)?;
        self.request_bytes(&format!("STREAM.INFO.{name}"), Bytes::new())
            .await
    }

    /// The stream's information with [`StreamState::subjects`] filled in for every subject
    /// matching `filter` (`>` for all), fetching as many pages as the server needs.
    pub async fn stream_info_with_subjects(&self, name: &str, filter: &str) -> Result<StreamInfo> {
        validate_token("stream", name)?;
        check_subject_filter(filter)?;
        let op = format!("STREAM.INFO.{name}");
        let mut first: Option<StreamInfo> = None;
        let mut subjects = HashMap::new();
        let mut offset = 0usize;
        loop {
            let body = serde_json::to_vec(&InfoRequest {
                subjects_filter: filter,
                offset,
            })?;
            let reply = self.request_raw(&op, Bytes::from(body)).await?;
            let mut info: StreamInfo = decode_reply(&reply.payload)?;
            let total = serde_json::from_slice::<Page>(&reply.payload)?.total;
            let got = info.state.subjects.take().unwrap_or_default();
            let n = got.len();
            subjects.extend(got);
            offset = offset.saturating_add(n);
            let info = first.get_or_insert(info);
            if n == 0 || offset >= total {
                info.state.subjects = Some(subjects);
                return Ok(first.unwrap_or_default());
            }
        }
    }

    /// Every stream's name (paged to the end).
    pub async fn stream_names(&self) -> Result<Vec<String>> {
        self.names(None).await
    }

    /// The names of the streams that capture subjects matching `subject` (paged to the end).
    pub async fn stream_names_matching(&self, subject: &str) -> Result<Vec<String>> {
        check_subject_filter(subject)?;
        self.names(Some(subject)).await
    }

    async fn names(&self, subject: Option<&str>) -> Result<Vec<String>> {
        collect_pages(|offset| async move {
            let reply = self
                .request_raw(
                    "STREAM.NAMES",
                    Bytes::from(serde_json::to_vec(&ListRequest { offset, subject })?),
                )
                .await?;
            let names: NamesReply = decode_reply(&reply.payload)?;
            Ok((names.streams, names.total))
        })
        .await
    }

    /// Every stream's information (paged to the end).
    pub async fn streams(&self) -> Result<Vec<StreamInfo>> {
        self.list(None).await
    }

    /// The information of the streams that capture subjects matching `subject`.
    pub async fn streams_matching(&self, subject: &str) -> Result<Vec<StreamInfo>> {
        check_subject_filter(subject)?;
        self.list(Some(subject)).await
    }

    async fn list(&self, subject: Option<&str>) -> Result<Vec<StreamInfo>> {
        collect_pages(|offset| async move {
            let reply = self
                .request_raw(
                    "STREAM.LIST",
                    Bytes::from(serde_json::to_vec(&ListRequest { offset, subject })?),
                )
                .await?;
            let list: ListReply = decode_reply(&reply.payload)?;
            Ok((list.streams, list.total))
        })
        .await
    }

    /// Purges messages (all, or those `request` selects); returns how many were removed.
    pub async fn purge_stream(&self, name: &str, request: PurgeRequest) -> Result<u64> {
        validate_token("stream", name)?;
        if let Some(filter) = &request.filter {
            check_subject_filter(filter)?;
        }
        let reply: PurgeReply = self
            .request(&format!("STREAM.PURGE.{name}"), &request)
            .await?;
        success(reply.success, "stream purge")?;
        Ok(reply.purged)
    }
}

/// Turns a `{"success":false}` without an error object into an error.
pub(crate) fn success(ok: bool, what: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Decode,
            format!("{what}: the server did not report success"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode<T: serde::de::DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn unset_fields_are_not_sent() {
        let c = StreamConfig::new("S")
            .subjects(["a.>"])
            .max_age(Duration::from_millis(1500))
            .storage(StorageType::Memory)
            .retention(RetentionPolicy::WorkQueue)
            .compression(StoreCompression::S2)
            .persist_mode(PersistMode::Async)
            .source(StreamSource::new("O").subject_transform("x.>", "y.>"));
        let v: serde_json::Value = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name":"S","subjects":["a.>"],"max_age":1_500_000_000i64,
                "storage":"memory","retention":"workqueue","compression":"s2",
                "persist_mode":"async",
                "sources":[{"name":"O","subject_transforms":[{"src":"x.>","dest":"y.>"}]}]})
        );
        let back: StreamConfig = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn info_tolerates_nulls_and_unknown_fields() {
        let info: StreamInfo = decode(
            r#"{"config":{"name":"S","subjects":["S"],"retention":"limits","max_consumers":-1,
            "max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,
            "discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,
            "compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,
            "deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},
            "allow_msg_ttl":false,"future_field":1},
            "created":"2024-05-01T12:00:00.5Z","state":{"messages":0,"bytes":0,"first_seq":0,
            "first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z",
            "consumer_count":0},"sources":null,"cluster":{"leader":"n1"},
            "ts":"2024-05-01T12:00:01Z"}"#,
        );
        assert_eq!(info.config.max_age, None);
        assert_eq!(info.config.duplicate_window, Some(Duration::from_secs(120)));
        assert_eq!(
            info.config.consumer_limits,
            Some(StreamConsumerLimits::default())
        );
        assert!(info.sources.is_empty());
        assert_eq!(info.cluster.unwrap().leader.as_deref(), Some("n1"));
        assert_eq!(info.state.first_ts.to_string(), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn unknown_values_from_newer_servers_decode_and_round_trip() {
        let info: StreamInfo = decode(
            r#"{"config":{"name":"S","subjects":["S"],"retention":"archive",
            "discard":"oldest_first","storage":"tape","compression":"zstd",
            "persist_mode":"lazy","num_replicas":1,"brand_new_option":{"x":[1,2]}},
            "created":"2030-01-01T00:00:00Z","state":{"messages":1,"new_counter":7},
            "future_top_level":"yes"}"#,
        );
        let c = &info.config;
        assert_eq!(
            c.retention,
            Some(RetentionPolicy::Unknown("archive".into()))
        );
        assert_eq!(
            c.discard,
            Some(DiscardPolicy::Unknown("oldest_first".into()))
        );
        assert_eq!(c.storage, Some(StorageType::Unknown("tape".into())));
        assert_eq!(
            c.compression,
            Some(StoreCompression::Unknown("zstd".into()))
        );
        assert_eq!(c.persist_mode, Some(PersistMode::Unknown("lazy".into())));
        assert!(c.storage.as_ref().is_some_and(StorageType::is_unknown));
        assert_eq!(info.state.messages, 1);
        // Sent back (an update), the values are the server's text, unchanged.
        let v = serde_json::to_value(c).unwrap();
        assert_eq!(v["retention"], "archive");
        assert_eq!(v["discard"], "oldest_first");
        assert_eq!(v["storage"], "tape");
        assert_eq!(v["compression"], "zstd");
        assert_eq!(v["persist_mode"], "lazy");
        // Known values still map to their variants, and print as the wire text.
        assert_eq!(StorageType::from("memory"), StorageType::Memory);
        assert_eq!(RetentionPolicy::WorkQueue.to_string(), "workqueue");
        // A wrong JSON type is still an error (it is not a newer value, it is garbage).
        assert!(serde_json::from_str::<StorageType>("5").is_err());
        // Lists of infos survive one unknown value too.
        let list: ListReply = decode(
            r#"{"total":2,"streams":[{"config":{"name":"A","storage":"file"}},
            {"config":{"name":"B","storage":"nvme"}}]}"#,
        );
        assert_eq!(list.streams.len(), 2);
    }

    #[tokio::test]
    async fn pages_until_total() {
        let pages = [vec![1, 2, 3], vec![4, 5, 6], vec![7]];
        let mut calls = Vec::new();
        let got = collect_pages(|offset| {
            calls.push(offset);
            let page = pages.get(offset / 3).cloned().unwrap_or_default();
            async move { Ok((page, 7)) }
        })
        .await
        .unwrap();
        assert_eq!(got, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(calls, vec![0, 3, 6]);

        // A short last page or an empty page ends the loop even if total says otherwise.
        let got: Vec<u32> = collect_pages(|offset| async move {
            Ok((if offset == 0 { vec![1, 2] } else { vec![] }, 10))
        })
        .await
        .unwrap();
        assert_eq!(got, vec![1, 2]);
    }

    #[test]
    fn names_reply_accepts_null() {
        let r: NamesReply = decode(r#"{"total":0,"offset":0,"limit":1024,"streams":null}"#);
        assert!(r.streams.is_empty());
    }
}
