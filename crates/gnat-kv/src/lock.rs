//! Locks (leases) and counting semaphores built on `create`, `update` and per-key TTLs
//! (ADR-8 compare-and-set, ADR-48 TTLs and limit markers).
//!
//! * **Acquire** = `create_with_ttl(key, token, ttl)`: it succeeds only when the key has no
//!   current value, and the stored revision is the [`Lease`]'s. The token is unique per
//!   lease (an optional owner label goes in front of it).
//! * **Keep alive** = `update_with_ttl(key, token, lease revision, ttl)`: it succeeds only
//!   while the lease's revision is still the key's latest, and moves the lease to the new
//!   revision. Any other latest revision (someone else's create after an expiry, the
//!   server's expiry marker) fails it with [`Error::is_lease_lost`].
//! * **Release** = delete expecting the lease's revision: a stale lease cannot delete a
//!   newer holder's key.
//! * **Wait** (when asked to): watch the key(s); retry when a delete, purge or expiry marker
//!   shows up, and at the latest once per TTL. No polling loop in between.
//!
//! # What is guaranteed
//!
//! * **Mutual exclusion of leases**: at any moment at most one lease per key is *current*
//!   (its revision is the key's latest), because the server applies the expected-revision
//!   checks one write at a time (on the stream leader for replicated buckets). A lease stays
//!   current as long as its holder keeps it alive within the TTL; it stops being current when
//!   released, or when the server expires it.
//! * **Clock-free**: TTLs are enforced by the server's clock only. A holder knows, with its
//!   own monotonic clock, a conservative end of validity: [`Lease::valid_until`] = when the
//!   last successful acquire or keep-alive was *sent* + the TTL. The server starts counting
//!   later than that, so the entry cannot expire before `valid_until`. A holder must stop
//!   acting on the protected resource by then unless a keep-alive succeeded. For resources
//!   that can check it, pass [`Lease::revision`] along as a fencing token: it only grows.
//! * **Expiry**: a holder that crashes (or drops its lease without releasing it, or stops
//!   keeping it alive) loses it after its TTL: the server removes the entry and writes a
//!   limit marker, and waiters proceed. Measured on nats-server 2.15: whole-second TTLs
//!   expire 0–0.3 s after the TTL; fractional TTLs are *truncated* to whole seconds (1.5 s
//!   expired after 1.25 s), so lease TTLs are rounded down to whole seconds before they are
//!   sent, and must be at least 1 s.
//! * **Partitions**: a holder cut off from the server cannot renew; the server expires its
//!   entry after the TTL and someone else may acquire. The cut-off holder learns it only from
//!   its own clock (`valid_until`) or from the next keep-alive failing with
//!   [`Error::is_lease_lost`]. A waiter cut off from the server just waits (or times out).
//! * **Ambiguous failures**: an acquire or keep-alive that times out may still have been
//!   stored. A keep-alive or release that then finds the key at another revision checks
//!   whether the latest entry is its own token and, if so, carries on from it. An acquire
//!   that timed out but was stored expires after its TTL.
//!
//! # What the bucket needs
//!
//! Per-key TTLs, i.e. limit markers ([`Config::limit_marker_ttl`](crate::Config)): without
//! them acquiring fails with [`Error::is_ttl_not_allowed`]. Use history 1: with more history
//! an expiring lease can uncover an older entry and the server writes no marker, so waiters
//! only notice at their once-per-TTL re-check. Do not write lock keys with plain `put`.
//!
//! Semaphores are `slots` such locks, `<name>.0` … `<name>.<slots-1>`; every participant must
//! use the same `slots` and TTL.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::error::{Error, ErrorKind, Result};
use crate::name::{validate_filter, validate_write_key};
use crate::store::Store;
use crate::watch::{WatchEvent, WatchOptions};

/// How to take a lock: the lease's TTL, and whether (and how long) to wait while someone
/// else holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockOptions {
    /// How long the lease lasts without a keep-alive (rounded down to whole seconds, at
    /// least 1 s).
    pub ttl: Duration,
    /// `None`: fail at once with [`Error::is_lock_held`] when held. `Some(d)`: wait up to
    /// `d` for it to be released or to expire (`Duration::MAX`: without limit).
    pub wait: Option<Duration>,
    /// A label stored in front of the lease's unique token (who holds it), for people and
    /// tools reading the bucket.
    pub owner: Option<String>,
}

impl LockOptions {
    /// A lease of `ttl`, failing at once when held.
    pub fn new(ttl: Duration) -> Self {
        LockOptions {
            ttl,
            wait: None,
            owner: None,
        }
    }

    /// Wait up to `wait` while the lock is held.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// Wait as long as it takes while the lock is held.
    pub fn wait_forever(self) -> Self {
        self.wait(Duration::MAX)
    }

    /// Store `owner` in front of the lease's token.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// The TTL actually sent: whole seconds, at least one.
    fn effective_ttl(&self) -> Result<Duration> {
        let secs = self.ttl.as_secs();
        if secs == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "a lease TTL must be at least 1 s (got {:?}); the server counts whole seconds",
                    self.ttl
                ),
            ));
        }
        Ok(Duration::from_secs(secs))
    }
}

/// What a lease knows of itself.
struct LeaseState {
    revision: u64,
    /// When the write that produced `revision` (or the last confirmed one) was sent.
    sent: Instant,
    /// Why it is no longer held, once it is not.
    lost: Option<Error>,
}

struct LeaseShared {
    store: Store,
    key: String,
    token: Bytes,
    ttl: Duration,
    /// Serializes keep-alives and the release (each expects the revision the last left).
    op: tokio::sync::Mutex<()>,
    state: Mutex<LeaseState>,
    /// The revision, readable without the lock.
    revision: AtomicU64,
    /// Flips to `true` once when the lease is lost or released.
    gone: watch::Sender<bool>,
}

impl LeaseShared {
    fn state(&self) -> std::sync::MutexGuard<'_, LeaseState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, revision: u64, sent: Instant) {
        let mut s = self.state();
        s.revision = revision;
        s.sent = sent;
        self.revision.store(revision, Ordering::Release);
    }

    fn mark_gone(&self, why: Error) -> Error {
        self.state().lost.get_or_insert(why.clone());
        self.gone.send_replace(true);
        why
    }

    fn lost_error(&self, revision: u64, latest: Option<u64>) -> Error {
        let now = match latest {
            Some(r) => format!("the key is at revision {r}"),
            None => "the key has no entry".to_string(),
        };
        Error::new(
            ErrorKind::LeaseLost,
            format!(
                "lease on {} in bucket {} at revision {revision} was lost ({now}: it expired or \
                 was taken over)",
                self.key,
                self.store.bucket()
            ),
        )
    }

    /// After a wrong-last-revision failure: is the latest entry still ours (a keep-alive
    /// that timed out but was stored)? Then its revision; else the lease is lost.
    async fn recover(&self, revision: u64) -> Result<u64> {
        let latest = self.store.latest_consistent(&self.key).await?;
        match latest {
            Some(e) if !e.operation.is_tombstone() && e.value == self.token => Ok(e.revision),
            other => Err(self.lost_error(revision, other.map(|e| e.revision))),
        }
    }

    async fn keep_alive(&self) -> Result<u64> {
        let _op = self.op.lock().await;
        let mut expected = {
            let s = self.state();
            if let Some(e) = &s.lost {
                return Err(e.clone());
            }
            s.revision
        };
        // At most two writes: the second only after a wrong-last-revision failure that
        // `recover` shows was ours after all (a keep-alive that timed out but was stored).
        let mut recovered = false;
        loop {
            let sent = Instant::now();
            let result = self
                .store
                .update_with_ttl(&self.key, self.token.clone(), expected, self.ttl)
                .await;
            match result {
                Ok(new) => {
                    self.set(new, sent);
                    return Ok(new);
                }
                Err(e) if e.is_wrong_last_revision() && recovered => {
                    return Err(self.mark_gone(self.lost_error(expected, None)));
                }
                Err(e) if e.is_wrong_last_revision() => match self.recover(expected).await {
                    Ok(ours) => {
                        expected = ours;
                        recovered = true;
                    }
                    Err(e) if e.is_lease_lost() => return Err(self.mark_gone(e)),
                    Err(e) => return Err(e),
                },
                Err(e) => {
                    if recovered {
                        // Keep the recovered revision; `sent` stays the last confirmed.
                        let at = self.state().sent;
                        self.set(expected, at);
                    }
                    return Err(e);
                }
            }
        }
    }

    async fn release(&self) -> Result<()> {
        let _op = self.op.lock().await;
        let revision = {
            let s = self.state();
            if let Some(e) = &s.lost {
                return Err(e.clone());
            }
            s.revision
        };
        let mut expected = revision;
        for _ in 0..2 {
            match self.store.delete_expecting(&self.key, expected).await {
                Ok(_) => {
                    self.mark_gone(Error::new(
                        ErrorKind::LeaseLost,
                        format!("lease on {} was released", self.key),
                    ));
                    return Ok(());
                }
                Err(e) if e.is_wrong_last_revision() => match self.recover(expected).await {
                    Ok(ours) if ours != expected => expected = ours,
                    Ok(_) => return Err(self.mark_gone(self.lost_error(expected, None))),
                    Err(e) if e.is_lease_lost() => return Err(self.mark_gone(e)),
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
        Err(self.mark_gone(self.lost_error(expected, None)))
    }
}

/// A held lock: the key's entry at [`Lease::revision`], with a TTL.
///
/// Keep it with [`Lease::keep_alive`] (or [`Lease::keep_alive_every`]) within the TTL, and
/// give it back with [`Lease::release`]. Dropping it does **not** release it (there is no
/// asynchronous drop): the server expires it after the TTL, exactly as if the holder had
/// crashed. Dropping it stops its background keep-alive, if any. See the module docs for
/// what is guaranteed.
pub struct Lease {
    shared: Arc<LeaseShared>,
    keeper: Option<AbortHandle>,
}

impl Lease {
    /// The locked key.
    pub fn key(&self) -> &str {
        &self.shared.key
    }

    /// The value stored under the key: `[<owner>:]<unique token>`.
    pub fn token(&self) -> &Bytes {
        &self.shared.token
    }

    /// The revision the lease holds now (it changes with every keep-alive). It only grows,
    /// so it can serve as a fencing token.
    pub fn revision(&self) -> u64 {
        self.shared.revision.load(Ordering::Acquire)
    }

    /// The TTL sent with every write (whole seconds).
    pub fn ttl(&self) -> Duration {
        self.shared.ttl
    }

    /// Until when the lease is certainly held, by this process's monotonic clock: when the
    /// last successful acquire or keep-alive was sent, plus the TTL.
    pub fn valid_until(&self) -> Instant {
        self.shared.state().sent + self.shared.ttl
    }

    /// Whether the lease is known to be lost (or released).
    pub fn is_lost(&self) -> bool {
        *self.shared.gone.borrow()
    }

    /// Waits until the lease is known to be lost (a keep-alive found it taken over or
    /// expired) or released, and says why.
    pub async fn lost(&self) -> Error {
        let mut rx = self.shared.gone.subscribe();
        let _ = rx.wait_for(|gone| *gone).await;
        let lost = self.shared.state().lost.clone();
        lost.unwrap_or_else(|| Error::new(ErrorKind::LeaseLost, "lease lost"))
    }

    /// Renews the lease for another TTL; returns the new revision. Fails with
    /// [`Error::is_lease_lost`] when the key is no longer at the lease's revision (the lease
    /// expired, or someone else holds it now); other failures (a timeout …) leave the lease
    /// as it was, to be tried again.
    pub async fn keep_alive(&self) -> Result<u64> {
        self.shared.keep_alive().await
    }

    /// Keeps the lease alive in the background every `interval` (a third of the TTL is a
    /// good choice; it should be well under the TTL), until it is released or dropped, or
    /// found lost ([`Lease::lost`] then says so). A failed renewal is retried sooner.
    pub fn keep_alive_every(mut self, interval: Duration) -> Lease {
        if let Some(old) = self.keeper.take() {
            old.abort();
        }
        let shared = self.shared.clone();
        let retry = (interval / 4).max(Duration::from_millis(50));
        let handle = tokio::spawn(async move {
            let mut wait = interval;
            loop {
                tokio::time::sleep(wait).await;
                if *shared.gone.borrow() {
                    return;
                }
                wait = match shared.keep_alive().await {
                    Ok(_) => interval,
                    Err(e) if e.is_lease_lost() => return,
                    Err(_) => retry,
                };
            }
        });
        self.keeper = Some(handle.abort_handle());
        self
    }

    /// Releases the lock: deletes the key, expecting the lease's revision, so a lease that
    /// was lost meanwhile deletes nothing and fails with [`Error::is_lease_lost`].
    pub async fn release(mut self) -> Result<()> {
        if let Some(keeper) = self.keeper.take() {
            keeper.abort();
        }
        self.shared.release().await
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(keeper) = self.keeper.take() {
            keeper.abort();
        }
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("bucket", &self.shared.store.bucket())
            .field("key", &self.shared.key)
            .field("revision", &self.revision())
            .field("ttl", &self.shared.ttl)
            .field("lost", &self.is_lost())
            .field("keep_alive", &self.keeper.is_some())
            .finish()
    }
}

/// A counting semaphore of `slots` leases, on keys `<name>.0` … `<name>.<slots-1>`; see
/// [`Store::semaphore`].
#[derive(Clone, Debug)]
pub struct Semaphore {
    store: Store,
    name: String,
    keys: Arc<[String]>,
    ttl: Duration,
}

/// One slot of a [`Semaphore`]: a [`Lease`] on `<name>.<slot>`.
#[derive(Debug)]
pub struct Permit {
    lease: Lease,
    slot: u32,
}

impl Permit {
    /// The slot taken (0 to slots-1).
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// The lease on the slot's key.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// See [`Lease::keep_alive`].
    pub async fn keep_alive(&self) -> Result<u64> {
        self.lease.keep_alive().await
    }

    /// See [`Lease::keep_alive_every`].
    pub fn keep_alive_every(self, interval: Duration) -> Permit {
        Permit {
            lease: self.lease.keep_alive_every(interval),
            slot: self.slot,
        }
    }

    /// See [`Lease::release`].
    pub async fn release(self) -> Result<()> {
        self.lease.release().await
    }

    /// See [`Lease::lost`].
    pub async fn lost(&self) -> Error {
        self.lease.lost().await
    }
}

impl Semaphore {
    /// The semaphore's name (its keys' prefix).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many permits it has.
    pub fn slots(&self) -> u32 {
        u32::try_from(self.keys.len()).unwrap_or(u32::MAX)
    }

    /// Takes a free slot, waiting as long as it takes while all are held.
    pub async fn acquire(&self) -> Result<Permit> {
        self.acquire_with(LockOptions::new(self.ttl).wait_forever())
            .await
    }

    /// Takes a free slot, or fails at once with [`Error::is_lock_held`] when all are held.
    pub async fn try_acquire(&self) -> Result<Permit> {
        self.acquire_with(LockOptions::new(self.ttl)).await
    }

    /// Takes a free slot, waiting up to `wait` while all are held.
    pub async fn acquire_timeout(&self, wait: Duration) -> Result<Permit> {
        self.acquire_with(LockOptions::new(self.ttl).wait(wait))
            .await
    }

    async fn acquire_with(&self, options: LockOptions) -> Result<Permit> {
        let filter = format!("{}.*", self.name);
        let (slot, lease) = acquire(&self.store, &self.keys, &filter, &options).await?;
        Ok(Permit {
            lease,
            slot: u32::try_from(slot).unwrap_or(u32::MAX),
        })
    }
}

impl Store {
    /// Takes the lock `key`: creates it with a unique token and `options.ttl`, or fails with
    /// [`Error::is_lock_held`] when someone holds it (at once, or after `options.wait`).
    /// The bucket needs limit markers; see [the semantics](crate::lock).
    pub async fn lock(&self, key: impl AsRef<str>, options: LockOptions) -> Result<Lease> {
        let key = key.as_ref();
        validate_write_key(key)?;
        let keys = [key.to_string()];
        let (_, lease) = acquire(self, &keys, key, &options).await?;
        Ok(lease)
    }

    /// A counting semaphore of `slots` permits with leases of `ttl`, on the keys
    /// `<name>.0` … `<name>.<slots-1>`. Nothing is sent until a permit is acquired.
    pub fn semaphore(&self, name: &str, slots: u32, ttl: Duration) -> Result<Semaphore> {
        validate_write_key(name)?;
        if slots == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a semaphore needs at least one slot",
            ));
        }
        LockOptions::new(ttl).effective_ttl()?;
        let keys: Vec<String> = (0..slots).map(|i| format!("{name}.{i}")).collect();
        validate_filter(&format!("{name}.*"))?;
        Ok(Semaphore {
            store: self.clone(),
            name: name.to_string(),
            keys: keys.into(),
            ttl,
        })
    }
}

/// A fresh value for a lease: `[<owner>:]<unique token>`.
fn new_token(store: &Store, owner: Option<&str>) -> Bytes {
    let inbox = store.context().client().new_inbox();
    let unique = inbox.rsplit('.').next().unwrap_or(&inbox);
    match owner {
        Some(o) => Bytes::from(format!("{o}:{unique}")),
        None => Bytes::from(unique.to_string()),
    }
}

fn ttl_not_allowed(store: &Store, e: Error) -> Error {
    match (e.err_code(), e.jetstream().cloned()) {
        (Some(jetstream::error::codes::MESSAGE_TTL_DISABLED), Some(js)) => Error::with_source(
            ErrorKind::TtlNotAllowed,
            format!(
                "bucket {} does not accept per-key TTLs, which locks need: create it with \
                 Config::limit_marker_ttl (nats-server 2.11 or newer)",
                store.bucket()
            ),
            js,
        ),
        _ => e,
    }
}

/// Takes the first free of `keys` (starting at a spread-out slot), waiting per `options`;
/// `filter` watches all of them.
async fn acquire(
    store: &Store,
    keys: &[String],
    filter: &str,
    options: &LockOptions,
) -> Result<(usize, Lease)> {
    let ttl = options.effective_ttl()?;
    let token = new_token(store, options.owner.as_deref());
    let deadline = options
        .wait
        .and_then(|w| tokio::time::Instant::now().checked_add(w));
    let n = keys.len();
    // Spread contenders over the slots: start where the token's hash points.
    let start = token.iter().fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(*b))
    }) % n.max(1);
    let index: HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    // Slots believed held; all are tried on the first round.
    let mut held = vec![false; n];
    let mut watcher = None;
    loop {
        for i in (0..n).map(|j| (start + j) % n) {
            if held[i] {
                continue;
            }
            let sent = Instant::now();
            match store.create_with_ttl(&keys[i], token.clone(), ttl).await {
                Ok(revision) => {
                    let (gone, _) = watch::channel(false);
                    let lease = Lease {
                        shared: Arc::new(LeaseShared {
                            store: store.clone(),
                            key: keys[i].clone(),
                            token,
                            ttl,
                            op: tokio::sync::Mutex::new(()),
                            state: Mutex::new(LeaseState {
                                revision,
                                sent,
                                lost: None,
                            }),
                            revision: AtomicU64::new(revision),
                            gone,
                        }),
                        keeper: None,
                    };
                    return Ok((i, lease));
                }
                Err(e) if e.is_key_exists() => held[i] = true,
                Err(e) => return Err(ttl_not_allowed(store, e)),
            }
        }
        let held_error = || {
            Error::new(
                ErrorKind::LockHeld,
                if n == 1 {
                    format!("lock {} in bucket {} is held", keys[0], store.bucket())
                } else {
                    format!(
                        "all {n} slots of semaphore {filter} in bucket {} are held",
                        store.bucket()
                    )
                },
            )
        };
        if options.wait.is_none() {
            return Err(held_error());
        }
        let w = match &mut watcher {
            Some(w) => w,
            None => watcher.insert(
                store
                    .watch_with([filter], WatchOptions::new().meta_only())
                    .await?,
            ),
        };
        // Wait for a slot to be freed: a tombstone (delete, purge, expiry marker) on one, or
        // at the end of the initial data a slot with no current value. Re-check once per TTL
        // in case an expiry left no marker.
        let recheck = tokio::time::Instant::now() + ttl;
        let wake = deadline.map_or(recheck, |d| d.min(recheck));
        let mut initial: Option<Vec<bool>> = (!w.initial_done()).then(|| vec![false; n]);
        loop {
            let event = tokio::select! {
                ev = w.next() => ev,
                () = tokio::time::sleep_until(wake) => {
                    if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                        return Err(held_error());
                    }
                    held.iter_mut().for_each(|h| *h = false);
                    break;
                }
            };
            let Some(event) = event else {
                return Err(Error::new(
                    ErrorKind::JetStream,
                    format!("the watch on {filter} ended while waiting for the lock"),
                ));
            };
            match event? {
                WatchEvent::Entry(e) => {
                    let Some(&i) = index.get(e.key.as_str()) else {
                        continue;
                    };
                    let is_held = !e.operation.is_tombstone();
                    if let Some(init) = &mut initial {
                        init[i] = is_held;
                    } else {
                        held[i] = is_held;
                        if !is_held {
                            break;
                        }
                    }
                }
                WatchEvent::InitialDone => {
                    if let Some(init) = initial.take() {
                        held = init;
                        if held.iter().any(|h| !h) {
                            break;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_whole_seconds() {
        let ttl = |ms| LockOptions::new(Duration::from_millis(ms)).effective_ttl();
        assert_eq!(ttl(1000).unwrap(), Duration::from_secs(1));
        assert_eq!(ttl(2999).unwrap(), Duration::from_secs(2));
        assert!(ttl(999).is_err());
        let o = LockOptions::new(Duration::from_secs(3))
            .wait(Duration::from_secs(1))
            .owner("me");
        assert_eq!(o.wait, Some(Duration::from_secs(1)));
        assert_eq!(o.owner.as_deref(), Some("me"));
        assert_eq!(
            LockOptions::new(Duration::from_secs(3)).wait_forever().wait,
            Some(Duration::MAX)
        );
    }
}
