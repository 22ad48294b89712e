//! Any bytes as a header block: parse → encode → parse is the identity, and
//! `status_of` agrees with `HeaderMap::parse` (see `gnat_fuzz::headers`).
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gnat_fuzz::headers::check(data));
