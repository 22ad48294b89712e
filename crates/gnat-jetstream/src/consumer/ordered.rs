//! Ordered consumers (ADR-17, spec §4.8): every matching stream message once, in order, with
//! no acknowledgements, surviving consumer loss, reconnects and server restarts.
//!
//! The server side is an ephemeral push consumer on a fresh inbox (ack none, max deliver 1,
//! flow control, memory storage, one replica, idle heartbeats). The client tracks the last
//! stream and consumer sequence it handed out. A gap in consumer sequences, a heartbeat whose
//! `Nats-Last-Consumer` differs from ours, two heartbeat intervals with nothing arriving, a
//! `409`, or a reconnect means the consumer is lost or out of step: it is deleted (best
//! effort), and a new one is created on a new inbox starting at the stream sequence after
//! the last one handed out. Until something has been handed out, the new one starts where
//! the first one started (the stream sequence its create reply reported as delivered, plus
//! one), or for `last_per_subject` with messages pending at creation asks for the last
//! message per subject again (with nothing pending, every later message is an update and
//! the new one starts where the first one started): a `new`, `last` or `last_per_subject`
//! reader never gets a replay it did not ask for, and nothing stored meanwhile is skipped.
//!
//! Flow-control requests are answered when the reader gets to them (so the server never runs
//! further ahead than the reader), and `Nats-Consumer-Stalled` heartbeats are answered at
//! once.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use client::{Client, Event, Events, Subscription};
use futures_core::Stream;
use tokio::time::Instant;

use crate::consumer::ack::{JsMessage, MessageInfo};
use crate::consumer::config::{AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy};
use crate::consumer::driver::{Driver, Inbound, after, classify};
use crate::consumer::pull::sleep_until_opt;
use crate::context::{Context, validate_token};
use crate::error::{Error, ErrorKind, Result};
use crate::message::header_u64;

/// Heartbeat intervals without anything arriving before the consumer is presumed lost (the
/// self-healing bound of the crate docs: 2 intervals).
const MISSED_HEARTBEATS: u32 = 2;
/// First and largest delay between attempts to recreate the consumer.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Options of an ordered consumer. Everything else is fixed (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedConfig {
    /// Subject filters; empty = the whole stream.
    pub filter_subjects: Vec<String>,
    /// Where to start (default all).
    pub deliver_policy: DeliverPolicy,
    /// Deliver headers only (with `Nats-Msg-Size`).
    pub headers_only: bool,
    /// Replay speed.
    pub replay_policy: ReplayPolicy,
    /// Heartbeat interval asked of the server (default 5 s); two missed ones reset the
    /// consumer.
    pub idle_heartbeat: Duration,
    /// The server deletes a consumer that has had no subscriber for this long (default 30 s).
    pub inactive_threshold: Duration,
    /// Delivery rate limit in bits per second.
    pub rate_limit_bps: Option<u64>,
    /// Free text for the server-side consumer.
    pub description: Option<String>,
    /// Metadata for the server-side consumer.
    pub metadata: HashMap<String, String>,
}

impl Default for OrderedConfig {
    fn default() -> Self {
        OrderedConfig {
            filter_subjects: Vec::new(),
            deliver_policy: DeliverPolicy::All,
            headers_only: false,
            replay_policy: ReplayPolicy::Instant,
            idle_heartbeat: Duration::from_secs(5),
            inactive_threshold: Duration::from_secs(30),
            rate_limit_bps: None,
            description: None,
            metadata: HashMap::new(),
        }
    }
}

impl OrderedConfig {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the subject filters.
    pub fn filter_subjects<I, S>(mut self, subjects: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.filter_subjects = subjects.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the deliver policy.
    pub fn deliver_policy(mut self, policy: DeliverPolicy) -> Self {
        self.deliver_policy = policy;
        self
    }

    /// Sets `headers_only`.
    pub fn headers_only(mut self, on: bool) -> Self {
        self.headers_only = on;
        self
    }

    /// Sets the replay policy.
    pub fn replay_policy(mut self, policy: ReplayPolicy) -> Self {
        self.replay_policy = policy;
        self
    }

    /// Sets the heartbeat interval.
    pub fn idle_heartbeat(mut self, d: Duration) -> Self {
        self.idle_heartbeat = d;
        self
    }

    /// Sets the inactive threshold.
    pub fn inactive_threshold(mut self, d: Duration) -> Self {
        self.inactive_threshold = d;
        self
    }

    /// The server-side configuration for a consumer pushing to `inbox` from `policy`.
    fn consumer_config(&self, inbox: &str, policy: DeliverPolicy) -> ConsumerConfig {
        let mut c = ConsumerConfig {
            description: self.description.clone(),
            deliver_policy: policy,
            ack_policy: AckPolicy::None,
            ack_wait: Some(Duration::from_secs(22 * 3600)),
            max_deliver: Some(1),
            replay_policy: self.replay_policy.clone(),
            rate_limit_bps: self.rate_limit_bps,
            flow_control: true,
            headers_only: self.headers_only,
            deliver_subject: Some(inbox.to_string()),
            idle_heartbeat: Some(self.idle_heartbeat),
            inactive_threshold: Some(self.inactive_threshold),
            num_replicas: Some(1),
            mem_storage: true,
            metadata: self.metadata.clone(),
            ..ConsumerConfig::default()
        };
        match self.filter_subjects.as_slice() {
            [] => {}
            [one] => c.filter_subject = Some(one.clone()),
            many => c.filter_subjects = many.to_vec(),
        }
        c
    }
}

/// State visible from the handle while a step runs.
#[derive(Debug, Default)]
struct Shared {
    consumer: Mutex<String>,
    resets: AtomicU64,
    last_stream_sequence: AtomicU64,
}

impl Context {
    /// Starts an ordered consumer on `stream`; see [`OrderedConsumer`]. Fails if the first
    /// server-side consumer cannot be created (for example, the stream does not exist).
    pub async fn ordered_consumer(
        &self,
        stream: &str,
        config: OrderedConfig,
    ) -> Result<OrderedConsumer> {
        validate_token("stream", stream)?;
        if config.idle_heartbeat.is_zero() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "ordered consumer: idle_heartbeat is 0",
            ));
        }
        let client = self.client().clone();
        // Listen before anything is sent, so no reconnect is missed.
        let events = client.events();
        let inbox = client.new_inbox();
        let sub = client.subscribe(&inbox).await?;
        let info = self
            .create_consumer(
                stream,
                config.consumer_config(&inbox, config.deliver_policy.clone()),
            )
            .await?;
        let shared = Arc::new(Shared {
            consumer: Mutex::new(info.name.clone()),
            ..Shared::default()
        });
        let state = OrderedState {
            ctx: self.clone(),
            client,
            stream: stream.to_string(),
            heartbeat: config.idle_heartbeat,
            config,
            sub,
            consumer: info.name,
            shared: shared.clone(),
            events,
            events_open: true,
            last_reason: None,
            last_sseq: 0,
            last_dseq: 0,
            start_floor: info.delivered.stream_sequence,
            initial_pending: info.num_pending,
            last_activity: Instant::now(),
            paused: false,
            need_reset: false,
            last_flow_control: None,
            terminated: false,
        };
        Ok(OrderedConsumer {
            driver: Driver::new(state, |s| Box::pin(s.step())),
            shared,
            stream: stream.to_string(),
            initial_pending: info.num_pending,
        })
    }
}

/// An ordered consumer: a [`Stream`] of every matching message once, in stream order.
/// Messages need no acknowledgement. An error from recreating the server-side consumer is
/// terminal (for example, the stream was deleted); unexpected statuses and messages without
/// JetStream metadata are reported as errors and skipped.
pub struct OrderedConsumer {
    driver: Driver<OrderedState, Result<JsMessage>>,
    shared: Arc<Shared>,
    stream: String,
    initial_pending: u64,
}

impl OrderedConsumer {
    /// The next message, `None` once ended.
    pub async fn next(&mut self) -> Option<Result<JsMessage>> {
        std::future::poll_fn(|cx| self.driver.poll_next(cx)).await
    }

    /// The stream.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Messages pending when the first server-side consumer was created (its `num_pending`):
    /// 0 means there was nothing to deliver at the start.
    pub fn initial_pending(&self) -> u64 {
        self.initial_pending
    }

    /// The current server-side consumer's name.
    pub fn consumer_name(&self) -> String {
        crate::consumer::lock(&self.shared.consumer).clone()
    }

    /// How many times the server-side consumer has been recreated.
    pub fn resets(&self) -> u64 {
        self.shared.resets.load(Ordering::Relaxed)
    }

    /// The stream sequence of the last message handed out (0 before the first).
    pub fn last_stream_sequence(&self) -> u64 {
        self.shared.last_stream_sequence.load(Ordering::Relaxed)
    }
}

impl Stream for OrderedConsumer {
    type Item = Result<JsMessage>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.driver.poll_next(cx)
    }
}

impl std::fmt::Debug for OrderedConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderedConsumer")
            .field("stream", &self.stream)
            .field("consumer", &self.consumer_name())
            .field("last_stream_sequence", &self.last_stream_sequence())
            .finish_non_exhaustive()
    }
}

struct OrderedState {
    /// Why the connection last went away (for the error when the client closes).
    last_reason: Option<String>,
    ctx: Context,
    client: Client,
    stream: String,
    config: OrderedConfig,
    heartbeat: Duration,
    sub: Subscription,
    consumer: String,
    shared: Arc<Shared>,
    events: Events,
    events_open: bool,
    /// Stream sequence of the last message handed out.
    last_sseq: u64,
    /// Consumer sequence of the last message handed out, for the current consumer.
    last_dseq: u64,
    /// The stream sequence before the first consumer's first message (its create reply's
    /// `delivered.stream_seq`).
    start_floor: u64,
    /// Messages pending for the first consumer when it was created.
    initial_pending: u64,
    last_activity: Instant,
    paused: bool,
    need_reset: bool,
    last_flow_control: Option<String>,
    terminated: bool,
}

/// Worth another attempt: the server or connection may come back.
fn retryable(err: &Error) -> bool {
    // JetStream disabled for the account is a 503 too, but it does not come back by itself.
    if crate::consumer::health::is_gone(err) {
        return false;
    }
    match err.kind() {
        ErrorKind::Client => err.client_kind().is_some_and(|k| {
            matches!(
                k,
                client::ErrorKind::Timeout
                    | client::ErrorKind::NoResponders
                    | client::ErrorKind::Disconnected
                    | client::ErrorKind::ReconnectBufferFull
                    | client::ErrorKind::Io
            )
        }),
        // 5xx: JetStream not ready, cluster unavailable, insufficient resources.
        ErrorKind::Api | ErrorKind::NoStream => err.code().is_none_or(|c| c >= 500),
        _ => false,
    }
}

impl OrderedState {
    async fn step(mut self) -> (Option<Result<JsMessage>>, Self) {
        loop {
            if self.terminated {
                return (None, self);
            }
            if self.need_reset {
                if let Err(e) = self.reset().await {
                    self.terminated = true;
                    return (Some(Err(e)), self);
                }
                continue;
            }
            let hb_deadline = after(self.last_activity, self.heartbeat, MISSED_HEARTBEATS);
            tokio::select! {
                biased;
                event = self.events.next(), if self.events_open => {
                if let Some(reason) = event.as_ref().and_then(crate::consumer::driver::event_reason) {
                    self.last_reason = Some(reason);
                }
                match event {
                    Some(Event::Disconnected { .. }) => self.paused = true,
                    Some(Event::Reconnected { .. }) => {
                        self.paused = false;
                        self.need_reset = true;
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
                    if let Some(item) = self.handle(msg).await {
                        return (Some(item), self);
                    }
                }
                _ = sleep_until_opt(hb_deadline), if !self.paused => {
                    if self.client.state() == client::State::Connected {
                        // Nothing queued (the subscription is polled first) and nothing
                        // arrived for two intervals: the consumer is presumed lost.
                        self.need_reset = true;
                    } else {
                        self.paused = true;
                    }
                }
            }
        }
    }

    async fn handle(&mut self, msg: client::Message) -> Option<Result<JsMessage>> {
        match classify(msg) {
            Inbound::Data(m) => {
                let Some((cseq, sseq)) = m
                    .reply
                    .as_deref()
                    .and_then(MessageInfo::parse)
                    .map(|i| (i.consumer_sequence, i.stream_sequence))
                else {
                    return Some(Err(Error::new(
                        ErrorKind::NotJetStream,
                        "ordered consumer: a message without JetStream metadata",
                    )));
                };
                if Some(cseq) != self.last_dseq.checked_add(1) {
                    self.need_reset = true;
                    return None;
                }
                self.last_dseq = cseq;
                self.last_sseq = sseq;
                self.shared
                    .last_stream_sequence
                    .store(sseq, Ordering::Relaxed);
                Some(Ok(JsMessage::new(self.client.clone(), m)))
            }
            Inbound::FlowControl(reply) => {
                if self.last_flow_control.as_deref() != Some(reply.as_str()) {
                    let _ = self.client.publish(&reply, Bytes::new()).await;
                    self.last_flow_control = Some(reply);
                }
                None
            }
            Inbound::Heartbeat(m) => {
                if let Some(stalled) = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Consumer-Stalled"))
                {
                    let _ = self.client.publish(stalled, Bytes::new()).await;
                }
                if header_u64(m.headers.as_ref(), "Nats-Last-Consumer")
                    .is_some_and(|last| last != self.last_dseq)
                {
                    self.need_reset = true;
                }
                None
            }
            Inbound::Status {
                code, description, ..
            } => {
                if code == 409 {
                    // Consumer deleted (or another conflict): start over.
                    self.need_reset = true;
                    return None;
                }
                Some(Err(Error::from_status(code, description)))
            }
        }
    }

    /// Replaces the server-side consumer, retrying with backoff while the server may come back.
    async fn reset(&mut self) -> Result<()> {
        self.shared.resets.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "tracing")]
        tracing::info!(stream = %self.stream, last_stream_seq = self.last_sseq, "ordered consumer reset");
        let old = std::mem::take(&mut self.consumer);
        if !old.is_empty() {
            let ctx = self.ctx.clone();
            let stream = self.stream.clone();
            tokio::spawn(async move {
                let _ = ctx.delete_consumer(&stream, &old).await;
            });
        }
        let policy = match (self.last_sseq, &self.config.deliver_policy) {
            // Nothing handed out yet. The last message of every subject is a set that changes
            // with time, so ask for it again (no replay of superseded messages) — unless that
            // set was empty at creation: then everything stored since is an update the reader
            // must get, each revision of a subject included.
            (0, DeliverPolicy::LastPerSubject) if self.initial_pending > 0 => {
                DeliverPolicy::LastPerSubject
            }
            // Otherwise start where the first consumer started: neither a replay the reader
            // did not ask for (`new`, `last`, …) nor a gap for what arrived meanwhile.
            (0, _) => DeliverPolicy::ByStartSequence {
                start_sequence: self.start_floor.saturating_add(1),
            },
            (last, _) => DeliverPolicy::ByStartSequence {
                start_sequence: last.saturating_add(1),
            },
        };
        let mut delay = RETRY_FIRST;
        loop {
            // A fresh inbox per attempt: a consumer from an attempt that timed out but
            // succeeded must not push into the one we end up using.
            let inbox = self.client.new_inbox();
            self.sub = self.client.subscribe(&inbox).await?;
            let config = self.config.consumer_config(&inbox, policy.clone());
            match self.ctx.create_consumer(&self.stream, config).await {
                Ok(info) => {
                    *crate::consumer::lock(&self.shared.consumer) = info.name.clone();
                    self.consumer = info.name;
                    self.last_dseq = 0;
                    self.last_flow_control = None;
                    self.last_activity = Instant::now();
                    self.need_reset = false;
                    return Ok(());
                }
                Err(e) if retryable(&e) => {
                    #[cfg(feature = "tracing")]
                    tracing::debug!(stream = %self.stream, error = %e, retry_in = ?delay, "recreating the ordered consumer failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(RETRY_MAX);
                }
                Err(e) => return Err(e),
            }
        }
    }
}
