//! A bound bucket ([`Store`]): where it reads and writes (spec §5.4) and the single-key reads
//! (`get`, `entry`, `entry_at`, `status`).
//!
//! `get`/`entry` are one direct get in the subject-appended form
//! (`<api>.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`, empty body, no JSON either way),
//! sent and read by JetStream's [`Context::direct_get_last`]: the reply is the stored
//! message with its sequence and time in headers. Buckets without `allow_direct` use the
//! leader's `STREAM.MSG.GET` instead.

use std::sync::Arc;

use bytes::Bytes;
use jetstream::client::Subject;
use jetstream::{Context, StoredMessage, StreamInfo};

use crate::config::{Config, STREAM_PREFIX};
use crate::entry::{Entry, Key, Operation};
use crate::error::{Error, ErrorKind, Result};
use crate::name::validate_key;
use crate::status::Status;

/// A Key-Value bucket, bound: get, put, watch and the rest.
///
/// Cloning is cheap (one reference count); clones share everything.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) ctx: Context,
    pub(crate) bucket: Arc<str>,
    pub(crate) stream: String,
    /// `$KV.<bucket>.` — or `$KV.<origin>.` for a mirror, whose messages keep the origin's
    /// subjects. Keys are subjects minus this.
    pub(crate) read_prefix: String,
    /// Where writes go: `[<api prefix>.]$KV.<bucket or origin>.`.
    pub(crate) write_prefix: String,
    /// `<api>.DIRECT.GET.<stream>.<read prefix>`, when the stream allows direct gets.
    pub(crate) direct_prefix: Option<String>,
    /// The bucket mirrors another (its writes go to the origin).
    pub(crate) mirror: bool,
    /// Multi-last direct gets may work (cleared when one fails as on a server without them).
    pub(crate) multi_last: std::sync::atomic::AtomicBool,
}

impl Store {
    /// Binds to the bucket described by `info` (its stream's information).
    pub(crate) fn from_info(ctx: &Context, info: &StreamInfo) -> Result<Store> {
        let sc = &info.config;
        let Some(bucket) = sc.name.strip_prefix(STREAM_PREFIX) else {
            return Err(Error::new(
                ErrorKind::NotABucket,
                format!(
                    "stream {} is not a Key-Value bucket (no KV_ prefix)",
                    sc.name
                ),
            ));
        };
        if sc.max_msgs_per_subject.is_none_or(|h| h < 1) {
            return Err(Error::new(
                ErrorKind::NotABucket,
                format!(
                    "stream {} is not a Key-Value bucket (max_msgs_per_subject is not at least 1)",
                    sc.name
                ),
            ));
        }
        let use_api_prefix = ctx.prefix() != jetstream::context::DEFAULT_API_PREFIX;
        let (read_prefix, write_prefix) = match &sc.mirror {
            Some(m) => {
                let origin = m.name.strip_prefix(STREAM_PREFIX).unwrap_or(&m.name);
                let read = format!("$KV.{origin}.");
                let write = match m.external.as_ref().filter(|e| !e.api.is_empty()) {
                    Some(ext) => format!("{}.{read}", ext.api.trim_end_matches('.')),
                    None if use_api_prefix => format!("{}.{read}", ctx.prefix()),
                    None => read.clone(),
                };
                (read, write)
            }
            None => {
                let read = format!("$KV.{bucket}.");
                let write = if use_api_prefix {
                    format!("{}.{read}", ctx.prefix())
                } else {
                    read.clone()
                };
                (read, write)
            }
        };
        let direct_prefix = (sc.allow_direct == Some(true)).then(|| {
            format!(
                "{}.DIRECT.GET.{}.{}",
                ctx.prefix(),
                sc.name,
                read_prefix.as_str()
            )
        });
        Ok(Store {
            inner: Arc::new(Inner {
                ctx: ctx.clone(),
                bucket: Arc::from(bucket),
                stream: sc.name.clone(),
                read_prefix,
                write_prefix,
                direct_prefix,
                mirror: sc.mirror.is_some(),
                multi_last: std::sync::atomic::AtomicBool::new(true),
            }),
        })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The backing stream's name (`KV_<bucket>`).
    pub fn stream_name(&self) -> &str {
        &self.inner.stream
    }

    /// The JetStream context it uses.
    pub fn context(&self) -> &Context {
        &self.inner.ctx
    }

    /// The subject prefix of its keys in the stream (`$KV.<bucket>.`, or the origin's for a
    /// mirror).
    pub fn read_prefix(&self) -> &str {
        &self.inner.read_prefix
    }

    /// The subject prefix its writes are published to (spec §5.4: the API prefix is
    /// prepended for domains and imports; a mirror writes to its origin).
    pub fn write_prefix(&self) -> &str {
        &self.inner.write_prefix
    }

    /// Whether reads use direct get (the stream has `allow_direct`).
    pub fn uses_direct_get(&self) -> bool {
        self.inner.direct_prefix.is_some()
    }

    /// `<read prefix><key>`.
    pub(crate) fn read_subject(&self, key: &str) -> String {
        let mut s = String::with_capacity(self.inner.read_prefix.len() + key.len());
        s.push_str(&self.inner.read_prefix);
        s.push_str(key);
        s
    }

    /// The latest value of `key`, or `None` when it has none (never written, deleted,
    /// purged or expired).
    pub async fn get(&self, key: impl AsRef<str>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        Ok(self.entry(key).await?.map(|e| e.value))
    }

    /// The latest entry of `key`, or `None` when it has no current value (never written,
    /// or its latest entry is a delete or purge).
    pub async fn entry(&self, key: impl AsRef<str>) -> Result<Option<Entry>> {
        let key = key.as_ref();
        validate_key(key)?;
        Ok(self
            .latest(key)
            .await?
            .filter(|e| !e.operation.is_tombstone()))
    }

    /// The latest entry of `key` including deletes and purges (the key must be valid):
    /// JetStream's subject-appended direct get of the last message
    /// ([`Context::direct_get_last`]), or the leader's message get without direct gets.
    pub(crate) async fn latest(&self, key: &str) -> Result<Option<Entry>> {
        if self.inner.direct_prefix.is_none() {
            return self.latest_from_leader(key).await;
        }
        let subject = self.read_subject(key);
        match self
            .inner
            .ctx
            .direct_get_last(&self.inner.stream, &subject)
            .await
        {
            Ok(m) => Ok(Some(self.entry_from_stored(Key::from(key), m))),
            Err(e) if e.is_no_message() => Ok(None),
            Err(e) if e.kind() == jetstream::ErrorKind::Decode => Err(Error::with_source(
                ErrorKind::Decode,
                "unreadable direct get reply",
                e,
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The latest entry of `key` including tombstones, from the stream leader (read after
    /// write consistent).
    pub(crate) async fn latest_from_leader(&self, key: &str) -> Result<Option<Entry>> {
        let subject = self.read_subject(key);
        match self
            .inner
            .ctx
            .get_last_message(&self.inner.stream, &subject)
            .await
        {
            Ok(m) => Ok(Some(self.entry_from_stored(Key::from(key), m))),
            Err(e) if e.is_no_message() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The latest entry of `key` as consistently as the bucket allows: from the leader,
    /// except for a mirror (whose leader may lag its origin anyway).
    pub(crate) async fn latest_consistent(&self, key: &str) -> Result<Option<Entry>> {
        if self.inner.mirror {
            self.latest(key).await
        } else {
            self.latest_from_leader(key).await
        }
    }

    pub(crate) fn entry_from_stored(&self, key: Key, m: StoredMessage) -> Entry {
        Entry {
            bucket: self.inner.bucket.clone(),
            key,
            operation: Operation::from_headers(m.headers.as_ref()),
            value: m.payload,
            revision: m.sequence,
            created: m.time,
            delta: 0,
        }
    }

    /// The entry of `key` at `revision`, or `None` when that revision does not exist, belongs
    /// to another key, or is a delete or purge.
    pub async fn entry_at(&self, key: impl AsRef<str>, revision: u64) -> Result<Option<Entry>> {
        let key = key.as_ref();
        validate_key(key)?;
        self.entry_at_valid(key, revision).await
    }

    /// [`Store::entry_at`] for a key already validated.
    pub(crate) async fn entry_at_valid(&self, key: &str, revision: u64) -> Result<Option<Entry>> {
        let ctx = &self.inner.ctx;
        let stored = if self.inner.direct_prefix.is_some() {
            ctx.direct_get(&self.inner.stream, revision).await
        } else {
            ctx.get_message(&self.inner.stream, revision).await
        };
        let m = match stored {
            Ok(m) => m,
            Err(e) if e.is_no_message() || e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let subject = Subject::from(m.subject.as_str());
        let Some(found) = crate::entry::key_of(&subject, &self.inner.read_prefix) else {
            return Ok(None);
        };
        if found != key {
            return Ok(None);
        }
        let entry = self.entry_from_stored(found, m);
        Ok((!entry.operation.is_tombstone()).then_some(entry))
    }

    /// The bucket's status, read from the server on every call.
    pub async fn status(&self) -> Result<Status> {
        let info = self
            .inner
            .ctx
            .stream_info(&self.inner.stream)
            .await
            .map_err(|e| crate::manage::map_not_found(e, &self.inner.bucket))?;
        Ok(Status::new(self.inner.bucket.to_string(), info))
    }

    /// The bucket's configuration as the server has it now.
    pub async fn config(&self) -> Result<Config> {
        Ok(self.status().await?.config())
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("bucket", &self.inner.bucket)
            .field("stream", &self.inner.stream)
            .field("read_prefix", &self.inner.read_prefix)
            .field("write_prefix", &self.inner.write_prefix)
            .field("direct", &self.inner.direct_prefix.is_some())
            .finish()
    }
}
