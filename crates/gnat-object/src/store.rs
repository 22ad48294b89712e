//! A bound bucket ([`ObjectStore`]): its subjects, object info, update meta, delete, links,
//! seal and status. Puts are in `put`, reads in `get`, watching and listing in `watch`.

use std::sync::Arc;
use std::time::Duration;

use jetstream::{Context, PublishOptions, PurgeRequest, Rollup, StoredMessage, StreamInfo};

use crate::config::STREAM_PREFIX;
use crate::error::{Error, ErrorKind, Result};
use crate::info::{ObjectInfo, ObjectLink, ObjectMeta};
use crate::manage::map_not_found;
use crate::name::{base64_url, validate_bucket, validate_name};
use crate::status::Status;

/// How long a read waits for its next chunk before it fails (unless set otherwise with
/// [`ObjectStore::with_read_timeout`]). Longer than the ordered consumer needs to notice a
/// lost consumer and recreate it (three missed heartbeats).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(20);

/// An object store bucket, bound: put, get, info, delete, list, watch and the rest.
///
/// Cloning is cheap (one reference count); clones share everything.
#[derive(Clone)]
pub struct ObjectStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) ctx: Context,
    pub(crate) bucket: String,
    pub(crate) stream: String,
    /// Where writes go: `[<api prefix>.]$O.<bucket>.` (the API prefix for domains and
    /// imports, as for Key-Value writes).
    pub(crate) write_prefix: String,
    /// Whether the stream allows direct gets.
    pub(crate) direct: bool,
    pub(crate) read_timeout: Duration,
}

impl ObjectStore {
    /// Binds to the bucket described by `info` (its stream's information).
    pub(crate) fn from_info(ctx: &Context, info: &StreamInfo) -> Result<ObjectStore> {
        let sc = &info.config;
        let Some(bucket) = sc.name.strip_prefix(STREAM_PREFIX) else {
            return Err(Error::new(
                ErrorKind::NotABucket,
                format!("stream {} is not an object store (no OBJ_ prefix)", sc.name),
            ));
        };
        validate_bucket(bucket)?;
        let read = format!("$O.{bucket}.");
        let write_prefix = if ctx.prefix() != jetstream::context::DEFAULT_API_PREFIX {
            format!("{}.{read}", ctx.prefix())
        } else {
            read
        };
        Ok(ObjectStore {
            inner: Arc::new(Inner {
                ctx: ctx.clone(),
                bucket: bucket.to_string(),
                stream: sc.name.clone(),
                write_prefix,
                direct: sc.allow_direct == Some(true),
                read_timeout: DEFAULT_READ_TIMEOUT,
            }),
        })
    }

    /// A handle on the same bucket whose reads wait at most `timeout` for each chunk
    /// (default [`DEFAULT_READ_TIMEOUT`]).
    pub fn with_read_timeout(&self, timeout: Duration) -> ObjectStore {
        let i = &self.inner;
        ObjectStore {
            inner: Arc::new(Inner {
                ctx: i.ctx.clone(),
                bucket: i.bucket.clone(),
                stream: i.stream.clone(),
                write_prefix: i.write_prefix.clone(),
                direct: i.direct,
                read_timeout: timeout,
            }),
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// The backing stream's name (`OBJ_<bucket>`).
    pub fn stream_name(&self) -> &str {
        &self.inner.stream
    }

    /// The JetStream context it uses.
    pub fn context(&self) -> &Context {
        &self.inner.ctx
    }

    /// `$O.<bucket>.M.<base64url(name)>`, the subject of `name`'s meta message as stored.
    pub fn meta_subject(&self, name: &str) -> String {
        format!("$O.{}.M.{}", self.inner.bucket, base64_url(name.as_bytes()))
    }

    /// `$O.<bucket>.C.<nuid>`, the subject of the chunks of the object version `nuid`.
    pub fn chunk_subject(&self, nuid: &str) -> String {
        format!("$O.{}.C.{nuid}", self.inner.bucket)
    }

    /// Where meta messages of `name` are published (with the API prefix when there is one).
    pub(crate) fn meta_write_subject(&self, name: &str) -> String {
        format!(
            "{}M.{}",
            self.inner.write_prefix,
            base64_url(name.as_bytes())
        )
    }

    /// Where chunks of `nuid` are published.
    pub(crate) fn chunk_write_subject(&self, nuid: &str) -> String {
        format!("{}C.{nuid}", self.inner.write_prefix)
    }

    /// Decodes a stored meta message.
    pub(crate) fn decode_meta(
        &self,
        payload: &[u8],
        time: jetstream::Timestamp,
    ) -> Result<ObjectInfo> {
        let mut info: ObjectInfo = serde_json::from_slice(payload).map_err(|e| {
            Error::new(
                ErrorKind::Decode,
                format!(
                    "unreadable object info in bucket {}: {e}",
                    self.inner.bucket
                ),
            )
        })?;
        info.mtime = time;
        if info.bucket.is_empty() {
            info.bucket = self.inner.bucket.clone();
        }
        Ok(info)
    }

    /// The latest meta of `name`, deleted or not, from the stream leader (read after write
    /// consistent); `None` when there is none.
    pub(crate) async fn meta_from_leader(&self, name: &str) -> Result<Option<ObjectInfo>> {
        let subject = self.meta_subject(name);
        let found = self
            .inner
            .ctx
            .get_last_message(&self.inner.stream, &subject)
            .await;
        self.meta_result(found)
    }

    fn meta_result(&self, found: jetstream::Result<StoredMessage>) -> Result<Option<ObjectInfo>> {
        match found {
            Ok(m) => Ok(Some(self.decode_meta(&m.payload, m.time)?)),
            Err(e) if e.is_stream_not_found() => Err(map_not_found(e, &self.inner.bucket)),
            Err(e) if e.is_no_message() || e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The info of object `name`; fails with [`Error::is_object_not_found`] when there is
    /// none or it was deleted. A link's own info is returned (not its target's).
    pub async fn info(&self, name: &str) -> Result<ObjectInfo> {
        self.info_with(name, false).await
    }

    /// The info of object `name`, a deleted object's too when `include_deleted` is set.
    pub async fn info_with(&self, name: &str, include_deleted: bool) -> Result<ObjectInfo> {
        validate_name(name)?;
        let found = if self.inner.direct {
            let subject = self.meta_subject(name);
            match self
                .inner
                .ctx
                .direct_get_last(&self.inner.stream, &subject)
                .await
            {
                // Nobody serves direct gets for the stream: ask the API, which says whether
                // the bucket is gone.
                Err(e) if e.is_no_responders() => self.meta_from_leader(name).await?,
                r => self.meta_result(r)?,
            }
        } else {
            self.meta_from_leader(name).await?
        };
        match found {
            Some(info) if include_deleted || !info.deleted => Ok(info),
            _ => Err(self.not_found(name)),
        }
    }

    /// The info of object `name` (not deleted) from the stream leader: what a read must
    /// start from, since a replica answering a direct get may not have the latest put yet.
    pub(crate) async fn info_from_leader(&self, name: &str) -> Result<ObjectInfo> {
        validate_name(name)?;
        match self.meta_from_leader(name).await? {
            Some(info) if !info.deleted => Ok(info),
            _ => Err(self.not_found(name)),
        }
    }

    pub(crate) fn not_found(&self, name: &str) -> Error {
        Error::new(
            ErrorKind::ObjectNotFound,
            format!("object {name:?} not found in bucket {}", self.inner.bucket),
        )
    }

    /// Publishes a meta message, rolling up the subject (`Nats-Rollup: sub`), and waits for
    /// the ack.
    pub(crate) async fn publish_meta(&self, info: &ObjectInfo) -> Result<()> {
        let subject = self.meta_write_subject(&info.name);
        self.inner
            .ctx
            .publish_with(
                &subject,
                PublishOptions::new()
                    .payload(info.to_json())
                    .rollup(Rollup::Subject),
            )
            .await?;
        Ok(())
    }

    /// Purges every message on `subject`.
    pub(crate) async fn purge_subject(&self, subject: &str) -> Result<u64> {
        self.inner
            .ctx
            .purge_stream(&self.inner.stream, PurgeRequest::new().filter(subject))
            .await
            .map_err(|e| map_not_found(e, &self.inner.bucket))
    }

    /// Purges the chunks of object version `nuid`.
    pub(crate) async fn purge_chunks(&self, nuid: &str) -> Result<u64> {
        if nuid.is_empty() {
            return Ok(0);
        }
        self.purge_subject(&self.chunk_subject(nuid)).await
    }

    /// Deletes object `name`: a meta message marked deleted (size, chunks and digest cleared)
    /// replaces its meta, then its chunks are purged. Deleting a deleted object does nothing;
    /// one that never existed fails with [`Error::is_object_not_found`].
    pub async fn delete(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        let Some(mut info) = self.meta_from_leader(name).await? else {
            return Err(self.not_found(name));
        };
        if info.deleted {
            return Ok(());
        }
        let nuid = info.nuid.clone();
        info.deleted = true;
        info.size = 0;
        info.chunks = 0;
        info.digest = None;
        self.publish_meta(&info).await?;
        self.purge_chunks(&nuid).await?;
        Ok(())
    }

    /// Changes the name, description, headers and metadata of object (or link) `name`
    /// (ADR-20 `UpdateMeta`); its bytes stay as they are. A rename to the name of another
    /// object that is not deleted fails with [`Error::is_object_exists`]; a deleted or
    /// missing object fails with [`Error::is_object_not_found`].
    pub async fn update_meta(&self, name: &str, meta: ObjectMeta) -> Result<ObjectInfo> {
        validate_name(name)?;
        validate_name(&meta.name)?;
        let Some(mut info) = self.meta_from_leader(name).await? else {
            return Err(self.not_found(name));
        };
        if info.deleted {
            return Err(self.not_found(name));
        }
        let renamed = meta.name != name;
        if renamed
            && let Some(existing) = self.meta_from_leader(&meta.name).await?
            && !existing.deleted
        {
            return Err(Error::new(
                ErrorKind::ObjectExists,
                format!(
                    "cannot rename {name:?} to {:?}: an object of that name exists",
                    meta.name
                ),
            ));
        }
        info.name = meta.name;
        info.description = meta.description;
        info.headers = meta.headers;
        info.metadata = meta.metadata;
        self.publish_meta(&info).await?;
        if renamed {
            self.purge_subject(&self.meta_subject(name)).await?;
        }
        info.mtime = jetstream::Timestamp::now();
        Ok(info)
    }

    /// Checks that a link may be named `name`: free, deleted, or another link (ADR-20
    /// `AddLink`).
    async fn check_link_name(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        if let Some(existing) = self.meta_from_leader(name).await?
            && !existing.deleted
            && !existing.is_link()
        {
            return Err(Error::new(
                ErrorKind::ObjectExists,
                format!("cannot name a link {name:?}: an object of that name exists"),
            ));
        }
        Ok(())
    }

    async fn put_link(&self, name: &str, link: ObjectLink) -> Result<ObjectInfo> {
        let mut info = ObjectInfo::from_meta(&self.inner.bucket, &ObjectMeta::new(name));
        info.nuid = jetstream::client::rng::nuid();
        info.options.link = Some(link);
        let old = self.meta_from_leader(name).await?;
        self.publish_meta(&info).await?;
        if let Some(old) = old
            && !old.deleted
            && !old.is_link()
        {
            self.purge_chunks(&old.nuid).await?;
        }
        Ok(info)
    }

    /// Adds a link named `name` to the object `target` (of this or another bucket). A link
    /// to a link or to a deleted object is refused ([`Error::is_link`]), and so is a name
    /// held by an object that is not a link ([`Error::is_object_exists`]).
    pub async fn add_link(&self, name: &str, target: &ObjectInfo) -> Result<ObjectInfo> {
        if target.is_link() {
            return Err(Error::new(
                ErrorKind::Link,
                format!("cannot link to {:?}: it is a link itself", target.name),
            ));
        }
        if target.deleted {
            return Err(Error::new(
                ErrorKind::Link,
                format!("cannot link to {:?}: it was deleted", target.name),
            ));
        }
        validate_bucket(&target.bucket)?;
        validate_name(&target.name)?;
        self.check_link_name(name).await?;
        self.put_link(
            name,
            ObjectLink {
                bucket: target.bucket.clone(),
                name: Some(target.name.clone()),
            },
        )
        .await
    }

    /// Adds a link named `name` to the whole bucket `bucket`.
    pub async fn add_bucket_link(&self, name: &str, bucket: &str) -> Result<ObjectInfo> {
        validate_bucket(bucket)?;
        self.check_link_name(name).await?;
        self.put_link(
            name,
            ObjectLink {
                bucket: bucket.to_string(),
                name: None,
            },
        )
        .await
    }

    /// The bucket's status, read from the server on every call.
    pub async fn status(&self) -> Result<Status> {
        let info = self
            .inner
            .ctx
            .stream_info(&self.inner.stream)
            .await
            .map_err(|e| map_not_found(e, &self.inner.bucket))?;
        Ok(Status::new(self.inner.bucket.clone(), info))
    }

    /// Seals the bucket: no object can be put, changed or deleted any more (the stream's
    /// `sealed`; it cannot be undone). Returns the status after sealing.
    pub async fn seal(&self) -> Result<Status> {
        let ctx = &self.inner.ctx;
        let mut info = ctx
            .stream_info(&self.inner.stream)
            .await
            .map_err(|e| map_not_found(e, &self.inner.bucket))?;
        info.config.sealed = Some(true);
        let info = ctx
            .update_stream(&info.config)
            .await
            .map_err(|e| map_not_found(e, &self.inner.bucket))?;
        Ok(Status::new(self.inner.bucket.clone(), info))
    }
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("bucket", &self.inner.bucket)
            .field("stream", &self.inner.stream)
            .field("read_timeout", &self.inner.read_timeout)
            .finish()
    }
}
