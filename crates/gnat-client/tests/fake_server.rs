//! Scripted fake-server tests: handshake, authentication, keep-alive answers, publish bytes.
//!
//! The "server" is an in-memory pipe driven by the test (`common/fake.rs`), on a paused clock, so every
//! byte the client receives is chosen here and every byte it sends is checked.

#[path = "common/fake.rs"]
mod fake;

use std::time::Duration;

use tokio::time::Instant;

use fake::{FakeServer, Read, within};
use gnat_client::auth::KeyPair;
use gnat_client::proto::{ClientOp, Info};
use gnat_client::{ErrorKind, HeaderMap};

#[tokio::test(start_paused = true)]
async fn handshake_sends_connect_then_ping_with_the_expected_json() {
    let server = FakeServer::start().await;
    let opts = fake::options().name("fake-test");
    let (client, result) = tokio::join!(opts.connect(server.url()), async {
        let mut conn = server.accept().await;
        conn.send_info(&server.info()).await;
        let (first, raw) = conn.read_frame().await;
        assert!(raw.starts_with(b"CONNECT {"), "CONNECT line: {raw:?}");
        assert!(raw.ends_with(b"}\r\n"));
        let ClientOp::Connect(connect) = first else {
            panic!("first op is not CONNECT: {raw:?}")
        };
        // PING follows CONNECT immediately, before the server said anything.
        let (second, raw) = conn.read_frame().await;
        assert_eq!(&raw[..], b"PING\r\n");
        assert_eq!(second, ClientOp::Ping);
        conn.send_pong().await;
        (conn, connect)
    });
    let client = client.expect("connect completes on PONG");
    let (mut conn, connect) = result;
    assert_eq!(connect.protocol, 1);
    assert!(connect.headers);
    assert!(connect.no_responders);
    assert!(!connect.verbose);
    assert!(!connect.pedantic);
    assert!(connect.echo, "echo is on by default");
    assert!(!connect.tls_required);
    assert_eq!(connect.name.as_deref(), Some("fake-test"));
    assert!(connect.lang.starts_with("rust"), "lang {:?}", connect.lang);
    assert!(!connect.version.is_empty());
    assert_eq!(connect.user, None);
    assert_eq!(connect.pass, None);
    assert_eq!(connect.auth_token, None);
    assert_eq!(connect.sig, None);
    assert_eq!(client.state(), gnat_client::State::Connected);
    assert_eq!(client.server_info().server_id, server.info().server_id);

    // The connection is live: a publish arrives as exact bytes.
    client.publish("after.connect", "x").await.unwrap();
    let (_, raw) = conn.read_frame().await;
    assert_eq!(&raw[..], b"PUB after.connect 1\r\nx\r\n");
}

#[tokio::test(start_paused = true)]
async fn no_echo_sends_echo_false() {
    let server = FakeServer::start().await;
    let (_client, _conn, connect) = server.connect(fake::options().no_echo()).await;
    assert!(!connect.echo);
    assert_eq!(connect.name, None);
}

#[tokio::test(start_paused = true)]
async fn ok_before_pong_is_accepted() {
    let server = FakeServer::start().await;
    let (client, mut conn) = tokio::join!(fake::options().connect(server.url()), async {
        let mut conn = server.accept().await;
        conn.send_info(&server.info()).await;
        conn.expect_connect().await;
        conn.expect_ping().await;
        conn.send(b"+OK\r\n").await;
        conn.send_pong().await;
        conn
    });
    let client = client.expect("connected despite +OK before PONG");
    client.publish("x", "y").await.unwrap();
    assert_eq!(conn.read_line().await, "PUB x y");
}

#[tokio::test(start_paused = true)]
async fn server_ping_during_the_handshake_is_answered() {
    let server = FakeServer::start().await;
    let (client, mut conn) = tokio::join!(fake::options().connect(server.url()), async {
        let mut conn = server.accept().await;
        // INFO and a PING in the same write: the PING is answered during the handshake.
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&fake_info_line(&server.info()));
        bytes.extend_from_slice(b"PING\r\n");
        conn.send(bytes).await;
        conn.expect_connect().await;
        conn.expect_ping().await;
        // The client must answer our PING before we answer its PING.
        conn.expect_pong().await;
        conn.send_pong().await;
        conn
    });
    let client = client.expect("connected");
    client.publish("x", "").await.unwrap();
    assert_eq!(conn.read_line().await, "PUB x ");
}

fn fake_info_line(info: &Info) -> Vec<u8> {
    let mut b = gnat_client::proto::bytes::BytesMut::new();
    gnat_client::proto::encode_info(&mut b, info);
    b.to_vec()
}

#[tokio::test(start_paused = true)]
async fn anything_but_info_first_is_a_protocol_error() {
    for first in [
        &b"PONG\r\n"[..],
        b"+OK\r\n",
        b"MSG a 1 2\r\nhi\r\n",
        b"HELLO world\r\n",
    ] {
        let server = FakeServer::start().await;
        let (result, _conn) = tokio::join!(fake::options().connect(server.url()), async {
            let mut conn = server.accept().await;
            conn.send(first).await;
            conn
        });
        let err = result.expect_err("connect must fail");
        assert_eq!(
            err.kind(),
            ErrorKind::Protocol,
            "first op {:?}: {err}",
            String::from_utf8_lossy(first)
        );
    }
}

#[tokio::test(start_paused = true)]
async fn invalid_info_json_during_the_handshake_is_a_protocol_error() {
    let server = FakeServer::start().await;
    let (result, _conn) = tokio::join!(fake::options().connect(server.url()), async {
        let mut conn = server.accept().await;
        conn.send(b"INFO {\"server_id\": \r\n").await;
        conn
    });
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Protocol);
}

#[tokio::test(start_paused = true)]
async fn server_closing_during_the_handshake_is_an_io_error() {
    // Before INFO.
    let server = FakeServer::start().await;
    let (result, ()) = tokio::join!(fake::options().connect(server.url()), async {
        server.accept().await.close().await;
    });
    let err = result.expect_err("closed before INFO");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");

    // After reading CONNECT and PING, instead of PONG.
    let server = FakeServer::start().await;
    let (result, ()) = tokio::join!(fake::options().connect(server.url()), async {
        let mut conn = server.accept().await;
        conn.send_info(&server.info()).await;
        conn.expect_connect().await;
        conn.expect_ping().await;
        conn.close().await;
    });
    let err = result.expect_err("closed before PONG");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
}

#[tokio::test(start_paused = true)]
async fn no_info_within_the_connection_timeout_is_a_timeout() {
    let server = FakeServer::start().await;
    let started = Instant::now();
    let opts = fake::options().connection_timeout(Duration::from_millis(200));
    let (result, _conn) = tokio::join!(
        within("connect to time out", opts.connect(server.url())),
        async {
            // Accept, then say nothing.
            server.accept().await
        }
    );
    let err = result.expect_err("no INFO");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.is_timeout());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200),
        "gave up early: {took:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "the timeout was not applied: {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn authorization_violation_fails_connect_with_an_auth_error() {
    let server = FakeServer::start().await;
    let opts = fake::options().user_and_password("u", "wrong");
    let (result, ()) = tokio::join!(opts.connect(server.url()), async {
        let mut conn = server.accept().await;
        conn.send_info(&Info {
            auth_required: true,
            ..server.info()
        })
        .await;
        conn.expect_connect().await;
        conn.expect_ping().await;
        conn.send_err("Authorization Violation").await;
        conn.close().await;
    });
    let err = result.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
    assert!(err.is_authorization());
    assert!(err.message().contains("Authorization Violation"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn other_server_errors_during_the_handshake_are_server_errors() {
    let server = FakeServer::start().await;
    let (result, ()) = tokio::join!(fake::options().connect(server.url()), async {
        let mut conn = server.accept().await;
        conn.send_info(&server.info()).await;
        conn.expect_connect().await;
        conn.expect_ping().await;
        conn.send_err("Maximum Connections Exceeded").await;
        conn.close().await;
    });
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Server);
}

#[tokio::test(start_paused = true)]
async fn token_and_user_password_appear_in_connect() {
    let server = FakeServer::start().await;
    let (_c, _conn, connect) = server.connect(fake::options().token("s3cret")).await;
    assert_eq!(connect.auth_token.as_deref(), Some("s3cret"));
    assert_eq!(connect.user, None);

    let (_c, _conn, connect) = server
        .connect(fake::options().user_and_password("alice", "pw"))
        .await;
    assert_eq!(connect.user.as_deref(), Some("alice"));
    assert_eq!(connect.pass.as_deref(), Some("pw"));
    assert_eq!(connect.auth_token, None);
}

#[tokio::test(start_paused = true)]
async fn credentials_in_the_url_appear_in_connect() {
    let server = FakeServer::start().await;
    let url = format!("nats://bob:hunter2@{}", server.host_port());
    let (client, (_conn, connect)) =
        tokio::join!(fake::options().connect(url), server.accept_handshake());
    client.expect("connect");
    assert_eq!(connect.user.as_deref(), Some("bob"));
    assert_eq!(connect.pass.as_deref(), Some("hunter2"));

    let url = format!("nats://tok3n@{}", server.host_port());
    let (client, (_conn, connect)) =
        tokio::join!(fake::options().connect(url), server.accept_handshake());
    client.expect("connect");
    assert_eq!(connect.auth_token.as_deref(), Some("tok3n"));
    assert_eq!(connect.user, None);

    // Options win over the URL.
    let url = format!("nats://bob:hunter2@{}", server.host_port());
    let opts = fake::options().token("from-options");
    let (client, (_conn, connect)) = tokio::join!(opts.connect(url), server.accept_handshake());
    client.expect("connect");
    assert_eq!(connect.auth_token.as_deref(), Some("from-options"));
    assert_eq!(connect.user, None);
}

/// Decodes base64url without padding (the CONNECT `sig`).
fn decode_sig(sig: &str) -> Vec<u8> {
    assert!(!sig.contains('='), "sig must not be padded: {sig}");
    assert!(
        !sig.contains('+') && !sig.contains('/'),
        "sig must be base64url: {sig}"
    );
    let std = sig.replace('-', "+").replace('_', "/");
    gnat_client::auth::base64_std_decode(&std).expect("base64")
}

fn verify(key: &KeyPair, nonce: &str, sig: &str) {
    let public =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key.public_key_bytes());
    public
        .verify(nonce.as_bytes(), &decode_sig(sig))
        .unwrap_or_else(|_| panic!("signature {sig} does not verify for nonce {nonce}"));
}

#[tokio::test(start_paused = true)]
async fn nkey_signs_the_nonce_of_every_connection() {
    let key = KeyPair::new_user_from_raw_seed([7; 32]);
    let server = FakeServer::start().await;
    let opts = fake::options()
        .nkey(&key.seed())
        .unwrap()
        .reconnect_backoff(fast_backoff());
    let nonce1 = "aGVsbG8tbm9uY2UtMQ";
    let (client, (conn, connect)) = tokio::join!(opts.connect(server.url()), async {
        let mut conn = server.accept().await;
        let connect = conn
            .handshake(&Info {
                nonce: Some(nonce1.to_string()),
                auth_required: true,
                ..server.info()
            })
            .await;
        (conn, connect)
    });
    let client = client.expect("connect");
    assert_eq!(connect.nkey.as_deref(), Some(key.public_key().as_str()));
    assert_eq!(connect.jwt, None);
    verify(&key, nonce1, connect.sig.as_deref().expect("sig"));

    // A reconnect signs the new server's fresh nonce.
    let mut events = client.events();
    drop(conn);
    let nonce2 = "c2Vjb25kLW5vbmNl";
    let mut conn2 = server.accept().await;
    let connect2 = conn2
        .handshake(&Info {
            nonce: Some(nonce2.to_string()),
            ..server.info()
        })
        .await;
    let sig2 = connect2.sig.as_deref().expect("sig on reconnect");
    verify(&key, nonce2, sig2);
    assert_ne!(connect.sig.as_deref(), Some(sig2));
    fake::wait_event(&mut events, "Reconnected", |e| {
        matches!(e, gnat_client::Event::Reconnected { .. })
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn jwt_sends_the_jwt_and_a_signature() {
    let key = KeyPair::new_user_from_raw_seed([9; 32]);
    let server = FakeServer::start().await;
    let opts = fake::options()
        .jwt("eyJhbGciOi.fake.jwt", &key.seed())
        .unwrap();
    let (client, (_conn, connect)) = tokio::join!(opts.connect(server.url()), async {
        let mut conn = server.accept().await;
        let c = conn
            .handshake(&Info {
                nonce: Some("bm9uY2U".to_string()),
                ..server.info()
            })
            .await;
        (conn, c)
    });
    client.expect("connect");
    assert_eq!(connect.jwt.as_deref(), Some("eyJhbGciOi.fake.jwt"));
    assert_eq!(connect.nkey, None);
    verify(&key, "bm9uY2U", connect.sig.as_deref().expect("sig"));
}

fn fast_backoff() -> gnat_client::Backoff {
    gnat_client::Backoff {
        base: Duration::from_millis(5),
        max: Duration::from_millis(50),
        jitter: Duration::from_millis(5),
    }
}

#[tokio::test(start_paused = true)]
async fn server_ping_after_connect_is_answered_promptly() {
    let server = FakeServer::start().await;
    let (_client, mut conn, _) = server.connect(fake::options()).await;
    for _ in 0..3 {
        conn.send_ping().await;
        match conn.read_within(Duration::from_secs(1)).await {
            Read::Op(ClientOp::Pong, _) => {}
            other => panic!("expected PONG within 1 s, got {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn publish_bytes_are_exact_and_invalid_input_writes_nothing() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;

    // An empty body (NATS protocol docs, `PUB`: `#bytes` may be 0).
    client.publish("s", "").await.unwrap();
    assert_eq!(&conn.read_frame().await.1[..], b"PUB s 0\r\n\r\n");

    // Reply subject.
    client.publish_with_reply("s", "r.1", "hey").await.unwrap();
    assert_eq!(&conn.read_frame().await.1[..], b"PUB s r.1 3\r\nhey\r\n");

    // Headers with an empty body: equal sizes (ADR-4, `HPUB` header and total sizes).
    let mut h = HeaderMap::new();
    h.append("A", "1").unwrap();
    client.publish_with_headers("s", &h, "").await.unwrap();
    assert_eq!(
        &conn.read_frame().await.1[..],
        b"HPUB s 18 18\r\nNATS/1.0\r\nA: 1\r\n\r\n\r\n"
    );

    // Injection characters are refused and nothing is written (ADR-6, subject names).
    for bad in ["a b", "a\tb", "a\r\nPUB x 1", "a\nb", ""] {
        let err = client.publish(bad, "p").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    let err = client
        .publish_with_reply("s", "bad reply", "p")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    for bad in ["", ".a", "a.", "a..b", "a b"] {
        let err = client.subscribe(bad).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    let err = client.queue_subscribe("s", "q 1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    // A valid queue subscription (NATS protocol docs, `SUB` with a queue group), then a marker publish: nothing came in between.
    let sub = client.queue_subscribe("a.*.c", "q1").await.unwrap();
    client.publish("marker", "m").await.unwrap();
    assert_eq!(
        conn.read_line().await,
        format!("SUB a.*.c q1 {}", sub.sid())
    );
    assert_eq!(conn.read_line().await, "PUB marker m");
}

#[tokio::test(start_paused = true)]
async fn payload_over_max_payload_is_refused_locally() {
    let server = FakeServer::start().await;
    let (client, (mut conn, _)) = tokio::join!(fake::options().connect(server.url()), async {
        let mut conn = server.accept().await;
        let c = conn
            .handshake(&Info {
                max_payload: 100,
                ..server.info()
            })
            .await;
        (conn, c)
    });
    let client = client.unwrap();
    assert_eq!(client.max_payload(), 100);
    client.publish("ok", vec![b'x'; 100]).await.unwrap();
    let err = client.publish("big", vec![b'x'; 101]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MaxPayloadExceeded);
    // With headers the header bytes count: 90 + 18 > 100.
    let mut h = HeaderMap::new();
    h.append("A", "1").unwrap();
    let err = client
        .publish_with_headers("big.h", &h, vec![b'x'; 90])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MaxPayloadExceeded);
    client.publish("marker", "m").await.unwrap();
    let first = conn.expect_pub().await;
    assert_eq!(&first.subject[..], b"ok");
    assert_eq!(first.payload.len(), 100);
    assert_eq!(conn.read_line().await, "PUB marker m");
}

#[tokio::test(start_paused = true)]
async fn close_flushes_queued_publishes_then_closes_the_socket() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    let mut events = client.events();
    for i in 0..3 {
        client.publish("bye", format!("{i}")).await.unwrap();
    }
    let (seen, ()) = tokio::join!(conn.serve_until_eof(), within("close", client.close()));
    assert_eq!(seen, ["PUB bye 0", "PUB bye 1", "PUB bye 2"]);
    fake::wait_event(&mut events, "Closed", |e| *e == gnat_client::Event::Closed).await;
    assert_eq!(client.state(), gnat_client::State::Closed);
    assert_eq!(
        client.publish("late", "x").await.unwrap_err().kind(),
        ErrorKind::Closed
    );
}

#[tokio::test(start_paused = true)]
async fn the_client_is_connected_as_soon_as_connect_returns() {
    // With no reconnect buffer at all, a publish right after connect must still go out.
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server
        .connect(fake::options().reconnect_buffer_size(0))
        .await;
    assert_eq!(client.state(), gnat_client::State::Connected);
    client
        .publish("first", "1")
        .await
        .expect("connected, not buffering");
    assert_eq!(conn.read_line().await, "PUB first 1");
}

#[tokio::test(start_paused = true)]
async fn large_payloads_are_chained_in_order_with_small_ones() {
    let server = FakeServer::start().await;
    let (client, mut conn, _) = server.connect(fake::options()).await;
    let big: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8).collect();
    let mut h = HeaderMap::new();
    h.append("K", "v").unwrap();
    client.publish("small.1", "a").await.unwrap();
    client.publish("big.1", big.clone()).await.unwrap();
    client.publish("small.2", "b").await.unwrap();
    client
        .publish_with_headers("big.2", &h, big[..40 * 1024].to_vec())
        .await
        .unwrap();
    client.publish("small.3", "c").await.unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        let p = conn.expect_pub().await;
        got.push((
            String::from_utf8(p.subject.to_vec()).unwrap(),
            p.headers.map(|h| h.to_vec()),
            p.payload.to_vec(),
        ));
    }
    assert_eq!(got[0], ("small.1".to_string(), None, b"a".to_vec()));
    assert_eq!(got[1], ("big.1".to_string(), None, big.clone()));
    assert_eq!(got[2], ("small.2".to_string(), None, b"b".to_vec()));
    assert_eq!(
        got[3],
        (
            "big.2".to_string(),
            Some(b"NATS/1.0\r\nK: v\r\n\r\n".to_vec()),
            big[..40 * 1024].to_vec()
        )
    );
    assert_eq!(got[4], ("small.3".to_string(), None, b"c".to_vec()));
}
