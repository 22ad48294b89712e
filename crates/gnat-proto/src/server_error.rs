//! What a `-ERR` means: the texts nats-server sends, classified.
//!
//! The server explains an error in English text, not with a code (see the `-ERR` section
//! of the NATS client protocol documentation, "Protocol error messages"). A client has to
//! act on a few of them — close the connection and reconnect, fail a request whose publish
//! was refused, end a subscription the server refused — so the text is classified here,
//! once, instead of being searched for substrings wherever it is handled.
//!
//! Matching is by the start of the text, ignoring ASCII case: some texts carry details after
//! the fixed part (the control line limit and a snippet, the subscription id). Subjects and
//! queue groups in permission errors are quoted the way Go's `%q` quotes them (nats-server
//! 2.2 and later) or, from older servers, bare; both are understood.

use std::borrow::Cow;

/// A `-ERR` text from the server, classified. Build it with [`ServerError::parse`] from the
/// text of [`ServerOp::Err`](crate::ServerOp::Err).
///
/// ```
/// use gnat_proto::ServerError;
///
/// let err = ServerError::parse("Permissions Violation for Subscription to \"orders.>\" using queue \"q\"");
/// assert_eq!(
///     err,
///     ServerError::SubscriptionDenied {
///         subject: "orders.>".into(),
///         queue: Some("q".into()),
///         sid: None,
///     }
/// );
/// assert!(!err.is_fatal());
/// assert!(ServerError::parse("Stale Connection").is_fatal());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerError<'a> {
    /// `Authorization Violation`: the credentials were refused (fatal).
    AuthorizationViolation,
    /// `Authentication Timeout` (older servers: `Authorization Timeout`): no `CONNECT`
    /// arrived in time (fatal).
    AuthenticationTimeout,
    /// `User Authentication Expired`: the user JWT expired (fatal).
    UserAuthenticationExpired,
    /// `Account Authentication Expired`: the account JWT expired (fatal).
    AccountAuthenticationExpired,
    /// `User Authentication Revoked`: the user JWT was revoked (fatal).
    UserAuthenticationRevoked,
    /// `Permissions Violation for Publish to <subject>`: the publish was dropped; the
    /// connection stays up.
    PublishDenied {
        /// The subject the publish was refused on.
        subject: Cow<'a, str>,
    },
    /// `Permissions Violation for Publish with Reply of <reply>`: the publish was dropped
    /// because of its reply subject; the connection stays up.
    ReplyDenied {
        /// The refused reply subject.
        reply: Cow<'a, str>,
    },
    /// `Permissions Violation for Subscription to <subject>[ using queue <queue>][ (sid
    /// <sid>)]` (also with `, too many tokens`): the subscription was refused or removed;
    /// the connection stays up.
    SubscriptionDenied {
        /// The subject of the refused subscription.
        subject: Cow<'a, str>,
        /// Its queue group, if it had one.
        queue: Option<Cow<'a, str>>,
        /// Its subscription id, when the server named it (subscriptions removed after a
        /// permissions reload).
        sid: Option<u64>,
    },
    /// `Stale Connection`: the client missed the server's PINGs (fatal).
    StaleConnection,
    /// `Maximum Payload Violation`: a message was larger than `max_payload` (fatal).
    MaxPayload,
    /// `maximum connections exceeded` (fatal).
    MaxConnections,
    /// `maximum account active connections exceeded` (fatal).
    MaxAccountConnections,
    /// `maximum subscriptions exceeded`: the subscription was refused; the connection
    /// stays up.
    MaxSubscriptions,
    /// `maximum control line exceeded` (fatal).
    MaxControlLine,
    /// `Slow Consumer`: the client did not read fast enough (fatal).
    SlowConsumer,
    /// `Unknown Protocol Operation`: the server could not parse what it received (fatal).
    UnknownProtocolOperation,
    /// `Parser Error` (named in the protocol documentation; recent servers send `Unknown
    /// Protocol Operation` instead) (fatal).
    ParserError,
    /// `invalid client protocol`: the `CONNECT` asked for a protocol the server does not
    /// speak (fatal).
    InvalidClientProtocol,
    /// `no responders requires headers support` (fatal).
    NoRespondersRequiresHeaders,
    /// `Secure Connection - TLS Required` (fatal).
    TlsRequired,
    /// `Connection throttling is active. Please try again later.` (fatal).
    ConnectionThrottling,
    /// `Failed Account Registration` (fatal).
    FailedAccountRegistration,
    /// `attempted to connect to route port` / `… leaf node port` / `… gateway port`: the
    /// URL names a port that is not for clients (fatal).
    WrongPort,
    /// `Invalid Subject`: a `SUB` subject the server refused; the connection stays up.
    InvalidSubject,
    /// `Invalid Publish Subject`: a publish subject the server refused; the connection stays
    /// up.
    InvalidPublishSubject,
    /// Any other text (the connection is assumed to stay up).
    Unknown,
}

/// Texts with nothing to extract, by the start of the text (lower case), and what they are.
const FIXED: &[(&str, ServerError<'static>)] = &[
    (
        "authorization violation",
        ServerError::AuthorizationViolation,
    ),
    ("authentication timeout", ServerError::AuthenticationTimeout),
    ("authorization timeout", ServerError::AuthenticationTimeout),
    (
        "user authentication expired",
        ServerError::UserAuthenticationExpired,
    ),
    (
        "account authentication expired",
        ServerError::AccountAuthenticationExpired,
    ),
    (
        "user authentication revoked",
        ServerError::UserAuthenticationRevoked,
    ),
    ("stale connection", ServerError::StaleConnection),
    ("maximum payload violation", ServerError::MaxPayload),
    ("maximum connections exceeded", ServerError::MaxConnections),
    (
        "maximum account active connections exceeded",
        ServerError::MaxAccountConnections,
    ),
    (
        "maximum subscriptions exceeded",
        ServerError::MaxSubscriptions,
    ),
    ("maximum control line exceeded", ServerError::MaxControlLine),
    ("slow consumer", ServerError::SlowConsumer),
    (
        "unknown protocol operation",
        ServerError::UnknownProtocolOperation,
    ),
    ("parser error", ServerError::ParserError),
    (
        "invalid client protocol",
        ServerError::InvalidClientProtocol,
    ),
    (
        "no responders requires headers support",
        ServerError::NoRespondersRequiresHeaders,
    ),
    ("secure connection - tls required", ServerError::TlsRequired),
    (
        "connection throttling is active",
        ServerError::ConnectionThrottling,
    ),
    (
        "failed account registration",
        ServerError::FailedAccountRegistration,
    ),
    ("attempted to connect to route port", ServerError::WrongPort),
    (
        "attempted to connect to leaf node port",
        ServerError::WrongPort,
    ),
    (
        "attempted to connect to gateway port",
        ServerError::WrongPort,
    ),
    (
        "invalid publish subject",
        ServerError::InvalidPublishSubject,
    ),
    ("invalid subject", ServerError::InvalidSubject),
];

const PUBLISH_DENIED: &str = "permissions violation for publish to ";
const REPLY_DENIED: &str = "permissions violation for publish with reply of ";
const SUBSCRIPTION_DENIED: &str = "permissions violation for subscription to ";

impl<'a> ServerError<'a> {
    /// Classifies the text of a `-ERR` (as [`ServerOp::Err`](crate::ServerOp::Err) holds it:
    /// without the surrounding single quotes). Never fails: an unknown text is
    /// [`ServerError::Unknown`].
    pub fn parse(text: &'a str) -> Self {
        let text = text.trim();
        if let Some(rest) = strip_prefix_ci(text, PUBLISH_DENIED) {
            return match name(rest) {
                Some((subject, _)) => ServerError::PublishDenied { subject },
                None => ServerError::Unknown,
            };
        }
        if let Some(rest) = strip_prefix_ci(text, REPLY_DENIED) {
            return match name(rest) {
                Some((reply, _)) => ServerError::ReplyDenied { reply },
                None => ServerError::Unknown,
            };
        }
        if let Some(rest) = strip_prefix_ci(text, SUBSCRIPTION_DENIED) {
            let Some((subject, rest)) = name(rest) else {
                return ServerError::Unknown;
            };
            let (queue, rest) = match strip_prefix_ci(rest.trim_start(), "using queue ") {
                Some(q) => match name(q) {
                    Some((queue, rest)) => (Some(queue), rest),
                    None => return ServerError::Unknown,
                },
                None => (None, rest),
            };
            let sid = strip_prefix_ci(rest.trim_start(), "(sid ")
                .and_then(name)
                .and_then(|(sid, _)| sid.parse().ok());
            return ServerError::SubscriptionDenied {
                subject,
                queue,
                sid,
            };
        }
        FIXED
            .iter()
            .find(|(prefix, _)| strip_prefix_ci(text, prefix).is_some())
            .map_or(ServerError::Unknown, |(_, kind)| kind.clone())
    }

    /// True when the server closes the connection after sending this error (the client
    /// should treat the connection as gone and reconnect, or give up on an authentication
    /// failure).
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            ServerError::PublishDenied { .. }
                | ServerError::ReplyDenied { .. }
                | ServerError::SubscriptionDenied { .. }
                | ServerError::MaxSubscriptions
                | ServerError::InvalidSubject
                | ServerError::InvalidPublishSubject
                | ServerError::Unknown
        )
    }

    /// True for an authentication or authorization failure: bad, expired or revoked
    /// credentials, or none sent in time.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            ServerError::AuthorizationViolation
                | ServerError::AuthenticationTimeout
                | ServerError::UserAuthenticationExpired
                | ServerError::AccountAuthenticationExpired
                | ServerError::UserAuthenticationRevoked
        )
    }

    /// True for a permissions violation (publish, reply or subscription refused).
    pub fn is_permission(&self) -> bool {
        matches!(
            self,
            ServerError::PublishDenied { .. }
                | ServerError::ReplyDenied { .. }
                | ServerError::SubscriptionDenied { .. }
        )
    }
}

/// `text` without `prefix`, compared ignoring ASCII case; `None` if it does not start so.
fn strip_prefix_ci<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

/// A name at the start of `text`: Go-quoted (`"a.b"`, with `\"` and `\\` unescaped; other
/// escapes are kept as written) or bare (up to whitespace, `,` or `)`). Returns it and the
/// rest of the text after it.
fn name(text: &str) -> Option<(Cow<'_, str>, &str)> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut escaped = false;
        let mut has_escape = false;
        for (i, c) in quoted.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => {
                    escaped = true;
                    has_escape = true;
                }
                (false, '"') => {
                    let inner = quoted.get(..i)?;
                    let rest = quoted.get(i..)?.strip_prefix('"')?;
                    let name = if has_escape {
                        Cow::Owned(unescape(inner))
                    } else {
                        Cow::Borrowed(inner)
                    };
                    return Some((name, rest));
                }
                (false, _) => {}
            }
        }
        return None;
    }
    let end = text
        .find(|c: char| c.is_whitespace() || c == ',' || c == ')')
        .unwrap_or(text.len());
    let bare = text.get(..end)?.trim_matches('\'');
    if bare.is_empty() {
        return None;
    }
    Some((Cow::Borrowed(bare), text.get(end..)?))
}

/// Undoes Go's `\"` and `\\`; any other escape is kept as written.
fn unescape(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e @ ('"' | '\\')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}
