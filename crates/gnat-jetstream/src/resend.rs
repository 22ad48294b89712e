//! Writes with one true outcome when the connection drops: a publish waiting for its ack
//! when the connection is lost is sent again after the reconnect with the same
//! `Nats-Msg-Id` (gnat makes one up when the caller gave none), so the stream's duplicate
//! window stores it once and the ack that comes back is the true one (`duplicate` when the
//! first attempt had landed). Where that cannot be exact — the stream is gone, it has no
//! duplicate window, or the outage outlasted it, or the connection is not back before the
//! publish's timeout — the publish fails at once with [`ErrorKind::OutcomeUnknown`].
//!
//! A write with an expectation (`Nats-Expected-Last-Sequence`,
//! `Nats-Expected-Last-Subject-Sequence`) is checked by nats-server before the duplicate
//! window, so the resend of a write whose first attempt landed is refused as "wrong last
//! sequence" (10071). That answer is then checked against the stream: when the message
//! following the expected sequence carries our `Nats-Msg-Id`, it is our write, and the
//! publish returns its ack, marked duplicate.
//!
//! Connection state comes from the client's public [`client::Events`]: one small task per
//! [`Context`] family turns them into a [`watch`] of disconnect epochs, and ends when the
//! client closes or every context is gone.

use std::time::Duration;

use futures_core::Stream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::context::Context;
use crate::error::{Error, ErrorKind, Result};
use crate::publish::PublishOptions;

/// The connection as the resend logic sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    /// Disconnects seen so far.
    pub(crate) epoch: u64,
    pub(crate) connected: bool,
    pub(crate) closed: bool,
}

impl Link {
    /// True when the connection was lost since `sent` was observed. A message sent while
    /// disconnected waits in the client's reconnect buffer and goes out after the reconnect,
    /// so only a disconnect after the send (a new epoch) loses it.
    pub(crate) fn lost_since(&self, sent: &Link) -> bool {
        self.closed || self.epoch != sent.epoch
    }
}

/// Starts watching `client`'s events; `None` outside a Tokio runtime.
pub(crate) fn watch_link(client: &client::Client) -> Option<watch::Receiver<Link>> {
    let handle = tokio::runtime::Handle::try_current().ok()?;
    let mut events = client.events();
    let state = client.state();
    let (tx, rx) = watch::channel(Link {
        epoch: 0,
        connected: state == client::State::Connected,
        closed: state == client::State::Closed,
    });
    handle.spawn(async move {
        loop {
            let event = tokio::select! {
                event = std::future::poll_fn(|cx| std::pin::Pin::new(&mut events).poll_next(cx)) => event,
                () = tx.closed() => return,
            };
            let Some(event) = event else {
                tx.send_modify(|l| l.closed = true);
                return;
            };
            match event {
                client::Event::Disconnected { .. } => tx.send_modify(|l| {
                    l.epoch += 1;
                    l.connected = false;
                }),
                client::Event::Connected { .. } | client::Event::Reconnected { .. } => {
                    tx.send_modify(|l| l.connected = true)
                }
                client::Event::Closed => {
                    tx.send_modify(|l| l.closed = true);
                    return;
                }
                _ => {}
            }
        }
    });
    Some(rx)
}

/// An error for a write whose outcome cannot be known.
pub(crate) fn outcome_unknown(subject: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::OutcomeUnknown,
        format!(
            "publish to {subject}: the connection was lost while waiting for the ack and {why}; the message may or may not be stored"
        ),
    )
}

/// What a resend needs to know about the stream.
pub(crate) struct ResendTarget {
    pub(crate) stream: String,
}

impl Context {
    /// Waits until the connection is back (up to `deadline`), then checks that a resend of a
    /// publish first sent at `first_sent` to `subject` is exact: a stream still captures the
    /// subject and its duplicate window covers the time since.
    pub(crate) async fn prepare_resend(
        &self,
        subject: &str,
        link: &mut watch::Receiver<Link>,
        first_sent: Instant,
        deadline: Instant,
    ) -> Result<ResendTarget> {
        let stream = self.after_reconnect(subject, link, deadline).await?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let info = self
            .clone()
            .with_timeout(remaining.max(Duration::from_millis(1)))
            .stream_info(&stream)
            .await
            .map_err(|e| {
                outcome_unknown(subject, format_args!("reading stream {stream} failed: {e}"))
            })?;
        let window = info.config.duplicate_window.unwrap_or_default();
        let outage = first_sent.elapsed();
        if window.is_zero() {
            return Err(outcome_unknown(
                subject,
                format_args!("stream {stream} has no duplicate window to resend into"),
            ));
        }
        if outage >= window {
            return Err(outcome_unknown(
                subject,
                format_args!(
                    "{outage:?} passed, more than stream {stream}'s duplicate window of {window:?}"
                ),
            ));
        }
        Ok(ResendTarget { stream })
    }

    /// Waits until the connection is back (up to `deadline`) and returns the stream that
    /// captures `subject`, retrying while a restarted server starts JetStream.
    pub(crate) async fn after_reconnect(
        &self,
        subject: &str,
        link: &mut watch::Receiver<Link>,
        deadline: Instant,
    ) -> Result<String> {
        let back = tokio::time::timeout_at(deadline, link.wait_for(|l| l.connected || l.closed));
        match back.await {
            Err(_) => {
                return Err(outcome_unknown(
                    subject,
                    "it was not back before the publish timed out",
                ));
            }
            Ok(Err(_)) => return Err(outcome_unknown(subject, "the client is gone")),
            Ok(Ok(l)) if l.closed => {
                return Err(outcome_unknown(subject, "the client was closed"));
            }
            Ok(Ok(_)) => {}
        }
        // The server may still be starting JetStream: retry while nobody answers.
        let names = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(outcome_unknown(
                    subject,
                    "JetStream did not answer before the publish timed out",
                ));
            }
            let ctx = self.clone().with_timeout(remaining);
            match ctx.stream_names_matching(subject).await {
                Ok(names) => break names,
                Err(e) if retryable(&e) => {
                    tokio::time::sleep(Duration::from_millis(50).min(remaining)).await;
                }
                Err(e) => {
                    return Err(outcome_unknown(
                        subject,
                        format_args!("looking up its stream failed: {e}"),
                    ));
                }
            }
        };
        let Some(stream) = names.into_iter().next() else {
            return Err(outcome_unknown(
                subject,
                "no stream captures the subject any more",
            ));
        };
        Ok(stream)
    }

    /// After a resend was refused for a wrong last sequence: whether the message right after
    /// the expected one is ours (same `Nats-Msg-Id`), and its sequence if so.
    pub(crate) async fn landed(
        &self,
        target: &ResendTarget,
        subject: &str,
        msg_id: &str,
        options: &Expectations,
    ) -> Option<u64> {
        let found = if let Some(expected) = options.last_subject_sequence {
            let on = options
                .last_subject_sequence_subject
                .as_deref()
                .unwrap_or(subject);
            self.get_next_message(&target.stream, expected.saturating_add(1), on)
                .await
                .ok()?
        } else if let Some(expected) = options.last_sequence {
            self.get_message(&target.stream, expected.saturating_add(1))
                .await
                .ok()?
        } else {
            return None;
        };
        let ours = found.headers.as_ref()?.get("Nats-Msg-Id")? == msg_id;
        ours.then_some(found.sequence)
    }
}

/// The expectations of a publish that a resend may run into.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expectations {
    pub(crate) last_sequence: Option<u64>,
    pub(crate) last_subject_sequence: Option<u64>,
    pub(crate) last_subject_sequence_subject: Option<String>,
}

impl Expectations {
    pub(crate) fn of(options: &PublishOptions) -> Self {
        Expectations {
            last_sequence: options.expected_last_sequence,
            last_subject_sequence: options.expected_last_subject_sequence,
            last_subject_sequence_subject: options.expected_last_subject_sequence_subject.clone(),
        }
    }

    pub(crate) fn any(&self) -> bool {
        self.last_sequence.is_some() || self.last_subject_sequence.is_some()
    }
}

/// Errors worth retrying while a restarted server comes up.
fn retryable(e: &Error) -> bool {
    e.is_no_responders()
        || e.is_timeout()
        || e.code() == Some(503)
        || matches!(
            e.client_kind(),
            Some(client::ErrorKind::Disconnected | client::ErrorKind::ReconnectBufferFull)
        )
}
