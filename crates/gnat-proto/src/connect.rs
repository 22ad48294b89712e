//! `CONNECT` (client → server): the client's options and credentials, sent once
//! after `INFO` (and TLS, if any).
//!
//! ```text
//! CONNECT <json>CRLF
//! ```

use serde::{Deserialize, Serialize};

use crate::info::null_default;

/// The JSON body of `CONNECT`.
///
/// [`Default`] is what an empty `{}` means to the server (`echo` true, everything
/// else off); [`Connect::client_defaults`] is what a modern client should send.
/// When decoding, missing fields take those `Default` values and unknown fields are
/// ignored. Credentials that are `None` are not serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Connect {
    /// Ask the server to acknowledge every operation with `+OK`.
    #[serde(deserialize_with = "null_default")]
    pub verbose: bool,
    /// Ask the server for stricter checks (e.g. of publish subjects).
    #[serde(deserialize_with = "null_default")]
    pub pedantic: bool,
    /// The client requires TLS.
    #[serde(deserialize_with = "null_default")]
    pub tls_required: bool,
    /// A name for this connection, shown in monitoring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The client's implementation language.
    #[serde(deserialize_with = "null_default")]
    pub lang: String,
    /// The client's version.
    #[serde(deserialize_with = "null_default")]
    pub version: String,
    /// Protocol level: 1 = the client handles async INFO.
    #[serde(deserialize_with = "null_default")]
    pub protocol: i32,
    /// Deliver this connection's own publishes to its own subscriptions.
    #[serde(deserialize_with = "echo_default")]
    pub echo: bool,
    /// The client supports headers.
    #[serde(deserialize_with = "null_default")]
    pub headers: bool,
    /// Ask for a 503 status message when a request has no responders (needs `headers`).
    #[serde(deserialize_with = "null_default")]
    pub no_responders: bool,
    /// User name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    /// Authentication token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// Public nkey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    /// Signature of the server's nonce (base64url, no padding).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
    /// User JWT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
}

impl Default for Connect {
    fn default() -> Self {
        Connect {
            verbose: false,
            pedantic: false,
            tls_required: false,
            name: None,
            lang: String::new(),
            version: String::new(),
            protocol: 0,
            echo: true,
            headers: false,
            no_responders: false,
            user: None,
            pass: None,
            auth_token: None,
            nkey: None,
            sig: None,
            jwt: None,
        }
    }
}

impl Connect {
    /// What gnat sends unless told otherwise: not verbose, not pedantic, protocol 1,
    /// echo on, headers and no-responders on, `lang` "rust" and this crate's version.
    pub fn client_defaults() -> Self {
        Connect {
            lang: "rust".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: 1,
            echo: true,
            headers: true,
            no_responders: true,
            ..Connect::default()
        }
    }
}

/// `echo: null` means the server default, true.
fn echo_default<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Option::<bool>::deserialize(d).map(|v| v.unwrap_or(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_means_server_defaults() {
        let c: Connect = serde_json::from_str("{}").unwrap();
        assert_eq!(c, Connect::default());
        assert!(c.echo);
        let c: Connect = serde_json::from_str(r#"{"echo":null,"x":1}"#).unwrap();
        assert!(c.echo);
    }

    #[test]
    fn none_credentials_are_not_sent() {
        let text = serde_json::to_string(&Connect::client_defaults()).unwrap();
        for absent in ["user", "pass", "auth_token", "nkey", "sig", "jwt", "name"] {
            assert!(!text.contains(&format!("\"{absent}\"")), "{text}");
        }
        assert!(text.contains("\"no_responders\":true"));
        assert!(text.contains("\"protocol\":1"));
        let c = Connect {
            user: Some("u".into()),
            jwt: Some("j".into()),
            ..Connect::client_defaults()
        };
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Connect>(&text).unwrap(), c);
    }
}
