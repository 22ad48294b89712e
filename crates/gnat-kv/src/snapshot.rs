//! Consistent reads at one revision ([`Snapshot`]): every read of a snapshot sees the bucket
//! as it was right after that revision was stored, whatever is written meanwhile.
//!
//! Built on ADR-31's batched direct gets: each read is a multi-last request pinned with
//! `up_to_seq` to the snapshot's revision, so the server answers with the last message of each
//! key at or below it. A `get_many` of more than 1024 keys is split into chunks that are all
//! pinned to the same revision (unlike [`Store::get_many`], whose chunks may see different
//! moments), and a full dump reads the bucket pinned the same way: one wildcard multi-last request
//! up to 1024 keys; beyond that (the server refuses more with 413) the keys the stream holds
//! now are listed (`STREAM.INFO` with a subjects filter) and read in pinned chunks — keys
//! whose every message was removed from the stream since the revision are then missed.
//!
//! A snapshot reads from any replica (direct get). A replica that has not yet stored the
//! revision would answer as of its own last message: for a read-your-writes snapshot in a
//! replicated bucket, take the revision from the leader ([`Store::snapshot`] does) and read
//! shortly after, or use a bucket with one replica. Values removed from the stream after the
//! revision (by history limits, TTLs or purges) are no longer there to be read: a snapshot
//! is as old as the bucket's history allows.

use std::collections::HashMap;

use bytes::Bytes;
use jetstream::UpTo;
use tokio::task::JoinSet;

use crate::entry::{Entry, Key};
use crate::error::{Error, ErrorKind, Result};
use crate::many::{chunk, join_error};
use crate::name::{validate_filter, validate_key};
use crate::store::Store;

/// ADR-50 batch headers, as stored with each message of an atomic batch.
const BATCH_ID: &str = "Nats-Batch-Id";
const BATCH_SEQUENCE: &str = "Nats-Batch-Sequence";
const BATCH_COMMIT: &str = "Nats-Batch-Commit";

/// Messages per page of a full dump.
const DUMP_PAGE: usize = 1024;

/// The bucket as of one revision. Cheap to clone; reads never change it.
///
/// ```no_run
/// # async fn demo(kv: gnat_kv::Store) -> gnat_kv::Result<()> {
/// kv.put("a", "1").await?;
/// let snap = kv.snapshot().await?;
/// kv.put("a", "2").await?;
/// assert_eq!(snap.get("a").await?.as_deref(), Some(&b"1"[..]));
/// let all = snap.entries().await?; // every key with a value at the snapshot's revision
/// assert!(all.iter().all(|e| e.revision <= snap.revision()));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Snapshot {
    store: Store,
    revision: u64,
}

impl Store {
    /// A snapshot at the bucket's latest revision (read from the stream leader), never in
    /// the middle of a transaction: when the last stored message belongs to an atomic batch
    /// still being stored, the snapshot is taken just before that batch.
    pub async fn snapshot(&self) -> Result<Snapshot> {
        self.require_direct()?;
        let info = self
            .inner
            .ctx
            .stream_info(&self.inner.stream)
            .await
            .map_err(|e| crate::manage::map_not_found(e, &self.inner.bucket))?;
        let revision = self.batch_boundary(info.state.last_seq).await?;
        Ok(Snapshot {
            store: self.clone(),
            revision,
        })
    }

    /// `seq`, or — when the message there belongs to an atomic batch the server is still
    /// storing (it has `Nats-Batch-Id` but not `Nats-Batch-Commit`: the server stores a
    /// committed batch message by message, and the stream's last sequence can be read in
    /// between) — the revision just before that batch, so a snapshot never shows part of a
    /// transaction.
    async fn batch_boundary(&self, seq: u64) -> Result<u64> {
        if seq == 0 {
            return Ok(0);
        }
        let m = match self.inner.ctx.direct_get(&self.inner.stream, seq).await {
            Ok(m) => m,
            Err(e) if e.is_no_message() || e.is_not_found() => return Ok(seq),
            Err(e) => return Err(e.into()),
        };
        let Some(h) = m.headers.as_ref() else {
            return Ok(seq);
        };
        if h.get(BATCH_ID).is_none() || h.get(BATCH_COMMIT).is_some() {
            return Ok(seq);
        }
        let position: u64 = h
            .get(BATCH_SEQUENCE)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        Ok(seq.saturating_sub(position))
    }

    /// A snapshot at `revision` exactly (a [`Committed::revision`](crate::Committed), an
    /// entry's revision, …). Nothing is sent. A revision inside a transaction shows the
    /// part of it stored up to there; commit revisions are always whole.
    pub fn snapshot_at(&self, revision: u64) -> Result<Snapshot> {
        self.require_direct()?;
        Ok(Snapshot {
            store: self.clone(),
            revision,
        })
    }

    /// A snapshot as of `time`: at the revision of the last entry stored before `time`
    /// (ADR-31's `up_to_time`, resolved to a revision once so every read is pinned the same
    /// way). One stream info and one direct get.
    pub async fn snapshot_at_time(&self, time: jetstream::Timestamp) -> Result<Snapshot> {
        // The stream's last sequence first: if nothing at or after `time` is stored by the
        // moment of the direct get, everything up to it was stored before `time`.
        let latest = self.snapshot().await?;
        let request = jetstream::DirectBatch::new(1)
            .start_time(time)
            .next_by_subj(self.read_subject(">"));
        let mut first_after = self
            .inner
            .ctx
            .direct_get_batch(&self.inner.stream, request)
            .await?;
        let revision = match first_after.next().await {
            Some(Ok(m)) => m.sequence.saturating_sub(1).min(latest.revision),
            Some(Err(e)) if e.is_no_message() => latest.revision,
            Some(Err(e)) => return Err(e.into()),
            None => latest.revision,
        };
        let revision = self.batch_boundary(revision).await?;
        Ok(Snapshot {
            store: self.clone(),
            revision,
        })
    }

    fn require_direct(&self) -> Result<()> {
        if self.inner.direct_prefix.is_none() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "bucket {} has no direct get (allow_direct), which snapshots read through",
                    self.bucket()
                ),
            ));
        }
        Ok(())
    }

    /// The last entry (tombstones included) of each of `subjects` (full subjects, no
    /// wildcards) as of `up_to`, by subject; chunks of at most 1024 are sent concurrently.
    pub(crate) async fn latest_many(
        &self,
        subjects: &[&str],
        up_to: UpTo,
    ) -> Result<HashMap<String, Entry>> {
        let mut found = HashMap::with_capacity(subjects.len());
        if subjects.is_empty() {
            return Ok(found);
        }
        if self.inner.direct_prefix.is_none() {
            // Only the latest can be read through the leader, one key at a time.
            for s in subjects {
                let Some(key) = s.strip_prefix(self.read_prefix()) else {
                    continue;
                };
                if let Some(e) = self.latest_from_leader(key).await? {
                    found.insert((*s).to_string(), e);
                }
            }
            return Ok(found);
        }
        let chunks = chunk(subjects.iter().map(|s| (*s).to_string()).collect());
        let mut tasks = JoinSet::new();
        for chunk in chunks {
            let store = self.clone();
            tasks.spawn(async move {
                let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                store
                    .inner
                    .ctx
                    .direct_get_multi_last(&store.inner.stream, &refs, up_to)
                    .await
            });
        }
        while let Some(done) = tasks.join_next().await {
            for m in done.map_err(join_error)?? {
                let subject = m.subject.clone();
                let Some(key) = subject.strip_prefix(self.read_prefix()) else {
                    continue;
                };
                let entry = self.entry_from_stored(Key::from(key), m);
                found.insert(subject, entry);
            }
        }
        Ok(found)
    }
}

impl Snapshot {
    /// The revision it reads at.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The store it reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The value `key` had at the snapshot's revision.
    pub async fn get(&self, key: impl AsRef<str>) -> Result<Option<Bytes>> {
        Ok(self.entry(key).await?.map(|e| e.value))
    }

    /// The entry `key` had at the snapshot's revision (`None` when it had no value then).
    pub async fn entry(&self, key: impl AsRef<str>) -> Result<Option<Entry>> {
        let key = key.as_ref();
        Ok(self.get_many([key]).await?.pop().flatten())
    }

    /// The entries `keys` had at the snapshot's revision, in the same order (`None` for a
    /// key without a value then). Any number of keys: every chunk of 1024 is pinned to the
    /// same revision.
    pub async fn get_many<I, S>(&self, keys: I) -> Result<Vec<Option<Entry>>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keys: Vec<S> = keys.into_iter().collect();
        for k in &keys {
            validate_key(k.as_ref())?;
        }
        if self.revision == 0 {
            return Ok(keys.iter().map(|_| None).collect());
        }
        let subjects: Vec<String> = keys
            .iter()
            .map(|k| self.store.read_subject(k.as_ref()))
            .collect();
        let mut unique: Vec<&str> = subjects.iter().map(String::as_str).collect();
        unique.sort_unstable();
        unique.dedup();
        let found = self
            .store
            .latest_many(&unique, UpTo::Sequence(self.revision))
            .await?;
        Ok(subjects
            .iter()
            .map(|s| {
                found
                    .get(s)
                    .filter(|e| !e.operation.is_tombstone() && e.revision <= self.revision)
                    .cloned()
            })
            .collect())
    }

    /// Every key with a value at the snapshot's revision, with its entry: a full dump,
    /// paged 1024 at a time, every page pinned to the revision.
    pub async fn entries(&self) -> Result<Vec<Entry>> {
        self.entries_matching(">").await
    }

    /// As [`Snapshot::entries`], for the keys matching `filter` (`*` and `>` wildcards).
    pub async fn entries_matching(&self, filter: impl AsRef<str>) -> Result<Vec<Entry>> {
        let filter = filter.as_ref();
        validate_filter(filter)?;
        if self.revision == 0 {
            return Ok(Vec::new());
        }
        let subject = self.store.read_subject(filter);
        let store = &self.store;
        let up_to = UpTo::Sequence(self.revision);
        let messages = match store
            .inner
            .ctx
            .direct_get_multi_last_paged(&store.inner.stream, &[subject.as_str()], up_to, DUMP_PAGE)
            .await
        {
            Ok(messages) => messages,
            // More than 1024 keys match: the server refuses a wildcard multi-last (413).
            // List the keys the stream has now (a superset of those at the revision, but
            // for keys whose every message was removed since) and read them pinned.
            Err(e) if e.code() == Some(413) => {
                let info = store
                    .inner
                    .ctx
                    .stream_info_with_subjects(&store.inner.stream, &subject)
                    .await?;
                let subjects: Vec<String> = info
                    .state
                    .subjects
                    .unwrap_or_default()
                    .into_keys()
                    .collect();
                let refs: Vec<&str> = subjects.iter().map(String::as_str).collect();
                let found = store.latest_many(&refs, up_to).await?;
                let mut out: Vec<Entry> = found
                    .into_values()
                    .filter(|e| !e.operation.is_tombstone() && e.revision <= self.revision)
                    .collect();
                out.sort_by(|a, b| a.key.cmp(&b.key));
                return Ok(out);
            }
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            if m.sequence > self.revision {
                continue;
            }
            let Some(key) = m.subject.strip_prefix(self.store.read_prefix()) else {
                continue;
            };
            let entry = self.store.entry_from_stored(Key::from(key), m);
            if !entry.operation.is_tombstone() {
                out.push(entry);
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The keys with a value at the snapshot's revision, sorted.
    pub async fn keys(&self) -> Result<Vec<String>> {
        Ok(self
            .entries()
            .await?
            .into_iter()
            .map(|e| e.key.to_string())
            .collect())
    }
}
