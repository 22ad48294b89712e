//! Server pool introspection and control on a real 3-node cluster: the current server, each
//! server's state, replacing the pool at run time, and the reconnect-to-server callback.

mod real;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnat_client::{ConnectOptions, ErrorKind, Event, ServerStatus, State};
use gnat_test_support::Cluster;
use real::{EventLog, blocking, fast_reconnect, host_port};

fn is_reconnected(e: &Event) -> bool {
    matches!(e, Event::Reconnected { .. })
}

fn url(cluster: &Cluster, i: usize) -> String {
    format!("nats://{}", host_port(cluster.server(i)))
}

fn status<'a>(servers: &'a [ServerStatus], url: &str) -> &'a ServerStatus {
    servers
        .iter()
        .find(|s| s.url == url)
        .unwrap_or_else(|| panic!("{url} not in {servers:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_server_and_per_server_state() {
    let mut cluster = Cluster::start(3);
    let (opts, mut log) = EventLog::options(fast_reconnect(ConnectOptions::new()));
    let client = opts.connect(url(&cluster, 0)).await.unwrap();

    let current = client.current_server().expect("connected");
    assert_eq!(current.url, url(&cluster, 0));
    assert_eq!(Some(current.server_name.as_str()), cluster.server(0).name());
    assert_eq!(current.cluster.as_deref(), Some(cluster.name()));
    assert!(!current.server_id.is_empty());

    // The other two nodes are announced (possibly over several INFOs).
    let deadline = Instant::now() + real::DEADLINE;
    while client.servers().len() < 3 {
        assert!(Instant::now() < deadline, "{:?}", client.servers());
        log.wait_for("ServersDiscovered", |e| {
            matches!(e, Event::ServersDiscovered { .. })
        })
        .await;
    }
    let servers = client.servers();
    let first = status(&servers, &url(&cluster, 0));
    assert!(!first.discovered && first.connected_before && first.failed_attempts == 0);
    for i in 1..3 {
        let s = status(&servers, &url(&cluster, i));
        assert!(s.discovered && !s.connected_before, "{s:?}");
    }

    blocking(|| cluster.kill(0));
    let Event::Reconnected { server } = log.wait_for("Reconnected", is_reconnected).await else {
        unreachable!()
    };
    let now = client.current_server().expect("connected again");
    assert_eq!(now.url, format!("nats://{server}"));
    assert_ne!(now.url, url(&cluster, 0));
    let servers = client.servers();
    assert!(status(&servers, &now.url).connected_before);

    client.close().await;
    assert_eq!(client.state(), State::Closed);
    assert!(client.current_server().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_the_pool_at_run_time() {
    let cluster = Cluster::start(3);
    let (opts, mut log) = EventLog::options(fast_reconnect(
        ConnectOptions::new().ignore_discovered_servers(true),
    ));
    let client = opts.connect(url(&cluster, 0)).await.unwrap();
    assert_eq!(client.servers().len(), 1);

    // Refused: an empty pool, or a bad URL; the pool stays as it was.
    for bad in ["", " , ", "nats://", "nats://host:notaport", "nats://a b:1"] {
        let err = client.set_servers(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad:?}: {err}");
    }
    assert_eq!(client.servers().len(), 1);

    client.set_servers(url(&cluster, 1)).unwrap();
    let servers = client.servers();
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0].url, url(&cluster, 1));
    client.force_reconnect();
    let event = log.wait_for("Reconnected", is_reconnected).await;
    assert_eq!(
        event,
        Event::Reconnected {
            server: host_port(cluster.server(1))
        }
    );
    assert_eq!(client.current_server().unwrap().url, url(&cluster, 1));
    client.flush().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconnect_callback_chooses_server_and_delay() {
    let mut cluster = Cluster::start(3);
    let all = format!(
        "{},{},{}",
        url(&cluster, 0),
        url(&cluster, 1),
        url(&cluster, 2)
    );
    // The callback's answers, in order; once used up it answers `None`.
    let script: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let calls: Arc<Mutex<Vec<(Instant, u32)>>> = Arc::default();
    let (answers, record) = (script.clone(), calls.clone());
    let (opts, mut log) = EventLog::options(
        ConnectOptions::new()
            .retain_server_order(true)
            .reconnect_backoff(gnat_client::Backoff {
                base: Duration::from_millis(40),
                max: Duration::from_millis(200),
                jitter: Duration::ZERO,
            })
            .reconnect_to_server(move |servers, attempt| {
                assert!(!servers.is_empty());
                record.lock().unwrap().push((Instant::now(), attempt));
                let mut answers = answers.lock().unwrap();
                if answers.is_empty() {
                    return None;
                }
                answers
                    .remove(0)
                    .map(|server| (server, Duration::from_millis(0)))
            }),
    );
    let client = opts.connect(&all).await.unwrap();
    assert_eq!(client.current_server().unwrap().url, url(&cluster, 0));

    // Chosen: node 2 (the default order would take node 1).
    *script.lock().unwrap() = vec![Some(url(&cluster, 2))];
    client.force_reconnect();
    let event = log.wait_for("Reconnected", is_reconnected).await;
    assert_eq!(
        event,
        Event::Reconnected {
            server: host_port(cluster.server(2))
        }
    );

    // Node 2 dies; the callback insists on it twice (asking for no delay), then names a
    // server that is not in the pool, then node 1.
    calls.lock().unwrap().clear();
    *script.lock().unwrap() = vec![
        Some(url(&cluster, 2)),
        Some(url(&cluster, 2)),
        Some("nats://127.0.0.1:1".to_string()),
        Some(url(&cluster, 1)),
    ];
    blocking(|| cluster.kill(2));
    let Event::Reconnected { server } = log.wait_for("Reconnected", is_reconnected).await else {
        unreachable!()
    };
    // The unknown answer fell back to the default order, which may reach a live node first.
    assert_ne!(server, host_port(cluster.server(2)));
    let servers = client.servers();
    let dead = status(&servers, &url(&cluster, 2));
    assert!(dead.failed_attempts >= 2, "{dead:?}");
    assert!(dead.last_error.is_some(), "{dead:?}");
    // Asking for no delay did not make a spin: the first attempt is immediate, from the
    // second on at least the backoff's base (40 ms) passes before each (the callback is
    // asked before the wait).
    let calls = calls.lock().unwrap().clone();
    assert!(calls.len() >= 3, "{calls:?}");
    for pair in calls.windows(2).skip(1) {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap >= Duration::from_millis(35), "{gap:?} between attempts");
    }
    client.flush().await.unwrap();
}
