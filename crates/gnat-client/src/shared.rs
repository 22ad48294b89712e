//! What the client handles, the subscriptions, the reader, the writer and the driver of one
//! client share: the [`Engine`] behind its short lock (with the socket for direct writes), the
//! subscription and request tables, the server's INFO and pool, events and counters, and the
//! notifications that wake the tasks. Every operation on the engine goes through a method
//! here, which takes the lock, calls the engine and does what it answers (wake the writer,
//! write directly, complete or fail waiters) outside of it.
//!
//! Lock order (never take an earlier one while holding a later one):
//! `out` → `subs` → a subscription's queue. `requests`, `pool`, `info`, `command` and the
//! spare buffers are leaves: nothing else is locked while holding them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use proto::{HeaderMap, Info};
use tokio::sync::{Notify, oneshot};

use crate::engine::{self, Batch, Blocked, Engine, Keepalive, Outgoing, Phase, Send, Taken};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Counters, Event, EventHub, Statistics};
use crate::lock;
use crate::options::ConnectOptions;
use crate::pacing::Pacing;
use crate::pool::ServerPool;
use crate::requests::{Registered, Requests};
use crate::sub_queue::{CloseReason, SubShared};
use crate::transport::SharedTcp;

/// A flush waiting for its PONG.
pub(crate) type FlushWaiter = oneshot::Sender<Result<()>>;

/// The engine and the live plain-TCP socket, for direct writes while the writer is parked
/// (`None` for TLS and custom transports, and while disconnected).
pub(crate) struct Out {
    engine: Engine<FlushWaiter>,
    direct: Option<SharedTcp>,
    /// The current connection's epoch (from [`Engine::on_connected`]).
    epoch: u64,
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
    out: Mutex<Out>,
    /// Wakes the writer when it is parked and something was queued.
    pub(crate) writer_wake: Notify,
    /// Wakes publishers waiting for room in the queue.
    space: Notify,
    subs: Mutex<HashMap<u64, Arc<SubShared>>>,
    requests: Mutex<Requests>,
    info: Mutex<Arc<Info>>,
    max_payload: AtomicUsize,
    pub(crate) counters: Counters,
    pub(crate) events: EventHub,
    next_sid: AtomicU64,
    pub(crate) pool: Mutex<ServerPool>,
    command: Mutex<Option<Command>>,
    pub(crate) command_wake: Notify,
    /// Signalled once the driver has finished closing.
    closed_done: Notify,
    /// Client handles and subscriptions alive (see [`Handle`]).
    handles: AtomicUsize,
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

/// Counts a publisher parked for buffer space, until it stops waiting (also when cancelled).
struct SpaceWaiter<'a>(&'a Shared);

impl Drop for SpaceWaiter<'_> {
    fn drop(&mut self) {
        lock(&self.0.out).engine.stop_waiting_for_space();
    }
}

impl Shared {
    pub(crate) fn new(opts: ConnectOptions, pool: ServerPool) -> Self {
        let requests = Requests::new(&opts.inbox_prefix);
        let limits = engine::Limits {
            write_buffer: opts.write_buffer_size,
            reconnect_buffer: opts.reconnect_buffer_size,
        };
        let events = EventHub::new(opts.event_callback.clone());
        Shared {
            out: Mutex::new(Out {
                engine: Engine::new(limits, requests.subject()),
                direct: None,
                epoch: 0,
            }),
            writer_wake: Notify::new(),
            space: Notify::new(),
            subs: Mutex::new(HashMap::new()),
            requests: Mutex::new(requests),
            info: Mutex::new(Arc::new(Info::default())),
            max_payload: AtomicUsize::new(1024 * 1024),
            counters: Counters::default(),
            events,
            next_sid: AtomicU64::new(1),
            pool: Mutex::new(pool),
            command: Mutex::new(None),
            command_wake: Notify::new(),
            closed_done: Notify::new(),
            handles: AtomicUsize::new(0),
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

    /// Where the connection stands.
    pub(crate) fn phase(&self) -> Phase {
        lock(&self.out).engine.phase()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.phase().is_closed()
    }

    /// True once `close()` was called or the last handle dropped.
    pub(crate) fn close_requested(&self) -> bool {
        self.phase().is_closing()
    }

    pub(crate) fn send_command(&self, command: Command) {
        if command == Command::Close {
            lock(&self.out).engine.on_close_requested();
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

    /// Asks the driver to close and waits until it has finished.
    pub(crate) async fn close(&self) {
        loop {
            let notified = self.closed_done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.phase() == (Phase::Closed { announced: true }) {
                return;
            }
            self.send_command(Command::Close);
            notified.await;
        }
    }

    pub(crate) fn wake_writer(&self) {
        self.writer_wake.notify_one();
    }

    /// Releases the lock and does what the engine asked for.
    fn send(&self, mut out: MutexGuard<'_, Out>, send: Send) {
        let send = match send {
            Send::Direct => {
                let Out { engine, direct, .. } = &mut *out;
                match direct {
                    Some(sock) => engine.write_direct(|bytes| sock.0.try_write(bytes).ok()),
                    None => engine.write_direct(|_| None),
                }
            }
            other => other,
        };
        drop(out);
        if send != Send::Nothing {
            self.wake_writer();
        }
    }

    /// The client error for an operation the engine did not queue.
    fn refused(&self, blocked: Blocked) -> Error {
        match blocked {
            Blocked::Closed => Error::closed(),
            Blocked::Invalid(e) => Error::from(e),
            Blocked::ReconnectBufferFull => {
                Counters::add(&self.counters.reconnect_buffer_rejections, 1);
                Error::new(
                    ErrorKind::ReconnectBufferFull,
                    format!(
                        "disconnected and the reconnect buffer ({} bytes) is full",
                        self.opts.reconnect_buffer_size
                    ),
                )
            }
            Blocked::Full => Error::new(ErrorKind::Io, "the write buffer is full"),
        }
    }

    // ---- publishing ----

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

    /// Checks what the engine cannot: the control line and payload limits.
    fn check_message(&self, msg: &Outgoing<'_>) -> Result<()> {
        self.check_control_line(msg.subject.len() + msg.reply.map_or(0, str::len))?;
        let header_len = msg
            .headers
            .filter(|h| !h.is_empty() || h.status().is_some())
            .map_or(0, HeaderMap::encoded_len);
        proto::check_payload_size(
            header_len,
            msg.payload.len(),
            self.max_payload.load(Ordering::Relaxed),
        )?;
        Ok(())
    }

    /// Publishes a message (PUB or HPUB). Waits only when the queue is full, or while a
    /// backlogged subscription of this client receives `subject` (see [`crate::pacing`]).
    pub(crate) async fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: Bytes,
    ) -> Result<()> {
        let msg = Outgoing {
            subject,
            reply,
            headers,
            payload: &payload,
        };
        self.check_message(&msg)?;
        // Before any await: the common case (nobody paced, room in the queue) then builds
        // none of the waiting futures, whose state a profile showed being copied around.
        if !self.pacing.may_wait() && self.try_queue(None, |e| e.publish(&msg))? {
            return Ok(());
        }
        self.pacing.wait(subject).await;
        self.queue_when_room(|e| e.publish(&msg)).await
    }

    /// Publishes a request whose reply comes back through the mux subscription (see
    /// [`Engine::request`] for `alone`).
    pub(crate) async fn publish_request(
        &self,
        subject: &str,
        reply: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        alone: bool,
    ) -> Result<()> {
        let msg = Outgoing {
            subject,
            reply: Some(reply),
            headers,
            payload: &payload,
        };
        self.check_message(&msg)?;
        self.queue_when_room(|e| e.request(&msg, alone)).await
    }

    /// Queues with `op`, waiting for room as long as the queue is full.
    async fn queue_when_room<F>(&self, mut op: F) -> Result<()>
    where
        F: FnMut(&mut Engine<FlushWaiter>) -> std::result::Result<Send, Blocked>,
    {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            if self.try_queue(Some(notified.as_mut()), &mut op)? {
                return Ok(());
            }
            let _waiting = SpaceWaiter(self);
            notified.await;
        }
    }

    /// One attempt: `true` when queued, `false` when the queue is full. On `false` a caller
    /// that passed `notified` is registered (`notified` enabled, counted as a space waiter)
    /// before the lock is released; one that did not (an attempt before any await) is not.
    fn try_queue<F>(
        &self,
        notified: Option<std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>>,
        op: F,
    ) -> Result<bool>
    where
        F: FnOnce(&mut Engine<FlushWaiter>) -> std::result::Result<Send, Blocked>,
    {
        let mut out = lock(&self.out);
        match op(&mut out.engine) {
            Ok(send) => {
                self.send(out, send);
                Ok(true)
            }
            Err(Blocked::Full) => {
                if let Some(notified) = notified {
                    out.engine.wait_for_space();
                    notified.enable();
                }
                Ok(false)
            }
            Err(blocked) => {
                drop(out);
                Err(self.refused(blocked))
            }
        }
    }

    // ---- subscriptions ----

    /// A new subscription id.
    pub(crate) fn next_sid(&self) -> u64 {
        self.next_sid.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers `sub` and sends its `SUB` (while connected; else the next connection's
    /// re-subscription plan does). Subject and queue group are validated here, once.
    pub(crate) fn subscribe(&self, sub: &Arc<SubShared>) -> Result<()> {
        self.check_control_line(
            sub.subject.len() + sub.queue_group.as_ref().map_or(0, String::len),
        )?;
        let mut out = lock(&self.out);
        let send = out
            .engine
            .subscribe(sub.sid, &sub.subject, sub.queue_group.as_deref())
            .map_err(|b| self.refused(b))?;
        lock(&self.subs).insert(sub.sid, sub.clone());
        self.send(out, send);
        Ok(())
    }

    /// Sends `UNSUB sid [max]` (nothing while disconnected: reconnect restores the table).
    pub(crate) fn unsubscribe(&self, sid: u64, max: Option<u64>) -> Result<()> {
        let mut out = lock(&self.out);
        match out.engine.unsubscribe(sid, max) {
            Ok(send) => {
                self.send(out, send);
                Ok(())
            }
            Err(blocked) => {
                drop(out);
                Err(self.refused(blocked))
            }
        }
    }

    /// Removes a subscription from the table (messages for it are dropped from now on).
    pub(crate) fn remove_subscription(&self, sid: u64) {
        lock(&self.subs).remove(&sid);
    }

    /// The client's drain: sends `UNSUB` for every subscription (while connected) and returns
    /// them.
    pub(crate) fn unsubscribe_all(&self) -> Vec<Arc<SubShared>> {
        let mut out = lock(&self.out);
        let subs: Vec<_> = lock(&self.subs).values().cloned().collect();
        let mut send = Send::Nothing;
        for sub in &subs {
            match out.engine.unsubscribe(sub.sid, None) {
                Ok(Send::Nothing) | Err(_) => {}
                Ok(s) => send = s,
            }
        }
        self.send(out, send);
        subs
    }

    /// The subscription table, for the reader (locked once per run of messages).
    pub(crate) fn subscriptions(&self) -> MutexGuard<'_, HashMap<u64, Arc<SubShared>>> {
        lock(&self.subs)
    }

    /// Closes the local subscription the server refused (a `-ERR` permissions violation): the one
    /// with the sid the server named, if it has that subject, or else the oldest with that
    /// subject and queue group. Returns its sid.
    pub(crate) fn close_denied_subscription(
        &self,
        subject: &str,
        queue: Option<&str>,
        named_sid: Option<u64>,
        text: &str,
    ) -> Option<u64> {
        let sub = {
            let mut subs = lock(&self.subs);
            let matches = |s: &SubShared| s.subject == subject && s.queue_group.as_deref() == queue;
            let sid = named_sid
                .filter(|sid| subs.get(sid).is_some_and(|s| matches(s)))
                .or_else(|| subs.values().filter(|s| matches(s)).map(|s| s.sid).min())?;
            subs.remove(&sid)?
        };
        sub.close(CloseReason::PermissionDenied(text.to_string()));
        Some(sub.sid)
    }

    // ---- requests ----

    pub(crate) fn register_request(&self, subject: &str) -> Registered {
        lock(&self.requests).register(subject)
    }

    /// Registers a request-many (see [`Requests::register_many`]).
    pub(crate) fn register_request_many(
        &self,
        subject: &str,
        capacity: usize,
    ) -> (u64, String, crate::requests::ManyReceiver, bool) {
        lock(&self.requests).register_many(subject, capacity)
    }

    pub(crate) fn forget_request(&self, token: u64) {
        lock(&self.requests).forget(token);
    }

    /// Number of requests waiting for a reply (tests check it returns to zero).
    pub(crate) fn pending_requests(&self) -> usize {
        lock(&self.requests).len()
    }

    /// Delivers a message that arrived on the mux subscription to its request.
    pub(crate) fn deliver_reply(&self, msg: proto::Msg) {
        crate::requests::deliver(&self.requests, msg);
    }

    /// Fails the requests sent to `subject` because the server refused the publish.
    pub(crate) fn fail_requests_to(&self, subject: &str, message: &str) {
        crate::requests::fail_sent_to(&self.requests, subject, message);
    }

    // ---- flush, keep-alive ----

    /// A flush: queues a PING and waits for its PONG.
    pub(crate) async fn flush(&self) -> Result<()> {
        match self.queue_flush()?.await {
            Ok(result) => result,
            Err(_) => Err(Error::closed()),
        }
    }

    /// Queues a PING; the receiver gets the outcome when its PONG arrives (or the
    /// connection drops first).
    pub(crate) fn queue_flush(&self) -> Result<oneshot::Receiver<Result<()>>> {
        let (tx, rx) = oneshot::channel();
        self.try_queue(None, |e| e.flush(tx))?;
        Ok(rx)
    }

    /// The keep-alive timer fired: `true` when the connection is stale.
    pub(crate) fn on_ping_timer(&self) -> bool {
        let mut out = lock(&self.out);
        match out.engine.on_ping_timer(self.opts.max_pings_outstanding) {
            Keepalive::Stale => true,
            Keepalive::Ping(send) => {
                self.send(out, send);
                false
            }
        }
    }

    // ---- the reader ----

    /// The server sent PING.
    pub(crate) fn answer_ping(&self) {
        let mut out = lock(&self.out);
        let send = out.engine.answer_ping();
        self.send(out, send);
    }

    /// The server sent PONG on the connection of `epoch`.
    pub(crate) fn on_pong(&self, epoch: u64) {
        let waiter = lock(&self.out).engine.on_pong(epoch);
        if let Some(tx) = waiter {
            let _ = tx.send(Ok(()));
        }
    }

    // ---- the writer ----

    /// Swaps the queue into `batch`; `false` when there was nothing (the writer is parked).
    pub(crate) fn take_batch(&self, batch: &mut Batch) -> bool {
        match lock(&self.out).engine.take_batch(batch) {
            Taken::Parked => false,
            Taken::Batch { space } => {
                if space {
                    self.space.notify_waiters();
                }
                true
            }
        }
    }

    /// Puts what the socket never saw back in front of the queue (see
    /// [`Engine::requeue_unsent`]).
    pub(crate) fn requeue_unsent(&self, batch: &mut Batch) -> u64 {
        lock(&self.out).engine.requeue_unsent(batch)
    }

    // ---- the driver ----

    pub(crate) fn statistics(&self) -> Statistics {
        let sent = lock(&self.out).engine.sent();
        let c = &self.counters;
        Statistics {
            in_messages: c.in_messages.load(Ordering::Relaxed),
            in_bytes: c.in_bytes.load(Ordering::Relaxed),
            out_messages: sent.messages,
            out_bytes: sent.bytes,
            reconnects: c.reconnects.load(Ordering::Relaxed),
            slow_consumer_drops: c.slow_consumer_drops.load(Ordering::Relaxed),
            reconnect_buffer_rejections: c.reconnect_buffer_rejections.load(Ordering::Relaxed),
            unconfirmed_bytes: c.unconfirmed_bytes.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn server_info(&self) -> Arc<Info> {
        lock(&self.info).clone()
    }

    pub(crate) fn max_payload(&self) -> usize {
        self.max_payload.load(Ordering::Relaxed)
    }

    pub(crate) fn set_info(&self, info: Info) {
        if info.max_payload > 0 {
            self.max_payload.store(info.max_payload, Ordering::Relaxed);
        }
        *lock(&self.info) = Arc::new(info);
    }

    /// A new connection finished its handshake: restores subscriptions in front of the
    /// reconnect buffer and opens the gate for the writer.
    pub(crate) fn on_connected(&self) {
        let mut out = lock(&self.out);
        let (epoch, space) = {
            let mut subs = lock(&self.subs);
            subs.retain(|_, sub| sub.resubscription().is_some());
            out.engine
                .on_connected(subs.values().filter_map(|s| s.resubscription()))
        };
        out.epoch = epoch;
        drop(out);
        if space {
            self.space.notify_waiters();
        }
    }

    /// The reader and writer of the current connection start: `direct` is its plain-TCP
    /// socket, if any. Returns the connection's epoch (the reader passes it with each PONG).
    pub(crate) fn attach(&self, direct: Option<SharedTcp>) -> u64 {
        let mut out = lock(&self.out);
        // The new writer starts busy (`on_connected`), so no direct write happens before it
        // has taken what the reconnect buffer holds.
        out.direct = direct;
        out.epoch
    }

    /// The connection is gone (see [`Engine::on_disconnected`]): waiting flushes fail,
    /// unconfirmed bytes are counted, publishes go to the reconnect buffer.
    pub(crate) fn on_disconnected(&self, handed: u64) {
        let gone = {
            let mut out = lock(&self.out);
            out.direct = None;
            out.engine.on_disconnected(handed)
        };
        Counters::add(&self.counters.unconfirmed_bytes, gone.unconfirmed);
        for tx in gone.failed {
            let _ = tx.send(Err(Error::disconnected()));
        }
        // Publishers waiting for the writer must now see the reconnect-buffer rule instead.
        self.space.notify_waiters();
    }

    /// Ends everything: the state, flushes, requests and subscriptions.
    pub(crate) fn on_closed(&self) {
        self.pacing.stop();
        let waiters = {
            let mut out = lock(&self.out);
            out.direct = None;
            out.engine.on_closed()
        };
        for tx in waiters {
            let _ = tx.send(Err(Error::closed()));
        }
        self.space.notify_waiters();
        lock(&self.requests).clear();
        let subs: Vec<_> = lock(&self.subs).drain().map(|(_, s)| s).collect();
        for sub in subs {
            sub.close(CloseReason::ClientClosed);
        }
    }

    /// The driver has finished closing (the `Closed` event is out): `close()` returns.
    pub(crate) fn on_close_announced(&self) {
        lock(&self.out).engine.on_close_announced();
        self.closed_done.notify_waiters();
    }
}

#[cfg(test)]
impl Shared {
    /// Where the queue's buffer lives (tests check that buffers are reused, not reallocated).
    pub(crate) fn queue_buffer_ptr(&self) -> *const u8 {
        lock(&self.out).engine.queue_buffer_ptr()
    }
}

/// A counted handle on the connection, held by each [`Client`](crate::Client) clone and
/// each [`Subscription`](crate::Subscription): when the last one is dropped, the driver
/// flushes what it can and closes. The tasks hold the [`Shared`] state itself, uncounted.
pub(crate) struct Handle(Arc<Shared>);

impl Handle {
    pub(crate) fn new(shared: Arc<Shared>) -> Handle {
        shared.handles.fetch_add(1, Ordering::Relaxed);
        Handle(shared)
    }
}

impl Clone for Handle {
    fn clone(&self) -> Handle {
        Handle::new(self.0.clone())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.0.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.send_command(Command::Close);
        }
    }
}

impl std::ops::Deref for Handle {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
