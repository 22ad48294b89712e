//! Publish pacing by the client's own subscribers.
//!
//! A client that publishes to subjects it also subscribes to can publish far faster than its
//! own subscription is read: the messages come back through the server into that
//! subscription's queue, and past the queue's limits they are dropped as a slow consumer. With
//! one connection task (async-nats) the publisher is held back by construction; here the
//! publish path, the reader and the subscriber run apart, so the client paces those publishers
//! explicitly, and only while it helps:
//!
//! * a subscription whose queue passes half of either limit is *backlogged* until its reader
//!   brings it down to a quarter (or it ends);
//! * a publish to a subject that a backlogged subscription matches waits — other publishes
//!   (acks, requests, other subjects) never do — but only while the backlog is being read:
//!   a wait ends when no batch has been taken from a backlogged subscription for [`STALL`],
//!   and no single publish waits longer than [`MAX_WAIT`] in all. After a wait that ended
//!   for want of reading, publishes do not wait again until the next batch is taken. The
//!   task that reads a backlogged subscription never waits itself (it would only delay its
//!   own reading). So a subscription read by the publishing task, or not at all, or slowly,
//!   costs publishers at most one short wait per batch taken: pacing never deadlocks, and
//!   slow consumers still drop and count as before. A subscription that is read steadily but
//!   never shrinks (others feed it as fast) holds each publish to its subject for up to
//!   [`MAX_WAIT`].
//!
//! While any subscription is backlogged the reader also yields after each socket read, so that
//! the subscription's reader, woken onto the same worker thread, gets to run (see the reader).
//!
//! The cost on the publish path when nothing is backlogged is one relaxed atomic load.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::Id;
use tokio::time::Instant;

use crate::lock;

/// How long a publisher waits for a batch to be taken from a backlogged subscription before it
/// concludes that it is not being read (rounded up to tokio's 1 ms timer tick).
pub(crate) const STALL: Duration = Duration::from_millis(10);

/// The longest one publish waits in all.
pub(crate) const MAX_WAIT: Duration = Duration::from_millis(250);

/// No give-up recorded.
const NEVER: u64 = u64::MAX;

/// The pacing state of one client.
pub(crate) struct Pacing {
    /// Pacing is on (`ConnectOptions::pace_publishers`) and the client is not closed.
    active: AtomicBool,
    /// How many subscriptions are backlogged (the publish path's one atomic load).
    backlogged: AtomicUsize,
    /// The backlogged subscriptions: sid and subject (a pattern, wildcards allowed).
    subjects: Mutex<Vec<(u64, String)>>,
    /// Batches taken from backlogged subscriptions.
    progress: AtomicU64,
    /// The value of `progress` when a publisher last gave up waiting, or [`NEVER`].
    stalled_at: AtomicU64,
    /// The task that last took a batch from a backlogged subscription.
    drainer: Mutex<Option<Id>>,
    /// Signalled when a subscription stops being backlogged.
    relieved: Notify,
}

impl Pacing {
    pub(crate) fn new(enabled: bool) -> Self {
        Pacing {
            active: AtomicBool::new(enabled),
            backlogged: AtomicUsize::new(0),
            subjects: Mutex::new(Vec::new()),
            progress: AtomicU64::new(0),
            stalled_at: AtomicU64::new(NEVER),
            drainer: Mutex::new(None),
            relieved: Notify::new(),
        }
    }

    /// Subscription `sid` on `subject` passed its high-water mark.
    pub(crate) fn raise(&self, sid: u64, subject: &str) {
        lock(&self.subjects).push((sid, subject.to_string()));
        self.backlogged.fetch_add(1, Ordering::AcqRel);
    }

    /// Subscription `sid` is down to its low-water mark, or gone.
    pub(crate) fn lower(&self, sid: u64) {
        let mut subjects = lock(&self.subjects);
        if let Some(i) = subjects.iter().position(|&(s, _)| s == sid) {
            subjects.swap_remove(i);
            self.backlogged.fetch_sub(1, Ordering::AcqRel);
        }
        drop(subjects);
        self.relieved.notify_waiters();
    }

    /// The current task took a batch from a backlogged subscription.
    pub(crate) fn drained(&self) {
        *lock(&self.drainer) = tokio::task::try_id();
        self.progress.fetch_add(1, Ordering::AcqRel);
    }

    /// The client closed: no publish waits any more (they fail instead).
    pub(crate) fn stop(&self) {
        self.active.store(false, Ordering::Release);
        self.relieved.notify_waiters();
    }

    /// True while some subscription is backlogged (whether or not publishers are paced).
    #[inline]
    pub(crate) fn any_backlogged(&self) -> bool {
        self.backlogged.load(Ordering::Relaxed) != 0
    }

    /// Whether [`Pacing::wait`] might wait for some subject (a subscription is backlogged and
    /// pacing is on); `false` means no publish has to wait now.
    #[inline]
    pub(crate) fn may_wait(&self) -> bool {
        self.any_backlogged() && self.active.load(Ordering::Relaxed)
    }

    /// Waits while a publish to `subject` would outrun a backlogged subscription that is being
    /// read (see the module docs); returns at once when none is backlogged.
    #[inline]
    pub(crate) async fn wait(&self, subject: &str) {
        if self.may_wait() {
            self.wait_slow(subject).await;
        }
    }

    fn feeds_backlog(&self, subject: &str) -> bool {
        lock(&self.subjects)
            .iter()
            .any(|(_, pattern)| subject_matches(pattern, subject))
    }

    async fn wait_slow(&self, subject: &str) {
        if let Some(me) = tokio::task::try_id()
            && *lock(&self.drainer) == Some(me)
        {
            return;
        }
        let deadline = Instant::now() + MAX_WAIT;
        loop {
            let relieved = self.relieved.notified();
            tokio::pin!(relieved);
            relieved.as_mut().enable();
            if !self.active.load(Ordering::Acquire) || !self.feeds_backlog(subject) {
                return;
            }
            let before = self.progress.load(Ordering::Acquire);
            if self.stalled_at.load(Ordering::Acquire) == before {
                // No batch has been taken since the last give-up.
                return;
            }
            let until = deadline.min(Instant::now() + STALL);
            if tokio::time::timeout_at(until, relieved).await.is_err() {
                if self.progress.load(Ordering::Acquire) == before {
                    self.stalled_at.store(before, Ordering::Release);
                    return;
                }
                if Instant::now() >= deadline {
                    return;
                }
            }
        }
    }
}

/// Whether a subscription to `pattern` (`*` one token, `>` one or more) receives `subject`.
pub(crate) fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for want in pattern.split('.') {
        match (want, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (want, Some(token)) if want == token => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts a task that publishes (waits) on `subject` and returns how long it waited.
    fn spawn_wait(
        pacing: &std::sync::Arc<Pacing>,
        subject: &'static str,
    ) -> tokio::task::JoinHandle<Duration> {
        let pacing = pacing.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            pacing.wait(subject).await;
            start.elapsed()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_publisher_waits_only_while_the_backlog_is_drained() {
        let pacing = std::sync::Arc::new(Pacing::new(true));
        // Nothing backlogged: no wait.
        pacing.wait("a").await;
        pacing.raise(7, "a.*");
        // A subject the backlogged subscription does not receive: no wait.
        let start = Instant::now();
        pacing.wait("b").await;
        pacing.wait("a.b.c").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        // Backlogged and nobody draining: one STALL, then no more waits.
        pacing.wait("a.b").await;
        assert!(start.elapsed() >= STALL);
        let again = Instant::now();
        pacing.wait("a.b").await;
        assert_eq!(again.elapsed(), Duration::ZERO);
        // A drain (by another task): publishers wait again, as long as draining goes on...
        pacing.drained();
        let waiter = spawn_wait(&pacing, "a.b");
        tokio::task::yield_now().await;
        for _ in 0..40 {
            // 40 ms (4 STALLs) of drains, one a millisecond
            pacing.drained();
            tokio::time::advance(Duration::from_micros(1000)).await;
            tokio::task::yield_now().await;
        }
        assert!(
            !waiter.is_finished(),
            "returned while the backlog was drained"
        );
        // ...until the backlog is relieved.
        pacing.lower(7);
        let waited = waiter.await.unwrap();
        assert!(waited >= 4 * STALL, "{waited:?}");
        // Never longer than MAX_WAIT, however long the draining goes on.
        pacing.raise(8, ">");
        pacing.drained();
        let waiter = spawn_wait(&pacing, "x");
        tokio::task::yield_now().await;
        while !waiter.is_finished() {
            pacing.drained();
            tokio::time::advance(Duration::from_millis(1)).await;
            tokio::task::yield_now().await;
        }
        let waited = waiter.await.unwrap();
        assert!(
            waited >= MAX_WAIT && waited < MAX_WAIT + STALL,
            "{waited:?}"
        );
        // The task that drains never waits for its own publishes.
        let drainer = {
            let pacing = pacing.clone();
            tokio::spawn(async move {
                pacing.drained();
                let start = Instant::now();
                pacing.wait("x").await;
                start.elapsed()
            })
        };
        assert_eq!(drainer.await.unwrap(), Duration::ZERO);
        // A closed client's publishes do not wait: stopping releases a waiter at once.
        pacing.drained();
        let waiter = spawn_wait(&pacing, "x");
        tokio::task::yield_now().await;
        pacing.stop();
        assert_eq!(waiter.await.unwrap(), Duration::ZERO);
        // Disabled: never waits.
        let off = Pacing::new(false);
        off.raise(1, ">");
        let start = Instant::now();
        off.wait("x").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[test]
    fn wildcards() {
        assert!(subject_matches("a.b", "a.b"));
        assert!(!subject_matches("a.b", "a.b.c"));
        assert!(!subject_matches("a.b.c", "a.b"));
        assert!(subject_matches("a.*", "a.b"));
        assert!(!subject_matches("a.*", "a"));
        assert!(subject_matches("a.>", "a.b.c"));
        assert!(!subject_matches("a.>", "a"));
        assert!(subject_matches(">", "x"));
        assert!(subject_matches("*.b.>", "a.b.c.d"));
        assert!(!subject_matches("*.b.>", "a.c.d"));
    }
}
