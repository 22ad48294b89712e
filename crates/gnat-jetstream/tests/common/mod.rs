//! Helpers for the real nats-server tests: servers, contexts, deadlines. Nothing sleeps for a
//! fixed time; every wait polls against [`DEADLINE`].

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use gnat_jetstream::Context;
use gnat_jetstream::client::ConnectOptions;
use gnat_test_support::NatsServer;

/// The longest any single wait in these tests may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// A JetStream server and a context on it (5 s API timeout).
pub(crate) async fn jetstream() -> (NatsServer, Context) {
    let server = NatsServer::start_jetstream();
    let js = context(&server.url()).await;
    (server, js)
}

/// A context on `urls` with a 5 s timeout.
pub(crate) async fn context(urls: &str) -> Context {
    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(5))
        .connect(urls)
        .await
        .expect("connect");
    Context::new(client)
}

/// Runs `fut` with the [`DEADLINE`], panicking with `what` when it expires.
pub(crate) async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {DEADLINE:?}"))
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after [`DEADLINE`].
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not true within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
