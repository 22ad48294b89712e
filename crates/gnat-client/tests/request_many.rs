//! Request-many (ADR-47) against a real nats-server: each way the stream ends (total timeout,
//! stall, maximum count, sentinel, no responders), a scatter to five responders, and the reply
//! table emptied when the stream ends or is dropped.

mod real;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use gnat_client::{Client, ErrorKind, Replies, RequestMany};
use gnat_test_support::NatsServer;
use real::{DEADLINE, within};

async fn connect(server: &NatsServer) -> Client {
    gnat_client::connect(server.url()).await.unwrap()
}

/// Starts `n` responders on `subject`; responder `i` answers each request with the payloads
/// `replies(i)`, in order.
async fn responders(
    server: &NatsServer,
    subject: &str,
    n: usize,
    replies: fn(usize) -> Vec<String>,
) -> Client {
    let client = connect(server).await;
    for i in 0..n {
        let mut sub = client.subscribe(subject).await.unwrap();
        let c = client.clone();
        tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let Some(reply) = msg.reply else { continue };
                for payload in replies(i) {
                    if c.publish(reply.as_str(), payload).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
    client.flush().await.unwrap();
    client
}

/// Every item until the end, within the test deadline.
async fn collect(replies: &mut Replies) -> Vec<gnat_client::Result<gnat_client::Message>> {
    within("request-many end", async {
        let mut got = Vec::new();
        while let Some(item) = replies.next().await {
            got.push(item);
        }
        got
    })
    .await
}

fn payloads(items: Vec<gnat_client::Result<gnat_client::Message>>) -> Vec<String> {
    items
        .into_iter()
        .map(|r| String::from_utf8(r.expect("a reply").payload.to_vec()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scatter_to_five_responders_gathers_five_replies() {
    let server = NatsServer::start();
    let _resp = responders(&server, "scatter", 5, |i| vec![format!("r{i}")]).await;
    let client = connect(&server).await;
    let mut replies = client
        .send_request_many(
            "scatter",
            RequestMany::new()
                .payload("q")
                .max_messages(5)
                .max_wait(DEADLINE),
        )
        .await
        .unwrap();
    assert_eq!(client.pending_requests(), 1);
    let got: BTreeSet<String> = payloads(collect(&mut replies).await).into_iter().collect();
    let want: BTreeSet<String> = (0..5).map(|i| format!("r{i}")).collect();
    assert_eq!(got, want);
    // Ended on the count: the entry is gone before the stream is dropped.
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_count_ends_the_stream_early() {
    let server = NatsServer::start();
    let _resp = responders(&server, "count", 5, |i| vec![format!("r{i}")]).await;
    let client = connect(&server).await;
    let started = Instant::now();
    let mut replies = client
        .send_request_many(
            "count",
            RequestMany::new().max_messages(2).max_wait(DEADLINE),
        )
        .await
        .unwrap();
    let got = payloads(collect(&mut replies).await);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        started.elapsed() < DEADLINE / 2,
        "ended by the count, not the timeout"
    );
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_timeout_ends_the_stream() {
    let server = NatsServer::start();
    let _resp = responders(&server, "slowpoke", 1, |_| vec!["only".to_string()]).await;
    let client = connect(&server).await;
    let total = Duration::from_millis(400);
    let started = Instant::now();
    let mut replies = client
        .send_request_many("slowpoke", RequestMany::new().max_wait(total))
        .await
        .unwrap();
    let got = payloads(collect(&mut replies).await);
    let elapsed = started.elapsed();
    assert_eq!(got, ["only"]);
    assert!(
        elapsed >= total,
        "ended after {elapsed:?}, before the total {total:?}"
    );
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_total_timeout_is_the_request_timeout() {
    let server = NatsServer::start();
    let _resp = responders(&server, "dflt", 2, |i| vec![format!("r{i}")]).await;
    let timeout = Duration::from_millis(300);
    let client = gnat_client::ConnectOptions::new()
        .request_timeout(timeout)
        .connect(server.url())
        .await
        .unwrap();
    let started = Instant::now();
    let mut replies = client.request_many("dflt", "x").await.unwrap();
    let got = payloads(collect(&mut replies).await);
    assert_eq!(got.len(), 2);
    assert!(started.elapsed() >= timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_timer_ends_the_stream_after_the_last_reply() {
    let server = NatsServer::start();
    let _resp = responders(&server, "stall", 3, |i| vec![format!("r{i}")]).await;
    let client = connect(&server).await;
    let started = Instant::now();
    let mut replies = client
        .send_request_many(
            "stall",
            RequestMany::new()
                .max_wait(Duration::from_secs(60))
                .stall(Duration::from_millis(200)),
        )
        .await
        .unwrap();
    let got = payloads(collect(&mut replies).await);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the stall, not the 60 s total, ended it"
    );
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_ends_the_stream_and_is_not_yielded() {
    let server = NatsServer::start();
    let _resp = responders(&server, "chunks", 1, |_| {
        vec![
            "a".into(),
            "b".into(),
            "c".into(),
            String::new(),
            "late".into(),
        ]
    })
    .await;
    let client = connect(&server).await;
    let started = Instant::now();
    let mut replies = client
        .send_request_many(
            "chunks",
            RequestMany::new()
                .sentinel(true)
                .max_wait(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    let got = payloads(collect(&mut replies).await);
    assert_eq!(got, ["a", "b", "c"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_responders_ends_at_once_with_that_error() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let started = Instant::now();
    let mut replies = client
        .send_request_many(
            "nobody.home",
            RequestMany::new().max_wait(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    let items = collect(&mut replies).await;
    assert_eq!(items.len(), 1, "one error, then the end");
    let err = items.into_iter().next().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoResponders, "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(client.pending_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_or_cancelling_the_stream_removes_its_entry() {
    let server = NatsServer::start();
    let _resp = responders(&server, "drop", 1, |_| vec!["x".to_string()]).await;
    let client = connect(&server).await;
    let replies = client
        .send_request_many("drop", RequestMany::new().max_wait(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(client.pending_requests(), 1);
    drop(replies);
    assert_eq!(client.pending_requests(), 0);

    let mut replies = client
        .send_request_many("drop", RequestMany::new().max_wait(Duration::from_secs(60)))
        .await
        .unwrap();
    let first = within("first reply", replies.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&first.payload[..], b"x");
    replies.cancel();
    assert_eq!(client.pending_requests(), 0);
    assert!(
        replies.next().await.is_none(),
        "a cancelled stream has ended"
    );
    // The client still works.
    client.flush().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subject_or_header_fails_before_anything_is_written() {
    let server = NatsServer::start();
    let client = connect(&server).await;
    let watcher = connect(&server).await;
    let mut all = watcher.subscribe(">").await.unwrap();
    watcher.flush().await.unwrap();
    for subject in ["", "a b", "a\r\nPUB x 1", "a..b", "a.*", "a.>"] {
        let err = client.request_many(subject, "x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{subject:?}: {err}");
        assert_eq!(client.pending_requests(), 0);
    }
    // A header map refuses a bad name or value when it is built, so none can be sent.
    let mut headers = gnat_client::HeaderMap::new();
    assert!(headers.insert("Bad\r\nName", "v").is_err());
    assert!(headers.insert("Name", "v\r\nPUB x 1").is_err());
    // Nothing reached the server: a marker published now is the first thing the watcher sees.
    client.publish("marker", "m").await.unwrap();
    real::barrier(&client, &watcher).await;
    let first = real::next(&mut all).await;
    assert_eq!(first.subject.as_str(), "marker");
}
