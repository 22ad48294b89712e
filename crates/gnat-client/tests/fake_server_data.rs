//! Scripted fake-server tests: partial frames, request/reply through the mux, flush, and
//! slow consumers.

#[path = "common/fake.rs"]
mod fake;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use fake::{FakeConn, FakeServer, drain_events, hmsg, msg, within};
use gnat_client::proto::ClientOp;
use gnat_client::{Client, ErrorKind, Event, Message, Request, Subscription, SubscriptionLimits};

async fn next(sub: &mut Subscription) -> Message {
    within("a message", sub.next())
        .await
        .expect("subscription open")
}

/// Reads the mux SUB and one request publish; returns the request's (reply, payload).
async fn read_request(conn: &mut FakeConn) -> (String, String) {
    let p = conn.expect_pub().await;
    (
        String::from_utf8(p.reply.expect("a reply subject").to_vec()).unwrap(),
        String::from_utf8(p.payload.to_vec()).unwrap(),
    )
}

/// Expects the mux inbox SUB (`<prefix>.<id>.* 0`) and returns its prefix `<prefix>.<id>.`.
async fn expect_mux_sub(conn: &mut FakeConn) -> String {
    match conn.read_op().await {
        ClientOp::Sub {
            subject,
            queue: None,
            sid: 0,
        } => {
            let s = String::from_utf8(subject.to_vec()).unwrap();
            assert!(s.starts_with("_INBOX.") && s.ends_with(".*"), "{s}");
            s.trim_end_matches('*').to_string()
        }
        other => panic!("expected the mux SUB, got {}", fake::describe(&other)),
    }
}

/// Polls `fut` once; it must still be pending afterwards.
async fn poll_once<F: Future + Unpin>(fut: &mut F) {
    std::future::poll_fn(|cx| {
        assert!(
            Pin::new(&mut *fut).poll(cx).is_pending(),
            "completed too early"
        );
        Poll::Ready(())
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn frames_sent_one_byte_at_a_time_are_delivered_once() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    let mut sub = client.subscribe("split.>").await.unwrap();
    let sid = sub.sid();
    conn.read_until("SUB split.>").await;

    let mut bytes = msg("split.msg", sid, None, b"hello \r\n world").to_vec();
    bytes.extend_from_slice(&hmsg(
        "split.hmsg",
        sid,
        Some("reply.to"),
        b"NATS/1.0\r\nX-Key: some value\r\n\r\n",
        b"payload",
    ));
    for b in &bytes {
        conn.send([*b]).await;
        tokio::task::yield_now().await;
    }
    // A whole frame after the split ones: if anything were delivered twice it would come first.
    conn.send(msg("split.end", sid, None, b"end")).await;

    let m = next(&mut sub).await;
    assert_eq!(m.subject, "split.msg");
    assert_eq!(&m.payload[..], b"hello \r\n world");
    assert!(m.headers.is_none() && m.reply.is_none());
    let m = next(&mut sub).await;
    assert_eq!(m.subject, "split.hmsg");
    assert_eq!(m.reply.as_deref(), Some("reply.to"));
    assert_eq!(m.headers.as_ref().unwrap().get("X-Key"), Some("some value"));
    assert_eq!(&m.payload[..], b"payload");
    let m = next(&mut sub).await;
    assert_eq!(m.subject, "split.end");
    assert_eq!(client.statistics().in_messages, 3);
}

#[tokio::test(start_paused = true)]
async fn many_frames_in_one_write_are_delivered_in_order() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    let mut sub = client.subscribe("many").await.unwrap();
    conn.read_until("SUB many").await;
    let mut bytes = Vec::new();
    for i in 0..1000u32 {
        bytes.extend_from_slice(&msg("many", sub.sid(), None, i.to_string().as_bytes()));
    }
    conn.send(bytes).await;
    for i in 0..1000u32 {
        let m = next(&mut sub).await;
        assert_eq!(m.payload, i.to_string().into_bytes());
    }
    assert_eq!(sub.pending().0, 0);
    assert_eq!(sub.dropped(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_malformed_header_block_is_dropped_and_counted_not_fatal() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    let mut events = client.events();
    let mut sub = client.subscribe("h").await.unwrap();
    conn.read_until("SUB h").await;
    conn.send(hmsg("h", sub.sid(), None, b"garbage\r\n\r\n", b"bad"))
        .await;
    conn.send_msg("h", sub.sid(), None, b"good").await;
    assert_eq!(&next(&mut sub).await.payload[..], b"good");
    assert_eq!(sub.dropped(), 1);
    let seen = drain_events(&mut events);
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Disconnected { .. })),
        "{seen:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn replies_are_routed_by_token() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    let c1 = client.clone();
    let r1 = tokio::spawn(async move { c1.request("svc.one", "1").await });
    let prefix = expect_mux_sub(&mut conn).await;
    let first = read_request(&mut conn).await;
    let c2 = client.clone();
    let r2 = tokio::spawn(async move { c2.request("svc.two", "2").await });
    let second = read_request(&mut conn).await;
    for (reply, _) in [&first, &second] {
        let token = reply
            .strip_prefix(&prefix)
            .expect("reply under the mux prefix");
        assert!(!token.is_empty() && !token.contains('.'), "{reply}");
    }
    assert_ne!(first.0, second.0);
    // Answer the second first.
    conn.send_msg(&second.0, 0, None, b"re:2").await;
    conn.send_msg(&first.0, 0, None, b"re:1").await;
    assert_eq!(
        &within("r1", r1).await.unwrap().unwrap().payload[..],
        b"re:1"
    );
    assert_eq!(
        &within("r2", r2).await.unwrap().unwrap().payload[..],
        b"re:2"
    );
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_hundred_concurrent_requests_answered_in_reverse_each_get_their_reply() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let m = c.request("svc", format!("{i}")).await?;
            Ok::<_, gnat_client::Error>((i, m))
        }));
    }
    expect_mux_sub(&mut conn).await;
    let mut requests = Vec::new();
    for _ in 0..100 {
        requests.push(read_request(&mut conn).await);
    }
    assert_eq!(client.pending_requests(), 100);
    let mut out = Vec::new();
    for (reply, payload) in requests.iter().rev() {
        out.extend_from_slice(&msg(reply, 0, None, format!("re:{payload}").as_bytes()));
    }
    conn.send(out).await;
    for t in tasks {
        let (i, m) = within("a reply", t).await.unwrap().unwrap();
        assert_eq!(m.payload, format!("re:{i}").into_bytes());
    }
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_late_reply_after_the_timeout_is_dropped() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    let started = Instant::now();
    let request = client.send_request(
        "slow.svc",
        Request::new()
            .payload("x")
            .timeout(Duration::from_millis(100)),
    );
    let (result, (reply, _)) = tokio::join!(within("the timeout", request), async {
        expect_mux_sub(&mut conn).await;
        read_request(&mut conn).await
    });
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(client.pending_requests(), 0);

    // The late reply arrives; a server PING after it proves the client has processed it.
    conn.send_msg(&reply, 0, None, b"too late").await;
    conn.send_ping().await;
    conn.expect_pong().await;
    assert_eq!(client.statistics().in_messages, 1);
    assert_eq!(client.pending_requests(), 0);

    // The next request gets its own reply, not the late one.
    let c = client.clone();
    let next_request = tokio::spawn(async move { c.request("slow.svc", "y").await });
    let (reply2, _) = read_request(&mut conn).await;
    assert_ne!(reply2, reply);
    conn.send_msg(&reply, 0, None, b"stale again").await;
    conn.send_msg(&reply2, 0, None, b"fresh").await;
    let m = within("the reply", next_request).await.unwrap().unwrap();
    assert_eq!(&m.payload[..], b"fresh");
}

#[tokio::test(start_paused = true)]
async fn no_responders_fails_at_once() {
    let server = FakeServer::start().await;
    let opts = fake::options().request_timeout(Duration::from_secs(30));
    let (client, mut conn, _) = server.connect(opts).await;
    let blocks: [&[u8]; 2] = [
        b"NATS/1.0 503\r\n\r\n",
        // Servers from 2.12 name the subject.
        b"NATS/1.0 503\r\nNats-Subject: nobody.home\r\n\r\n",
    ];
    for (i, block) in blocks.into_iter().enumerate() {
        let started = Instant::now();
        let (result, ()) = tokio::join!(
            within("no responders", client.request("nobody.home", "?")),
            async {
                if i == 0 {
                    expect_mux_sub(&mut conn).await;
                }
                let (reply, _) = read_request(&mut conn).await;
                conn.send(hmsg(&reply, 0, None, block, b"")).await;
            }
        );
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoResponders, "{err}");
        assert!(err.is_no_responders());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(client.pending_requests(), 0);
    }
}

/// Serves a connection until the client closes it: answers PINGs, counts publishes.
async fn count_publishes(mut conn: FakeConn) -> usize {
    let mut pubs = 0;
    loop {
        match conn.read_within(fake::DEADLINE).await {
            fake::Read::Op(ClientOp::Pub(_), _) => pubs += 1,
            fake::Read::Op(ClientOp::Ping, _) => conn.send(b"PONG\r\n").await,
            fake::Read::Op(_, _) => {}
            fake::Read::Eof => return pubs,
            fake::Read::Nothing => panic!("the client went quiet without closing"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_timed_out_or_cancelled_requests_leave_nothing_pending() {
    let server = FakeServer::start().await;
    let (client, conn, _) = server.connect(fake::options()).await;
    let served = tokio::spawn(count_publishes(conn));

    // 5,000 that time out.
    let timed_out = (0..5000).map(|i| {
        client.send_request(
            "void",
            Request::new()
                .payload(format!("t{i}"))
                .timeout(Duration::from_millis(50)),
        )
    });
    let results = within("5,000 timeouts", futures_util::future::join_all(timed_out)).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap_err().kind() == ErrorKind::Timeout)
    );
    assert_eq!(client.pending_requests(), 0);

    // 5,000 sent, then abandoned by the caller.
    let mut abandoned: Vec<Pin<Box<dyn Future<Output = _> + Send>>> = Vec::new();
    for i in 0..5000 {
        let mut f: Pin<Box<dyn Future<Output = _> + Send>> =
            Box::pin(client.request("void", format!("c{i}")));
        poll_once(&mut f).await;
        abandoned.push(f);
    }
    assert_eq!(client.pending_requests(), 5000);
    drop(abandoned);
    assert_eq!(client.pending_requests(), 0);

    within("flush", client.flush()).await.unwrap();
    within("close", client.close()).await;
    let pubs = within("the fake to finish", served).await.unwrap();
    assert_eq!(pubs, 10_000, "every request was published");
}

#[tokio::test(start_paused = true)]
async fn flush_returns_only_after_the_pong() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    client.publish("before", "1").await.unwrap();
    let c = client.clone();
    let mut flush = tokio::spawn(async move { c.flush().await });
    assert_eq!(conn.read_line().await, "PUB before 1");
    conn.expect_ping().await;
    // Round trips through the client's reader and writer, then the flush must still wait.
    for _ in 0..3 {
        conn.send_ping().await;
        conn.expect_pong().await;
        tokio::task::yield_now().await;
    }
    assert!(
        !flush.is_finished(),
        "flush returned before the server's PONG"
    );
    conn.send_pong().await;
    within("flush", &mut flush).await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn flushes_complete_in_order_of_their_pongs() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    let c = client.clone();
    let mut first = tokio::spawn(async move { c.flush().await });
    conn.expect_ping().await;
    let c = client.clone();
    let mut second = tokio::spawn(async move { c.flush().await });
    conn.expect_ping().await;
    conn.send_pong().await;
    within("first flush", &mut first).await.unwrap().unwrap();
    conn.send_ping().await;
    conn.expect_pong().await;
    assert!(!second.is_finished(), "one PONG completed two flushes");
    conn.send_pong().await;
    within("second flush", &mut second).await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn flush_fails_when_the_connection_drops_and_works_after_reconnect() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    let mut events = client.events();
    let c = client.clone();
    let flush = tokio::spawn(async move { c.flush().await });
    conn.expect_ping().await;
    drop(conn);
    let err = within("flush", flush).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");

    // A flush while disconnected completes on the next connection.
    fake::wait_event(&mut events, "Disconnected", |e| {
        matches!(e, Event::Disconnected { .. })
    })
    .await;
    let c = client.clone();
    let mut flush = tokio::spawn(async move { c.flush().await });
    let (mut conn, _) = server.accept_handshake().await;
    conn.expect_ping().await;
    conn.send_pong().await;
    within("flush after reconnect", &mut flush)
        .await
        .unwrap()
        .unwrap();
}

/// Two flush round trips: afterwards every event from before the first has been emitted.
async fn settle(client: &Client, conn: &mut FakeConn) {
    for _ in 0..2 {
        let ((), r) = tokio::join!(
            async {
                conn.expect_ping().await;
                conn.send_pong().await;
            },
            within("flush", client.flush())
        );
        r.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_consumer_drops_and_counts_without_blocking_others() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    let mut events = client.events();
    let limits = SubscriptionLimits {
        messages: 10,
        bytes: 1024 * 1024,
    };
    let mut slow = client.subscribe_with("slow", None, limits).await.unwrap();
    let mut fast = client.subscribe("fast").await.unwrap();
    conn.read_until("SUB fast").await;

    let mut bytes = Vec::new();
    for i in 0..1000u32 {
        bytes.extend_from_slice(&msg("slow", slow.sid(), None, i.to_string().as_bytes()));
        bytes.extend_from_slice(&msg("fast", fast.sid(), None, i.to_string().as_bytes()));
    }
    conn.send(bytes).await;
    // The other subscription gets everything, in order, while `slow` is not read at all.
    for i in 0..1000u32 {
        assert_eq!(next(&mut fast).await.payload, i.to_string().into_bytes());
    }
    settle(&client, &mut conn).await;
    assert_eq!(slow.dropped(), 990);
    assert_eq!(fast.dropped(), 0);
    assert_eq!(client.statistics().slow_consumer_drops, 990);
    let slow_events: Vec<_> = drain_events(&mut events)
        .into_iter()
        .filter(|e| matches!(e, Event::SlowConsumer { .. }))
        .collect();
    assert_eq!(
        slow_events,
        [Event::SlowConsumer {
            sid: slow.sid(),
            subject: "slow".to_string()
        }],
        "exactly one event for the episode"
    );
    // The first ten were kept.
    for i in 0..10u32 {
        assert_eq!(next(&mut slow).await.payload, i.to_string().into_bytes());
    }
    assert_eq!(slow.pending().0, 0);

    // A new episode after catching up raises one new event.
    let mut bytes = Vec::new();
    for i in 0..20u32 {
        bytes.extend_from_slice(&msg(
            "slow",
            slow.sid(),
            None,
            format!("again{i}").as_bytes(),
        ));
    }
    conn.send(bytes).await;
    settle(&client, &mut conn).await;
    assert_eq!(slow.dropped(), 1000);
    let again = drain_events(&mut events)
        .into_iter()
        .filter(|e| matches!(e, Event::SlowConsumer { .. }))
        .count();
    assert_eq!(again, 1);
    assert_eq!(&next(&mut slow).await.payload[..], b"again0");
}

#[tokio::test(start_paused = true)]
async fn drain_unsubscribes_waits_for_the_reader_then_closes() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    let mut sub = client.subscribe("d").await.unwrap();
    assert_eq!(conn.read_line().await, format!("SUB d {}", sub.sid()));
    for i in 0..3 {
        conn.send_msg("d", sub.sid(), None, format!("{i}").as_bytes())
            .await;
    }
    client.publish("last.words", "bye").await.unwrap();
    assert_eq!(conn.read_line().await, "PUB last.words bye");
    let c = client.clone();
    let mut drain = tokio::spawn(async move { c.drain().await });
    assert_eq!(conn.read_line().await, format!("UNSUB {}", sub.sid()));
    conn.expect_ping().await;
    conn.send_pong().await;
    // The server confirmed the UNSUB, but the application has not read its messages yet.
    conn.send_ping().await;
    conn.expect_pong().await;
    tokio::task::yield_now().await;
    assert!(
        !drain.is_finished(),
        "drain returned before the subscription was consumed"
    );
    for i in 0..3 {
        assert_eq!(next(&mut sub).await.payload, format!("{i}").into_bytes());
    }
    assert!(within("the end of the stream", sub.next()).await.is_none());
    // Then a final flush and the close.
    let rest = conn.serve_until_eof().await;
    assert!(rest.is_empty(), "{rest:?}");
    within("drain", &mut drain).await.unwrap().unwrap();
    assert_eq!(client.state(), gnat_client::State::Closed);
    assert_eq!(sub.close_reason(), Some(gnat_client::CloseReason::Drained));
}
