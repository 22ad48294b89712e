//! Turns an `async fn step(self) -> (Option<Item>, Self)` state machine into a `Stream`, and
//! the helpers the consumers share: status classification and message sizes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use client::{Message, StatusCode};

/// One step's future: the next item (or the end) and the state back.
pub(crate) type StepFuture<S, T> = Pin<Box<dyn Future<Output = (Option<T>, S)> + Send>>;

/// Drives a state machine one item at a time. The state lives in the driver between items
/// and inside the step future while one runs, so dropping the driver drops everything
/// (subscriptions unsubscribe). After the end (`None`) it stays ended.
pub(crate) struct Driver<S, T> {
    state: Option<S>,
    running: Option<StepFuture<S, T>>,
    step: fn(S) -> StepFuture<S, T>,
}

impl<S, T> Driver<S, T> {
    pub(crate) fn new(state: S, step: fn(S) -> StepFuture<S, T>) -> Self {
        Driver {
            state: Some(state),
            running: None,
            step,
        }
    }

    /// The state, mutably, when no step is running.
    pub(crate) fn state_mut(&mut self) -> Option<&mut S> {
        self.state.as_mut()
    }

    /// The state, when no step is running (between items).
    pub(crate) fn state(&self) -> Option<&S> {
        self.state.as_ref()
    }

    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.running.is_none() {
            let Some(state) = self.state.take() else {
                return Poll::Ready(None);
            };
            self.running = Some((self.step)(state));
        }
        let Some(fut) = self.running.as_mut() else {
            return Poll::Ready(None);
        };
        match fut.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((item, state)) => {
                self.running = None;
                if item.is_some() {
                    self.state = Some(state);
                }
                Poll::Ready(item)
            }
        }
    }

    /// True once the stream has ended.
    pub(crate) fn is_terminated(&self) -> bool {
        self.state.is_none() && self.running.is_none()
    }
}

/// What a message on a consumer's inbox is.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A stored message.
    Data(Message),
    /// `100` without a reply: an idle heartbeat.
    Heartbeat(Message),
    /// `100` with a reply: a flow-control request to answer on that subject.
    FlowControl(String),
    /// Any other status.
    Status {
        code: u16,
        description: String,
        message: Message,
    },
}

pub(crate) fn classify(message: Message) -> Inbound {
    let Some(status) = message.status() else {
        return Inbound::Data(message);
    };
    if status == StatusCode::IDLE_HEARTBEAT {
        return match message.reply.as_deref() {
            Some(reply) if !reply.is_empty() => Inbound::FlowControl(reply.to_string()),
            _ => Inbound::Heartbeat(message),
        };
    }
    let description = message.description().unwrap_or_default().to_string();
    Inbound::Status {
        code: status.as_u16(),
        description,
        message,
    }
}

/// The size the server counts for a delivered message (subject, reply, headers, payload).
pub(crate) fn message_size(message: &Message) -> u64 {
    let size = message
        .subject
        .len()
        .saturating_add(message.reply.as_ref().map_or(0, |r| r.len()))
        .saturating_add(message.headers.as_ref().map_or(0, |h| h.encoded_len()))
        .saturating_add(message.payload.len());
    u64::try_from(size).unwrap_or(u64::MAX)
}

/// Case-insensitive check of a status description.
pub(crate) fn description_is(description: &str, expected: &str) -> bool {
    description.trim().eq_ignore_ascii_case(expected)
}

/// `base + interval × times`, or `None` when that is beyond what an `Instant` can hold
/// (durations come from the application and may be huge).
pub(crate) fn after(
    base: tokio::time::Instant,
    interval: std::time::Duration,
    times: u32,
) -> Option<tokio::time::Instant> {
    interval
        .checked_mul(times)
        .and_then(|d| base.checked_add(d))
}

/// The error a consumer stream yields when its subscription ends underneath it (the client
/// was closed, or the server refused the subscription), naming the last reason the
/// connection gave; `None` when the application itself ended it (unsubscribe, drain).
pub(crate) fn subscription_ended(
    sub: &client::Subscription,
    last_reason: Option<&str>,
) -> Option<crate::error::Error> {
    use crate::error::{Error, ErrorKind};
    let why = last_reason
        .map(|r| format!(" (last: {r})"))
        .unwrap_or_default();
    match sub.close_reason()? {
        client::CloseReason::ClientClosed => Some(Error::new(
            ErrorKind::Client,
            format!("the client is closed; the consumer stream ends{why}"),
        )),
        client::CloseReason::PermissionDenied(text) => Some(Error::new(
            ErrorKind::Client,
            format!("the server refused the subscription: {text}"),
        )),
        _ => None,
    }
}

/// What an event says about why the connection went away, if anything.
pub(crate) fn event_reason(event: &client::Event) -> Option<String> {
    match event {
        client::Event::Disconnected { reason } => Some(format!("disconnected: {reason}")),
        client::Event::ServerError { message } => Some(format!("server error: {message}")),
        _ => None,
    }
}
