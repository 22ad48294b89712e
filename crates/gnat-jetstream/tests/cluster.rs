//! A replicated stream on a 3-node cluster whose leader steps down while publishes are in
//! progress: publishes retry (same `Nats-Msg-Id`) like a real application, and every acked
//! sequence is stored afterwards.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gnat_jetstream::{Context, Error, PubAck, PublishOptions, StreamConfig};
use gnat_test_support::Cluster;

/// Errors a publisher retries through a leader change.
fn transient(e: &Error) -> bool {
    e.is_timeout()
        || e.is_no_stream()
        || matches!(e.code(), Some(500 | 503))
        || e.client_kind() == Some(gnat_jetstream::client::ErrorKind::Disconnected)
}

async fn publish_until_acked(js: &Context, i: u64, retries: &mut u64) -> PubAck {
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    loop {
        let options = PublishOptions::new()
            .payload(format!("m{i}"))
            .msg_id(format!("id-{i}"));
        match js.publish_with(format!("r3.{}", i % 10), options).await {
            Ok(ack) => return ack,
            Err(e) if transient(&e) && tokio::time::Instant::now() < deadline => *retries += 1,
            Err(e) => panic!("publish {i}: {e:?}"),
        }
    }
}

async fn leader(js: &Context) -> String {
    common::eventually("the stream has a leader", || async {
        js.stream_info("R3")
            .await
            .ok()
            .and_then(|info| info.cluster?.leader)
    })
    .await
}

async fn step_down(js: &Context) {
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    loop {
        match js
            .request_raw("STREAM.LEADER.STEPDOWN.R3", Bytes::new())
            .await
        {
            Ok(reply) if reply.status().is_none() => {
                let v: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
                if v["success"] == true {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "step-down refused: {v}"
                );
            }
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "step-down failed: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn acked_publishes_survive_a_leader_step_down() {
    let cluster = Cluster::start(3);
    let urls = cluster.urls().join(",");
    let js = common::context(&urls)
        .await
        .with_timeout(Duration::from_secs(2));
    let info = common::eventually("the R3 stream is created", || async {
        match js
            .create_stream(
                StreamConfig::new("R3")
                    .subjects(["r3.>"])
                    .num_replicas(3)
                    .allow_direct(true),
            )
            .await
        {
            Ok(info) => Some(info),
            Err(e) if transient(&e) => None,
            Err(e) => panic!("{e:?}"),
        }
    })
    .await;
    assert_eq!(info.config.num_replicas, Some(3));
    let first_leader = leader(&js).await;

    let n = 2000u64;
    let progress = Arc::new(AtomicU64::new(0));
    let stepper = {
        let js = js.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            // Step down once a quarter of the publishes are acked, while they go on.
            common::eventually("a quarter acked", || async {
                (progress.load(Ordering::Relaxed) >= n / 4).then_some(())
            })
            .await;
            step_down(&js).await;
        })
    };

    let mut acks = BTreeMap::new();
    let mut retries = 0;
    for i in 0..n {
        let ack = publish_until_acked(&js, i, &mut retries).await;
        assert_eq!(ack.stream, "R3");
        acks.insert(i, ack.seq);
        progress.store(i + 1, Ordering::Relaxed);
    }
    common::within("step-down", stepper).await.unwrap();
    let second_leader = leader(&js).await;
    assert_ne!(first_leader, second_leader, "the leader changed");
    println!("{retries} publishes retried through the step-down");

    // Each publish was stored once, and each acked sequence holds its message.
    let seqs: BTreeSet<u64> = acks.values().copied().collect();
    assert_eq!(seqs.len() as u64, n, "no two publishes share a sequence");
    let state = js.stream_info("R3").await.unwrap().state;
    assert_eq!(state.messages, n, "retries were de-duplicated");
    for (i, seq) in &acks {
        let stored = js.get_message("R3", *seq).await.unwrap();
        assert_eq!(stored.payload, Bytes::from(format!("m{i}")), "seq {seq}");
        assert_eq!(stored.subject, format!("r3.{}", i % 10));
        assert_eq!(
            stored.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")),
            Some(format!("id-{i}").as_str())
        );
    }
    // Replicas answer direct gets with the same data once they have caught up.
    let last = *seqs.last().unwrap();
    let direct = common::eventually("a replica answers the last message", || async {
        js.direct_get("R3", last).await.ok()
    })
    .await;
    assert_eq!(direct.sequence, last);
}

/// The publishing features of 2.12–2.14 on an R3 stream, where the server commits through
/// its replication log: an atomic batch is stored whole on every replica or not at all,
/// counters sum exactly, and a fast batch is acked whole.
#[tokio::test(flavor = "multi_thread")]
async fn replicated_batches_counters_and_fast_ingest() {
    let cluster = Cluster::start(3);
    let urls = cluster.urls().join(",");
    let js = common::context(&urls).await;
    for (name, subjects, counter) in [("AB", "ab.>", false), ("CNT", "cnt.>", true)] {
        common::eventually("an R3 stream is created", || async {
            let config = StreamConfig::new(name)
                .subjects([subjects])
                .num_replicas(3)
                .allow_direct(true);
            let config = if counter {
                config.allow_msg_counter(true)
            } else {
                config.allow_atomic(true).allow_batched(true)
            };
            match js.create_stream(config).await {
                Ok(info) => Some(info),
                Err(e) if transient(&e) => None,
                Err(e) => panic!("{e:?}"),
            }
        })
        .await;
    }

    let mut batch = js.atomic_batch();
    for i in 0..50 {
        batch.add(format!("ab.{i}"), format!("{i}")).await.unwrap();
    }
    let ack = batch.commit_eob().await.unwrap();
    assert_eq!((ack.count, ack.seq), (50, 50));
    let mut batch = js.atomic_batch();
    batch.add("ab.x", "1").await.unwrap();
    batch
        .add_with(
            "ab.0",
            PublishOptions::new()
                .payload("2")
                .expected_last_subject_sequence(99),
        )
        .await
        .unwrap();
    let err = batch.commit("ab.y", "3").await.unwrap_err();
    assert!(err.is_wrong_last_sequence(), "{err:?}");
    assert_eq!(js.stream_info("AB").await.unwrap().state.messages, 50);

    let counter = js.counter("CNT").await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8i64 {
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..100 {
                counter.add("cnt.total", t - 3).await.unwrap();
            }
        }));
    }
    for t in tasks {
        common::within("counting", t).await.unwrap();
    }
    // Σ (t - 3) for t in 0..8 is 4, a hundred times.
    assert_eq!(
        counter.get("cnt.total").await.unwrap().value.to_i64(),
        Some(400)
    );

    let mut fast = js
        .fast_publisher(gnat_jetstream::FastOptions::new())
        .await
        .unwrap();
    for i in 0..5000 {
        fast.add("ab.fast", format!("{i}")).await.unwrap();
    }
    let done = fast.commit_eob().await.unwrap();
    assert_eq!(done.ack.count, Some(5000));
    assert!(done.reports.is_empty(), "{:?}", done.reports);
    assert_eq!(js.stream_info("AB").await.unwrap().state.messages, 5050);
}
