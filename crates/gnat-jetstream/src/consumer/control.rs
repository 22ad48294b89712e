//! Consumer controls on [`Context`]: pause and resume (`CONSUMER.PAUSE`, nats-server 2.11+),
//! reset to the ack floor or a stream sequence (`CONSUMER.RESET`, ADR-60, 2.14+), and unpin
//! the pinned client of a priority group (`CONSUMER.UNPIN`, ADR-42, 2.11+).

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::consumer::info::ConsumerInfo;
use crate::context::{Context, validate_token};
use crate::error::{Error, ErrorKind, Result};
use crate::time::{Timestamp, nanos_opt};

/// The state of a consumer after a pause or resume request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PauseState {
    /// Whether the consumer is paused now.
    #[serde(default)]
    pub paused: bool,
    /// Until when (absent when not paused).
    #[serde(default)]
    pub pause_until: Option<Timestamp>,
    /// How long the pause still lasts.
    #[serde(default, with = "nanos_opt")]
    pub pause_remaining: Option<Duration>,
}

/// Where [`Context::reset_consumer`] puts a consumer (ADR-60).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTo {
    /// Back to its ack floor: every delivered but unacknowledged message is delivered again,
    /// with consumer sequences starting over at 1 (an empty request).
    AckFloor,
    /// To a stream sequence: the next message delivered is the first at or after it (the
    /// ack floor becomes the sequence before it). The server allows this only for deliver
    /// policies `all`, `by_start_sequence` (not before `opt_start_seq`) and `by_start_time`.
    Sequence(u64),
}

/// The reply of [`Context::reset_consumer`]: the consumer's info after the reset and the
/// stream sequence it was reset to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ResetState {
    /// The consumer after the reset.
    #[serde(flatten)]
    pub info: ConsumerInfo,
    /// The stream sequence delivery restarts from (`reset_seq`).
    #[serde(default)]
    pub reset_seq: u64,
}

#[derive(Serialize)]
struct PauseRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pause_until: Option<Timestamp>,
}

#[derive(Serialize)]
struct ResetRequest {
    seq: u64,
}

#[derive(Serialize)]
struct UnpinRequest<'a> {
    group: &'a str,
}

#[derive(Deserialize)]
struct Empty {}

fn check_names(stream: &str, consumer: &str) -> Result<()> {
    validate_token("stream", stream)?;
    validate_token("consumer", consumer)
}

impl Context {
    /// Pauses a consumer until `until`: it delivers nothing (pull requests wait, push
    /// consumers only heartbeat) and resumes by itself then. A time in the past resumes it.
    pub async fn pause_consumer(
        &self,
        stream: &str,
        consumer: &str,
        until: Timestamp,
    ) -> Result<PauseState> {
        check_names(stream, consumer)?;
        self.request(
            &format!("CONSUMER.PAUSE.{stream}.{consumer}"),
            &PauseRequest {
                pause_until: Some(until),
            },
        )
        .await
    }

    /// Resumes a paused consumer now.
    pub async fn resume_consumer(&self, stream: &str, consumer: &str) -> Result<PauseState> {
        check_names(stream, consumer)?;
        self.request(
            &format!("CONSUMER.PAUSE.{stream}.{consumer}"),
            &PauseRequest { pause_until: None },
        )
        .await
    }

    /// Resets a consumer's delivery state (ADR-60, nats-server 2.14+): pending and
    /// redelivered messages are forgotten, consumer sequences start over at 1, and delivery
    /// restarts at the ack floor or at a stream sequence. Ordered consumers see the reset as
    /// a gap and recreate themselves; other consumers simply get the messages again.
    pub async fn reset_consumer(
        &self,
        stream: &str,
        consumer: &str,
        to: ResetTo,
    ) -> Result<ResetState> {
        check_names(stream, consumer)?;
        let op = format!("CONSUMER.RESET.{stream}.{consumer}");
        let result = match to {
            ResetTo::AckFloor => self.request_bytes(&op, Bytes::new()).await,
            ResetTo::Sequence(0) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "reset to sequence 0: use ResetTo::AckFloor",
                ));
            }
            ResetTo::Sequence(seq) => self.request(&op, &ResetRequest { seq }).await,
        };
        match result {
            // nats-server 2.15.1 does not answer a reset of a consumer that does not exist;
            // say which it is rather than just "timed out".
            Err(e) if e.is_timeout() => match self.consumer_info(stream, consumer).await {
                Err(info_err) if info_err.is_not_found() => Err(info_err),
                _ => Err(e),
            },
            other => other,
        }
    }

    /// Unpins the pinned client of priority group `group` (ADR-42): the server picks a new
    /// pinned client from the next pull request, and the old one gets `423` on its next.
    pub async fn unpin_consumer(&self, stream: &str, consumer: &str, group: &str) -> Result<()> {
        check_names(stream, consumer)?;
        validate_group(group)?;
        let _: Empty = self
            .request(
                &format!("CONSUMER.UNPIN.{stream}.{consumer}"),
                &UnpinRequest { group },
            )
            .await?;
        Ok(())
    }
}

/// A priority group name (ADR-42): 1 to 16 characters of `A-Z a-z 0-9 - _ / =`.
pub(crate) fn validate_group(group: &str) -> Result<()> {
    let ok = !group.is_empty()
        && group.len() <= 16
        && group
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/' | b'='));
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!("invalid priority group {group:?} (1-16 of A-Z a-z 0-9 - _ / =)"),
        ))
    }
}
