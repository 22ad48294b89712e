//! The one error type of this crate, and the small enums that say what and where.
//!
//! Everything here is `Copy`: an error never owns peer bytes, so returning one never
//! allocates, and the decoder can report a problem in a hostile stream for free.

use core::fmt;

/// A wire operation, named in errors.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `INFO` (server → client).
    Info,
    /// `CONNECT` (client → server).
    Connect,
    /// `PUB` (client → server).
    Pub,
    /// `HPUB` (client → server).
    Hpub,
    /// `SUB` (client → server).
    Sub,
    /// `UNSUB` (client → server).
    Unsub,
    /// `MSG` (server → client).
    Msg,
    /// `HMSG` (server → client).
    Hmsg,
    /// `PING` (both directions).
    Ping,
    /// `PONG` (both directions).
    Pong,
    /// `+OK` (server → client).
    Ok,
    /// `-ERR` (server → client).
    Err,
}

impl OpKind {
    /// The operation's name as written on the wire (upper case).
    pub const fn name(self) -> &'static str {
        match self {
            OpKind::Info => "INFO",
            OpKind::Connect => "CONNECT",
            OpKind::Pub => "PUB",
            OpKind::Hpub => "HPUB",
            OpKind::Sub => "SUB",
            OpKind::Unsub => "UNSUB",
            OpKind::Msg => "MSG",
            OpKind::Hmsg => "HMSG",
            OpKind::Ping => "PING",
            OpKind::Pong => "PONG",
            OpKind::Ok => "+OK",
            OpKind::Err => "-ERR",
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which numeric field of a control line was malformed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumField {
    /// The subscription id.
    Sid,
    /// The body size of `MSG`/`PUB`.
    Size,
    /// The header size of `HMSG`/`HPUB`.
    HeaderSize,
    /// The total (header + payload) size of `HMSG`/`HPUB`.
    TotalSize,
    /// The message limit of `UNSUB`.
    MaxMsgs,
}

impl fmt::Display for NumField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumField::Sid => "sid",
            NumField::Size => "size",
            NumField::HeaderSize => "header size",
            NumField::TotalSize => "total size",
            NumField::MaxMsgs => "max messages",
        })
    }
}

/// What kind of name failed validation.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    /// A subject to publish to (no wildcards).
    Publish,
    /// A subject to subscribe to (wildcards allowed as whole tokens).
    Subscribe,
    /// A reply subject (no wildcards).
    Reply,
    /// A queue group name.
    QueueGroup,
}

impl fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubjectKind::Publish => "publish subject",
            SubjectKind::Subscribe => "subscribe subject",
            SubjectKind::Reply => "reply subject",
            SubjectKind::QueueGroup => "queue group",
        })
    }
}

/// Why a subject or queue group is invalid.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectFault {
    /// The string is empty.
    Empty,
    /// A token is empty: a leading, trailing or doubled `.`.
    EmptyToken,
    /// A space, tab, CR or LF (these would inject protocol).
    Whitespace,
    /// Another control byte (below 0x20) or DEL (0x7f).
    Unprintable,
    /// A wildcard (`*` or `>`) where none is allowed.
    Wildcard,
    /// A wildcard that is not a whole token, as in `foo*` or `a>b`.
    PartialWildcard,
    /// `>` that is not the last token, as in `a.>.b`.
    WildcardNotLast,
}

impl fmt::Display for SubjectFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubjectFault::Empty => "is empty",
            SubjectFault::EmptyToken => "has an empty token",
            SubjectFault::Whitespace => "has whitespace",
            SubjectFault::Unprintable => "has a control character",
            SubjectFault::Wildcard => "has a wildcard",
            SubjectFault::PartialWildcard => "has a wildcard inside a token",
            SubjectFault::WildcardNotLast => "has `>` before its last token",
        })
    }
}

/// Why a `NATS/1.0` header block could not be parsed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderFault {
    /// The block does not start with the exact version line `NATS/1.0`.
    Version,
    /// The status after the version is not three decimal digits, or the
    /// description is not UTF-8.
    Status,
    /// A line is not terminated by CRLF.
    LineEnding,
    /// A header line has no `:`.
    MissingColon,
    /// A header name is empty or has a byte outside printable ASCII.
    Name,
    /// A header value has NUL or is not UTF-8.
    Value,
    /// A continuation line (starting with space or tab) with no header before it.
    Continuation,
    /// Bytes after the blank line that ends the block.
    TrailingData,
}

impl fmt::Display for HeaderFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderFault::Version => "version line is not NATS/1.0",
            HeaderFault::Status => "bad status code or description",
            HeaderFault::LineEnding => "line not terminated by CRLF",
            HeaderFault::MissingColon => "header line without ':'",
            HeaderFault::Name => "bad header name",
            HeaderFault::Value => "bad header value",
            HeaderFault::Continuation => "continuation line without a header",
            HeaderFault::TrailingData => "data after the terminating blank line",
        })
    }
}

/// Every error of the wire layer.
///
/// Decoding errors ([`is_protocol_violation`](ProtoError::is_protocol_violation) is
/// true) mean the peer broke the framing grammar: the byte stream cannot be
/// resynchronised and the connection should be closed. The other variants come from
/// checking local input (subjects, headers, sizes) before encoding, or from parsing
/// a header block, and leave the connection usable.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    // ---- decoding (peer bytes) ----
    /// No CRLF within `limit` bytes of control line.
    #[error("control line longer than {limit} bytes")]
    ControlLineTooLong {
        /// The limit in force (without the CRLF).
        limit: usize,
    },
    /// A line feed not preceded by a carriage return.
    #[error("control line ends in LF without CR")]
    BareLineFeed,
    /// The control line does not start with an operation of this direction.
    #[error("unknown protocol operation")]
    UnknownOperation,
    /// The operation has the wrong number of arguments.
    #[error("{op} with {got} arguments")]
    WrongArgumentCount {
        /// The operation.
        op: OpKind,
        /// How many arguments were found.
        got: usize,
    },
    /// A numeric field is not a decimal number that fits in 64 bits.
    #[error("{op}: invalid {field}")]
    InvalidNumber {
        /// The operation.
        op: OpKind,
        /// The field.
        field: NumField,
    },
    /// A declared body size is above the decoder's `max_payload`.
    #[error("declared body of {size} bytes exceeds the limit of {limit}")]
    FrameTooLarge {
        /// The declared size (saturated at `usize::MAX`).
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// `HMSG`/`HPUB` whose header size is above its total size.
    #[error("header size {header} exceeds total size {total}")]
    HeaderExceedsTotal {
        /// The declared header size.
        header: usize,
        /// The declared total size.
        total: usize,
    },
    /// The body is not followed by CRLF.
    #[error("{op} body not followed by CRLF")]
    MissingBodyTerminator {
        /// The operation.
        op: OpKind,
    },
    /// `INFO`/`CONNECT` JSON that does not parse (or, when encoding, does not serialize).
    #[error("{op}: invalid JSON")]
    InvalidJson {
        /// The operation.
        op: OpKind,
    },

    // ---- local input ----
    /// Headers plus payload exceed the server's `max_payload`.
    #[error("payload of {size} bytes exceeds max_payload {limit}")]
    PayloadTooLarge {
        /// Header bytes plus payload bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A subject, reply subject or queue group is invalid.
    #[error("{kind} {reason} at byte {at}")]
    InvalidSubject {
        /// Which kind of name.
        kind: SubjectKind,
        /// What is wrong.
        reason: SubjectFault,
        /// Byte offset of the problem.
        at: usize,
    },
    /// A header name is empty.
    #[error("header name is empty")]
    EmptyHeaderName,
    /// A header name has a byte that is not printable ASCII, or a `:`.
    #[error("header name has an invalid byte at {at}")]
    InvalidHeaderName {
        /// Byte offset in the name.
        at: usize,
    },
    /// A header value (or status description) has CR, LF or NUL.
    #[error("header value has an invalid byte at {at}")]
    InvalidHeaderValue {
        /// Byte offset in the value.
        at: usize,
    },
    /// A `-ERR` text to encode has CR or LF.
    #[error("error text has CR or LF at byte {at}")]
    InvalidErrorText {
        /// Byte offset in the text.
        at: usize,
    },

    // ---- header blocks ----
    /// A `NATS/1.0` header block could not be parsed.
    #[error("invalid header block: {reason} at byte {at}")]
    InvalidHeaderBlock {
        /// What is wrong.
        reason: HeaderFault,
        /// Byte offset in the block.
        at: usize,
    },
}

impl ProtoError {
    /// True for errors that mean the peer broke the framing grammar (returned by the
    /// decoder): the connection cannot continue and should be closed. (`InvalidJson`
    /// can in theory also come from [`encode_connect`](crate::encode::encode_connect),
    /// which never fails for a real [`Connect`](crate::Connect).)
    pub const fn is_protocol_violation(&self) -> bool {
        matches!(
            self,
            ProtoError::ControlLineTooLong { .. }
                | ProtoError::BareLineFeed
                | ProtoError::UnknownOperation
                | ProtoError::WrongArgumentCount { .. }
                | ProtoError::InvalidNumber { .. }
                | ProtoError::FrameTooLarge { .. }
                | ProtoError::HeaderExceedsTotal { .. }
                | ProtoError::MissingBodyTerminator { .. }
                | ProtoError::InvalidJson { .. }
        )
    }
}
