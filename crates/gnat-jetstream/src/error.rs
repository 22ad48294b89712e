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
    /// Counters (`Nats-Incr`) are not enabled on the stream (ADR-49).
    pub const COUNTER_DISABLED: u64 = 10168;
    /// A counter stream got a message without `Nats-Incr`.
    pub const COUNTER_INCREMENT_MISSING: u64 = 10169;
    /// A counter increment carried a payload.
    pub const COUNTER_HAS_PAYLOAD: u64 = 10170;
    /// A counter increment is not a valid integer.
    pub const COUNTER_INCREMENT_INVALID: u64 = 10171;
    /// The counter's stored value cannot be read.
    pub const COUNTER_BROKEN: u64 = 10172;
    /// Atomic batch publishing is not enabled on the stream (`allow_atomic`, ADR-50).
    pub const ATOMIC_PUBLISH_DISABLED: u64 = 10174;
    /// An atomic batch message lacks its `Nats-Batch-Sequence`.
    pub const ATOMIC_PUBLISH_MISSING_SEQ: u64 = 10175;
    /// The atomic batch is incomplete (a gap, or abandoned after the idle timeout).
    pub const ATOMIC_PUBLISH_INCOMPLETE: u64 = 10176;
    /// An atomic batch used a header it does not support (`Nats-Expected-Last-Msg-Id`).
    pub const ATOMIC_PUBLISH_UNSUPPORTED_HEADER: u64 = 10177;
    /// The atomic batch id is invalid (longer than 64 characters).
    pub const ATOMIC_PUBLISH_INVALID_ID: u64 = 10179;
    /// The server's JetStream API level is below the one the request requires (ADR-44).
    pub const REQUIRED_API_LEVEL: u64 = 10185;
    /// Message schedules are not enabled on the stream (ADR-51).
    pub const SCHEDULES_DISABLED: u64 = 10188;
    /// The schedule pattern is invalid.
    pub const SCHEDULE_PATTERN_INVALID: u64 = 10189;
    /// The schedule target is invalid.
    pub const SCHEDULE_TARGET_INVALID: u64 = 10190;
    /// The schedule's TTL is invalid.
    pub const SCHEDULE_TTL_INVALID: u64 = 10191;
    /// The schedule's rollup is invalid.
    pub const SCHEDULE_ROLLUP_INVALID: u64 = 10192;
    /// The atomic batch has more messages than the server allows (default 1000).
    pub const ATOMIC_PUBLISH_TOO_LARGE: u64 = 10199;
    /// The atomic batch's commit value is neither `1` nor `eob`.
    pub const ATOMIC_PUBLISH_INVALID_COMMIT: u64 = 10200;
    /// The atomic batch has a duplicate `Nats-Msg-Id`.
    pub const ATOMIC_PUBLISH_DUPLICATE_MSG_ID: u64 = 10201;
    /// The schedule source is invalid.
    pub const SCHEDULE_SOURCE_INVALID: u64 = 10203;
    /// Fast-ingest batch publishing is not enabled on the stream (`allow_batched`).
    pub const BATCH_PUBLISH_DISABLED: u64 = 10205;
    /// The fast-ingest reply pattern is invalid.
    pub const BATCH_PUBLISH_INVALID_PATTERN: u64 = 10206;
    /// The fast-ingest batch id is invalid.
    pub const BATCH_PUBLISH_INVALID_ID: u64 = 10207;
    /// The fast-ingest batch id is unknown to the server.
    pub const BATCH_PUBLISH_UNKNOWN_ID: u64 = 10208;
    /// Too many atomic batches in flight on the stream or server.
    pub const ATOMIC_PUBLISH_TOO_MANY_INFLIGHT: u64 = 10210;
    /// Too many fast-ingest batches in flight on the stream or server.
    pub const BATCH_PUBLISH_TOO_MANY_INFLIGHT: u64 = 10211;
    /// The `Nats-Scheduler` of a schedule-stopping publish is invalid.
    pub const SCHEDULER_INVALID: u64 = 10212;
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
    /// A write was in flight when the connection was lost and could not be resent exactly
    /// (the stream has no duplicate window, or the outage outlasted it, or the stream is
    /// gone): it may or may not be stored. See [`Error::is_outcome_unknown`].
    OutcomeUnknown,
    /// The server's JetStream API level is below what the feature needs (ADR-44); nothing
    /// was sent.
    ApiLevel,
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

    /// The consumer is gone: the server said `409 Consumer Deleted` on a delivery, or an API
    /// call answered 10014 (consumer not found).
    pub fn is_consumer_deleted(&self) -> bool {
        self.is_consumer_not_found()
            || matches!(self.status(), Some((409, d)) if d.trim().eq_ignore_ascii_case("Consumer Deleted"))
    }

    /// JetStream is not enabled (10076) or not enabled for the account (10039).
    pub fn is_jetstream_disabled(&self) -> bool {
        self.has_err_code(&[codes::NOT_ENABLED, codes::NOT_ENABLED_FOR_ACCOUNT])
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

    /// The stream does not allow atomic batches (10174: `allow_atomic` is off).
    pub fn is_atomic_publish_disabled(&self) -> bool {
        self.has_err_code(&[codes::ATOMIC_PUBLISH_DISABLED])
    }

    /// The atomic batch was incomplete when it was committed: the server abandoned it after
    /// its idle timeout, or saw a gap (10176).
    pub fn is_batch_incomplete(&self) -> bool {
        self.has_err_code(&[codes::ATOMIC_PUBLISH_INCOMPLETE])
    }

    /// The atomic batch had more messages than the server allows (10199).
    pub fn is_batch_too_large(&self) -> bool {
        self.has_err_code(&[codes::ATOMIC_PUBLISH_TOO_LARGE])
    }

    /// Any error about an atomic batch as such (10174–10179, 10199–10201, 10210).
    pub fn is_atomic_batch_error(&self) -> bool {
        self.has_err_code(&[
            codes::ATOMIC_PUBLISH_DISABLED,
            codes::ATOMIC_PUBLISH_MISSING_SEQ,
            codes::ATOMIC_PUBLISH_INCOMPLETE,
            codes::ATOMIC_PUBLISH_UNSUPPORTED_HEADER,
            codes::ATOMIC_PUBLISH_INVALID_ID,
            codes::ATOMIC_PUBLISH_TOO_LARGE,
            codes::ATOMIC_PUBLISH_INVALID_COMMIT,
            codes::ATOMIC_PUBLISH_DUPLICATE_MSG_ID,
            codes::ATOMIC_PUBLISH_TOO_MANY_INFLIGHT,
        ])
    }

    /// The stream does not allow counters, or the increment was refused (10168–10172).
    pub fn is_counter_error(&self) -> bool {
        self.has_err_code(&[
            codes::COUNTER_DISABLED,
            codes::COUNTER_INCREMENT_MISSING,
            codes::COUNTER_HAS_PAYLOAD,
            codes::COUNTER_INCREMENT_INVALID,
            codes::COUNTER_BROKEN,
        ])
    }

    /// The stream refused a message schedule (10188–10192, 10203, 10212).
    pub fn is_schedule_error(&self) -> bool {
        self.has_err_code(&[
            codes::SCHEDULES_DISABLED,
            codes::SCHEDULE_PATTERN_INVALID,
            codes::SCHEDULE_TARGET_INVALID,
            codes::SCHEDULE_TTL_INVALID,
            codes::SCHEDULE_ROLLUP_INVALID,
            codes::SCHEDULE_SOURCE_INVALID,
            codes::SCHEDULER_INVALID,
        ])
    }

    /// The server's API level is too old for what was asked: refused client-side
    /// ([`ErrorKind::ApiLevel`]) or by the server (10185, `Nats-Required-Api-Level`).
    pub fn is_api_level_too_low(&self) -> bool {
        self.inner.kind == ErrorKind::ApiLevel || self.has_err_code(&[codes::REQUIRED_API_LEVEL])
    }

    /// A write in flight on a lost connection could not be resent exactly: it may or may not
    /// be stored ([`ErrorKind::OutcomeUnknown`]).
    pub fn is_outcome_unknown(&self) -> bool {
        self.inner.kind == ErrorKind::OutcomeUnknown
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
