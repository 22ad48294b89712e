//! The client's error type: a kind you can match or test with predicates, a message, and the
//! underlying error (an `io::Error`, a TLS error) as its [`source`](std::error::Error::source).

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
    /// The server refused a publish or subscription for lack of permission.
    PermissionDenied,
}

/// The cause of an [`Error`], shared so that the error stays cheap to clone.
type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// An error from the client.
///
/// Socket and TLS failures keep the error that caused them: [`std::error::Error::source`]
/// returns the `io::Error`, or the [`TlsError`](crate::tls::TlsError) / `rustls::Error`.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    message: Arc<str>,
    source: Option<Source>,
}

/// A result with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: Arc::from(message.into()),
            source: None,
        }
    }

    /// Builds an error of `kind` with a message and the error that caused it (returned by
    /// [`std::error::Error::source`]).
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            kind,
            message: Arc::from(message.into()),
            source: Some(Source::from(source.into())),
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

    /// A socket failure, keeping the `io::Error` as the source — or, when it carries a
    /// `rustls::Error` (rustls reports alerts from the peer, e.g. a refused client
    /// certificate, and certificate failures through the IO error of the read or write that
    /// met them), a [`ErrorKind::Tls`] error whose source is that rustls error.
    pub(crate) fn io(context: &str, err: std::io::Error) -> Self {
        let message = format!("{context}: {err}");
        #[cfg(not(feature = "tls"))]
        return Self::with_source(ErrorKind::Io, message, err);
        #[cfg(feature = "tls")]
        if !err.get_ref().is_some_and(|e| e.is::<rustls::Error>()) {
            return Self::with_source(ErrorKind::Io, message, err);
        }
        #[cfg(feature = "tls")]
        match err.into_inner() {
            Some(inner) => Self::with_source(ErrorKind::Tls, message, inner),
            None => Self::new(ErrorKind::Tls, message),
        }
    }

    /// A TLS failure, keeping the [`TlsError`](crate::tls::TlsError) as the source.
    #[cfg(feature = "tls")]
    pub(crate) fn tls(context: Option<&str>, err: crate::tls::TlsError) -> Self {
        let message = match context {
            Some(context) => format!("{context}: {err}"),
            None => err.to_string(),
        };
        Self::with_source(ErrorKind::Tls, message, err)
    }

    /// A TLS connection was needed (a `tls://`/`wss://` URL, or a server that requires TLS)
    /// in a build without the `tls` feature.
    #[cfg(any(not(feature = "tls"), test))]
    pub(crate) fn tls_not_compiled_in(addr: &str) -> Self {
        Self::new(
            ErrorKind::Tls,
            format!("{addr}: TLS support is not compiled in (enable the `tls` feature)"),
        )
    }

    /// The same error with another message (kind and source kept).
    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Arc::from(message.into());
        self
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
            .field("source", &self.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn an_io_error_is_the_source() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let err = Error::io("read", io);
        assert_eq!(err.kind(), ErrorKind::Io);
        assert_eq!(err.message(), "read: reset by peer");
        let source = err.source().expect("a source");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("the io::Error itself");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
        // Clones share it.
        assert!(err.clone().source().is_some());
    }

    #[cfg(feature = "tls")]
    #[test]
    fn a_rustls_error_inside_an_io_error_becomes_the_source_of_a_tls_error() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate),
        );
        let err = Error::io("read", io);
        assert_eq!(err.kind(), ErrorKind::Tls);
        let tls = err
            .source()
            .and_then(|s| s.downcast_ref::<rustls::Error>())
            .expect("the rustls error");
        assert_eq!(
            tls,
            &rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate)
        );
    }

    #[cfg(feature = "tls")]
    #[test]
    fn a_tls_error_is_the_source() {
        let err = Error::tls(
            Some("127.0.0.1:4222"),
            crate::tls::TlsError::Io(std::io::Error::other("boom")),
        );
        assert!(err.is_tls());
        assert!(err.message().starts_with("127.0.0.1:4222: "));
        assert!(err.source().is_some_and(|s| s.is::<crate::tls::TlsError>()));
    }

    #[test]
    fn errors_without_a_cause_have_no_source() {
        assert!(Error::closed().source().is_none());
        assert!(Error::new(ErrorKind::Config, "x").source().is_none());
    }

    #[test]
    fn tls_not_compiled_in_is_a_tls_error_naming_the_feature() {
        let err = Error::tls_not_compiled_in("nats://127.0.0.1:4222");
        assert!(err.is_tls());
        assert!(
            err.to_string().contains("enable the `tls` feature"),
            "{err}"
        );
    }
}
