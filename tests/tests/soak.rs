//! Scenario 10: soak. For `GNAT_SOAK_SECS` (default 600) the libraries run a `gnat bench`-style
//! mixed load against one JetStream server (file store) that is restarted every
//! `GNAT_SOAK_RESTART_SECS` (default 60) on the same port and store — gracefully (SIGTERM) and
//! by SIGKILL in turn. Long, so opt-in: it runs only with `GNAT_SOAK=1`, never in CI:
//!
//! ```text
//! GNAT_SOAK=1 cargo test --release -p gnat-e2e --test soak -- --nocapture
//! GNAT_SOAK=1 GNAT_SOAK_SECS=90 GNAT_SOAK_RESTART_SECS=20 cargo test --release … # short form
//! ```
//!
//! The load runs in this process, so the RSS measured is the client libraries' (plus the
//! test's fixed bookkeeping). Every load kind has its own connection:
//!
//! * core: 2,000 publishes/s of 128 bytes to a subscriber on another connection;
//! * request/reply: 200 requests/s to a responder on another connection;
//! * JetStream: 2 tasks publish with acks, up to 100/s each;
//! * KV: 2 tasks put, up to 50/s each, over a fixed key set sized so that no key outgrows its
//!   history of 64 (every acked revision stays readable); one task gets 50 keys/s; a watcher
//!   and a live view of the whole bucket follow along (on the KV connection).
//!
//! Every client: reconnect backoff 10 ms doubling to 250 ms, a 64 KiB reconnect buffer, a
//! 256 KiB write buffer and a 2 s request timeout. Failed operations (expected around the
//! restarts) are counted by kind, never fatal.
//!
//! What it claims:
//!
//! * **No leak.** VmRSS at the end of the load is at most 1.10 × VmRSS after the first minute.
//!   "After the first minute" includes the restart that ends it: the baseline is taken once
//!   every client has reconnected from that first restart and a flush went through, so that
//!   what a first reconnect touches once (its code and library pages, the reconnect buffers,
//!   the allocator arenas of the threads it wakes) is in the baseline rather than counted as
//!   growth. The RSS just before that restart is reported too. (In runs shorter than 2
//!   minutes the baseline is taken at half time, after the restarts before it.) Acks are
//!   recorded to files in the server's temporary directory, not in memory, so the test's
//!   bookkeeping does not grow the process; what it keeps in memory (the watcher's map, the
//!   live view, counters) is bounded by the key set, which is full before the baseline.
//!
//!   Beside RSS, the process's allocator is wrapped to count live heap bytes
//!   (`stats_alloc`): the summary prints the heap next to RSS, which tells a leak (the heap
//!   grows) from allocator fragmentation (RSS grows, the heap does not).
//! * **No acked write lost.** After the load stopped and every client flushed: every acked
//!   JetStream publish is in the stream at its sequence with its payload, and every acked KV
//!   put is readable at its revision (`entry_at`) with its value.
//! * **Watchers keep up.** The watcher never ends, sees revisions strictly increasing and, once
//!   live, without a gap (the bucket only ever gets puts, so its sequences are contiguous);
//!   at the end the watcher's and the live view's entry of every key equal the server's.
//!
//! The summary (duration, restarts, operations and errors per kind, reconnects, unconfirmed
//! bytes, RSS, verification counts) goes to stderr: run with `--nocapture`.

mod common;

use std::alloc::System;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::{Backoff, Bytes, Client, ConnectOptions, Request};
use common::{DEADLINE, eventually, flush_until_ok, mib, proc_status_bytes, within};
use gnat_test_support::NatsServer;
use jetstream::{Context, StorageType, StreamConfig};
use kv::WatchEvent;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// Counts what the process allocates, for the live heap figure.
#[global_allocator]
static HEAP: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes currently allocated on the heap.
fn live_heap() -> u64 {
    // `realloc` is already accounted in these two (`bytes_reallocated` repeats it).
    let s = HEAP.stats();
    s.bytes_allocated.saturating_sub(s.bytes_deallocated) as u64
}

const STREAM: &str = "SOAK";
const BUCKET: &str = "soak";
const CORE_SUBJECT: &str = "soak.core";
const REQ_SUBJECT: &str = "soak.req";

/// Core publishes per tick, one tick every [`CORE_TICK`]: 2,000 msg/s.
const CORE_BATCH: usize = 20;
const CORE_TICK: Duration = Duration::from_millis(10);
const CORE_SIZE: usize = 128;
static CORE_PAYLOAD: [u8; CORE_SIZE] = [b'c'; CORE_SIZE];
const REQ_TICK: Duration = Duration::from_millis(5);
const REQ_TIMEOUT: Duration = Duration::from_secs(1);
const JS_TASKS: usize = 2;
const JS_TICK: Duration = Duration::from_millis(10);
const JS_SIZE: usize = 128;
const KV_PUT_TASKS: usize = 2;
const KV_PUT_TICK: Duration = Duration::from_millis(20);
const KV_GET_TICK: Duration = Duration::from_millis(20);
const KV_SIZE: usize = 64;
const KV_HISTORY: u32 = 64;
/// Puts per key over the whole run, at most (half the history, for margin).
const KV_REVISIONS_PER_KEY: u64 = KV_HISTORY as u64 / 2;
const KV_MIN_KEYS: u64 = 256;

const RECONNECT_BUFFER: usize = 64 * 1024;
const WRITE_BUFFER: usize = 256 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
const RSS_EVERY: Duration = Duration::from_secs(2);
/// End RSS may exceed the first minute's by this factor at most.
const RSS_SLACK: f64 = 1.10;
/// How long the watcher and the live view may take to catch up after the load stops.
const CATCH_UP: Duration = Duration::from_secs(60);

/// The run's shape, from the environment.
struct Settings {
    duration: Duration,
    restart_every: Duration,
    /// When the baseline RSS is taken.
    baseline_at: Duration,
    /// Distinct KV keys.
    keys: u64,
}

fn env_secs(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .ok()
            .filter(|&s| s > 0)
            .unwrap_or_else(|| panic!("{name}={v:?}: expected a whole number of seconds > 0")),
        _ => default,
    }
}

/// `None` unless `GNAT_SOAK=1`.
fn settings() -> Option<Settings> {
    if !std::env::var("GNAT_SOAK").is_ok_and(|v| v == "1") {
        return None;
    }
    let secs = env_secs("GNAT_SOAK_SECS", 600);
    let restart = env_secs("GNAT_SOAK_RESTART_SECS", 60);
    let baseline = if secs >= 120 {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(secs) / 2
    };
    // At most this many puts in the run: both tasks at full rate.
    let max_puts = secs * KV_PUT_TASKS as u64 * 1000 / KV_PUT_TICK.as_millis() as u64;
    Some(Settings {
        duration: Duration::from_secs(secs),
        restart_every: Duration::from_secs(restart),
        baseline_at: baseline,
        keys: max_puts.div_ceil(KV_REVISIONS_PER_KEY).max(KV_MIN_KEYS),
    })
}

fn options(name: &str) -> ConnectOptions {
    ConnectOptions::new()
        .name(name)
        .reconnect_backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(250),
            jitter: Duration::from_millis(10),
        })
        .reconnect_buffer_size(RECONNECT_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .request_timeout(REQUEST_TIMEOUT)
}

fn ticker(period: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

fn js_payload(t: usize, i: u64) -> String {
    format!("{:x<JS_SIZE$}", format!("js.{t}.{i}."))
}

fn kv_key(idx: u64) -> String {
    format!("k{idx:05}")
}

fn kv_value(t: usize, i: u64) -> String {
    format!("{:v<KV_SIZE$}", format!("kv.{t}.{i}."))
}

fn js_failure(e: &jetstream::Error) -> String {
    if e.is_timeout() {
        "Timeout".into()
    } else if e.is_no_responders() {
        "NoResponders".into()
    } else if let Some(kind) = e.client_kind() {
        format!("{kind:?}")
    } else if let Some(code) = e.err_code() {
        format!("{:?} {code}", e.kind())
    } else {
        format!("{:?}", e.kind())
    }
}

fn kv_failure(e: &kv::Error) -> String {
    match e.jetstream() {
        Some(js) => js_failure(js),
        None => format!("{:?}", e.kind()),
    }
}

/// Operations done, by kind.
#[derive(Default)]
struct Counts {
    core_sent: AtomicU64,
    core_received: AtomicU64,
    replies: AtomicU64,
    responded: AtomicU64,
    js_acked: AtomicU64,
    kv_puts: AtomicU64,
    kv_gets: AtomicU64,
    kv_get_missing: AtomicU64,
    watch_entries: AtomicU64,
    watch_gaps: AtomicU64,
    watch_regressions: AtomicU64,
    view_changes: AtomicU64,
}

/// What the load tasks share.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    counts: Counts,
    /// Failures by "operation: kind" (a few dozen distinct keys at most).
    errors: Mutex<BTreeMap<String, u64>>,
    /// The watcher's latest (revision, value) per key; bounded by the key set.
    watched: Mutex<HashMap<String, (u64, Vec<u8>)>>,
    watch_highest: AtomicU64,
    watch_live: AtomicBool,
    watch_ended: AtomicBool,
}

impl Shared {
    fn fail(&self, op: &str, what: String) {
        *self
            .errors
            .lock()
            .unwrap()
            .entry(format!("{op}: {what}"))
            .or_default() += 1;
    }

    fn stopped(&self) -> bool {
        self.stop.load(Relaxed)
    }
}

fn count(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

fn rss() -> u64 {
    proc_status_bytes("VmRSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_mixed_load_with_restarts() {
    let Some(settings) = settings() else {
        eprintln!(
            "skipped: the soak (10 minutes of mixed load, a server restart every minute) runs \
             only with GNAT_SOAK=1 (GNAT_SOAK_SECS, GNAT_SOAK_RESTART_SECS shorten it)"
        );
        return;
    };
    run(&settings).await;
}

/// The clients, one per kind of load.
struct Clients {
    publisher: Client,
    subscriber: Client,
    requester: Client,
    responder: Client,
    js: Context,
    kv: kv::Store,
}

impl Clients {
    fn all(&self) -> [(&'static str, &Client); 6] {
        [
            ("core publisher", &self.publisher),
            ("core subscriber", &self.subscriber),
            ("requester", &self.requester),
            ("responder", &self.responder),
            ("jetstream", self.js.client()),
            ("kv", self.kv.context().client()),
        ]
    }
}

async fn connect(server: &NatsServer) -> Clients {
    let url = server.url();
    let client = async |name: &str| options(name).connect(&url).await.unwrap();
    let js = Context::new(client("jetstream").await);
    js.create_stream(
        StreamConfig::new(STREAM)
            .subjects(["soak.js.>"])
            .storage(StorageType::File),
    )
    .await
    .unwrap();
    let kv_js = Context::new(client("kv").await);
    let kv = kv::create_bucket(
        &kv_js,
        kv::Config::new(BUCKET)
            .history(KV_HISTORY)
            .storage(StorageType::File),
    )
    .await
    .unwrap();
    Clients {
        publisher: client("core publisher").await,
        subscriber: client("core subscriber").await,
        requester: client("requester").await,
        responder: client("responder").await,
        js,
        kv,
    }
}

/// The load's tasks: those that stop on [`Shared::stop`] (returning their ack files) and those
/// that follow until aborted.
struct Load {
    writers: Vec<JoinHandle<Option<PathBuf>>>,
    followers: Vec<JoinHandle<()>>,
    view: kv::LiveView,
}

async fn start_load(c: &Clients, shared: &Arc<Shared>, dir: &Path, keys: u64) -> Load {
    let mut writers = Vec::new();
    let mut followers = Vec::new();

    // Core subscriber and publisher.
    let mut sub = c.subscriber.subscribe(CORE_SUBJECT).await.unwrap();
    c.subscriber.flush().await.unwrap();
    let s = shared.clone();
    followers.push(tokio::spawn(async move {
        while sub.next().await.is_some() {
            count(&s.counts.core_received);
        }
    }));
    let (publisher, s) = (c.publisher.clone(), shared.clone());
    writers.push(tokio::spawn(async move {
        let payload = Bytes::from_static(&CORE_PAYLOAD);
        let mut tick = ticker(CORE_TICK);
        while !s.stopped() {
            tick.tick().await;
            for _ in 0..CORE_BATCH {
                match publisher.publish(CORE_SUBJECT, payload.clone()).await {
                    Ok(()) => count(&s.counts.core_sent),
                    Err(e) => s.fail("core publish", format!("{:?}", e.kind())),
                }
            }
        }
        None
    }));

    // Request/reply.
    let mut requests = c.responder.subscribe(REQ_SUBJECT).await.unwrap();
    c.responder.flush().await.unwrap();
    let (responder, s) = (c.responder.clone(), shared.clone());
    followers.push(tokio::spawn(async move {
        while let Some(msg) = requests.next().await {
            let Some(reply) = msg.reply else { continue };
            match responder.publish(reply, msg.payload).await {
                Ok(()) => count(&s.counts.responded),
                Err(e) => s.fail("respond", format!("{:?}", e.kind())),
            }
        }
    }));
    let (requester, s) = (c.requester.clone(), shared.clone());
    writers.push(tokio::spawn(async move {
        let mut tick = ticker(REQ_TICK);
        let mut i = 0u64;
        while !s.stopped() {
            tick.tick().await;
            i += 1;
            let payload = Bytes::from(format!("req.{i}"));
            let request = Request::new().payload(payload.clone()).timeout(REQ_TIMEOUT);
            match requester.send_request(REQ_SUBJECT, request).await {
                Ok(reply) if reply.payload == payload => count(&s.counts.replies),
                Ok(_) => s.fail("request", "wrong reply".into()),
                Err(e) => s.fail("request", format!("{:?}", e.kind())),
            }
        }
        None
    }));

    // JetStream publishes; acks to `js-acks-<t>.txt` as `seq t i`.
    for t in 0..JS_TASKS {
        let (js, s) = (c.js.clone(), shared.clone());
        let path = dir.join(format!("js-acks-{t}.txt"));
        writers.push(tokio::spawn(async move {
            let mut log = BufWriter::new(File::create(&path).unwrap());
            let mut tick = ticker(JS_TICK);
            let subject = format!("soak.js.{t}");
            let mut i = 0u64;
            while !s.stopped() {
                tick.tick().await;
                i += 1;
                match js.publish(&subject, js_payload(t, i)).await {
                    Ok(ack) => {
                        writeln!(log, "{} {t} {i}", ack.seq).unwrap();
                        count(&s.counts.js_acked);
                    }
                    Err(e) => s.fail("js publish", js_failure(&e)),
                }
            }
            log.flush().unwrap();
            Some(path)
        }));
    }

    // KV: the watcher and the live view first (the bucket is empty), then puts and gets.
    let mut watcher = c.kv.watch_all().await.unwrap();
    let s = shared.clone();
    followers.push(tokio::spawn(async move {
        let mut last = 0u64;
        while let Some(event) = watcher.next().await {
            match event {
                Ok(WatchEvent::InitialDone) => s.watch_live.store(true, Relaxed),
                Ok(WatchEvent::Entry(e)) => {
                    count(&s.counts.watch_entries);
                    if e.revision <= last {
                        count(&s.counts.watch_regressions);
                    } else if s.watch_live.load(Relaxed) && e.revision != last + 1 {
                        s.counts
                            .watch_gaps
                            .fetch_add(e.revision - last - 1, Relaxed);
                    }
                    last = last.max(e.revision);
                    {
                        let mut map = s.watched.lock().unwrap();
                        match map.get_mut(e.key.as_str()) {
                            Some(slot) => {
                                slot.0 = e.revision;
                                slot.1.clear();
                                slot.1.extend_from_slice(&e.value);
                            }
                            None => {
                                map.insert(
                                    e.key.as_str().to_owned(),
                                    (e.revision, e.value.to_vec()),
                                );
                            }
                        }
                    }
                    s.watch_highest.store(last, Relaxed);
                }
                Err(e) => s.fail("watch", kv_failure(&e)),
            }
        }
        s.watch_ended.store(true, Relaxed);
    }));
    let view = c.kv.live_view_all().await.unwrap();
    within("the live view's initial load", view.ready())
        .await
        .unwrap();
    let (mut follower, s) = (view.clone(), shared.clone());
    followers.push(tokio::spawn(async move {
        loop {
            match follower.changed().await {
                Ok(_) => count(&s.counts.view_changes),
                Err(e) => {
                    s.fail("live view", kv_failure(&e));
                    return;
                }
            }
        }
    }));

    // KV puts; acks to `kv-acks-<t>.txt` as `revision key-index t i`. The tasks start half
    // the key set apart and walk it in step.
    for t in 0..KV_PUT_TASKS {
        let (kv, s) = (c.kv.clone(), shared.clone());
        let path = dir.join(format!("kv-acks-{t}.txt"));
        writers.push(tokio::spawn(async move {
            let mut log = BufWriter::new(File::create(&path).unwrap());
            let mut tick = ticker(KV_PUT_TICK);
            let offset = t as u64 * keys / KV_PUT_TASKS as u64;
            let mut i = 0u64;
            while !s.stopped() {
                tick.tick().await;
                i += 1;
                let idx = (offset + i) % keys;
                match kv.put(&kv_key(idx), kv_value(t, i)).await {
                    Ok(revision) => {
                        writeln!(log, "{revision} {idx} {t} {i}").unwrap();
                        count(&s.counts.kv_puts);
                    }
                    Err(e) => s.fail("kv put", kv_failure(&e)),
                }
            }
            log.flush().unwrap();
            Some(path)
        }));
    }
    let (kv, s) = (c.kv.clone(), shared.clone());
    writers.push(tokio::spawn(async move {
        let mut tick = ticker(KV_GET_TICK);
        let mut i = 0u64;
        while !s.stopped() {
            tick.tick().await;
            i += 1;
            match kv.get(&kv_key(i * 7919 % keys)).await {
                Ok(Some(_)) => count(&s.counts.kv_gets),
                Ok(None) => count(&s.counts.kv_get_missing),
                Err(e) => s.fail("kv get", kv_failure(&e)),
            }
        }
        None
    }));

    Load {
        writers,
        followers,
        view,
    }
}

/// Reads the `u64`s of each line of the files.
fn read_acks(paths: &[PathBuf]) -> Vec<Vec<u64>> {
    let mut lines = Vec::new();
    for path in paths {
        for line in BufReader::new(File::open(path).unwrap()).lines() {
            let line = line.unwrap();
            let fields = line
                .split_whitespace()
                .map(|f| f.parse().unwrap_or_else(|_| panic!("{line:?} in {path:?}")))
                .collect();
            lines.push(fields);
        }
    }
    lines
}

/// Runs `check` over `items` in 8 concurrent slices; returns how many passed and the
/// failures.
async fn check_all<T, F, Fut>(items: Vec<T>, check: F) -> (u64, Vec<String>)
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let per_slice = items.len().div_ceil(8).max(1);
    let mut set = tokio::task::JoinSet::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let slice: Vec<T> = items.by_ref().take(per_slice).collect();
        let check = check.clone();
        set.spawn(async move {
            let (mut ok, mut failed) = (0u64, Vec::new());
            for item in slice {
                match check(item).await {
                    Ok(()) => ok += 1,
                    Err(e) => failed.push(e),
                }
            }
            (ok, failed)
        });
    }
    let (mut ok, mut failed) = (0, Vec::new());
    while let Some(done) = set.join_next().await {
        let (o, f) = done.expect("a check panicked");
        ok += o;
        failed.extend(f);
    }
    (ok, failed)
}

/// Retries `op` while it fails with a timeout or a disconnect (the server is up; a slow
/// answer on a loaded machine is not a lost write), up to 3 times.
async fn retrying<T, Fut>(mut op: impl FnMut() -> Fut) -> Result<T, String>
where
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match op().await {
            Err(e) if tries < 3 && (e.contains("Timeout") || e.contains("Disconnected")) => {}
            other => return other,
        }
    }
}

/// Every acked JetStream publish is stored at its sequence with its payload.
async fn verify_stream(js: &Context, paths: &[PathBuf]) -> (u64, Vec<String>) {
    let acks = read_acks(paths);
    let mut failures = Vec::new();
    let mut seqs = HashSet::new();
    for a in &acks {
        if !seqs.insert(a[0]) {
            failures.push(format!("two acks with seq {}", a[0]));
        }
    }
    let js = js.clone();
    let (ok, failed) = check_all(acks, move |a| {
        let js = js.clone();
        async move {
            let (seq, t, i) = (a[0], a[1] as usize, a[2]);
            let js = &js;
            let msg = retrying(|| async move {
                js.get_message(STREAM, seq)
                    .await
                    .map_err(|e| format!("{} ({e})", js_failure(&e)))
            })
            .await
            .map_err(|e| format!("acked js.{t}.{i} at seq {seq}: not stored: {e}"))?;
            if msg.payload != js_payload(t, i).as_bytes() {
                return Err(format!(
                    "seq {seq}: payload {:?}, acked js.{t}.{i}",
                    String::from_utf8_lossy(&msg.payload)
                ));
            }
            Ok(())
        }
    })
    .await;
    failures.extend(failed);
    (ok, failures)
}

/// Every acked KV put is readable at its revision with its value.
async fn verify_bucket(kv: &kv::Store, paths: &[PathBuf]) -> (u64, Vec<String>) {
    let acks = read_acks(paths);
    let kv = kv.clone();
    check_all(acks, move |a| {
        let kv = kv.clone();
        async move {
            let (revision, key, t, i) = (a[0], kv_key(a[1]), a[2] as usize, a[3]);
            let (kv, key) = (&kv, &key);
            let entry = retrying(|| async move {
                kv.entry_at(key, revision)
                    .await
                    .map_err(|e| format!("{} ({e})", kv_failure(&e)))
            })
            .await
            .map_err(|e| format!("acked put of {key} at revision {revision}: {e}"))?;
            match entry {
                Some(e) if e.value == kv_value(t, i).as_bytes() => Ok(()),
                Some(e) => Err(format!(
                    "{key} at revision {revision}: value {:?}, acked kv.{t}.{i}",
                    String::from_utf8_lossy(&e.value)
                )),
                None => Err(format!(
                    "acked put of {key} (kv.{t}.{i}) at revision {revision} is not readable"
                )),
            }
        }
    })
    .await
}

/// The watcher's and the live view's entry of every key equal the server's.
async fn verify_final_values(
    kv: &kv::Store,
    shared: &Shared,
    view: &kv::LiveView,
    keys: u64,
) -> (u64, Vec<String>) {
    let (mut ok, mut failures) = (0, Vec::new());
    for idx in 0..keys {
        let key = kv_key(idx);
        let key = &key;
        let server = retrying(|| async move {
            kv.entry(key)
                .await
                .map_err(|e| format!("{} ({e})", kv_failure(&e)))
        })
        .await
        .unwrap_or_else(|e| panic!("reading {key}: {e}"))
        .map(|e| (e.revision, e.value.to_vec()));
        let watched = shared.watched.lock().unwrap().get(key).cloned();
        let viewed = view.get(key).map(|e| (e.revision, e.value.to_vec()));
        let brief = |v: &Option<(u64, Vec<u8>)>| {
            v.as_ref()
                .map(|(r, val)| format!("{r}:{}", String::from_utf8_lossy(val)))
        };
        if watched != server || viewed != server {
            failures.push(format!(
                "{key}: server {:?}, watcher {:?}, live view {:?}",
                brief(&server),
                brief(&watched),
                brief(&viewed)
            ));
        } else {
            ok += 1;
        }
    }
    (ok, failures)
}

async fn restart(server: NatsServer, graceful: bool) -> NatsServer {
    tokio::task::spawn_blocking(move || {
        let mut server = server;
        if graceful {
            server.restart();
        } else {
            server.kill();
            server.start_again();
        }
        server
    })
    .await
    .expect("restarting the server panicked")
}

fn failures_brief(failures: &[String]) -> String {
    let shown: Vec<&str> = failures.iter().take(10).map(String::as_str).collect();
    format!("{} failures, first: {shown:#?}", failures.len())
}

async fn run(settings: &Settings) {
    let mut server = NatsServer::start_jetstream();
    let dir = server.dir().to_path_buf();
    let clients = connect(&server).await;
    let shared = Arc::new(Shared::default());
    shared
        .watched
        .lock()
        .unwrap()
        .reserve(settings.keys as usize);
    let samples: Arc<Mutex<Vec<(Duration, u64, u64)>>> = Arc::new(Mutex::new(Vec::with_capacity(
        (settings.duration.as_secs() / RSS_EVERY.as_secs() + 16) as usize,
    )));
    let rss_start = rss();

    let load = start_load(&clients, &shared, &dir, settings.keys).await;
    let started = Instant::now();
    let sampler = {
        let (samples, shared) = (samples.clone(), shared.clone());
        tokio::spawn(async move {
            let mut tick = ticker(RSS_EVERY);
            while !shared.stopped() {
                tick.tick().await;
                samples
                    .lock()
                    .unwrap()
                    .push((started.elapsed(), rss(), live_heap()));
            }
        })
    };

    let end = started + settings.duration;
    let baseline_at = started + settings.baseline_at;
    let mut next_restart = started + settings.restart_every;
    // (RSS, heap) after the first minute, and RSS just before the first restart.
    let mut baseline: Option<(u64, u64)> = None;
    let mut rss_before_first_restart = None;
    let mut restarts = Vec::new();
    loop {
        let mut next = end.min(next_restart);
        if baseline.is_none() {
            next = next.min(baseline_at);
        }
        tokio::time::sleep_until(next.into()).await;
        let now = Instant::now();
        if now >= end {
            break;
        }
        if now >= next_restart {
            if restarts.is_empty() {
                rss_before_first_restart = Some(rss());
            }
            let graceful = restarts.len() % 2 == 0;
            let at = Instant::now();
            server = restart(server, graceful).await;
            restarts.push(at.elapsed());
            let c = &shared.counts;
            eprintln!(
                "soak {:>4.0}s: restart {} ({}) took {:?}; RSS {:.1} MiB, heap {:.2} MiB; js \
                 acked {}, kv puts {}, core sent {}, replies {}",
                started.elapsed().as_secs_f64(),
                restarts.len(),
                if graceful { "SIGTERM" } else { "SIGKILL" },
                at.elapsed(),
                mib(rss()),
                mib(live_heap()),
                c.js_acked.load(Relaxed),
                c.kv_puts.load(Relaxed),
                c.core_sent.load(Relaxed),
                c.replies.load(Relaxed),
            );
            next_restart += settings.restart_every;
        }
        if baseline.is_none() && now >= baseline_at {
            // The minute ends with its restart: wait until every client is back.
            for (_, client) in clients.all() {
                flush_until_ok(client).await;
            }
            let b = (rss(), live_heap());
            eprintln!(
                "soak {:>4.0}s: baseline RSS {:.1} MiB, heap {:.2} MiB (RSS before the first \
                 restart {:.1} MiB)",
                started.elapsed().as_secs_f64(),
                mib(b.0),
                mib(b.1),
                rss_before_first_restart.map_or(f64::NAN, mib),
            );
            baseline = Some(b);
        }
    }
    let (rss_end, heap_end) = (rss(), live_heap());
    let (baseline, heap_baseline) = baseline.expect("a baseline RSS");
    let ran = started.elapsed();
    shared.stop.store(true, Relaxed);

    // Let the load stop and the clients settle.
    let mut ack_files = Vec::new();
    for task in load.writers {
        let path = within("a load task to stop", task)
            .await
            .expect("a load task panicked");
        ack_files.extend(path);
    }
    sampler.await.expect("the RSS sampler panicked");
    for (_, client) in clients.all() {
        flush_until_ok(client).await;
    }
    let (js_files, kv_files): (Vec<PathBuf>, Vec<PathBuf>) = ack_files.into_iter().partition(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("js-"))
    });
    let kv = &clients.kv;
    let last_revision = eventually("the bucket's last revision", DEADLINE, || async move {
        kv.context()
            .stream_info(kv.stream_name())
            .await
            .ok()
            .map(|info| info.state.last_seq)
    })
    .await;
    let caught_up = within_limit(CATCH_UP, async {
        while shared.watch_highest.load(Relaxed) < last_revision
            && !shared.watch_ended.load(Relaxed)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        load.view.wait_for_revision(last_revision).await
    })
    .await;

    // Verify.
    let (js_ok, js_failures) = verify_stream(&clients.js, &js_files).await;
    let (kv_ok, kv_failures) = verify_bucket(kv, &kv_files).await;
    let (final_ok, final_failures) =
        verify_final_values(kv, &shared, &load.view, settings.keys).await;
    let stream_holds = clients.js.stream_info(STREAM).await.unwrap().state.messages;

    // Summary.
    let c = &shared.counts;
    let samples = samples.lock().unwrap().clone();
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(rss_end);
    let heap_peak = samples.iter().map(|s| s.2).max().unwrap_or(heap_end);
    let statistics: Vec<(&str, client::Statistics)> = clients
        .all()
        .iter()
        .map(|(name, client)| (*name, client.statistics()))
        .collect();
    let reconnects: Vec<String> = statistics
        .iter()
        .map(|(name, s)| format!("{name} {}", s.reconnects))
        .collect();
    let unconfirmed: u64 = statistics.iter().map(|(_, s)| s.unconfirmed_bytes).sum();
    let rejections: u64 = statistics
        .iter()
        .map(|(_, s)| s.reconnect_buffer_rejections)
        .sum();
    let slow: u64 = statistics.iter().map(|(_, s)| s.slow_consumer_drops).sum();
    let errors = shared.errors.lock().unwrap().clone();
    let error_lines: Vec<String> = errors.iter().map(|(k, n)| format!("  {k}: {n}")).collect();
    let longest_restart = restarts.iter().max().copied().unwrap_or_default();
    let series: Vec<String> = samples
        .iter()
        .step_by((samples.len() / 20).max(1))
        .map(|(t, r, h)| format!("{:.0}s {:.1}/{:.2}", t.as_secs_f64(), mib(*r), mib(*h)))
        .collect();
    eprintln!(
        "\n=== soak summary ===\n\
         duration {ran:.0?}, {} restarts every {:?} (alternating SIGTERM/SIGKILL, longest {:?})\n\
         operations: core sent {} received {}; requests answered {} (responder sent {}); \
         js acked {}; kv puts acked {}, gets {} (+{} not yet written); watcher entries {} \
         (gaps {}, regressions {}, live {}, ended {}); live view changes {}\n\
         errors ({} in all):\n{}\n\
         reconnects: {}\n\
         unconfirmed bytes {unconfirmed}, reconnect buffer rejections {rejections}, slow \
         consumer drops {slow}\n\
         RSS MiB: start {:.1}, before the first restart {:.1}, first minute {:.1} (at {:?} and \
         the restart), peak {:.1}, end {:.1} ({:+.1} %), VmHWM {:.1}\n\
         live heap MiB: first minute {:.2}, peak {:.2}, end {:.2} ({:+.1} %)\n\
         RSS/heap series (MiB): {}\n\
         verified: js {js_ok} acked messages stored ({} failures; the stream holds \
         {stream_holds}); kv {kv_ok} acked puts readable ({} failures); final values of \
         {final_ok}/{} keys match in watcher and live view ({} mismatches); caught up to \
         revision {last_revision}: {caught_up:?}",
        restarts.len(),
        settings.restart_every,
        longest_restart,
        c.core_sent.load(Relaxed),
        c.core_received.load(Relaxed),
        c.replies.load(Relaxed),
        c.responded.load(Relaxed),
        c.js_acked.load(Relaxed),
        c.kv_puts.load(Relaxed),
        c.kv_gets.load(Relaxed),
        c.kv_get_missing.load(Relaxed),
        c.watch_entries.load(Relaxed),
        c.watch_gaps.load(Relaxed),
        c.watch_regressions.load(Relaxed),
        shared.watch_live.load(Relaxed),
        shared.watch_ended.load(Relaxed),
        c.view_changes.load(Relaxed),
        errors.values().sum::<u64>(),
        error_lines.join("\n"),
        reconnects.join(", "),
        mib(rss_start),
        rss_before_first_restart.map_or(f64::NAN, mib),
        mib(baseline),
        settings.baseline_at,
        mib(peak),
        mib(rss_end),
        (rss_end as f64 / baseline as f64 - 1.0) * 100.0,
        mib(proc_status_bytes("VmHWM")),
        mib(heap_baseline),
        mib(heap_peak),
        mib(heap_end),
        (heap_end as f64 / heap_baseline as f64 - 1.0) * 100.0,
        series.join(", "),
        js_failures.len(),
        kv_failures.len(),
        settings.keys,
        final_failures.len(),
    );

    // Claims.
    for (what, n) in [
        ("core publishes", c.core_sent.load(Relaxed)),
        ("core deliveries", c.core_received.load(Relaxed)),
        ("replies", c.replies.load(Relaxed)),
        ("js acks", c.js_acked.load(Relaxed)),
        ("kv puts", c.kv_puts.load(Relaxed)),
        ("kv gets", c.kv_gets.load(Relaxed)),
        ("watcher entries", c.watch_entries.load(Relaxed)),
    ] {
        assert!(n > 0, "no {what} at all");
    }
    assert!(
        js_failures.is_empty(),
        "acked JetStream publishes lost: {}",
        failures_brief(&js_failures)
    );
    assert!(
        kv_failures.is_empty(),
        "acked KV puts lost: {}",
        failures_brief(&kv_failures)
    );
    assert!(
        caught_up.as_ref().is_some_and(Result::is_ok),
        "the watcher (at {}) or the live view (at {}) did not reach revision {last_revision} \
         within {CATCH_UP:?}: {caught_up:?}",
        shared.watch_highest.load(Relaxed),
        load.view.revision()
    );
    assert!(
        final_failures.is_empty(),
        "watcher or live view disagree with the server: {}",
        failures_brief(&final_failures)
    );
    assert!(
        !shared.watch_ended.load(Relaxed),
        "the watcher ended during the soak"
    );
    assert_eq!(
        c.watch_regressions.load(Relaxed),
        0,
        "the watcher went back"
    );
    assert_eq!(
        c.watch_gaps.load(Relaxed),
        0,
        "the watcher skipped revisions"
    );
    assert!(
        rss_end as f64 <= RSS_SLACK * baseline as f64,
        "RSS grew from {:.1} MiB after the first minute to {:.1} MiB at the end (more than {:.0} \
         %)",
        mib(baseline),
        mib(rss_end),
        (RSS_SLACK - 1.0) * 100.0
    );

    for task in load.followers {
        task.abort();
    }
    for (_, client) in clients.all() {
        client.close().await;
    }
    drop(server);
}

/// `fut`'s output, or `None` after `limit`.
async fn within_limit<F: std::future::Future>(limit: Duration, fut: F) -> Option<F::Output> {
    tokio::time::timeout(limit, fut).await.ok()
}
