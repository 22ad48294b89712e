//! The rest of `gnat kv` against real servers: `add`'s placement, republish, mirror (also
//! across a domain), source and metadata flags; `ls -v`; and the confirmations of key
//! `del`/`purge` and `compact`.

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, Gnat, table_rows};
use gnat_test_support::NatsServer;
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn field<'a>(block: &'a str, label: &str) -> &'a str {
    let prefix = format!("{label}: ");
    block
        .lines()
        .map(str::trim_start)
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {label:?} in\n{block}"))
}

/// Polls `gnat kv get --raw` until it gives `want` (mirrors and sources copy asynchronously).
fn eventually_value(g: &Gnat, bucket: &str, key: &str, want: &str) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let r = g.run(&["kv", "get", "--raw", bucket, key]);
        if r.code == 0 && r.stdout == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{bucket} > {key} never became {want:?}: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn add_flags_reach_the_bucket() {
    let g = Gnat::start();
    g.ok(&["kv", "add", "ORIGIN", "--history", "5"]);
    g.ok(&["kv", "put", "ORIGIN", "k", "v1"]);

    // Republish: a subscriber sees each change on the destination subject.
    let out = g.ok(&[
        "kv",
        "add",
        "REPUB",
        "--republish-source",
        "$KV.REPUB.>",
        "--republish-destination",
        "repub.>",
        "--metadata",
        "owner=ops",
    ]);
    assert_eq!(field(&out, "Republishing"), "$KV.REPUB.> to repub.>");
    assert_eq!(field(&out, "Metadata owner"), "ops");
    let mut sub = g.spawn(&["sub", "repub.>", "--count", "1", "--raw"]);
    sub.stderr_line("subscribed", |l| l.contains("repub.>"));
    g.ok(&["kv", "put", "REPUB", "a", "hello"]);
    sub.stdout_line("the republished value", |l| l == "hello");
    let info = json(&g.ok(&["kv", "info", "--json", "REPUB"]));
    assert_eq!(
        info["stream_info"]["config"]["republish"]["dest"],
        "repub.>"
    );
    assert_eq!(info["stream_info"]["config"]["metadata"]["owner"], "ops");

    // Mirror and source: the values arrive.
    let out = g.ok(&["kv", "add", "MIRROR", "--mirror", "ORIGIN"]);
    assert_eq!(field(&out, "Mirror Of"), "ORIGIN");
    eventually_value(&g, "MIRROR", "k", "v1");
    let out = g.ok(&["kv", "add", "SOURCED", "--source", "ORIGIN"]);
    assert_eq!(field(&out, "Source"), "ORIGIN");
    eventually_value(&g, "SOURCED", "k", "v1");
    g.ok(&["kv", "put", "ORIGIN", "k", "v2"]);
    eventually_value(&g, "MIRROR", "k", "v2");
    eventually_value(&g, "SOURCED", "k", "v2");

    // Placement reaches the stream (a single unclustered server does not enforce it).
    let out = g.ok(&["kv", "add", "PLACED", "--tags", "ssd,fast"]);
    assert_eq!(field(&out, "Placement Tags"), "ssd, fast");
    let info = json(&g.ok(&["kv", "info", "--json", "PLACED"]));
    assert_eq!(
        info["stream_info"]["config"]["placement"]["tags"],
        serde_json::json!(["ssd", "fast"])
    );
    let out = g.ok(&["kv", "add", "CLUSTERED", "--cluster", "east"]);
    assert_eq!(field(&out, "Placement Cluster"), "east");

    // Bad flags: usage errors, nothing made.
    g.fails(&["kv", "add", "BAD", "--mirror", "a.b"], 2);
    g.fails(&["kv", "add", "BAD", "--mirror-domain", "hub"], 2);
    g.fails(
        &[
            "kv", "add", "BAD", "--mirror", "ORIGIN", "--source", "ORIGIN",
        ],
        2,
    );
    g.fails(&["kv", "add", "BAD", "--metadata", "novalue"], 2);
    g.fails(&["kv", "add", "BAD", "--republish-source", "x.>"], 2);
    g.fails(&["kv", "add", "BAD", "--history", "65"], 2);
    assert!(!g.ok(&["kv", "ls", "--names"]).contains("BAD"));
}

/// `--mirror-domain` makes the mirror read through the other domain's API prefix, as natscli
/// does. The copying itself needs a second domain (a leaf node), which the test harness does
/// not start, so this checks what reaches the server's stream configuration.
#[test]
fn mirror_across_a_domain_uses_its_api_prefix() {
    let server = NatsServer::builder().domain("hub").start();
    let url = server.url();
    let g = Gnat { server, url };
    g.ok(&["kv", "add", "ORIGIN"]);
    let out = g.ok(&[
        "kv",
        "add",
        "LOCAL",
        "--mirror",
        "ORIGIN",
        "--mirror-domain",
        "hub",
    ]);
    assert_eq!(field(&out, "Mirror Of"), "ORIGIN");
    assert_eq!(field(&out, "Mirror External API"), "$JS.hub.API");
    let info = json(&g.ok(&["kv", "info", "--json", "LOCAL"]));
    let mirror = &info["stream_info"]["config"]["mirror"];
    assert_eq!(mirror["name"], "KV_ORIGIN");
    assert_eq!(mirror["external"]["api"], "$JS.hub.API");
    g.fails(
        &[
            "kv",
            "add",
            "OTHER",
            "--mirror",
            "ORIGIN",
            "--mirror-domain",
            "a.b",
        ],
        2,
    );
}

#[test]
fn ls_verbose_and_confirmations() {
    let g = Gnat::start();
    g.ok(&["kv", "add", "B", "--description", "the bucket"]);
    g.ok(&["kv", "put", "B", "a.one", "1"]);
    g.ok(&["kv", "put", "B", "a.two", "2"]);
    g.ok(&["kv", "put", "B", "b", "3"]);
    let table = g.ok(&["kv", "ls", "-v"]);
    assert!(table.contains("Key-Value Buckets"), "{table}");
    let row = &table_rows(&table, "B")[0];
    assert_eq!(row[1], "the bucket");
    assert_eq!(row[4], "3");
    let keys = g.ok(&["kv", "ls", "B", "-v", "--display-value"]);
    assert!(keys.contains("Contents for bucket 'B'"), "{keys}");
    let row = &table_rows(&keys, "a.two")[0];
    assert_eq!(row[3], "2", "{keys}");
    assert_eq!(row[4], "2", "{keys}");
    assert_eq!(g.ok(&["kv", "ls", "B", "a.*"]), "a.one\na.two\n");

    // Key del, purge and compact ask first; without a terminal they refuse unless -f.
    for args in [
        &["kv", "del", "B", "b"][..],
        &["kv", "purge", "B", "b"][..],
        &["kv", "compact", "B"][..],
        &["kv", "rm", "B"][..],
    ] {
        let err = g.fails(args, 2);
        assert!(err.contains("pass -f/--force"), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert_eq!(g.ok(&["kv", "get", "--raw", "B", "b"]), "3");
    g.ok(&["kv", "del", "B", "b", "-f"]);
    g.fails(&["kv", "get", "B", "b"], 4);
    g.ok(&["kv", "purge", "B", "a.one", "-f"]);
    g.ok(&["kv", "compact", "B", "-f", "--older-than", "0s"]);
    assert_eq!(g.ok(&["kv", "ls", "B"]), "a.two\n");
    // Invalid keys are refused before the question.
    g.fails(&["kv", "del", "B", "bad key", "-f"], 2);
    // `kv rm` removes the bucket, as the seed does it.
    g.ok(&["kv", "rm", "B", "-f"]);
    g.fails(&["kv", "info", "B"], 4);
}
