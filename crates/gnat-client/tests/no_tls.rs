//! A build without the `tls` feature (`cargo test -p gnat-client --no-default-features --test
//! no_tls`): a connection that needs TLS fails with a clear `ErrorKind::Tls` error instead of
//! going on in plain text, and plain TCP still works.

#![cfg(not(feature = "tls"))]

use std::time::Duration;

use gnat_client::{ConnectOptions, ErrorKind};
use gnat_test_support::{NatsServer, tls};

async fn connect_err(url: &str) -> gnat_client::Error {
    let connect = ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(url);
    match tokio::time::timeout(Duration::from_secs(30), connect).await {
        Ok(Ok(client)) => panic!("connect to {url} succeeded: {client:?}"),
        Ok(Err(e)) => e,
        Err(_) => panic!("connect to {url} did not finish"),
    }
}

fn assert_not_compiled_in(err: &gnat_client::Error) {
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(
        err.to_string()
            .contains("TLS support is not compiled in (enable the `tls` feature)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_requires_tls_fails_clearly() {
    let files = tls::generate(&[]);
    let server = NatsServer::builder().tls(&files).start();
    // A plain nats:// URL: the server's INFO says tls_required.
    assert_not_compiled_in(&connect_err(&server.url()).await);
    // A tls:// URL.
    assert_not_compiled_in(&connect_err(&format!("tls://localhost:{}", server.port())).await);
}

#[cfg(feature = "websocket")]
#[tokio::test]
async fn a_wss_url_fails_clearly() {
    // Fails before any byte is sent, so no server is needed behind the port.
    assert_not_compiled_in(&connect_err("wss://127.0.0.1:1").await);
}

#[tokio::test]
async fn plain_tcp_still_works() {
    let server = NatsServer::start();
    let client = ConnectOptions::new().connect(server.url()).await.unwrap();
    let reply = client.request("nobody.here", "x").await.unwrap_err();
    assert_eq!(reply.kind(), ErrorKind::NoResponders, "{reply}");
    client.close().await;
}
