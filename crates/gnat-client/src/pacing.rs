//! Publish pacing by the client's own subscribers.
//!
//! A client that publishes to subjects it also subscribes to can publish far faster than its
//! own subscription is read: the messages come back through the server into that
//! subscription's queue, and past the queue's limits they are dropped as a slow consumer. With
//! one connection task (async-nats) the publisher is held back by construction; here the
//! publish path, the reader and the subscriber run apart, so the client paces its publishers
//! explicitly, and only while it helps:
//!
//! * a subscription whose queue passes half of either limit is *backlogged* until its reader
//!   brings it down to a quarter;
//! * while any subscription is backlogged, a publish waits for that — but only as long as the
//!   backlogged subscriptions are being read. If no batch is taken from them for
//!   [`STALL`], the publisher goes on, and the next publishes do not wait again until a
//!   batch is taken. A subscription read by the publishing task itself, one that is not read
//!   at all, or one read very slowly therefore costs a publisher at most one short wait per
//!   batch its reader takes: it never deadlocks, and slow consumers still drop and count as
//!   before.
//!
//! The cost on the publish path when nothing is backlogged is one relaxed atomic load.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// How long a publisher waits for a backlogged subscription's reader to take a batch before
/// it concludes that the reader is not draining it (rounded up to tokio's 1 ms timer
/// tick).
pub(crate) const STALL: Duration = Duration::from_millis(10);

/// No give-up recorded.
const NEVER: u64 = u64::MAX;

/// The pacing state of one client.
pub(crate) struct Pacing {
    enabled: bool,
    /// Subscriptions above their high-water mark.
    backlogged: AtomicUsize,
    /// Batches taken by readers of backlogged subscriptions.
    progress: AtomicU64,
    /// The value of `progress` when a publisher last gave up waiting, or [`NEVER`].
    stalled_at: AtomicU64,
    /// Signalled when a subscription leaves the backlogged state.
    relieved: Notify,
}

impl Pacing {
    pub(crate) fn new(enabled: bool) -> Self {
        Pacing {
            enabled,
            backlogged: AtomicUsize::new(0),
            progress: AtomicU64::new(0),
            stalled_at: AtomicU64::new(NEVER),
            relieved: Notify::new(),
        }
    }

    /// A subscription passed its high-water mark.
    pub(crate) fn raise(&self) {
        self.backlogged.fetch_add(1, Ordering::AcqRel);
    }

    /// A backlogged subscription is down to its low-water mark, or gone.
    pub(crate) fn lower(&self) {
        self.backlogged.fetch_sub(1, Ordering::AcqRel);
        self.relieved.notify_waiters();
    }

    /// The reader of a backlogged subscription took a batch.
    pub(crate) fn progressed(&self) {
        self.progress.fetch_add(1, Ordering::AcqRel);
    }

    /// True while some subscription is backlogged (whether or not publishers are paced).
    #[inline]
    pub(crate) fn any_backlogged(&self) -> bool {
        self.backlogged.load(Ordering::Relaxed) != 0
    }

    /// Waits while publishing would outrun a subscription that is being read (see the module
    /// docs); returns at once when none is backlogged.
    #[inline]
    pub(crate) async fn wait(&self) {
        if self.enabled && self.any_backlogged() {
            self.wait_slow().await;
        }
    }

    async fn wait_slow(&self) {
        loop {
            let relieved = self.relieved.notified();
            tokio::pin!(relieved);
            relieved.as_mut().enable();
            if self.backlogged.load(Ordering::Acquire) == 0 {
                return;
            }
            let before = self.progress.load(Ordering::Acquire);
            if self.stalled_at.load(Ordering::Acquire) == before {
                // Nobody has read a backlogged subscription since the last give-up.
                return;
            }
            if tokio::time::timeout(STALL, relieved).await.is_err()
                && self.progress.load(Ordering::Acquire) == before
            {
                self.stalled_at.store(before, Ordering::Release);
                return;
            }
        }
    }
}

/// Where a queue stands against its high- (half) and low- (quarter) water marks.
pub(crate) fn above_high(len: usize, bytes: usize, max_len: usize, max_bytes: usize) -> bool {
    len > max_len / 2 || bytes > max_bytes / 2
}

/// True when a backlogged queue has come down far enough to stop pacing.
pub(crate) fn below_low(len: usize, bytes: usize, max_len: usize, max_bytes: usize) -> bool {
    len <= max_len / 4 && bytes <= max_bytes / 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_publisher_waits_only_while_the_backlog_is_read() {
        let pacing = std::sync::Arc::new(Pacing::new(true));
        // Nothing backlogged: no wait.
        pacing.wait().await;
        pacing.raise();
        // Backlogged and nobody reading: one STALL, then no more waits.
        let start = tokio::time::Instant::now();
        pacing.wait().await;
        assert!(start.elapsed() >= STALL);
        let again = tokio::time::Instant::now();
        pacing.wait().await;
        assert_eq!(again.elapsed(), Duration::ZERO);
        // A reader takes a batch: publishers wait again, until the backlog is relieved.
        pacing.progressed();
        let waiter = {
            let pacing = pacing.clone();
            tokio::spawn(async move { pacing.wait().await })
        };
        // Batches taken every 200 µs for 10 ms: longer than many STALLs.
        for _ in 0..50 {
            pacing.progressed();
            tokio::time::advance(Duration::from_micros(200)).await;
            tokio::task::yield_now().await;
        }
        assert!(
            !waiter.is_finished(),
            "returned while the reader was draining"
        );
        pacing.lower();
        waiter.await.unwrap();
        // Disabled: never waits.
        let off = Pacing::new(false);
        off.raise();
        let start = tokio::time::Instant::now();
        off.wait().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[test]
    fn water_marks() {
        assert!(!above_high(50, 0, 100, 1000));
        assert!(above_high(51, 0, 100, 1000));
        assert!(above_high(0, 501, 100, 1000));
        assert!(below_low(25, 250, 100, 1000));
        assert!(!below_low(26, 0, 100, 1000));
        assert!(!below_low(0, 251, 100, 1000));
    }
}
