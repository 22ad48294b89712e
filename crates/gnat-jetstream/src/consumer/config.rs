//! Consumer configuration as nats-server 2.10–2.15 reads it (`server/consumer.go`,
//! `ConsumerConfig`), with typed policies and a builder.

use std::collections::HashMap;
use std::time::Duration;

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::time::{Timestamp, nanos_opt};

/// Where a consumer starts in its stream.
///
/// On the wire this is `deliver_policy` plus, for the two "by start" variants, `opt_start_seq`
/// or `opt_start_time` beside it in the same object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DeliverPolicy {
    /// Every message the stream holds (`all`, the server's default).
    #[default]
    All,
    /// Only the last message of the stream (`last`).
    Last,
    /// Only messages stored after the consumer was created (`new`).
    New,
    /// From a stream sequence on (`by_start_sequence` + `opt_start_seq`).
    ByStartSequence {
        /// The first stream sequence to deliver.
        start_sequence: u64,
    },
    /// From the first message stored at or after a time (`by_start_time` + `opt_start_time`).
    ByStartTime {
        /// The start time.
        start_time: Timestamp,
    },
    /// The last message of every subject, then new ones (`last_per_subject`).
    LastPerSubject,
    /// A policy this version does not know (from a newer server), kept verbatim with the
    /// start fields beside it, so that sending the configuration back does not change it.
    Unknown {
        /// The `deliver_policy` text.
        policy: String,
        /// `opt_start_seq`, if the server sent one.
        start_sequence: Option<u64>,
        /// `opt_start_time`, if the server sent one.
        start_time: Option<Timestamp>,
    },
}

impl DeliverPolicy {
    /// The `deliver_policy` string.
    pub fn as_str(&self) -> &str {
        match self {
            DeliverPolicy::All => "all",
            DeliverPolicy::Last => "last",
            DeliverPolicy::New => "new",
            DeliverPolicy::ByStartSequence { .. } => "by_start_sequence",
            DeliverPolicy::ByStartTime { .. } => "by_start_time",
            DeliverPolicy::LastPerSubject => "last_per_subject",
            DeliverPolicy::Unknown { policy, .. } => policy,
        }
    }
}

/// Serialized as a map so it can be flattened into the consumer configuration.
impl Serialize for DeliverPolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("deliver_policy", self.as_str())?;
        match self {
            DeliverPolicy::ByStartSequence { start_sequence } => {
                map.serialize_entry("opt_start_seq", start_sequence)?;
            }
            DeliverPolicy::ByStartTime { start_time } => {
                map.serialize_entry("opt_start_time", start_time)?;
            }
            DeliverPolicy::Unknown {
                start_sequence,
                start_time,
                ..
            } => {
                if let Some(seq) = start_sequence {
                    map.serialize_entry("opt_start_seq", seq)?;
                }
                if let Some(time) = start_time {
                    map.serialize_entry("opt_start_time", time)?;
                }
            }
            _ => {}
        }
        map.end()
    }
}

#[derive(Deserialize)]
struct DeliverWire {
    #[serde(default)]
    deliver_policy: Option<String>,
    #[serde(default)]
    opt_start_seq: Option<u64>,
    #[serde(default)]
    opt_start_time: Option<Timestamp>,
}

impl<'de> Deserialize<'de> for DeliverPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = DeliverWire::deserialize(d)?;
        Ok(match w.deliver_policy.as_deref().unwrap_or("all") {
            "all" | "" => DeliverPolicy::All,
            "last" => DeliverPolicy::Last,
            "new" => DeliverPolicy::New,
            "by_start_sequence" => DeliverPolicy::ByStartSequence {
                start_sequence: w.opt_start_seq.unwrap_or(0),
            },
            "by_start_time" => DeliverPolicy::ByStartTime {
                start_time: w.opt_start_time.unwrap_or_default(),
            },
            "last_per_subject" => DeliverPolicy::LastPerSubject,
            other => DeliverPolicy::Unknown {
                policy: other.to_string(),
                start_sequence: w.opt_start_seq,
                start_time: w.opt_start_time,
            },
        })
    }
}

wire_enum! {
    /// How delivered messages must be acknowledged.
    #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
    pub enum AckPolicy {
        /// No acknowledgements (`none`).
        None = "none",
        /// Acknowledging a message acknowledges every earlier one too (`all`).
        All = "all",
        /// Every message is acknowledged on its own (`explicit`). The default here, as in
        /// the reference clients (the server's own zero value is `none`).
        #[default]
        Explicit = "explicit",
        /// Like `all`, driven by flow-control replies (`flow_control`, newer servers only).
        FlowControl = "flow_control",
    }
}

wire_enum! {
    /// How fast stored messages are replayed.
    #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
    pub enum ReplayPolicy {
        /// As fast as possible (`instant`).
        #[default]
        Instant = "instant",
        /// At the pace they were stored (`original`).
        Original = "original",
    }
}

wire_enum! {
    /// How pull requests of priority groups are served (nats-server 2.11+).
    #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
    pub enum PriorityPolicy {
        /// No priority handling (`none`).
        #[default]
        None = "none",
        /// Requests get messages only past their `min_pending`/`min_ack_pending`
        /// (`overflow`).
        Overflow = "overflow",
        /// One client is pinned and gets everything (`pinned_client`).
        PinnedClient = "pinned_client",
        /// Requests with the lowest `priority` value are served first (`prioritized`, 2.12+).
        Prioritized = "prioritized",
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Serde for a list of durations as integer nanoseconds (the `backoff` field).
mod nanos_vec {
    use super::*;

    pub(super) fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            v.iter()
                .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
        )
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        let v = Option::<Vec<i64>>::deserialize(d)?.unwrap_or_default();
        Ok(v.into_iter()
            .map(|n| Duration::from_nanos(u64::try_from(n).unwrap_or(0)))
            .collect())
    }
}

/// A consumer's configuration: every field nats-server 2.10–2.15 knows.
///
/// Unset fields (`None`, `false`, empty) are left out of the JSON so the server applies its
/// defaults. Build one with the struct literal and `..Default::default()`, or with the setters:
///
/// ```
/// use std::time::Duration;
/// use gnat_jetstream::{ConsumerConfig, DeliverPolicy};
/// let config = ConsumerConfig::durable("worker")
///     .filter_subject("orders.*")
///     .deliver_policy(DeliverPolicy::New)
///     .ack_wait(Duration::from_secs(30));
/// assert_eq!(config.name.as_deref(), Some("worker"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConsumerConfig {
    /// The consumer's name (`name`). Without one (and without `durable_name`) the server
    /// makes up a name and the consumer is ephemeral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Durable name (`durable_name`): the consumer survives without interest. Must equal
    /// `name` when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durable_name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where delivery starts (`deliver_policy`, `opt_start_seq`, `opt_start_time`).
    #[serde(flatten)]
    pub deliver_policy: DeliverPolicy,
    /// Acknowledgement mode (`ack_policy`).
    #[serde(default)]
    pub ack_policy: AckPolicy,
    /// How long the server waits for an ack before redelivering (`ack_wait`).
    #[serde(default, with = "nanos_opt", skip_serializing_if = "Option::is_none")]
    pub ack_wait: Option<Duration>,
    /// Maximum deliveries of one message (`max_deliver`; the server reports -1 for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_deliver: Option<i64>,
    /// Redelivery delays, one per delivery attempt (`backoff`).
    #[serde(default, with = "nanos_vec", skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<Duration>,
    /// One subject filter (`filter_subject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_subject: Option<String>,
    /// Several subject filters (`filter_subjects`, nats-server 2.10+). Exclusive with
    /// `filter_subject`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_subjects: Vec<String>,
    /// Replay speed (`replay_policy`).
    #[serde(default)]
    pub replay_policy: ReplayPolicy,
    /// Delivery rate limit in bits per second (`rate_limit_bps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_bps: Option<u64>,
    /// Percentage of acks to sample for advisories, e.g. `"50%"` (`sample_freq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_freq: Option<String>,
    /// Maximum outstanding pull requests (`max_waiting`, pull only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_waiting: Option<i64>,
    /// Maximum delivered but unacknowledged messages (`max_ack_pending`; -1 for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ack_pending: Option<i64>,
    /// Push flow control (`flow_control`; needs `idle_heartbeat`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub flow_control: bool,
    /// Deliver headers only, with a `Nats-Msg-Size` header instead of the body
    /// (`headers_only`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub headers_only: bool,
    /// Largest `batch` a pull request may ask for (`max_batch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch: Option<i64>,
    /// Longest `expires` a pull request may ask for (`max_expires`).
    #[serde(default, with = "nanos_opt", skip_serializing_if = "Option::is_none")]
    pub max_expires: Option<Duration>,
    /// Largest `max_bytes` a pull request may ask for (`max_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<i64>,
    /// Push consumers: where messages are sent (`deliver_subject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_subject: Option<String>,
    /// Push consumers: the queue group of the subscribers (`deliver_group`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_group: Option<String>,
    /// Push consumers: heartbeat interval when idle (`idle_heartbeat`).
    #[serde(default, with = "nanos_opt", skip_serializing_if = "Option::is_none")]
    pub idle_heartbeat: Option<Duration>,
    /// Delete the consumer after this long without interest (`inactive_threshold`).
    #[serde(default, with = "nanos_opt", skip_serializing_if = "Option::is_none")]
    pub inactive_threshold: Option<Duration>,
    /// Replicas (`num_replicas`; 0 or absent = the stream's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_replicas: Option<usize>,
    /// Keep the consumer's state in memory (`mem_storage`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub mem_storage: bool,
    /// Server-internal consumers of mirrors and sources (`direct`); not for applications.
    #[serde(default, skip_serializing_if = "is_false")]
    pub direct: bool,
    /// Server-internal consumers of durable stream sourcing (`sourcing`, ADR-60, 2.14+); not
    /// for applications. Kept so that a configuration read back and sent again is unchanged.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sourcing: bool,
    /// Free-form metadata (`metadata`). Servers 2.11+ add `_nats.*` keys of their own.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub metadata: HashMap<String, String>,
    /// Pause delivery until this time (`pause_until`, 2.11+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<Timestamp>,
    /// Priority group names (`priority_groups`, 2.11+).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<String>,
    /// Priority policy (`priority_policy`, 2.11+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_policy: Option<PriorityPolicy>,
    /// How long a pinned client keeps its pin without pulling (`priority_timeout`, 2.11+).
    #[serde(default, with = "nanos_opt", skip_serializing_if = "Option::is_none")]
    pub priority_timeout: Option<Duration>,
}

macro_rules! setters {
    ($( $(#[$doc:meta])* $field:ident: $ty:ty => $wrap:expr; )*) => {
        $(
            $(#[$doc])*
            pub fn $field(mut self, value: $ty) -> Self {
                self.$field = $wrap(value);
                self
            }
        )*
    };
}

impl ConsumerConfig {
    /// An empty configuration (explicit acks, deliver all, instant replay).
    pub fn new() -> Self {
        Self::default()
    }

    /// A durable consumer: `name` and `durable_name` both set to `name`.
    pub fn durable(name: impl Into<String>) -> Self {
        let name = name.into();
        ConsumerConfig {
            durable_name: Some(name.clone()),
            name: Some(name),
            ..Self::default()
        }
    }

    /// The name the consumer is addressed by: `name`, else `durable_name`.
    pub fn effective_name(&self) -> Option<&str> {
        self.name
            .as_deref()
            .or(self.durable_name.as_deref())
            .filter(|n| !n.is_empty())
    }

    /// Sets `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets `durable_name`.
    pub fn durable_name(mut self, name: impl Into<String>) -> Self {
        self.durable_name = Some(name.into());
        self
    }

    /// Sets `description`.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Sets `filter_subject`.
    pub fn filter_subject(mut self, subject: impl Into<String>) -> Self {
        self.filter_subject = Some(subject.into());
        self
    }

    /// Sets `filter_subjects`.
    pub fn filter_subjects<I, S>(mut self, subjects: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.filter_subjects = subjects.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `sample_freq` (e.g. `"50%"`).
    pub fn sample_freq(mut self, freq: impl Into<String>) -> Self {
        self.sample_freq = Some(freq.into());
        self
    }

    /// Sets `deliver_subject` (makes a push consumer).
    pub fn deliver_subject(mut self, subject: impl Into<String>) -> Self {
        self.deliver_subject = Some(subject.into());
        self
    }

    /// Sets `deliver_group`.
    pub fn deliver_group(mut self, group: impl Into<String>) -> Self {
        self.deliver_group = Some(group.into());
        self
    }

    /// Adds one `metadata` entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets `priority_groups`.
    pub fn priority_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.priority_groups = groups.into_iter().map(Into::into).collect();
        self
    }

    setters! {
        /// Sets where delivery starts.
        deliver_policy: DeliverPolicy => std::convert::identity;
        /// Sets the acknowledgement mode.
        ack_policy: AckPolicy => std::convert::identity;
        /// Sets `ack_wait`.
        ack_wait: Duration => Some;
        /// Sets `max_deliver`.
        max_deliver: i64 => Some;
        /// Sets the redelivery `backoff` delays.
        backoff: Vec<Duration> => std::convert::identity;
        /// Sets the replay speed.
        replay_policy: ReplayPolicy => std::convert::identity;
        /// Sets `rate_limit_bps`.
        rate_limit_bps: u64 => Some;
        /// Sets `max_waiting`.
        max_waiting: i64 => Some;
        /// Sets `max_ack_pending`.
        max_ack_pending: i64 => Some;
        /// Sets `flow_control`.
        flow_control: bool => std::convert::identity;
        /// Sets `headers_only`.
        headers_only: bool => std::convert::identity;
        /// Sets `max_batch`.
        max_batch: i64 => Some;
        /// Sets `max_expires`.
        max_expires: Duration => Some;
        /// Sets `max_bytes`.
        max_bytes: i64 => Some;
        /// Sets `idle_heartbeat`.
        idle_heartbeat: Duration => Some;
        /// Sets `inactive_threshold`.
        inactive_threshold: Duration => Some;
        /// Sets `num_replicas`.
        num_replicas: usize => Some;
        /// Sets `mem_storage`.
        mem_storage: bool => std::convert::identity;
        /// Sets `pause_until`.
        pause_until: Timestamp => Some;
        /// Sets `priority_policy`.
        priority_policy: PriorityPolicy => Some;
        /// Sets `priority_timeout`.
        priority_timeout: Duration => Some;
    }

    /// The filters of this configuration, whichever field holds them.
    pub fn filters(&self) -> Vec<&str> {
        match self.filter_subject.as_deref() {
            Some(f) if !f.is_empty() => vec![f],
            _ => self.filter_subjects.iter().map(String::as_str).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deliver_policy_is_flat_on_the_wire() {
        let c = ConsumerConfig::new()
            .deliver_policy(DeliverPolicy::ByStartSequence { start_sequence: 42 });
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            json!({"deliver_policy":"by_start_sequence","opt_start_seq":42,
                   "ack_policy":"explicit","replay_policy":"instant"})
        );
        let back: ConsumerConfig = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);

        let t = Timestamp::parse("2024-05-01T12:00:00.5Z").unwrap();
        let c = ConsumerConfig::new().deliver_policy(DeliverPolicy::ByStartTime { start_time: t });
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["opt_start_time"], "2024-05-01T12:00:00.5Z");
        assert_eq!(serde_json::from_value::<ConsumerConfig>(v).unwrap(), c);
    }

    #[test]
    fn decodes_a_server_config() {
        let v = json!({
            "durable_name":"d","name":"d","deliver_policy":"last_per_subject",
            "ack_policy":"none","ack_wait":30000000000i64,"max_deliver":-1,
            "filter_subjects":["a.>","b"],"replay_policy":"original","max_waiting":512,
            "max_ack_pending":-1,"num_replicas":0,"backoff":[1000000000,2000000000],
            "metadata":{"_nats.ver":"2.11.0"},"priority_policy":"pinned_client",
            "inactive_threshold":0,"some_future_field":true
        });
        let c: ConsumerConfig = serde_json::from_value(v).unwrap();
        assert_eq!(c.deliver_policy, DeliverPolicy::LastPerSubject);
        assert_eq!(c.ack_policy, AckPolicy::None);
        assert_eq!(c.ack_wait, Some(Duration::from_secs(30)));
        assert_eq!(c.max_deliver, Some(-1));
        assert_eq!(c.filters(), vec!["a.>", "b"]);
        assert_eq!(c.replay_policy, ReplayPolicy::Original);
        assert_eq!(
            c.backoff,
            vec![Duration::from_secs(1), Duration::from_secs(2)]
        );
        assert_eq!(c.priority_policy, Some(PriorityPolicy::PinnedClient));
        assert_eq!(c.inactive_threshold, None);
        assert_eq!(c.effective_name(), Some("d"));
    }

    #[test]
    fn empty_fields_are_omitted() {
        let v = serde_json::to_value(ConsumerConfig::default()).unwrap();
        assert_eq!(
            v,
            json!({"deliver_policy":"all","ack_policy":"explicit","replay_policy":"instant"})
        );
    }
}
