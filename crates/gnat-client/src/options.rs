//! [`ConnectOptions`]: the builder every connection starts from.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::Client;
use crate::auth::{Auth, AuthCallback, AuthContext, AuthFields, KeyKind, KeyPair, SignFn};
use crate::error::{Error, ErrorKind, Result};
use crate::events::Event;
#[cfg(feature = "tls")]
use crate::tls::TlsOptions;

/// Per-subscription bounds: past either one, new messages for that subscription are dropped
/// and counted (a slow consumer), and the connection carries on.
///
/// Publish pacing works from these limits: while a subscription holds more than half of
/// either limit and is being read, publishes *from the same client* to subjects it receives
/// wait briefly (see [`ConnectOptions::pace_publishers`], on by default). A benchmark or a
/// program that publishes to itself and wants publishes never to wait turns pacing off there;
/// larger limits make it start later.
///
/// ```
/// use gnat_client::SubscriptionLimits;
/// let by_count = SubscriptionLimits::messages_only(10_000); // no byte bound
/// let by_size = SubscriptionLimits::bytes_only(8 << 20); // no message bound
/// let both = SubscriptionLimits::new(10_000, 8 << 20);
/// assert_eq!(by_count.bytes, usize::MAX);
/// # let _ = (by_size, both);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionLimits {
    /// Maximum messages waiting to be read.
    pub messages: usize,
    /// Maximum bytes (subject + reply + headers + payload) waiting to be read.
    pub bytes: usize,
}

impl SubscriptionLimits {
    /// At most `messages` messages and `bytes` bytes waiting to be read.
    pub const fn new(messages: usize, bytes: usize) -> Self {
        SubscriptionLimits { messages, bytes }
    }

    /// At most `messages` messages waiting, whatever their size.
    pub const fn messages_only(messages: usize) -> Self {
        SubscriptionLimits::new(messages, usize::MAX)
    }

    /// At most `bytes` bytes waiting, however many messages that is.
    pub const fn bytes_only(bytes: usize) -> Self {
        SubscriptionLimits::new(usize::MAX, bytes)
    }
}

impl Default for SubscriptionLimits {
    fn default() -> Self {
        SubscriptionLimits {
            messages: 512 * 1024,
            bytes: 64 * 1024 * 1024,
        }
    }
}

/// How long to wait between reconnect attempts: exponential from `base` up to `max`, each delay
/// with up to `jitter` added at random. The first attempt after a disconnect is immediate.
///
/// A connection that drops before it has been up for `max` does not reset the backoff: the
/// attempts after it go on where the last ones left off, so a server that completes the
/// handshake and then drops the client at once (revoked or expired credentials, a crash loop)
/// sees attempts at growing intervals, not a tight loop. After a connection that lasted, the
/// first attempt is immediate again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the second attempt.
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Random extra delay added to each wait (0 to this).
    pub jitter: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_secs(4),
            jitter: Duration::from_millis(100),
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (1-based; attempt 1 waits nothing).
    pub fn delay(&self, attempt: u32, rng: &mut crate::rng::Rng) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let shift = (attempt - 2).min(20);
        let exp = self.base.saturating_mul(1u32 << shift).min(self.max);
        exp + rng.jitter(self.jitter)
    }
}

use crate::events::EventCallback;

/// Options for a connection, built step by step and finished with [`ConnectOptions::connect`].
///
/// ```no_run
/// # async fn demo() -> Result<(), gnat_client::Error> {
/// use std::time::Duration;
/// let client = gnat_client::ConnectOptions::new()
///     .name("inventory")
///     .request_timeout(Duration::from_secs(2))
///     .reconnect_buffer_size(8 * 1024 * 1024)
///     .connect("nats://127.0.0.1:4222")
///     .await?;
/// client.publish("greet.joe", "hello").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ConnectOptions {
    pub(crate) name: Option<String>,
    pub(crate) no_echo: bool,
    pub(crate) inbox_prefix: String,
    pub(crate) connection_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) max_pings_outstanding: usize,
    pub(crate) max_reconnects: Option<usize>,
    pub(crate) backoff: Backoff,
    pub(crate) retain_server_order: bool,
    pub(crate) ignore_discovered_servers: bool,
    pub(crate) reconnect_buffer_size: usize,
    pub(crate) write_buffer_size: usize,
    pub(crate) retry_on_initial_connect: bool,
    pub(crate) subscription_limits: SubscriptionLimits,
    pub(crate) pace_publishers: bool,
    /// Static credentials, at most one per kind (token, user/password, nkey or JWT).
    pub(crate) auth: Vec<Auth>,
    pub(crate) signer: Option<Signer>,
    pub(crate) auth_callback: Option<AuthCallback>,
    pub(crate) reconnect_to_server: Option<ReconnectToServer>,
    pub(crate) lame_duck_max_delay: Duration,
    pub(crate) local_address: Option<std::net::SocketAddr>,
    pub(crate) read_buffer_size: usize,
    #[cfg(feature = "tls")]
    pub(crate) tls: TlsOptions,
    #[cfg(feature = "tls")]
    pub(crate) tls_explicit: bool,
    pub(crate) event_callback: Option<EventCallback>,
    pub(crate) credentials_file: Option<PathBuf>,
    pub(crate) max_control_line: usize,
    pub(crate) drain_timeout: Duration,
    pub(crate) custom_transport: Option<crate::transport::Connector>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            name: None,
            no_echo: false,
            inbox_prefix: "_INBOX".to_string(),
            connection_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(120),
            max_pings_outstanding: 2,
            max_reconnects: None,
            backoff: Backoff::default(),
            retain_server_order: false,
            ignore_discovered_servers: false,
            reconnect_buffer_size: 8 * 1024 * 1024,
            write_buffer_size: 2 * 1024 * 1024,
            retry_on_initial_connect: false,
            subscription_limits: SubscriptionLimits::default(),
            pace_publishers: true,
            auth: Vec::new(),
            signer: None,
            auth_callback: None,
            reconnect_to_server: None,
            lame_duck_max_delay: Duration::from_secs(2),
            local_address: None,
            read_buffer_size: 64 * 1024,
            #[cfg(feature = "tls")]
            tls: TlsOptions::default(),
            #[cfg(feature = "tls")]
            tls_explicit: false,
            event_callback: None,
            credentials_file: None,
            max_control_line: 4096,
            drain_timeout: Duration::from_secs(30),
            custom_transport: None,
        }
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ConnectOptions");
        d.field("name", &self.name)
            .field("no_echo", &self.no_echo)
            .field("inbox_prefix", &self.inbox_prefix)
            .field("connection_timeout", &self.connection_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("max_pings_outstanding", &self.max_pings_outstanding)
            .field("max_reconnects", &self.max_reconnects)
            .field("backoff", &self.backoff)
            .field("retain_server_order", &self.retain_server_order)
            .field("reconnect_buffer_size", &self.reconnect_buffer_size)
            .field("write_buffer_size", &self.write_buffer_size)
            .field("retry_on_initial_connect", &self.retry_on_initial_connect)
            .field("subscription_limits", &self.subscription_limits)
            .field("pace_publishers", &self.pace_publishers)
            .field("auth", &self.auth)
            .field("signer", &self.signer.as_ref().map(|s| s.public_part()))
            .field("auth_callback", &self.auth_callback.is_some())
            .field("credentials_file", &self.credentials_file);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls);
        d.finish_non_exhaustive()
    }
}

impl ConnectOptions {
    /// Default options: 5 s connect timeout, 10 s request timeout, a PING every 2 minutes with
    /// at most 2 unanswered, unlimited reconnects with jittered exponential backoff (10 ms up to
    /// 4 s), an 8 MiB reconnect buffer, and 512 Ki messages / 64 MiB per subscription.
    pub fn new() -> Self {
        Self::default()
    }

    /// The connection name shown by the server's monitoring.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Do not deliver this connection's own publishes to its own subscriptions.
    pub fn no_echo(mut self) -> Self {
        self.no_echo = true;
        self
    }

    /// Prefix of inbox subjects (default `_INBOX`).
    pub fn inbox_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.inbox_prefix = prefix.into();
        self
    }

    /// Timeout of one connection attempt, TCP through the handshake's PONG (default 5 s).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// Default timeout of [`Client::request`] (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How often the client PINGs the server (default 2 minutes).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// How many PINGs may go unanswered before the connection is declared stale (default 2).
    pub fn max_pings_outstanding(mut self, n: usize) -> Self {
        self.max_pings_outstanding = n.max(1);
        self
    }

    /// Give up (and close) after this many failed reconnect attempts in a row; `None` (the
    /// default) retries forever.
    pub fn max_reconnects(mut self, attempts: Option<usize>) -> Self {
        self.max_reconnects = attempts;
        self
    }

    /// Reconnect backoff.
    pub fn reconnect_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Try servers in the order given instead of shuffling them.
    pub fn retain_server_order(mut self, retain: bool) -> Self {
        self.retain_server_order = retain;
        self
    }

    /// Do not add servers the cluster announces (`connect_urls`) to the pool.
    pub fn ignore_discovered_servers(mut self, ignore: bool) -> Self {
        self.ignore_discovered_servers = ignore;
        self
    }

    /// Bytes of publishes kept while disconnected (default 8 MiB). Past it, publish fails with
    /// [`ErrorKind::ReconnectBufferFull`] instead of blocking or dropping silently.
    pub fn reconnect_buffer_size(mut self, bytes: usize) -> Self {
        self.reconnect_buffer_size = bytes;
        self
    }

    /// Bytes of encoded operations waiting for the socket while connected (default 2 MiB).
    /// Past it, publishers wait for the writer.
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes.max(64 * 1024);
        self
    }

    /// Keep trying (with the reconnect policy) when the very first connect fails, instead of
    /// returning the error.
    pub fn retry_on_initial_connect(mut self, retry: bool) -> Self {
        self.retry_on_initial_connect = retry;
        self
    }

    /// Default bounds of every new subscription (default: 512 Ki messages and 64 MiB).
    ///
    /// Publishes from this client to subjects one of its own subscriptions receives are paced
    /// while that subscription is past half of these limits and being read; see
    /// [`ConnectOptions::pace_publishers`] to turn that off (for example in a benchmark that
    /// measures raw publish rate to its own subscriber).
    pub fn subscription_limits(mut self, limits: SubscriptionLimits) -> Self {
        self.subscription_limits = limits;
        self
    }

    /// Whether publishes wait while one of this client's own subscriptions that receives
    /// them is backlogged and being read (default: on). A subscription is backlogged from
    /// half of either of its limits until its reader brings it down to a quarter; while it is,
    /// publishes to subjects it matches wait, so a client that publishes to subjects it also
    /// subscribes to does not outrun its own subscriber into slow-consumer drops. Publishes
    /// to other subjects (and requests) never wait. A wait lasts only while the backlogged
    /// subscription is being read, and at most 250 ms per publish: when no batch is taken
    /// from it for 10 ms (it is read by the publishing task itself, or not at all, or
    /// slowly), publishers go on and do not wait again until its reader takes another batch;
    /// the task reading it never waits. Off: publishes never wait for subscribers, and a
    /// subscriber that falls behind drops.
    pub fn pace_publishers(mut self, pace: bool) -> Self {
        self.pace_publishers = pace;
        self
    }

    /// Authenticate with a token. Combines with user/password and a signing method in one
    /// CONNECT (each kind of credential replaces only its own kind).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.set_auth(Auth::Token(token.into()));
        self
    }

    /// Authenticate with a user name and password.
    pub fn user_and_password(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.set_auth(Auth::UserPassword {
            user: user.into(),
            pass: password.into(),
        });
        self
    }

    /// Authenticate with an nkey seed (`SU…`): the server's nonce is signed on every connect.
    pub fn nkey(mut self, seed: &str) -> Result<Self> {
        let key = KeyPair::from_seed(seed)
            .map_err(|e| Error::new(ErrorKind::Config, format!("nkey seed: {e}")))?;
        self.set_auth(Auth::NKey(key));
        Ok(self)
    }

    /// Authenticate with a user JWT and the seed that signs the nonce.
    pub fn jwt(mut self, jwt: impl Into<String>, seed: &str) -> Result<Self> {
        let key = KeyPair::from_seed(seed)
            .map_err(|e| Error::new(ErrorKind::Config, format!("nkey seed: {e}")))?;
        self.set_auth(Auth::Jwt {
            jwt: jwt.into(),
            key,
        });
        Ok(self)
    }

    /// Authenticate with a user JWT whose nonce signature comes from `sign` (the Ed25519
    /// signature of the bytes given), so the seed never has to be in this process. `sign`
    /// runs on every connect; an error fails that attempt (an
    /// [`Event::CredentialsError`], then the next attempt after the backoff).
    ///
    /// ```no_run
    /// # async fn demo(jwt: String, key: gnat_client::auth::KeyPair) -> gnat_client::Result<()> {
    /// // `key` stands for a signer held elsewhere (an HSM, an agent, a vault).
    /// let client = gnat_client::ConnectOptions::new()
    ///     .jwt_with_signer(jwt, move |nonce: &[u8]| Ok(key.sign(nonce)))?
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn jwt_with_signer(
        mut self,
        jwt: impl Into<String>,
        sign: impl Fn(&[u8]) -> std::result::Result<Vec<u8>, String> + Send + Sync + 'static,
    ) -> Result<Self> {
        let jwt = jwt.into();
        if jwt.split('.').count() != 3 || jwt.chars().any(|c| c.is_control() || c == ' ') {
            return Err(Error::new(
                ErrorKind::Config,
                "jwt_with_signer: the JWT is not a three-part token",
            ));
        }
        self.set_signer(Signer {
            jwt: Some(jwt),
            nkey: None,
            sign: Arc::new(sign),
        });
        Ok(self)
    }

    /// Authenticate with a bare nkey given by its public key (`U…`), the nonce signed by
    /// `sign` on every connect (see [`ConnectOptions::jwt_with_signer`]). The public key is
    /// checked (base32, length, checksum, user kind) here.
    pub fn nkey_with_signer(
        mut self,
        public_key: &str,
        sign: impl Fn(&[u8]) -> std::result::Result<Vec<u8>, String> + Send + Sync + 'static,
    ) -> Result<Self> {
        match crate::auth::decode_public_key(public_key) {
            Ok((KeyKind::User, _)) => {}
            Ok((kind, _)) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("nkey public key: a {kind:?} key, a user key (U…) is required"),
                ));
            }
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("nkey public key: {}", e.to_string().replace("seed", "key")),
                ));
            }
        }
        self.set_signer(Signer {
            jwt: None,
            nkey: Some(public_key.trim().to_string()),
            sign: Arc::new(sign),
        });
        Ok(self)
    }

    /// Runs `callback` on every connect and reconnect with the server and its nonce; the
    /// credentials it returns (any mix of token, user/password, nkey and signature, JWT)
    /// go into that CONNECT, over any set by the other methods — so a credential that
    /// rotates (an expiring JWT, a short-lived token) is picked up on the next reconnect. An
    /// `Err` fails the attempt: an [`Event::CredentialsError`], then the next attempt after
    /// the backoff (never a spin). The callback's time counts against the connection timeout.
    ///
    /// ```no_run
    /// # async fn demo() -> gnat_client::Result<()> {
    /// use gnat_client::auth::AuthFields;
    /// let client = gnat_client::ConnectOptions::new()
    ///     .auth_callback(|ctx| async move {
    ///         // Fetch the current token from wherever it lives.
    ///         let _ = ctx.nonce;
    ///         Ok(AuthFields::new().with_token("s3cr3t"))
    ///     })
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn auth_callback<F, Fut>(mut self, callback: F) -> Self
    where
        F: Fn(AuthContext) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = std::result::Result<AuthFields, String>> + Send + 'static,
    {
        self.auth_callback = Some(Arc::new(move |ctx| Box::pin(callback(ctx))));
        self
    }

    /// When the server announces lame duck mode, the client moves to another server after a
    /// random delay between zero and `max` (default 2 s), so that a cluster's clients do not
    /// all reconnect at once; zero moves at once. Before moving it flushes: what was queued
    /// reaches the old server, and `flush()` calls waiting then complete instead of failing.
    /// Keep it below the server's `lame_duck_grace_period` (10 s by default), after which the
    /// server starts closing clients itself.
    pub fn lame_duck_max_delay(mut self, max: Duration) -> Self {
        self.lame_duck_max_delay = max;
        self
    }

    /// Binds the outgoing socket of every connection to this local address (IP and port; port
    /// 0 picks any). Not used with a custom transport.
    pub fn local_address(mut self, addr: std::net::SocketAddr) -> Self {
        self.local_address = Some(addr);
        self
    }

    /// How much the reader asks the socket for at once (default 64 KiB; at least 1 KiB): a
    /// larger buffer means fewer reads for large messages or fast streams, a smaller one
    /// less memory per connection.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.max(1024);
        self
    }

    /// Chooses the server and the delay of each reconnect attempt: called before every
    /// attempt with the pool (each server's state: connected before, failed attempts, last
    /// error, discovered or configured) and the attempt number (1-based). Returning
    /// `Some((url, delay))` tries that server (a URL or `host:port` of the pool) after
    /// `delay`, never sooner than the backoff's `base` from the second attempt on, so a
    /// callback cannot make the client spin; `None`, or a server not in the pool, falls back
    /// to the next server and the default backoff.
    ///
    /// ```no_run
    /// # async fn demo() -> gnat_client::Result<()> {
    /// use std::time::Duration;
    /// let client = gnat_client::ConnectOptions::new()
    ///     .reconnect_to_server(|servers, _attempt| {
    ///         // Prefer a server that never failed.
    ///         let best = servers.iter().find(|s| s.failed_attempts == 0)?;
    ///         Some((best.url.clone(), Duration::from_millis(100)))
    ///     })
    ///     .connect("nats://127.0.0.1:4222,nats://127.0.0.1:4223")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn reconnect_to_server(
        mut self,
        choose: impl Fn(&[crate::ServerStatus], u32) -> Option<(String, Duration)>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.reconnect_to_server = Some(Arc::new(choose));
        self
    }

    /// Authenticate with the contents of a `.creds` file (user JWT and nkey seed).
    pub fn credentials(mut self, creds: &str) -> Result<Self> {
        let (jwt, key) = crate::auth::parse_creds(creds)
            .map_err(|e| Error::new(ErrorKind::Config, format!("credentials: {e}")))?;
        self.set_auth(Auth::Jwt { jwt, key });
        Ok(self)
    }

    /// Authenticate with a `.creds` file; it is read again on every connect, so a rotated file
    /// is picked up on reconnect. If it cannot be read or parsed then, that attempt fails
    /// with an [`Event::CredentialsError`] (the credentials read before are not reused) and
    /// the next one comes after the backoff.
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let (jwt, key) = crate::auth::load_creds(&path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("credentials file {}: {e}", path.display()),
            )
        })?;
        self.set_auth(Auth::Jwt { jwt, key });
        self.credentials_file = Some(path);
        Ok(self)
    }

    /// Keeps `auth` as the one credential of its kind; a signing kind (nkey, JWT) also
    /// replaces a signer and a credentials file.
    fn set_auth(&mut self, auth: Auth) {
        let kind = auth_kind(&auth);
        self.auth.retain(|a| auth_kind(a) != kind);
        if kind == AuthKind::Signing {
            self.signer = None;
            self.credentials_file = None;
        }
        if !matches!(auth, Auth::None) {
            self.auth.push(auth);
        }
    }

    fn set_signer(&mut self, signer: Signer) {
        self.auth.retain(|a| auth_kind(a) != AuthKind::Signing);
        self.credentials_file = None;
        self.signer = Some(signer);
    }

    #[cfg(feature = "tls")]
    /// TLS settings (trust roots, client certificate, TLS-first). Setting them also makes TLS
    /// required.
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self.tls_explicit = true;
        self
    }

    #[cfg(feature = "tls")]
    /// Use this rustls configuration for TLS (ALPN, a custom verifier, a client-certificate
    /// resolver…) instead of one built from the simple options; makes TLS required. See
    /// [`TlsOptions::custom_config`].
    pub fn tls_client_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = self.tls.custom_config(config).required(true);
        self.tls_explicit = true;
        self
    }

    #[cfg(feature = "tls")]
    /// Require TLS even if the server does not ask for it.
    pub fn require_tls(mut self, required: bool) -> Self {
        self.tls = self.tls.required(required);
        self.tls_explicit = true;
        self
    }

    #[cfg(feature = "tls")]
    /// Trust this CA certificate (PEM file) for the server's certificate; requires TLS.
    pub fn add_root_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls = self.tls.add_root_certificate(path.into()).required(true);
        self.tls_explicit = true;
        self
    }

    #[cfg(feature = "tls")]
    /// Present this client certificate chain and key (PEM files); requires TLS.
    pub fn client_certificate(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = self
            .tls
            .client_certificate(cert.into(), key.into())
            .required(true);
        self.tls_explicit = true;
        self
    }

    #[cfg(feature = "tls")]
    /// Start TLS before the server's INFO (servers configured with `handshake_first`).
    pub fn tls_first(mut self) -> Self {
        self.tls = self.tls.tls_first(true).required(true);
        self.tls_explicit = true;
        self
    }

    /// Whether the options require TLS (always false without the `tls` feature, where no
    /// option can ask for it).
    pub(crate) fn tls_required(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_required();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Whether TLS comes before the server's INFO.
    pub(crate) fn tls_first_on(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_tls_first();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Called on every [`Event`], on the connection's task: keep it quick. Events are also
    /// available as a stream from [`Client::events`].
    pub fn event_callback(mut self, callback: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.event_callback = Some(Arc::new(callback));
        self
    }

    /// Longest control line, both ways (default 4096 bytes, the server's default): longer
    /// subjects are refused locally instead of costing the connection, and longer lines from
    /// the server are a protocol error.
    pub fn max_control_line(mut self, bytes: usize) -> Self {
        self.max_control_line = bytes;
        self
    }

    /// Test hook: instead of TCP, every connection attempt calls `connect` with the server's
    /// `host:port` and runs the NATS handshake and the connection over the stream it returns
    /// (for example one end of `tokio::io::duplex`, driven by a scripted server). TLS is not
    /// available over it: a server or option that requires TLS makes the attempt fail with
    /// [`ErrorKind::Tls`]. Everything else (reconnect, backoff, ping timers) works as over TCP.
    /// Meant for in-memory tests and the fuzz targets, not for applications.
    #[doc(hidden)]
    pub fn custom_transport<F, Fut, T>(mut self, connect: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = std::io::Result<T>> + Send + 'static,
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        self.custom_transport = Some(Arc::new(move |host_port: String| {
            let opening = connect(host_port);
            Box::pin(async move {
                let io: Box<dyn crate::transport::Io> = Box::new(opening.await?);
                Ok(io)
            })
        }));
        self
    }

    /// How long [`Client::drain`] waits for the application to read what its subscriptions
    /// still hold before it closes anyway (default 30 s).
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Connects to the servers in `urls` (comma-separated, e.g.
    /// `nats://a:4222,nats://b:4222`).
    pub async fn connect(self, urls: impl AsRef<str>) -> Result<Client> {
        Client::connect_with(urls.as_ref(), self).await
    }
}

/// See [`ConnectOptions::reconnect_to_server`].
pub(crate) type ReconnectToServer =
    Arc<dyn Fn(&[crate::ServerStatus], u32) -> Option<(String, Duration)> + Send + Sync>;

/// The kinds of static credentials; one of each can go into a CONNECT.
#[derive(PartialEq, Eq)]
enum AuthKind {
    None,
    Token,
    UserPassword,
    Signing,
}

fn auth_kind(auth: &Auth) -> AuthKind {
    match auth {
        Auth::None => AuthKind::None,
        Auth::Token(_) => AuthKind::Token,
        Auth::UserPassword { .. } => AuthKind::UserPassword,
        Auth::NKey(_) | Auth::Jwt { .. } => AuthKind::Signing,
    }
}

/// A JWT or a bare nkey whose nonce signature comes from a function.
#[derive(Clone)]
pub(crate) struct Signer {
    pub(crate) jwt: Option<String>,
    pub(crate) nkey: Option<String>,
    pub(crate) sign: SignFn,
}

impl Signer {
    /// What `Debug` may show: the public key, or that a JWT is set.
    fn public_part(&self) -> String {
        match (&self.nkey, &self.jwt) {
            (Some(nkey), _) => nkey.clone(),
            _ => "jwt <redacted>".to_string(),
        }
    }
}
