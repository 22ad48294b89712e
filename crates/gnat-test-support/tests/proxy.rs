//! The fault-injection proxy against a real nats-server, spoken to with raw connections.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Raw, TIMEOUT, connect, connect_with};
use gnat_test_support::NatsServer;
use gnat_test_support::proxy::Proxy;

/// Reads exactly `n` bytes, or fails (EOF, error or the stream's read timeout).
fn read_exact(raw: &mut Raw<TcpStream>, n: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; n];
    raw.stream
        .read_exact(&mut buf)
        .map_err(|e| format!("read {n} bytes: {e}"))?;
    Ok(buf)
}

/// Connects through `addr` and completes the handshake, then one more PING/PONG so that the
/// INFO a recent server sends after CONNECT has been read too: the stream is quiet after this.
fn settled(addr: std::net::SocketAddr, fields: &str) -> Raw<TcpStream> {
    let (mut raw, reply) = connect_with(addr, fields);
    assert_eq!(reply, "PONG");
    raw.send("PING\r\n");
    assert_eq!(pong(&mut raw).unwrap(), "PONG");
    raw
}

/// The next line that is not an INFO.
fn pong(raw: &mut Raw<TcpStream>) -> Result<String, String> {
    raw.try_line_where(|l| !l.starts_with("INFO "))
}

/// True if nothing at all arrives within `wait` (the socket stays open).
fn silent_for(raw: &mut Raw<TcpStream>, wait: Duration) -> bool {
    raw.stream.set_read_timeout(Some(wait)).unwrap();
    let mut byte = [0u8; 1];
    let silent = match raw.stream.read(&mut byte) {
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        Ok(_) => false,
    };
    raw.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    silent
}

#[test]
fn forwards_both_ways_and_records_what_the_client_sent() {
    let server = NatsServer::start();
    let proxy = Proxy::start(server.addr());
    assert_eq!(proxy.url(), format!("nats://127.0.0.1:{}", proxy.port()));
    assert_eq!(proxy.connections_accepted(), 0);

    let mut raw = settled(proxy.addr(), r#""name":"via-proxy""#);
    assert_eq!(
        raw.info["port"],
        server.port(),
        "the server's INFO passes through"
    );
    raw.send("SUB echo 1\r\nPUB echo 1\r\nx\r\n");
    assert_eq!(pong(&mut raw).unwrap(), "MSG echo 1 1");
    assert_eq!(raw.line(), "x");
    let sent = String::from_utf8(proxy.client_bytes()).unwrap();
    assert!(sent.starts_with("CONNECT {"), "{sent}");
    assert!(sent.contains(r#""name":"via-proxy""#), "{sent}");
    assert!(sent.contains("PING\r\n"), "{sent}");
    assert!(
        sent.ends_with("SUB echo 1\r\nPUB echo 1\r\nx\r\n"),
        "{sent}"
    );
    assert_eq!(proxy.client_bytes_len(), sent.len());
    assert_eq!(proxy.connections_accepted(), 1);
    assert_eq!(proxy.accept_times().len(), 1);
    assert_eq!(proxy.open_connections(), 1);
}

#[test]
fn cut_closes_open_connections_and_new_ones_still_work() {
    let server = NatsServer::start();
    let proxy = Proxy::start(server.addr());
    let mut raw = settled(proxy.addr(), "");
    proxy.cut();
    assert!(
        raw.try_line().is_err(),
        "the client sees the connection end"
    );
    assert_eq!(proxy.open_connections(), 0);
    assert_eq!(connect_with(proxy.addr(), "").1, "PONG");
    assert_eq!(proxy.connections_accepted(), 2);
}

#[test]
fn stall_swallows_traffic_until_resumed_and_spares_new_connections() {
    let server = NatsServer::start();
    let proxy = Proxy::start(server.addr());
    let mut raw = settled(proxy.addr(), "");

    proxy.stall();
    raw.send("PING\r\n");
    assert!(
        silent_for(&mut raw, Duration::from_millis(300)),
        "a stalled connection answers nothing"
    );
    // A connection made during the stall is not stalled.
    let (_during, reply) = connect_with(proxy.addr(), "");
    assert_eq!(reply, "PONG");

    proxy.resume();
    assert_eq!(
        pong(&mut raw).unwrap(),
        "PONG",
        "the held PING went through on resume"
    );
    assert_eq!(proxy.open_connections(), 2);
}

#[test]
fn delay_holds_every_chunk_both_ways() {
    let server = NatsServer::start();
    let proxy = Proxy::start(server.addr());
    let mut raw = settled(proxy.addr(), "");
    let delay = Duration::from_millis(150);
    proxy.delay(delay);
    let started = Instant::now();
    raw.send("PING\r\n");
    assert_eq!(pong(&mut raw).unwrap(), "PONG");
    let rtt = started.elapsed();
    assert!(
        rtt >= 2 * delay,
        "round trip {rtt:?} with {delay:?} each way"
    );
    proxy.delay(Duration::ZERO);
    let started = Instant::now();
    raw.send("PING\r\n");
    assert_eq!(pong(&mut raw).unwrap(), "PONG");
    assert!(
        started.elapsed() < delay,
        "delay off: {:?}",
        started.elapsed()
    );
}

#[test]
fn corrupt_next_changes_exactly_that_many_bytes_towards_the_client() {
    let server = NatsServer::start();
    let proxy = Proxy::start(server.addr());
    let mut raw = settled(proxy.addr(), "");
    proxy.corrupt_next(4);
    raw.send("PING\r\n");
    let got = read_exact(&mut raw, 6).unwrap();
    for (i, (g, want)) in got.iter().zip(b"PONG\r\n").enumerate() {
        assert_eq!(g != want, i < 4, "byte {i}: got {got:?}");
    }
    // Nothing pending any more: the next PONG is intact, and the server never saw a change.
    raw.send("PING\r\n");
    assert_eq!(pong(&mut raw).unwrap(), "PONG");
}

#[test]
fn inject_to_client_sends_arbitrary_bytes() {
    let server = NatsServer::start();
    let proxy = Proxy::start(server.addr());
    let mut raw = settled(proxy.addr(), "");
    assert_eq!(proxy.inject_to_client(b"-ERR 'injected'\r\n"), 1);
    assert_eq!(raw.line(), "-ERR 'injected'");
    raw.send("PING\r\n");
    assert_eq!(
        pong(&mut raw).unwrap(),
        "PONG",
        "the server's stream is untouched"
    );
    assert!(
        !String::from_utf8_lossy(&proxy.client_bytes()).contains("injected"),
        "injected bytes are not client bytes"
    );
}

#[test]
fn refuse_new_closes_new_connections_but_counts_them() {
    let server = NatsServer::start();
    let proxy = Proxy::start(server.addr());
    let mut open = settled(proxy.addr(), "");
    proxy.refuse_new(true);
    let mut refused = common::Raw {
        stream: gnat_test_support::probe::connect(proxy.addr(), TIMEOUT).unwrap(),
        info: serde_json::Value::Null,
    };
    assert!(refused.try_line().is_err(), "refused: closed before INFO");
    assert_eq!(proxy.connections_accepted(), 2);
    let times = proxy.accept_times();
    assert!(times[0] <= times[1]);
    open.send("PING\r\n");
    assert_eq!(
        pong(&mut open).unwrap(),
        "PONG",
        "open connections are not affected"
    );
    proxy.refuse_new(false);
    assert_eq!(connect(proxy.addr()).info["port"], server.port());
}

#[test]
fn set_upstream_sends_new_connections_elsewhere() {
    let first = NatsServer::start();
    let second = NatsServer::start();
    let proxy = Proxy::start(first.addr());
    let mut old = settled(proxy.addr(), "");
    proxy.set_upstream(second.addr());
    assert_eq!(connect(proxy.addr()).info["port"], second.port());
    old.send("PING\r\n");
    assert_eq!(
        pong(&mut old).unwrap(),
        "PONG",
        "open connections stay with the first server"
    );
}

#[test]
fn dropping_the_proxy_closes_everything() {
    let server = NatsServer::start();
    let proxy = Proxy::start(server.addr());
    let addr = proxy.addr();
    let mut raw = settled(addr, "");
    proxy.stall();
    drop(proxy);
    assert!(raw.try_line().is_err(), "the client sees the end");
    assert!(common::refuses(addr), "the listener is gone");
}
