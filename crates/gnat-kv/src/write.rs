//! Writes (spec §5.5): put, create, update, delete, purge, revert. Each is one JetStream
//! publish to `<write prefix><key>` whose ack sequence is the new revision; create after a
//! delete or purge takes a second one. The publishing itself (expectation, TTL and rollup
//! headers, ack, retries while no stream answers) is JetStream's
//! [`Context::publish_with_seq`](jetstream::Context::publish_with_seq); KV chooses the
//! options and turns wrong-last-sequence failures into its own errors.

use std::time::Duration;

use bytes::Bytes;
use jetstream::client::HeaderMap;
use jetstream::{ErrorKind as JsErrorKind, PublishOptions, Rollup};

use crate::entry::{Entry, KV_OPERATION, Operation};
use crate::error::{Error, ErrorKind, Result};
use crate::name::validate_write_key;
use crate::store::Store;

/// Retries while no stream answers a write (ADR-22), and the wait between them.
const NO_STREAM_RETRIES: u32 = 2;
const NO_STREAM_RETRY_WAIT: Duration = Duration::from_millis(250);

/// Options of [`Store::purge_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeOptions {
    /// Purge only if the key's latest revision is this one.
    pub expected_revision: Option<u64>,
    /// The purge entry itself expires after this long (the bucket needs limit markers).
    pub ttl: Option<Duration>,
}

impl PurgeOptions {
    /// No expectation, no TTL.
    pub fn new() -> Self {
        Self::default()
    }

    /// Purge only if the key's latest revision is `revision`.
    pub fn expected_revision(mut self, revision: u64) -> Self {
        self.expected_revision = Some(revision);
        self
    }

    /// Let the purge entry expire after `ttl`.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// The publish of one write: `operation` (a put sends no `KV-Operation` header; a purge also
/// rolls up the key's earlier entries), the revision it expects, its TTL, and KV's retries
/// while no stream answers.
pub(crate) fn write_options(
    operation: Operation,
    payload: Bytes,
    expected: Option<u64>,
    ttl: Option<Duration>,
) -> Result<PublishOptions> {
    let mut options = PublishOptions::new()
        .payload(payload)
        .retry(NO_STREAM_RETRIES, NO_STREAM_RETRY_WAIT);
    let marker = match operation {
        Operation::Put => None,
        Operation::Delete => Some("DEL"),
        Operation::Purge => {
            options = options.rollup(Rollup::Subject);
            Some("PURGE")
        }
    };
    if let Some(value) = marker {
        // Name and value are ours, so this cannot fail; a failure is still reported.
        let mut headers = HeaderMap::new();
        headers.insert(KV_OPERATION, value).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("header {KV_OPERATION}: {e}"),
            )
        })?;
        options = options.headers(headers);
    }
    if let Some(revision) = expected {
        options = options.expected_last_subject_sequence(revision);
    }
    if let Some(ttl) = ttl {
        options = options.ttl(ttl);
    }
    Ok(options)
}

impl Store {
    /// Publishes one write and returns the stored revision.
    async fn write(&self, key: &str, options: PublishOptions) -> jetstream::Result<u64> {
        let inner = &self.inner;
        let mut subject = String::with_capacity(inner.write_prefix.len() + key.len());
        subject.push_str(&inner.write_prefix);
        subject.push_str(key);
        match inner.ctx.publish_with_seq(&subject, options).await {
            // Said in KV's words: a write, not a publish.
            Err(e) if e.is_no_stream() => Err(jetstream::Error::new(
                JsErrorKind::NoStream,
                format!("no stream answered a write to {subject} (no responders)"),
            )),
            result => result,
        }
    }

    /// A write that expects a revision: a wrong last sequence becomes
    /// [`ErrorKind::WrongLastRevision`].
    async fn write_expecting(
        &self,
        key: &str,
        options: PublishOptions,
        expected: Option<u64>,
    ) -> Result<u64> {
        match self.write(key, options).await {
            Ok(revision) => Ok(revision),
            Err(e) if expected.is_some() && e.is_wrong_last_sequence() => Err(Error::with_source(
                ErrorKind::WrongLastRevision,
                format!(
                    "key {key}: the latest revision is not {}",
                    expected.unwrap_or_default()
                ),
                e,
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Puts `value` under `key`; returns the new revision.
    pub async fn put(&self, key: impl AsRef<str>, value: impl Into<Bytes>) -> Result<u64> {
        let key = key.as_ref();
        validate_write_key(key)?;
        let options = write_options(Operation::Put, value.into(), None, None)?;
        Ok(self.write(key, options).await?)
    }

    /// Puts `value` under `key` only if the key has no current value (never written, or its
    /// latest entry is a delete or purge); returns the new revision. Fails with
    /// [`Error::is_key_exists`] otherwise.
    pub async fn create(&self, key: impl AsRef<str>, value: impl Into<Bytes>) -> Result<u64> {
        let key = key.as_ref();
        self.create_inner(key, value.into(), None).await
    }

    /// As [`Store::create`], and the value expires after `ttl` (sub-second precision; the
    /// bucket needs limit markers). The TTL is kept when the key had been deleted or purged
    /// before.
    pub async fn create_with_ttl(
        &self,
        key: impl AsRef<str>,
        value: impl Into<Bytes>,
        ttl: Duration,
    ) -> Result<u64> {
        let key = key.as_ref();
        self.create_inner(key, value.into(), Some(ttl)).await
    }

    async fn create_inner(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<u64> {
        validate_write_key(key)?;
        let options = write_options(Operation::Put, value.clone(), Some(0), ttl)?;
        let first = match self.write(key, options).await {
            Ok(revision) => return Ok(revision),
            Err(e) if e.is_wrong_last_sequence() => e,
            Err(e) => return Err(e.into()),
        };
        // Something is stored under the key. If it is a tombstone, write over it, expecting
        // exactly that tombstone, with the same TTL.
        let key_exists = |e| {
            Error::with_source(
                ErrorKind::KeyExists,
                format!("key {key} exists in bucket {}", self.bucket()),
                e,
            )
        };
        match self.latest_consistent(key).await? {
            Some(latest) if latest.operation.is_tombstone() => {
                let options = write_options(Operation::Put, value, Some(latest.revision), ttl)?;
                match self.write(key, options).await {
                    Ok(revision) => Ok(revision),
                    Err(e) if e.is_wrong_last_sequence() => Err(key_exists(e)),
                    Err(e) => Err(e.into()),
                }
            }
            _ => Err(key_exists(first)),
        }
    }

    /// Puts `value` under `key` only if the key's latest revision is `revision` (0: the key
    /// has never been written, or was purged); returns the new revision. Fails with
    /// [`Error::is_wrong_last_revision`] otherwise.
    pub async fn update(
        &self,
        key: impl AsRef<str>,
        value: impl Into<Bytes>,
        revision: u64,
    ) -> Result<u64> {
        let key = key.as_ref();
        validate_write_key(key)?;
        self.update_valid(key, value.into(), revision, None).await
    }

    /// As [`Store::update`], and the new value expires after `ttl` (the bucket needs limit
    /// markers). With history above 1, an expired value uncovers the one before it.
    pub async fn update_with_ttl(
        &self,
        key: impl AsRef<str>,
        value: impl Into<Bytes>,
        revision: u64,
        ttl: Duration,
    ) -> Result<u64> {
        let key = key.as_ref();
        validate_write_key(key)?;
        self.update_valid(key, value.into(), revision, Some(ttl))
            .await
    }

    /// [`Store::update_with_ttl`] for a key already validated for writing.
    async fn update_valid(
        &self,
        key: &str,
        value: Bytes,
        revision: u64,
        ttl: Option<Duration>,
    ) -> Result<u64> {
        let options = write_options(Operation::Put, value, Some(revision), ttl)?;
        self.write_expecting(key, options, Some(revision)).await
    }

    /// Deletes `key`, keeping its history (a `DEL` entry); returns the delete's revision.
    pub async fn delete(&self, key: impl AsRef<str>) -> Result<u64> {
        let key = key.as_ref();
        self.delete_inner(key, None).await
    }

    /// Deletes `key` only if its latest revision is `revision`.
    pub async fn delete_expecting(&self, key: impl AsRef<str>, revision: u64) -> Result<u64> {
        let key = key.as_ref();
        self.delete_inner(key, Some(revision)).await
    }

    async fn delete_inner(&self, key: &str, expected: Option<u64>) -> Result<u64> {
        validate_write_key(key)?;
        let options = write_options(Operation::Delete, Bytes::new(), expected, None)?;
        self.write_expecting(key, options, expected).await
    }

    /// Purges `key`: a `PURGE` entry replaces its whole history; returns its revision.
    pub async fn purge(&self, key: impl AsRef<str>) -> Result<u64> {
        let key = key.as_ref();
        self.purge_with(key, PurgeOptions::new()).await
    }

    /// Purges `key` with an expected revision and/or a TTL on the purge entry.
    pub async fn purge_with(&self, key: impl AsRef<str>, options: PurgeOptions) -> Result<u64> {
        let key = key.as_ref();
        validate_write_key(key)?;
        let expected = options.expected_revision;
        let publish = write_options(Operation::Purge, Bytes::new(), expected, options.ttl)?;
        self.write_expecting(key, publish, expected).await
    }

    /// Puts the value `key` had at `revision` back as its newest value, provided nothing else
    /// is written to the key meanwhile; returns the new revision. Fails with
    /// [`Error::is_key_not_found`] when that revision is not a value of `key`.
    pub async fn revert(&self, key: impl AsRef<str>, revision: u64) -> Result<u64> {
        let key = key.as_ref();
        validate_write_key(key)?;
        let Some(old) = self.entry_at_valid(key, revision).await? else {
            return Err(Error::new(
                ErrorKind::KeyNotFound,
                format!("key {key} has no value at revision {revision}"),
            ));
        };
        self.revert_valid(key, old.value).await
    }

    /// Puts the value of `old`, an entry already read (with [`Store::entry_at`], say), back
    /// as the newest value of its key, provided nothing else is written to the key meanwhile;
    /// returns the new revision. [`Store::revert`] without reading the old entry again.
    pub async fn revert_to(&self, old: &Entry) -> Result<u64> {
        validate_write_key(&old.key)?;
        self.revert_valid(&old.key, old.value.clone()).await
    }

    /// Writes `value` over the latest revision of `key`, a key already validated for writing.
    async fn revert_valid(&self, key: &str, value: Bytes) -> Result<u64> {
        let current = self.latest_consistent(key).await?.map_or(0, |e| e.revision);
        self.update_valid(key, value, current, None).await
    }
}
