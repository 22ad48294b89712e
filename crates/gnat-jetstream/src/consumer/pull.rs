//! Pull consumers: the handle, pull requests, and `fetch` (one request, one batch).

use std::pin::Pin;
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
}

impl PullRequest {
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
        let request = PullRequest {
            batch: Some(options.batch as u64),
            max_bytes: options.max_bytes.map(|b| b as u64),
            expires,
            no_wait: options.no_wait,
            heartbeat,
        };
        let client = self.ctx.client().clone();
        let inbox = client.new_inbox();
        let sub = client.subscribe(&inbox).await?;
        client
            .publish_with_reply(self.next_subject(), &inbox, request.to_bytes()?)
            .await?;
        Ok(Fetch::start(client, sub, &request, self.ctx.timeout()))
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
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            batch: 1,
            max_bytes: None,
            expires: None,
            no_wait: false,
            idle_heartbeat: None,
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
}

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
                    self.remaining = self.remaining.saturating_sub(1);
                    if self.remaining == 0 {
                        let _ = self.sub.unsubscribe().await;
                    }
                    return (Some(Ok(JsMessage::new(self.client.clone(), m))), self);
                }
                Inbound::Heartbeat(_) | Inbound::FlowControl(_) => continue,
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
