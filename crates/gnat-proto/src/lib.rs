//! The NATS wire protocol, sans IO.
//!
//! This crate turns bytes into NATS operations and operations into bytes, and
//! nothing else:
//!
//! * a zero-copy [`Decoder`] for server operations (`INFO`, `MSG`, `HMSG`, `PING`,
//!   `PONG`, `+OK`, `-ERR`) and client operations (`CONNECT`, `PUB`, `HPUB`, `SUB`,
//!   `UNSUB`, `PING`, `PONG`): it cuts complete frames off the front of a read
//!   buffer, reports partial input as `Ok(None)` without consuming anything, and
//!   hands out subjects, headers and payloads as `Bytes` slices of that buffer;
//! * [`encode`]rs that write operations into a `BytesMut`, validating user input
//!   first so that nothing is written when it is invalid;
//! * the `NATS/1.0` header block ([`headers::HeaderMap`], [`headers::status_of`]);
//! * subject, queue-group and header [`validate`]ion;
//! * the classification of the server's `-ERR` texts ([`ServerError`]).
//!
//! It does **not** open sockets, read clocks, spawn tasks or depend on tokio; it
//! keeps no connection state (no subscriptions, no ping timers). The connection
//! crate above drives it.
//!
//! Peer bytes are untrusted: any input gives an operation, `Ok(None)` or an error —
//! never a panic, an unchecked overflow, or an allocation sized by a number the
//! peer declared.
//!
//! # Layout
//!
//! * `decode` — [`Decoder`], [`Limits`], [`ServerOp`], [`ClientOp`]; dispatch.
//! * `line` — the control line: CRLF search, the grammar of the operation name and
//!   arguments.
//! * `body` — size fields and zero-copy framing of operations with a body.
//! * `msg` — `MSG`/`HMSG` ([`Msg`]); `publish` — `PUB`/`HPUB` ([`Pub`]);
//!   `sub` — `SUB`/`UNSUB`.
//! * [`info`] — `INFO` JSON ([`Info`]); [`connect`] — `CONNECT` JSON ([`Connect`]).
//! * [`encode`] — all encoders, [`CRLF`], [`check_payload_size`].
//! * [`headers`] — [`HeaderMap`], [`StatusCode`], [`status_of`].
//! * [`validate`] — subject, queue group and header checks.
//! * `server_error` — [`ServerError`]: the `-ERR` texts nats-server sends, classified.
//! * `error` — [`ProtoError`] and the small enums it carries.
//! * `num` — decimal parsing and formatting without allocation.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod body;
pub mod connect;
mod decode;
pub mod encode;
mod error;
pub mod headers;
pub mod info;
mod line;
mod msg;
mod num;
mod publish;
mod server_error;
mod sub;
pub mod validate;

pub use bytes;

pub use connect::Connect;
pub use decode::{ClientOp, Decoder, Limits, ServerOp};
pub use encode::{
    CRLF, check_payload_size, encode_connect, encode_err, encode_hpub, encode_info, encode_msg,
    encode_ok, encode_ping, encode_pong, encode_pub, encode_pub_head, encode_sub, encode_unsub,
};
pub use error::{HeaderFault, NumField, OpKind, ProtoError, SubjectFault, SubjectKind};
pub use headers::{HeaderMap, StatusCode, status_of};
pub use info::Info;
pub use line::MAX_JSON_LINE;
pub use msg::Msg;
pub use publish::Pub;
pub use server_error::ServerError;
pub use validate::{
    validate_header_name, validate_header_value, validate_publish_subject, validate_queue_group,
    validate_reply_subject, validate_subscribe_subject,
};
