//! Object Store put and get, gnat-object against async-nats 0.51, same server, same run.
//!
//! `cargo bench -p gnat-benches --bench object` (the harness finds or installs nats-server
//! and starts a private JetStream server on a free port). Set `GNAT_BENCH_OBJECT_GIB=1` to
//! add the 1 GiB rows (about ten minutes more on two cores).
//!
//! Each client has its own bucket with the same configuration (file storage, one replica).
//! Both write from and read into the same shapes: a put reads the object from an in-memory
//! `AsyncRead`, a get copies the object's `AsyncRead` into `tokio::io::sink()`. Every
//! iteration overwrites (or reads) the same object name. Throughput is in bytes.
//!
//! After each benchmark it prints the CPU time per MiB of this process and of the server
//! during the timed parts, to tell client cost from server cost on a machine whose cores
//! they share.

use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

// Not every helper is used here.
#[allow(dead_code)]
mod common;
mod cpu;

use common::runtime;
use cpu::CpuMeter;
use gnat_test_support::NatsServer;

struct Setup {
    /// Kept to keep the server running for as long as the setup lives.
    _server: NatsServer,
    rt: tokio::runtime::Runtime,
    gnat: object::ObjectStore,
    official: async_nats::jetstream::object_store::ObjectStore,
    cpu: CpuMeter,
}

impl Setup {
    fn new() -> Self {
        let server = NatsServer::start_jetstream();
        let rt = runtime();
        let url = server.url();
        let (gnat, official) = rt.block_on(async {
            let js = jetstream::connect(&url).await.expect("gnat connects");
            let gnat = object::create_bucket(&js, object::Config::new("gnat_objects"))
                .await
                .expect("gnat bucket");
            let client = async_nats::connect(&url)
                .await
                .expect("async-nats connects");
            let ajs = async_nats::jetstream::new(client);
            let official = ajs
                .create_object_store(async_nats::jetstream::object_store::Config {
                    bucket: "official_objects".to_string(),
                    ..Default::default()
                })
                .await
                .expect("async-nats bucket");
            (gnat, official)
        });
        Setup {
            rt,
            gnat,
            official,
            cpu: CpuMeter::new(server.pid()),
            _server: server,
        }
    }

    fn report(&self, name: &str) {
        self.cpu.report(name, "MiB");
    }
}

fn label(size: usize) -> String {
    if size >= 1 << 30 {
        format!("{}GiB", size >> 30)
    } else {
        format!("{}MiB", size >> 20)
    }
}

fn bench_size(c: &mut Criterion, s: &Setup, size: usize) {
    let data = gnat_benches::payload(size);
    let mib = (size >> 20).max(1) as u64;
    let name = format!("obj-{}", label(size));
    // Both objects exist before the gets are timed.
    s.rt.block_on(async {
        s.gnat.put(name.as_str(), &data[..]).await.unwrap();
        s.official.put(name.as_str(), &mut &data[..]).await.unwrap();
    });

    let mut g = c.benchmark_group("object_put");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_millis(200));
    g.measurement_time(Duration::from_secs(if size >= 1 << 30 { 60 } else { 4 }));
    g.throughput(Throughput::Bytes(size as u64));
    g.bench_function(BenchmarkId::new("gnat", label(size)), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += s.rt.block_on(s.cpu.measure(mib, async {
                    let info = s.gnat.put(name.as_str(), &data[..]).await.unwrap();
                    assert_eq!(info.size, size as u64);
                }));
            }
            total
        })
    });
    s.report(&format!("object_put/gnat/{}", label(size)));
    g.bench_function(BenchmarkId::new("async-nats", label(size)), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += s.rt.block_on(s.cpu.measure(mib, async {
                    let info = s.official.put(name.as_str(), &mut &data[..]).await.unwrap();
                    assert_eq!(info.size, size);
                }));
            }
            total
        })
    });
    s.report(&format!("object_put/async-nats/{}", label(size)));
    g.finish();

    let mut g = c.benchmark_group("object_get");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_millis(200));
    g.measurement_time(Duration::from_secs(if size >= 1 << 30 { 60 } else { 4 }));
    g.throughput(Throughput::Bytes(size as u64));
    g.bench_function(BenchmarkId::new("gnat", label(size)), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += s.rt.block_on(s.cpu.measure(mib, async {
                    let mut reader = s.gnat.get(&name).await.unwrap();
                    let n = tokio::io::copy(&mut reader, &mut tokio::io::sink())
                        .await
                        .unwrap();
                    assert_eq!(n, size as u64);
                }));
            }
            total
        })
    });
    s.report(&format!("object_get/gnat/{}", label(size)));
    g.bench_function(BenchmarkId::new("async-nats", label(size)), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += s.rt.block_on(s.cpu.measure(mib, async {
                    let mut reader = s.official.get(&name).await.unwrap();
                    let n = tokio::io::copy(&mut reader, &mut tokio::io::sink())
                        .await
                        .unwrap();
                    assert_eq!(n, size as u64);
                }));
            }
            total
        })
    });
    s.report(&format!("object_get/async-nats/{}", label(size)));
    g.finish();
}

fn benches(c: &mut Criterion) {
    let s = Setup::new();
    bench_size(c, &s, 1 << 20);
    bench_size(c, &s, 64 << 20);
    if std::env::var_os("GNAT_BENCH_OBJECT_GIB").is_some() {
        bench_size(c, &s, 1 << 30);
    }
}

criterion_group!(object_benches, benches);
criterion_main!(object_benches);
