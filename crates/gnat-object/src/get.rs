//! Reads (ADR-20 `Get`): an ordered consumer on the object's chunk subject delivers the chunks
//! in order, flow-controlled (the server runs at most its flow-control window ahead of the
//! reader, so memory stays bounded whatever the object's size); the bytes are counted and
//! hashed as they pass and checked against the info at the end.
//!
//! A read never hangs: chunks missing when it starts fail it at once; while it waits for a
//! chunk it asks once a second whether the object is still there (deleted or replaced: it
//! fails), and after the read timeout it fails with a timeout. Any error of the consumer
//! underneath (stream deleted, connection closed) ends the read with that error.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use jetstream::{DeliverPolicy, OrderedConfig, OrderedConsumer};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::error::{Error, ErrorKind, Result};
use crate::info::ObjectInfo;
use crate::manage::{bind, map_not_found};
use crate::name::parse_digest;
use crate::store::ObjectStore;

/// How long a read waits without a chunk before it asks whether the object still exists.
const LIVENESS_CHECK: Duration = Duration::from_secs(1);
/// The heartbeat asked of the chunk consumer: three missed ones make it recreate itself.
const CHUNK_HEARTBEAT: Duration = Duration::from_secs(2);

type CheckFuture = Pin<Box<dyn Future<Output = Result<Option<ObjectInfo>>> + Send>>;

/// An object being read: an [`AsyncRead`] of its bytes and a [`Stream`] of its chunks (use
/// one or the other). The size and digest are checked after the last chunk: a mismatch is an
/// error in place of the end of the data.
///
/// ```no_run
/// # async fn demo(store: gnat_object::ObjectStore) -> Result<(), Box<dyn std::error::Error>> {
/// let mut reader = store.get("model.bin").await?;
/// let mut file = tokio::fs::File::create("model.bin").await?;
/// tokio::io::copy(&mut reader, &mut file).await?; // fails if the digest does not match
/// # Ok(()) }
/// ```
pub struct ObjectReader {
    info: ObjectInfo,
    store: ObjectStore,
    consumer: Option<OrderedConsumer>,
    hasher: Option<ring::digest::Context>,
    received: u64,
    chunks: u64,
    current: Bytes,
    last_chunk: Instant,
    timer: Pin<Box<Sleep>>,
    check: Option<CheckFuture>,
    done: bool,
}

impl ObjectStore {
    /// Opens object `name` for reading. A link to an object is followed (into another bucket
    /// too); a link to a bucket fails with [`Error::is_link`]; a missing or deleted object
    /// fails with [`Error::is_object_not_found`].
    pub async fn get(&self, name: &str) -> Result<ObjectReader> {
        let info = self.info(name).await?;
        let (store, info) = match info.link() {
            None => (self.clone(), info),
            Some(link) => {
                let Some(target) = link.name.as_deref().filter(|n| !n.is_empty()) else {
                    return Err(Error::new(
                        ErrorKind::Link,
                        format!(
                            "{name:?} is a link to bucket {}, not an object",
                            link.bucket
                        ),
                    ));
                };
                let store = if link.bucket == self.inner.bucket {
                    self.clone()
                } else {
                    bind(&self.inner.ctx, &link.bucket)
                        .await?
                        .with_read_timeout(self.inner.read_timeout)
                };
                let info = store.info(target).await?;
                if info.is_link() {
                    return Err(Error::new(
                        ErrorKind::Link,
                        format!("{name:?} links to {target:?}, which is a link itself"),
                    ));
                }
                (store, info)
            }
        };
        ObjectReader::start(store, info).await
    }

    /// Reads all of object `name` into memory (checked like [`ObjectStore::get`]).
    pub async fn get_bytes(&self, name: &str) -> Result<Bytes> {
        self.get(name).await?.read_all().await
    }
}

impl ObjectReader {
    async fn start(store: ObjectStore, info: ObjectInfo) -> Result<ObjectReader> {
        let consumer = if info.chunks == 0 {
            None
        } else {
            let config = OrderedConfig::new()
                .filter_subjects([store.chunk_subject(&info.nuid)])
                .deliver_policy(DeliverPolicy::All)
                .idle_heartbeat(CHUNK_HEARTBEAT);
            let consumer = store
                .inner
                .ctx
                .ordered_consumer(store.stream_name(), config)
                .await
                .map_err(|e| map_not_found(e, store.bucket()))?;
            if consumer.initial_pending() < info.chunks {
                return Err(Error::new(
                    ErrorKind::ChunksMissing,
                    format!(
                        "object {:?} has {} chunks but the stream holds {}",
                        info.name,
                        info.chunks,
                        consumer.initial_pending()
                    ),
                ));
            }
            Some(consumer)
        };
        let now = Instant::now();
        Ok(ObjectReader {
            info,
            store,
            consumer,
            hasher: Some(ring::digest::Context::new(&ring::digest::SHA256)),
            received: 0,
            chunks: 0,
            current: Bytes::new(),
            last_chunk: now,
            timer: Box::pin(tokio::time::sleep_until(now + LIVENESS_CHECK)),
            check: None,
            done: false,
        })
    }

    /// The info of the object being read (the link's target when a link was opened).
    pub fn info(&self) -> &ObjectInfo {
        &self.info
    }

    /// Bytes delivered so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The next chunk; `None` after the last one, once size and digest are checked.
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// Reads the rest of the object into memory.
    pub async fn read_all(mut self) -> Result<Bytes> {
        let capacity = usize::try_from(self.info.size.saturating_sub(self.received))
            .unwrap_or(0)
            .min(1 << 30);
        let mut out = BytesMut::with_capacity(capacity);
        while let Some(chunk) = self.next_chunk().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.freeze())
    }

    fn fail(&mut self, e: Error) -> Poll<Option<Result<Bytes>>> {
        self.done = true;
        self.consumer = None;
        self.check = None;
        Poll::Ready(Some(Err(e)))
    }

    /// After the last chunk: the size and digest must match the info.
    fn finish(&mut self) -> Poll<Option<Result<Bytes>>> {
        self.consumer = None;
        if self.received != self.info.size {
            let msg = format!(
                "object {:?}: read {} bytes, its info says {}",
                self.info.name, self.received, self.info.size
            );
            return self.fail(Error::new(ErrorKind::SizeMismatch, msg));
        }
        let actual = self.hasher.take().map(|h| h.finish());
        if let (Some(expected), Some(actual)) = (self.info.digest.as_deref(), actual)
            && !expected.is_empty()
        {
            match parse_digest(expected) {
                Some(d) if d == actual.as_ref() => {}
                Some(_) => {
                    let msg = format!(
                        "object {:?}: the bytes read do not have digest {expected}",
                        self.info.name
                    );
                    return self.fail(Error::new(ErrorKind::DigestMismatch, msg));
                }
                None => {
                    let msg = format!(
                        "object {:?}: digest {expected:?} is not SHA-256 in base64",
                        self.info.name
                    );
                    return self.fail(Error::new(ErrorKind::Decode, msg));
                }
            }
        }
        self.done = true;
        Poll::Ready(None)
    }

    fn poll_chunk(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Bytes>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.chunks >= self.info.chunks {
            return self.finish();
        }
        let Some(consumer) = self.consumer.as_mut() else {
            return self.finish();
        };
        match Pin::new(consumer).poll_next(cx) {
            Poll::Ready(Some(Ok(msg))) => {
                let payload = msg.into_message().payload;
                self.received = self.received.saturating_add(payload.len() as u64);
                self.chunks += 1;
                if self.received > self.info.size {
                    let msg = format!(
                        "object {:?}: more than its {} bytes arrived",
                        self.info.name, self.info.size
                    );
                    return self.fail(Error::new(ErrorKind::SizeMismatch, msg));
                }
                if let Some(h) = self.hasher.as_mut() {
                    h.update(&payload);
                }
                self.last_chunk = Instant::now();
                self.check = None;
                return Poll::Ready(Some(Ok(payload)));
            }
            Poll::Ready(Some(Err(e))) => {
                let e = map_not_found(e, self.store.bucket());
                return self.fail(e);
            }
            Poll::Ready(None) => {
                let msg = format!(
                    "object {:?}: the chunk consumer ended after {} of {} chunks",
                    self.info.name, self.chunks, self.info.chunks
                );
                return self.fail(Error::new(ErrorKind::ChunksMissing, msg));
            }
            Poll::Pending => {}
        }
        self.poll_liveness(cx)
    }

    /// While no chunk comes: a check of the object's meta once a second, the read timeout.
    fn poll_liveness(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Bytes>>> {
        if let Some(check) = self.check.as_mut()
            && let Poll::Ready(result) = check.as_mut().poll(cx)
        {
            self.check = None;
            match result {
                Ok(Some(m)) if m.nuid == self.info.nuid && !m.deleted => {}
                Ok(_) => {
                    let msg = format!(
                        "object {:?} was deleted or replaced while being read ({} of {} chunks read)",
                        self.info.name, self.chunks, self.info.chunks
                    );
                    return self.fail(Error::new(ErrorKind::ChunksMissing, msg));
                }
                // The server may be away (a restart, a leader change): the timeout decides.
                Err(_) => {}
            }
        }
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            let idle = now.saturating_duration_since(self.last_chunk);
            if idle >= self.store.inner.read_timeout {
                let msg = format!(
                    "object {:?}: no chunk for {idle:?} ({} of {} chunks read)",
                    self.info.name, self.chunks, self.info.chunks
                );
                return self.fail(Error::new(ErrorKind::Timeout, msg));
            }
            if idle >= LIVENESS_CHECK && self.check.is_none() {
                let store = self.store.clone();
                let name = self.info.name.clone();
                let mut check: CheckFuture =
                    Box::pin(async move { store.meta_from_leader(&name).await });
                // Poll it once so that it registers for wake-ups.
                if let Poll::Ready(result) = check.as_mut().poll(cx) {
                    match result {
                        Ok(Some(m)) if m.nuid == self.info.nuid && !m.deleted => {}
                        Ok(_) => {
                            let msg = format!(
                                "object {:?} was deleted or replaced while being read",
                                self.info.name
                            );
                            return self.fail(Error::new(ErrorKind::ChunksMissing, msg));
                        }
                        Err(_) => {}
                    }
                } else {
                    self.check = Some(check);
                }
            }
            let next = if idle >= LIVENESS_CHECK {
                now + LIVENESS_CHECK
            } else {
                self.last_chunk + LIVENESS_CHECK
            };
            self.timer.as_mut().reset(next);
        }
    }
}

impl Stream for ObjectReader {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.poll_chunk(cx)
    }
}

impl AsyncRead for ObjectReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.current.is_empty() {
            match self.poll_chunk(cx) {
                Poll::Ready(Some(Ok(chunk))) => self.current = chunk,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e.into())),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = self.current.len().min(buf.remaining());
        buf.put_slice(&self.current[..n]);
        self.current.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("name", &self.info.name)
            .field("size", &self.info.size)
            .field("received", &self.received)
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}
