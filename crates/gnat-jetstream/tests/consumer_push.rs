//! Push consumers against a real nats-server: durable and ephemeral, deliver groups, flow
//! control, heartbeats, and the end of the stream when the consumer is deleted.

mod consumer_support;

use std::collections::BTreeSet;
use std::time::Duration;

use consumer_support::*;
use gnat_jetstream::{AckPolicy, ConsumerConfig, ErrorKind, PushMessages};
use tokio::time::Instant;

async fn take(stream: &mut PushMessages, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < n {
        let m = next_ok(stream).await;
        seqs.push(sseq(&m));
        m.ack().await.unwrap();
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_push_delivers_everything_and_acks() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 100).await;
    let inbox = js.client().new_inbox();
    let c = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("P")
                .deliver_subject(inbox)
                .idle_heartbeat(Duration::from_secs(1))
                .flow_control(true),
        )
        .await
        .unwrap();
    assert_eq!(c.name(), "P");
    let mut stream = c.messages().await.unwrap();
    let seqs = take(&mut stream, 100).await;
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    // Live messages keep coming, and a confirmed ack is confirmed.
    publish(&js, "s.b", "live").await;
    let m = next_ok(&mut stream).await;
    assert_eq!((sseq(&m), &m.payload[..]), (101, &b"live"[..]));
    m.double_ack().await.unwrap();
    let info = eventually("acks recorded", || async {
        let info = js.consumer_info("S", "P").await.unwrap();
        (info.num_ack_pending == 0).then_some(info)
    })
    .await;
    assert_eq!(info.ack_floor.stream_sequence, 101);
    assert_eq!(stream.warnings(), Some(0));
    // A pull handle refuses a push consumer, and the other way round.
    assert!(js.pull_consumer("S", "P").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_push_loses_nothing_published_before_or_after() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 50).await;
    let inbox = js.client().new_inbox();
    // Ack none: a message pushed before the subscription existed would never come back.
    let c = js
        .create_push_consumer(
            "S",
            ConsumerConfig::new()
                .deliver_subject(inbox)
                .ack_policy(AckPolicy::None),
        )
        .await
        .unwrap();
    assert!(!c.name().is_empty());
    let mut stream = c.messages().await.unwrap();
    publish_many(&js, "s.b", 50).await;
    let mut seqs = Vec::new();
    while seqs.len() < 100 {
        seqs.push(sseq(&next_ok(&mut stream).await));
    }
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    // A pull consumer is refused by the push binding.
    js.create_pull_consumer("S", ConsumerConfig::durable("PULL"))
        .await
        .unwrap();
    assert!(js.push_consumer("S", "PULL").await.is_err());
    assert!(
        js.create_push_consumer("S", ConsumerConfig::durable("X"))
            .await
            .unwrap_err()
            .kind()
            == ErrorKind::InvalidInput
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_group_members_share_the_messages() {
    let (server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    let deliver = "deliver.workers";
    let first = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("Q")
                .deliver_subject(deliver)
                .deliver_group("workers"),
        )
        .await
        .unwrap();
    // A second member on its own connection binds to the same consumer.
    let other = connect(&server).await;
    let second = other.push_consumer("S", "Q").await.unwrap();
    let mut a = first.messages().await.unwrap();
    let mut b = second.messages().await.unwrap();
    other.client().flush().await.unwrap();
    publish_many(&js, "s.x", 400).await;
    let mut got_a = BTreeSet::new();
    let mut got_b = BTreeSet::new();
    within("both members together get all 400", async {
        while got_a.len() + got_b.len() < 400 {
            tokio::select! {
                Some(m) = a.next() => {
                    let m = m.unwrap();
                    assert!(got_a.insert(sseq(&m)));
                    m.ack().await.unwrap();
                }
                Some(m) = b.next() => {
                    let m = m.unwrap();
                    assert!(got_b.insert(sseq(&m)));
                    m.ack().await.unwrap();
                }
            }
        }
    })
    .await;
    assert!(got_a.is_disjoint(&got_b), "a message went to both members");
    let all: BTreeSet<u64> = got_a.union(&got_b).copied().collect();
    assert_eq!(all, (1..=400).collect());
    // Queue distribution is random per message: with 400 messages each member gets some.
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "{} / {}",
        got_a.len(),
        got_b.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_control_is_answered_so_large_backlogs_flow() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    // 24 MiB: far beyond the server's flow-control window, so delivery stops for good
    // unless the flow-control requests are answered.
    let payload = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
    for _ in 0..383 {
        js.client().publish("s.big", payload.clone()).await.unwrap();
    }
    publish(&js, "s.big", payload.clone()).await;
    let inbox = js.client().new_inbox();
    let c = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("FC")
                .deliver_subject(inbox)
                .ack_policy(AckPolicy::None)
                .flow_control(true)
                // Long enough that the server's stalled-consumer heartbeat (which carries the
                // flow-control subject again) cannot rescue an unanswered request within the
                // test's deadline: only answering the requests keeps delivery going.
                .idle_heartbeat(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let mut stream = c.messages().await.unwrap();
    let mut n = 0u64;
    while n < 384 {
        let m = next_ok(&mut stream).await;
        n += 1;
        assert_eq!(sseq(&m), n);
        if n.is_multiple_of(64) {
            // A slow reader: flow control holds the server back meanwhile.
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(stream.warnings(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_consumer_ends_the_stream_within_two_heartbeats() {
    let (server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 3).await;
    let hb = Duration::from_secs(1);
    let c = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("D")
                .deliver_subject(js.client().new_inbox())
                .idle_heartbeat(hb),
        )
        .await
        .unwrap();
    let mut stream = c.messages().await.unwrap();
    take(&mut stream, 3).await;
    // Deleted by another client (like `nats consumer rm`).
    let admin = connect(&server).await;
    admin.delete_consumer("S", "D").await.unwrap();
    let deleted_at = Instant::now();
    let err = loop {
        match within("the end", stream.next()).await {
            Some(Err(e)) if e.kind() == ErrorKind::MissedHeartbeats => continue,
            Some(Err(e)) => break e,
            other => panic!("expected an error, got {other:?}"),
        }
    };
    let took = deleted_at.elapsed();
    assert!(err.is_consumer_deleted(), "{err:?}");
    assert!(took <= hb * 2 + Duration::from_millis(500), "{took:?}");
    assert!(within("end", stream.next()).await.is_none());
    assert!(stream.is_terminated());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_yields_missed_heartbeats_then_delivery_resumes() {
    let (server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    let hb = Duration::from_secs(1);
    let c = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("F")
                .deliver_subject(js.client().new_inbox())
                .idle_heartbeat(hb),
        )
        .await
        .unwrap();
    let mut stream = c.messages().await.unwrap();
    publish(&js, "s.a", "before").await;
    assert_eq!(sseq(&next_ok(&mut stream).await), 1);
    let Some(frozen) = Frozen::freeze(&server) else {
        eprintln!("no `kill` command: cannot freeze the server");
        return;
    };
    let frozen_at = Instant::now();
    let err = match within("warning", stream.next()).await {
        Some(Err(e)) => e,
        other => panic!("expected a warning, got {other:?}"),
    };
    let took = frozen_at.elapsed();
    assert_eq!(err.kind(), ErrorKind::MissedHeartbeats, "{err:?}");
    assert!(took <= hb * 2 + Duration::from_millis(500), "{took:?}");
    assert_eq!(stream.warnings(), Some(1));
    drop(frozen);
    // Resumes with no gap: the next message is the next one stored.
    publish(&js, "s.a", "after").await;
    let m = loop {
        match within("after thaw", stream.next()).await {
            Some(Ok(m)) => break m,
            Some(Err(e)) if e.kind() == ErrorKind::MissedHeartbeats => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(sseq(&m), 2);
}
