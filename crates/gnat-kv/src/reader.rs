//! The engine behind watchers, history, keys and purge-deletes: an ordered consumer on the
//! bucket's stream, its messages decoded into entries, and the end-of-initial-data marker.
//!
//! The marker is produced exactly once:
//! * at once when nothing was pending when the consumer was created (or for updates-only);
//! * else right after the first entry delivered with pending 0, or the entry that completes
//!   the count pending at creation, whichever comes first;
//! * else, as a fallback when pending messages vanished before delivery (expired, purged),
//!   when nothing has arrived for a while and the server says nothing is pending.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_core::Stream;
use jetstream::{ConsumerInfo, DeliverPolicy, JsMessage, OrderedConfig, OrderedConsumer};
use tokio::time::{Instant, Sleep};

use crate::entry::{Entry, Operation, key_of};
use crate::error::{Error, ErrorKind, Result};
use crate::store::Store;

/// How long the initial phase may see nothing before the server is asked whether anything
/// is still pending.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// What a reader yields.
#[derive(Debug)]
pub(crate) enum ReadItem {
    Entry(Entry),
    InitialDone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    /// The initial data is still arriving.
    Pending,
    /// The marker is to be yielded next.
    Due,
    /// The marker has been yielded.
    Done,
}

type InfoFuture = Pin<Box<dyn Future<Output = jetstream::Result<ConsumerInfo>> + Send>>;

/// How a reader starts.
pub(crate) struct ReadSpec {
    /// Key filters (validated); empty means the whole bucket.
    pub(crate) filters: Vec<String>,
    pub(crate) deliver_policy: DeliverPolicy,
    pub(crate) headers_only: bool,
    pub(crate) ignore_deletes: bool,
    /// The marker comes first, whatever is pending.
    pub(crate) marker_first: bool,
}

/// An ordered consumer yielding entries and the end-of-initial-data marker.
pub(crate) struct Reader {
    store: Store,
    consumer: OrderedConsumer,
    marker: Marker,
    initial_pending: u64,
    delivered: u64,
    ignore_deletes: bool,
    last_activity: Instant,
    idle: Option<Pin<Box<Sleep>>>,
    check: Option<InfoFuture>,
    ended: bool,
}

/// Consumer filter subjects for key filters: `<read prefix><filter>`, the whole bucket for
/// none (or for any filter that is `>`), exact duplicates removed.
fn filter_subjects(store: &Store, filters: &[String]) -> Vec<String> {
    if filters.is_empty() || filters.iter().any(|f| f.is_empty() || f == ">") {
        return vec![store.read_subject(">")];
    }
    let mut out: Vec<String> = Vec::with_capacity(filters.len());
    for f in filters {
        let subject = store.read_subject(f);
        if !out.contains(&subject) {
            out.push(subject);
        }
    }
    out
}

impl Reader {
    pub(crate) async fn start(store: &Store, spec: ReadSpec) -> Result<Reader> {
        let config = OrderedConfig::new()
            .filter_subjects(filter_subjects(store, &spec.filters))
            .deliver_policy(spec.deliver_policy)
            .headers_only(spec.headers_only);
        let ctx = store.context();
        let consumer = ctx
            .ordered_consumer(store.stream_name(), config)
            .await
            .map_err(|e| crate::manage::map_not_found(e, store.bucket()))?;
        let initial_pending = consumer.initial_pending();
        let marker = if spec.marker_first || initial_pending == 0 {
            Marker::Due
        } else {
            Marker::Pending
        };
        Ok(Reader {
            store: store.clone(),
            consumer,
            marker,
            initial_pending,
            delivered: 0,
            ignore_deletes: spec.ignore_deletes,
            last_activity: Instant::now(),
            idle: None,
            check: None,
            ended: false,
        })
    }

    /// Messages pending for the consumer when it was created.
    pub(crate) fn initial_pending(&self) -> u64 {
        self.initial_pending
    }

    /// Whether the marker has been yielded.
    pub(crate) fn initial_done(&self) -> bool {
        self.marker == Marker::Done
    }

    fn decode(&self, msg: JsMessage) -> Result<(Entry, u64)> {
        let info = msg.info()?;
        let (revision, created, pending) = (info.stream_sequence, info.published, info.pending);
        let message = msg.into_message();
        let key = key_of(&message.subject, self.store.read_prefix()).ok_or_else(|| {
            Error::new(
                ErrorKind::Decode,
                format!(
                    "message subject {} is not under {}",
                    message.subject,
                    self.store.read_prefix()
                ),
            )
        })?;
        let operation = Operation::from_headers(message.headers.as_ref());
        let entry = Entry {
            bucket: self.store.inner.bucket.clone(),
            key,
            value: message.payload,
            revision,
            created,
            delta: pending,
            operation,
        };
        Ok((entry, pending))
    }

    fn take_marker(&mut self) -> Option<Poll<Option<Result<ReadItem>>>> {
        if self.marker == Marker::Due {
            self.marker = Marker::Done;
            self.idle = None;
            self.check = None;
            return Some(Poll::Ready(Some(Ok(ReadItem::InitialDone))));
        }
        None
    }

    pub(crate) fn poll_read(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<ReadItem>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        loop {
            if let Some(ready) = self.take_marker() {
                return ready;
            }
            match Pin::new(&mut self.consumer).poll_next(cx) {
                Poll::Ready(Some(Ok(msg))) => {
                    let (entry, pending) = match self.decode(msg) {
                        Ok(v) => v,
                        Err(e) => return Poll::Ready(Some(Err(e))),
                    };
                    self.delivered = self.delivered.saturating_add(1);
                    if self.marker == Marker::Pending {
                        self.last_activity = Instant::now();
                        if pending == 0 || self.delivered >= self.initial_pending {
                            self.marker = Marker::Due;
                        }
                    }
                    if self.ignore_deletes && entry.operation.is_tombstone() {
                        continue;
                    }
                    return Poll::Ready(Some(Ok(ReadItem::Entry(entry))));
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(None) => {
                    self.ended = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => break,
            }
        }
        if self.marker == Marker::Pending {
            self.poll_idle_check(cx);
            if let Some(ready) = self.take_marker() {
                return ready;
            }
        }
        Poll::Pending
    }

    /// While the initial data is pending and nothing arrives, asks the server now and then
    /// whether anything is still pending; sets the marker due when nothing is.
    fn poll_idle_check(&mut self, cx: &mut TaskContext<'_>) {
        loop {
            if let Some(check) = self.check.as_mut() {
                match check.as_mut().poll(cx) {
                    Poll::Pending => return,
                    Poll::Ready(result) => {
                        self.check = None;
                        self.last_activity = Instant::now();
                        if let Ok(info) = result
                            && info.num_pending == 0
                            && info.name == self.consumer.consumer_name()
                        {
                            self.marker = Marker::Due;
                            return;
                        }
                        // Otherwise wait another interval.
                    }
                }
            }
            let deadline = self.last_activity + IDLE_CHECK;
            let timer = self
                .idle
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return;
            }
            let ctx = self.store.context().clone();
            let stream = self.store.stream_name().to_string();
            let name = self.consumer.consumer_name();
            self.check = Some(Box::pin(
                async move { ctx.consumer_info(&stream, &name).await },
            ));
        }
    }

    /// The next item.
    pub(crate) async fn next(&mut self) -> Option<Result<ReadItem>> {
        std::future::poll_fn(|cx| self.poll_read(cx)).await
    }
}

impl Drop for Reader {
    /// Deletes the server-side consumer now rather than when its inactivity threshold
    /// expires (best effort, when a runtime is at hand).
    fn drop(&mut self) {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let ctx = self.store.context().clone();
            let stream = self.store.stream_name().to_string();
            let name = self.consumer.consumer_name();
            if !name.is_empty() {
                handle.spawn(async move {
                    let _ = ctx.delete_consumer(&stream, &name).await;
                });
            }
        }
    }
}
