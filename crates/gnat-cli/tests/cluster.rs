//! The commands against a three-node JetStream cluster with a system account: the cluster
//! in `account info`, replicated streams and consumers in `info` and `report`, and
//! `server ping` answered by every node.

mod common;

use common::{Run, bare, table_rows};
use gnat_test_support::Cluster;

const ACCOUNTS: &str = "accounts {\n  SYS { users = [ { user: sys, password: sys } ] }\n  APP { jetstream: enabled, users = [ { user: app, password: app } ] }\n}\nsystem_account: SYS\n";

fn run(url: &str, user: &str, args: &[&str]) -> Run {
    let mut all = vec![
        "-s",
        url,
        "--user",
        user,
        "--password",
        user,
        "--timeout",
        "10s",
    ];
    all.extend_from_slice(args);
    bare(&all).output().expect("run gnat").into()
}

fn ok(url: &str, user: &str, args: &[&str]) -> String {
    let r = run(url, user, args);
    assert_eq!(r.code, 0, "gnat {args:?}: {r:?}");
    r.stdout
}

#[test]
fn a_cluster_shows_in_every_command() {
    let cluster = Cluster::start_with(3, |_, b| b.config(ACCOUNTS));
    let url = cluster.urls().join(",");
    let name = cluster.name().to_string();

    let info = ok(&url, "app", &["account", "info"]);
    assert!(
        info.contains(&format!("Connected Cluster: {name}\n")),
        "{info}"
    );
    assert!(info.contains("JetStream Account Information"), "{info}");

    let out = ok(
        &url,
        "app",
        &[
            "stream",
            "add",
            "R3",
            "--subjects",
            "r.>",
            "--replicas",
            "3",
        ],
    );
    assert!(out.contains("\nCluster Information:\n"), "{out}");
    assert!(out.contains(&format!("Name: {name}\n")), "{out}");
    assert!(out.contains("Leader: "), "{out}");
    assert_eq!(out.matches("Replica: ").count(), 2, "{out}");
    assert!(out.contains("Replicas: 3\n"), "{out}");
    let report = ok(&url, "app", &["stream", "report"]);
    let row = &table_rows(&report, "R3")[0];
    assert_eq!(
        row[8].matches('*').count(),
        1,
        "the leader is starred: {report}"
    );
    assert_eq!(row[8].split(", ").count(), 3, "{report}");

    ok(&url, "app", &["pub", "r.x", "hello"]);
    let out = ok(&url, "app", &["consumer", "add", "R3", "C"]);
    assert!(out.contains("\nCluster Information:\n"), "{out}");
    assert_eq!(
        ok(&url, "app", &["consumer", "next", "R3", "C", "--raw"]),
        "hello\n"
    );

    // Every node answers the system account's ping.
    let ping = ok(&url, "sys", &["server", "ping"]);
    assert!(ping.contains("\n3 replies max: "), "{ping}");
    assert!(!ping.contains("Missing"), "{ping}");
}
