//! Lame duck mode on a real cluster: clients move after a random delay within the bound (no
//! stampede), flush what they queued before moving, and `flush()` calls made meanwhile
//! succeed. Also the socket options: `local_address` and `read_buffer_size`.

mod real;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnat_client::{ConnectOptions, Event};
use gnat_test_support::{Cluster, NatsServer};
use real::{EventLog, fast_reconnect, host_port, next, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_leave_a_lame_duck_spread_over_the_bound_and_lose_nothing() {
    // Node 0 keeps its clients for 20 s after entering lame duck mode: every move seen
    // before that is the clients' own.
    let cluster = Cluster::start_with(3, |i, b| {
        if i == 0 {
            b.lame_duck_duration(Duration::from_secs(30))
                .lame_duck_grace_period(Duration::from_secs(20))
        } else {
            b
        }
    });
    let bound = Duration::from_secs(2);
    let mut clients = Vec::new();
    for i in 0..10 {
        // When it reconnected, stamped by the event callback as it happens.
        let log: Arc<Mutex<Option<Instant>>> = Arc::default();
        let stamp = log.clone();
        let opts = fast_reconnect(
            ConnectOptions::new()
                .name(format!("ldm-{i}"))
                .lame_duck_max_delay(bound),
        )
        .event_callback(move |e| {
            if matches!(e, Event::Reconnected { .. }) {
                stamp.lock().unwrap().get_or_insert_with(Instant::now);
            }
        });
        // Node 0 only: the others are announced by the cluster.
        let client = opts.connect(cluster.server(0).url()).await.unwrap();
        clients.push((client, log));
    }
    for (client, _) in &clients {
        let deadline = Instant::now() + real::DEADLINE;
        while client.servers().len() < 3 {
            assert!(Instant::now() < deadline, "{:?}", client.servers());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // A subscriber on node 1 checks that what client 0 publishes during the delay arrives.
    let watcher = gnat_client::connect(cluster.server(1).url()).await.unwrap();
    let mut sub = watcher.subscribe("ldm.data").await.unwrap();
    watcher.flush().await.unwrap();
    // Interest crosses the route asynchronously: probe until it arrives.
    let deadline = Instant::now() + real::DEADLINE;
    loop {
        clients[0].0.publish("ldm.data", "probe").await.unwrap();
        clients[0].0.flush().await.unwrap();
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            break;
        }
        assert!(Instant::now() < deadline, "no route interest");
    }
    real::take_ready(&mut sub);

    let mut first_events = clients[0].0.events();
    let entered = Instant::now();
    cluster.server(0).lame_duck();
    let first = &clients[0].0;
    real::wait_event(&mut first_events, "LameDuckMode", |e| {
        matches!(e, Event::LameDuckMode { .. })
    })
    .await;
    // Published and flushed between the announcement and the move: all of it arrives, and
    // the flush does not fail because of the move.
    for i in 0..100 {
        first.publish("ldm.data", format!("{i}")).await.unwrap();
    }
    let flushed = first.flush().await;
    assert!(flushed.is_ok(), "{flushed:?}");

    let mut moved_at = Vec::new();
    for (client, log) in &clients {
        let deadline = Instant::now() + real::DEADLINE;
        let at = loop {
            if let Some(at) = *log.lock().unwrap() {
                break at;
            }
            assert!(Instant::now() < deadline, "a client did not move");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        moved_at.push(at - entered);
        assert_ne!(
            client.current_server().map(|s| s.url),
            Some(format!("nats://{}", host_port(cluster.server(0))))
        );
    }
    let mut got = Vec::new();
    while got.len() < 100 {
        let msg = next(&mut sub).await;
        if msg.payload != "probe" {
            got.push(String::from_utf8(msg.payload.to_vec()).unwrap());
        }
    }
    let want: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    assert_eq!(got, want);

    // Within the bound (plus reconnect time under load), and spread out.
    let (min, max) = (
        *moved_at.iter().min().unwrap(),
        *moved_at.iter().max().unwrap(),
    );
    assert!(max < bound + Duration::from_secs(5), "{moved_at:?}");
    assert!(
        max - min >= Duration::from_millis(200),
        "all ten moved within {:?}: a stampede ({moved_at:?})",
        max - min
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_delay_moves_at_once() {
    let a = NatsServer::start();
    let b = NatsServer::start();
    let (opts, mut log) = EventLog::options(fast_reconnect(
        ConnectOptions::new()
            .retain_server_order(true)
            .lame_duck_max_delay(Duration::ZERO),
    ));
    let client = opts
        .connect(format!("{},{}", a.url(), b.url()))
        .await
        .unwrap();
    a.lame_duck();
    let event = log
        .wait_for("Reconnected", |e| matches!(e, Event::Reconnected { .. }))
        .await;
    assert_eq!(
        event,
        Event::Reconnected {
            server: host_port(&b)
        }
    );
    client.flush().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_address_binds_the_outgoing_socket() {
    let server = NatsServer::builder().monitoring(true).start();
    // Any address of 127.0.0.0/8 is loopback on Linux.
    let local: std::net::SocketAddr = "127.0.0.2:0".parse().unwrap();
    let client = ConnectOptions::new()
        .name("bound")
        .local_address(local)
        .read_buffer_size(4096)
        .connect(server.url())
        .await
        .unwrap();
    // Small read buffer: a message much larger than it still arrives whole.
    let mut sub = client.subscribe("big").await.unwrap();
    let payload = real::pattern(300_000, 7);
    client.publish("big", payload.clone()).await.unwrap();
    assert_eq!(next(&mut sub).await.payload, payload);

    let connz = within("connz", async { server.monitor_json("/connz").unwrap() }).await;
    let conn = connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "bound")
        .cloned()
        .expect("the connection");
    assert_eq!(conn["ip"], "127.0.0.2", "{conn}");

    // An address of the wrong family fails clearly.
    let err = ConnectOptions::new()
        .local_address("[::1]:0".parse().unwrap())
        .connect(server.url())
        .await
        .unwrap_err();
    assert!(err.message().contains("family"), "{err}");
}
