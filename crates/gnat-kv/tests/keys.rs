//! Key operations against a real nats-server: validation before any request (spec §6 items
//! 33, 34), put/get/create/update/delete/purge/entry_at/revert (38–49), history and keys,
//! including on missing keys and empty buckets (returning at once), and a contended counter.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use gnat_kv::{Config, Operation, PurgeOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_keys_send_nothing() {
    // Spec §6 items 33 and 34.
    let (_server, js, kv) = bucket(Config::new("B")).await;
    let sent = js.client().statistics().out_messages;
    for bad in ["a b", ".a", "a.", "a..b", "a*", "a>", "", "a\r\nPUB x 1"] {
        assert!(
            kv.put(bad, "v").await.unwrap_err().is_invalid_key(),
            "{bad:?}"
        );
        assert!(kv.get(bad).await.unwrap_err().is_invalid_key(), "{bad:?}");
        assert!(kv.entry(bad).await.unwrap_err().is_invalid_key(), "{bad:?}");
        assert!(
            kv.entry_at(bad, 1).await.unwrap_err().is_invalid_key(),
            "{bad:?}"
        );
        assert!(
            kv.create(bad, "v").await.unwrap_err().is_invalid_key(),
            "{bad:?}"
        );
        assert!(
            kv.update(bad, "v", 1).await.unwrap_err().is_invalid_key(),
            "{bad:?}"
        );
        assert!(
            kv.delete(bad).await.unwrap_err().is_invalid_key(),
            "{bad:?}"
        );
        assert!(kv.purge(bad).await.unwrap_err().is_invalid_key(), "{bad:?}");
        assert!(
            kv.revert(bad, 1).await.unwrap_err().is_invalid_key(),
            "{bad:?}"
        );
    }
    for bad in ["a*", "a..b", ".", "a.>.b"] {
        assert!(kv.watch(bad).await.unwrap_err().is_invalid_key(), "{bad:?}");
        assert!(
            kv.history(bad).await.unwrap_err().is_invalid_key(),
            "{bad:?}"
        );
        assert!(
            kv.keys_matching([bad]).await.unwrap_err().is_invalid_key(),
            "{bad:?}"
        );
    }
    // Reserved keys: refused for writes (strict), readable.
    assert!(kv.put("_kv.x", "v").await.unwrap_err().is_invalid_key());
    assert!(kv.create("_kvx", "v").await.unwrap_err().is_invalid_key());
    assert!(kv.delete("_kv.x").await.unwrap_err().is_invalid_key());
    assert_eq!(
        js.client().statistics().out_messages,
        sent,
        "something was sent"
    );
    assert_eq!(kv.get("_kv.x").await.unwrap(), None);

    let rev = kv.put("a/b=c_d-e.f", "v").await.unwrap();
    let e = kv.entry("a/b=c_d-e.f").await.unwrap().unwrap();
    assert_eq!((e.key.as_ref(), e.revision), ("a/b=c_d-e.f", rev));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_and_revisions() {
    // Spec §6 items 38 and 41.
    let (_server, _js, kv) = bucket(Config::new("B")).await;
    assert_eq!(kv.get("missing").await.unwrap(), None);
    assert_eq!(kv.entry("missing").await.unwrap(), None);
    let mut last = 0;
    for i in 0..5 {
        let rev = kv.put(&format!("k{i}"), format!("v{i}")).await.unwrap();
        assert!(rev > last);
        last = rev;
    }
    let before = gnat_kv::Timestamp::now();
    let rev = kv.put("k0", "again").await.unwrap();
    let e = kv.entry("k0").await.unwrap().unwrap();
    assert_eq!(&*e.bucket, "B");
    assert_eq!(e.key, "k0");
    assert_eq!(&e.value[..], b"again");
    assert_eq!(e.value_str(), Some("again"));
    assert_eq!(e.revision, rev);
    assert_eq!(e.delta, 0);
    assert_eq!(e.operation, Operation::Put);
    assert!(e.created.unix_nanos() >= before.unix_nanos() - 1_000_000_000);
    // An empty value is a value.
    kv.put("empty", "").await.unwrap();
    assert_eq!(kv.get("empty").await.unwrap().as_deref(), Some(&b""[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_per_key() {
    // Spec §6 items 39 and 40.
    let (_server, _js, kv) = bucket(Config::new("H1")).await;
    kv.put("k", "1").await.unwrap();
    let r = kv.put("k", "2").await.unwrap();
    let h = kv.history("k").await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].revision, &h[0].value[..]), (r, &b"2"[..]));
    assert_eq!(kv.status().await.unwrap().values(), 1);

    let (_server, _js, kv) = bucket(Config::new("H5").history(5)).await;
    let mut revs = Vec::new();
    for i in 0..7 {
        revs.push(kv.put("k", format!("{i}")).await.unwrap());
        kv.put("other", "x").await.unwrap();
    }
    let h = kv.history("k").await.unwrap();
    let got: Vec<u64> = h.iter().map(|e| e.revision).collect();
    assert_eq!(got, revs[2..]);
    assert_eq!(h.last().unwrap().delta, 0);
    assert_eq!(&h[0].value[..], b"2");
    // A wildcard history covers several keys, in stream order.
    let all = kv.history(">").await.unwrap();
    assert_eq!(all.len(), 10);
    assert!(all.windows(2).all(|w| w[0].revision < w[1].revision));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_and_purge() {
    // Spec §6 items 42, 43 and 48.
    let (_server, _js, kv) = bucket(Config::new("B").history(10)).await;
    kv.put("d", "1").await.unwrap();
    let r2 = kv.put("d", "2").await.unwrap();
    let e = kv.delete_expecting("d", r2 - 1).await.unwrap_err();
    assert!(e.is_wrong_last_revision(), "{e}");
    assert_eq!(e.err_code(), Some(10071));
    let del = kv.delete_expecting("d", r2).await.unwrap();
    assert_eq!(kv.get("d").await.unwrap(), None);
    assert_eq!(kv.entry("d").await.unwrap(), None);
    let h = kv.history("d").await.unwrap();
    let ops: Vec<(Operation, &[u8])> = h.iter().map(|e| (e.operation, &e.value[..])).collect();
    assert_eq!(
        ops,
        vec![
            (Operation::Put, &b"1"[..]),
            (Operation::Put, &b"2"[..]),
            (Operation::Delete, &b""[..])
        ]
    );
    assert_eq!(h[2].revision, del);

    kv.put("p", "1").await.unwrap();
    let r = kv.put("p", "2").await.unwrap();
    assert!(
        kv.purge_with("p", PurgeOptions::new().expected_revision(r - 1))
            .await
            .unwrap_err()
            .is_wrong_last_revision()
    );
    let purged = kv
        .purge_with("p", PurgeOptions::new().expected_revision(r))
        .await
        .unwrap();
    assert_eq!(kv.get("p").await.unwrap(), None);
    let h = kv.history("p").await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].operation, h[0].revision), (Operation::Purge, purged));
    kv.put("q", "1").await.unwrap();
    kv.purge("q").await.unwrap();
    assert_eq!(kv.history("q").await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_update() {
    // Spec §6 items 44–47.
    let (_server, _js, kv) = bucket(Config::new("B").history(5)).await;
    let r1 = kv.create("k", "1").await.unwrap();
    let e = kv.create("k", "again").await.unwrap_err();
    assert!(e.is_key_exists() && !e.is_wrong_last_revision(), "{e}");
    assert_eq!(e.err_code(), Some(10071));
    // After a delete, and after a purge: new revisions.
    let del = kv.delete("k").await.unwrap();
    let r2 = kv.create("k", "2").await.unwrap();
    assert!(r2 > del);
    kv.purge("k").await.unwrap();
    let r3 = kv.create("k", "3").await.unwrap();
    assert!(r3 > r2);
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"3"[..]));
    let _ = r1;

    let r4 = kv.update("k", "4", r3).await.unwrap();
    let e = kv.update("k", "stale", r3).await.unwrap_err();
    assert!(e.is_wrong_last_revision(), "{e}");
    assert_eq!(e.err_code(), Some(10071));
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"4"[..]));
    assert!(
        kv.update("k", "x", 0)
            .await
            .unwrap_err()
            .is_wrong_last_revision()
    );
    let fresh = kv.update("new", "1", 0).await.unwrap();
    assert!(fresh > r4);
    assert_eq!(kv.get("new").await.unwrap().as_deref(), Some(&b"1"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_at_and_revert() {
    // Spec §6 item 49, and revert.
    let (_server, _js, kv) = bucket(Config::new("B").history(10)).await;
    let a1 = kv.put("a", "one").await.unwrap();
    let b1 = kv.put("b", "bee").await.unwrap();
    let a2 = kv.put("a", "two").await.unwrap();
    let e = kv.entry_at("a", a1).await.unwrap().unwrap();
    assert_eq!(
        (&e.value[..], e.revision, e.key.as_ref()),
        (&b"one"[..], a1, "a")
    );
    assert_eq!(kv.entry_at("a", b1).await.unwrap(), None);
    assert_eq!(kv.entry_at("a", a2 + 100).await.unwrap(), None);
    let d = kv.delete("a").await.unwrap();
    assert_eq!(kv.entry_at("a", d).await.unwrap(), None);

    let r = kv.revert("a", a1).await.unwrap();
    assert!(r > d);
    let e = kv.entry("a").await.unwrap().unwrap();
    assert_eq!((&e.value[..], e.revision), (&b"one"[..], r));
    assert!(kv.revert("a", b1).await.unwrap_err().is_key_not_found());
    assert!(kv.revert("a", d).await.unwrap_err().is_not_found());

    // revert_to: the same write from an entry already read (the CLI shows it first).
    let old = kv.entry_at("a", a2).await.unwrap().unwrap();
    let r2 = kv.revert_to(&old).await.unwrap();
    assert!(r2 > r);
    let e = kv.entry("a").await.unwrap().unwrap();
    assert_eq!((&e.value[..], e.revision), (&b"two"[..], r2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_only_lists_current_values() {
    // Spec §6 item 57.
    let (_server, _js, kv) = bucket(Config::new("B").history(3)).await;
    assert!(kv.keys().await.unwrap().is_empty());
    for k in ["a.x", "a.y", "b.x", "c", "gone", "purged"] {
        kv.put(k, "v").await.unwrap();
    }
    kv.put("a.x", "v2").await.unwrap();
    kv.delete("gone").await.unwrap();
    kv.purge("purged").await.unwrap();
    assert_eq!(kv.keys().await.unwrap(), vec!["a.y", "b.x", "c", "a.x"]);
    assert_eq!(kv.keys_matching(["a.*"]).await.unwrap(), vec!["a.y", "a.x"]);
    assert_eq!(
        kv.keys_matching(["a.x", "c"]).await.unwrap(),
        vec!["c", "a.x"]
    );
    assert_eq!(
        kv.keys_matching(["b.>", "c"]).await.unwrap(),
        vec!["b.x", "c"]
    );
    assert!(kv.keys_matching(["nothing.>"]).await.unwrap().is_empty());
    assert!(kv.keys_matching(["gone"]).await.unwrap().is_empty());
    // Streamed.
    let mut stream = kv.keys_stream([">"]).await.unwrap();
    let mut streamed = Vec::new();
    while let Some(k) = within("keys stream", stream.next()).await {
        streamed.push(k.unwrap());
    }
    assert_eq!(streamed, vec!["a.y", "b.x", "c", "a.x"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_and_missing_return_at_once() {
    let (_server, js, kv) = bucket(Config::new("B")).await;
    let start = Instant::now();
    assert!(kv.history("never").await.unwrap().is_empty());
    assert!(kv.history(">").await.unwrap().is_empty());
    assert!(kv.keys().await.unwrap().is_empty());
    kv.put("a", "1").await.unwrap();
    assert!(kv.history("never").await.unwrap().is_empty());
    assert!(kv.history("never.*").await.unwrap().is_empty());
    assert!(kv.keys_matching(["never"]).await.unwrap().is_empty());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // The readers' consumers are deleted once done.
    eventually("finished readers delete their consumers", || async {
        js.consumer_names("KV_B")
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contended_counter_with_update_retries() {
    let (_server, _js, kv) = bucket(Config::new("COUNTER")).await;
    kv.put("n", "0").await.unwrap();
    let tasks = 32u64;
    let per_task = 10u64;
    let conflicts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let kv = kv.clone();
        let conflicts = conflicts.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..per_task {
                loop {
                    let e = kv.entry("n").await.unwrap().unwrap();
                    let n: u64 = e.value_str().unwrap().parse().unwrap();
                    match kv.update("n", (n + 1).to_string(), e.revision).await {
                        Ok(_) => break,
                        Err(err) if err.is_wrong_last_revision() => {
                            conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(err) => panic!("update: {err}"),
                    }
                }
            }
        }));
    }
    within("the counter tasks", async {
        for h in handles {
            h.await.unwrap();
        }
    })
    .await;
    let n: u64 = kv
        .get("n")
        .await
        .unwrap()
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(n, tasks * per_task);
    assert!(
        conflicts.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "no contention at all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_bucket_without_direct_get() {
    // Buckets made before direct get existed are read through the stream leader.
    let (_server, js) = jetstream().await;
    let mut stream = Config::new("OLD").history(3).to_stream_config().unwrap();
    stream.allow_direct = Some(false);
    js.create_stream(&stream).await.unwrap();
    let kv = gnat_kv::bind(&js, "OLD").await.unwrap();
    assert!(!kv.uses_direct_get());
    assert_eq!(kv.get("k").await.unwrap(), None);
    let r1 = kv.put("k", "1").await.unwrap();
    let r2 = kv.put("k", "2").await.unwrap();
    let e = kv.entry("k").await.unwrap().unwrap();
    assert_eq!((e.revision, &e.value[..]), (r2, &b"2"[..]));
    assert_eq!(
        &kv.entry_at("k", r1).await.unwrap().unwrap().value[..],
        b"1"
    );
    assert_eq!(kv.entry_at("k", r2 + 5).await.unwrap(), None);
    kv.delete("k").await.unwrap();
    assert_eq!(kv.get("k").await.unwrap(), None);
    kv.create("k", "3").await.unwrap();
    assert_eq!(kv.keys().await.unwrap(), vec!["k"]);
}

/// Keys are `impl AsRef<str>` everywhere, as in `get_many` and `Client::publish`: `&str`,
/// `String`, `&String` and an entry's own `Key` all work, and old `&str` call sites still do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_take_any_string_like_argument() {
    let (_server, _js, kv) = bucket(Config::new("ANYKEY").history(5)).await;
    let owned = String::from("a.owned");
    let r1 = kv.put(owned.clone(), "1").await.unwrap();
    let r2 = kv.update(&owned, "2", r1).await.unwrap();
    let entry = kv.entry(owned.as_str()).await.unwrap().unwrap();
    assert_eq!(entry.revision, r2);
    // The entry's key (a `Key`) goes straight back in.
    assert_eq!(
        kv.get(&entry.key).await.unwrap().as_deref(),
        Some(&b"2"[..])
    );
    kv.create(format!("a.{}", "fresh"), "x").await.unwrap();
    assert_eq!(kv.history(String::from("a.owned")).await.unwrap().len(), 2);
    kv.delete(entry.key.clone()).await.unwrap();
    assert_eq!(kv.get("a.owned").await.unwrap(), None);
    // Invalid keys are still refused before anything is sent, whatever their type.
    assert!(
        kv.put(String::from("bad key"), "v")
            .await
            .unwrap_err()
            .is_invalid_key()
    );
}
