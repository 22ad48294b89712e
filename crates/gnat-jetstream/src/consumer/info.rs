//! What the server reports about a consumer (`ConsumerInfo` in `server/consumer.go`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::consumer::config::ConsumerConfig;
use crate::time::{Timestamp, nanos_opt};

/// A consumer's state, as returned by create, update, info and list.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConsumerInfo {
    /// The stream it reads (`stream_name`).
    #[serde(default)]
    pub stream_name: String,
    /// The consumer's name.
    #[serde(default)]
    pub name: String,
    /// When it was created.
    #[serde(default)]
    pub created: Timestamp,
    /// Its configuration, with the server's defaults filled in.
    #[serde(default)]
    pub config: ConsumerConfig,
    /// The last delivered message (consumer and stream sequence).
    #[serde(default)]
    pub delivered: SequenceInfo,
    /// The acknowledgement floor: everything up to it is acknowledged.
    #[serde(default)]
    pub ack_floor: SequenceInfo,
    /// Delivered and not yet acknowledged.
    #[serde(default)]
    pub num_ack_pending: u64,
    /// Messages delivered more than once and not yet acknowledged.
    #[serde(default)]
    pub num_redelivered: u64,
    /// Pull requests waiting.
    #[serde(default)]
    pub num_waiting: u64,
    /// Messages matching the consumer's filters that have not been delivered yet.
    #[serde(default)]
    pub num_pending: u64,
    /// Clustering details, when clustered.
    #[serde(default)]
    pub cluster: Option<ConsumerClusterInfo>,
    /// A push consumer has an active subscriber.
    #[serde(default)]
    pub push_bound: bool,
    /// Paused (see [`ConsumerConfig::pause_until`]).
    #[serde(default)]
    pub paused: bool,
    /// How long the pause still lasts.
    #[serde(default, with = "nanos_opt")]
    pub pause_remaining: Option<Duration>,
    /// When the server gathered this (`ts`).
    #[serde(default, rename = "ts")]
    pub timestamp: Option<Timestamp>,
    /// State of each priority group.
    #[serde(default)]
    pub priority_groups: Vec<ConsumerPriorityGroupState>,
}

/// A pair of sequences and the time of the last activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SequenceInfo {
    /// Consumer sequence (`consumer_seq`).
    #[serde(default, rename = "consumer_seq")]
    pub consumer_sequence: u64,
    /// Stream sequence (`stream_seq`).
    #[serde(default, rename = "stream_seq")]
    pub stream_sequence: u64,
    /// Last activity (`last_active`).
    #[serde(default)]
    pub last_active: Option<Timestamp>,
}

/// The Raft group of a clustered consumer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConsumerClusterInfo {
    /// The cluster's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The Raft group (`raft_group`).
    #[serde(default)]
    pub raft_group: Option<String>,
    /// The current leader.
    #[serde(default)]
    pub leader: Option<String>,
    /// Since when it leads (`leader_since`).
    #[serde(default)]
    pub leader_since: Option<Timestamp>,
    /// The other replicas.
    #[serde(default)]
    pub replicas: Vec<ConsumerPeerInfo>,
}

/// One replica of a clustered consumer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConsumerPeerInfo {
    /// The server's name.
    #[serde(default)]
    pub name: String,
    /// Caught up with the leader.
    #[serde(default)]
    pub current: bool,
    /// Not reachable.
    #[serde(default)]
    pub offline: bool,
    /// Time since it was last seen.
    #[serde(default, with = "nanos_opt")]
    pub active: Option<Duration>,
    /// Operations it is behind.
    #[serde(default)]
    pub lag: u64,
    /// The peer id.
    #[serde(default)]
    pub peer: String,
}

/// The state of one priority group (`priority_groups` of the info).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConsumerPriorityGroupState {
    /// The group.
    #[serde(default)]
    pub group: String,
    /// The pinned client's id (`pinned_client_id`).
    #[serde(default)]
    pub pinned_client_id: Option<String>,
    /// Since when (`pinned_ts`).
    #[serde(default)]
    pub pinned_ts: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::config::{AckPolicy, DeliverPolicy, PriorityPolicy, ReplayPolicy};

    #[test]
    fn decodes_a_server_reply() {
        let text = r#"{"type":"io.nats.jetstream.api.v1.consumer_info_response",
            "stream_name":"S","name":"C","created":"2024-05-01T12:00:00.123456789Z",
            "config":{"durable_name":"C","name":"C","deliver_policy":"all","ack_policy":"explicit",
              "ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant",
              "max_waiting":512,"max_ack_pending":1000,"num_replicas":0},
            "delivered":{"consumer_seq":5,"stream_seq":7,"last_active":"2024-05-01T12:00:01Z"},
            "ack_floor":{"consumer_seq":4,"stream_seq":6},
            "num_ack_pending":1,"num_redelivered":0,"num_waiting":2,"num_pending":10,
            "cluster":{"leader":"n1"},"ts":"2024-05-01T12:00:02Z"}"#;
        let info: ConsumerInfo = serde_json::from_str(text).unwrap();
        assert_eq!(info.name, "C");
        assert_eq!(info.delivered.stream_sequence, 7);
        assert!(info.delivered.last_active.is_some());
        assert_eq!(info.ack_floor.consumer_sequence, 4);
        assert_eq!(info.num_pending, 10);
        assert_eq!(info.config.max_ack_pending, Some(1000));
        assert_eq!(info.cluster.unwrap().leader.as_deref(), Some("n1"));
    }

    #[test]
    fn unknown_values_from_newer_servers_decode_and_round_trip() {
        let text = r#"{"stream_name":"S","name":"C","created":"2030-01-01T00:00:00Z",
            "config":{"name":"C","deliver_policy":"by_start_epoch","opt_start_seq":9,
              "ack_policy":"batched","replay_policy":"accelerated",
              "priority_policy":"weighted","priority_groups":["g"],
              "future_knob":{"a":1}},
            "delivered":{"consumer_seq":1,"stream_seq":2,"future":true},
            "ack_floor":{"consumer_seq":0,"stream_seq":0},
            "num_pending":3,"brand_new_field":[1,2,3],
            "priority_groups":[{"group":"g","future":"x"}]}"#;
        let info: ConsumerInfo = serde_json::from_str(text).unwrap();
        let c = &info.config;
        assert_eq!(
            c.deliver_policy,
            DeliverPolicy::Unknown {
                policy: "by_start_epoch".into(),
                start_sequence: Some(9),
                start_time: None,
            }
        );
        assert_eq!(c.ack_policy, AckPolicy::Unknown("batched".into()));
        assert_eq!(c.replay_policy, ReplayPolicy::Unknown("accelerated".into()));
        assert_eq!(
            c.priority_policy,
            Some(PriorityPolicy::Unknown("weighted".into()))
        );
        assert_eq!(info.num_pending, 3);
        assert_eq!(info.delivered.stream_sequence, 2);
        // Sent back (an update), the server's text and start field are unchanged.
        let v = serde_json::to_value(c).unwrap();
        assert_eq!(v["deliver_policy"], "by_start_epoch");
        assert_eq!(v["opt_start_seq"], 9);
        assert!(v.get("opt_start_time").is_none());
        assert_eq!(v["ack_policy"], "batched");
        assert_eq!(v["replay_policy"], "accelerated");
        assert_eq!(v["priority_policy"], "weighted");
        assert_eq!(serde_json::from_value::<ConsumerConfig>(v).unwrap(), *c);
    }
}
