//! `gnat rtt`, `gnat server ping` and `gnat server check connection` against real servers:
//! output shapes, JSON, thresholds and the Nagios exit codes (0 OK, 1 WARNING, 2 CRITICAL).

mod common;

use common::{Gnat, bare, closed_port};
use gnat_test_support::NatsServer;
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn run(mut cmd: std::process::Command) -> common::Run {
    cmd.stdin(std::process::Stdio::null())
        .output()
        .expect("run gnat")
        .into()
}

#[test]
fn rtt_to_every_server_of_the_list() {
    let a = Gnat::start_core();
    let b = Gnat::start_core();
    let list = format!("{},{}", a.url, b.url);
    let r = run(bare(&["-s", &list, "rtt", "3"]));
    assert_eq!(r.code, 0, "{r:?}");
    for url in [&a.url, &b.url] {
        assert!(r.stdout.contains(&format!("{url}:\n\n")), "{}", r.stdout);
        let line = r
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{url}: ")))
            .unwrap_or_else(|| panic!("no rtt line for {url}: {}", r.stdout));
        assert!(line.starts_with("   "), "{line:?}");
        assert!(line.ends_with('s'), "{line:?}");
    }
    let j = json(&a.ok(&["rtt", "--json"]));
    assert_eq!(j[0]["url"], a.url.as_str());
    assert!(j[0]["results"][0]["rtt"].as_u64().unwrap() > 0);
    // One of two down: still a result for the other, a line on stderr for the dead one.
    let dead = format!("nats://127.0.0.1:{}", closed_port());
    let r = run(bare(&["-s", &format!("{dead},{}", a.url), "rtt", "1"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains(&format!("{dead}: failed")), "{r:?}");
    assert!(
        r.stderr
            .starts_with(&format!("Failed to compute rtt for {dead}")),
        "{r:?}"
    );
    let r = run(bare(&["-s", &dead, "rtt"]));
    assert_eq!(r.code, 3, "{r:?}");
    a.fails(&["rtt", "0"], 2);
}

#[test]
fn connection_check_speaks_nagios() {
    let g = Gnat::start_core();
    // Thresholds far above what a loaded machine needs, so that OK is OK; the defaults
    // (500ms/1s, natscli's) show in the perfdata of the warning case below.
    const SLACK: [&str; 12] = [
        "--connect-warn",
        "20s",
        "--connect-critical",
        "30s",
        "--rtt-warn",
        "20s",
        "--rtt-critical",
        "30s",
        "--req-warn",
        "20s",
        "--req-critical",
        "30s",
    ];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["server", "check", "connection"];
        v.extend_from_slice(&SLACK);
        v.extend_from_slice(extra);
        v
    };
    let r = g.run(&with(&[]));
    assert_eq!(r.code, 0, "{r:?}");
    let line = r.stdout.trim_end();
    assert!(
        line.starts_with(&format!("OK Connection OK:connected to {} in ", g.url)),
        "{line}"
    );
    assert!(line.contains(" OK:rtt time "), "{line}");
    assert!(line.contains(" OK:round trip took "), "{line}");
    let (_, perf) = line.split_once(" | ").expect("perfdata");
    let names: Vec<&str> = perf
        .split(' ')
        .map(|p| p.split('=').next().unwrap())
        .collect();
    assert_eq!(names, ["connect_time", "rtt", "request_time"], "{perf}");
    assert!(perf.contains("s;20.0000;30.0000"), "{perf}");

    // Thresholds: a warning, then a critical.
    let r = g.run(&[
        "server",
        "check",
        "connection",
        "--connect-warn",
        "20s",
        "--connect-critical",
        "30s",
        "--req-warn",
        "20s",
        "--req-critical",
        "30s",
        "--rtt-warn",
        "1ns",
        "--rtt-critical",
        "30s",
    ]);
    let (_, perf) = r.stdout.trim_end().split_once(" | ").expect("perfdata");
    assert!(perf.contains(";0.0000;30.0000"), "{perf}");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .starts_with("WARNING Connection Warn:rtt time exceeded 1ns"),
        "{r:?}"
    );
    let r = g.run(&[
        "server",
        "check",
        "connection",
        "--connect-warn",
        "20s",
        "--connect-critical",
        "30s",
        "--rtt-warn",
        "20s",
        "--rtt-critical",
        "30s",
        "--req-warn",
        "1ns",
        "--req-critical",
        "1ns",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 2, "{r:?}");
    let j = json(&r.stdout);
    assert_eq!(j["status"], "CRITICAL");
    assert_eq!(j["critical"][0], "round trip request exceeded 1ns");
    assert_eq!(j["tls"], false);
    assert_eq!(j["perf_data"].as_array().unwrap().len(), 3);
    let r = g.run(&with(&["--format", "text"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("Connection: OK\n\n╭"), "{}", r.stdout);
    // Nothing listening: CRITICAL, exit 2, no error line.
    let dead = format!("nats://127.0.0.1:{}", closed_port());
    let r = run(bare(&["-s", &dead, "server", "check", "connection"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stdout
            .starts_with("CRITICAL Connection Crit:connection failed: "),
        "{r:?}"
    );
    assert!(r.stderr.is_empty(), "{r:?}");
    // A warning above its critical is a usage error.
    let err = g.fails(
        &[
            "server",
            "check",
            "connection",
            "--rtt-warn",
            "2s",
            "--rtt-critical",
            "1s",
        ],
        2,
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    g.fails(&["server", "check", "connection", "--format", "xml"], 2);
}

#[test]
fn connection_check_over_tls() {
    let files = gnat_test_support::tls::generate(&["127.0.0.1", "localhost"]);
    let server = NatsServer::builder().tls(&files).start();
    let ca = files.ca_cert.to_str().expect("utf-8 path");
    let r = run(bare(&[
        "-s",
        &server.url(),
        "--tlsca",
        ca,
        "server",
        "check",
        "connection",
        "--connect-critical",
        "30s",
        "--connect-warn",
        "20s",
        "--rtt-critical",
        "30s",
        "--rtt-warn",
        "20s",
        "--req-critical",
        "30s",
        "--req-warn",
        "20s",
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
    let j = json(&r.stdout);
    assert_eq!(j["status"], "OK");
    assert_eq!(j["tls"], true);
    assert!(
        j["ok"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "tls in use"),
        "{j}"
    );
    // Without the CA the handshake fails: CRITICAL.
    let r = run(bare(&[
        "-s",
        &server.url(),
        "server",
        "check",
        "connection",
    ]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stdout
            .starts_with("CRITICAL Connection Crit:connection failed"),
        "{r:?}"
    );
}

#[test]
fn server_ping_needs_the_system_account() {
    let server = NatsServer::builder()
        .config(
            "accounts {\n  SYS { users = [ { user: sys, password: sys } ] }\n  APP { users = [ { user: app, password: app } ] }\n}\nsystem_account: SYS\n",
        )
        .start();
    let url = server.url();
    let sys = ["-s", url.as_str(), "--user", "sys", "--password", "sys"];
    let args = |rest: &[&'static str]| -> Vec<&str> {
        sys.iter().copied().chain(rest.iter().copied()).collect()
    };
    let r = run(bare(&args(&["server", "ping"])));
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].contains(" rtt="), "{r:?}");
    assert!(
        r.stdout
            .contains("\n---- ping statistics ----\n1 replies max: "),
        "{r:?}"
    );
    let r = run(bare(&args(&["server", "ping", "--id"])));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with('N'), "server ids start with N: {r:?}");
    // Expecting two of a single server: one missing, exit 1.
    let r = run(bare(&args(&["--timeout", "1s", "server", "ping", "2"])));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.ends_with("\nMissing 1 server(s)\n"), "{r:?}");
    // An ordinary account gets no answer from $SYS: refused, one line.
    let r = run(bare(&[
        "-s",
        &url,
        "--user",
        "app",
        "--password",
        "app",
        "server",
        "ping",
    ]));
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stderr.contains("ensure a system account is used"),
        "{r:?}"
    );
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
}
