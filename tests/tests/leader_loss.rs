//! Scenario 2: a 3-node cluster loses the leader of an R3 bucket's stream (SIGKILL) halfway
//! through 8 tasks putting (8 × 250 puts quick, 8 × 1 250 = 10 000 long).
//!
//! What the test claims, exactly:
//!
//! * **Every acknowledged put is readable afterwards**: each (key, revision) a put returned is
//!   readable with `entry_at` and holds the value put (reads go to any replica, so each read
//!   is retried until a replica has it, within a deadline — spec §5.7).
//! * **A watcher started before the load sees every revision exactly once, in order**: its
//!   revisions are strictly increasing (no duplicate, no reordering), include every
//!   acknowledged revision, and are exactly the stream's sequences `first..=last` once it has
//!   caught up. A put that fails (timeout or 503 while no leader is elected, or a request
//!   caught on the killed node) is retried with the same key and value; the first attempt may
//!   have been stored, so a key can hold two revisions — the watcher then sees both (keys are
//!   unique per put and the bucket keeps 10 revisions, so nothing is pruned).
//! * The watcher's connection is to the node that is killed, so it must also carry on across
//!   its own reconnect (its consumer is recreated from the last revision it delivered). The
//!   long variant adds a second watcher connected to a surviving node: if its server-side
//!   consumer lived on the killed node, it notices by missed heartbeats (3 × 5 s) instead.
//!
//! Reported: puts acked, retries (by reason), the longest put latency (the leader election
//! as the client sees it), and when each watcher had caught up.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::ConnectOptions;
use common::{DEADLINE, eventually, fast_reconnect, long_tests, until, within};
use gnat_test_support::Cluster;
use jetstream::Context;
use kv::{Config, Store, WatchEvent, Watcher};

const TASKS: usize = 8;
const BUCKET: &str = "LEADER";
/// How long a watcher may take to catch up after the load: covers consumer loss noticed by
/// missed heartbeats (3 × 5 s) and its recreation while the cluster settles.
const CATCH_UP: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_leader_lost_under_kv_load() {
    run(250, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_leader_lost_under_kv_load_long() {
    if !long_tests() {
        eprintln!("skipped: 10 000 puts and a second watcher run only with GNAT_LONG_TESTS=1");
        return;
    }
    run(1250, true).await;
}

fn options() -> ConnectOptions {
    fast_reconnect(ConnectOptions::new()).request_timeout(Duration::from_secs(2))
}

/// A bound store on a client that tries `urls` in this order.
async fn store_via(urls: &[String]) -> Store {
    let client = options()
        .retain_server_order(true)
        .connect(urls.join(","))
        .await
        .unwrap();
    kv::bind(&Context::new(client), BUCKET).await.unwrap()
}

/// The node leading the bucket's stream now.
async fn stream_leader(cluster: &Cluster, kv: &Store) -> usize {
    eventually("the stream to have a leader", DEADLINE, || async {
        let status = kv.status().await.ok()?;
        let leader = status.stream_info().cluster.as_ref()?.leader.clone()?;
        cluster
            .servers()
            .iter()
            .position(|s| s.name() == Some(leader.as_str()))
    })
    .await
}

/// What a watcher delivered.
#[derive(Default)]
struct Seen {
    revisions: Vec<u64>,
    markers: usize,
    errors: Vec<String>,
    caught_up: Option<Instant>,
}

fn spawn_watcher(mut watcher: Watcher) -> (tokio::task::JoinHandle<()>, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let out = seen.clone();
    let task = tokio::spawn(async move {
        while let Some(event) = watcher.next().await {
            let mut seen = out.lock().unwrap();
            match event {
                Ok(WatchEvent::Entry(e)) => seen.revisions.push(e.revision),
                Ok(WatchEvent::InitialDone) => seen.markers += 1,
                Err(e) => seen.errors.push(e.to_string()),
            }
        }
    });
    (task, seen)
}

/// Why a put may be retried: the leader is gone or not elected yet (timeout, no responders,
/// a 5xx), or the request was caught on the killed node's connection.
fn retry_reason(e: &kv::Error) -> Option<String> {
    let js = e.jetstream()?;
    if e.is_timeout() {
        Some("timeout".into())
    } else if e.is_no_responders() {
        Some("no responders".into())
    } else if let Some(code) = e.code().filter(|c| *c >= 500) {
        Some(format!("{code} {js}"))
    } else if js.client_kind() == Some(client::ErrorKind::Disconnected) {
        Some("disconnected".into())
    } else if e.is_outcome_unknown() {
        // The connection to the killed leader was lost with the put in flight and the resend
        // was not answered in time: a plain put is safe to send again.
        Some("outcome unknown".into())
    } else {
        None
    }
}

struct Put {
    key: String,
    revision: u64,
    latency: Duration,
}

async fn run(per_task: usize, second_watcher: bool) {
    let started = Instant::now();
    let mut cluster = Cluster::start(3);
    let urls = cluster.urls();
    let admin = Context::new(options().connect(urls.join(",")).await.unwrap());
    let kv = within("create an R3 bucket", async {
        loop {
            let config = Config::new(BUCKET).replicas(3).history(10);
            match kv::create_bucket(&admin, config).await {
                Ok(kv) => break kv,
                // The meta leader may still be settling.
                Err(e) if e.code().is_some_and(|c| c >= 500) || e.is_timeout() => {}
                Err(e) => panic!("create bucket: {e}"),
            }
        }
    })
    .await;
    let leader = stream_leader(&cluster, &kv).await;
    let survivor = (leader + 1) % urls.len();

    // Watchers first: on the doomed leader, and (long) on a survivor.
    let mut order = vec![urls[leader].clone()];
    order.extend(urls.iter().filter(|u| **u != urls[leader]).cloned());
    let mut watchers = Vec::new();
    let mut watch_on = vec![("on the killed node", order)];
    if second_watcher {
        let mut order = vec![urls[survivor].clone()];
        order.extend(urls.iter().filter(|u| **u != urls[survivor]).cloned());
        watch_on.push(("on a surviving node", order));
    }
    for (name, order) in watch_on {
        let mut w = store_via(&order).await.watch_all().await.unwrap();
        let first = within("the end of the initial data", w.next()).await;
        assert_eq!(
            first.map(|e| e.unwrap()),
            Some(WatchEvent::InitialDone),
            "an empty bucket's watch starts with the marker"
        );
        let (task, seen) = spawn_watcher(w);
        watchers.push((name, task, seen));
    }

    // The load: 8 tasks on two connections to any node.
    let acked = Arc::new(AtomicU64::new(0));
    let loaders = [
        Context::new(options().connect(urls.join(",")).await.unwrap()),
        Context::new(options().connect(urls.join(",")).await.unwrap()),
    ];
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let kv = kv::bind(&loaders[t % 2], BUCKET).await.unwrap();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let mut puts = Vec::with_capacity(per_task);
            let mut retries: BTreeMap<String, u64> = BTreeMap::new();
            for i in 0..per_task {
                let key = format!("t{t}.k{i}");
                let begun = Instant::now();
                let revision = loop {
                    match kv.put(&key, key.clone()).await {
                        Ok(revision) => break revision,
                        Err(e) => {
                            let reason = retry_reason(&e)
                                .unwrap_or_else(|| panic!("put {key} failed for good: {e}"));
                            *retries.entry(reason).or_default() += 1;
                            assert!(begun.elapsed() < CATCH_UP, "put {key} never succeeded: {e}");
                            if !e.is_timeout() {
                                // An immediate refusal: give the election a moment.
                                tokio::time::sleep(Duration::from_millis(25)).await;
                            }
                        }
                    }
                };
                puts.push(Put {
                    key,
                    revision,
                    latency: begun.elapsed(),
                });
                acked.fetch_add(1, SeqCst);
            }
            (puts, retries)
        }));
    }

    let total = (TASKS * per_task) as u64;
    until("half the puts", || acked.load(SeqCst) >= total / 2).await;
    let leader_now = stream_leader(&cluster, &kv).await;
    let killed_at = Instant::now();
    tokio::task::block_in_place(|| cluster.kill(leader_now));
    let acked_at_kill = acked.load(SeqCst);

    let mut puts = Vec::new();
    let mut retries: BTreeMap<String, u64> = BTreeMap::new();
    for task in tasks {
        let (p, r) = within("a put task", task)
            .await
            .expect("a put task panicked");
        puts.extend(p);
        for (reason, n) in r {
            *retries.entry(reason).or_default() += n;
        }
    }
    let load_done = Instant::now();
    let longest = puts.iter().map(|p| p.latency).max().unwrap_or_default();

    // Every acknowledged put is readable at its revision.
    let mut set = tokio::task::JoinSet::new();
    for slice in puts.chunks(puts.len().div_ceil(8)) {
        let kv = kv.clone();
        let slice: Vec<(String, u64)> = slice.iter().map(|p| (p.key.clone(), p.revision)).collect();
        set.spawn(async move {
            for (key, revision) in slice {
                let entry = eventually("an acked put to be readable", DEADLINE, || async {
                    kv.entry_at(&key, revision).await.ok().flatten()
                })
                .await;
                assert_eq!(entry.value, key.as_bytes(), "{key} at {revision}");
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.expect("a read check panicked");
    }

    // Every watcher sees every stored revision once, in order.
    let state = within("stream info", kv.status())
        .await
        .unwrap()
        .stream_info()
        .state
        .clone();
    assert_eq!(state.num_deleted, 0, "{state:?}");
    let stored: Vec<u64> = (state.first_seq..=state.last_seq).collect();
    assert_eq!(stored.len() as u64, state.messages);
    let mut acked_revisions: Vec<u64> = puts.iter().map(|p| p.revision).collect();
    acked_revisions.sort_unstable();
    let mut report = Vec::new();
    for (name, task, seen) in &watchers {
        let caught_up = eventually("a watcher to catch up", CATCH_UP, || async {
            let mut s = seen.lock().unwrap();
            if s.revisions.last().is_some_and(|r| *r >= state.last_seq) {
                Some(*s.caught_up.get_or_insert_with(Instant::now))
            } else {
                None
            }
        })
        .await;
        let s = seen.lock().unwrap();
        assert!(s.errors.is_empty(), "watcher {name}: {:?}", s.errors);
        assert_eq!(s.markers, 0, "watcher {name}: a second end-of-initial-data");
        for pair in s.revisions.windows(2) {
            assert!(
                pair[0] < pair[1],
                "watcher {name}: revision {} then {}",
                pair[0],
                pair[1]
            );
        }
        let missing: Vec<u64> = acked_revisions
            .iter()
            .filter(|r| s.revisions.binary_search(r).is_err())
            .copied()
            .collect();
        assert!(
            missing.is_empty(),
            "watcher {name} missed {} acked revisions, first {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        assert_eq!(s.revisions, stored, "watcher {name}");
        report.push(format!(
            "watcher {name}: {} revisions, caught up {:?} after the load",
            s.revisions.len(),
            caught_up.saturating_duration_since(load_done)
        ));
        task.abort();
    }

    eprintln!(
        "leader n{} killed after {acked_at_kill} of {total} puts ({:?} into the run); {} puts \
         acked in {:?}, {} retried {retries:?}; stream holds {} ({} stored twice by a retry); \
         longest put {longest:?} (leader election as the client sees it)\n{}",
        leader_now + 1,
        killed_at - started,
        puts.len(),
        load_done - killed_at,
        retries.values().sum::<u64>(),
        state.messages,
        state.messages - puts.len() as u64,
        report.join("\n")
    );
}
