//! The JetStream [`Context`]: a client plus the API prefix (or domain) and a timeout. Every
//! API call is a request to `<prefix>.<OP>…` with a JSON body.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use client::{Client, Request};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Error, ErrorKind, Result};

/// The default API prefix.
pub const DEFAULT_API_PREFIX: &str = "$JS.API";

/// Access to JetStream through one client.
///
/// ```no_run
/// # async fn demo() -> Result<(), gnat_jetstream::Error> {
/// let client = gnat_jetstream::client::connect("nats://127.0.0.1:4222").await?;
/// let js = gnat_jetstream::Context::new(client);
/// let info = js.account_info().await?;
/// println!("API level {}", info.api.level);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Context {
    client: Client,
    prefix: String,
    domain: Option<String>,
    timeout: Duration,
    /// The connection's disconnect epochs, watched from the first publish on (see `resend`).
    link: Arc<OnceLock<Option<tokio::sync::watch::Receiver<crate::resend::Link>>>>,
    /// The server's JetStream API level (ADR-44), read once.
    api_level: Arc<OnceLock<u32>>,
}

/// Just enough of a reply to see whether it carries an error.
#[derive(serde::Deserialize)]
struct ErrorProbe {
    #[serde(default)]
    error: Option<ApiError>,
}

impl Context {
    /// A context with the default prefix `$JS.API` and the client's request timeout.
    pub fn new(client: Client) -> Self {
        let timeout = client.request_timeout();
        Context {
            client,
            prefix: DEFAULT_API_PREFIX.to_string(),
            domain: None,
            timeout,
            link: Arc::new(OnceLock::new()),
            api_level: Arc::new(OnceLock::new()),
        }
    }

    /// The same context assuming the server's JetStream API level (ADR-44) is `level`
    /// instead of asking it (for example behind an account import that hides `$JS.API.INFO`).
    pub fn with_api_level(mut self, level: u32) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(level);
        self.api_level = Arc::new(cell);
        self
    }

    /// The server's JetStream API level (ADR-44: 1 for 2.11, 2 for 2.12, 4 for 2.14 …),
    /// from `$JS.API.INFO` on first use, then remembered by this context and its clones.
    pub async fn api_level(&self) -> Result<u32> {
        if let Some(level) = self.api_level.get() {
            return Ok(*level);
        }
        let level = self.account_info().await?.api.level;
        Ok(*self.api_level.get_or_init(|| level))
    }

    /// Refuses, before anything is sent, a `feature` the server's API level is too old for.
    pub(crate) async fn require_api_level(&self, level: u32, feature: &str) -> Result<()> {
        let have = self.api_level().await?;
        if have < level {
            return Err(Error::new(
                ErrorKind::ApiLevel,
                format!(
                    "{feature} needs JetStream API level {level} (ADR-44), the server has {have}"
                ),
            ));
        }
        Ok(())
    }

    /// A watch of the connection's disconnects, started on first use; `None` outside a
    /// Tokio runtime.
    pub(crate) fn link(&self) -> Option<tokio::sync::watch::Receiver<crate::resend::Link>> {
        self.link
            .get_or_init(|| crate::resend::watch_link(&self.client))
            .clone()
    }

    /// A context for JetStream domain `domain` (prefix `$JS.<domain>.API`).
    pub fn with_domain(client: Client, domain: &str) -> Result<Self> {
        validate_token("domain", domain)?;
        let mut ctx = Self::new(client);
        ctx.prefix = format!("$JS.{domain}.API");
        ctx.domain = Some(domain.to_string());
        Ok(ctx)
    }

    /// A context with an arbitrary API prefix (cross-account imports, e.g. `JS.from-acc1`).
    pub fn with_prefix(client: Client, prefix: &str) -> Result<Self> {
        let prefix = prefix.trim_end_matches('.');
        client::proto::validate_publish_subject(prefix)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("API prefix: {e}")))?;
        let mut ctx = Self::new(client);
        ctx.prefix = prefix.to_string();
        Ok(ctx)
    }

    /// The same context with another timeout for API calls.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The API prefix (`$JS.API`, `$JS.<domain>.API` or a custom one).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The domain, when the context was made with [`Context::with_domain`].
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The timeout of API calls.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `<prefix>.<op>`.
    pub fn api_subject(&self, op: &str) -> String {
        let mut s = String::with_capacity(self.prefix.len() + 1 + op.len());
        s.push_str(&self.prefix);
        s.push('.');
        s.push_str(op);
        s
    }

    /// Sends a raw API request (`<prefix>.<op>` with `body`) and returns the reply message.
    pub async fn request_raw(&self, op: &str, body: Bytes) -> Result<client::Message> {
        let subject = self.api_subject(op);
        let request = self
            .client
            .send_request(&subject, Request::new().payload(body).timeout(self.timeout));
        // With the `tracing` feature, each API request runs in a span named after it.
        #[cfg(feature = "tracing")]
        let request = tracing::Instrument::instrument(
            request,
            tracing::debug_span!("jetstream_api", op, subject = %subject),
        );
        let reply = request.await;
        #[cfg(feature = "tracing")]
        if let Err(e) = &reply {
            tracing::debug!(op, error = %e, "JetStream API request failed");
        }
        Ok(reply?)
    }

    /// Sends an API request with a JSON body and decodes the reply, turning an `error` object
    /// into an [`ErrorKind::Api`] error.
    pub async fn request<Req, Resp>(&self, op: &str, body: &Req) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("request body: {e}")))?;
        self.request_bytes(op, Bytes::from(body)).await
    }

    /// Sends an API request with a raw body and decodes the reply as [`Context::request`].
    pub async fn request_bytes<Resp: DeserializeOwned>(
        &self,
        op: &str,
        body: Bytes,
    ) -> Result<Resp> {
        let reply = self.request_raw(op, body).await?;
        decode_reply(&reply.payload)
    }
}

/// Decodes an API reply: an `error` object becomes [`ErrorKind::Api`].
pub(crate) fn decode_reply<Resp: DeserializeOwned>(payload: &[u8]) -> Result<Resp> {
    let probe: ErrorProbe = serde_json::from_slice(payload)?;
    if let Some(api) = probe.error {
        return Err(Error::from_api(api));
    }
    Ok(serde_json::from_slice(payload)?)
}

/// Checks a name that becomes one subject token (stream, consumer, domain): non-empty, no
/// `.`, `*`, `>`, whitespace, or path separators.
pub fn validate_token(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{what} name is empty"),
        ));
    }
    if name.len() > 255 {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{what} name is longer than 255 bytes"),
        ));
    }
    if let Some((at, c)) = name.char_indices().find(|&(_, c)| {
        matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace() || c.is_control()
    }) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{what} name {name:?} has {c:?} at byte {at}"),
        ));
    }
    Ok(())
}
