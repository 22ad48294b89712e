//! The client's error type: a kind you can match or test with predicates, plus a message.

use std::fmt;
use std::sync::Arc;

/// What went wrong, in a form a program can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A subject, reply subject, queue group or header was invalid; nothing was written.
    InvalidInput,
    /// The payload (plus headers) is larger than the server's `max_payload`; nothing was written.
    MaxPayloadExceeded,
    /// The operation did not finish in time.
    Timeout,
    /// A request found no subscriber on its subject (status 503).
    NoResponders,
    /// The server refused the credentials (`Authorization Violation`, expired or revoked).
    Authorization,
    /// TLS could not be set up: bad configuration, handshake failure or certificate rejection.
    Tls,
    /// Socket-level failure while connecting or talking to the server.
    Io,
    /// The server sent bytes that break the protocol.
    Protocol,
    /// The server reported an error (`-ERR`) that is not an authorization failure.
    Server,
    /// The connection is down and the reconnect buffer cannot take this publish.
    ReconnectBufferFull,
    /// The connection dropped before the operation was confirmed by the server.
    Disconnected,
    /// The client was closed (or drained); nothing more can be sent.
    Closed,
    /// The options or a URL are not usable.
    Config,
    /// No server of the pool could be reached.
    NoServers,
    /// The subscription was closed by the server (for example a permissions violation).
    SubscriptionClosed,
    /// The server refused a publish or subscription for lack of permission.
    PermissionDenied,
}

/// An error from the client.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    message: Arc<str>,
}

/// A result with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: Arc::from(message.into()),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message (without the kind).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when the operation timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// True when a request found no responders.
    pub fn is_no_responders(&self) -> bool {
        self.kind == ErrorKind::NoResponders
    }

    /// True when the server refused the credentials.
    pub fn is_authorization(&self) -> bool {
        self.kind == ErrorKind::Authorization
    }

    /// True when the client is closed.
    pub fn is_closed(&self) -> bool {
        self.kind == ErrorKind::Closed
    }

    /// True when the input was refused before anything was written.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::InvalidInput | ErrorKind::MaxPayloadExceeded
        )
    }

    /// True when a publish was refused because the reconnect buffer is full.
    pub fn is_reconnect_buffer_full(&self) -> bool {
        self.kind == ErrorKind::ReconnectBufferFull
    }

    /// True when the server refused the operation for lack of permission.
    pub fn is_permission_denied(&self) -> bool {
        self.kind == ErrorKind::PermissionDenied
    }

    /// True for TLS failures.
    pub fn is_tls(&self) -> bool {
        self.kind == ErrorKind::Tls
    }

    pub(crate) fn closed() -> Self {
        Self::new(ErrorKind::Closed, "the client is closed")
    }

    pub(crate) fn timeout(what: &str) -> Self {
        Self::new(ErrorKind::Timeout, format!("{what} timed out"))
    }

    pub(crate) fn io(context: &str, err: &std::io::Error) -> Self {
        // rustls reports alerts from the peer (e.g. a refused client certificate) and
        // certificate failures through the IO error of the read or write that met them.
        let kind = if err.get_ref().is_some_and(|e| e.is::<rustls::Error>()) {
            ErrorKind::Tls
        } else {
            ErrorKind::Io
        };
        Self::new(kind, format!("{context}: {err}"))
    }

    pub(crate) fn disconnected() -> Self {
        Self::new(
            ErrorKind::Disconnected,
            "the connection dropped before the server confirmed the operation",
        )
    }
}

impl From<proto::ProtoError> for Error {
    fn from(err: proto::ProtoError) -> Self {
        let kind = match err {
            proto::ProtoError::PayloadTooLarge { .. } => ErrorKind::MaxPayloadExceeded,
            e if e.is_protocol_violation() => ErrorKind::Protocol,
            _ => ErrorKind::InvalidInput,
        };
        Self::new(kind, err.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::MaxPayloadExceeded => "maximum payload exceeded",
            ErrorKind::Timeout => "timeout",
            ErrorKind::NoResponders => "no responders",
            ErrorKind::Authorization => "authorization failed",
            ErrorKind::Tls => "tls",
            ErrorKind::Io => "io",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Server => "server error",
            ErrorKind::ReconnectBufferFull => "reconnect buffer full",
            ErrorKind::Disconnected => "disconnected",
            ErrorKind::Closed => "closed",
            ErrorKind::Config => "configuration",
            ErrorKind::NoServers => "no servers",
            ErrorKind::SubscriptionClosed => "subscription closed",
            ErrorKind::PermissionDenied => "permission denied",
        };
        if self.message.is_empty() {
            f.write_str(what)
        } else {
            write!(f, "{what}: {}", self.message)
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &&*self.message)
            .finish()
    }
}

impl std::error::Error for Error {}
