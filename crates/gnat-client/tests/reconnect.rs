//! Reconnect against a real nats-server that restarts, dies and comes back, or stalls:
//! subscriptions (with auto-unsubscribe counts) and the request inbox are restored,
//! publishes made while disconnected are sent or refused with an error, events arrive in
//! order, and `close()` ends everything.

mod real;

use std::time::Duration;

use gnat_client::{Client, CloseReason, ConnectOptions, ErrorKind, Event, State};
use gnat_test_support::NatsServer;
use real::{
    EventLog, barrier, blocking, fast_reconnect, has_ended, host_port, next, server_subs,
    take_ready, wait_event, within,
};

fn is_disconnected(e: &Event) -> bool {
    matches!(e, Event::Disconnected { .. })
}

fn is_reconnected(e: &Event) -> bool {
    matches!(e, Event::Reconnected { .. })
}

async fn connect_logged(server: &NatsServer, opts: ConnectOptions) -> (Client, EventLog) {
    let (opts, log) = EventLog::options(fast_reconnect(opts));
    let client = opts.connect(server.url()).await.unwrap();
    (client, log)
}

/// `unsubscribe_after(5)` with 2 received before a restart: after reconnect the server is told
/// the remaining 3, exactly 3 more arrive, and the stream ends (the NATS protocol docs, `UNSUB`
/// with `max_msgs`: the count survives a reconnect only if the client resends it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_after_is_kept_across_a_restart() {
    let mut server = NatsServer::start();
    let (client, mut log) = connect_logged(&server, ConnectOptions::new().name("auto")).await;
    let mut sub = client.subscribe("auto").await.unwrap();
    sub.unsubscribe_after(5).await.unwrap();
    client.flush().await.unwrap();

    let publisher = gnat_client::connect(server.url()).await.unwrap();
    for i in 0..2 {
        publisher
            .publish("auto", format!("before-{i}"))
            .await
            .unwrap();
    }
    barrier(&publisher, &client).await;
    assert_eq!(take_ready(&mut sub).len(), 2);
    drop(publisher);

    blocking(|| server.restart());
    log.wait_for("Reconnected", is_reconnected).await;
    client.flush().await.unwrap();
    assert_eq!(server_subs(&server, "auto"), [("auto".to_string(), None)]);

    let publisher = gnat_client::connect(server.url()).await.unwrap();
    for i in 0..10 {
        publisher
            .publish("auto", format!("after-{i}"))
            .await
            .unwrap();
    }
    barrier(&publisher, &client).await;
    let got: Vec<String> = take_ready(&mut sub)
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    assert_eq!(got, ["after-0", "after-1", "after-2"]);
    assert!(has_ended(&mut sub));
    assert_eq!(sub.close_reason(), Some(CloseReason::MaxReached));
    assert!(server_subs(&server, "auto").is_empty());
}

/// Publishes made while the server is down (after `Disconnected`) go to the reconnect buffer
/// and reach the server after reconnect, after the subscription was restored (NATS docs,
/// "Reconnect buffer" in the client reconnect behaviour);
/// a flush made while disconnected completes once the server has them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_while_disconnected_are_sent_after_reconnect() {
    let mut server = NatsServer::start();
    let (client, mut log) = connect_logged(&server, ConnectOptions::new().name("buffered")).await;
    let mut sub = client.subscribe("buffered").await.unwrap();
    client.flush().await.unwrap();

    blocking(|| server.kill());
    log.wait_for("Disconnected", is_disconnected).await;
    assert_eq!(client.state(), State::Disconnected);
    for i in 0..100 {
        client.publish("buffered", i.to_string()).await.unwrap();
    }
    let flush = tokio::spawn({
        let client = client.clone();
        async move { client.flush().await }
    });

    blocking(|| server.start_again());
    log.wait_for("Reconnected", is_reconnected).await;
    within("flush across reconnect", flush)
        .await
        .unwrap()
        .unwrap();
    client.flush().await.unwrap();
    let got: Vec<String> = take_ready(&mut sub)
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    let want: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
    assert_eq!(
        server_subs(&server, "buffered"),
        [("buffered".to_string(), None)]
    );
    assert_eq!(client.statistics().reconnects, 1);
}

/// Subscribing while disconnected takes effect on reconnect; unsubscribing (or dropping)
/// while disconnected keeps the subscription from being restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_changes_while_disconnected_apply_on_reconnect() {
    let mut server = NatsServer::start();
    let (client, mut log) = connect_logged(&server, ConnectOptions::new().name("changes")).await;
    let mut gone = client.subscribe("gone").await.unwrap();
    let dropped = client.subscribe("dropped").await.unwrap();
    let mut kept = client.subscribe("kept").await.unwrap();
    client.flush().await.unwrap();

    blocking(|| server.kill());
    log.wait_for("Disconnected", is_disconnected).await;
    let mut late = client.subscribe("late").await.unwrap();
    let mut late_queue = client.queue_subscribe("late", "q").await.unwrap();
    gone.unsubscribe().await.unwrap();
    drop(dropped);

    blocking(|| server.start_again());
    log.wait_for("Reconnected", is_reconnected).await;
    client.flush().await.unwrap();
    assert_eq!(
        server_subs(&server, "changes"),
        [
            ("kept".to_string(), None),
            ("late".to_string(), None),
            ("late".to_string(), Some("q".to_string())),
        ]
    );
    let publisher = gnat_client::connect(server.url()).await.unwrap();
    publisher.publish("late", "l").await.unwrap();
    publisher.publish("kept", "k").await.unwrap();
    barrier(&publisher, &client).await;
    assert_eq!(take_ready(&mut late).len(), 1);
    assert_eq!(take_ready(&mut late_queue).len(), 1);
    assert_eq!(take_ready(&mut kept).len(), 1);
    assert!(has_ended(&mut gone));
}

/// With a small reconnect buffer, the publish that does not fit fails with
/// `ReconnectBufferFull` and is counted; what fit is delivered after reconnect, and nothing
/// else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_buffer_overflow_is_an_error_and_counted() {
    let mut server = NatsServer::start();
    let (client, mut log) =
        connect_logged(&server, ConnectOptions::new().reconnect_buffer_size(1024)).await;
    let mut sub = client.subscribe("rb").await.unwrap();
    client.flush().await.unwrap();

    blocking(|| server.kill());
    log.wait_for("Disconnected", is_disconnected).await;
    let body = |i: usize| format!("{i:0>100}");
    let mut accepted = 0;
    let err = loop {
        match client.publish("rb", body(accepted)).await {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(
            accepted <= 10,
            "1 KiB cannot hold {accepted} publishes of 100 bytes"
        );
    };
    assert_eq!(err.kind(), ErrorKind::ReconnectBufferFull, "{err}");
    assert!(err.is_reconnect_buffer_full());
    assert!(
        accepted >= 5,
        "only {accepted} publishes of 100 bytes fit in 1 KiB"
    );
    assert_eq!(client.statistics().reconnect_buffer_rejections, 1);
    let err = client.publish("rb", body(99)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReconnectBufferFull);
    assert_eq!(client.statistics().reconnect_buffer_rejections, 2);

    blocking(|| server.start_again());
    log.wait_for("Reconnected", is_reconnected).await;
    client.flush().await.unwrap();
    let got: Vec<String> = take_ready(&mut sub)
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    let want: Vec<String> = (0..accepted).map(body).collect();
    assert_eq!(got, want);
    // Connected again: publishes are accepted beyond the reconnect buffer's size.
    for i in 0..100 {
        client.publish("rb", body(i)).await.unwrap();
    }
    client.flush().await.unwrap();
    assert_eq!(take_ready(&mut sub).len(), 100);
}

/// Connected, Disconnected, Reconnected arrive in that order (callback and stream), twice
/// across two restarts; then `close()` raises Closed and ends the event stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_events_arrive_in_order() {
    let mut server = NatsServer::start();
    let (client, mut log) = connect_logged(&server, ConnectOptions::new()).await;
    let mut events = client.events();
    let me = host_port(&server);
    log.wait_for("Connected", |e| matches!(e, Event::Connected { .. }))
        .await;

    for round in 1..=2u64 {
        blocking(|| server.restart());
        log.wait_for("Reconnected", is_reconnected).await;
        let (disc, _) = wait_event(&mut events, "Disconnected", is_disconnected).await;
        let (rec, skipped) = wait_event(&mut events, "Reconnected", is_reconnected).await;
        assert!(matches!(disc, Event::Disconnected { .. }));
        assert_eq!(rec, Event::Reconnected { server: me.clone() });
        assert!(!skipped.iter().any(is_disconnected), "{skipped:?}");
        assert_eq!(client.statistics().reconnects, round);
        assert_eq!(client.state(), State::Connected);
    }
    client.close().await;
    let (closed, _) = wait_event(&mut events, "Closed", |e| *e == Event::Closed).await;
    assert_eq!(closed, Event::Closed);
    assert_eq!(within("event stream end", events.next()).await, None);
    log.wait_for("Closed", |e| *e == Event::Closed).await;

    let lifecycle: Vec<&Event> = log
        .seen
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Connected { .. }
                    | Event::Disconnected { .. }
                    | Event::Reconnected { .. }
                    | Event::Closed
            )
        })
        .collect();
    let kinds: Vec<&str> = lifecycle
        .iter()
        .map(|e| match e {
            Event::Connected { .. } => "connected",
            Event::Disconnected { .. } => "disconnected",
            Event::Reconnected { .. } => "reconnected",
            _ => "closed",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "connected",
            "disconnected",
            "reconnected",
            "disconnected",
            "reconnected",
            "closed"
        ]
    );
    assert_eq!(*lifecycle[0], Event::Connected { server: me });
}

/// `close()`: the event stream yields Closed and ends, subscriptions end, a waiting request
/// fails at once, and publish, subscribe, flush and request fail with `Closed`.
#[tokio::test]
async fn close_ends_everything() {
    let server = NatsServer::start();
    let client = gnat_client::connect(server.url()).await.unwrap();
    let silent = gnat_client::connect(server.url()).await.unwrap();
    let mut silent_sub = silent.subscribe("silent").await.unwrap();
    silent.flush().await.unwrap();
    let mut events = client.events();
    let mut sub = client.subscribe("c").await.unwrap();
    client.flush().await.unwrap();

    let request = tokio::spawn({
        let client = client.clone();
        async move { client.request("silent", "anyone?").await }
    });
    next(&mut silent_sub).await; // the request is out and waiting
    within("close", client.close()).await;

    let err = within("request", request).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
    let (event, _) = wait_event(&mut events, "Closed", |e| *e == Event::Closed).await;
    assert_eq!(event, Event::Closed);
    assert_eq!(within("event stream end", events.next()).await, None);
    assert_eq!(within("subscription end", sub.next()).await, None);
    assert_eq!(sub.close_reason(), Some(CloseReason::ClientClosed));
    assert_eq!(client.state(), State::Closed);
    assert_eq!(
        client.publish("c", "x").await.unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert_eq!(
        client.subscribe("c").await.unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert_eq!(client.flush().await.unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(
        client.request("silent", "x").await.unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert_eq!(client.pending_requests(), 0);
    // Closing again is harmless; a stream made after close ends at once.
    within("second close", client.close()).await;
    assert_eq!(within("late stream", client.events().next()).await, None);
}

/// After a restart the request inbox is subscribed again: requests get replies (instead of
/// timing out), and plain subscriptions receive again on the same sid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_subscriptions_work_after_reconnect() {
    let mut server = NatsServer::start();
    let (responder, mut responder_log) = connect_logged(&server, ConnectOptions::new()).await;
    let mut service = responder.subscribe("svc").await.unwrap();
    responder.flush().await.unwrap();
    let _echo = tokio::spawn({
        let responder = responder.clone();
        async move {
            while let Some(msg) = service.next().await {
                if let Some(reply) = msg.reply {
                    let _ = responder.publish(reply, msg.payload).await;
                }
            }
        }
    });
    let (client, mut log) = connect_logged(
        &server,
        ConnectOptions::new()
            .name("requester")
            .request_timeout(Duration::from_secs(5)),
    )
    .await;
    let mut sub = client.subscribe("plain").await.unwrap();
    let sid = sub.sid();
    let reply = within("request", client.request("svc", "one"))
        .await
        .unwrap();
    assert_eq!(reply.payload, "one");

    blocking(|| server.restart());
    log.wait_for("Reconnected", is_reconnected).await;
    responder_log
        .wait_for("responder Reconnected", is_reconnected)
        .await;
    responder.flush().await.unwrap();
    client.flush().await.unwrap();
    let mut subs = server_subs(&server, "requester");
    subs.retain(|(s, _)| s != "plain");
    assert_eq!(
        subs.len(),
        1,
        "the request inbox is subscribed again: {subs:?}"
    );
    assert!(subs[0].0.starts_with("_INBOX.") && subs[0].0.ends_with(".*"));

    let reply = within("request", client.request("svc", "two"))
        .await
        .unwrap();
    assert_eq!(reply.payload, "two");
    client.publish("plain", "again").await.unwrap();
    let msg = next(&mut sub).await;
    assert_eq!(msg.payload, "again");
    assert_eq!(sub.sid(), sid);
    assert_eq!(client.pending_requests(), 0);
}

/// Sends a signal to the nats-server process this test started (by its pid).
fn signal(server: &NatsServer, sig: &str) -> bool {
    let sent = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(server.pid().to_string())
        .status()
        .is_ok_and(|s| s.success());
    // `kill` returns once the signal is queued; the server's threads stop a moment later,
    // and one still running could answer a PING sent in between. Wait until it is stopped.
    sent && (sig != "STOP" || wait_stopped(server.pid()))
}

/// Waits (up to 5 s) until every thread of process `pid` is in the stopped state.
fn wait_stopped(pid: u32) -> bool {
    let all_stopped = || {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return false;
        };
        tasks.flatten().all(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next());
            state == Some('T')
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if all_stopped() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

/// A server that stops answering (process stopped, socket open) is detected by missed PONGs
/// (NATS protocol docs, `PING`/`PONG` keep-alive: a client that misses the configured number
/// of PONGs treats the connection as stale); the client reconnects once it answers again and the subscription works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_server_is_detected_by_missed_pongs() {
    let server = NatsServer::start();
    let (client, mut log) = connect_logged(
        &server,
        ConnectOptions::new()
            .ping_interval(Duration::from_millis(100))
            .max_pings_outstanding(2)
            .connection_timeout(Duration::from_millis(500)),
    )
    .await;
    let mut sub = client.subscribe("alive").await.unwrap();
    client.flush().await.unwrap();

    assert!(signal(&server, "STOP"), "kill -STOP {}", server.pid());
    let resumed = Resume(&server);
    let event = log.wait_for("Disconnected", is_disconnected).await;
    let Event::Disconnected { reason } = &event else {
        unreachable!()
    };
    assert!(reason.contains("stale"), "{reason}");
    drop(resumed);

    log.wait_for("Reconnected", is_reconnected).await;
    client.publish("alive", "yes").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "yes");
}

/// Polls `fut` once (with the task's waker); true if it is still pending.
async fn poll_once<F: std::future::Future>(fut: std::pin::Pin<&mut F>) -> bool {
    let mut fut = Some(fut);
    std::future::poll_fn(|cx| {
        let f = fut.take().expect("polled once");
        std::task::Poll::Ready(f.poll(cx).is_pending())
    })
    .await
}

/// A flush whose PING went out on a connection that dies before the PONG fails with
/// `Disconnected` (the server may or may not have processed what came before); after
/// reconnect, flush works. Deterministic: the server is stopped, so no PONG can come, and a
/// publish that must wait for the writer proves the writer has taken the PING.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_fails_with_disconnected_when_the_connection_dies() {
    let mut server = NatsServer::start();
    let (client, mut log) =
        connect_logged(&server, ConnectOptions::new().write_buffer_size(64 * 1024)).await;
    client.flush().await.unwrap();

    // Stopped, then killed below (SIGKILL also ends a stopped process if a check fails).
    assert!(signal(&server, "STOP"), "kill -STOP {}", server.pid());
    let mut flush = Box::pin(client.flush());
    assert!(
        poll_once(flush.as_mut()).await,
        "no PONG from a stopped server"
    );
    // Fill the write buffer; the next publish returns only once the writer has taken it
    // (and so the PING queued before it).
    client.publish("x", vec![0u8; 100 * 1024]).await.unwrap();
    within("publish", client.publish("x", "y")).await.unwrap();

    blocking(|| server.kill());
    let err = within("flush", flush).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    log.wait_for("Disconnected", is_disconnected).await;

    blocking(|| server.start_again());
    log.wait_for("Reconnected", is_reconnected).await;
    within("flush", client.flush()).await.unwrap();
}

/// The flush promise when the writer is stuck: a 40 MiB publish is being written to a
/// stopped server, and the flush's PING is still queued behind it when the server dies. The
/// big publish is lost (counted as unconfirmed), so the flush must fail with `Disconnected`;
/// it must not carry over to the next connection and report success there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_never_succeeds_over_a_lost_publish() {
    const BIG: usize = 40 * 1024 * 1024;
    let mut server = NatsServer::builder()
        .config(format!("max_payload: {}", 48 * 1024 * 1024))
        .start();
    let (client, mut log) =
        connect_logged(&server, ConnectOptions::new().write_buffer_size(64 * 1024)).await;
    let mut sub = client.subscribe("lost").await.unwrap();
    client.flush().await.unwrap();
    assert!(client.max_payload() > BIG);

    // Stopped, then killed below (SIGKILL also ends a stopped process if a check fails).
    assert!(signal(&server, "STOP"), "kill -STOP {}", server.pid());
    client.publish("lost", vec![7u8; BIG]).await.unwrap();
    // Returns once the writer has taken the big publish; it is now stuck writing it (socket
    // buffers hold a few MiB at most), and this one waits in the buffer.
    within("publish", client.publish("lost", "after"))
        .await
        .unwrap();
    let mut flush = Box::pin(client.flush());
    assert!(poll_once(flush.as_mut()).await);

    blocking(|| server.kill());
    log.wait_for("Disconnected", is_disconnected).await;
    assert!(client.statistics().unconfirmed_bytes > 0);
    blocking(|| server.start_again());
    log.wait_for("Reconnected", is_reconnected).await;

    match within("flush", flush).await {
        Err(e) => assert_eq!(e.kind(), ErrorKind::Disconnected, "{e}"),
        Ok(()) => {
            let got: Vec<usize> = take_ready(&mut sub)
                .iter()
                .map(|m| m.payload.len())
                .collect();
            panic!(
                "flush returned Ok, but the server never got the {BIG}-byte publish made \
                 before it (received sizes {got:?})"
            );
        }
    }
}

/// `unconfirmed_bytes` counts every byte handed to a connection that died before the server
/// confirmed it, not only the batch the writer was in the middle of. Deterministic: the
/// server is stopped, and publishes that must wait for the writer mark its batch boundaries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_bytes_count_every_unconfirmed_write() {
    const FIRST: usize = 64 * 1024 + 1;
    const BIG: usize = 40 * 1024 * 1024;
    let mut server = NatsServer::builder()
        .config(format!("max_payload: {}", 48 * 1024 * 1024))
        .start();
    let (client, mut log) =
        connect_logged(&server, ConnectOptions::new().write_buffer_size(64 * 1024)).await;
    client.flush().await.unwrap();

    // Stopped, then killed below (SIGKILL also ends a stopped process if a check fails).
    assert!(signal(&server, "STOP"), "kill -STOP {}", server.pid());
    client.publish("u", vec![1u8; FIRST]).await.unwrap();
    // Returns once the writer took the first publish alone (its own batch).
    within("publish", client.publish("u", "m2")).await.unwrap();
    client.publish("u", vec![2u8; BIG]).await.unwrap();
    // Returns once the writer finished the first batch and took the next (m2 + big).
    within("publish", client.publish("u", "m3")).await.unwrap();

    blocking(|| server.kill());
    log.wait_for("Disconnected", is_disconnected).await;
    let unconfirmed = client.statistics().unconfirmed_bytes;
    assert!(
        unconfirmed >= (FIRST + BIG) as u64,
        "unconfirmed_bytes {unconfirmed}: the {FIRST}-byte publish written to the dead \
         connection is not counted"
    );
}

/// Continues the server when dropped, so a failed assertion does not leave it stopped.
struct Resume<'a>(&'a NatsServer);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        if !signal(self.0, "CONT") {
            eprintln!("kill -CONT {} failed", self.0.pid());
        }
    }
}
