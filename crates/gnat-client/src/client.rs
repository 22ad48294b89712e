//! [`Client`]: the handle applications use.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use proto::{HeaderMap, Info, StatusCode};

use crate::connection::{TlsConfig, establish};
use crate::engine::Phase;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Events, Statistics};
use crate::lock;
use crate::message::Message;
use crate::options::{ConnectOptions, SubscriptionLimits};
use crate::pool::ServerPool;
use crate::shared::{Command, Handle, Shared};
use crate::sub_queue::{CloseReason, SubShared};
use crate::subscription::Subscription;

/// A connection to NATS. Cheap to clone: clones share the connection, which closes when the
/// last clone (and the last [`Subscription`]) is dropped, or on [`Client::close`].
///
/// ```no_run
/// # async fn demo() -> Result<(), gnat_client::Error> {
/// let client = gnat_client::connect("nats://127.0.0.1:4222").await?;
/// let mut sub = client.subscribe("greet.*").await?;
/// client.publish("greet.joe", "hello").await?;
/// let msg = sub.next().await.expect("subscription open");
/// assert_eq!(&msg.payload[..], b"hello");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    /// One `Arc` of the shared state, counted: when the last client handle and subscription
    /// are dropped, the driver flushes what it can and closes.
    handle: Handle,
}

/// Connects with default options to `urls` (comma-separated).
pub async fn connect(urls: impl AsRef<str>) -> Result<Client> {
    ConnectOptions::new().connect(urls).await
}

/// A request with options beyond subject and payload; see [`Client::send_request`].
#[derive(Debug, Clone, Default)]
pub struct Request {
    payload: Bytes,
    headers: Option<HeaderMap>,
    timeout: Option<Duration>,
}

impl Request {
    /// An empty request.
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

    /// Timeout for this request instead of the client's default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Removes a request's token from the mux table however the request ends (reply, timeout,
/// error or the caller dropping the future).
struct TokenGuard<'a> {
    shared: &'a Shared,
    token: u64,
}

impl Drop for TokenGuard<'_> {
    fn drop(&mut self) {
        self.shared.forget_request(self.token);
    }
}

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Connected to a server.
    Connected,
    /// Connecting or reconnecting; publishes go to the reconnect buffer.
    Disconnected,
    /// Closed for good.
    Closed,
}

impl Client {
    pub(crate) async fn connect_with(urls: &str, opts: ConnectOptions) -> Result<Client> {
        let addrs = crate::addr::parse_server_list(urls)
            .map_err(|e| Error::new(ErrorKind::Config, e.to_string()))?;
        if addrs.is_empty() {
            return Err(Error::new(ErrorKind::Config, "no server URL given"));
        }
        proto::validate_publish_subject(&opts.inbox_prefix).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("inbox prefix {:?}: {e}", opts.inbox_prefix),
            )
        })?;
        let tls = Arc::new(TlsConfig::new());
        #[cfg(feature = "tls")]
        if opts.tls_explicit {
            // Surface bad certificate paths now rather than on every connect attempt.
            opts.tls.client_config().map_err(|e| Error::tls(None, e))?;
        }
        let retain = opts.retain_server_order;
        let retry = opts.retry_on_initial_connect;
        let shared = Arc::new(Shared::new(opts, ServerPool::new(addrs, retain)));

        let mut first = None;
        let mut last_error = None;
        let tries = lock(&shared.pool).len();
        for _attempt in 1..=tries {
            let Some(addr) = lock(&shared.pool).next_server() else {
                break;
            };
            match establish(&addr, &shared.opts, &tls).await {
                Ok(est) => {
                    first = Some(est);
                    break;
                }
                Err(e) => {
                    lock(&shared.pool).failed(&addr.socket_addr_string(), e.message());
                    #[cfg(feature = "tracing")]
                    crate::events::trace_attempt_failed(
                        &addr.socket_addr_string(),
                        u32::try_from(_attempt).unwrap_or(u32::MAX),
                        &e,
                        false,
                    );
                    last_error = Some(e);
                }
            }
        }
        if first.is_none() && !retry {
            return Err(last_error.unwrap_or_else(|| {
                Error::new(ErrorKind::NoServers, "no server could be reached")
            }));
        }
        if let Some(est) = first.as_mut() {
            // Connected from now on, not once the driver task gets to run.
            let server = crate::driver::activate(&shared, est);
            shared.emit(crate::Event::Connected { server });
        }
        let handle = Handle::new(shared.clone());
        tokio::spawn(crate::driver::run(shared, tls, first));
        Ok(Client { handle })
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.handle
    }

    /// Publishes `payload` to `subject`. Returns once the message is queued for the socket
    /// (use [`Client::flush`] to know the server has it). Waits only when the write buffer is
    /// full, or briefly while a subscription of this client that receives `subject` is
    /// backlogged and being read (see
    /// [`ConnectOptions::pace_publishers`](crate::ConnectOptions::pace_publishers)); while
    /// disconnected the message goes to the reconnect buffer, or fails with
    /// [`ErrorKind::ReconnectBufferFull`].
    pub async fn publish(&self, subject: impl AsRef<str>, payload: impl Into<Bytes>) -> Result<()> {
        self.shared()
            .publish(subject.as_ref(), None, None, payload.into())
            .await
    }

    /// Publishes with a reply subject.
    pub async fn publish_with_reply(
        &self,
        subject: impl AsRef<str>,
        reply: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        // The encoder validates subject and reply before writing anything.
        let reply = reply.as_ref();
        self.shared()
            .publish(subject.as_ref(), Some(reply), None, payload.into())
            .await
    }

    /// Publishes with headers.
    pub async fn publish_with_headers(
        &self,
        subject: impl AsRef<str>,
        headers: &HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        self.shared()
            .publish(subject.as_ref(), None, Some(headers), payload.into())
            .await
    }

    /// Publishes with a reply subject and headers.
    pub async fn publish_with_reply_and_headers(
        &self,
        subject: impl AsRef<str>,
        reply: impl AsRef<str>,
        headers: &HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        // The encoder validates subject and reply before writing anything.
        let reply = reply.as_ref();
        self.shared()
            .publish(subject.as_ref(), Some(reply), Some(headers), payload.into())
            .await
    }

    /// Subscribes to `subject` (wildcards `*` and `>` allowed) with the default limits.
    pub async fn subscribe(&self, subject: impl AsRef<str>) -> Result<Subscription> {
        self.subscribe_with(
            subject.as_ref(),
            None,
            self.shared().opts.subscription_limits,
        )
        .await
    }

    /// Subscribes as a member of queue group `queue`: each message goes to one member.
    pub async fn queue_subscribe(
        &self,
        subject: impl AsRef<str>,
        queue: impl AsRef<str>,
    ) -> Result<Subscription> {
        self.subscribe_with(
            subject.as_ref(),
            Some(queue.as_ref()),
            self.shared().opts.subscription_limits,
        )
        .await
    }

    /// Subscribes with an optional queue group and this subscription's own limits.
    pub async fn subscribe_with(
        &self,
        subject: &str,
        queue: Option<&str>,
        limits: SubscriptionLimits,
    ) -> Result<Subscription> {
        let shared = self.shared();
        let sub = Arc::new(SubShared::new(
            shared.next_sid(),
            subject.to_string(),
            queue.map(str::to_string),
            limits,
            shared.pacing.clone(),
        ));
        // Subject and queue group are validated here, once, before anything is written.
        shared.subscribe(&sub)?;
        Ok(Subscription::new(self.handle.clone(), sub))
    }

    /// Sends a request and waits for the first reply, up to the client's request timeout.
    /// Fails at once with [`ErrorKind::NoResponders`] when nobody listens on `subject`.
    pub async fn request(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<Message> {
        self.send_request(subject, Request::new().payload(payload))
            .await
    }

    /// Sends a request with headers.
    pub async fn request_with_headers(
        &self,
        subject: impl AsRef<str>,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<Message> {
        self.send_request(subject, Request::new().payload(payload).headers(headers))
            .await
    }

    /// Sends a [`Request`] over the connection's shared reply subscription.
    pub async fn send_request(
        &self,
        subject: impl AsRef<str>,
        request: Request,
    ) -> Result<Message> {
        let subject = subject.as_ref();
        #[cfg(feature = "tracing")]
        {
            use tracing::Instrument;
            let span = tracing::debug_span!("request", subject = %subject);
            self.send_request_inner(subject, request)
                .instrument(span)
                .await
        }
        #[cfg(not(feature = "tracing"))]
        self.send_request_inner(subject, request).await
    }

    async fn send_request_inner(&self, subject: &str, request: Request) -> Result<Message> {
        let shared = self.shared();
        let timeout = request.timeout.unwrap_or(shared.opts.request_timeout);
        let registered = shared.register_request(subject);
        let _guard = TokenGuard {
            shared,
            token: registered.token,
        };
        shared
            .publish_request(
                subject,
                &registered.reply,
                request.headers.as_ref(),
                request.payload,
                registered.alone,
            )
            .await?;
        let msg = match tokio::time::timeout(timeout, registered.rx).await {
            Ok(Ok(Ok(msg))) => msg,
            Ok(Ok(Err(e))) => return Err(e),
            Ok(Err(_)) => return Err(Error::closed()),
            Err(_) => return Err(Error::timeout(&format!("request to {subject}"))),
        };
        if let Some(block) = &msg.headers
            && let Some((status, _)) = proto::status_of(block)
            && status == StatusCode::NO_RESPONDERS
        {
            return Err(Error::new(
                ErrorKind::NoResponders,
                format!("no responders on {subject}"),
            ));
        }
        Message::from_wire(msg).map_err(Error::from)
    }

    /// Sends a request and returns a [`Replies`](crate::Replies) stream of every reply
    /// until the client's request timeout (ADR-47 request-many with its defaults; see
    /// [`Client::send_request_many`] for stall timer, maximum count and sentinel). No
    /// responders ends the stream at once with [`ErrorKind::NoResponders`].
    ///
    /// ```no_run
    /// # async fn demo(client: gnat_client::Client) -> Result<(), gnat_client::Error> {
    /// let mut replies = client.request_many("sensors.read", "").await?;
    /// while let Some(reply) = replies.next().await {
    ///     println!("{:?}", reply?.payload);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn request_many(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<crate::Replies> {
        self.send_request_many(subject, crate::RequestMany::new().payload(payload))
            .await
    }

    /// Sends a [`RequestMany`](crate::RequestMany) and returns the stream of its replies.
    /// Subject, headers and payload are checked before anything is written.
    pub async fn send_request_many(
        &self,
        subject: impl AsRef<str>,
        request: crate::RequestMany,
    ) -> Result<crate::Replies> {
        crate::request_many::send(&self.handle, subject.as_ref(), request).await
    }

    /// Waits until the server has processed everything sent before this call (a PING/PONG
    /// round trip). If the connection drops first, fails with [`ErrorKind::Disconnected`]:
    /// what was sent may or may not have been processed.
    pub async fn flush(&self) -> Result<()> {
        self.shared().flush().await
    }

    /// Drains: unsubscribes every subscription, waits until the server confirmed that and
    /// until the application has read every message already queued (or dropped the
    /// subscription), flushes publishes, then closes. Returns when all of that is done; if
    /// the application has not read its messages within the drain timeout (default 30 s,
    /// [`ConnectOptions::drain_timeout`]), it closes anyway and fails with
    /// [`ErrorKind::Timeout`].
    pub async fn drain(&self) -> Result<()> {
        let shared = self.shared();
        let subs: Vec<Arc<SubShared>> = shared.unsubscribe_all();
        let flushed = shared.flush().await;
        for sub in &subs {
            shared.remove_subscription(sub.sid);
        }
        for sub in &subs {
            sub.close(CloseReason::Drained);
        }
        let consumed = async {
            for sub in &subs {
                sub.wait_consumed().await;
            }
        };
        let read_in_time = tokio::time::timeout(shared.opts.drain_timeout, consumed)
            .await
            .is_ok();
        let last = shared.flush().await;
        self.close().await;
        if !read_in_time {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "drain: subscriptions still held unread messages after {:?}; closed anyway",
                    shared.opts.drain_timeout
                ),
            ));
        }
        flushed
            .and(last)
            .or_else(|e| if e.is_closed() { Ok(()) } else { Err(e) })
    }

    /// Closes the connection: queued publishes get a bounded chance to reach the server, then
    /// everything ends — subscriptions finish, pending requests and flushes fail, and no
    /// reconnect is attempted. Returns once closed.
    pub async fn close(&self) {
        self.shared().close().await;
    }

    /// Drops the current connection and connects again (to the next server of the pool).
    pub fn force_reconnect(&self) {
        self.shared().send_command(Command::Reconnect);
    }

    /// A new unique inbox subject under the client's inbox prefix.
    pub fn new_inbox(&self) -> String {
        format!("{}.{}", self.shared().opts.inbox_prefix, crate::rng::nuid())
    }

    /// The INFO of the current (or last) server.
    pub fn server_info(&self) -> Arc<Info> {
        self.shared().server_info()
    }

    /// The server this client is connected to (URL, id, name, version, cluster), or `None`
    /// while disconnected or closed.
    pub fn current_server(&self) -> Option<crate::CurrentServer> {
        if self.state() != State::Connected {
            return None;
        }
        let url = lock(&self.shared().pool).current_url()?;
        let info = self.server_info();
        Some(crate::CurrentServer {
            url,
            server_id: info.server_id.clone(),
            server_name: info.server_name.clone(),
            version: info.version.clone(),
            cluster: info.cluster.clone(),
        })
    }

    /// The server pool, in the order servers are tried, with what the client knows of each
    /// (connected before, failed attempts since the last success, last error, configured or
    /// discovered, lame duck).
    pub fn servers(&self) -> Vec<crate::ServerStatus> {
        lock(&self.shared().pool).statuses()
    }

    /// Replaces the configured servers (comma-separated URLs) for the next reconnects; the
    /// current connection stays. What is known of servers already in the pool is kept;
    /// discovered servers are dropped until the cluster announces them again. An empty or
    /// invalid list is refused with [`ErrorKind::Config`] and changes nothing.
    pub fn set_servers(&self, urls: impl AsRef<str>) -> Result<()> {
        let addrs = crate::addr::parse_server_list(urls.as_ref())
            .map_err(|e| Error::new(ErrorKind::Config, e.to_string()))?;
        if addrs.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "set_servers: the pool cannot be empty",
            ));
        }
        lock(&self.shared().pool).replace(addrs);
        Ok(())
    }

    /// The largest payload the server accepts.
    pub fn max_payload(&self) -> usize {
        self.shared().max_payload()
    }

    /// Counters since the client was created.
    pub fn statistics(&self) -> Statistics {
        self.shared().statistics()
    }

    /// A stream of connection [`Event`](crate::Event)s from now on.
    pub fn events(&self) -> Events {
        self.shared().events.subscribe()
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        match self.shared().phase() {
            Phase::Closed { .. } => State::Closed,
            p if p.is_connected() => State::Connected,
            _ => State::Disconnected,
        }
    }

    /// The default timeout of requests.
    pub fn request_timeout(&self) -> Duration {
        self.shared().opts.request_timeout
    }

    /// The client's options.
    pub fn options(&self) -> &ConnectOptions {
        &self.shared().opts
    }

    /// Requests waiting for a reply right now. Each is removed on reply, timeout or
    /// cancellation, so this returns to zero when nothing is in flight.
    pub fn pending_requests(&self) -> usize {
        self.shared().pending_requests()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}
