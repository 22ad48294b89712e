//! Auth and TLS configs on a real nats-server, checked with raw connections (and rustls for
//! real handshakes with the generated certificates).

mod common;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use common::{Raw, TIMEOUT, connect, connect_with};
use gnat_test_support::{NatsServer, probe, tls};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

const AUTH_VIOLATION: &str = "-ERR 'Authorization Violation'";

#[test]
fn token_is_required() {
    let server = NatsServer::builder().token("s3cret").start();
    assert_eq!(connect(server.addr()).info["auth_required"], true);
    assert_eq!(connect_with(server.addr(), "").1, AUTH_VIOLATION);
    assert_eq!(
        connect_with(server.addr(), r#""auth_token":"wrong""#).1,
        AUTH_VIOLATION
    );
    assert_eq!(
        connect_with(server.addr(), r#""auth_token":"s3cret""#).1,
        "PONG"
    );
}

#[test]
fn user_and_password_are_required() {
    let server = NatsServer::builder()
        .user_password("alice", "pa ss\"word")
        .start();
    assert_eq!(connect(server.addr()).info["auth_required"], true);
    assert_eq!(connect_with(server.addr(), "").1, AUTH_VIOLATION);
    assert_eq!(
        connect_with(server.addr(), r#""user":"alice","pass":"nope""#).1,
        AUTH_VIOLATION
    );
    assert_eq!(
        connect_with(server.addr(), r#""user":"alice","pass":"pa ss\"word""#).1,
        "PONG"
    );
}

#[test]
fn auth_survives_restart() {
    let mut server = NatsServer::builder().jetstream(true).token("t0k").start();
    server.restart();
    assert_eq!(connect_with(server.addr(), "").1, AUTH_VIOLATION);
    assert_eq!(
        connect_with(server.addr(), r#""auth_token":"t0k""#).1,
        "PONG"
    );
}

fn client_config(ca: &Path, client: Option<(&Path, &Path)>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca).unwrap())
        .unwrap();
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_file(cert).unwrap()],
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// Connects, reads the plain `INFO` (unless `handshake_first`), upgrades to TLS as `name`, and
/// does CONNECT/PING: returns the first non-INFO line, or the failure.
fn tls_ping(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    name: &str,
    handshake_first: bool,
) -> Result<String, String> {
    let mut tcp = probe::connect(addr, TIMEOUT)?;
    let mut info = serde_json::Value::Null;
    if !handshake_first {
        info = probe::parse_info(&probe::read_line(&mut tcp)?)?;
        assert_eq!(info["tls_required"], true, "{info}");
    }
    let conn = ClientConnection::new(config, ServerName::try_from(name.to_owned()).unwrap())
        .map_err(|e| e.to_string())?;
    let mut raw: Raw<StreamOwned<ClientConnection, TcpStream>> = Raw {
        stream: StreamOwned::new(conn, tcp),
        info,
    };
    if handshake_first {
        // The INFO comes over TLS, after the handshake.
        let line = raw.try_line()?;
        raw.info = probe::parse_info(&line)?;
    }
    raw.try_handshake("")
}

#[test]
fn tls_server_requires_tls_and_accepts_the_test_ca() {
    let files = tls::generate(&[]);
    let server = NatsServer::builder().tls(&files).start();
    let info = connect(server.addr()).info;
    assert_eq!(info["tls_required"], true, "{info}");
    let config = client_config(&files.ca_cert, None);
    assert_eq!(
        tls_ping(server.addr(), config.clone(), "localhost", false).unwrap(),
        "PONG"
    );
    assert_eq!(
        tls_ping(server.addr(), config, "127.0.0.1", false).unwrap(),
        "PONG"
    );
    // A client that trusts only the unrelated CA refuses the server.
    let wrong = client_config(&files.other_ca_cert, None);
    let err = tls_ping(server.addr(), wrong, "localhost", false).unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[test]
fn server_name_must_match_the_certificate() {
    let files = tls::generate_exact(&["elsewhere.invalid"]);
    let server = NatsServer::builder().tls(&files).start();
    let config = client_config(&files.ca_cert, None);
    let err = tls_ping(server.addr(), config.clone(), "localhost", false).unwrap_err();
    assert!(err.contains("not valid for name"), "{err}");
    assert_eq!(
        tls_ping(server.addr(), config, "elsewhere.invalid", false).unwrap(),
        "PONG"
    );
}

#[test]
fn tls_verify_requires_a_client_certificate_from_the_ca() {
    let files = tls::generate(&["gnat.test"]);
    let server = NatsServer::builder().tls(&files).tls_verify(true).start();
    let info = connect(server.addr()).info;
    assert_eq!(info["tls_verify"], true, "{info}");
    let good = client_config(
        &files.ca_cert,
        Some((&files.client_cert, &files.client_key)),
    );
    assert_eq!(
        tls_ping(server.addr(), good, "gnat.test", false).unwrap(),
        "PONG"
    );

    let anonymous = client_config(&files.ca_cert, None);
    let reply = tls_ping(server.addr(), anonymous, "localhost", false);
    assert!(
        reply.as_deref().map_or(true, |l| l.starts_with("-ERR")),
        "{reply:?}"
    );

    let foreign = client_config(
        &files.ca_cert,
        Some((&files.other_client_cert, &files.other_client_key)),
    );
    let reply = tls_ping(server.addr(), foreign, "localhost", false);
    assert!(
        reply.as_deref().map_or(true, |l| l.starts_with("-ERR")),
        "{reply:?}"
    );
}

#[test]
fn tls_handshake_first_starts_and_speaks_tls_first() {
    let files = tls::generate(&[]);
    let mut server = NatsServer::builder()
        .tls(&files)
        .tls_handshake_first(true)
        .start();
    // No plain INFO: the server waits for our ClientHello.
    let err = probe::read_info(server.addr(), std::time::Duration::from_millis(300)).unwrap_err();
    assert!(err.contains("read"), "{err}");
    let config = client_config(&files.ca_cert, None);
    assert_eq!(
        tls_ping(server.addr(), config.clone(), "localhost", true).unwrap(),
        "PONG"
    );
    // The copied certificates survive a restart (the TlsFiles could be gone by then).
    drop(files);
    server.restart();
    assert_eq!(
        tls_ping(server.addr(), config, "localhost", true).unwrap(),
        "PONG"
    );
}
