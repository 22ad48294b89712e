//! The connection engine: everything about a client's connection that is state rather than IO,
//! sans-IO in the style of quinn-proto's `Connection`.
//!
//! [`Engine`] owns
//! * the **outbound queue**: what is encoded but not yet taken by the writer, with every
//!   frame's kind (publish, PING, control) and length recorded when it is enqueued, so that a
//!   disconnect keeps exactly the publishes and PINGs and an interrupted write requeues exactly
//!   the publishes the socket never saw — without decoding its own output again;
//! * the **PING/PONG ledger**: which PINGs are queued, which are on the wire of which
//!   connection, which flush waits on each, and up to which byte the server has confirmed;
//! * the **phase** of the connection, one enum from disconnected to closed;
//! * the **request mux flag** (whether the `_INBOX.<id>.*` subscription has been sent) and the
//!   **re-subscription plan** written in front of everything on each new connection.
//!
//! It has no tokio, no socket and no clock: inputs are method calls, outputs are return values
//! telling the IO loops what to do ([`Send`], [`Taken`], [`Keepalive`], waiters to complete).
//! Time enters only as an input: the driver's keep-alive timer calls
//! [`Engine::on_ping_timer`]; nothing in here reads a clock or depends on how long anything
//! took, so a test drives it step by step with no runtime at all.
//! A flush's waiter is a type parameter `W` (a oneshot sender in the client, a number in the
//! unit tests below). It lives behind one short mutex (`Shared::out`), so that publishing
//! costs no channel send, no wake-up and no allocation.
//!
//! # Call order
//!
//! 1. A connection finished its handshake: [`Engine::on_connected`] with the plan of live
//!    subscriptions. It returns the connection's epoch; the reader passes it to
//!    [`Engine::on_pong`] so that a PONG that belongs to an earlier connection is ignored.
//! 2. While it lives, in any order:
//!    * publishers call [`Engine::publish`] / [`Engine::request`], subscriptions
//!      [`Engine::subscribe`] / [`Engine::unsubscribe`], flushes [`Engine::flush`], and act
//!      on the returned [`Send`] (wake the writer, or write directly with
//!      [`Engine::write_direct`]); [`Blocked::Full`] means wait for space and try again;
//!    * the writer loops on [`Engine::take_batch`] → write the [`Batch`] → [`Batch::complete`]
//!      (or, when the write fails or is cancelled, [`Engine::requeue_unsent`]);
//!    * the reader calls [`Engine::answer_ping`] and [`Engine::on_pong`];
//!    * the driver calls [`Engine::on_ping_timer`] every ping interval.
//! 3. The connection is gone: [`Engine::on_disconnected`] (after the writer stopped and
//!    requeued), then back to 1 — or, to close: [`Engine::on_close_requested`] at any time,
//!    then [`Engine::on_closed`] and finally [`Engine::on_close_announced`].

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use proto::{HeaderMap, ProtoError};

/// The sid of the request/reply mux subscription (`<inbox prefix>.<id>.*`).
pub(crate) const MUX_SID: u64 = 0;

/// Payloads at least this large are chained into the write queue instead of copied.
pub(crate) const CHAIN_THRESHOLD: usize = 32 * 1024;

/// Most slices handed to one vectored write.
const MAX_SLICES: usize = 64;

/// Where the connection stands: one enum from the first connect to closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Handshake in progress or waiting to reconnect: publishes go to the reconnect buffer.
    Disconnected,
    /// A writer drains the queue to a live socket.
    Connected,
    /// A close was requested (and is under way); `connected` says whether a connection is up,
    /// which decides, as above, where publishes go until it is done.
    Closing {
        /// A connection is up.
        connected: bool,
    },
    /// Closed for good: nothing is accepted any more. `announced` once the driver has
    /// finished (the `Closed` event was emitted): `close()` returns then.
    Closed {
        /// The driver has finished closing.
        announced: bool,
    },
}

impl Phase {
    /// A connection is up (publishes go to the writer, not to the reconnect buffer).
    pub(crate) fn is_connected(self) -> bool {
        matches!(self, Phase::Connected | Phase::Closing { connected: true })
    }

    /// A close was requested or is done.
    pub(crate) fn is_closing(self) -> bool {
        matches!(self, Phase::Closing { .. } | Phase::Closed { .. })
    }

    /// Closed (the driver may still be announcing it).
    pub(crate) fn is_closed(self) -> bool {
        matches!(self, Phase::Closed { .. })
    }
}

/// What kind of operation a queued frame is, as far as reconnect handling cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameKind {
    /// PUB or HPUB: application data, worth sending after a reconnect.
    Publish,
    /// PING: a flush or keep-alive with an entry in the PONG ledger.
    Ping,
    /// SUB, UNSUB, PONG: connection state, rebuilt on reconnect instead.
    Control,
}

/// One queued frame: its kind and length, packed in one word (the queue holds one per
/// operation, so it stays small).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frame(u64);

impl Frame {
    const KIND_SHIFT: u32 = 62;
    const LEN_MASK: u64 = (1 << Self::KIND_SHIFT) - 1;

    fn new(kind: FrameKind, len: usize) -> Frame {
        let kind = match kind {
            FrameKind::Publish => 0,
            FrameKind::Ping => 1,
            FrameKind::Control => 2,
        };
        Frame((kind << Self::KIND_SHIFT) | (len as u64 & Self::LEN_MASK))
    }

    fn kind(self) -> FrameKind {
        match self.0 >> Self::KIND_SHIFT {
            0 => FrameKind::Publish,
            1 => FrameKind::Ping,
            _ => FrameKind::Control,
        }
    }

    fn len(self) -> usize {
        (self.0 & Self::LEN_MASK) as usize
    }

    fn with_len(self, len: usize) -> Frame {
        Frame::new(self.kind(), len)
    }
}

/// Frames laid over a byte stream made of pieces: the queue's chunks, then its buffer.
#[derive(Default)]
struct Frames {
    /// In stream order; their lengths add up to the bytes queued.
    list: VecDeque<Frame>,
    /// The first frame was partly written already (a direct write stopped inside it): its
    /// record holds what is left, which is no use on another connection.
    front_started: bool,
}

impl Frames {
    fn push(&mut self, kind: FrameKind, len: usize) {
        if len > 0 {
            self.list.push_back(Frame::new(kind, len));
        }
    }

    fn clear(&mut self) {
        self.list.clear();
        self.front_started = false;
    }

    /// `n` bytes at the front were written: drops the frames they cover and shortens the one
    /// they end in (which is then started).
    fn consume(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.list.front_mut() else {
                return;
            };
            if n >= front.len() {
                n -= front.len();
                self.list.pop_front();
                self.front_started = false;
            } else {
                *front = front.with_len(front.len() - n);
                self.front_started = true;
                return;
            }
        }
    }
}

/// The frames `keep` accepts out of `pieces` (in order, covered exactly by `frames`), as
/// slices of the same memory (no copy; adjacent kept frames share a slice). `keep` gets each
/// frame's index, kind and start offset in the stream.
fn select(
    pieces: &[Bytes],
    frames: &VecDeque<Frame>,
    mut keep: impl FnMut(usize, FrameKind, usize) -> bool,
) -> (VecDeque<Bytes>, VecDeque<Frame>) {
    let mut kept_pieces: VecDeque<Bytes> = VecDeque::new();
    let mut kept_frames = VecDeque::new();
    // Where the last kept slice ends: (piece, offset), to extend it instead of adding one.
    let mut last_end: Option<(usize, usize)> = None;
    let (mut piece, mut offset, mut stream) = (0usize, 0usize, 0usize);
    for (i, frame) in frames.iter().enumerate() {
        let take = keep(i, frame.kind(), stream);
        if take {
            kept_frames.push_back(*frame);
        }
        let mut left = frame.len();
        stream += left;
        while left > 0 {
            let Some(bytes) = pieces.get(piece) else {
                // Frames never outrun the bytes; should they, stop here.
                return (kept_pieces, kept_frames);
            };
            let n = left.min(bytes.len() - offset);
            if take {
                match (last_end, kept_pieces.back_mut()) {
                    (Some((p, end)), Some(back)) if p == piece && end == offset => {
                        *back = bytes.slice(offset - back.len()..offset + n);
                    }
                    _ => kept_pieces.push_back(bytes.slice(offset..offset + n)),
                }
                last_end = Some((piece, offset + n));
            }
            left -= n;
            offset += n;
            if offset == bytes.len() {
                piece += 1;
                offset = 0;
            }
        }
    }
    (kept_pieces, kept_frames)
}

/// The outbound queue: everything encoded and not yet taken by the writer.
///
/// Invariants: the stream is `chunks` in order, then `buf`; `chunks_len` is the sum of the
/// chunks' lengths; `frames` covers the stream exactly (its lengths add up to
/// `chunks_len + buf.len()`), every frame whole except a first one marked started.
struct Queue {
    /// Earlier pieces of the stream: frozen prefixes of `buf` and chained large payloads.
    chunks: VecDeque<Bytes>,
    /// Total bytes in `chunks`.
    chunks_len: usize,
    /// Small operations, encoded back to back. Everything here comes after every chunk.
    buf: BytesMut,
    frames: Frames,
}

impl Queue {
    fn len(&self) -> usize {
        self.buf.len() + self.chunks_len
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.chunks_len = 0;
        self.buf.clear();
        self.frames.clear();
    }

    /// Records the frame just encoded at the end of `buf` (which was `before` bytes long).
    fn encoded(&mut self, kind: FrameKind, before: usize) {
        let len = self.buf.len() - before;
        self.frames.push(kind, len);
    }

    /// Puts whole frames in front of everything queued.
    fn push_front(&mut self, pieces: VecDeque<Bytes>, frames: VecDeque<Frame>) {
        for piece in pieces.into_iter().rev() {
            if !piece.is_empty() {
                self.chunks_len += piece.len();
                self.chunks.push_front(piece);
            }
        }
        // Only whole frames go in front of a queue whose first frame is not started (a
        // direct write happens only while the writer holds nothing, and a disconnect drops
        // a started frame), so nothing is ever put before the rest of a written frame.
        debug_assert!(frames.is_empty() || !self.frames.front_started);
        for frame in frames.into_iter().rev() {
            self.frames.list.push_front(frame);
        }
    }

    /// Keeps only the frames `keep` accepts (by kind); a frame already partly written is
    /// never kept.
    fn retain(&mut self, keep: impl Fn(FrameKind) -> bool) {
        if self.len() == 0 {
            return;
        }
        let mut pieces: Vec<Bytes> = self.chunks.drain(..).collect();
        // A copy, so that the buffer keeps its whole capacity (the disconnect path is rare;
        // a buffer that shrank on every reconnect would be reallocated each time).
        pieces.push(Bytes::copy_from_slice(&self.buf));
        self.buf.clear();
        let started = self.frames.front_started;
        let (kept, frames) = select(&pieces, &self.frames.list, |i, kind, _| {
            !(i == 0 && started) && keep(kind)
        });
        self.chunks_len = 0;
        self.frames.clear();
        self.push_front(kept, frames);
    }
}

/// What the writer took from the queue, and how far it got.
#[derive(Default)]
pub(crate) struct Batch {
    chunks: VecDeque<Bytes>,
    buf: BytesMut,
    frames: Frames,
    /// Bytes of this batch accepted by the socket so far.
    written: usize,
    /// Bytes of earlier batches written completely, not yet added to the connection's tally.
    completed: u64,
}

impl Batch {
    /// An empty batch whose buffer (swapped with the queue's) starts from `buf`.
    pub(crate) fn with_buffer(buf: BytesMut) -> Batch {
        Batch {
            buf,
            ..Batch::default()
        }
    }

    /// The batch's buffer, for the next connection's writer (contents discarded).
    pub(crate) fn into_buffer(mut self) -> BytesMut {
        self.buf.clear();
        self.buf
    }

    /// Capacity of its buffer.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Gives back a buffer that grew larger than `limit` during a burst.
    pub(crate) fn shrink(&mut self, limit: usize, to: usize) {
        if self.buf.capacity() > limit {
            self.buf = BytesMut::with_capacity(to);
        }
    }

    fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum::<usize>() + self.buf.len()
    }

    /// True when every byte was accepted.
    pub(crate) fn is_written(&self) -> bool {
        self.written >= self.len()
    }

    /// The unwritten part when it is one contiguous slice (nothing chained).
    pub(crate) fn contiguous(&self) -> Option<&[u8]> {
        self.chunks
            .is_empty()
            .then(|| self.buf.get(self.written..).unwrap_or_default())
    }

    /// Fills `slices` with the unwritten part, in order (at most 64 slices).
    pub(crate) fn slices<'a>(&'a self, slices: &mut Vec<IoSlice<'a>>) {
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

    /// The socket accepted `n` more bytes.
    pub(crate) fn advance(&mut self, n: usize) {
        self.written += n;
    }

    /// The whole batch was written: it is counted at the next [`Engine::take_batch`] and
    /// emptied now.
    pub(crate) fn complete(&mut self) {
        self.completed += self.written as u64;
        self.clear();
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.buf.clear();
        self.frames.clear();
        self.written = 0;
    }
}

/// A message to publish. Subject and reply are validated by the encoder, once, before a
/// byte is written.
pub(crate) struct Outgoing<'a> {
    pub(crate) subject: &'a str,
    pub(crate) reply: Option<&'a str>,
    /// Headers to send (`None` for PUB; an empty map without status is sent as PUB).
    pub(crate) headers: Option<&'a HeaderMap>,
    pub(crate) payload: &'a Bytes,
}

impl Outgoing<'_> {
    fn headers(&self) -> Option<&HeaderMap> {
        self.headers
            .filter(|h| !h.is_empty() || h.status().is_some())
    }

    /// An upper bound of the bytes it encodes to.
    fn estimate(&self) -> usize {
        self.subject.len()
            + self.reply.map_or(0, str::len)
            + self.headers().map_or(0, HeaderMap::encoded_len)
            + self.payload.len()
            + 64
    }
}

/// A live subscription, as the re-subscription plan needs it.
pub(crate) struct Resubscribe<'a> {
    pub(crate) sid: u64,
    pub(crate) subject: &'a str,
    pub(crate) queue: Option<&'a str>,
    /// Messages left before an auto-unsubscribe.
    pub(crate) remaining: Option<u64>,
}

/// What the caller must do after queueing something.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Send {
    /// Nothing: the writer is busy and will take it.
    Nothing,
    /// Wake the writer, which was parked.
    WakeWriter,
    /// The writer is parked and an answer is awaited: write directly with
    /// [`Engine::write_direct`] (or wake the writer when there is no direct socket).
    Direct,
}

/// Why an operation was not queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Blocked {
    /// The write buffer is full: wait for the writer to take it, then try again.
    Full,
    /// Disconnected, and the reconnect buffer cannot take this many more bytes.
    ReconnectBufferFull,
    /// The client is closed.
    Closed,
    /// The input is invalid; nothing was written.
    Invalid(ProtoError),
}

impl From<ProtoError> for Blocked {
    fn from(e: ProtoError) -> Self {
        Blocked::Invalid(e)
    }
}

/// What [`Engine::take_batch`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taken {
    /// Nothing queued: the writer is now parked and is woken (see [`Send::WakeWriter`]) when
    /// something is queued.
    Parked,
    /// The batch holds the queue; `space` when publishers wait for room (wake them).
    Batch {
        /// Publishers are waiting for space.
        space: bool,
    },
}

/// What the keep-alive timer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keepalive {
    /// Too many PINGs without a PONG: the connection is stale.
    Stale,
    /// A PING was queued.
    Ping(Send),
}

/// What a disconnect leaves to do.
pub(crate) struct Disconnected<W> {
    /// Bytes the server may or may not have processed.
    pub(crate) unconfirmed: u64,
    /// Flushes to fail: the connection dropped before their PONG.
    pub(crate) failed: Vec<W>,
}

/// The client's traffic counters kept by the engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sent {
    pub(crate) messages: u64,
    pub(crate) bytes: u64,
}

/// The PING/PONG ledger.
///
/// Invariants: `pongs` has one entry per PING queued or on the wire, in order; its head
/// `marks.len()` entries are on the wire of the current connection, its tail
/// `pings_queued` entries are still in the queue, so `pongs.len() == marks.len() +
/// pings_queued`.
struct Ledger<W> {
    /// One entry per PING, `Some` for a flush waiting on it.
    pongs: VecDeque<Option<W>>,
    /// PINGs still in the queue (the tail of `pongs`).
    pings_queued: usize,
    /// One entry per PING handed to the writer of the current connection (the head of
    /// `pongs`): the connection offset where its batch started. A PONG confirms at least
    /// the bytes before that offset.
    marks: VecDeque<u64>,
    /// Bytes of this connection the socket accepted.
    written: u64,
    /// Offset up to which the server has confirmed processing (by a PONG).
    confirmed: u64,
    /// Counts connections: a PONG read on an earlier one is not this one's.
    epoch: u64,
}

impl<W> Ledger<W> {
    /// The PINGs queued so far are handed to the socket (or are next in line for it): a PONG
    /// for each will confirm everything written before them.
    fn hand_over(&mut self) {
        let start = self.written;
        for _ in 0..self.pings_queued {
            self.marks.push_back(start);
        }
        self.pings_queued = 0;
    }
}

/// Sizes that bound the queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Past this many queued bytes, publishers wait (connected).
    pub(crate) write_buffer: usize,
    /// Past this many queued bytes, publishes fail (disconnected).
    pub(crate) reconnect_buffer: usize,
}

/// The connection's state. See the module documentation for what it owns and the call order.
pub(crate) struct Engine<W> {
    limits: Limits,
    phase: Phase,
    queue: Queue,
    /// The writer is parked and must be woken when something is queued.
    writer_idle: bool,
    /// Publishers waiting for room in the queue.
    space_waiters: usize,
    ledger: Ledger<W>,
    /// `<mux prefix>*`, fixed for the client's life (validated when the client was made).
    mux_subject: String,
    /// The mux subscription has been requested (it is restored on reconnect).
    mux_subscribed: bool,
    sent: Sent,
}

impl<W> Engine<W> {
    pub(crate) fn new(limits: Limits, mux_subject: String) -> Self {
        Engine {
            limits,
            phase: Phase::Disconnected,
            queue: Queue {
                chunks: VecDeque::new(),
                chunks_len: 0,
                buf: BytesMut::with_capacity(64 * 1024),
                frames: Frames::default(),
            },
            writer_idle: false,
            space_waiters: 0,
            ledger: Ledger {
                pongs: VecDeque::new(),
                pings_queued: 0,
                marks: VecDeque::new(),
                written: 0,
                confirmed: 0,
                epoch: 0,
            },
            mux_subject,
            mux_subscribed: false,
            sent: Sent::default(),
        }
    }

    // ---- queries ----

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// Bytes queued and not taken by the writer.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn sent(&self) -> Sent {
        self.sent
    }

    /// PINGs queued or on the wire without a PONG yet. Queued ones count too: a writer stuck
    /// on a stalled socket must not hide a stale connection.
    pub(crate) fn pings_outstanding(&self) -> usize {
        self.ledger.marks.len() + self.ledger.pings_queued
    }

    /// The mux subscription has been requested.
    #[cfg(test)]
    pub(crate) fn mux_subscribed(&self) -> bool {
        self.mux_subscribed
    }

    /// Where the queue's buffer lives (tests check that buffers are reused).
    #[cfg(test)]
    pub(crate) fn queue_buffer_ptr(&self) -> *const u8 {
        self.queue.buf.as_ptr()
    }

    // ---- publishers ----

    /// Whether `estimate` more bytes may be queued now.
    fn admit(&self, estimate: usize) -> Result<(), Blocked> {
        match self.phase {
            Phase::Closed { .. } => Err(Blocked::Closed),
            p if p.is_connected() => {
                if self.queue.len() >= self.limits.write_buffer {
                    Err(Blocked::Full)
                } else {
                    Ok(())
                }
            }
            _ => {
                if self.queue.len() + estimate > self.limits.reconnect_buffer {
                    Err(Blocked::ReconnectBufferFull)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Queues a message (PUB or HPUB), chaining a large payload instead of copying it.
    /// Fire-and-forget: the writer is woken only when parked.
    pub(crate) fn publish(&mut self, msg: &Outgoing<'_>) -> Result<Send, Blocked> {
        self.admit(msg.estimate())?;
        self.encode_message(msg)?;
        Ok(self.wake())
    }

    /// Queues a request's message, whose reply comes back on the mux subscription: that
    /// subscription goes first if it was never requested (while disconnected the
    /// re-subscription plan sends it).
    ///
    /// `alone`: no other request waits for a reply. A lone request goes straight to the
    /// socket when the writer is parked ([`Send::Direct`], the lowest latency); with others
    /// in flight it is left to the writer, which coalesces the requests their replies
    /// release into one write — fewer syscalls here and fewer reads at the server.
    pub(crate) fn request(&mut self, msg: &Outgoing<'_>, alone: bool) -> Result<Send, Blocked> {
        self.admit(msg.estimate() + self.mux_subject.len() + 32)?;
        let mark = self.queue.buf.len();
        let mux_now = !self.mux_subscribed && self.phase.is_connected();
        if mux_now {
            // The subject was validated when the client was made.
            proto::encode_sub(&mut self.queue.buf, &self.mux_subject, None, MUX_SID)?;
        }
        let mux_len = self.queue.buf.len() - mark;
        if let Err(e) = self.encode_message(msg) {
            // The message was invalid: take the SUB back too, nothing is written.
            self.queue.buf.truncate(mark);
            return Err(e.into());
        }
        if mux_now {
            // Recorded now that the message is in: the SUB frame goes before it.
            let publish = self.queue.frames.list.pop_back();
            self.queue.frames.push(FrameKind::Control, mux_len);
            self.queue.frames.list.extend(publish);
        }
        self.mux_subscribed = true;
        Ok(if alone {
            self.wake_for_answer()
        } else {
            self.wake()
        })
    }

    /// Encodes a PUB/HPUB at the end of the queue and counts it. Nothing is written when
    /// subject, reply or headers are invalid.
    fn encode_message(&mut self, msg: &Outgoing<'_>) -> Result<(), ProtoError> {
        let q = &mut self.queue;
        let headers = msg.headers();
        let payload = msg.payload;
        let before = q.buf.len();
        if payload.len() >= CHAIN_THRESHOLD {
            proto::encode_pub_head(&mut q.buf, msg.subject, msg.reply, headers, payload.len())?;
            let head = q.buf.split().freeze();
            let len = head.len() - before + payload.len() + proto::CRLF.len();
            q.chunks_len += head.len() + payload.len();
            q.chunks.push_back(head);
            q.chunks.push_back(payload.clone());
            q.buf.extend_from_slice(proto::CRLF);
            q.frames.push(FrameKind::Publish, len);
        } else {
            match headers {
                Some(h) => proto::encode_hpub(&mut q.buf, msg.subject, msg.reply, h, payload)?,
                None => proto::encode_pub(&mut q.buf, msg.subject, msg.reply, payload)?,
            }
            q.encoded(FrameKind::Publish, before);
        }
        self.sent.messages += 1;
        self.sent.bytes += payload.len() as u64;
        Ok(())
    }

    /// Sends `SUB` for a new subscription while connected; while disconnected only checks
    /// subject and queue group (the re-subscription plan sends it on the next connection).
    pub(crate) fn subscribe(
        &mut self,
        sid: u64,
        subject: &str,
        queue: Option<&str>,
    ) -> Result<Send, Blocked> {
        if self.phase.is_closed() {
            return Err(Blocked::Closed);
        }
        if !self.phase.is_connected() {
            proto::validate_subscribe_subject(subject)?;
            if let Some(q) = queue {
                proto::validate_queue_group(q)?;
            }
            return Ok(Send::Nothing);
        }
        let before = self.queue.buf.len();
        proto::encode_sub(&mut self.queue.buf, subject, queue, sid)?;
        self.queue.encoded(FrameKind::Control, before);
        Ok(self.wake())
    }

    /// Sends `UNSUB sid [max]` while connected; while disconnected nothing is written (the
    /// re-subscription plan no longer lists it, or lists it with the remaining count).
    pub(crate) fn unsubscribe(&mut self, sid: u64, max: Option<u64>) -> Result<Send, Blocked> {
        if self.phase.is_closed() {
            return Err(Blocked::Closed);
        }
        if !self.phase.is_connected() {
            return Ok(Send::Nothing);
        }
        let before = self.queue.buf.len();
        proto::encode_unsub(&mut self.queue.buf, sid, max);
        self.queue.encoded(FrameKind::Control, before);
        Ok(self.wake())
    }

    /// Queues a PING whose PONG completes `waiter`: a flush. Allowed while closing (the
    /// driver's last flush), refused once closed.
    pub(crate) fn flush(&mut self, waiter: W) -> Result<Send, Blocked> {
        if self.phase.is_closed() {
            return Err(Blocked::Closed);
        }
        Ok(self.queue_ping(Some(waiter)))
    }

    fn queue_ping(&mut self, waiter: Option<W>) -> Send {
        let before = self.queue.buf.len();
        proto::encode_ping(&mut self.queue.buf);
        self.queue.encoded(FrameKind::Ping, before);
        self.ledger.pings_queued += 1;
        self.ledger.pongs.push_back(waiter);
        self.wake_for_answer()
    }

    /// A publisher starts waiting for room (after [`Blocked::Full`]).
    pub(crate) fn wait_for_space(&mut self) {
        self.space_waiters += 1;
    }

    /// A publisher stopped waiting for room (also when cancelled).
    pub(crate) fn stop_waiting_for_space(&mut self) {
        self.space_waiters = self.space_waiters.saturating_sub(1);
    }

    /// Marks the writer busy and says whether it must be woken (it was parked).
    fn wake(&mut self) -> Send {
        if self.writer_idle && self.phase.is_connected() {
            self.writer_idle = false;
            Send::WakeWriter
        } else {
            Send::Nothing
        }
    }

    /// Like [`Engine::wake`], for operations whose caller waits for the server's answer
    /// (requests, flushes, PONGs): while the writer is parked the queue goes straight to the
    /// socket with one non-blocking write — no task wake-up, no thread hop, the latency a
    /// round trip would otherwise pay twice. Fire-and-forget publishes do not come here: in
    /// a flood, a write per message would cost far more than the writer's batching.
    fn wake_for_answer(&mut self) -> Send {
        if self.writer_idle && self.phase.is_connected() {
            Send::Direct
        } else {
            Send::Nothing
        }
    }

    /// After [`Send::Direct`]: offers the queue to `try_write` (a non-blocking write on the
    /// socket, `None` when it would block or failed) when it is one contiguous buffer.
    /// Returns [`Send::WakeWriter`] when the writer must take what is left.
    pub(crate) fn write_direct(&mut self, try_write: impl FnOnce(&[u8]) -> Option<usize>) -> Send {
        if !(self.writer_idle && self.phase.is_connected()) {
            return Send::Nothing;
        }
        let q = &mut self.queue;
        if q.chunks.is_empty()
            && !q.buf.is_empty()
            && let Some(n) = try_write(&q.buf)
        {
            let n = n.min(q.buf.len());
            // PINGs queued here are on the wire (or next in line for the writer) from now
            // on; a PONG confirms what the socket had before this write.
            self.ledger.hand_over();
            self.ledger.written += n as u64;
            q.frames.consume(n);
            if n == q.buf.len() {
                q.buf.clear();
                return Send::Nothing;
            }
            q.buf.advance(n);
        }
        self.wake()
    }

    // ---- the reader ----

    /// The server sent PING: queue the PONG.
    pub(crate) fn answer_ping(&mut self) -> Send {
        let before = self.queue.buf.len();
        proto::encode_pong(&mut self.queue.buf);
        self.queue.encoded(FrameKind::Control, before);
        self.wake_for_answer()
    }

    /// The server sent PONG on the connection of `epoch`: it confirms the oldest PING on
    /// the wire, and returns that PING's flush waiter (if it had one). A PONG from an earlier
    /// connection, or one with no PING of ours on the wire (the handshake's), is ignored.
    pub(crate) fn on_pong(&mut self, epoch: u64) -> Option<W> {
        if epoch != self.ledger.epoch {
            return None;
        }
        let mark = self.ledger.marks.pop_front()?;
        self.ledger.confirmed = self.ledger.confirmed.max(mark);
        self.ledger.pongs.pop_front().flatten()
    }

    // ---- the writer ----

    /// Counts what the last batch wrote and swaps the queue into `batch` (double buffering:
    /// no allocation in the steady state). PINGs in it are now handed to the socket.
    pub(crate) fn take_batch(&mut self, batch: &mut Batch) -> Taken {
        self.ledger.written += std::mem::take(&mut batch.completed);
        batch.clear();
        if self.queue.len() == 0 {
            self.writer_idle = true;
            return Taken::Parked;
        }
        let q = &mut self.queue;
        std::mem::swap(&mut q.buf, &mut batch.buf);
        std::mem::swap(&mut q.chunks, &mut batch.chunks);
        std::mem::swap(&mut q.frames, &mut batch.frames);
        q.chunks_len = 0;
        self.ledger.hand_over();
        Taken::Batch {
            space: self.space_waiters > 0,
        }
    }

    /// After a failed or cancelled write: the publishes the socket never saw go back to the
    /// front of the queue (SUBs are restored from the subscription table, and PINGs fail
    /// with the connection). Returns the bytes handed to the socket in this batch (frames it
    /// started, fully or in part): the server may or may not have processed them.
    pub(crate) fn requeue_unsent(&mut self, batch: &mut Batch) -> u64 {
        let written = batch.written;
        let started = batch.frames.front_started;
        let mut handed = 0usize;
        let mut pieces: Vec<Bytes> = batch.chunks.drain(..).collect();
        // A copy, so that the writer's buffer keeps its capacity for the next connection.
        pieces.push(Bytes::copy_from_slice(&batch.buf));
        let frames = &batch.frames.list;
        let (kept, kept_frames) = select(&pieces, frames, |i, kind, start| {
            if start < written || (i == 0 && started) {
                handed += frames.get(i).map_or(0, |f| f.len());
                false
            } else {
                kind == FrameKind::Publish
            }
        });
        self.queue.push_front(kept, kept_frames);
        batch.clear();
        handed as u64
    }

    // ---- the driver ----

    /// The keep-alive timer fired: queue a PING, or report the connection stale when
    /// `max_outstanding` PINGs have no PONG yet.
    pub(crate) fn on_ping_timer(&mut self, max_outstanding: usize) -> Keepalive {
        if self.pings_outstanding() >= max_outstanding {
            Keepalive::Stale
        } else {
            Keepalive::Ping(self.queue_ping(None))
        }
    }

    /// A new connection finished its handshake: the re-subscription plan (every live
    /// subscription with its remaining auto-unsubscribe count, then the mux subscription if
    /// it was requested) goes in front of what was buffered, and publishes go to the writer
    /// from now on. Returns the connection's epoch (for [`Engine::on_pong`]) and whether
    /// publishers wait for space (wake them: the reconnect buffer rule no longer holds).
    pub(crate) fn on_connected<'a>(
        &mut self,
        plan: impl IntoIterator<Item = Resubscribe<'a>>,
    ) -> (u64, bool) {
        let mut resub = BytesMut::new();
        let mut frames = VecDeque::new();
        for sub in plan {
            let before = resub.len();
            // Subject and queue were validated when the subscription was made.
            if proto::encode_sub(&mut resub, sub.subject, sub.queue, sub.sid).is_err() {
                continue;
            }
            if let Some(n) = sub.remaining {
                proto::encode_unsub(&mut resub, sub.sid, Some(n));
            }
            frames.push_back(Frame::new(FrameKind::Control, resub.len() - before));
        }
        if self.mux_subscribed {
            let before = resub.len();
            if proto::encode_sub(&mut resub, &self.mux_subject, None, MUX_SID).is_ok() {
                frames.push_back(Frame::new(FrameKind::Control, resub.len() - before));
            }
        }
        self.queue
            .push_front(VecDeque::from([resub.freeze()]), frames);
        self.phase = match self.phase {
            Phase::Closing { .. } => Phase::Closing { connected: true },
            Phase::Closed { .. } => self.phase,
            _ => Phase::Connected,
        };
        // The new writer starts busy: it takes the plan before any direct write happens.
        self.writer_idle = false;
        self.ledger.marks.clear();
        self.ledger.written = 0;
        self.ledger.confirmed = 0;
        self.ledger.epoch += 1;
        (self.ledger.epoch, self.space_waiters > 0)
    }

    /// The connection is gone (its writer stopped and requeued; `handed` is what that batch
    /// had handed to the socket): flushes waiting on it fail — the server may not have
    /// processed what came before them, also when the PING was still queued behind them —
    /// and publishes go to the reconnect buffer. Queued PINGs stay, as keep-alives, so later
    /// PONGs still match their entries. Control frames still queued (SUB, UNSUB, PONG) are
    /// dropped: reconnect rebuilds that state, and a stale `UNSUB sid max` must not undo the
    /// remaining count sent with the restored `SUB`.
    pub(crate) fn on_disconnected(&mut self, handed: u64) -> Disconnected<W> {
        self.phase = match self.phase {
            Phase::Closing { .. } => Phase::Closing { connected: false },
            Phase::Closed { .. } => self.phase,
            _ => Phase::Disconnected,
        };
        let l = &mut self.ledger;
        let mut unconfirmed = l.written.saturating_sub(l.confirmed) + handed;
        l.written = 0;
        l.confirmed = 0;
        let n = l.marks.len().min(l.pongs.len());
        l.marks.clear();
        let mut failed: Vec<W> = l.pongs.drain(..n).flatten().collect();
        failed.extend(l.pongs.iter_mut().filter_map(Option::take));
        if self.queue.frames.front_started
            && let Some(front) = self.queue.frames.list.front()
        {
            // Its start went out directly; the rest is dropped below.
            unconfirmed += front.len() as u64;
        }
        self.queue
            .retain(|kind| matches!(kind, FrameKind::Publish | FrameKind::Ping));
        Disconnected {
            unconfirmed,
            failed,
        }
    }

    /// A close was requested (`close()`, or the last handle dropped).
    pub(crate) fn on_close_requested(&mut self) {
        self.phase = match self.phase {
            Phase::Closed { .. } => self.phase,
            p => Phase::Closing {
                connected: p.is_connected(),
            },
        };
    }

    /// Everything ends: the queue is discarded and every flush waiter is returned, to fail.
    pub(crate) fn on_closed(&mut self) -> Vec<W> {
        self.phase = Phase::Closed { announced: false };
        self.queue.clear();
        self.ledger.pings_queued = 0;
        self.ledger.marks.clear();
        self.ledger.pongs.drain(..).flatten().collect()
    }

    /// The driver has announced the close: `close()` may return.
    pub(crate) fn on_close_announced(&mut self) {
        self.phase = Phase::Closed { announced: true };
    }
}

#[cfg(test)]
mod tests;
