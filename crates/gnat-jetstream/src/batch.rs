//! Atomic batch publishing (ADR-50, nats-server 2.12+): messages staged by the server under
//! one batch id and stored all together at the commit, or not at all.
//!
//! Every message carries `Nats-Batch-Id` and `Nats-Batch-Sequence` (1, 2, …); the first is
//! sent as a request (the server answers with an empty message, or an error such as 10174
//! when the stream lacks `allow_atomic`), the others are plain publishes except every
//! [`ack_every`](AtomicBatch::ack_every)-th, which waits for the server's empty reply as
//! flow control. The last carries `Nats-Batch-Commit: 1` (stored) or, with
//! [`commit_eob`](AtomicBatch::commit_eob), `Nats-Batch-Commit: eob` (2.14+: commits
//! without storing the marker), and its reply is a [`PubAck`] with the batch id and count.
//!
//! The server checks expectations (`Nats-Expected-Last-Sequence` on the first message only,
//! `Nats-Expected-Last-Subject-Sequence` on subjects the batch has not written before) at
//! the commit, under lock, against the stream as it was before the batch; any failure, a gap,
//! a batch idle for longer than the server's timeout (10 s by default) or larger than its
//! limit (1,000 messages by default) rejects the whole batch.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use client::{HeaderMap, Request, StatusCode};

use crate::context::Context;
use crate::error::{Error, ErrorKind, Result};
use crate::publish::{PubAck, PublishOptions, no_stream, parse_ack};
use crate::resend::outcome_unknown;

const BATCH_ID: &str = "Nats-Batch-Id";
const BATCH_SEQUENCE: &str = "Nats-Batch-Sequence";
const BATCH_COMMIT: &str = "Nats-Batch-Commit";

/// The longest batch id the server accepts (ADR-50; longer ones fail with 10179).
pub const MAX_BATCH_ID_LEN: usize = 64;
/// The most messages the server accepts in one atomic batch by default (ADR-50; the server's
/// `jetstream.limits.batch.max_msgs` may differ).
pub const DEFAULT_MAX_BATCH_MESSAGES: usize = 1000;

/// The acknowledgement of a committed atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchAck {
    /// The stream that stored the batch.
    pub stream: String,
    /// The sequence of the batch's last stored message; the others precede it.
    pub seq: u64,
    /// The batch id.
    pub batch: String,
    /// The number of messages stored.
    pub count: u64,
    /// The stream's JetStream domain, if it has one.
    pub domain: Option<String>,
}

impl BatchAck {
    /// The sequences the batch's messages were stored under, first to last.
    pub fn sequences(&self) -> std::ops::RangeInclusive<u64> {
        let first = self.seq.saturating_sub(self.count.saturating_sub(1)).max(1);
        first..=self.seq
    }
}

/// An atomic batch being sent: [`add`](AtomicBatch::add) messages, then
/// [`commit`](AtomicBatch::commit) (or [`commit_eob`](AtomicBatch::commit_eob)). Either
/// every message is stored, or none: a failed commit, a server error on the way, or a batch
/// dropped without a commit (the server abandons it after its idle timeout) stores nothing.
///
/// Checked before a byte is sent for the message: the batch id (at most 64 characters), the
/// message count (at most [`max_messages`](AtomicBatch::max_messages), 1,000 by default as
/// the server), no `Nats-Expected-Last-Msg-Id` (the server refuses it, 10177),
/// `Nats-Expected-Last-Sequence` only on the first message, a
/// `Nats-Expected-Last-Subject-Sequence` only for a subject the batch has not written yet,
/// and no `Nats-Msg-Id` twice. A message refused there is not sent and the batch goes on.
///
/// ```no_run
/// # async fn demo(js: gnat_jetstream::Context) -> Result<(), gnat_jetstream::Error> {
/// use gnat_jetstream::PublishOptions;
/// let mut batch = js.atomic_batch();
/// batch
///     .add_with(
///         "user.1.name",
///         PublishOptions::new().payload("Ada").expected_last_subject_sequence(0),
///     )
///     .await?;
/// batch.add("user.1.city", "London").await?;
/// let ack = batch.commit("user.1.zip", "NW1").await?;
/// assert_eq!(ack.count, 3);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a batch stores nothing until it is committed"]
pub struct AtomicBatch {
    ctx: Context,
    id: String,
    /// Messages sent so far (the last one's `Nats-Batch-Sequence`).
    sent: u64,
    max: usize,
    ack_every: u64,
    timeout: Option<Duration>,
    subjects: HashSet<String>,
    msg_ids: HashSet<String>,
    last_subject: Option<String>,
    /// The server refused a message: the batch is dead there.
    failed: Option<Error>,
}

impl Context {
    /// Starts an atomic batch with a generated id (ADR-50). The stream needs `allow_atomic`.
    pub fn atomic_batch(&self) -> AtomicBatch {
        AtomicBatch {
            ctx: self.clone(),
            id: client::rng::nuid(),
            sent: 0,
            max: DEFAULT_MAX_BATCH_MESSAGES,
            ack_every: 0,
            timeout: None,
            subjects: HashSet::new(),
            msg_ids: HashSet::new(),
            last_subject: None,
            failed: None,
        }
    }
}

impl AtomicBatch {
    /// The same batch with the id `id` (1–64 characters, no whitespace). Only before the
    /// first message.
    pub fn with_id(mut self, id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if self.sent > 0 {
            return Err(invalid(
                "the batch id can only be set before the first message",
            ));
        }
        if id.is_empty() || id.len() > MAX_BATCH_ID_LEN {
            return Err(invalid(format!(
                "a batch id has 1 to {MAX_BATCH_ID_LEN} bytes, not {}",
                id.len()
            )));
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!(
                "batch id {id:?} has whitespace or control characters"
            )));
        }
        self.id = id;
        Ok(self)
    }

    /// The most messages the batch may hold, commit included (default 1,000, the server's
    /// default limit; raise it only for a server configured with a higher
    /// `jetstream.limits.batch.max_msgs`).
    pub fn max_messages(mut self, max: usize) -> Self {
        self.max = max.max(1);
        self
    }

    /// Waits for the server's empty reply on every `n`-th message (besides the first), so a
    /// long batch learns early that the server dropped it and does not outrun it; 0 (the
    /// default) waits only on the first message and the commit.
    pub fn ack_every(mut self, n: u64) -> Self {
        self.ack_every = n;
        self
    }

    /// How long to wait for each reply (default: the context's timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The batch id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Messages sent so far.
    pub fn len(&self) -> usize {
        usize::try_from(self.sent).unwrap_or(usize::MAX)
    }

    /// True before the first message.
    pub fn is_empty(&self) -> bool {
        self.sent == 0
    }

    /// Adds `payload` on `subject` to the batch.
    pub async fn add(&mut self, subject: impl AsRef<str>, payload: impl Into<Bytes>) -> Result<()> {
        self.add_with(subject, PublishOptions::new().payload(payload))
            .await
    }

    /// Adds a message with headers and expectations (the retry settings of `options` are not
    /// used; its timeout is).
    pub async fn add_with(
        &mut self,
        subject: impl AsRef<str>,
        options: PublishOptions,
    ) -> Result<()> {
        let subject = subject.as_ref();
        if self.sent == 0 {
            self.ctx
                .require_api_level(2, "atomic batch publishing")
                .await?;
        }
        let msg = self.prepare(subject, options, None)?;
        self.send(subject, msg).await.map(|_| ())
    }

    /// Adds the last message and commits the batch: every message is stored, or none.
    pub async fn commit(
        self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<BatchAck> {
        self.commit_with(subject, PublishOptions::new().payload(payload))
            .await
    }

    /// As [`commit`](Self::commit), with headers and expectations on the last message.
    pub async fn commit_with(
        mut self,
        subject: impl AsRef<str>,
        options: PublishOptions,
    ) -> Result<BatchAck> {
        let subject = subject.as_ref();
        if self.sent == 0 {
            self.ctx
                .require_api_level(2, "atomic batch publishing")
                .await?;
        }
        let msg = self.prepare(subject, options, Some("1"))?;
        let again = msg.clone();
        match self.send(subject, msg).await? {
            Sent::Reply(reply) => self.finish(subject, Some(reply)),
            Sent::CommitLost => self.recover_commit(subject, false, again).await,
            Sent::Nothing => self.finish(subject, None),
        }
    }

    /// Commits the messages added so far without adding one (`Nats-Batch-Commit: eob`,
    /// nats-server 2.14+, API level 4): the end-of-batch marker is not stored. Needs at least
    /// one message added.
    pub async fn commit_eob(mut self) -> Result<BatchAck> {
        let Some(subject) = self.last_subject.clone() else {
            return Err(invalid(
                "an end-of-batch commit needs at least one message in the batch",
            ));
        };
        self.ctx
            .require_api_level(4, "an end-of-batch commit (nats-server 2.14)")
            .await?;
        let msg = self.prepare(&subject, PublishOptions::new(), Some("eob"))?;
        let again = msg.clone();
        match self.send(&subject, msg).await? {
            Sent::Reply(reply) => self.finish(&subject, Some(reply)),
            Sent::CommitLost => self.recover_commit(&subject, true, again).await,
            Sent::Nothing => self.finish(&subject, None),
        }
    }

    /// Checks one message against the ADR-50 rules and builds its request; nothing is sent
    /// and nothing changes when it fails.
    fn prepare(
        &mut self,
        subject: &str,
        options: PublishOptions,
        commit: Option<&str>,
    ) -> Result<Prepared> {
        if let Some(e) = &self.failed {
            return Err(e
                .clone()
                .with_message("the server already rejected this batch"));
        }
        client::proto::validate_publish_subject(subject)
            .map_err(|e| invalid(format!("subject {subject:?}: {e}")))?;
        let seq = self.sent + 1;
        // The end-of-batch marker does not count (the server does not count it either).
        let counted = if commit == Some("eob") { seq - 1 } else { seq };
        if counted > self.max as u64 {
            return Err(invalid(format!(
                "an atomic batch holds at most {} messages",
                self.max
            )));
        }
        if options.expected_last_msg_id.is_some() {
            return Err(invalid(
                "Nats-Expected-Last-Msg-Id is not supported in an atomic batch (ADR-50, 10177)",
            ));
        }
        if options.expected_last_sequence.is_some() && seq != 1 {
            return Err(invalid(
                "only the first message of an atomic batch may expect a last sequence (ADR-50)",
            ));
        }
        if options.expected_last_subject_sequence.is_some() {
            let on = options
                .expected_last_subject_sequence_subject
                .as_deref()
                .unwrap_or(subject);
            if self.subjects.contains(on) {
                return Err(invalid(format!(
                    "the batch already wrote {on:?}: its last subject sequence cannot be \
                     expected (ADR-50)"
                )));
            }
        }
        if let Some(headers) = &options.headers {
            for (name, _) in headers.iter() {
                if name.len() >= 11 && name[..11].eq_ignore_ascii_case("Nats-Batch-") {
                    return Err(invalid(format!("header {name} is written by the batch")));
                }
                if name.eq_ignore_ascii_case("Nats-Expected-Last-Msg-Id") {
                    return Err(invalid(
                        "Nats-Expected-Last-Msg-Id is not supported in an atomic batch",
                    ));
                }
            }
        }
        if let Some(id) = &options.msg_id
            && self.msg_ids.contains(id)
        {
            return Err(invalid(format!(
                "Nats-Msg-Id {id:?} appears twice in the batch (10201)"
            )));
        }
        let msg_id = options.msg_id.clone();
        let timeout = options
            .timeout
            .or(self.timeout)
            .unwrap_or(self.ctx.timeout());
        let (payload, headers) = options.into_parts()?;
        let mut headers = headers.unwrap_or_default();
        let mut set = |name: &str, value: &str| {
            headers
                .insert(name, value)
                .map_err(|e| invalid(format!("header {name}: {e}")))
        };
        set(BATCH_ID, &self.id)?;
        set(BATCH_SEQUENCE, &seq.to_string())?;
        if let Some(value) = commit {
            set(BATCH_COMMIT, value)?;
        }
        let wait = seq == 1
            || commit.is_some()
            || (self.ack_every > 0 && seq.is_multiple_of(self.ack_every));
        // From here the message will be sent: record what later messages are checked against.
        self.sent = seq;
        self.subjects.insert(subject.to_string());
        if let Some(id) = msg_id {
            self.msg_ids.insert(id);
        }
        self.last_subject = Some(subject.to_string());
        Ok(Prepared {
            payload,
            headers,
            timeout,
            wait,
            commit: commit.is_some(),
        })
    }

    /// Sends one prepared message, waiting for the reply when `wait`; a server error marks
    /// the batch failed.
    async fn send(&mut self, subject: &str, msg: Prepared) -> Result<Sent> {
        let client = self.ctx.client();
        if !msg.wait {
            return match client
                .publish_with_headers(subject, &msg.headers, msg.payload)
                .await
            {
                Ok(()) => Ok(Sent::Nothing),
                Err(e) => {
                    let e = Error::from(e);
                    self.failed = Some(e.clone());
                    Err(e)
                }
            };
        }
        let request = Request::new()
            .payload(msg.payload)
            .headers(msg.headers)
            .timeout(msg.timeout);
        let mut link = self.ctx.link();
        let before = link.as_mut().map(|l| *l.borrow_and_update());
        let send = client.send_request(subject, request);
        let outcome = match (link.as_mut(), before) {
            (Some(rx), Some(before)) => {
                tokio::select! {
                    biased;
                    r = send => Some(r),
                    _ = rx.wait_for(|l| l.lost_since(&before)) => None,
                }
            }
            _ => Some(send.await),
        };
        let result = match outcome {
            Some(Ok(reply)) => check_staged(subject, &reply).map(|()| Sent::Reply(reply)),
            Some(Err(e)) if e.is_no_responders() => Err(no_stream(Some(subject))),
            Some(Err(e))
                if !matches!(
                    e.kind(),
                    client::ErrorKind::Disconnected | client::ErrorKind::ReconnectBufferFull
                ) =>
            {
                Err(e.into())
            }
            // The connection was lost while waiting.
            _ if msg.commit => Ok(Sent::CommitLost),
            _ => Err(Error::from(client::Error::new(
                client::ErrorKind::Disconnected,
                "the connection was lost during the atomic batch: it is abandoned, and \
                 nothing of it is stored since it was not committed",
            ))),
        };
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// The commit was in flight when the connection dropped: after the reconnect, finds the
    /// commit in the stream (the last message on its subject, with our batch id and
    /// `Nats-Batch-Commit: 1`); if it is not there, the server never saw it and the batch is
    /// still staged, so the commit is sent again. Where neither tells, the outcome is
    /// unknown.
    async fn recover_commit(mut self, subject: &str, eob: bool, msg: Prepared) -> Result<BatchAck> {
        let deadline = tokio::time::Instant::now() + msg.timeout;
        let Some(mut link) = self.ctx.link() else {
            return Err(outcome_unknown(subject, "its state cannot be watched"));
        };
        let stream = self
            .ctx
            .after_reconnect(subject, &mut link, deadline)
            .await?;
        let count = if eob { self.sent - 1 } else { self.sent };
        match self.ctx.get_last_message(&stream, subject).await {
            Ok(last)
                if last.headers.as_ref().is_some_and(|h| {
                    h.get(BATCH_ID) == Some(self.id.as_str()) && h.get(BATCH_COMMIT) == Some("1")
                }) =>
            {
                return Ok(BatchAck {
                    stream,
                    seq: last.sequence,
                    batch: self.id,
                    count,
                    domain: None,
                });
            }
            Ok(_) => {}
            Err(e) if e.is_no_message() => {}
            Err(e) => {
                return Err(outcome_unknown(
                    subject,
                    format_args!("looking for the batch's commit failed: {e}"),
                ));
            }
        }
        // The server answers the resent commit definitely: an ack, or the batch's rejection
        // (10176 when a message was lost with the connection). One case stays open: a commit
        // that landed but whose subject another writer wrote again before the lookup.
        match self.send(subject, msg).await {
            Ok(Sent::Reply(reply)) => self.finish(subject, Some(reply)),
            Ok(_) => Err(outcome_unknown(subject, "it was lost again")),
            Err(e) if e.kind() == ErrorKind::Api => Err(e),
            Err(e) => Err(outcome_unknown(
                subject,
                format_args!("the batch's commit was not found and its resend failed: {e}"),
            )),
        }
    }

    fn finish(self, subject: &str, reply: Option<client::Message>) -> Result<BatchAck> {
        let Some(reply) = reply else {
            return Err(Error::new(
                ErrorKind::Decode,
                "no reply to the batch commit",
            ));
        };
        let ack: PubAck = parse_ack(Some(subject), reply.headers.as_ref(), &reply.payload)?;
        Ok(BatchAck {
            stream: ack.stream,
            seq: ack.seq,
            batch: ack.batch.unwrap_or(self.id),
            count: ack.count.unwrap_or(self.sent),
            domain: ack.domain,
        })
    }
}

/// One message of the batch, checked and ready to send.
#[derive(Clone)]
struct Prepared {
    payload: Bytes,
    headers: HeaderMap,
    timeout: Duration,
    wait: bool,
    commit: bool,
}

/// What became of a sent message.
enum Sent {
    /// Sent without waiting for a reply.
    Nothing,
    /// The server's reply.
    Reply(client::Message),
    /// The connection was lost while the commit waited for its ack.
    CommitLost,
}

/// An intermediate reply: empty means staged; anything else is an error ack or a status.
fn check_staged(subject: &str, reply: &client::Message) -> Result<()> {
    if let Some(status) = reply.headers.as_ref().and_then(HeaderMap::status) {
        if status == StatusCode::NO_RESPONDERS {
            return Err(no_stream(Some(subject)));
        }
        let description = reply
            .headers
            .as_ref()
            .and_then(HeaderMap::description)
            .unwrap_or_default();
        return Err(Error::from_status(status.as_u16(), description));
    }
    if reply.payload.is_empty() {
        return Ok(());
    }
    // A non-empty reply before the commit is an error ack (or a full ack on the commit,
    // which `finish` reads again).
    parse_ack(Some(subject), None, &reply.payload).map(|_| ())
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_sequences_cover_the_batch() {
        let ack = BatchAck {
            stream: "S".into(),
            seq: 12,
            batch: "b".into(),
            count: 3,
            domain: None,
        };
        assert_eq!(ack.sequences(), 10..=12);
    }
}
