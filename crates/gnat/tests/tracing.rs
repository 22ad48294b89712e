//! The `tracing` feature: connection life (with failed connect/reconnect attempts and TLS
//! handshake failures), slow consumers, request spans, JetStream retries and API request
//! spans arrive as `tracing` events with their fields, caught by a subscriber of our own.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gnat::jetstream::PublishOptions;
use gnat_test_support::NatsServer;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One captured event (or span, with `span` set to its name).
#[derive(Debug, Clone)]
struct Captured {
    level: Level,
    target: String,
    span: Option<String>,
    fields: BTreeMap<String, String>,
}

impl Captured {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
    fn message(&self) -> &str {
        self.field("message").unwrap_or("")
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

/// A minimal subscriber that records every event and span.
#[derive(Default)]
struct Capture {
    seen: Mutex<Vec<Captured>>,
    next_id: AtomicU64,
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.seen.lock().unwrap().push(Captured {
            level: *attrs.metadata().level(),
            target: attrs.metadata().target().to_string(),
            span: Some(attrs.metadata().name().to_string()),
            fields,
        });
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.seen.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            span: None,
            fields,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

struct Global(Arc<Capture>);

impl Subscriber for Global {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        self.0.enabled(m)
    }
    fn new_span(&self, a: &Attributes<'_>) -> Id {
        self.0.new_span(a)
    }
    fn record(&self, i: &Id, r: &Record<'_>) {
        self.0.record(i, r)
    }
    fn record_follows_from(&self, a: &Id, b: &Id) {
        self.0.record_follows_from(a, b)
    }
    fn event(&self, e: &Event<'_>) {
        self.0.event(e)
    }
    fn enter(&self, i: &Id) {
        self.0.enter(i)
    }
    fn exit(&self, i: &Id) {
        self.0.exit(i)
    }
}

/// Waits until a captured record satisfies `pred` (events come from the client's tasks).
fn wait_for(capture: &Capture, what: &str, pred: impl Fn(&Captured) -> bool) -> Captured {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(found) = capture.seen.lock().unwrap().iter().find(|c| pred(c)) {
            return found.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no {what}; captured: {:#?}",
            capture.seen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// One test function: the subscriber is process-wide (the client's tasks run on runtime
// worker threads, where a thread-local default would not reach).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_life_slow_consumers_and_jetstream_retries_become_tracing_events() {
    let capture = Arc::new(Capture::default());
    tracing::subscriber::set_global_default(Global(capture.clone())).unwrap();

    let server = NatsServer::start_jetstream();
    let addr = server.addr().to_string();
    let client = gnat::connect(server.url()).await.unwrap();

    let connected = wait_for(&capture, "connected event", |c| c.message() == "connected");
    assert_eq!(connected.level, Level::INFO);
    assert_eq!(connected.field("server"), Some(addr.as_str()));
    assert!(connected.target.starts_with("gnat_client"));

    // A disconnect (with its reason in `error`) and a reconnect to the same server.
    client.force_reconnect();
    let disconnected = wait_for(&capture, "disconnected event", |c| {
        c.message() == "disconnected"
    });
    assert_eq!(disconnected.level, Level::WARN);
    assert!(disconnected.field("error").is_some_and(|e| !e.is_empty()));
    let reconnected = wait_for(&capture, "reconnected event", |c| {
        c.message() == "reconnected"
    });
    assert_eq!(reconnected.field("server"), Some(addr.as_str()));

    // A slow consumer: a subscription of 10 messages that nobody reads.
    let _slow = client
        .subscribe_with(
            "slow.sub",
            None,
            gnat::SubscriptionLimits::messages_only(10),
        )
        .await
        .unwrap();
    for i in 0..100 {
        client.publish("slow.sub", format!("{i}")).await.unwrap();
    }
    client.flush().await.unwrap();
    let slow = wait_for(&capture, "slow consumer event", |c| {
        c.message().starts_with("slow consumer")
    });
    assert_eq!(slow.level, Level::WARN);
    assert_eq!(slow.field("subject"), Some("slow.sub"));

    // JetStream: a publish nobody stores is retried (each retry an event), and API requests
    // run in a span named after the operation.
    let js = gnat::jetstream::Context::new(client.clone());
    let err = js
        .publish_with(
            "nostream.here",
            PublishOptions::new()
                .payload("x")
                .retry(2, Duration::from_millis(10)),
        )
        .await
        .unwrap_err();
    assert!(err.is_no_stream(), "{err}");
    let retry = wait_for(&capture, "publish retry event", |c| {
        c.message().contains("retrying") && c.field("subject") == Some("nostream.here")
    });
    assert_eq!(retry.field("retries"), Some("2"));
    js.account_info().await.unwrap();
    let span = wait_for(&capture, "JetStream API span", |c| {
        c.span.as_deref() == Some("jetstream_api")
    });
    assert_eq!(span.field("op"), Some("INFO"));

    // A request/reply exchange runs in a DEBUG span named `request`.
    let err = client.request("nobody.listens", "q").await.unwrap_err();
    assert_eq!(err.kind(), gnat::ErrorKind::NoResponders, "{err}");
    let span = wait_for(&capture, "request span", |c| {
        c.span.as_deref() == Some("request") && c.field("subject") == Some("nobody.listens")
    });
    assert_eq!(span.level, Level::DEBUG);

    client.close().await;
    wait_for(&capture, "closed event", |c| c.message() == "closed");

    // A failed connect attempt: the pool's first server refuses connections (a port that was
    // just free), the second accepts. The failure is reported with server, attempt and error.
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = gnat::ConnectOptions::new()
        .retain_server_order(true)
        .connect(format!("nats://{refused},{}", server.url()))
        .await
        .unwrap();
    let failed = wait_for(&capture, "failed connect attempt event", |c| {
        c.message() == "connect attempt failed"
    });
    assert_eq!(failed.level, Level::WARN);
    assert_eq!(failed.field("server"), Some(refused.to_string().as_str()));
    assert_eq!(failed.field("attempt"), Some("1"));
    assert!(failed.field("error").is_some_and(|e| !e.is_empty()));
    client.close().await;

    // Reconnect attempts that fail while the server is down, each reported.
    let mut server = server;
    let client = gnat::connect(server.url()).await.unwrap();
    server.stop();
    let failed = wait_for(&capture, "failed reconnect attempt event", |c| {
        c.message() == "reconnect attempt failed" && c.field("server") == Some(addr.as_str())
    });
    assert_eq!(failed.level, Level::WARN);
    assert!(
        failed
            .field("attempt")
            .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n >= 1))
    );
    assert!(failed.field("error").is_some_and(|e| !e.is_empty()));
    server.start_again();
    client.close().await;

    // A TLS handshake that fails (the server's certificate is from an unknown CA).
    let files = gnat_test_support::tls::generate(&[]);
    let tls_server = NatsServer::builder().tls(&files).start();
    let tls_addr = tls_server.addr().to_string();
    let err = gnat::connect(tls_server.url()).await.unwrap_err();
    assert!(err.is_tls(), "{err}");
    let tls_failed = wait_for(&capture, "TLS failure event", |c| {
        c.message() == "TLS handshake failed"
    });
    assert_eq!(tls_failed.level, Level::WARN);
    assert_eq!(tls_failed.field("server"), Some(tls_addr.as_str()));
    assert!(tls_failed.field("error").is_some_and(|e| !e.is_empty()));
}
