//! Scenario 1: the server is killed (SIGKILL) and started again — same port, same store —
//! three times (ten in the long variant) while 4 tasks publish to a JetStream stream, 4 tasks
//! put into a KV bucket, and a core publisher with a 4 KiB reconnect buffer publishes a
//! numbered sequence (one every millisecond) to a subscriber on another connection.
//!
//! What the test claims, exactly:
//!
//! * **Acknowledged means stored.** Every JetStream publish that returned an ack is in the
//!   stream at the acked sequence with its payload (`get_message`); every KV put that returned
//!   a revision is readable at that revision with its value (`entry_at`). Publishes and puts
//!   that failed (mostly requests caught by a kill, which time out) may or may not be stored:
//!   they are counted and reported.
//! * **Core publishes and the reconnect buffer.** Core NATS is at-most-once for bytes in
//!   flight on a socket that dies (the publisher counts them in `unconfirmed_bytes`; the
//!   subscriber's socket may lose what the server had written to it). What is promised:
//!   - a publish that returned `Ok` while the publisher was disconnected (state `Disconnected`
//!     read before the call, within one outage) is delivered after the reconnect. So that
//!     this does not depend on which client happens to reconnect first, the publisher reaches
//!     the server through a proxy that refuses it until the subscriber is back and a flush
//!     has confirmed its restored subscription;
//!   - a publish made in a steady phase (server up, both clients connected; the phase is the
//!     same before and after the call) is delivered — each outage begins with a flush barrier;
//!   - nothing is delivered twice, out of order, or that was not published `Ok`;
//!   - every publish refused with `ReconnectBufferFull` is counted in
//!     `statistics().reconnect_buffer_rejections`, and no publish fails any other way. Each
//!     outage lasts until the buffer overflowed at least once, so both outcomes occur.
//! * **Serving again within 1 s.** From the first TCP accept of the restarted server (a probe
//!   thread tries to connect every 2 ms) to the first successful operation of each client,
//!   each probe starting right after the kill: the subscriber's flush; a flush and then a
//!   stream info on the JetStream client; a flush and then a KV get on the KV client. For the
//!   gated publisher: from the moment the proxy lets it in to its first successful flush.
//!   Reconnect backoff: 10 ms doubling to 200 ms, 10 ms jitter.
//! * No task panics.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use client::{Backoff, ConnectOptions, ErrorKind, State};
use common::{DEADLINE, barrier, flush_until_ok, long_tests, until, within};
use gnat_test_support::NatsServer;
use gnat_test_support::proxy::Proxy;
use jetstream::{Context, StreamConfig};

/// How hard and how long a run pushes.
struct Plan {
    cycles: usize,
    /// Pause between two operations of one JetStream or KV task.
    pace: Duration,
    /// Acks (and core publishes) each kind must gain between two kills.
    progress: u64,
}

const QUICK: Plan = Plan {
    cycles: 3,
    pace: Duration::from_millis(4),
    progress: 40,
};

const LONG: Plan = Plan {
    cycles: 10,
    pace: Duration::from_millis(1),
    progress: 400,
};

const TASKS: usize = 4;
const STREAM: &str = "LOAD";
const RECONNECT_BUFFER: usize = 4096;
/// Core payloads: the sequence number, zero-padded to this many digits.
const CORE_PAYLOAD: usize = 40;
const SERVING_BUDGET: Duration = Duration::from_secs(1);

fn options() -> ConnectOptions {
    ConnectOptions::new()
        .reconnect_backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(200),
            jitter: Duration::from_millis(10),
        })
        .request_timeout(Duration::from_secs(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_under_load() {
    run(&QUICK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_under_load_long() {
    if !long_tests() {
        eprintln!("skipped: 10 kill/restart cycles at full rate run only with GNAT_LONG_TESTS=1");
        return;
    }
    run(&LONG).await;
}

/// A failure, in a few words that do not vary per call.
fn js_failure(e: &jetstream::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_no_responders() {
        "no responders".into()
    } else if let Some(kind) = e.client_kind() {
        format!("{kind:?}")
    } else {
        e.to_string()
    }
}

fn kv_failure(e: &kv::Error) -> String {
    match e.jetstream() {
        Some(js) => js_failure(js),
        None => format!("{:?}", e.kind()),
    }
}

/// What the load tasks of one kind acknowledged and what failed.
#[derive(Default)]
struct Tally {
    /// (sequence or revision, payload or key).
    acked: Vec<(u64, String)>,
    failures: BTreeMap<String, u64>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.acked.extend(other.acked);
        for (what, n) in other.failures {
            *self.failures.entry(what).or_default() += n;
        }
    }

    fn failed(&self) -> u64 {
        self.failures.values().sum()
    }
}

/// One core publish, as the publisher saw it.
struct Sent {
    n: u64,
    phase_before: u64,
    phase_after: u64,
    state_before: State,
    outcome: Result<(), ErrorKind>,
}

impl Sent {
    /// Within one phase, and that phase a steady one, or an outage with the publisher
    /// disconnected when it called: the test promises delivery.
    fn must_arrive(&self) -> bool {
        self.outcome.is_ok()
            && self.phase_before == self.phase_after
            && (self.phase_before.is_multiple_of(2) || self.state_before == State::Disconnected)
    }

    fn buffered(&self) -> bool {
        self.must_arrive() && !self.phase_before.is_multiple_of(2)
    }
}

/// The first instant `addr` accepts a TCP connection (tried every 2 ms from now).
fn first_accept(addr: SocketAddr) -> std::thread::JoinHandle<Instant> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Instant::now();
            }
            assert!(Instant::now() < deadline, "{addr} does not accept again");
            std::thread::sleep(Duration::from_millis(2));
        }
    })
}

/// When each client served again after one restart, from the server's first accept (the
/// publisher: from the proxy letting it in).
#[derive(Debug)]
struct Serving {
    subscriber: Duration,
    jetstream: Duration,
    kv: Duration,
    publisher: Duration,
}

impl Serving {
    fn max(&self) -> Duration {
        self.subscriber
            .max(self.jetstream)
            .max(self.kv)
            .max(self.publisher)
    }
}

async fn run(plan: &Plan) {
    let started = Instant::now();
    let mut server = NatsServer::start_jetstream();
    let addr = server.addr();
    let gate = Proxy::start(addr);

    let js = Context::new(options().name("js").connect(server.url()).await.unwrap());
    js.create_stream(StreamConfig::new(STREAM).subjects(["load.>"]))
        .await
        .unwrap();
    let kv_js = Context::new(options().name("kv").connect(server.url()).await.unwrap());
    let kv = kv::create_bucket(&kv_js, kv::Config::new(STREAM))
        .await
        .unwrap();
    let subscriber = options().name("sub").connect(server.url()).await.unwrap();
    let mut sub = subscriber.subscribe("core.seq").await.unwrap();
    subscriber.flush().await.unwrap();
    let publisher = options()
        .name("pub")
        .reconnect_buffer_size(RECONNECT_BUFFER)
        .connect(gate.url())
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicU64::new(0));
    let js_acks = Arc::new(AtomicU64::new(0));
    let kv_acks = Arc::new(AtomicU64::new(0));
    let core_sent = Arc::new(AtomicU64::new(0));

    let mut js_tasks = Vec::new();
    let mut kv_tasks = Vec::new();
    for t in 0..TASKS {
        let (js, halt, acks, pace) = (js.clone(), stop.clone(), js_acks.clone(), plan.pace);
        js_tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut i = 0u64;
            while !halt.load(SeqCst) {
                let id = format!("js.{t}.{i}");
                match js.publish(format!("load.{t}"), id.clone()).await {
                    Ok(ack) => {
                        tally.acked.push((ack.seq, id));
                        acks.fetch_add(1, SeqCst);
                    }
                    Err(e) => *tally.failures.entry(js_failure(&e)).or_default() += 1,
                }
                i += 1;
                tokio::time::sleep(pace).await;
            }
            tally
        }));
        let (kv, halt, acks, pace) = (kv.clone(), stop.clone(), kv_acks.clone(), plan.pace);
        kv_tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut i = 0u64;
            while !halt.load(SeqCst) {
                let key = format!("t{t}.k{i}");
                match kv.put(&key, key.clone()).await {
                    Ok(revision) => {
                        tally.acked.push((revision, key));
                        acks.fetch_add(1, SeqCst);
                    }
                    Err(e) => *tally.failures.entry(kv_failure(&e)).or_default() += 1,
                }
                i += 1;
                tokio::time::sleep(pace).await;
            }
            tally
        }));
    }
    let core_task = {
        let (publisher, stop, phase, count) = (
            publisher.clone(),
            stop.clone(),
            phase.clone(),
            core_sent.clone(),
        );
        tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut n = 0u64;
            while !stop.load(SeqCst) {
                n += 1;
                let phase_before = phase.load(SeqCst);
                let state_before = publisher.state();
                let outcome = publisher
                    .publish("core.seq", format!("{n:0CORE_PAYLOAD$}"))
                    .await
                    .map_err(|e| e.kind());
                let phase_after = phase.load(SeqCst);
                sent.push(Sent {
                    n,
                    phase_before,
                    phase_after,
                    state_before,
                    outcome,
                });
                count.fetch_add(1, SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            sent
        })
    };

    let progress = async |plan: &Plan| {
        let (j, k, c) = (
            js_acks.load(SeqCst),
            kv_acks.load(SeqCst),
            core_sent.load(SeqCst),
        );
        until("load progress between kills", || {
            js_acks.load(SeqCst) >= j + plan.progress
                && kv_acks.load(SeqCst) >= k + plan.progress
                && core_sent.load(SeqCst) >= c + plan.progress
        })
        .await;
    };

    let mut serving = Vec::new();
    for cycle in 1..=plan.cycles as u64 {
        progress(plan).await;
        // The outage begins: everything published so far reaches the subscriber first.
        phase.store(2 * cycle - 1, SeqCst);
        barrier(&publisher, &subscriber).await;
        gate.refuse_new(true);
        let rejected_before = publisher.statistics().reconnect_buffer_rejections;

        server.kill();
        let accept = first_accept(addr);
        let sub_probe = {
            let c = subscriber.clone();
            tokio::spawn(async move { flush_until_ok(&c).await })
        };
        let js_probe = {
            let js = js.clone();
            tokio::spawn(async move {
                flush_until_ok(js.client()).await;
                within("a stream info after the restart", async {
                    while js.stream_info(STREAM).await.is_err() {}
                })
                .await;
                Instant::now()
            })
        };
        let kv_probe = {
            let kv = kv.clone();
            tokio::spawn(async move {
                flush_until_ok(kv.context().client()).await;
                within("a KV get after the restart", async {
                    while kv.get("probe").await.is_err() {}
                })
                .await;
                Instant::now()
            })
        };
        server = tokio::task::spawn_blocking(move || {
            server.start_again();
            server
        })
        .await
        .unwrap();
        let accepted = tokio::task::spawn_blocking(move || accept.join().unwrap())
            .await
            .unwrap();
        let sub_back = sub_probe.await.unwrap();
        let js_back = js_probe.await.unwrap();
        let kv_back = kv_probe.await.unwrap();

        // The subscription is restored (its SUB went before the flush's PING). Let the
        // publisher in once its reconnect buffer has overflowed at least once.
        until("a reconnect buffer overflow", || {
            publisher.statistics().reconnect_buffer_rejections > rejected_before
        })
        .await;
        gate.refuse_new(false);
        let opened = Instant::now();
        let pub_back = flush_until_ok(&publisher).await;
        phase.store(2 * cycle, SeqCst);

        let figures = Serving {
            subscriber: sub_back.saturating_duration_since(accepted),
            jetstream: js_back.saturating_duration_since(accepted),
            kv: kv_back.saturating_duration_since(accepted),
            publisher: pub_back.saturating_duration_since(opened),
        };
        eprintln!("restart {cycle}: serving again after {figures:?}");
        serving.push(figures);
    }
    progress(plan).await;
    stop.store(true, SeqCst);

    let mut js_tally = Tally::default();
    for t in js_tasks {
        js_tally.merge(t.await.expect("a JetStream task panicked"));
    }
    let mut kv_tally = Tally::default();
    for t in kv_tasks {
        kv_tally.merge(t.await.expect("a KV task panicked"));
    }
    let sent = core_task.await.expect("the core publisher panicked");
    barrier(&publisher, &subscriber).await;
    let mut delivered = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::ZERO, sub.next()).await {
        let text = std::str::from_utf8(&msg.payload).expect("a UTF-8 payload");
        delivered.push(text.parse::<u64>().expect("a numbered payload"));
    }

    // Acknowledged means stored.
    let stored = js.stream_info(STREAM).await.unwrap().state.messages;
    check_stream(&js, &js_tally).await;
    let kv_stored = kv.status().await.unwrap().values();
    check_bucket(&kv, &kv_tally).await;

    // Core publishes.
    for pair in delivered.windows(2) {
        assert!(
            pair[0] < pair[1],
            "delivered out of order or twice: {} then {}",
            pair[0],
            pair[1]
        );
    }
    let published_ok: HashSet<u64> = sent
        .iter()
        .filter(|s| s.outcome.is_ok())
        .map(|s| s.n)
        .collect();
    let arrived: HashSet<u64> = delivered.iter().copied().collect();
    assert!(
        arrived.is_subset(&published_ok),
        "delivered something never published Ok"
    );
    let missing: Vec<u64> = sent
        .iter()
        .filter(|s| s.must_arrive() && !arrived.contains(&s.n))
        .map(|s| s.n)
        .collect();
    assert!(
        missing.is_empty(),
        "{} publishes that must arrive did not, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let stats = publisher.statistics();
    let rejected = sent
        .iter()
        .filter(|s| s.outcome == Err(ErrorKind::ReconnectBufferFull))
        .count() as u64;
    let other_errors: Vec<_> = sent
        .iter()
        .filter_map(|s| s.outcome.err())
        .filter(|k| *k != ErrorKind::ReconnectBufferFull)
        .collect();
    assert!(other_errors.is_empty(), "{other_errors:?}");
    assert_eq!(rejected, stats.reconnect_buffer_rejections);
    let buffered = sent.iter().filter(|s| s.buffered()).count();
    assert!(buffered > 0 && rejected >= plan.cycles as u64);
    let lost = published_ok.len() - arrived.len();

    // Serving again.
    let worst = serving.iter().map(Serving::max).max().unwrap_or_default();
    assert!(
        serving.iter().all(|s| s.max() <= SERVING_BUDGET),
        "a client served again only after {worst:?}: {serving:?}"
    );

    eprintln!(
        "{} kill/restart cycles in {:?}\n\
         JetStream: {} acked, all stored at their seq; {} failed {:?}; the stream holds {stored} \
         ({} unacked ones stored)\n\
         KV: {} puts acked, all readable at their revision; {} failed {:?}; the bucket holds \
         {kv_stored} ({} unacked ones stored)\n\
         core: {} published, {} Ok, {} delivered in order; {buffered} buffered while \
         disconnected, all delivered; {rejected} refused (buffer full) = counter; {lost} lost \
         in flight on a dying socket (publisher unconfirmed_bytes {})\n\
         serving again: worst {worst:?} (budget {SERVING_BUDGET:?})",
        plan.cycles,
        started.elapsed(),
        js_tally.acked.len(),
        js_tally.failed(),
        js_tally.failures,
        stored.saturating_sub(js_tally.acked.len() as u64),
        kv_tally.acked.len(),
        kv_tally.failed(),
        kv_tally.failures,
        kv_stored.saturating_sub(kv_tally.acked.len() as u64),
        sent.len(),
        published_ok.len(),
        delivered.len(),
        stats.unconfirmed_bytes,
    );
}

/// Runs `check` over `items` in 8 concurrent slices.
async fn in_parallel<T, F, Fut>(items: &[T], check: F)
where
    T: Clone + Send + 'static,
    F: Fn(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for slice in items.chunks(items.len().div_ceil(8).max(1)) {
        set.spawn(check(slice.to_vec()));
    }
    while let Some(done) = set.join_next().await {
        done.expect("a check panicked");
    }
}

async fn check_stream(js: &Context, tally: &Tally) {
    let seqs: HashSet<u64> = tally.acked.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs.len(), tally.acked.len(), "two acks with one sequence");
    in_parallel(&tally.acked, |slice| {
        let js = js.clone();
        async move {
            for (seq, id) in slice {
                let msg = within("a stored message", js.get_message(STREAM, seq))
                    .await
                    .unwrap_or_else(|e| panic!("acked seq {seq} ({id}) is not stored: {e}"));
                assert_eq!(msg.payload, id.as_bytes(), "seq {seq}");
            }
        }
    })
    .await;
}

async fn check_bucket(kv: &kv::Store, tally: &Tally) {
    in_parallel(&tally.acked, |slice| {
        let kv = kv.clone();
        async move {
            for (revision, key) in slice {
                let entry = within("an entry", kv.entry_at(&key, revision))
                    .await
                    .unwrap_or_else(|e| panic!("{key} at {revision}: {e}"))
                    .unwrap_or_else(|| panic!("acked put {key} at {revision} is not readable"));
                assert_eq!(entry.value, key.as_bytes());
            }
        }
    })
    .await;
}
