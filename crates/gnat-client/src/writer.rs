//! The writer task: drains the shared outbound buffer to the socket in large (vectored) writes.
//!
//! Publishers never talk to this task directly: they encode into the shared buffer under a
//! short lock and wake the writer only when it is parked. The writer swaps the whole buffer out
//! (double buffering, no allocation in the steady state) and writes it while publishers fill
//! the other one.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::error::Error;
use crate::frames::{self, FrameKind};
use crate::lock;
use crate::shared::Shared;

/// Most slices handed to one vectored write.
const MAX_SLICES: usize = 64;

/// What the writer took from the shared buffer, and how far it got.
#[derive(Default)]
struct Batch {
    chunks: VecDeque<Bytes>,
    buf: BytesMut,
    /// Bytes of this batch accepted by the socket so far.
    written: usize,
}

impl Batch {
    fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum::<usize>() + self.buf.len()
    }

    /// Fills `slices` with the unwritten part, in order.
    fn slices<'a>(&'a self, slices: &mut Vec<IoSlice<'a>>) {
        let mut skip = self.written;
        for chunk in self
            .chunks
            .iter()
            .map(|c| &c[..])
            .chain(std::iter::once(&self.buf[..]))
        {
            if slices.len() == MAX_SLICES {
                break;
            }
            if skip >= chunk.len() {
                skip -= chunk.len();
                continue;
            }
            slices.push(IoSlice::new(&chunk[skip..]));
            skip = 0;
        }
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.buf.clear();
        self.written = 0;
    }
}

/// How the writer ended.
pub(crate) struct WriterEnd {
    /// Bytes of an interrupted batch the socket had accepted (see [`requeue_unsent`]).
    pub(crate) handed: u64,
    /// The write error, or `None` when it was stopped.
    pub(crate) error: Option<Error>,
}

/// Runs until the socket fails or `cancel` is notified. On the way out, publishes that never
/// reached the socket go back to the front of the shared buffer, to be sent after reconnect.
pub(crate) async fn run<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    wr: W,
    cancel: Arc<Notify>,
) -> WriterEnd {
    let buf = lock(&shared.spare_write_buf)
        .take()
        .unwrap_or_else(|| BytesMut::with_capacity(64 * 1024));
    let mut batch = Batch {
        buf,
        ..Batch::default()
    };
    let end = drain(&shared, wr, &cancel, &mut batch).await;
    // Keep the buffer for the next connection (its contents were requeued or written).
    batch.clear();
    if batch.buf.capacity() <= 4 * shared.opts.write_buffer_size {
        *lock(&shared.spare_write_buf) = Some(std::mem::take(&mut batch.buf));
    }
    end
}

async fn drain<W: AsyncWrite + Unpin>(
    shared: &Shared,
    mut wr: W,
    cancel: &Notify,
    batch: &mut Batch,
) -> WriterEnd {
    // Bytes of the last batch, fully written, not yet added to the connection's tally.
    let mut completed = 0u64;
    loop {
        let park = {
            let mut out = lock(&shared.out);
            out.conn_written += std::mem::take(&mut completed);
            if out.queued() == 0 {
                out.writer_idle = true;
                true
            } else {
                std::mem::swap(&mut out.buf, &mut batch.buf);
                std::mem::swap(&mut out.chunks, &mut batch.chunks);
                out.chunks_len = 0;
                out.hand_over_pings();
                if out.space_waiters > 0 {
                    shared.space.notify_waiters();
                }
                false
            }
        };
        if park {
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
            let handed = requeue_unsent(shared, batch);
            let stopped = e.kind() == crate::ErrorKind::Disconnected;
            return WriterEnd {
                handed,
                error: (!stopped).then_some(e),
            };
        }
        // `write_batch` returns once the socket accepted every byte of the batch.
        completed = batch.written as u64;
        batch.clear();
        // Give back a buffer that grew very large during a burst.
        if batch.buf.capacity() > 4 * shared.opts.write_buffer_size {
            batch.buf = BytesMut::with_capacity(64 * 1024);
        }
    }
}

async fn write_batch<W: AsyncWrite + Unpin>(wr: &mut W, batch: &mut Batch) -> std::io::Result<()> {
    let total = batch.len();
    while batch.written < total {
        let n = if batch.chunks.is_empty() {
            wr.write(&batch.buf[batch.written..]).await?
        } else {
            // Only large payloads are chained, so this path is rare enough for a small Vec.
            let mut slices = Vec::with_capacity(MAX_SLICES);
            batch.slices(&mut slices);
            wr.write_vectored(&slices).await?
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        batch.written += n;
    }
    wr.flush().await
}

/// After a failed or cancelled write: frames the socket never saw go back to the front of the
/// shared buffer (publishes only; SUBs are restored from the subscription table and PINGs
/// were failed with the connection). Returns the bytes handed to the socket in this batch
/// (fully or in part): the server may or may not have processed them.
fn requeue_unsent(shared: &Shared, batch: &mut Batch) -> u64 {
    let total = batch.len();
    if total == 0 {
        return 0;
    }
    let mut handed = 0usize;
    let written = batch.written;
    let keep = frames::filter(
        batch
            .chunks
            .iter()
            .map(|c| &c[..])
            .chain(std::iter::once(&batch.buf[..])),
        total,
        |kind, range| {
            if range.start < written {
                handed += range.len();
                false
            } else {
                kind == FrameKind::Publish
            }
        },
    );
    if !keep.is_empty() {
        lock(&shared.out).push_front(keep.freeze());
    }
    batch.clear();
    handed as u64
}
