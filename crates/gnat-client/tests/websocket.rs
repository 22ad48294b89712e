//! NATS over WebSocket (`ws://`, `wss://`) against nats-server's `websocket {}` listener:
//! pub/sub/request, large messages, TLS verification, auth, and reconnect after a restart.

#![cfg(feature = "websocket")]

mod real;

use gnat_client::{Client, ConnectOptions, ErrorKind, Event};
use gnat_test_support::NatsServer;
use gnat_test_support::proxy::Proxy;
#[cfg(feature = "tls")]
use gnat_test_support::tls;
use real::{EventLog, blocking, fast_reconnect, next};

/// Pub/sub and request/reply between `ws` and a plain TCP client `tcp`, both ways, with a
/// message far larger than one read.
async fn exercise(ws: &Client, tcp: &Client) {
    let mut on_ws = ws.subscribe("ws.in").await.unwrap();
    ws.flush().await.unwrap();
    tcp.publish("ws.in", "to ws").await.unwrap();
    assert_eq!(next(&mut on_ws).await.payload, "to ws");
    let big = real::pattern(700_000, 3);
    tcp.publish("ws.in", big.clone()).await.unwrap();
    assert_eq!(next(&mut on_ws).await.payload, big);

    let mut on_tcp = tcp.subscribe("ws.out").await.unwrap();
    tcp.flush().await.unwrap();
    ws.publish("ws.out", big.clone()).await.unwrap();
    assert_eq!(next(&mut on_tcp).await.payload, big);

    let mut service = tcp.subscribe("ws.svc").await.unwrap();
    tcp.flush().await.unwrap();
    let responder = tcp.clone();
    let task = tokio::spawn(async move {
        let msg = next(&mut service).await;
        let reply = msg.reply.unwrap();
        responder.publish(reply.as_str(), "pong").await.unwrap();
    });
    let reply = ws.request("ws.svc", "ping").await.unwrap();
    assert_eq!(reply.payload, "pong");
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pub_sub_request_over_ws() {
    let server = NatsServer::builder().websocket(false).start();
    let url = server.websocket_url().expect("websocket port");
    assert!(url.starts_with("ws://"), "{url}");
    let ws = gnat_client::connect(&url).await.unwrap();
    let tcp = gnat_client::connect(server.url()).await.unwrap();
    exercise(&ws, &tcp).await;
    assert!(ws.current_server().unwrap().url.starts_with("ws://"));
}

/// With the listener's compression on, the client (which offers no extension) still gets
/// plain frames: the handshake refuses an extension it did not ask for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_with_the_servers_compression_on() {
    let server = NatsServer::builder()
        .websocket(false)
        .websocket_compression(true)
        .start();
    let ws = gnat_client::connect(server.websocket_url().unwrap())
        .await
        .unwrap();
    let tcp = gnat_client::connect(server.url()).await.unwrap();
    exercise(&ws, &tcp).await;
}

#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pub_sub_request_over_wss_with_verification() {
    let files = tls::generate(&[]);
    let server = NatsServer::builder().tls(&files).websocket(true).start();
    let url = server.websocket_url().expect("websocket port");
    assert!(url.starts_with("wss://"), "{url}");
    let ws = ConnectOptions::new()
        .add_root_certificate(&files.ca_cert)
        .connect(&url)
        .await
        .unwrap();
    let tcp = ConnectOptions::new()
        .add_root_certificate(&files.ca_cert)
        .connect(server.url())
        .await
        .unwrap();
    exercise(&ws, &tcp).await;

    // Verification is on: without the test CA, or with another CA, it is refused.
    for opts in [
        ConnectOptions::new(),
        ConnectOptions::new().add_root_certificate(&files.other_ca_cert),
    ] {
        let err = opts.connect(&url).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    }
    // A ws:// URL where TLS is required by the options is refused, not sent in the clear.
    let plain = url.replacen("wss://", "ws://", 1);
    let err = ConnectOptions::new()
        .add_root_certificate(&files.ca_cert)
        .connect(&plain)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_over_ws() {
    let server = NatsServer::builder()
        .websocket(false)
        .user_password("wsuser", "wspass")
        .start();
    let url = server.websocket_url().unwrap();
    let err = gnat_client::connect(&url).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
    let ws = ConnectOptions::new()
        .user_and_password("wsuser", "wspass")
        .connect(&url)
        .await
        .unwrap();
    let tcp = ConnectOptions::new()
        .user_and_password("wsuser", "wspass")
        .connect(server.url())
        .await
        .unwrap();
    exercise(&ws, &tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_over_ws_after_a_restart() {
    let mut server = NatsServer::builder().websocket(false).start();
    let url = server.websocket_url().unwrap();
    let (opts, mut log) = EventLog::options(fast_reconnect(ConnectOptions::new()));
    let ws = opts.connect(&url).await.unwrap();
    let mut sub = ws.subscribe("ws.restored").await.unwrap();
    ws.flush().await.unwrap();

    blocking(|| server.restart());
    log.wait_for("Reconnected", |e| matches!(e, Event::Reconnected { .. }))
        .await;
    ws.flush().await.unwrap();
    let tcp = gnat_client::connect(server.url()).await.unwrap();
    tcp.publish("ws.restored", "after restart").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "after restart");
    exercise(&ws, &tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_websocket_port_fails_clearly() {
    let server = NatsServer::start();
    let err = gnat_client::connect(format!("ws://127.0.0.1:{}", server.port()))
        .await
        .unwrap_err();
    assert!(err.message().contains("websocket"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_over_ws_through_a_cut_and_a_stall() {
    let server = NatsServer::builder().websocket(false).start();
    let ws_port: u16 = server
        .websocket_url()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let proxy = Proxy::start(std::net::SocketAddr::from(([127, 0, 0, 1], ws_port)));
    let (opts, mut log) = EventLog::options(fast_reconnect(
        ConnectOptions::new()
            .ping_interval(std::time::Duration::from_millis(200))
            .max_pings_outstanding(2),
    ));
    let ws = opts
        .connect(format!("ws://127.0.0.1:{}", proxy.port()))
        .await
        .unwrap();
    let mut sub = ws.subscribe("ws.faults").await.unwrap();
    ws.flush().await.unwrap();
    let tcp = gnat_client::connect(server.url()).await.unwrap();

    proxy.cut();
    log.wait_for("Reconnected", |e| matches!(e, Event::Reconnected { .. }))
        .await;
    ws.flush().await.unwrap();
    tcp.publish("ws.faults", "after cut").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "after cut");

    // Silence, not an error: the missed PONGs find it stale.
    proxy.stall();
    log.wait_for("Reconnected", |e| matches!(e, Event::Reconnected { .. }))
        .await;
    ws.flush().await.unwrap();
    tcp.publish("ws.faults", "after stall").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "after stall");
}

/// A cluster with WebSocket listeners: the server announces the others' WebSocket ports to a
/// ws client, and when its node dies the client fails over to another one over ws.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_a_clusters_websocket_ports_and_fails_over() {
    let mut cluster = gnat_test_support::Cluster::start_with(3, |_, b| b.websocket(false));
    let ws_urls: Vec<String> = (0..3)
        .map(|i| cluster.server(i).websocket_url().unwrap())
        .collect();
    let (opts, mut log) = EventLog::options(fast_reconnect(ConnectOptions::new()));
    let ws = opts.connect(&ws_urls[0]).await.unwrap();
    let deadline = std::time::Instant::now() + real::DEADLINE;
    while ws.servers().len() < 3 {
        assert!(std::time::Instant::now() < deadline, "{:?}", ws.servers());
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let mut pool: Vec<String> = ws.servers().into_iter().map(|s| s.url).collect();
    pool.sort();
    let mut want = ws_urls.clone();
    want.sort();
    assert_eq!(pool, want, "the announced servers are ws:// ones");

    let mut sub = ws.subscribe("ws.cluster").await.unwrap();
    ws.flush().await.unwrap();
    blocking(|| cluster.kill(0));
    let Event::Reconnected { server } = log
        .wait_for("Reconnected", |e| matches!(e, Event::Reconnected { .. }))
        .await
    else {
        unreachable!()
    };
    assert!(ws_urls[1..].contains(&format!("ws://{server}")), "{server}");
    ws.flush().await.unwrap();
    let publisher = gnat_client::connect(cluster.server(1).url()).await.unwrap();
    // Interest crosses the route asynchronously: probe until it arrives.
    loop {
        publisher.publish("ws.cluster", "hi").await.unwrap();
        publisher.flush().await.unwrap();
        if let Ok(Some(_)) =
            tokio::time::timeout(std::time::Duration::from_millis(100), sub.next()).await
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no delivery after failover"
        );
    }
}
