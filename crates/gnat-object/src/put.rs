//! Puts (ADR-20 `Put`): the bytes go out in chunks on `$O.<bucket>.C.<nuid>` under a fresh
//! nuid, pipelined (a bounded window of acks in flight, so memory stays bounded whatever the
//! object's size), hashed with SHA-256 on the way; the meta message goes last, rolling up its
//! subject, so until it is stored nothing of the new version is visible. A failed put purges
//! its chunks; a successful overwrite purges the previous version's.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{Error, ErrorKind, Result};
use crate::info::{ObjectInfo, ObjectMeta};
use crate::name::{digest_string, validate_name};
use crate::store::ObjectStore;

/// The chunk size when a put does not set one (ADR-20 "Default Settings").
pub const DEFAULT_CHUNK_SIZE: u32 = 128 * 1024;

/// Chunk publishes awaiting their ack at a time: the put's memory is about this many chunks.
const PUT_WINDOW: usize = 32;

/// Where a put's bytes come from.
enum Source<'a, R> {
    Reader(&'a mut R),
    Bytes(Bytes),
}

impl<R: AsyncRead + Unpin> Source<'_, R> {
    /// The next chunk of at most `size` bytes (a full one unless the input ends); `None` at
    /// the end.
    async fn next(&mut self, size: usize) -> std::io::Result<Option<Bytes>> {
        match self {
            Source::Bytes(b) => {
                if b.is_empty() {
                    return Ok(None);
                }
                let n = size.min(b.len());
                Ok(Some(b.split_to(n)))
            }
            Source::Reader(r) => {
                // Read straight into the chunk's spare capacity (no zeroing), never past
                // `size`.
                let mut buf = BytesMut::with_capacity(size);
                while buf.len() < size {
                    let want = (size - buf.len()) as u64;
                    if (&mut **r).take(want).read_buf(&mut buf).await? == 0 {
                        break;
                    }
                }
                if buf.is_empty() {
                    return Ok(None);
                }
                Ok(Some(buf.freeze()))
            }
        }
    }
}

impl ObjectStore {
    /// Stores the bytes of `reader` as object `meta` (a name, or an [`ObjectMeta`] with a
    /// description, headers, metadata and chunk size), replacing any object of that name.
    ///
    /// Memory stays bounded (about 32 chunks) whatever the size. A chunk size above the
    /// server's max payload is lowered to it. If the reader or the server fails, the put
    /// fails, nothing of it becomes visible and its chunks are purged; on success, the
    /// chunks of the version it replaced are purged.
    ///
    /// ```no_run
    /// # async fn demo(store: gnat_object::ObjectStore) -> Result<(), Box<dyn std::error::Error>> {
    /// let file = tokio::fs::File::open("model.bin").await?;
    /// let info = store.put("model.bin", file).await?;
    /// println!("{} bytes in {} chunks, {}", info.size, info.chunks, info.digest.unwrap());
    /// # Ok(()) }
    /// ```
    pub async fn put<R>(&self, meta: impl Into<ObjectMeta>, mut reader: R) -> Result<ObjectInfo>
    where
        R: AsyncRead + Unpin,
    {
        self.put_from(meta.into(), Source::Reader(&mut reader))
            .await
    }

    /// Stores `data` as object `meta` (see [`ObjectStore::put`]); the chunks are slices of
    /// `data`, not copies.
    pub async fn put_bytes(
        &self,
        meta: impl Into<ObjectMeta>,
        data: impl Into<Bytes>,
    ) -> Result<ObjectInfo> {
        self.put_from::<tokio::io::Empty>(meta.into(), Source::Bytes(data.into()))
            .await
    }

    /// The chunk size a put with `meta` uses: its own or the default, at most the server's
    /// max payload.
    pub fn chunk_size_for(&self, meta: &ObjectMeta) -> Result<usize> {
        let asked = meta.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE);
        if asked == 0 {
            return Err(Error::new(ErrorKind::InvalidInput, "chunk size is 0"));
        }
        let max = self.inner.ctx.client().max_payload();
        let size = usize::try_from(asked).unwrap_or(usize::MAX);
        Ok(if max > 0 { size.min(max) } else { size })
    }

    async fn put_from<R: AsyncRead + Unpin>(
        &self,
        meta: ObjectMeta,
        mut source: Source<'_, R>,
    ) -> Result<ObjectInfo> {
        validate_name(&meta.name)?;
        let chunk_size = self.chunk_size_for(&meta)?;
        let previous = self.meta_from_leader(&meta.name).await?;

        let mut info = ObjectInfo::from_meta(&self.inner.bucket, &meta);
        info.nuid = jetstream::client::rng::nuid();
        info.options.max_chunk_size = u32::try_from(chunk_size).ok();

        let sent = self.send_chunks(&info.nuid, chunk_size, &mut source).await;
        let (size, chunks, digest) = match sent {
            Ok(done) => done,
            Err(e) => {
                // Nothing refers to these chunks; remove them (best effort: if the server is
                // gone too, they stay invisible and are counted in the bucket's size).
                let _ = self.purge_chunks(&info.nuid).await;
                return Err(e);
            }
        };
        info.size = size;
        info.chunks = chunks;
        info.digest = Some(digest);

        if let Err(e) = self.publish_meta(&info).await {
            // The ack may have been lost after the meta was stored: look before purging.
            let stored = matches!(
                self.meta_from_leader(&info.name).await,
                Ok(Some(m)) if m.nuid == info.nuid
            );
            if !stored {
                let _ = self.purge_chunks(&info.nuid).await;
                return Err(e);
            }
        }
        if let Some(old) = previous
            && !old.deleted
            && !old.is_link()
            && old.nuid != info.nuid
        {
            // The new version is in place; the old chunks are unreachable either way, so a
            // failure to purge them does not fail the put.
            let _ = self.purge_chunks(&old.nuid).await;
        }
        info.mtime = jetstream::Timestamp::now();
        Ok(info)
    }

    /// Publishes every chunk with a bounded window of acks in flight; returns the size, the
    /// chunk count and the digest once every chunk is acknowledged.
    async fn send_chunks<R: AsyncRead + Unpin>(
        &self,
        nuid: &str,
        chunk_size: usize,
        source: &mut Source<'_, R>,
    ) -> Result<(u64, u64, String)> {
        let subject = self.chunk_write_subject(nuid);
        let mut publisher = self.inner.ctx.publisher(PUT_WINDOW).await?;
        let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
        let mut size: u64 = 0;
        let mut chunks: u64 = 0;
        loop {
            let chunk = match source.next(chunk_size).await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    // Let what was sent settle before the caller purges it.
                    publisher.wait_all().await;
                    return Err(Error::with_io(
                        ErrorKind::Read,
                        format!("reading the object failed after {size} bytes"),
                        e,
                    ));
                }
            };
            hasher.update(&chunk);
            size = size.saturating_add(chunk.len() as u64);
            chunks = chunks.saturating_add(1);
            // The handle is not needed: every ack is claimed below, through `completed` while
            // sending and `wait_all` at the end.
            let _handle = publisher.publish(&subject, chunk).await?;
            for (_, result) in publisher.completed() {
                if let Err(e) = result {
                    publisher.wait_all().await;
                    return Err(e.into());
                }
            }
        }
        for (_, result) in publisher.wait_all().await {
            result?;
        }
        Ok((size, chunks, digest_string(hasher.finish().as_ref())))
    }
}
