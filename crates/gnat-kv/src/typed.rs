//! Typed values ([`Typed`]): a view of a [`Store`] whose values are serde types, stored as
//! JSON (serde_json, already a dependency of the layers below, so it costs nothing), with a
//! compare-and-set loop ([`Typed::update_with`]). The untyped [`Store`] stays the fast path:
//! a typed read is an untyped read plus one JSON decode.

use std::marker::PhantomData;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::entry::Entry;
use crate::error::{Error, ErrorKind, Result};
use crate::name::validate_write_key;
use crate::store::Store;

/// How many times [`Typed::update_with`] reads and tries again after a conflict.
pub const DEFAULT_UPDATE_ATTEMPTS: u32 = 16;

/// A store whose values are `T`, as JSON. Cheap to clone.
///
/// ```no_run
/// # async fn demo(kv: gnat_kv::Store) -> gnat_kv::Result<()> {
/// #[derive(serde::Serialize, serde::Deserialize, Default)]
/// struct Counter { hits: u64 }
/// let counters = kv.typed::<Counter>();
/// counters.put("home", &Counter { hits: 1 }).await?;
/// // Read, change and write back, retrying when another writer got in between.
/// let rev = counters
///     .update_with("home", |old| {
///         let mut c = old.unwrap_or_default();
///         c.hits += 1;
///         c
///     })
///     .await?;
/// assert_eq!(counters.get("home").await?.map(|c| c.hits), Some(2));
/// # let _ = rev;
/// # Ok(()) }
/// ```
pub struct Typed<T> {
    store: Store,
    attempts: u32,
    _value: PhantomData<fn() -> T>,
}

impl<T> Clone for Typed<T> {
    fn clone(&self) -> Self {
        Typed {
            store: self.store.clone(),
            attempts: self.attempts,
            _value: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Typed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typed")
            .field("store", &self.store)
            .field("type", &std::any::type_name::<T>())
            .finish()
    }
}

impl Store {
    /// This bucket with values of type `T`, stored as JSON.
    pub fn typed<T: Serialize + DeserializeOwned>(&self) -> Typed<T> {
        Typed {
            store: self.clone(),
            attempts: DEFAULT_UPDATE_ATTEMPTS,
            _value: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> Typed<T> {
    /// The same view, with `update_with` trying at most `attempts` times (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The untyped store underneath.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn encode(value: &T) -> Result<Bytes> {
        serde_json::to_vec(value).map(Bytes::from).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("the value does not serialize: {e}"),
            )
        })
    }

    fn decode(entry: &Entry) -> Result<T> {
        serde_json::from_slice(&entry.value).map_err(|e| {
            Error::new(
                ErrorKind::Decode,
                format!(
                    "key {} at revision {} is not a {}: {e}",
                    entry.key,
                    entry.revision,
                    std::any::type_name::<T>()
                ),
            )
        })
    }

    /// The latest value of `key`.
    pub async fn get(&self, key: impl AsRef<str>) -> Result<Option<T>> {
        Ok(self.entry(key).await?.map(|(v, _)| v))
    }

    /// The latest value of `key` with its revision.
    pub async fn entry(&self, key: impl AsRef<str>) -> Result<Option<(T, u64)>> {
        match self.store.entry(key).await? {
            Some(e) => Ok(Some((Self::decode(&e)?, e.revision))),
            None => Ok(None),
        }
    }

    /// Puts `value` under `key`; returns the revision.
    pub async fn put(&self, key: impl AsRef<str>, value: &T) -> Result<u64> {
        self.store.put(key, Self::encode(value)?).await
    }

    /// Puts `value` only if `key` has no current value.
    pub async fn create(&self, key: impl AsRef<str>, value: &T) -> Result<u64> {
        self.store.create(key, Self::encode(value)?).await
    }

    /// Puts `value` only if the key's latest revision is `revision`.
    pub async fn update(&self, key: impl AsRef<str>, value: &T, revision: u64) -> Result<u64> {
        self.store.update(key, Self::encode(value)?, revision).await
    }

    /// Reads `key` (`None` when it has no value), computes the new value with `f` and writes
    /// it expecting the revision it read; when another write got in between, reads and
    /// calls `f` again, at most [`max_attempts`](Typed::max_attempts) times (16 by default).
    /// Returns the revision written. Fails with [`Error::is_wrong_last_revision`] when every
    /// attempt met a conflict.
    pub async fn update_with<F>(&self, key: impl AsRef<str>, mut f: F) -> Result<u64>
    where
        F: FnMut(Option<T>) -> T,
    {
        let key = key.as_ref();
        validate_write_key(key)?;
        let mut last = None;
        for _ in 0..self.attempts {
            // From the leader: a replica's stale answer would only cost a retry, but the
            // leader's saves it.
            let latest = self.store.latest_consistent(key).await?;
            let (old, revision) = match &latest {
                Some(e) if !e.operation.is_tombstone() => (Some(Self::decode(e)?), e.revision),
                Some(e) => (None, e.revision),
                None => (None, 0),
            };
            let new = Self::encode(&f(old))?;
            match self.store.update(key, new, revision).await {
                Ok(rev) => return Ok(rev),
                Err(e) if e.is_wrong_last_revision() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(match last {
            Some(e) => Error::with_source(
                ErrorKind::WrongLastRevision,
                format!(
                    "key {key}: still conflicting after {} attempts",
                    self.attempts
                ),
                e.jetstream().cloned().unwrap_or_else(|| {
                    jetstream::Error::new(jetstream::ErrorKind::Api, e.to_string())
                }),
            ),
            None => Error::new(
                ErrorKind::WrongLastRevision,
                format!("key {key}: no attempt"),
            ),
        })
    }
}
