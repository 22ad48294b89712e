//! Invariant checks shared by the cargo-fuzz targets in `fuzz_targets/`.
//!
//! The targets themselves are one-liners; everything they assert lives here so that
//! the assertions can be read (and reused) in one place:
//!
//! * [`stream`] drives a [`Decoder`](gnat_proto::Decoder) over a byte stream, fed at
//!   once and in chunks, and checks the `Ok(None)`/`Ok(Some)`/`Err` contract.
//! * [`frame`] is a deliberately naive reading of one complete frame (control line,
//!   tokens, body) that the decoded operations are checked against: declared sizes,
//!   field values, and the exact position of every zero-copy slice.
//! * [`headers`] checks `HeaderMap::parse` → `encode` → `parse` and `status_of`.
//! * [`roundtrip`] encodes structured operations and decodes them back.
//! * [`client_conn`] runs a `gnat-client` connection against a scripted server that
//!   sends arbitrary bytes, and checks that the client recovers.

#![forbid(unsafe_code)]

pub mod client_conn;
pub mod frame;
pub mod headers;
pub mod roundtrip;
pub mod stream;
