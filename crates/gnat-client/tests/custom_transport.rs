//! The `custom_transport` test hook: a connection over an in-memory pipe instead of TCP (what
//! the `client_conn` fuzz target runs on), and its refusal to go on without TLS when TLS is
//! required.

use std::time::Duration;

use gnat_client::proto::bytes::BytesMut;
use gnat_client::proto::{ClientOp, Decoder, Limits};
use gnat_client::{ConnectOptions, ErrorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

const DEADLINE: Duration = Duration::from_secs(10);

/// Reads client operations until one matches.
async fn until(io: &mut DuplexStream, buf: &mut BytesMut, pred: impl Fn(&ClientOp) -> bool) {
    let decoder = Decoder::new(Limits::default());
    loop {
        while let Some(op) = decoder.decode_client(buf).expect("valid client bytes") {
            if pred(&op) {
                return;
            }
        }
        assert_ne!(io.read_buf(buf).await.unwrap(), 0, "the client hung up");
    }
}

/// Options whose every connection attempt gets the next pipe end from `ends`.
fn over(ends: Vec<DuplexStream>) -> ConnectOptions {
    let ends = std::sync::Mutex::new(ends);
    ConnectOptions::new().custom_transport(move |host_port| {
        assert_eq!(host_port, "pipe.invalid:4222");
        let end = ends.lock().unwrap().pop();
        async move { end.ok_or_else(|| std::io::Error::other("no more pipes")) }
    })
}

#[tokio::test]
async fn a_connection_runs_over_a_custom_transport() {
    let (client_end, mut server) = tokio::io::duplex(64 * 1024);
    let script = tokio::spawn(async move {
        let mut buf = BytesMut::new();
        server
            .write_all(b"INFO {\"proto\":1,\"headers\":true,\"max_payload\":1024}\r\n")
            .await
            .unwrap();
        until(&mut server, &mut buf, |op| matches!(op, ClientOp::Ping)).await;
        server.write_all(b"PONG\r\n").await.unwrap();
        until(&mut server, &mut buf, |op| {
            matches!(op, ClientOp::Sub { .. })
        })
        .await;
        until(&mut server, &mut buf, |op| matches!(op, ClientOp::Pub(_))).await;
        server
            .write_all(b"MSG pipe.a 1 5\r\nhello\r\n")
            .await
            .unwrap();
        until(&mut server, &mut buf, |op| matches!(op, ClientOp::Ping)).await;
        server.write_all(b"PONG\r\n").await.unwrap();
        server
    });
    let client = tokio::time::timeout(
        DEADLINE,
        over(vec![client_end]).connect("nats://pipe.invalid:4222"),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(client.max_payload(), 1024, "the INFO came over the pipe");
    let mut sub = client.subscribe("pipe.a").await.unwrap();
    client.publish("pipe.a", "hello").await.unwrap();
    let msg = tokio::time::timeout(DEADLINE, sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.payload, "hello");
    tokio::time::timeout(DEADLINE, client.flush())
        .await
        .unwrap()
        .unwrap();
    let _server = script.await.unwrap();
}

#[tokio::test]
async fn tls_is_never_skipped_over_a_custom_transport() {
    let (client_end, mut server) = tokio::io::duplex(64 * 1024);
    server
        .write_all(b"INFO {\"proto\":1,\"tls_required\":true}\r\n")
        .await
        .unwrap();
    let err = tokio::time::timeout(
        DEADLINE,
        over(vec![client_end]).connect("nats://pipe.invalid:4222"),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.message().contains("custom transport"), "{err}");
    // Nothing was sent in plain text.
    drop(err);
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "{rest:?}");
}
