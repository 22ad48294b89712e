//! Writes in flight when the connection drops have one true outcome: the server is killed
//! under 8 writing tasks (plain and compare-and-set publishes) and started again on the same
//! ports and store; every write returns within 2 s of the restart, every acked write is
//! stored exactly once where its ack says, and no write reported failed is stored.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gnat_jetstream::client::{Backoff, ConnectOptions, State};
use gnat_jetstream::{Context, PublishOptions, StorageType, StreamConfig};
use gnat_test_support::NatsServer;
use gnat_test_support::proxy::Proxy;

struct Write {
    payload: String,
    started: Instant,
    returned: Instant,
    result: Result<(u64, bool), gnat_jetstream::Error>,
}

async fn fast_reconnecting_context(url: &str) -> Context {
    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(15))
        .reconnect_backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
            jitter: Duration::from_millis(10),
        })
        .connect(url)
        .await
        .unwrap();
    Context::new(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_in_flight_across_a_server_kill_have_one_true_outcome() {
    let mut server = NatsServer::start_jetstream();
    let js = fast_reconnecting_context(&server.url()).await;
    js.create_stream(
        StreamConfig::new("W")
            .subjects(["w.>"])
            .storage(StorageType::File),
    )
    .await
    .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for task in 0..8u64 {
        let (js, stop, done) = (js.clone(), stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let subject = format!("w.{task}");
            let cas = task % 2 == 1;
            let mut last_on_subject = 0u64;
            let mut writes = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let payload = format!("{task}-{i}");
                i += 1;
                let mut options = PublishOptions::new().payload(payload.clone());
                if cas {
                    options = options.expected_last_subject_sequence(last_on_subject);
                }
                let started = Instant::now();
                let result = js.publish_with(&subject, options).await;
                let returned = Instant::now();
                let result = result.map(|ack| (ack.seq, ack.duplicate));
                if let Ok((seq, _)) = &result {
                    last_on_subject = *seq;
                }
                let failed = result.is_err();
                writes.push(Write {
                    payload,
                    started,
                    returned,
                    result,
                });
                done.fetch_add(1, Ordering::Relaxed);
                if failed && cas {
                    // A CAS chain cannot go on without knowing its last sequence.
                    break;
                }
            }
            writes
        }));
    }

    // Let them write, then kill the server under them.
    common::eventually("writes before the kill", || async {
        (done.load(Ordering::Relaxed) >= 400).then_some(())
    })
    .await;
    let killed_at = Instant::now();
    tokio::task::block_in_place(|| server.kill());
    common::eventually("the client saw the disconnect", || async {
        (js.client().state() != State::Connected).then_some(())
    })
    .await;
    let before_restart = done.load(Ordering::Relaxed);
    tokio::task::block_in_place(|| server.start_again());
    let restarted = Instant::now();
    common::eventually("writes after the restart", || async {
        (done.load(Ordering::Relaxed) >= before_restart + 400).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut writes = Vec::new();
    for t in tasks {
        writes.extend(common::within("writer", t).await.unwrap());
    }

    // Every write returned within 2 s of the restart (or of its own start, if later).
    let mut across = 0;
    let mut duplicates = 0;
    for w in &writes {
        if w.started < restarted && w.returned > restarted {
            across += 1;
        }
        if w.returned > restarted {
            let from = w.started.max(restarted);
            let took = w.returned - from;
            assert!(
                took < Duration::from_secs(2),
                "{} took {took:?} after the restart: {:?}",
                w.payload,
                w.result
            );
        }
        if let Ok((_, true)) = w.result {
            duplicates += 1;
        }
    }
    assert!(across > 0, "no write was in flight across the restart");

    // Read the stream back: payload -> sequences.
    let last = js.stream_info("W").await.unwrap().state.last_seq;
    let mut stored: HashMap<String, Vec<u64>> = HashMap::new();
    for seq in 1..=last {
        match js.get_message("W", seq).await {
            Ok(m) => stored
                .entry(String::from_utf8(m.payload.to_vec()).unwrap())
                .or_default()
                .push(seq),
            Err(e) if e.is_no_message() => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    let mut failures = Vec::new();
    for w in &writes {
        match &w.result {
            Ok((seq, _)) => assert_eq!(
                stored.get(&w.payload).map(Vec::as_slice),
                Some(&[*seq][..]),
                "acked write {} must be stored once, at {seq}",
                w.payload
            ),
            Err(e) => {
                assert!(
                    !e.is_outcome_unknown(),
                    "{} could not be resent exactly: {e}",
                    w.payload
                );
                assert!(
                    !stored.contains_key(&w.payload),
                    "failed write {} is stored: {e}",
                    w.payload
                );
                failures.push(format!("{}: {e}", w.payload));
            }
        }
    }
    assert!(failures.is_empty(), "writes failed: {failures:?}");
    eprintln!(
        "{} writes, {across} in flight across the restart, {duplicates} acked as duplicates; down {:?}",
        writes.len(),
        restarted - killed_at
    );
}

/// A server behind a fault proxy, a fast-reconnecting context through the proxy, a direct
/// one beside it, and a stream `R` on `r.>` with `window` as its duplicate window.
async fn behind_proxy(window: Option<Duration>) -> (NatsServer, Proxy, Context, Context) {
    let server = NatsServer::start_jetstream();
    let proxy = Proxy::start(server.addr());
    let js = fast_reconnecting_context(&proxy.url()).await;
    let direct = common::context(&server.url()).await;
    let mut config = StreamConfig::new("R")
        .subjects(["r.>"])
        .storage(StorageType::Memory);
    if let Some(window) = window {
        config = config.duplicate_window(window);
    }
    direct.create_stream(config).await.unwrap();
    (server, proxy, js, direct)
}

/// Waits until a publish of `js` is waiting for its ack.
async fn sent(js: &Context) {
    common::eventually("the publish is sent", || async {
        (js.client().pending_requests() > 0).then_some(())
    })
    .await;
}

async fn stored(js: &Context) -> u64 {
    js.stream_info("R").await.unwrap().state.messages
}

/// The first attempt is stored but its ack is lost with the connection: the resend is acked
/// as a duplicate of it, for a plain publish and for a compare-and-set one (whose resend the
/// server refuses as "wrong last sequence" before looking at the duplicate window).
#[tokio::test(flavor = "multi_thread")]
async fn a_write_whose_ack_was_lost_is_acked_once_as_a_duplicate() {
    let (_server, proxy, js, direct) = behind_proxy(None).await;
    for (n, cas) in [(1u64, false), (2, true)] {
        let mut options = PublishOptions::new().payload(format!("m{n}"));
        if cas {
            options = options.expected_last_subject_sequence(n - 1);
        }
        // Acks take 300 ms through the proxy: time to see the message stored and cut.
        proxy.delay(Duration::from_millis(300));
        let publisher = js.clone();
        let publishing = tokio::spawn(async move { publisher.publish_with("r.a", options).await });
        common::eventually("the first attempt is stored", || async {
            (stored(&direct).await == n).then_some(())
        })
        .await;
        proxy.delay(Duration::ZERO);
        proxy.cut();
        let cut = Instant::now();
        let ack = common::within("the resent write", publishing)
            .await
            .unwrap()
            .unwrap();
        assert!(
            cut.elapsed() < Duration::from_secs(2),
            "{:?}",
            cut.elapsed()
        );
        assert!(ack.duplicate, "cas {cas}: {ack:?}");
        assert_eq!((ack.stream.as_str(), ack.seq), ("R", n));
        assert_eq!(stored(&direct).await, n);
    }
    // A genuine conflict is still reported as one.
    let err = js
        .publish_with(
            "r.a",
            PublishOptions::new().expected_last_subject_sequence(1),
        )
        .await
        .unwrap_err();
    assert!(err.is_wrong_last_sequence(), "{err:?}");
}

/// Where a resend cannot be exact the write fails at once as "outcome unknown": the stream
/// is gone, the outage outlasted the duplicate window, or resending is off.
#[tokio::test(flavor = "multi_thread")]
async fn an_inexact_resend_fails_at_once_as_outcome_unknown() {
    // The stream is deleted during the outage.
    let (_server, proxy, js, direct) = behind_proxy(None).await;
    js.publish("r.warm", "x").await.unwrap();
    proxy.stall();
    let publisher = js.clone();
    let publishing = tokio::spawn(async move { publisher.publish("r.a", "lost").await });
    direct.delete_stream("R").await.unwrap();
    sent(&js).await;
    proxy.cut();
    let cut = Instant::now();
    let err = common::within("the failed write", publishing)
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert!(
        cut.elapsed() < Duration::from_secs(1),
        "{:?}",
        cut.elapsed()
    );

    // The outage outlasts a 300 ms duplicate window.
    let (_server, proxy, js, _direct) = behind_proxy(Some(Duration::from_millis(300))).await;
    js.publish("r.warm", "x").await.unwrap();
    proxy.stall();
    let started = Instant::now();
    let publisher = js.clone();
    let publishing = tokio::spawn(async move { publisher.publish("r.a", "late").await });
    common::eventually("the window has passed", || async {
        (started.elapsed() > Duration::from_millis(400)).then_some(())
    })
    .await;
    sent(&js).await;
    proxy.cut();
    let cut = Instant::now();
    let err = common::within("the failed write", publishing)
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert!(
        cut.elapsed() < Duration::from_secs(1),
        "{:?}",
        cut.elapsed()
    );

    // Resending is off: the lost connection fails the write without waiting for it.
    proxy.stall();
    let publisher = js.clone();
    let publishing = tokio::spawn(async move {
        publisher
            .publish_with(
                "r.b",
                PublishOptions::new()
                    .payload("x")
                    .resend_on_reconnect(false),
            )
            .await
    });
    sent(&js).await;
    proxy.cut();
    let cut = Instant::now();
    let err = common::within("the failed write", publishing)
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert!(
        cut.elapsed() < Duration::from_secs(1),
        "{:?}",
        cut.elapsed()
    );
}

/// An atomic batch whose commit is in flight when the connection drops has one outcome too:
/// a commit that landed is found in the stream, one that never reached the server is sent
/// again (the batch is still staged), and a batch cut before its commit stores nothing.
#[tokio::test(flavor = "multi_thread")]
async fn an_atomic_batch_cut_at_its_commit_has_one_outcome() {
    let server = NatsServer::start_jetstream();
    let proxy = Proxy::start(server.addr());
    let js = fast_reconnecting_context(&proxy.url()).await;
    let direct = common::context(&server.url()).await;
    direct
        .create_stream(
            StreamConfig::new("AB")
                .subjects(["ab.>"])
                .storage(StorageType::Memory)
                .allow_atomic(true),
        )
        .await
        .unwrap();
    let stored = || async { direct.stream_info("AB").await.unwrap().state.messages };

    // The commit lands; its ack is lost.
    let mut batch = js.atomic_batch();
    batch.add("ab.a", "1").await.unwrap();
    batch.add("ab.b", "2").await.unwrap();
    proxy.delay(Duration::from_millis(300));
    let committing = tokio::spawn(async move { batch.commit("ab.c", "3").await });
    common::eventually("the batch is stored", || async {
        (stored().await == 3).then_some(())
    })
    .await;
    proxy.delay(Duration::ZERO);
    proxy.cut();
    let ack = common::within("the commit", committing)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ack.count, ack.seq), (3, 3));
    assert_eq!(stored().await, 3);

    // The commit never reaches the server: sent again after the reconnect.
    let mut batch = js.atomic_batch();
    batch.add("ab.a", "4").await.unwrap();
    batch.add("ab.b", "5").await.unwrap();
    // Both messages are staged on the server before the connection stalls.
    js.client().flush().await.unwrap();
    proxy.stall();
    let committing = tokio::spawn(async move { batch.commit_eob().await });
    sent(&js).await;
    proxy.cut();
    let ack = common::within("the commit", committing)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ack.count, ack.seq), (2, 5));
    assert_eq!(stored().await, 5);

    // Cut before the commit: the batch is abandoned and nothing of it is stored.
    let mut batch = js.atomic_batch();
    proxy.stall();
    let first = tokio::spawn(async move {
        let r = batch.add("ab.a", "9").await;
        (r, batch)
    });
    sent(&js).await;
    proxy.cut();
    let (r, batch) = common::within("the first add", first).await.unwrap();
    let err = r.unwrap_err();
    assert_eq!(
        err.client_kind(),
        Some(gnat_jetstream::client::ErrorKind::Disconnected),
        "{err:?}"
    );
    assert!(batch.commit("ab.c", "10").await.is_err());
    assert_eq!(stored().await, 5);

    // A gap (a message lost with the connection) makes the resent commit fail, definitely.
    let mut batch = js.atomic_batch();
    batch.add("ab.a", "11").await.unwrap();
    proxy.stall();
    batch.add("ab.b", "12").await.unwrap();
    let committing = tokio::spawn(async move { batch.commit("ab.c", "13").await });
    sent(&js).await;
    proxy.cut();
    let err = common::within("the commit", committing)
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_batch_incomplete(), "{err:?}");
    assert_eq!(stored().await, 5);
}
