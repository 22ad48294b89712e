//! The rest of the command against a real nats-server: `--json` outputs, exit codes,
//! pub/sub/req/reply round trips and `bench`.

mod common;

use common::{Gnat, bare, closed_port};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn read_commands_speak_json() {
    let g = Gnat::start();
    let added = json(&g.ok(&[
        "kv",
        "add",
        "--json",
        "--history",
        "4",
        "--ttl",
        "1h",
        "--max-value-size",
        "1KiB",
        "--max-bucket-size",
        "1MiB",
        "--storage",
        "memory",
        "--description",
        "for tests",
        "J",
    ]));
    assert_eq!(added["bucket"], "J");
    assert_eq!(added["history"], 4);
    assert_eq!(added["ttl_ns"], 3_600_000_000_000u64);
    assert_eq!(added["max_value_size"], 1024);
    assert_eq!(added["max_bucket_size"], 1 << 20);
    assert_eq!(added["storage"], "memory");
    assert_eq!(added["description"], "for tests");
    let info = g.ok(&["kv", "info", "J"]);
    for line in [
        "          Description: for tests\n",
        "         History Kept: 4\n",
        "  Maximum Bucket Size: 1.0 MiB\n",
        "   Maximum Value Size: 1.0 KiB\n",
        "          Maximum Age: 1h0m0s\n",
        "              Storage: Memory\n",
    ] {
        assert!(info.contains(line), "missing {line:?} in\n{info}");
    }

    g.ok(&["kv", "put", "J", "k", "v1"]);
    g.ok(&["kv", "put", "J", "k", "v2"]);
    let entry = json(&g.ok(&["kv", "get", "--json", "J", "k"]));
    assert_eq!(entry["key"], "k");
    assert_eq!(entry["revision"], 2);
    assert_eq!(entry["value"], "v2");
    assert_eq!(entry["operation"], "PUT");
    let hist = json(&g.ok(&["kv", "history", "--json", "J", "k"]));
    let revs: Vec<u64> = hist
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["revision"].as_u64().expect("revision"))
        .collect();
    assert_eq!(revs, [1, 2]);
    let info = json(&g.ok(&["kv", "info", "--json", "J"]));
    assert_eq!(info["values"], 2);
    assert_eq!(info["stream"], "KV_J");
    assert_eq!(info["stream_info"]["config"]["name"], "KV_J");
    assert_eq!(
        json(&g.ok(&["kv", "ls", "--json", "J"])),
        serde_json::json!(["k"])
    );
    assert_eq!(
        json(&g.ok(&["kv", "ls", "--names", "--json"])),
        serde_json::json!(["J"])
    );
    let buckets = json(&g.ok(&["kv", "ls", "--json"]));
    assert_eq!(buckets[0]["bucket"], "J");
}

#[test]
fn exit_codes_tell_failures_apart() {
    // Usage errors: clap's, and ours.
    let run = bare(&["kv", "get", "onlybucket"]).output().expect("run");
    assert_eq!(run.status.code(), Some(2));
    let run = bare(&["kv", "frobnicate"]).output().expect("run");
    assert_eq!(run.status.code(), Some(2));
    let run = bare(&["--timeout", "soon", "kv", "ls"])
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(2));

    // Connection refused.
    let url = format!("nats://127.0.0.1:{}", closed_port());
    let run = bare(&["-s", &url, "kv", "ls"]).output().expect("run");
    assert_eq!(run.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.starts_with(&format!("gnat: error: could not connect to {url}")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    // NATS_URL is the default server.
    let run = bare(&["pub", "x", "y"])
        .env("NATS_URL", &url)
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(3));

    let g = Gnat::start();
    g.ok(&["kv", "add", "E"]);
    g.ok(&["kv", "create", "E", "k", "v"]);
    // Server refusals.
    let err = g.fails(&["kv", "create", "E", "k", "v"], 4);
    assert_eq!(err, "gnat: error: wrong last sequence: 1: key exists\n");
    g.fails(&["kv", "get", "Missing", "k"], 4);
    g.fails(&["kv", "get", "E", "missing"], 4);
    g.fails(&["kv", "get", "--revision", "99", "E", "k"], 4);
    // Invalid names are refused before anything is sent: usage.
    let err = g.fails(&["kv", "add", "bad.bucket"], 2);
    assert!(err.starts_with("gnat: error: bucket name"), "{err}");
    g.fails(&["kv", "put", "E", "bad key", "v"], 2);
    g.fails(&["kv", "add", "--history", "65", "H"], 2);
    // No responders: another failure.
    let err = g.fails(&["req", "nobody.home", "hi"], 1);
    assert!(err.contains("no responders"), "{err}");
    // No stack traces, no Debug dumps: one line.
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn help_documents_the_exit_codes() {
    let run = bare(&["--help"]).output().expect("run");
    assert_eq!(run.status.code(), Some(0));
    let help = String::from_utf8_lossy(&run.stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("--server <URL>"), "{help}");
    let run = bare(&["kv", "--help"]).output().expect("run");
    let help = String::from_utf8_lossy(&run.stdout);
    for sub in [
        "add", "put", "get", "create", "update", "del", "purge", "history", "revert", "info",
        "watch", "ls", "compact",
    ] {
        assert!(
            help.contains(&format!("  {sub} ")),
            "{sub} missing:\n{help}"
        );
    }
}

#[test]
fn pub_sub_round_trip() {
    let g = Gnat::start();
    let mut sub = g.spawn(&["sub", "demo.>", "--count", "2"]);
    sub.stderr_line("announcing the subscription", |l| {
        l == "Subscribing on demo.>"
    });
    let run = g.run(&["pub", "demo.a", "hello", "-H", "X-Trace:1"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "Published 5 bytes to \"demo.a\"\n");
    g.ok(&["pub", "demo.b", "world"]);
    assert_eq!(sub.wait(), 0);
    let out = sub.rest_of_stdout();
    assert_eq!(
        out,
        [
            "[#1] Received on \"demo.a\"",
            "X-Trace: 1",
            "",
            "hello",
            "",
            "[#2] Received on \"demo.b\"",
            "world",
            "",
        ]
    );

    // JSON lines, in a queue group.
    let mut sub = g.spawn(&["sub", "--json", "--queue", "q", "--count", "1", "j"]);
    sub.stderr_line("announcing the subscription", |l| {
        l.starts_with("Subscribing")
    });
    g.ok(&["pub", "j", "{\"n\":1}"]);
    assert_eq!(sub.wait(), 0);
    let line = sub.rest_of_stdout().join("\n");
    let v = json(&line);
    assert_eq!(v["subject"], "j");
    assert_eq!(v["payload"], "{\"n\":1}");
}

#[test]
fn request_reply_round_trip() {
    let g = Gnat::start();
    // A fixed answer.
    let mut reply = g.spawn(&["reply", "svc.time", "noon", "--count", "1"]);
    reply.stderr_line("listening", |l| l == "Listening on svc.time");
    let run = g.run(&["req", "svc.time", "what time?"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "noon\n");
    assert!(run.stderr.starts_with("Received with rtt "), "{run:?}");
    assert_eq!(reply.wait(), 0);
    let seen = reply.rest_of_stdout();
    assert!(
        seen[0].starts_with("[#1] Received on \"svc.time\" with reply "),
        "{seen:?}"
    );
    assert_eq!(seen[1], "what time?");

    // Echo, with JSON on the requesting side.
    let mut echo = g.spawn(&["reply", "svc.echo", "--count", "1"]);
    echo.stderr_line("listening", |l| l.starts_with("Listening"));
    let v = json(&g.ok(&["req", "--json", "svc.echo", "ping"]));
    assert_eq!(v["payload"], "ping");
    assert!(v["rtt_ns"].as_u64().is_some());
    assert_eq!(echo.wait(), 0);
}

#[test]
fn bench_runs_and_summarises() {
    let g = Gnat::start();
    for (kind, role, extra) in [
        ("pub", "publish", &["--pub", "2"][..]),
        ("pubsub", "subscribe", &["--pub", "2", "--sub", "2"][..]),
        ("req", "request", &["--clients", "2"][..]),
        ("kvput", "kv put", &["--clients", "2"][..]),
        ("kvget", "kv get", &["--keys", "20"][..]),
    ] {
        let mut args = vec!["bench", kind, "--msgs", "300", "--size", "64"];
        args.extend_from_slice(extra);
        let out = g.ok(&args);
        assert!(
            out.contains(&format!("gnat bench {kind}: 300 msgs of 64 B")),
            "{out}"
        );
        assert!(out.contains("Msgs/s") && out.contains("MB/s"), "{out}");
        let rows = common::table_rows(&out, role);
        assert_eq!(rows.len(), 1, "{out}");
        let msgs = if kind == "pubsub" { "600" } else { "300" };
        assert_eq!(rows[0][2], msgs, "{out}");
        assert_eq!(rows[0][8], "0", "errors: {out}");
        if matches!(kind, "req" | "kvput" | "kvget") {
            assert_ne!(rows[0][6], "-", "p50: {out}");
            assert_ne!(rows[0][7], "-", "p99: {out}");
        }
    }
    // The benchmark bucket it created is gone again.
    assert_eq!(g.ok(&["kv", "ls", "--names"]), "");

    // By time, as JSON (what a soak would read).
    let v = json(&g.ok(&["bench", "req", "--duration", "300ms", "--json"]));
    assert_eq!(v["kind"], "req");
    let row = &v["rows"][0];
    assert!(row["msgs"].as_u64().expect("msgs") > 0, "{v}");
    assert!(row["elapsed_s"].as_f64().expect("elapsed") >= 0.3, "{v}");
    assert!(row["p99_us"].as_f64().is_some(), "{v}");
    assert_eq!(row["errors"], 0);
}

#[test]
fn connection_flags_authenticate() {
    use gnat_test_support::NatsServer;
    let run = |url: &str, flags: &[&str]| {
        let mut args = vec!["-s", url];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["pub", "auth.test", "x"]);
        bare(&args).output().expect("run").status.code()
    };

    let server = NatsServer::builder().token("s3cret").start();
    assert_eq!(run(&server.url(), &["--token", "s3cret"]), Some(0));
    assert_eq!(run(&server.url(), &["--token", "wrong"]), Some(3));
    assert_eq!(run(&server.url(), &[]), Some(3));

    let server = NatsServer::builder().user_password("ann", "pw").start();
    assert_eq!(
        run(&server.url(), &["--user", "ann", "--password", "pw"]),
        Some(0)
    );
    assert_eq!(
        run(&server.url(), &["--user", "ann", "--password", "no"]),
        Some(3)
    );

    let files = gnat_test_support::tls::generate(&["127.0.0.1", "localhost"]);
    let server = NatsServer::builder().tls(&files).tls_verify(true).start();
    let path = |p: &std::path::Path| p.to_str().expect("utf-8 path").to_string();
    let (ca, cert, key) = (
        path(&files.ca_cert),
        path(&files.client_cert),
        path(&files.client_key),
    );
    assert_eq!(
        run(
            &server.url(),
            &["--tlsca", &ca, "--tlscert", &cert, "--tlskey", &key]
        ),
        Some(0)
    );
    // Without the CA the server's certificate is not trusted; without a client certificate
    // the server refuses the handshake.
    assert_eq!(
        run(&server.url(), &["--tlscert", &cert, "--tlskey", &key]),
        Some(3)
    );
    assert_eq!(run(&server.url(), &["--tlsca", &ca]), Some(3));
}
