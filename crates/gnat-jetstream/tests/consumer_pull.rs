//! `fetch` against a real nats-server: batch and byte limits, the normal ends (`404` with
//! `no_wait`, `408` at `expires`), heartbeats, and the errors (`409`, `503`).

mod consumer_support;

use std::time::{Duration, Instant};

use consumer_support::*;
use gnat_jetstream::{ConsumerConfig, ErrorKind, FetchOptions, PullConsumer};
use serde_json::json;

async fn drain(
    fetch: &mut gnat_jetstream::Fetch,
) -> (
    Vec<gnat_jetstream::JsMessage>,
    Option<gnat_jetstream::Error>,
) {
    let mut msgs = Vec::new();
    while let Some(item) = within("fetch", fetch.next()).await {
        match item {
            Ok(m) => msgs.push(m),
            Err(e) => {
                assert!(
                    within("end", fetch.next()).await.is_none(),
                    "an error ends the fetch"
                );
                return (msgs, Some(e));
            }
        }
    }
    (msgs, None)
}

async fn pull(js: &gnat_jetstream::Context, name: &str) -> PullConsumer {
    js.create_pull_consumer("S", ConsumerConfig::durable(name))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_statuses_of_an_empty_pull() {
    // Spec §6 item 29 at the wire level: 404 No Messages for no_wait, 408 Request Timeout at
    // expiry, both with the pending headers of what was not delivered.
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    pull(&js, "C").await;
    let client = js.client();
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(&inbox).await.unwrap();
    client
        .publish_with_reply(
            "$JS.API.CONSUMER.MSG.NEXT.S.C",
            &inbox,
            serde_json::to_vec(&json!({"batch": 5, "no_wait": true})).unwrap(),
        )
        .await
        .unwrap();
    let m = within("404", sub.next()).await.unwrap();
    assert_eq!(m.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(m.description(), Some("No Messages"));

    let started = Instant::now();
    client
        .publish_with_reply(
            "$JS.API.CONSUMER.MSG.NEXT.S.C",
            &inbox,
            serde_json::to_vec(&json!({"batch": 5, "expires": 500_000_000})).unwrap(),
        )
        .await
        .unwrap();
    let m = within("408", sub.next()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(450));
    assert_eq!(m.status().map(|s| s.as_u16()), Some(408));
    assert_eq!(m.description(), Some("Request Timeout"));
    let headers = m.headers.as_ref().unwrap();
    assert_eq!(headers.get("Nats-Pending-Messages"), Some("5"));
    assert_eq!(headers.get("Nats-Pending-Bytes"), Some("0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_fetches_end_without_error() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    let c = pull(&js, "C").await;

    // no_wait on an empty consumer: 404, a normal end with no messages.
    let started = Instant::now();
    let mut f = c.fetch(FetchOptions::new(10).no_wait(true)).await.unwrap();
    let (msgs, err) = drain(&mut f).await;
    assert!(msgs.is_empty() && err.is_none(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // expires on an empty consumer: 408 after the expiry, also a normal end.
    let started = Instant::now();
    let mut f = c
        .fetch(FetchOptions::new(10).expires(Duration::from_millis(800)))
        .await
        .unwrap();
    let (msgs, err) = drain(&mut f).await;
    assert!(msgs.is_empty() && err.is_none(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(750));

    // With heartbeats asked for: still a clean end, no missed-heartbeat error.
    let mut f = c
        .fetch(
            FetchOptions::new(10)
                .expires(Duration::from_secs(2))
                .idle_heartbeat(Duration::from_millis(500)),
        )
        .await
        .unwrap();
    let (msgs, err) = drain(&mut f).await;
    assert!(msgs.is_empty() && err.is_none(), "{err:?}");
    assert!(f.is_terminated());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_batches() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 10).await;
    let c = pull(&js, "C").await;

    // A full batch ends as soon as it is complete, long before expires.
    let started = Instant::now();
    let mut f = c
        .fetch(FetchOptions::new(4).expires(Duration::from_secs(10)))
        .await
        .unwrap();
    let (msgs, err) = drain(&mut f).await;
    assert!(err.is_none());
    assert_eq!(msgs.iter().map(sseq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert!(started.elapsed() < Duration::from_secs(5));
    for m in &msgs {
        m.ack().await.unwrap();
    }

    // A partial batch ends at expiry with what there was.
    let mut f = c
        .fetch(FetchOptions::new(20).expires(Duration::from_millis(700)))
        .await
        .unwrap();
    let (msgs, err) = drain(&mut f).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        msgs.iter().map(sseq).collect::<Vec<_>>(),
        (5..=10).collect::<Vec<_>>()
    );
    let info = msgs[0].info().unwrap();
    assert_eq!((info.stream, info.consumer, info.delivered), ("S", "C", 1));
    assert_eq!(info.consumer_sequence, 5);
    assert_eq!(info.pending, 5);
    assert!(info.published.elapsed() < Duration::from_secs(60));
    assert_eq!(msgs.last().unwrap().info().unwrap().pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_max_bytes() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    for _ in 0..10 {
        publish(&js, "s.a", vec![b'x'; 100]).await;
    }
    let c = pull(&js, "C").await;
    // Each message counts subject + reply + payload (> 100 bytes): 350 bytes hold at most 3.
    let started = Instant::now();
    let mut f = c
        .fetch(
            FetchOptions::new(10)
                .max_bytes(350)
                .expires(Duration::from_secs(10)),
        )
        .await
        .unwrap();
    let (msgs, err) = drain(&mut f).await;
    assert!(err.is_none(), "{err:?}");
    assert!((1..=3).contains(&msgs.len()), "{} messages", msgs.len());
    let total: usize = msgs
        .iter()
        .map(|m| m.subject.len() + m.reply.as_ref().map_or(0, |r| r.len()) + m.payload.len())
        .sum();
    assert!(total <= 350, "{total} bytes");
    // Ended by the server (409 Message Size Exceeds MaxBytes), not by expires.
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_errors() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    let c = pull(&js, "C").await;

    // The consumer is deleted while the request waits: 409 Consumer Deleted, an error.
    let mut f = c
        .fetch(FetchOptions::new(5).expires(Duration::from_secs(15)))
        .await
        .unwrap();
    // The request is registered once the server answered a later API call on this connection.
    js.consumer_info("S", "C").await.unwrap();
    js.delete_consumer("S", "C").await.unwrap();
    let (msgs, err) = drain(&mut f).await;
    assert!(msgs.is_empty());
    let err = err.expect("409");
    assert_eq!(err.kind(), ErrorKind::Status);
    assert_eq!(err.status(), Some((409, "Consumer Deleted")));

    // Nobody serves a missing consumer's pull subject: 503, an error.
    let mut f = c.fetch(FetchOptions::new(5)).await.unwrap();
    let (msgs, err) = drain(&mut f).await;
    assert!(msgs.is_empty());
    assert_eq!(err.expect("503").code(), Some(503));

    // A push consumer cannot be bound as a pull consumer.
    js.create_consumer(
        "S",
        ConsumerConfig::durable("P").deliver_subject("push.here"),
    )
    .await
    .unwrap();
    let err = js.pull_consumer("S", "P").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    // Requests over the consumer's limits: 409 Exceeded MaxRequestBatch.
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("L").max_batch(2))
        .await
        .unwrap();
    let mut f = c.fetch(FetchOptions::new(5)).await.unwrap();
    let (_, err) = drain(&mut f).await;
    let err = err.expect("409");
    assert_eq!(err.code(), Some(409));
    assert!(
        err.status().unwrap().1.contains("MaxRequestBatch"),
        "{err:?}"
    );

    assert_eq!(
        c.fetch(FetchOptions::new(0)).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_of_a_fetch_gets_no_missed_heartbeat() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 3).await;
    let c = pull(&js, "C").await;
    let mut f = c
        .fetch(
            FetchOptions::new(5)
                .expires(Duration::from_secs(4))
                .idle_heartbeat(Duration::from_millis(500)),
        )
        .await
        .unwrap();
    let mut got = 0;
    while let Some(item) = within("fetch", f.next()).await {
        item.unwrap_or_else(|e| panic!("slow reader got {e:?}"));
        got += 1;
        // Longer than two heartbeat intervals between polls.
        tokio::time::sleep(Duration::from_millis(1300)).await;
    }
    assert_eq!(got, 3);
}
