//! Stored messages against a real nats-server: leader get/next/last/delete, direct get in
//! all its forms, batches with their end-of-batch marker, multi-last paging.

mod common;

use std::collections::BTreeSet;

use bytes::Bytes;
use gnat_jetstream::client::{HeaderMap, StatusCode};
use gnat_jetstream::{
    Context, DirectBatch, ErrorKind, PublishOptions, StorageType, StoredMessage, StreamConfig,
    Timestamp, UpTo,
};

async fn stream(js: &Context, name: &str, subjects: &str, direct: bool) {
    js.create_stream(
        StreamConfig::new(name)
            .subjects([subjects])
            .storage(StorageType::Memory)
            .allow_direct(direct),
    )
    .await
    .unwrap();
}

async fn collect(js: &Context, stream: &str, request: DirectBatch) -> Vec<StoredMessage> {
    let mut batch = js.direct_get_batch(stream, request).await.unwrap();
    let mut out = Vec::new();
    while let Some(item) = common::within("batch", batch.next()).await {
        out.push(item.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn leader_get_next_last_and_delete() {
    let (_server, js) = common::jetstream().await;
    stream(&js, "M", "m.>", false).await;
    let mut headers = HeaderMap::new();
    headers.insert("Trace", "t-1").unwrap();
    // Without resends gnat adds no Nats-Msg-Id, so the message has no headers.
    js.publish_with(
        "m.a",
        PublishOptions::new()
            .payload("a1")
            .resend_on_reconnect(false),
    )
    .await
    .unwrap(); // 1
    js.publish_with("m.b", PublishOptions::new().payload("b1").headers(headers))
        .await
        .unwrap(); // 2
    js.publish("m.a", "a2").await.unwrap(); // 3
    js.publish("m.b", "").await.unwrap(); // 4
    js.publish("m.a", "a3").await.unwrap(); // 5

    let m = js.get_message("M", 2).await.unwrap();
    assert_eq!((m.subject.as_str(), m.sequence), ("m.b", 2));
    assert_eq!(&m.payload[..], b"b1");
    assert_eq!(m.headers.as_ref().and_then(|h| h.get("Trace")), Some("t-1"));
    assert_eq!(m.stream.as_deref(), Some("M"));
    assert!(m.time.elapsed() < common::DEADLINE);
    assert!(js.get_message("M", 1).await.unwrap().headers.is_none());
    assert!(js.get_message("M", 4).await.unwrap().payload.is_empty());

    assert_eq!(js.get_last_message("M", "m.a").await.unwrap().sequence, 5);
    assert_eq!(js.get_last_message("M", "m.*").await.unwrap().sequence, 5);
    assert_eq!(
        js.get_next_message("M", 3, "m.b").await.unwrap().sequence,
        4
    );
    assert_eq!(
        js.get_next_message("M", 1, "m.>").await.unwrap().sequence,
        1
    );

    // Spec §6 item 27, second half: last_by_subj with nothing there is 10037.
    let err = js.get_last_message("M", "m.none").await.unwrap_err();
    assert_eq!(err.err_code(), Some(10037));
    assert!(err.is_no_message() && err.is_not_found());
    assert!(js.get_message("M", 99).await.unwrap_err().is_no_message());
    assert!(
        js.get_next_message("M", 6, "m.a")
            .await
            .unwrap_err()
            .is_no_message()
    );

    js.delete_message("M", 3).await.unwrap();
    assert!(js.get_message("M", 3).await.unwrap_err().is_no_message());
    js.erase_message("M", 5).await.unwrap();
    assert_eq!(js.get_last_message("M", "m.a").await.unwrap().sequence, 1);
    assert!(js.delete_message("M", 3).await.is_err());
    let state = js.stream_info("M").await.unwrap().state;
    assert_eq!((state.messages, state.num_deleted), (3, 2));

    let err = js.get_last_message("M", "bad subject").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        js.get_message("NOPE", 1)
            .await
            .unwrap_err()
            .is_stream_not_found()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_get_forms() {
    let (_server, js) = common::jetstream().await;
    stream(&js, "D", "d.>", true).await;
    let mut headers = HeaderMap::new();
    headers.insert("KV-Operation", "DEL").unwrap();
    js.publish("d.a", "a1").await.unwrap(); // 1
    js.publish_with(
        "d.b",
        PublishOptions::new()
            .payload("b1")
            .headers(headers)
            .resend_on_reconnect(false),
    )
    .await
    .unwrap(); // 2
    js.publish("d.a", "a2").await.unwrap(); // 3

    for seq in 1..=3 {
        let direct = js.direct_get("D", seq).await.unwrap();
        let leader = js.get_message("D", seq).await.unwrap();
        assert_eq!(direct, leader, "direct and leader gets agree on {seq}");
    }
    let b = js.direct_get("D", 2).await.unwrap();
    let h = b.headers.unwrap();
    assert_eq!(h.get("KV-Operation"), Some("DEL"));
    assert_eq!(h.len(), 1, "control headers are removed: {h:?}");

    let last = js.direct_get_last("D", "d.a").await.unwrap();
    assert_eq!((last.sequence, &last.payload[..]), (3, &b"a2"[..]));
    assert_eq!(last.stream.as_deref(), Some("D"));
    assert_eq!(js.direct_get_last_json("D", "d.a").await.unwrap(), last);
    assert_eq!(
        js.direct_get_last_json("D", "d.*").await.unwrap().sequence,
        3
    );
    assert_eq!(js.direct_get_next("D", 2, "d.a").await.unwrap().sequence, 3);
    assert_eq!(js.direct_get_next("D", 1, "d.b").await.unwrap().sequence, 2);

    // Spec §6 item 27, first half: nothing there is a 404 status.
    for err in [
        js.direct_get_last("D", "d.none").await.unwrap_err(),
        js.direct_get_last_json("D", "d.none").await.unwrap_err(),
        js.direct_get("D", 99).await.unwrap_err(),
        js.direct_get_next("D", 4, "d.a").await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Status, "{err:?}");
        assert_eq!(err.code(), Some(404));
        assert!(err.is_no_message() && err.is_not_found());
    }

    // Wildcards are not possible in the subject-appended form.
    let err = js.direct_get_last("D", "d.*").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");

    // Without allow_direct nobody answers: a no-responders error, not a timeout.
    stream(&js, "ND", "nd.>", false).await;
    js.publish("nd.a", "x").await.unwrap();
    let started = std::time::Instant::now();
    let err = js.direct_get("ND", 1).await.unwrap_err();
    assert!(err.is_no_responders(), "{err:?}");
    assert!(started.elapsed() < js.timeout());
}

/// Spec §6 item 28.
#[tokio::test(flavor = "multi_thread")]
async fn subject_appended_form_with_a_body_is_408() {
    let (_server, js) = common::jetstream().await;
    stream(&js, "D", "d.>", true).await;
    js.publish("d.a", "a1").await.unwrap();
    let reply = js
        .request_raw("DIRECT.GET.D.d.a", Bytes::from_static(br#"{"seq":1}"#))
        .await
        .unwrap();
    assert_eq!(reply.status(), Some(StatusCode::REQUEST_TIMEOUT));
    assert!(reply.payload.is_empty());
    // The same request without a body is a last-by-subject get.
    let reply = js
        .request_raw("DIRECT.GET.D.d.a", Bytes::new())
        .await
        .unwrap();
    assert_eq!(reply.status(), None);
    assert_eq!(&reply.payload[..], b"a1");
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_batches_end_at_the_marker() {
    let (_server, js) = common::jetstream().await;
    stream(&js, "B", "b.>", true).await;
    let mut publisher = js.publisher(64).await.unwrap();
    for i in 1..=50u32 {
        let subject = if i % 5 == 0 { "b.five" } else { "b.other" };
        publisher.send(subject, format!("m{i}")).await.unwrap();
    }
    publisher.finish().await.unwrap();

    let mut batch = js
        .direct_get_batch("B", DirectBatch::new(20))
        .await
        .unwrap();
    let mut seqs = Vec::new();
    while let Some(item) = batch.next().await {
        let m = item.unwrap();
        assert_eq!(m.payload, Bytes::from(format!("m{}", m.sequence)));
        seqs.push(m.sequence);
    }
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
    let end = batch.end().expect("an end-of-batch marker");
    assert_eq!((end.num_pending, end.last_seq), (30, 20));
    assert!(batch.next().await.is_none(), "ended streams stay ended");

    let tail = collect(&js, "B", DirectBatch::new(100).seq(41)).await;
    assert_eq!(
        tail.iter().map(|m| m.sequence).collect::<Vec<_>>(),
        (41..=50).collect::<Vec<u64>>()
    );

    let fives = collect(&js, "B", DirectBatch::new(4).seq(6).next_by_subj("b.five")).await;
    assert_eq!(
        fives.iter().map(|m| m.sequence).collect::<Vec<_>>(),
        vec![10, 15, 20, 25]
    );
    assert!(fives.iter().all(|m| m.subject == "b.five"));

    // A byte budget cuts the batch short (the server stops once it is exceeded).
    let few = collect(&js, "B", DirectBatch::new(10).max_bytes(10)).await;
    assert!(!few.is_empty() && few.len() < 10, "{}", few.len());

    // From a time: everything stored at or after the 30th message.
    let t30: Timestamp = js.get_message("B", 30).await.unwrap().time;
    let late = collect(&js, "B", DirectBatch::new(100).start_time(t30)).await;
    assert_eq!(late.first().map(|m| m.sequence), Some(30));
    assert_eq!(late.len(), 21);

    // Nothing matching: an empty stream, not an error.
    let none = collect(&js, "B", DirectBatch::new(5).next_by_subj("b.none")).await;
    assert!(none.is_empty());

    // The batch's inbox subscription is gone afterwards.
    let err = js
        .direct_get_batch("B", DirectBatch::new(0))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    // The subject-appended form takes literal subjects only.
    for bad in ["b.*", "b.>", "b c", "", "b.", "b\r\nPING"] {
        let err = js.direct_get_last("B", bad).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_last_pages_at_one_point_in_time() {
    let (_server, js) = common::jetstream().await;
    stream(&js, "ML", "ml.>", true).await;
    let mut publisher = js.publisher(256).await.unwrap();
    // 250 subjects written twice: seqs 1..=250 then 251..=500.
    for round in 0..2 {
        for i in 0..250u32 {
            publisher
                .send(format!("ml.k{i}"), format!("r{round}"))
                .await
                .unwrap();
        }
    }
    publisher.finish().await.unwrap();

    let all = js
        .direct_get_multi_last_paged("ML", &["ml.>"], UpTo::Latest, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 250);
    let seqs: BTreeSet<u64> = all.iter().map(|m| m.sequence).collect();
    assert_eq!(seqs, (251..=500).collect());
    let subjects: BTreeSet<&str> = all.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects.len(), 250);
    assert!(all.iter().all(|m| &m.payload[..] == b"r1"));

    // As of sequence 250: the first round.
    let old = js
        .direct_get_multi_last_paged("ML", &["ml.>"], UpTo::Sequence(250), 100)
        .await
        .unwrap();
    assert_eq!(old.len(), 250);
    assert!(
        old.iter()
            .all(|m| m.sequence <= 250 && &m.payload[..] == b"r0")
    );

    // As of a time (exclusive: stored before it), unpaged.
    let t = js.get_message("ML", 251).await.unwrap().time;
    let at_time = js
        .direct_get_multi_last("ML", &["ml.>"], UpTo::Time(t))
        .await
        .unwrap();
    assert_eq!(at_time.len(), 250);
    assert!(at_time.iter().all(|m| m.sequence <= 250));

    // Explicit subjects, and nothing matching.
    let two = js
        .direct_get_multi_last("ML", &["ml.k1", "ml.k7"], UpTo::Latest)
        .await
        .unwrap();
    let got: BTreeSet<&str> = two.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(got, BTreeSet::from(["ml.k1", "ml.k7"]));
    let none = js
        .direct_get_multi_last("ML", &["ml.none.>"], UpTo::Latest)
        .await
        .unwrap();
    assert!(none.is_empty());

    // More than 1024 matching subjects: 413.
    let mut publisher = js.publisher(256).await.unwrap();
    for i in 0..1100u32 {
        publisher.send(format!("ml.big.{i}"), "x").await.unwrap();
    }
    publisher.finish().await.unwrap();
    let err = js
        .direct_get_multi_last("ML", &["ml.big.>"], UpTo::Latest)
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.0), Some(413), "{err:?}");
}
