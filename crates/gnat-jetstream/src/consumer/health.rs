//! The check every long-lived consumer stream makes when deliveries stop (missed heartbeats,
//! `503` on a pull request, a reconnect): is the consumer still there?
//!
//! The answer decides between going on (the server is slow, restarting, or electing a
//! leader: a warning, and delivery resumes) and ending the stream with an error that names
//! the cause (consumer deleted, stream deleted, JetStream disabled): never a silent loop of
//! retries against something that no longer exists.

use std::time::Duration;

use tokio::time::Instant;

use crate::consumer::driver::after;
use crate::context::Context;
use crate::error::{Error, ErrorKind};

/// What a consumer-info lookup says about a consumer.
#[derive(Debug)]
pub(crate) enum Health {
    /// It exists.
    Alive,
    /// It is gone for good: the error names why (10014 consumer not found, 10059 stream not
    /// found, 10039/10076 JetStream disabled).
    Gone(Error),
    /// No answer that settles it (timeout, no responders, JetStream not ready, cluster
    /// without a leader): the caller warns and checks again later.
    Unknown(Error),
}

/// Whether an error from a consumer API call means the consumer can never come back.
pub(crate) fn is_gone(err: &Error) -> bool {
    err.is_consumer_not_found() || err.is_stream_not_found() || err.is_jetstream_disabled()
}

/// Looks the consumer up (one API request, bounded by the context's timeout).
pub(crate) async fn check(ctx: &Context, stream: &str, consumer: &str) -> Health {
    match ctx.consumer_info(stream, consumer).await {
        Ok(_) => Health::Alive,
        Err(e) if is_gone(&e) => {
            let what = if e.is_stream_not_found() {
                format!("stream {stream:?} was deleted")
            } else if e.is_jetstream_disabled() {
                "JetStream is disabled".to_string()
            } else {
                format!("consumer {consumer:?} of stream {stream:?} was deleted")
            };
            Health::Gone(e.with_message(what))
        }
        Err(e) => Health::Unknown(e),
    }
}

/// Heartbeat bookkeeping of a long-lived consumer stream.
///
/// With nothing arriving for 1.5 intervals the consumer is looked up (bounded so that the
/// answer comes by 2 intervals); a consumer that is gone ends the stream with that error
/// within 2 intervals. At 2 intervals with still nothing, the stream yields a
/// [`ErrorKind::MissedHeartbeats`] warning that says what the lookup found.
#[derive(Debug)]
pub(crate) struct Watchdog {
    heartbeat: Duration,
    last_activity: Instant,
    checked: bool,
    verdict: Option<std::result::Result<(), Error>>,
}

impl Watchdog {
    pub(crate) fn new(heartbeat: Duration) -> Self {
        Watchdog {
            heartbeat,
            last_activity: Instant::now(),
            checked: false,
            verdict: None,
        }
    }

    /// Something arrived (or the timer restarts, after a reconnect).
    pub(crate) fn activity(&mut self) {
        self.last_activity = Instant::now();
        self.checked = false;
        self.verdict = None;
    }

    /// When to look the consumer up, if not done in this silence yet.
    pub(crate) fn probe_at(&self) -> Option<Instant> {
        if self.checked {
            return None;
        }
        after(self.last_activity, self.heartbeat / 2, 3)
    }

    /// When the silence becomes a missed-heartbeats warning.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        after(self.last_activity, self.heartbeat, 2)
    }

    /// Looks the consumer up; `Some(error)` when it is gone for good.
    pub(crate) async fn probe(&mut self, ctx: &Context, stream: &str, name: &str) -> Option<Error> {
        self.checked = true;
        let budget = self
            .deadline()
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(self.heartbeat)
            .max(Duration::from_millis(50));
        self.verdict = Some(
            match tokio::time::timeout(budget, check(ctx, stream, name)).await {
                Ok(Health::Gone(e)) => return Some(e),
                Ok(Health::Alive) => Ok(()),
                Ok(Health::Unknown(e)) => Err(e),
                Err(_) => Err(Error::new(
                    ErrorKind::Client,
                    format!("no consumer info within {budget:?}"),
                )),
            },
        );
        None
    }

    /// The warning for two silent intervals; the timer restarts.
    pub(crate) fn missed(&mut self, what: &str) -> Error {
        let message = match self.verdict.take() {
            Some(Ok(())) => {
                format!("{what}: no heartbeat for two intervals; the consumer still exists")
            }
            Some(Err(e)) => {
                format!("{what}: no heartbeat for two intervals; consumer state unknown ({e})")
            }
            None => format!("{what}: no heartbeat for two intervals"),
        };
        self.activity();
        Error::new(ErrorKind::MissedHeartbeats, message)
    }
}
