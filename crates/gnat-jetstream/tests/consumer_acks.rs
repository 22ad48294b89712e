//! Acknowledgements against a real nats-server: ack, double ack, nak (with delay), work in
//! progress, term (with reason), and message metadata.

mod consumer_support;

use std::time::{Duration, Instant};

use consumer_support::*;
use gnat_jetstream::{ConsumerConfig, ErrorKind, FetchOptions, JsMessage, PullConsumer};
use serde_json::Value;

async fn fetch_all(c: &PullConsumer, opts: FetchOptions) -> Vec<JsMessage> {
    let mut f = c.fetch(opts).await.unwrap();
    let mut out = Vec::new();
    while let Some(item) = within("fetch", f.next()).await {
        out.push(item.unwrap());
    }
    out
}

fn wait(d: Duration) -> FetchOptions {
    FetchOptions::new(10).expires(d)
}

fn now() -> FetchOptions {
    FetchOptions::new(10).no_wait(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_and_double_ack() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 3).await;
    let mut c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();
    let msgs = fetch_all(&c, FetchOptions::new(3)).await;
    assert_eq!(msgs.len(), 3);
    assert_eq!(c.info().await.unwrap().num_ack_pending, 3);

    // double_ack returns after the server recorded the ack: the info shows it at once.
    msgs[0].double_ack().await.unwrap();
    let info = c.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 2);
    assert_eq!(info.ack_floor.stream_sequence, 1);

    // A plain ack is recorded soon after.
    msgs[1].ack().await.unwrap();
    msgs[2].ack().await.unwrap();
    eventually("acks recorded", || {
        let mut c = c.clone();
        async move {
            let info = c.info().await.unwrap();
            (info.num_ack_pending == 0 && info.ack_floor.stream_sequence == 3).then_some(())
        }
    })
    .await;
    // Nothing is redelivered.
    assert!(fetch_all(&c, now()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nak_redelivers_now_or_after_the_delay() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 2).await;
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();
    let msgs = fetch_all(&c, FetchOptions::new(2)).await;
    assert_eq!(msgs.len(), 2);

    // Plain nak: redelivered at once, delivered count 2.
    msgs[0].nak().await.unwrap();
    let again = fetch_all(&c, FetchOptions::new(1)).await;
    assert_eq!(sseq(&again[0]), 1);
    assert_eq!(again[0].info().unwrap().delivered, 2);
    again[0].double_ack().await.unwrap();

    // nak with a delay: not before the delay, then with delivered count 2.
    let delay = Duration::from_millis(1500);
    let nacked = Instant::now();
    msgs[1].nak_with_delay(delay).await.unwrap();
    assert!(
        fetch_all(&c, now()).await.is_empty(),
        "redelivered before the delay"
    );
    let again = fetch_all(&c, FetchOptions::new(1).expires(Duration::from_secs(10))).await;
    assert!(
        nacked.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        nacked.elapsed()
    );
    assert_eq!(again.len(), 1);
    let info = again[0].info().unwrap();
    assert_eq!((info.stream_sequence, info.delivered), (2, 2));
    again[0].double_ack().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn term_is_never_redelivered() {
    let (server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 2).await;
    let mut c = js
        .create_pull_consumer(
            "S",
            ConsumerConfig::durable("C").ack_wait(Duration::from_millis(700)),
        )
        .await
        .unwrap();
    let spy = connect(&server).await;
    let mut advisories = spy
        .client()
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.C")
        .await
        .unwrap();
    spy.client().flush().await.unwrap();

    let msgs = fetch_all(&c, FetchOptions::new(2)).await;
    msgs[0].term().await.unwrap();
    msgs[1]
        .term_with_reason("bad input\r\nINJECTED")
        .await
        .unwrap();
    // Well past ack_wait: nothing comes back.
    assert!(
        fetch_all(&c, wait(Duration::from_millis(2000)))
            .await
            .is_empty()
    );
    let info = c.info().await.unwrap();
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.num_redelivered, 0);

    // The server reports the reason in its advisory (CR/LF replaced).
    let mut reasons = Vec::new();
    for _ in 0..2 {
        let adv = within("advisory", advisories.next()).await.unwrap();
        let adv: Value = serde_json::from_slice(&adv.payload).unwrap();
        reasons.push(adv["reason"].as_str().unwrap_or_default().to_string());
    }
    assert!(
        reasons.contains(&"bad input  INJECTED".to_string()),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_progress_extends_ack_wait() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 2).await;
    let ack_wait = Duration::from_millis(1500);
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C").ack_wait(ack_wait))
        .await
        .unwrap();
    let msgs = fetch_all(&c, FetchOptions::new(2)).await;
    assert_eq!(msgs.len(), 2);
    let started = Instant::now();
    // Keep the first alive for twice ack_wait; the waits are fetches that would receive a
    // redelivery.
    let mut redelivered = Vec::new();
    while started.elapsed() < ack_wait * 2 {
        msgs[0].in_progress().await.unwrap();
        redelivered.extend(fetch_all(&c, wait(Duration::from_millis(700))).await);
    }
    // Only the second one (never touched) came back.
    let seqs: Vec<_> = redelivered.iter().map(sseq).collect();
    assert!(
        !seqs.is_empty(),
        "the untouched message should have been redelivered"
    );
    assert!(seqs.iter().all(|&s| s == 2), "{seqs:?}");
    msgs[0].double_ack().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_of_delivered_and_plain_messages() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 3).await;
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();
    let msgs = fetch_all(&c, FetchOptions::new(3)).await;
    for (i, m) in msgs.iter().enumerate() {
        let info = m.info().unwrap();
        let i = i as u64;
        assert_eq!(info.stream, "S");
        assert_eq!(info.consumer, "C");
        assert_eq!(info.delivered, 1);
        assert_eq!(info.stream_sequence, i + 1);
        assert_eq!(info.consumer_sequence, i + 1);
        assert_eq!(info.pending, 2 - i);
        assert!(info.published.elapsed() < Duration::from_secs(60));
        assert_eq!(&m.payload[..], i.to_string().as_bytes());
    }

    // A core message is not a JetStream one.
    let client = js.client();
    let mut sub = client.subscribe("plain").await.unwrap();
    client
        .publish_with_reply("plain", "not.an.ack", "x")
        .await
        .unwrap();
    let m = JsMessage::new(client.clone(), within("plain", sub.next()).await.unwrap());
    assert_eq!(m.info().unwrap_err().kind(), ErrorKind::NotJetStream);
    client.publish("plain", "x").await.unwrap();
    let m = JsMessage::new(client.clone(), within("plain", sub.next()).await.unwrap());
    assert_eq!(m.info().unwrap_err().kind(), ErrorKind::NotJetStream);
    assert_eq!(m.ack().await.unwrap_err().kind(), ErrorKind::NotJetStream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_next_acks_and_brings_the_next_batch() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 6).await;
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();
    let first = fetch_all(&c, FetchOptions::new(1)).await;
    assert_eq!(sseq(&first[0]), 1);
    let mut next = first[0].ack_next(3, Duration::from_secs(5)).await.unwrap();
    let mut seqs = Vec::new();
    while let Some(m) = within("ack_next batch", next.next()).await {
        seqs.push(sseq(&m.unwrap()));
    }
    assert_eq!(seqs, vec![2, 3, 4]);
    // The first one is acknowledged: only the three just delivered are pending.
    let info = eventually("ack recorded", || async {
        let info = js.consumer_info("S", "C").await.unwrap();
        (info.ack_floor.stream_sequence == 1).then_some(info)
    })
    .await;
    assert_eq!(info.num_ack_pending, 3);
    assert!(first[0].ack_next(0, Duration::from_secs(1)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_ack_subject_parses_and_confirms() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 1).await;
    let c = js
        .create_pull_consumer("S", ConsumerConfig::durable("C"))
        .await
        .unwrap();
    let m = &fetch_all(&c, FetchOptions::new(1)).await[0];
    let info = m.info().unwrap();
    let reply = m.reply.as_deref().unwrap();
    // ADR-15 allows either shape; nats-server 2.15.1 was seen sending v1 here (9 tokens).
    // Whichever it is, the parse must agree with it.
    if reply.split('.').count() >= 12 {
        assert!(info.account_hash.is_some_and(|h| !h.is_empty()), "{reply}");
    } else {
        assert_eq!(reply.split('.').count(), 9, "{reply}");
        assert_eq!((info.domain, info.account_hash), (None, None), "{reply}");
    }
    assert_eq!(
        (info.stream, info.consumer, info.stream_sequence),
        ("S", "C", 1)
    );
    // A confirmed ack on a v2 subject is confirmed by the server.
    m.double_ack().await.unwrap();
}
