//! `consume`: a continuous stream from a pull consumer that keeps pull requests outstanding
//! (ADR-37).
//!
//! One inbox subscription receives the replies of every pull request. The client tracks how
//! many messages (and bytes) it has asked for and not yet handed to the application, and
//! tops that up whenever it falls to the threshold. Statuses that end a request (`408`,
//! some `409`s) carry `Nats-Pending-Messages`/`Nats-Pending-Bytes`: what that request will no
//! longer deliver.
//!
//! Liveness: every request asks for idle heartbeats, and two intervals without anything
//! arriving raise [`ErrorKind::MissedHeartbeats`] (not terminal: the counts are reset and a
//! new request goes out). What counts is what *arrived*, not when the application last
//! polled: the subscription is drained before the timer is looked at, so messages that
//! queued up while the application was busy prove the server alive. While disconnected the
//! timer is paused and no requests are sent; after a reconnect the timer restarts and a
//! fresh request goes out.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use client::{Client, Event, Events, Subscription};
use futures_core::Stream;
use tokio::time::Instant;

use crate::consumer::ack::JsMessage;
use crate::consumer::driver::{Driver, Inbound, after, classify, description_is, message_size};
use crate::consumer::health::{self, Health};
use crate::consumer::pull::{
    MESSAGE_SIZE_EXCEEDS_MAX_BYTES, PIN_ID_MISMATCH, PinId, PriorityOptions, PullConsumer,
    PullRequest, is_benign_409, note_pin, sleep_until_opt,
};
use crate::context::Context;
use crate::error::{Error, ErrorKind, Result};
use crate::message::header_u64;

/// `batch` of each request when consuming by bytes (ADR-37: a large number).
const BYTES_MODE_BATCH: u64 = 1_000_000;

/// Options of [`PullConsumer::consume`].
///
/// Either `max_messages` or `max_bytes` bounds the buffer, not both; with neither, 500
/// messages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumeOptions {
    /// Messages to keep requested ahead of the application (default 500).
    pub max_messages: Option<usize>,
    /// Bytes to keep requested ahead of the application, instead of messages.
    pub max_bytes: Option<usize>,
    /// How long each pull request stays open (default 30 s, at least 1 s).
    pub expires: Option<Duration>,
    /// Heartbeat interval asked of the server (default half of `expires`, between 500 ms and
    /// 30 s). Two missed intervals raise [`ErrorKind::MissedHeartbeats`].
    pub idle_heartbeat: Option<Duration>,
    /// Request more when what is outstanding falls to this many messages (or bytes with
    /// `max_bytes`); default half of the maximum.
    pub threshold: Option<usize>,
    /// Priority group fields of every request (ADR-42).
    pub priority: Option<PriorityOptions>,
}

impl ConsumeOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `max_messages`.
    pub fn max_messages(mut self, n: usize) -> Self {
        self.max_messages = Some(n);
        self
    }

    /// Sets `max_bytes`.
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = Some(n);
        self
    }

    /// Sets `expires`.
    pub fn expires(mut self, d: Duration) -> Self {
        self.expires = Some(d);
        self
    }

    /// Sets `idle_heartbeat`.
    pub fn idle_heartbeat(mut self, d: Duration) -> Self {
        self.idle_heartbeat = Some(d);
        self
    }

    /// Sets `threshold`.
    pub fn threshold(mut self, n: usize) -> Self {
        self.threshold = Some(n);
        self
    }

    /// Sets the priority-group fields of every request.
    pub fn priority(mut self, priority: PriorityOptions) -> Self {
        self.priority = Some(priority);
        self
    }
}

/// Bounds of one consume, after defaults and checks.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Bytes mode: the byte budget; else `None`.
    max_bytes: Option<u64>,
    max_messages: u64,
    threshold: u64,
    expires: Duration,
    heartbeat: Duration,
}

impl Limits {
    fn from_options(o: &ConsumeOptions) -> Result<Self> {
        let invalid = |m: &str| Err(Error::new(ErrorKind::InvalidInput, m.to_string()));
        if o.max_messages.is_some() && o.max_bytes.is_some() {
            return invalid("consume: max_messages and max_bytes are exclusive");
        }
        let expires = o.expires.unwrap_or(Duration::from_secs(30));
        if expires < Duration::from_secs(1) {
            return invalid("consume: expires must be at least 1 s");
        }
        let heartbeat = o.idle_heartbeat.unwrap_or_else(|| {
            (expires / 2).clamp(Duration::from_millis(500), Duration::from_secs(30))
        });
        if heartbeat < Duration::from_millis(500) || heartbeat > Duration::from_secs(30) {
            return invalid("consume: idle_heartbeat must be between 500 ms and 30 s");
        }
        if heartbeat >= expires {
            return invalid("consume: idle_heartbeat must be shorter than expires");
        }
        let (max_bytes, max_messages, limit) = match o.max_bytes {
            Some(0) => return invalid("consume: max_bytes is 0"),
            Some(b) => (Some(b as u64), BYTES_MODE_BATCH, b as u64),
            None => {
                let m = o.max_messages.unwrap_or(500);
                if m == 0 {
                    return invalid("consume: max_messages is 0");
                }
                (None, m as u64, m as u64)
            }
        };
        let threshold = match o.threshold {
            Some(t) if t as u64 > limit => {
                return invalid("consume: threshold is above the maximum");
            }
            Some(t) => t as u64,
            None => limit / 2,
        };
        Ok(Limits {
            max_bytes,
            max_messages,
            threshold,
            expires,
            heartbeat,
        })
    }
}

impl PullConsumer {
    /// Consumes continuously with default options; see [`PullConsumer::consume`].
    pub async fn messages(&self) -> Result<PullMessages> {
        self.consume(ConsumeOptions::default()).await
    }

    /// Consumes continuously: a stream that keeps pull requests outstanding so that up to
    /// `max_messages` (or `max_bytes`) are on their way ahead of the application.
    ///
    /// Items are messages, or errors: terminal ones end the stream (`409 Consumer Deleted`,
    /// `409 Consumer is push based`, `400`); the others are warnings and the stream goes on
    /// (missed heartbeats, other `409`s, `503` when the consumer cannot be reached, and — once,
    /// with requests then slowed to one per heartbeat interval — `409 Message Size Exceeds
    /// MaxBytes` when a message is larger than the whole `max_bytes` budget).
    pub async fn consume(&self, options: ConsumeOptions) -> Result<PullMessages> {
        let limits = Limits::from_options(&options)?;
        if let Some(p) = &options.priority {
            p.validate()?;
        }
        let client = self.ctx.client().clone();
        let events = client.events();
        let inbox = client.new_inbox();
        let sub = client.subscribe(&inbox).await?;
        let mut state = ConsumeState {
            client,
            subject: self.next_subject(),
            inbox,
            sub,
            events,
            events_open: true,
            last_reason: None,
            limits,
            pending_messages: 0,
            pending_bytes: 0,
            last_activity: Instant::now(),
            paused: false,
            pull_not_before: None,
            oversized: false,
            terminated: false,
            ctx: self.ctx.clone(),
            stream: self.stream.clone(),
            name: self.name.clone(),
            priority: options.priority,
            pin: self.pin.clone(),
            pins_lost: 0,
            check_now: false,
            probed: false,
        };
        state.refill().await?;
        Ok(PullMessages {
            driver: Driver::new(state, |s| Box::pin(s.step())),
        })
    }
}

/// The continuous stream of [`PullConsumer::consume`].
pub struct PullMessages {
    driver: Driver<ConsumeState, Result<JsMessage>>,
}

impl PullMessages {
    /// The next message or error; `None` after a terminal error or when the client closed.
    pub async fn next(&mut self) -> Option<Result<JsMessage>> {
        std::future::poll_fn(|cx| self.driver.poll_next(cx)).await
    }

    /// How many times the server answered `423` (another client holds the pin of the
    /// priority group now): the pin id was dropped and the request sent again without it.
    pub fn pins_lost(&self) -> Option<u64> {
        self.driver.state().map(|s| s.pins_lost)
    }

    /// Messages and bytes requested and not yet handed out, between items.
    pub fn outstanding(&self) -> Option<(u64, u64)> {
        self.driver
            .state()
            .map(|s| (s.pending_messages, s.pending_bytes))
    }
}

impl Stream for PullMessages {
    type Item = Result<JsMessage>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.driver.poll_next(cx)
    }
}

impl std::fmt::Debug for PullMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullMessages")
            .field("outstanding", &self.outstanding())
            .finish_non_exhaustive()
    }
}

struct ConsumeState {
    /// Why the connection last went away (for the error when the client closes).
    last_reason: Option<String>,
    client: Client,
    subject: String,
    inbox: String,
    sub: Subscription,
    events: Events,
    events_open: bool,
    limits: Limits,
    /// Messages requested and not yet handed to the application (or cancelled by a status).
    pending_messages: u64,
    /// Bytes likewise (bytes mode only).
    pending_bytes: u64,
    /// When something last arrived (or the timer was reset).
    last_activity: Instant,
    /// Disconnected: no heartbeat checks, no requests.
    paused: bool,
    /// Hold requests until then (after a 503, or while a message larger than the byte
    /// budget blocks the consumer).
    pull_not_before: Option<Instant>,
    /// A message larger than the byte budget was reported; cleared when one is delivered.
    oversized: bool,
    terminated: bool,
    ctx: Context,
    stream: String,
    name: String,
    priority: Option<PriorityOptions>,
    pin: PinId,
    /// `423` answers: the pin moved to another client and was dropped here.
    pins_lost: u64,
    /// Look the consumer up before waiting (after a `503`).
    check_now: bool,
    /// The consumer was looked up in the current silence.
    probed: bool,
}

impl ConsumeState {
    fn below_threshold(&self) -> bool {
        match self.limits.max_bytes {
            Some(_) => self.pending_bytes <= self.limits.threshold,
            None => self.pending_messages <= self.limits.threshold,
        }
    }

    /// Sends a request for what is missing, if the outstanding amount is at the threshold.
    async fn refill(&mut self) -> Result<()> {
        if self.paused || self.pull_not_before.is_some_and(|t| Instant::now() < t) {
            return Ok(());
        }
        self.pull_not_before = None;
        if !self.below_threshold() {
            return Ok(());
        }
        let request = match self.limits.max_bytes {
            Some(max) => {
                let want = max.saturating_sub(self.pending_bytes);
                if want == 0 {
                    return Ok(());
                }
                PullRequest {
                    batch: Some(self.limits.max_messages),
                    max_bytes: Some(want),
                    ..PullRequest::default()
                }
            }
            None => {
                let want = self
                    .limits
                    .max_messages
                    .saturating_sub(self.pending_messages);
                if want == 0 {
                    return Ok(());
                }
                PullRequest {
                    batch: Some(want),
                    ..PullRequest::default()
                }
            }
        };
        let request = PullRequest {
            expires: Some(self.limits.expires),
            heartbeat: Some(self.limits.heartbeat),
            ..request
        }
        .with_priority(self.priority.as_ref(), &self.pin);
        self.client
            .publish_with_reply(&self.subject, &self.inbox, request.to_bytes()?)
            .await?;
        self.pending_messages = self
            .pending_messages
            .saturating_add(request.batch.unwrap_or(0));
        self.pending_bytes = self
            .pending_bytes
            .saturating_add(request.max_bytes.unwrap_or(0));
        Ok(())
    }

    /// Forget what was requested except what has already arrived, and ask again.
    fn reset_pending(&mut self) {
        let (queued, queued_bytes) = self.sub.pending();
        self.pending_messages = queued as u64;
        self.pending_bytes = if self.limits.max_bytes.is_some() {
            queued_bytes as u64
        } else {
            0
        };
    }

    /// Subtracts what a request-ending status says will not come.
    fn cancel_pending(&mut self, message: &client::Message) -> bool {
        let msgs = header_u64(message.headers.as_ref(), "Nats-Pending-Messages");
        let bytes = header_u64(message.headers.as_ref(), "Nats-Pending-Bytes");
        if let Some(m) = msgs {
            self.pending_messages = self.pending_messages.saturating_sub(m);
        }
        if let Some(b) = bytes {
            self.pending_bytes = self.pending_bytes.saturating_sub(b);
        }
        msgs.is_some() || bytes.is_some()
    }

    async fn step(mut self) -> (Option<Result<JsMessage>>, Self) {
        if self.terminated {
            return (None, self);
        }
        loop {
            // A failed request (reconnect buffer full, closed) is retried after the next
            // event or heartbeat check; a closed client ends the subscription below.
            if std::mem::take(&mut self.check_now)
                && let Health::Gone(e) = health::check(&self.ctx, &self.stream, &self.name).await
            {
                self.terminated = true;
                return (Some(Err(e)), self);
            }
            let _ = self.refill().await;
            let hb_deadline = after(self.last_activity, self.limits.heartbeat, 2);
            let probe_at = if self.probed {
                None
            } else {
                after(self.last_activity, self.limits.heartbeat / 2, 3)
            };
            // While paused the retry waits for the reconnect (no spinning on a past time).
            let retry_at = self.pull_not_before.filter(|_| !self.paused);
            tokio::select! {
                biased;
                event = self.events.next(), if self.events_open => {
                if let Some(reason) = event.as_ref().and_then(crate::consumer::driver::event_reason) {
                    self.last_reason = Some(reason);
                }
                match event {
                    Some(Event::Disconnected { .. }) => self.paused = true,
                    Some(Event::Reconnected { .. }) => {
                        // ADR-37 rev 2: restart the timer and ask again; requests that
                        // were open on the old connection may be gone.
                        self.paused = false;
                        self.last_activity = Instant::now();
                        self.pull_not_before = None;
                        self.reset_pending();
                    }
                    Some(_) => {}
                    None => self.events_open = false,
                }},
                msg = self.sub.next() => {
                    let Some(msg) = msg else {
                        self.terminated = true;
                        let err = crate::consumer::driver::subscription_ended(&self.sub, self.last_reason.as_deref());
                        return (err.map(Err), self);
                    };
                    self.last_activity = Instant::now();
                    self.probed = false;
                    if let Some(item) = self.handle(msg) {
                        if item.is_ok() {
                            // Top up before handing the message out, so the next ones are
                            // on their way while the application works.
                            let _ = self.refill().await;
                        }
                        return (Some(item), self);
                    }
                }
                _ = sleep_until_opt(probe_at), if !self.paused => {
                    // 1.5 intervals of silence: is the consumer still there? Answered by
                    // 2 intervals, so that a deleted consumer or stream ends the stream
                    // within the bound.
                    self.probed = true;
                    if self.client.state() == client::State::Connected {
                        let budget = hb_deadline
                            .map(|d| d.saturating_duration_since(Instant::now()))
                            .unwrap_or(self.limits.heartbeat)
                            .max(Duration::from_millis(50));
                        if let Ok(Health::Gone(e)) = tokio::time::timeout(
                            budget,
                            health::check(&self.ctx, &self.stream, &self.name),
                        )
                        .await
                        {
                            self.terminated = true;
                            return (Some(Err(e)), self);
                        }
                    }
                }
                _ = sleep_until_opt(hb_deadline), if !self.paused => {
                    if self.client.state() != client::State::Connected {
                        // The Disconnected event is on its way.
                        self.paused = true;
                        continue;
                    }
                    // Nothing queued (the subscription is polled first) and nothing arrived
                    // for two intervals: the requests are presumed lost.
                    self.last_activity = Instant::now();
                    self.probed = false;
                    self.reset_pending();
                    self.pull_not_before = None;
                    let _ = self.refill().await;
                    return (
                        Some(Err(Error::new(
                            ErrorKind::MissedHeartbeats,
                            "consume: no heartbeat from the server for two intervals",
                        ))),
                        self,
                    );
                }
                _ = sleep_until_opt(retry_at) => {}
            }
        }
    }

    /// `409 Message Size Exceeds MaxBytes`: the request ended because the next message does
    /// not fit in what it had left. Normally the next request (with the budget topped up)
    /// gets it. But when the request still had the whole budget, the message is larger than
    /// `max_bytes` and no request can ever get it: the server would answer every one at once.
    /// Then (ADR-37 keeps `consume` going, it does not end on this status) the stream says so
    /// once, as this status, and asks again only once per heartbeat interval until a message
    /// is delivered (someone else removed or acknowledged the big one).
    fn message_too_large(
        &mut self,
        code: u16,
        description: String,
        message: &client::Message,
    ) -> Option<Result<JsMessage>> {
        let budget = self.limits.max_bytes?;
        let unused = header_u64(message.headers.as_ref(), "Nats-Pending-Bytes")?;
        if unused < budget {
            return None;
        }
        self.pull_not_before = after(Instant::now(), self.limits.heartbeat, 1);
        if std::mem::replace(&mut self.oversized, true) {
            return None;
        }
        Some(Err(Error::from_status(code, description).with_message(
            format!(
                "a message is larger than the max_bytes budget of {budget} bytes; consume retries \
             every {:?} until it is gone (raise max_bytes to receive it)",
                self.limits.heartbeat
            ),
        )))
    }

    /// Handles one inbound message: an item to hand out, or `None` to keep going.
    fn handle(&mut self, msg: client::Message) -> Option<Result<JsMessage>> {
        match classify(msg) {
            Inbound::Data(m) => {
                note_pin(&self.pin, &m);
                self.oversized = false;
                self.pending_messages = self.pending_messages.saturating_sub(1);
                if self.limits.max_bytes.is_some() {
                    self.pending_bytes = self.pending_bytes.saturating_sub(message_size(&m));
                }
                Some(Ok(JsMessage::new(self.client.clone(), m)))
            }
            Inbound::Heartbeat(_) | Inbound::FlowControl(_) => None,
            Inbound::Status {
                code,
                description,
                message,
            } => {
                let accounted = self.cancel_pending(&message);
                match code {
                    404 | 408 => None,
                    PIN_ID_MISMATCH if self.priority.is_some() => {
                        // ADR-42: another client is pinned now. Drop the pin and ask again
                        // (the next refill goes out without an id).
                        *crate::consumer::lock(&self.pin) = None;
                        self.pins_lost = self.pins_lost.saturating_add(1);
                        self.reset_pending();
                        None
                    }
                    409 if description_is(&description, "Consumer Deleted")
                        || description_is(&description, "Consumer is push based") =>
                    {
                        self.terminated = true;
                        Some(Err(Error::from_status(code, description)))
                    }
                    409 if description_is(&description, MESSAGE_SIZE_EXCEEDS_MAX_BYTES) => {
                        self.message_too_large(code, description, &message)
                    }
                    409 if is_benign_409(&description) || accounted => None,
                    400 => {
                        self.terminated = true;
                        Some(Err(Error::from_status(code, description)))
                    }
                    503 => {
                        // No one serves the consumer's subject (it is gone, or JetStream is
                        // not up yet): retry after a heartbeat interval.
                        self.reset_pending();
                        self.pull_not_before = after(Instant::now(), self.limits.heartbeat, 1);
                        // Gone for good (deleted while we were away) ends the stream at the
                        // next step instead of retrying forever.
                        self.check_now = true;
                        Some(Err(Error::from_status(code, "No Responders")))
                    }
                    _ => Some(Err(Error::from_status(code, description))),
                }
            }
        }
    }
}
