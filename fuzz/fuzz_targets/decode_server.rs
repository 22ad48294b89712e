//! Any byte stream fed to `Decoder::decode_server`, at once and in chunks: the
//! decoder contract holds and every `MSG`/`HMSG` matches its frame (see
//! `gnat_fuzz::stream`).
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gnat_fuzz::stream::check::<gnat_fuzz::stream::Server>(data));
