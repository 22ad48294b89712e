//! Live views against a real nats-server: the initial load, then every put, delete, purge
//! and expiry applied; filters; change notifications and read-your-writes; readers from
//! many tasks while it updates; server restarts; and the watcher's consumer going away with
//! the last handle.

mod common;

use std::time::Duration;

use common::*;
use gnat_kv::{Config, Store, ViewStatus};
use gnat_test_support::NatsServer;

/// Asserts the view holds exactly what the bucket's gets say for `keys`.
async fn assert_matches(view: &gnat_kv::LiveView, kv: &Store, keys: &[String]) {
    let mut present = 0;
    for k in keys {
        let want = kv.entry(k).await.unwrap();
        let got = view.get(k);
        assert_eq!(
            got.as_ref()
                .map(|e| (e.revision, e.value.clone(), e.operation)),
            want.as_ref()
                .map(|e| (e.revision, e.value.clone(), e.operation)),
            "{k}"
        );
        present += usize::from(want.is_some());
    }
    assert_eq!(view.len(), present);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_then_follows_every_change() {
    let (_server, js, kv) = bucket(Config::new("V").history(3)).await;
    let keys: Vec<String> = (0..60).map(|i| format!("k.{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        kv.put(k, format!("v{i}")).await.unwrap();
    }
    for k in &keys[40..50] {
        kv.delete(k).await.unwrap();
    }
    for k in &keys[50..] {
        kv.purge(k).await.unwrap();
    }
    let view = kv.live_view_all().await.unwrap();
    within("initial load", view.ready()).await.unwrap();
    assert!(view.is_ready());
    assert!(matches!(view.status(), ViewStatus::Live));
    assert_eq!(view.len(), 40);
    let last = js.stream_info("KV_V").await.unwrap().state.last_seq;
    assert_eq!(view.revision(), last);
    assert_matches(&view, &kv, &keys).await;
    assert_eq!(view.value("k.3").as_deref(), Some(&b"v3"[..]));
    assert!(view.contains_key("k.0") && !view.contains_key("k.45"));
    let mut listed: Vec<String> = view.keys().iter().map(|k| k.to_string()).collect();
    listed.sort();
    let mut expected: Vec<String> = keys[..40].to_vec();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(view.snapshot().len(), 40);
    let mut seen = 0;
    view.for_each(|e| {
        assert!(e.key.starts_with("k."));
        seen += 1;
    });
    assert_eq!(seen, 40);

    // Read-your-writes: put, then wait for the revision.
    let r = kv.put("new", "n").await.unwrap();
    assert_eq!(within("put", view.wait_for_revision(r)).await.unwrap(), r);
    assert_eq!(view.get("new").unwrap().revision, r);
    let r = kv.put("k.1", "changed").await.unwrap();
    within("update", view.wait_for_revision(r)).await.unwrap();
    assert_eq!(view.value("k.1").as_deref(), Some(&b"changed"[..]));
    let r = kv.delete("k.2").await.unwrap();
    within("delete", view.wait_for_revision(r)).await.unwrap();
    assert_eq!(view.get("k.2"), None);
    let r = kv.purge("k.3").await.unwrap();
    within("purge", view.wait_for_revision(r)).await.unwrap();
    assert_eq!(view.get("k.3"), None);
    let r = kv.create("k.45", "back").await.unwrap();
    within("create over a tombstone", view.wait_for_revision(r))
        .await
        .unwrap();
    assert_eq!(view.revision(), r);
    let mut all = keys.clone();
    all.push("new".into());
    assert_matches(&view, &kv, &all).await;
    assert!(view.error().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_bucket_is_ready_at_once_and_filters_apply() {
    let (_server, _js, kv) = bucket(Config::new("F")).await;
    let view = kv.live_view(["a.*", "c"]).await.unwrap();
    within("ready", view.ready()).await.unwrap();
    assert!(view.is_empty() && view.revision() == 0);
    kv.put("a.1", "1").await.unwrap();
    kv.put("b.1", "2").await.unwrap();
    kv.put("a.x.y", "3").await.unwrap();
    let r = kv.put("c", "4").await.unwrap();
    within("filtered changes", view.wait_for_revision(r))
        .await
        .unwrap();
    let mut keys: Vec<String> = view.keys().iter().map(|k| k.to_string()).collect();
    keys.sort();
    assert_eq!(keys, ["a.1", "c"]);
    assert!(kv.live_view(["a..b"]).await.unwrap_err().is_invalid_key());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_notify_every_handle() {
    let (_server, _js, kv) = bucket(Config::new("N")).await;
    let view = kv.live_view_all().await.unwrap();
    within("ready", view.ready()).await.unwrap();
    let mut waiters = Vec::new();
    for _ in 0..4 {
        let mut v = view.clone();
        waiters.push(tokio::spawn(async move {
            let mut last = 0;
            while last < 3 {
                last = v.changed().await.unwrap();
            }
            (last, v.get("k").map(|e| e.value))
        }));
    }
    for i in 1..=3 {
        kv.put("k", format!("{i}")).await.unwrap();
    }
    for w in waiters {
        let (rev, value) = within("notified", w).await.unwrap();
        assert_eq!(rev, 3);
        assert_eq!(value.as_deref(), Some(&b"3"[..]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_leave_the_view() {
    let config = Config::new("E").limit_marker_ttl(Duration::from_secs(1));
    let (_server, _js, kv) = bucket(config).await;
    let view = kv.live_view_all().await.unwrap();
    within("ready", view.ready()).await.unwrap();
    let r = kv
        .create_with_ttl("k", "v", Duration::from_secs(1))
        .await
        .unwrap();
    within("created", view.wait_for_revision(r)).await.unwrap();
    assert!(view.contains_key("k"));
    within("the marker", view.wait_for_revision(r + 1))
        .await
        .unwrap();
    assert!(!view.contains_key("k") && view.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_in_many_tasks_while_it_updates() {
    let (_server, _js, kv) = bucket(Config::new("R")).await;
    let view = kv.live_view_all().await.unwrap();
    within("ready", view.ready()).await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..8 {
        let (view, stop) = (view.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut reads = 0u64;
            let mut last = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Values only move forward.
                if let Some(e) = view.get("n") {
                    let n: u64 = e.value_str().unwrap().parse().unwrap();
                    assert!(n >= last);
                    last = n;
                }
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        }));
    }
    let mut r = 0;
    for i in 0..300u64 {
        r = kv.put("n", i.to_string()).await.unwrap();
        kv.put(&format!("other.{}", i % 50), "x").await.unwrap();
    }
    within("all writes", view.wait_for_revision(r + 1))
        .await
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in readers {
        assert!(h.await.unwrap() > 0);
    }
    assert_eq!(view.value("n").as_deref(), Some(&b"299"[..]));
    assert_eq!(view.len(), 51);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_server_restarts() {
    let mut server = NatsServer::start_jetstream();
    let js = context(&server.url()).await;
    let kv = gnat_kv::create_bucket(&js, Config::new("S")).await.unwrap();
    for i in 0..20 {
        kv.put(&format!("k.{i}"), "before").await.unwrap();
    }
    let view = kv.live_view_all().await.unwrap();
    within("ready", view.ready()).await.unwrap();
    let mut events = js.client().events();
    for round in 0..2 {
        tokio::task::block_in_place(|| server.restart());
        within("reconnect", async {
            while let Some(ev) = events.next().await {
                if matches!(ev, gnat_kv::jetstream::client::Event::Reconnected { .. }) {
                    break;
                }
            }
        })
        .await;
        // Writes right after a restart may need a retry while JetStream comes back.
        let r = eventually("a put after the restart", || async {
            kv.put(&format!("k.{round}"), format!("after {round}"))
                .await
                .ok()
        })
        .await;
        within("the view catches up", view.wait_for_revision(r))
            .await
            .unwrap();
        assert_eq!(
            view.value(&format!("k.{round}")).as_deref(),
            Some(format!("after {round}").as_bytes())
        );
    }
    assert_eq!(view.len(), 20);
    assert!(matches!(view.status(), ViewStatus::Live));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_handle_dropped_stops_the_watcher() {
    let (_server, js, kv) = bucket(Config::new("D")).await;
    kv.put("k", "v").await.unwrap();
    let consumers = || async { js.stream_info("KV_D").await.unwrap().state.consumer_count };
    let view = kv.live_view_all().await.unwrap();
    within("ready", view.ready()).await.unwrap();
    assert_eq!(consumers().await, 1);
    let copy = view.clone();
    drop(view);
    // One handle is left: still live.
    let r = kv.put("k", "w").await.unwrap();
    within("still updating", copy.wait_for_revision(r))
        .await
        .unwrap();
    assert_eq!(consumers().await, 1);
    drop(copy);
    eventually("the consumer is deleted", || async {
        (consumers().await == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_fails_at_start() {
    let (_server, js, kv) = bucket(Config::new("GONE")).await;
    gnat_kv::delete_bucket(&js, "GONE").await.unwrap();
    let e = kv.live_view_all().await.unwrap_err();
    assert!(e.is_bucket_not_found() || e.is_not_found(), "{e}");
}
