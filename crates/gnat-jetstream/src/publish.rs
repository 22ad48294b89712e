//! Publishing to streams with acknowledgements: one at a time ([`Context::publish`],
//! [`Context::publish_with`], [`Context::publish_with_seq`], with ADR-22 retries when no
//! stream answers yet), or pipelined through a [`Publisher`], which keeps a bounded window of
//! publishes in flight on one reply subscription of its own and matches acks by the token in
//! their reply subject.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use client::{HeaderMap, Request, StatusCode, Subscription};
use futures_core::Stream;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use tokio::time::{Instant, Sleep};

use crate::context::Context;
use crate::error::{ApiError, Error, ErrorKind, Result};
use crate::resend::{Expectations, ResendTarget, outcome_unknown};
use crate::time::go_duration;

const MSG_ID: &str = "Nats-Msg-Id";
const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
const EXPECTED_LAST_SEQUENCE: &str = "Nats-Expected-Last-Sequence";
const EXPECTED_LAST_SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";
const EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT: &str = "Nats-Expected-Last-Subject-Sequence-Subject";
const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
const TTL: &str = "Nats-TTL";
const ROLLUP: &str = "Nats-Rollup";
const REQUIRED_API_LEVEL: &str = "Nats-Required-Api-Level";

/// Default number of retries when no stream answers a publish (ADR-22).
pub const DEFAULT_PUBLISH_RETRIES: u32 = 2;
/// Default wait between those retries (ADR-22).
pub const DEFAULT_PUBLISH_RETRY_WAIT: Duration = Duration::from_millis(250);

/// The server's acknowledgement of a stored message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PubAck {
    /// The stream that stored it.
    pub stream: String,
    /// Its sequence in that stream.
    pub seq: u64,
    /// True when it was a duplicate (same `Nats-Msg-Id` within the window) and not stored
    /// again; `seq` is then the original's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
    /// The stream's JetStream domain, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The batch id, on the ack that commits an atomic or fast-ingest batch (ADR-50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// The number of messages the committed batch stored (ADR-50); `seq` is the last one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The counter's value after the increment, on streams with `allow_msg_counter`
    /// (ADR-49): a decimal integer of any size.
    #[serde(default, rename = "val", skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Which messages a rollup (`Nats-Rollup`) replaces; the stream needs `allow_rollup_hdrs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rollup {
    /// Earlier messages on the same subject (`sub`).
    Subject,
    /// Every earlier message in the stream (`all`).
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ttl {
    After(Duration),
    Never,
}

/// A publish with headers, expectations and retry settings, built step by step.
///
/// ```
/// use std::time::Duration;
/// use gnat_jetstream::PublishOptions;
/// let opts = PublishOptions::new()
///     .payload("order 1")
///     .msg_id("order-1")
///     .expected_last_subject_sequence(0)
///     .ttl(Duration::from_millis(1500));
/// ```
#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub(crate) payload: Bytes,
    pub(crate) headers: Option<HeaderMap>,
    pub(crate) msg_id: Option<String>,
    pub(crate) expected_stream: Option<String>,
    pub(crate) expected_last_sequence: Option<u64>,
    pub(crate) expected_last_subject_sequence: Option<u64>,
    pub(crate) expected_last_subject_sequence_subject: Option<String>,
    pub(crate) expected_last_msg_id: Option<String>,
    pub(crate) ttl: Option<Ttl>,
    pub(crate) rollup: Option<Rollup>,
    pub(crate) retries: u32,
    pub(crate) retry_wait: Duration,
    pub(crate) timeout: Option<Duration>,
    pub(crate) schedule: Option<crate::schedule::Schedule>,
    pub(crate) stop_schedule: Option<String>,
    pub(crate) required_api_level: Option<u32>,
    pub(crate) resend: bool,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            payload: Bytes::new(),
            headers: None,
            msg_id: None,
            expected_stream: None,
            expected_last_sequence: None,
            expected_last_subject_sequence: None,
            expected_last_subject_sequence_subject: None,
            expected_last_msg_id: None,
            ttl: None,
            rollup: None,
            retries: DEFAULT_PUBLISH_RETRIES,
            retry_wait: DEFAULT_PUBLISH_RETRY_WAIT,
            timeout: None,
            schedule: None,
            stop_schedule: None,
            required_api_level: None,
            resend: true,
        }
    }
}

impl PublishOptions {
    /// An empty publish with default retries.
    pub fn new() -> Self {
        Self::default()
    }

    /// The payload.
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Headers to send (the options below add theirs to these).
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// `Nats-Msg-Id`: de-duplication within the stream's duplicate window.
    pub fn msg_id(mut self, id: impl Into<String>) -> Self {
        self.msg_id = Some(id.into());
        self
    }

    /// `Nats-Expected-Stream`: refuse unless the subject is captured by this stream (10060).
    pub fn expected_stream(mut self, stream: impl Into<String>) -> Self {
        self.expected_stream = Some(stream.into());
        self
    }

    /// `Nats-Expected-Last-Sequence`: refuse unless the stream's last sequence is `seq`
    /// (10071).
    pub fn expected_last_sequence(mut self, seq: u64) -> Self {
        self.expected_last_sequence = Some(seq);
        self
    }

    /// `Nats-Expected-Last-Subject-Sequence`: refuse unless the last message on the subject
    /// (or on [`expected_last_subject_sequence_subject`](Self::expected_last_subject_sequence_subject))
    /// has sequence `seq`; 0 means there must be none (10071).
    pub fn expected_last_subject_sequence(mut self, seq: u64) -> Self {
        self.expected_last_subject_sequence = Some(seq);
        self
    }

    /// `Nats-Expected-Last-Subject-Sequence-Subject`: the subject (wildcards allowed) the
    /// expected last subject sequence refers to, instead of the published one.
    pub fn expected_last_subject_sequence_subject(mut self, subject: impl Into<String>) -> Self {
        self.expected_last_subject_sequence_subject = Some(subject.into());
        self
    }

    /// `Nats-Expected-Last-Msg-Id`: refuse unless the stream's last message had this id
    /// (10070).
    pub fn expected_last_msg_id(mut self, id: impl Into<String>) -> Self {
        self.expected_last_msg_id = Some(id.into());
        self
    }

    /// `Nats-TTL`: the message expires after `ttl` (sent in Go duration syntax with
    /// sub-second precision, e.g. `1.5s`); the stream needs `allow_msg_ttl`.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(Ttl::After(ttl));
        self
    }

    /// `Nats-TTL: never`: the message never expires, whatever the stream's `max_age`.
    pub fn ttl_never(mut self) -> Self {
        self.ttl = Some(Ttl::Never);
        self
    }

    /// `Nats-Rollup`: replace earlier messages on the subject or in the whole stream.
    pub fn rollup(mut self, rollup: Rollup) -> Self {
        self.rollup = Some(rollup);
        self
    }

    /// Retry `retries` times, waiting `wait` between attempts, while no stream answers
    /// (status 503); default 2 × 250 ms. Not used by the pipelined [`Publisher`].
    pub fn retry(mut self, retries: u32, wait: Duration) -> Self {
        self.retries = retries;
        self.retry_wait = wait;
        self
    }

    /// How long to wait for the ack (default: the context's timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Makes the message a schedule (ADR-51; the stream needs `allow_msg_schedules`): the
    /// stream produces messages on the schedule's target from it. See
    /// [`Context::schedule`](crate::Context::schedule).
    pub fn schedule(mut self, schedule: crate::schedule::Schedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// Stops the schedule held on `schedule_subject` when this message is stored, in one
    /// atomic step (ADR-51: `Nats-Schedule-Next: purge` and `Nats-Scheduler`). The message
    /// must go to another subject, for example the schedule's target to publish early.
    /// Combine with [`expected_last_subject_sequence`](Self::expected_last_subject_sequence)
    /// and [`expected_last_subject_sequence_subject`](Self::expected_last_subject_sequence_subject)
    /// to act only while the schedule still exists.
    pub fn stop_schedule(mut self, schedule_subject: impl Into<String>) -> Self {
        self.stop_schedule = Some(schedule_subject.into());
        self
    }

    /// Whether a publish in flight when the connection drops is sent again after the
    /// reconnect (default: yes). The resend carries the same `Nats-Msg-Id` — gnat makes one
    /// up when none was given — so the stream's duplicate window stores the message once
    /// and the ack is the true one; where a resend cannot be exact the publish fails at once
    /// with [`Error::is_outcome_unknown`]. With `false`, no id is made up and a lost
    /// connection fails the publish at once as outcome unknown. Not used by the pipelined
    /// [`Publisher`].
    pub fn resend_on_reconnect(mut self, resend: bool) -> Self {
        self.resend = resend;
        self
    }

    /// `Nats-Required-Api-Level` (ADR-44): on a message of an [`AtomicBatch`](crate::AtomicBatch),
    /// the server abandons the batch and refuses it (10185) unless its JetStream API level is
    /// at least `level`, instead of ignoring headers it does not know (ADR-50). nats-server
    /// 2.15 does not check it on single publishes.
    pub fn required_api_level(mut self, level: u32) -> Self {
        self.required_api_level = Some(level);
        self
    }

    /// The payload and the header block to send (`None` when there is nothing to send).
    pub(crate) fn into_parts(self) -> Result<(Bytes, Option<HeaderMap>)> {
        let mut headers = self.headers;
        let mut set = |name: &str, value: &str| -> Result<()> {
            headers
                .get_or_insert_with(HeaderMap::new)
                .insert(name, value)
                .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("header {name}: {e}")))
        };
        if let Some(id) = &self.msg_id {
            set(MSG_ID, id)?;
        }
        if let Some(stream) = &self.expected_stream {
            set(EXPECTED_STREAM, stream)?;
        }
        if let Some(seq) = self.expected_last_sequence {
            set(EXPECTED_LAST_SEQUENCE, &seq.to_string())?;
        }
        if let Some(seq) = self.expected_last_subject_sequence {
            set(EXPECTED_LAST_SUBJECT_SEQUENCE, &seq.to_string())?;
        }
        if let Some(subject) = &self.expected_last_subject_sequence_subject {
            set(EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT, subject)?;
        }
        if let Some(id) = &self.expected_last_msg_id {
            set(EXPECTED_LAST_MSG_ID, id)?;
        }
        match self.ttl {
            Some(Ttl::After(d)) => set(TTL, &go_duration(d))?,
            Some(Ttl::Never) => set(TTL, "never")?,
            None => {}
        }
        match self.rollup {
            Some(Rollup::Subject) => set(ROLLUP, "sub")?,
            Some(Rollup::All) => set(ROLLUP, "all")?,
            None => {}
        }
        if let Some(subject) = &self.stop_schedule {
            client::proto::validate_publish_subject(subject).map_err(|e| {
                Error::new(ErrorKind::InvalidInput, format!("schedule subject: {e}"))
            })?;
            set(crate::schedule::SCHEDULE_NEXT, "purge")?;
            set(crate::schedule::SCHEDULER, subject)?;
        }
        if let Some(level) = self.required_api_level {
            set(REQUIRED_API_LEVEL, &level.to_string())?;
        }
        if let Some(schedule) = &self.schedule {
            schedule.write_headers(headers.get_or_insert_with(HeaderMap::new))?;
        }
        Ok((self.payload, headers))
    }
}

pub(crate) fn no_stream(subject: Option<&str>) -> Error {
    let message = match subject {
        Some(s) => format!("no stream answered a publish to {s} (no responders)"),
        None => "no stream answered the publish (no responders)".to_string(),
    };
    Error::new(ErrorKind::NoStream, message)
}

/// The fields of an ack; the stream and domain names are read into `S`.
struct AckFields<S> {
    stream: S,
    seq: u64,
    duplicate: bool,
    domain: Option<S>,
    batch: Option<S>,
    count: Option<u64>,
    val: Option<S>,
}

/// Reads a publish reply: an ack, an API error (codes kept), or an inline status. The stream
/// and domain names are read into `S`: `String` keeps them, [`IgnoredAny`] only checks that
/// they are there, without copying them.
fn read_ack<S: DeserializeOwned>(
    subject: Option<&str>,
    headers: Option<&HeaderMap>,
    payload: &[u8],
) -> Result<AckFields<S>> {
    if let Some(status) = headers.and_then(HeaderMap::status) {
        if status == StatusCode::NO_RESPONDERS {
            return Err(no_stream(subject));
        }
        let description = headers.and_then(HeaderMap::description).unwrap_or_default();
        return Err(Error::from_status(status.as_u16(), description));
    }
    // One pass over the JSON (the hot path of pipelined publishing), not an error probe and
    // then the ack.
    let wire: AckWire<S> = serde_json::from_slice(payload)?;
    if let Some(api) = wire.error {
        return Err(Error::from_api(api));
    }
    match (wire.stream, wire.seq) {
        (Some(stream), Some(seq)) => Ok(AckFields {
            stream,
            seq,
            duplicate: wire.duplicate,
            domain: wire.domain,
            batch: wire.batch,
            count: wire.count,
            val: wire.val,
        }),
        _ => Err(Error::new(
            ErrorKind::Decode,
            "publish ack without stream or seq",
        )),
    }
}

/// Reads a publish reply into a [`PubAck`].
pub(crate) fn parse_ack(
    subject: Option<&str>,
    headers: Option<&HeaderMap>,
    payload: &[u8],
) -> Result<PubAck> {
    let ack = read_ack::<String>(subject, headers, payload)?;
    Ok(PubAck {
        stream: ack.stream,
        seq: ack.seq,
        duplicate: ack.duplicate,
        domain: ack.domain,
        batch: ack.batch,
        count: ack.count,
        value: ack.val,
    })
}

/// Reads a publish reply as [`parse_ack`] does, keeping only the sequence.
fn parse_ack_seq(
    subject: Option<&str>,
    headers: Option<&HeaderMap>,
    payload: &[u8],
) -> Result<u64> {
    Ok(read_ack::<IgnoredAny>(subject, headers, payload)?.seq)
}

/// Whether a publish reply is error 10054 (message larger than the stream's maximum).
fn too_large(reply: &RawReply) -> bool {
    reply.payload.windows(5).any(|w| w == b"10054")
        && read_ack::<IgnoredAny>(None, reply.headers.as_ref(), &reply.payload)
            .is_err_and(|e| e.err_code() == Some(crate::error::codes::MESSAGE_TOO_LARGE))
}

/// The reply to a publish: what the server sent, or an ack made up for a resend whose
/// first attempt turned out to be stored.
struct RawReply {
    headers: Option<HeaderMap>,
    payload: Bytes,
}

impl RawReply {
    fn landed(stream: &str, seq: u64) -> Self {
        let ack = PubAck {
            stream: stream.to_string(),
            seq,
            duplicate: true,
            ..PubAck::default()
        };
        RawReply {
            headers: None,
            payload: Bytes::from(serde_json::to_vec(&ack).unwrap_or_default()),
        }
    }
}

/// A publish reply as it arrives: an ack, or an `error` object. (`Option::default` rather
/// than a bare `default` on the name fields, so that `S` need not be `Default`.)
#[derive(Deserialize)]
struct AckWire<S> {
    #[serde(default)]
    error: Option<ApiError>,
    #[serde(default = "Option::default")]
    stream: Option<S>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    duplicate: bool,
    #[serde(default = "Option::default")]
    domain: Option<S>,
    #[serde(default = "Option::default")]
    batch: Option<S>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default = "Option::default")]
    val: Option<S>,
}

impl Context {
    /// Publishes `payload` to `subject` and waits for the stream's ack. When no stream
    /// answers it retries (2 × 250 ms) and then fails with [`Error::is_no_stream`].
    pub async fn publish(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<PubAck> {
        self.publish_with(subject, PublishOptions::new().payload(payload))
            .await
    }

    /// Publishes with headers, expectations and retry settings, and waits for the ack. API
    /// errors in the ack (10071 wrong last sequence, 10060 …) keep their codes.
    pub async fn publish_with(
        &self,
        subject: impl AsRef<str>,
        options: PublishOptions,
    ) -> Result<PubAck> {
        let subject = subject.as_ref();
        if options.stop_schedule.as_deref() == Some(subject) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a message that stops a schedule must go to another subject (ADR-51, 10212)",
            ));
        }
        let reply = self.publish_request(subject, options).await?;
        parse_ack(Some(subject), reply.headers.as_ref(), &reply.payload)
    }

    /// As [`Context::publish_with`], returning only the sequence the stream stored the
    /// message under. The reply is checked just as fully (stream and sequence present, API
    /// errors with their codes, no stream after the retries), but the stream and domain names
    /// in the ack are not copied out: for hot paths that need nothing else, such as Key-Value
    /// writes.
    pub async fn publish_with_seq(
        &self,
        subject: impl AsRef<str>,
        options: PublishOptions,
    ) -> Result<u64> {
        let subject = subject.as_ref();
        let reply = self.publish_request(subject, options).await?;
        parse_ack_seq(Some(subject), reply.headers.as_ref(), &reply.payload)
    }

    /// Sends a publish as a request and returns the reply, retrying as `options` say while
    /// no stream answers (then failing with [`Error::is_no_stream`]), and resending it after
    /// a lost connection as the `resend` module describes.
    async fn publish_request(
        &self,
        subject: &str,
        mut options: PublishOptions,
    ) -> Result<RawReply> {
        let retries = options.retries;
        let wait = options.retry_wait;
        let timeout = options.timeout.unwrap_or(self.timeout());
        let mut resend = options.resend;
        let mut generated = false;
        if resend && options.msg_id.is_none() {
            options.msg_id = Some(client::rng::nuid());
            generated = true;
        }
        let msg_id = options.msg_id.clone();
        let expectations = Expectations::of(&options);
        let (payload, mut headers) = options.into_parts()?;
        let first_sent = Instant::now();
        let deadline = deadline_after(timeout);
        let mut link = self.link();
        let mut attempt = 0u32;
        let mut resent: Option<ResendTarget> = None;
        loop {
            let remaining = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            let mut request = Request::new().payload(payload.clone()).timeout(remaining);
            if let Some(h) = &headers {
                request = request.headers(h.clone());
            }
            let sent = link.as_mut().map(|l| *l.borrow_and_update());
            let send = self.client().send_request(subject, request);
            let result = match (link.as_mut(), sent) {
                (Some(rx), Some(sent)) => {
                    tokio::select! {
                        biased;
                        r = send => Some(r),
                        _ = rx.wait_for(|l| l.lost_since(&sent)) => None,
                    }
                }
                _ => Some(send.await),
            };
            match result {
                Some(Ok(reply)) => {
                    let reply = RawReply {
                        headers: reply.headers,
                        payload: reply.payload,
                    };
                    if let (Some(target), Some(id)) = (&resent, &msg_id)
                        && expectations.any()
                        && read_ack::<IgnoredAny>(
                            Some(subject),
                            reply.headers.as_ref(),
                            &reply.payload,
                        )
                        .is_err_and(|e| e.is_wrong_last_sequence())
                        && let Some(seq) = self.landed(target, subject, id, &expectations).await
                    {
                        // Our first attempt landed: the server checked the expectation
                        // before its duplicate window.
                        return Ok(RawReply::landed(&target.stream, seq));
                    }
                    if generated && too_large(&reply) {
                        // The stream counts headers in its `max_msg_size`: a message that
                        // fits only without our id is sent without it (and so without
                        // resends), as it would have been without gnat's help. Refused, it
                        // was not stored.
                        generated = false;
                        resend = false;
                        if let Some(h) = headers.as_mut() {
                            h.remove(MSG_ID);
                            if h.is_empty() {
                                headers = None;
                            }
                        }
                        continue;
                    }
                    return Ok(reply);
                }
                Some(Err(e)) if e.is_no_responders() => {
                    if attempt >= retries {
                        return Err(no_stream(Some(subject)));
                    }
                    #[cfg(feature = "tracing")]
                    tracing::debug!(
                        subject,
                        attempt = attempt + 1,
                        retries,
                        "no stream answered the publish; retrying"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                // The publish itself failed for the lost connection: resend as well.
                Some(Err(e))
                    if link.is_some()
                        && matches!(
                            e.kind(),
                            client::ErrorKind::Disconnected
                                | client::ErrorKind::ReconnectBufferFull
                        ) => {}
                Some(Err(e)) => return Err(e.into()),
                // The connection was lost while waiting for the ack.
                None => {}
            }
            let Some(rx) = link.as_mut() else {
                return Err(outcome_unknown(subject, "its state cannot be watched"));
            };
            if !resend {
                return Err(outcome_unknown(
                    subject,
                    "resending is off for this publish",
                ));
            }
            resent = Some(
                self.prepare_resend(subject, rx, first_sent, deadline)
                    .await?,
            );
        }
    }

    /// A pipelined publisher with at most `window` publishes awaiting their ack (at least
    /// 1). It has its own reply subscription, so create one and reuse it.
    pub async fn publisher(&self, window: usize) -> Result<Publisher> {
        let inbox = self.client().new_inbox();
        let sub = self.client().subscribe(format!("{inbox}.*")).await?;
        let mut prefix = inbox;
        prefix.push('.');
        Ok(Publisher {
            ctx: self.clone(),
            sub,
            reply: String::with_capacity(prefix.len() + 20),
            prefix,
            window: window.max(1),
            acks: AckTable::default(),
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            closed: false,
        })
    }
}

/// `now + timeout`, or about a century ahead when the timeout is too large for an `Instant`
/// (`Instant + Duration` panics on overflow).
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365 * 100)))
        .unwrap_or(now)
}

/// The failures [`Publisher::finish`] reports: how many publishes were acked and failed,
/// and the first [`MAX_KEPT_FAILURES`] failures with their publish.
#[derive(Debug, Clone)]
pub struct PublishFailures {
    acked: u64,
    failed: u64,
    failures: Vec<(PubAckHandle, Error)>,
}

impl PublishFailures {
    /// Publishes acked (untracked ones since the last report).
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Publishes that failed.
    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// The failures kept, in the order they were found.
    pub fn failures(&self) -> &[(PubAckHandle, Error)] {
        &self.failures
    }
}

impl std::fmt::Display for PublishFailures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} publishes failed ({} acked)", self.failed, self.acked)?;
        if let Some((handle, e)) = self.failures.first() {
            write!(f, "; publish {} first: {e}", handle.0)?;
        }
        Ok(())
    }
}

impl std::error::Error for PublishFailures {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.failures
            .first()
            .map(|(_, e)| e as &(dyn std::error::Error + 'static))
    }
}

impl From<PublishFailures> for Error {
    /// The first failure, with the counts in its message.
    fn from(f: PublishFailures) -> Self {
        let message = format!("{} of {} publishes failed", f.failed, f.failed + f.acked);
        match f.failures.into_iter().next() {
            Some((_, e)) => e.with_message(message),
            None => Error::new(ErrorKind::Decode, message),
        }
    }
}

/// Identifies one publish of a [`Publisher`]; its acknowledgement is claimed with
/// [`Publisher::ack`] or returned by [`Publisher::wait_all`] / [`Publisher::completed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[must_use = "the ack of this publish is kept until claimed; use Publisher::send to not track it"]
pub struct PubAckHandle(u64);

impl PubAckHandle {
    /// The publish's position in the publisher's order (from 0).
    pub fn index(&self) -> u64 {
        self.0
    }
}

enum Slot {
    /// Waiting for the ack until the deadline; `tracked` publishes keep their result until
    /// claimed, the others only report failures.
    Pending(Instant, bool),
    Done(std::result::Result<PubAck, Box<Error>>),
    Taken,
}

/// The most failures of untracked publishes a [`Publisher`] keeps for
/// [`finish`](Publisher::finish); later ones are only counted.
pub const MAX_KEPT_FAILURES: usize = 1024;

/// Publishes in flight and their results, in publish order: slot `i` is token `base + i`.
#[derive(Default)]
struct AckTable {
    base: u64,
    slots: VecDeque<Slot>,
    /// Token of the oldest publish that may still be pending (earlier ones are not).
    oldest: u64,
    in_flight: usize,
    /// Untracked publishes acked.
    acked: u64,
    /// Failures of untracked publishes not yet reported (at most [`MAX_KEPT_FAILURES`]).
    failures: Vec<(PubAckHandle, Error)>,
    /// Every failure of untracked publishes not yet reported, kept or not.
    failed: u64,
}

impl AckTable {
    fn next_token(&self) -> u64 {
        self.base.saturating_add(self.slots.len() as u64)
    }

    fn slot_mut(&mut self, token: u64) -> Option<&mut Slot> {
        let i = usize::try_from(token.checked_sub(self.base)?).ok()?;
        self.slots.get_mut(i)
    }

    /// Whether `token` is pending and tracked (`None` when not pending).
    fn tracked(&mut self, token: u64) -> Option<bool> {
        match self.slot_mut(token) {
            Some(Slot::Pending(_, tracked)) => Some(*tracked),
            _ => None,
        }
    }

    fn complete(&mut self, token: u64, result: Result<PubAck>) {
        let Some(slot) = self.slot_mut(token) else {
            return;
        };
        let Slot::Pending(_, tracked) = *slot else {
            return;
        };
        if tracked {
            *slot = Slot::Done(result.map_err(Box::new));
            self.in_flight = self.in_flight.saturating_sub(1);
            return;
        }
        *slot = Slot::Taken;
        self.in_flight = self.in_flight.saturating_sub(1);
        self.untracked_done(token, result.map(|_| ()));
        self.compact();
    }

    /// Counts an untracked publish's outcome: success is forgotten, failure kept.
    fn untracked_done(&mut self, token: u64, result: Result<()>) {
        match result {
            Ok(()) => self.acked += 1,
            Err(e) => {
                self.failed += 1;
                if self.failures.len() < MAX_KEPT_FAILURES {
                    self.failures.push((PubAckHandle(token), e));
                }
            }
        }
    }

    /// The deadline of the oldest pending publish, moving the cursor past finished ones.
    fn oldest_deadline(&mut self) -> Option<Instant> {
        while let Some(slot) = self.slot_mut(self.oldest) {
            if let Slot::Pending(deadline, _) = slot {
                return Some(*deadline);
            }
            self.oldest = self.oldest.saturating_add(1);
        }
        None
    }

    /// Fails every pending publish whose deadline has passed.
    fn expire(&mut self, now: Instant) {
        while let Some(deadline) = self.oldest_deadline() {
            if deadline > now {
                return;
            }
            let token = self.oldest;
            self.complete(
                token,
                Err(Error::from(client::Error::new(
                    client::ErrorKind::Timeout,
                    "no publish ack in time",
                ))),
            );
        }
    }

    fn fail_pending(&mut self, error: &Error) {
        while self.oldest_deadline().is_some() {
            let token = self.oldest;
            self.complete(token, Err(error.clone()));
        }
    }

    /// Takes the result of `token` if it is done.
    fn take(&mut self, token: u64) -> Option<Result<PubAck>> {
        let slot = self.slot_mut(token)?;
        if !matches!(slot, Slot::Done(_)) {
            return None;
        }
        let Slot::Done(result) = std::mem::replace(slot, Slot::Taken) else {
            return None;
        };
        self.compact();
        Some(result.map_err(|e| *e))
    }

    /// Takes every finished result, in publish order.
    fn take_done(&mut self) -> Vec<(PubAckHandle, Result<PubAck>)> {
        let mut out = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if matches!(slot, Slot::Done(_))
                && let Slot::Done(result) = std::mem::replace(slot, Slot::Taken)
            {
                out.push((
                    PubAckHandle(self.base.saturating_add(i as u64)),
                    result.map_err(|e| *e),
                ));
            }
        }
        self.compact();
        out
    }

    fn compact(&mut self) {
        while matches!(self.slots.front(), Some(Slot::Taken)) {
            self.slots.pop_front();
            self.base = self.base.saturating_add(1);
        }
        if self.oldest < self.base {
            self.oldest = self.base;
        }
    }
}

/// Pipelined publishing: [`publish`](Publisher::publish) sends without waiting for the ack
/// and returns a [`PubAckHandle`]; at most `window` publishes are unacknowledged at a time
/// (`publish` processes acks until there is room). Acks arrive on the publisher's own
/// reply subscription (`<inbox>.<token>`), are matched by token, and each publish gets its
/// own result: the ack, its API error, a no-stream error (503, not retried here), or a
/// timeout after the context's timeout.
///
/// Two shapes. [`send`](Publisher::send) keeps nothing per message: successes are counted
/// and failures kept for [`finish`](Publisher::finish), which returns `Err` when any publish
/// failed — the shape for "publish everything, then check", with memory bounded by the
/// window. [`publish`](Publisher::publish) returns a `#[must_use]` [`PubAckHandle`] whose
/// result is kept until claimed with [`ack`](Publisher::ack), [`completed`](Publisher::completed)
/// or [`wait_all`](Publisher::wait_all) (failures never claimed are reported by `finish`).
/// Dropping the publisher abandons pending acks (the messages may still be stored): call
/// `finish` first. For many tasks, see [`SharedPublisher`].
///
/// Why a reply subscription of its own rather than the client's request mux: the client's
/// public request API sends and waits in one future, so a send-now, ack-later pipeline on it
/// would need a future (and its allocation) per message; the publisher's one wildcard
/// subscription matches acks by token in publish order with no per-message allocation.
///
/// ```no_run
/// # async fn demo(js: gnat_jetstream::Context) -> Result<(), gnat_jetstream::Error> {
/// let mut publisher = js.publisher(256).await?;
/// for i in 0..10_000 {
///     publisher.publish("orders.new", format!("order {i}")).await?;
/// }
/// for (_, result) in publisher.wait_all().await {
///     result?;
/// }
/// # Ok(()) }
/// ```
#[must_use = "a publisher reports failed publishes through finish() or wait_all()"]
pub struct Publisher {
    ctx: Context,
    sub: Subscription,
    prefix: String,
    reply: String,
    window: usize,
    acks: AckTable,
    timer: Pin<Box<Sleep>>,
    closed: bool,
}

impl Publisher {
    /// Publishes `payload` to `subject` without waiting for its ack.
    pub async fn publish(
        &mut self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<PubAckHandle> {
        self.send_inner(subject.as_ref(), None, payload.into(), None, true)
            .await
    }

    /// Publishes with headers and expectations without waiting for its ack (the retry
    /// settings of `options` are not used; its timeout is).
    pub async fn publish_with(
        &mut self,
        subject: impl AsRef<str>,
        options: PublishOptions,
    ) -> Result<PubAckHandle> {
        let timeout = options.timeout;
        let (payload, headers) = options.into_parts()?;
        self.send_inner(subject.as_ref(), headers.as_ref(), payload, timeout, true)
            .await
    }

    /// Publishes `payload` to `subject` without waiting for its ack and without keeping it:
    /// a success is only counted, a failure is kept (up to [`MAX_KEPT_FAILURES`]) for
    /// [`finish`](Self::finish), so memory stays bounded by the window however many
    /// messages are sent.
    pub async fn send(
        &mut self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        self.send_inner(subject.as_ref(), None, payload.into(), None, false)
            .await
            .map(|_| ())
    }

    /// As [`send`](Self::send), with headers and expectations.
    pub async fn send_with(
        &mut self,
        subject: impl AsRef<str>,
        options: PublishOptions,
    ) -> Result<()> {
        let timeout = options.timeout;
        let (payload, headers) = options.into_parts()?;
        self.send_inner(subject.as_ref(), headers.as_ref(), payload, timeout, false)
            .await
            .map(|_| ())
    }

    /// Waits until every publish has its ack, then reports: the number of untracked
    /// publishes acked since the last report, or every failure not yet reported — of
    /// [`send`](Self::send)s, and of tracked [`publish`](Self::publish)es whose result was
    /// never claimed (successful tracked results not claimed are dropped). The publisher
    /// can go on being used afterwards.
    pub async fn finish(&mut self) -> std::result::Result<u64, PublishFailures> {
        while self.acks.in_flight > 0 {
            self.drive().await;
        }
        for (handle, result) in self.acks.take_done() {
            self.acks.untracked_done(handle.0, result.map(|_| ()));
        }
        let acked = std::mem::take(&mut self.acks.acked);
        let failed = std::mem::take(&mut self.acks.failed);
        let failures = std::mem::take(&mut self.acks.failures);
        if failed == 0 {
            Ok(acked)
        } else {
            Err(PublishFailures {
                acked,
                failed,
                failures,
            })
        }
    }

    async fn send_inner(
        &mut self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        timeout: Option<Duration>,
        tracked: bool,
    ) -> Result<PubAckHandle> {
        if self.closed {
            return Err(Error::from(client::Error::new(
                client::ErrorKind::Closed,
                "the publisher's reply subscription has ended",
            )));
        }
        while self.acks.in_flight >= self.window {
            self.drive().await;
        }
        let token = self.acks.next_token();
        self.reply.clear();
        self.reply.push_str(&self.prefix);
        let _ = write!(self.reply, "{token}");
        let client = self.ctx.client();
        match headers {
            Some(h) => {
                client
                    .publish_with_reply_and_headers(subject, &self.reply, h, payload)
                    .await?
            }
            None => {
                client
                    .publish_with_reply(subject, &self.reply, payload)
                    .await?
            }
        }
        let deadline = deadline_after(timeout.unwrap_or(self.ctx.timeout()));
        self.acks.slots.push_back(Slot::Pending(deadline, tracked));
        self.acks.in_flight += 1;
        Ok(PubAckHandle(token))
    }

    /// Processes the acks that have arrived; waits (up to the oldest pending deadline) until
    /// at least one publish finished. Call only with publishes in flight.
    async fn drive(&mut self) {
        let Some(deadline) = self.acks.oldest_deadline() else {
            return;
        };
        // Deadlines grow in publish order, so a timer armed for an earlier publish only fires
        // early (and is then re-armed): no timer update per ack.
        if self.timer.is_elapsed() || self.timer.deadline() > deadline {
            self.timer.as_mut().reset(deadline);
        }
        let Publisher {
            sub,
            acks,
            timer,
            prefix,
            closed,
            ..
        } = self;
        std::future::poll_fn(|cx| {
            let mut progress = false;
            loop {
                match Pin::new(&mut *sub).poll_next(cx) {
                    Poll::Ready(Some(msg)) => {
                        let token = msg
                            .subject
                            .as_str()
                            .strip_prefix(prefix.as_str())
                            .and_then(|t| t.parse::<u64>().ok());
                        if let Some(token) = token {
                            match acks.tracked(token) {
                                Some(true) => {
                                    let result =
                                        parse_ack(None, msg.headers.as_ref(), &msg.payload);
                                    acks.complete(token, result);
                                }
                                Some(false) => {
                                    // Checked as fully, without copying the names out.
                                    let result =
                                        parse_ack_seq(None, msg.headers.as_ref(), &msg.payload)
                                            .map(|_| PubAck::default());
                                    acks.complete(token, result);
                                }
                                None => {}
                            }
                        }
                        progress = true;
                    }
                    Poll::Ready(None) => {
                        *closed = true;
                        acks.fail_pending(&Error::from(client::Error::new(
                            client::ErrorKind::Closed,
                            "the publisher's reply subscription ended",
                        )));
                        return Poll::Ready(());
                    }
                    Poll::Pending => break,
                }
            }
            if timer.as_mut().poll(cx).is_ready() {
                acks.expire(Instant::now());
                return Poll::Ready(());
            }
            if progress {
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
    }

    /// Waits for the ack of `handle` and returns it. Fails with
    /// [`ErrorKind::InvalidInput`] if that result was already claimed.
    pub async fn ack(&mut self, handle: PubAckHandle) -> Result<PubAck> {
        loop {
            if let Some(result) = self.acks.take(handle.0) {
                return result;
            }
            match self.acks.slot_mut(handle.0) {
                Some(Slot::Pending(..)) => self.drive().await,
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!("publish {} has no result to claim", handle.0),
                    ));
                }
            }
        }
    }

    /// Every finished, unclaimed result (in publish order), without waiting.
    pub fn completed(&mut self) -> Vec<(PubAckHandle, Result<PubAck>)> {
        if self.acks.in_flight > 0 {
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            let mut drive = std::pin::pin!(self.drive());
            // Process whatever is queued; a pending result just means nothing more is ready.
            let _ = drive.as_mut().poll(&mut cx);
        }
        self.acks.take_done()
    }

    /// Waits until every publish has its result and returns all unclaimed results in publish
    /// order.
    pub async fn wait_all(&mut self) -> Vec<(PubAckHandle, Result<PubAck>)> {
        while self.acks.in_flight > 0 {
            self.drive().await;
        }
        self.acks.take_done()
    }

    /// Publishes waiting for their ack.
    pub fn in_flight(&self) -> usize {
        self.acks.in_flight
    }

    /// Publishes the publisher keeps a slot for: those in flight, and tracked ones whose
    /// result is not claimed yet (with only [`send`](Self::send), at most the window).
    pub fn kept(&self) -> usize {
        self.acks.slots.len()
    }

    /// The most publishes awaiting their ack at a time.
    pub fn window(&self) -> usize {
        self.window
    }
}

/// A [`Publisher`] for many tasks: clone it and call it from each; calls take turns on the
/// one window (a call that finds it full waits for acks, holding the others back too), so
/// memory stays bounded however many tasks publish. Failures of [`send`](Self::send)s are
/// reported by [`finish`](Self::finish), whichever task calls it.
///
/// ```no_run
/// # async fn demo(js: gnat_jetstream::Context) -> Result<(), gnat_jetstream::Error> {
/// let publisher = js.shared_publisher(256).await?;
/// let mut tasks = Vec::new();
/// for t in 0..8 {
///     let publisher = publisher.clone();
///     tasks.push(tokio::spawn(async move {
///         for i in 0..1000 {
///             publisher.send(format!("orders.{t}"), format!("order {i}")).await?;
///         }
///         Ok::<_, gnat_jetstream::Error>(())
///     }));
/// }
/// for t in tasks {
///     t.await.expect("task")?;
/// }
/// let acked = publisher.finish().await?;
/// assert_eq!(acked, 8000);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SharedPublisher {
    inner: std::sync::Arc<tokio::sync::Mutex<Publisher>>,
}

impl SharedPublisher {
    /// [`Publisher::send`], in turn with the other tasks.
    pub async fn send(&self, subject: impl AsRef<str>, payload: impl Into<Bytes>) -> Result<()> {
        self.inner.lock().await.send(subject, payload).await
    }

    /// [`Publisher::send_with`], in turn with the other tasks.
    pub async fn send_with(&self, subject: impl AsRef<str>, options: PublishOptions) -> Result<()> {
        self.inner.lock().await.send_with(subject, options).await
    }

    /// [`Publisher::publish_with`]: the ack is kept until claimed with
    /// [`ack`](Self::ack) (or reported by [`finish`](Self::finish) if it failed).
    pub async fn publish_with(
        &self,
        subject: impl AsRef<str>,
        options: PublishOptions,
    ) -> Result<PubAckHandle> {
        self.inner.lock().await.publish_with(subject, options).await
    }

    /// Waits for the ack of `handle` ([`Publisher::ack`]).
    pub async fn ack(&self, handle: PubAckHandle) -> Result<PubAck> {
        self.inner.lock().await.ack(handle).await
    }

    /// [`Publisher::finish`]: waits for every ack and reports.
    pub async fn finish(&self) -> std::result::Result<u64, PublishFailures> {
        self.inner.lock().await.finish().await
    }
}

impl Context {
    /// A [`SharedPublisher`] with at most `window` publishes awaiting their ack.
    pub async fn shared_publisher(&self, window: usize) -> Result<SharedPublisher> {
        Ok(SharedPublisher {
            inner: std::sync::Arc::new(tokio::sync::Mutex::new(self.publisher(window).await?)),
        })
    }
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("window", &self.window)
            .field("in_flight", &self.acks.in_flight)
            .field("unclaimed", &self.acks.slots.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_headers() {
        let (payload, headers) = PublishOptions::new()
            .payload("x")
            .msg_id("id-1")
            .expected_stream("S")
            .expected_last_sequence(4)
            .expected_last_subject_sequence(0)
            .expected_last_subject_sequence_subject("a.*")
            .expected_last_msg_id("id-0")
            .ttl(Duration::from_millis(1500))
            .rollup(Rollup::Subject)
            .into_parts()
            .unwrap();
        assert_eq!(&payload[..], b"x");
        let h = headers.unwrap();
        let got: Vec<(&str, &str)> = h.iter().collect();
        assert_eq!(
            got,
            vec![
                ("Nats-Msg-Id", "id-1"),
                ("Nats-Expected-Stream", "S"),
                ("Nats-Expected-Last-Sequence", "4"),
                ("Nats-Expected-Last-Subject-Sequence", "0"),
                ("Nats-Expected-Last-Subject-Sequence-Subject", "a.*"),
                ("Nats-Expected-Last-Msg-Id", "id-0"),
                ("Nats-TTL", "1.5s"),
                ("Nats-Rollup", "sub"),
            ]
        );
        // Headers given are sent first; the options add theirs after them.
        let mut given = HeaderMap::new();
        given.insert("KV-Operation", "PURGE").unwrap();
        let (_, headers) = PublishOptions::new()
            .headers(given)
            .expected_last_subject_sequence(3)
            .rollup(Rollup::Subject)
            .into_parts()
            .unwrap();
        let got: Vec<(&str, &str)> = headers.as_ref().unwrap().iter().collect();
        assert_eq!(
            got,
            vec![
                ("KV-Operation", "PURGE"),
                ("Nats-Expected-Last-Subject-Sequence", "3"),
                ("Nats-Rollup", "sub"),
            ]
        );
        let (_, none) = PublishOptions::new().payload("y").into_parts().unwrap();
        assert!(none.is_none());
        let (_, never) = PublishOptions::new().ttl_never().into_parts().unwrap();
        assert_eq!(never.unwrap().get("Nats-TTL"), Some("never"));
        let bad = PublishOptions::new().msg_id("a\r\nb").into_parts();
        assert_eq!(bad.unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn ack_replies() {
        let ack = parse_ack(None, None, br#"{"stream":"S","seq":7,"duplicate":true}"#).unwrap();
        assert_eq!(
            (ack.stream.as_str(), ack.seq, ack.duplicate),
            ("S", 7, true)
        );
        let ack = parse_ack(None, None, br#"{"stream":"S","seq":8,"domain":"hub"}"#).unwrap();
        assert_eq!(ack.domain.as_deref(), Some("hub"));
        let e = parse_ack(
            None,
            None,
            br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"}}"#,
        )
        .unwrap_err();
        assert!(e.is_wrong_last_sequence());
        for bad in [
            &b"{}"[..],
            br#"{"stream":"S"}"#,
            b"not json",
            br#"{"seq":"x"}"#,
        ] {
            let e = parse_ack(None, None, bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Decode, "{e:?}");
        }
        // Fields from newer servers are ignored.
        let ack = parse_ack(
            None,
            None,
            br#"{"stream":"S","seq":9,"val":"3","batch":"b"}"#,
        );
        assert_eq!(ack.unwrap().seq, 9);
        let status = HeaderMap::with_status(StatusCode::NO_RESPONDERS, None);
        assert!(
            parse_ack(None, Some(&status), b"")
                .unwrap_err()
                .is_no_stream()
        );
        let status = HeaderMap::with_status(StatusCode::REQUEST_TIMEOUT, Some("Timeout"));
        let e = parse_ack(None, Some(&status), b"").unwrap_err();
        assert_eq!((e.code(), e.kind()), (Some(408), ErrorKind::Status));
        assert!(e.is_timeout());
    }

    #[test]
    fn ack_sequences() {
        // The same checks as a full ack, without keeping the names.
        let seq = |payload: &[u8]| parse_ack_seq(None, None, payload);
        assert_eq!(seq(br#"{"stream":"KV_B","seq":7}"#).unwrap(), 7);
        assert_eq!(
            seq(br#"{"stream":"KV_B","domain":"hub","seq":8,"x":[1],"duplicate":true}"#).unwrap(),
            8
        );
        // Names with escapes are skipped as well as plain ones.
        assert_eq!(seq(br#"{"stream":"a\u0026b","seq":9}"#).unwrap(), 9);
        let e = seq(
            br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 2"}}"#,
        )
        .unwrap_err();
        assert!(e.is_wrong_last_sequence());
        assert_eq!(e.code(), Some(400));
        for bad in [
            &b"{}"[..],
            br#"{"stream":"S"}"#,
            br#"{"seq":3}"#,
            b"not json",
            br#"{"stream":"S","seq":"x"}"#,
        ] {
            assert_eq!(seq(bad).unwrap_err().kind(), ErrorKind::Decode, "{bad:?}");
        }
        let status = HeaderMap::with_status(StatusCode::REQUEST_TIMEOUT, Some("Timeout"));
        let e = parse_ack_seq(None, Some(&status), b"").unwrap_err();
        assert_eq!(e.status(), Some((408, "Timeout")));
        let status = HeaderMap::with_status(StatusCode::NO_RESPONDERS, None);
        let e = parse_ack_seq(Some("$KV.B.k"), Some(&status), b"").unwrap_err();
        assert!(e.is_no_stream() && e.is_no_responders());
    }

    #[tokio::test]
    async fn ack_table_bookkeeping() {
        let mut t = AckTable::default();
        let now = Instant::now();
        for i in 0..4u64 {
            assert_eq!(t.next_token(), i);
            t.slots
                .push_back(Slot::Pending(now + Duration::from_secs(i + 1), true));
            t.in_flight += 1;
        }
        t.complete(1, Ok(PubAck::default()));
        t.complete(1, Err(Error::new(ErrorKind::Decode, "late duplicate")));
        t.complete(99, Ok(PubAck::default()));
        assert_eq!(t.in_flight, 3);
        assert_eq!(t.oldest_deadline(), Some(now + Duration::from_secs(1)));
        t.expire(now + Duration::from_millis(3500));
        assert_eq!(t.in_flight, 1);
        assert!(t.take(3).is_none());
        let done = t.take_done();
        let tokens: Vec<u64> = done.iter().map(|(h, _)| h.index()).collect();
        assert_eq!(tokens, vec![0, 1, 2]);
        assert!(done[0].1.as_ref().unwrap_err().is_timeout());
        assert!(done[1].1.is_ok());
        assert_eq!(t.base, 3);
        t.fail_pending(&Error::new(ErrorKind::Decode, "closed"));
        assert_eq!(t.in_flight, 0);
        assert_eq!(t.take(3).unwrap().unwrap_err().kind(), ErrorKind::Decode);
        assert!(t.slots.is_empty() && t.base == 4);
    }
}
