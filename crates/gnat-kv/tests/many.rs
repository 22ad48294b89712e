//! `get_many` against a real nats-server: the same answers as one get per key (missing,
//! deleted and purged keys included), one request per 1024 keys, order and repeats kept,
//! keys checked before anything is sent, and the fallback for buckets without direct get.

mod common;

use common::*;
use gnat_kv::{Config, Store};

/// 100 keys: 60 with values (some updated), 10 deleted, 10 purged, 20 never written.
async fn mixed(kv: &Store) -> Vec<String> {
    let mut keys = Vec::new();
    for i in 0..80 {
        let k = format!("k.{i}");
        kv.put(&k, format!("v{i}")).await.unwrap();
        if i % 7 == 0 {
            kv.put(&k, format!("v{i}b")).await.unwrap();
        }
        keys.push(k);
    }
    for i in 60..70 {
        kv.delete(&format!("k.{i}")).await.unwrap();
    }
    for i in 70..80 {
        kv.purge(&format!("k.{i}")).await.unwrap();
    }
    for i in 0..20 {
        keys.push(format!("missing.{i}"));
    }
    // Not sorted: the answer must follow the input order.
    keys.reverse();
    keys.swap(3, 50);
    keys
}

async fn one_by_one(kv: &Store, keys: &[String]) -> Vec<Option<gnat_kv::Entry>> {
    let mut out = Vec::new();
    for k in keys {
        out.push(kv.entry(k).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_keys_equal_single_gets_in_one_request() {
    let (_server, js, kv) = bucket(Config::new("M").history(3)).await;
    let keys = mixed(&kv).await;
    let expected = one_by_one(&kv, &keys).await;
    assert_eq!(expected.iter().filter(|e| e.is_some()).count(), 60);

    let sent = js.client().statistics().out_messages;
    let got = kv.get_many(&keys).await.unwrap();
    assert_eq!(
        js.client().statistics().out_messages - sent,
        1,
        "one request for 100 keys"
    );
    assert_eq!(got, expected);

    // Repeats, and any iterable of strings.
    let got = kv
        .get_many(["k.1", "missing.0", "k.1", "k.65"])
        .await
        .unwrap();
    assert_eq!(got[0].as_ref().unwrap().value, "v1");
    assert_eq!(got[0], got[2]);
    assert!(got[1].is_none() && got[3].is_none());
    assert!(kv.get_many(Vec::<String>::new()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_checked_before_anything_is_sent() {
    let (_server, js, kv) = bucket(Config::new("M")).await;
    let sent = js.client().statistics().out_messages;
    for bad in ["a b", "a.*", "a.>", "", ".a", "a\r\nPUB x 1"] {
        let e = kv.get_many(["ok", bad]).await.unwrap_err();
        assert!(e.is_invalid_key(), "{bad:?}: {e}");
    }
    assert_eq!(js.client().statistics().out_messages, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_keys_are_chunked() {
    let (_server, js, kv) = bucket(Config::new("BIG")).await;
    let n = 2500usize;
    let mut writers = Vec::new();
    for w in 0..10 {
        let kv = kv.clone();
        writers.push(tokio::spawn(async move {
            for i in (w..n).step_by(10) {
                kv.put(&format!("key.{i}"), format!("value {i}"))
                    .await
                    .unwrap();
            }
        }));
    }
    within("2,500 puts", async {
        for w in writers {
            w.await.unwrap();
        }
    })
    .await;
    let mut keys: Vec<String> = (0..n).map(|i| format!("key.{i}")).collect();
    keys.extend((0..100).map(|i| format!("nope.{i}")));
    let sent = js.client().statistics().out_messages;
    let got = within("get_many of 2,600 keys", kv.get_many(&keys))
        .await
        .unwrap();
    assert_eq!(
        js.client().statistics().out_messages - sent,
        3,
        "ceil(2600 / 1024) requests"
    );
    assert_eq!(got.len(), keys.len());
    for (i, e) in got.iter().enumerate() {
        if i < n {
            let e = e.as_ref().unwrap_or_else(|| panic!("key.{i} missing"));
            assert_eq!(e.key, keys[i].as_str());
            assert_eq!(e.value, format!("value {i}").into_bytes());
        } else {
            assert!(e.is_none(), "{}", keys[i]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_bucket_falls_back_to_single_gets() {
    let (_server, js) = jetstream().await;
    let mut stream = Config::new("OLD").history(3).to_stream_config().unwrap();
    stream.allow_direct = Some(false);
    js.create_stream(&stream).await.unwrap();
    let kv = gnat_kv::bind(&js, "OLD").await.unwrap();
    assert!(!kv.uses_direct_get());
    let keys = mixed(&kv).await;
    let expected = one_by_one(&kv, &keys).await;
    let sent = js.client().statistics().out_messages;
    let got = kv.get_many(&keys).await.unwrap();
    assert_eq!(js.client().statistics().out_messages - sent, 100);
    assert_eq!(got, expected);
}
