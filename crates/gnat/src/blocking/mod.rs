//! A blocking API: the same client for programs without `async` (tools, tests, scripts).
//!
//! ```no_run
//! # fn demo() -> Result<(), gnat::Error> {
//! use std::time::Duration;
//!
//! let client = gnat::blocking::connect("nats://127.0.0.1:4222")?;
//! let mut sub = client.subscribe("greet.*")?;
//! client.publish("greet.joe", "hello")?;
//! client.flush()?;
//! if let Some(msg) = sub.next_timeout(Duration::from_secs(1)) {
//!     println!("{} -> {:?}", msg.subject, msg.payload);
//! }
//! for msg in sub.by_ref().take(10) {
//!     println!("{:?}", msg.payload);
//! }
//! client.close();
//! # Ok(()) }
//! ```
//!
//! ## How it works
//!
//! Each [`Client`] starts one background thread that runs a private single-threaded tokio
//! runtime; the async client, its connection and every subscription, consumer and watcher
//! made from it live there. A blocking call first polls the async operation once on the
//! calling thread (a publish that fits the write buffer completes right there, without a
//! thread hop), and otherwise hands it to the runtime thread and waits for the result.
//! The thread ends when the client and everything made from it are dropped: the connection
//! is closed first (queued publishes get a bounded chance to reach the server).
//!
//! The calls never need, use or disturb a tokio runtime of the caller's: the client can be
//! created, used and dropped on a plain thread or inside a runtime. Inside one, a blocking
//! call blocks that runtime's worker thread while it waits, as any blocking call does —
//! prefer the async API in async code, or wrap calls in `tokio::task::spawn_blocking`. Do not
//! call the blocking API from an [`event callback`](crate::ConnectOptions::event_callback):
//! the callback runs on the runtime thread that would have to answer the call.
//!
//! With the `jetstream` feature, `Client::jetstream` gives a `JetStream` for publishing with
//! acks; with `kv`, `JetStream::key_value` and `JetStream::create_key_value` give a Key-Value
//! `Store`.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::{
    Bytes, ConnectOptions, Error, ErrorKind, HeaderMap, Message, Request, Result, State, Statistics,
};

#[cfg(feature = "jetstream")]
mod jetstream;
#[cfg(feature = "kv")]
mod kv;
mod subscription;

#[cfg(feature = "jetstream")]
pub use self::jetstream::JetStream;
#[cfg(feature = "kv")]
pub use self::kv::{Store, Watcher};
pub use self::subscription::Subscription;

/// How long dropping the last handle waits for the connection to close (flushing what was
/// queued) before the runtime thread stops anyway.
const CLOSE_ON_DROP_BOUND: Duration = Duration::from_secs(10);

/// The private runtime thread shared by a client and everything made from it.
pub(crate) struct Runtime {
    handle: tokio::runtime::Handle,
    thread_id: ThreadId,
    /// Told to stop (with the client to close first) when the last handle is dropped.
    stop: Mutex<Option<oneshot::Sender<Option<client::Client>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The client to close on the way out, once connected.
    client: Mutex<Option<client::Client>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Runtime {
    fn start() -> Result<Arc<Runtime>> {
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (stop_tx, stop_rx) = oneshot::channel::<Option<client::Client>>();
        let thread = std::thread::Builder::new()
            .name("gnat-blocking".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(rt.handle().clone()));
                rt.block_on(async move {
                    if let Ok(Some(client)) = stop_rx.await {
                        let _ = tokio::time::timeout(CLOSE_ON_DROP_BOUND, client.close()).await;
                    }
                });
                // Whatever is still running (tasks of dropped subscriptions, watchers) ends
                // here, without waiting for anything.
                rt.shutdown_background();
            })
            .map_err(|e| Error::new(ErrorKind::Io, format!("blocking runtime thread: {e}")))?;
        let handle = match ready_rx.recv() {
            Ok(Ok(handle)) => handle,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("blocking runtime could not start: {e}"),
                ));
            }
            Err(_) => {
                let _ = thread.join();
                return Err(Error::new(
                    ErrorKind::Io,
                    "blocking runtime thread ended while starting",
                ));
            }
        };
        Ok(Arc::new(Runtime {
            handle,
            thread_id: thread.thread().id(),
            stop: Mutex::new(Some(stop_tx)),
            thread: Mutex::new(Some(thread)),
            client: Mutex::new(None),
        }))
    }

    /// Runs `fut` to completion: first one poll on this thread (in the runtime's context, so
    /// timers and tasks it creates belong to the runtime), then, if it is not done, on the
    /// runtime thread while this thread waits. `gone` is the answer if the runtime thread
    /// has stopped (it only stops when every handle is dropped, so this is a backstop).
    pub(crate) fn run<F>(&self, fut: F, gone: impl FnOnce() -> F::Output) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut fut = Box::pin(fut);
        {
            let _context = self.handle.enter();
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().unwrap_or_else(|_| gone())
    }

    /// Runs `f` in the runtime's context on this thread: for drops of async objects whose
    /// `Drop` may start a task.
    pub(crate) fn enter<T>(&self, f: impl FnOnce() -> T) -> T {
        let _context = self.handle.enter();
        f()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let client = lock(&self.client).take();
        if let Some(stop) = lock(&self.stop).take() {
            let _ = stop.send(client);
        }
        if std::thread::current().id() == self.thread_id {
            // Dropped on the runtime thread itself (from a callback): it stops on its own.
            return;
        }
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

fn closed() -> Error {
    Error::new(
        ErrorKind::Closed,
        "the blocking client's runtime has stopped",
    )
}

/// Connects with default options to `urls` (comma-separated), returning a blocking client.
pub fn connect(urls: impl AsRef<str>) -> Result<Client> {
    Client::connect(urls)
}

/// A blocking NATS client: a thin wrapper over the async [`crate::Client`], run on a private
/// runtime thread (see the [module docs](self)). Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Client {
    // Field order matters: the async client is dropped before the runtime. (Dropping the
    // last async handle only tells the connection to close; it needs no runtime context.)
    client: client::Client,
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Client")
            .field("state", &self.client.state())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects with default options to `urls` (comma-separated).
    pub fn connect(urls: impl AsRef<str>) -> Result<Client> {
        Client::connect_with(ConnectOptions::new(), urls)
    }

    /// Connects with `options` to `urls` (comma-separated).
    pub fn connect_with(options: ConnectOptions, urls: impl AsRef<str>) -> Result<Client> {
        let rt = Runtime::start()?;
        let urls = urls.as_ref().to_owned();
        let client = rt.run(async move { options.connect(urls).await }, || Err(closed()))?;
        *lock(&rt.client) = Some(client.clone());
        Ok(Client { client, rt })
    }

    /// The async client underneath, for what this wrapper does not offer. Its futures need a
    /// tokio runtime of the caller's to run on.
    pub fn as_async(&self) -> &client::Client {
        &self.client
    }

    fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.rt.run(fut, || Err(closed()))
    }

    /// Publishes `payload` to `subject`; see [`crate::Client::publish`].
    pub fn publish(&self, subject: impl AsRef<str>, payload: impl Into<Bytes>) -> Result<()> {
        let client = self.client.clone();
        let subject = subject.as_ref().to_owned();
        let payload = payload.into();
        self.run(async move { client.publish(subject, payload).await })
    }

    /// Publishes with a reply subject.
    pub fn publish_with_reply(
        &self,
        subject: impl AsRef<str>,
        reply: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        let client = self.client.clone();
        let subject = subject.as_ref().to_owned();
        let reply = reply.as_ref().to_owned();
        let payload = payload.into();
        self.run(async move { client.publish_with_reply(subject, reply, payload).await })
    }

    /// Publishes with headers.
    pub fn publish_with_headers(
        &self,
        subject: impl AsRef<str>,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        let client = self.client.clone();
        let subject = subject.as_ref().to_owned();
        let payload = payload.into();
        self.run(async move {
            client
                .publish_with_headers(subject, &headers, payload)
                .await
        })
    }

    /// Subscribes to `subject` (wildcards allowed) with the default limits.
    pub fn subscribe(&self, subject: impl AsRef<str>) -> Result<Subscription> {
        let client = self.client.clone();
        let subject = subject.as_ref().to_owned();
        let sub = self.run(async move { client.subscribe(subject).await })?;
        Ok(Subscription::new(sub, self.rt.clone()))
    }

    /// Subscribes as a member of queue group `queue`: each message goes to one member.
    pub fn queue_subscribe(
        &self,
        subject: impl AsRef<str>,
        queue: impl AsRef<str>,
    ) -> Result<Subscription> {
        let client = self.client.clone();
        let subject = subject.as_ref().to_owned();
        let queue = queue.as_ref().to_owned();
        let sub = self.run(async move { client.queue_subscribe(subject, queue).await })?;
        Ok(Subscription::new(sub, self.rt.clone()))
    }

    /// Sends a request and waits for the first reply, up to the client's request timeout;
    /// fails at once when nobody listens (see [`crate::Client::request`]).
    pub fn request(&self, subject: impl AsRef<str>, payload: impl Into<Bytes>) -> Result<Message> {
        self.send_request(subject, Request::new().payload(payload))
    }

    /// Sends a [`Request`] (headers, a timeout of its own).
    pub fn send_request(&self, subject: impl AsRef<str>, request: Request) -> Result<Message> {
        let client = self.client.clone();
        let subject = subject.as_ref().to_owned();
        self.run(async move { client.send_request(subject, request).await })
    }

    /// Waits until the server has processed everything sent before this call.
    pub fn flush(&self) -> Result<()> {
        let client = self.client.clone();
        self.run(async move { client.flush().await })
    }

    /// Unsubscribes everything, waits until queued messages were read (or their
    /// subscriptions dropped), flushes and closes; see [`crate::Client::drain`].
    pub fn drain(&self) -> Result<()> {
        let client = self.client.clone();
        self.run(async move { client.drain().await })
    }

    /// Closes the connection (queued publishes get a bounded chance to reach the server).
    pub fn close(&self) {
        let client = self.client.clone();
        self.rt.run(async move { client.close().await }, || ());
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        self.client.state()
    }

    /// The client's counters.
    pub fn statistics(&self) -> Statistics {
        self.client.statistics()
    }

    /// A new unique inbox subject.
    pub fn new_inbox(&self) -> String {
        self.client.new_inbox()
    }

    /// The largest payload the server accepts.
    pub fn max_payload(&self) -> usize {
        self.client.max_payload()
    }

    /// A JetStream context on this connection, for publishing with acks and the Key-Value
    /// store.
    #[cfg(feature = "jetstream")]
    pub fn jetstream(&self) -> JetStream {
        JetStream::new(
            ::jetstream::Context::new(self.client.clone()),
            self.rt.clone(),
        )
    }
}
