//! The blocking API against a real nats-server: core, JetStream and Key-Value, used from a
//! plain thread and from inside tokio runtimes (created, used and dropped there).

use std::time::{Duration, Instant};

use gnat::blocking;
use gnat::jetstream::{PublishOptions, StreamConfig};
use gnat::kv::{Config, Operation, WatchEvent};
use gnat::{ErrorKind, HeaderMap};
use gnat_test_support::NatsServer;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn publish_subscribe_request_flush_drain_from_a_plain_thread() {
    let server = NatsServer::start();
    let client = blocking::connect(server.url()).unwrap();
    assert_eq!(client.state(), gnat::State::Connected);

    let mut sub = client.subscribe("greet.*").unwrap();
    for i in 0..100 {
        client
            .publish(format!("greet.{i}"), format!("hello {i}"))
            .unwrap();
    }
    let mut headers = HeaderMap::new();
    headers.insert("X-Who", "joe").unwrap();
    client
        .publish_with_headers("greet.headers", headers, "with headers")
        .unwrap();
    client.flush().unwrap();
    for i in 0..100 {
        let msg = sub.next_timeout(WAIT).expect("message in time");
        assert_eq!(msg.subject, format!("greet.{i}").as_str());
        assert_eq!(msg.payload, format!("hello {i}").as_bytes());
    }
    let msg = sub.next_timeout(WAIT).expect("the message with headers");
    assert_eq!(msg.headers.unwrap().get("X-Who"), Some("joe"));

    // Nothing more: `next_timeout` gives up after the timeout, and the subscription is open.
    let started = Instant::now();
    assert!(sub.next_timeout(Duration::from_millis(200)).is_none());
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(!sub.is_closed());

    // Request/reply with a blocking responder on another thread.
    let mut service = client.subscribe("svc.upper").unwrap();
    let responder_client = client.clone();
    let responder = std::thread::spawn(move || {
        let msg = service.next().expect("a request");
        let reply = msg.reply.expect("a reply subject");
        let upper = std::str::from_utf8(&msg.payload).unwrap().to_uppercase();
        responder_client.publish(reply, upper).unwrap();
    });
    let reply = client.request("svc.upper", "shout").unwrap();
    assert_eq!(reply.payload, "SHOUT".as_bytes());
    responder.join().unwrap();

    // No responders fails at once, with the client's error kind.
    let err = client.request("svc.nobody", "x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoResponders);

    // Invalid input is refused before anything is written.
    let err = client.publish("bad subject", "x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    // Drain waits until queued messages are read: drain on one thread, read on this one.
    client.publish("greet.last", "last").unwrap();
    client.flush().unwrap();
    let drainer = client.clone();
    let drain = std::thread::spawn(move || drainer.drain());
    let rest: Vec<_> = sub.by_ref().collect();
    drain.join().unwrap().unwrap();
    assert_eq!(client.state(), gnat::State::Closed);
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].payload, "last".as_bytes());
    assert!(sub.is_closed());
    assert_eq!(
        client.publish("greet.x", "x").unwrap_err().kind(),
        ErrorKind::Closed
    );
}

#[test]
fn queue_subscribers_share_the_messages() {
    let server = NatsServer::start();
    let client = blocking::connect(server.url()).unwrap();
    let mut a = client.queue_subscribe("jobs", "workers").unwrap();
    let mut b = client.queue_subscribe("jobs", "workers").unwrap();
    for i in 0..200 {
        client.publish("jobs", format!("{i}")).unwrap();
    }
    client.flush().unwrap();
    let mut got = 0;
    for sub in [&mut a, &mut b] {
        while let Some(_msg) = sub.next_timeout(Duration::from_millis(300)) {
            got += 1;
        }
    }
    assert_eq!(got, 200, "each message reaches exactly one member");
    client.close();
    assert_eq!(client.state(), gnat::State::Closed);
}

#[test]
fn dropping_the_last_handle_closes_after_sending_what_was_queued() {
    let server = NatsServer::start();
    let watcher = blocking::connect(server.url()).unwrap();
    let mut sub = watcher.subscribe("dropped.>").unwrap();
    watcher.flush().unwrap();

    let client = blocking::connect(server.url()).unwrap();
    for i in 0..1000 {
        client.publish("dropped.x", format!("{i}")).unwrap();
    }
    drop(client); // no flush, no close: the drop does it

    let mut n = 0;
    while n < 1000 {
        let msg = sub.next_timeout(WAIT).expect("every publish arrives");
        assert_eq!(msg.payload, format!("{n}").as_bytes());
        n += 1;
    }
}

/// Creates, uses and drops a blocking client (with a subscription and a KV watcher, whose
/// drops start tasks) on a thread that is inside a tokio runtime.
fn use_and_drop_inside(server_url: &str) {
    let client = blocking::connect(server_url).unwrap();
    let mut sub = client.subscribe("inside").unwrap();
    client.publish("inside", "x").unwrap();
    assert_eq!(sub.next_timeout(WAIT).unwrap().payload, "x".as_bytes());
    let js = client.jetstream();
    let bucket = format!("inside{}", client.new_inbox().rsplit('.').next().unwrap());
    let kv = js.create_key_value(Config::new(&bucket)).unwrap();
    kv.put("k", "v").unwrap();
    let mut watch = kv.watch("k").unwrap();
    assert!(matches!(
        watch.next_timeout(WAIT),
        Some(Ok(WatchEvent::Entry(_)))
    ));
    drop(watch);
    drop(sub);
    drop(kv);
    drop(js);
    drop(client);
}

#[tokio::test(flavor = "current_thread")]
async fn created_used_and_dropped_inside_a_current_thread_runtime() {
    let server = NatsServer::start_jetstream();
    use_and_drop_inside(&server.url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_used_and_dropped_inside_a_multi_thread_runtime() {
    let server = NatsServer::start_jetstream();
    use_and_drop_inside(&server.url());
    // And from a blocking-pool thread, the recommended place in async code.
    let url = server.url();
    tokio::task::spawn_blocking(move || use_and_drop_inside(&url))
        .await
        .unwrap();
}

#[test]
fn created_outside_dropped_inside_a_runtime() {
    let server = NatsServer::start();
    let client = blocking::connect(server.url()).unwrap();
    let sub = client.subscribe("x").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        client.publish("x", "y").unwrap();
        drop(sub);
        drop(client);
    });
}

#[test]
fn jetstream_publish_waits_for_acks() {
    let server = NatsServer::start_jetstream();
    let client = blocking::connect(server.url()).unwrap();
    let js = client.jetstream();
    js.create_stream(StreamConfig::new("ORDERS").subjects(["orders.>"]))
        .unwrap();

    let first = js.publish("orders.new", "one").unwrap();
    assert_eq!((first.stream.as_str(), first.seq), ("ORDERS", 1));
    let second = js
        .publish_with(
            "orders.new",
            PublishOptions::new().payload("two").msg_id("order-2"),
        )
        .unwrap();
    assert_eq!(second.seq, 2);
    let again = js
        .publish_with(
            "orders.new",
            PublishOptions::new().payload("two").msg_id("order-2"),
        )
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.seq, 2);

    // An expectation the stream refuses keeps the server's error code.
    let err = js
        .publish_with(
            "orders.new",
            PublishOptions::new()
                .payload("three")
                .expected_last_sequence(1),
        )
        .unwrap_err();
    assert!(err.is_wrong_last_sequence(), "{err}");
    assert_eq!(js.stream_info("ORDERS").unwrap().state.messages, 2);
    js.delete_stream("ORDERS").unwrap();
}

#[test]
fn key_value_store_reads_writes_and_watches() {
    let server = NatsServer::start_jetstream();
    let client = blocking::connect(server.url()).unwrap();
    let js = client.jetstream();
    let kv = js
        .create_key_value(Config::new("profiles").history(5))
        .unwrap();

    let r1 = kv.put("sue.color", "blue").unwrap();
    assert_eq!(kv.get("sue.color").unwrap().as_deref(), Some(&b"blue"[..]));
    let key = String::from("sue.color");
    assert!(kv.create(&key, "red").unwrap_err().is_key_exists());
    assert!(
        kv.update("sue.color", "red", r1 + 10)
            .unwrap_err()
            .is_wrong_last_revision()
    );
    let r2 = kv.update("sue.color", "green", r1).unwrap();
    assert_eq!(kv.entry("sue.color").unwrap().unwrap().revision, r2);
    kv.create("sue.food", "pizza").unwrap();
    let mut keys = kv.keys().unwrap();
    keys.sort();
    assert_eq!(keys, ["sue.color", "sue.food"]);
    kv.delete("sue.food").unwrap();
    assert_eq!(kv.get("sue.food").unwrap(), None);
    assert_eq!(kv.keys().unwrap(), ["sue.color"]);
    let history = kv.history("sue.color").unwrap();
    let values: Vec<_> = history.iter().map(|e| e.value.clone()).collect();
    assert_eq!(values, ["blue", "green"]);

    // The watcher: the current value, the end of initial data, then live changes made from
    // another thread.
    let mut watch = kv.watch("sue.*").unwrap();
    let mut initial = Vec::new();
    loop {
        match watch.next_timeout(WAIT) {
            Some(Ok(WatchEvent::Entry(e))) => initial.push((e.key.to_string(), e.operation)),
            Some(Ok(WatchEvent::InitialDone)) => break,
            other => panic!("expected the initial values, got {other:?}"),
        }
    }
    initial.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        initial,
        [
            ("sue.color".to_string(), Operation::Put),
            ("sue.food".to_string(), Operation::Delete)
        ]
    );
    assert!(watch.initial_done());
    let writer = kv.clone();
    std::thread::spawn(move || {
        writer.put("sue.color", "purple").unwrap();
        writer.delete("sue.color").unwrap();
    })
    .join()
    .unwrap();
    let events: Vec<_> = watch
        .by_ref()
        .take(2)
        .map(|e| e.unwrap().into_entry().unwrap())
        .collect();
    assert_eq!(events[0].value, "purple".as_bytes());
    assert_eq!(events[0].operation, Operation::Put);
    assert_eq!(events[1].operation, Operation::Delete);

    // Bind by name from another client.
    let other = blocking::connect(server.url()).unwrap();
    let bound = other.jetstream().key_value("profiles").unwrap();
    assert_eq!(bound.bucket(), "profiles");
    assert_eq!(bound.get("sue.color").unwrap(), None);
    assert!(
        other
            .jetstream()
            .key_value("missing")
            .unwrap_err()
            .is_bucket_not_found()
    );
    js.delete_key_value("profiles").unwrap();
}
