//! Scripted fake-server tests: stale connections, permission errors, lame duck mode, reconnect
//! with state restored, the reconnect buffer, and hostile server bytes.

#[path = "common/fake.rs"]
mod fake;

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use fake::{FakeServer, drain_events, wait_event, within};
use gnat_client::proto::Info;
use gnat_client::{Backoff, CloseReason, ConnectOptions, ErrorKind, Event, Message, Subscription};

fn fast_backoff() -> Backoff {
    Backoff {
        base: Duration::from_millis(5),
        max: Duration::from_millis(50),
        jitter: Duration::from_millis(5),
    }
}

fn opts() -> ConnectOptions {
    fake::options().reconnect_backoff(fast_backoff())
}

async fn next(sub: &mut Subscription) -> Message {
    within("a message", sub.next())
        .await
        .expect("subscription open")
}

fn is_disconnected(e: &Event) -> bool {
    matches!(e, Event::Disconnected { .. })
}

fn is_reconnected(e: &Event) -> bool {
    matches!(e, Event::Reconnected { .. })
}

fn reason(e: &Event) -> String {
    match e {
        Event::Disconnected { reason } => reason.clone(),
        other => panic!("not a Disconnected event: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn stale_connection_is_detected_after_three_intervals_and_reconnects() {
    let server = FakeServer::start().await;
    let interval = Duration::from_millis(50);
    let started = Instant::now();
    let (client, mut conn, _) = server
        .connect(opts().ping_interval(interval).max_pings_outstanding(2))
        .await;
    let mut events = client.events();
    // Never answer: the client sends two PINGs, then gives up on the connection.
    let sent = conn.expect_eof().await;
    assert_eq!(sent, ["PING", "PING"], "PINGs before giving up");
    let (_, ev) = wait_event(&mut events, "Disconnected", is_disconnected).await;
    let took = started.elapsed();
    assert!(reason(&ev).to_lowercase().contains("stale"), "{ev:?}");
    assert!(
        took >= interval * 3,
        "declared stale after {took:?}, before 3 intervals"
    );

    let (_conn2, _) = server.accept_handshake().await;
    let (_, ev) = wait_event(&mut events, "Reconnected", is_reconnected).await;
    assert_eq!(
        ev,
        Event::Reconnected {
            server: server.host_port()
        }
    );
    assert_eq!(client.statistics().reconnects, 1);
}

#[tokio::test(start_paused = true)]
async fn answered_pings_keep_the_connection_up() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server
        .connect(
            opts()
                .ping_interval(Duration::from_millis(30))
                .max_pings_outstanding(2),
        )
        .await;
    let mut events = client.events();
    // Eight intervals, far more than the three that make a silent server stale.
    for _ in 0..8 {
        conn.expect_ping().await;
        conn.send_pong().await;
    }
    let seen = drain_events(&mut events);
    assert!(!seen.iter().any(is_disconnected), "{seen:?}");
    client.publish("still.up", "1").await.unwrap();
    let ops = conn.read_until("PUB still.up").await;
    assert!(
        ops.iter().all(|op| op == "PING" || op == "PUB still.up 1"),
        "{ops:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn subscription_permission_violation_closes_only_that_subscription() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(opts()).await;
    let mut events = client.events();
    let mut foo = client.subscribe("foo").await.unwrap();
    let mut bar = client.subscribe("bar").await.unwrap();
    assert_eq!(conn.read_line().await, format!("SUB foo {}", foo.sid()));
    assert_eq!(conn.read_line().await, format!("SUB bar {}", bar.sid()));

    let text = "Permissions Violation for Subscription to foo";
    conn.send_err(text).await;
    let (skipped, ev) = wait_event(&mut events, "PermissionViolation", |e| {
        matches!(e, Event::PermissionViolation { .. })
    })
    .await;
    assert_eq!(
        ev,
        Event::PermissionViolation {
            message: text.to_string(),
            sid: Some(foo.sid())
        }
    );
    assert!(skipped.is_empty(), "{skipped:?}");

    // foo's stream ends with the reason; bar keeps working on the same connection.
    assert!(within("foo to end", foo.next()).await.is_none());
    match foo.close_reason() {
        Some(CloseReason::PermissionDenied(msg)) => assert!(msg.contains("foo"), "{msg}"),
        other => panic!("close reason {other:?}"),
    }
    conn.send_msg("bar", bar.sid(), None, b"still here").await;
    assert_eq!(&next(&mut bar).await.payload[..], b"still here");
    client.publish("after", "x").await.unwrap();
    // Nothing else was written: no UNSUB for foo, no reconnect.
    assert_eq!(conn.read_line().await, "PUB after x");
    assert_eq!(client.state(), gnat_client::State::Connected);
    drop(foo);
    client.publish("after2", "y").await.unwrap();
    assert_eq!(
        conn.read_line().await,
        "PUB after2 y",
        "dropping a denied sub sends nothing"
    );
    let seen = drain_events(&mut events);
    assert!(!seen.iter().any(is_disconnected), "{seen:?}");
}

#[tokio::test(start_paused = true)]
async fn a_removed_subscription_named_by_sid_is_the_one_closed() {
    // After a permissions reload the server removes subscriptions and names their sid;
    // of two subscriptions on the same subject, only that one ends.
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(opts()).await;
    let mut events = client.events();
    let mut first = client.subscribe("shared.subject").await.unwrap();
    let mut second = client.subscribe("shared.subject").await.unwrap();
    conn.read_until(&format!("SUB shared.subject {}", second.sid()))
        .await;
    let text = format!(
        "Permissions Violation for Subscription to \"shared.subject\" (sid \"{}\")",
        second.sid()
    );
    conn.send_err(&text).await;
    let (_, ev) = wait_event(&mut events, "PermissionViolation", |e| {
        matches!(e, Event::PermissionViolation { .. })
    })
    .await;
    assert_eq!(
        ev,
        Event::PermissionViolation {
            message: text.clone(),
            sid: Some(second.sid())
        }
    );
    assert!(
        within("the named one to end", second.next())
            .await
            .is_none()
    );
    assert!(first.close_reason().is_none(), "the other one stays");
    conn.send_msg("shared.subject", first.sid(), None, b"still here")
        .await;
    assert_eq!(&next(&mut first).await.payload[..], b"still here");
}

#[tokio::test(start_paused = true)]
async fn an_authentication_timeout_ends_the_connection_and_the_client_reconnects() {
    // nats-server sends `Authentication Timeout` and closes; a client that took it for a
    // harmless message would wait for a stale-connection timeout instead.
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(opts()).await;
    let mut events = client.events();
    conn.send_err("Authentication Timeout").await;
    let (skipped, ev) = wait_event(&mut events, "Disconnected", is_disconnected).await;
    assert!(
        skipped.iter().any(|e| matches!(
            e,
            Event::ServerError { message } if message == "Authentication Timeout"
        )),
        "{skipped:?}"
    );
    assert!(reason(&ev).contains("Authentication Timeout"), "{ev:?}");
    let (_conn2, _) = server.accept_handshake().await;
    wait_event(&mut events, "Reconnected", is_reconnected).await;
    assert_eq!(client.state(), gnat_client::State::Connected);
}

#[tokio::test(start_paused = true)]
async fn queue_permission_violation_matches_subject_and_queue() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(opts()).await;
    let mut events = client.events();
    let mut plain = client.subscribe("foo").await.unwrap();
    let mut queued = client.queue_subscribe("foo", "q").await.unwrap();
    conn.read_until("SUB foo q").await;

    // Newer servers quote the subject and the queue.
    conn.send_err("Permissions Violation for Subscription to \"foo\" using queue \"q\"")
        .await;
    let (_, ev) = wait_event(&mut events, "PermissionViolation", |e| {
        matches!(e, Event::PermissionViolation { .. })
    })
    .await;
    let Event::PermissionViolation { sid, .. } = ev else {
        unreachable!()
    };
    assert_eq!(sid, Some(queued.sid()));
    assert!(within("queue sub to end", queued.next()).await.is_none());
    assert!(plain.close_reason().is_none());
    conn.send_msg("foo", plain.sid(), None, b"p").await;
    assert_eq!(&next(&mut plain).await.payload[..], b"p");
}

#[tokio::test(start_paused = true)]
async fn publish_permission_violation_closes_nothing() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(opts()).await;
    let mut events = client.events();
    let mut sub = client.subscribe("secret").await.unwrap();
    conn.read_until("SUB secret").await;
    conn.send_err("Permissions Violation for Publish to \"secret\"")
        .await;
    let (_, ev) = wait_event(&mut events, "PermissionViolation", |e| {
        matches!(e, Event::PermissionViolation { .. })
    })
    .await;
    assert!(
        matches!(ev, Event::PermissionViolation { sid: None, .. }),
        "{ev:?}"
    );
    assert!(sub.close_reason().is_none());
    conn.send_msg("secret", sub.sid(), None, b"s").await;
    assert_eq!(&next(&mut sub).await.payload[..], b"s");
}

#[tokio::test(start_paused = true)]
async fn lame_duck_mode_moves_to_the_other_server() {
    let a = FakeServer::start().await;
    let b = FakeServer::start().await;
    let urls = format!("{},{}", a.url(), b.url());
    let (client, (mut conn_a, _)) = tokio::join!(
        opts().retain_server_order(true).connect(urls),
        a.accept_handshake()
    );
    let client = client.expect("connect to the first server");
    let mut events = client.events();
    let sub = client.subscribe("x").await.unwrap();
    assert_eq!(conn_a.read_line().await, format!("SUB x {}", sub.sid()));

    conn_a
        .send_info(&Info {
            lame_duck_mode: true,
            ..a.info()
        })
        .await;
    let (skipped, ev) = wait_event(&mut events, "LameDuckMode", |e| {
        matches!(e, Event::LameDuckMode { .. })
    })
    .await;
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(
        ev,
        Event::LameDuckMode {
            server: a.host_port()
        }
    );

    // The client leaves A and connects to B, with its subscription.
    let (mut conn_b, _) = b.accept_handshake().await;
    let (skipped, ev) = wait_event(&mut events, "Reconnected", is_reconnected).await;
    assert_eq!(
        ev,
        Event::Reconnected {
            server: b.host_port()
        }
    );
    assert!(skipped.iter().any(is_disconnected), "{skipped:?}");
    assert_eq!(conn_b.read_line().await, format!("SUB x {}", sub.sid()));
    conn_a.expect_eof().await;
}

#[tokio::test(start_paused = true)]
async fn servers_announced_by_async_info_are_used_for_reconnect() {
    let a = FakeServer::start().await;
    let b = FakeServer::start().await;
    let (client, mut conn_a, _) = a.connect(opts().retain_server_order(true)).await;
    let mut events = client.events();
    conn_a
        .send_info(&Info {
            connect_urls: vec![b.host_port()],
            ..a.info()
        })
        .await;
    let (_, ev) = wait_event(&mut events, "ServersDiscovered", |e| {
        matches!(e, Event::ServersDiscovered { .. })
    })
    .await;
    assert_eq!(
        ev,
        Event::ServersDiscovered {
            servers: vec![b.host_port()]
        }
    );
    // A goes away entirely: only the announced server is left.
    drop(conn_a);
    drop(a);
    let (_conn_b, _) = b.accept_handshake().await;
    let (_, ev) = wait_event(&mut events, "Reconnected", is_reconnected).await;
    assert_eq!(
        ev,
        Event::Reconnected {
            server: b.host_port()
        }
    );
}

/// Polls `fut` once (it must not complete yet) so that it registers and queues its work.
async fn poll_once<F: Future + Unpin>(fut: &mut F) {
    std::future::poll_fn(|cx| {
        assert!(
            std::pin::Pin::new(&mut *fut).poll(cx).is_pending(),
            "completed too early"
        );
        Poll::Ready(())
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn reconnect_restores_subscriptions_then_sends_the_buffered_publishes() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(opts()).await;
    let mut events = client.events();

    let mut a = client.subscribe("a").await.unwrap();
    let mut b = client.queue_subscribe("b", "workers").await.unwrap();
    let mut c = client.subscribe("c").await.unwrap();
    let mut gone = client.subscribe("gone").await.unwrap();
    c.unsubscribe_after(5).await.unwrap();
    gone.unsubscribe().await.unwrap();
    let (sa, sb, sc, sg) = (a.sid(), b.sid(), c.sid(), gone.sid());
    let mut first = Vec::new();
    for _ in 0..6 {
        first.push(conn.read_line().await);
    }
    assert_eq!(
        first,
        [
            format!("SUB a {sa}"),
            format!("SUB b workers {sb}"),
            format!("SUB c {sc}"),
            format!("SUB gone {sg}"),
            format!("UNSUB {sc} 5"),
            format!("UNSUB {sg}"),
        ]
    );
    // c receives 2 of its 5.
    conn.send_msg("c", sc, None, b"c1").await;
    conn.send_msg("c", sc, None, b"c2").await;
    assert_eq!(&next(&mut c).await.payload[..], b"c1");
    assert_eq!(&next(&mut c).await.payload[..], b"c2");

    // A request through the mux subscribes the mux inbox.
    let requester = client.clone();
    let request = tokio::spawn(async move { requester.request("svc", "q").await });
    let mux_sub = conn.read_line().await;
    assert!(
        mux_sub.starts_with("SUB _INBOX.") && mux_sub.ends_with(".* 0"),
        "{mux_sub}"
    );
    let p = conn.expect_pub().await;
    let reply = String::from_utf8(p.reply.unwrap().to_vec()).unwrap();
    conn.send_msg(&reply, 0, None, b"answer").await;
    let answer = within("the reply", request).await.unwrap().unwrap();
    assert_eq!(&answer.payload[..], b"answer");

    // The server goes away.
    drop(conn);
    wait_event(&mut events, "Disconnected", is_disconnected).await;
    assert_eq!(client.state(), gnat_client::State::Disconnected);
    for i in 0..3 {
        client.publish("buffered", format!("{i}")).await.unwrap();
    }
    // A subscription made while disconnected is sent with the others; one dropped while
    // disconnected is not.
    let mut d = client.subscribe("d").await.unwrap();
    let sd = d.sid();
    let dropped = client.subscribe("dropped").await.unwrap();
    drop(dropped);

    let (mut conn, _) = server.accept_handshake().await;
    let seen = conn.read_until("PUB buffered 2").await;
    let first_pub = seen.iter().position(|l| l.starts_with("PUB")).unwrap();
    let (control, pubs) = seen.split_at(first_pub);
    assert_eq!(
        pubs,
        ["PUB buffered 0", "PUB buffered 1", "PUB buffered 2"],
        "{seen:?}"
    );
    let mut expected = vec![
        format!("SUB a {sa}"),
        format!("SUB b workers {sb}"),
        format!("SUB c {sc}"),
        format!("UNSUB {sc} 3"),
        format!("SUB d {sd}"),
        mux_sub.clone(),
    ];
    let mut got = control.to_vec();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "restored state: {seen:?}");
    // The remaining count follows its SUB; the mux inbox comes after every subscription.
    let at = control
        .iter()
        .position(|l| *l == format!("SUB c {sc}"))
        .unwrap();
    assert_eq!(control[at + 1], format!("UNSUB {sc} 3"), "{control:?}");
    assert_eq!(control.last(), Some(&mux_sub), "{control:?}");
    wait_event(&mut events, "Reconnected", is_reconnected).await;

    // Every restored subscription works on the same sid; c takes at most 3 more.
    for i in 3..=6 {
        conn.send_msg("c", sc, None, format!("c{i}").as_bytes())
            .await;
    }
    conn.send_msg("a", sa, None, b"a!").await;
    conn.send_msg("b", sb, None, b"b!").await;
    conn.send_msg("d", sd, None, b"d!").await;
    assert_eq!(&next(&mut a).await.payload[..], b"a!");
    assert_eq!(&next(&mut b).await.payload[..], b"b!");
    assert_eq!(&next(&mut d).await.payload[..], b"d!");
    for i in 3..=5 {
        assert_eq!(next(&mut c).await.payload, format!("c{i}").into_bytes());
    }
    assert!(within("c to end", c.next()).await.is_none());
    assert_eq!(c.close_reason(), Some(CloseReason::MaxReached));

    // The mux works on the new connection without a second SUB.
    let requester = client.clone();
    let request = tokio::spawn(async move { requester.request("svc", "again").await });
    let p = conn.expect_pub().await;
    assert_eq!(&p.payload[..], b"again");
    let reply = String::from_utf8(p.reply.unwrap().to_vec()).unwrap();
    conn.send_msg(&reply, 0, None, b"answer2").await;
    let answer = within("the reply", request).await.unwrap().unwrap();
    assert_eq!(&answer.payload[..], b"answer2");
}

#[tokio::test(start_paused = true)]
async fn a_request_made_while_disconnected_subscribes_the_mux_once() {
    let server = FakeServer::start().await;
    let (client, conn, _) = server.connect(opts()).await;
    let mut events = client.events();
    drop(conn);
    wait_event(&mut events, "Disconnected", is_disconnected).await;

    let mut request = Box::pin(client.request("svc", "q"));
    poll_once(&mut request).await;
    assert_eq!(client.pending_requests(), 1);

    let (mut conn, _) = server.accept_handshake().await;
    let seen = conn.read_until("PUB svc").await;
    let subs: Vec<_> = seen.iter().filter(|l| l.starts_with("SUB")).collect();
    assert_eq!(
        subs.len(),
        1,
        "the mux inbox is subscribed exactly once: {seen:?}"
    );
    assert!(subs[0].starts_with("SUB _INBOX.") && subs[0].ends_with(".* 0"));
    let reply = seen.last().unwrap().split(' ').nth(2).unwrap().to_string();
    conn.send_msg(&reply, 0, None, b"late but fine").await;
    let answer = within("the reply", request).await.unwrap();
    assert_eq!(&answer.payload[..], b"late but fine");
}

#[tokio::test(start_paused = true)]
async fn a_full_reconnect_buffer_fails_the_publish_and_writes_nothing_for_it() {
    let server = FakeServer::start().await;
    let (client, conn, _) = server.connect(opts().reconnect_buffer_size(512)).await;
    let mut events = client.events();
    drop(conn);
    wait_event(&mut events, "Disconnected", is_disconnected).await;

    let mut accepted = Vec::new();
    let mut rejected = None;
    for i in 0..100 {
        match client.publish(format!("buf.{i}"), vec![b'x'; 100]).await {
            Ok(()) => accepted.push(i),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::ReconnectBufferFull, "{e}");
                assert!(e.is_reconnect_buffer_full());
                rejected = Some(i);
                break;
            }
        }
    }
    let rejected = rejected.expect("the 512-byte buffer fills up");
    assert!(!accepted.is_empty(), "the buffer takes a few publishes");
    assert_eq!(client.statistics().reconnect_buffer_rejections, 1);

    let (mut conn, _) = server.accept_handshake().await;
    wait_event(&mut events, "Reconnected", is_reconnected).await;
    client.publish("after", "x").await.unwrap();
    let seen = conn.read_until("PUB after").await;
    let subjects: Vec<_> = seen
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect();
    let mut expected: Vec<_> = accepted.iter().map(|i| format!("buf.{i}")).collect();
    expected.push("after".to_string());
    assert_eq!(
        subjects, expected,
        "rejected buf.{rejected} must not be written"
    );
}

#[tokio::test(start_paused = true)]
async fn hostile_server_bytes_disconnect_cleanly_and_the_client_recovers() {
    // Deterministic garbage: high bytes with line breaks sprinkled in.
    let mut x: u32 = 0x9E37_79B9;
    let mut garbage = Vec::new();
    for i in 0..2000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.push(0x80 | (x & 0x7f) as u8);
        if i % 97 == 96 {
            garbage.extend_from_slice(b"\r\n");
        }
    }
    let long_line = vec![b'A'; 8 * 1024];
    let cases: Vec<(&str, Vec<u8>, bool, &str)> = vec![
        // (what, bytes, close after sending, expected in the reason)
        ("random garbage", garbage, false, "protocol"),
        ("a control line without end", long_line, false, "protocol"),
        (
            "oversized MSG",
            b"MSG a 1 999999999999\r\n".to_vec(),
            false,
            "protocol",
        ),
        (
            "size overflow",
            b"MSG a 1 99999999999999999999999\r\n".to_vec(),
            false,
            "protocol",
        ),
        ("unknown op", b"FOO bar\r\n".to_vec(), false, "protocol"),
        (
            "invalid INFO JSON",
            b"INFO {not json\r\n".to_vec(),
            false,
            "protocol",
        ),
        (
            "HMSG total < header",
            b"HMSG a 1 10 5\r\nNATS/1.0\r\n\r\n".to_vec(),
            false,
            "protocol",
        ),
        (
            "non-numeric sid",
            b"MSG a x 5\r\nhello\r\n".to_vec(),
            false,
            "protocol",
        ),
        (
            "too many MSG args",
            b"MSG a 1 r extra 5\r\nhello\r\n".to_vec(),
            false,
            "protocol",
        ),
        ("NUL line", b"\0\0\0\r\n".to_vec(), false, "protocol"),
        (
            "truncated MSG then close",
            b"MSG a 1 10\r\nabc".to_vec(),
            true,
            "closed",
        ),
        (
            "fatal -ERR",
            b"-ERR 'Stale Connection'\r\n".to_vec(),
            false,
            "Stale Connection",
        ),
    ];

    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(opts()).await;
    let mut events = client.events();
    let mut sub = client.subscribe("a").await.unwrap();
    assert_eq!(conn.read_line().await, format!("SUB a {}", sub.sid()));

    for (i, (what, bytes, close, expect)) in cases.into_iter().enumerate() {
        conn.send_lossy(&bytes).await;
        if close {
            conn.shutdown().await;
        }
        let (_, ev) = wait_event(&mut events, "Disconnected", is_disconnected).await;
        // The client hung up on its own.
        conn.expect_eof().await;
        let why = reason(&ev);
        assert!(
            why.contains(expect),
            "{what}: reason {why:?} should mention {expect:?}"
        );

        let (next_conn, _) = server.accept_handshake().await;
        conn = next_conn;
        wait_event(&mut events, "Reconnected", is_reconnected).await;
        // Still working: the subscription is restored, a publish arrives, a message is
        // delivered (and nothing partial from before was).
        client.publish("after", format!("{i}")).await.unwrap();
        let seen = conn.read_until("PUB after").await;
        assert_eq!(
            seen,
            [format!("SUB a {}", sub.sid()), format!("PUB after {i}")],
            "{what}"
        );
        conn.send_msg("a", sub.sid(), None, format!("ok{i}").as_bytes())
            .await;
        assert_eq!(
            next(&mut sub).await.payload,
            format!("ok{i}").into_bytes(),
            "{what}"
        );
    }
    assert_eq!(client.statistics().reconnects, 12);
}

#[tokio::test(start_paused = true)]
async fn a_refused_reconnect_is_reported_and_retried() {
    let server = FakeServer::start().await;
    let (client, conn, _) = server.connect(opts()).await;
    let mut events = client.events();
    drop(conn);
    wait_event(&mut events, "Disconnected", is_disconnected).await;

    // The next attempt is refused with an auth error...
    let mut refused = server.accept().await;
    refused.send_info(&server.info()).await;
    refused.expect_connect().await;
    refused.expect_ping().await;
    refused.send_err("Authorization Violation").await;
    let (_, ev) = wait_event(&mut events, "ServerError", |e| {
        matches!(e, Event::ServerError { .. })
    })
    .await;
    let Event::ServerError { message } = ev else {
        unreachable!()
    };
    assert!(message.contains("Authorization Violation"), "{message}");
    refused.expect_eof().await;

    // ... and the one after that succeeds.
    let (_conn, _) = server.accept_handshake().await;
    wait_event(&mut events, "Reconnected", is_reconnected).await;
    assert_eq!(client.state(), gnat_client::State::Connected);
}

#[tokio::test(start_paused = true)]
async fn giving_up_after_max_reconnects_closes_the_client() {
    let server = FakeServer::start().await;
    let (client, conn, _) = server.connect(opts().max_reconnects(Some(2))).await;
    let mut events = client.events();
    let mut sub = client.subscribe("s").await.unwrap();
    // The server disappears for good: every attempt is refused.
    drop(conn);
    drop(server);
    let (skipped, _) = wait_event(&mut events, "Closed", |e| *e == Event::Closed).await;
    assert!(skipped.iter().any(is_disconnected), "{skipped:?}");
    assert!(!skipped.iter().any(is_reconnected), "{skipped:?}");
    assert_eq!(client.state(), gnat_client::State::Closed);
    assert!(within("the sub to end", sub.next()).await.is_none());
    assert_eq!(sub.close_reason(), Some(CloseReason::ClientClosed));
    let err = client.publish("s", "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert_eq!(client.flush().await.unwrap_err().kind(), ErrorKind::Closed);
}

#[tokio::test(start_paused = true)]
async fn retry_on_initial_connect_buffers_until_the_first_connection() {
    let server = FakeServer::start().await;
    let (client, ()) = tokio::join!(
        opts().retry_on_initial_connect(true).connect(server.url()),
        async {
            // The first attempt fails during the handshake.
            server.accept().await.close().await;
        }
    );
    let client = client.expect("connect returns despite the failure");
    let mut events = client.events();
    client.publish("early", "1").await.unwrap();
    let sub = client.subscribe("early.sub").await.unwrap();
    let (mut conn, _) = server.accept_handshake().await;
    let (_, ev) = wait_event(&mut events, "Connected", |e| {
        matches!(e, Event::Connected { .. } | Event::Reconnected { .. })
    })
    .await;
    assert_eq!(
        ev,
        Event::Connected {
            server: server.host_port()
        }
    );
    let seen = conn.read_until("PUB early").await;
    assert_eq!(
        seen,
        [
            format!("SUB early.sub {}", sub.sid()),
            "PUB early 1".to_string()
        ]
    );
    assert_eq!(client.statistics().reconnects, 0);
}

#[tokio::test(start_paused = true)]
async fn publish_permission_violation_fails_the_matching_request() {
    let server = FakeServer::start().await;
    let opts = opts().request_timeout(Duration::from_secs(20));
    let (client, mut conn, _) = server.connect(opts).await;
    let started = Instant::now();
    let (result, ()) = tokio::join!(
        within("the request to end", client.request("secret", "?")),
        async {
            conn.read_until("PUB secret").await;
            conn.send_err("Permissions Violation for Publish to \"secret\"")
                .await;
        }
    );
    let err = result.expect_err("the server refused the publish");
    assert_ne!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(client.pending_requests(), 0);
}
