//! Sequential request/reply latency, gnat-client against async-nats on the same server in the
//! same run: p50, p99 and mean of one request at a time. Criterion reports means of samples,
//! not per-request percentiles, so this bench measures them itself.
//!
//! `cargo bench -p gnat-benches --bench latency [-- <requests>]` (default 20,000 each).
//! The responder is one gnat connection shared by both clients, so only the requester differs.

use std::time::{Duration, Instant};

// Not every helper is used here.
#[allow(dead_code)]
mod common;

use common::{runtime, spawn_gnat_responder};
use gnat_test_support::NatsServer;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    let p50 = percentile(&samples, 0.50);
    println!(
        "{name:<12} p50 {:>8.1} µs   p99 {:>8.1} µs   mean {:>8.1} µs   ({} requests)",
        p50.as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6,
        mean.as_secs_f64() * 1e6,
        samples.len()
    );
    p50
}

fn main() {
    // `cargo bench` passes `--bench`; a bare number sets the request count.
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let server = NatsServer::start();
    let rt = runtime();
    rt.block_on(async {
        let _responder = spawn_gnat_responder(&server.url(), "bench.echo").await;
        let gnat = client::connect(server.url()).await.unwrap();
        let official = async_nats::connect(server.url()).await.unwrap();

        // Warm both up, then alternate rounds so drift hits both alike.
        for _ in 0..1000 {
            gnat.request("bench.echo", "x").await.unwrap();
            official.request("bench.echo", "x".into()).await.unwrap();
        }
        let mut gnat_samples = Vec::with_capacity(count);
        let mut official_samples = Vec::with_capacity(count);
        for round in 0..10 {
            let n = count / 10;
            let run_gnat = || async {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    let t = Instant::now();
                    gnat.request("bench.echo", "x").await.unwrap();
                    v.push(t.elapsed());
                }
                v
            };
            let run_official = || async {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    let t = Instant::now();
                    official.request("bench.echo", "x".into()).await.unwrap();
                    v.push(t.elapsed());
                }
                v
            };
            if round % 2 == 0 {
                gnat_samples.extend(run_gnat().await);
                official_samples.extend(run_official().await);
            } else {
                official_samples.extend(run_official().await);
                gnat_samples.extend(run_gnat().await);
            }
        }
        println!("sequential request/reply latency (same server, same run)");
        let g = report("gnat", gnat_samples);
        let o = report("async-nats", official_samples);
        println!(
            "p50 ratio async-nats/gnat: {:.2} (above 1 means gnat is faster)",
            o.as_secs_f64() / g.as_secs_f64()
        );
    });
}
