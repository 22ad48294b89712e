//! Helpers for the real nats-server tests: servers, contexts, deadlines. Nothing sleeps for a
//! fixed time; every wait polls against [`DEADLINE`].

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use gnat_object::jetstream::Context;
use gnat_object::jetstream::client::ConnectOptions;
use gnat_object::{Config, ObjectStore};
use gnat_test_support::NatsServer;

/// The longest any single wait in these tests may take.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A JetStream server and a context on it.
pub async fn jetstream() -> (NatsServer, Context) {
    let server = NatsServer::start_jetstream();
    let js = context(&server.url()).await;
    (server, js)
}

/// A context on `urls` with a 5 s timeout.
pub async fn context(urls: &str) -> Context {
    Context::new(
        ConnectOptions::new()
            .request_timeout(Duration::from_secs(5))
            .connect(urls)
            .await
            .expect("connect"),
    )
}

/// A server and a fresh bucket.
pub async fn bucket(name: &str) -> (NatsServer, Context, ObjectStore) {
    let (server, js) = jetstream().await;
    let store = gnat_object::create_bucket(&js, Config::new(name))
        .await
        .expect("create bucket");
    (server, js, store)
}

/// Runs `fut` with the [`DEADLINE`], panicking with `what` when it expires.
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {DEADLINE:?}"))
}

/// `n` bytes of a pattern that differs from chunk to chunk.
pub fn data(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u64).wrapping_mul(2_654_435_761).rotate_right(7) as u8)
        .collect()
}

/// SHA-256 of `bytes` the way ADR-20 writes it.
pub fn digest_of(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let d = ring_sha256(bytes);
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::from("SHA-256=");
    for c in d.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                let _ = s.write_char(alphabet[((n >> shift) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn ring_sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}
