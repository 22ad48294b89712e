//! Push consumers: the server sends messages to the consumer's `deliver_subject` (to one
//! member of `deliver_group` when set) without being asked.
//!
//! [`PushMessages`] is the same `Stream` of [`JsMessage`] results as a pull consumer's
//! [`PullMessages`](crate::PullMessages), with the same acknowledgements. It answers
//! flow-control requests (status `100` with a reply) when the application reaches them, so
//! the server never runs further ahead than the reader, and answers a
//! `Nats-Consumer-Stalled` heartbeat at once.
//!
//! Liveness, with `idle_heartbeat` set on the consumer: two intervals with nothing arriving
//! (counted from what arrived, not from when the application last polled) trigger a
//! consumer-info check. A consumer or stream that is gone, or JetStream disabled, ends the
//! stream with that error ([`Error::is_consumer_deleted`], [`Error::is_stream_not_found`],
//! [`Error::is_jetstream_disabled`]); otherwise the stream yields a
//! [`ErrorKind::MissedHeartbeats`] warning (counted in [`PushMessages::warnings`]) and goes
//! on. A `409 Consumer Deleted` status also ends it. While the connection is down the timer
//! is paused; after a reconnect the client has re-subscribed, the consumer is checked at once
//! and the timer restarts.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use client::{Client, Event, Events, Subscription};
use futures_core::Stream;

use crate::consumer::ack::JsMessage;
use crate::consumer::config::ConsumerConfig;
use crate::consumer::driver::{Driver, Inbound, classify, description_is};
use crate::consumer::health::{self, Health, Watchdog};
use crate::consumer::info::ConsumerInfo;
use crate::consumer::pull::sleep_until_opt;
use crate::context::{Context, validate_token};
use crate::error::{Error, ErrorKind, Result};

/// A push consumer: messages arrive on its `deliver_subject`; read them with
/// [`PushConsumer::messages`].
///
/// ```no_run
/// # async fn demo(js: gnat_jetstream::Context) -> gnat_jetstream::Result<()> {
/// use futures_util::StreamExt;
/// use gnat_jetstream::ConsumerConfig;
/// let inbox = js.client().new_inbox();
/// let consumer = js
///     .create_push_consumer(
///         "ORDERS",
///         ConsumerConfig::durable("mailer")
///             .deliver_subject(inbox)
///             .idle_heartbeat(std::time::Duration::from_secs(5))
///             .flow_control(true),
///     )
///     .await?;
/// let mut messages = consumer.messages().await?;
/// while let Some(message) = messages.next().await {
///     let message = message?;
///     message.ack().await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PushConsumer {
    ctx: Context,
    stream: String,
    name: String,
    info: ConsumerInfo,
    /// The subscription made before the consumer was created (so that nothing the server
    /// pushes at once is lost), for the first call of `messages`.
    early: Arc<Mutex<Option<Subscription>>>,
}

impl Context {
    /// Creates (or updates) a push consumer and binds to it. The configuration must have a
    /// `deliver_subject`. The subscription (a queue subscription with `deliver_group`) is made
    /// before the create request, so that an ephemeral consumer's first messages are not
    /// pushed into the void; [`PushConsumer::messages`] uses it.
    pub async fn create_push_consumer(
        &self,
        stream: &str,
        config: ConsumerConfig,
    ) -> Result<PushConsumer> {
        let Some(subject) = config.deliver_subject.clone() else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a push consumer needs a deliver_subject",
            ));
        };
        validate_token("stream", stream)?;
        let sub = subscribe(self.client(), &subject, config.deliver_group.as_deref()).await?;
        let info = self.create_consumer(stream, config).await?;
        let consumer = PushConsumer::from_info(self.clone(), info)?;
        *crate::consumer::lock(&consumer.early) = Some(sub);
        Ok(consumer)
    }

    /// Binds to an existing push consumer (looks up its info).
    pub async fn push_consumer(&self, stream: &str, name: &str) -> Result<PushConsumer> {
        let info = self.consumer_info(stream, name).await?;
        PushConsumer::from_info(self.clone(), info)
    }
}

async fn subscribe(client: &Client, subject: &str, group: Option<&str>) -> Result<Subscription> {
    Ok(match group {
        Some(group) => client.queue_subscribe(subject, group).await?,
        None => client.subscribe(subject).await?,
    })
}

impl PushConsumer {
    /// A handle from a consumer's info; fails for pull consumers.
    pub fn from_info(ctx: Context, info: ConsumerInfo) -> Result<Self> {
        if info.config.deliver_subject.is_none() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("consumer {:?} is pull based", info.name),
            ));
        }
        validate_token("stream", &info.stream_name)?;
        validate_token("consumer", &info.name)?;
        Ok(PushConsumer {
            stream: info.stream_name.clone(),
            name: info.name.clone(),
            ctx,
            info,
            early: Arc::new(Mutex::new(None)),
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

    /// Subscribes to the deliver subject (in the deliver group, if any) and returns the
    /// messages as a stream; see the module documentation for flow control and liveness.
    ///
    /// Items are messages, or errors: terminal ones end the stream (consumer or stream
    /// deleted, JetStream disabled); [`ErrorKind::MissedHeartbeats`] and other statuses are
    /// warnings and the stream goes on.
    pub async fn messages(&self) -> Result<PushMessages> {
        let config = &self.info.config;
        let subject = config
            .deliver_subject
            .as_deref()
            .ok_or_else(|| Error::new(ErrorKind::InvalidInput, "no deliver_subject"))?;
        let early = crate::consumer::lock(&self.early).take();
        let sub = match early {
            Some(sub) => sub,
            None => subscribe(self.ctx.client(), subject, config.deliver_group.as_deref()).await?,
        };
        let client = self.ctx.client().clone();
        let state = PushState {
            events: client.events(),
            client,
            ctx: self.ctx.clone(),
            stream: self.stream.clone(),
            name: self.name.clone(),
            sub,
            events_open: true,
            last_reason: None,
            watchdog: config
                .idle_heartbeat
                .filter(|d| !d.is_zero())
                .map(Watchdog::new),
            paused: false,
            check_now: false,
            warnings: 0,
            terminated: false,
        };
        Ok(PushMessages {
            driver: Driver::new(state, |s| Box::pin(s.step())),
        })
    }
}

/// The messages of a push consumer; see [`PushConsumer::messages`].
pub struct PushMessages {
    driver: Driver<PushState, Result<JsMessage>>,
}

impl PushMessages {
    /// The next message or error; `None` after a terminal error or when the client closed.
    pub async fn next(&mut self) -> Option<Result<JsMessage>> {
        std::future::poll_fn(|cx| self.driver.poll_next(cx)).await
    }

    /// How many warnings (missed heartbeats, unexpected statuses) the stream has yielded,
    /// between items.
    pub fn warnings(&self) -> Option<u64> {
        self.driver.state().map(|s| s.warnings)
    }

    /// True once the stream has ended.
    pub fn is_terminated(&self) -> bool {
        self.driver.is_terminated()
    }
}

impl Stream for PushMessages {
    type Item = Result<JsMessage>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.driver.poll_next(cx)
    }
}

impl std::fmt::Debug for PushMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushMessages")
            .field("warnings", &self.warnings())
            .finish_non_exhaustive()
    }
}

struct PushState {
    /// Why the connection last went away (for the error when the client closes).
    last_reason: Option<String>,
    client: Client,
    ctx: Context,
    stream: String,
    name: String,
    sub: Subscription,
    events: Events,
    events_open: bool,
    watchdog: Option<Watchdog>,
    paused: bool,
    /// Look the consumer up before waiting (after a reconnect).
    check_now: bool,
    warnings: u64,
    terminated: bool,
}

impl PushState {
    async fn step(mut self) -> (Option<Result<JsMessage>>, Self) {
        loop {
            if self.terminated {
                return (None, self);
            }
            if std::mem::take(&mut self.check_now)
                && let Health::Gone(e) = health::check(&self.ctx, &self.stream, &self.name).await
            {
                self.terminated = true;
                return (Some(Err(e)), self);
            }
            let probe_at = self.watchdog.as_ref().and_then(Watchdog::probe_at);
            let hb_deadline = self.watchdog.as_ref().and_then(Watchdog::deadline);
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
                        self.activity();
                        self.check_now = true;
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
                    self.activity();
                    if let Some(item) = self.handle(msg).await {
                        return (Some(item), self);
                    }
                }
                _ = sleep_until_opt(probe_at), if !self.paused => {
                    if self.client.state() != client::State::Connected {
                        self.paused = true;
                        continue;
                    }
                    if let Some(w) = self.watchdog.as_mut()
                        && let Some(e) = w.probe(&self.ctx, &self.stream, &self.name).await
                    {
                        self.terminated = true;
                        return (Some(Err(e)), self);
                    }
                }
                _ = sleep_until_opt(hb_deadline), if !self.paused => {
                    if self.client.state() != client::State::Connected {
                        self.paused = true;
                        continue;
                    }
                    let what = format!("push consumer {:?}", self.name);
                    let Some(w) = self.watchdog.as_mut() else { continue };
                    let err = w.missed(&what);
                    self.warnings = self.warnings.saturating_add(1);
                    return (Some(Err(err)), self);
                }
            }
        }
    }

    fn activity(&mut self) {
        if let Some(w) = self.watchdog.as_mut() {
            w.activity();
        }
    }

    async fn handle(&mut self, msg: client::Message) -> Option<Result<JsMessage>> {
        match classify(msg) {
            Inbound::Data(m) => Some(Ok(JsMessage::new(self.client.clone(), m))),
            Inbound::FlowControl(reply) => {
                // Answered when the reader gets here: the server waits for it before sending
                // more than its flow-control window.
                let _ = self.client.publish(&reply, Bytes::new()).await;
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
                None
            }
            Inbound::Status {
                code, description, ..
            } => {
                let err = Error::from_status(code, description.clone());
                if code == 409 && description_is(&description, "Consumer Deleted") {
                    self.terminated = true;
                } else {
                    self.warnings = self.warnings.saturating_add(1);
                }
                Some(Err(err))
            }
        }
    }
}
