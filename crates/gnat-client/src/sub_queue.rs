//! The reader's side of one subscription: a bounded queue (in messages and in bytes) that the
//! reader offers batches to without ever blocking, and that the [`Subscription`] stream takes
//! batches from. Slow-consumer drops, auto-unsubscribe counts, backlog pacing and the
//! subscription's close reason are kept here.
//!
//! [`Subscription`]: crate::Subscription

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

use crate::engine::Resubscribe;
use crate::events::{Counters, Event};
use crate::lock;
use crate::message::Message;
use crate::options::SubscriptionLimits;
use crate::pacing::Pacing;

/// Why a subscription stopped receiving.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// [`Subscription::unsubscribe`](crate::Subscription::unsubscribe) was called or the subscription was dropped.
    Unsubscribed,
    /// It received the number of messages given to [`Subscription::unsubscribe_after`](crate::Subscription::unsubscribe_after).
    MaxReached,
    /// [`Subscription::drain`](crate::Subscription::drain) (or the client's drain) finished.
    Drained,
    /// The client was closed.
    ClientClosed,
    /// The server refused it (the text of its `-ERR`).
    PermissionDenied(String),
}

/// The reader's side of one subscription.
pub(crate) struct SubShared {
    pub(crate) sid: u64,
    pub(crate) subject: String,
    pub(crate) queue_group: Option<String>,
    limits: SubscriptionLimits,
    /// The client's publish pacing, which this subscription's backlog feeds.
    pacing: Arc<Pacing>,
    queue: Mutex<SubQueue>,
    /// Signalled when a closed subscription's queue has been consumed (client drain waits).
    consumed: Notify,
}

struct SubQueue {
    /// Queued messages with the read (see [`SubShared::offer`]) each arrived in.
    msgs: VecDeque<(u64, proto::Msg)>,
    bytes: usize,
    waker: Option<Waker>,
    closed: Option<CloseReason>,
    /// Inside a slow-consumer episode (an event was raised; the next one needs the backlog to
    /// fall below half the limits first).
    slow: bool,
    dropped: u64,
    /// Messages the server delivered to this subscription (queued or dropped).
    received: u64,
    /// Auto-unsubscribe after this many received messages in total.
    max: Option<u64>,
    /// The application's handle is gone.
    detached: bool,
    /// The stream holds a batch taken from `msgs` that it has not handed out completely yet
    /// (client drain waits for those too).
    in_hand: bool,
    /// Above the high-water mark, and counted in the client's [`Pacing`].
    backlogged: bool,
}

impl SubQueue {
    /// Whether the queue holds more than `1/part` of either limit: half of them is where a
    /// slow-consumer episode may end and where a backlog starts (see [`crate::pacing`]), a
    /// quarter where the backlog ends.
    fn over(&self, limits: &SubscriptionLimits, part: usize) -> bool {
        over(limits, self.msgs.len(), self.bytes, part)
    }
}

fn over(limits: &SubscriptionLimits, len: usize, bytes: usize, part: usize) -> bool {
    len > limits.messages / part || bytes > limits.bytes / part
}

/// What the reader should do after offering a message.
pub(crate) struct Delivery {
    /// The subscription reached its limit and must leave the table.
    pub(crate) remove: bool,
    /// A slow-consumer episode started.
    pub(crate) slow_event: bool,
}

impl SubShared {
    pub(crate) fn new(
        sid: u64,
        subject: String,
        queue_group: Option<String>,
        limits: SubscriptionLimits,
        pacing: Arc<Pacing>,
    ) -> Self {
        SubShared {
            sid,
            subject,
            queue_group,
            limits,
            pacing,
            queue: Mutex::new(SubQueue {
                msgs: VecDeque::new(),
                bytes: 0,
                waker: None,
                closed: None,
                slow: false,
                dropped: 0,
                received: 0,
                max: None,
                detached: false,
                in_hand: false,
                backlogged: false,
            }),
            consumed: Notify::new(),
        }
    }

    /// Offers messages from the reader (all for this subscription, in order), taking the
    /// queue's lock once for all of them and waking the stream once. Never blocks: past the
    /// limits it drops and counts. `msgs` is left empty.
    ///
    /// `read` numbers the socket read the messages came from. A message is a slice of that
    /// read's buffer and keeps the whole buffer (up to 64 KiB) alive while it is queued, so a
    /// subscription that lags — its oldest queued message is from two or more reads ago —
    /// gets its new messages copied out instead: its byte limit then bounds the memory it
    /// really holds, while subscriptions that keep up stay zero-copy.
    pub(crate) fn offer(
        &self,
        msgs: &mut Vec<proto::Msg>,
        read: u64,
        counters: &Counters,
    ) -> Delivery {
        let mut q = lock(&self.queue);
        let mut delivery = Delivery {
            remove: false,
            slow_event: false,
        };
        let mut queued = false;
        let mut dropped = 0u64;
        // Only pushed to while the batch is offered, the queue keeps its head: the batch
        // lags as a whole or not at all (into an empty queue it does not).
        let lagging = q
            .msgs
            .front()
            .is_some_and(|&(first, _)| first.saturating_add(1) < read);
        for msg in msgs.drain(..) {
            if q.closed.is_some() || q.detached {
                // A late message after unsubscribe/drain/max: the server had not processed
                // the UNSUB yet.
                continue;
            }
            q.received += 1;
            let size = Message::wire_size(&msg);
            if q.msgs.len() >= self.limits.messages || q.bytes + size > self.limits.bytes {
                q.dropped += 1;
                dropped += 1;
                if !q.slow {
                    q.slow = true;
                    delivery.slow_event = true;
                }
            } else {
                if q.slow && !q.over(&self.limits, 2) {
                    q.slow = false;
                }
                q.bytes += size;
                let msg = if lagging { compact(msg) } else { msg };
                q.msgs.push_back((read, msg));
                queued = true;
            }
            if q.max.is_some_and(|max| q.received >= max) {
                q.closed = Some(CloseReason::MaxReached);
                delivery.remove = true;
            }
        }
        if dropped > 0 {
            Counters::add(&counters.slow_consumer_drops, dropped);
        }
        if queued && !q.backlogged && q.over(&self.limits, 2) {
            q.backlogged = true;
            self.pacing.raise(self.sid, &self.subject);
        }
        if (queued || delivery.remove)
            && let Some(w) = q.waker.take()
        {
            w.wake();
        }
        delivery
    }

    /// Discards the queued messages (which also ends a backlog).
    fn clear_queue(&self, q: &mut SubQueue) {
        q.msgs.clear();
        q.bytes = 0;
        self.settle_backlog(q);
    }

    /// Ends the backlogged state (see [`crate::pacing`]) once the queue is down to its
    /// low-water mark (or cleared).
    fn settle_backlog(&self, q: &mut SubQueue) {
        if q.backlogged && !q.over(&self.limits, 4) {
            q.backlogged = false;
            self.pacing.lower(self.sid);
        }
    }

    /// Stops delivery; queued messages are still handed out unless the client closed.
    pub(crate) fn close(&self, reason: CloseReason) {
        let mut q = lock(&self.queue);
        if q.closed.is_none() {
            if reason == CloseReason::ClientClosed {
                self.clear_queue(&mut q);
            }
            q.closed = Some(reason);
        }
        if let Some(w) = q.waker.take() {
            w.wake();
        }
        if q.msgs.is_empty() {
            self.consumed.notify_waiters();
        }
    }

    /// This subscription's entry in the re-subscription plan of a new connection (with the
    /// remaining auto-unsubscribe count), or `None` when it is finished and should leave the
    /// table.
    pub(crate) fn resubscription(&self) -> Option<Resubscribe<'_>> {
        let q = lock(&self.queue);
        if q.closed.is_some() || q.detached {
            return None;
        }
        let remaining = match q.max {
            Some(max) if q.received >= max => return None,
            Some(max) => Some(max - q.received),
            None => None,
        };
        Some(Resubscribe {
            sid: self.sid,
            subject: &self.subject,
            queue: self.queue_group.as_deref(),
            remaining,
        })
    }

    // ---- the stream's side ----

    /// Messages dropped because the subscription was over its limits (or malformed).
    pub(crate) fn dropped(&self) -> u64 {
        lock(&self.queue).dropped
    }

    /// A message handed out could not be read (a malformed header block): counted as a drop.
    pub(crate) fn count_malformed(&self) {
        lock(&self.queue).dropped += 1;
    }

    /// Messages and bytes queued.
    pub(crate) fn queued(&self) -> (usize, usize) {
        let q = lock(&self.queue);
        (q.msgs.len(), q.bytes)
    }

    /// Why the subscription stopped, once it has.
    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        lock(&self.queue).closed.clone()
    }

    /// Discards what is queued and in hand (an unsubscribe).
    pub(crate) fn discard(&self) {
        let mut q = lock(&self.queue);
        self.clear_queue(&mut q);
        q.in_hand = false;
    }

    /// The application's handle is gone: discards what is queued. Returns whether the
    /// subscription was still open.
    pub(crate) fn detach(&self) -> bool {
        let was_open = {
            let mut q = lock(&self.queue);
            q.detached = true;
            self.clear_queue(&mut q);
            q.closed.is_none()
        };
        self.consumed.notify_waiters();
        was_open
    }

    /// Moves up to `max` queued messages into `local` (one lock per batch). `Ready(true)` when
    /// it took some, `Ready(false)` when the subscription has ended and nothing is left,
    /// `Pending` (the waker registered) when it waits for more.
    pub(crate) fn poll_take(
        &self,
        local: &mut VecDeque<proto::Msg>,
        max: usize,
        cx: &mut Context<'_>,
    ) -> Poll<bool> {
        let mut q = lock(&self.queue);
        if q.msgs.is_empty() {
            if q.closed.is_some() {
                drop(q);
                self.consumed.notify_waiters();
                return Poll::Ready(false);
            }
            if !q.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                q.waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        let n = q.msgs.len().min(max);
        let mut taken = 0usize;
        for (_, msg) in q.msgs.drain(..n) {
            taken += Message::wire_size(&msg);
            local.push_back(msg);
        }
        q.bytes = q.bytes.saturating_sub(taken);
        q.in_hand = true;
        if q.backlogged {
            self.pacing.drained();
            self.settle_backlog(&mut q);
        }
        Poll::Ready(true)
    }

    /// The stream handed out the whole batch it took (client drain waits for that).
    pub(crate) fn batch_handed_out(&self) {
        let mut q = lock(&self.queue);
        q.in_hand = false;
        if q.msgs.is_empty() && q.closed.is_some() {
            drop(q);
            self.consumed.notify_waiters();
        }
    }

    pub(crate) fn set_max(&self, max: u64) -> bool {
        let mut q = lock(&self.queue);
        q.max = Some(max);
        if q.received >= max {
            q.closed.get_or_insert(CloseReason::MaxReached);
            if let Some(w) = q.waker.take() {
                w.wake();
            }
            return true;
        }
        false
    }

    /// True once the subscription is closed and its queue is empty (or nobody reads it).
    fn is_consumed(&self) -> bool {
        let q = lock(&self.queue);
        q.closed.is_some() && ((q.msgs.is_empty() && !q.in_hand) || q.detached)
    }

    /// Waits until [`SubShared::is_consumed`].
    pub(crate) async fn wait_consumed(&self) {
        loop {
            let notified = self.consumed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_consumed() {
                return;
            }
            notified.await;
        }
    }

    /// The slow-consumer event for this subscription (raised by the reader outside its
    /// locks).
    pub(crate) fn slow_event(&self) -> Event {
        Event::SlowConsumer {
            sid: self.sid,
            subject: self.subject.clone(),
        }
    }
}

impl Drop for SubShared {
    fn drop(&mut self) {
        // However the subscription ended, it no longer holds publishers back.
        let backlogged = self.queue.get_mut().map_or(true, |q| q.backlogged);
        if backlogged {
            self.pacing.lower(self.sid);
        }
    }
}

/// A copy of `msg` in one allocation of its own, so it no longer pins the read buffer.
fn compact(msg: proto::Msg) -> proto::Msg {
    let reply_len = msg.reply.as_ref().map_or(0, bytes::Bytes::len);
    let header_len = msg.headers.as_ref().map_or(0, bytes::Bytes::len);
    let mut buf = bytes::BytesMut::with_capacity(
        msg.subject.len() + reply_len + header_len + msg.payload.len(),
    );
    buf.extend_from_slice(&msg.subject);
    if let Some(r) = &msg.reply {
        buf.extend_from_slice(r);
    }
    if let Some(h) = &msg.headers {
        buf.extend_from_slice(h);
    }
    buf.extend_from_slice(&msg.payload);
    let mut all = buf.freeze();
    let subject = all.split_to(msg.subject.len());
    let reply = msg.reply.map(|_| all.split_to(reply_len));
    let headers = msg.headers.map(|_| all.split_to(header_len));
    proto::Msg {
        subject,
        sid: msg.sid,
        reply,
        headers,
        payload: all,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages cut from one read buffer, as the reader makes them: subject, reply, headers
    /// and payload all point into `buf`.
    fn batch_from(buf: &bytes::Bytes, count: usize) -> Vec<proto::Msg> {
        (0..count)
            .map(|i| {
                let at = i * 64;
                proto::Msg {
                    subject: buf.slice(at..at + 8),
                    sid: 1,
                    reply: (i % 2 == 0).then(|| buf.slice(at + 8..at + 16)),
                    headers: (i % 3 == 0).then(|| buf.slice(at + 16..at + 32)),
                    payload: buf.slice(at + 32..at + 64),
                }
            })
            .collect()
    }

    fn inside(buf: &bytes::Bytes, part: &bytes::Bytes) -> bool {
        let range = buf.as_ptr_range();
        range.contains(&part.as_ptr())
    }

    #[test]
    fn a_lagging_subscription_copies_new_messages_out_of_the_read_buffer() {
        let limits = SubscriptionLimits {
            messages: 1000,
            bytes: 1 << 20,
        };
        let sub = SubShared::new(1, "s".into(), None, limits, Arc::new(Pacing::new(false)));
        let counters = Counters::default();
        let first_buf = bytes::Bytes::from((0..64 * 1024).map(|i| i as u8).collect::<Vec<_>>());
        let third_buf = bytes::Bytes::from((0..64 * 1024).map(|i| !(i as u8)).collect::<Vec<_>>());
        // Read 1, queue empty: kept as slices of the read buffer.
        let mut batch = batch_from(&first_buf, 10);
        sub.offer(&mut batch, 1, &counters);
        // Read 3 while read 1's messages are still queued: copied out.
        let mut batch = batch_from(&third_buf, 10);
        let expected = batch.clone();
        sub.offer(&mut batch, 3, &counters);
        assert!(batch.is_empty());
        let q = sub.queue.lock().unwrap();
        assert_eq!(q.msgs.len(), 20);
        for (read, m) in q.msgs.iter().take(10) {
            assert_eq!(*read, 1);
            assert!(inside(&first_buf, &m.payload) && inside(&first_buf, &m.subject));
        }
        for ((read, m), want) in q.msgs.iter().skip(10).zip(&expected) {
            assert_eq!(*read, 3);
            assert_eq!(m, want, "contents survive the copy");
            for part in [Some(&m.subject), m.reply.as_ref(), m.headers.as_ref()]
                .into_iter()
                .flatten()
                .chain([&m.payload])
            {
                assert!(!inside(&third_buf, part), "copied out of the read buffer");
            }
        }
    }

    #[test]
    fn water_marks() {
        let limits = SubscriptionLimits {
            messages: 100,
            bytes: 1000,
        };
        // High-water mark: half of either limit.
        assert!(!over(&limits, 50, 0, 2));
        assert!(over(&limits, 51, 0, 2));
        assert!(over(&limits, 0, 501, 2));
        // Low-water mark: a quarter of both.
        assert!(!over(&limits, 25, 250, 4));
        assert!(over(&limits, 26, 0, 4));
        assert!(over(&limits, 0, 251, 4));
    }
}
