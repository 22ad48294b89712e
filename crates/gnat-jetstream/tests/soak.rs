//! Opt-in soak: a pull `consume`, a push consumer and an ordered consumer read a stream that
//! is written continuously, through connection cuts, stalls and server restarts, for
//! `GNAT_SOAK_SECS` seconds (default 600). Delivery accounting at the end: nothing acked by
//! the stream is missing on any consumer, the ordered consumer has no duplicate and no gap,
//! and the longest silence of each consumer is reported.
//!
//! Run: `GNAT_SOAK_SECS=600 cargo test -p gnat-jetstream --test soak -- --ignored --nocapture`

mod consumer_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use consumer_support::*;
use futures_util::StreamExt as _;
use gnat_jetstream::client::{Backoff, ConnectOptions};
use gnat_jetstream::{
    ConsumeOptions, ConsumerConfig, Context, ErrorKind, JsMessage, OrderedConfig, PublishOptions,
};
use gnat_test_support::proxy::Proxy;
use tokio::time::Instant;

const HB: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Tally {
    /// Stream sequence → deliveries.
    seen: BTreeMap<u64, u32>,
    /// Error kinds (as text) → count.
    errors: BTreeMap<String, u64>,
    longest_silence: Duration,
    last: Option<Instant>,
    ended: Option<String>,
    out_of_order: u64,
}

impl Tally {
    fn message(&mut self, seq: u64) {
        let now = Instant::now();
        if let Some(last) = self.last {
            self.longest_silence = self.longest_silence.max(now - last);
        }
        self.last = Some(now);
        if self.seen.keys().next_back().is_some_and(|&max| seq < max) {
            self.out_of_order += 1;
        }
        *self.seen.entry(seq).or_default() += 1;
    }

    fn error(&mut self, e: &gnat_jetstream::Error) {
        let key = match e.kind() {
            ErrorKind::Status => format!("status {:?}", e.status().map(|s| s.0)),
            k => format!("{k:?}"),
        };
        *self.errors.entry(key).or_default() += 1;
    }

    fn duplicates(&self) -> u64 {
        self.seen
            .values()
            .map(|n| u64::from(n.saturating_sub(1)))
            .sum()
    }
}

async fn drive<S>(mut stream: S, tally: Arc<Mutex<Tally>>, ack: bool, stop: Arc<AtomicBool>)
where
    S: futures_core::Stream<Item = gnat_jetstream::Result<JsMessage>> + Unpin,
{
    while !stop.load(Ordering::Relaxed) {
        let item = match tokio::time::timeout(Duration::from_millis(500), stream.next()).await {
            Ok(item) => item,
            Err(_) => continue,
        };
        match item {
            Some(Ok(m)) => {
                let seq = sseq(&m);
                if ack {
                    let _ = m.ack().await;
                }
                tally.lock().unwrap().message(seq);
            }
            Some(Err(e)) => tally.lock().unwrap().error(&e),
            None => {
                tally.lock().unwrap().ended = Some("stream ended".into());
                return;
            }
        }
    }
}

async fn proxied(proxy: &Proxy) -> Context {
    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(5))
        .reconnect_backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(250),
            jitter: Duration::from_millis(20),
        })
        .connect(proxy.url())
        .await
        .expect("connect");
    Context::new(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 10-minute soak (GNAT_SOAK_SECS); run explicitly with --ignored"]
async fn soak_consumers_through_cuts_stalls_and_restarts() {
    let secs: u64 = std::env::var("GNAT_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let (mut server, admin) = setup().await;
    create_stream(&admin, "S", &["s.>"]).await;
    let proxy = Proxy::start(server.addr());
    let js = proxied(&proxy).await;

    let stop = Arc::new(AtomicBool::new(false));
    let stop_publisher = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let publish_retries = Arc::new(AtomicU64::new(0));
    let publisher = {
        let (admin, stop, acked, retries) = (
            admin.clone(),
            stop_publisher.clone(),
            acked.clone(),
            publish_retries.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                loop {
                    let options = PublishOptions::new()
                        .payload(i.to_string())
                        .msg_id(format!("m{i}"));
                    match admin.publish_with(format!("s.{}", i % 7), options).await {
                        Ok(ack) => {
                            acked.lock().unwrap().insert(ack.seq);
                            break;
                        }
                        Err(_) => {
                            retries.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let pull = js
        .create_pull_consumer(
            "S",
            ConsumerConfig::durable("PULL").ack_wait(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    let push = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("PUSH")
                .deliver_subject(js.client().new_inbox())
                .idle_heartbeat(HB)
                .flow_control(true)
                .ack_wait(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    let tallies: Vec<Arc<Mutex<Tally>>> = (0..3).map(|_| Arc::default()).collect();
    let tasks = vec![
        tokio::spawn(drive(
            pull.consume(
                ConsumeOptions::new()
                    .max_messages(100)
                    .idle_heartbeat(HB)
                    .expires(HB * 5),
            )
            .await
            .unwrap(),
            tallies[0].clone(),
            true,
            stop.clone(),
        )),
        tokio::spawn(drive(
            push.messages().await.unwrap(),
            tallies[1].clone(),
            true,
            stop.clone(),
        )),
        tokio::spawn(drive(
            js.ordered_consumer("S", OrderedConfig::new().idle_heartbeat(HB))
                .await
                .unwrap(),
            tallies[2].clone(),
            false,
            stop.clone(),
        )),
    ];

    let started = Instant::now();
    let mut faults: BTreeMap<&str, u32> = BTreeMap::new();
    let mut round = 0u32;
    while started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(20)).await;
        round += 1;
        match round % 3 {
            0 => {
                proxy.cut();
                *faults.entry("connection cut").or_default() += 1;
            }
            1 => {
                proxy.stall();
                tokio::time::sleep(HB * 3).await;
                proxy.resume();
                *faults.entry("connection stalled 3 HB").or_default() += 1;
            }
            _ => {
                tokio::task::block_in_place(|| server.restart());
                proxy.set_upstream(server.addr());
                *faults.entry("server restart").or_default() += 1;
            }
        }
    }
    stop_publisher.store(true, Ordering::Relaxed);
    publisher.await.unwrap();
    let want: BTreeSet<u64> = acked.lock().unwrap().clone();
    // Let the consumers catch up with everything that was acked.
    let caught_up = Instant::now() + Duration::from_secs(60);
    while Instant::now() < caught_up
        && tallies
            .iter()
            .any(|t| want.iter().any(|s| !t.lock().unwrap().seen.contains_key(s)))
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    eprintln!(
        "soak: {secs} s, {} messages acked by the stream, {} publish retries, faults {faults:?}",
        want.len(),
        publish_retries.load(Ordering::Relaxed)
    );
    for (name, t) in ["pull consume", "push", "ordered"].iter().zip(&tallies) {
        let t = t.lock().unwrap();
        let missing: Vec<u64> = want
            .iter()
            .filter(|s| !t.seen.contains_key(s))
            .copied()
            .collect();
        eprintln!(
            "soak {name}: delivered {} distinct, {} duplicates, {} out of order, longest \
             silence {:?}, errors {:?}, ended {:?}, missing {}",
            t.seen.len(),
            t.duplicates(),
            t.out_of_order,
            t.longest_silence,
            t.errors,
            t.ended,
            missing.len()
        );
        assert!(
            missing.is_empty(),
            "{name}: missing {:?}",
            &missing[..missing.len().min(20)]
        );
        assert!(t.ended.is_none(), "{name} ended");
    }
    let ordered = tallies[2].lock().unwrap();
    assert_eq!(ordered.duplicates(), 0, "ordered: duplicates");
    assert_eq!(ordered.out_of_order, 0, "ordered: out of order");
}
