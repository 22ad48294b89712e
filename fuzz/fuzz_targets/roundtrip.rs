//! Structured operations: encode with the real encoders, decode back, compare op by
//! op (see `gnat_fuzz::roundtrip`).
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|ops: Vec<gnat_fuzz::roundtrip::Op>| gnat_fuzz::roundtrip::check(&ops));
