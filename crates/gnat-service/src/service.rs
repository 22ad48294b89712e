//! [`Service`], its [`ServiceBuilder`], [`Group`]s and the [`EndpointBuilder`] (ADR-32
//! "Design", "Adding groups and endpoints", "Request Handling").

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use client::Client;
use tokio::sync::{Notify, watch};

use crate::endpoint::{Endpoint, EndpointShared};
use crate::error::{Error, ErrorKind, Result};
use crate::request::Request;
use crate::schema::{
    EndpointStats, INFO_RESPONSE_TYPE, InfoResponse, Metadata, PING_RESPONSE_TYPE, PingResponse,
    STATS_RESPONSE_TYPE, StatsResponse,
};
use crate::validate;

/// The queue group endpoints use unless told otherwise (ADR-32 "Request Handling").
pub const DEFAULT_QUEUE_GROUP: &str = "q";
/// The prefix of the discovery subjects (ADR-32 "Discovery and Status").
pub const DEFAULT_API_PREFIX: &str = "$SRV";
/// How many requests a [`serve`](EndpointBuilder::serve)d endpoint handles at once unless
/// told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 256;

/// A queue group choice that may defer to the enclosing group or service.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Queue {
    Inherit,
    Named(String),
    Disabled,
}

impl Queue {
    /// The queue group to use, given the enclosing one.
    fn resolve(&self, parent: Option<&str>) -> Option<String> {
        match self {
            Queue::Inherit => parent.map(str::to_string),
            Queue::Named(q) => Some(q.clone()),
            Queue::Disabled => None,
        }
    }
}

/// Computes per-endpoint `data` for STATS replies.
pub type StatsHandler = Arc<dyn Fn(&EndpointStats) -> serde_json::Value + Send + Sync>;

/// What the service's requests, endpoints and stop share.
pub(crate) struct Core {
    pub(crate) client: Client,
    stopping: AtomicBool,
    stop_tx: watch::Sender<bool>,
    /// Requests handed out and not yet answered or dropped.
    in_flight: AtomicUsize,
    /// Endpoints (and the discovery responder) still subscribed or draining.
    open: AtomicUsize,
    /// Signalled when either count reaches zero during a stop.
    settled: Notify,
}

impl Core {
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// A future that completes when the service stops (or can no longer be stopped).
    pub(crate) fn stop_signal(&self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let mut rx = self.stop_tx.subscribe();
        Box::pin(async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        })
    }

    pub(crate) fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 && self.is_stopping() {
            self.settled.notify_waiters();
        }
    }

    pub(crate) fn open_started(&self) {
        self.open.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn open_finished(&self) {
        if self.open.fetch_sub(1, Ordering::AcqRel) == 1 && self.is_stopping() {
            self.settled.notify_waiters();
        }
    }

    fn settled(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && self.open.load(Ordering::Acquire) == 0
    }
}

pub(crate) struct ServiceInner {
    pub(crate) core: Arc<Core>,
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) version: String,
    pub(crate) description: String,
    pub(crate) metadata: Metadata,
    pub(crate) api_prefix: String,
    queue_group: Option<String>,
    started: SystemTime,
    endpoints: Mutex<Vec<Arc<EndpointShared>>>,
    stats_handler: Option<StatsHandler>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Configures a [`Service`]; [`start`](ServiceBuilder::start) validates everything and
/// subscribes to the discovery subjects.
#[must_use = "a builder does nothing until `start`"]
pub struct ServiceBuilder {
    name: String,
    version: String,
    description: String,
    metadata: Metadata,
    queue: Queue,
    api_prefix: String,
    stats_handler: Option<StatsHandler>,
}

impl std::fmt::Debug for ServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceBuilder")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl ServiceBuilder {
    /// A human-readable description, reported by INFO.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Adds a metadata entry (fixed once the service starts).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The queue group of endpoints that do not choose their own (default
    /// [`DEFAULT_QUEUE_GROUP`], `q`).
    pub fn queue_group(mut self, queue: impl Into<String>) -> Self {
        self.queue = Queue::Named(queue.into());
        self
    }

    /// Endpoints that do not choose their own queue group subscribe without one: every
    /// instance receives every request (ADR-32 revision 5).
    pub fn no_queue_group(mut self) -> Self {
        self.queue = Queue::Disabled;
        self
    }

    /// The prefix of the discovery subjects instead of `$SRV`, kept as given (ADR-32
    /// "Discovery and Status").
    pub fn api_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.api_prefix = prefix.into();
        self
    }

    /// Computes each endpoint's `data` in STATS replies.
    pub fn stats_handler(
        mut self,
        handler: impl Fn(&EndpointStats) -> serde_json::Value + Send + Sync + 'static,
    ) -> Self {
        self.stats_handler = Some(Arc::new(handler));
        self
    }

    /// Validates the configuration (nothing is sent if it is invalid), generates the
    /// instance id, subscribes to `$SRV.PING|INFO|STATS` (alone, with the name, and with
    /// name and id) and waits until the server has the subscriptions.
    pub async fn start(self, client: &Client) -> Result<Service> {
        validate::validate_name("service", &self.name)?;
        validate::validate_version(&self.version)?;
        if let Queue::Named(q) = &self.queue {
            validate::validate_queue_group(q)?;
        }
        client::proto::validate_publish_subject(&self.api_prefix).map_err(|e| {
            Error::new(
                ErrorKind::InvalidSubject,
                format!("invalid API prefix {:?}: {e}", self.api_prefix),
            )
        })?;
        let (stop_tx, _) = watch::channel(false);
        let core = Arc::new(Core {
            client: client.clone(),
            stopping: AtomicBool::new(false),
            stop_tx,
            in_flight: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            settled: Notify::new(),
        });
        let inner = Arc::new(ServiceInner {
            core,
            name: self.name,
            id: client::rng::nuid(),
            version: self.version,
            description: self.description,
            metadata: self.metadata,
            api_prefix: self.api_prefix,
            queue_group: self.queue.resolve(Some(DEFAULT_QUEUE_GROUP)),
            started: SystemTime::now(),
            endpoints: Mutex::new(Vec::new()),
            stats_handler: self.stats_handler,
        });
        crate::monitor::start(inner.clone()).await?;
        client.flush().await?;
        Ok(Service { inner })
    }
}

/// What [`Service::stop`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StopReport {
    /// Every subscription drained and every request handed out was answered or dropped in
    /// time.
    pub finished: bool,
    /// Requests still being handled when `stop` returned.
    pub in_flight: usize,
    /// Endpoints still draining when `stop` returned (a stream endpoint drains while it is
    /// read).
    pub open_endpoints: usize,
}

/// A running service: discoverable through `$SRV.PING|INFO|STATS`, with endpoints added
/// directly or in [`Group`]s. Cheap to clone; it runs until [`stop`](Service::stop) or until
/// its client closes, whether or not a handle is kept.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let client = gnat_service::client::connect("nats://127.0.0.1:4222").await?;
/// let service = gnat_service::Service::builder("greeter", "1.0.0")
///     .description("says hello")
///     .start(&client)
///     .await?;
/// service
///     .group("greet")
///     .endpoint("hello")
///     .serve(|request| async move {
///         let _ = request.respond("hello").await;
///     })
///     .await?;
/// // requests to `greet.hello` are answered until:
/// let report = service.stop(std::time::Duration::from_secs(5)).await;
/// assert!(report.finished);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Service {
    inner: Arc<ServiceInner>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.inner.name)
            .field("id", &self.inner.id)
            .field("version", &self.inner.version)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Starts configuring a service named `name` (one or more of `A-Z a-z 0-9 - _`) at
    /// `version` (SemVer).
    pub fn builder(name: impl Into<String>, version: impl Into<String>) -> ServiceBuilder {
        ServiceBuilder {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            metadata: Metadata::new(),
            queue: Queue::Inherit,
            api_prefix: DEFAULT_API_PREFIX.to_string(),
            stats_handler: None,
        }
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// This instance's generated id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The service's version.
    pub fn version(&self) -> &str {
        &self.inner.version
    }

    /// The client the service runs on.
    pub fn client(&self) -> &Client {
        &self.inner.core.client
    }

    /// A group of endpoints under the subject prefix `prefix` (a subject without `>`, or
    /// empty for none); it checks the prefix when an endpoint is added.
    pub fn group(&self, prefix: impl Into<String>) -> Group {
        Group {
            service: self.clone(),
            prefix: prefix.into(),
            queue: self.inner.queue_group.clone(),
        }
    }

    /// An endpoint named `name`, on the subject `name` unless
    /// [`subject`](EndpointBuilder::subject) says otherwise.
    pub fn endpoint(&self, name: impl Into<String>) -> EndpointBuilder {
        EndpointBuilder::new(
            self.clone(),
            String::new(),
            self.inner.queue_group.clone(),
            name,
        )
    }

    /// The PING reply of this instance.
    pub fn ping(&self) -> PingResponse {
        self.inner.ping()
    }

    /// The INFO reply of this instance: its configuration and every endpoint.
    pub fn info(&self) -> InfoResponse {
        self.inner.info()
    }

    /// The STATS reply of this instance.
    pub fn stats(&self) -> StatsResponse {
        self.inner.stats()
    }

    /// Resets every endpoint's statistics.
    pub fn reset(&self) {
        for endpoint in lock(&self.inner.endpoints).iter() {
            endpoint.reset();
        }
    }

    /// True once [`stop`](Service::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.core.is_stopping()
    }

    /// Waits until the service is stopped (by any handle).
    pub async fn stopped(&self) {
        self.inner.core.stop_signal().await;
    }

    /// Stops: unsubscribes from the discovery subjects, drains every endpoint's subscription
    /// (requests that already arrived are still handed out), and waits up to `within` for
    /// the handlers to answer every request handed out. The report says whether all of it
    /// finished in time. Stopping again waits again.
    pub async fn stop(&self, within: Duration) -> StopReport {
        let core = &self.inner.core;
        core.stopping.store(true, Ordering::Release);
        core.stop_tx.send_replace(true);
        let deadline = tokio::time::Instant::now() + within;
        let mut finished = loop {
            let settled = core.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            if core.settled() {
                break true;
            }
            if tokio::time::timeout_at(deadline, settled).await.is_err() {
                break core.settled();
            }
        };
        // The discovery subscriptions were dropped (UNSUB queued): once the server has
        // processed that, no discovery request reaches this instance any more. A closed
        // client has nothing left subscribed either.
        match tokio::time::timeout_at(deadline, core.client.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.is_closed() => {}
            _ => finished = false,
        }
        StopReport {
            finished,
            in_flight: core.in_flight.load(Ordering::Acquire),
            open_endpoints: core.open.load(Ordering::Acquire),
        }
    }
}

impl ServiceInner {
    pub(crate) fn ping(&self) -> PingResponse {
        PingResponse {
            kind: PING_RESPONSE_TYPE.to_string(),
            name: self.name.clone(),
            id: self.id.clone(),
            version: self.version.clone(),
            metadata: self.metadata.clone(),
        }
    }

    pub(crate) fn info(&self) -> InfoResponse {
        InfoResponse {
            kind: INFO_RESPONSE_TYPE.to_string(),
            name: self.name.clone(),
            id: self.id.clone(),
            version: self.version.clone(),
            metadata: self.metadata.clone(),
            description: self.description.clone(),
            endpoints: lock(&self.endpoints).iter().map(|e| e.info()).collect(),
        }
    }

    pub(crate) fn stats(&self) -> StatsResponse {
        let endpoints: Vec<Arc<EndpointShared>> = lock(&self.endpoints).clone();
        StatsResponse {
            kind: STATS_RESPONSE_TYPE.to_string(),
            name: self.name.clone(),
            id: self.id.clone(),
            version: self.version.clone(),
            metadata: self.metadata.clone(),
            endpoints: endpoints
                .iter()
                .map(|e| {
                    let mut stats = e.stats();
                    if let Some(handler) = &self.stats_handler {
                        stats.data = Some(handler(&stats));
                    }
                    stats
                })
                .collect(),
            started: crate::time::rfc3339_micros(self.started),
        }
    }
}

/// Endpoints under a common subject prefix, with their own default queue group (ADR-32
/// "Groups").
#[derive(Debug, Clone)]
pub struct Group {
    service: Service,
    prefix: String,
    queue: Option<String>,
}

impl Group {
    /// The subject prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Endpoints of this group (and its subgroups) use `queue` unless they choose otherwise.
    pub fn queue_group(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Endpoints of this group (and its subgroups) subscribe without a queue group unless
    /// they choose one.
    pub fn no_queue_group(mut self) -> Self {
        self.queue = None;
        self
    }

    /// A subgroup: its prefix is `<this prefix>.<name>`.
    pub fn group(&self, name: impl AsRef<str>) -> Group {
        Group {
            service: self.service.clone(),
            prefix: join(&self.prefix, name.as_ref()),
            queue: self.queue.clone(),
        }
    }

    /// An endpoint on `<prefix>.<name>` (or `<prefix>.<subject>` with
    /// [`subject`](EndpointBuilder::subject)).
    pub fn endpoint(&self, name: impl Into<String>) -> EndpointBuilder {
        EndpointBuilder::new(
            self.service.clone(),
            self.prefix.clone(),
            self.queue.clone(),
            name,
        )
    }
}

fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{rest}"),
    }
}

/// Configures an endpoint; [`add`](EndpointBuilder::add) returns its requests as a stream,
/// [`serve`](EndpointBuilder::serve) runs an async handler for each.
#[must_use = "a builder does nothing until `add` or `serve`"]
#[derive(Debug)]
pub struct EndpointBuilder {
    service: Service,
    prefix: String,
    parent_queue: Option<String>,
    name: String,
    subject: Option<String>,
    queue: Queue,
    metadata: Metadata,
    concurrency: usize,
}

impl EndpointBuilder {
    fn new(
        service: Service,
        prefix: String,
        parent_queue: Option<String>,
        name: impl Into<String>,
    ) -> Self {
        EndpointBuilder {
            service,
            prefix,
            parent_queue,
            name: name.into(),
            subject: None,
            queue: Queue::Inherit,
            metadata: Metadata::new(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// The subject to listen on (after the group prefix) instead of the name; wildcards are
    /// allowed (`*`, and `>` last).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// This endpoint's queue group, instead of its group's or service's.
    pub fn queue_group(mut self, queue: impl Into<String>) -> Self {
        self.queue = Queue::Named(queue.into());
        self
    }

    /// Subscribes without a queue group: every instance receives every request.
    pub fn no_queue_group(mut self) -> Self {
        self.queue = Queue::Disabled;
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// How many requests [`serve`](EndpointBuilder::serve) handles at once (default
    /// [`DEFAULT_CONCURRENCY`]; at least 1).
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests.max(1);
        self
    }

    /// Validates, subscribes (waiting until the server has the subscription) and registers
    /// the endpoint; the service's INFO and STATS list it from now on.
    async fn subscribe(self) -> Result<(Arc<EndpointShared>, client::Subscription, usize)> {
        let inner = &self.service.inner;
        if inner.core.is_stopping() {
            return Err(Error::new(ErrorKind::Stopped, "the service is stopped"));
        }
        validate::validate_name("endpoint", &self.name)?;
        if !self.prefix.is_empty() {
            validate::validate_group(&self.prefix)?;
        }
        let own = self.subject.as_deref().unwrap_or(&self.name);
        if self.subject.is_some() {
            validate::validate_endpoint_subject(own)?;
        }
        let subject = join(&self.prefix, own);
        validate::validate_endpoint_subject(&subject)?;
        let queue = self.queue.resolve(self.parent_queue.as_deref());
        if let Some(q) = &queue {
            validate::validate_queue_group(q)?;
        }
        let client = &inner.core.client;
        let sub = match &queue {
            Some(q) => client.queue_subscribe(&subject, q).await?,
            None => client.subscribe(&subject).await?,
        };
        client.flush().await?;
        let shared = Arc::new(EndpointShared::new(
            inner.core.clone(),
            self.name,
            subject,
            queue,
            self.metadata,
        ));
        lock(&inner.endpoints).push(shared.clone());
        Ok((shared, sub, self.concurrency))
    }

    /// Adds the endpoint and returns its requests as a [`Stream`](futures_core::Stream).
    pub async fn add(self) -> Result<Endpoint> {
        let (shared, sub, _) = self.subscribe().await?;
        Ok(Endpoint::new(shared, sub))
    }

    /// Adds the endpoint and runs `handler` for each request in a task, up to
    /// [`concurrency`](EndpointBuilder::concurrency) at once. A handler that panics is
    /// answered with error 500 and counted as an error; the endpoint keeps serving.
    pub async fn serve<F, Fut>(self, handler: F) -> Result<()>
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (shared, sub, concurrency) = self.subscribe().await?;
        // Counted as open before the task runs, so a stop right now waits for it.
        let open = crate::endpoint::OpenGuard::new(shared.core.clone());
        tokio::spawn(crate::endpoint::run(
            sub,
            shared,
            handler,
            concurrency,
            open,
        ));
        Ok(())
    }
}
