//! The whole stack over WebSocket: a JetStream stream and a KV bucket used through a `ws://`
//! connection to nats-server's `websocket {}` listener (with the server's compression on: the
//! client offers no extension, so frames stay uncompressed), surviving a server restart.

use std::time::Duration;

use client::{Backoff, ConnectOptions};
use gnat_test_support::NatsServer;
use jetstream::{Context, StreamConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_and_kv_over_websocket() {
    let mut server = NatsServer::builder()
        .jetstream(true)
        .websocket(false)
        .websocket_compression(true)
        .start();
    let url = server.websocket_url().expect("websocket listener");
    let client = ConnectOptions::new()
        .reconnect_backoff(Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(200),
            jitter: Duration::from_millis(10),
        })
        .connect(&url)
        .await
        .unwrap();
    let js = Context::new(client.clone());
    js.create_stream(StreamConfig::new("WS").subjects(["ws.>"]))
        .await
        .unwrap();
    let big = vec![7u8; 200_000];
    let ack = js.publish("ws.big", big.clone()).await.unwrap();
    let stored = js.get_message("WS", ack.seq).await.unwrap();
    assert_eq!(stored.payload, big);

    let kv = kv::create_bucket(&js, kv::Config::new("wsbucket"))
        .await
        .unwrap();
    let rev = kv.put("k", "v1").await.unwrap();
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"v1"[..]));

    // Restart (same port and store): the ws connection comes back and both still work.
    tokio::task::block_in_place(|| server.restart());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let rev2 = loop {
        match kv.update("k", "v2", rev).await {
            Ok(rev2) => break rev2,
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "{e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(rev2 > rev);
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));
    let ack2 = js.publish("ws.after", "after").await.unwrap();
    assert_eq!(ack2.seq, ack.seq + 1);
}
