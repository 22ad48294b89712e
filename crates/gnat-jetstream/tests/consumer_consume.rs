//! `consume` against a real nats-server: continuous delivery with refills, byte budgets,
//! terminal errors, a slow application that must not see missed heartbeats, and a server
//! restart in the middle.

mod consumer_support;

use std::collections::BTreeMap;
use std::time::Duration;

use consumer_support::*;
use gnat_jetstream::{ConsumeOptions, ConsumerConfig, ErrorKind, JsMessage, PullMessages};

/// Acks with confirmation, retrying while the connection is coming back.
async fn confirm_ack(m: &JsMessage) {
    let mut last = None;
    for _ in 0..100 {
        match m.double_ack().await {
            Ok(()) => return,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("ack never confirmed: {last:?}");
}

async fn take(stream: &mut PullMessages, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < n {
        let m = next_ok(stream).await;
        seqs.push(sseq(&m));
        m.ack().await.unwrap();
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_delivers_everything_in_order() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 1000).await;
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();
    let mut stream = c
        .consume(ConsumeOptions::new().max_messages(64))
        .await
        .unwrap();
    let seqs = take(&mut stream, 1000).await;
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
    // Never more than max_messages requested ahead.
    let (msgs, _) = stream.outstanding().unwrap();
    assert!(msgs <= 64, "{msgs}");

    // Live messages keep coming.
    publish(&js, "s.b", "live").await;
    let m = next_ok(&mut stream).await;
    assert_eq!((sseq(&m), &m.payload[..]), (1001, &b"live"[..]));

    // max_messages 1 does not get stuck with the default threshold.
    let c1 = js
        .create_pull_consumer("S", ConsumerConfig::durable("ONE"))
        .await
        .unwrap();
    let mut one = c1
        .consume(ConsumeOptions::new().max_messages(1))
        .await
        .unwrap();
    assert_eq!(take(&mut one, 5).await, vec![1, 2, 3, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_by_bytes() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    for _ in 0..30 {
        publish(&js, "s.a", vec![b'x'; 100]).await;
    }
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();
    let mut stream = c
        .consume(ConsumeOptions::new().max_bytes(1000))
        .await
        .unwrap();
    assert_eq!(take(&mut stream, 30).await, (1..=30).collect::<Vec<_>>());
    let (_, bytes) = stream.outstanding().unwrap();
    assert!(bytes <= 1000, "{bytes}");

    let err = c
        .consume(ConsumeOptions::new().max_bytes(10).max_messages(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = c
        .consume(ConsumeOptions::new().expires(Duration::from_millis(100)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_deleted_ends_consume_with_an_error() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 3).await;
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();
    let mut stream = c.messages().await.unwrap();
    take(&mut stream, 3).await;
    js.delete_consumer("S", "C").await.unwrap();
    let err = match within("409", stream.next()).await {
        Some(Err(e)) => e,
        other => panic!("expected 409, got {other:?}"),
    };
    assert_eq!(err.status(), Some((409, "Consumer Deleted")));
    assert!(within("end", stream.next()).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_application_gets_no_missed_heartbeats() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 4).await;
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();
    let heartbeat = Duration::from_millis(500);
    let slow = heartbeat * 2 + Duration::from_millis(400);
    let mut stream = c
        .consume(
            ConsumeOptions::new()
                .max_messages(2)
                .expires(Duration::from_secs(2))
                .idle_heartbeat(heartbeat),
        )
        .await
        .unwrap();
    // Messages waiting (the requests are fulfilled, so no heartbeats come meanwhile).
    for expected in 1..=4 {
        let m = next_ok(&mut stream).await;
        assert_eq!(sseq(&m), expected);
        m.ack().await.unwrap();
        tokio::time::sleep(slow).await;
    }
    // Nothing to deliver: requests wait, expire (408) and are renewed while the application
    // keeps away for longer than two heartbeats (and longer than `expires`) at a time.
    for round in 0..2 {
        tokio::time::sleep(slow + Duration::from_millis(800)).await;
        match tokio::time::timeout(Duration::from_millis(300), stream.next()).await {
            Err(_) => {}
            Ok(item) => panic!("round {round}: expected nothing, got {item:?}"),
        }
    }
    // A message published while the application is away is there when it comes back.
    publish(&js, "s.a", "late").await;
    tokio::time::sleep(slow).await;
    let m = next_ok(&mut stream).await;
    assert_eq!(&m.payload[..], b"late");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_survives_a_server_restart() {
    let (mut server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    let total = 1000u64;
    publish_many(&js, "s.a", total as usize).await;
    let c = js
        .create_pull_consumer(
            "S",
            ConsumerConfig::durable("C").ack_wait(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    let mut stream = c
        .consume(
            ConsumeOptions::new()
                .max_messages(50)
                .expires(Duration::from_secs(2))
                .idle_heartbeat(Duration::from_millis(500)),
        )
        .await
        .unwrap();
    let mut acked: BTreeMap<u64, u32> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut restarted = false;
    while (acked.len() as u64) < total {
        match within("consume", stream.next()).await {
            Some(Ok(m)) => {
                confirm_ack(&m).await;
                *acked.entry(sseq(&m)).or_default() += 1;
            }
            Some(Err(e)) => warnings.push(e),
            None => panic!("consume ended; warnings so far: {warnings:?}"),
        }
        if acked.len() == 400 && !restarted {
            restarted = true;
            tokio::task::block_in_place(|| server.restart());
        }
    }
    assert!(restarted);
    assert_eq!(
        acked.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    let twice: Vec<_> = acked.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "acked more than once: {twice:?}");
    for w in &warnings {
        assert_ne!(w.kind(), ErrorKind::Status, "unexpected status: {w:?}");
    }
    let info = js.consumer_info("S", "C").await.unwrap();
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.num_pending, 0);
    assert_eq!(info.ack_floor.stream_sequence, total);
    eprintln!("warnings across the restart: {warnings:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_heartbeats_are_reported_and_recovered() {
    let (server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 2).await;
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();
    let heartbeat = Duration::from_millis(500);
    let mut stream = c
        .consume(
            ConsumeOptions::new()
                .expires(Duration::from_secs(5))
                .idle_heartbeat(heartbeat),
        )
        .await
        .unwrap();
    assert_eq!(take(&mut stream, 2).await, vec![1, 2]);
    let Some(frozen) = Frozen::freeze(&server) else {
        eprintln!("no `kill` command: skipped");
        return;
    };
    // Connected, but silent: two intervals later the stream says so (not terminal).
    let started = std::time::Instant::now();
    match within("missed heartbeats", stream.next()).await {
        Some(Err(e)) => assert_eq!(e.kind(), ErrorKind::MissedHeartbeats, "{e:?}"),
        other => panic!("expected missed heartbeats, got {other:?}"),
    }
    assert!(started.elapsed() >= heartbeat * 2 - Duration::from_millis(100));
    drop(frozen);
    // The server is back; the stream goes on.
    publish(&js, "s.a", "back").await;
    loop {
        match within("after thaw", stream.next()).await {
            Some(Ok(m)) => {
                assert_eq!((sseq(&m), &m.payload[..]), (3, &b"back"[..]));
                break;
            }
            Some(Err(e)) if e.kind() == ErrorKind::MissedHeartbeats => continue,
            other => panic!("expected the message, got {other:?}"),
        }
    }
}

/// A message larger than the whole byte budget can never be delivered: the server ends every
/// request at once with `409 Message Size Exceeds MaxBytes`. `consume` must say so once and
/// back off, not re-request in a tight loop; once the message is gone it goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_than_max_bytes_does_not_spin() {
    let (server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish(&js, "s.big", vec![b'x'; 2048]).await;
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();

    // Count the pull requests from a second connection.
    let spy = connect(&server).await;
    let mut requests = spy
        .client()
        .subscribe("$JS.API.CONSUMER.MSG.NEXT.>")
        .await
        .unwrap();
    spy.client().flush().await.unwrap();

    let heartbeat = Duration::from_secs(1);
    let mut stream = c
        .consume(
            ConsumeOptions::new()
                .max_bytes(1024)
                .expires(Duration::from_secs(2))
                .idle_heartbeat(heartbeat),
        )
        .await
        .unwrap();
    let window = Duration::from_millis(3500);
    let started = tokio::time::Instant::now();
    let mut errors = Vec::new();
    while let Ok(item) = tokio::time::timeout_at(started + window, stream.next()).await {
        match item {
            Some(Ok(m)) => panic!("nothing fits the budget, got message {}", sseq(&m)),
            Some(Err(e)) => errors.push(e),
            None => panic!("consume ended; errors: {errors:?}"),
        }
    }
    let mut seen = 0u64;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), requests.next()).await {
        seen += 1;
    }
    let total = seen + requests.dropped();
    // One request at the start, then at most one per heartbeat interval.
    let bound = 2 + (window.as_millis() / heartbeat.as_millis()) as u64;
    assert!(
        (1..=bound).contains(&total),
        "{total} pull requests in {window:?} (bound {bound})"
    );
    // Said once, as the server's status, not terminal.
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].status(),
        Some((409, "Message Size Exceeds MaxBytes")),
        "{:?}",
        errors[0]
    );
    eprintln!("{total} pull requests in {window:?}; error: {}", errors[0]);

    // Once the oversized message is gone, delivery goes on.
    js.delete_message("S", 1).await.unwrap();
    publish(&js, "s.small", "fits").await;
    let m = next_ok(&mut stream).await;
    assert_eq!((sseq(&m), &m.payload[..]), (2, &b"fits"[..]));
}
