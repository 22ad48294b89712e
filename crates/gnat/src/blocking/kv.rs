//! The blocking Key-Value [`Store`] and its [`Watcher`] iterator.

use std::sync::Arc;
use std::time::Duration;

use kv::{Config, Entry, Status, WatchEvent, WatchOptions};

use super::{JetStream, Runtime};
use crate::Bytes;

fn stopped() -> kv::Error {
    jetstream::Error::from(super::closed()).into()
}

impl JetStream {
    /// Binds to the existing bucket `bucket` (see [`kv::bind`]).
    pub fn key_value(&self, bucket: impl AsRef<str>) -> kv::Result<Store> {
        let ctx = self.as_async().clone();
        let bucket = bucket.as_ref().to_owned();
        let store = self
            .rt
            .run(async move { kv::bind(&ctx, &bucket).await }, || {
                Err(stopped())
            })?;
        Ok(Store::new(store, self.rt.clone()))
    }

    /// Creates a bucket (see [`kv::create_bucket`]).
    pub fn create_key_value(&self, config: Config) -> kv::Result<Store> {
        let ctx = self.as_async().clone();
        let store = self
            .rt
            .run(async move { kv::create_bucket(&ctx, config).await }, || {
                Err(stopped())
            })?;
        Ok(Store::new(store, self.rt.clone()))
    }

    /// Deletes a bucket and everything in it (see [`kv::delete_bucket`]).
    pub fn delete_key_value(&self, bucket: impl AsRef<str>) -> kv::Result<()> {
        let ctx = self.as_async().clone();
        let bucket = bucket.as_ref().to_owned();
        self.rt.run(
            async move { kv::delete_bucket(&ctx, &bucket).await },
            || Err(stopped()),
        )
    }
}

/// A blocking handle on one Key-Value bucket (see [`kv::Store`]). Cheap to clone.
#[derive(Clone)]
pub struct Store {
    store: kv::Store,
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Store")
            .field("bucket", &self.store.bucket())
            .finish_non_exhaustive()
    }
}

impl Store {
    fn new(store: kv::Store, rt: Arc<Runtime>) -> Self {
        Store { store, rt }
    }

    /// The async store underneath.
    pub fn as_async(&self) -> &kv::Store {
        &self.store
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        self.store.bucket()
    }

    fn run<T, F, Fut>(&self, f: F) -> kv::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(kv::Store) -> Fut,
        Fut: Future<Output = kv::Result<T>> + Send + 'static,
    {
        self.rt.run(f(self.store.clone()), || Err(stopped()))
    }

    /// The latest value of `key`; `None` if it has none (never written, deleted or purged).
    pub fn get(&self, key: impl AsRef<str>) -> kv::Result<Option<Bytes>> {
        let key = key.as_ref().to_owned();
        self.run(|s| async move { s.get(&key).await })
    }

    /// The latest entry of `key`, with its revision and time; `None` as for
    /// [`get`](Store::get).
    pub fn entry(&self, key: impl AsRef<str>) -> kv::Result<Option<Entry>> {
        let key = key.as_ref().to_owned();
        self.run(|s| async move { s.entry(&key).await })
    }

    /// Writes `value` under `key`; returns its revision.
    pub fn put(&self, key: impl AsRef<str>, value: impl Into<Bytes>) -> kv::Result<u64> {
        let key = key.as_ref().to_owned();
        let value = value.into();
        self.run(|s| async move { s.put(&key, value).await })
    }

    /// Writes `value` only if `key` has no value (never written, deleted or purged).
    pub fn create(&self, key: impl AsRef<str>, value: impl Into<Bytes>) -> kv::Result<u64> {
        let key = key.as_ref().to_owned();
        let value = value.into();
        self.run(|s| async move { s.create(&key, value).await })
    }

    /// Writes `value` only if `key`'s latest revision is `revision` (compare and set).
    pub fn update(
        &self,
        key: impl AsRef<str>,
        value: impl Into<Bytes>,
        revision: u64,
    ) -> kv::Result<u64> {
        let key = key.as_ref().to_owned();
        let value = value.into();
        self.run(|s| async move { s.update(&key, value, revision).await })
    }

    /// Deletes `key` (a delete marker; its history stays).
    pub fn delete(&self, key: impl AsRef<str>) -> kv::Result<u64> {
        let key = key.as_ref().to_owned();
        self.run(|s| async move { s.delete(&key).await })
    }

    /// Purges `key`: removes its history, leaving one purge marker.
    pub fn purge(&self, key: impl AsRef<str>) -> kv::Result<u64> {
        let key = key.as_ref().to_owned();
        self.run(|s| async move { s.purge(&key).await })
    }

    /// Every key with a value.
    pub fn keys(&self) -> kv::Result<Vec<String>> {
        self.run(|s| async move { s.keys().await })
    }

    /// Every stored revision of the keys matching `filter`, oldest first.
    pub fn history(&self, filter: impl AsRef<str>) -> kv::Result<Vec<Entry>> {
        let filter = filter.as_ref().to_owned();
        self.run(|s| async move { s.history(&filter).await })
    }

    /// The bucket's status, read from the server.
    pub fn status(&self) -> kv::Result<Status> {
        self.run(|s| async move { s.status().await })
    }

    /// Watches the keys matching `filter`: their latest values, then
    /// [`WatchEvent::InitialDone`], then every change (see [`kv::Store::watch`]).
    pub fn watch(&self, filter: impl AsRef<str>) -> kv::Result<Watcher> {
        let filter = filter.as_ref().to_owned();
        let watcher = self.run(|s| async move { s.watch(&filter).await })?;
        Ok(Watcher::new(watcher, self.rt.clone()))
    }

    /// Watches every key.
    pub fn watch_all(&self) -> kv::Result<Watcher> {
        let watcher = self.run(|s| async move { s.watch_all().await })?;
        Ok(Watcher::new(watcher, self.rt.clone()))
    }

    /// Watches the keys matching any of `filters`, with `options` (history, updates only,
    /// no deletes …).
    pub fn watch_with<I, S>(&self, filters: I, options: WatchOptions) -> kv::Result<Watcher>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let filters: Vec<String> = filters.into_iter().map(|f| f.as_ref().to_owned()).collect();
        let watcher = self.run(|s| async move { s.watch_with(filters, options).await })?;
        Ok(Watcher::new(watcher, self.rt.clone()))
    }
}

/// A blocking watcher: an [`Iterator`] of [`WatchEvent`]s (see [`kv::Watcher`]). It ends
/// only if the connection closed or the watch could not be resumed (after an error).
pub struct Watcher {
    watcher: Option<kv::Watcher>,
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Watcher").finish_non_exhaustive()
    }
}

impl Watcher {
    fn new(watcher: kv::Watcher, rt: Arc<Runtime>) -> Self {
        Watcher {
            watcher: Some(watcher),
            rt,
        }
    }

    /// The next event, waiting as long as it takes.
    #[allow(clippy::should_implement_trait)] // it is also the `Iterator` impl's `next`
    pub fn next(&mut self) -> Option<kv::Result<WatchEvent>> {
        let mut watcher = self.watcher.take()?;
        let (watcher, event) = self.rt.run(
            async move {
                let event = watcher.next().await;
                (Some(watcher), event)
            },
            || (None, None),
        );
        self.watcher = watcher;
        event
    }

    /// The next event, waiting at most `timeout`; `None` if none came in time (or the watch
    /// ended).
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<kv::Result<WatchEvent>> {
        let mut watcher = self.watcher.take()?;
        let (watcher, event) = self.rt.run(
            async move {
                let event = tokio::time::timeout(timeout, watcher.next())
                    .await
                    .ok()
                    .flatten();
                (Some(watcher), event)
            },
            || (None, None),
        );
        self.watcher = watcher;
        event
    }

    /// Whether the end-of-initial-data event has been yielded.
    pub fn initial_done(&self) -> bool {
        self.watcher.as_ref().is_some_and(|w| w.initial_done())
    }
}

impl Iterator for Watcher {
    type Item = kv::Result<WatchEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        Watcher::next(self)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // Its reader deletes the server-side consumer from a task: on this runtime.
        if let Some(watcher) = self.watcher.take() {
            self.rt.enter(|| drop(watcher));
        }
    }
}
