//! [`Subscription`]: the application's handle on one subscription, read as a `Stream`.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::error::{ErrorKind, Result};
use crate::message::Message;
use crate::shared::Handle;
use crate::sub_queue::{CloseReason, SubShared};

/// Messages of one subscription, as a [`Stream`].
///
/// Dropping it unsubscribes. Each subscription has its own bounds (messages and bytes); when
/// the application falls behind, new messages are dropped, counted ([`Subscription::dropped`])
/// and reported once per episode as [`Event::SlowConsumer`](crate::Event::SlowConsumer), while other subscriptions and the
/// connection carry on.
pub struct Subscription {
    /// The connection (counted: the connection closes when the last client handle and
    /// subscription are gone).
    handle: Handle,
    shared: Arc<SubShared>,
    /// Messages taken from the shared queue in one batch.
    local: VecDeque<proto::Msg>,
    finished: bool,
}

/// How many messages the stream takes from the shared queue per lock.
const BATCH: usize = 64;

impl Subscription {
    pub(crate) fn new(handle: Handle, shared: Arc<SubShared>) -> Self {
        Subscription {
            handle,
            shared,
            local: VecDeque::with_capacity(BATCH),
            finished: false,
        }
    }

    /// The subscription id on the wire.
    pub fn sid(&self) -> u64 {
        self.shared.sid
    }

    /// The subject (possibly with wildcards) subscribed to.
    pub fn subject(&self) -> &str {
        &self.shared.subject
    }

    /// The queue group, if any.
    pub fn queue_group(&self) -> Option<&str> {
        self.shared.queue_group.as_deref()
    }

    /// Messages dropped because this subscription was over its limits.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped()
    }

    /// Messages (and bytes) waiting to be read.
    pub fn pending(&self) -> (usize, usize) {
        let (msgs, bytes) = self.shared.queued();
        (msgs + self.local.len(), bytes)
    }

    /// Why the subscription stopped, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.shared.close_reason()
    }

    /// The next message, or `None` once the subscription has ended.
    pub async fn next(&mut self) -> Option<Message> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Unsubscribes now; the stream ends (messages already queued are discarded).
    ///
    /// It never waits: the `UNSUB` is queued for the writer. It stays `async` because
    /// callers in the crates above await it, and changing that would break them; use
    /// [`Subscription::unsubscribe_now`] where a plain call reads better.
    pub async fn unsubscribe(&mut self) -> Result<()> {
        self.unsubscribe_now()
    }

    /// [`Subscription::unsubscribe`] as a plain call (it never waits).
    pub fn unsubscribe_now(&mut self) -> Result<()> {
        self.handle.remove_subscription(self.shared.sid);
        self.shared.discard();
        self.local.clear();
        self.shared.close(CloseReason::Unsubscribed);
        self.handle.unsubscribe(self.shared.sid, None)
    }

    /// Unsubscribes automatically once `n` messages in total have been received (counting
    /// those already received). Kept across reconnects with the remaining count.
    ///
    /// It never waits; `async` for the same reason as [`Subscription::unsubscribe`]; see
    /// [`Subscription::unsubscribe_after_now`].
    pub async fn unsubscribe_after(&mut self, n: u64) -> Result<()> {
        self.unsubscribe_after_now(n)
    }

    /// [`Subscription::unsubscribe_after`] as a plain call (it never waits).
    pub fn unsubscribe_after_now(&mut self, n: u64) -> Result<()> {
        if self.shared.set_max(n) {
            self.handle.remove_subscription(self.shared.sid);
        }
        self.handle.unsubscribe(self.shared.sid, Some(n))
    }

    /// Drains: unsubscribes, waits until the server has confirmed it (so nothing more can
    /// arrive), then lets the stream yield what is queued and end. Returns after the server's
    /// confirmation.
    pub async fn drain(&mut self) -> Result<()> {
        let sid = self.shared.sid;
        self.handle.unsubscribe(sid, None)?;
        let flushed = self.handle.flush().await;
        self.handle.remove_subscription(sid);
        self.shared.close(CloseReason::Drained);
        match flushed {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::Disconnected => {
                // The connection dropped; the subscription is not restored, so nothing more
                // arrives either way.
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

impl Stream for Subscription {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        let this = &mut *self;
        loop {
            if let Some(msg) = this.local.pop_front() {
                if this.local.is_empty() {
                    this.shared.batch_handed_out();
                }
                match Message::from_wire(msg) {
                    Ok(m) => return Poll::Ready(Some(m)),
                    Err(_) => {
                        // A malformed header block from the server: count it like a drop.
                        this.shared.count_malformed();
                        continue;
                    }
                }
            }
            if this.finished {
                return Poll::Ready(None);
            }
            match this.shared.poll_take(&mut this.local, BATCH, cx) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => {
                    this.finished = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let was_open = self.shared.detach();
        if was_open && !self.handle.is_closed() {
            self.handle.remove_subscription(self.shared.sid);
            let _ = self.handle.unsubscribe(self.shared.sid, None);
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("sid", &self.shared.sid)
            .field("subject", &self.shared.subject)
            .field("queue_group", &self.shared.queue_group)
            .finish_non_exhaustive()
    }
}
