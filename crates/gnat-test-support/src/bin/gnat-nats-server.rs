//! Finds (or installs) the nats-server the tests use and prints where it is and its version.
//! `.ci/run` calls this first so that a fresh machine installs the server once, up front.
//!
//! Usage: `gnat-nats-server [--version | --path]` (default: both).

use std::process::ExitCode;

fn main() -> ExitCode {
    let bin = gnat_test_support::nats_server_bin();
    let version = gnat_test_support::server_version(&bin);
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--path") => println!("{}", bin.display()),
        Some("--version") => match version {
            Ok((major, minor, patch)) => println!("nats-server v{major}.{minor}.{patch}"),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        },
        None => match version {
            Ok((major, minor, patch)) => {
                println!("{} (v{major}.{minor}.{patch})", bin.display())
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        },
        Some(other) => {
            eprintln!("unknown argument {other}; use --path or --version");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
