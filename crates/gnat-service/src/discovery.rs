//! The client side of discovery: ask every service (or every instance of one, or one
//! instance) for its PING, INFO or STATS reply and collect the answers.
//!
//! A request goes out once with a fresh inbox as its reply subject, on a plain subscription
//! to that inbox; answers are collected until the overall timeout, until no answer has come
//! for the stall interval after the first, or until the maximum count — whichever is first.
//! A "no responders" status ends it at once with no answers.

use std::time::Duration;

use client::{Client, Message, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, Result};
use crate::monitor;
use crate::schema::{
    INFO_RESPONSE_TYPE, InfoResponse, PING_RESPONSE_TYPE, PingResponse, STATS_RESPONSE_TYPE,
    StatsResponse,
};
use crate::service::DEFAULT_API_PREFIX;
use crate::validate;

/// How long discovery waits for more answers after the last one, by default.
pub const DEFAULT_STALL: Duration = Duration::from_millis(300);

/// The most answers one query collects unless [`Discovery::max_responses`] says otherwise:
/// answers are peer data, and a query's memory stays bounded whatever answers.
pub const DEFAULT_MAX_RESPONSES: usize = 10_000;

/// Finds services and asks them for their INFO and STATS.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let client = gnat_service::client::connect("nats://127.0.0.1:4222").await?;
/// let discovery = gnat_service::Discovery::new(&client)
///     .timeout(std::time::Duration::from_secs(1));
/// for ping in discovery.ping(None).await? {
///     println!("{} {} {}", ping.name, ping.id, ping.version);
/// }
/// let stats = discovery.stats(Some("greeter"), None).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Discovery {
    client: Client,
    api_prefix: String,
    timeout: Duration,
    stall: Duration,
    max: usize,
}

impl Discovery {
    /// Discovery over `client`, waiting at most the client's request timeout.
    pub fn new(client: &Client) -> Self {
        Discovery {
            client: client.clone(),
            api_prefix: DEFAULT_API_PREFIX.to_string(),
            timeout: client.request_timeout(),
            stall: DEFAULT_STALL,
            max: DEFAULT_MAX_RESPONSES,
        }
    }

    /// The longest a query waits in all.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// After an answer, how long a query waits for the next before it ends (default
    /// [`DEFAULT_STALL`]).
    pub fn stall(mut self, stall: Duration) -> Self {
        self.stall = stall;
        self
    }

    /// Ends a query after this many answers (default [`DEFAULT_MAX_RESPONSES`]).
    pub fn max_responses(mut self, max: usize) -> Self {
        self.max = max.max(1);
        self
    }

    /// The discovery prefix instead of `$SRV`.
    pub fn api_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.api_prefix = prefix.into();
        self
    }

    /// PING: every service, or every instance of `name`.
    pub async fn ping(&self, name: Option<&str>) -> Result<Vec<PingResponse>> {
        self.query("PING", name, None, PING_RESPONSE_TYPE).await
    }

    /// PING: every service, or every instance of `name`, each with its round-trip time (from
    /// sending the request to its answer's arrival).
    pub async fn ping_with_rtt(&self, name: Option<&str>) -> Result<Vec<(PingResponse, Duration)>> {
        let answers = self.scatter_timed("PING", name, None).await?;
        Ok(answers
            .into_iter()
            .filter_map(|(rtt, m)| Some((parse(&m, PING_RESPONSE_TYPE)?, rtt)))
            .collect())
    }

    /// PING one instance.
    pub async fn ping_instance(&self, name: &str, id: &str) -> Result<Option<PingResponse>> {
        Ok(self
            .query("PING", Some(name), Some(id), PING_RESPONSE_TYPE)
            .await?
            .into_iter()
            .next())
    }

    /// INFO of every service, of every instance of `name`, or of the instance `id` of it.
    pub async fn info(&self, name: Option<&str>, id: Option<&str>) -> Result<Vec<InfoResponse>> {
        self.query("INFO", name, id, INFO_RESPONSE_TYPE).await
    }

    /// STATS of every service, of every instance of `name`, or of the instance `id` of it.
    pub async fn stats(&self, name: Option<&str>, id: Option<&str>) -> Result<Vec<StatsResponse>> {
        self.query("STATS", name, id, STATS_RESPONSE_TYPE).await
    }

    /// Parses the answers that are JSON of the expected `type` (an answer without `type`
    /// counts), leaving out the others.
    async fn query<T: DeserializeOwned>(
        &self,
        verb: &str,
        name: Option<&str>,
        id: Option<&str>,
        kind: &str,
    ) -> Result<Vec<T>> {
        let messages = self.scatter(verb, name, id).await?;
        Ok(messages.iter().filter_map(|m| parse(m, kind)).collect())
    }

    /// Sends `$SRV.<verb>[.<name>[.<id>]]` and returns the raw answers, in arrival order.
    pub async fn scatter(
        &self,
        verb: &str,
        name: Option<&str>,
        id: Option<&str>,
    ) -> Result<Vec<Message>> {
        let answers = self.scatter_timed(verb, name, id).await?;
        Ok(answers.into_iter().map(|(_, m)| m).collect())
    }

    async fn scatter_timed(
        &self,
        verb: &str,
        name: Option<&str>,
        id: Option<&str>,
    ) -> Result<Vec<(Duration, Message)>> {
        validate::validate_token("verb", verb)?;
        if let Some(name) = name {
            validate::validate_token("service name", name)?;
        }
        if let Some(id) = id {
            if name.is_none() {
                return Err(Error::new(
                    ErrorKind::InvalidName,
                    "an instance id needs a service name",
                ));
            }
            validate::validate_token("instance id", id)?;
        }
        let subject = monitor::subject(&self.api_prefix, verb, name, id);
        client::proto::validate_publish_subject(&subject).map_err(|e| {
            Error::new(
                ErrorKind::InvalidSubject,
                format!("invalid discovery subject {subject:?}: {e}"),
            )
        })?;
        let max = if id.is_some() { 1 } else { self.max };
        let inbox = self.client.new_inbox();
        let mut sub = self.client.subscribe(&inbox).await?;
        let sent = tokio::time::Instant::now();
        self.client
            .publish_with_reply(&subject, &inbox, bytes::Bytes::new())
            .await?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut answers = Vec::new();
        loop {
            let until = if answers.is_empty() {
                deadline
            } else {
                deadline.min(tokio::time::Instant::now() + self.stall)
            };
            let Ok(next) = tokio::time::timeout_at(until, sub.next()).await else {
                break;
            };
            let Some(msg) = next else { break };
            if msg.status() == Some(StatusCode::NO_RESPONDERS) {
                break;
            }
            answers.push((sent.elapsed(), msg));
            if answers.len() >= max {
                break;
            }
        }
        Ok(answers)
    }
}

/// An answer parsed as `T` if it is JSON of the expected `type` (an answer without `type`
/// counts).
fn parse<T: DeserializeOwned>(m: &Message, kind: &str) -> Option<T> {
    let value: serde_json::Value = serde_json::from_slice(&m.payload).ok()?;
    let typed = value.get("type").and_then(serde_json::Value::as_str);
    if typed.is_some_and(|t| t != kind) {
        return None;
    }
    serde_json::from_value(value).ok()
}
