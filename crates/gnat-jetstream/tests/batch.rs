//! Atomic batch publishing (ADR-50) against a real nats-server: a batch is stored whole or
//! not at all, and every failure is typed — each test reads the stream back to prove that
//! nothing of a failed batch was stored.

mod common;

use gnat_jetstream::{Context, PublishOptions, StorageType, StreamConfig, error::codes};
use gnat_test_support::NatsServer;

async fn atomic_stream(js: &Context, name: &str, subjects: &str, atomic: bool) {
    js.create_stream(
        StreamConfig::new(name)
            .subjects([subjects])
            .storage(StorageType::Memory)
            .allow_atomic(atomic),
    )
    .await
    .unwrap();
}

async fn stored(js: &Context, stream: &str) -> u64 {
    js.stream_info(stream).await.unwrap().state.messages
}

/// A JetStream server whose batches time out after `timeout` and hold at most `max_msgs`
/// messages (`jetstream.limits.batch`), with a store directory of its own.
fn server_with_batch_limits(max_msgs: usize, timeout: &str) -> NatsServer {
    let dir = std::env::temp_dir().join(format!(
        "gnat-batch-{}-{}",
        std::process::id(),
        client_nuid()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    NatsServer::builder()
        .jetstream(false)
        .config(format!(
            "jetstream {{\n  store_dir: {:?}\n  limits {{ batch {{ max_msgs: {max_msgs}, timeout: {timeout:?} }} }}\n}}",
            dir.display().to_string()
        ))
        .start()
}

fn client_nuid() -> String {
    gnat_jetstream::client::rng::nuid()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_committed_batch_is_stored_whole_with_its_id_and_count() {
    let (_server, js) = common::jetstream().await;
    atomic_stream(&js, "ATOM", "atom.>", true).await;
    js.publish("atom.before", "x").await.unwrap();

    let mut batch = js.atomic_batch().with_id("batch-one").unwrap();
    let mut headers = gnat_jetstream::client::HeaderMap::new();
    headers.insert("App", "yes").unwrap();
    batch
        .add_with(
            "atom.a",
            PublishOptions::new()
                .payload("1")
                .headers(headers)
                .expected_last_sequence(1),
        )
        .await
        .unwrap();
    // Nothing is visible before the commit.
    assert_eq!(stored(&js, "ATOM").await, 1);
    batch
        .add_with(
            "atom.b",
            PublishOptions::new()
                .payload("2")
                .expected_last_subject_sequence(0),
        )
        .await
        .unwrap();
    assert_eq!(batch.len(), 2);
    let ack = batch.commit("atom.c", "3").await.unwrap();
    assert_eq!(
        (ack.stream.as_str(), ack.batch.as_str(), ack.count, ack.seq),
        ("ATOM", "batch-one", 3, 4)
    );
    assert_eq!(ack.sequences(), 2..=4);
    for (seq, (subject, payload)) in
        ack.sequences()
            .zip([("atom.a", "1"), ("atom.b", "2"), ("atom.c", "3")])
    {
        let msg = js.get_message("ATOM", seq).await.unwrap();
        assert_eq!(
            (msg.subject.as_str(), &msg.payload[..]),
            (subject, payload.as_bytes())
        );
        let h = msg.headers.as_ref().unwrap();
        assert_eq!(h.get("Nats-Batch-Id"), Some("batch-one"));
        assert_eq!(h.get("Nats-Batch-Sequence"), Some(&*(seq - 1).to_string()));
    }
    let first = js.get_message("ATOM", 2).await.unwrap();
    assert_eq!(first.headers.unwrap().get("App"), Some("yes"));
    let last = js.get_message("ATOM", 4).await.unwrap();
    assert_eq!(last.headers.unwrap().get("Nats-Batch-Commit"), Some("1"));
}

/// 2.14: `Nats-Batch-Commit: eob` commits without storing the marker; the server marks the
/// last stored message as the commit.
#[tokio::test(flavor = "multi_thread")]
async fn an_end_of_batch_commit_stores_only_the_added_messages() {
    let (_server, js) = common::jetstream().await;
    atomic_stream(&js, "EOB", "eob.>", true).await;
    let mut batch = js.atomic_batch().ack_every(2);
    let id = batch.id().to_string();
    for i in 0..5 {
        batch
            .add(format!("eob.{i}"), format!("m{i}"))
            .await
            .unwrap();
    }
    let ack = batch.commit_eob().await.unwrap();
    assert_eq!((ack.count, ack.seq, ack.batch), (5, 5, id));
    assert_eq!(stored(&js, "EOB").await, 5);
    let last = js.get_message("EOB", 5).await.unwrap();
    assert_eq!(last.headers.unwrap().get("Nats-Batch-Commit"), Some("1"));

    // An empty batch has nothing to commit.
    let err = js.atomic_batch().commit_eob().await.unwrap_err();
    assert_eq!(err.kind(), gnat_jetstream::ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_without_allow_atomic_refuses_the_first_message() {
    let (_server, js) = common::jetstream().await;
    atomic_stream(&js, "PLAIN", "plain.>", false).await;
    let mut batch = js.atomic_batch();
    let err = batch.add("plain.a", "1").await.unwrap_err();
    assert!(err.is_atomic_publish_disabled(), "{err:?}");
    assert!(err.is_atomic_batch_error());
    assert_eq!(err.err_code(), Some(codes::ATOMIC_PUBLISH_DISABLED));
    // The batch is dead: later calls fail without sending.
    let again = batch.commit("plain.b", "2").await.unwrap_err();
    assert!(again.is_atomic_publish_disabled(), "{again:?}");
    assert_eq!(stored(&js, "PLAIN").await, 0);
}

/// An expectation that fails on a message in the middle rejects the whole batch at the
/// commit, and nothing of it is stored.
#[tokio::test(flavor = "multi_thread")]
async fn an_expectation_failing_mid_batch_stores_nothing() {
    let (_server, js) = common::jetstream().await;
    atomic_stream(&js, "EXP", "exp.>", true).await;
    js.publish("exp.x", "old").await.unwrap();

    let mut batch = js.atomic_batch();
    batch.add("exp.a", "1").await.unwrap();
    batch
        .add_with(
            "exp.x",
            PublishOptions::new()
                .payload("2")
                .expected_last_subject_sequence(7),
        )
        .await
        .unwrap();
    batch.add("exp.b", "3").await.unwrap();
    let err = batch.commit("exp.c", "4").await.unwrap_err();
    assert!(err.is_wrong_last_sequence(), "{err:?}");
    let info = js.stream_info("EXP").await.unwrap();
    assert_eq!((info.state.messages, info.state.last_seq), (1, 1));

    // The same batch with the right expectation goes through.
    let mut batch = js.atomic_batch();
    batch.add("exp.a", "1").await.unwrap();
    batch
        .add_with(
            "exp.x",
            PublishOptions::new()
                .payload("2")
                .expected_last_subject_sequence(1),
        )
        .await
        .unwrap();
    let ack = batch.commit("exp.c", "3").await.unwrap();
    assert_eq!((ack.count, ack.seq), (3, 4));
}

/// The rules of ADR-50 are checked before a byte is sent; a refused message leaves the batch
/// usable.
#[tokio::test(flavor = "multi_thread")]
async fn client_side_limits_refuse_before_sending() {
    let (_server, js) = common::jetstream().await;
    atomic_stream(&js, "LIM", "lim.>", true).await;
    let long = "x".repeat(65);
    assert!(js.atomic_batch().with_id(long).is_err());
    assert!(js.atomic_batch().with_id("has space").is_err());

    let mut batch = js.atomic_batch().max_messages(3);
    let invalid = |e: gnat_jetstream::Error| {
        assert_eq!(e.kind(), gnat_jetstream::ErrorKind::InvalidInput, "{e:?}");
    };
    invalid(
        batch
            .add_with("lim.a", PublishOptions::new().expected_last_msg_id("m"))
            .await
            .unwrap_err(),
    );
    batch
        .add_with("lim.a", PublishOptions::new().payload("1").msg_id("id-1"))
        .await
        .unwrap();
    invalid(
        batch
            .add_with("lim.b", PublishOptions::new().expected_last_sequence(0))
            .await
            .unwrap_err(),
    );
    invalid(
        batch
            .add_with(
                "lim.a",
                PublishOptions::new().expected_last_subject_sequence(0),
            )
            .await
            .unwrap_err(),
    );
    invalid(
        batch
            .add_with("lim.c", PublishOptions::new().msg_id("id-1"))
            .await
            .unwrap_err(),
    );
    let mut own = gnat_jetstream::client::HeaderMap::new();
    own.insert("Nats-Batch-Sequence", "9").unwrap();
    invalid(
        batch
            .add_with("lim.c", PublishOptions::new().headers(own))
            .await
            .unwrap_err(),
    );
    invalid(batch.add("bad subject", "x").await.unwrap_err());
    batch.add("lim.b", "2").await.unwrap();
    batch.add("lim.c", "3").await.unwrap();
    // A fourth message (the commit) is over the limit; nothing of it is sent.
    invalid(batch.add("lim.d", "4").await.unwrap_err());
    // The end-of-batch marker does not count.
    let ack = batch.commit_eob().await.unwrap();
    assert_eq!(ack.count, 3);
    assert_eq!(stored(&js, "LIM").await, 3);
}

/// The server's own limit (here 5 messages) rejects a larger batch, whole.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_over_the_servers_limit_is_rejected_whole() {
    let server = server_with_batch_limits(5, "10s");
    let js = common::context(&server.url()).await;
    atomic_stream(&js, "BIG", "big.>", true).await;
    let mut batch = js.atomic_batch().max_messages(100);
    for i in 0..6 {
        batch.add(format!("big.{i}"), "x").await.unwrap();
    }
    let err = batch.commit("big.last", "x").await.unwrap_err();
    assert!(err.is_batch_too_large(), "{err:?}");
    assert_eq!(err.err_code(), Some(codes::ATOMIC_PUBLISH_TOO_LARGE));
    assert_eq!(stored(&js, "BIG").await, 0);

    // At the limit it goes through.
    let mut batch = js.atomic_batch().max_messages(5);
    for i in 0..4 {
        batch.add(format!("big.{i}"), "x").await.unwrap();
    }
    assert_eq!(batch.commit("big.last", "x").await.unwrap().count, 5);
}

/// A batch left idle longer than the server's timeout is abandoned (with an advisory); its
/// commit then fails as incomplete and nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_abandoned_by_the_idle_timeout_fails_as_incomplete() {
    let server = server_with_batch_limits(1000, "1s");
    let js = common::context(&server.url()).await;
    atomic_stream(&js, "IDLE", "idle.>", true).await;
    let mut advisories = js
        .client()
        .subscribe("$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.IDLE")
        .await
        .unwrap();
    js.client().flush().await.unwrap();
    let mut batch = js.atomic_batch();
    let id = batch.id().to_string();
    batch.add("idle.a", "1").await.unwrap();
    batch.add("idle.b", "2").await.unwrap();
    let advisory = common::within("abandon advisory", advisories.next())
        .await
        .unwrap();
    let advisory: serde_json::Value = serde_json::from_slice(&advisory.payload).unwrap();
    assert_eq!(advisory["batch"], id.as_str());
    assert_eq!(advisory["reason"], "timeout");
    let err = batch.commit("idle.c", "3").await.unwrap_err();
    assert!(err.is_batch_incomplete(), "{err:?}");
    assert_eq!(stored(&js, "IDLE").await, 0);
}

/// ADR-44: features the server's API level is too old for are refused before a byte is sent.
#[tokio::test(flavor = "multi_thread")]
async fn an_old_api_level_is_refused_client_side() {
    let (_server, js) = common::jetstream().await;
    assert!(js.api_level().await.unwrap() >= 4, "a 2.14+ server");
    atomic_stream(&js, "LVL", "lvl.>", true).await;
    let old = js.clone().with_api_level(1);
    let err = old.atomic_batch().add("lvl.a", "1").await.unwrap_err();
    assert!(err.is_api_level_too_low(), "{err:?}");
    assert_eq!(err.kind(), gnat_jetstream::ErrorKind::ApiLevel);
    let err = old.counter_add("lvl.c", 1).await.unwrap_err();
    assert!(err.is_api_level_too_low(), "{err:?}");
    let at = gnat_jetstream::Schedule::at(gnat_jetstream::Timestamp::now(), "lvl.t");
    assert!(
        old.schedule("lvl.s", at, "x")
            .await
            .unwrap_err()
            .is_api_level_too_low()
    );

    // 2.12 has batches but not the end-of-batch commit of 2.14.
    let v212 = js.clone().with_api_level(2);
    let mut batch = v212.atomic_batch();
    batch.add("lvl.a", "1").await.unwrap();
    assert!(batch.commit_eob().await.unwrap_err().is_api_level_too_low());
    assert_eq!(stored(&js, "LVL").await, 0);
    // The server's own check on batch messages: a required level above the server's is
    // refused (10185) and the batch abandoned.
    let mut batch = js.atomic_batch();
    let err = batch
        .add_with("lvl.z", PublishOptions::new().required_api_level(1000))
        .await
        .unwrap_err();
    assert!(err.is_api_level_too_low(), "{err:?}");
    assert_eq!(err.err_code(), Some(codes::REQUIRED_API_LEVEL));
}
