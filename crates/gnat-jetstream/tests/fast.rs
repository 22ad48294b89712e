//! Fast-ingest batch publishing (ADR-50, 2.14) against a real nats-server: flow-controlled
//! batches stored whole and in order, refusals with their codes, and per-message errors
//! reported in both gap modes.

mod common;

use gnat_jetstream::{
    Context, FastOptions, FastReport, PublishOptions, StorageType, StreamConfig, error::codes,
};

async fn fast_stream(js: &Context, name: &str, subjects: &str, batched: bool) {
    js.create_stream(
        StreamConfig::new(name)
            .subjects([subjects])
            .storage(StorageType::Memory)
            .allow_batched(batched),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fast_batch_is_stored_whole_and_in_order() {
    let (_server, js) = common::jetstream().await;
    fast_stream(&js, "FAST", "fast.>", true).await;
    let mut batch = js.fast_publisher(FastOptions::new()).await.unwrap();
    for i in 0..20_000u32 {
        batch.add("fast.m", format!("{i}")).await.unwrap();
        // Flow control keeps the unacknowledged part bounded.
        assert!(batch.sent() - batch.acked() <= 2 * 100 + 1, "{batch:?}");
    }
    let done = batch.commit("fast.m", "last").await.unwrap();
    assert_eq!(done.ack.count, Some(20_001));
    assert_eq!(done.ack.seq, 20_001);
    assert!(done.ack.batch.is_some());
    assert!(done.reports.is_empty(), "{:?}", done.reports);
    let info = js.stream_info("FAST").await.unwrap();
    assert_eq!(info.state.messages, 20_001);
    for seq in [1u64, 777, 20_000] {
        let m = js.get_message("FAST", seq).await.unwrap();
        assert_eq!(m.payload, format!("{}", seq - 1).as_bytes());
    }

    // The end-of-batch commit stores nothing more.
    let mut batch = js
        .fast_publisher(FastOptions::new().flow(10))
        .await
        .unwrap();
    for i in 0..55u32 {
        batch.add(format!("fast.e{}", i % 3), "x").await.unwrap();
    }
    let done = batch.commit_eob().await.unwrap();
    assert_eq!(done.ack.count, Some(55));
    assert_eq!(done.sent, 56);
    assert_eq!(js.stream_info("FAST").await.unwrap().state.messages, 20_056);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_without_allow_batched_refuses_the_first_message() {
    let (_server, js) = common::jetstream().await;
    fast_stream(&js, "SLOW", "slow.>", false).await;
    let mut batch = js.fast_publisher(FastOptions::new()).await.unwrap();
    let err = batch.add("slow.a", "x").await.unwrap_err();
    assert_eq!(
        err.err_code(),
        Some(codes::BATCH_PUBLISH_DISABLED),
        "{err:?}"
    );
    assert!(batch.add("slow.a", "y").await.is_err());
    assert_eq!(js.stream_info("SLOW").await.unwrap().state.messages, 0);
}

/// In `ok` mode a refused message is reported and the batch goes on.
#[tokio::test(flavor = "multi_thread")]
async fn with_gaps_allowed_a_refused_message_is_reported_and_the_batch_goes_on() {
    let (_server, js) = common::jetstream().await;
    fast_stream(&js, "OKM", "okm.>", true).await;
    let mut batch = js
        .fast_publisher(FastOptions::new().allow_gaps(true).flow(5))
        .await
        .unwrap();
    for i in 1..=20u64 {
        let mut options = PublishOptions::new().payload(format!("{i}"));
        if i == 7 {
            options = options.expected_last_sequence(1000);
        }
        batch.add_with("okm.a", options).await.unwrap();
    }
    let done = batch.commit_eob().await.unwrap();
    assert_eq!(js.stream_info("OKM").await.unwrap().state.messages, 19);
    assert_eq!(done.reported, 1, "{:?}", done.reports);
    match &done.reports[0] {
        FastReport::Error { seq, error } => {
            assert_eq!(*seq, 7);
            assert!(error.is_wrong_last_sequence(), "{error:?}");
        }
        other => panic!("{other:?}"),
    }
}

/// In `fail` mode a refused message ends the batch: the messages before it are stored, none
/// after, and the commit reports the error.
#[tokio::test(flavor = "multi_thread")]
async fn without_gaps_a_refused_message_ends_the_batch() {
    let (_server, js) = common::jetstream().await;
    fast_stream(&js, "FAIL", "fail.>", true).await;
    let mut batch = js.fast_publisher(FastOptions::new().flow(5)).await.unwrap();
    let mut refused_at = None;
    for i in 1..=50u64 {
        let mut options = PublishOptions::new().payload(format!("{i}"));
        if i == 7 {
            options = options.expected_last_sequence(1000);
        }
        if let Err(e) = batch.add_with("fail.a", options).await {
            refused_at = Some((i, e));
            break;
        }
    }
    // The server's error report ends the batch for the publisher too (within the messages
    // already sent by the time it arrives).
    let (at, err) = refused_at.expect("adding after the end fails");
    assert!(at > 7, "{at}");
    assert_eq!(err.kind(), gnat_jetstream::ErrorKind::InvalidInput);
    let done = batch.commit_eob().await.unwrap();
    assert_eq!(done.ack.count, Some(6));
    assert_eq!(done.ack.seq, 6);
    assert_eq!(done.reported, 1);
    assert!(
        matches!(&done.reports[0], FastReport::Error { seq: 7, error } if error.is_wrong_last_sequence()),
        "{done:?}"
    );
    assert_eq!(js.stream_info("FAIL").await.unwrap().state.messages, 6);
}
