//! Cells of the self-healing table (crate docs) against real servers: for each fault, a
//! consumer stream either keeps delivering with no gap (duplicates only as at-least-once
//! redelivery allows) or yields an error naming the cause within 2 heartbeat intervals (plus
//! scheduling slack) and then ends.

mod consumer_support;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use consumer_support::*;
use futures_util::StreamExt as _;
use gnat_jetstream::client::{Backoff, ConnectOptions, Event};
use gnat_jetstream::{
    ConsumeOptions, ConsumerConfig, Context, Error, ErrorKind, JsMessage, OrderedConfig,
    StreamConfig,
};
use gnat_test_support::Cluster;
use gnat_test_support::proxy::Proxy;
use tokio::time::Instant;

const HB: Duration = Duration::from_secs(1);
/// Scheduling slack on a loaded machine, on top of the 2-interval bound.
const SLACK: Duration = Duration::from_millis(700);

/// A context through a fault proxy in front of `server`.
async fn through_proxy(proxy: &Proxy) -> Context {
    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(5))
        .reconnect_backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
            jitter: Duration::from_millis(10),
        })
        .connect(proxy.url())
        .await
        .expect("connect through the proxy");
    Context::new(client)
}

/// Reads items until an error that is not a warning; returns it and when it came.
async fn terminal_error<S>(stream: &mut S) -> (Error, Instant)
where
    S: futures_core::Stream<Item = gnat_jetstream::Result<JsMessage>> + Unpin,
{
    loop {
        match within("a terminal error", stream.next()).await {
            Some(Err(e))
                if e.kind() == ErrorKind::MissedHeartbeats
                    || (e.kind() == ErrorKind::Status && e.code() == Some(503)) =>
            {
                continue;
            }
            Some(Err(e)) => return (e, Instant::now()),
            Some(Ok(m)) => panic!("unexpected message {:?}", m.info()),
            None => panic!("ended without an error"),
        }
    }
}

async fn assert_ends<S>(stream: &mut S)
where
    S: futures_core::Stream<Item = gnat_jetstream::Result<JsMessage>> + Unpin,
{
    assert!(
        within("the end", stream.next()).await.is_none(),
        "the stream goes on after a terminal error"
    );
}

/// Cuts the proxied connection, runs `meanwhile` on the admin context while the client is
/// away, and waits for the client to be back.
async fn away_while<F: std::future::Future<Output = ()>>(
    proxy: &Proxy,
    js: &Context,
    meanwhile: F,
) -> Instant {
    let mut events = js.client().events();
    proxy.refuse_new(true);
    proxy.cut();
    within("disconnected", async {
        while !matches!(events.next().await, Some(Event::Disconnected { .. })) {}
    })
    .await;
    meanwhile.await;
    proxy.refuse_new(false);
    within("reconnected", async {
        while !matches!(events.next().await, Some(Event::Reconnected { .. })) {}
    })
    .await;
    Instant::now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_deleted_while_disconnected_ends_consume_and_push() {
    let (server, admin) = setup().await;
    let proxy = Proxy::start(server.addr());
    let js = through_proxy(&proxy).await;
    create_stream(&admin, "S", &["s.>"]).await;
    publish_many(&admin, "s.a", 2).await;
    let pull = js
        .create_pull_consumer("S", ConsumerConfig::durable("PULL"))
        .await
        .unwrap();
    let mut consume = pull
        .consume(ConsumeOptions::new().idle_heartbeat(HB).expires(HB * 4))
        .await
        .unwrap();
    let push = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("PUSH")
                .deliver_subject(js.client().new_inbox())
                .idle_heartbeat(HB),
        )
        .await
        .unwrap();
    let mut pushed = push.messages().await.unwrap();
    for _ in 0..2 {
        next_ok(&mut consume).await.ack().await.unwrap();
        next_ok(&mut pushed).await.ack().await.unwrap();
    }
    let back = away_while(&proxy, &js, async {
        admin.delete_consumer("S", "PULL").await.unwrap();
        admin.delete_consumer("S", "PUSH").await.unwrap();
    })
    .await;
    let (err, at) = terminal_error(&mut consume).await;
    assert!(err.is_consumer_deleted(), "{err:?}");
    assert!(at - back <= HB * 2 + SLACK, "consume: {:?}", at - back);
    assert_ends(&mut consume).await;
    let (err, at) = terminal_error(&mut pushed).await;
    assert!(err.is_consumer_deleted(), "{err:?}");
    assert!(at - back <= HB * 2 + SLACK, "push: {:?}", at - back);
    assert_ends(&mut pushed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_resumes_consume_push_and_ordered_without_gaps() {
    let (server, admin) = setup().await;
    let proxy = Proxy::start(server.addr());
    let js = through_proxy(&proxy).await;
    create_stream(&admin, "S", &["s.>"]).await;
    publish_many(&admin, "s.a", 30).await;
    let pull = js
        .create_pull_consumer("S", ConsumerConfig::durable("PULL"))
        .await
        .unwrap();
    let mut consume = pull
        .consume(
            ConsumeOptions::new()
                .max_messages(10)
                .idle_heartbeat(HB)
                .expires(HB * 4),
        )
        .await
        .unwrap();
    let push = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("PUSH")
                .deliver_subject(js.client().new_inbox())
                .idle_heartbeat(HB)
                .ack_wait(Duration::from_secs(2)),
        )
        .await
        .unwrap();
    let mut pushed = push.messages().await.unwrap();
    let mut ordered = js
        .ordered_consumer("S", OrderedConfig::new().idle_heartbeat(HB))
        .await
        .unwrap();
    let mut seen = [BTreeSet::new(), BTreeSet::new(), BTreeSet::new()];
    for _ in 0..10 {
        let m = next_ok(&mut consume).await;
        m.double_ack().await.unwrap();
        seen[0].insert(sseq(&m));
        let m = next_ok(&mut pushed).await;
        m.double_ack().await.unwrap();
        seen[1].insert(sseq(&m));
        seen[2].insert(sseq(&next_ok(&mut ordered).await));
    }
    away_while(&proxy, &js, async {
        publish_many(&admin, "s.b", 30).await;
    })
    .await;
    // Everything (60) arrives on each; only the ordered consumer must be strictly in order.
    let mut last_ordered = *seen[2].last().unwrap();
    within("all 60 on each", async {
        while seen.iter().any(|s| s.len() < 60) {
            tokio::select! {
                Some(item) = consume.next(), if seen[0].len() < 60 => {
                    if let Ok(m) = item {
                        seen[0].insert(sseq(&m));
                        let _ = m.ack().await;
                    }
                }
                Some(item) = pushed.next(), if seen[1].len() < 60 => {
                    if let Ok(m) = item {
                        seen[1].insert(sseq(&m));
                        let _ = m.ack().await;
                    }
                }
                Some(item) = ordered.next(), if seen[2].len() < 60 => {
                    let m = item.expect("the ordered consumer heals itself");
                    assert_eq!(sseq(&m), last_ordered + 1, "ordered: gap or duplicate");
                    last_ordered += 1;
                    seen[2].insert(sseq(&m));
                }
            }
        }
    })
    .await;
    for s in &seen {
        assert_eq!(*s, (1..=60).collect::<BTreeSet<u64>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_deleted_ends_consume_push_and_ordered() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 1).await;
    let pull = js
        .create_pull_consumer("S", ConsumerConfig::durable("PULL"))
        .await
        .unwrap();
    let mut consume = pull
        .consume(ConsumeOptions::new().idle_heartbeat(HB).expires(HB * 4))
        .await
        .unwrap();
    let push = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("PUSH")
                .deliver_subject(js.client().new_inbox())
                .idle_heartbeat(HB),
        )
        .await
        .unwrap();
    let mut pushed = push.messages().await.unwrap();
    let mut ordered = js
        .ordered_consumer("S", OrderedConfig::new().idle_heartbeat(HB))
        .await
        .unwrap();
    next_ok(&mut consume).await.ack().await.unwrap();
    next_ok(&mut pushed).await.ack().await.unwrap();
    next_ok(&mut ordered).await;
    js.delete_stream("S").await.unwrap();
    let deleted = Instant::now();
    let gone = |e: &Error| e.is_consumer_deleted() || e.is_stream_not_found();
    let (err, at) = terminal_error(&mut consume).await;
    assert!(gone(&err), "consume: {err:?}");
    assert!(
        at - deleted <= HB * 2 + SLACK,
        "consume: {:?}",
        at - deleted
    );
    assert_ends(&mut consume).await;
    let (err, at) = terminal_error(&mut pushed).await;
    assert!(gone(&err), "push: {err:?}");
    assert!(at - deleted <= HB * 2 + SLACK, "push: {:?}", at - deleted);
    assert_ends(&mut pushed).await;
    // The ordered consumer tries to recreate itself and is told the stream is gone.
    let (err, at) = terminal_error(&mut ordered).await;
    assert!(err.is_stream_not_found(), "ordered: {err:?}");
    assert!(
        at - deleted <= HB * 2 + SLACK,
        "ordered: {:?}",
        at - deleted
    );
    assert_ends(&mut ordered).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_heartbeats_queued_while_the_application_is_busy_are_not_missed() {
    let (_server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    let hb = Duration::from_millis(500);
    let push = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("PUSH")
                .deliver_subject(js.client().new_inbox())
                .idle_heartbeat(hb),
        )
        .await
        .unwrap();
    let mut pushed = push.messages().await.unwrap();
    publish_many(&js, "s.a", 5).await;
    let first = next_ok(&mut pushed).await;
    // The application is busy for 4 heartbeat intervals and does not poll; heartbeats and
    // messages queue up meanwhile.
    let busy_until = Instant::now() + hb * 4;
    while Instant::now() < busy_until {
        std::thread::sleep(Duration::from_millis(20));
        tokio::task::yield_now().await;
    }
    first.ack().await.unwrap();
    for want in 2..=5 {
        let m = next_ok(&mut pushed).await;
        assert_eq!(sseq(&m), want);
        m.ack().await.unwrap();
    }
    assert_eq!(pushed.warnings(), Some(0));
}

/// A consumer-level leader change on an R3 stream: consume, push and ordered keep delivering
/// everything.
#[tokio::test(flavor = "multi_thread")]
async fn r3_consumer_leader_change_loses_nothing() {
    let cluster = Cluster::start(3);
    let urls = cluster.urls().join(",");
    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(5))
        .connect(&urls)
        .await
        .expect("connect");
    let js = Context::new(client);
    eventually("the R3 stream is created", || async {
        js.create_stream(StreamConfig::new("R3").subjects(["r3.>"]).num_replicas(3))
            .await
            .ok()
    })
    .await;
    let publish_n = |from: u64, n: u64| {
        let js = js.clone();
        async move {
            for i in from..from + n {
                eventually("publish", || async {
                    js.publish(format!("r3.{i}"), Bytes::from(i.to_string()))
                        .await
                        .ok()
                })
                .await;
            }
        }
    };
    publish_n(1, 20).await;
    let pull = js
        .create_pull_consumer("R3", ConsumerConfig::durable("PULL").num_replicas(3))
        .await
        .unwrap();
    let mut consume = pull
        .consume(
            ConsumeOptions::new()
                .max_messages(5)
                .idle_heartbeat(HB)
                .expires(HB * 4),
        )
        .await
        .unwrap();
    let push = js
        .create_push_consumer(
            "R3",
            ConsumerConfig::durable("PUSH")
                .num_replicas(3)
                .deliver_subject(js.client().new_inbox())
                .idle_heartbeat(HB)
                .ack_wait(Duration::from_secs(2)),
        )
        .await
        .unwrap();
    let mut pushed = push.messages().await.unwrap();
    let mut ordered = js
        .ordered_consumer("R3", OrderedConfig::new().idle_heartbeat(HB))
        .await
        .unwrap();
    let mut seen = [BTreeSet::new(), BTreeSet::new(), BTreeSet::new()];
    for _ in 0..10 {
        let m = next_ok(&mut consume).await;
        m.double_ack().await.unwrap();
        seen[0].insert(sseq(&m));
        let m = next_ok(&mut pushed).await;
        m.double_ack().await.unwrap();
        seen[1].insert(sseq(&m));
        seen[2].insert(sseq(&next_ok(&mut ordered).await));
    }
    for consumer in ["PULL", "PUSH"] {
        eventually("consumer leader step-down", || async {
            let reply = js
                .request_raw(
                    &format!("CONSUMER.LEADER.STEPDOWN.R3.{consumer}"),
                    Bytes::new(),
                )
                .await
                .ok()?;
            let v: serde_json::Value = serde_json::from_slice(&reply.payload).ok()?;
            (v["success"] == true).then_some(())
        })
        .await;
    }
    eventually("the stream leader steps down", || async {
        let reply = js
            .request_raw("STREAM.LEADER.STEPDOWN.R3", Bytes::new())
            .await
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&reply.payload).ok()?;
        (v["success"] == true).then_some(())
    })
    .await;
    publish_n(21, 20).await;
    let mut last_ordered = *seen[2].last().unwrap();
    let mut warnings = 0u32;
    within("all 40 on each", async {
        while seen.iter().any(|s| s.len() < 40) {
            tokio::select! {
                Some(item) = consume.next(), if seen[0].len() < 40 => match item {
                    Ok(m) => {
                        seen[0].insert(sseq(&m));
                        let _ = m.ack().await;
                    }
                    Err(e) => {
                        assert!(!e.is_consumer_deleted(), "{e:?}");
                        warnings += 1;
                    }
                },
                Some(item) = pushed.next(), if seen[1].len() < 40 => match item {
                    Ok(m) => {
                        seen[1].insert(sseq(&m));
                        let _ = m.ack().await;
                    }
                    Err(e) => {
                        assert!(!e.is_consumer_deleted(), "{e:?}");
                        warnings += 1;
                    }
                },
                Some(item) = ordered.next(), if seen[2].len() < 40 => {
                    let m = item.expect("the ordered consumer heals itself");
                    assert_eq!(sseq(&m), last_ordered + 1, "ordered: gap or duplicate");
                    last_ordered += 1;
                    seen[2].insert(sseq(&m));
                }
            }
        }
    })
    .await;
    for s in &seen {
        assert_eq!(*s, (1..=40).collect::<BTreeSet<u64>>());
    }
    eprintln!("warnings through the leader changes: {warnings}");
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_survives_a_server_restart_without_gaps() {
    let (mut server, js) = setup().await;
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 20).await;
    let push = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("PUSH")
                .deliver_subject(js.client().new_inbox())
                .idle_heartbeat(HB)
                .ack_wait(Duration::from_secs(2)),
        )
        .await
        .unwrap();
    let mut pushed = push.messages().await.unwrap();
    let mut seen = BTreeSet::new();
    for _ in 0..10 {
        let m = next_ok(&mut pushed).await;
        m.double_ack().await.unwrap();
        seen.insert(sseq(&m));
    }
    tokio::task::block_in_place(|| server.restart());
    eventually("publish after the restart", || async {
        js.publish("s.b", Bytes::from_static(b"after")).await.ok()
    })
    .await;
    let mut warnings = 0;
    within("all 21", async {
        while seen.len() < 21 {
            match pushed.next().await {
                Some(Ok(m)) => {
                    seen.insert(sseq(&m));
                    let _ = m.ack().await;
                }
                Some(Err(e)) => {
                    assert!(!e.is_consumer_deleted(), "{e:?}");
                    warnings += 1;
                }
                None => panic!("the push stream ended"),
            }
        }
    })
    .await;
    assert_eq!(seen, (1..=21).collect::<BTreeSet<u64>>());
    eprintln!("warnings across the restart: {warnings}");
}

/// The server a client is on enters lame duck mode (SIGUSR2): consume, push and ordered move
/// to another node of the cluster with the client and keep delivering everything.
#[tokio::test(flavor = "multi_thread")]
async fn lame_duck_moves_consumers_to_another_node() {
    let cluster = Cluster::start_with(3, |_, b| {
        b.lame_duck_duration(Duration::from_secs(30))
            .lame_duck_grace_period(Duration::from_millis(200))
    });
    let urls = cluster.urls();
    // The consumers' client knows only node 0 and learns the others from the cluster.
    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(5))
        .reconnect_backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(100),
            jitter: Duration::from_millis(10),
        })
        .connect(&urls[0])
        .await
        .expect("connect");
    let js = Context::new(client);
    let publisher = ConnectOptions::new()
        .request_timeout(Duration::from_secs(5))
        .connect(&urls[1])
        .await
        .expect("connect");
    let publisher = Context::new(publisher);
    eventually("the R3 stream is created", || async {
        publisher
            .create_stream(StreamConfig::new("R3").subjects(["r3.>"]).num_replicas(3))
            .await
            .ok()
    })
    .await;
    let publish_n = |from: u64, n: u64| {
        let js = publisher.clone();
        async move {
            for i in from..from + n {
                eventually("publish", || async {
                    let options = gnat_jetstream::PublishOptions::new()
                        .payload(i.to_string())
                        .msg_id(format!("m{i}"));
                    js.publish_with(format!("r3.{i}"), options).await.ok()
                })
                .await;
            }
        }
    };
    publish_n(1, 10).await;
    let pull = js
        .create_pull_consumer("R3", ConsumerConfig::durable("PULL").num_replicas(3))
        .await
        .unwrap();
    let mut consume = pull
        .consume(
            ConsumeOptions::new()
                .max_messages(5)
                .idle_heartbeat(HB)
                .expires(HB * 4),
        )
        .await
        .unwrap();
    let push = js
        .create_push_consumer(
            "R3",
            ConsumerConfig::durable("PUSH")
                .num_replicas(3)
                .deliver_subject(js.client().new_inbox())
                .idle_heartbeat(HB)
                .ack_wait(Duration::from_secs(2)),
        )
        .await
        .unwrap();
    let mut pushed = push.messages().await.unwrap();
    let mut ordered = js
        .ordered_consumer("R3", OrderedConfig::new().idle_heartbeat(HB))
        .await
        .unwrap();
    let mut seen = [BTreeSet::new(), BTreeSet::new(), BTreeSet::new()];
    for _ in 0..10 {
        let m = next_ok(&mut consume).await;
        m.double_ack().await.unwrap();
        seen[0].insert(sseq(&m));
        let m = next_ok(&mut pushed).await;
        m.double_ack().await.unwrap();
        seen[1].insert(sseq(&m));
        seen[2].insert(sseq(&next_ok(&mut ordered).await));
    }
    let mut events = js.client().events();
    let ok = std::process::Command::new("kill")
        .arg("-USR2")
        .arg(cluster.server(0).pid().to_string())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("no `kill` command: cannot signal lame duck mode");
        return;
    }
    within("the client moves to another node", async {
        while !matches!(events.next().await, Some(Event::Reconnected { .. })) {}
    })
    .await;
    publish_n(11, 20).await;
    let mut last_ordered = *seen[2].last().unwrap();
    within("all 30 on each", async {
        while seen.iter().any(|s| s.len() < 30) {
            tokio::select! {
                Some(item) = consume.next(), if seen[0].len() < 30 => match item {
                    Ok(m) => {
                        seen[0].insert(sseq(&m));
                        let _ = m.ack().await;
                    }
                    Err(e) => assert!(!e.is_consumer_deleted(), "{e:?}"),
                },
                Some(item) = pushed.next(), if seen[1].len() < 30 => match item {
                    Ok(m) => {
                        seen[1].insert(sseq(&m));
                        let _ = m.ack().await;
                    }
                    Err(e) => assert!(!e.is_consumer_deleted(), "{e:?}"),
                },
                Some(item) = ordered.next(), if seen[2].len() < 30 => {
                    let m = item.expect("the ordered consumer heals itself");
                    assert_eq!(sseq(&m), last_ordered + 1, "ordered: gap or duplicate");
                    last_ordered += 1;
                    seen[2].insert(sseq(&m));
                }
            }
        }
    })
    .await;
    for s in &seen {
        assert_eq!(*s, (1..=30).collect::<BTreeSet<u64>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_client_ends_every_stream_with_an_error_that_says_so() {
    let (_server, admin) = setup().await;
    create_stream(&admin, "S", &["s.>"]).await;
    publish_many(&admin, "s.a", 1).await;
    let js = connect(&_server).await;
    let pull = js
        .create_pull_consumer("S", ConsumerConfig::durable("PULL"))
        .await
        .unwrap();
    let mut consume = pull.messages().await.unwrap();
    let push = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("PUSH").deliver_subject(js.client().new_inbox()),
        )
        .await
        .unwrap();
    let mut pushed = push.messages().await.unwrap();
    let mut ordered = js
        .ordered_consumer("S", OrderedConfig::new())
        .await
        .unwrap();
    next_ok(&mut consume).await;
    next_ok(&mut pushed).await;
    next_ok(&mut ordered).await;
    js.client().close().await;
    for (name, item) in [
        ("consume", within("consume", consume.next()).await),
        ("push", within("push", pushed.next()).await),
        ("ordered", within("ordered", ordered.next()).await),
    ] {
        match item {
            Some(Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::Client, "{name}: {e:?}");
                assert!(e.to_string().contains("client is closed"), "{name}: {e}");
            }
            other => panic!("{name}: expected an error, got {other:?}"),
        }
    }
    assert!(within("end", consume.next()).await.is_none());
    assert!(within("end", pushed.next()).await.is_none());
    assert!(within("end", ordered.next()).await.is_none());
}

/// The JetStream-disabled row: the account's JetStream is turned off by a config reload
/// (SIGHUP) under live consumers; each stream says so and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_disabled_for_the_account_ends_consume_push_and_ordered() {
    let server = gnat_test_support::NatsServer::builder()
        .jetstream(true)
        .config("accounts {\n  A: { jetstream: enabled, users: [ {user: a, password: a} ] }\n}\n")
        .start();
    let url = server.url().replace("nats://", "nats://a:a@");
    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .expect("connect");
    let js = Context::new(client);
    create_stream(&js, "S", &["s.>"]).await;
    publish_many(&js, "s.a", 1).await;
    let pull = js
        .create_pull_consumer("S", ConsumerConfig::durable("PULL"))
        .await
        .unwrap();
    let mut consume = pull
        .consume(ConsumeOptions::new().idle_heartbeat(HB).expires(HB * 4))
        .await
        .unwrap();
    let push = js
        .create_push_consumer(
            "S",
            ConsumerConfig::durable("PUSH")
                .deliver_subject(js.client().new_inbox())
                .idle_heartbeat(HB),
        )
        .await
        .unwrap();
    let mut pushed = push.messages().await.unwrap();
    let mut ordered = js
        .ordered_consumer("S", OrderedConfig::new().idle_heartbeat(HB))
        .await
        .unwrap();
    next_ok(&mut consume).await.ack().await.unwrap();
    next_ok(&mut pushed).await.ack().await.unwrap();
    next_ok(&mut ordered).await;
    let conf = server.dir().join("server.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        text.replace("jetstream: enabled", "jetstream: disabled"),
    )
    .unwrap();
    let signalled = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(server.pid().to_string())
        .status()
        .is_ok_and(|s| s.success());
    if !signalled {
        eprintln!("no `kill` command: cannot reload the server");
        return;
    }
    let reloaded = Instant::now();
    let (err, at) = terminal_error(&mut consume).await;
    assert!(err.is_jetstream_disabled(), "consume: {err:?}");
    assert!(
        at - reloaded <= HB * 2 + SLACK,
        "consume: {:?}",
        at - reloaded
    );
    assert_ends(&mut consume).await;
    let (err, at) = terminal_error(&mut pushed).await;
    assert!(err.is_jetstream_disabled(), "push: {err:?}");
    assert!(at - reloaded <= HB * 2 + SLACK, "push: {:?}", at - reloaded);
    assert_ends(&mut pushed).await;
    let (err, at) = terminal_error(&mut ordered).await;
    assert!(err.is_jetstream_disabled(), "ordered: {err:?}");
    assert!(
        at - reloaded <= HB * 2 + SLACK,
        "ordered: {:?}",
        at - reloaded
    );
    assert_ends(&mut ordered).await;
}
