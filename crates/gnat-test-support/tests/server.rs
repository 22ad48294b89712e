//! A single real nats-server: start, JetStream, restart, kill, lame duck, drop.

mod common;

use std::time::Duration;

use common::{TIMEOUT, connect, connect_with, pid_exists, refuses};
use gnat_test_support::{MIN_VERSION, NatsServer, nats_server_bin, probe, server_version};

#[test]
fn binary_is_recent_enough() {
    let bin = nats_server_bin();
    let (major, minor, _) = server_version(&bin).unwrap();
    assert!(
        (major, minor) >= MIN_VERSION,
        "{} is {major}.{minor}",
        bin.display()
    );
}

#[test]
fn plain_server_sends_info_with_its_port() {
    let server = NatsServer::start();
    assert_eq!(server.url(), format!("nats://127.0.0.1:{}", server.port()));
    assert_eq!(server.addr().port(), server.port());
    assert!(server.store_dir().is_none());
    let (raw, reply) = connect_with(server.addr(), "");
    assert_eq!(raw.info["port"], server.port());
    assert_ne!(raw.info["jetstream"], true);
    assert_eq!(reply, "PONG");
    let varz = server.monitor_json("/varz").unwrap();
    assert_eq!(varz["port"], server.port());
    assert!(
        server
            .monitor_url()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
}

#[test]
fn jetstream_server_says_so_in_info() {
    let server = NatsServer::start_jetstream();
    assert_eq!(connect(server.addr()).info["jetstream"], true);
    assert!(server.store_dir().unwrap().is_dir());
}

#[test]
fn domain_and_extra_config_reach_the_server() {
    let server = NatsServer::builder()
        .domain("hub")
        .config("max_payload: 65536")
        .start();
    let info = server.info().unwrap();
    assert_eq!(info["jetstream"], true);
    assert_eq!(info["max_payload"], 65536);
    let (mut raw, reply) = connect_with(server.addr(), "");
    assert_eq!(reply, "PONG");
    let account = raw.js_api("$JS.hub.API.INFO", "");
    assert_eq!(account["domain"], "hub", "{account}");
}

#[test]
fn restart_keeps_port_and_store() {
    let mut server = NatsServer::start_jetstream();
    let (port, pid) = (server.port(), server.pid());
    let (mut raw, _) = connect_with(server.addr(), "");
    raw.js_api(
        "$JS.API.STREAM.CREATE.KEEP",
        r#"{"name":"KEEP","subjects":["keep.>"],"storage":"file"}"#,
    );
    let ack = raw.request("keep.a", "hello");
    assert!(ack.contains(r#""stream":"KEEP""#), "{ack}");
    drop(raw);

    server.restart();
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), pid);
    assert!(!pid_exists(pid), "old process still there");
    let (mut raw, reply) = connect_with(server.addr(), "");
    assert_eq!(reply, "PONG");
    assert_eq!(raw.info["port"], port);
    let info = raw.js_api("$JS.API.STREAM.INFO.KEEP", "");
    assert_eq!(info["state"]["messages"], 1, "{info}");
    let streams = server
        .store_dir()
        .unwrap()
        .join("jetstream/$G/streams/KEEP");
    assert!(streams.is_dir(), "{} missing", streams.display());
}

#[test]
fn kill_refuses_then_start_again_accepts_on_the_same_port() {
    let mut server = NatsServer::start_jetstream();
    let (port, pid) = (server.port(), server.pid());
    assert!(server.is_running());
    server.kill();
    assert!(!server.is_running());
    assert!(!pid_exists(pid), "killed process not reaped");
    assert!(refuses(server.addr()), "port still accepts after kill");

    server.start_again();
    assert!(server.is_running());
    assert_eq!(server.port(), port);
    let (raw, reply) = connect_with(server.addr(), "");
    assert_eq!(reply, "PONG");
    assert_eq!(raw.info["port"], port);
    // The log spans both starts.
    assert_eq!(
        server.log().matches("gnat-test-support: start #").count(),
        2
    );
}

#[test]
fn stop_is_graceful_and_restart_after_stop_works() {
    let mut server = NatsServer::start();
    let pid = server.pid();
    server.stop();
    assert!(!server.is_running());
    assert!(!pid_exists(pid));
    assert!(
        server.log().contains("Server Exiting"),
        "{}",
        server.log_tail()
    );
    server.restart();
    assert_eq!(connect_with(server.addr(), "").1, "PONG");
}

#[test]
fn lame_duck_sends_ldm_info_and_refuses_new_connections() {
    let server = NatsServer::builder()
        .lame_duck_duration(Duration::from_secs(30))
        .lame_duck_grace_period(Duration::from_secs(5))
        .start();
    let (mut raw, reply) = connect_with(server.addr(), "");
    assert_eq!(reply, "PONG");
    server.lame_duck();
    // After CONNECT the server sends one more INFO (`connect_info`); skip INFOs until ldm.
    let line = raw.line_where(|l| l.starts_with("INFO ") && l.contains("\"ldm\""));
    let info = probe::parse_info(&line).unwrap();
    assert_eq!(info["ldm"], true, "{line}");
    probe::wait_for(TIMEOUT, || {
        refuses(server.addr())
            .then_some(())
            .ok_or("still accepting".to_owned())
    })
    .unwrap();
}

#[test]
fn a_refused_config_is_an_error_with_the_log() {
    let err = NatsServer::builder()
        .lame_duck_duration(Duration::from_secs(5))
        .try_start()
        .unwrap_err();
    assert!(err.contains("minimum is 30 seconds"), "{err}");
}

#[test]
fn drop_leaves_no_process_and_no_directory() {
    let server = NatsServer::start_jetstream();
    let pid = server.pid();
    let dir = server.dir().to_owned();
    assert!(pid_exists(pid));
    assert!(dir.is_dir());
    drop(server);
    assert!(!pid_exists(pid), "pid {pid} survived drop");
    assert!(!dir.exists(), "{} survived drop", dir.display());
}

#[test]
fn wait_ready_times_out_on_a_stopped_server() {
    let mut server = NatsServer::start();
    server.kill();
    let err = server.wait_ready(Duration::from_millis(200)).unwrap_err();
    assert!(err.contains("connect"), "{err}");
}
