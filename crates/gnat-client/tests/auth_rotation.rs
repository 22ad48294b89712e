//! Credentials that change while connected, against a real nats-server: the auth callback on
//! every connect with that connection's nonce, signing callbacks (no seed in the client),
//! several methods in one CONNECT, a creds file re-read on reconnect, a broken creds file or
//! failing callback reported and backed off, and `close()` during an outage.

mod real;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnat_client::auth::AuthFields;
use gnat_client::{Backoff, Client, ConnectOptions, ErrorKind, Event, State};
use gnat_test_support::NatsServer;
use gnat_test_support::auth::{DecentralizedAuth, NkeyUsers};
use gnat_test_support::proxy::Proxy;
use real::{EventLog, blocking, fast_reconnect, next, within};

async fn assert_pubsub(client: &Client) {
    let subject = client.new_inbox();
    let mut sub = client.subscribe(&subject).await.unwrap();
    client.publish(&subject, "ping").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "ping");
}

/// The user public key the server holds for the connection named `name` (`/connz?auth=true`).
fn authorized_user(server: &NatsServer, name: &str) -> String {
    let connz = server.monitor_json("/connz?auth=true").expect("/connz");
    let conns = connz["connections"].as_array().cloned().unwrap_or_default();
    let conn = conns
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no connection named {name} in {connz}"));
    conn["authorized_user"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// What the auth callback was given: server and nonce.
type Attempt = (String, Option<String>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_callback_runs_on_every_connect_with_that_connections_nonce() {
    let users = NkeyUsers::new(1);
    let key = users.users[0].clone();
    let mut server = NatsServer::builder().config(users.server_config()).start();
    let seen: Arc<Mutex<Vec<Attempt>>> = Arc::default();
    let record = seen.clone();
    let (opts, mut log) = EventLog::options(fast_reconnect(ConnectOptions::new()));
    let client = opts
        .auth_callback(move |ctx| {
            record
                .lock()
                .unwrap()
                .push((ctx.server.clone(), ctx.nonce.clone()));
            let key = key.clone();
            async move {
                let nonce = ctx.nonce.ok_or("the server sent no nonce")?;
                Ok(AuthFields::new()
                    .with_nkey(key.public_key())
                    .with_signature(&key.sign(nonce.as_bytes())))
            }
        })
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;
    let first = seen.lock().unwrap().clone();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].0, real::host_port(&server));
    let nonce1 = first[0].1.clone().expect("nonce");

    blocking(|| server.restart());
    log.wait_for("Reconnected", |e| matches!(e, Event::Reconnected { .. }))
        .await;
    assert_pubsub(&client).await;
    let all = seen.lock().unwrap().clone();
    assert_eq!(all.len(), 2, "once per connect: {all:?}");
    let nonce2 = all[1].1.clone().expect("nonce");
    assert_ne!(nonce1, nonce2, "each connection signs its own nonce");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_callbacks_authenticate_without_the_seed() {
    // JWT + signer.
    let auth = DecentralizedAuth::new(2);
    let server = NatsServer::builder().config(auth.server_config()).start();
    let user = auth.users[0].clone();
    let signs = Arc::new(Mutex::new(0usize));
    let counted = signs.clone();
    let client = ConnectOptions::new()
        .jwt_with_signer(user.jwt.clone(), move |nonce| {
            *counted.lock().unwrap() += 1;
            Ok(user.key.sign(nonce))
        })
        .unwrap()
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;
    assert_eq!(*signs.lock().unwrap(), 1);
    // The wrong key signing: refused by the server.
    let other = auth.users[1].key.clone();
    let err = ConnectOptions::new()
        .jwt_with_signer(auth.users[0].jwt.clone(), move |n| Ok(other.sign(n)))
        .unwrap()
        .connect(server.url())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
    // A signer that fails: a clear error, not a CONNECT without a signature.
    let err = ConnectOptions::new()
        .jwt_with_signer(auth.users[0].jwt.clone(), |_| Err("hsm offline".into()))
        .unwrap()
        .connect(server.url())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.message().contains("hsm offline"), "{err}");

    // Bare nkey + signer.
    let users = NkeyUsers::new(1);
    let nkey_server = NatsServer::builder().config(users.server_config()).start();
    let key = users.users[0].clone();
    let public = key.public_key();
    let client = ConnectOptions::new()
        .nkey_with_signer(&public, move |nonce| Ok(key.sign(nonce)))
        .unwrap()
        .connect(nkey_server.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;

    // Bad input is refused before any connection.
    for bad in ["", "UNOTAKEY", &public[..55], &users.users[0].seed()] {
        let err = ConnectOptions::new()
            .nkey_with_signer(bad, |_| Ok(Vec::new()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad:?}: {err}");
    }
    let account_key = auth.account.key.public_key();
    let err = ConnectOptions::new()
        .nkey_with_signer(&account_key, |_| Ok(Vec::new()))
        .unwrap_err();
    assert!(err.message().contains("user key"), "{err}");
    for bad in ["not-a-jwt", "a.b", "a.b.c\r\nPUB x 1"] {
        let err = ConnectOptions::new()
            .jwt_with_signer(bad, |_| Ok(Vec::new()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_auth_methods_go_into_one_connect() {
    let server = NatsServer::builder().user_password("alice", "pw").start();
    let proxy = Proxy::start(server.addr());
    let client = ConnectOptions::new()
        .token("extra-token")
        .user_and_password("alice", "pw")
        .connect(proxy.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;
    let sent = String::from_utf8_lossy(&proxy.client_bytes()).to_string();
    let connect = sent
        .lines()
        .find(|l| l.starts_with("CONNECT "))
        .expect("a CONNECT");
    let json: serde_json::Value = serde_json::from_str(&connect["CONNECT ".len()..]).unwrap();
    assert_eq!(json["auth_token"], "extra-token");
    assert_eq!(json["user"], "alice");
    assert_eq!(json["pass"], "pw");
    // The callback's fields are added to (and win over) the static ones.
    let client = ConnectOptions::new()
        .user_and_password("alice", "wrong")
        .auth_callback(|_| async { Ok(AuthFields::new().with_user_and_password("alice", "pw")) })
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;
    // A credential with a control character is refused before anything is sent.
    let err = ConnectOptions::new()
        .auth_callback(|_| async { Ok(AuthFields::new().with_token("a\r\nPUB x 1\r\n")) })
        .connect(server.url())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_creds_file_is_read_on_reconnect() {
    let auth = DecentralizedAuth::new(2);
    let mut server = NatsServer::builder()
        .config(auth.server_config())
        .monitoring(true)
        .start();
    let path = server.dir().join("rotating.creds");
    std::fs::write(&path, auth.users[0].creds()).unwrap();
    let (opts, mut log) = EventLog::options(fast_reconnect(
        ConnectOptions::new()
            .name("rotating")
            .credentials_file(&path)
            .unwrap(),
    ));
    let client = opts.connect(server.url()).await.unwrap();
    assert_pubsub(&client).await;
    assert_eq!(
        authorized_user(&server, "rotating"),
        auth.users[0].key.public_key()
    );

    // Rotate while connected: the file now names user-1.
    let tmp = server.dir().join("rotating.creds.new");
    std::fs::write(&tmp, auth.users[1].creds()).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    blocking(|| {
        server.kill();
        server.start_again();
    });
    log.wait_for("Reconnected", |e| matches!(e, Event::Reconnected { .. }))
        .await;
    assert_pubsub(&client).await;
    assert_eq!(
        authorized_user(&server, "rotating"),
        auth.users[1].key.public_key(),
        "the CONNECT after the restart carried the new JWT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_creds_file_is_reported_and_the_old_credentials_are_not_reused() {
    let auth = DecentralizedAuth::new(1);
    let mut server = NatsServer::builder().config(auth.server_config()).start();
    let path = server.dir().join("user.creds");
    std::fs::write(&path, auth.users[0].creds()).unwrap();
    let (opts, mut log) = EventLog::options(fast_reconnect(
        ConnectOptions::new().credentials_file(&path).unwrap(),
    ));
    let client = opts.connect(server.url()).await.unwrap();
    assert_pubsub(&client).await;

    for broken in ["garbage, not a creds file", ""] {
        std::fs::write(&path, broken).unwrap();
        blocking(|| server.restart());
        let event = log
            .wait_for("CredentialsError", |e| {
                matches!(e, Event::CredentialsError { .. })
            })
            .await;
        let Event::CredentialsError {
            message,
            server: at,
        } = event
        else {
            unreachable!()
        };
        assert!(message.contains("user.creds"), "{message}");
        assert_eq!(at, real::host_port(&server));
        assert_eq!(client.state(), State::Disconnected);
        let reconnects = log
            .poll()
            .iter()
            .filter(|e| matches!(e, Event::Reconnected { .. }))
            .count();
        assert_eq!(reconnects, usize::from(broken.is_empty()), "{:?}", log.seen);

        // Fixed: the next attempt connects.
        std::fs::write(&path, auth.users[0].creds()).unwrap();
        log.wait_for("Reconnected", |e| matches!(e, Event::Reconnected { .. }))
            .await;
        assert_pubsub(&client).await;
    }
    // A file that disappeared: the same.
    std::fs::remove_file(&path).unwrap();
    blocking(|| server.restart());
    log.wait_for("CredentialsError", |e| {
        matches!(e, Event::CredentialsError { .. })
    })
    .await;
    assert_eq!(client.state(), State::Disconnected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_auth_callback_is_an_event_and_a_backoff_not_a_spin() {
    let server = NatsServer::builder().token("t0k").start();
    let failing = Arc::new(AtomicBool::new(false));
    let calls: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let (fail, record) = (failing.clone(), calls.clone());
    let backoff = Backoff {
        base: Duration::from_millis(50),
        max: Duration::from_millis(400),
        jitter: Duration::ZERO,
    };
    let (opts, mut log) = EventLog::options(ConnectOptions::new().reconnect_backoff(backoff));
    let client = opts
        .auth_callback(move |_| {
            let failed = fail.load(Ordering::SeqCst);
            if failed {
                record.lock().unwrap().push(Instant::now());
            }
            async move {
                if failed {
                    Err("vault unreachable".to_string())
                } else {
                    Ok(AuthFields::new().with_token("t0k"))
                }
            }
        })
        .connect(server.url())
        .await
        .unwrap();
    assert_pubsub(&client).await;

    failing.store(true, Ordering::SeqCst);
    client.force_reconnect();
    for _ in 0..5 {
        let event = log
            .wait_for("CredentialsError", |e| {
                matches!(e, Event::CredentialsError { .. })
            })
            .await;
        let Event::CredentialsError { message, .. } = event else {
            unreachable!()
        };
        assert!(message.contains("vault unreachable"), "{message}");
    }
    let times = calls.lock().unwrap().clone();
    assert!(times.len() >= 5, "{}", times.len());
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Attempt 1 after the drop is immediate; from then on 50, 100, 200, 400 ms (no jitter).
    for (i, gap) in gaps.iter().take(4).enumerate() {
        assert!(
            *gap >= Duration::from_millis(45),
            "gap {i} of {gaps:?} is a spin"
        );
    }
    assert!(gaps[3] > gaps[0], "the backoff grows: {gaps:?}");

    failing.store(false, Ordering::SeqCst);
    log.wait_for("Reconnected", |e| matches!(e, Event::Reconnected { .. }))
        .await;
    assert_pubsub(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_during_an_outage_stops_reconnecting_at_once() {
    // Waiting in the backoff.
    let mut server = NatsServer::start();
    let backoff = Backoff {
        base: Duration::from_secs(60),
        max: Duration::from_secs(120),
        jitter: Duration::ZERO,
    };
    let (opts, mut log) = EventLog::options(ConnectOptions::new().reconnect_backoff(backoff));
    let client = opts.connect(server.url()).await.unwrap();
    blocking(|| server.kill());
    log.wait_for("Disconnected", |e| matches!(e, Event::Disconnected { .. }))
        .await;
    let started = Instant::now();
    within("close", client.close()).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "close waited for the 60 s backoff"
    );
    assert_eq!(client.state(), State::Closed);
    log.wait_for("Closed", |e| matches!(e, Event::Closed)).await;

    // In a handshake that hangs: a listener that lets the first connection through its
    // handshake and drops it, then accepts the next and never sends INFO.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("nats://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let held = accepted.clone();
    tokio::spawn(async move {
        let Ok((mut first, _)) = listener.accept().await else {
            return;
        };
        let info = "INFO {\"server_id\":\"fake\",\"version\":\"2.11.0\",\"proto\":1,\"max_payload\":1048576}\r\n";
        first.write_all(info.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        while !got.windows(6).any(|w| w == b"PING\r\n") {
            let mut buf = [0u8; 1024];
            let n = first.read(&mut buf).await.unwrap();
            assert!(n > 0, "client hung up during the handshake");
            got.extend_from_slice(&buf[..n]);
        }
        first.write_all(b"PONG\r\n").await.unwrap();
        held.lock().unwrap().push(());
        // Let the client see the connection up before it drops.
        let mut buf = [0u8; 1024];
        let _ = tokio::time::timeout(Duration::from_millis(200), first.read(&mut buf)).await;
        drop(first);
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
            held.lock().unwrap().push(());
        }
    });
    let (opts, mut log) =
        EventLog::options(ConnectOptions::new().connection_timeout(Duration::from_secs(120)));
    let client = opts.connect(&url).await.unwrap();
    log.wait_for("Disconnected", |e| matches!(e, Event::Disconnected { .. }))
        .await;
    let deadline = Instant::now() + real::DEADLINE;
    while accepted.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "no reconnect attempt");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    within("close", client.close()).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "close waited for the hanging handshake"
    );
    assert_eq!(client.state(), State::Closed);
    log.wait_for("Closed", |e| matches!(e, Event::Closed)).await;
    // The driver has ended (Closed is its last act): no attempt can follow.
    assert_eq!(accepted.lock().unwrap().len(), 2);
}
