//! Key-Value put and get, gnat-kv against async-nats, same server, same run.
//!
//! `cargo bench -p gnat-benches --bench kv` (the test harness finds or installs nats-server
//! and starts a private JetStream server on a free port).
//!
//! Each client has its own bucket with the same configuration (history 1, file storage,
//! direct get), holding the same 1,024 keys with 128 B values before anything is timed.
//! Shapes:
//! * `kv_put_sequential` / `kv_get_sequential`: 20,000 operations per iteration, each awaited
//!   before the next (keys cycle over the 1,024).
//! * `kv_put_64way` / `kv_get_64way`: 100,000 operations per iteration spread over 64 tasks,
//!   each task awaiting its own one at a time.
//! * `kv_get_100`: 100 keys per iteration: gnat's `get_many` (one request) against 100
//!   sequential gets of gnat and of async-nats.
//! * `kv_live_view_get`: 100,000 reads of a gnat `LiveView` of the bucket (no round trip;
//!   no async-nats equivalent).
//!
//! After each benchmark it prints the CPU time per operation of this process and of the
//! server during the timed parts (`/proc/<pid>/task/*/schedstat`), to tell client cost from
//! server cost on a machine whose cores they share. The whole bench takes about 3 minutes.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

// Not every helper is used here.
#[allow(dead_code)]
mod common;
mod cpu;

use async_nats::jetstream::kv as official_kv;
use common::runtime;
use cpu::CpuMeter;
use gnat_test_support::NatsServer;

const VALUE_SIZE: usize = 128;
const KEYS: usize = 1024;
const SEQUENTIAL_OPS: u64 = 20_000;
const PARALLEL_OPS: u64 = 100_000;
const TASKS: u64 = 64;
const MANY: usize = 100;
const LIVE_READS: u64 = 100_000;

struct Setup {
    /// Kept to keep the server running for as long as the setup lives.
    _server: NatsServer,
    rt: tokio::runtime::Runtime,
    gnat: kv::Store,
    official: official_kv::Store,
    value: Bytes,
    keys: Vec<String>,
    cpu: CpuMeter,
}

impl Setup {
    fn new() -> Self {
        let server = NatsServer::start_jetstream();
        let rt = runtime();
        let value = Bytes::from(gnat_benches::payload(VALUE_SIZE));
        let keys: Vec<String> = (0..KEYS).map(|i| format!("key.{i}")).collect();
        let (gnat, official) = rt.block_on(common::kv_buckets(&server.url(), &keys, &value));
        Setup {
            rt,
            gnat,
            official,
            value,
            keys,
            cpu: CpuMeter::new(server.pid()),
            _server: server,
        }
    }

    /// Runs `iters` iterations of `body`, timing only `body`, and accounts the CPU time of
    /// both processes.
    fn timed<F, Fut>(&self, iters: u64, ops: u64, mut body: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            total += self.rt.block_on(self.cpu.measure(ops, body()));
        }
        total
    }

    /// Prints the CPU time per operation since the last report, if a benchmark ran.
    fn report(&self, name: &str) {
        self.cpu.report(name, "op");
    }

    fn key(&self, i: u64) -> &str {
        &self.keys[(i % KEYS as u64) as usize]
    }
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
    elements: u64,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(elements));
    g
}

/// Ops for task `t` of [`TASKS`] sharing [`PARALLEL_OPS`], as a key index range start and
/// a count.
fn share(t: u64) -> (u64, u64) {
    let base = PARALLEL_OPS / TASKS;
    let extra = u64::from(t < PARALLEL_OPS % TASKS);
    (t * 1_000, base + extra)
}

fn sequential(c: &mut Criterion, s: &Setup) {
    let mut g = group(c, "kv_put_sequential", SEQUENTIAL_OPS);
    g.bench_function(BenchmarkId::new("gnat", VALUE_SIZE), |b| {
        b.iter_custom(|iters| {
            s.timed(iters, SEQUENTIAL_OPS, || async {
                for i in 0..SEQUENTIAL_OPS {
                    s.gnat.put(s.key(i), s.value.clone()).await.unwrap();
                }
            })
        })
    });
    s.report("kv_put_sequential/gnat");
    g.bench_function(BenchmarkId::new("async-nats", VALUE_SIZE), |b| {
        b.iter_custom(|iters| {
            s.timed(iters, SEQUENTIAL_OPS, || async {
                for i in 0..SEQUENTIAL_OPS {
                    s.official.put(s.key(i), s.value.clone()).await.unwrap();
                }
            })
        })
    });
    s.report("kv_put_sequential/async-nats");
    g.finish();

    let mut g = group(c, "kv_get_sequential", SEQUENTIAL_OPS);
    g.bench_function(BenchmarkId::new("gnat", VALUE_SIZE), |b| {
        b.iter_custom(|iters| {
            s.timed(iters, SEQUENTIAL_OPS, || async {
                for i in 0..SEQUENTIAL_OPS {
                    assert!(s.gnat.get(s.key(i)).await.unwrap().is_some());
                }
            })
        })
    });
    s.report("kv_get_sequential/gnat");
    g.bench_function(BenchmarkId::new("async-nats", VALUE_SIZE), |b| {
        b.iter_custom(|iters| {
            s.timed(iters, SEQUENTIAL_OPS, || async {
                for i in 0..SEQUENTIAL_OPS {
                    assert!(s.official.get(s.key(i)).await.unwrap().is_some());
                }
            })
        })
    });
    s.report("kv_get_sequential/async-nats");
    g.finish();
}

/// Runs `op(store, i)` for every `i` of each task's share, 64 tasks at once.
async fn fan_out<S, F, Fut>(store: &S, op: F)
where
    S: Clone + Send + 'static,
    F: Fn(S, u64) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let mut tasks = Vec::with_capacity(TASKS as usize);
    for t in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let (start, n) = share(t);
            for i in start..start + n {
                op(store.clone(), i).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn key_of(i: u64) -> String {
    format!("key.{}", i % KEYS as u64)
}

fn parallel(c: &mut Criterion, s: &Setup) {
    let mut g = group(c, "kv_put_64way", PARALLEL_OPS);
    let value = s.value.clone();
    g.bench_function(BenchmarkId::new("gnat", VALUE_SIZE), |b| {
        b.iter_custom(|iters| {
            s.timed(iters, PARALLEL_OPS, || {
                let value = value.clone();
                async move {
                    fan_out(&(s.gnat.clone(), value), |(kv, v), i| async move {
                        kv.put(&key_of(i), v).await.unwrap();
                    })
                    .await;
                }
            })
        })
    });
    s.report("kv_put_64way/gnat");
    g.bench_function(BenchmarkId::new("async-nats", VALUE_SIZE), |b| {
        b.iter_custom(|iters| {
            s.timed(iters, PARALLEL_OPS, || {
                let value = value.clone();
                async move {
                    fan_out(&(s.official.clone(), value), |(kv, v), i| async move {
                        kv.put(key_of(i), v).await.unwrap();
                    })
                    .await;
                }
            })
        })
    });
    s.report("kv_put_64way/async-nats");
    g.finish();

    let mut g = group(c, "kv_get_64way", PARALLEL_OPS);
    g.bench_function(BenchmarkId::new("gnat", VALUE_SIZE), |b| {
        b.iter_custom(|iters| {
            s.timed(iters, PARALLEL_OPS, || async {
                fan_out(&s.gnat, |kv, i| async move {
                    assert!(kv.get(&key_of(i)).await.unwrap().is_some());
                })
                .await;
            })
        })
    });
    s.report("kv_get_64way/gnat");
    g.bench_function(BenchmarkId::new("async-nats", VALUE_SIZE), |b| {
        b.iter_custom(|iters| {
            s.timed(iters, PARALLEL_OPS, || async {
                fan_out(&s.official, |kv, i| async move {
                    assert!(kv.get(key_of(i)).await.unwrap().is_some());
                })
                .await;
            })
        })
    });
    s.report("kv_get_64way/async-nats");
    g.finish();
}

fn many(c: &mut Criterion, s: &Setup) {
    let keys: Vec<&str> = (0..MANY as u64).map(|i| s.key(i * 7)).collect();
    let mut g = group(c, "kv_get_100", MANY as u64);
    g.bench_function("gnat/get_many", |b| {
        b.iter_custom(|iters| {
            s.timed(iters, MANY as u64, || async {
                let got = s.gnat.get_many(&keys).await.unwrap();
                assert!(got.iter().all(Option::is_some));
            })
        })
    });
    s.report("kv_get_100/gnat/get_many");
    g.bench_function("gnat/sequential", |b| {
        b.iter_custom(|iters| {
            s.timed(iters, MANY as u64, || async {
                for k in &keys {
                    assert!(s.gnat.get(k).await.unwrap().is_some());
                }
            })
        })
    });
    s.report("kv_get_100/gnat/sequential");
    g.bench_function("async-nats/sequential", |b| {
        b.iter_custom(|iters| {
            s.timed(iters, MANY as u64, || async {
                for k in &keys {
                    assert!(s.official.get(*k).await.unwrap().is_some());
                }
            })
        })
    });
    s.report("kv_get_100/async-nats/sequential");
    g.finish();

    let view = s.rt.block_on(async {
        let view = s.gnat.live_view_all().await.unwrap();
        view.ready().await.unwrap();
        view
    });
    assert_eq!(view.len(), KEYS);
    let mut g = group(c, "kv_live_view_get", LIVE_READS);
    g.bench_function("gnat", |b| {
        b.iter_custom(|iters| {
            s.timed(iters, LIVE_READS, || async {
                for i in 0..LIVE_READS {
                    assert!(view.get(s.key(i)).is_some());
                }
            })
        })
    });
    s.report("kv_live_view_get/gnat");
    g.finish();
}

fn kv_bench(c: &mut Criterion) {
    let setup = Setup::new();
    sequential(c, &setup);
    parallel(c, &setup);
    many(c, &setup);
}

criterion_group!(benches, kv_bench);
criterion_main!(benches);
