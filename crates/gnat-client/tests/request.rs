//! Request/reply against a real nats-server: the muxed reply inbox under concurrency, no
//! responders, timeouts, cancellation and late replies.

mod real;

use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::future::join_all;
use gnat_client::{Client, ConnectOptions, ErrorKind, HeaderMap, Request, Subscription};
use gnat_test_support::NatsServer;
use real::{next, within};

async fn connect(server: &NatsServer) -> Client {
    gnat_client::connect(server.url()).await.unwrap()
}

/// Answers every request on `sub` with its own payload (and its headers), until the
/// subscription ends.
fn spawn_echo(client: Client, mut sub: Subscription) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let Some(reply) = msg.reply else { continue };
            let result = match &msg.headers {
                Some(h) => client.publish_with_headers(reply, h, msg.payload).await,
                None => client.publish(reply, msg.payload).await,
            };
            if result.is_err() {
                return;
            }
        }
    })
}

/// Waits until `sub` has received `n` messages (and drops them).
async fn swallow(sub: &mut Subscription, n: usize) {
    for _ in 0..n {
        next(sub).await;
    }
}

/// 1,000 requests in flight at once over the one mux subscription: each gets the reply to its
/// own payload, and no request entry is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_each_get_their_own_reply() {
    let server = NatsServer::start();
    let responder = connect(&server).await;
    let sub = responder.subscribe("echo").await.unwrap();
    responder.flush().await.unwrap();
    let _echo = spawn_echo(responder.clone(), sub);

    let client = connect(&server).await;
    let requests = (0..1000).map(|i| {
        let client = client.clone();
        async move {
            let payload = format!("request-{i}");
            let reply = client.request("echo", payload.clone()).await;
            (payload, reply)
        }
    });
    let results = within("1000 requests", join_all(requests)).await;
    for (payload, reply) in results {
        let reply = reply.unwrap_or_else(|e| panic!("{payload}: {e}"));
        assert_eq!(reply.payload, payload);
    }
    assert_eq!(client.pending_requests(), 0);
    assert_eq!(
        client.server_info().max_payload,
        client.max_payload(),
        "INFO stored"
    );
}

/// Headers travel with the request and back with the reply.
#[tokio::test]
async fn request_headers_round_trip() {
    let server = NatsServer::start();
    let responder = connect(&server).await;
    let sub = responder.subscribe("echo.h").await.unwrap();
    responder.flush().await.unwrap();
    let _echo = spawn_echo(responder.clone(), sub);

    let client = connect(&server).await;
    let mut headers = HeaderMap::new();
    headers.append("Trace", "1").unwrap();
    headers.append("Trace", "2").unwrap();
    let reply = within(
        "request",
        client.request_with_headers("echo.h", headers, "ping"),
    )
    .await
    .unwrap();
    assert_eq!(reply.payload, "ping");
    assert_eq!(reply.status(), None);
    let got = reply.headers.expect("reply headers");
    assert_eq!(got.get_all("Trace").collect::<Vec<_>>(), ["1", "2"]);
}

/// A request to a subject nobody listens on fails with `NoResponders` at once, not after the
/// request timeout.
#[tokio::test]
async fn no_responders_fails_fast() {
    let server = NatsServer::start();
    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(10))
        .connect(server.url())
        .await
        .unwrap();
    for _ in 0..3 {
        let started = Instant::now();
        let err = within("request", client.request("nobody.home", "hi"))
            .await
            .unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::NoResponders, "{err}");
        assert!(err.is_no_responders());
        assert!(
            elapsed < Duration::from_secs(2),
            "no responders took {elapsed:?} with a 10 s timeout"
        );
    }
    assert_eq!(client.pending_requests(), 0);
}

/// 10,000 requests to a responder that never answers all time out, and leave no entry in the
/// request table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_requests_leave_nothing_pending() {
    const N: usize = 10_000;
    let server = NatsServer::start();
    let silent = connect(&server).await;
    let mut sub = silent.subscribe("silent").await.unwrap();
    silent.flush().await.unwrap();

    let client = connect(&server).await;
    let timeout = Duration::from_millis(500);
    let requests = (0..N).map(|i| {
        let client = client.clone();
        async move {
            client
                .send_request(
                    "silent",
                    Request::new().payload(i.to_string()).timeout(timeout),
                )
                .await
        }
    });
    let all = tokio::spawn(join_all(requests));
    // Every request reached the responder, so every one was registered and is waiting.
    swallow(&mut sub, N).await;
    let results = within("timeouts", all).await.unwrap();
    assert_eq!(results.len(), N);
    for r in results {
        let err = r.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(err.is_timeout());
    }
    assert_eq!(client.pending_requests(), 0);
}

/// 10,000 requests whose futures are dropped (tasks aborted) while they wait leave no entry in
/// the request table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_requests_leave_nothing_pending() {
    const N: usize = 10_000;
    let server = NatsServer::start();
    let silent = connect(&server).await;
    let mut sub = silent.subscribe("silent").await.unwrap();
    silent.flush().await.unwrap();

    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(600))
        .connect(server.url())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.request("silent", i.to_string()).await })
        })
        .collect();
    swallow(&mut sub, N).await;
    assert_eq!(client.pending_requests(), N, "all are waiting for a reply");
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let end = within("aborted request", task).await;
        assert!(end.unwrap_err().is_cancelled());
    }
    assert_eq!(client.pending_requests(), 0);

    // Futures dropped right after their first poll (registered, then cancelled).
    for i in 0..N {
        let fut = client.request("silent", i.to_string());
        assert!(fut.now_or_never().is_none());
    }
    assert_eq!(client.pending_requests(), 0);
    within("flush", client.flush()).await.unwrap();
}

/// A reply that arrives after its request timed out is dropped: it does not reach a later
/// request, and the client carries on.
#[tokio::test]
async fn late_reply_after_timeout_is_dropped() {
    let server = NatsServer::start();
    let responder = connect(&server).await;
    let mut slow = responder.subscribe("slow").await.unwrap();
    let echo = responder.subscribe("echo").await.unwrap();
    responder.flush().await.unwrap();
    let _echo = spawn_echo(responder.clone(), echo);

    let client = connect(&server).await;
    let err = within(
        "request",
        client.send_request(
            "slow",
            Request::new()
                .payload("first")
                .timeout(Duration::from_millis(200)),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(client.pending_requests(), 0);

    // Now the slow responder answers the request that already gave up.
    let request = next(&mut slow).await;
    assert_eq!(request.payload, "first");
    let reply_to = request.reply.expect("reply subject");
    let before = client.statistics().in_messages;
    responder.publish(reply_to, "late reply").await.unwrap();
    responder.flush().await.unwrap();
    client.flush().await.unwrap(); // the late reply has been read (and dropped) by now
    assert_eq!(
        client.statistics().in_messages,
        before + 1,
        "the late reply reached the client"
    );

    let reply = within("request", client.request("echo", "second"))
        .await
        .unwrap();
    assert_eq!(reply.payload, "second");
    assert_eq!(client.pending_requests(), 0);
}
