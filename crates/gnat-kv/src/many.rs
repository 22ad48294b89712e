//! `get_many`: the latest entries of many keys in one round trip, with a direct get
//! multi-last request (ADR-31, spec §4.5), and a fallback to concurrent single gets where the
//! server or the bucket cannot answer one.
//!
//! One request asks for at most [`GET_MANY_CHUNK`] keys (the server refuses more than 1024
//! subjects with status 413) and about 256 KiB of subjects; longer lists are split and the
//! chunks sent concurrently. Each
//! chunk is read at one point in time on the server; different chunks may be read at
//! different points.
//!
//! The fallback is taken for buckets without `allow_direct` (read through the stream
//! leader), and when a multi-last request fails the way a server without multi-last support
//! fails: it ignores the unknown `multi_last` field, sees an empty request and answers `408`
//! (or nothing answers in time, or nobody answers). After a `408` or `413` status the store
//! remembers not to try again, so only the first call pays for the probe; after a timeout
//! or no responders only that call falls back.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use jetstream::UpTo;
use tokio::task::JoinSet;

use crate::entry::{Entry, Key};
use crate::error::{Error, ErrorKind, Result};
use crate::name::validate_key;
use crate::store::Store;

/// The most keys one multi-last request asks for (the server's limit).
pub const GET_MANY_CHUNK: usize = 1024;

/// The most subject bytes one multi-last request carries (its body must stay well under
/// the server's max payload, 1 MiB by default, whatever the keys' lengths).
const CHUNK_BYTES: usize = 256 * 1024;

/// Single gets in flight at once on the fallback path.
const FALLBACK_CONCURRENCY: usize = 64;

/// Whether a failed multi-last request looks like a server (or bucket) that cannot answer
/// one, rather than a failure worth reporting.
pub(crate) fn multi_last_unsupported(e: &jetstream::Error) -> bool {
    // 408: an old server read `{"multi_last":…}` as an empty request ("Empty Request"); it
    // is also the client-side timeout. 413 would mean a server with a lower subject limit.
    e.is_timeout() || e.is_no_responders() || matches!(e.code(), Some(408 | 413))
}

impl Store {
    /// The latest entry of each of `keys`, in the same order: `None` for a key that has no
    /// current value (never written, or deleted, purged or expired).
    ///
    /// Every key is checked before anything is sent. Up to 1024 keys take one round trip
    /// (a direct get multi-last request); more are split into chunks of 1024 sent
    /// concurrently. Keys may repeat. Buckets without direct get, and servers older than
    /// 2.11, are served by concurrent single gets instead (see the module docs).
    pub async fn get_many<I, S>(&self, keys: I) -> Result<Vec<Option<Entry>>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keys: Vec<S> = keys.into_iter().collect();
        for k in &keys {
            validate_key(k.as_ref())?;
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // Each distinct key is asked for once; the answer fills every position it appears in.
        let mut seen = HashSet::with_capacity(keys.len());
        let unique: Vec<&str> = keys
            .iter()
            .map(AsRef::as_ref)
            .filter(|k| seen.insert(*k))
            .collect();
        let found = if self.inner.direct_prefix.is_none()
            || !self.inner.multi_last.load(Ordering::Relaxed)
        {
            self.get_each(&unique).await?
        } else {
            match self.get_multi_last(&unique).await {
                Ok(found) => found,
                Err(e) if e.jetstream().is_some_and(multi_last_unsupported) => {
                    // A status is the server's definite answer; a timeout or no responders
                    // may be passing, so only this call falls back.
                    if e.code().is_some_and(|c| c == 408 || c == 413) {
                        self.inner.multi_last.store(false, Ordering::Relaxed);
                    }
                    self.get_each(&unique).await?
                }
                Err(e) => return Err(e),
            }
        };
        Ok(keys
            .iter()
            .map(|k| {
                found
                    .get(k.as_ref())
                    .filter(|e| !e.operation.is_tombstone())
                    .cloned()
            })
            .collect())
    }

    /// The latest entries (tombstones included) of the distinct `keys`, by key, through
    /// multi-last direct gets.
    async fn get_multi_last(&self, keys: &[&str]) -> Result<HashMap<String, Entry>> {
        let subjects: Vec<String> = keys.iter().map(|k| self.read_subject(k)).collect();
        let chunks = chunk(subjects);
        let mut messages = Vec::new();
        if let [only] = chunks.as_slice() {
            let refs: Vec<&str> = only.iter().map(String::as_str).collect();
            messages = self
                .inner
                .ctx
                .direct_get_multi_last(&self.inner.stream, &refs, UpTo::Latest)
                .await?;
        } else {
            let mut tasks = JoinSet::new();
            for chunk in chunks {
                let store = self.clone();
                tasks.spawn(async move {
                    let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    store
                        .inner
                        .ctx
                        .direct_get_multi_last(&store.inner.stream, &refs, UpTo::Latest)
                        .await
                });
            }
            while let Some(done) = tasks.join_next().await {
                messages.extend(done.map_err(join_error)??);
            }
        }
        let mut found = HashMap::with_capacity(messages.len());
        for m in messages {
            let Some(key) = m.subject.strip_prefix(self.read_prefix()) else {
                continue;
            };
            let key = key.to_string();
            let entry = self.entry_from_stored(Key::from(key.as_str()), m);
            found.insert(key, entry);
        }
        Ok(found)
    }

    /// The latest entries (tombstones included) of the distinct `keys`, by key, through
    /// single gets, [`FALLBACK_CONCURRENCY`] at a time.
    async fn get_each(&self, keys: &[&str]) -> Result<HashMap<String, Entry>> {
        let mut found = HashMap::with_capacity(keys.len());
        let mut pending = keys.iter().map(|k| k.to_string());
        let mut tasks = JoinSet::new();
        loop {
            while tasks.len() < FALLBACK_CONCURRENCY {
                let Some(key) = pending.next() else { break };
                let store = self.clone();
                tasks.spawn(async move {
                    let latest = store.latest(&key).await;
                    (key, latest)
                });
            }
            let Some(done) = tasks.join_next().await else {
                break;
            };
            let (key, latest) = done.map_err(join_error)?;
            if let Some(entry) = latest? {
                found.insert(key, entry);
            }
        }
        Ok(found)
    }
}

/// Splits subjects into requests of at most [`GET_MANY_CHUNK`] subjects and about
/// [`CHUNK_BYTES`] bytes.
pub(crate) fn chunk(subjects: Vec<String>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for s in subjects {
        if !current.is_empty() && (current.len() == GET_MANY_CHUNK || bytes + s.len() > CHUNK_BYTES)
        {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += s.len() + 3;
        current.push(s);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

pub(crate) fn join_error(e: tokio::task::JoinError) -> Error {
    Error::new(ErrorKind::JetStream, format!("a get_many task failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jetstream::ApiError;

    /// The fallback taken after a server answered like one without multi-last support:
    /// concurrent single direct gets, the same answers, one request per key.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forced_fallback_gives_the_same_answers() {
        let server = gnat_test_support::NatsServer::start_jetstream();
        let js = jetstream::connect(&server.url()).await.unwrap();
        let kv = crate::create_bucket(&js, crate::Config::new("F").history(2))
            .await
            .unwrap();
        let mut keys = Vec::new();
        for i in 0..150 {
            let k = format!("k{i}");
            kv.put(&k, format!("{i}")).await.unwrap();
            match i % 5 {
                0 => drop(kv.delete(&k).await.unwrap()),
                1 => drop(kv.purge(&k).await.unwrap()),
                _ => {}
            }
            keys.push(k);
            keys.push(format!("none{i}"));
        }
        let multi = kv.get_many(&keys).await.unwrap();
        assert!(kv.inner.multi_last.load(Ordering::Relaxed));
        kv.inner.multi_last.store(false, Ordering::Relaxed);
        let sent = js.client().statistics().out_messages;
        let single = kv.get_many(&keys).await.unwrap();
        assert_eq!(js.client().statistics().out_messages - sent, 300);
        assert_eq!(single, multi);
        assert_eq!(single.iter().filter(|e| e.is_some()).count(), 90);
        for (k, e) in keys.iter().zip(&single) {
            assert_eq!(e, &kv.entry(k).await.unwrap(), "{k}");
        }
    }

    #[test]
    fn chunks_by_count_and_bytes() {
        let subjects = |n: usize, len: usize| (0..n).map(|_| "k".repeat(len)).collect::<Vec<_>>();
        let sizes = |c: Vec<Vec<String>>| c.iter().map(Vec::len).collect::<Vec<_>>();
        assert_eq!(sizes(chunk(subjects(0, 5))), Vec::<usize>::new());
        assert_eq!(sizes(chunk(subjects(1024, 5))), [1024]);
        assert_eq!(sizes(chunk(subjects(2500, 5))), [1024, 1024, 452]);
        // Long keys: about 256 KiB of subjects per request.
        let c = sizes(chunk(subjects(1000, 1000)));
        assert_eq!(c.iter().sum::<usize>(), 1000);
        assert!(c.iter().all(|&n| n * 1003 <= CHUNK_BYTES + 1003), "{c:?}");
        assert_eq!(sizes(chunk(subjects(2, CHUNK_BYTES * 2))), [1, 1]);
    }

    #[test]
    fn which_failures_fall_back() {
        let status = |code: u16, text: &str| jetstream::Error::from_status(code, text);
        assert!(multi_last_unsupported(&status(408, "Empty Request")));
        assert!(multi_last_unsupported(&status(413, "Too Many Subjects")));
        assert!(multi_last_unsupported(&jetstream::Error::new(
            jetstream::ErrorKind::NoStream,
            "no responders"
        )));
        assert!(!multi_last_unsupported(&jetstream::Error::from_api(
            ApiError {
                code: 500,
                err_code: 10010,
                description: "boom".into(),
            }
        )));
    }
}
