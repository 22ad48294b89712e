//! Distributed counters (ADR-49) against a real nats-server: exact totals under concurrency,
//! big and negative increments, batched reads, and a counter stream summing two sources.

mod common;

use gnat_jetstream::{Context, CounterValue, StorageType, StreamConfig, StreamSource};

async fn counter_stream(js: &Context, name: &str, subjects: &str) {
    js.create_stream(
        StreamConfig::new(name)
            .subjects([subjects])
            .storage(StorageType::Memory)
            .allow_msg_counter(true)
            .allow_direct(true),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_two_tasks_incrementing_eight_counters_give_exact_totals() {
    let (_server, js) = common::jetstream().await;
    counter_stream(&js, "HITS", "hits.>").await;
    let counter = js.counter("HITS").await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..32u64 {
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let subject = format!("hits.{}", task % 8);
            // Tasks 0..8 subtract 1 each time, the others add `task`.
            let delta: i64 = if task < 8 { -1 } else { task as i64 };
            for _ in 0..1000 {
                counter.add(&subject, delta).await.unwrap();
            }
        }));
    }
    for t in tasks {
        common::within("incrementing task", t).await.unwrap();
    }
    let mut subjects = Vec::new();
    for s in 0..8u64 {
        // Tasks s, s+8, s+16, s+24 wrote subject s.
        let expected = -1000 + 1000 * ((s + 8) + (s + 16) + (s + 24)) as i64;
        let entry = counter.get(format!("hits.{s}")).await.unwrap();
        assert_eq!(entry.value.to_i64(), Some(expected), "hits.{s}");
        assert!(entry.sources.is_empty());
        subjects.push(format!("hits.{s}"));
    }
    let info = js.stream_info("HITS").await.unwrap();
    assert_eq!(info.state.messages, 32_000);

    let many = counter.get_many(&["hits.>"]).await.unwrap();
    assert_eq!(many.len(), 8);
    for entry in many {
        let s: i64 = entry.subject["hits.".len()..].parse().unwrap();
        let expected = -1000 + 1000 * ((s + 8) + (s + 16) + (s + 24));
        assert_eq!(entry.value.to_i64(), Some(expected));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn values_beyond_i128_and_negative_deltas_are_exact() {
    let (_server, js) = common::jetstream().await;
    counter_stream(&js, "BIG", "big.>").await;
    let counter = js.counter("BIG").await.unwrap();
    let huge: CounterValue = "170141183460469231731687303715884105727000"
        .parse()
        .unwrap();
    assert_eq!(huge.to_i128(), None);
    let v = counter.add("big.a", huge.clone()).await.unwrap();
    assert_eq!(v, huge);
    let v = counter.add("big.a", huge.clone()).await.unwrap();
    assert_eq!(v.as_str(), "340282366920938463463374607431768211454000");
    let minus: CounterValue = "-340282366920938463463374607431768211454001"
        .parse()
        .unwrap();
    let v = counter.add("big.a", minus).await.unwrap();
    assert_eq!(v.to_i64(), Some(-1));
    let entry = counter.get("big.a").await.unwrap();
    assert_eq!(entry.value.as_str(), "-1");
    assert_eq!(
        entry.increment.unwrap().as_str(),
        "-340282366920938463463374607431768211454001"
    );
    assert_eq!(counter.add("big.a", 0).await.unwrap().as_str(), "-1");
    assert!(counter.value("big.never").await.unwrap().is_zero());
    assert!(counter.get("big.never").await.unwrap_err().is_no_message());
    // A stream without counters refuses the increment with its code.
    js.create_stream(
        StreamConfig::new("PLAIN")
            .subjects(["plain.>"])
            .allow_direct(true),
    )
    .await
    .unwrap();
    let err = js.counter_add("plain.a", 1).await.unwrap_err();
    assert!(err.is_counter_error(), "{err:?}");
    assert!(js.counter("PLAIN").await.is_err());
}

/// ADR-49 source-based counters: the aggregate sums its sources and keeps what it saw from
/// each in `Nats-Counter-Sources`.
#[tokio::test(flavor = "multi_thread")]
async fn a_counter_stream_sourcing_two_others_sums_them() {
    let (_server, js) = common::jetstream().await;
    counter_stream(&js, "EU", "cnt.eu.>").await;
    counter_stream(&js, "US", "cnt.us.>").await;
    js.create_stream(
        StreamConfig::new("ALL")
            .subjects(["cnt.all.>"])
            .storage(StorageType::Memory)
            .allow_msg_counter(true)
            .allow_direct(true)
            .source(StreamSource::new("EU").subject_transform("cnt.eu.>", "cnt.all.>"))
            .source(StreamSource::new("US").subject_transform("cnt.us.>", "cnt.all.>")),
    )
    .await
    .unwrap();
    let eu = js.counter("EU").await.unwrap();
    let us = js.counter("US").await.unwrap();
    let all = js.counter("ALL").await.unwrap();
    for i in 1..=10i64 {
        eu.add("cnt.eu.hits", i).await.unwrap();
        us.add("cnt.us.hits", -2 * i).await.unwrap();
    }
    us.add("cnt.us.hits", 1000).await.unwrap();
    // EU: 55, US: -110 + 1000 = 890.
    let entry = common::eventually("the aggregate counts both sources", || {
        let all = all.clone();
        async move {
            let e = all.get("cnt.all.hits").await.ok()?;
            (e.value.to_i64() == Some(945)).then_some(e)
        }
    })
    .await;
    assert_eq!(entry.sources["EU"]["cnt.eu.hits"].to_i64(), Some(55));
    assert_eq!(entry.sources["US"]["cnt.us.hits"].to_i64(), Some(890));
    // A local change on the aggregate adds to the sourced totals.
    assert_eq!(
        all.add("cnt.all.hits", 5).await.unwrap().to_i64(),
        Some(950)
    );
    let many = all.get_many(&["cnt.all.hits"]).await.unwrap();
    assert_eq!(many.len(), 1);
    assert_eq!(many[0].sources.len(), 2);
}
