//! The writer task: drains the outbound queue to the socket in large (vectored) writes.
//!
//! Publishers never talk to this task directly: they encode into the queue under a short lock
//! and wake the writer only when it is parked. The writer swaps the whole queue out
//! ([`Engine::take_batch`](crate::engine::Engine::take_batch), double buffering, no
//! allocation in the steady state) and writes it while publishers fill the other buffer.

use std::io::IoSlice;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::engine::Batch;
use crate::error::Error;
use crate::lock;
use crate::shared::Shared;

/// How the writer ended.
pub(crate) struct WriterEnd {
    /// Bytes of an interrupted batch the socket had accepted (see
    /// [`Engine::requeue_unsent`](crate::engine::Engine::requeue_unsent)).
    pub(crate) handed: u64,
    /// The write error, or `None` when it was stopped.
    pub(crate) error: Option<Error>,
}

/// Runs until the socket fails or `cancel` is notified. On the way out, publishes that never
/// reached the socket go back to the front of the queue, to be sent after reconnect.
pub(crate) async fn run<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    wr: W,
    cancel: Arc<Notify>,
) -> WriterEnd {
    let buf = lock(&shared.spare_write_buf)
        .take()
        .unwrap_or_else(|| BytesMut::with_capacity(64 * 1024));
    let mut batch = Batch::with_buffer(buf);
    let end = drain(&shared, wr, &cancel, &mut batch).await;
    // Keep the buffer for the next connection (its contents were requeued or written).
    if batch.capacity() <= 4 * shared.opts.write_buffer_size {
        *lock(&shared.spare_write_buf) = Some(batch.into_buffer());
    }
    end
}

async fn drain<W: AsyncWrite + Unpin>(
    shared: &Shared,
    mut wr: W,
    cancel: &Notify,
    batch: &mut Batch,
) -> WriterEnd {
    loop {
        if !shared.take_batch(batch) {
            tokio::select! {
                _ = shared.writer_wake.notified() => {
                    // Woken from idle: let the tasks that were woken by the same event (say,
                    // the replies of one read releasing the next requests) queue their
                    // operations too, so they go out in one write.
                    tokio::task::yield_now().await;
                    continue;
                }
                _ = cancel.notified() => return WriterEnd { handed: 0, error: None },
            }
        }
        let result = tokio::select! {
            r = write_batch(&mut wr, batch) => r.map_err(|e| Error::io("write", e)),
            _ = cancel.notified() => Err(Error::new(crate::ErrorKind::Disconnected, "connection closed")),
        };
        if let Err(e) = result {
            let handed = shared.requeue_unsent(batch);
            let stopped = e.kind() == crate::ErrorKind::Disconnected;
            return WriterEnd {
                handed,
                error: (!stopped).then_some(e),
            };
        }
        batch.complete();
        // Give back a buffer that grew very large during a burst.
        batch.shrink(4 * shared.opts.write_buffer_size, 64 * 1024);
    }
}

async fn write_batch<W: AsyncWrite + Unpin>(wr: &mut W, batch: &mut Batch) -> std::io::Result<()> {
    while !batch.is_written() {
        let n = match batch.contiguous() {
            Some(bytes) => wr.write(bytes).await?,
            None => {
                // Only large payloads are chained, so this path is rare enough for a small
                // Vec.
                let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(64);
                batch.slices(&mut slices);
                wr.write_vectored(&slices).await?
            }
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        batch.advance(n);
    }
    wr.flush().await
}
