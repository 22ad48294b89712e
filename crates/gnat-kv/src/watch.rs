//! Watchers (ADR-8): the latest entry per key (or all history, or nothing) and then every
//! change, as they happen, with an explicit end-of-initial-data event.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;
use jetstream::DeliverPolicy;

use crate::entry::Entry;
use crate::error::{Error, ErrorKind, Result};
use crate::name::validate_filter;
use crate::reader::{ReadItem, ReadSpec, Reader};
use crate::store::Store;

/// What a watch delivers first, and how.
///
/// The default: the latest entry of every matching key (deletes and purges included), then
/// the end-of-initial-data event, then every change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchOptions {
    /// Every retained revision of the matching keys, oldest first, instead of the latest only.
    pub include_history: bool,
    /// Nothing that exists already: the end-of-initial-data event comes first, then changes.
    pub updates_only: bool,
    /// Entries without their values (keys, revisions, operations only).
    pub meta_only: bool,
    /// No delete or purge entries.
    pub ignore_deletes: bool,
    /// Everything from this revision on (stream sequence), instead of the latest per key.
    pub from_revision: Option<u64>,
}

impl WatchOptions {
    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Deliver all retained history first.
    pub fn include_history(mut self) -> Self {
        self.include_history = true;
        self
    }

    /// Deliver only changes made from now on.
    pub fn updates_only(mut self) -> Self {
        self.updates_only = true;
        self
    }

    /// Deliver entries without values.
    pub fn meta_only(mut self) -> Self {
        self.meta_only = true;
        self
    }

    /// Skip deletes and purges.
    pub fn ignore_deletes(mut self) -> Self {
        self.ignore_deletes = true;
        self
    }

    /// Start at revision `revision`.
    pub fn from_revision(mut self, revision: u64) -> Self {
        self.from_revision = Some(revision);
        self
    }

    fn deliver_policy(&self) -> Result<DeliverPolicy> {
        let conflicting = [
            self.include_history,
            self.updates_only,
            self.from_revision.is_some(),
        ]
        .iter()
        .filter(|on| **on)
        .count();
        if conflicting > 1 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "watch options include_history, updates_only and from_revision exclude each other",
            ));
        }
        Ok(match self.from_revision {
            Some(0) => DeliverPolicy::All,
            Some(start_sequence) => DeliverPolicy::ByStartSequence { start_sequence },
            None if self.include_history => DeliverPolicy::All,
            None if self.updates_only => DeliverPolicy::New,
            None => DeliverPolicy::LastPerSubject,
        })
    }
}

/// What a watcher yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// An entry.
    Entry(Entry),
    /// Everything that existed when the watch started has been delivered; what follows are
    /// changes. Yielded exactly once per watcher.
    InitialDone,
}

impl WatchEvent {
    /// The entry, if this is one.
    pub fn entry(&self) -> Option<&Entry> {
        match self {
            WatchEvent::Entry(e) => Some(e),
            WatchEvent::InitialDone => None,
        }
    }

    /// The entry, if this is one.
    pub fn into_entry(self) -> Option<Entry> {
        match self {
            WatchEvent::Entry(e) => Some(e),
            WatchEvent::InitialDone => None,
        }
    }
}

/// A watch on some keys of a bucket: a [`Stream`] of [`WatchEvent`]s that does not end on its
/// own.
///
/// It reads through an ordered consumer, so it survives reconnects and server restarts
/// without gaps or duplicates. Dropping it stops the watch and deletes its server-side
/// consumer.
pub struct Watcher {
    reader: Reader,
}

impl Watcher {
    /// The next event; `None` only if the connection closed or the watch could not be
    /// resumed (after an error).
    pub async fn next(&mut self) -> Option<Result<WatchEvent>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The next entry, skipping the end-of-initial-data event.
    pub async fn next_entry(&mut self) -> Option<Result<Entry>> {
        loop {
            match self.next().await? {
                Ok(WatchEvent::Entry(e)) => return Some(Ok(e)),
                Ok(WatchEvent::InitialDone) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// How many messages the watch had to deliver when it started.
    pub fn initial_pending(&self) -> u64 {
        self.reader.initial_pending()
    }

    /// Whether the end-of-initial-data event has been yielded.
    pub fn initial_done(&self) -> bool {
        self.reader.initial_done()
    }
}

impl Stream for Watcher {
    type Item = Result<WatchEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.reader.poll_read(cx).map(|item| {
            item.map(|r| {
                r.map(|item| match item {
                    ReadItem::Entry(e) => WatchEvent::Entry(e),
                    ReadItem::InitialDone => WatchEvent::InitialDone,
                })
            })
        })
    }
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("initial_pending", &self.reader.initial_pending())
            .field("initial_done", &self.reader.initial_done())
            .finish_non_exhaustive()
    }
}

/// Checks filters and collects them.
pub(crate) fn collect_filters<I, S>(filters: I) -> Result<Vec<String>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    filters
        .into_iter()
        .map(|f| {
            let f = f.as_ref();
            validate_filter(f)?;
            Ok(f.to_string())
        })
        .collect()
}

impl Store {
    /// Watches the keys matching `filter` (a key, or a pattern with `*` and a final `>`;
    /// `""` or `">"` for all) with the default options.
    pub async fn watch(&self, filter: impl AsRef<str>) -> Result<Watcher> {
        let filter = filter.as_ref();
        self.watch_with([filter], WatchOptions::new()).await
    }

    /// Watches every key with the default options.
    pub async fn watch_all(&self) -> Result<Watcher> {
        self.watch_with([">"], WatchOptions::new()).await
    }

    /// Watches the keys matching any of `filters` (none: every key) with `options`.
    /// Overlapping filters are refused by the server.
    pub async fn watch_with<I, S>(&self, filters: I, options: WatchOptions) -> Result<Watcher>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let filters = collect_filters(filters)?;
        let deliver_policy = options.deliver_policy()?;
        let reader = Reader::start(
            self,
            ReadSpec {
                filters,
                deliver_policy,
                headers_only: options.meta_only,
                ignore_deletes: options.ignore_deletes,
                marker_first: options.updates_only,
            },
        )
        .await?;
        Ok(Watcher { reader })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_pick_the_deliver_policy() {
        let p = |o: WatchOptions| o.deliver_policy().unwrap();
        assert_eq!(p(WatchOptions::new()), DeliverPolicy::LastPerSubject);
        assert_eq!(p(WatchOptions::new().include_history()), DeliverPolicy::All);
        assert_eq!(p(WatchOptions::new().updates_only()), DeliverPolicy::New);
        assert_eq!(
            p(WatchOptions::new().from_revision(7).meta_only()),
            DeliverPolicy::ByStartSequence { start_sequence: 7 }
        );
        assert!(
            WatchOptions::new()
                .updates_only()
                .include_history()
                .deliver_policy()
                .is_err()
        );
        assert!(
            WatchOptions::new()
                .updates_only()
                .from_revision(3)
                .deliver_policy()
                .is_err()
        );
        assert!(collect_filters(["a.*", "b.>"]).is_ok());
        assert!(collect_filters(["a*"]).unwrap_err().is_invalid_key());
    }
}
