//! Connection events and statistics.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

use crate::lock;

/// Something that happened to the connection.
///
/// With the crate feature `tracing`, every event is also emitted as a [`tracing`] event
/// (target `gnat_client::events`) when it happens, with its fields: `Connected`,
/// `Reconnected` and `Closed` at INFO; `Disconnected` (field `error`), `LameDuckMode`,
/// `SlowConsumer` (fields `sid`, `subject`) and `PermissionViolation` at WARN; `ServerError`
/// at ERROR; `ServersDiscovered` at DEBUG. `server` names the server as `host:port`.
///
/// Besides these, the `tracing` feature reports what has no `Event` of its own: each failed
/// connection attempt at WARN (`"connect attempt failed"` for the first connect,
/// `"reconnect attempt failed"` after a disconnect; fields `server`, `attempt`, counted from 1,
/// and `error`), each failed TLS handshake at WARN (`"TLS handshake failed"`; fields `server`
/// and `error`), and a DEBUG span `request` (field `subject`) around every request/reply
/// exchange.
///
/// [`tracing`]: https://docs.rs/tracing
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Connected for the first time, to `server`.
    Connected {
        /// The server (`host:port`).
        server: String,
    },
    /// The connection dropped; the client reconnects unless it was closed.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// Connected again after a disconnect; subscriptions were restored.
    Reconnected {
        /// The server (`host:port`).
        server: String,
    },
    /// The server entered lame duck mode; the client moves to another server.
    LameDuckMode {
        /// The server (`host:port`).
        server: String,
    },
    /// A subscription started dropping messages because its limits were reached. Raised once
    /// per episode: a new one only after the subscription's backlog fell below half its limits.
    SlowConsumer {
        /// The subscription's id.
        sid: u64,
        /// The subscription's subject.
        subject: String,
    },
    /// The server sent `-ERR`. Fatal errors are followed by a disconnect.
    ServerError {
        /// The server's text, without quotes.
        message: String,
    },
    /// The server refused a publish or subscription (`Permissions Violation …`). For a
    /// subscription, `sid` names the one that was closed.
    PermissionViolation {
        /// The server's text.
        message: String,
        /// The local subscription that was closed, when one matched.
        sid: Option<u64>,
    },
    /// The server pool grew with servers the cluster announced.
    ServersDiscovered {
        /// The new servers (`host:port`).
        servers: Vec<String>,
    },
    /// Credentials for a connection attempt could not be had: a credentials file that became
    /// unreadable or invalid, a failing signer or auth callback. The attempt fails (nothing
    /// older is reused) and the next one comes after the backoff.
    CredentialsError {
        /// The server the attempt was for, `host:port`.
        server: String,
        /// What went wrong (never the secret itself).
        message: String,
    },
    /// The client is closed for good.
    Closed,
}

/// Counters of one client, since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statistics {
    /// Messages received (all subscriptions and replies).
    pub in_messages: u64,
    /// Payload bytes received.
    pub in_bytes: u64,
    /// Messages published.
    pub out_messages: u64,
    /// Payload bytes published.
    pub out_bytes: u64,
    /// Successful reconnects.
    pub reconnects: u64,
    /// Messages dropped because a subscription was over its limits.
    pub slow_consumer_drops: u64,
    /// Publishes refused because the reconnect buffer was full.
    pub reconnect_buffer_rejections: u64,
    /// Bytes handed to a connection that died before the server confirmed them; they may or
    /// may not have been processed.
    pub unconfirmed_bytes: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) in_messages: AtomicU64,
    pub(crate) in_bytes: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) slow_consumer_drops: AtomicU64,
    pub(crate) reconnect_buffer_rejections: AtomicU64,
    pub(crate) unconfirmed_bytes: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

const EVENT_QUEUE_CAPACITY: usize = 1024;

struct EventQueue {
    items: VecDeque<Event>,
    lagged: u64,
    waker: Option<Waker>,
    closed: bool,
}

/// The application's event callback.
pub(crate) type EventCallback = Arc<dyn Fn(&Event) + Send + Sync>;

/// Fans events out to the callback and to every live [`Events`] stream.
pub(crate) struct EventHub {
    listeners: Mutex<Vec<Weak<Mutex<EventQueue>>>>,
    closed: std::sync::atomic::AtomicBool,
    callback: Option<EventCallback>,
}

impl EventHub {
    pub(crate) fn new(callback: Option<EventCallback>) -> Self {
        EventHub {
            listeners: Mutex::new(Vec::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
            callback,
        }
    }

    pub(crate) fn subscribe(&self) -> Events {
        let queue = Arc::new(Mutex::new(EventQueue {
            items: VecDeque::new(),
            lagged: 0,
            waker: None,
            closed: self.closed.load(Ordering::Acquire),
        }));
        lock(&self.listeners).push(Arc::downgrade(&queue));
        Events { queue }
    }

    pub(crate) fn emit(&self, event: Event) {
        #[cfg(feature = "tracing")]
        trace(&event);
        if let Some(cb) = &self.callback {
            cb(&event);
        }
        let closing = event == Event::Closed;
        if closing {
            self.closed.store(true, Ordering::Release);
        }
        let mut listeners = lock(&self.listeners);
        listeners.retain(|weak| {
            let Some(queue) = weak.upgrade() else {
                return false;
            };
            let mut q = lock(&queue);
            if q.items.len() >= EVENT_QUEUE_CAPACITY {
                q.items.pop_front();
                q.lagged += 1;
            }
            q.items.push_back(event.clone());
            if closing {
                q.closed = true;
            }
            if let Some(w) = q.waker.take() {
                w.wake();
            }
            true
        });
    }
}

/// The `tracing` side of [`EventHub::emit`]: one event per connection event, with fields.
#[cfg(feature = "tracing")]
fn trace(event: &Event) {
    match event {
        Event::Connected { server } => tracing::info!(server = %server, "connected"),
        Event::Disconnected { reason } => tracing::warn!(error = %reason, "disconnected"),
        Event::Reconnected { server } => tracing::info!(server = %server, "reconnected"),
        Event::LameDuckMode { server } => {
            tracing::warn!(server = %server, "server in lame duck mode; moving to another")
        }
        Event::SlowConsumer { sid, subject } => tracing::warn!(
            sid = *sid,
            subject = %subject,
            "slow consumer: subscription over its limits, dropping messages"
        ),
        Event::ServerError { message } => tracing::error!(error = %message, "server error"),
        Event::PermissionViolation { message, sid } => {
            tracing::warn!(error = %message, sid = ?sid, "permissions violation")
        }
        Event::ServersDiscovered { servers } => {
            tracing::debug!(servers = ?servers, "servers discovered")
        }
        Event::CredentialsError { server, message } => {
            tracing::error!(server = %server, error = %message, "credentials unavailable")
        }
        Event::Closed => tracing::info!("closed"),
    }
}

/// A connection attempt to `server` failed (`tracing` feature only; no [`Event`] exists for
/// it). `reconnect` tells the first connect from the attempts after a disconnect.
#[cfg(feature = "tracing")]
pub(crate) fn trace_attempt_failed(
    server: &str,
    attempt: u32,
    error: &crate::Error,
    reconnect: bool,
) {
    if reconnect {
        tracing::warn!(server = %server, attempt, error = %error, "reconnect attempt failed");
    } else {
        tracing::warn!(server = %server, attempt, error = %error, "connect attempt failed");
    }
}

/// A TLS handshake with `server` failed (`tracing` and `tls` features only).
#[cfg(all(feature = "tracing", feature = "tls"))]
pub(crate) fn trace_tls_failed(server: &str, error: &crate::Error) {
    tracing::warn!(server = %server, error = %error, "TLS handshake failed");
}

/// A stream of [`Event`]s from [`Client::events`](crate::Client::events). It ends after
/// [`Event::Closed`]. It keeps the latest 1024 events if not read; older ones are counted by
/// [`Events::lagged`].
pub struct Events {
    queue: Arc<Mutex<EventQueue>>,
}

impl Events {
    /// Events dropped because this stream was not read fast enough.
    pub fn lagged(&self) -> u64 {
        lock(&self.queue).lagged
    }

    /// The next event, or `None` after the client closed.
    pub async fn next(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut q = lock(&self.queue);
        if let Some(event) = q.items.pop_front() {
            return Poll::Ready(Some(event));
        }
        if q.closed {
            return Poll::Ready(None);
        }
        q.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}
