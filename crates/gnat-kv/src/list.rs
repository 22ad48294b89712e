//! Reads that end: history, key listings (collected or streamed) and purge-deletes. Each reads
//! through an ordered consumer up to the end of the data that existed when it started (so a
//! key never written ends at once, with nothing), then deletes its consumer.

use std::collections::HashSet;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_core::Stream;
use jetstream::{DeliverPolicy, PurgeRequest};

use crate::entry::{Entry, Key};
use crate::error::Result;
use crate::reader::{ReadItem, ReadSpec, Reader};
use crate::store::Store;
use crate::watch::collect_filters;

/// The age below which [`Store::purge_deletes`] keeps a tombstone by default (the `nats kv
/// compact` default): 30 minutes.
pub const DEFAULT_PURGE_DELETES_OLDER_THAN: Duration = Duration::from_secs(30 * 60);

/// The keys of a bucket, as a [`Stream`] that ends once every key that existed when it
/// started has been listed. Keys whose latest entry is a delete or purge are skipped; each
/// key comes once.
pub struct Keys {
    reader: Option<Reader>,
    seen: HashSet<Key>,
}

impl Keys {
    /// The next key, `None` at the end.
    pub async fn next(&mut self) -> Option<Result<String>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for Keys {
    type Item = Result<String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let Some(reader) = this.reader.as_mut() else {
                return Poll::Ready(None);
            };
            match reader.poll_read(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(ReadItem::Entry(e)))) => {
                    if !e.operation.is_tombstone() && this.seen.insert(e.key.clone()) {
                        return Poll::Ready(Some(Ok(e.key.to_string())));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.reader = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(ReadItem::InitialDone))) | Poll::Ready(None) => {
                    // Dropping the reader deletes its consumer.
                    this.reader = None;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("done", &self.reader.is_none())
            .field("listed", &self.seen.len())
            .finish()
    }
}

impl Store {
    /// Every retained entry of the keys matching `filter` (a key or a pattern), oldest first,
    /// deletes and purges included. Empty when nothing matches (returns at once).
    pub async fn history(&self, filter: impl AsRef<str>) -> Result<Vec<Entry>> {
        let filter = filter.as_ref();
        let filters = collect_filters([filter])?;
        let mut reader = Reader::start(
            self,
            ReadSpec {
                filters,
                deliver_policy: DeliverPolicy::All,
                headers_only: false,
                ignore_deletes: false,
                marker_first: false,
            },
        )
        .await?;
        let capacity = usize::try_from(reader.initial_pending()).unwrap_or(0);
        let mut out = Vec::with_capacity(capacity.min(4096));
        while let Some(item) = reader.next().await {
            match item? {
                ReadItem::Entry(e) => out.push(e),
                ReadItem::InitialDone => break,
            }
        }
        Ok(out)
    }

    /// Every key whose latest entry is a value (not a delete or purge), in the order of their
    /// latest revisions. Empty for an empty bucket.
    pub async fn keys(&self) -> Result<Vec<String>> {
        self.keys_matching::<[&str; 0], &str>([]).await
    }

    /// As [`Store::keys`], only keys matching at least one of `filters` (none: all).
    pub async fn keys_matching<I, S>(&self, filters: I) -> Result<Vec<String>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut keys = self.keys_stream(filters).await?;
        let mut out = Vec::new();
        while let Some(key) = keys.next().await {
            out.push(key?);
        }
        Ok(out)
    }

    /// The keys matching `filters` (none: all) as a stream, without collecting them.
    pub async fn keys_stream<I, S>(&self, filters: I) -> Result<Keys>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let filters = collect_filters(filters)?;
        let reader = Reader::start(
            self,
            ReadSpec {
                filters,
                deliver_policy: DeliverPolicy::LastPerSubject,
                headers_only: true,
                ignore_deletes: false,
                marker_first: false,
            },
        )
        .await?;
        Ok(Keys {
            reader: Some(reader),
            seen: HashSet::new(),
        })
    }

    /// Removes tombstones (like `nats kv compact`): for every key whose latest entry is a
    /// delete or purge, removes its history; the tombstone itself goes too when it is older
    /// than `older_than` (`Duration::ZERO`: every tombstone), else it is kept as the key's
    /// only entry. Returns how many messages were removed.
    pub async fn purge_deletes(&self, older_than: Duration) -> Result<u64> {
        let mut reader = Reader::start(
            self,
            ReadSpec {
                filters: Vec::new(),
                deliver_policy: DeliverPolicy::LastPerSubject,
                headers_only: true,
                ignore_deletes: false,
                marker_first: false,
            },
        )
        .await?;
        let mut tombstones = Vec::new();
        while let Some(item) = reader.next().await {
            match item? {
                ReadItem::Entry(e) if e.operation.is_tombstone() => tombstones.push(e),
                ReadItem::Entry(_) => {}
                ReadItem::InitialDone => break,
            }
        }
        drop(reader);
        let mut removed = 0u64;
        for entry in tombstones {
            let mut request = PurgeRequest::new().filter(self.read_subject(&entry.key));
            if entry.created.elapsed() < older_than {
                request = request.keep(1);
            }
            removed = removed.saturating_add(
                self.context()
                    .purge_stream(self.stream_name(), request)
                    .await?,
            );
        }
        Ok(removed)
    }
}
