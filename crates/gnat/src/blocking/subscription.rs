//! The blocking [`Subscription`]: an iterator over messages.

use std::sync::Arc;
use std::time::Duration;

use super::{Runtime, closed};
use crate::{CloseReason, Message, Result};

/// A blocking subscription: an [`Iterator`] of [`Message`]s that ends when the subscription
/// does (unsubscribed, drained, closed by the server or with the client), plus
/// [`next_timeout`](Subscription::next_timeout) for a bounded wait.
pub struct Subscription {
    /// `None` only while a call has lent it to the runtime, or after the runtime stopped.
    sub: Option<client::Subscription>,
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Subscription")
            .field("subject", &self.sub.as_ref().map(|s| s.subject()))
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(super) fn new(sub: client::Subscription, rt: Arc<Runtime>) -> Self {
        Subscription { sub: Some(sub), rt }
    }

    /// The next message, waiting as long as it takes; `None` once the subscription ended.
    #[allow(clippy::should_implement_trait)] // it is also the `Iterator` impl's `next`
    pub fn next(&mut self) -> Option<Message> {
        let mut sub = self.sub.take()?;
        let (sub, msg) = self.rt.run(
            async move {
                let msg = sub.next().await;
                (Some(sub), msg)
            },
            || (None, None),
        );
        self.sub = sub;
        msg
    }

    /// The next message, waiting at most `timeout`; `None` if none came in time or the
    /// subscription ended (tell them apart with [`is_closed`](Subscription::is_closed)).
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Message> {
        let mut sub = self.sub.take()?;
        let (sub, msg) = self.rt.run(
            async move {
                let msg = tokio::time::timeout(timeout, sub.next())
                    .await
                    .ok()
                    .flatten();
                (Some(sub), msg)
            },
            || (None, None),
        );
        self.sub = sub;
        msg
    }

    /// Whether the subscription has ended: nothing more will arrive once the messages
    /// already queued are read.
    pub fn is_closed(&self) -> bool {
        self.sub.as_ref().is_none_or(|s| s.close_reason().is_some())
    }

    /// Why the subscription ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.sub.as_ref()?.close_reason()
    }

    /// The subject subscribed to.
    pub fn subject(&self) -> &str {
        self.sub.as_ref().map_or("", |s| s.subject())
    }

    /// Messages dropped because this subscription was over its limits.
    pub fn dropped(&self) -> u64 {
        self.sub.as_ref().map_or(0, |s| s.dropped())
    }

    /// Unsubscribes; messages already queued can still be read.
    pub fn unsubscribe(&mut self) -> Result<()> {
        self.lend(|mut sub| async move {
            let r = sub.unsubscribe().await;
            (sub, r)
        })
    }

    /// Unsubscribes automatically after `n` more messages.
    pub fn unsubscribe_after(&mut self, n: u64) -> Result<()> {
        self.lend(move |mut sub| async move {
            let r = sub.unsubscribe_after(n).await;
            (sub, r)
        })
    }

    /// Unsubscribes and waits until the server has confirmed it; the messages it sent before
    /// are still queued here to be read.
    pub fn drain(&mut self) -> Result<()> {
        self.lend(|mut sub| async move {
            let r = sub.drain().await;
            (sub, r)
        })
    }

    /// Lends the async subscription to the runtime for one call that hands it back.
    fn lend<F, Fut>(&mut self, f: F) -> Result<()>
    where
        F: FnOnce(client::Subscription) -> Fut,
        Fut: std::future::Future<Output = (client::Subscription, Result<()>)> + Send + 'static,
    {
        let Some(sub) = self.sub.take() else {
            return Err(closed());
        };
        let fut = f(sub);
        let (sub, r) = self.rt.run(
            async move {
                let (sub, r) = fut.await;
                (Some(sub), r)
            },
            || (None, Err(closed())),
        );
        self.sub = sub;
        r
    }
}

impl Iterator for Subscription {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        Subscription::next(self)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(sub) = self.sub.take() {
            self.rt.enter(|| drop(sub));
        }
    }
}
