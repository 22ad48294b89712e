//! [`Request`]: one request to an endpoint, and the ways to answer it (ADR-32 "Error
//! Handling", "Service Msg").

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use client::{HeaderMap, Message, Subject};

use crate::endpoint::EndpointShared;
use crate::error::{Error, ErrorKind, Result};

/// The header that carries an error's description (ADR-32 "Error Handling").
pub const ERROR_HEADER: &str = "Nats-Service-Error";
/// The header that carries an error's numeric code (ADR-32 "Error Handling").
pub const ERROR_CODE_HEADER: &str = "Nats-Service-Error-Code";

/// The headers of an error response: `Nats-Service-Error: <description>` and
/// `Nats-Service-Error-Code: <code>`. Fails (and builds nothing) when `description` holds a
/// CR, LF or NUL, which a header value cannot carry.
///
/// ```
/// let headers = gnat_service::error_headers(404, "no such user").unwrap();
/// assert_eq!(headers.get("Nats-Service-Error-Code"), Some("404"));
/// assert!(gnat_service::error_headers(500, "two\r\nlines").is_err());
/// ```
pub fn error_headers(code: u16, description: &str) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    add_error_headers(&mut headers, code, description)?;
    Ok(headers)
}

fn add_error_headers(headers: &mut HeaderMap, code: u16, description: &str) -> Result<()> {
    headers.insert(ERROR_HEADER, description)?;
    headers.insert(ERROR_CODE_HEADER, &code.to_string())?;
    Ok(())
}

/// The service error a reply carries in its headers, if any: `(code, description)`. A code
/// that does not parse as a number reads as 0.
///
/// ```
/// let mut reply = gnat_service::error_headers(503, "busy").unwrap();
/// assert_eq!(gnat_service::service_error(&reply), Some((503, "busy".to_string())));
/// reply.remove("Nats-Service-Error-Code");
/// reply.remove("Nats-Service-Error");
/// assert_eq!(gnat_service::service_error(&reply), None);
/// ```
pub fn service_error(headers: &HeaderMap) -> Option<(u16, String)> {
    let code = headers.get(ERROR_CODE_HEADER);
    let description = headers.get(ERROR_HEADER);
    if code.is_none() && description.is_none() {
        return None;
    }
    Some((
        code.and_then(|c| c.trim().parse().ok()).unwrap_or(0),
        description.unwrap_or_default().to_string(),
    ))
}

/// A request received by an endpoint.
///
/// Answer it with [`respond`](Request::respond), [`respond_with_headers`](Request::respond_with_headers)
/// or [`respond_error`](Request::respond_error); each consumes the request, so a request is
/// answered at most once. The endpoint's statistics count it when it is answered, or when it
/// is dropped unanswered; the processing time runs from when the endpoint handed it out.
#[derive(Debug)]
pub struct Request {
    message: Message,
    endpoint: Arc<EndpointShared>,
    started: Instant,
    finished: bool,
}

impl Request {
    pub(crate) fn new(message: Message, endpoint: Arc<EndpointShared>) -> Self {
        endpoint.core.request_started();
        Request {
            message,
            endpoint,
            started: Instant::now(),
            finished: false,
        }
    }

    /// The subject the request was sent to.
    pub fn subject(&self) -> &str {
        &self.message.subject
    }

    /// The request's payload.
    pub fn payload(&self) -> &Bytes {
        &self.message.payload
    }

    /// The request's headers, if it had any.
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.message.headers.as_ref()
    }

    /// Where the reply goes, if the sender asked for one.
    pub fn reply(&self) -> Option<&Subject> {
        self.message.reply.as_ref()
    }

    /// The whole message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The name of the endpoint that received it.
    pub fn endpoint(&self) -> &str {
        &self.endpoint.name
    }

    /// Answers with `payload`.
    pub async fn respond(self, payload: impl Into<Bytes>) -> Result<()> {
        self.send(None, payload.into()).await
    }

    /// Answers with `payload` and `headers`.
    pub async fn respond_with_headers(
        self,
        headers: &HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        self.send(Some(headers), payload.into()).await
    }

    /// Answers with an error: an empty payload and the headers `Nats-Service-Error:
    /// <description>` and `Nats-Service-Error-Code: <code>`. The endpoint counts an error and
    /// keeps `<code>:<description>` as its last error. A description with CR, LF or NUL is
    /// refused before anything is sent (the request still counts as an error).
    pub async fn respond_error(self, code: u16, description: &str) -> Result<()> {
        self.respond_error_with(code, description, None, Bytes::new())
            .await
    }

    /// Answers with an error like [`respond_error`](Request::respond_error), with more
    /// headers and a payload.
    pub async fn respond_error_with(
        mut self,
        code: u16,
        description: &str,
        headers: Option<&HeaderMap>,
        payload: impl Into<Bytes>,
    ) -> Result<()> {
        let error = format!("{code}:{description}");
        let mut all = headers.cloned().unwrap_or_default();
        if let Err(e) = add_error_headers(&mut all, code, description) {
            self.finish(Some(error));
            return Err(e);
        }
        let reply = self.message.reply.take();
        let result = publish(&self.endpoint, reply.as_ref(), Some(&all), payload.into()).await;
        self.finish(Some(error));
        result
    }

    async fn send(mut self, headers: Option<&HeaderMap>, payload: Bytes) -> Result<()> {
        let reply = self.message.reply.take();
        let result = publish(&self.endpoint, reply.as_ref(), headers, payload).await;
        self.finish(None);
        result
    }

    /// Counts the request in the endpoint's statistics, once.
    fn finish(&mut self, error: Option<String>) {
        if !self.finished {
            self.finished = true;
            self.endpoint.record(self.started.elapsed(), error);
            self.endpoint.core.request_finished();
        }
    }
}

async fn publish(
    endpoint: &EndpointShared,
    reply: Option<&Subject>,
    headers: Option<&HeaderMap>,
    payload: Bytes,
) -> Result<()> {
    let Some(reply) = reply else {
        return Err(Error::new(
            ErrorKind::NoReplySubject,
            "the request has no reply subject",
        ));
    };
    let client = &endpoint.core.client;
    match headers {
        Some(h) => client.publish_with_headers(reply, h, payload).await?,
        None => client.publish(reply, payload).await?,
    }
    Ok(())
}

impl Drop for Request {
    fn drop(&mut self) {
        // Unanswered (or its answer was cancelled): still a request handled.
        self.finish(None);
    }
}
