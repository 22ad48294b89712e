//! JetStream publish, gnat-jetstream against async-nats, same server, same run, same stream.
//!
//! `cargo bench -p gnat-benches --bench jetstream` (the test harness finds or installs
//! nats-server and starts a private JetStream server on a free port).
//!
//! Shapes (issue: the JetStream performance section), 128 B payloads to one FILE-storage
//! stream:
//! * `js_publish_sequential/<client>`: 20,000 publishes per iteration, each awaiting its ack
//!   before the next.
//! * `js_publish_pipelined/<client>`: 200,000 publishes per iteration with up to 256 acks
//!   outstanding. gnat uses `Context::publisher(256)` and `Publisher::send`; async-nats keeps its `PublishAckFuture`s
//!   in a queue and awaits the oldest when 256 are outstanding. Every ack is checked.
//!   `gnat-fast-ingest` sends the same 200,000 messages as one fast-ingest batch (ADR-50,
//!   nats-server 2.14: acks every up to 500 messages as the server's flow control allows,
//!   2 outstanding); the batch's ack is checked for the full count and no gaps.
//!
//! Both clients publish to the same stream, purged before every iteration (outside the
//! timing), so each iteration starts from an empty stream with the same configuration.
//!
//! After each benchmark it prints the CPU time per message of the client process and of the
//! server during the timed parts (`/proc/<pid>/task/*/schedstat`): with two cores shared by
//! client and server, the pipelined figure is decided by how much server time each message
//! costs, so throughput alone hides the client's own cost. Iterations take seconds, so
//! criterion warns that 10 samples do not fit in 5 s; the whole bench takes about 2 minutes.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

// Only `runtime()` is used here.
#[allow(dead_code)]
mod common;
mod cpu;

use common::runtime;
use cpu::CpuMeter;
use gnat_test_support::NatsServer;
use jetstream::{FastOptions, PurgeRequest, StorageType, StreamConfig};

const STREAM: &str = "BENCH";
const SUBJECT: &str = "bench.js.orders";
const PAYLOAD_SIZE: usize = 128;
const SEQUENTIAL_COUNT: u64 = 20_000;
const PIPELINED_COUNT: u64 = 200_000;
const WINDOW: usize = 256;
/// The most messages per flow ack the fast-ingest batch allows the server (ADR-50).
const FAST_FLOW: u16 = 500;

/// The shared setup: a JetStream server, one connection per client, and the stream.
struct Setup {
    /// Kept to keep the server running for as long as the setup lives.
    _server: NatsServer,
    rt: tokio::runtime::Runtime,
    gnat: jetstream::Context,
    official: async_nats::jetstream::Context,
    payload: Bytes,
    cpu: CpuMeter,
}

impl Setup {
    fn new() -> Self {
        let server = NatsServer::start_jetstream();
        let rt = runtime();
        let (gnat, official) = rt.block_on(async {
            let gnat = jetstream::connect(server.url()).await.unwrap();
            gnat.create_stream(
                StreamConfig::new(STREAM)
                    .subjects(["bench.js.>"])
                    .storage(StorageType::File)
                    .allow_batched(true),
            )
            .await
            .unwrap();
            let official =
                async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());
            (gnat, official)
        });
        Setup {
            rt,
            gnat,
            official,
            payload: Bytes::from(gnat_benches::payload(PAYLOAD_SIZE)),
            cpu: CpuMeter::new(server.pid()),
            _server: server,
        }
    }

    /// Runs `iters` iterations of `body`, each on a freshly purged stream, timing only `body`.
    fn timed<F, Fut>(&self, iters: u64, messages: u64, mut body: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            total += self.rt.block_on(async {
                self.gnat
                    .purge_stream(STREAM, PurgeRequest::new())
                    .await
                    .unwrap();
                self.cpu.measure(messages, body()).await
            });
        }
        total
    }

    /// Checks that the stream holds what the last iteration published, if one ran, and
    /// prints the CPU figures.
    fn check(&self, name: &str, expected: u64) {
        if !self.cpu.report(name, "message") {
            return;
        }
        let info = self.rt.block_on(self.gnat.stream_info(STREAM)).unwrap();
        assert_eq!(info.state.messages, expected, "stream message count");
    }
}

fn sequential(c: &mut Criterion, setup: &Setup) {
    let mut group = c.benchmark_group("js_publish_sequential");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(SEQUENTIAL_COUNT));
    let Setup {
        gnat,
        official,
        payload,
        ..
    } = setup;
    group.bench_function(BenchmarkId::new("gnat", PAYLOAD_SIZE), |b| {
        b.iter_custom(|iters| {
            setup.timed(iters, SEQUENTIAL_COUNT, || async {
                for _ in 0..SEQUENTIAL_COUNT {
                    gnat.publish(SUBJECT, payload.clone()).await.unwrap();
                }
            })
        })
    });
    setup.check("js_publish_sequential/gnat", SEQUENTIAL_COUNT);
    group.bench_function(BenchmarkId::new("async-nats", PAYLOAD_SIZE), |b| {
        b.iter_custom(|iters| {
            setup.timed(iters, SEQUENTIAL_COUNT, || async {
                for _ in 0..SEQUENTIAL_COUNT {
                    official
                        .publish(SUBJECT, payload.clone())
                        .await
                        .unwrap()
                        .await
                        .unwrap();
                }
            })
        })
    });
    setup.check("js_publish_sequential/async-nats", SEQUENTIAL_COUNT);
    group.finish();
}

fn pipelined(c: &mut Criterion, setup: &Setup) {
    let mut group = c.benchmark_group("js_publish_pipelined");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(PIPELINED_COUNT));
    let Setup {
        gnat,
        official,
        payload,
        ..
    } = setup;
    group.bench_function(BenchmarkId::new("gnat", PAYLOAD_SIZE), |b| {
        b.iter_custom(|iters| {
            setup.timed(iters, PIPELINED_COUNT, || async {
                let mut publisher = gnat.publisher(WINDOW).await.unwrap();
                // Untracked sends: every ack is checked, successes are only counted and
                // failures kept for `finish`, so nothing piles up.
                for _ in 0..PIPELINED_COUNT {
                    publisher.send(SUBJECT, payload.clone()).await.unwrap();
                }
                assert_eq!(publisher.finish().await.unwrap(), PIPELINED_COUNT);
            })
        })
    });
    setup.check("js_publish_pipelined/gnat", PIPELINED_COUNT);
    group.bench_function(BenchmarkId::new("gnat-fast-ingest", PAYLOAD_SIZE), |b| {
        b.iter_custom(|iters| {
            setup.timed(iters, PIPELINED_COUNT, || async {
                let mut batch = gnat
                    .fast_publisher(FastOptions::new().flow(FAST_FLOW))
                    .await
                    .unwrap();
                for _ in 1..PIPELINED_COUNT {
                    batch.add(SUBJECT, payload.clone()).await.unwrap();
                }
                let done = batch.commit(SUBJECT, payload.clone()).await.unwrap();
                assert_eq!(done.ack.count, Some(PIPELINED_COUNT));
                assert!(done.reports.is_empty());
            })
        })
    });
    setup.check("js_publish_pipelined/gnat-fast-ingest", PIPELINED_COUNT);
    group.bench_function(BenchmarkId::new("async-nats", PAYLOAD_SIZE), |b| {
        b.iter_custom(|iters| {
            setup.timed(iters, PIPELINED_COUNT, || async {
                let mut in_flight = VecDeque::with_capacity(WINDOW);
                for _ in 0..PIPELINED_COUNT {
                    if in_flight.len() == WINDOW
                        && let Some(oldest) = in_flight.pop_front()
                    {
                        let ack: async_nats::jetstream::context::PublishAckFuture = oldest;
                        ack.await.unwrap();
                    }
                    in_flight.push_back(official.publish(SUBJECT, payload.clone()).await.unwrap());
                }
                for ack in in_flight {
                    ack.await.unwrap();
                }
            })
        })
    });
    setup.check("js_publish_pipelined/async-nats", PIPELINED_COUNT);
    group.finish();
}

fn jetstream_publish(c: &mut Criterion) {
    let setup = Setup::new();
    sequential(c, &setup);
    pipelined(c, &setup);
}

criterion_group!(benches, jetstream_publish);
criterion_main!(benches);
