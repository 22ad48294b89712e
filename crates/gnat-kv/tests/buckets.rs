//! Bucket management against a real nats-server: names and options checked before anything
//! is sent, the stream mapping (spec §6 items 32, 35–37, 59, 63–65), create / update /
//! create-or-update / bind / delete, listings, and a status that is fresh on every call (58).

mod common;

use std::time::Duration;

use common::*;
use gnat_kv::jetstream::{StorageType, StoreCompression, StreamConfig};
use gnat_kv::{Config, Republish};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_history_are_checked_before_any_request() {
    // Spec §6 items 32 and 35.
    let (_server, js) = jetstream().await;
    let sent = js.client().statistics().out_messages;
    for bad in ["a b", "a.b", "a*", ""] {
        let e = gnat_kv::create_bucket(&js, Config::new(bad))
            .await
            .unwrap_err();
        assert!(e.is_invalid_bucket_name(), "{bad:?}: {e}");
        assert!(
            gnat_kv::bind(&js, bad)
                .await
                .unwrap_err()
                .is_invalid_bucket_name()
        );
        assert!(
            gnat_kv::delete_bucket(&js, bad)
                .await
                .unwrap_err()
                .is_invalid_bucket_name()
        );
    }
    let e = gnat_kv::create_bucket(&js, Config::new("B").history(65))
        .await
        .unwrap_err();
    assert!(e.is_invalid_config(), "{e}");
    assert_eq!(
        js.client().statistics().out_messages,
        sent,
        "something was sent"
    );
    assert!(js.stream_names().await.unwrap().is_empty());

    let kv = gnat_kv::create_bucket(&js, Config::new("A-b_1").history(64))
        .await
        .unwrap();
    assert_eq!(kv.bucket(), "A-b_1");
    let info = js.stream_info("KV_A-b_1").await.unwrap();
    assert_eq!(info.config.max_msgs_per_subject, Some(64));
    gnat_kv::create_bucket(&js, Config::new("h0").history(0))
        .await
        .unwrap();
    let info = js.stream_info("KV_h0").await.unwrap();
    assert_eq!(info.config.max_msgs_per_subject, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_is_a_kv_stream() {
    // Spec §6 items 36 and 37.
    let (_server, js) = jetstream().await;
    gnat_kv::create_bucket(&js, Config::new("B")).await.unwrap();
    let c = js.stream_info("KV_B").await.unwrap().config;
    assert_eq!(c.name, "KV_B");
    assert_eq!(c.subjects, Some(vec!["$KV.B.>".to_string()]));
    assert_eq!(c.allow_rollup_hdrs, Some(true));
    assert_eq!(c.deny_delete, Some(true));
    assert_eq!(c.allow_direct, Some(true));
    assert_eq!(c.deny_purge, Some(false));
    assert_eq!(c.discard, Some(gnat_kv::jetstream::DiscardPolicy::New));
    assert_eq!(c.max_age, None);
    assert_eq!(c.duplicate_window, Some(Duration::from_secs(120)));

    gnat_kv::create_bucket(&js, Config::new("T30").ttl(Duration::from_secs(30)))
        .await
        .unwrap();
    let c = js.stream_info("KV_T30").await.unwrap().config;
    assert_eq!(c.max_age, Some(Duration::from_secs(30)));
    assert_eq!(c.duplicate_window, Some(Duration::from_secs(30)));
    gnat_kv::create_bucket(&js, Config::new("T1h").ttl(Duration::from_secs(3600)))
        .await
        .unwrap();
    let c = js.stream_info("KV_T1h").await.unwrap().config;
    assert_eq!(c.duplicate_window, Some(Duration::from_secs(120)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_option_reaches_the_server() {
    let (_server, js) = jetstream().await;
    let config = Config::new("ALL")
        .description("all the options")
        .history(7)
        .ttl(Duration::from_millis(90_500))
        .max_bytes(1 << 20)
        .max_value_size(512)
        .storage(StorageType::Memory)
        .replicas(1)
        .compression(true)
        .republish(Republish {
            src: Some("$KV.ALL.>".into()),
            dest: "repub.ALL.>".into(),
            headers_only: Some(false),
        })
        .metadata("owner", "team-a")
        .limit_marker_ttl(Duration::from_millis(1500));
    let kv = gnat_kv::create_bucket(&js, config.clone()).await.unwrap();
    let c = js.stream_info("KV_ALL").await.unwrap().config;
    assert_eq!(c.description.as_deref(), Some("all the options"));
    assert_eq!(c.max_msgs_per_subject, Some(7));
    assert_eq!(c.max_age, Some(Duration::from_millis(90_500)));
    assert_eq!(c.duplicate_window, Some(Duration::from_millis(90_500)));
    assert_eq!(c.max_bytes, Some(1 << 20));
    assert_eq!(c.max_msg_size, Some(512));
    assert_eq!(c.storage, Some(StorageType::Memory));
    assert_eq!(c.compression, Some(StoreCompression::S2));
    assert_eq!(c.republish.as_ref().unwrap().dest, "repub.ALL.>");
    assert_eq!(c.metadata.as_ref().unwrap()["owner"], "team-a");
    // Spec §6 item 59: limit markers on an account with api.level ≥ 1.
    assert!(js.account_info().await.unwrap().api.level >= 1);
    assert_eq!(c.allow_msg_ttl, Some(true));
    assert_eq!(
        c.subject_delete_marker_ttl,
        Some(Duration::from_millis(1500))
    );

    // Status reports them.
    let status = kv.status().await.unwrap();
    assert_eq!(status.bucket(), "ALL");
    assert_eq!(status.history(), 7);
    assert_eq!(status.ttl(), Duration::from_millis(90_500));
    assert_eq!(status.limit_marker_ttl(), Duration::from_millis(1500));
    assert!(status.is_compressed());
    assert_eq!(status.backing_store(), "JetStream");
    assert_eq!(status.description(), Some("all the options"));
    assert_eq!(status.stream_info().config.name, "KV_ALL");
    let back = status.config();
    assert_eq!(
        (back.history, back.max_value_size, back.compression),
        (7, 512, true)
    );

    // Republish works.
    let mut repub = js.client().subscribe("repub.ALL.>").await.unwrap();
    js.client().flush().await.unwrap();
    kv.put("k", "v").await.unwrap();
    let m = within("republished", repub.next()).await.unwrap();
    assert_eq!(
        (m.subject.as_str(), &m.payload[..]),
        ("repub.ALL.k", &b"v"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_bind_delete() {
    // Spec §6 item 64, and the management errors.
    let (_server, js) = jetstream().await;
    let e = gnat_kv::update_bucket(&js, Config::new("B"))
        .await
        .unwrap_err();
    assert!(e.is_bucket_not_found() && e.is_not_found(), "{e}");
    assert_eq!(e.err_code(), Some(10059));
    let e = gnat_kv::bind(&js, "B").await.unwrap_err();
    assert!(e.is_bucket_not_found(), "{e}");

    let kv = gnat_kv::create_bucket(&js, Config::new("B").history(2))
        .await
        .unwrap();
    kv.put("k", "v").await.unwrap();
    // Identical: fine. Different: bucket exists (10058).
    gnat_kv::create_bucket(&js, Config::new("B").history(2))
        .await
        .unwrap();
    let e = gnat_kv::create_bucket(&js, Config::new("B").history(3))
        .await
        .unwrap_err();
    assert!(e.is_bucket_exists(), "{e}");
    assert_eq!(e.err_code(), Some(10058));

    let kv = gnat_kv::update_bucket(&js, Config::new("B").history(4))
        .await
        .unwrap();
    assert_eq!(kv.status().await.unwrap().history(), 4);
    let kv = gnat_kv::create_or_update_bucket(&js, Config::new("B").history(5))
        .await
        .unwrap();
    assert_eq!(kv.status().await.unwrap().history(), 5);
    let fresh = gnat_kv::create_or_update_bucket(&js, Config::new("C"))
        .await
        .unwrap();
    assert_eq!(fresh.status().await.unwrap().values(), 0);
    // The value survived the updates.
    let bound = gnat_kv::bind(&js, "B").await.unwrap();
    assert_eq!(bound.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert!(bound.uses_direct_get());

    gnat_kv::delete_bucket(&js, "B").await.unwrap();
    assert!(
        gnat_kv::bind(&js, "B")
            .await
            .unwrap_err()
            .is_bucket_not_found()
    );
    let e = gnat_kv::delete_bucket(&js, "B").await.unwrap_err();
    assert!(e.is_bucket_not_found(), "{e}");
    // The old handle now fails.
    assert!(kv.status().await.unwrap_err().is_bucket_not_found());
    let e = kv.put("k", "v").await.unwrap_err();
    assert!(e.is_no_responders(), "{e}");
    assert_eq!(
        e.to_string(),
        "kv (jetstream: no stream answered a write to $KV.B.k (no responders))"
    );

    // A stream named like a bucket but without per-subject limits is not one.
    js.create_stream(StreamConfig::new("KV_plain").subjects(["plain.>"]))
        .await
        .unwrap();
    let e = gnat_kv::bind(&js, "plain").await.unwrap_err();
    assert_eq!(e.kind(), gnat_kv::ErrorKind::NotABucket, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_skips_plain_streams() {
    // Spec §6 item 65.
    let (_server, js) = jetstream().await;
    assert!(gnat_kv::bucket_names(&js).await.unwrap().is_empty());
    assert!(gnat_kv::bucket_statuses(&js).await.unwrap().is_empty());
    js.create_stream(StreamConfig::new("ORDERS").subjects(["orders.>"]))
        .await
        .unwrap();
    for name in ["B", "C", "D"] {
        gnat_kv::create_bucket(&js, Config::new(name))
            .await
            .unwrap();
    }
    let mut names = gnat_kv::bucket_names(&js).await.unwrap();
    names.sort();
    assert_eq!(names, vec!["B", "C", "D"]);
    let b = gnat_kv::bind(&js, "B").await.unwrap();
    b.put("x", "1").await.unwrap();
    let mut statuses = gnat_kv::bucket_statuses(&js).await.unwrap();
    statuses.sort_by(|a, b| a.bucket().cmp(b.bucket()));
    let listed: Vec<(&str, u64)> = statuses.iter().map(|s| (s.bucket(), s.values())).collect();
    assert_eq!(listed, vec![("B", 1), ("C", 0), ("D", 0)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_fresh_on_every_call() {
    // Spec §6 item 58.
    let (_server, _js, kv) = bucket(Config::new("B").history(3).ttl(Duration::from_secs(60))).await;
    let s0 = kv.status().await.unwrap();
    assert_eq!((s0.values(), s0.bytes(), s0.history()), (0, 0, 3));
    assert_eq!(s0.ttl(), Duration::from_secs(60));
    assert_eq!(s0.backing_store(), "JetStream");
    assert!(!s0.is_compressed());
    assert_eq!(s0.limit_marker_ttl(), Duration::ZERO);
    kv.put("a", "1").await.unwrap();
    kv.put("a", "2").await.unwrap();
    kv.delete("a").await.unwrap();
    let s1 = kv.status().await.unwrap();
    // History and tombstones count.
    assert_eq!(s1.values(), 3);
    assert!(s1.bytes() > 0);
    kv.put("b", "1").await.unwrap();
    assert_eq!(kv.status().await.unwrap().values(), 4);
    // s1 is a snapshot; the stream info is complete.
    assert_eq!(s1.values(), 3);
    assert_eq!(s1.stream_info().state.last_seq, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn value_size_and_bucket_size_limits() {
    // Spec §6 item 63.
    let (_server, _js, kv) = bucket(Config::new("B").max_value_size(100)).await;
    kv.put("small", vec![b'x'; 100]).await.unwrap();
    let e = kv.put("big", vec![b'x'; 101]).await.unwrap_err();
    assert_eq!(e.err_code(), Some(10054), "{e}");
    assert_eq!(kv.get("big").await.unwrap(), None);

    let (_server, _js, kv) = bucket(Config::new("F").max_bytes(2048)).await;
    let mut refused = None;
    for i in 0..100 {
        if let Err(e) = kv.put(&format!("k{i}"), vec![b'x'; 200]).await {
            refused = Some((i, e));
            break;
        }
    }
    let (i, e) = refused.expect("a full bucket refuses new values");
    assert!(i > 0 && e.code().is_some(), "{e}");
    assert!(kv.status().await.unwrap().bytes() <= 2048);
}
