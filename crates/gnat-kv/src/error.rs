//! Key-Value errors: a [`ErrorKind`] for what went wrong in KV terms, the JetStream error
//! underneath (with the server's `code` and `err_code`) when there is one, and predicates for
//! the cases programs branch on.

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bucket name is not `[a-zA-Z0-9_-]+`; nothing was sent.
    InvalidBucketName,
    /// The key (or watch/keys filter) is not valid; nothing was sent.
    InvalidKey,
    /// The bucket configuration is not valid (history above 64 …); nothing was sent.
    InvalidConfig,
    /// Other invalid input (conflicting watch options …); nothing was sent.
    InvalidInput,
    /// Limit markers need an account whose JetStream API level is at least 1.
    LimitMarkersUnsupported,
    /// The bucket does not exist (stream `KV_<bucket>` not found, 10059).
    BucketNotFound,
    /// A bucket of that name exists with another configuration (10058).
    BucketExists,
    /// The stream exists but is not a usable Key-Value bucket.
    NotABucket,
    /// The key (or that revision of it) does not exist, or was deleted or purged.
    KeyNotFound,
    /// `create` found a current value for the key (wrong last sequence, 10071/10164).
    KeyExists,
    /// The key's latest revision is not the expected one (wrong last sequence, 10071/10164).
    WrongLastRevision,
    /// A lock or semaphore is held by someone else (at once, or still after waiting).
    LockHeld,
    /// A lease (or permit) is no longer held: its entry expired or was replaced, so it can
    /// neither be renewed nor released.
    LeaseLost,
    /// The bucket does not accept per-key TTLs: it was created without limit markers
    /// ([`Config::limit_marker_ttl`](crate::Config::limit_marker_ttl)).
    TtlNotAllowed,
    /// A stored message could not be read as an entry.
    Decode,
    /// A key or value codec refused its input (ADR-54).
    Codec,
    /// Any other failure of the JetStream layer (timeouts, connection, server errors); see
    /// [`Error::jetstream`].
    JetStream,
}

/// An error from the Key-Value layer.
///
/// One pointer wide. When the failure came from the server (or the layers below), the
/// JetStream error is kept: [`Error::err_code`], [`Error::code`] and [`Error::jetstream`]
/// give it back.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    source: Option<jetstream::Error>,
    conflict: Option<Conflict>,
}

/// The key whose revision did not match a transaction's expectation, and the revision it
/// actually had (0: no entry at all) when the commit looked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Conflict {
    /// The key.
    pub key: String,
    /// Its latest revision (delete and purge entries included; 0 when it has none).
    pub revision: u64,
}

/// A result with the Key-Value [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a message and no JetStream error underneath.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source: None,
                conflict: None,
            }),
        }
    }

    /// An error of `kind` caused by a JetStream error (whose codes it keeps).
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: jetstream::Error,
    ) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source: Some(source),
                conflict: None,
            }),
        }
    }

    /// The same error naming the conflicting key of a transaction.
    pub(crate) fn with_conflict(mut self, conflict: Conflict) -> Self {
        self.inner.conflict = Some(conflict);
        self
    }

    /// For a transaction rejected by an expectation: the key that did not match and its
    /// actual revision.
    pub fn conflict(&self) -> Option<&Conflict> {
        self.inner.conflict.as_ref()
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The JetStream error underneath, when there is one.
    pub fn jetstream(&self) -> Option<&jetstream::Error> {
        self.inner.source.as_ref()
    }

    /// The server's machine code (`err_code`, e.g. 10071), when the server sent one.
    pub fn err_code(&self) -> Option<u64> {
        self.jetstream().and_then(jetstream::Error::err_code)
    }

    /// The server's HTTP-like code (404, 503 …), from an API error or an inline status.
    pub fn code(&self) -> Option<u16> {
        self.jetstream().and_then(jetstream::Error::code)
    }

    /// The bucket does not exist.
    pub fn is_bucket_not_found(&self) -> bool {
        self.inner.kind == ErrorKind::BucketNotFound
    }

    /// A bucket of that name exists with another configuration.
    pub fn is_bucket_exists(&self) -> bool {
        self.inner.kind == ErrorKind::BucketExists
    }

    /// The key (or the revision asked for) does not exist.
    pub fn is_key_not_found(&self) -> bool {
        self.inner.kind == ErrorKind::KeyNotFound
    }

    /// Something was not found: the bucket, the key, or (underneath) a stream, consumer or
    /// message.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::BucketNotFound | ErrorKind::KeyNotFound
        ) || self.jetstream().is_some_and(jetstream::Error::is_not_found)
    }

    /// `create` failed because the key has a current value.
    pub fn is_key_exists(&self) -> bool {
        self.inner.kind == ErrorKind::KeyExists
    }

    /// An expected revision (`update`, `delete_expecting`, `purge_with`) did not match the
    /// key's latest revision.
    pub fn is_wrong_last_revision(&self) -> bool {
        self.inner.kind == ErrorKind::WrongLastRevision
    }

    /// A lock or semaphore is held by someone else.
    pub fn is_lock_held(&self) -> bool {
        self.inner.kind == ErrorKind::LockHeld
    }

    /// A lease or permit was lost (expired or taken over).
    pub fn is_lease_lost(&self) -> bool {
        self.inner.kind == ErrorKind::LeaseLost
    }

    /// The bucket does not accept per-key TTLs (no limit markers).
    pub fn is_ttl_not_allowed(&self) -> bool {
        self.inner.kind == ErrorKind::TtlNotAllowed
    }

    /// The key or filter was refused before anything was sent.
    pub fn is_invalid_key(&self) -> bool {
        self.inner.kind == ErrorKind::InvalidKey
    }

    /// The bucket name was refused before anything was sent.
    pub fn is_invalid_bucket_name(&self) -> bool {
        self.inner.kind == ErrorKind::InvalidBucketName
    }

    /// The bucket configuration was refused before anything was sent.
    pub fn is_invalid_config(&self) -> bool {
        self.inner.kind == ErrorKind::InvalidConfig
    }

    /// The account's JetStream API level is too old for limit markers.
    pub fn is_limit_markers_unsupported(&self) -> bool {
        self.inner.kind == ErrorKind::LimitMarkersUnsupported
    }

    /// The operation timed out.
    pub fn is_timeout(&self) -> bool {
        self.jetstream().is_some_and(jetstream::Error::is_timeout)
    }

    /// Nobody answered (JetStream unavailable, or no stream for the subject).
    pub fn is_no_responders(&self) -> bool {
        self.jetstream()
            .is_some_and(jetstream::Error::is_no_responders)
    }

    /// A write was in flight when the connection was lost and could not be resent exactly
    /// (see [`jetstream::Error::is_outcome_unknown`]): it may or may not be stored. Read the
    /// key to find out before writing again.
    pub fn is_outcome_unknown(&self) -> bool {
        self.jetstream()
            .is_some_and(jetstream::Error::is_outcome_unknown)
    }
}

impl From<jetstream::Error> for Error {
    fn from(err: jetstream::Error) -> Self {
        Error::with_source(ErrorKind::JetStream, String::new(), err)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("kv")?;
        if !self.inner.message.is_empty() {
            write!(f, ": {}", self.inner.message)?;
        }
        if let Some(source) = &self.inner.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if !self.inner.message.is_empty() {
            d.field("message", &self.inner.message);
        }
        if let Some(source) = &self.inner.source {
            d.field("jetstream", source);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jetstream::ApiError;

    #[test]
    fn keeps_the_server_codes() {
        let js = jetstream::Error::from_api(ApiError {
            code: 400,
            err_code: 10071,
            description: "wrong last sequence: 3".into(),
        });
        let e = Error::with_source(ErrorKind::WrongLastRevision, "key k", js);
        assert!(e.is_wrong_last_revision() && !e.is_key_exists() && !e.is_not_found());
        assert_eq!(e.err_code(), Some(10071));
        assert_eq!(e.code(), Some(400));
        assert_eq!(
            e.to_string(),
            "kv: key k (jetstream: wrong last sequence: 3 (code 400, err_code 10071))"
        );
        let e = Error::new(ErrorKind::BucketNotFound, "bucket B");
        assert!(e.is_not_found() && e.is_bucket_not_found() && e.err_code().is_none());
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }
}
