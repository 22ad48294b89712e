//! JetStream errors: every kind keeps the server's `code`, `err_code` and description when the
//! server sent one, with predicates for the cases programs branch on.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The error object of a JetStream API reply (`{"error":{"code":…,"err_code":…,…}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// HTTP-like status (404, 400, 503 …).
    pub code: u16,
    /// The stable machine code (10059 stream not found, 10071 wrong last sequence, …).
    #[serde(default)]
    pub err_code: u64,
    /// Human-readable text; may change between server versions, do not parse it.
    #[serde(default)]
    pub description: String,
}

/// Well-known `err_code` values.
pub mod codes {
    /// Wrong last sequence (expected last / expected last subject sequence mismatch).
    pub const WRONG_LAST_SEQUENCE: u64 = 10071;
    /// A wrong-last-sequence variant seen on replicated streams.
    pub const WRONG_LAST_SEQUENCE_ALT: u64 = 10164;
    /// Wrong last message id.
    pub const WRONG_LAST_MSG_ID: u64 = 10070;
    /// Expected stream does not match.
    pub const STREAM_MISMATCH: u64 = 10060;
    /// Stream name already in use with a different configuration.
    pub const STREAM_NAME_IN_USE: u64 = 10058;
    /// Stream not found.
    pub const STREAM_NOT_FOUND: u64 = 10059;
    /// Consumer not found.
    pub const CONSUMER_NOT_FOUND: u64 = 10014;
    /// No message found.
    pub const NO_MESSAGE_FOUND: u64 = 10037;
    /// JetStream not enabled for the account.
    pub const NOT_ENABLED_FOR_ACCOUNT: u64 = 10039;
    /// JetStream not enabled.
    pub const NOT_ENABLED: u64 = 10076;
    /// Invalid stream configuration.
    pub const STREAM_INVALID_CONFIG: u64 = 10052;
    /// Message exceeds the stream's maximum message size.
    pub const MESSAGE_TOO_LARGE: u64 = 10054;
    /// Consumer already exists (create action).
    pub const CONSUMER_EXISTS: u64 = 10148;
    /// Consumer does not exist (update action).
    pub const CONSUMER_DOES_NOT_EXIST: u64 = 10149;
    /// Invalid per-message TTL.
    pub const INVALID_MESSAGE_TTL: u64 = 10165;
    /// Per-message TTL disabled on the stream.
    pub const MESSAGE_TTL_DISABLED: u64 = 10166;
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server answered with an error object; see [`Error::api`].
    Api,
    /// The client layer failed (connection, timeout, no responders …); see
    /// [`Error::client_kind`].
    Client,
    /// No stream captures the subject of a publish (503 no responders).
    NoStream,
    /// The reply could not be decoded.
    Decode,
    /// Invalid input; nothing was sent.
    InvalidInput,
    /// The server returned a status that ends the operation (for example 409 consumer
    /// deleted); see [`Error::status`].
    Status,
    /// A consumer missed its idle heartbeats.
    MissedHeartbeats,
    /// The message does not carry JetStream metadata (no `$JS.ACK` reply subject).
    NotJetStream,
}

/// An error from the JetStream layer.
///
/// One pointer wide (the details are boxed), so `Result`s stay small on hot paths.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    api: Option<ApiError>,
    client: Option<client::Error>,
    status: Option<(u16, String)>,
    message: String,
}

/// A result with the JetStream [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                api: None,
                client: None,
                status: None,
                message: message.into(),
            }),
        }
    }

    /// An error the server returned in an API reply.
    pub fn from_api(api: ApiError) -> Self {
        Error {
            inner: Box::new(Inner {
                kind: ErrorKind::Api,
                message: String::new(),
                api: Some(api),
                client: None,
                status: None,
            }),
        }
    }

    /// An error for an inline status (404, 408, 409 …) that ends an operation.
    pub fn from_status(code: u16, description: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind: ErrorKind::Status,
                message: String::new(),
                api: None,
                client: None,
                status: Some((code, description.into())),
            }),
        }
    }

    /// The same error with an explanation appended to its display.
    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Self {
        self.inner.message = message.into();
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The server's error object, when the server sent one.
    pub fn api(&self) -> Option<&ApiError> {
        self.inner.api.as_ref()
    }

    /// The server's HTTP-like code (from an API error or an inline status).
    pub fn code(&self) -> Option<u16> {
        self.inner
            .api
            .as_ref()
            .map(|a| a.code)
            .or(self.inner.status.as_ref().map(|s| s.0))
    }

    /// The server's machine code (`err_code`), when it sent one.
    pub fn err_code(&self) -> Option<u64> {
        self.inner.api.as_ref().map(|a| a.err_code)
    }

    /// The inline status and its description, for [`ErrorKind::Status`].
    pub fn status(&self) -> Option<(u16, &str)> {
        self.inner.status.as_ref().map(|(c, d)| (*c, d.as_str()))
    }

    /// The client-layer error kind, for [`ErrorKind::Client`].
    pub fn client_kind(&self) -> Option<client::ErrorKind> {
        self.inner.client.as_ref().map(client::Error::kind)
    }

    /// The client-layer error, for [`ErrorKind::Client`].
    pub fn client_error(&self) -> Option<&client::Error> {
        self.inner.client.as_ref()
    }

    fn has_err_code(&self, codes: &[u64]) -> bool {
        self.err_code().is_some_and(|c| codes.contains(&c))
    }

    /// Something was not found: a stream, consumer or message (API 404, or a 404 status).
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
            || self.has_err_code(&[
                codes::STREAM_NOT_FOUND,
                codes::CONSUMER_NOT_FOUND,
                codes::NO_MESSAGE_FOUND,
            ])
    }

    /// The stream does not exist (10059).
    pub fn is_stream_not_found(&self) -> bool {
        self.has_err_code(&[codes::STREAM_NOT_FOUND])
    }

    /// The consumer does not exist (10014).
    pub fn is_consumer_not_found(&self) -> bool {
        self.has_err_code(&[codes::CONSUMER_NOT_FOUND])
    }

    /// No message matched (10037, or a 404 from direct get).
    pub fn is_no_message(&self) -> bool {
        self.has_err_code(&[codes::NO_MESSAGE_FOUND])
            || (self.inner.kind == ErrorKind::Status && self.code() == Some(404))
    }

    /// An expected-last-sequence check failed (10071, or 10164 on replicated streams).
    pub fn is_wrong_last_sequence(&self) -> bool {
        self.has_err_code(&[codes::WRONG_LAST_SEQUENCE, codes::WRONG_LAST_SEQUENCE_ALT])
    }

    /// An expected-last-message-id check failed (10070).
    pub fn is_wrong_last_msg_id(&self) -> bool {
        self.has_err_code(&[codes::WRONG_LAST_MSG_ID])
    }

    /// The stream name is in use with a different configuration (10058).
    pub fn is_stream_name_in_use(&self) -> bool {
        self.has_err_code(&[codes::STREAM_NAME_IN_USE])
    }

    /// No stream captures the published subject.
    pub fn is_no_stream(&self) -> bool {
        self.inner.kind == ErrorKind::NoStream
    }

    /// The operation timed out (client timeout, or a 408 status).
    pub fn is_timeout(&self) -> bool {
        self.inner
            .client
            .as_ref()
            .is_some_and(client::Error::is_timeout)
            || (self.inner.kind == ErrorKind::Status && self.code() == Some(408))
    }

    /// A request found no responders (JetStream disabled, or no stream for a publish).
    pub fn is_no_responders(&self) -> bool {
        self.inner.kind == ErrorKind::NoStream
            || self
                .inner
                .client
                .as_ref()
                .is_some_and(client::Error::is_no_responders)
    }
}

impl From<client::Error> for Error {
    fn from(err: client::Error) -> Self {
        Error {
            inner: Box::new(Inner {
                kind: ErrorKind::Client,
                message: String::new(),
                api: None,
                client: Some(err),
                status: None,
            }),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::new(ErrorKind::Decode, format!("bad JetStream reply: {err}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(api) = &self.inner.api {
            write!(
                f,
                "jetstream: {} (code {}, err_code {})",
                api.description, api.code, api.err_code
            )?;
        } else if let Some(err) = &self.inner.client {
            write!(f, "jetstream: {err}")?;
        } else if let Some((code, description)) = &self.inner.status {
            write!(f, "jetstream: status {code} {description}")?;
        } else {
            f.write_str("jetstream")?;
        }
        if !self.inner.message.is_empty() {
            write!(f, ": {}", self.inner.message)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if let Some(api) = &self.inner.api {
            d.field("api", api);
        }
        if let Some(c) = &self.inner.client {
            d.field("client", c);
        }
        if let Some(s) = &self.inner.status {
            d.field("status", s);
        }
        if !self.inner.message.is_empty() {
            d.field("message", &self.inner.message);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .client
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_follow_the_err_code() {
        let e = Error::from_api(ApiError {
            code: 404,
            err_code: 10059,
            description: "stream not found".into(),
        });
        assert!(e.is_not_found() && e.is_stream_not_found());
        assert!(!e.is_consumer_not_found());
        assert_eq!(e.err_code(), Some(10059));
        assert_eq!(
            e.to_string(),
            "jetstream: stream not found (code 404, err_code 10059)"
        );
        let e = Error::from_api(ApiError {
            code: 400,
            err_code: 10164,
            description: "wrong last sequence".into(),
        });
        assert!(e.is_wrong_last_sequence() && !e.is_not_found());
        let e = Error::from_status(408, "Request Timeout");
        assert!(e.is_timeout());
        assert_eq!(e.status(), Some((408, "Request Timeout")));
    }
}
