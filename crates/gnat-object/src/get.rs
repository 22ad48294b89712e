//! Reads (ADR-20 `Get`). The chunks are read in order, their bytes counted and hashed as they
//! pass and checked against the info at the end.
//!
//! * On buckets that allow direct gets (every bucket this crate or the other clients create)
//!   they come in batched direct gets (ADR-31) of at most [`BATCH_BYTES`] each, one batch at a
//!   time, from any replica: the client never holds more than one batch, whatever the
//!   object's size (reading a 1 GiB object through a flow-controlled push consumer grew the
//!   client by about four times as much, as the server runs ahead by its flow-control window).
//!   A batch that fails (a timeout, a restart, a lost replica) is asked for again from the
//!   next missing sequence; a request is idempotent.
//! * Otherwise an ordered consumer on the chunk subject delivers them, flow-controlled.
//!
//! A read never hangs and never panics: chunks missing when asked for fail it (after two
//! retries, for replicas that lag); while it waits it asks whether the object is still there
//! (deleted or replaced: it fails), and after the read timeout without a chunk it fails with
//! a timeout. Any error of the layer underneath that a retry cannot mend ends the read with
//! that error.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use jetstream::{DeliverPolicy, DirectBatch, DirectBatchStream, OrderedConfig, OrderedConsumer};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::error::{Error, ErrorKind, Result};
use crate::info::ObjectInfo;
use crate::manage::{bind, map_not_found};
use crate::name::parse_digest;
use crate::store::ObjectStore;

/// The most bytes one batched direct get asks for (the server sends at least one message).
pub const BATCH_BYTES: usize = 4 << 20;
/// The most chunks one batched direct get asks for.
const BATCH_CHUNKS: u64 = 1024;
/// Batches in a row that find no chunk before the chunks count as missing.
const EMPTY_BATCHES: u32 = 3;
/// The wait before a batch is asked for again after a failure or an empty answer.
const RETRY_WAIT: Duration = Duration::from_millis(200);
/// How long a read waits without a chunk before it asks whether the object still exists.
const LIVENESS_CHECK: Duration = Duration::from_secs(1);
/// The heartbeat asked of the chunk consumer: three missed ones make it recreate itself.
const CHUNK_HEARTBEAT: Duration = Duration::from_secs(2);

type CheckFuture = Pin<Box<dyn Future<Output = Result<Option<ObjectInfo>>> + Send>>;
type BatchFuture = Pin<Box<dyn Future<Output = jetstream::Result<DirectBatchStream>> + Send>>;

/// Where the chunks come from.
enum Source {
    /// Nothing to read (an empty object).
    Empty,
    /// Batched direct gets, one batch at a time.
    Direct {
        /// The stream sequence to ask from next.
        next_seq: u64,
        batch: Option<DirectBatchStream>,
        starting: Option<BatchFuture>,
        /// Chunks the current batch delivered.
        in_batch: u64,
        /// Batches (or attempts) in a row that delivered nothing.
        empty: u32,
        /// Set while waiting before the next attempt.
        retry_at: Option<Instant>,
        last_error: Option<jetstream::Error>,
    },
    /// An ordered consumer (streams without direct gets).
    Ordered(Box<OrderedConsumer>),
}

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
    chunk_subject: String,
    source: Source,
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
    /// fails with [`Error::is_object_not_found`]. The info is read from the stream leader, so
    /// a get sees every put that returned before it.
    pub async fn get(&self, name: &str) -> Result<ObjectReader> {
        let info = self.info_from_leader(name).await?;
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
                let info = store.info_from_leader(target).await?;
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

/// Whether a retry of the same batch may succeed.
fn retriable(e: &jetstream::Error) -> bool {
    if e.client_kind() == Some(jetstream::client::ErrorKind::Closed) {
        return false;
    }
    e.is_timeout()
        || e.is_no_responders()
        || e.kind() == jetstream::ErrorKind::Client
        || e.code().is_some_and(|c| c >= 500)
}

impl ObjectReader {
    async fn start(store: ObjectStore, info: ObjectInfo) -> Result<ObjectReader> {
        let chunk_subject = store.chunk_subject(&info.nuid);
        let source = if info.chunks == 0 {
            Source::Empty
        } else if store.inner.direct {
            Source::Direct {
                next_seq: 1,
                batch: None,
                starting: None,
                in_batch: 0,
                empty: 0,
                retry_at: None,
                last_error: None,
            }
        } else {
            let config = OrderedConfig::new()
                .filter_subjects([chunk_subject.clone()])
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
            Source::Ordered(Box::new(consumer))
        };
        let now = Instant::now();
        Ok(ObjectReader {
            info,
            store,
            chunk_subject,
            source,
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
        self.source = Source::Empty;
        self.check = None;
        Poll::Ready(Some(Err(e)))
    }

    fn progress(&self) -> String {
        format!("{} of {} chunks read", self.chunks, self.info.chunks)
    }

    /// After the last chunk: the size and digest must match the info.
    fn finish(&mut self) -> Poll<Option<Result<Bytes>>> {
        self.source = Source::Empty;
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

    /// Counts and hashes a chunk and hands it out.
    fn deliver(&mut self, payload: Bytes) -> Poll<Option<Result<Bytes>>> {
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
        Poll::Ready(Some(Ok(payload)))
    }

    fn poll_chunk(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Bytes>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.chunks >= self.info.chunks {
            return self.finish();
        }
        match &mut self.source {
            Source::Empty => self.finish(),
            Source::Ordered(consumer) => match Pin::new(&mut **consumer).poll_next(cx) {
                Poll::Ready(Some(Ok(msg))) => self.deliver(msg.into_message().payload),
                Poll::Ready(Some(Err(e))) => {
                    let e = map_not_found(e, self.store.bucket());
                    self.fail(e)
                }
                Poll::Ready(None) => {
                    let msg = format!(
                        "object {:?}: the chunk consumer ended ({})",
                        self.info.name,
                        self.progress()
                    );
                    self.fail(Error::new(ErrorKind::ChunksMissing, msg))
                }
                Poll::Pending => self.poll_liveness(cx),
            },
            Source::Direct { .. } => self.poll_direct(cx),
        }
    }

    fn poll_direct(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Bytes>>> {
        loop {
            let Source::Direct {
                next_seq,
                batch,
                starting,
                in_batch,
                empty,
                retry_at,
                last_error,
            } = &mut self.source
            else {
                return self.finish();
            };
            if let Some(b) = batch.as_mut() {
                match Pin::new(b).poll_next(cx) {
                    Poll::Ready(Some(Ok(m))) => {
                        *next_seq = m.sequence.saturating_add(1);
                        if m.subject != self.chunk_subject {
                            // Not ours (the filter makes this impossible); skip it.
                            continue;
                        }
                        *in_batch += 1;
                        *empty = 0;
                        *last_error = None;
                        return self.deliver(m.payload);
                    }
                    Poll::Ready(Some(Err(e))) => {
                        *batch = None;
                        if !retriable(&e) {
                            let e = map_not_found(e, self.store.bucket());
                            return self.fail(e);
                        }
                        *last_error = Some(e);
                        *retry_at = Some(Instant::now() + RETRY_WAIT);
                        continue;
                    }
                    Poll::Ready(None) => {
                        *batch = None;
                        if *in_batch == 0 {
                            *empty += 1;
                            if *empty >= EMPTY_BATCHES {
                                let msg = format!(
                                    "object {:?}: its chunks are missing from the stream ({})",
                                    self.info.name,
                                    self.progress()
                                );
                                return self.fail(Error::new(ErrorKind::ChunksMissing, msg));
                            }
                            *retry_at = Some(Instant::now() + RETRY_WAIT);
                        }
                        continue;
                    }
                    Poll::Pending => return self.poll_liveness(cx),
                }
            }
            if let Some(f) = starting.as_mut() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(Ok(b)) => {
                        *starting = None;
                        *batch = Some(b);
                        *in_batch = 0;
                        continue;
                    }
                    Poll::Ready(Err(e)) => {
                        *starting = None;
                        if !retriable(&e) {
                            let e = map_not_found(e, self.store.bucket());
                            return self.fail(e);
                        }
                        *last_error = Some(e);
                        *retry_at = Some(Instant::now() + RETRY_WAIT);
                        continue;
                    }
                    Poll::Pending => return self.poll_liveness(cx),
                }
            }
            if let Some(at) = *retry_at {
                if Instant::now() < at {
                    return self.poll_liveness_until(cx, Some(at));
                }
                *retry_at = None;
            }
            let left = self
                .info
                .chunks
                .saturating_sub(self.chunks)
                .min(BATCH_CHUNKS);
            let request = DirectBatch::new(usize::try_from(left).unwrap_or(1).max(1))
                .seq(*next_seq)
                .next_by_subj(self.chunk_subject.clone())
                .max_bytes(BATCH_BYTES);
            let ctx = self.store.inner.ctx.clone();
            let stream = self.store.inner.stream.clone();
            *starting = Some(Box::pin(async move {
                ctx.direct_get_batch(&stream, request).await
            }));
        }
    }

    fn poll_liveness(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Bytes>>> {
        self.poll_liveness_until(cx, None)
    }

    /// While no chunk comes: a check of the object's meta once a second, the read timeout,
    /// and (`wake_at`) an earlier wake-up for a retry.
    fn poll_liveness_until(
        &mut self,
        cx: &mut TaskContext<'_>,
        wake_at: Option<Instant>,
    ) -> Poll<Option<Result<Bytes>>> {
        if let Some(check) = self.check.as_mut()
            && let Poll::Ready(result) = check.as_mut().poll(cx)
        {
            self.check = None;
            if let Some(e) = self.gone(result) {
                return self.fail(e);
            }
        }
        loop {
            let now = Instant::now();
            let idle = now.saturating_duration_since(self.last_chunk);
            if idle >= self.store.inner.read_timeout {
                let cause = match &self.source {
                    Source::Direct {
                        last_error: Some(e),
                        ..
                    } => format!("; last error: {e}"),
                    _ => String::new(),
                };
                let msg = format!(
                    "object {:?}: no chunk for {idle:?} ({}){cause}",
                    self.info.name,
                    self.progress()
                );
                return self.fail(Error::new(ErrorKind::Timeout, msg));
            }
            if idle >= LIVENESS_CHECK && self.check.is_none() {
                let store = self.store.clone();
                let name = self.info.name.clone();
                let mut check: CheckFuture =
                    Box::pin(async move { store.meta_from_leader(&name).await });
                // Polled once here, so that it registers for wake-ups.
                match check.as_mut().poll(cx) {
                    Poll::Ready(result) => {
                        if let Some(e) = self.gone(result) {
                            return self.fail(e);
                        }
                    }
                    Poll::Pending => self.check = Some(check),
                }
            }
            let mut next = if idle >= LIVENESS_CHECK {
                now + LIVENESS_CHECK
            } else {
                self.last_chunk + LIVENESS_CHECK
            };
            if let Some(at) = wake_at {
                next = next.min(at);
            }
            self.timer.as_mut().reset(next);
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if wake_at.is_some_and(|at| Instant::now() >= at) {
                // Time for the retry: the caller is polled again at once.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }

    /// The error to end the read with when the object's meta shows it deleted or replaced.
    fn gone(&self, result: Result<Option<ObjectInfo>>) -> Option<Error> {
        match result {
            Ok(Some(m)) if m.nuid == self.info.nuid && !m.deleted => None,
            Ok(_) => Some(Error::new(
                ErrorKind::ChunksMissing,
                format!(
                    "object {:?} was deleted or replaced while being read ({})",
                    self.info.name,
                    self.progress()
                ),
            )),
            // The server may be away (a restart, a leader change): the timeout decides.
            Err(_) => None,
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
