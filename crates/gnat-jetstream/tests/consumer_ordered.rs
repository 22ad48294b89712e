//! Ordered consumers against a real nats-server: recovery from a deleted consumer (spec §6
//! item 30) and from server restarts, deliver policies kept across a reset before the first
//! delivery, filters, and the numbers the KV layer needs (initial pending, per-message
//! pending).

mod consumer_support;

use std::time::Duration;

use consumer_support::*;
use gnat_jetstream::{DeliverPolicy, ErrorKind, OrderedConfig, OrderedConsumer, client::Event};
use serde_json::json;

fn fast() -> OrderedConfig {
    OrderedConfig::new().idle_heartbeat(Duration::from_millis(500))
}

/// Reads until `count` messages arrived; asserts stream sequences continue from `*last`
/// without a gap or duplicate.
async fn read_contiguous(oc: &mut OrderedConsumer, count: u64, last: &mut u64) {
    for _ in 0..count {
        let m = next_ok(oc).await;
        let s = sseq(&m);
        assert_eq!(s, *last + 1, "gap or duplicate after {last}");
        *last = s;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_its_consumer_is_deleted() {
    // Spec §6 item 30.
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 1000).await;
    let mut oc = js.ordered_consumer("S", fast()).await.unwrap();
    assert_eq!(oc.initial_pending(), 1000);
    let mut last = 0;
    read_contiguous(&mut oc, 300, &mut last).await;
    let name = oc.consumer_name();
    js.delete_consumer("S", &name).await.unwrap();
    read_contiguous(&mut oc, 700, &mut last).await;
    // Live messages after the reset.
    publish_many(&js, "s.a", 10).await;
    read_contiguous(&mut oc, 10, &mut last).await;
    assert_eq!(last, 1010);
    assert!(oc.resets() >= 1);
    assert_ne!(oc.consumer_name(), name);
    assert_eq!(oc.last_stream_sequence(), 1010);
    // The old consumer is gone, one new one is there.
    let names = js.consumer_names("S").await.unwrap();
    assert_eq!(names, vec![oc.consumer_name()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_two_server_restarts() {
    let (mut server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    let total = 5000u64;
    for _ in 0..total - 1 {
        js.client().publish("s.a", vec![b'x'; 400]).await.unwrap();
    }
    publish(&js, "s.a", vec![b'x'; 400]).await;
    // Rate-limited (past the server's burst of about 1 MB), so that each restart happens
    // while the server-side consumer still has messages to send.
    let mut config = fast();
    config.rate_limit_bps = Some(8_000_000);
    let mut oc = js.ordered_consumer("S", config).await.unwrap();
    // Created after the consumer's listener: once it sees an event, so has the consumer.
    let mut events = js.client().events();
    let mut last = 0;
    read_contiguous(&mut oc, 1500, &mut last).await;
    tokio::task::block_in_place(|| {
        server.kill();
        server.start_again();
    });
    wait_reconnected(&mut events).await;
    read_contiguous(&mut oc, 1500, &mut last).await;
    assert_eq!(oc.resets(), 1);
    tokio::task::block_in_place(|| server.restart());
    wait_reconnected(&mut events).await;
    read_contiguous(&mut oc, total - 3000, &mut last).await;
    assert_eq!(last, total);
    assert_eq!(oc.resets(), 2);
    // Nothing more is pending: the next message is a new one.
    publish(&js, "s.a", "after").await;
    let m = next_ok(&mut oc).await;
    assert_eq!(sseq(&m), total + 1);
}

async fn wait_reconnected(events: &mut gnat_jetstream::client::Events) {
    within("reconnect", async {
        while let Some(e) = events.next().await {
            if matches!(e, Event::Reconnected { .. }) {
                return;
            }
        }
        panic!("events ended");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_per_subject_survives_a_reset_before_the_first_delivery() {
    let (_server, js) = setup().await;
    create_stream_with(&js, "S", &["k.>"], json!({"max_msgs_per_subject": 10})).await;
    for round in 0..5 {
        for key in ["a", "b", "c"] {
            publish(&js, &format!("k.{key}"), format!("{key}{round}")).await;
        }
    }
    // The latest values are not one contiguous run: starting at the first of them would
    // replay the superseded b4 (and starting at 1 the whole history).
    publish(&js, "k.b", "b5").await;
    let mut oc = js
        .ordered_consumer(
            "S",
            // The server requires a filter with last_per_subject (err_code 10094).
            fast()
                .filter_subjects(["k.>"])
                .deliver_policy(DeliverPolicy::LastPerSubject),
        )
        .await
        .unwrap();
    assert_eq!(oc.initial_pending(), 3);
    // Reconnect before anything is read: the consumer is reset with nothing delivered yet.
    // (This listener comes after the consumer's, so once it has the event, so has the
    // consumer: events reach listeners in the order they were created.)
    let mut events = js.client().events();
    js.client().force_reconnect();
    within("reconnect", async {
        while let Some(e) = events.next().await {
            if matches!(e, Event::Reconnected { .. }) {
                break;
            }
        }
    })
    .await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let m = next_ok(&mut oc).await;
        got.push(String::from_utf8(m.payload.to_vec()).unwrap());
    }
    got.sort();
    assert_eq!(got, vec!["a4", "b5", "c4"]);
    assert!(
        oc.resets() >= 1,
        "the reconnect should have reset the consumer"
    );
    // Nothing else was queued: the next message is a new one.
    let seq = publish(&js, "k.a", "a5").await;
    let m = next_ok(&mut oc).await;
    assert_eq!(sseq(&m), seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_last_per_subject_reset_before_the_first_delivery_skips_nothing() {
    // A KV watcher on an empty bucket: last_per_subject with nothing pending, then writes
    // the reader does not poll for, a reset, more writes. Every revision is owed, each
    // revision of a key included, not just the last per subject at the reset.
    let (_server, js) = setup().await;
    create_stream_with(&js, "S", &["k.>"], json!({"max_msgs_per_subject": 10})).await;
    let mut oc = js
        .ordered_consumer(
            "S",
            fast()
                .filter_subjects(["k.>"])
                .deliver_policy(DeliverPolicy::LastPerSubject),
        )
        .await
        .unwrap();
    assert_eq!(oc.initial_pending(), 0);
    let mut written = Vec::new();
    for v in ["a1", "a2", "a3"] {
        written.push(publish(&js, "k.a", v).await);
    }
    // As in the test above: this listener comes after the consumer's.
    let mut events = js.client().events();
    js.client().force_reconnect();
    within("reconnect", async {
        while let Some(e) = events.next().await {
            if matches!(e, Event::Reconnected { .. }) {
                break;
            }
        }
    })
    .await;
    for v in ["a4", "b1"] {
        written.push(publish(&js, &format!("k.{}", &v[..1]), v).await);
    }
    let mut got = Vec::new();
    for _ in 0..written.len() {
        got.push(sseq(&next_ok(&mut oc).await));
    }
    assert_eq!(got, written, "every revision, in order");
    assert!(
        oc.resets() >= 1,
        "the reconnect should have reset the consumer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_new_survives_a_reset_before_the_first_delivery() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 20).await;
    let mut oc = js
        .ordered_consumer("S", fast().deliver_policy(DeliverPolicy::New))
        .await
        .unwrap();
    assert_eq!(oc.initial_pending(), 0);
    // Lose the consumer before anything was delivered; publish before it is replaced.
    js.delete_consumer("S", &oc.consumer_name()).await.unwrap();
    let seq = publish(&js, "s.a", "new").await;
    let m = next_ok(&mut oc).await;
    assert_eq!(sseq(&m), seq, "neither a replay nor a gap");
    assert_eq!(&m.payload[..], b"new");
    assert_eq!(oc.resets(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_pending_and_headers_only() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    for subject in ["s.a", "s.b", "s.c", "s.a", "s.b", "s.c"] {
        publish(&js, subject, vec![b'x'; 64]).await;
    }
    let mut oc = js
        .ordered_consumer(
            "S",
            fast().filter_subjects(["s.a", "s.c"]).headers_only(true),
        )
        .await
        .unwrap();
    assert_eq!(oc.initial_pending(), 4);
    let mut seen = Vec::new();
    for expected_pending in [3, 2, 1, 0] {
        let m = next_ok(&mut oc).await;
        let info = m.info().unwrap();
        assert_eq!(info.pending, expected_pending);
        assert!(m.payload.is_empty());
        let size = m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Size"));
        assert_eq!(size, Some("64"));
        seen.push((m.subject.to_string(), info.stream_sequence));
    }
    assert_eq!(
        seen,
        vec![
            ("s.a".to_string(), 1),
            ("s.c".to_string(), 3),
            ("s.a".to_string(), 4),
            ("s.c".to_string(), 6)
        ]
    );
    // One filter only.
    let mut one = js
        .ordered_consumer("S", fast().filter_subjects(["s.b"]))
        .await
        .unwrap();
    assert_eq!(one.initial_pending(), 2);
    assert_eq!(sseq(&next_ok(&mut one).await), 2);
    assert_eq!(sseq(&next_ok(&mut one).await), 5);

    // A missing stream fails at once.
    let err = js.ordered_consumer("NOPE", fast()).await.unwrap_err();
    assert!(err.is_stream_not_found(), "{err:?}");
    assert_eq!(
        js.ordered_consumer("S", fast().idle_heartbeat(Duration::ZERO))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_is_flow_controlled_not_reset() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    // Enough data for several flow-control rounds.
    let total = 3000u64;
    for _ in 0..total {
        js.client().publish("s.a", vec![b'x'; 1024]).await.unwrap();
    }
    publish(&js, "s.a", vec![b'x'; 1024]).await;
    let mut oc = js.ordered_consumer("S", fast()).await.unwrap();
    let mut last = 0;
    read_contiguous(&mut oc, 10, &mut last).await;
    // Away for longer than three heartbeat intervals, twice.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1800)).await;
        read_contiguous(&mut oc, 10, &mut last).await;
    }
    read_contiguous(&mut oc, total + 1 - last, &mut last).await;
    assert_eq!(oc.resets(), 0, "a slow reader must not reset the consumer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_resets_the_consumer() {
    let (server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 10).await;
    let mut oc = js.ordered_consumer("S", fast()).await.unwrap();
    let mut last = 0;
    read_contiguous(&mut oc, 10, &mut last).await;
    let Some(frozen) = Frozen::freeze(&server) else {
        eprintln!("no `kill` command: skipped");
        return;
    };
    // Three heartbeat intervals of silence, then some more: the reset's create requests
    // time out and are retried until the server answers again.
    let reader = tokio::spawn(async move {
        read_contiguous(&mut oc, 5, &mut last).await;
        (oc, last)
    });
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(frozen);
    publish_many(&js, "s.a", 5).await;
    let (oc, last) = within("reader", reader).await.unwrap();
    assert_eq!(last, 15);
    assert!(oc.resets() >= 1);
}
