//! The facade's own promises: short paths work, and the version a program reads is the one
//! the server sees in CONNECT.

use std::time::{Duration, Instant};

use gnat_test_support::NatsServer;

#[tokio::test]
async fn the_server_sees_this_crates_version_and_lang_in_connect() {
    let server = NatsServer::builder().monitoring(true).start();
    let client = gnat::ConnectOptions::new()
        .name("facade-version-test")
        .connect(server.url())
        .await
        .unwrap();
    client.flush().await.unwrap();

    // The monitoring endpoint lists connections once the server has registered them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let conn = loop {
        let connz = server.monitor_json("/connz").unwrap();
        let found = connz["connections"].as_array().and_then(|conns| {
            conns
                .iter()
                .find(|c| c["name"] == "facade-version-test")
                .cloned()
        });
        if let Some(conn) = found {
            break conn;
        }
        assert!(
            Instant::now() < deadline,
            "connection never listed: {connz}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(conn["version"], gnat::VERSION);
    assert_eq!(conn["lang"], gnat::LANG);
    assert_eq!(gnat::VERSION, env!("CARGO_PKG_VERSION"));
    client.close().await;
}

#[tokio::test]
async fn the_quick_start_uses_only_gnat_paths() {
    let server = NatsServer::start();
    let client: gnat::Client = gnat::connect(server.url()).await.unwrap();
    let mut events: gnat::Events = client.events();
    let mut sub: gnat::Subscription = client.subscribe("greet.*").await.unwrap();
    client.publish("greet.joe", "hello").await.unwrap();
    client.flush().await.unwrap();
    let msg: gnat::Message = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.payload, "hello".as_bytes());
    let err: gnat::Error = client.publish("bad subject", "x").await.unwrap_err();
    assert_eq!(err.kind(), gnat::ErrorKind::InvalidInput);
    client.close().await;
    // The event stream ends with `Closed`.
    let mut last = None;
    while let Some(event) = events.next().await {
        last = Some(event);
    }
    assert_eq!(last, Some(gnat::Event::Closed));
}
