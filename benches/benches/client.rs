//! gnat-client against async-nats, same server, same run: publish, pub+sub and request/reply.
//!
//! `cargo bench -p gnat-benches --bench client` (needs no setup: the test harness finds or
//! installs nats-server and starts a private one on a free port).
//!
//! Shapes (issue: the client's performance section):
//! * `publish/<client>/<size>`: 2 M messages of 16 / 128 / 1024 B, ending with a flush the
//!   server confirms (PING/PONG).
//! * `pubsub_1conn` / `pubsub_2conn`: 1 M × 128 B published and received on one connection or
//!   on two; messages lost to slow-consumer drops are counted and printed.
//! * `request_64`: request/reply with 64 requests in flight (each element is one request).
//!   The responder is the same gnat connection for both clients, so only the requesting side
//!   differs. Sequential latency percentiles are in the `latency` bench.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
// Not every helper is used here.
#[allow(dead_code)]
mod common;

use common::{runtime, spawn_gnat_responder};
use gnat_test_support::NatsServer;

const PUBLISH_COUNT: u64 = 2_000_000;
const PUBSUB_COUNT: u64 = 1_000_000;

fn publish(c: &mut Criterion) {
    let server = NatsServer::start();
    let rt = runtime();
    let gnat = rt.block_on(client::connect(server.url())).unwrap();
    let official = rt.block_on(async_nats::connect(server.url())).unwrap();

    let mut group = c.benchmark_group("publish");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(PUBLISH_COUNT));
    for size in [16usize, 128, 1024] {
        let payload = Bytes::from(vec![b'x'; size]);
        group.bench_with_input(BenchmarkId::new("gnat", size), &size, |b, _| {
            b.iter(|| {
                rt.block_on(async {
                    for _ in 0..PUBLISH_COUNT {
                        gnat.publish("bench.publish", payload.clone())
                            .await
                            .unwrap();
                    }
                    gnat.flush().await.unwrap();
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("async-nats", size), &size, |b, _| {
            b.iter(|| {
                rt.block_on(async {
                    for _ in 0..PUBLISH_COUNT {
                        official
                            .publish("bench.publish", payload.clone())
                            .await
                            .unwrap();
                    }
                    official.flush().await.unwrap();
                })
            })
        });
    }
    group.finish();
}

fn pubsub(c: &mut Criterion) {
    let server = NatsServer::start();
    let rt = runtime();
    let payload = Bytes::from(vec![b'x'; 128]);
    let lost_gnat = Arc::new(AtomicU64::new(0));
    let lost_official = Arc::new(AtomicU64::new(0));

    let mut group = c.benchmark_group("pubsub");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(PUBSUB_COUNT));
    for conns in [1usize, 2] {
        let name = if conns == 1 {
            "one_connection"
        } else {
            "two_connections"
        };
        {
            let publisher = rt.block_on(client::connect(server.url())).unwrap();
            let subscriber = if conns == 1 {
                publisher.clone()
            } else {
                rt.block_on(client::connect(server.url())).unwrap()
            };
            let lost = lost_gnat.clone();
            group.bench_function(BenchmarkId::new("gnat", name), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let mut sub = subscriber.subscribe("bench.pubsub").await.unwrap();
                            subscriber.flush().await.unwrap();
                            let start = Instant::now();
                            let rx = tokio::spawn(async move {
                                let got = common::receive(&mut sub, PUBSUB_COUNT).await;
                                (got, Instant::now())
                            });
                            for _ in 0..PUBSUB_COUNT {
                                publisher
                                    .publish("bench.pubsub", payload.clone())
                                    .await
                                    .unwrap();
                            }
                            publisher.flush().await.unwrap();
                            let (got, end) = rx.await.unwrap();
                            lost.fetch_add(PUBSUB_COUNT - got, Ordering::Relaxed);
                            total += end - start;
                        }
                        total
                    })
                })
            });
        }
        {
            let publisher = rt.block_on(async_nats::connect(server.url())).unwrap();
            let subscriber = if conns == 1 {
                publisher.clone()
            } else {
                rt.block_on(async_nats::connect(server.url())).unwrap()
            };
            let lost = lost_official.clone();
            group.bench_function(BenchmarkId::new("async-nats", name), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let mut sub = subscriber.subscribe("bench.pubsub").await.unwrap();
                            subscriber.flush().await.unwrap();
                            let start = Instant::now();
                            let rx = tokio::spawn(async move {
                                let got = common::receive(&mut sub, PUBSUB_COUNT).await;
                                (got, Instant::now())
                            });
                            for _ in 0..PUBSUB_COUNT {
                                publisher
                                    .publish("bench.pubsub", payload.clone())
                                    .await
                                    .unwrap();
                            }
                            publisher.flush().await.unwrap();
                            let (got, end) = rx.await.unwrap();
                            lost.fetch_add(PUBSUB_COUNT - got, Ordering::Relaxed);
                            total += end - start;
                        }
                        total
                    })
                })
            });
        }
        eprintln!(
            "pubsub {name}: messages lost in all iterations: gnat {}, async-nats {}",
            lost_gnat.swap(0, Ordering::Relaxed),
            lost_official.swap(0, Ordering::Relaxed)
        );
    }
    group.finish();
}

fn request_in_flight(c: &mut Criterion) {
    const IN_FLIGHT: u64 = 64;
    let server = NatsServer::start();
    let rt = runtime();
    let _responder = rt.block_on(spawn_gnat_responder(&server.url(), "bench.echo"));
    let gnat = rt.block_on(client::connect(server.url())).unwrap();
    let official = rt.block_on(async_nats::connect(server.url())).unwrap();

    let mut group = c.benchmark_group("request_64_in_flight");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    group.bench_function("gnat", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let per_task = iters.div_ceil(IN_FLIGHT);
                let start = Instant::now();
                let tasks: Vec<_> = (0..IN_FLIGHT)
                    .map(|_| {
                        let client = gnat.clone();
                        tokio::spawn(async move {
                            for _ in 0..per_task {
                                client.request("bench.echo", "ping").await.unwrap();
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per_task * IN_FLIGHT) as f64)
            })
        })
    });
    group.bench_function("async-nats", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let per_task = iters.div_ceil(IN_FLIGHT);
                let start = Instant::now();
                let tasks: Vec<_> = (0..IN_FLIGHT)
                    .map(|_| {
                        let client = official.clone();
                        tokio::spawn(async move {
                            for _ in 0..per_task {
                                client.request("bench.echo", "ping".into()).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per_task * IN_FLIGHT) as f64)
            })
        })
    });
    group.finish();
}

criterion_group!(benches, publish, pubsub, request_in_flight);
criterion_main!(benches);
