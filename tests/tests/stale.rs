//! Scenario 8: stale connections.
//!
//! The fault proxy swallows all traffic of the open connection (the sockets stay open, so no
//! error ever comes): the client must notice within its ping budget — `ping_interval` ×
//! (`max_pings_outstanding` + 1) — reconnect (new connections through the proxy are not
//! stalled), and its subscriptions and requests carry on. A flush caught in the stall fails
//! instead of hanging, and what was written into the dead connection is counted. A slow but
//! live connection (every chunk delayed) is not mistaken for a stale one. A KV watcher started
//! before the stall carries on after the reconnect: it delivers the puts made during the stall
//! (which the server had pushed into the dead connection) and after it, every revision once,
//! in order.

mod common;

use std::time::{Duration, Instant};

use client::{ConnectOptions, ErrorKind, Event};
use common::{EventLog, fast_reconnect, is_disconnected, is_reconnected, next, reason, within};
use gnat_test_support::NatsServer;
use gnat_test_support::proxy::Proxy;
use jetstream::Context;
use kv::{Config, WatchEvent, Watcher};

const PING_INTERVAL: Duration = Duration::from_millis(200);
const MAX_OUTSTANDING: usize = 2;

fn options() -> ConnectOptions {
    fast_reconnect(ConnectOptions::new())
        .ping_interval(PING_INTERVAL)
        .max_pings_outstanding(MAX_OUTSTANDING)
        .connection_timeout(Duration::from_secs(1))
        .request_timeout(Duration::from_secs(5))
}

/// A stalled connection is declared stale within the ping budget; the client reconnects and
/// its subscription, a queue subscription and requests all work again.
///
/// The server pings quickly too, so it drops the dead connection's interest in time: until it
/// does, it may route a queue-group message to the dead member, as it would for any half-open
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silently_stalled_connection_is_noticed_within_the_ping_budget() {
    let server = NatsServer::builder()
        .config("ping_interval: \"100ms\"\nping_max: 2\n")
        .start();
    let proxy = Proxy::start(server.addr());
    let (opts, mut log) = EventLog::options(options());
    let client = opts.connect(proxy.url()).await.unwrap();
    let peer = client::connect(server.url()).await.unwrap();

    let mut sub = client.subscribe("stale.events").await.unwrap();
    let mut queue = client
        .queue_subscribe("stale.work", "workers")
        .await
        .unwrap();
    // A service on the peer side, for requests.
    let mut service = peer.subscribe("stale.svc").await.unwrap();
    let responder = {
        let peer = peer.clone();
        tokio::spawn(async move {
            while let Some(req) = service.next().await {
                if let Some(reply) = req.reply {
                    let _ = peer.publish(reply, req.payload).await;
                }
            }
        })
    };
    peer.flush().await.unwrap();
    client.flush().await.unwrap();
    assert_eq!(
        client.request("stale.svc", "before").await.unwrap().payload,
        "before"
    );

    proxy.stall();
    let stalled_at = Instant::now();
    // Written into the dead connection: the server never sees these.
    client.publish("stale.lost", "into the void").await.unwrap();
    let flush = within("a flush during the stall", client.flush()).await;
    assert_eq!(
        flush.as_ref().map_err(|e| e.kind()),
        Err(ErrorKind::Disconnected),
        "a flush caught in the stall fails: {flush:?}"
    );

    let (noticed_at, event) = log.wait_for("Disconnected", is_disconnected).await;
    let noticed = noticed_at - stalled_at;
    let budget = PING_INTERVAL * (MAX_OUTSTANDING as u32 + 1);
    eprintln!(
        "stall noticed after {noticed:?} (ping budget {budget:?}): {}",
        reason(&event)
    );
    assert!(reason(&event).contains("stale"), "{event:?}");
    assert!(
        noticed <= budget + Duration::from_millis(300),
        "noticed after {noticed:?}, budget {budget:?}"
    );
    assert!(
        noticed >= PING_INTERVAL,
        "declared stale before a PING went unanswered"
    );

    let (back_at, _) = log.wait_for("Reconnected", is_reconnected).await;
    eprintln!(
        "reconnected {:?} after the stall was noticed",
        back_at - noticed_at
    );
    assert!(
        client.statistics().unconfirmed_bytes > 0,
        "the lost bytes are counted"
    );

    // The restored subscriptions are on the server once a flush returns.
    within("flush after reconnect", client.flush())
        .await
        .unwrap();
    peer.publish("stale.events", "still subscribed")
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.payload, "still subscribed");
    // Once the server has dropped the dead connection (and its queue membership), the queue
    // subscription gets the group's messages again.
    within("the server to drop the stalled connection", async {
        while connections(&server) > 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    peer.publish("stale.work", "still in the group")
        .await
        .unwrap();
    assert_eq!(next(&mut queue).await.payload, "still in the group");
    let reply = within(
        "a request after reconnect",
        client.request("stale.svc", "after"),
    )
    .await
    .unwrap();
    assert_eq!(reply.payload, "after");
    assert_eq!(client.pending_requests(), 0);
    assert_eq!(client.statistics().reconnects, 1);
    responder.abort();
}

/// Client connections the server holds (from its monitoring port).
fn connections(server: &NatsServer) -> u64 {
    let connz = server.monitor_json("/connz").expect("/connz");
    connz["num_connections"].as_u64().expect("num_connections")
}

/// Every chunk delayed by a quarter of the ping interval each way: round trips take half an
/// interval, PONGs still come back in time, and the connection is kept through many ping
/// rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_but_live_connection_is_not_stale() {
    let server = NatsServer::start();
    let proxy = Proxy::start(server.addr());
    let (opts, mut log) = EventLog::options(options());
    let client = opts.connect(proxy.url()).await.unwrap();
    let mut sub = client.subscribe("slow.events").await.unwrap();
    client.flush().await.unwrap();

    proxy.delay(PING_INTERVAL / 4);
    let started = Instant::now();
    let mut rounds = 0;
    // At least five ping intervals of traffic, each flush a full (slow) round trip.
    while started.elapsed() < PING_INTERVAL * 5 {
        client.publish("slow.events", "slowly").await.unwrap();
        within("a slow flush", client.flush()).await.unwrap();
        assert_eq!(next(&mut sub).await.payload, "slowly");
        rounds += 1;
    }
    let disconnects: Vec<Event> = log.poll().into_iter().filter(is_disconnected).collect();
    assert!(disconnects.is_empty(), "{disconnects:?}");
    assert_eq!(client.statistics().reconnects, 0);
    eprintln!(
        "{rounds} slow round trips over {:?}, no disconnect",
        started.elapsed()
    );
}

/// The next watch event, or a panic after the deadline.
async fn next_event(watch: &mut Watcher) -> WatchEvent {
    match within("a watch event", watch.next()).await {
        Some(Ok(event)) => event,
        other => panic!("the watch ended or failed: {other:?}"),
    }
}

/// A KV watcher on the stalled connection, started before the stall, carries on: the client
/// notices within the ping budget and reconnects, and the watcher then delivers every
/// revision exactly once, in order — the puts made before the stall, during it (the server
/// pushed those into the dead connection, so the watcher must resume from the last revision
/// it delivered) and after the recovery, from another connection and from its own. A last
/// put is the very next event: nothing repeated is still queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kv_watcher_carries_on_across_a_stalled_connection() {
    let server = NatsServer::builder()
        .jetstream(true)
        .config("ping_interval: \"100ms\"\nping_max: 2\n")
        .start();
    let proxy = Proxy::start(server.addr());
    let (opts, mut log) = EventLog::options(options());
    let client = opts.connect(proxy.url()).await.unwrap();
    let kv = kv::create_bucket(&Context::new(client.clone()), Config::new("STALE"))
        .await
        .unwrap();
    let peer_js = Context::new(client::connect(server.url()).await.unwrap());
    let peer = kv::bind(&peer_js, "STALE").await.unwrap();
    for i in 0..10 {
        peer.put(&format!("before.{i}"), "v").await.unwrap();
    }

    let mut watch = kv.watch_all().await.unwrap();
    let mut seen = Vec::new();
    while let WatchEvent::Entry(e) = next_event(&mut watch).await {
        seen.push(e.revision);
    }
    assert_eq!(seen, (1..=10).collect::<Vec<u64>>());

    proxy.stall();
    let stalled_at = Instant::now();
    for i in 0..10 {
        peer.put(&format!("during.{i}"), "v").await.unwrap();
    }
    let (noticed_at, event) = log.wait_for("Disconnected", is_disconnected).await;
    let budget = PING_INTERVAL * (MAX_OUTSTANDING as u32 + 1);
    assert!(reason(&event).contains("stale"), "{event:?}");
    assert!(
        noticed_at - stalled_at <= budget + Duration::from_millis(300),
        "noticed after {:?}, budget {budget:?}",
        noticed_at - stalled_at
    );
    let (back_at, _) = log.wait_for("Reconnected", is_reconnected).await;

    for i in 0..10 {
        peer.put(&format!("after.{i}"), "v").await.unwrap();
    }
    let own = within(
        "a put through the recovered client",
        kv.put("after.own", "v"),
    )
    .await
    .unwrap();
    while seen.last() != Some(&own) {
        match next_event(&mut watch).await {
            WatchEvent::Entry(e) => seen.push(e.revision),
            WatchEvent::InitialDone => panic!("a second end-of-initial-data"),
        }
    }
    let last = peer_js
        .stream_info("KV_STALE")
        .await
        .unwrap()
        .state
        .last_seq;
    assert_eq!(own, last);
    assert_eq!(
        seen,
        (1..=last).collect::<Vec<u64>>(),
        "no gap, no duplicate"
    );
    let sentinel = peer.put("sentinel", "v").await.unwrap();
    match next_event(&mut watch).await {
        WatchEvent::Entry(e) => assert_eq!(e.revision, sentinel, "a repeat was still queued"),
        WatchEvent::InitialDone => panic!("a second end-of-initial-data"),
    }
    eprintln!(
        "watcher: stall noticed after {:?}, reconnected {:?} later; {} revisions (10 before, 10 \
         during, 11 after the stall) delivered once each, in order",
        noticed_at - stalled_at,
        back_at - noticed_at,
        seen.len()
    );
}

/// The same with a watcher that has delivered its end-of-initial-data marker (an empty
/// bucket) and no entry yet when the stall hits: every revision stored meanwhile is an update
/// it must deliver — all three of the one key, not only the latest (the bucket keeps 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_with_nothing_delivered_yet_misses_no_update_across_a_stall() {
    let server = NatsServer::builder()
        .jetstream(true)
        .config("ping_interval: \"100ms\"\nping_max: 2\n")
        .start();
    let proxy = Proxy::start(server.addr());
    let (opts, mut log) = EventLog::options(options());
    let client = opts.connect(proxy.url()).await.unwrap();
    let config = Config::new("FRESH").history(10);
    let kv = kv::create_bucket(&Context::new(client.clone()), config)
        .await
        .unwrap();
    let peer = kv::bind(
        &Context::new(client::connect(server.url()).await.unwrap()),
        "FRESH",
    )
    .await
    .unwrap();
    let mut watch = kv.watch_all().await.unwrap();
    assert_eq!(next_event(&mut watch).await, WatchEvent::InitialDone);

    proxy.stall();
    for i in 0..3 {
        peer.put("k", format!("during {i}")).await.unwrap();
    }
    log.wait_for("Disconnected", is_disconnected).await;
    log.wait_for("Reconnected", is_reconnected).await;
    let last = peer.put("k", "after").await.unwrap();
    let mut seen = Vec::new();
    while seen.last().is_none_or(|r| *r < last) {
        match next_event(&mut watch).await {
            WatchEvent::Entry(e) => seen.push(e.revision),
            WatchEvent::InitialDone => panic!("a second end-of-initial-data"),
        }
    }
    assert_eq!(seen, vec![1, 2, 3, 4], "every revision once, in order");
}
