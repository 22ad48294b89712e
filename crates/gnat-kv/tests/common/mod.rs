//! Helpers for the real nats-server tests: servers, contexts, deadlines. Nothing sleeps for a
//! fixed time; every wait polls against [`DEADLINE`].

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use gnat_kv::jetstream::Context;
use gnat_kv::jetstream::client::ConnectOptions;
use gnat_kv::{Config, Store, WatchEvent, Watcher};
use gnat_test_support::NatsServer;

/// The longest any single wait in these tests may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A JetStream server and a context on it.
pub async fn jetstream() -> (NatsServer, Context) {
    let server = NatsServer::start_jetstream();
    let js = context(&server.url()).await;
    (server, js)
}

/// A context on `urls` with a 5 s timeout.
pub async fn context(urls: &str) -> Context {
    Context::new(client(urls).await)
}

/// A client on `urls` with a 5 s request timeout.
pub async fn client(urls: &str) -> gnat_kv::jetstream::client::Client {
    ConnectOptions::new()
        .request_timeout(Duration::from_secs(5))
        .connect(urls)
        .await
        .expect("connect")
}

/// A server and a fresh bucket with `config`.
pub async fn bucket(config: Config) -> (NatsServer, Context, Store) {
    let (server, js) = jetstream().await;
    let kv = gnat_kv::create_bucket(&js, config)
        .await
        .expect("create bucket");
    (server, js, kv)
}

/// Runs `fut` with the [`DEADLINE`], panicking with `what` when it expires.
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {DEADLINE:?}"))
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
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

/// The next watch event (within the deadline).
pub async fn next_event(w: &mut Watcher) -> WatchEvent {
    within("next watch event", w.next())
        .await
        .expect("watcher ended")
        .expect("watch error")
}

/// The next entry (within the deadline), asserting it is not the marker.
pub async fn next_entry(w: &mut Watcher) -> gnat_kv::Entry {
    match next_event(w).await {
        WatchEvent::Entry(e) => e,
        WatchEvent::InitialDone => panic!("expected an entry, got the end-of-initial-data event"),
    }
}

/// Asserts nothing arrives on `w` within `quiet`.
pub async fn assert_quiet(w: &mut Watcher, quiet: Duration) {
    if let Ok(item) = tokio::time::timeout(quiet, w.next()).await {
        panic!("expected nothing, got {item:?}");
    }
}
