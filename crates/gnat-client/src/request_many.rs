//! Request-many (ADR-47): one request, a stream of replies that ends on a total timeout, a
//! stall timer, a maximum count or a sentinel message.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use proto::{HeaderMap, StatusCode};
use tokio::time::{Instant, Sleep};

use crate::error::{Error, ErrorKind, Result};
use crate::message::Message;
use crate::requests::ManyReceiver;
use crate::shared::Handle;

/// Replies queued for a [`Replies`] stream that is not being read, when no maximum count is
/// set; further replies are dropped until the stream is read again.
const DEFAULT_QUEUE: usize = 1024;

/// A request answered by any number of replies; see
/// [`Client::send_request_many`](crate::Client::send_request_many).
///
/// The stream ends on the first of (ADR-47):
/// * the **total timeout** ([`RequestMany::max_wait`], by default the client's request
///   timeout) since the request was sent;
/// * the **stall timer** ([`RequestMany::stall`]): no further reply for that long after the
///   previous one (the first reply is waited for with the total timeout only);
/// * the **maximum count** ([`RequestMany::max_messages`]) of replies yielded;
/// * the **sentinel** ([`RequestMany::sentinel`]): a reply with an empty payload and no
///   status, which is not yielded.
///
/// A status reply (503 no responders, or any other status) is yielded as an error and ends the
/// stream.
///
/// ```no_run
/// # async fn demo(client: gnat_client::Client) -> Result<(), gnat_client::Error> {
/// use std::time::Duration;
/// use gnat_client::RequestMany;
///
/// let mut replies = client
///     .send_request_many(
///         "svc.ping",
///         RequestMany::new()
///             .payload("who is there?")
///             .max_wait(Duration::from_secs(2))
///             .stall(Duration::from_millis(100)),
///     )
///     .await?;
/// while let Some(reply) = replies.next().await {
///     println!("{:?}", reply?.payload);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestMany {
    payload: Bytes,
    headers: Option<HeaderMap>,
    max_wait: Option<Duration>,
    stall: Option<Duration>,
    max_messages: Option<usize>,
    sentinel: bool,
}

impl RequestMany {
    /// An empty request that waits for the client's request timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// The payload.
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Headers to send.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// The total time to wait for replies (default: the client's request timeout).
    pub fn max_wait(mut self, total: Duration) -> Self {
        self.max_wait = Some(total);
        self
    }

    /// Ends the stream when no reply came for `stall` after the previous one. A zero stall,
    /// or one not shorter than the total timeout, is the same as none (ADR-47).
    pub fn stall(mut self, stall: Duration) -> Self {
        self.stall = Some(stall);
        self
    }

    /// Ends the stream after `n` replies (`0` is the same as none).
    pub fn max_messages(mut self, n: usize) -> Self {
        self.max_messages = (n > 0).then_some(n);
        self
    }

    /// Ends the stream at the first reply with an empty payload and no status (the standard
    /// sentinel of ADR-47); that reply is not yielded.
    pub fn sentinel(mut self, on: bool) -> Self {
        self.sentinel = on;
        self
    }
}

/// The replies to a request-many, as a [`Stream`]; see [`RequestMany`].
///
/// Dropping it (or its end) removes the request from the client's reply table, so late
/// replies are discarded.
pub struct Replies {
    handle: Handle,
    token: u64,
    subject: String,
    rx: ManyReceiver,
    deadline: Pin<Box<Sleep>>,
    /// The stall timer, armed after the first reply.
    stall_timer: Option<Pin<Box<Sleep>>>,
    stall: Option<Duration>,
    total_end: Instant,
    remaining: Option<usize>,
    sentinel: bool,
    done: bool,
}

impl Replies {
    /// The next reply, or `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<Result<Message>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Ends the stream now (the request is cancelled; later replies are discarded).
    pub fn cancel(&mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.handle.forget_request(self.token);
            self.rx.close();
        }
    }

    /// A reply arrived: what to yield, if anything, and whether the stream ends with it.
    fn on_reply(&mut self, msg: proto::Msg) -> Option<Result<Message>> {
        if let Some(block) = &msg.headers
            && let Some((status, text)) = proto::status_of(block)
        {
            self.finish();
            if status == StatusCode::NO_RESPONDERS {
                return Some(Err(Error::new(
                    ErrorKind::NoResponders,
                    format!("no responders on {}", self.subject),
                )));
            }
            return Some(Err(Error::new(
                ErrorKind::Server,
                format!(
                    "request to {}: status {} {}",
                    self.subject,
                    status.as_u16(),
                    String::from_utf8_lossy(text).trim()
                ),
            )));
        }
        if self.sentinel && msg.payload.is_empty() {
            self.finish();
            return None;
        }
        let msg = match Message::from_wire(msg) {
            Ok(msg) => msg,
            Err(e) => {
                self.finish();
                return Some(Err(Error::from(e)));
            }
        };
        if let Some(left) = self.remaining.as_mut() {
            *left -= 1;
            if *left == 0 {
                self.finish();
                return Some(Ok(msg));
            }
        }
        if let Some(stall) = self.stall {
            let at = (Instant::now() + stall).min(self.total_end);
            match self.stall_timer.as_mut() {
                Some(timer) => timer.as_mut().reset(at),
                None => self.stall_timer = Some(Box::pin(tokio::time::sleep_until(at))),
            }
        }
        Some(Ok(msg))
    }
}

impl Stream for Replies {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(msg))) => {
                return match this.on_reply(msg) {
                    Some(item) => Poll::Ready(Some(item)),
                    None => Poll::Ready(None),
                };
            }
            Poll::Ready(Some(Err(e))) => {
                this.finish();
                return Poll::Ready(Some(Err(e)));
            }
            Poll::Ready(None) => {
                // The client closed and dropped the reply table.
                this.finish();
                return Poll::Ready(Some(Err(Error::closed())));
            }
            Poll::Pending => {}
        }
        let stalled = this
            .stall_timer
            .as_mut()
            .is_some_and(|t| t.as_mut().poll(cx).is_ready());
        if stalled || this.deadline.as_mut().poll(cx).is_ready() {
            this.finish();
            return Poll::Ready(None);
        }
        Poll::Pending
    }
}

impl Drop for Replies {
    fn drop(&mut self) {
        self.finish();
    }
}

impl std::fmt::Debug for Replies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replies")
            .field("subject", &self.subject)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Sends `request` to `subject` and returns the stream of its replies.
pub(crate) async fn send(handle: &Handle, subject: &str, request: RequestMany) -> Result<Replies> {
    let total = request
        .max_wait
        .filter(|d| !d.is_zero())
        .unwrap_or(handle.opts.request_timeout);
    let stall = request.stall.filter(|s| !s.is_zero() && *s < total);
    let capacity = request
        .max_messages
        .unwrap_or(DEFAULT_QUEUE)
        .min(DEFAULT_QUEUE);
    let (token, reply, rx, alone) = handle.register_request_many(subject, capacity);
    let mut replies = Replies {
        handle: handle.clone(),
        token,
        subject: subject.to_string(),
        rx,
        // Armed below, once the request is queued.
        deadline: Box::pin(tokio::time::sleep(total)),
        stall_timer: None,
        stall,
        total_end: Instant::now() + total,
        remaining: request.max_messages,
        sentinel: request.sentinel,
        done: false,
    };
    // On error `replies` drops here and forgets the token.
    handle
        .publish_request(
            subject,
            &reply,
            request.headers.as_ref(),
            request.payload,
            alone,
        )
        .await?;
    let start = Instant::now();
    replies.total_end = start + total;
    replies.deadline.as_mut().reset(start + total);
    Ok(replies)
}
