//! Pull consumers: the handle, pull requests, and `fetch` (one request, one batch).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_core::Stream;
use serde::Serialize;
use tokio::time::Instant;

use crate::consumer::ack::JsMessage;
use crate::consumer::config::ConsumerConfig;
use crate::consumer::driver::{Driver, Inbound, after, classify, description_is};
use crate::consumer::info::ConsumerInfo;
use crate::context::{Context, validate_token};
use crate::error::{Error, ErrorKind, Result};
use crate::time::nanos_opt;

/// `expires` of a fetch without one.
const DEFAULT_FETCH_EXPIRES: Duration = Duration::from_secs(30);

/// The body of `CONSUMER.MSG.NEXT` (ADR-13).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct PullRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) batch: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_bytes: Option<u64>,
    #[serde(with = "nanos_opt", skip_serializing_if = "Option::is_none")]
    pub(crate) expires: Option<Duration>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) no_wait: bool,
    #[serde(
        rename = "idle_heartbeat",
        with = "nanos_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) heartbeat: Option<Duration>,
    /// Priority group (ADR-42).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group: Option<String>,
    /// Overflow: serve only while the consumer has at least this many pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) min_pending: Option<u64>,
    /// Overflow: serve only while at least this many are waiting for an ack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) min_ack_pending: Option<u64>,
    /// Pinned client: the pin id the server gave this client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    /// Prioritized: 0 (first) to 9.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) priority: Option<u8>,
}

impl PullRequest {
    /// Sets the priority-group fields, with the current pin id.
    pub(crate) fn with_priority(mut self, p: Option<&PriorityOptions>, pin: &PinId) -> Self {
        if let Some(p) = p {
            self.group = Some(p.group.clone());
            self.min_pending = p.min_pending;
            self.min_ack_pending = p.min_ack_pending;
            self.priority = p.priority;
            self.id = crate::consumer::lock(pin).clone();
        }
        self
    }

    pub(crate) fn to_bytes(&self) -> Result<bytes::Bytes> {
        serde_json::to_vec(self)
            .map(bytes::Bytes::from)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("pull request: {e}")))
    }
}

/// A pull consumer: messages are requested with [`fetch`](PullConsumer::fetch) (one batch)
/// or [`consume`](PullConsumer::consume) (continuously).
#[derive(Debug, Clone)]
pub struct PullConsumer {
    pub(crate) ctx: Context,
    pub(crate) stream: String,
    pub(crate) name: String,
    info: ConsumerInfo,
    /// The pin id the server gave this handle (and its clones) in a priority group with the
    /// `pinned_client` policy.
    pub(crate) pin: PinId,
}

/// The pin id of a pinned client, shared by a handle's fetches and consumes.
pub(crate) type PinId = Arc<Mutex<Option<String>>>;

/// The header of the first message to a newly pinned client (ADR-42).
pub(crate) const PIN_ID_HEADER: &str = "Nats-Pin-Id";

/// Remembers the pin id a message carries, if any.
pub(crate) fn note_pin(pin: &PinId, message: &client::Message) {
    if let Some(id) = message.headers.as_ref().and_then(|h| h.get(PIN_ID_HEADER)) {
        *crate::consumer::lock(pin) = Some(id.to_string());
    }
}

/// Priority-group fields of pull requests (ADR-42), for consumers with `priority_groups`.
///
/// ```
/// use gnat_jetstream::{FetchOptions, PriorityOptions};
/// let options = FetchOptions::new(10).priority(PriorityOptions::group("jobs").min_pending(100));
/// assert_eq!(options.priority.unwrap().min_pending, Some(100));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PriorityOptions {
    /// The group (one of the consumer's `priority_groups`).
    pub group: String,
    /// `overflow` policy: serve this request only while the consumer has at least this many
    /// messages pending.
    pub min_pending: Option<u64>,
    /// `overflow` policy: serve this request only while at least this many messages wait for
    /// an acknowledgement.
    pub min_ack_pending: Option<u64>,
    /// `prioritized` policy: 0 (served first) to 9.
    pub priority: Option<u8>,
}

impl PriorityOptions {
    /// Pulls in `group`.
    pub fn group(group: impl Into<String>) -> Self {
        PriorityOptions {
            group: group.into(),
            ..Self::default()
        }
    }

    /// Sets `min_pending`.
    pub fn min_pending(mut self, n: u64) -> Self {
        self.min_pending = Some(n);
        self
    }

    /// Sets `min_ack_pending`.
    pub fn min_ack_pending(mut self, n: u64) -> Self {
        self.min_ack_pending = Some(n);
        self
    }

    /// Sets `priority` (0 to 9).
    pub fn priority(mut self, p: u8) -> Self {
        self.priority = Some(p);
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        crate::consumer::control::validate_group(&self.group)?;
        if self.priority.is_some_and(|p| p > 9) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "priority must be between 0 and 9",
            ));
        }
        Ok(())
    }
}

impl Context {
    /// Binds to an existing pull consumer (looks up its info).
    pub async fn pull_consumer(&self, stream: &str, name: &str) -> Result<PullConsumer> {
        let info = self.consumer_info(stream, name).await?;
        PullConsumer::from_info(self.clone(), info)
    }

    /// Creates (or updates) a pull consumer with [`Context::create_consumer`] and binds to it.
    pub async fn create_pull_consumer(
        &self,
        stream: &str,
        config: ConsumerConfig,
    ) -> Result<PullConsumer> {
        if config.deliver_subject.is_some() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a pull consumer has no deliver_subject",
            ));
        }
        let info = self.create_consumer(stream, config).await?;
        PullConsumer::from_info(self.clone(), info)
    }
}

impl PullConsumer {
    /// A handle from a consumer's info; fails for push consumers.
    pub fn from_info(ctx: Context, info: ConsumerInfo) -> Result<Self> {
        if info.config.deliver_subject.is_some() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("consumer {:?} is push based", info.name),
            ));
        }
        validate_token("stream", &info.stream_name)?;
        validate_token("consumer", &info.name)?;
        Ok(PullConsumer {
            stream: info.stream_name.clone(),
            name: info.name.clone(),
            ctx,
            info,
            pin: PinId::default(),
        })
    }

    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The info this handle was made from (not refreshed).
    pub fn cached_info(&self) -> &ConsumerInfo {
        &self.info
    }

    /// The consumer's current info from the server.
    pub async fn info(&mut self) -> Result<ConsumerInfo> {
        let info = self.ctx.consumer_info(&self.stream, &self.name).await?;
        self.info = info.clone();
        Ok(info)
    }

    /// The pin id the server gave this handle in a `pinned_client` priority group, if any
    /// (ADR-42). It is sent with every pull request of the group, dropped when the server
    /// answers `423` (another client is pinned now).
    pub fn pin_id(&self) -> Option<String> {
        crate::consumer::lock(&self.pin).clone()
    }

    /// One message: a fetch of 1 that waits up to `expires`. `Ok(None)` when none came.
    pub async fn next(&self, expires: Duration) -> Result<Option<JsMessage>> {
        self.next_with(FetchOptions::new(1).expires(expires)).await
    }

    /// One message with these fetch options (e.g. a priority group); the batch is 1.
    pub async fn next_with(&self, options: FetchOptions) -> Result<Option<JsMessage>> {
        let mut fetch = self
            .fetch(FetchOptions {
                batch: 1,
                ..options
            })
            .await?;
        fetch.next().await.transpose()
    }

    /// The subject pull requests go to.
    pub(crate) fn next_subject(&self) -> String {
        self.ctx
            .api_subject(&format!("CONSUMER.MSG.NEXT.{}.{}", self.stream, self.name))
    }

    /// Sends one pull request and returns its messages as a stream that ends when the batch
    /// is complete, the byte budget is used up, or the server ends the request (`404 No
    /// Messages` with `no_wait`, `408 Request Timeout` at `expires`: both a normal end).
    /// Errors (then the end): `409` (consumer deleted, push based, limits exceeded), `400`,
    /// `503` (no such consumer), missed heartbeats, and a client-side deadline past `expires`.
    pub async fn fetch(&self, options: FetchOptions) -> Result<Fetch> {
        if options.batch == 0 {
            return Err(Error::new(ErrorKind::InvalidInput, "fetch batch is 0"));
        }
        let expires = match options.expires {
            Some(d) if !d.is_zero() => Some(d),
            Some(_) => None,
            // With no_wait an expiry would turn "nothing now" into a wait (the server then
            // answers 408 at expiry instead of 404 at once).
            None if options.no_wait => None,
            None => Some(DEFAULT_FETCH_EXPIRES),
        };
        let heartbeat = options.idle_heartbeat.filter(|d| !d.is_zero());
        if let (Some(hb), Some(exp)) = (heartbeat, expires)
            && hb >= exp
        {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "fetch idle_heartbeat must be shorter than expires",
            ));
        }
        if let Some(p) = &options.priority {
            p.validate()?;
        }
        let request = PullRequest {
            batch: Some(options.batch as u64),
            max_bytes: options.max_bytes.map(|b| b as u64),
            expires,
            no_wait: options.no_wait,
            heartbeat,
            ..PullRequest::default()
        }
        .with_priority(options.priority.as_ref(), &self.pin);
        let client = self.ctx.client().clone();
        let inbox = client.new_inbox();
        let sub = client.subscribe(&inbox).await?;
        let subject = self.next_subject();
        client
            .publish_with_reply(&subject, &inbox, request.to_bytes()?)
            .await?;
        let mut fetch = Fetch::start(client, sub, &request, self.ctx.timeout());
        if options.priority.is_some()
            && let Some(state) = fetch.driver.state_mut()
        {
            state.pinned = Some(Pinned {
                pin: self.pin.clone(),
                subject,
                inbox,
                request,
                retried: false,
            });
        }
        Ok(fetch)
    }
}

/// Options of one [`PullConsumer::fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// At most this many messages (≥ 1; default 1).
    pub batch: usize,
    /// At most this many bytes in total (server-side sizes: subject, reply, headers, payload).
    pub max_bytes: Option<usize>,
    /// How long the server keeps the request open. `None`: 30 s, or with `no_wait` no expiry.
    pub expires: Option<Duration>,
    /// Return what is available now; `404 No Messages` when nothing is. Combined with an
    /// explicit `expires`, the server instead waits up to `expires` for a first message.
    pub no_wait: bool,
    /// Ask for heartbeats while the request waits; two missed in a row end the fetch with
    /// [`ErrorKind::MissedHeartbeats`].
    pub idle_heartbeat: Option<Duration>,
    /// Priority group fields (ADR-42), for consumers with `priority_groups`.
    pub priority: Option<PriorityOptions>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            batch: 1,
            max_bytes: None,
            expires: None,
            no_wait: false,
            idle_heartbeat: None,
            priority: None,
        }
    }
}

impl FetchOptions {
    /// A batch of `batch` messages, other options default.
    pub fn new(batch: usize) -> Self {
        FetchOptions {
            batch,
            ..Self::default()
        }
    }

    /// Sets `max_bytes`.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Sets `expires`.
    pub fn expires(mut self, expires: Duration) -> Self {
        self.expires = Some(expires);
        self
    }

    /// Sets `no_wait`.
    pub fn no_wait(mut self, no_wait: bool) -> Self {
        self.no_wait = no_wait;
        self
    }

    /// Sets `idle_heartbeat`.
    pub fn idle_heartbeat(mut self, heartbeat: Duration) -> Self {
        self.idle_heartbeat = Some(heartbeat);
        self
    }

    /// Sets the priority-group fields.
    pub fn priority(mut self, priority: PriorityOptions) -> Self {
        self.priority = Some(priority);
        self
    }
}

/// The messages of one pull request; see [`PullConsumer::fetch`].
pub struct Fetch {
    driver: Driver<FetchState, Result<JsMessage>>,
}

impl Fetch {
    /// The stream of a request just sent, whose replies arrive on `sub`.
    pub(crate) fn start(
        client: client::Client,
        sub: client::Subscription,
        request: &PullRequest,
        api_timeout: Duration,
    ) -> Fetch {
        // The server ends the request at `expires`; allow for the trip back.
        let deadline = match request.expires {
            Some(e) => after(Instant::now(), e, 1)
                .and_then(|t| t.checked_add((e / 10).max(Duration::from_secs(1)))),
            None if request.no_wait => after(Instant::now(), api_timeout, 1),
            None => None,
        };
        let remaining = request
            .batch
            .map_or(1, |b| usize::try_from(b).unwrap_or(usize::MAX));
        let state = FetchState {
            client,
            sub,
            remaining,
            deadline,
            heartbeat: request.heartbeat,
            last_activity: Instant::now(),
            pinned: None,
        };
        Fetch {
            driver: Driver::new(state, |s| Box::pin(s.step())),
        }
    }

    /// The next message, `None` at the end of the batch.
    pub async fn next(&mut self) -> Option<Result<JsMessage>> {
        std::future::poll_fn(|cx| self.driver.poll_next(cx)).await
    }

    /// True once the fetch has ended.
    pub fn is_terminated(&self) -> bool {
        self.driver.is_terminated()
    }
}

impl Stream for Fetch {
    type Item = Result<JsMessage>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.driver.poll_next(cx)
    }
}

impl std::fmt::Debug for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Fetch");
        if let Some(s) = self.driver.state() {
            d.field("remaining", &s.remaining);
        }
        d.finish_non_exhaustive()
    }
}

struct FetchState {
    client: client::Client,
    sub: client::Subscription,
    remaining: usize,
    deadline: Option<Instant>,
    heartbeat: Option<Duration>,
    last_activity: Instant,
    /// With a priority group: the pin to track, and the request to send again (once,
    /// without the pin id) when the server answers `423`.
    pinned: Option<Pinned>,
}

struct Pinned {
    pin: PinId,
    subject: String,
    inbox: String,
    request: PullRequest,
    retried: bool,
}

/// The status of a pull whose pin id is not the current one (ADR-42).
pub(crate) const PIN_ID_MISMATCH: u16 = 423;

/// The 409 that ends a pull whose next message does not fit in its remaining `max_bytes`.
pub(crate) const MESSAGE_SIZE_EXCEEDS_MAX_BYTES: &str = "Message Size Exceeds MaxBytes";

/// Whether a 409 ends a pull without being an error (the request simply ran out of room).
pub(crate) fn is_benign_409(description: &str) -> bool {
    description_is(description, MESSAGE_SIZE_EXCEEDS_MAX_BYTES)
        || description_is(description, "Batch Completed")
}

impl FetchState {
    async fn step(mut self) -> (Option<Result<JsMessage>>, Self) {
        if self.remaining == 0 {
            return (None, self);
        }
        loop {
            let hb_deadline = self
                .heartbeat
                .and_then(|hb| after(self.last_activity, hb, 2));
            let wake = match (self.deadline, hb_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let msg = tokio::select! {
                biased;
                msg = self.sub.next() => msg,
                _ = sleep_until_opt(wake) => {
                    // Only reached with nothing queued: the biased select drains the
                    // subscription first, so a slow reader never trips these.
                    self.remaining = 0;
                    let now = Instant::now();
                    let err = if self.deadline.is_some_and(|d| now >= d) {
                        Error::new(ErrorKind::Client, "fetch: no end of batch from the server")
                    } else {
                        Error::new(ErrorKind::MissedHeartbeats, "fetch: missed idle heartbeats")
                    };
                    return (Some(Err(err)), self);
                }
            };
            let Some(msg) = msg else {
                self.remaining = 0;
                return (None, self);
            };
            self.last_activity = Instant::now();
            match classify(msg) {
                Inbound::Data(m) => {
                    if let Some(p) = &self.pinned {
                        note_pin(&p.pin, &m);
                    }
                    self.remaining = self.remaining.saturating_sub(1);
                    if self.remaining == 0 {
                        let _ = self.sub.unsubscribe().await;
                    }
                    return (Some(Ok(JsMessage::new(self.client.clone(), m))), self);
                }
                Inbound::Heartbeat(_) | Inbound::FlowControl(_) => continue,
                Inbound::Status {
                    code, description, ..
                } if code == PIN_ID_MISMATCH
                    && self.pinned.as_ref().is_some_and(|p| !p.retried) =>
                {
                    // Another client holds the pin now: drop ours and pull again once.
                    if let Some(p) = self.pinned.as_mut() {
                        p.retried = true;
                        *crate::consumer::lock(&p.pin) = None;
                        p.request.id = None;
                        let sent = match p.request.to_bytes() {
                            Ok(body) => self
                                .client
                                .publish_with_reply(&p.subject, &p.inbox, body)
                                .await
                                .map_err(Error::from),
                            Err(e) => Err(e),
                        };
                        if let Err(e) = sent {
                            self.remaining = 0;
                            return (Some(Err(e)), self);
                        }
                    }
                    let _ = description;
                    continue;
                }
                Inbound::Status {
                    code, description, ..
                } => {
                    self.remaining = 0;
                    let _ = self.sub.unsubscribe().await;
                    let normal_end =
                        code == 404 || code == 408 || (code == 409 && is_benign_409(&description));
                    if normal_end {
                        return (None, self);
                    }
                    return (Some(Err(Error::from_status(code, description))), self);
                }
            }
        }
    }
}

/// Sleeps until `at`, or forever without one.
pub(crate) async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
