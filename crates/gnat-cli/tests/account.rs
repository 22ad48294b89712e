//! `gnat account info` against real servers: the seed 003 sequence (first a server without
//! JetStream, which gets natscli's message, then one with it), and `--json`.

mod common;

use common::Gnat;
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The value of `label:` in a `Label: value` block.
fn field<'a>(block: &'a str, label: &str) -> &'a str {
    let prefix = format!("{label}: ");
    block
        .lines()
        .map(str::trim_start)
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {label:?} in\n{block}"))
}

#[test]
fn seed_003_checks_that_jetstream_is_enabled() {
    // "nats account info … which may return: JetStream is not supported in this account".
    let core = Gnat::start_core();
    let out = core.ok(&["account", "info"]);
    assert!(out.starts_with("Account Information\n\n"), "{out}");
    assert!(
        out.contains("\n   JetStream is not supported in this account\n"),
        "{out}"
    );
    assert!(!out.contains("JetStream Account Information"), "{out}");
    assert_eq!(field(&out, "TLS Connection"), "no");
    let version = field(&out, "Connected Server Version").to_string();
    assert!(version.starts_with("2."), "{version}");
    let j = json(&core.ok(&["account", "info", "--json"]));
    assert_eq!(j["jetstream"]["enabled"], false);
    assert_eq!(
        j["jetstream"]["error"],
        "JetStream is not supported in this account"
    );
    assert_eq!(j["connection"]["version"], version.as_str());
    // Without JetStream a bucket cannot be made, and the error says why.
    let err = core.fails(&["kv", "add", "my-kv"], 1);
    assert!(err.contains("JetStream"), "{err}");

    // "restart it with JetStream enabled … You can then check that JetStream is enabled".
    let js = Gnat::start();
    let out = js.ok(&["account", "info"]);
    assert!(!out.contains("not supported"), "{out}");
    assert!(out.contains("\nJetStream Account Information:\n"), "{out}");
    assert!(out.contains("\nAccount Usage:\n"), "{out}");
    assert!(out.contains("\n  Tier: Default:\n"), "{out}");
    let level: u32 = field(&out, "API Level").parse().expect("API level");
    assert!(level >= 1, "{out}");
    assert_eq!(field(&out, "Streams"), "0");
    assert!(field(&out, "RTT").ends_with('s'), "{out}");
    assert_eq!(
        field(&out, "Stream Requires Max Bytes Set"),
        "false",
        "{out}"
    );

    // The rest of the seed: a bucket, a value, the usage grows.
    js.ok(&["kv", "add", "my-kv"]);
    js.ok(&["kv", "put", "my-kv", "Key1", "Value1"]);
    assert_eq!(js.ok(&["kv", "get", "--raw", "my-kv", "Key1"]), "Value1");
    let out = js.ok(&["account", "info"]);
    assert_eq!(field(&out, "Streams"), "1", "{out}");
    let j = json(&js.ok(&["account", "info", "--json"]));
    assert_eq!(j["jetstream"]["enabled"], true);
    assert_eq!(j["jetstream"]["account"]["streams"], 1);
    assert!(j["jetstream"]["account"]["storage"].as_u64().unwrap() > 0);
    assert_eq!(j["jetstream"]["account"]["api"]["level"], level);
    assert!(j["connection"]["rtt_ns"].as_u64().unwrap() > 0);
    assert!(j["jetstream"]["error"].is_null());
}

#[test]
fn account_info_on_an_unreachable_server_is_a_connection_failure() {
    let url = format!("nats://127.0.0.1:{}", common::closed_port());
    let run: common::Run = common::bare(&["-s", &url, "account", "info"])
        .output()
        .expect("run")
        .into();
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.starts_with("gnat: error: "), "{run:?}");
}

#[test]
fn account_info_in_a_domain() {
    let server = gnat_test_support::NatsServer::builder()
        .domain("hub")
        .start();
    let url = server.url();
    let g = Gnat { server, url };
    let out = g.ok(&["account", "info"]);
    assert!(
        out.contains("\nJetStream Account Information for domain hub:\n"),
        "{out}"
    );
    assert_eq!(field(&out, "Domain"), "hub");
    // Through the domain's API prefix.
    let out = g.ok(&["--js-domain", "hub", "stream", "ls"]);
    assert_eq!(out, "No Streams defined\n");
    g.ok(&["--js-domain", "hub", "stream", "add", "S"]);
    assert_eq!(g.ok(&["stream", "ls", "-n"]), "S\n");
    let err = g.fails(&["--js-domain", "a.b", "stream", "ls"], 2);
    assert_eq!(err.lines().count(), 1, "{err}");
}
