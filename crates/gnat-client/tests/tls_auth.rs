//! TLS (certificates generated at test time) and authentication (token, user/password,
//! nkeys, JWT credentials, permissions) against a real nats-server.

mod real;

use std::time::Duration;

use gnat_client::{Client, CloseReason, ConnectOptions, ErrorKind, Event};
use gnat_test_support::auth::{DecentralizedAuth, NKey, NkeyUsers};
use gnat_test_support::{NatsServer, tls};
use real::{EventLog, next, wait_event, within};

/// Subscribes, publishes and receives one message on `client`.
async fn assert_pubsub(client: &Client) {
    let mut sub = client.subscribe("tls.auth.check").await.unwrap();
    client.flush().await.unwrap();
    client.publish("tls.auth.check", "ok").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "ok");
}

/// The error of a connect that must fail (the first connect is not retried).
async fn connect_err(opts: ConnectOptions, url: &str) -> gnat_client::Error {
    match within("failing connect", opts.connect(url)).await {
        Ok(client) => panic!("connect to {url} succeeded: {client:?}"),
        Err(e) => e,
    }
}

// ---- TLS ----

/// A client trusting the test CA connects to a TLS server by IP (`nats://127.0.0.1`, upgrade
/// after INFO) and by name (`tls://localhost`), and pub/sub works over TLS.
#[tokio::test]
async fn tls_with_the_test_ca_works() {
    let files = tls::generate(&[]);
    let server = NatsServer::builder().tls(&files).start();
    assert_eq!(server.info().unwrap()["tls_required"], true);

    let client = ConnectOptions::new()
        .add_root_certificate(&files.ca_cert)
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;

    let by_name = ConnectOptions::new()
        .add_root_certificate(&files.ca_cert)
        .connect(format!("tls://localhost:{}", server.port()))
        .await
        .unwrap();
    assert_pubsub(&by_name).await;
    // The two TLS connections talk to each other.
    let mut sub = client.subscribe("cross").await.unwrap();
    client.flush().await.unwrap();
    by_name.publish("cross", "hello").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "hello");
}

/// Without the test CA (default roots, or an unrelated CA) the server certificate is refused
/// with a TLS error.
#[tokio::test]
async fn tls_without_the_ca_fails() {
    let files = tls::generate(&[]);
    let server = NatsServer::builder().tls(&files).start();

    let err = connect_err(ConnectOptions::new(), &server.url()).await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.is_tls());
    let err = connect_err(
        ConnectOptions::new().add_root_certificate(&files.other_ca_cert),
        &format!("tls://localhost:{}", server.port()),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

/// A certificate whose names do not include the host the client dials is refused.
#[tokio::test]
async fn tls_name_mismatch_fails() {
    let files = tls::generate_exact(&["elsewhere.example"]);
    let server = NatsServer::builder().tls(&files).start();
    let err = connect_err(
        ConnectOptions::new().add_root_certificate(&files.ca_cert),
        &format!("tls://localhost:{}", server.port()),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

/// A `tls://` URL requires TLS: against a plain server the connect fails instead of silently
/// going plain text.
#[tokio::test]
async fn tls_url_against_a_plain_server_fails() {
    let files = tls::generate(&[]);
    let server = NatsServer::start();
    let err = connect_err(
        ConnectOptions::new().add_root_certificate(&files.ca_cert),
        &format!("tls://127.0.0.1:{}", server.port()),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Tls, "{err:?}");
}

/// A server that verifies client certificates accepts the test CA's client certificate and
/// refuses a client without one, or with one from an unrelated CA.
#[tokio::test]
async fn tls_client_certificate_is_required_by_a_verifying_server() {
    let files = tls::generate(&[]);
    let server = NatsServer::builder().tls(&files).tls_verify(true).start();
    assert_eq!(server.info().unwrap()["tls_verify"], true);

    let client = ConnectOptions::new()
        .add_root_certificate(&files.ca_cert)
        .client_certificate(&files.client_cert, &files.client_key)
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;

    let err = connect_err(
        ConnectOptions::new().add_root_certificate(&files.ca_cert),
        &server.url(),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Tls, "no client certificate: {err:?}");
    let err = connect_err(
        ConnectOptions::new()
            .add_root_certificate(&files.ca_cert)
            .client_certificate(&files.other_client_cert, &files.other_client_key),
        &server.url(),
    )
    .await;
    assert_eq!(
        err.kind(),
        ErrorKind::Tls,
        "client certificate of another CA: {err:?}"
    );
}

/// A TLS-first server (`handshake_first`) works with `.tls_first()`; a client that waits for
/// INFO in plain text does not get one (the server hangs up, or the attempt times out).
#[tokio::test]
async fn tls_first_server_works_with_tls_first() {
    let files = tls::generate(&[]);
    let server = NatsServer::builder()
        .tls(&files)
        .tls_handshake_first(true)
        .start();
    let client = ConnectOptions::new()
        .add_root_certificate(&files.ca_cert)
        .tls_first()
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;

    let err = connect_err(
        ConnectOptions::new()
            .add_root_certificate(&files.ca_cert)
            .connection_timeout(Duration::from_millis(500)),
        &server.url(),
    )
    .await;
    assert!(
        matches!(err.kind(), ErrorKind::Io | ErrorKind::Timeout),
        "{err:?}"
    );
}

// ---- authentication ----

/// Token auth: from the options or the URL; a wrong or missing token is an authorization
/// error.
#[tokio::test]
async fn token_auth() {
    let server = NatsServer::builder().token("s3cret").start();
    let port = server.port();

    let client = ConnectOptions::new()
        .token("s3cret")
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;
    let client = gnat_client::connect(format!("nats://s3cret@127.0.0.1:{port}"))
        .await
        .unwrap();
    assert_pubsub(&client).await;

    let err = connect_err(ConnectOptions::new().token("wrong"), &server.url()).await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
    assert!(err.is_authorization());
    let err = connect_err(ConnectOptions::new(), &server.url()).await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
}

/// User/password auth: from the options or the URL (percent-encoded); a wrong password is an
/// authorization error, and the error text does not leak the password.
#[tokio::test]
async fn user_password_auth() {
    let server = NatsServer::builder()
        .user_password("alice", "p@ss w0rd")
        .start();
    let port = server.port();

    let client = ConnectOptions::new()
        .user_and_password("alice", "p@ss w0rd")
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;
    let client = gnat_client::connect(format!("nats://alice:p%40ss%20w0rd@127.0.0.1:{port}"))
        .await
        .unwrap();
    assert_pubsub(&client).await;

    let err = connect_err(
        ConnectOptions::new().user_and_password("alice", "wrong-secret"),
        &server.url(),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
    let err = connect_err(
        ConnectOptions::new(),
        &format!("nats://alice:wrong-secret@127.0.0.1:{port}"),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
    assert!(!err.to_string().contains("wrong-secret"), "{err}");
    let err = connect_err(ConnectOptions::new(), &server.url()).await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
}

/// TLS and user/password together, all from one `tls://user:pass@host` URL.
#[tokio::test]
async fn tls_url_with_credentials() {
    let files = tls::generate(&[]);
    let server = NatsServer::builder()
        .tls(&files)
        .user_password("bob", "hunter2")
        .start();
    let client = ConnectOptions::new()
        .add_root_certificate(&files.ca_cert)
        .connect(format!("tls://bob:hunter2@localhost:{}", server.port()))
        .await
        .unwrap();
    assert_pubsub(&client).await;
}

/// Nkey auth: each configured user signs the server's nonce with its seed; an unknown key is
/// refused; a malformed seed is a configuration error before connecting.
#[tokio::test]
async fn nkey_auth() {
    let users = NkeyUsers::new(2);
    let server = NatsServer::builder().config(users.server_config()).start();
    assert!(server.info().unwrap()["nonce"].is_string());

    let a = ConnectOptions::new()
        .nkey(&users.users[0].seed())
        .unwrap()
        .connect(server.url())
        .await
        .unwrap();
    let b = ConnectOptions::new()
        .nkey(&users.users[1].seed())
        .unwrap()
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&a).await;
    let mut sub = a.subscribe("nk").await.unwrap();
    a.flush().await.unwrap();
    b.publish("nk", "from b").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "from b");

    let stranger = NKey::new_user();
    let err = connect_err(
        ConnectOptions::new().nkey(&stranger.seed()).unwrap(),
        &server.url(),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
    let err = ConnectOptions::new().nkey("SUnotaseed").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

/// JWT auth (operator mode): a creds file, creds text, and JWT + seed all work; users of the
/// same account reach each other.
#[tokio::test]
async fn jwt_credentials_auth() {
    let auth = DecentralizedAuth::new(3);
    let server = NatsServer::builder().config(auth.server_config()).start();
    let creds_path = auth.users[0].write_creds(server.dir());

    let from_file = ConnectOptions::new()
        .credentials_file(&creds_path)
        .unwrap()
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&from_file).await;
    let from_text = ConnectOptions::new()
        .credentials(&auth.users[1].creds())
        .unwrap()
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&from_text).await;
    let from_parts = ConnectOptions::new()
        .jwt(auth.users[2].jwt.clone(), &auth.users[2].key.seed())
        .unwrap()
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&from_parts).await;

    let mut sub = from_file.subscribe("jwt.x").await.unwrap();
    from_file.flush().await.unwrap();
    from_text.publish("jwt.x", "same account").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "same account");

    // No credentials, or a JWT signed with another user's seed, are refused.
    let err = connect_err(ConnectOptions::new(), &server.url()).await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
    let err = connect_err(
        ConnectOptions::new()
            .jwt(auth.users[0].jwt.clone(), &auth.users[1].key.seed())
            .unwrap(),
        &server.url(),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
    let err = ConnectOptions::new()
        .credentials_file(server.dir().join("missing.creds"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

/// A user whose JWT the account revoked is refused with an authorization error; the other
/// users still connect.
#[tokio::test]
async fn revoked_jwt_user_is_refused() {
    let auth = DecentralizedAuth::new(2);
    let server = NatsServer::builder()
        .config(auth.server_config_revoking(&auth.users[0]))
        .start();
    let err = connect_err(
        ConnectOptions::new()
            .credentials(&auth.users[0].creds())
            .unwrap(),
        &server.url(),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
    let ok = ConnectOptions::new()
        .credentials(&auth.users[1].creds())
        .unwrap()
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&ok).await;
}

/// A subscription the server refuses (`Permissions Violation for Subscription to …`) is
/// closed with the server's reason and reported; a refused publish is reported; the
/// connection stays up and other subscriptions keep working (NATS protocol docs, `-ERR`:
/// permission violations do not close the connection).
#[tokio::test]
async fn permission_violations_close_only_the_refused_subscription() {
    let server = NatsServer::builder()
        .config(
            "authorization {\n  users: [\n    {user: \"limited\", password: \"pw\", permissions: \
             {subscribe: {deny: [\"secret.>\"]}, publish: {deny: [\"forbidden\"]}}}\n  ]\n}\n",
        )
        .start();
    let (opts, mut log) =
        EventLog::options(ConnectOptions::new().user_and_password("limited", "pw"));
    let client = opts.connect(server.url()).await.unwrap();
    let mut events = client.events();
    let mut allowed = client.subscribe("open.x").await.unwrap();
    let mut denied = client.subscribe("secret.x").await.unwrap();
    let denied_sid = denied.sid();

    let (event, _) = wait_event(&mut events, "PermissionViolation", |e| {
        matches!(e, Event::PermissionViolation { .. })
    })
    .await;
    let Event::PermissionViolation { message, sid } = event else {
        unreachable!()
    };
    assert_eq!(sid, Some(denied_sid), "{message}");
    assert!(message.contains("secret.x"), "{message}");
    assert_eq!(within("denied end", denied.next()).await, None);
    assert!(matches!(
        denied.close_reason(),
        Some(CloseReason::PermissionDenied(_))
    ));

    client.publish("forbidden", "x").await.unwrap();
    let (event, _) = wait_event(&mut events, "PermissionViolation", |e| {
        matches!(e, Event::PermissionViolation { .. })
    })
    .await;
    let Event::PermissionViolation { message, sid } = event else {
        unreachable!()
    };
    assert_eq!(sid, None);
    assert!(message.to_lowercase().contains("publish"), "{message}");

    client.publish("open.x", "still here").await.unwrap();
    assert_eq!(next(&mut allowed).await.payload, "still here");
    assert_eq!(client.statistics().reconnects, 0);
    assert!(
        !log.poll()
            .iter()
            .any(|e| matches!(e, Event::Disconnected { .. })),
        "{:?}",
        log.seen
    );
}
