//! # gnat-service
//!
//! The NATS Services framework (ADR-32, through revision 6) on [`gnat_client`](client): a
//! service is a named, versioned set of request/reply endpoints that monitoring tools find
//! through `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS`, and that scales by starting more
//! instances behind a queue group.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use futures_util::StreamExt;
//!
//! let client = gnat_service::client::connect("nats://127.0.0.1:4222").await?;
//! let service = gnat_service::Service::builder("calc", "1.2.0")
//!     .description("adds numbers")
//!     .metadata("team", "arithmetic")
//!     .start(&client)
//!     .await?;
//!
//! // An async handler per request ...
//! service
//!     .group("calc")
//!     .endpoint("add")
//!     .serve(|request| async move {
//!         let text = String::from_utf8_lossy(request.payload()).into_owned();
//!         let sum: Result<i64, _> = text.split(',').map(|n| n.trim().parse::<i64>()).sum();
//!         let _ = match sum {
//!             Ok(sum) => request.respond(sum.to_string()).await,
//!             Err(e) => request.respond_error(400, &e.to_string()).await,
//!         };
//!     })
//!     .await?;
//!
//! // ... or the requests as a stream.
//! let mut echo = service.endpoint("echo").queue_group("echoes").add().await?;
//! tokio::spawn(async move {
//!     while let Some(request) = echo.next().await {
//!         let payload = request.payload().clone();
//!         let _ = request.respond(payload).await;
//!     }
//! });
//!
//! let found = gnat_service::Discovery::new(&client).info(Some("calc"), None).await?;
//! assert_eq!(found[0].endpoints.len(), 2);
//! # Ok(()) }
//! ```
//!
//! ## What it does
//!
//! * A service has a name (`A-Z a-z 0-9 - _`), a SemVer version, a description, metadata and
//!   a generated instance id; all are checked before anything is sent.
//! * Endpoints are added on the service or in [`Group`]s (subject prefixes, nested), at any
//!   time; each listens on its name or its own subject, in the queue group `q` unless the
//!   service, group or endpoint names another one or none.
//! * A handler is an async function ([`EndpointBuilder::serve`], run concurrently up to a
//!   bound, a panic answered with error 500 and counted) or the [`Endpoint`] stream of
//!   [`Request`]s. Requests are answered with [`Request::respond`],
//!   [`Request::respond_with_headers`] or [`Request::respond_error`] (the
//!   `Nats-Service-Error` and `Nats-Service-Error-Code` headers).
//! * Every instance answers `$SRV.PING|INFO|STATS`, `$SRV.<verb>.<name>` and
//!   `$SRV.<verb>.<name>.<id>` with the ADR's JSON ([`schema`]). Statistics per endpoint:
//!   requests, errors, total and average processing time in nanoseconds, the last error, and
//!   the data of an optional stats handler; [`Service::reset`] clears them.
//! * [`Service::stop`] unsubscribes from discovery, drains every endpoint and waits, within a
//!   bound, for the requests in hand, and reports whether all of it finished.
//! * [`Discovery`] asks all services, all instances of one, or one instance, with a timeout,
//!   a stall interval and a maximum count.
//!
//! ## What it does not do
//!
//! No transport of its own (that is `gnat-client`), no JSON schema validation beyond the
//! fields it reads, no removal of single endpoints (ADR-32 has none), and no typed request
//! bodies: payloads are bytes.
//!
//! ## Layout
//!
//! `service` ([`Service`], [`ServiceBuilder`], [`Group`], [`EndpointBuilder`]), `endpoint`
//! (statistics, the [`Endpoint`] stream, the handler task), `request` ([`Request`] and the
//! error headers), `monitor` (the discovery responder), `discovery` (the [`Discovery`]
//! client), [`schema`] (the JSON replies), `validate` (names, versions, subjects), `time`
//! (the `started` timestamp), `error`.

#![forbid(unsafe_code)]

pub use client;

mod discovery;
mod endpoint;
mod error;
mod monitor;
mod request;
pub mod schema;
mod service;
mod time;
mod validate;

pub use discovery::{DEFAULT_MAX_RESPONSES, DEFAULT_STALL, Discovery};
pub use endpoint::Endpoint;
pub use error::{Error, ErrorKind, Result};
pub use request::{ERROR_CODE_HEADER, ERROR_HEADER, Request, error_headers, service_error};
pub use schema::{
    EndpointInfo, EndpointStats, InfoResponse, Metadata, PingResponse, StatsResponse,
};
pub use service::{
    DEFAULT_API_PREFIX, DEFAULT_CONCURRENCY, DEFAULT_QUEUE_GROUP, EndpointBuilder, Group, Service,
    ServiceBuilder, StatsHandler, StopReport,
};
pub use validate::{validate_name, validate_version};
