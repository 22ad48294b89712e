//! Stored messages: get through the stream leader (`STREAM.MSG.GET`, read-after-write
//! consistent), delete (`STREAM.MSG.DELETE`), and direct get (`DIRECT.GET`, answered by any
//! replica or mirror; single, batched and multi-last).
//!
//! A single direct get is one request and no JSON on the way back: the reply is the stored
//! message itself with `Nats-Stream`, `Nats-Subject`, `Nats-Sequence` and `Nats-Time-Stamp`
//! headers, which are read and then removed, so [`StoredMessage::headers`] holds what was
//! published, as with a leader get.
//!
//! Batches need several replies per request, so they use a dedicated inbox subscription, a
//! timeout per reply, and unsubscribe when done.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use client::{HeaderMap, Request, StatusCode, Subscription};
use futures_core::Stream;
use serde::{Deserialize, Serialize};

use crate::context::{Context, validate_token};
use crate::error::{Error, ErrorKind, Result};
use crate::stream::{SuccessReply, check_subject_filter as check_filter, success};
use crate::time::Timestamp;

const NATS_STREAM: &str = "Nats-Stream";
const NATS_SUBJECT: &str = "Nats-Subject";
const NATS_SEQUENCE: &str = "Nats-Sequence";
const NATS_TIME_STAMP: &str = "Nats-Time-Stamp";
const NATS_NUM_PENDING: &str = "Nats-Num-Pending";
const NATS_LAST_SEQUENCE: &str = "Nats-Last-Sequence";
const NATS_UP_TO_SEQUENCE: &str = "Nats-UpTo-Sequence";

/// A message as stored in a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredMessage {
    /// The subject it was stored under.
    pub subject: String,
    /// Its stream sequence.
    pub sequence: u64,
    /// The headers it was published with (`None` when it had none).
    pub headers: Option<HeaderMap>,
    /// The payload.
    pub payload: Bytes,
    /// When it was stored.
    pub time: Timestamp,
    /// The stream that answered: the requested one for a leader get, the `Nats-Stream`
    /// header of a direct get (a mirror may answer for its origin).
    pub stream: Option<String>,
}

/// What a batched direct get asks for; see [`Context::direct_get_batch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectBatch {
    /// Start at this sequence (default 1).
    pub seq: Option<u64>,
    /// Start at the first message stored at or after this time (instead of `seq`).
    pub start_time: Option<Timestamp>,
    /// Only messages on these subjects (wildcards allowed).
    pub next_by_subj: Option<String>,
    /// At most this many messages.
    pub batch: usize,
    /// At most this many bytes (server default: its max pending, about 64 MB).
    pub max_bytes: Option<usize>,
}

impl DirectBatch {
    /// Up to `batch` messages from the start of the stream.
    pub fn new(batch: usize) -> Self {
        DirectBatch {
            batch,
            ..Self::default()
        }
    }

    /// Start at sequence `seq`.
    pub fn seq(mut self, seq: u64) -> Self {
        self.seq = Some(seq);
        self
    }

    /// Start at time `time`.
    pub fn start_time(mut self, time: Timestamp) -> Self {
        self.start_time = Some(time);
        self
    }

    /// Only messages on `subject`.
    pub fn next_by_subj(mut self, subject: impl Into<String>) -> Self {
        self.next_by_subj = Some(subject.into());
        self
    }

    /// At most `bytes` bytes.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = Some(bytes);
        self
    }
}

/// The point in time a multi-last direct get reads at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UpTo {
    /// The latest messages.
    #[default]
    Latest,
    /// The last messages at or below this sequence.
    Sequence(u64),
    /// The last messages stored before this time.
    Time(Timestamp),
}

/// What the server's end-of-batch marker (`204 EOB`) reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DirectBatchEnd {
    /// Matching messages left after this batch (`Nats-Num-Pending`).
    pub num_pending: u64,
    /// The sequence of the last message considered (`Nats-Last-Sequence`).
    pub last_seq: u64,
    /// For multi-last gets, the sequence the read is pinned at (`Nats-UpTo-Sequence`).
    pub up_to_seq: Option<u64>,
}

/// The body of `STREAM.MSG.GET` and `DIRECT.GET` requests; unset fields are not sent.
#[derive(Serialize, Default)]
struct GetRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_by_subj: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_by_subj: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    batch: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_last: Option<&'a [&'a str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    up_to_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    up_to_time: Option<Timestamp>,
}

#[derive(Serialize)]
struct DeleteRequest {
    seq: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    no_erase: bool,
}

#[derive(Deserialize)]
struct MsgGetReply {
    message: RawStoredMessage,
}

#[derive(Deserialize)]
struct RawStoredMessage {
    subject: String,
    seq: u64,
    #[serde(default)]
    hdrs: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    time: Timestamp,
}

fn decode_error(what: &str) -> Error {
    Error::new(ErrorKind::Decode, what.to_string())
}

fn base64(field: &str, text: &str) -> Result<Vec<u8>> {
    client::auth::base64_std_decode(text)
        .map_err(|e| decode_error(&format!("message {field} is not base64: {e:?}")))
}

impl RawStoredMessage {
    fn into_stored(self, stream: &str) -> Result<StoredMessage> {
        let headers = match self.hdrs.as_deref() {
            Some(h) if !h.is_empty() => Some(
                HeaderMap::parse(&base64("hdrs", h)?)
                    .map_err(|e| decode_error(&format!("message headers: {e}")))?,
            ),
            _ => None,
        };
        let payload = match self.data.as_deref() {
            Some(d) if !d.is_empty() => Bytes::from(base64("data", d)?),
            _ => Bytes::new(),
        };
        Ok(StoredMessage {
            subject: self.subject,
            sequence: self.seq,
            headers,
            payload,
            time: self.time,
            stream: Some(stream.to_string()),
        })
    }
}

/// A header parsed as a decimal count. Peer data: digits only (no `+` sign, which
/// `u64::from_str` would take), no overflow; anything else is `None`.
pub(crate) fn header_u64(headers: Option<&HeaderMap>, name: &str) -> Option<u64> {
    let value = headers?.get(name)?.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// One reply to a direct get.
enum DirectReply {
    Message {
        message: StoredMessage,
        num_pending: Option<u64>,
    },
    End(DirectBatchEnd),
}

/// The control headers of one direct-get reply, read in place from its header block:
/// nothing is copied, so a caller that needs only some of them (a sequence and a time, say)
/// pays for nothing else. [`DirectReplyHeaders::read`] reads them; the headers the message
/// was published with stay in the block beside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirectReplyHeaders<'a> {
    /// The subject the message is stored under (`Nats-Subject`).
    pub subject: &'a str,
    /// Its stream sequence (`Nats-Sequence`).
    pub sequence: u64,
    /// When it was stored (`Nats-Time-Stamp`).
    pub time: Timestamp,
    /// The stream that answered (`Nats-Stream`), when the reply names it.
    pub stream: Option<&'a str>,
    /// Matching messages after this one (`Nats-Num-Pending`); only batched gets send it.
    pub num_pending: Option<u64>,
}

impl<'a> DirectReplyHeaders<'a> {
    /// Reads the header block of the reply to a single direct get (`headers` of the reply
    /// message). An inline status in place of a message fails as [`Context::direct_get`]
    /// does: a 404 status when there is no such message ([`Error::is_no_message`]), 408 and
    /// the like with their code and description. A missing header block, a missing or garbled
    /// `Nats-Subject`, `Nats-Sequence` or `Nats-Time-Stamp`, or an end-of-batch marker fail
    /// with [`ErrorKind::Decode`].
    pub fn read(headers: Option<&'a HeaderMap>) -> Result<Self> {
        match read_direct(headers)? {
            DirectControl::Message(control) => Ok(control),
            DirectControl::End(_) => Err(unexpected_end()),
        }
    }
}

/// What the control headers of a direct-get reply announce.
enum DirectControl<'a> {
    Message(DirectReplyHeaders<'a>),
    End(DirectBatchEnd),
}

fn unexpected_end() -> Error {
    decode_error("unexpected end of batch for a single get")
}

/// The error for an inline status in place of a direct-get reply.
fn status_error(status: StatusCode, description: Option<&str>) -> Error {
    if status == StatusCode::NO_RESPONDERS {
        // Nobody answers direct gets for this stream: it does not exist or does not allow
        // direct get.
        return Error::from(client::Error::new(
            client::ErrorKind::NoResponders,
            "no responders for direct get (no such stream, or allow_direct is off)",
        ));
    }
    Error::from_status(status.as_u16(), description.unwrap_or_default())
}

/// Reads the control headers of a direct-get reply without copying them.
fn read_direct(headers: Option<&HeaderMap>) -> Result<DirectControl<'_>> {
    let Some(headers) = headers else {
        return Err(decode_error("direct get reply without headers"));
    };
    let count = |name| header_u64(Some(headers), name);
    if let Some(status) = headers.status() {
        if status == StatusCode::END_OF_BATCH {
            return Ok(DirectControl::End(DirectBatchEnd {
                num_pending: count(NATS_NUM_PENDING).unwrap_or(0),
                last_seq: count(NATS_LAST_SEQUENCE).unwrap_or(0),
                up_to_seq: count(NATS_UP_TO_SEQUENCE),
            }));
        }
        return Err(status_error(status, headers.description()));
    }
    let subject = headers
        .get(NATS_SUBJECT)
        .ok_or_else(|| decode_error("direct get reply without Nats-Subject"))?;
    let sequence = count(NATS_SEQUENCE)
        .ok_or_else(|| decode_error("direct get reply without a valid Nats-Sequence"))?;
    let time = headers
        .get(NATS_TIME_STAMP)
        .and_then(Timestamp::parse)
        .ok_or_else(|| decode_error("direct get reply without a valid Nats-Time-Stamp"))?;
    Ok(DirectControl::Message(DirectReplyHeaders {
        subject,
        sequence,
        time,
        stream: headers.get(NATS_STREAM),
        num_pending: count(NATS_NUM_PENDING),
    }))
}

fn parse_direct(msg: client::Message) -> Result<DirectReply> {
    parse_direct_parts(msg.headers, msg.payload)
}

fn parse_direct_parts(headers: Option<HeaderMap>, payload: Bytes) -> Result<DirectReply> {
    let (subject, sequence, time, stream, num_pending) = match read_direct(headers.as_ref())? {
        DirectControl::End(end) => return Ok(DirectReply::End(end)),
        DirectControl::Message(c) => (
            c.subject.to_string(),
            c.sequence,
            c.time,
            c.stream.map(str::to_string),
            c.num_pending,
        ),
    };
    // read_direct fails without a header block, so there is one.
    let headers = headers.and_then(|mut headers| {
        for name in [
            NATS_STREAM,
            NATS_SUBJECT,
            NATS_SEQUENCE,
            NATS_TIME_STAMP,
            NATS_NUM_PENDING,
            NATS_LAST_SEQUENCE,
            NATS_UP_TO_SEQUENCE,
        ] {
            headers.remove(name);
        }
        (!headers.is_empty()).then_some(headers)
    });
    Ok(DirectReply::Message {
        message: StoredMessage {
            subject,
            sequence,
            headers,
            payload,
            time,
            stream,
        },
        num_pending,
    })
}

impl Context {
    async fn msg_get(&self, stream: &str, request: &GetRequest<'_>) -> Result<StoredMessage> {
        validate_token("stream", stream)?;
        let reply: MsgGetReply = self
            .request(&format!("STREAM.MSG.GET.{stream}"), request)
            .await?;
        reply.message.into_stored(stream)
    }

    /// The message with sequence `seq`, from the stream leader. A missing message fails with
    /// [`Error::is_no_message`] (10037).
    pub async fn get_message(&self, stream: &str, seq: u64) -> Result<StoredMessage> {
        let request = GetRequest {
            seq: Some(seq),
            ..GetRequest::default()
        };
        self.msg_get(stream, &request).await
    }

    /// The last message on `subject` (wildcards allowed), from the stream leader.
    pub async fn get_last_message(&self, stream: &str, subject: &str) -> Result<StoredMessage> {
        check_filter(subject)?;
        let request = GetRequest {
            last_by_subj: Some(subject),
            ..GetRequest::default()
        };
        self.msg_get(stream, &request).await
    }

    /// The first message on `subject` (wildcards allowed) with a sequence of at least
    /// `from_seq`, from the stream leader.
    pub async fn get_next_message(
        &self,
        stream: &str,
        from_seq: u64,
        subject: &str,
    ) -> Result<StoredMessage> {
        check_filter(subject)?;
        let request = GetRequest {
            seq: Some(from_seq),
            next_by_subj: Some(subject),
            ..GetRequest::default()
        };
        self.msg_get(stream, &request).await
    }

    async fn msg_delete(&self, stream: &str, seq: u64, no_erase: bool) -> Result<()> {
        validate_token("stream", stream)?;
        let reply: SuccessReply = self
            .request(
                &format!("STREAM.MSG.DELETE.{stream}"),
                &DeleteRequest { seq, no_erase },
            )
            .await?;
        success(reply.success, "message delete")
    }

    /// Deletes the message with sequence `seq` (its storage is marked free, not overwritten).
    pub async fn delete_message(&self, stream: &str, seq: u64) -> Result<()> {
        self.msg_delete(stream, seq, true).await
    }

    /// Deletes the message with sequence `seq` and overwrites its data on disk.
    pub async fn erase_message(&self, stream: &str, seq: u64) -> Result<()> {
        self.msg_delete(stream, seq, false).await
    }

    /// `<prefix>.DIRECT.GET.<stream>`, checking the stream name.
    fn direct_subject(&self, stream: &str, extra: usize) -> Result<String> {
        validate_token("stream", stream)?;
        let prefix = self.prefix();
        let mut subject = String::with_capacity(prefix.len() + 12 + stream.len() + extra);
        subject.push_str(prefix);
        subject.push_str(".DIRECT.GET.");
        subject.push_str(stream);
        Ok(subject)
    }

    async fn direct_single(&self, subject: &str, body: Bytes) -> Result<StoredMessage> {
        let reply = self
            .client()
            .send_request(
                subject,
                Request::new().payload(body).timeout(self.timeout()),
            )
            .await?;
        match parse_direct(reply)? {
            DirectReply::Message { message, .. } => Ok(message),
            DirectReply::End(_) => Err(unexpected_end()),
        }
    }

    /// The message with sequence `seq`, from any replica (the stream needs `allow_direct`).
    /// A missing message fails with a 404 status ([`Error::is_no_message`],
    /// [`Error::is_not_found`]).
    pub async fn direct_get(&self, stream: &str, seq: u64) -> Result<StoredMessage> {
        let subject = self.direct_subject(stream, 0)?;
        let body = format!("{{\"seq\":{seq}}}");
        self.direct_single(&subject, Bytes::from(body)).await
    }

    /// The last message on `subject`, from any replica, using the subject-appended form
    /// (`DIRECT.GET.<stream>.<subject>`, empty body) that permissions can restrict per
    /// subject. `subject` must not contain wildcards (see [`Context::direct_get_last_json`]).
    pub async fn direct_get_last(&self, stream: &str, subject: &str) -> Result<StoredMessage> {
        // The subject becomes tokens of the request subject: a literal one only.
        client::proto::validate_publish_subject(subject).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "direct get last of {subject:?}: {e} (wildcards need direct_get_last_json)"
                ),
            )
        })?;
        let mut full = self.direct_subject(stream, 1 + subject.len())?;
        full.push('.');
        full.push_str(subject);
        self.direct_single(&full, Bytes::new()).await
    }

    /// The last message on `subject` (wildcards allowed), from any replica, asked with a
    /// `{"last_by_subj":…}` body.
    pub async fn direct_get_last_json(&self, stream: &str, subject: &str) -> Result<StoredMessage> {
        check_filter(subject)?;
        let subject_full = self.direct_subject(stream, 0)?;
        let body = serde_json::to_vec(&GetRequest {
            last_by_subj: Some(subject),
            ..GetRequest::default()
        })?;
        self.direct_single(&subject_full, Bytes::from(body)).await
    }

    /// The first message on `subject` (wildcards allowed) with a sequence of at least
    /// `from_seq`, from any replica.
    pub async fn direct_get_next(
        &self,
        stream: &str,
        from_seq: u64,
        subject: &str,
    ) -> Result<StoredMessage> {
        check_filter(subject)?;
        let full = self.direct_subject(stream, 0)?;
        let body = serde_json::to_vec(&GetRequest {
            seq: Some(from_seq),
            next_by_subj: Some(subject),
            ..GetRequest::default()
        })?;
        self.direct_single(&full, Bytes::from(body)).await
    }

    /// Sends a batched direct get whose replies arrive on a dedicated inbox.
    async fn direct_batch_request(&self, stream: &str, body: Vec<u8>) -> Result<DirectBatchStream> {
        let subject = self.direct_subject(stream, 0)?;
        let client = self.client();
        let inbox = client.new_inbox();
        let sub = client.subscribe(&inbox).await?;
        // The SUB is queued before the request, so the server knows the inbox first.
        client.publish_with_reply(&subject, &inbox, body).await?;
        Ok(DirectBatchStream::new(sub, self.timeout()))
    }

    /// Up to `request.batch` messages, from any replica, as a stream of results that ends at
    /// the server's end-of-batch marker (whose report is then in
    /// [`DirectBatchStream::end`]). Against servers without batch support (no
    /// `Nats-Num-Pending` on the first reply) it ends after one message. When nothing
    /// matches, it ends without yielding anything.
    pub async fn direct_get_batch(
        &self,
        stream: &str,
        request: DirectBatch,
    ) -> Result<DirectBatchStream> {
        if request.batch == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a direct get batch needs a batch size of at least 1",
            ));
        }
        if let Some(filter) = &request.next_by_subj {
            check_filter(filter)?;
        }
        let body = serde_json::to_vec(&GetRequest {
            seq: request.seq.or(request.start_time.is_none().then_some(1)),
            next_by_subj: request.next_by_subj.as_deref(),
            batch: Some(request.batch),
            max_bytes: request.max_bytes,
            start_time: request.start_time,
            ..GetRequest::default()
        })?;
        self.direct_batch_request(stream, body).await
    }

    /// The last message of each subject matching `subjects` (wildcards allowed), read at one
    /// point in time, from any replica. The server refuses (status 413) when more than 1024
    /// subjects match. Nothing matching gives an empty vector.
    pub async fn direct_get_multi_last(
        &self,
        stream: &str,
        subjects: &[&str],
        up_to: UpTo,
    ) -> Result<Vec<StoredMessage>> {
        self.multi_last(stream, subjects, up_to, None).await
    }

    /// As [`Context::direct_get_multi_last`], asking for at most `batch` messages per request
    /// and paging (pinned at the first reply's `Nats-UpTo-Sequence`) until done.
    pub async fn direct_get_multi_last_paged(
        &self,
        stream: &str,
        subjects: &[&str],
        up_to: UpTo,
        batch: usize,
    ) -> Result<Vec<StoredMessage>> {
        if batch == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a multi-last page size must be at least 1",
            ));
        }
        self.multi_last(stream, subjects, up_to, Some(batch)).await
    }

    async fn multi_last(
        &self,
        stream: &str,
        subjects: &[&str],
        up_to: UpTo,
        batch: Option<usize>,
    ) -> Result<Vec<StoredMessage>> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        for s in subjects {
            check_filter(s)?;
        }
        let (mut up_to_seq, up_to_time) = match up_to {
            UpTo::Latest => (None, None),
            UpTo::Sequence(seq) => (Some(seq), None),
            UpTo::Time(t) => (None, Some(t)),
        };
        let mut from_seq: Option<u64> = None;
        let mut out = Vec::new();
        loop {
            let body = serde_json::to_vec(&GetRequest {
                seq: from_seq,
                batch,
                multi_last: Some(subjects),
                up_to_seq,
                // Once the server pinned a sequence, the time bound is in it.
                up_to_time: if up_to_seq.is_none() {
                    up_to_time
                } else {
                    None
                },
                ..GetRequest::default()
            })?;
            let mut replies = self.direct_batch_request(stream, body).await?;
            let before = out.len();
            while let Some(item) = replies.next().await {
                out.push(item?);
            }
            let Some(end) = replies.end() else {
                // No end marker: an old server without batches, or nothing matched.
                return Ok(out);
            };
            if end.num_pending == 0 {
                return Ok(out);
            }
            let next = end.last_seq.saturating_add(1);
            if out.len() == before || from_seq.is_some_and(|f| next <= f) {
                return Err(decode_error(
                    "multi-last paging made no progress (end of batch without new messages)",
                ));
            }
            from_seq = Some(next);
            if end.up_to_seq.is_some() {
                up_to_seq = end.up_to_seq;
            }
        }
    }
}

/// The replies to a batched direct get, as a [`Stream`] of results.
///
/// It ends at the server's end-of-batch marker (see [`DirectBatchStream::end`]), after one
/// message from servers without batch support, when nothing matched (404), after an error
/// (which it yields first), or when a reply does not arrive within the context's timeout
/// (a timeout error). It unsubscribes its inbox when it ends or is dropped.
pub struct DirectBatchStream {
    sub: Option<Subscription>,
    timer: Pin<Box<tokio::time::Sleep>>,
    per_reply: Duration,
    first: bool,
    end: Option<DirectBatchEnd>,
}

impl DirectBatchStream {
    fn new(sub: Subscription, per_reply: Duration) -> Self {
        DirectBatchStream {
            sub: Some(sub),
            timer: Box::pin(tokio::time::sleep(per_reply)),
            per_reply,
            first: true,
            end: None,
        }
    }

    /// The end-of-batch report, once the stream has ended at one.
    pub fn end(&self) -> Option<DirectBatchEnd> {
        self.end
    }

    /// The next message, or `None` at the end.
    pub async fn next(&mut self) -> Option<Result<StoredMessage>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    fn finish(&mut self) {
        // Dropping the subscription unsubscribes.
        self.sub = None;
    }
}

impl Stream for DirectBatchStream {
    type Item = Result<StoredMessage>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(sub) = this.sub.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(sub).poll_next(cx) {
            Poll::Ready(Some(msg)) => {
                let first = std::mem::replace(&mut this.first, false);
                match parse_direct(msg) {
                    Ok(DirectReply::Message {
                        message,
                        num_pending,
                    }) => {
                        if first && num_pending.is_none() {
                            // A server without batch support sends one message, no EOB.
                            this.finish();
                        } else {
                            // A huge timeout (from the application) must not panic.
                            let now = tokio::time::Instant::now();
                            if let Some(deadline) = now.checked_add(this.per_reply) {
                                this.timer.as_mut().reset(deadline);
                            }
                        }
                        Poll::Ready(Some(Ok(message)))
                    }
                    Ok(DirectReply::End(end)) => {
                        this.end = Some(end);
                        this.finish();
                        Poll::Ready(None)
                    }
                    Err(e) if first && e.kind() == ErrorKind::Status && e.code() == Some(404) => {
                        this.finish();
                        Poll::Ready(None)
                    }
                    Err(e) => {
                        this.finish();
                        Poll::Ready(Some(Err(e)))
                    }
                }
            }
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(Some(Err(Error::from(client::Error::new(
                    client::ErrorKind::Closed,
                    "the direct get batch subscription ended early",
                )))))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.finish();
                    Poll::Ready(Some(Err(Error::from(client::Error::new(
                        client::ErrorKind::Timeout,
                        "direct get batch: no reply in time",
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl std::fmt::Debug for DirectBatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectBatchStream")
            .field("open", &self.sub.is_some())
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(headers: &str, payload: &'static str) -> Result<DirectReply> {
        let block = format!("{}\r\n\r\n", headers.replace('\n', "\r\n"));
        let headers = HeaderMap::parse(block.as_bytes()).unwrap();
        parse_direct_parts(Some(headers), Bytes::from_static(payload.as_bytes()))
    }

    #[test]
    fn direct_replies() {
        let r = reply(
            "NATS/1.0\nKV-Operation: DEL\nNats-Stream: KV_B\nNats-Subject: $KV.B.k\n\
             Nats-Sequence: 42\nNats-Time-Stamp: 2022-08-06 00:29:27.587861324 +0000 UTC\n\
             Nats-Num-Pending: 3\nNats-Last-Sequence: 40",
            "v",
        );
        let Ok(DirectReply::Message {
            message,
            num_pending,
        }) = r
        else {
            panic!("not a message")
        };
        assert_eq!(num_pending, Some(3));
        assert_eq!(message.subject, "$KV.B.k");
        assert_eq!(message.sequence, 42);
        assert_eq!(message.stream.as_deref(), Some("KV_B"));
        assert_eq!(message.time.to_string(), "2022-08-06T00:29:27.587861324Z");
        let h = message.headers.unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h.get("KV-Operation"), Some("DEL"));

        // Only the control headers: no headers left.
        let Ok(DirectReply::Message {
            message,
            num_pending,
        }) = reply(
            "NATS/1.0\nNats-Stream: S\nNats-Subject: a\nNats-Sequence: 1\n\
             Nats-Time-Stamp: 2023-10-16T12:54:19.409051084Z",
            "",
        )
        else {
            panic!("not a message")
        };
        assert!(message.headers.is_none() && num_pending.is_none());

        let Ok(DirectReply::End(end)) = reply(
            "NATS/1.0 204 EOB\nNats-Num-Pending: 5\nNats-Last-Sequence: 9\nNats-UpTo-Sequence: 12",
            "",
        ) else {
            panic!("not an end")
        };
        assert_eq!(
            end,
            DirectBatchEnd {
                num_pending: 5,
                last_seq: 9,
                up_to_seq: Some(12)
            }
        );

        let e = reply("NATS/1.0 404 Message Not Found", "").err().unwrap();
        assert!(e.is_no_message() && e.is_not_found());
        let e = reply("NATS/1.0 408 Bad Request", "").err().unwrap();
        assert_eq!(e.status(), Some((408, "Bad Request")));
        let e = reply("NATS/1.0 503", "").err().unwrap();
        assert!(e.is_no_responders());
        // Missing or garbled control headers are decode errors, not panics.
        for bad in [
            "NATS/1.0\nNats-Subject: a\nNats-Time-Stamp: 2023-10-16T12:54:19Z",
            "NATS/1.0\nNats-Subject: a\nNats-Sequence: x\nNats-Time-Stamp: 2023-10-16T12:54:19Z",
            "NATS/1.0\nNats-Subject: a\nNats-Sequence: 1\nNats-Time-Stamp: yesterday",
            "NATS/1.0\nNats-Sequence: 1\nNats-Time-Stamp: 2023-10-16T12:54:19Z",
        ] {
            assert_eq!(
                reply(bad, "").err().unwrap().kind(),
                ErrorKind::Decode,
                "{bad}"
            );
        }
        assert!(parse_direct_parts(None, Bytes::new()).is_err());
    }

    #[test]
    fn direct_reply_headers_read_in_place() {
        let block = "NATS/1.0\r\nKV-Operation: PURGE\r\nNats-Stream: KV_B\r\nNats-Subject: $KV.B.k\r\n\
                     Nats-Sequence: 42\r\nNats-Time-Stamp: 2023-10-16T12:54:19.409051084Z\r\n\r\n";
        let headers = HeaderMap::parse(block.as_bytes()).unwrap();
        let control = DirectReplyHeaders::read(Some(&headers)).unwrap();
        assert_eq!(control.subject, "$KV.B.k");
        assert_eq!(control.sequence, 42);
        assert_eq!(control.stream, Some("KV_B"));
        assert_eq!(control.num_pending, None);
        assert_eq!(control.time.to_string(), "2023-10-16T12:54:19.409051084Z");
        // Reading leaves the block as it was: the published headers are still beside them.
        assert_eq!(headers.len(), 5);
        assert_eq!(headers.get("KV-Operation"), Some("PURGE"));

        let status = |text: &str| {
            let block = format!("{text}\r\n\r\n");
            HeaderMap::parse(block.as_bytes()).unwrap()
        };
        let not_found = status("NATS/1.0 404 Message Not Found");
        let e = DirectReplyHeaders::read(Some(&not_found)).unwrap_err();
        assert!(e.is_no_message() && e.is_not_found());
        let timeout = status("NATS/1.0 408 Request Timeout");
        let e = DirectReplyHeaders::read(Some(&timeout)).unwrap_err();
        assert_eq!(e.status(), Some((408, "Request Timeout")));
        // A single get has no batch to end.
        let end = status("NATS/1.0 204 EOB");
        let e = DirectReplyHeaders::read(Some(&end)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        let e = DirectReplyHeaders::read(None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
    }

    #[test]
    fn body_of_requests() {
        let subjects = ["a.>", "b"];
        let r = GetRequest {
            multi_last: Some(&subjects),
            batch: Some(100),
            up_to_seq: Some(7),
            ..GetRequest::default()
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"batch":100,"multi_last":["a.>","b"],"up_to_seq":7}"#
        );
        assert_eq!(
            serde_json::to_string(&DeleteRequest {
                seq: 3,
                no_erase: true
            })
            .unwrap(),
            r#"{"seq":3,"no_erase":true}"#
        );
        assert_eq!(
            serde_json::to_string(&DeleteRequest {
                seq: 3,
                no_erase: false
            })
            .unwrap(),
            r#"{"seq":3}"#
        );
    }

    #[test]
    fn leader_get_reply_decodes_base64() {
        let raw: MsgGetReply = serde_json::from_str(
            r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{
            "subject":"a.b","seq":5,"hdrs":"TkFUUy8xLjANCkE6IDENCg0K","data":"aGVsbG8=",
            "time":"2024-01-02T03:04:05.000000006Z"}}"#,
        )
        .unwrap();
        let m = raw.message.into_stored("S").unwrap();
        assert_eq!(m.subject, "a.b");
        assert_eq!(m.sequence, 5);
        assert_eq!(&m.payload[..], b"hello");
        assert_eq!(m.headers.unwrap().get("A"), Some("1"));
        assert_eq!(m.time.to_string(), "2024-01-02T03:04:05.000000006Z");
        assert_eq!(m.stream.as_deref(), Some("S"));
    }
}
