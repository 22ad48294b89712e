//! Atomic multi-key transactions ([`Transaction`]): writes to any keys of one bucket, sent
//! as one ADR-50 atomic batch, so the server stores every one of them or none.
//!
//! Each write is one message of the batch on `<write prefix><key>`, with the same headers a
//! single write sends (`KV-Operation`, a subject rollup for a purge) and, for a create, an
//! update or an expecting delete or purge, `Nats-Expected-Last-Subject-Sequence`. The server
//! checks every expectation at the commit, under its lock, against the bucket as it was
//! before the batch (ADR-50); one failure rejects the whole batch.
//!
//! A key appears at most once per transaction: ADR-50 cannot check the expected revision of
//! a subject the batch has already written, so a second write to a key is refused when it is
//! added.
//!
//! **Enabling.** Atomic batches need `allow_atomic` on the bucket's stream. A bucket created
//! with [`Config::allow_transactions`](crate::Config::allow_transactions) has it; for any
//! other bucket the first commit that the server refuses for that reason (10174) turns it on
//! with one stream update and commits again — so an application needs no migration, and a
//! bucket that never sees a transaction is never changed. A mirror cannot take transactions
//! (its writes go to its origin, which must allow them itself).
//!
//! **Conflicts.** When the server rejects the batch for a wrong last sequence, the commit
//! reads the latest entry of every key that carried an expectation and reports the first
//! that does not match: [`Error::conflict`] gives its key and actual revision. A create
//! whose key holds only a delete or purge is retried (a bounded number of times) expecting
//! that tombstone, as [`Store::create`] does.

use bytes::Bytes;
use jetstream::{PublishOptions, UpTo};
use std::collections::HashSet;

use crate::entry::Operation;
use crate::error::{Conflict, Error, ErrorKind, Result};
use crate::name::validate_write_key;
use crate::store::Store;
use crate::write::write_options;

/// Commits retried because a create met a tombstone (each such retry fixes at least one
/// create's expectation, so more than the number of creates never helps).
const TOMBSTONE_RETRIES: usize = 4;

/// The most writes in one transaction: the server's default atomic batch limit (ADR-50).
pub const MAX_TRANSACTION_WRITES: usize = 1000;

/// One write of a transaction.
#[derive(Debug, Clone)]
struct Write {
    key: String,
    op: Op,
    value: Bytes,
    /// The revision the key must be at (0: no entry at all).
    expected: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Put,
    Create,
    Update,
    Delete,
    Purge,
}

/// Writes to many keys of one bucket, committed atomically with [`Transaction::commit`].
///
/// Nothing is sent before the commit; the keys are checked as they are added (a bad key,
/// or a key added twice, is refused and the transaction goes on without it).
///
/// ```no_run
/// # async fn demo(kv: gnat_kv::Store) -> gnat_kv::Result<()> {
/// // Move 10 from a to b, only if neither changed since it was read.
/// let a = kv.entry("acct.a").await?.expect("a");
/// let b = kv.entry("acct.b").await?.expect("b");
/// let (va, vb): (i64, i64) = (
///     a.value_str().unwrap().parse().unwrap(),
///     b.value_str().unwrap().parse().unwrap(),
/// );
/// let mut tx = kv.transaction();
/// tx.update("acct.a", (va - 10).to_string(), a.revision)?
///     .update("acct.b", (vb + 10).to_string(), b.revision)?
///     .put("audit.last", "a->b 10")?;
/// match tx.commit().await {
///     Ok(done) => println!("committed at revision {}", done.revision),
///     Err(e) if e.conflict().is_some() => {
///         let c = e.conflict().unwrap();
///         println!("{} is now at revision {}: read again and retry", c.key, c.revision);
///     }
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a transaction writes nothing until it is committed"]
pub struct Transaction {
    store: Store,
    writes: Vec<Write>,
    keys: HashSet<String>,
}

/// What a committed transaction stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Committed {
    /// The revision of each write, in the order they were added.
    pub revisions: Vec<u64>,
    /// The bucket's revision after the transaction (its last write's); 0 for an empty
    /// transaction. A [`Snapshot`](crate::Snapshot) at this revision sees all of it.
    pub revision: u64,
}

impl Store {
    /// Starts a transaction on this bucket (see [`Transaction`]).
    pub fn transaction(&self) -> Transaction {
        Transaction {
            store: self.clone(),
            writes: Vec::new(),
            keys: HashSet::new(),
        }
    }
}

impl Transaction {
    fn add(&mut self, key: &str, op: Op, value: Bytes, expected: Option<u64>) -> Result<&mut Self> {
        validate_write_key(key)?;
        if self.writes.len() >= MAX_TRANSACTION_WRITES {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("a transaction holds at most {MAX_TRANSACTION_WRITES} writes"),
            ));
        }
        if !self.keys.insert(key.to_string()) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "key {key} is already written by this transaction (ADR-50 cannot check it twice)"
                ),
            ));
        }
        self.writes.push(Write {
            key: key.to_string(),
            op,
            value,
            expected,
        });
        Ok(self)
    }

    /// Puts `value` under `key`.
    pub fn put(&mut self, key: impl AsRef<str>, value: impl Into<Bytes>) -> Result<&mut Self> {
        self.add(key.as_ref(), Op::Put, value.into(), None)
    }

    /// Puts `value` under `key` only if the key has no current value (never written, or
    /// deleted or purged); otherwise the commit fails with [`Error::is_key_exists`].
    pub fn create(&mut self, key: impl AsRef<str>, value: impl Into<Bytes>) -> Result<&mut Self> {
        self.add(key.as_ref(), Op::Create, value.into(), Some(0))
    }

    /// Puts `value` under `key` only if its latest revision is `revision` (0: no entry);
    /// otherwise the commit fails with [`Error::is_wrong_last_revision`].
    pub fn update(
        &mut self,
        key: impl AsRef<str>,
        value: impl Into<Bytes>,
        revision: u64,
    ) -> Result<&mut Self> {
        self.add(key.as_ref(), Op::Update, value.into(), Some(revision))
    }

    /// Deletes `key` (a `DEL` entry, history kept).
    pub fn delete(&mut self, key: impl AsRef<str>) -> Result<&mut Self> {
        self.add(key.as_ref(), Op::Delete, Bytes::new(), None)
    }

    /// Deletes `key` only if its latest revision is `revision`.
    pub fn delete_expecting(&mut self, key: impl AsRef<str>, revision: u64) -> Result<&mut Self> {
        self.add(key.as_ref(), Op::Delete, Bytes::new(), Some(revision))
    }

    /// Purges `key` (a `PURGE` entry replaces its history).
    pub fn purge(&mut self, key: impl AsRef<str>) -> Result<&mut Self> {
        self.add(key.as_ref(), Op::Purge, Bytes::new(), None)
    }

    /// Purges `key` only if its latest revision is `revision`.
    pub fn purge_expecting(&mut self, key: impl AsRef<str>, revision: u64) -> Result<&mut Self> {
        self.add(key.as_ref(), Op::Purge, Bytes::new(), Some(revision))
    }

    /// The number of writes added.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Sends every write as one atomic batch: all are stored, or none.
    ///
    /// Fails with [`Error::is_wrong_last_revision`] (or [`Error::is_key_exists`] for a
    /// create) when an expectation does not hold, with [`Error::conflict`] naming the key
    /// and its actual revision; nothing is stored then. Enables `allow_atomic` on the
    /// bucket's stream if the server says it is off (see the module docs).
    pub async fn commit(mut self) -> Result<Committed> {
        if self.writes.is_empty() {
            return Ok(Committed {
                revisions: Vec::new(),
                revision: 0,
            });
        }
        let mut enabled = false;
        let mut tombstone_retries = 0;
        loop {
            let err = match self.send().await {
                Ok(ack) => {
                    // The batch's messages precede its last one in order (ADR-50); the
                    // server's numbers are not trusted to be in range.
                    let n = self.writes.len() as u64;
                    let revisions = (0..n).map(|i| ack.seq.saturating_sub(n - 1 - i)).collect();
                    return Ok(Committed {
                        revisions,
                        revision: ack.seq,
                    });
                }
                Err(e) => e,
            };
            if err.is_atomic_publish_disabled() && !enabled {
                self.store.enable_transactions().await?;
                enabled = true;
                continue;
            }
            if !err.is_wrong_last_sequence() {
                return Err(err.into());
            }
            match self.find_conflict(err).await? {
                Resolution::Retry if tombstone_retries < TOMBSTONE_RETRIES => {
                    tombstone_retries += 1;
                }
                Resolution::Retry => {
                    return Err(Error::new(
                        ErrorKind::KeyExists,
                        "a create kept meeting new tombstones; giving up",
                    ));
                }
                Resolution::Fail(e) => return Err(e),
            }
        }
    }

    async fn send(&self) -> jetstream::Result<jetstream::BatchAck> {
        let inner = &self.store.inner;
        let mut batch = inner.ctx.atomic_batch();
        let last = self.writes.len() - 1;
        for (i, w) in self.writes.iter().enumerate() {
            let operation = match w.op {
                Op::Put | Op::Create | Op::Update => Operation::Put,
                Op::Delete => Operation::Delete,
                Op::Purge => Operation::Purge,
            };
            let options: PublishOptions =
                write_options(operation, w.value.clone(), w.expected, None).map_err(|e| {
                    jetstream::Error::new(jetstream::ErrorKind::InvalidInput, e.to_string())
                })?;
            let mut subject = String::with_capacity(inner.write_prefix.len() + w.key.len());
            subject.push_str(&inner.write_prefix);
            subject.push_str(&w.key);
            if i == last {
                return batch.commit_with(&subject, options).await;
            }
            batch.add_with(&subject, options).await?;
        }
        unreachable!("the loop returns at the last write")
    }

    /// After a wrong-last-sequence rejection: which key conflicts, and at what revision; or,
    /// when the only mismatches are creates over tombstones, their fixed expectations.
    async fn find_conflict(&mut self, err: jetstream::Error) -> Result<Resolution> {
        let store = &self.store;
        let checked: Vec<usize> = (0..self.writes.len())
            .filter(|&i| self.writes[i].expected.is_some())
            .collect();
        let subjects: Vec<String> = checked
            .iter()
            .map(|&i| store.read_subject(&self.writes[i].key))
            .collect();
        let refs: Vec<&str> = subjects.iter().map(String::as_str).collect();
        let latest = store.latest_many(&refs, UpTo::Latest).await?;
        let mut fixed = false;
        for &i in &checked {
            let w = &mut self.writes[i];
            let actual = latest.get(&store.read_subject(&w.key));
            let (revision, tombstone) =
                actual.map_or((0, true), |e| (e.revision, e.operation.is_tombstone()));
            if Some(revision) == w.expected {
                continue;
            }
            if w.op == Op::Create && tombstone {
                w.expected = Some(revision);
                fixed = true;
                continue;
            }
            let kind = if w.op == Op::Create {
                ErrorKind::KeyExists
            } else {
                ErrorKind::WrongLastRevision
            };
            let message = format!(
                "transaction on bucket {}: key {} is at revision {revision}, not {}",
                store.bucket(),
                w.key,
                w.expected.unwrap_or_default()
            );
            return Ok(Resolution::Fail(
                Error::with_source(kind, message, err).with_conflict(Conflict {
                    key: w.key.clone(),
                    revision,
                }),
            ));
        }
        if fixed {
            return Ok(Resolution::Retry);
        }
        // Every expectation holds again (the conflicting write was itself undone? impossible
        // with increasing revisions) — report the server's rejection as it is.
        Ok(Resolution::Fail(Error::with_source(
            ErrorKind::WrongLastRevision,
            format!("transaction on bucket {} rejected", store.bucket()),
            err,
        )))
    }
}

enum Resolution {
    Retry,
    Fail(Error),
}

impl Store {
    /// Turns on `allow_atomic` on the bucket's stream (one stream update; nothing happens
    /// when it is already on). [`Transaction::commit`] calls it when needed.
    pub async fn enable_transactions(&self) -> Result<()> {
        if self.inner.mirror {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "bucket {} is a mirror: transactions go to its origin, which must allow them",
                    self.bucket()
                ),
            ));
        }
        let ctx = &self.inner.ctx;
        let info = ctx
            .stream_info(&self.inner.stream)
            .await
            .map_err(|e| crate::manage::map_not_found(e, &self.inner.bucket))?;
        if info.config.allow_atomic == Some(true) {
            return Ok(());
        }
        let mut config = info.config;
        config.allow_atomic = Some(true);
        ctx.update_stream(&config).await?;
        Ok(())
    }
}
