//! Per-key TTLs and limit markers (ADR-43, ADR-48; spec §6 items 60–62) against a real
//! nats-server: sub-second TTLs sent as they are, a create after a delete that keeps its TTL,
//! expiries a watcher sees as purges, and purge-deletes.

mod common;

use std::time::Duration;

use common::*;
use gnat_kv::{Config, Operation, PurgeOptions, WatchEvent, WatchOptions};

fn markers(history: u32) -> Config {
    Config::new("T")
        .history(history)
        .limit_marker_ttl(Duration::from_secs(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_needs_limit_markers_and_at_least_a_second() {
    // Spec §6 item 60.
    let (_server, _js, kv) = bucket(Config::new("PLAIN")).await;
    let e = kv
        .create_with_ttl("k", "v", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(e.err_code(), Some(10166), "{e}");
    let (_server, _js, kv) = bucket(markers(1)).await;
    let e = kv
        .create_with_ttl("k", "v", Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(e.err_code(), Some(10165), "{e}");
    assert_eq!(kv.get("k").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_second_ttl_is_kept() {
    let (_server, js, kv) = bucket(markers(1)).await;
    let rev = kv
        .create_with_ttl("k", "v", Duration::from_millis(1500))
        .await
        .unwrap();
    let stored = js.get_message("KV_T", rev).await.unwrap();
    assert_eq!(stored.headers.unwrap().get("Nats-TTL"), Some("1.5s"));
    let mut w = kv.watch("k").await.unwrap();
    assert_eq!(next_entry(&mut w).await.revision, rev);
    assert_eq!(next_event(&mut w).await, WatchEvent::InitialDone);
    // It expires and the server leaves a marker the watcher sees as a purge.
    let e = next_entry(&mut w).await;
    assert_eq!((e.key.as_ref(), e.operation), ("k", Operation::Purge));
    assert!(e.revision > rev);
    assert_eq!(kv.get("k").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_after_delete_keeps_the_ttl() {
    for history in [1, 5] {
        let (_server, js, kv) = bucket(markers(history)).await;
        kv.put("lock", "old holder").await.unwrap();
        let del = kv.delete("lock").await.unwrap();
        let rev = kv
            .create_with_ttl("lock", "new holder", Duration::from_secs(2))
            .await
            .unwrap();
        assert!(rev > del);
        let stored = js.get_message("KV_T", rev).await.unwrap();
        let headers = stored.headers.unwrap();
        assert_eq!(headers.get("Nats-TTL"), Some("2s"), "history {history}");
        assert_eq!(
            headers.get("Nats-Expected-Last-Subject-Sequence"),
            Some(&*del.to_string())
        );
        assert!(kv.create("lock", "x").await.unwrap_err().is_key_exists());
        // The key expires.
        eventually("the created key expires", || async {
            kv.get("lock").await.unwrap().is_none().then_some(())
        })
        .await;
        // And after expiry it can be created again (over the limit marker).
        let again = kv
            .create_with_ttl("lock", "third", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(kv.entry("lock").await.unwrap().unwrap().revision, again);
    }
}

/// What each write sends, as the server stored it: a put has no headers; a delete and a
/// purge say so, with the expected revision and TTL they were given; a purge rolls up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_stored_with_their_headers() {
    let (_server, js, kv) = bucket(markers(5)).await;
    let headers = |rev: u64| {
        let js = js.clone();
        async move {
            let stored = js.get_message("KV_T", rev).await.unwrap();
            let h = stored.headers.unwrap_or_default();
            // Every write carries the Nats-Msg-Id gnat-jetstream stamps it with, for exact
            // resends after a lost connection; the rest are the write's own.
            assert_eq!(h.get("Nats-Msg-Id").map(str::len), Some(22), "{h:?}");
            h.iter()
                .filter(|(n, _)| *n != "Nats-Msg-Id")
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        }
    };
    let owned = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let put = kv.put("k", "v").await.unwrap();
    assert_eq!(headers(put).await, owned(&[]));
    let created = kv.create("c", "v").await.unwrap();
    assert_eq!(
        headers(created).await,
        owned(&[("Nats-Expected-Last-Subject-Sequence", "0")])
    );
    let del = kv.delete_expecting("k", put).await.unwrap();
    let expected = put.to_string();
    assert_eq!(
        headers(del).await,
        owned(&[
            ("KV-Operation", "DEL"),
            ("Nats-Expected-Last-Subject-Sequence", &expected),
        ])
    );
    let purge = kv
        .purge_with(
            "k",
            PurgeOptions::new()
                .expected_revision(del)
                .ttl(Duration::from_secs(90)),
        )
        .await
        .unwrap();
    let expected = del.to_string();
    let mut got = headers(purge).await;
    got.sort();
    let mut want = owned(&[
        ("KV-Operation", "PURGE"),
        ("Nats-Expected-Last-Subject-Sequence", &expected),
        ("Nats-Rollup", "sub"),
        ("Nats-TTL", "1m30s"),
    ]);
    want.sort();
    assert_eq!(got, want);
    // The rollup left only the purge entry of the key.
    let history = kv.history("k").await.unwrap();
    let revisions: Vec<u64> = history.iter().map(|e| e.revision).collect();
    assert_eq!(revisions, vec![purge]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_with_ttl_expires() {
    // Spec §6 item 61.
    let (_server, _js, kv) = bucket(markers(5)).await;
    kv.put("k", "1").await.unwrap();
    let mut w = kv
        .watch_with(["k"], WatchOptions::new().updates_only())
        .await
        .unwrap();
    assert_eq!(next_event(&mut w).await, WatchEvent::InitialDone);
    let p = kv
        .purge_with("k", PurgeOptions::new().ttl(Duration::from_secs(1)))
        .await
        .unwrap();
    let e = next_entry(&mut w).await;
    assert_eq!((e.revision, e.operation), (p, Operation::Purge));
    assert_eq!(kv.get("k").await.unwrap(), None);
    // The purge entry itself goes away.
    eventually("the purge entry expires", || async {
        let h = kv.history("k").await.unwrap();
        (!h.iter().any(|e| e.revision == p)).then_some(())
    })
    .await;
    assert_eq!(kv.get("k").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_ttl_leaves_markers_a_watcher_sees() {
    // Spec §6 item 62.
    let config = Config::new("AGE")
        .ttl(Duration::from_secs(1))
        .limit_marker_ttl(Duration::from_secs(1));
    let (_server, _js, kv) = bucket(config).await;
    let mut w = kv.watch_all().await.unwrap();
    assert_eq!(next_event(&mut w).await, WatchEvent::InitialDone);
    let r = kv.put("k", "v").await.unwrap();
    assert_eq!(next_entry(&mut w).await.revision, r);
    let e = next_entry(&mut w).await;
    assert_eq!(
        (e.key.as_ref(), e.operation),
        ("k", Operation::Purge),
        "{e:?}"
    );
    assert!(e.value.is_empty());
    assert_eq!(kv.get("k").await.unwrap(), None);
    // The marker is a tombstone: create works over it.
    kv.create("k", "again").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_deletes_removes_tombstones() {
    let (_server, _js, kv) = bucket(Config::new("C").history(5)).await;
    for k in ["a", "b", "c"] {
        kv.put(k, "1").await.unwrap();
        kv.put(k, "2").await.unwrap();
    }
    kv.delete("a").await.unwrap();
    kv.purge("b").await.unwrap();
    assert_eq!(kv.status().await.unwrap().values(), 2 + 1 + 2 + 1);
    // Young tombstones are kept (only their history goes).
    let removed = kv.purge_deletes(Duration::from_secs(3600)).await.unwrap();
    assert_eq!(removed, 2);
    let h = kv.history("a").await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].operation, Operation::Delete);
    assert_eq!(kv.status().await.unwrap().values(), 1 + 1 + 2);
    // Every tombstone goes with a zero threshold.
    let removed = kv.purge_deletes(Duration::ZERO).await.unwrap();
    assert_eq!(removed, 2);
    assert!(kv.history("a").await.unwrap().is_empty());
    assert!(kv.history("b").await.unwrap().is_empty());
    assert_eq!(kv.history("c").await.unwrap().len(), 2);
    assert_eq!(kv.keys().await.unwrap(), vec!["c"]);
    assert_eq!(kv.purge_deletes(Duration::ZERO).await.unwrap(), 0);
}
