//! The service layer's error type: a kind to match or test with predicates, a message, and the
//! client error underneath when there is one.

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A service or endpoint name outside `A-Z a-z 0-9 - _` (ADR-32 "Design").
    InvalidName,
    /// A version that is not a SemVer 2.0.0 string (ADR-32 revision 3).
    InvalidVersion,
    /// An endpoint subject or group prefix that is not a valid subject (a group may not hold
    /// `>`, an endpoint only as its last token).
    InvalidSubject,
    /// A queue group that is not a valid queue name.
    InvalidQueueGroup,
    /// A metadata key or value, description or error text that cannot be sent (for example a
    /// CR or LF in a header value).
    InvalidInput,
    /// The service was stopped: nothing can be added to it.
    Stopped,
    /// A request already has its response.
    AlreadyResponded,
    /// The request carried no reply subject, so there is nobody to respond to.
    NoReplySubject,
    /// A discovery reply could not be parsed.
    InvalidResponse,
    /// The client failed (connection closed, publish refused, ...); see [`Error::client_error`].
    Client,
}

/// An error from the service layer.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<client::Error>,
}

/// A result with the service layer's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The client error underneath, when the client failed.
    pub fn client_error(&self) -> Option<&client::Error> {
        self.source.as_ref()
    }

    /// True when a name, version, subject, queue group or text was refused before anything was
    /// sent.
    pub fn is_invalid_config(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::InvalidName
                | ErrorKind::InvalidVersion
                | ErrorKind::InvalidSubject
                | ErrorKind::InvalidQueueGroup
                | ErrorKind::InvalidInput
        )
    }

    /// True when the service has been stopped.
    pub fn is_stopped(&self) -> bool {
        self.kind == ErrorKind::Stopped
    }

    /// True when the client underneath timed out.
    pub fn is_timeout(&self) -> bool {
        self.source.as_ref().is_some_and(client::Error::is_timeout)
    }
}

impl From<client::Error> for Error {
    fn from(e: client::Error) -> Self {
        let kind = if e.is_invalid_input() {
            ErrorKind::InvalidInput
        } else {
            ErrorKind::Client
        };
        Error {
            kind,
            message: e.to_string(),
            source: Some(e),
        }
    }
}

impl From<client::proto::ProtoError> for Error {
    fn from(e: client::proto::ProtoError) -> Self {
        Error::new(ErrorKind::InvalidInput, e.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
