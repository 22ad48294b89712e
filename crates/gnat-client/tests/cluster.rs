//! Server pools against real clusters: discovery of cluster members from one URL, failover
//! when the connected node dies, and moving away from a server in lame duck mode.

mod real;

use std::collections::BTreeSet;
use std::time::Duration;

use gnat_client::{Client, ConnectOptions, Event, Message, Subscription};
use gnat_test_support::{Cluster, NatsServer};
use real::{DEADLINE, EventLog, blocking, fast_reconnect, host_port, next};

fn is_reconnected(e: &Event) -> bool {
    matches!(e, Event::Reconnected { .. })
}

/// Interest crosses cluster routes asynchronously: publish probes from `publisher` until one
/// reaches `sub` (each attempt waits a short poll interval, the whole loop is bounded by the
/// deadline). Then checks that a burst of 20 arrives complete and in order.
async fn assert_delivery_across(publisher: &Client, sub: &mut Subscription, subject: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut probe = 0u32;
    loop {
        publisher
            .publish(subject, format!("probe-{probe}"))
            .await
            .unwrap();
        publisher.flush().await.unwrap();
        match tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            Ok(Some(_)) => break,
            Ok(None) => panic!("{subject}: subscription ended"),
            Err(_) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{subject}: interest did not reach the publisher's node in {DEADLINE:?}"
                );
                probe += 1;
            }
        }
    }
    for i in 0..20 {
        publisher
            .publish(subject, format!("data-{i}"))
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    let mut data = Vec::new();
    while data.len() < 20 {
        let msg: Message = next(sub).await;
        let text = String::from_utf8_lossy(&msg.payload).into_owned();
        if !text.starts_with("probe-") {
            data.push(text);
        }
    }
    let want: Vec<String> = (0..20).map(|i| format!("data-{i}")).collect();
    assert_eq!(data, want);
}

/// Waits until the client's pool has announced every address in `want` (it may announce them
/// over several `ServersDiscovered` events).
async fn wait_discovered(log: &mut EventLog, want: &BTreeSet<String>) {
    let mut found = BTreeSet::new();
    for e in &log.seen {
        if let Event::ServersDiscovered { servers } = e {
            found.extend(servers.iter().cloned());
        }
    }
    while !want.is_subset(&found) {
        if let Event::ServersDiscovered { servers } = log
            .wait_for("ServersDiscovered", |e| {
                matches!(e, Event::ServersDiscovered { .. })
            })
            .await
        {
            found.extend(servers);
        }
    }
    assert_eq!(
        &found, want,
        "only the other cluster members are discovered"
    );
}

/// Connected with one URL to a 3-node cluster, the client learns the other two nodes; when
/// its node is killed it reconnects to another one, and its subscription receives messages
/// published on a third.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_the_cluster_and_fails_over() {
    let mut cluster = Cluster::start(3);
    let nodes: Vec<String> = cluster.servers().iter().map(host_port).collect();
    let (opts, mut log) = EventLog::options(fast_reconnect(ConnectOptions::new()));
    let client = opts.connect(cluster.server(0).url()).await.unwrap();
    let others: BTreeSet<String> = nodes[1..].iter().cloned().collect();
    wait_discovered(&mut log, &others).await;

    let mut sub = client.subscribe("cl.x").await.unwrap();
    client.flush().await.unwrap();
    let publisher = gnat_client::connect(cluster.server(1).url()).await.unwrap();
    assert_delivery_across(&publisher, &mut sub, "cl.x").await;
    drop(publisher);

    blocking(|| cluster.kill(0));
    let Event::Reconnected { server } = log.wait_for("Reconnected", is_reconnected).await else {
        unreachable!()
    };
    assert_ne!(server, nodes[0], "reconnected to the dead node");
    assert!(others.contains(&server), "{server} is not a cluster member");
    client.flush().await.unwrap();

    // Publish from the node the client is not on.
    let third = if server == nodes[1] { 2 } else { 1 };
    let publisher = gnat_client::connect(cluster.server(third).url())
        .await
        .unwrap();
    assert_delivery_across(&publisher, &mut sub, "cl.x").await;
}

/// Two unrelated servers in the URL list: when the first enters lame duck mode, the client
/// reports it and moves to the second, with its subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lame_duck_moves_to_the_next_server_in_the_list() {
    let a = NatsServer::start();
    let b = NatsServer::start();
    let (opts, mut log) = EventLog::options(fast_reconnect(
        ConnectOptions::new().retain_server_order(true),
    ));
    let client = opts
        .connect(format!("{},{}", a.url(), b.url()))
        .await
        .unwrap();
    log.wait_for("Connected", |e| {
        *e == Event::Connected {
            server: host_port(&a),
        }
    })
    .await;
    let mut sub = client.subscribe("ldm").await.unwrap();
    client.flush().await.unwrap();

    a.lame_duck();
    let event = log
        .wait_for("LameDuckMode", |e| matches!(e, Event::LameDuckMode { .. }))
        .await;
    assert_eq!(
        event,
        Event::LameDuckMode {
            server: host_port(&a)
        }
    );
    let event = log.wait_for("Reconnected", is_reconnected).await;
    assert_eq!(
        event,
        Event::Reconnected {
            server: host_port(&b)
        }
    );
    client.flush().await.unwrap();

    let publisher = gnat_client::connect(b.url()).await.unwrap();
    publisher.publish("ldm", "on b").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "on b");
    client.publish("ldm", "own").await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "own");
}

/// A cluster node in lame duck mode: the client (which knows the cluster from one URL) moves
/// to another node and keeps receiving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lame_duck_in_a_cluster_moves_to_another_node() {
    let cluster = Cluster::start(3);
    let nodes: Vec<String> = cluster.servers().iter().map(host_port).collect();
    let (opts, mut log) = EventLog::options(fast_reconnect(ConnectOptions::new()));
    let client = opts.connect(cluster.server(0).url()).await.unwrap();
    let others: BTreeSet<String> = nodes[1..].iter().cloned().collect();
    wait_discovered(&mut log, &others).await;
    let mut sub = client.subscribe("cl.ldm").await.unwrap();
    client.flush().await.unwrap();

    cluster.server(0).lame_duck();
    let event = log
        .wait_for("LameDuckMode", |e| matches!(e, Event::LameDuckMode { .. }))
        .await;
    assert_eq!(
        event,
        Event::LameDuckMode {
            server: nodes[0].clone()
        }
    );
    let Event::Reconnected { server } = log.wait_for("Reconnected", is_reconnected).await else {
        unreachable!()
    };
    assert!(others.contains(&server), "moved to {server}");
    client.flush().await.unwrap();

    let third = if server == nodes[1] { 2 } else { 1 };
    let publisher = gnat_client::connect(cluster.server(third).url())
        .await
        .unwrap();
    assert_delivery_across(&publisher, &mut sub, "cl.ldm").await;
}

/// Credentials given in the one URL are used for the servers the cluster announces too:
/// after the first node dies the client logs in to another one and carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_credentials_apply_to_discovered_servers() {
    let mut cluster = Cluster::start_with(3, |_, b| b.user_password("carol", "s3cret"));
    let nodes: Vec<String> = cluster.servers().iter().map(host_port).collect();
    let (opts, mut log) = EventLog::options(fast_reconnect(ConnectOptions::new()));
    let client = opts
        .connect(format!("nats://carol:s3cret@{}", nodes[0]))
        .await
        .unwrap();
    let others: BTreeSet<String> = nodes[1..].iter().cloned().collect();
    wait_discovered(&mut log, &others).await;
    let mut sub = client.subscribe("cl.auth").await.unwrap();
    client.flush().await.unwrap();

    blocking(|| cluster.kill(0));
    let Event::Reconnected { server } = log.wait_for("Reconnected", is_reconnected).await else {
        unreachable!()
    };
    assert!(others.contains(&server), "moved to {server}");
    client.flush().await.unwrap();
    let third = if server == nodes[1] { 2 } else { 1 };
    let publisher = ConnectOptions::new()
        .user_and_password("carol", "s3cret")
        .connect(cluster.server(third).url())
        .await
        .unwrap();
    assert_delivery_across(&publisher, &mut sub, "cl.auth").await;
}
