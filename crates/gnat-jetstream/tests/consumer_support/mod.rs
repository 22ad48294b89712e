//! Helpers for the consumer tests against a real nats-server: stream setup through raw API
//! requests, publishing, and deadlines. Nothing sleeps for a fixed time to wait for the
//! server; every wait is bounded by [`DEADLINE`].

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt as _;
use gnat_jetstream::client::{Backoff, ConnectOptions};
use gnat_jetstream::{Context, JsMessage, Result};
use gnat_test_support::NatsServer;
use serde_json::{Value, json};

/// The longest any single wait may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// A JetStream server and a context on it (short reconnect backoff).
pub(crate) async fn setup() -> (NatsServer, Context) {
    let server = NatsServer::start_jetstream();
    let ctx = connect(&server).await;
    (server, ctx)
}

/// A new connection to `server`.
pub(crate) async fn connect(server: &NatsServer) -> Context {
    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(5))
        .reconnect_backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(250),
            jitter: Duration::from_millis(20),
        })
        .connect(server.url())
        .await
        .expect("connect");
    Context::new(client)
}

/// Creates a file-storage stream `name` on `subjects`, with extra config fields from `extra`.
pub(crate) async fn create_stream_with(ctx: &Context, name: &str, subjects: &[&str], extra: Value) {
    let mut config = json!({"name": name, "subjects": subjects, "storage": "file"});
    if let (Some(c), Value::Object(extra)) = (config.as_object_mut(), extra) {
        c.extend(extra);
    }
    let _: Value = ctx
        .request(&format!("STREAM.CREATE.{name}"), &config)
        .await
        .expect("stream create");
}

/// Creates a file-storage stream `name` on `subjects`.
pub(crate) async fn create_stream(ctx: &Context, name: &str, subjects: &[&str]) {
    create_stream_with(ctx, name, subjects, json!({})).await;
}

/// A JetStream publish (a request; the reply is the ack). Returns the stream sequence.
pub(crate) async fn publish(ctx: &Context, subject: &str, payload: impl Into<bytes::Bytes>) -> u64 {
    let reply = ctx
        .client()
        .request(subject, payload.into())
        .await
        .expect("publish request");
    let ack: Value = serde_json::from_slice(&reply.payload).expect("ack json");
    assert!(ack.get("error").is_none(), "publish to {subject}: {ack}");
    ack["seq"].as_u64().expect("ack seq")
}

/// Publishes `n` messages `0..n` to `subject` (core publishes, then one acknowledged publish
/// to make sure every one is stored). Returns the last sequence.
pub(crate) async fn publish_many(ctx: &Context, subject: &str, n: usize) -> u64 {
    assert!(n >= 1);
    for i in 0..n - 1 {
        ctx.client()
            .publish(subject, i.to_string())
            .await
            .expect("publish");
    }
    publish(ctx, subject, (n - 1).to_string()).await
}

/// Runs `fut` within [`DEADLINE`].
pub(crate) async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {DEADLINE:?}"))
}

/// The next item of a consumer stream, which must be a message.
pub(crate) async fn next_ok<S>(stream: &mut S) -> JsMessage
where
    S: futures_core::Stream<Item = Result<JsMessage>> + Unpin,
{
    match within("next message", stream.next()).await {
        Some(Ok(m)) => m,
        Some(Err(e)) => panic!("expected a message, got error {e:?}"),
        None => panic!("expected a message, the stream ended"),
    }
}

/// Stream sequence of a delivered message.
pub(crate) fn sseq(m: &JsMessage) -> u64 {
    m.info().expect("JetStream metadata").stream_sequence
}

/// Polls `f` until it returns `Some`, at most [`DEADLINE`].
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(v) = f().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Freezes a server process (SIGSTOP) until dropped (SIGCONT): the connection stays up but
/// nothing comes from the server. `None` when the `kill` command is not available.
pub(crate) struct Frozen(u32);

impl Frozen {
    pub(crate) fn freeze(server: &NatsServer) -> Option<Frozen> {
        let pid = server.pid();
        let ok = std::process::Command::new("kill")
            .arg("-STOP")
            .arg(pid.to_string())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Frozen(pid))
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-CONT")
            .arg(self.0.to_string())
            .status();
    }
}
