//! `INFO` (server → client): the server's description of itself, sent first on
//! every connection and again at any time when the cluster changes.
//!
//! ```text
//! INFO <json>CRLF
//! ```

use serde::{Deserialize, Deserializer, Serialize};

/// The JSON body of `INFO`. Every field is optional on the wire (missing fields take
/// their default; `null` is read as the default too) and unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Info {
    /// The server's unique id.
    #[serde(deserialize_with = "null_default")]
    pub server_id: String,
    /// The server's configured name.
    #[serde(deserialize_with = "null_default")]
    pub server_name: String,
    /// The server version.
    #[serde(deserialize_with = "null_default")]
    pub version: String,
    /// The Go version the server was built with.
    #[serde(deserialize_with = "null_default")]
    pub go: String,
    /// The host the server listens on.
    #[serde(deserialize_with = "null_default")]
    pub host: String,
    /// The port the server listens on.
    #[serde(deserialize_with = "null_default")]
    pub port: u16,
    /// Protocol level: 1 or more means async INFO and `echo` control are supported.
    #[serde(deserialize_with = "null_default")]
    pub proto: i32,
    /// The server supports headers (`HPUB`/`HMSG`).
    #[serde(deserialize_with = "null_default")]
    pub headers: bool,
    /// Largest payload (header bytes included) the server accepts.
    #[serde(deserialize_with = "null_default")]
    pub max_payload: usize,
    /// The id the server gave this connection (may change on reconnect).
    #[serde(deserialize_with = "null_default")]
    pub client_id: u64,
    /// This connection's address as the server sees it.
    #[serde(deserialize_with = "null_default")]
    pub client_ip: String,
    /// The server requires authentication.
    #[serde(deserialize_with = "null_default")]
    pub auth_required: bool,
    /// The server requires TLS.
    #[serde(deserialize_with = "null_default")]
    pub tls_required: bool,
    /// The server requires a client certificate.
    #[serde(deserialize_with = "null_default")]
    pub tls_verify: bool,
    /// The server offers TLS without requiring it.
    #[serde(deserialize_with = "null_default")]
    pub tls_available: bool,
    /// `host:port` of other cluster members clients may connect to.
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub connect_urls: Vec<String>,
    /// Websocket URLs of other cluster members.
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ws_connect_urls: Vec<String>,
    /// Lame duck mode (`ldm`): the server is shutting down; move elsewhere.
    #[serde(rename = "ldm", deserialize_with = "null_default")]
    pub lame_duck_mode: bool,
    /// A nonce to sign (nkey/JWT auth); present only when the server wants one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// JetStream is enabled.
    #[serde(deserialize_with = "null_default")]
    pub jetstream: bool,
    /// The cluster name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The JetStream domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The git commit the server was built from.
    #[serde(deserialize_with = "null_default")]
    pub git_commit: String,
}

/// Reads `null` as the type's default (servers and proxies sometimes send it for
/// empty fields).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_real_looking_info() {
        let json = br#"{"server_id":"NABC","server_name":"n1","version":"2.10.4","proto":1,
            "git_commit":"abc1","go":"go1.21.3","host":"0.0.0.0","port":4222,"headers":true,
            "max_payload":1048576,"jetstream":true,"client_id":5,"client_ip":"127.0.0.1",
            "xkey":"XABC","connect_urls":["10.0.0.1:4222","10.0.0.2:4222"],"ldm":true,
            "nonce":"n0nce","cluster":"c1","domain":null,"ws_connect_urls":null}"#;
        let info: Info = serde_json::from_slice(json).unwrap();
        assert_eq!(info.server_id, "NABC");
        assert_eq!(info.port, 4222);
        assert_eq!(info.proto, 1);
        assert!(info.headers && info.jetstream && info.lame_duck_mode);
        assert_eq!(info.max_payload, 1_048_576);
        assert_eq!(info.client_id, 5);
        assert_eq!(info.connect_urls.len(), 2);
        assert!(info.ws_connect_urls.is_empty());
        assert_eq!(info.nonce.as_deref(), Some("n0nce"));
        assert_eq!(info.cluster.as_deref(), Some("c1"));
        assert_eq!(info.domain, None);
        assert!(!info.auth_required);
    }

    #[test]
    fn empty_object_is_default_and_round_trips() {
        let info: Info = serde_json::from_str("{}").unwrap();
        assert_eq!(info, Info::default());
        let full = Info {
            server_id: "S".into(),
            nonce: Some("x".into()),
            connect_urls: vec!["a:1".into()],
            lame_duck_mode: true,
            ..Info::default()
        };
        let text = serde_json::to_string(&full).unwrap();
        assert!(text.contains("\"ldm\":true"));
        assert_eq!(serde_json::from_str::<Info>(&text).unwrap(), full);
    }
}
