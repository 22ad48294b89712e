//! Object Store errors: an [`ErrorKind`] for what went wrong in object-store terms, the
//! JetStream error underneath (with the server's `code` and `err_code`) or the I/O error of a
//! put's reader when there is one, and predicates for the cases programs branch on.

use std::fmt;
use std::sync::Arc;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bucket name is not `[a-zA-Z0-9_-]+`; nothing was sent.
    InvalidBucketName,
    /// The object name is empty; nothing was sent.
    InvalidName,
    /// The bucket configuration is not valid; nothing was sent.
    InvalidConfig,
    /// Other invalid input (a put with a link in its meta, a chunk size of 0 …); nothing was
    /// sent.
    InvalidInput,
    /// The bucket does not exist (stream `OBJ_<bucket>` not found, 10059).
    BucketNotFound,
    /// A bucket of that name exists with another configuration (10058).
    BucketExists,
    /// The stream exists but is not an object store.
    NotABucket,
    /// The object does not exist or was deleted.
    ObjectNotFound,
    /// An object of that name exists (a rename or a link would overwrite it).
    ObjectExists,
    /// A link was refused (to a link, to a deleted object) or a bucket link was read as an
    /// object.
    Link,
    /// The bytes read do not have the digest the object's info records.
    DigestMismatch,
    /// The bytes (or chunks) read do not add up to the size (or count) the info records.
    SizeMismatch,
    /// Chunks of the object are missing from the stream (purged, expired, or deleted while
    /// it was being read).
    ChunksMissing,
    /// No chunk arrived within the read timeout.
    Timeout,
    /// A put's reader failed; nothing was made visible and its chunks were purged.
    Read,
    /// A stored meta message could not be read as object info.
    Decode,
    /// Any other failure of the JetStream layer (connection, server errors); see
    /// [`Error::jetstream`].
    JetStream,
}

/// An error from the Object Store layer.
///
/// One pointer wide. When the failure came from the server (or the layers below), the
/// JetStream error is kept: [`Error::err_code`], [`Error::code`] and [`Error::jetstream`]
/// give it back; a put's failing reader is kept as its [`std::io::Error`].
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    source: Source,
}

#[derive(Clone)]
enum Source {
    None,
    JetStream(jetstream::Error),
    Io(Arc<std::io::Error>),
}

/// A result with the Object Store [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a message and nothing underneath.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::build(kind, message.into(), Source::None)
    }

    /// An error of `kind` caused by a JetStream error (whose codes it keeps).
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: jetstream::Error,
    ) -> Self {
        Self::build(kind, message.into(), Source::JetStream(source))
    }

    /// An error of `kind` caused by an I/O error.
    pub fn with_io(kind: ErrorKind, message: impl Into<String>, source: std::io::Error) -> Self {
        Self::build(kind, message.into(), Source::Io(Arc::new(source)))
    }

    fn build(kind: ErrorKind, message: String, source: Source) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message,
                source,
            }),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The JetStream error underneath, when there is one.
    pub fn jetstream(&self) -> Option<&jetstream::Error> {
        match &self.inner.source {
            Source::JetStream(e) => Some(e),
            _ => None,
        }
    }

    /// The I/O error underneath (a put's reader), when there is one.
    pub fn io(&self) -> Option<&std::io::Error> {
        match &self.inner.source {
            Source::Io(e) => Some(e),
            _ => None,
        }
    }

    /// The server's machine code (`err_code`, e.g. 10059), when the server sent one.
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

    /// The object does not exist (or was deleted).
    pub fn is_object_not_found(&self) -> bool {
        self.inner.kind == ErrorKind::ObjectNotFound
    }

    /// Something was not found: the bucket, the object, or (underneath) a stream or message.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::BucketNotFound | ErrorKind::ObjectNotFound
        ) || self.jetstream().is_some_and(jetstream::Error::is_not_found)
    }

    /// A rename or link would overwrite an existing object.
    pub fn is_object_exists(&self) -> bool {
        self.inner.kind == ErrorKind::ObjectExists
    }

    /// A link was refused, or a bucket link was read as an object.
    pub fn is_link(&self) -> bool {
        self.inner.kind == ErrorKind::Link
    }

    /// The digest of the bytes read does not match the object's info.
    pub fn is_digest_mismatch(&self) -> bool {
        self.inner.kind == ErrorKind::DigestMismatch
    }

    /// The size or chunk count read does not match the object's info.
    pub fn is_size_mismatch(&self) -> bool {
        self.inner.kind == ErrorKind::SizeMismatch
    }

    /// Chunks of the object are missing (or went away during the read).
    pub fn is_chunks_missing(&self) -> bool {
        self.inner.kind == ErrorKind::ChunksMissing
    }

    /// The object or bucket name was refused before anything was sent.
    pub fn is_invalid_name(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::InvalidName | ErrorKind::InvalidBucketName
        )
    }

    /// The bucket name was refused before anything was sent.
    pub fn is_invalid_bucket_name(&self) -> bool {
        self.inner.kind == ErrorKind::InvalidBucketName
    }

    /// A put's reader failed.
    pub fn is_read(&self) -> bool {
        self.inner.kind == ErrorKind::Read
    }

    /// The operation (or a read waiting for its next chunk) timed out.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
            || self.jetstream().is_some_and(jetstream::Error::is_timeout)
    }

    /// Nobody answered (JetStream unavailable, or no stream for the subject).
    pub fn is_no_responders(&self) -> bool {
        self.jetstream()
            .is_some_and(jetstream::Error::is_no_responders)
    }
}

impl From<jetstream::Error> for Error {
    fn from(err: jetstream::Error) -> Self {
        Error::with_source(ErrorKind::JetStream, String::new(), err)
    }
}

impl From<Error> for std::io::Error {
    /// For `AsyncRead`: timeouts keep their kind, the rest are `Other`, the error inside.
    fn from(err: Error) -> Self {
        let kind = if err.is_timeout() {
            std::io::ErrorKind::TimedOut
        } else if err.is_not_found() {
            std::io::ErrorKind::NotFound
        } else if err.is_digest_mismatch() || err.is_size_mismatch() {
            std::io::ErrorKind::InvalidData
        } else {
            std::io::ErrorKind::Other
        };
        std::io::Error::new(kind, err)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("object store")?;
        if !self.inner.message.is_empty() {
            write!(f, ": {}", self.inner.message)?;
        }
        match &self.inner.source {
            Source::None => {}
            Source::JetStream(e) => write!(f, " ({e})")?,
            Source::Io(e) => write!(f, " ({e})")?,
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
        match &self.inner.source {
            Source::None => {}
            Source::JetStream(e) => {
                d.field("jetstream", e);
            }
            Source::Io(e) => {
                d.field("io", e);
            }
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.source {
            Source::None => None,
            Source::JetStream(e) => Some(e),
            Source::Io(e) => Some(&**e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jetstream::ApiError;

    #[test]
    fn keeps_the_server_codes_and_the_cause() {
        let js = jetstream::Error::from_api(ApiError {
            code: 404,
            err_code: 10059,
            description: "stream not found".into(),
        });
        let e = Error::with_source(ErrorKind::BucketNotFound, "bucket B not found", js);
        assert!(e.is_bucket_not_found() && e.is_not_found());
        assert_eq!(e.err_code(), Some(10059));
        assert_eq!(e.code(), Some(404));
        assert!(std::error::Error::source(&e).is_some());
        let io = Error::with_io(
            ErrorKind::Read,
            "reader failed",
            std::io::Error::other("disk"),
        );
        assert!(io.is_read() && io.io().is_some() && io.jetstream().is_none());
        assert_eq!(
            io.to_string(),
            "object store: reader failed (disk)".to_string()
        );
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
        let as_io: std::io::Error = Error::new(ErrorKind::DigestMismatch, "x").into();
        assert_eq!(as_io.kind(), std::io::ErrorKind::InvalidData);
    }
}
