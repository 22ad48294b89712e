//! Scenario 6: TLS.
//!
//! Against real TLS servers (certificates generated at test time), every connection through the
//! fault proxy so the test sees what the client put on the wire: a wrong CA is refused, a
//! hostname mismatch is refused, a server that requires TLS fails a client that has no trust
//! for it with a clear TLS error, and a TLS-first server works with TLS-first. Whenever the
//! handshake fails, the client must not have sent its CONNECT (with the credentials) in plain
//! text.

mod common;

use std::time::Duration;

use client::{Client, ConnectOptions, ErrorKind};
use common::{next, within};
use gnat_test_support::proxy::Proxy;
use gnat_test_support::{NatsServer, tls};

const USER: &str = "alice";
const PASSWORD: &str = "never-in-the-clear";

/// A TLS server with user/password auth.
fn tls_server(files: &tls::TlsFiles, handshake_first: bool) -> NatsServer {
    NatsServer::builder()
        .tls(files)
        .tls_handshake_first(handshake_first)
        .user_password(USER, PASSWORD)
        .start()
}

fn with_credentials(opts: ConnectOptions) -> ConnectOptions {
    opts.user_and_password(USER, PASSWORD)
        .connection_timeout(Duration::from_secs(2))
}

/// Connects `opts` to `url`, which must fail; returns the error.
async fn refused(opts: ConnectOptions, url: String) -> client::Error {
    match within("the failing connect", opts.connect(&url)).await {
        Ok(client) => panic!("connect to {url} succeeded: {client:?}"),
        Err(e) => e,
    }
}

/// Nothing the client sent through `proxy` was a CONNECT or the password in plain text.
fn nothing_in_the_clear(proxy: &Proxy) {
    let sent = proxy.client_bytes();
    let has = |needle: &[u8]| sent.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"CONNECT"), "a plain-text CONNECT went out: {sent:?}");
    assert!(
        !has(PASSWORD.as_bytes()),
        "the password went out in the clear"
    );
}

async fn assert_pubsub(client: &Client) {
    let mut sub = client.subscribe("tls.check").await.unwrap();
    client.flush().await.unwrap();
    client.publish("tls.check", "over tls").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "over tls");
}

/// A server certificate from a CA the client does not trust: a TLS error naming the unknown
/// issuer; the handshake began (a TLS record went out) and no CONNECT did.
#[tokio::test]
async fn wrong_ca_is_refused() {
    let files = tls::generate(&[]);
    let server = tls_server(&files, false);
    let proxy = Proxy::start(server.addr());
    let err = refused(
        with_credentials(ConnectOptions::new().add_root_certificate(&files.other_ca_cert)),
        proxy.url(),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.message().contains("UnknownIssuer"), "{err}");
    assert_eq!(
        proxy.client_bytes().first(),
        Some(&0x16),
        "a TLS handshake record"
    );
    nothing_in_the_clear(&proxy);
}

/// A certificate valid only for another name: refused with a TLS error about the name.
#[tokio::test]
async fn hostname_mismatch_is_refused() {
    let files = tls::generate_exact(&["elsewhere.example"]);
    let server = tls_server(&files, false);
    let proxy = Proxy::start(server.addr());
    let err = refused(
        with_credentials(ConnectOptions::new().add_root_certificate(&files.ca_cert)),
        format!("tls://localhost:{}", proxy.port()),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.message().contains("NotValidForName"), "{err}");
    nothing_in_the_clear(&proxy);

    // The same certificate is fine under the name it was issued for.
    let client = with_credentials(
        ConnectOptions::new().tls(
            client::TlsOptions::new()
                .add_root_certificate(&files.ca_cert)
                .server_name_override("elsewhere.example"),
        ),
    )
    .connect(proxy.url())
    .await
    .unwrap();
    assert_pubsub(&client).await;
}

/// A server with `tls_required` and a client with no TLS configuration: the client does not
/// go on in plain text; it tries TLS, cannot verify the test CA with its default roots, and
/// fails with a TLS error that says so.
#[tokio::test]
async fn tls_required_server_and_a_client_without_tls_config() {
    let files = tls::generate(&[]);
    let server = tls_server(&files, false);
    assert_eq!(server.info().unwrap()["tls_required"], true);
    let proxy = Proxy::start(server.addr());
    let err = refused(with_credentials(ConnectOptions::new()), proxy.url()).await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.is_tls());
    assert!(err.message().contains("certificate verify failed"), "{err}");
    assert!(err.message().contains("the server requires it"), "{err}");
    nothing_in_the_clear(&proxy);
}

/// The other way round: a client that requires TLS against a plain server fails instead of
/// sending its credentials in the clear.
#[tokio::test]
async fn tls_required_by_the_client_against_a_plain_server() {
    let files = tls::generate(&[]);
    let server = NatsServer::builder().user_password(USER, PASSWORD).start();
    let proxy = Proxy::start(server.addr());
    let err = refused(
        with_credentials(ConnectOptions::new().add_root_certificate(&files.ca_cert)),
        proxy.url(),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(
        err.message().contains("the server does not offer it"),
        "{err}"
    );
    nothing_in_the_clear(&proxy);
}

/// A TLS-first server (`handshake_first`) works with `tls_first()`: the very first byte on the
/// wire is a TLS record. A client that waits for a plain INFO fails in bounded time, as does a
/// TLS-first client against a server that sends its INFO in plain text.
#[tokio::test]
async fn tls_first_server_works_with_tls_first() {
    let files = tls::generate(&[]);
    let server = tls_server(&files, true);
    let proxy = Proxy::start(server.addr());
    let client = with_credentials(
        ConnectOptions::new()
            .add_root_certificate(&files.ca_cert)
            .tls_first(),
    )
    .connect(proxy.url())
    .await
    .unwrap();
    assert_pubsub(&client).await;
    assert_eq!(
        proxy.client_bytes().first(),
        Some(&0x16),
        "TLS from the first byte"
    );
    nothing_in_the_clear(&proxy);

    let plain_first = Proxy::start(server.addr());
    let err = refused(
        with_credentials(ConnectOptions::new().add_root_certificate(&files.ca_cert))
            .connection_timeout(Duration::from_millis(500)),
        plain_first.url(),
    )
    .await;
    assert!(
        matches!(err.kind(), ErrorKind::Io | ErrorKind::Timeout),
        "{err:?}"
    );
    nothing_in_the_clear(&plain_first);

    let upgrade_server = tls_server(&files, false);
    let mismatch = Proxy::start(upgrade_server.addr());
    let err = refused(
        with_credentials(
            ConnectOptions::new()
                .add_root_certificate(&files.ca_cert)
                .tls_first(),
        ),
        mismatch.url(),
    )
    .await;
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Tls | ErrorKind::Io | ErrorKind::Timeout
        ),
        "{err:?}"
    );
    nothing_in_the_clear(&mismatch);
}
