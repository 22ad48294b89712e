//! Client memory for a 1 GiB object: put from a reader that generates the bytes on the fly,
//! then get into a sink, and the growth of this process's resident set (VmHWM, the peak,
//! against VmRSS before) must stay under 32 MiB. The server is a separate process.
//!
//! Opt-in: `cargo test -p gnat-object --release --test memory -- --ignored --nocapture`.

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};

use common::{context, within};
use gnat_object::Config;
use gnat_test_support::NatsServer;
use tokio::io::{AsyncRead, ReadBuf};

const GIB: u64 = 1 << 30;
const LIMIT: u64 = 32 << 20;

/// `len` bytes of a pattern, generated as they are read.
struct Generated {
    len: u64,
    pos: u64,
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.len - self.pos) as usize;
        let start = self.pos;
        let bytes: Vec<u8> = (0..n as u64)
            .map(|i| ((start + i) * 31 % 251) as u8)
            .collect();
        buf.put_slice(&bytes);
        self.pos += n as u64;
        Poll::Ready(Ok(()))
    }
}

/// `VmRSS` or `VmHWM` of this process, in bytes.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .expect("field in /proc/self/status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "moves 1 GiB through a real server (about a minute, 2 GiB of disk): run with --ignored"]
async fn one_gib_put_and_get_in_bounded_memory() {
    let server = NatsServer::start_jetstream();
    let js = context(&server.url()).await;
    let store = gnat_object::create_bucket(&js, Config::new("memory"))
        .await
        .unwrap();
    // Warm up: one small object both ways, so the baseline includes the connection's buffers.
    store.put_bytes("warm", vec![1u8; 1 << 20]).await.unwrap();
    store.get_bytes("warm").await.unwrap();
    let before = status_kib("VmRSS:");

    let started = std::time::Instant::now();
    let info = within(
        "put 1 GiB",
        store.put("big", Generated { len: GIB, pos: 0 }),
    )
    .await
    .unwrap();
    let put_time = started.elapsed();
    assert_eq!(info.size, GIB);
    let after_put = status_kib("VmHWM:");

    let sampler = std::thread::spawn(|| {
        let mut out = Vec::new();
        for _ in 0..60 {
            out.push(status_kib("VmRSS:") >> 20);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        out
    });
    let started = std::time::Instant::now();
    let mut reader = store.get("big").await.unwrap();
    let copied = within(
        "get 1 GiB",
        tokio::io::copy(&mut reader, &mut tokio::io::sink()),
    )
    .await
    .unwrap();
    let get_time = started.elapsed();
    assert_eq!(copied, GIB);
    let peak = status_kib("VmHWM:");
    let samples = sampler.join().unwrap();
    println!(
        "RSS during the get, sampled every 100 ms: {} to {} MiB",
        samples.iter().min().unwrap_or(&0),
        samples.iter().max().unwrap_or(&0)
    );
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "1 GiB object: RSS before {:.1} MiB; peak after put {:.1} MiB (+{:.1}); peak after get \
         {:.1} MiB (+{:.1}); put {:.1} MB/s, get {:.1} MB/s",
        mib(before),
        mib(after_put),
        mib(after_put.saturating_sub(before)),
        mib(peak),
        mib(peak.saturating_sub(before)),
        GIB as f64 / 1e6 / put_time.as_secs_f64(),
        GIB as f64 / 1e6 / get_time.as_secs_f64(),
    );
    assert!(
        peak.saturating_sub(before) < LIMIT,
        "client RSS grew by {:.1} MiB (limit {:.0} MiB)",
        mib(peak.saturating_sub(before)),
        mib(LIMIT)
    );
}
