//! State shared by the client handles, the reader, the writer and the driver of one connection.
//!
//! Lock order (never take an earlier one while holding a later one):
//! `out` → `subs` → a subscription's queue. `mux`, `pool` and `info` are leaves: nothing else is
//! locked while holding them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use proto::{HeaderMap, Info};
use tokio::sync::{Notify, oneshot};

use crate::error::{Error, ErrorKind, Result};
use crate::events::{Counters, Event, EventHub, Statistics};
use crate::lock;
use crate::options::ConnectOptions;
use crate::pacing::Pacing;
use crate::pool::ServerPool;
use crate::subscription::SubShared;

/// The sid of the request/reply mux subscription (`<inbox prefix>.<id>.*`).
pub(crate) const MUX_SID: u64 = 0;

/// Payloads at least this large are chained into the write queue instead of copied.
pub(crate) const CHAIN_THRESHOLD: usize = 32 * 1024;

/// Where the connection stands, as publishers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// Handshake in progress or waiting to reconnect: publishes go to the reconnect buffer.
    Disconnected,
    /// A writer drains the buffer to a live socket.
    Connected,
    /// Closed for good.
    Closed,
}

/// The outbound side: everything encoded but not yet taken by the writer.
pub(crate) struct Outbound {
    /// Small operations, encoded back to back. Everything here comes after every chunk.
    pub(crate) buf: BytesMut,
    /// Earlier pieces of the stream: frozen prefixes of `buf` and chained large payloads.
    pub(crate) chunks: VecDeque<Bytes>,
    /// Total bytes in `chunks`.
    pub(crate) chunks_len: usize,
    pub(crate) state: ConnState,
    /// The writer is parked and must be notified when something is queued.
    pub(crate) writer_idle: bool,
    /// Publishers parked on `Shared::space`.
    pub(crate) space_waiters: usize,
    /// One entry per PING written or queued, in order; `Some` for a `flush()` waiting on it.
    pub(crate) pongs: VecDeque<Option<oneshot::Sender<Result<()>>>>,
    /// PINGs in `buf`/`chunks` (the tail of `pongs`).
    pub(crate) pings_queued: usize,
    /// One entry per PING handed to the writer of the current connection (the head of
    /// `pongs`): the connection offset where its batch started. A PONG confirms at least the
    /// bytes before that offset.
    pub(crate) ping_marks: VecDeque<u64>,
    /// Bytes of this connection's batches the socket accepted completely.
    pub(crate) conn_written: u64,
    /// Offset up to which the server has confirmed processing (by a PONG).
    pub(crate) confirmed: u64,
    /// Whether the mux subscription has been sent (it is restored on reconnect).
    pub(crate) mux_subscribed: bool,
    pub(crate) out_messages: u64,
    pub(crate) out_bytes: u64,
    /// The live plain-TCP socket, for direct writes while the writer is parked (`None` for
    /// TLS and custom transports, and while disconnected).
    pub(crate) direct: Option<crate::transport::SharedTcp>,
}

impl Outbound {
    pub(crate) fn queued(&self) -> usize {
        self.buf.len() + self.chunks_len
    }

    /// Puts `bytes` in front of everything queued.
    pub(crate) fn push_front(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        self.chunks_len += bytes.len();
        self.chunks.push_front(bytes);
    }

    /// Keeps only PUB/HPUB and PING frames of what is queued (see `Shared::on_disconnected`).
    fn retain_publishes_and_pings(&mut self) {
        let total = self.queued();
        if total == 0 {
            return;
        }
        let kept = crate::frames::filter(
            self.chunks
                .iter()
                .map(|c| &c[..])
                .chain(std::iter::once(&self.buf[..])),
            total,
            |kind, _| kind != crate::frames::FrameKind::Control,
        );
        self.chunks.clear();
        self.chunks_len = 0;
        self.buf.clear();
        self.buf.extend_from_slice(&kept);
    }

    /// The PINGs queued so far are handed to the socket (or are next in line for it): a PONG
    /// for each will confirm everything written before them.
    pub(crate) fn hand_over_pings(&mut self) {
        let start = self.conn_written;
        for _ in 0..self.pings_queued {
            self.ping_marks.push_back(start);
        }
        self.pings_queued = 0;
    }

    /// Marks the writer busy and says whether it must be woken (it was parked).
    pub(crate) fn take_wake(&mut self) -> bool {
        if self.writer_idle && self.state == ConnState::Connected {
            self.writer_idle = false;
            true
        } else {
            false
        }
    }

    /// Like [`Outbound::take_wake`], for operations whose caller waits for the server's
    /// answer (requests, flushes): while the writer is parked the queue goes straight to the
    /// socket with one non-blocking `try_write` — no task wake-up, no thread hop, the latency
    /// a round trip would otherwise pay twice. Whatever does not fit goes to the writer.
    /// Fire-and-forget publishes do not come here: in a flood, a write per message would cost
    /// far more than the writer's batching.
    pub(crate) fn send_or_wake(&mut self) -> bool {
        if !(self.writer_idle && self.state == ConnState::Connected) {
            return false;
        }
        if let Some(sock) = &self.direct
            && self.chunks.is_empty()
            && !self.buf.is_empty()
            && let Ok(n) = sock.0.try_write(&self.buf)
        {
            // PINGs queued here are on the wire (or next in line for the writer) from now
            // on; a PONG confirms what the socket had before this write.
            self.hand_over_pings();
            self.conn_written += n as u64;
            if n == self.buf.len() {
                self.buf.clear();
                return false;
            }
            bytes::Buf::advance(&mut self.buf, n);
        }
        self.take_wake()
    }

    /// Queues a PING, with a flush waiter or as a keep-alive.
    pub(crate) fn queue_ping(&mut self, waiter: Option<oneshot::Sender<Result<()>>>) -> bool {
        proto::encode_ping(&mut self.buf);
        self.pings_queued += 1;
        self.pongs.push_back(waiter);
        self.send_or_wake()
    }

    /// Number of PINGs queued or on the wire without a PONG yet. Queued ones count too: a
    /// writer stuck on a stalled socket must not hide a stale connection.
    pub(crate) fn pings_outstanding(&self) -> usize {
        self.ping_marks.len() + self.pings_queued
    }
}

/// A request waiting for its reply.
struct PendingRequest {
    /// The subject it was sent to, so a publish permission error can fail it.
    subject: Box<str>,
    tx: oneshot::Sender<Result<proto::Msg>>,
}

/// What a request's receiver gets: the reply, or why there will be none.
pub(crate) type ReplyReceiver = oneshot::Receiver<Result<proto::Msg>>;

/// Request/reply over one wildcard subscription.
pub(crate) struct Mux {
    /// `<inbox prefix>.<unique id>.`
    pub(crate) prefix: String,
    next_token: u64,
    pending: HashMap<u64, PendingRequest>,
}

impl Mux {
    fn new(inbox_prefix: &str) -> Self {
        Mux {
            prefix: format!("{inbox_prefix}.{}.", crate::rng::nuid()),
            next_token: 1,
            pending: HashMap::new(),
        }
    }
}

/// Commands for the driver task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// Leave the current server and connect again.
    Reconnect,
    /// The current server is in lame duck mode: move to another one.
    LameDuck,
    /// Stop: close the socket and end everything.
    Close,
}

pub(crate) struct Shared {
    pub(crate) opts: ConnectOptions,
    pub(crate) out: Mutex<Outbound>,
    /// Wakes the writer when it is idle and something was queued.
    pub(crate) writer_wake: Notify,
    /// Wakes publishers waiting for room in the write buffer.
    pub(crate) space: Notify,
    pub(crate) subs: Mutex<HashMap<u64, Arc<SubShared>>>,
    pub(crate) mux: Mutex<Mux>,
    /// The mux subscription's subject, `<mux prefix>*`: fixed for the client's life.
    mux_subject: String,
    pub(crate) info: Mutex<Arc<Info>>,
    pub(crate) max_payload: AtomicUsize,
    pub(crate) counters: Counters,
    pub(crate) events: EventHub,
    pub(crate) next_sid: std::sync::atomic::AtomicU64,
    pub(crate) pool: Mutex<ServerPool>,
    command: Mutex<Option<Command>>,
    pub(crate) command_wake: Notify,
    pub(crate) closed: AtomicBool,
    close_requested: AtomicBool,
    /// Signalled once the driver has finished closing.
    pub(crate) closed_done: Notify,
    pub(crate) closed_done_flag: AtomicBool,
    /// The writer's batch buffer, kept from one connection to the next: a reconnect then
    /// allocates no new large buffer (fresh 64 KiB buffers on every reconnect fragment the
    /// allocator's arenas, and the process's RSS creeps up with each reconnect).
    pub(crate) spare_write_buf: Mutex<Option<BytesMut>>,
    /// The read buffer of a connection whose reader ended on its own (the server closed it),
    /// for the next connection, for the same reason.
    pub(crate) spare_read_buf: Mutex<Option<BytesMut>>,
    /// The reader's batch vector (see `reader::Batch`), kept across connections likewise.
    pub(crate) spare_batch: Mutex<Option<Vec<proto::Msg>>>,
    /// Publish pacing by this client's own subscriptions.
    pub(crate) pacing: Arc<Pacing>,
}

impl Shared {
    pub(crate) fn new(opts: ConnectOptions, pool: ServerPool) -> Self {
        let mux = Mux::new(&opts.inbox_prefix);
        let mux_subject = format!("{}*", mux.prefix);
        let events = EventHub::new(opts.event_callback.clone());
        Shared {
            out: Mutex::new(Outbound {
                buf: BytesMut::with_capacity(64 * 1024),
                chunks: VecDeque::new(),
                chunks_len: 0,
                state: ConnState::Disconnected,
                writer_idle: false,
                space_waiters: 0,
                pongs: VecDeque::new(),
                pings_queued: 0,
                ping_marks: VecDeque::new(),
                conn_written: 0,
                confirmed: 0,
                mux_subscribed: false,
                out_messages: 0,
                out_bytes: 0,
                direct: None,
            }),
            writer_wake: Notify::new(),
            space: Notify::new(),
            subs: Mutex::new(HashMap::new()),
            mux: Mutex::new(mux),
            mux_subject,
            info: Mutex::new(Arc::new(Info::default())),
            max_payload: AtomicUsize::new(1024 * 1024),
            counters: Counters::default(),
            events,
            next_sid: std::sync::atomic::AtomicU64::new(1),
            pool: Mutex::new(pool),
            command: Mutex::new(None),
            command_wake: Notify::new(),
            closed: AtomicBool::new(false),
            close_requested: AtomicBool::new(false),
            closed_done: Notify::new(),
            closed_done_flag: AtomicBool::new(false),
            spare_write_buf: Mutex::new(None),
            spare_read_buf: Mutex::new(None),
            spare_batch: Mutex::new(None),
            pacing: Arc::new(Pacing::new(opts.pace_publishers)),
            opts,
        }
    }

    pub(crate) fn emit(&self, event: Event) {
        self.events.emit(event);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn send_command(&self, command: Command) {
        if command == Command::Close {
            self.close_requested.store(true, Ordering::Release);
        }
        {
            let mut slot = lock(&self.command);
            // Close wins over everything; otherwise the latest request stands.
            if *slot != Some(Command::Close) {
                *slot = Some(command);
            }
        }
        self.command_wake.notify_one();
    }

    /// True once `close()` was called or the last handle dropped.
    pub(crate) fn close_requested(&self) -> bool {
        self.close_requested.load(Ordering::Acquire)
    }

    /// Resolves once a close was requested.
    pub(crate) async fn close_signal(&self) {
        loop {
            let notified = self.command_wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.close_requested() {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn take_command(&self) -> Option<Command> {
        lock(&self.command).take()
    }

    pub(crate) fn wake_writer(&self) {
        self.writer_wake.notify_one();
    }

    /// Encodes one operation into the outbound buffer, waiting for room when connected and
    /// failing when disconnected with a full reconnect buffer. `encode` must validate before it
    /// writes anything; `estimate` is an upper bound of the bytes it writes.
    async fn enqueue<F>(
        &self,
        estimate: usize,
        is_message: bool,
        awaits_answer: bool,
        mut encode: F,
    ) -> Result<()>
    where
        F: FnMut(&mut Outbound) -> Result<usize>,
    {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            let room = Some(notified.as_mut());
            if self.try_enqueue(estimate, is_message, awaits_answer, &mut encode, room)? {
                return Ok(());
            }
            let _waiting = SpaceWaiter(self);
            notified.await;
        }
    }

    /// One attempt of [`Shared::enqueue`]: `true` when encoded (the writer is woken if it has
    /// to be), `false` when the buffer is full. On `false` a caller that passed `notified` is
    /// registered (`notified` enabled, `space_waiters` counted) before the lock is released;
    /// one that did not (an attempt before any await) is not.
    fn try_enqueue<F>(
        &self,
        estimate: usize,
        is_message: bool,
        awaits_answer: bool,
        encode: &mut F,
        notified: Option<std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>>,
    ) -> Result<bool>
    where
        F: FnMut(&mut Outbound) -> Result<usize>,
    {
        let mut out = lock(&self.out);
        match out.state {
            ConnState::Closed => return Err(Error::closed()),
            ConnState::Disconnected => {
                if out.queued() + estimate > self.opts.reconnect_buffer_size {
                    drop(out);
                    Counters::add(&self.counters.reconnect_buffer_rejections, 1);
                    return Err(Error::new(
                        ErrorKind::ReconnectBufferFull,
                        format!(
                            "disconnected and the reconnect buffer ({} bytes) is full",
                            self.opts.reconnect_buffer_size
                        ),
                    ));
                }
            }
            ConnState::Connected => {
                if out.queued() >= self.opts.write_buffer_size {
                    if let Some(notified) = notified {
                        out.space_waiters += 1;
                        notified.enable();
                    }
                    return Ok(false);
                }
            }
        }
        let payload = encode(&mut out)?;
        if is_message {
            out.out_messages += 1;
            out.out_bytes += payload as u64;
        }
        let wake = if awaits_answer {
            out.send_or_wake()
        } else {
            out.take_wake()
        };
        drop(out);
        if wake {
            self.wake_writer();
        }
        Ok(true)
    }

    /// Refuses a control line the server would reject with the fatal `Maximum Control Line
    /// Exceeded` (which would cost the whole connection): `fields` is the byte length of the
    /// subject, reply and queue; 64 bytes cover the operation name, sizes and separators.
    pub(crate) fn check_control_line(&self, fields: usize) -> Result<()> {
        let limit = self.opts.max_control_line;
        if fields.saturating_add(64) > limit {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "subject, reply and queue take {fields} bytes; the server's control line \
                     limit is {limit}"
                ),
            ));
        }
        Ok(())
    }

    /// Publishes a message (PUB or HPUB), chaining large payloads instead of copying them.
    pub(crate) async fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: Bytes,
    ) -> Result<()> {
        self.check_control_line(subject.len() + reply.map_or(0, str::len))?;
        let headers = headers.filter(|h| !h.is_empty() || h.status().is_some());
        let header_len = headers.map_or(0, HeaderMap::encoded_len);
        proto::check_payload_size(
            header_len,
            payload.len(),
            self.max_payload.load(Ordering::Relaxed),
        )?;
        let estimate = subject.len() + reply.map_or(0, str::len) + header_len + payload.len() + 64;
        let mut encode = |out: &mut Outbound| {
            if payload.len() >= CHAIN_THRESHOLD {
                proto::encode_pub_head(&mut out.buf, subject, reply, headers, payload.len())?;
                let head = out.buf.split().freeze();
                out.chunks_len += head.len() + payload.len();
                out.chunks.push_back(head);
                out.chunks.push_back(payload.clone());
                out.buf.extend_from_slice(proto::CRLF);
            } else {
                match headers {
                    Some(h) => proto::encode_hpub(&mut out.buf, subject, reply, h, &payload)?,
                    None => proto::encode_pub(&mut out.buf, subject, reply, &payload)?,
                }
            }
            Ok(payload.len())
        };
        // Before any await: the common case (nobody paced, room in the buffer) then builds
        // none of the waiting futures, whose state a profile showed being copied around.
        if !self.pacing.may_wait() && self.try_enqueue(estimate, true, false, &mut encode, None)? {
            return Ok(());
        }
        self.pacing.wait(subject).await;
        self.enqueue(estimate, true, false, encode).await
    }

    /// Publishes a request whose reply comes back through the mux subscription, sending that
    /// subscription first if this connection has not yet.
    ///
    /// `alone`: no other request is waiting for a reply. A lone request goes straight to the
    /// socket when the writer is parked (lowest latency); with others in flight it is left to
    /// the writer, which coalesces the requests their replies release into one write — fewer
    /// syscalls here and fewer reads at the server, which is what concurrent requests are
    /// bound by.
    pub(crate) async fn publish_request(
        &self,
        subject: &str,
        reply: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        alone: bool,
    ) -> Result<()> {
        let headers = headers.filter(|h| !h.is_empty() || h.status().is_some());
        let header_len = headers.map_or(0, HeaderMap::encoded_len);
        proto::check_payload_size(
            header_len,
            payload.len(),
            self.max_payload.load(Ordering::Relaxed),
        )?;
        // Validate before touching the mux state so a bad subject changes nothing.
        proto::validate_publish_subject(subject)?;
        self.check_control_line(subject.len() + reply.len())?;
        let mux_subject = &self.mux_subject;
        let estimate =
            subject.len() + reply.len() + header_len + payload.len() + mux_subject.len() + 96;
        self.enqueue(estimate, true, alone, |out| {
            if !out.mux_subscribed {
                // While disconnected, `on_connected` sends it with the other subscriptions;
                // writing it here too would subscribe it twice.
                if out.state == ConnState::Connected {
                    proto::encode_sub(&mut out.buf, mux_subject, None, MUX_SID)?;
                }
                out.mux_subscribed = true;
            }
            match headers {
                Some(h) => proto::encode_hpub(&mut out.buf, subject, Some(reply), h, &payload)?,
                None => proto::encode_pub(&mut out.buf, subject, Some(reply), &payload)?,
            }
            Ok(payload.len())
        })
        .await
    }

    /// Queues a control operation (SUB, UNSUB) that only makes sense on a live connection:
    /// while disconnected nothing is written, because reconnect restores subscriptions.
    pub(crate) fn control<F>(&self, encode: F) -> Result<()>
    where
        F: FnOnce(&mut BytesMut) -> Result<()>,
    {
        let wake = {
            let mut out = lock(&self.out);
            match out.state {
                ConnState::Closed => return Err(Error::closed()),
                ConnState::Disconnected => return Ok(()),
                ConnState::Connected => {}
            }
            encode(&mut out.buf)?;
            out.take_wake()
        };
        if wake {
            self.wake_writer();
        }
        Ok(())
    }

    /// Registers a request token and returns it with the full reply subject, the receiver,
    /// and whether it is the only request waiting for a reply.
    pub(crate) fn register_request(&self, subject: &str) -> (u64, String, ReplyReceiver, bool) {
        let (tx, rx) = oneshot::channel();
        let mut mux = lock(&self.mux);
        let token = mux.next_token;
        mux.next_token += 1;
        mux.pending.insert(
            token,
            PendingRequest {
                subject: subject.into(),
                tx,
            },
        );
        let mut reply = String::with_capacity(mux.prefix.len() + 20);
        reply.push_str(&mux.prefix);
        push_decimal(&mut reply, token);
        let alone = mux.pending.len() == 1;
        (token, reply, rx, alone)
    }

    pub(crate) fn forget_request(&self, token: u64) {
        lock(&self.mux).pending.remove(&token);
    }

    /// Number of requests waiting for a reply (tests check it returns to zero).
    pub(crate) fn pending_requests(&self) -> usize {
        lock(&self.mux).pending.len()
    }

    /// Delivers a message that arrived on the mux subscription to its request, if it still
    /// waits; late replies are dropped.
    pub(crate) fn deliver_reply(&self, msg: proto::Msg) {
        let sender = {
            let mut mux = lock(&self.mux);
            let token = msg
                .subject
                .strip_prefix(mux.prefix.as_bytes())
                .and_then(parse_decimal);
            match token {
                Some(t) => mux.pending.remove(&t),
                None => None,
            }
        };
        if let Some(pending) = sender {
            let _ = pending.tx.send(Ok(msg));
        }
    }

    /// Fails the requests sent to `subject` because the server refused the publish.
    pub(crate) fn fail_requests_to(&self, subject: &str, message: &str) {
        let failed: Vec<PendingRequest> = {
            let mut mux = lock(&self.mux);
            let tokens: Vec<u64> = mux
                .pending
                .iter()
                .filter(|(_, p)| &*p.subject == subject)
                .map(|(t, _)| *t)
                .collect();
            tokens
                .into_iter()
                .filter_map(|t| mux.pending.remove(&t))
                .collect()
        };
        for pending in failed {
            let _ = pending
                .tx
                .send(Err(Error::new(ErrorKind::PermissionDenied, message)));
        }
    }

    /// Fails every pending request (close).
    pub(crate) fn fail_requests(&self) {
        lock(&self.mux).pending.clear();
    }

    /// A flush: queues a PING and waits for its PONG.
    pub(crate) async fn flush(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        let wake = {
            let mut out = lock(&self.out);
            if out.state == ConnState::Closed {
                return Err(Error::closed());
            }
            out.queue_ping(Some(tx))
        };
        if wake {
            self.wake_writer();
        }
        match rx.await {
            Ok(result) => result,
            Err(_) => Err(Error::closed()),
        }
    }

    pub(crate) fn statistics(&self) -> Statistics {
        let (out_messages, out_bytes) = {
            let out = lock(&self.out);
            (out.out_messages, out.out_bytes)
        };
        let c = &self.counters;
        Statistics {
            in_messages: c.in_messages.load(Ordering::Relaxed),
            in_bytes: c.in_bytes.load(Ordering::Relaxed),
            out_messages,
            out_bytes,
            reconnects: c.reconnects.load(Ordering::Relaxed),
            slow_consumer_drops: c.slow_consumer_drops.load(Ordering::Relaxed),
            reconnect_buffer_rejections: c.reconnect_buffer_rejections.load(Ordering::Relaxed),
            unconfirmed_bytes: c.unconfirmed_bytes.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn server_info(&self) -> Arc<Info> {
        lock(&self.info).clone()
    }

    pub(crate) fn set_info(&self, info: Info) {
        if info.max_payload > 0 {
            self.max_payload.store(info.max_payload, Ordering::Relaxed);
        }
        *lock(&self.info) = Arc::new(info);
    }

    /// Called by the driver once a new connection finished its handshake: restores
    /// subscriptions in front of the reconnect buffer and opens the gate for the writer.
    pub(crate) fn on_connected(&self) {
        let mut out = lock(&self.out);
        let mut resub = BytesMut::new();
        {
            let mut subs = lock(&self.subs);
            subs.retain(|_, sub| sub.encode_resubscribe(&mut resub));
        }
        if out.mux_subscribed {
            // The subject was validated when the first request went out.
            let _ = proto::encode_sub(&mut resub, &self.mux_subject, None, MUX_SID);
        }
        out.push_front(resub.freeze());
        out.state = ConnState::Connected;
        out.writer_idle = false;
        out.ping_marks.clear();
        out.conn_written = 0;
        out.confirmed = 0;
        if out.space_waiters > 0 {
            self.space.notify_waiters();
        }
    }

    /// Called by the driver when the connection is gone: fails every waiting flush (the
    /// server may not have processed what came before: publishes handed to this connection may
    /// be lost, also when the flush's own PING was still queued behind them) and switches
    /// publishes to the reconnect buffer. Queued PINGs stay, as keep-alives, so later PONGs
    /// still match their entries.
    ///
    /// Bytes the socket accepted after the last confirmation are counted as unconfirmed
    /// (`handed` adds the part of an interrupted batch), and control frames still queued
    /// (SUB, UNSUB, PONG) are dropped: reconnect rebuilds that state, and a stale
    /// `UNSUB sid max` must not undo the remaining count sent with the restored `SUB`.
    pub(crate) fn on_disconnected(&self, handed: u64) {
        let failed: Vec<_> = {
            let mut out = lock(&self.out);
            if out.state != ConnState::Closed {
                out.state = ConnState::Disconnected;
            }
            out.direct = None;
            let unconfirmed = out.conn_written.saturating_sub(out.confirmed) + handed;
            Counters::add(&self.counters.unconfirmed_bytes, unconfirmed);
            out.conn_written = 0;
            out.confirmed = 0;
            let n = out.ping_marks.len().min(out.pongs.len());
            out.ping_marks.clear();
            let mut failed: Vec<_> = out.pongs.drain(..n).flatten().collect();
            failed.extend(out.pongs.iter_mut().filter_map(Option::take));
            out.retain_publishes_and_pings();
            failed
        };
        for tx in failed {
            let _ = tx.send(Err(Error::disconnected()));
        }
        // Publishers waiting for the writer must now see the reconnect-buffer rule instead.
        self.space.notify_waiters();
    }

    /// Ends everything: the state, flushes, requests and subscriptions.
    pub(crate) fn on_closed(&self) {
        self.closed.store(true, Ordering::Release);
        self.pacing.stop();
        let pongs: Vec<_> = {
            let mut out = lock(&self.out);
            out.state = ConnState::Closed;
            out.direct = None;
            out.buf.clear();
            out.chunks.clear();
            out.chunks_len = 0;
            out.pings_queued = 0;
            out.ping_marks.clear();
            out.pongs.drain(..).flatten().collect()
        };
        for tx in pongs {
            let _ = tx.send(Err(Error::closed()));
        }
        self.space.notify_waiters();
        self.fail_requests();
        let subs: Vec<_> = lock(&self.subs).drain().map(|(_, s)| s).collect();
        for sub in subs {
            sub.close(crate::subscription::CloseReason::ClientClosed);
        }
    }
}

/// Counts a publisher parked for buffer space, until it stops waiting (also when cancelled).
struct SpaceWaiter<'a>(&'a Shared);

impl Drop for SpaceWaiter<'_> {
    fn drop(&mut self) {
        lock(&self.0.out).space_waiters -= 1;
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// Parses a decimal token; `None` for anything else (including overflow).
fn parse_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared::new(ConnectOptions::default(), ServerPool::new(Vec::new(), true))
    }

    #[test]
    fn a_disconnect_keeps_queued_publishes_and_pings_but_drops_control_frames() {
        let shared = shared();
        let (tx, _rx) = oneshot::channel();
        {
            let mut out = lock(&shared.out);
            out.state = ConnState::Connected;
            proto::encode_sub(&mut out.buf, "a", None, 7).unwrap();
            proto::encode_pub(&mut out.buf, "a", None, b"one").unwrap();
            proto::encode_unsub(&mut out.buf, 7, Some(5));
            let head = out.buf.split().freeze();
            out.push_front(head);
            proto::encode_pong(&mut out.buf);
            out.queue_ping(Some(tx));
            proto::encode_pub(&mut out.buf, "b", Some("r"), b"two").unwrap();
        }
        shared.on_disconnected(0);
        let out = lock(&shared.out);
        assert_eq!(out.state, ConnState::Disconnected);
        assert!(out.chunks.is_empty());
        assert_eq!(
            &out.buf[..],
            b"PUB a 3\r\none\r\nPING\r\nPUB b r 3\r\ntwo\r\n"
        );
        assert_eq!(out.pings_queued, 1, "the PING stays with its PONG entry");
        assert_eq!(out.pongs.len(), 1);
        assert!(
            out.pongs[0].is_none(),
            "its flush was failed with the connection"
        );
    }

    #[test]
    fn unconfirmed_bytes_are_those_written_after_the_last_confirmation() {
        let shared = shared();
        {
            let mut out = lock(&shared.out);
            out.conn_written = 1000;
            out.confirmed = 400;
        }
        shared.on_disconnected(50);
        assert_eq!(shared.statistics().unconfirmed_bytes, 650);
        let out = lock(&shared.out);
        assert_eq!((out.conn_written, out.confirmed), (0, 0));
    }

    #[test]
    fn decimal_tokens_round_trip() {
        for n in [0, 1, 9, 10, 12345, u64::MAX] {
            let mut s = String::new();
            push_decimal(&mut s, n);
            assert_eq!(parse_decimal(s.as_bytes()), Some(n));
        }
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"12a"), None);
        assert_eq!(parse_decimal(b"99999999999999999999"), None);
    }
}
