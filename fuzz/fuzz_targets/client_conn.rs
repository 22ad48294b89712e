//! Arbitrary server bytes after a valid handshake, while the client subscribes, publishes and
//! requests: no panic, bounded time, and the client recovers (see `gnat_fuzz::client_conn`).
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gnat_fuzz::client_conn::check(data));
