//! Watchers against a real nats-server (spec §6 items 50–56): what each option delivers, the
//! end-of-initial-data event exactly once, filters, and a watch that survives server
//! restarts with no gap and no duplicate.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use gnat_kv::{Config, Operation, WatchEvent, WatchOptions};
use gnat_test_support::NatsServer;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_bucket_marker_at_once() {
    // Spec §6 item 50.
    let (_server, _js, kv) = bucket(Config::new("B")).await;
    let mut w = kv.watch_all().await.unwrap();
    assert_eq!(w.initial_pending(), 0);
    assert_eq!(next_event(&mut w).await, WatchEvent::InitialDone);
    assert!(w.initial_done());
    assert_quiet(&mut w, QUIET).await;
    let r = kv.put("a", "1").await.unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!((e.key.as_ref(), e.revision, e.delta), ("a", r, 0));
    // The marker comes once only.
    kv.put("b", "2").await.unwrap();
    assert_eq!(next_entry(&mut w).await.key, "b");
    assert_quiet(&mut w, QUIET).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_watch_latest_then_live() {
    // Spec §6 item 51.
    let (_server, _js, kv) = bucket(Config::new("B").history(5)).await;
    kv.put("a", "old").await.unwrap();
    let a = kv.put("a", "1").await.unwrap();
    kv.put("b", "2").await.unwrap();
    let b_del = kv.delete("b").await.unwrap();
    let mut w = kv.watch(">").await.unwrap();
    assert_eq!(w.initial_pending(), 2);
    let e = next_entry(&mut w).await;
    assert_eq!(
        (e.key.as_ref(), &e.value[..], e.operation, e.revision),
        ("a", &b"1"[..], Operation::Put, a)
    );
    let e = next_entry(&mut w).await;
    assert_eq!(
        (e.key.as_ref(), e.operation, e.revision),
        ("b", Operation::Delete, b_del)
    );
    assert!(e.value.is_empty());
    assert_eq!(next_event(&mut w).await, WatchEvent::InitialDone);
    let c = kv.put("c", "3").await.unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!(
        (e.key.as_ref(), e.revision, e.operation),
        ("c", c, Operation::Put)
    );
    let p = kv.purge("a").await.unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!(
        (e.key.as_ref(), e.revision, e.operation),
        ("a", p, Operation::Purge)
    );
    assert_quiet(&mut w, QUIET).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_deletes() {
    // Spec §6 item 52.
    let (_server, _js, kv) = bucket(Config::new("B")).await;
    kv.put("a", "1").await.unwrap();
    kv.put("b", "2").await.unwrap();
    kv.delete("b").await.unwrap();
    kv.put("c", "3").await.unwrap();
    kv.purge("c").await.unwrap();
    let mut w = kv
        .watch_with([">"], WatchOptions::new().ignore_deletes())
        .await
        .unwrap();
    assert_eq!(next_entry(&mut w).await.key, "a");
    // The last initial message (c's purge) is skipped, the marker still comes.
    assert_eq!(next_event(&mut w).await, WatchEvent::InitialDone);
    kv.delete("a").await.unwrap();
    kv.purge("a").await.unwrap();
    kv.put("d", "4").await.unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!((e.key.as_ref(), e.operation), ("d", Operation::Put));
    assert_quiet(&mut w, QUIET).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_history() {
    // Spec §6 item 53.
    let (_server, _js, kv) = bucket(Config::new("B").history(3)).await;
    let mut retained = Vec::new();
    for i in 0..5 {
        retained.push(kv.put("a", format!("a{i}")).await.unwrap());
        retained.push(kv.put("b", format!("b{i}")).await.unwrap());
    }
    let del = kv.delete("b").await.unwrap();
    // a keeps its last 3, b its last 2 values and the delete.
    let mut expected: Vec<u64> = vec![
        retained[4],
        retained[6],
        retained[8],
        retained[7],
        retained[9],
        del,
    ];
    expected.sort();
    let mut w = kv
        .watch_with([">"], WatchOptions::new().include_history())
        .await
        .unwrap();
    let mut got = Vec::new();
    while let WatchEvent::Entry(e) = next_event(&mut w).await {
        got.push((e.revision, e.delta));
    }
    let revisions: Vec<u64> = got.iter().map(|(r, _)| *r).collect();
    assert_eq!(revisions, expected);
    let deltas: Vec<u64> = got.iter().map(|(_, d)| *d).collect();
    assert_eq!(deltas, vec![5, 4, 3, 2, 1, 0]);
    let r = kv.put("a", "live").await.unwrap();
    assert_eq!(next_entry(&mut w).await.revision, r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_only() {
    // Spec §6 item 54.
    let (_server, _js, kv) = bucket(Config::new("B")).await;
    kv.put("a", "1").await.unwrap();
    kv.put("b", "2").await.unwrap();
    let mut w = kv
        .watch_with(["a", "b"], WatchOptions::new().updates_only())
        .await
        .unwrap();
    assert_eq!(next_event(&mut w).await, WatchEvent::InitialDone);
    assert_quiet(&mut w, QUIET).await;
    let r = kv.put("b", "new").await.unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!(
        (e.key.as_ref(), &e.value[..], e.revision),
        ("b", &b"new"[..], r)
    );
    kv.put("c", "ignored").await.unwrap();
    assert_quiet(&mut w, QUIET).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_only() {
    // Spec §6 item 55.
    let (_server, _js, kv) = bucket(Config::new("B")).await;
    let a = kv.put("a", "a value").await.unwrap();
    let d = kv.delete("gone").await.unwrap();
    let mut w = kv
        .watch_with([">"], WatchOptions::new().meta_only())
        .await
        .unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!(
        (e.key.as_ref(), e.revision, e.operation),
        ("a", a, Operation::Put)
    );
    assert!(e.value.is_empty());
    let e = next_entry(&mut w).await;
    assert_eq!(
        (e.key.as_ref(), e.revision, e.operation),
        ("gone", d, Operation::Delete)
    );
    assert_eq!(next_event(&mut w).await, WatchEvent::InitialDone);
    let r = kv.put("a", "another value").await.unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!((e.revision, e.value.len()), (r, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_follow_subject_wildcards() {
    // Spec §6 item 56.
    let (_server, _js, kv) = bucket(Config::new("B")).await;
    let mut star = kv
        .watch_with(["a.*"], WatchOptions::new().updates_only())
        .await
        .unwrap();
    let mut tail = kv
        .watch_with(["a.>"], WatchOptions::new().updates_only())
        .await
        .unwrap();
    let mut two = kv
        .watch_with(["ab", "a.b.c"], WatchOptions::new().updates_only())
        .await
        .unwrap();
    for w in [&mut star, &mut tail, &mut two] {
        assert_eq!(next_event(w).await, WatchEvent::InitialDone);
    }
    for k in ["a.b", "a.b.c", "ab"] {
        kv.put(k, "v").await.unwrap();
    }
    assert_eq!(next_entry(&mut star).await.key, "a.b");
    assert_quiet(&mut star, QUIET).await;
    assert_eq!(next_entry(&mut tail).await.key, "a.b");
    assert_eq!(next_entry(&mut tail).await.key, "a.b.c");
    assert_quiet(&mut tail, QUIET).await;
    assert_eq!(next_entry(&mut two).await.key, "a.b.c");
    assert_eq!(next_entry(&mut two).await.key, "ab");
    // Overlapping filters are the server's to refuse.
    let e = kv
        .watch_with(["a.*", "a.b"], WatchOptions::new())
        .await
        .unwrap_err();
    assert!(e.err_code().is_some(), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_revision() {
    let (_server, _js, kv) = bucket(Config::new("B").history(10)).await;
    let mut revs = Vec::new();
    for i in 0..6 {
        revs.push(kv.put("k", format!("{i}")).await.unwrap());
    }
    let mut w = kv
        .watch_with(["k"], WatchOptions::new().from_revision(revs[3]))
        .await
        .unwrap();
    assert_eq!(w.initial_pending(), 3);
    for r in &revs[3..] {
        assert_eq!(next_entry(&mut w).await.revision, *r);
    }
    assert_eq!(next_event(&mut w).await, WatchEvent::InitialDone);
    // From the next revision: the marker at once, then that revision when it is written.
    let mut w = kv
        .watch_with(["k"], WatchOptions::new().from_revision(revs[5] + 1))
        .await
        .unwrap();
    assert_eq!(next_event(&mut w).await, WatchEvent::InitialDone);
    assert_eq!(w.initial_pending(), 0);
    let r = kv.put("k", "later").await.unwrap();
    assert_eq!(r, revs[5] + 1);
    assert_eq!(next_entry(&mut w).await.revision, r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marker_once_while_writes_race_the_initial_data() {
    let (_server, _js, kv) = bucket(Config::new("B")).await;
    for i in 0..200 {
        kv.put(&format!("k{i}"), "v").await.unwrap();
    }
    let writer = {
        let kv = kv.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                kv.put(&format!("n{i}"), "v").await.unwrap();
            }
        })
    };
    let mut w = kv.watch_all().await.unwrap();
    let mut markers = 0;
    let mut revisions = BTreeSet::new();
    let mut before_marker = 0;
    while revisions.len() < 400 {
        match next_event(&mut w).await {
            WatchEvent::InitialDone => markers += 1,
            WatchEvent::Entry(e) => {
                assert!(revisions.insert(e.revision), "duplicate {}", e.revision);
                if markers == 0 {
                    before_marker += 1;
                }
            }
        }
    }
    writer.await.unwrap();
    assert_quiet(&mut w, QUIET).await;
    assert_eq!(markers, 1);
    assert!(before_marker >= 200, "{before_marker}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_server_restarts_without_gap_or_duplicate() {
    let mut server = NatsServer::start_jetstream();
    let js = context(&server.url()).await;
    let kv = gnat_kv::create_bucket(&js, Config::new("R")).await.unwrap();
    for i in 0..50 {
        kv.put(&format!("before.{i}"), "v").await.unwrap();
    }
    let mut w = kv.watch_all().await.unwrap();
    let acked = Arc::new(Mutex::new(Vec::new()));
    // A writer keeps going through the restarts, retrying what fails.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (kv, acked, stop) = (kv.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match kv.put(&format!("during.{i}"), "v").await {
                    Ok(r) => acked.lock().unwrap().push(r),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut seen = Vec::new();
    let read_until = async |w: &mut gnat_kv::Watcher, seen: &mut Vec<u64>, n: usize| {
        while seen.len() < n {
            if let WatchEvent::Entry(e) = next_event(w).await {
                seen.push(e.revision);
            }
        }
    };
    read_until(&mut w, &mut seen, 80).await;
    let mut events = js.client().events();
    for _ in 0..2 {
        tokio::task::block_in_place(|| server.restart());
        within("reconnect", async {
            while let Some(ev) = events.next().await {
                if matches!(ev, gnat_kv::jetstream::client::Event::Reconnected { .. }) {
                    break;
                }
            }
        })
        .await;
        let target = seen.len() + 40;
        read_until(&mut w, &mut seen, target).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    let last = js.stream_info("KV_R").await.unwrap().state.last_seq;
    read_until(&mut w, &mut seen, usize::try_from(last).unwrap()).await;
    assert_quiet(&mut w, QUIET).await;
    // Every stored revision, once, in order.
    let expected: Vec<u64> = (1..=last).collect();
    assert_eq!(seen, expected);
    let acked = acked.lock().unwrap();
    assert!(acked.len() > 40 && acked.iter().all(|r| *r <= last));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_bucket_ends_the_watch_with_an_error() {
    // The self-healing contract (gnat-jetstream crate docs): the watcher's ordered consumer
    // cannot be recreated on a deleted stream, so the watch says why and ends, within two
    // heartbeat intervals (5 s each for watchers) instead of stalling.
    let (_server, js, kv) = bucket(Config::new("B")).await;
    let mut w = kv.watch_all().await.unwrap();
    assert_eq!(next_event(&mut w).await, WatchEvent::InitialDone);
    kv.put("a", "1").await.unwrap();
    assert_eq!(next_entry(&mut w).await.key, "a");
    gnat_kv::delete_bucket(&js, "B").await.unwrap();
    let deleted = tokio::time::Instant::now();
    let err = match within("the watch ends", w.next()).await {
        Some(Err(e)) => e,
        other => panic!("expected an error, got {other:?}"),
    };
    let took = deleted.elapsed();
    assert!(
        err.is_bucket_not_found() || err.jetstream().is_some_and(|j| j.is_stream_not_found()),
        "{err:?}"
    );
    assert!(took <= Duration::from_secs(11), "{took:?}");
    assert!(within("end", w.next()).await.is_none());
}
