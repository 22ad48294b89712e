//! Endpoints: the per-endpoint statistics, the [`Endpoint`] stream of requests, and the task
//! that runs an async handler for each request ([`EndpointBuilder::serve`](crate::EndpointBuilder::serve)).
//!
//! Statistics are atomics (requests, errors, nanoseconds) plus a mutex for the last error
//! text that only an error takes, so handlers never serialize on them.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use client::{Subject, Subscription};
use futures_core::Stream;
use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::request::{Request, error_headers};
use crate::schema::{EndpointInfo, EndpointStats, Metadata};
use crate::service::Core;

/// What a service knows about one of its endpoints, shared with its requests.
pub(crate) struct EndpointShared {
    pub(crate) core: Arc<Core>,
    pub(crate) name: String,
    pub(crate) subject: String,
    pub(crate) queue_group: Option<String>,
    pub(crate) metadata: Metadata,
    num_requests: AtomicU64,
    num_errors: AtomicU64,
    processing_nanos: AtomicU64,
    last_error: Mutex<String>,
}

impl std::fmt::Debug for EndpointShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("subject", &self.subject)
            .field("queue_group", &self.queue_group)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl EndpointShared {
    pub(crate) fn new(
        core: Arc<Core>,
        name: String,
        subject: String,
        queue_group: Option<String>,
        metadata: Metadata,
    ) -> Self {
        EndpointShared {
            core,
            name,
            subject,
            queue_group,
            metadata,
            num_requests: AtomicU64::new(0),
            num_errors: AtomicU64::new(0),
            processing_nanos: AtomicU64::new(0),
            last_error: Mutex::new(String::new()),
        }
    }

    /// Counts one finished request.
    pub(crate) fn record(&self, elapsed: Duration, error: Option<String>) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.processing_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.num_requests.fetch_add(1, Ordering::Relaxed);
        if let Some(error) = error {
            self.record_error(error);
        }
    }

    /// Counts an error on a request already counted (a handler that panicked).
    pub(crate) fn record_error(&self, error: String) {
        self.num_errors.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_error) = error;
    }

    pub(crate) fn reset(&self) {
        self.num_requests.store(0, Ordering::Relaxed);
        self.num_errors.store(0, Ordering::Relaxed);
        self.processing_nanos.store(0, Ordering::Relaxed);
        lock(&self.last_error).clear();
    }

    pub(crate) fn info(&self) -> EndpointInfo {
        EndpointInfo {
            name: self.name.clone(),
            subject: self.subject.clone(),
            queue_group: self.queue_group.clone().unwrap_or_default(),
            metadata: self.metadata.clone(),
        }
    }

    /// The statistics now (without `data`, which the service's stats handler fills in).
    pub(crate) fn stats(&self) -> EndpointStats {
        let num_requests = self.num_requests.load(Ordering::Relaxed);
        let processing_time = self.processing_nanos.load(Ordering::Relaxed);
        EndpointStats {
            name: self.name.clone(),
            subject: self.subject.clone(),
            queue_group: self.queue_group.clone().unwrap_or_default(),
            num_requests,
            num_errors: self.num_errors.load(Ordering::Relaxed),
            last_error: lock(&self.last_error).clone(),
            data: None,
            processing_time,
            average_processing_time: processing_time.checked_div(num_requests).unwrap_or(0),
        }
    }
}

/// Counts an endpoint (or the discovery responder) as open until it has finished: stop waits
/// for the count to reach zero.
pub(crate) struct OpenGuard {
    core: Option<Arc<Core>>,
}

impl OpenGuard {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        core.open_started();
        OpenGuard { core: Some(core) }
    }

    pub(crate) fn release(&mut self) {
        if let Some(core) = self.core.take() {
            core.open_finished();
        }
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.release();
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An endpoint's requests as a [`Stream`]: each item is a [`Request`] to answer.
///
/// When the service stops, the stream drains its subscription (the server confirms the
/// unsubscribe), yields the requests that had already arrived, then ends. The draining
/// happens while the stream is polled, so keep reading it until it ends. Dropping it
/// unsubscribes at once.
///
/// ```no_run
/// # async fn demo(service: gnat_service::Service) -> Result<(), gnat_service::Error> {
/// use futures_util::StreamExt;
/// let mut requests = service.endpoint("echo").add().await?;
/// while let Some(request) = requests.next().await {
///     let payload = request.payload().clone();
///     request.respond(payload).await?;
/// }
/// # Ok(()) }
/// ```
pub struct Endpoint {
    shared: Arc<EndpointShared>,
    sub: Option<Subscription>,
    draining: Option<BoxFuture<Subscription>>,
    drain_started: bool,
    stop: BoxFuture<()>,
    open: OpenGuard,
}

impl Endpoint {
    pub(crate) fn new(shared: Arc<EndpointShared>, sub: Subscription) -> Self {
        let open = OpenGuard::new(shared.core.clone());
        let stop = shared.core.stop_signal();
        Endpoint {
            shared,
            sub: Some(sub),
            draining: None,
            drain_started: false,
            stop,
            open,
        }
    }

    /// The endpoint's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The subject it listens on.
    pub fn subject(&self) -> &str {
        &self.shared.subject
    }

    /// Its queue group, or `None` when it subscribes without one.
    pub fn queue_group(&self) -> Option<&str> {
        self.shared.queue_group.as_deref()
    }

    /// Its statistics now.
    pub fn stats(&self) -> EndpointStats {
        self.shared.stats()
    }

    fn start_drain(&mut self) {
        self.drain_started = true;
        if let Some(mut sub) = self.sub.take() {
            self.draining = Some(Box::pin(async move {
                // A failed drain (the client closed) ends the subscription anyway.
                let _ = sub.drain().await;
                sub
            }));
        }
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.shared.name)
            .field("subject", &self.shared.subject)
            .field("queue_group", &self.shared.queue_group)
            .finish_non_exhaustive()
    }
}

impl Stream for Endpoint {
    type Item = Request;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Request>> {
        let this = &mut *self;
        loop {
            if let Some(draining) = this.draining.as_mut() {
                let sub = std::task::ready!(draining.as_mut().poll(cx));
                this.draining = None;
                this.sub = Some(sub);
            }
            if !this.drain_started && this.shared.core.is_stopping() {
                this.start_drain();
                continue;
            }
            let Some(sub) = this.sub.as_mut() else {
                this.open.release();
                return Poll::Ready(None);
            };
            match Pin::new(sub).poll_next(cx) {
                Poll::Ready(Some(msg)) => {
                    return Poll::Ready(Some(Request::new(msg, this.shared.clone())));
                }
                Poll::Ready(None) => {
                    this.sub = None;
                    this.open.release();
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    if !this.drain_started && this.stop.as_mut().poll(cx).is_ready() {
                        this.start_drain();
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// Runs `handler` for each request of `sub`, up to `concurrency` at once, until the
/// subscription ends (it drains when the service stops). A handler that panics — when called
/// or while running — is answered with a 500 error and counted as an error.
pub(crate) async fn run<F, Fut>(
    mut sub: Subscription,
    shared: Arc<EndpointShared>,
    handler: F,
    concurrency: usize,
    _open: OpenGuard,
) where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut stop = shared.core.stop_signal();
    let mut running = FuturesUnordered::new();
    let mut stopping = false;
    let mut ended = false;
    loop {
        // The flag is a load; the stop future (a watch) is polled only when idle, below.
        if !stopping && shared.core.is_stopping() {
            stopping = true;
            // A failed drain (the client closed) ends the subscription anyway.
            let _ = sub.drain().await;
        }
        tokio::select! {
            biased;
            Some((outcome, reply)) = running.next(), if !running.is_empty() => {
                if let Err(panic) = outcome {
                    handler_panicked(&shared, reply, panic).await;
                }
            }
            msg = sub.next(), if !ended && running.len() < concurrency => match msg {
                Some(msg) => {
                    let request = Request::new(msg, shared.clone());
                    let reply: Option<Subject> = request.reply().cloned();
                    match std::panic::catch_unwind(AssertUnwindSafe(|| handler(request))) {
                        Ok(fut) => {
                            let mut task = Box::pin(async move {
                                (AssertUnwindSafe(fut).catch_unwind().await, reply)
                            });
                            // Most handlers finish at once (answer, and the publish does not
                            // wait): polled here, they skip the set's queue altogether.
                            let first = std::future::poll_fn(|cx| {
                                Poll::Ready(task.as_mut().poll(cx))
                            })
                            .await;
                            match first {
                                Poll::Ready((Err(panic), reply)) => {
                                    handler_panicked(&shared, reply, panic).await;
                                }
                                Poll::Ready((Ok(()), _)) => {}
                                Poll::Pending => running.push(task),
                            }
                        }
                        Err(panic) => handler_panicked(&shared, reply, panic).await,
                    }
                }
                None => ended = true,
            },
            () = &mut stop, if !stopping => {
                stopping = true;
                let _ = sub.drain().await;
            }
        }
        if ended && running.is_empty() {
            break;
        }
    }
}

/// The text of a panic payload.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("handler panicked")
}

async fn handler_panicked(
    shared: &EndpointShared,
    reply: Option<Subject>,
    panic: Box<dyn std::any::Any + Send>,
) {
    // The request itself was counted when the handler dropped it; the panic is its error.
    let text = panic_text(&*panic);
    let description: String = format!("handler panicked: {text}")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(256)
        .collect();
    shared.record_error(format!("500:{description}"));
    if let Some(reply) = reply
        && let Ok(headers) = error_headers(500, &description)
    {
        let _ = shared
            .core
            .client
            .publish_with_headers(&reply, &headers, bytes::Bytes::new())
            .await;
    }
}
