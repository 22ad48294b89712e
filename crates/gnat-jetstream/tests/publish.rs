//! Publishing with acks against a real nats-server: no stream, de-duplication, expectations,
//! per-message TTL, and pipelined publishing.

mod common;

use std::time::{Duration, Instant};

use gnat_jetstream::{
    Context, ErrorKind, PubAck, PublishOptions, Rollup, StorageType, StreamConfig,
};

async fn stream(js: &Context, name: &str, subjects: &str) {
    js.create_stream(
        StreamConfig::new(name)
            .subjects([subjects])
            .storage(StorageType::Memory),
    )
    .await
    .unwrap();
}

/// Spec §6 item 22.
#[tokio::test(flavor = "multi_thread")]
async fn publish_without_a_stream_fails_fast_with_no_stream() {
    let (_server, js) = common::jetstream().await;
    let started = Instant::now();
    let err = js.publish("nobody.listens", "x").await.unwrap_err();
    assert!(err.is_no_stream(), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::NoStream);
    assert!(!err.is_timeout());
    let elapsed = started.elapsed();
    // Two retries 250 ms apart, far below the 5 s timeout.
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

    let started = Instant::now();
    let err = js
        .publish_with(
            "nobody.listens",
            PublishOptions::new().retry(0, Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
    assert!(err.is_no_stream());
    assert!(started.elapsed() < Duration::from_millis(500));
}

/// A stream created while publishes are being retried catches the retry (ADR-22).
#[tokio::test(flavor = "multi_thread")]
async fn retries_reach_a_stream_that_appears() {
    let (_server, js) = common::jetstream().await;
    let creator = js.clone();
    let publishing = tokio::spawn(async move {
        js.publish_with(
            "late.subject",
            PublishOptions::new()
                .payload("x")
                .retry(100, Duration::from_millis(50)),
        )
        .await
    });
    stream(&creator, "LATE", "late.>").await;
    let ack = common::within("retried publish", publishing)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ack.stream.as_str(), ack.seq), ("LATE", 1));
}

/// Spec §6 item 23.
#[tokio::test(flavor = "multi_thread")]
async fn duplicate_msg_id_is_acked_as_duplicate() {
    let (_server, js) = common::jetstream().await;
    stream(&js, "DUP", "dup.>").await;
    let opts = || PublishOptions::new().payload("once").msg_id("order-1");
    let first = js.publish_with("dup.a", opts()).await.unwrap();
    assert!(!first.duplicate);
    let second = js.publish_with("dup.a", opts()).await.unwrap();
    assert!(second.duplicate);
    assert_eq!(second.seq, first.seq);
    assert_eq!(second.stream, "DUP");
    assert_eq!(js.stream_info("DUP").await.unwrap().state.messages, 1);
}

/// Spec §6 item 24, and the other expectations.
#[tokio::test(flavor = "multi_thread")]
async fn expectations_keep_their_error_codes() {
    let (_server, js) = common::jetstream().await;
    stream(&js, "EXP", "exp.>").await;
    js.publish_with("exp.a", PublishOptions::new().msg_id("m1"))
        .await
        .unwrap(); // 1

    let err = js
        .publish_with("exp.a", PublishOptions::new().expected_last_sequence(7))
        .await
        .unwrap_err();
    assert_eq!(err.err_code(), Some(10071), "{err:?}");
    assert!(err.is_wrong_last_sequence());
    js.publish_with("exp.a", PublishOptions::new().expected_last_sequence(1))
        .await
        .unwrap(); // 2

    let err = js
        .publish_with("exp.a", PublishOptions::new().expected_stream("OTHER"))
        .await
        .unwrap_err();
    assert_eq!(err.err_code(), Some(10060), "{err:?}");
    js.publish_with("exp.a", PublishOptions::new().expected_stream("EXP"))
        .await
        .unwrap(); // 3

    // Subject sequence 0: the subject must be empty.
    let err = js
        .publish_with(
            "exp.a",
            PublishOptions::new().expected_last_subject_sequence(0),
        )
        .await
        .unwrap_err();
    assert!(err.is_wrong_last_sequence(), "{err:?}");
    let ack = js
        .publish_with(
            "exp.b",
            PublishOptions::new().expected_last_subject_sequence(0),
        )
        .await
        .unwrap();
    assert_eq!(ack.seq, 4);
    js.publish_with(
        "exp.b",
        PublishOptions::new().expected_last_subject_sequence(4),
    )
    .await
    .unwrap(); // 5

    // The companion subject: the last message on exp.a (3), checked on a publish to exp.c.
    let err = js
        .publish_with(
            "exp.c",
            PublishOptions::new()
                .expected_last_subject_sequence(2)
                .expected_last_subject_sequence_subject("exp.a"),
        )
        .await
        .unwrap_err();
    assert!(err.is_wrong_last_sequence(), "{err:?}");
    let ack = js
        .publish_with(
            "exp.c",
            PublishOptions::new()
                .expected_last_subject_sequence(3)
                .expected_last_subject_sequence_subject("exp.a"),
        )
        .await
        .unwrap();
    assert_eq!(ack.seq, 6);

    let err = js
        .publish_with("exp.a", PublishOptions::new().expected_last_msg_id("nope"))
        .await
        .unwrap_err();
    assert!(err.is_wrong_last_msg_id(), "{err:?}");
    assert_eq!(err.err_code(), Some(10070));
}

/// The sequence-only publish: the same ack checks, errors and retries as `publish_with`.
#[tokio::test(flavor = "multi_thread")]
async fn publish_with_seq_returns_the_stored_sequence() {
    let (_server, js) = common::jetstream().await;
    stream(&js, "SEQ", "seq.>").await;
    let seq = js
        .publish_with_seq("seq.a", PublishOptions::new().payload("one"))
        .await
        .unwrap();
    assert_eq!(seq, 1);
    let stored = js.get_message("SEQ", seq).await.unwrap();
    assert_eq!(
        (stored.subject.as_str(), &stored.payload[..]),
        ("seq.a", &b"one"[..])
    );
    let err = js
        .publish_with_seq(
            "seq.a",
            PublishOptions::new().expected_last_subject_sequence(0),
        )
        .await
        .unwrap_err();
    assert!(err.is_wrong_last_sequence(), "{err:?}");
    assert_eq!(err.err_code(), Some(10071));
    let seq = js
        .publish_with_seq(
            "seq.a",
            PublishOptions::new().expected_last_subject_sequence(1),
        )
        .await
        .unwrap();
    assert_eq!(seq, 2);

    let started = Instant::now();
    let err = js
        .publish_with_seq(
            "nobody.listens",
            PublishOptions::new().retry(1, Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert!(err.is_no_stream(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread")]
async fn message_ttl_with_sub_second_precision() {
    let (_server, js) = common::jetstream().await;
    js.create_stream(
        StreamConfig::new("TTL")
            .subjects(["ttl.>"])
            .storage(StorageType::Memory)
            .allow_msg_ttl(true),
    )
    .await
    .unwrap();
    let ack = js
        .publish_with(
            "ttl.short",
            PublishOptions::new()
                .payload("gone soon")
                .ttl(Duration::from_millis(1500)),
        )
        .await
        .unwrap();
    let kept = js
        .publish_with(
            "ttl.kept",
            PublishOptions::new().payload("kept").ttl_never(),
        )
        .await
        .unwrap();
    let stored = js.get_message("TTL", ack.seq).await.unwrap();
    assert_eq!(
        stored.headers.as_ref().and_then(|h| h.get("Nats-TTL")),
        Some("1.5s")
    );
    common::eventually("the message expires", || async {
        match js.get_message("TTL", ack.seq).await {
            Err(e) if e.is_no_message() => Some(()),
            Ok(_) => None,
            Err(e) => panic!("{e:?}"),
        }
    })
    .await;
    let age = stored.time.elapsed();
    // nats-server 2.15 accepts the sub-second value but keeps whole seconds: the message
    // goes after about 1 s.
    assert!(age >= Duration::from_millis(900), "expired after {age:?}");
    js.get_message("TTL", kept.seq).await.unwrap();

    // Below a second the server refuses (10165); without allow_msg_ttl, 10166.
    let err = js
        .publish_with(
            "ttl.short",
            PublishOptions::new().ttl(Duration::from_millis(500)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.err_code(), Some(10165), "{err:?}");
    stream(&js, "NOTTL", "nottl.>").await;
    let err = js
        .publish_with("nottl.a", PublishOptions::new().ttl(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(err.err_code(), Some(10166), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rollup_replaces_earlier_messages() {
    let (_server, js) = common::jetstream().await;
    js.create_stream(
        StreamConfig::new("ROLL")
            .subjects(["roll.>"])
            .storage(StorageType::Memory)
            .allow_rollup_hdrs(true),
    )
    .await
    .unwrap();
    for i in 0..3 {
        js.publish("roll.a", format!("a{i}")).await.unwrap();
        js.publish("roll.b", format!("b{i}")).await.unwrap();
    }
    js.publish_with(
        "roll.a",
        PublishOptions::new()
            .payload("a-all")
            .rollup(Rollup::Subject),
    )
    .await
    .unwrap();
    assert_eq!(js.stream_info("ROLL").await.unwrap().state.messages, 4);
    js.publish_with(
        "roll.b",
        PublishOptions::new()
            .payload("everything")
            .rollup(Rollup::All),
    )
    .await
    .unwrap();
    assert_eq!(js.stream_info("ROLL").await.unwrap().state.messages, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_publishes_are_all_acked_in_order() {
    let (_server, js) = common::jetstream().await;
    stream(&js, "PIPE", "pipe.>").await;
    let mut publisher = js.publisher(256).await.unwrap();
    assert_eq!(publisher.window(), 256);
    let n = 10_000u64;
    let mut handles = Vec::new();
    let mut claimed: Option<PubAck> = None;
    for i in 0..n {
        let h = publisher
            .publish(format!("pipe.{}", i % 7), format!("m{i}"))
            .await
            .unwrap();
        assert!(publisher.in_flight() <= 256);
        handles.push(h);
        if i == 100 {
            // Claiming one ack on the way does not disturb the others.
            claimed = Some(publisher.ack(handles[50]).await.unwrap());
        }
    }
    assert_eq!(claimed.map(|a| a.seq), Some(51));
    let results = publisher.wait_all().await;
    assert_eq!(publisher.in_flight(), 0);
    assert_eq!(results.len() as u64, n - 1);
    let mut expected_seq = 1u64;
    for (handle, result) in &results {
        if expected_seq == 51 {
            expected_seq += 1;
        }
        let ack = result.as_ref().unwrap();
        assert_eq!(ack.seq, expected_seq, "{handle:?}");
        assert_eq!(handle.index() + 1, ack.seq);
        assert_eq!(ack.stream, "PIPE");
        expected_seq += 1;
    }
    assert_eq!(expected_seq, n + 1);
    let err = publisher.ack(handles[50]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(publisher.wait_all().await.is_empty());
    let state = js.stream_info("PIPE").await.unwrap().state;
    assert_eq!((state.messages, state.last_seq), (n, n));
    let m = js.get_message("PIPE", 777).await.unwrap();
    assert_eq!(&m.payload[..], b"m776");

    // Each publish has its own result: acks, API errors and no-stream errors side by side.
    let a = publisher.publish("pipe.x", "ok").await.unwrap();
    let b = publisher
        .publish_with("pipe.x", PublishOptions::new().expected_last_sequence(1))
        .await
        .unwrap();
    let c = publisher.publish("nowhere.at.all", "lost").await.unwrap();
    let d = publisher
        .publish_with("pipe.y", PublishOptions::new().msg_id("once"))
        .await
        .unwrap();
    let e = publisher
        .publish_with("pipe.y", PublishOptions::new().msg_id("once"))
        .await
        .unwrap();
    assert!(publisher.ack(b).await.unwrap_err().is_wrong_last_sequence());
    assert!(publisher.ack(c).await.unwrap_err().is_no_stream());
    let rest = publisher.wait_all().await;
    let handles: Vec<_> = rest.iter().map(|(h, _)| *h).collect();
    assert_eq!(handles, vec![a, d, e]);
    let acks: Vec<PubAck> = rest.into_iter().map(|(_, r)| r.unwrap()).collect();
    assert_eq!(acks[0].seq, n + 1);
    assert!(!acks[1].duplicate && acks[2].duplicate && acks[1].seq == acks[2].seq);

    // completed() hands out what is finished without waiting.
    let f = publisher.publish("pipe.z", "z").await.unwrap();
    let done = common::eventually("the ack arrives", || {
        let got = publisher.completed();
        async move { (!got.is_empty()).then_some(got) }
    })
    .await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, f);
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_acks_time_out_individually() {
    let (_server, js) = common::jetstream().await;
    // A plain subscriber that never answers stands in for a stream that lost the ack.
    let _silent = js.client().subscribe("silent.>").await.unwrap();
    js.client().flush().await.unwrap();
    let js = js.with_timeout(Duration::from_millis(300));
    let mut publisher = js.publisher(4).await.unwrap();
    let started = Instant::now();
    for _ in 0..6 {
        publisher.send("silent.a", "x").await.unwrap();
    }
    // Untracked publishes cannot fail silently: finish reports every failure.
    let failures = publisher.finish().await.unwrap_err();
    assert_eq!((failures.failed(), failures.acked()), (6, 0));
    let indexes: Vec<u64> = failures.failures().iter().map(|(h, _)| h.index()).collect();
    assert_eq!(indexes, (0..6).collect::<Vec<_>>());
    assert!(failures.failures().iter().all(|(_, e)| e.is_timeout()));
    let as_error: gnat_jetstream::Error = failures.into();
    assert!(as_error.is_timeout(), "{as_error}");
    assert!(
        as_error.to_string().contains("6 of 6 publishes failed"),
        "{as_error}"
    );
    // Window 4: the last two waited for the first four to time out.
    assert!(started.elapsed() >= Duration::from_millis(550));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Untracked sends keep memory bounded by the window, and many tasks share one window.
#[tokio::test(flavor = "multi_thread")]
async fn sends_keep_memory_bounded_and_many_tasks_share_a_window() {
    let (_server, js) = common::jetstream().await;
    stream(&js, "BOUND", "bound.>").await;
    let mut publisher = js.publisher(32).await.unwrap();
    let mut most_kept = 0;
    for i in 0..5000u32 {
        publisher.send("bound.a", format!("{i}")).await.unwrap();
        most_kept = most_kept.max(publisher.kept());
    }
    assert!(most_kept <= 32, "kept {most_kept} slots");
    assert_eq!(publisher.finish().await.unwrap(), 5000);
    assert_eq!(publisher.kept(), 0);

    let shared = js.shared_publisher(64).await.unwrap();
    let tracked = shared
        .publish_with("bound.t", PublishOptions::new().payload("tracked"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..8u32 {
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..1000u32 {
                shared
                    .send(format!("bound.{t}"), format!("{i}"))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        common::within("sending task", t).await.unwrap();
    }
    let ack = shared.ack(tracked).await.unwrap();
    assert_eq!(ack.stream, "BOUND");
    assert_eq!(shared.finish().await.unwrap(), 8000);
    assert_eq!(
        js.stream_info("BOUND").await.unwrap().state.messages,
        13_001
    );
    // A failure among sends is reported, not lost.
    shared.send("bound.x", "ok").await.unwrap();
    shared
        .send_with(
            "bound.x",
            PublishOptions::new()
                .payload("no")
                .expected_last_sequence(1),
        )
        .await
        .unwrap();
    let failures = shared.finish().await.unwrap_err();
    assert_eq!((failures.acked(), failures.failed()), (1, 1));
    assert!(failures.failures()[0].1.is_wrong_last_sequence());
}
