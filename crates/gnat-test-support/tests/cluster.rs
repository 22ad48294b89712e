//! A real 3-node JetStream cluster: formation, connect_urls, kill/restart rejoin, leader loss.

mod common;

use std::collections::BTreeSet;

use common::{TIMEOUT, connect, connect_with, pid_exists, refuses};
use gnat_test_support::{Cluster, probe};

fn connect_urls(info: &serde_json::Value) -> BTreeSet<String> {
    info["connect_urls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect()
}

fn client_hostport(cluster: &Cluster, i: usize) -> String {
    format!("127.0.0.1:{}", cluster.server(i).port())
}

/// Waits until node `from`'s INFO lists (or no longer lists) node `of`'s client URL.
fn wait_listed(cluster: &Cluster, from: usize, of: usize, listed: bool) {
    let want = client_hostport(cluster, of);
    probe::wait_for(TIMEOUT, || {
        let urls = connect_urls(&cluster.server(from).info()?);
        (urls.contains(&want) == listed)
            .then_some(())
            .ok_or(format!(
                "node {from} connect_urls {urls:?}, want {want} listed={listed}"
            ))
    })
    .unwrap();
}

#[test]
fn three_nodes_form_a_jetstream_cluster() {
    let cluster = Cluster::start(3);
    assert_eq!(cluster.len(), 3);
    let urls = cluster.urls();
    assert_eq!(urls.len(), 3);
    assert_eq!(BTreeSet::from_iter(urls.iter()).len(), 3, "{urls:?}");

    let (mut raw, reply) = connect_with(cluster.server(0).addr(), "");
    assert_eq!(reply, "PONG");
    assert_eq!(raw.info["jetstream"], true);
    assert_eq!(raw.info["cluster"], cluster.name());
    let listed = connect_urls(&raw.info);
    for i in 1..3 {
        assert!(listed.contains(&client_hostport(&cluster, i)), "{listed:?}");
    }
    assert!(cluster.meta_leader().is_some());

    // A replicated stream can be created: the meta layer and all peers work.
    let created = raw.js_api(
        "$JS.API.STREAM.CREATE.R3",
        r#"{"name":"R3","subjects":["r3.>"],"num_replicas":3}"#,
    );
    assert_eq!(created["config"]["num_replicas"], 3, "{created}");
    for (i, server) in cluster.servers().iter().enumerate() {
        assert!(server.cluster_port().is_some(), "node {i}");
        assert!(server.store_dir().unwrap().is_dir());
    }
}

#[test]
fn killed_node_rejoins_on_the_same_ports() {
    let mut cluster = Cluster::start(3);
    // Kill followers (a leader loss costs a re-election: see the next test).
    let leader = cluster.meta_leader().expect("a meta leader");
    let (victim, witness, other) = ((leader + 1) % 3, leader, (leader + 2) % 3);
    let port = cluster.server(victim).port();
    let pid = cluster.server(victim).pid();

    cluster.kill(victim);
    assert!(!pid_exists(pid));
    assert!(refuses(cluster.server(victim).addr()));
    wait_listed(&cluster, witness, victim, false);
    cluster.wait_ready(TIMEOUT).unwrap();

    cluster.start_again(victim);
    assert_eq!(cluster.server(victim).port(), port);
    wait_listed(&cluster, witness, victim, true);
    let info = connect(cluster.server(victim).addr()).info;
    let listed = connect_urls(&info);
    for i in [witness, other] {
        assert!(listed.contains(&client_hostport(&cluster, i)), "{listed:?}");
    }

    // A graceful restart of the other follower rejoins too.
    cluster.restart(other);
    wait_listed(&cluster, witness, other, true);
}

#[test]
fn losing_the_meta_leader_elects_another_and_it_rejoins() {
    let mut cluster = Cluster::start(3);
    let leader = cluster.meta_leader().expect("a meta leader");
    cluster.kill(leader);
    // wait_ready leaves out the killed node and waits for a running leader.
    cluster.wait_ready(TIMEOUT).unwrap();
    let new_leader = cluster.meta_leader().expect("a new meta leader");
    assert_ne!(new_leader, leader);
    cluster.start_again(leader);
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    wait_listed(&cluster, others[0], leader, true);
}

#[test]
fn drop_kills_every_node() {
    let cluster = Cluster::start(3);
    let pids: Vec<u32> = cluster.servers().iter().map(|s| s.pid()).collect();
    drop(cluster);
    for pid in pids {
        assert!(!pid_exists(pid), "pid {pid} survived");
    }
}
