//! Helpers for the real nats-server tests: deadlines, flush barriers, event waits.
//!
//! Nothing here sleeps for a fixed time. Every wait is bounded by [`DEADLINE`], and "nothing
//! else arrived" is checked after a flush barrier (see [`barrier`]), never by waiting a while.

#![allow(dead_code)]

use std::time::Duration;

use futures_util::FutureExt as _;
use gnat_client::{Backoff, Client, ConnectOptions, Event, Events, Message, Subscription};
use gnat_test_support::NatsServer;
use tokio::sync::mpsc;

/// The longest any single wait in these tests may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(15);

/// The next message, or a panic naming `sub` after [`DEADLINE`] (or if the stream ended).
pub(crate) async fn next(sub: &mut Subscription) -> Message {
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

/// Asserts that the stream ends (yields `None`) within [`DEADLINE`] without another message.
pub(crate) async fn assert_ends(sub: &mut Subscription) {
    match tokio::time::timeout(DEADLINE, sub.next()).await {
        Ok(None) => {}
        Ok(Some(msg)) => panic!("{}: expected the end, got {msg:?}", sub.subject()),
        Err(_) => panic!("{} did not end within {DEADLINE:?}", sub.subject()),
    }
}

/// Everything the subscription can yield right now, without waiting. Use after a [`barrier`].
pub(crate) fn take_ready(sub: &mut Subscription) -> Vec<Message> {
    let mut got = Vec::new();
    while let Some(Some(msg)) = sub.next().now_or_never() {
        got.push(msg);
    }
    got
}

/// True if the stream has ended right now (a `None` is ready).
pub(crate) fn has_ended(sub: &mut Subscription) -> bool {
    matches!(sub.next().now_or_never(), Some(None))
}

/// A flush barrier: once it returns, the server has processed everything `publisher` sent
/// before, and every message it routed to `subscriber` (on one server) has been read by
/// `subscriber`'s reader and queued in its subscriptions: the server answers the subscriber's
/// PING after the messages it queued for it earlier.
pub(crate) async fn barrier(publisher: &Client, subscriber: &Client) {
    within("publisher flush", publisher.flush())
        .await
        .expect("publisher flush");
    within("subscriber flush", subscriber.flush())
        .await
        .expect("subscriber flush");
}

/// Runs `fut` with the [`DEADLINE`], panicking with `what` when it expires.
pub(crate) async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {DEADLINE:?}"))
}

/// Waits on an [`Events`] stream for the first event matching `pred`; returns it and the
/// events skipped on the way.
pub(crate) async fn wait_event(
    events: &mut Events,
    what: &str,
    pred: impl Fn(&Event) -> bool,
) -> (Event, Vec<Event>) {
    let mut skipped = Vec::new();
    let found = tokio::time::timeout(DEADLINE, async {
        while let Some(event) = events.next().await {
            if pred(&event) {
                return Some(event);
            }
            skipped.push(event);
        }
        None
    })
    .await;
    match found {
        Ok(Some(event)) => (event, skipped),
        Ok(None) => panic!("event stream ended before {what}; saw {skipped:?}"),
        Err(_) => panic!("no {what} within {DEADLINE:?}; saw {skipped:?}"),
    }
}

/// Events that are ready now, without waiting.
pub(crate) fn ready_events(events: &mut Events) -> Vec<Event> {
    let mut got = Vec::new();
    while let Some(Some(event)) = events.next().now_or_never() {
        got.push(event);
    }
    got
}

/// Every event of a client from its very first one (recorded by the event callback, so the
/// `Connected` that the driver raises before `connect` returns is not missed).
pub(crate) struct EventLog {
    rx: mpsc::UnboundedReceiver<Event>,
    /// Everything received so far, in order.
    pub(crate) seen: Vec<Event>,
}

impl EventLog {
    /// Options that record into a new log.
    pub(crate) fn options(opts: ConnectOptions) -> (ConnectOptions, EventLog) {
        let (tx, rx) = mpsc::unbounded_channel();
        let opts = opts.event_callback(move |event| {
            let _ = tx.send(event.clone());
        });
        (
            opts,
            EventLog {
                rx,
                seen: Vec::new(),
            },
        )
    }

    /// Waits for the next event matching `pred` (events already seen are not matched again).
    pub(crate) async fn wait_for(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(event)) => {
                    self.seen.push(event.clone());
                    if pred(&event) {
                        return event;
                    }
                }
                Ok(None) => panic!("event callback dropped before {what}; saw {:?}", self.seen),
                Err(_) => panic!("no {what} within {DEADLINE:?}; saw {:?}", self.seen),
            }
        }
    }

    /// Takes in whatever has arrived without waiting.
    pub(crate) fn poll(&mut self) -> &[Event] {
        while let Ok(event) = self.rx.try_recv() {
            self.seen.push(event);
        }
        &self.seen
    }
}

/// Quick reconnects, so restarts do not wait on a long backoff.
pub(crate) fn fast_reconnect(opts: ConnectOptions) -> ConnectOptions {
    opts.reconnect_backoff(Backoff {
        base: Duration::from_millis(10),
        max: Duration::from_millis(250),
        jitter: Duration::from_millis(10),
    })
}

/// Runs blocking harness code (server restarts poll with `std::thread::sleep`) without
/// stalling the runtime's other tasks. Needs the multi-thread runtime.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// `host:port` of a server, the form events and `connect_urls` use.
pub(crate) fn host_port(server: &NatsServer) -> String {
    format!("127.0.0.1:{}", server.port())
}

/// The subscriptions the server holds for the connection named `name` (subject, queue group),
/// sorted, from the monitoring endpoint `/connz?subs=detail`.
pub(crate) fn server_subs(server: &NatsServer, name: &str) -> Vec<(String, Option<String>)> {
    let connz = server
        .monitor_json("/connz?subs=detail")
        .expect("/connz from the monitoring port");
    let conns = connz["connections"].as_array().cloned().unwrap_or_default();
    let conn = conns
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no connection named {name} in {connz}"));
    let mut subs: Vec<(String, Option<String>)> = conn["subscriptions_list_detail"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            (
                s["subject"].as_str().unwrap_or_default().to_string(),
                s["qgroup"].as_str().map(str::to_string),
            )
        })
        .collect();
    subs.sort();
    subs
}

/// A payload of `len` bytes whose content depends on `seed` (so mix-ups are detected).
pub(crate) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 8) as u8))
        .collect()
}
