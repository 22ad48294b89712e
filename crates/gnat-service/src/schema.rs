//! The JSON bodies of the discovery replies, field for field as ADR-32 ("Standard Field",
//! "INFO", "PING", "STATS") defines them, for both sides: the service serializes them, the
//! [`Discovery`](crate::Discovery) client parses them (also from other clients' services).
//!
//! Parsing is lenient where other implementations differ (a `null` or missing map, list or
//! description reads as empty); serializing always writes every field, `metadata` as an object
//! and `data` (`null` when there is no stats handler) so strict parsers find what they expect.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// `type` of a PING reply.
pub const PING_RESPONSE_TYPE: &str = "io.nats.micro.v1.ping_response";
/// `type` of an INFO reply.
pub const INFO_RESPONSE_TYPE: &str = "io.nats.micro.v1.info_response";
/// `type` of a STATS reply.
pub const STATS_RESPONSE_TYPE: &str = "io.nats.micro.v1.stats_response";

/// Free-form string metadata (ADR-33 style), ordered by key.
pub type Metadata = BTreeMap<String, String>;

/// `null` (or absent, with `#[serde(default)]`) reads as the type's default.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The reply to `$SRV.PING[.<name>[.<id>]]`: the standard fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PingResponse {
    /// `io.nats.micro.v1.ping_response`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// The service's name (its kind, shared by all its instances).
    pub name: String,
    /// This instance's id.
    pub id: String,
    /// The service's SemVer version.
    pub version: String,
    /// The service's metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
}

/// The reply to `$SRV.INFO[.<name>[.<id>]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InfoResponse {
    /// `io.nats.micro.v1.info_response`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// The service's name.
    pub name: String,
    /// This instance's id.
    pub id: String,
    /// The service's version.
    pub version: String,
    /// The service's metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
    /// The service's description (empty when none was given).
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    /// Every endpoint, in the order they were added.
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoints: Vec<EndpointInfo>,
}

/// One endpoint in an [`InfoResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointInfo {
    /// The endpoint's name.
    pub name: String,
    /// The subject it listens on (group prefix included).
    pub subject: String,
    /// The queue group it uses; empty when it subscribes without one.
    #[serde(default, deserialize_with = "null_as_default")]
    pub queue_group: String,
    /// The endpoint's metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
}

/// The reply to `$SRV.STATS[.<name>[.<id>]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatsResponse {
    /// `io.nats.micro.v1.stats_response`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// The service's name.
    pub name: String,
    /// This instance's id.
    pub id: String,
    /// The service's version.
    pub version: String,
    /// The service's metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
    /// Statistics of every endpoint.
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoints: Vec<EndpointStats>,
    /// When the service started, an RFC 3339 time in UTC (`2024-05-01T12:00:00.123456Z`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub started: String,
}

/// One endpoint in a [`StatsResponse`]; times are in nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointStats {
    /// The endpoint's name.
    pub name: String,
    /// The subject it listens on.
    pub subject: String,
    /// Its queue group; empty when it subscribes without one.
    #[serde(default, deserialize_with = "null_as_default")]
    pub queue_group: String,
    /// Requests received (answered, failed or dropped unanswered).
    #[serde(default, deserialize_with = "null_as_default")]
    pub num_requests: u64,
    /// Requests answered with an error (or whose handler panicked).
    #[serde(default, deserialize_with = "null_as_default")]
    pub num_errors: u64,
    /// The last error as `<code>:<description>`, or empty when there has been none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub last_error: String,
    /// What the service's stats handler returned for this endpoint (`null` without one).
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    /// Total time spent handling requests, in nanoseconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub processing_time: u64,
    /// `processing_time / num_requests`, truncated; 0 without requests.
    #[serde(default, deserialize_with = "null_as_default")]
    pub average_processing_time: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_serialize_every_adr_field() {
        let stats = EndpointStats {
            name: "e".into(),
            subject: "s".into(),
            queue_group: "q".into(),
            num_requests: 2,
            num_errors: 1,
            last_error: "500:boom".into(),
            data: None,
            processing_time: 10,
            average_processing_time: 5,
        };
        let v = serde_json::to_value(&stats).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "average_processing_time",
                "data",
                "last_error",
                "name",
                "num_errors",
                "num_requests",
                "processing_time",
                "queue_group",
                "subject"
            ]
        );
        assert!(v["data"].is_null());
    }

    #[test]
    fn nulls_and_missing_fields_from_other_clients_read_as_empty() {
        let info: InfoResponse = serde_json::from_str(
            r#"{"type":"io.nats.micro.v1.info_response","name":"a","id":"1","version":"1.0.0",
                "metadata":null,"description":null,
                "endpoints":[{"name":"e","subject":"s","queue_group":"q","metadata":null}]}"#,
        )
        .unwrap();
        assert!(info.metadata.is_empty());
        assert_eq!(info.description, "");
        assert!(info.endpoints[0].metadata.is_empty());
        let ping: PingResponse =
            serde_json::from_str(r#"{"name":"a","id":"1","version":"1.0.0"}"#).unwrap();
        assert_eq!(ping.kind, "");
        assert!(serde_json::from_str::<PingResponse>(r#"{"name":"a"}"#).is_err());
    }
}
