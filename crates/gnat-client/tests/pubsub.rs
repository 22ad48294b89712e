//! Publish/subscribe against a real nats-server: wildcards, queue groups, headers, echo,
//! payload sizes, input validation, flush, slow consumers, unsubscribe and drain.

mod real;

use std::collections::BTreeSet;
use std::time::Duration;

use gnat_client::{
    Client, CloseReason, ConnectOptions, ErrorKind, Event, HeaderMap, Message, SubscriptionLimits,
};
use gnat_test_support::NatsServer;
use real::{
    assert_ends, barrier, has_ended, next, pattern, ready_events, server_subs, take_ready,
    wait_event, within,
};

async fn connect(server: &NatsServer) -> Client {
    gnat_client::connect(server.url()).await.unwrap()
}

async fn connect_named(server: &NatsServer, name: &str) -> Client {
    ConnectOptions::new()
        .name(name)
        .connect(server.url())
        .await
        .unwrap()
}

fn subjects(msgs: &[Message]) -> Vec<String> {
    msgs.iter().map(|m| m.subject.to_string()).collect()
}

fn payloads(msgs: &[Message]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect()
}

#[tokio::test]
async fn publish_reaches_subscriber() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut sub = client.subscribe("greet.*").await.unwrap();
    client.flush().await.unwrap();
    client.publish("greet.joe", "hello").await.unwrap();
    let msg = next(&mut sub).await;
    assert_eq!(msg.subject, "greet.joe");
    assert_eq!(&msg.payload[..], b"hello");
    assert!(msg.reply.is_none());
    assert!(msg.headers.is_none());
}

#[tokio::test]
async fn headers_round_trip() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut sub = client.subscribe("h").await.unwrap();
    client.flush().await.unwrap();
    let mut headers = HeaderMap::new();
    headers.append("A", "1").unwrap();
    headers.append("A", "2").unwrap();
    headers.append("Other", "x y").unwrap();
    client
        .publish_with_headers("h", &headers, "body")
        .await
        .unwrap();
    let msg = next(&mut sub).await;
    let got = msg.headers.expect("headers");
    assert_eq!(got.get_all("A").collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(got.get("Other"), Some("x y"));
    assert_eq!(got.get("a"), None);
    assert_eq!(&msg.payload[..], b"body");
}

/// Names differing only in case are distinct headers, in order; values keep colons and inner
/// spaces; a header-only message has an empty payload; a reply subject travels with headers.
#[tokio::test]
async fn headers_are_case_sensitive_and_keep_order() {
    let server = NatsServer::start();
    let subscriber = connect(&server).await;
    let publisher = connect(&server).await;
    let mut sub = subscriber.subscribe("hdr.>").await.unwrap();
    subscriber.flush().await.unwrap();

    let mut headers = HeaderMap::new();
    headers.append("X-Key", "upper").unwrap();
    headers.append("x-key", "lower").unwrap();
    headers.append("X-Key", "upper again").unwrap();
    headers.append("Url", "nats://h:4222/a b").unwrap();
    publisher
        .publish_with_reply_and_headers("hdr.only", "my.reply", &headers, "")
        .await
        .unwrap();
    barrier(&publisher, &subscriber).await;

    let msg = next(&mut sub).await;
    assert_eq!(msg.subject, "hdr.only");
    assert_eq!(msg.reply.as_deref(), Some("my.reply"));
    assert!(msg.payload.is_empty());
    let got = msg.headers.expect("headers");
    assert_eq!(
        got.get_all("X-Key").collect::<Vec<_>>(),
        ["upper", "upper again"]
    );
    assert_eq!(got.get_all("x-key").collect::<Vec<_>>(), ["lower"]);
    assert_eq!(got.get("X-KEY"), None);
    assert_eq!(got.get("Url"), Some("nats://h:4222/a b"));
    let order: Vec<(&str, &str)> = got.iter().collect();
    assert_eq!(
        order,
        [
            ("X-Key", "upper"),
            ("x-key", "lower"),
            ("X-Key", "upper again"),
            ("Url", "nats://h:4222/a b")
        ]
    );
    assert!(take_ready(&mut sub).is_empty());
}

/// `*` matches exactly one token, `>` one or more trailing tokens; literal tokens must match.
#[tokio::test]
async fn wildcards_match_whole_tokens() {
    let server = NatsServer::start();
    let subscriber = connect(&server).await;
    let publisher = connect(&server).await;
    let mut star = subscriber.subscribe("w.*").await.unwrap();
    let mut gt = subscriber.subscribe("w.>").await.unwrap();
    let mut mid = subscriber.subscribe("w.*.c").await.unwrap();
    let mut exact = subscriber.subscribe("w.b.c").await.unwrap();
    subscriber.flush().await.unwrap();

    for subject in [
        "w", "w.b", "w.b.c", "w.x.c", "w.b.c.d", "w.b.d", "wb.c", "x.b",
    ] {
        publisher
            .publish(subject, subject.to_string())
            .await
            .unwrap();
    }
    barrier(&publisher, &subscriber).await;

    assert_eq!(subjects(&take_ready(&mut star)), ["w.b"]);
    assert_eq!(
        subjects(&take_ready(&mut gt)),
        ["w.b", "w.b.c", "w.x.c", "w.b.c.d", "w.b.d"]
    );
    assert_eq!(subjects(&take_ready(&mut mid)), ["w.b.c", "w.x.c"]);
    assert_eq!(subjects(&take_ready(&mut exact)), ["w.b.c"]);
}

/// Two members of a queue group share the messages (each exactly once between them); a plain
/// subscriber on the same subject gets all of them.
#[tokio::test]
async fn queue_group_splits_plain_subscriber_gets_all() {
    let server = NatsServer::start();
    let member_a = connect(&server).await;
    let member_b = connect(&server).await;
    let plain_client = connect(&server).await;
    let publisher = connect(&server).await;
    let mut qa = member_a.queue_subscribe("jobs", "workers").await.unwrap();
    let mut qb = member_b.queue_subscribe("jobs", "workers").await.unwrap();
    let mut plain = plain_client.subscribe("jobs").await.unwrap();
    assert_eq!(qa.queue_group(), Some("workers"));
    for c in [&member_a, &member_b, &plain_client] {
        c.flush().await.unwrap();
    }

    for i in 0..100 {
        publisher.publish("jobs", i.to_string()).await.unwrap();
    }
    barrier(&publisher, &member_a).await;
    barrier(&publisher, &member_b).await;
    barrier(&publisher, &plain_client).await;

    let got_a = payloads(&take_ready(&mut qa));
    let got_b = payloads(&take_ready(&mut qb));
    let got_plain = payloads(&take_ready(&mut plain));
    let all: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    assert_eq!(
        got_plain, all,
        "the plain subscriber gets every message, in order"
    );
    assert_eq!(got_a.len() + got_b.len(), 100, "{got_a:?} {got_b:?}");
    let union: BTreeSet<&String> = got_a.iter().chain(&got_b).collect();
    assert_eq!(union.len(), 100, "no message went to both members");
    // 100 coin flips all landing on one side would mean the group is not a group.
    assert!(!got_a.is_empty() && !got_b.is_empty());
}

/// With `no_echo`, a connection's own publishes are not delivered to its own subscriptions;
/// without it (the default) they are.
#[tokio::test]
async fn no_echo_suppresses_own_messages() {
    let server = NatsServer::start();
    let quiet = ConnectOptions::new()
        .no_echo()
        .connect(server.url())
        .await
        .unwrap();
    let echoing = connect(&server).await;
    let mut quiet_sub = quiet.subscribe("echo").await.unwrap();
    let mut echo_sub = echoing.subscribe("echo").await.unwrap();
    quiet.flush().await.unwrap();
    echoing.flush().await.unwrap();

    quiet.publish("echo", "from quiet").await.unwrap();
    barrier(&quiet, &echoing).await;
    echoing.publish("echo", "from echoing").await.unwrap();
    barrier(&echoing, &quiet).await;

    assert_eq!(payloads(&take_ready(&mut quiet_sub)), ["from echoing"]);
    assert_eq!(
        payloads(&take_ready(&mut echo_sub)),
        ["from quiet", "from echoing"]
    );
}

/// Payloads around and above the 32 KiB chaining threshold, with and without headers,
/// interleaved with small ones: all arrive intact and in order.
#[tokio::test]
async fn large_payloads_arrive_intact_and_in_order() {
    let server = NatsServer::start();
    let subscriber = connect(&server).await;
    let publisher = connect(&server).await;
    let mut sub = subscriber.subscribe("big").await.unwrap();
    subscriber.flush().await.unwrap();

    let sizes = [
        32 * 1024 - 1,
        32 * 1024,
        32 * 1024 + 1,
        5,
        100_000,
        0,
        512 * 1024,
        64 * 1024,
    ];
    let mut headers = HeaderMap::new();
    headers.append("Seq", "x").unwrap();
    let mut sent = Vec::new();
    for round in 0..3u8 {
        for (i, &len) in sizes.iter().enumerate() {
            let seed = round * 16 + i as u8;
            let body = pattern(len, seed);
            if (i + round as usize).is_multiple_of(2) {
                publisher.publish("big", body.clone()).await.unwrap();
                sent.push((false, body));
            } else {
                publisher
                    .publish_with_headers("big", &headers, body.clone())
                    .await
                    .unwrap();
                sent.push((true, body));
            }
        }
    }
    for (i, (with_headers, body)) in sent.iter().enumerate() {
        let msg = next(&mut sub).await;
        assert_eq!(msg.payload.len(), body.len(), "message {i}");
        assert!(msg.payload[..] == body[..], "message {i}: payload differs");
        assert_eq!(msg.headers.is_some(), *with_headers, "message {i}");
    }
    barrier(&publisher, &subscriber).await;
    assert!(take_ready(&mut sub).is_empty());
}

/// A payload of exactly `max_payload` (and headers + payload of exactly `max_payload`) is
/// delivered; one byte more fails locally with `MaxPayloadExceeded`, nothing reaches the
/// server (the connection is not dropped for a payload violation), and the next publish works.
#[tokio::test]
async fn max_payload_is_enforced_locally() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut events = client.events();
    let mut sub = client.subscribe("max").await.unwrap();
    client.flush().await.unwrap();
    let max = client.max_payload();
    assert_eq!(
        max,
        server.info().unwrap()["max_payload"].as_u64().unwrap() as usize
    );

    client.publish("max", pattern(max, 1)).await.unwrap();
    let err = client
        .publish("max", pattern(max + 1, 2))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MaxPayloadExceeded, "{err}");

    let mut headers = HeaderMap::new();
    headers.append("K", "v").unwrap();
    let room = max - headers.encoded_len();
    client
        .publish_with_headers("max", &headers, pattern(room, 3))
        .await
        .unwrap();
    let err = client
        .publish_with_headers("max", &headers, pattern(room + 1, 4))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MaxPayloadExceeded, "{err}");
    let err = client
        .request("max", pattern(max + 1, 5))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MaxPayloadExceeded, "{err}");
    assert_eq!(client.pending_requests(), 0);

    client.publish("max", "after").await.unwrap();
    client.flush().await.unwrap();

    let got = take_ready(&mut sub);
    let sizes: Vec<usize> = got.iter().map(|m| m.payload.len()).collect();
    assert_eq!(sizes, [max, room, 5]);
    assert!(got[0].payload[..] == pattern(max, 1)[..]);
    assert!(got[1].payload[..] == pattern(room, 3)[..]);
    assert_eq!(&got[2].payload[..], b"after");
    assert_eq!(client.statistics().reconnects, 0);
    let seen = ready_events(&mut events);
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::Disconnected { .. } | Event::ServerError { .. })),
        "{seen:?}"
    );
}

/// The limit comes from the server's INFO, not a built-in default: with `max_payload: 4096`
/// configured, 4096 bytes go through and 4097 fail locally (1 MiB would be accepted by a
/// client that assumed the default, and the server would then cut the connection).
#[tokio::test]
async fn max_payload_follows_the_server_configuration() {
    let server = NatsServer::builder().config("max_payload: 4096").start();
    let client = connect(&server).await;
    let mut events = client.events();
    assert_eq!(client.max_payload(), 4096);
    let mut sub = client.subscribe("small").await.unwrap();
    client.flush().await.unwrap();

    let err = client.publish("small", pattern(4097, 1)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MaxPayloadExceeded, "{err}");
    assert!(err.is_invalid_input());
    client.publish("small", pattern(4096, 2)).await.unwrap();
    client.flush().await.unwrap();
    let got = take_ready(&mut sub);
    assert_eq!(got.len(), 1);
    assert!(got[0].payload[..] == pattern(4096, 2)[..]);
    let seen = ready_events(&mut events);
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Disconnected { .. })),
        "{seen:?}"
    );
}

/// Subjects and queue groups that could inject protocol, or break the subject grammar, are
/// refused with `InvalidInput` and nothing is written: a `>` subscriber sees none of them,
/// the server holds only the valid subscriptions, and the connection stays up.
#[tokio::test]
async fn invalid_subjects_and_queues_are_rejected_before_sending() {
    let server = NatsServer::start();
    let spy = connect(&server).await;
    let client = connect_named(&server, "validator").await;
    let mut events = client.events();
    let mut everything = spy.subscribe(">").await.unwrap();
    spy.flush().await.unwrap();

    let bad_publish = [
        "",
        "a b",
        "a\tb",
        "a\r\nPUB x 1",
        "a\nb",
        "a.*",
        "a.>",
        ">",
        ".a",
        "a.",
        "a..b",
    ];
    for subject in bad_publish {
        let err = client.publish(subject, "x").await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidInput,
            "publish {subject:?}: {err}"
        );
        let err = client.request(subject, "x").await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidInput,
            "request {subject:?}: {err}"
        );
    }
    for reply in ["", "r b", "r\r\n", "r.*", "r.>"] {
        let err = client
            .publish_with_reply("ok.subject", reply, "x")
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidInput,
            "reply {reply:?}: {err}"
        );
    }
    let bad_subscribe = [
        "", ".a", "a.", "a..b", "foo*", "*a", "a>", "a.>.b", "a b", "a\tb", "a\r\nb",
    ];
    for subject in bad_subscribe {
        let err = client.subscribe(subject).await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidInput,
            "subscribe {subject:?}: {err}"
        );
    }
    for queue in ["", "q 1", "q\t1", "q\r\n1"] {
        let err = client.queue_subscribe("ok", queue).await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidInput,
            "queue {queue:?}: {err}"
        );
    }
    assert_eq!(client.pending_requests(), 0);

    // The valid forms are accepted.
    let _s1 = client.subscribe("a.*.c").await.unwrap();
    let _s2 = client.subscribe("a.>").await.unwrap();
    let _s3 = client.queue_subscribe("ok", "q1").await.unwrap();
    client.publish("sentinel", "end").await.unwrap();
    barrier(&client, &spy).await;

    let got = take_ready(&mut everything);
    assert_eq!(subjects(&got), ["sentinel"], "{got:?}");
    assert_eq!(
        server_subs(&server, "validator"),
        [
            ("a.*.c".to_string(), None),
            ("a.>".to_string(), None),
            ("ok".to_string(), Some("q1".to_string())),
        ]
    );
    assert_eq!(client.statistics().reconnects, 0);
    let seen = ready_events(&mut events);
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::Disconnected { .. } | Event::ServerError { .. })),
        "{seen:?}"
    );
}

/// After `publish` ×N and `flush()`, a subscriber on another connection that flushed too has
/// every message, in order, already queued.
#[tokio::test]
async fn flush_means_the_server_has_everything() {
    const N: usize = 10_000;
    let server = NatsServer::start();
    let subscriber = connect(&server).await;
    let publisher = connect(&server).await;
    let mut sub = subscriber.subscribe("seq").await.unwrap();
    subscriber.flush().await.unwrap();

    for i in 0..N {
        publisher.publish("seq", i.to_string()).await.unwrap();
    }
    within("flush", publisher.flush()).await.unwrap();
    within("flush", subscriber.flush()).await.unwrap();

    let got = take_ready(&mut sub);
    assert_eq!(
        got.len(),
        N,
        "every message is there right after the flushes"
    );
    for (i, msg) in got.iter().enumerate() {
        assert_eq!(msg.payload, i.to_string(), "message {i} out of order");
    }
    let stats = publisher.statistics();
    let bytes: u64 = (0..N).map(|i| i.to_string().len() as u64).sum();
    assert_eq!((stats.out_messages, stats.out_bytes), (N as u64, bytes));
    let stats = subscriber.statistics();
    assert_eq!((stats.in_messages, stats.in_bytes), (N as u64, bytes));
}

/// A subscription over its message limit drops and counts the excess, raises one
/// `SlowConsumer` event per episode, and keeps what fit, in order.
#[tokio::test]
async fn slow_consumer_drops_counts_and_reports_once_per_episode() {
    let server = NatsServer::start();
    let subscriber = connect(&server).await;
    let publisher = connect(&server).await;
    let mut events = subscriber.events();
    let limits = SubscriptionLimits {
        messages: 10,
        bytes: 1 << 20,
    };
    let mut sub = subscriber
        .subscribe_with("slow", None, limits)
        .await
        .unwrap();
    let mut other = subscriber.subscribe("slow").await.unwrap();
    subscriber.flush().await.unwrap();

    for i in 0..100 {
        publisher.publish("slow", i.to_string()).await.unwrap();
    }
    barrier(&publisher, &subscriber).await;
    let (event, _) = wait_event(&mut events, "SlowConsumer", |e| {
        matches!(e, Event::SlowConsumer { .. })
    })
    .await;
    assert_eq!(
        event,
        Event::SlowConsumer {
            sid: sub.sid(),
            subject: "slow".to_string()
        }
    );
    assert_eq!(sub.dropped(), 90);
    assert_eq!(subscriber.statistics().slow_consumer_drops, 90);
    let kept: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(payloads(&take_ready(&mut sub)), kept);
    assert_eq!(
        take_ready(&mut other).len(),
        100,
        "other subscriptions carry on"
    );

    // A second episode after the backlog was read: one more event.
    for i in 0..100 {
        publisher.publish("slow", i.to_string()).await.unwrap();
    }
    barrier(&publisher, &subscriber).await;
    subscriber.flush().await.unwrap(); // events of the previous read round are out by now
    let slow_events = ready_events(&mut events)
        .into_iter()
        .filter(|e| matches!(e, Event::SlowConsumer { .. }))
        .count();
    assert_eq!(
        slow_events, 1,
        "one event for the second episode, none per message"
    );
    assert_eq!(sub.dropped(), 180);
    assert_eq!(take_ready(&mut sub).len(), 10);
}

/// Publishes `count` numbered 8 KiB messages on `client` while a task reads its own
/// subscription (default limits: 64 MiB) steadily but more slowly than they arrive; returns
/// (messages read, messages dropped).
async fn publish_to_own_busy_reader(client: &Client, count: u64) -> (u64, u64) {
    // The two tests that use this are timing-sensitive and each keeps two cores busy: run
    // them one at a time.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut sub = client.subscribe("paced").await.unwrap();
    client.flush().await.unwrap();
    let reader = tokio::spawn(async move {
        let mut read = 0u64;
        while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(2), sub.next()).await {
            let n = u64::from_be_bytes(msg.payload[..8].try_into().unwrap());
            assert!(n >= read, "out of order: {n} after {read}");
            read += 1;
            // A slow handler that never stops: 100 µs of blocking work every 4 messages
            // (at most 40 k messages, 320 MB, a second), so batches keep being taken.
            if read.is_multiple_of(4) {
                std::thread::sleep(Duration::from_micros(100));
            }
            if n + 1 == count {
                break;
            }
        }
        (read, sub.dropped())
    });
    let mut payload = vec![0u8; 8 * 1024];
    for i in 0..count {
        payload[..8].copy_from_slice(&i.to_be_bytes());
        client
            .publish("paced", bytes::Bytes::copy_from_slice(&payload))
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    within("reader", reader).await.unwrap()
}

/// Pacing: a client publishing to a subscription of its own that is read, but more slowly
/// than published, loses nothing: publishes wait while the subscription is backlogged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_to_an_own_subscription_is_paced_by_its_reader() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let (read, dropped) = publish_to_own_busy_reader(&client, 40_000).await;
    assert_eq!((read, dropped), (40_000, 0));
    assert_eq!(client.statistics().slow_consumer_drops, 0);
}

/// The same load without pacing overflows the subscription: what the test above shows is
/// the pacing's doing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pacing_the_same_load_drops() {
    let server = NatsServer::start();
    let client = ConnectOptions::new()
        .pace_publishers(false)
        .connect(server.url())
        .await
        .unwrap();
    let (read, dropped) = publish_to_own_busy_reader(&client, 40_000).await;
    assert!(dropped > 0, "read {read}, none dropped");
    assert_eq!(read + dropped, 40_000);
}

/// Pacing never deadlocks: a task that publishes to its own subscription and only reads it
/// afterwards finishes publishing at once (one short wait), and the excess is dropped.
#[tokio::test]
async fn pacing_does_not_hold_a_publisher_whose_subscription_is_not_read() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let limits = SubscriptionLimits {
        messages: 100,
        bytes: 1 << 20,
    };
    let mut sub = client.subscribe_with("unread", None, limits).await.unwrap();
    client.flush().await.unwrap();
    let start = std::time::Instant::now();
    within("publishing", async {
        for i in 0..20_000 {
            client.publish("unread", i.to_string()).await.unwrap();
        }
        client.flush().await.unwrap();
    })
    .await;
    // One give-up (10 ms) per batch the reader takes; it takes none here.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "publishing took {:?}",
        start.elapsed()
    );
    let got = take_ready(&mut sub);
    assert_eq!(got.len(), 100);
    assert_eq!(got[0].payload, "0");
    assert_eq!(sub.dropped(), 19_900);
}

/// A byte limit works like the message limit: what fits is kept, the rest dropped and counted.
#[tokio::test]
async fn subscription_byte_limit_drops_the_excess() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let limits = SubscriptionLimits {
        messages: 1_000_000,
        bytes: 1000,
    };
    let mut sub = client.subscribe_with("bytes", None, limits).await.unwrap();
    client.flush().await.unwrap();
    for i in 0..20 {
        client.publish("bytes", pattern(95, i)).await.unwrap();
    }
    client.flush().await.unwrap();
    // Each message counts subject (5) + payload (95) = 100 bytes against the limit.
    assert_eq!(take_ready(&mut sub).len(), 10);
    assert_eq!(sub.dropped(), 10);
}

/// `unsubscribe_after(n)`: exactly n messages, then the stream ends and the server has dropped
/// the interest; asking for fewer than already received ends the stream at once.
#[tokio::test]
async fn unsubscribe_after_ends_after_n_messages() {
    let server = NatsServer::start();
    let client = connect_named(&server, "max").await;
    let mut sub = client.subscribe("max.n").await.unwrap();
    sub.unsubscribe_after(5).await.unwrap();
    let mut early = client.subscribe("max.early").await.unwrap();
    client.flush().await.unwrap();
    for i in 0..10 {
        client.publish("max.n", i.to_string()).await.unwrap();
        client.publish("max.early", i.to_string()).await.unwrap();
    }
    client.flush().await.unwrap();
    assert_eq!(payloads(&take_ready(&mut sub)), ["0", "1", "2", "3", "4"]);
    assert!(has_ended(&mut sub));
    assert_eq!(sub.close_reason(), Some(CloseReason::MaxReached));
    assert_eq!(
        server_subs(&server, "max"),
        [("max.early".to_string(), None)]
    );

    early.unsubscribe_after(3).await.unwrap();
    assert_eq!(early.close_reason(), Some(CloseReason::MaxReached));
    client.flush().await.unwrap();
    assert!(server_subs(&server, "max").is_empty());
}

/// Dropping every handle (clients and subscriptions) closes the connection, after sending
/// what was published just before.
#[tokio::test]
async fn dropping_the_last_handle_flushes_and_closes() {
    let server = NatsServer::start();
    let other = connect(&server).await;
    let mut sub = other.subscribe("parting").await.unwrap();
    other.flush().await.unwrap();

    let client = connect_named(&server, "short-lived").await;
    let held = client.subscribe("held").await.unwrap();
    for i in 0..100 {
        client.publish("parting", i.to_string()).await.unwrap();
    }
    drop(client);
    for i in 0..100 {
        assert_eq!(next(&mut sub).await.payload, i.to_string());
    }
    // The subscription still holds the connection open.
    assert_eq!(server_subs(&server, "short-lived").len(), 1);
    drop(held);
    let deadline = tokio::time::Instant::now() + real::DEADLINE;
    loop {
        let connz = server.monitor_json("/connz").unwrap();
        let open = connz["connections"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["name"] == "short-lived"));
        if !open {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still connected: {connz}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `unsubscribe()` ends the stream and the server forgets the subscription; dropping a
/// subscription unsubscribes too.
#[tokio::test]
async fn unsubscribe_and_drop_remove_interest() {
    let server = NatsServer::start();
    let client = connect_named(&server, "unsub").await;
    let mut a = client.subscribe("u.a").await.unwrap();
    let b = client.subscribe("u.b").await.unwrap();
    let _c = client.subscribe("u.c").await.unwrap();
    client.flush().await.unwrap();
    assert_eq!(server_subs(&server, "unsub").len(), 3);

    a.unsubscribe().await.unwrap();
    drop(b);
    client.flush().await.unwrap();
    assert_eq!(server_subs(&server, "unsub"), [("u.c".to_string(), None)]);
    assert_ends(&mut a).await;
    assert_eq!(a.close_reason(), Some(CloseReason::Unsubscribed));
    client.publish("u.a", "late").await.unwrap();
    client.flush().await.unwrap();
    assert!(has_ended(&mut a));
}

/// `Subscription::drain`: everything published before it (by another connection, flushed,
/// and by this connection, not flushed) is delivered, nothing after, then the stream ends and
/// the server has dropped the interest.
#[tokio::test]
async fn subscription_drain_delivers_then_ends() {
    let server = NatsServer::start();
    let client = connect_named(&server, "drainer").await;
    let other = connect(&server).await;
    let mut sub = client.subscribe("d").await.unwrap();
    let _keep = client.subscribe("keep").await.unwrap();
    client.flush().await.unwrap();

    for i in 0..50 {
        other.publish("d", i.to_string()).await.unwrap();
    }
    other.flush().await.unwrap();
    for i in 50..100 {
        client.publish("d", i.to_string()).await.unwrap();
    }
    within("drain", sub.drain()).await.unwrap();
    other.publish("d", "after drain").await.unwrap();
    barrier(&other, &client).await;

    let mut got = Vec::new();
    while let Some(msg) = within("drained stream", sub.next()).await {
        got.push(String::from_utf8_lossy(&msg.payload).into_owned());
    }
    let want: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
    assert_eq!(sub.close_reason(), Some(CloseReason::Drained));
    assert_eq!(
        server_subs(&server, "drainer"),
        [("keep".to_string(), None)]
    );
    // The connection is still usable.
    client.publish("d", "x").await.unwrap();
    client.flush().await.unwrap();
}

/// `Client::drain`: returns only after the application has read every queued message (the
/// reader here is slow: a server round trip per message), flushes the client's last publishes,
/// then the client is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_drain_waits_for_the_reader_then_closes() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let other = connect(&server).await;
    let mut sub = client.subscribe("cd").await.unwrap();
    let mut bye = other.subscribe("bye").await.unwrap();
    client.flush().await.unwrap();
    other.flush().await.unwrap();
    for i in 0..100 {
        other.publish("cd", i.to_string()).await.unwrap();
    }
    barrier(&other, &client).await;
    client.publish("bye", "last words").await.unwrap();

    let drain = tokio::spawn({
        let client = client.clone();
        async move { client.drain().await }
    });
    let mut read = 0;
    while let Some(msg) = within("drained stream", sub.next()).await {
        assert_eq!(msg.payload, read.to_string());
        read += 1;
        // The application's work on the message: one round trip on another connection.
        other.flush().await.unwrap();
        if read < 100 {
            assert!(
                !drain.is_finished(),
                "client drain returned with {} of 100 queued messages unread",
                100 - read
            );
        }
    }
    assert_eq!(read, 100);
    within("client drain", drain).await.unwrap().unwrap();
    assert_eq!(client.state(), gnat_client::State::Closed);
    let err = client.publish("cd", "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert_eq!(
        client.subscribe("cd").await.unwrap_err().kind(),
        ErrorKind::Closed
    );
    other.flush().await.unwrap();
    assert_eq!(payloads(&take_ready(&mut bye)), ["last words"]);
}

/// A subject longer than the server's control-line limit would make the server close the
/// connection (`Maximum Control Line Exceeded` is fatal): it is refused locally instead, and
/// the connection carries on.
#[tokio::test]
async fn over_long_subjects_are_refused_locally() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let mut sub = client.subscribe("ok").await.unwrap();
    client.flush().await.unwrap();
    let long = format!("a.{}", "b".repeat(5000));
    let err = client.publish(&long, "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = client.subscribe(&long).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = client.request(&long, "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    client.publish("ok", "still connected").await.unwrap();
    let msg = next(&mut sub).await;
    assert_eq!(&msg.payload[..], b"still connected");
    assert_eq!(client.statistics().reconnects, 0);
}

/// A client drain waits for the application to read what its subscriptions hold, but not
/// forever: past the drain timeout it closes anyway and says so.
#[tokio::test]
async fn drain_gives_up_after_its_timeout_and_closes() {
    let server = NatsServer::start();
    let client = ConnectOptions::new()
        .drain_timeout(std::time::Duration::from_millis(200))
        .connect(server.url())
        .await
        .unwrap();
    let _unread = client.subscribe("d").await.unwrap();
    client.flush().await.unwrap();
    for i in 0..10 {
        client.publish("d", format!("{i}")).await.unwrap();
    }
    client.flush().await.unwrap();
    let started = std::time::Instant::now();
    let err = within("drain", client.drain()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert_eq!(client.state(), gnat_client::State::Closed);
}
