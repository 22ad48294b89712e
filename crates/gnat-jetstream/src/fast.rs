//! Fast-ingest batch publishing (ADR-50 revisions 7–9, nats-server 2.14+, API level 4): a
//! stream of messages into a stream with `allow_batched`, acknowledged every `n` messages
//! (`n` set by the server) instead of one by one. The batch state travels in each message's
//! reply subject, `<inbox>.<id>.<flow>.<gap>.<seq>.<op>.$FI`, on an inbox subscription of
//! the publisher's own; over it come flow acks (`{"type":"ack","seq":…,"msgs":…}`), gap
//! reports (`"type":"gap"`), per-message errors (`"type":"err"`) and, after the commit, the
//! batch's [`PubAck`].
//!
//! The publisher follows the server's flow control: it sends while fewer than
//! `max_outstanding_acks` acks are due, then waits, pinging the batch (op 4) when an ack is
//! late. Memory is bounded: nothing is kept per message, and at most [`MAX_KEPT_REPORTS`]
//! gaps and errors are kept (all are counted) for the caller.

use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use client::{HeaderMap, Subscription};
use futures_core::Stream;
use serde::Deserialize;
use std::fmt::Write as _;

use crate::context::Context;
use crate::error::{ApiError, Error, ErrorKind, Result};
use crate::publish::{PubAck, PublishOptions, parse_ack};

/// The most gaps and errors a [`FastPublisher`] keeps; later ones are only counted.
pub const MAX_KEPT_REPORTS: usize = 1024;

/// Pings without an answer before the batch is given up as lost.
const MAX_PINGS: u32 = 3;

/// What the server lost or refused in a fast batch, as it reported it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FastReport {
    /// Batch messages from `expected` up to (not including) `current` never reached the
    /// stream.
    Gap {
        /// The batch sequence the server expected next.
        expected: u64,
        /// The batch sequence it got instead.
        current: u64,
    },
    /// The message with batch sequence `seq` was refused (a failed expectation …).
    Error {
        /// Its batch sequence.
        seq: u64,
        /// Why.
        error: Error,
    },
}

/// The outcome of a committed fast batch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FastBatchAck {
    /// The server's ack of the batch (stream, last sequence, batch id, count).
    pub ack: PubAck,
    /// Messages sent, the commit included.
    pub sent: u64,
    /// Gaps and errors reported during the batch (the first [`MAX_KEPT_REPORTS`]).
    pub reports: Vec<FastReport>,
    /// Every gap and error reported, kept or not.
    pub reported: u64,
    /// Pings sent because an ack was late (op 4).
    pub pings: u64,
}

/// Settings of a [`FastPublisher`].
#[derive(Debug, Clone)]
pub struct FastOptions {
    flow: u16,
    gap_ok: bool,
    max_outstanding_acks: u32,
    ack_timeout: Option<Duration>,
}

impl Default for FastOptions {
    fn default() -> Self {
        FastOptions {
            flow: 100,
            gap_ok: false,
            max_outstanding_acks: 2,
            ack_timeout: None,
        }
    }
}

impl FastOptions {
    /// Default settings: ack at most every 100 messages, gaps fail the batch, 2 acks
    /// outstanding.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most messages per ack the server may choose (it starts lower and ramps up);
    /// at least 1.
    pub fn flow(mut self, messages: u16) -> Self {
        self.flow = messages.max(1);
        self
    }

    /// Whether gaps are allowed (`ok`: lost messages are reported and the batch goes on) or
    /// end the batch (`fail`, the default: the stored messages have no gaps).
    pub fn allow_gaps(mut self, ok: bool) -> Self {
        self.gap_ok = ok;
        self
    }

    /// How many acks may be due before sending waits: 1 to 3 (ADR-50 recommends 2).
    pub fn max_outstanding_acks(mut self, n: u32) -> Self {
        self.max_outstanding_acks = n.clamp(1, 3);
        self
    }

    /// How long to wait for an ack before pinging the batch (default: the context's
    /// timeout divided by the pings it may send).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = Some(timeout);
        self
    }
}

/// A fast-ingest batch being sent; see the [module docs](self).
///
/// ```no_run
/// # async fn demo(js: gnat_jetstream::Context) -> Result<(), gnat_jetstream::Error> {
/// use gnat_jetstream::FastOptions;
/// let mut batch = js.fast_publisher(FastOptions::new()).await?;
/// for i in 0..100_000 {
///     batch.add("metrics.cpu", format!("{i}")).await?;
/// }
/// let done = batch.commit_eob().await?;
/// assert_eq!(done.ack.count, Some(100_000));
/// assert!(done.reports.is_empty());
/// # Ok(()) }
/// ```
#[must_use = "a fast batch should be committed"]
pub struct FastPublisher {
    ctx: Context,
    sub: Subscription,
    /// `<inbox>.<id>.<flow>.<gap>.`
    prefix: String,
    reply: String,
    opts: FastOptions,
    ack_timeout: Duration,
    /// Batch sequence of the last message sent.
    seq: u64,
    /// Highest batch sequence acknowledged.
    acked: u64,
    /// Messages per ack, as the server last said.
    per_ack: u64,
    /// Whether a flow ack arrived yet.
    per_ack_known: bool,
    last_subject: Option<String>,
    reports: Vec<FastReport>,
    reported: u64,
    /// Pings sent so far.
    pings: u64,
    /// The batch ended on the server (an error or gap in `fail` mode): only its ack is due.
    ended: bool,
    final_ack: Option<Result<PubAck>>,
}

impl std::fmt::Debug for FastPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastPublisher")
            .field("prefix", &self.prefix)
            .field("seq", &self.seq)
            .field("acked", &self.acked)
            .field("per_ack", &self.per_ack)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct FlowWire {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    msgs: u64,
    #[serde(default)]
    last_seq: u64,
    #[serde(default)]
    error: Option<ApiError>,
}

impl Context {
    /// Starts a fast-ingest batch (ADR-50, nats-server 2.14+); the stream needs
    /// `allow_batched`. Nothing is sent until the first [`add`](FastPublisher::add).
    pub async fn fast_publisher(&self, options: FastOptions) -> Result<FastPublisher> {
        self.require_api_level(4, "fast-ingest batch publishing")
            .await?;
        let id = client::rng::nuid();
        // An inbox of its own (not the request mux), so that dropping the batch drops the
        // server's interest at once (ADR-50).
        let base = format!("{}.{id}", self.client().new_inbox());
        let sub = self.client().subscribe(format!("{base}.>")).await?;
        let gap = if options.gap_ok { "ok" } else { "fail" };
        let prefix = format!("{base}.{}.{gap}.", options.flow);
        let ack_timeout = options
            .ack_timeout
            .unwrap_or(self.timeout() / (MAX_PINGS + 1));
        Ok(FastPublisher {
            ctx: self.clone(),
            sub,
            reply: String::with_capacity(prefix.len() + 32),
            prefix,
            opts: options,
            ack_timeout,
            seq: 0,
            acked: 0,
            per_ack: 1,
            per_ack_known: false,
            pings: 0,
            last_subject: None,
            reports: Vec::new(),
            reported: 0,
            ended: false,
            final_ack: None,
        })
    }
}

impl FastPublisher {
    /// Messages sent so far.
    pub fn sent(&self) -> u64 {
        self.seq
    }

    /// The highest batch sequence the server acknowledged (in `fail` mode, every message up
    /// to it is stored).
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Gaps and errors reported so far (the first [`MAX_KEPT_REPORTS`]).
    pub fn reports(&self) -> &[FastReport] {
        &self.reports
    }

    /// Adds a message; waits when the server's flow control says so. Fails when the batch
    /// ended on the server (a gap or error in `fail` mode): [`commit`](Self::commit) then
    /// returns its ack.
    pub async fn add(&mut self, subject: impl AsRef<str>, payload: impl Into<Bytes>) -> Result<()> {
        self.add_with(subject, PublishOptions::new().payload(payload))
            .await
    }

    /// Adds a message with headers and expectations.
    pub async fn add_with(
        &mut self,
        subject: impl AsRef<str>,
        options: PublishOptions,
    ) -> Result<()> {
        let subject = subject.as_ref();
        self.check_open()?;
        let op = if self.seq == 0 { 0 } else { 1 };
        self.send(subject, options, op).await?;
        if self.seq == 1 {
            // The first reply says whether the stream takes fast batches, and how often it
            // will ack.
            self.wait_for(|p| p.per_ack_known || p.final_ack.is_some())
                .await?;
            if let Some(Err(e)) = &self.final_ack {
                return Err(e.clone());
            }
        }
        self.process_ready();
        let opts_outstanding = u64::from(self.opts.max_outstanding_acks);
        while !self.ended
            && self
                .acked
                .saturating_add(self.per_ack.saturating_mul(opts_outstanding))
                <= self.seq
        {
            let seq = self.seq;
            let window = self.per_ack.saturating_mul(opts_outstanding);
            self.wait_for(move |p| {
                p.ended || p.acked.saturating_add(window) > seq || p.final_ack.is_some()
            })
            .await?;
        }
        Ok(())
    }

    /// Adds the last message and commits the batch; returns the server's ack with the gaps
    /// and errors reported.
    pub async fn commit(
        mut self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<FastBatchAck> {
        let subject = subject.as_ref().to_string();
        self.process_ready();
        if !self.ended && self.final_ack.is_none() {
            self.send(&subject, PublishOptions::new().payload(payload), 2)
                .await?;
        }
        self.finish().await
    }

    /// Commits the messages added so far without storing another (op 3, end of batch).
    pub async fn commit_eob(mut self) -> Result<FastBatchAck> {
        let Some(subject) = self.last_subject.clone() else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "an end-of-batch commit needs at least one message in the batch",
            ));
        };
        self.process_ready();
        if !self.ended && self.final_ack.is_none() {
            self.send(&subject, PublishOptions::new(), 3).await?;
        }
        self.finish().await
    }

    async fn finish(mut self) -> Result<FastBatchAck> {
        self.wait_for(|p| p.final_ack.is_some()).await?;
        let ack = self
            .final_ack
            .take()
            .unwrap_or_else(|| Err(Error::new(ErrorKind::Decode, "no batch ack")))?;
        Ok(FastBatchAck {
            ack,
            sent: self.seq,
            reports: std::mem::take(&mut self.reports),
            reported: self.reported,
            pings: self.pings,
        })
    }

    fn check_open(&self) -> Result<()> {
        if let Some(Err(e)) = &self.final_ack {
            return Err(e.clone());
        }
        if self.ended || self.final_ack.is_some() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the fast batch ended on the server; commit to read its ack",
            ));
        }
        Ok(())
    }

    async fn send(&mut self, subject: &str, options: PublishOptions, op: u8) -> Result<()> {
        let (payload, headers) = options.into_parts()?;
        let seq = self.seq + 1;
        self.reply.clear();
        self.reply.push_str(&self.prefix);
        let _ = write!(self.reply, "{seq}.{op}.$FI");
        let client = self.ctx.client();
        match &headers {
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
        self.seq = seq;
        if self.last_subject.as_deref() != Some(subject) {
            self.last_subject = Some(subject.to_string());
        }
        Ok(())
    }

    /// Handles every reply already queued, without waiting.
    fn process_ready(&mut self) {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        while let Poll::Ready(Some(msg)) = Pin::new(&mut self.sub).poll_next(&mut cx) {
            self.handle(msg.headers.as_ref(), &msg.payload);
        }
    }

    /// Waits, handling replies, until `done`; pings the batch when an ack is late and gives
    /// up after [`MAX_PINGS`] unanswered pings.
    async fn wait_for(&mut self, done: impl Fn(&Self) -> bool) -> Result<()> {
        let mut pings = 0;
        loop {
            self.process_ready();
            if done(self) {
                return Ok(());
            }
            match tokio::time::timeout(
                self.ack_timeout,
                std::future::poll_fn(|cx| Pin::new(&mut self.sub).poll_next(cx)),
            )
            .await
            {
                Ok(Some(msg)) => {
                    pings = 0;
                    self.handle(msg.headers.as_ref(), &msg.payload);
                }
                Ok(None) => {
                    return Err(Error::from(client::Error::new(
                        client::ErrorKind::Closed,
                        "the fast batch's inbox subscription ended",
                    )));
                }
                Err(_) => {
                    if pings >= MAX_PINGS {
                        return Err(Error::from(client::Error::new(
                            client::ErrorKind::Timeout,
                            "no answer from the stream to a fast batch",
                        )));
                    }
                    pings += 1;
                    self.ping().await?;
                }
            }
        }
    }

    /// Op 4: asks the server to resend its flow state (and report gaps) for the highest
    /// sequence sent, without taking a sequence.
    async fn ping(&mut self) -> Result<()> {
        self.pings += 1;
        let Some(subject) = self.last_subject.clone() else {
            return Ok(());
        };
        self.reply.clear();
        self.reply.push_str(&self.prefix);
        let _ = write!(self.reply, "{}.4.$FI", self.seq.max(1));
        self.ctx
            .client()
            .publish_with_reply(&subject, &self.reply, Bytes::new())
            .await?;
        Ok(())
    }

    fn report(&mut self, report: FastReport) {
        self.reported += 1;
        if self.reports.len() < MAX_KEPT_REPORTS {
            self.reports.push(report);
        }
    }

    /// One reply: a flow ack, a gap, an error, or the batch's ack.
    fn handle(&mut self, headers: Option<&HeaderMap>, payload: &[u8]) {
        if self.final_ack.is_some() {
            // The batch is over: what follows answers messages sent after its end (10208
            // unknown batch), not the batch.
            return;
        }
        if headers.and_then(HeaderMap::status).is_some() {
            self.final_ack = Some(parse_ack(None, headers, payload));
            return;
        }
        let wire: FlowWire = match serde_json::from_slice(payload) {
            Ok(w) => w,
            Err(e) => {
                self.final_ack = Some(Err(Error::from(e)));
                return;
            }
        };
        match wire.kind.as_deref() {
            Some("ack") => {
                self.acked = self.acked.max(wire.seq);
                self.per_ack = wire.msgs.max(1);
                self.per_ack_known = true;
            }
            Some("gap") => {
                self.report(FastReport::Gap {
                    expected: wire.last_seq,
                    current: wire.seq,
                });
                if !self.opts.gap_ok {
                    self.ended = true;
                }
            }
            Some("err") => {
                let error = wire.error.map(Error::from_api).unwrap_or_else(|| {
                    Error::new(
                        ErrorKind::Decode,
                        "fast batch error without an error object",
                    )
                });
                self.report(FastReport::Error {
                    seq: wire.seq,
                    error,
                });
                if !self.opts.gap_ok {
                    self.ended = true;
                }
            }
            _ => self.final_ack = Some(parse_ack(None, None, payload)),
        }
    }
}
