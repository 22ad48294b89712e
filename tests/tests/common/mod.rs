//! Helpers shared by the end-to-end fault tests: deadlines, event logs, memory figures and the
//! opt-in switch for long runs.
//!
//! Nothing here sleeps for a fixed time: every wait is bounded by [`DEADLINE`] and ends as soon as
//! what it waits for happened.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different part of it

use std::time::{Duration, Instant};

use client::{Backoff, Client, ConnectOptions, Event, Message, Subscription};
use tokio::sync::mpsc;

/// The longest any single wait may take. Generous: it only bounds failures.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// True when the long variants should run (`GNAT_LONG_TESTS=1`).
pub fn long_tests() -> bool {
    std::env::var("GNAT_LONG_TESTS").is_ok_and(|v| v == "1")
}

/// Runs `fut` with the [`DEADLINE`], panicking with `what` when it expires.
pub async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {DEADLINE:?}"))
}

/// The next message, or a panic naming the subscription after [`DEADLINE`].
pub async fn next(sub: &mut Subscription) -> Message {
    match tokio::time::timeout(DEADLINE, sub.next()).await {
        Ok(Some(msg)) => msg,
        Ok(None) => panic!(
            "subscription {} ended ({:?}) while a message was expected",
            sub.subject(),
            sub.close_reason()
        ),
        Err(_) => panic!("no message on {} within {DEADLINE:?}", sub.subject()),
    }
}

/// Quick reconnects: 10 ms doubling up to 250 ms, 10 ms jitter.
pub fn fast_reconnect(opts: ConnectOptions) -> ConnectOptions {
    opts.reconnect_backoff(Backoff {
        base: Duration::from_millis(10),
        max: Duration::from_millis(250),
        jitter: Duration::from_millis(10),
    })
}

/// A flush barrier: once it returns, the server has processed everything `publisher` sent
/// before, and `subscriber`'s reader has queued every message the server routed to it.
pub async fn barrier(publisher: &Client, subscriber: &Client) {
    within("publisher flush", publisher.flush())
        .await
        .expect("publisher flush");
    within("subscriber flush", subscriber.flush())
        .await
        .expect("subscriber flush");
}

/// Every event of a client from its very first one, with the time it was raised (recorded by
/// the event callback, on the connection's task).
pub struct EventLog {
    rx: mpsc::UnboundedReceiver<(Instant, Event)>,
    /// Everything received so far, in order.
    pub seen: Vec<(Instant, Event)>,
}

impl EventLog {
    /// Options that record into a new log.
    pub fn options(opts: ConnectOptions) -> (ConnectOptions, EventLog) {
        let (tx, rx) = mpsc::unbounded_channel();
        let opts = opts.event_callback(move |event| {
            let _ = tx.send((Instant::now(), event.clone()));
        });
        (
            opts,
            EventLog {
                rx,
                seen: Vec::new(),
            },
        )
    }

    /// Waits for the next event matching `pred` (events already seen are not matched again);
    /// returns it with the time it was raised.
    pub async fn wait_for(
        &mut self,
        what: &str,
        pred: impl Fn(&Event) -> bool,
    ) -> (Instant, Event) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((at, event))) => {
                    self.seen.push((at, event.clone()));
                    if pred(&event) {
                        return (at, event);
                    }
                }
                Ok(None) => panic!(
                    "event callback dropped before {what}; saw {:?}",
                    self.events()
                ),
                Err(_) => panic!("no {what} within {DEADLINE:?}; saw {:?}", self.events()),
            }
        }
    }

    /// Takes in whatever has arrived, without waiting; returns every event so far.
    pub fn poll(&mut self) -> Vec<Event> {
        while let Ok(entry) = self.rx.try_recv() {
            self.seen.push(entry);
        }
        self.events()
    }

    fn events(&self) -> Vec<Event> {
        self.seen.iter().map(|(_, e)| e.clone()).collect()
    }
}

pub fn is_disconnected(e: &Event) -> bool {
    matches!(e, Event::Disconnected { .. })
}

pub fn is_reconnected(e: &Event) -> bool {
    matches!(e, Event::Reconnected { .. })
}

/// The reason of a `Disconnected` event.
pub fn reason(e: &Event) -> String {
    match e {
        Event::Disconnected { reason } => reason.clone(),
        other => panic!("not a Disconnected event: {other:?}"),
    }
}

/// A field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`).
pub fn proc_status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read {line:?}"));
    kib * 1024
}

/// Resets the process's peak RSS (`VmHWM`) to its current RSS; false where the kernel does not
/// allow it (then `VmHWM` is the peak since the process started).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Mebibytes, for messages.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
