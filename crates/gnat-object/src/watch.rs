//! Watching and listing (ADR-20 `Watch`, `List`): an ordered consumer on the bucket's meta
//! subjects `$O.<bucket>.M.>`, each message decoded into an [`ObjectInfo`], with an explicit
//! end-of-initial-data event like the Key-Value watcher's.
//!
//! The marker comes once: at once when nothing was pending when the consumer was created (or
//! for updates only); else after the message delivered with nothing pending behind it, or the
//! one that completes the count pending at creation.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;
use jetstream::{DeliverPolicy, OrderedConfig, OrderedConsumer};

use crate::error::Result;
use crate::info::ObjectInfo;
use crate::manage::map_not_found;
use crate::store::ObjectStore;

/// What a watch delivers first.
///
/// The default: the latest info of every object (deleted ones included), then the
/// end-of-initial-data event, then every change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchOptions {
    /// Every retained meta message, oldest first (with rollups, usually the latest only).
    pub include_history: bool,
    /// Nothing that exists already: the end-of-initial-data event first, then changes.
    pub updates_only: bool,
    /// No deleted objects.
    pub ignore_deletes: bool,
}

impl WatchOptions {
    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Deliver all retained meta messages first.
    pub fn include_history(mut self) -> Self {
        self.include_history = true;
        self
    }

    /// Deliver only changes from now on.
    pub fn updates_only(mut self) -> Self {
        self.updates_only = true;
        self
    }

    /// Skip deleted objects.
    pub fn ignore_deletes(mut self) -> Self {
        self.ignore_deletes = true;
        self
    }
}

/// What a watcher yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// An object's info (put, meta update, link, or deletion with `deleted` set).
    Info(Box<ObjectInfo>),
    /// Everything that existed when the watch started has been delivered. Yielded exactly
    /// once.
    InitialDone,
}

impl WatchEvent {
    /// The info, if this is one.
    pub fn info(&self) -> Option<&ObjectInfo> {
        match self {
            WatchEvent::Info(i) => Some(&**i),
            WatchEvent::InitialDone => None,
        }
    }
}

/// A watch on a bucket's objects: a [`Stream`] of [`WatchEvent`]s that does not end on its
/// own. It reads through an ordered consumer, so it survives reconnects and restarts;
/// dropping it stops the watch.
pub struct Watcher {
    store: ObjectStore,
    consumer: OrderedConsumer,
    initial_pending: u64,
    delivered: u64,
    marker_due: bool,
    marker_done: bool,
    ignore_deletes: bool,
}

impl Watcher {
    /// The next event; `None` only if the watch ended (its consumer could not be resumed).
    pub async fn next(&mut self) -> Option<Result<WatchEvent>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// How many meta messages the watch had to deliver when it started.
    pub fn initial_pending(&self) -> u64 {
        self.initial_pending
    }
}

impl Stream for Watcher {
    type Item = Result<WatchEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.marker_due && !this.marker_done {
                this.marker_done = true;
                return Poll::Ready(Some(Ok(WatchEvent::InitialDone)));
            }
            let msg = match Pin::new(&mut this.consumer).poll_next(cx) {
                Poll::Ready(Some(Ok(m))) => m,
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Some(Err(map_not_found(e, this.store.bucket()))));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            let (pending, time) = match msg.info() {
                Ok(i) => (i.pending, i.published),
                Err(e) => return Poll::Ready(Some(Err(e.into()))),
            };
            this.delivered += 1;
            if !this.marker_done && (pending == 0 || this.delivered >= this.initial_pending) {
                this.marker_due = true;
            }
            let info = match this.store.decode_meta(&msg.payload, time) {
                Ok(i) => i,
                Err(e) => return Poll::Ready(Some(Err(e))),
            };
            if this.ignore_deletes && info.deleted {
                continue;
            }
            return Poll::Ready(Some(Ok(WatchEvent::Info(Box::new(info)))));
        }
    }
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("bucket", &self.store.bucket())
            .field("initial_pending", &self.initial_pending)
            .field("initial_done", &self.marker_done)
            .finish_non_exhaustive()
    }
}

impl ObjectStore {
    /// Watches every object with the default options.
    pub async fn watch(&self) -> Result<Watcher> {
        self.watch_with(WatchOptions::new()).await
    }

    /// Watches every object with `options`.
    pub async fn watch_with(&self, options: WatchOptions) -> Result<Watcher> {
        let policy = if options.updates_only {
            DeliverPolicy::New
        } else if options.include_history {
            DeliverPolicy::All
        } else {
            DeliverPolicy::LastPerSubject
        };
        let config = OrderedConfig::new()
            .filter_subjects([format!("$O.{}.M.>", self.bucket())])
            .deliver_policy(policy);
        let consumer = self
            .inner
            .ctx
            .ordered_consumer(self.stream_name(), config)
            .await
            .map_err(|e| map_not_found(e, self.bucket()))?;
        let initial_pending = consumer.initial_pending();
        Ok(Watcher {
            store: self.clone(),
            consumer,
            initial_pending,
            delivered: 0,
            marker_due: options.updates_only || initial_pending == 0,
            marker_done: false,
            ignore_deletes: options.ignore_deletes,
        })
    }

    /// The info of every object in the bucket (not deleted ones), in meta order.
    pub async fn list(&self) -> Result<Vec<ObjectInfo>> {
        self.list_with(false).await
    }

    /// The info of every object in the bucket, deleted ones too when `include_deleted`.
    pub async fn list_with(&self, include_deleted: bool) -> Result<Vec<ObjectInfo>> {
        let mut options = WatchOptions::new();
        options.ignore_deletes = !include_deleted;
        let mut watcher = self.watch_with(options).await?;
        let mut out = Vec::new();
        while let Some(event) = watcher.next().await {
            match event? {
                WatchEvent::Info(i) => out.push(*i),
                WatchEvent::InitialDone => break,
            }
        }
        Ok(out)
    }
}
