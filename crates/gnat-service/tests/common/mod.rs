//! Helpers for the real nats-server tests. Nothing sleeps for a fixed time: every wait has a
//! deadline.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use gnat_service::client::{Client, ConnectOptions};

/// The longest any single wait in these tests may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A client on `url` with a 10 s request timeout.
pub async fn client(url: &str) -> Client {
    ConnectOptions::new()
        .request_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .expect("connect")
}

/// Runs `fut` with the [`DEADLINE`], panicking with `what` when it expires.
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {DEADLINE:?}"))
}

/// The sorted keys of a JSON object.
pub fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}
