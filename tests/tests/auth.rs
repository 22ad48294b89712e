//! Scenario 7: wrong or revoked credentials.
//!
//! The promise: a clear authorization error (kind `Authorization`, the server's reason, never
//! the secret), and reconnect attempts that back off instead of spinning. The attempts are
//! observed where they land: the fault proxy records when it accepted each connection. A client
//! connects through the proxy to a server that accepts it; then the proxy cuts it and sends every
//! new connection to a server that refuses the same credentials (a changed password, a revoked
//! user JWT). The gaps between attempts must grow with the backoff up to its maximum, and once
//! the credentials work again the client is back with its subscriptions.

mod common;

use std::time::{Duration, Instant};

use client::{Backoff, Client, ConnectOptions, ErrorKind, Event, Subscription};
use common::{EventLog, is_reconnected, next, within};
use gnat_test_support::NatsServer;
use gnat_test_support::auth::DecentralizedAuth;
use gnat_test_support::proxy::Proxy;

/// The backoff under test: 50 ms doubling up to 400 ms, 5 ms of jitter.
const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(50),
    max: Duration::from_millis(400),
    jitter: Duration::from_millis(5),
};

/// Refused attempts to observe after the cut.
const ATTEMPTS: usize = 7;

/// The shortest wait before attempt `n` (1-based) of a reconnect: 0, then `base`, doubling,
/// capped at `max` (jitter only adds).
fn min_delay(n: usize) -> Duration {
    if n <= 1 {
        return Duration::ZERO;
    }
    BACKOFF
        .base
        .saturating_mul(1 << (n - 2).min(16))
        .min(BACKOFF.max)
}

fn is_auth_refusal(e: &Event) -> bool {
    matches!(e, Event::ServerError { message } if message.contains("Authorization Violation"))
}

/// Waits until the proxy accepted `n` connections in all; returns when each was accepted.
async fn accepted(proxy: &Proxy, n: usize) -> Vec<Instant> {
    within(&format!("{n} connection attempts"), async {
        loop {
            let times = proxy.accept_times();
            if times.len() >= n {
                return times;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// Cuts the client's connection and sends new ones to `refusing`: observes [`ATTEMPTS`]
/// refused attempts and checks that they back off. Returns the gaps between them.
async fn refused_attempts_back_off(
    proxy: &Proxy,
    refusing: &NatsServer,
    log: &mut EventLog,
) -> Vec<Duration> {
    let before = proxy.connections_accepted();
    proxy.set_upstream(refusing.addr());
    let cut_at = Instant::now();
    proxy.cut();
    let times = accepted(proxy, before + ATTEMPTS).await;
    let attempts = &times[before..before + ATTEMPTS];
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    let elapsed = attempts[ATTEMPTS - 1] - cut_at;
    eprintln!(
        "{ATTEMPTS} refused attempts in {elapsed:?}; first after {:?}, then gaps {gaps:?}",
        attempts[0] - cut_at
    );

    // The first attempt is immediate; each later one waits at least its backoff delay.
    for (i, gap) in gaps.iter().enumerate() {
        let want = min_delay(i + 2);
        assert!(
            *gap >= want,
            "gap {i} is {gap:?}, less than the backoff's {want:?}: {gaps:?}"
        );
    }
    // The gaps grow: from below the maximum to the maximum (handshake times on a loaded
    // machine make a strict comparison of neighbours flaky) ...
    assert!(
        gaps[0] < BACKOFF.max,
        "the first gap is already long: {gaps:?}"
    );
    assert!(
        gaps[gaps.len() - 2..].iter().all(|g| *g >= BACKOFF.max),
        "the last gaps are not at the maximum: {gaps:?}"
    );
    // ... and no spinning: the attempts took at least the sum of the delays.
    let floor: Duration = (1..=ATTEMPTS).map(min_delay).sum();
    assert!(
        elapsed >= floor,
        "{ATTEMPTS} attempts in {elapsed:?} (< {floor:?})"
    );
    // Each refusal was reported with the server's reason.
    for _ in 0..ATTEMPTS - 1 {
        log.wait_for("an Authorization Violation", is_auth_refusal)
            .await;
    }
    assert!(
        !log.poll()
            .iter()
            .any(|e| matches!(e, Event::Reconnected { .. })),
        "refused credentials got in"
    );
    gaps
}

/// Lets the credentials work again; the client is back with its subscription.
async fn back_with(
    proxy: &Proxy,
    accepting: &NatsServer,
    log: &mut EventLog,
    client: &Client,
    sub: &mut Subscription,
) {
    proxy.set_upstream(accepting.addr());
    log.wait_for("Reconnected", is_reconnected).await;
    client.publish("auth.back", "welcome back").await.unwrap();
    assert_eq!(next(sub).await.payload, "welcome back");
}

/// A wrong password: the first connect fails with a clear auth error; a password changed under
/// a connected client makes its reconnect attempts back off, and it is back once the password
/// works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_a_clear_error_and_reconnects_back_off() {
    let old = NatsServer::builder()
        .user_password("alice", "old-secret")
        .start();
    let changed = NatsServer::builder()
        .user_password("alice", "new-secret")
        .start();

    let err = ConnectOptions::new()
        .user_and_password("alice", "wrong-secret")
        .connect(old.url())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");
    assert!(err.is_authorization());
    assert!(err.message().contains("Authorization Violation"), "{err}");
    assert!(!err.to_string().contains("wrong-secret"), "{err}");

    let proxy = Proxy::start(old.addr());
    let (opts, mut log) = EventLog::options(
        ConnectOptions::new()
            .user_and_password("alice", "old-secret")
            .reconnect_backoff(BACKOFF),
    );
    let client = opts.connect(proxy.url()).await.unwrap();
    let mut sub = client.subscribe("auth.back").await.unwrap();
    client.flush().await.unwrap();

    refused_attempts_back_off(&proxy, &changed, &mut log).await;
    back_with(&proxy, &old, &mut log, &client, &mut sub).await;
}

/// A revoked user JWT (operator mode): refused at every attempt with a clear auth error, the
/// attempts back off, and the user is back once the revocation is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_credentials_are_a_clear_error_and_reconnects_back_off() {
    let auth = DecentralizedAuth::new(2);
    let valid = NatsServer::builder().config(auth.server_config()).start();
    let revoking = NatsServer::builder()
        .config(auth.server_config_revoking(&auth.users[0]))
        .start();

    let err = ConnectOptions::new()
        .credentials(&auth.users[0].creds())
        .unwrap()
        .connect(revoking.url())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authorization, "{err}");

    let proxy = Proxy::start(valid.addr());
    let (opts, mut log) = EventLog::options(
        ConnectOptions::new()
            .credentials(&auth.users[0].creds())
            .unwrap()
            .reconnect_backoff(BACKOFF),
    );
    let client = opts.connect(proxy.url()).await.unwrap();
    let mut sub = client.subscribe("auth.back").await.unwrap();
    client.flush().await.unwrap();

    refused_attempts_back_off(&proxy, &revoking, &mut log).await;
    back_with(&proxy, &valid, &mut log, &client, &mut sub).await;
}

/// A server that completes the handshake and then throws the client out at once (as with
/// credentials revoked or expired while connected, on every connection): each connection lives
/// for a moment, and the next attempts must still back off instead of reconnecting in a loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kicked_out_right_after_every_handshake_backs_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("nats://{}", listener.local_addr().unwrap());
    let (tx, mut accepted) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let _ = tx.send(Instant::now());
            tokio::spawn(async move {
                let info = "INFO {\"server_id\":\"KICK\",\"proto\":1,\"headers\":true,\
                            \"max_payload\":1048576}\r\n";
                conn.write_all(info.as_bytes()).await?;
                let mut seen = Vec::new();
                while !seen.ends_with(b"PING\r\n") {
                    let mut buf = [0u8; 1024];
                    let n = conn.read(&mut buf).await?;
                    if n == 0 {
                        return Ok(());
                    }
                    seen.extend_from_slice(&buf[..n]);
                }
                conn.write_all(b"PONG\r\n-ERR 'User Authentication Revoked'\r\n")
                    .await?;
                conn.shutdown().await
            });
        }
        Ok::<(), std::io::Error>(())
    });

    let (opts, mut log) = EventLog::options(ConnectOptions::new().reconnect_backoff(BACKOFF));
    let _client = opts.connect(&url).await.unwrap();
    let mut times = Vec::new();
    for _ in 0..ATTEMPTS {
        times.push(
            within("the next connection", accepted.recv())
                .await
                .unwrap(),
        );
    }
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let elapsed = times[ATTEMPTS - 1] - times[0];
    eprintln!("{ATTEMPTS} connections, each thrown out at once, in {elapsed:?}: gaps {gaps:?}");
    let refusals = log
        .poll()
        .iter()
        .filter(|e| matches!(e, Event::ServerError { message } if message.contains("Revoked")))
        .count();
    assert!(refusals >= 1, "the server's reason is reported");
    let floor: Duration = (1..ATTEMPTS).map(min_delay).sum();
    assert!(
        gaps[0] < BACKOFF.max && gaps[ATTEMPTS - 2] >= BACKOFF.max,
        "{gaps:?}"
    );
    assert!(
        elapsed >= floor,
        "{ATTEMPTS} connections in {elapsed:?} (< {floor:?}): reconnecting in a loop; gaps {gaps:?}"
    );
}
