//! The `gnat` command: `gnat kv …` like the `nats kv` CLI, plus pub/sub/req/reply/bench.
//!
//! **Status:** not implemented yet; the command arrives with the CLI issue. Until then it says so
//! and exits with a non-zero status instead of pretending to work.

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("gnat: not implemented yet (arrives with the CLI issue)");
    ExitCode::from(2)
}
