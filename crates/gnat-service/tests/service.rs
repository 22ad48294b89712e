//! gnat-service against a real nats-server: discovery replies field for field, handlers,
//! errors, queue groups, statistics, panics, validation and stop.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{DEADLINE, client, keys, within};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use gnat_service::client::{Client, HeaderMap};
use gnat_service::{Discovery, ErrorKind, Service};
use gnat_test_support::NatsServer;

async fn request_json(client: &Client, subject: &str) -> serde_json::Value {
    let reply = within(subject, client.request(subject, ""))
        .await
        .expect(subject);
    serde_json::from_slice(&reply.payload).expect("json")
}

const STANDARD: [&str; 5] = ["id", "metadata", "name", "type", "version"];

#[tokio::test]
async fn discovery_replies_match_the_adr_schemas_field_for_field() {
    let server = NatsServer::start();
    let client = client(&server.url()).await;
    let service = Service::builder("schema-svc", "1.2.3-rc.1+b7")
        .description("checks the schemas")
        .metadata("team", "gnat")
        .stats_handler(|stats| serde_json::json!({ "seen": stats.num_requests }))
        .start(&client)
        .await
        .unwrap();
    service
        .endpoint("plain")
        .serve(|r| async move {
            let _ = r.respond("p").await;
        })
        .await
        .unwrap();
    let group = service.group("math.v1").queue_group("mathq");
    group
        .endpoint("add")
        .metadata("unit", "sum")
        .serve(|r| async move {
            let _ = r.respond("a").await;
        })
        .await
        .unwrap();
    group
        .group("deep")
        .endpoint("any")
        .subject("x.*")
        .no_queue_group()
        .serve(|r| async move {
            let _ = r.respond("x").await;
        })
        .await
        .unwrap();
    client.request("plain", "").await.unwrap();

    let id = service.id().to_string();
    for suffix in [
        "".to_string(),
        ".schema-svc".to_string(),
        format!(".schema-svc.{id}"),
    ] {
        let ping = request_json(&client, &format!("$SRV.PING{suffix}")).await;
        assert_eq!(keys(&ping), STANDARD);
        assert_eq!(ping["type"], "io.nats.micro.v1.ping_response");
        assert_eq!(ping["name"], "schema-svc");
        assert_eq!(ping["id"], id.as_str());
        assert_eq!(ping["version"], "1.2.3-rc.1+b7");
        assert_eq!(ping["metadata"], serde_json::json!({"team": "gnat"}));

        let info = request_json(&client, &format!("$SRV.INFO{suffix}")).await;
        let mut want: Vec<&str> = STANDARD.to_vec();
        want.extend(["description", "endpoints"]);
        want.sort();
        assert_eq!(keys(&info), want);
        assert_eq!(info["type"], "io.nats.micro.v1.info_response");
        assert_eq!(info["description"], "checks the schemas");
        let eps = info["endpoints"].as_array().unwrap();
        assert_eq!(eps.len(), 3);
        for ep in eps {
            assert_eq!(keys(ep), ["metadata", "name", "queue_group", "subject"]);
        }
        assert_eq!(
            eps[0],
            serde_json::json!({"name": "plain", "subject": "plain", "queue_group": "q", "metadata": {}})
        );
        assert_eq!(
            eps[1],
            serde_json::json!({"name": "add", "subject": "math.v1.add", "queue_group": "mathq", "metadata": {"unit": "sum"}})
        );
        assert_eq!(
            eps[2],
            serde_json::json!({"name": "any", "subject": "math.v1.deep.x.*", "queue_group": "", "metadata": {}})
        );

        let stats = request_json(&client, &format!("$SRV.STATS{suffix}")).await;
        let mut want: Vec<&str> = STANDARD.to_vec();
        want.extend(["endpoints", "started"]);
        want.sort();
        assert_eq!(keys(&stats), want);
        assert_eq!(stats["type"], "io.nats.micro.v1.stats_response");
        let started = stats["started"].as_str().unwrap();
        assert_eq!(
            started.len(),
            "2024-01-01T00:00:00.000000Z".len(),
            "{started}"
        );
        assert!(
            started.ends_with('Z') && started.as_bytes()[10] == b'T',
            "{started}"
        );
        let eps = stats["endpoints"].as_array().unwrap();
        assert_eq!(eps.len(), 3);
        for ep in eps {
            assert_eq!(
                keys(ep),
                [
                    "average_processing_time",
                    "data",
                    "last_error",
                    "name",
                    "num_errors",
                    "num_requests",
                    "processing_time",
                    "queue_group",
                    "subject"
                ]
            );
            assert!(ep["processing_time"].is_u64() && ep["average_processing_time"].is_u64());
        }
        assert_eq!(eps[0]["num_requests"], 1);
        assert_eq!(eps[0]["num_errors"], 0);
        assert_eq!(eps[0]["last_error"], "");
        assert_eq!(eps[0]["data"], serde_json::json!({"seen": 1}));
        assert_eq!(eps[1]["queue_group"], "mathq");
    }
    // Another name, or this name with another id, gets no answer from this service.
    let err = client.request("$SRV.PING.other", "").await.unwrap_err();
    assert!(err.is_no_responders(), "{err}");
    let err = client
        .request("$SRV.PING.schema-svc.nope", "")
        .await
        .unwrap_err();
    assert!(err.is_no_responders(), "{err}");
    // The typed view agrees with the wire.
    let info = Discovery::new(&client)
        .info(Some("schema-svc"), Some(&id))
        .await
        .unwrap();
    assert_eq!(info, vec![service.info()]);
}

#[tokio::test]
async fn every_instance_answers_and_discovery_honours_name_id_and_max() {
    let server = NatsServer::start();
    let client = client(&server.url()).await;
    let a1 = Service::builder("alpha", "1.0.0")
        .start(&client)
        .await
        .unwrap();
    let a2 = Service::builder("alpha", "1.0.1")
        .start(&client)
        .await
        .unwrap();
    let b = Service::builder("beta", "2.0.0")
        .start(&client)
        .await
        .unwrap();
    // A generous stall: every instance must get its answer in, even on a loaded machine.
    let discovery = Discovery::new(&client)
        .timeout(Duration::from_secs(10))
        .stall(Duration::from_secs(2));

    let mut all: Vec<String> = discovery
        .ping(None)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    all.sort();
    let mut want = vec![a1.id().to_string(), a2.id().to_string(), b.id().to_string()];
    want.sort();
    assert_eq!(all, want);

    let alpha = discovery.info(Some("alpha"), None).await.unwrap();
    assert_eq!(alpha.len(), 2);
    assert!(alpha.iter().all(|i| i.name == "alpha"));

    let one = discovery.stats(Some("alpha"), Some(a2.id())).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].version, "1.0.1");
    let pinged = discovery
        .ping_instance("beta", b.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pinged.version, "2.0.0");

    let capped = discovery.clone().max_responses(1).ping(None).await.unwrap();
    assert_eq!(capped.len(), 1);

    // Nobody by that name: "no responders" ends the query at once, well before the timeout.
    let started = std::time::Instant::now();
    let none = Discovery::new(&client)
        .timeout(Duration::from_secs(15))
        .ping(Some("gamma"))
        .await
        .unwrap();
    assert!(none.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // Bad names never reach the wire.
    for bad in ["a.b", "a b", "*", ">", ""] {
        let err = discovery.ping(Some(bad)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{bad:?}");
    }
    let err = discovery.info(None, Some("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName);
}

#[tokio::test]
async fn respond_with_headers_and_respond_error_set_the_adr_headers() {
    let server = NatsServer::start();
    let client = client(&server.url()).await;
    let service = Service::builder("replies", "0.1.0")
        .start(&client)
        .await
        .unwrap();
    let mut stream = service.endpoint("stream").add().await.unwrap();
    tokio::spawn(async move {
        while let Some(req) = stream.next().await {
            let _ = match &req.payload()[..] {
                b"fail" => req.respond_error(418, "short and stout").await,
                b"head" => {
                    let mut h = HeaderMap::new();
                    h.insert("X-Answer", "42").unwrap();
                    h.insert("X-Endpoint", req.endpoint()).unwrap();
                    req.respond_with_headers(&h, "with headers").await
                }
                _ => {
                    let p = req.payload().clone();
                    req.respond(p).await
                }
            };
        }
    });
    service
        .endpoint("fn")
        .serve(|req| async move {
            let _ = req.respond_error(503, "busy right now").await;
        })
        .await
        .unwrap();

    let echo = client.request("stream", "hello").await.unwrap();
    assert_eq!(&echo.payload[..], b"hello");
    assert!(
        gnat_service::service_error(echo.headers.as_ref().unwrap_or(&HeaderMap::new())).is_none()
    );

    let head = client.request("stream", "head").await.unwrap();
    let h = head.headers.unwrap();
    assert_eq!(h.get("X-Answer"), Some("42"));
    assert_eq!(h.get("X-Endpoint"), Some("stream"));
    assert_eq!(&head.payload[..], b"with headers");

    let failed = client.request("stream", "fail").await.unwrap();
    let h = failed.headers.unwrap();
    assert_eq!(h.get("Nats-Service-Error"), Some("short and stout"));
    assert_eq!(h.get("Nats-Service-Error-Code"), Some("418"));
    assert_eq!(
        gnat_service::service_error(&h),
        Some((418, "short and stout".into()))
    );
    assert!(failed.payload.is_empty());

    let busy = client.request("fn", "x").await.unwrap();
    assert_eq!(
        gnat_service::service_error(&busy.headers.unwrap()),
        Some((503, "busy right now".into()))
    );

    let stats = service.stats();
    let stream_stats = &stats.endpoints[0];
    assert_eq!((stream_stats.num_requests, stream_stats.num_errors), (3, 1));
    assert_eq!(stream_stats.last_error, "418:short and stout");
    let fn_stats = &stats.endpoints[1];
    assert_eq!((fn_stats.num_requests, fn_stats.num_errors), (1, 1));
    assert_eq!(fn_stats.last_error, "503:busy right now");
}

#[tokio::test]
async fn three_instances_behind_a_queue_group_share_the_load() {
    let server = NatsServer::start();
    let requester = client(&server.url()).await;
    let mut services = Vec::new();
    let mut clients = Vec::new();
    for i in 0..3 {
        // One connection per instance, as separate processes would have.
        let c = client(&server.url()).await;
        let s = Service::builder("shared", "1.0.0").start(&c).await.unwrap();
        s.endpoint("work")
            .serve(move |r| async move {
                let _ = r.respond(format!("{i}")).await;
            })
            .await
            .unwrap();
        s.endpoint("all")
            .no_queue_group()
            .serve(move |r| async move {
                let _ = r.respond(format!("{i}")).await;
            })
            .await
            .unwrap();
        services.push(s);
        clients.push(c);
    }
    const N: u64 = 600;
    let mut answered_by = [0u64; 3];
    let mut pending = FuturesUnordered::new();
    for _ in 0..N {
        pending.push(requester.request("work", ""));
    }
    while let Some(reply) = within("work requests", pending.next()).await {
        let i: usize = std::str::from_utf8(&reply.unwrap().payload)
            .unwrap()
            .parse()
            .unwrap();
        answered_by[i] += 1;
    }
    assert_eq!(answered_by.iter().sum::<u64>(), N);
    for (i, s) in services.iter().enumerate() {
        let n = s.stats().endpoints[0].num_requests;
        assert_eq!(n, answered_by[i], "instance {i}");
        assert!(n > 0, "instance {i} got no work: {answered_by:?}");
    }
    // Without a queue group every instance answers one request.
    let inbox = requester.new_inbox();
    let mut replies = requester.subscribe(&inbox).await.unwrap();
    requester
        .publish_with_reply("all", &inbox, "")
        .await
        .unwrap();
    let mut from = Vec::new();
    for _ in 0..3 {
        let m = within("broadcast replies", replies.next()).await.unwrap();
        from.push(String::from_utf8(m.payload.to_vec()).unwrap());
    }
    from.sort();
    assert_eq!(from, ["0", "1", "2"]);
}

#[tokio::test]
async fn stats_are_exact_after_10000_requests_with_one_percent_errors() {
    let server = NatsServer::start();
    let c = client(&server.url()).await;
    let requester = client(&server.url()).await;
    let service = Service::builder("counted", "1.0.0")
        .start(&c)
        .await
        .unwrap();
    service
        .endpoint("n")
        .serve(|req| async move {
            let n: u64 = std::str::from_utf8(req.payload()).unwrap().parse().unwrap();
            let _ = if n.is_multiple_of(100) {
                req.respond_error(500, &format!("failed {n}")).await
            } else {
                req.respond("ok").await
            };
        })
        .await
        .unwrap();
    const N: u64 = 10_000;
    let mut errors = 0u64;
    let mut sent = 0u64;
    let mut pending = FuturesUnordered::new();
    // 64 in flight.
    while sent < N || !pending.is_empty() {
        while sent < N && pending.len() < 64 {
            pending.push(requester.request("n", sent.to_string()));
            sent += 1;
        }
        let reply = within("request", pending.next()).await.unwrap().unwrap();
        if reply
            .headers
            .as_ref()
            .and_then(gnat_service::service_error)
            .is_some()
        {
            errors += 1;
        }
    }
    assert_eq!(errors, N / 100);
    let stats = Discovery::new(&requester)
        .stats(Some("counted"), Some(service.id()))
        .await
        .unwrap();
    let ep = &stats[0].endpoints[0];
    assert_eq!(ep.num_requests, N);
    assert_eq!(ep.num_errors, N / 100);
    assert!(
        ep.last_error.starts_with("500:failed "),
        "{}",
        ep.last_error
    );
    assert!(ep.processing_time > 0);
    assert_eq!(ep.average_processing_time, ep.processing_time / N);

    service.reset();
    let ep = &service.stats().endpoints[0];
    assert_eq!(
        (
            ep.num_requests,
            ep.num_errors,
            ep.processing_time,
            ep.average_processing_time
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(ep.last_error, "");
}

#[tokio::test]
async fn invalid_names_versions_subjects_and_queue_groups_are_refused() {
    let server = NatsServer::start();
    let client = client(&server.url()).await;
    for name in ["", "a.b", "a b", "a*", "srv>", "naïve"] {
        let err = Service::builder(name, "1.0.0")
            .start(&client)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{name:?}: {err}");
        assert!(err.is_invalid_config());
    }
    for version in [
        "", "1", "1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0+", "1.0.0 ",
    ] {
        let err = Service::builder("ok", version)
            .start(&client)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidVersion, "{version:?}: {err}");
    }
    let err = Service::builder("ok", "1.0.0")
        .queue_group("a b")
        .start(&client)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidQueueGroup);
    // Nothing was subscribed for the refused services.
    assert!(
        client
            .request("$SRV.PING", "")
            .await
            .unwrap_err()
            .is_no_responders()
    );

    let service = Service::builder("ok", "1.0.0")
        .start(&client)
        .await
        .unwrap();
    let cases = [
        (service.endpoint("a.b"), ErrorKind::InvalidName),
        (service.endpoint("sp ace"), ErrorKind::InvalidName),
        (
            service.endpoint("e").subject("a b"),
            ErrorKind::InvalidSubject,
        ),
        (
            service.endpoint("e").subject("a.>.b"),
            ErrorKind::InvalidSubject,
        ),
        (
            service.endpoint("e").subject("a..b"),
            ErrorKind::InvalidSubject,
        ),
        (service.endpoint("e").subject(""), ErrorKind::InvalidSubject),
        (
            service.group("g.>").endpoint("e"),
            ErrorKind::InvalidSubject,
        ),
        (
            service.group("g\r\n").endpoint("e"),
            ErrorKind::InvalidSubject,
        ),
        (
            service.group("g").endpoint("e").queue_group("q q"),
            ErrorKind::InvalidQueueGroup,
        ),
        (
            service.group("g").queue_group("").endpoint("e"),
            ErrorKind::InvalidQueueGroup,
        ),
    ];
    for (builder, kind) in cases {
        let err = builder.add().await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
    }
    assert!(service.info().endpoints.is_empty());
    // A wildcard subject is fine, and so is `>` last.
    service.endpoint("w").subject("w.>").add().await.unwrap();
    // An error text that would break the header block is refused, nothing sent.
    assert!(gnat_service::error_headers(500, "a\r\nInjected: yes").is_err());
}

#[tokio::test]
async fn a_panicking_handler_is_an_error_reply_and_an_error_count_not_a_dead_service() {
    let server = NatsServer::start();
    let client = client(&server.url()).await;
    let service = Service::builder("fragile", "1.0.0")
        .start(&client)
        .await
        .unwrap();
    service
        .endpoint("p")
        .serve(|req| async move {
            tokio::task::yield_now().await;
            match &req.payload()[..] {
                b"async" => panic!("boom after an await"),
                _ => {
                    let _ = req.respond("fine").await;
                }
            }
        })
        .await
        .unwrap();
    fn sync_panics(req: gnat_service::Request) -> std::future::Ready<()> {
        if &req.payload()[..] == b"sync" {
            panic!("boom before the future");
        }
        drop(req);
        std::future::ready(())
    }
    service.endpoint("s").serve(sync_panics).await.unwrap();

    for round in 0..3 {
        let reply = client.request("p", "async").await.unwrap();
        let (code, text) = gnat_service::service_error(&reply.headers.unwrap()).unwrap();
        assert_eq!(code, 500);
        assert!(text.contains("boom after an await"), "{text}");
        let ok = client.request("p", "hello").await.unwrap();
        assert_eq!(&ok.payload[..], b"fine", "round {round}");
    }
    let reply = client.request("s", "sync").await.unwrap();
    let (code, text) = gnat_service::service_error(&reply.headers.unwrap()).unwrap();
    assert_eq!((code, text.contains("boom before the future")), (500, true));

    let stats = service.stats();
    assert_eq!(
        (
            stats.endpoints[0].num_requests,
            stats.endpoints[0].num_errors
        ),
        (6, 3)
    );
    assert!(
        stats.endpoints[0]
            .last_error
            .starts_with("500:handler panicked")
    );
    assert_eq!(
        (
            stats.endpoints[1].num_requests,
            stats.endpoints[1].num_errors
        ),
        (1, 1)
    );
    // Discovery still answers.
    assert_eq!(
        Discovery::new(&client)
            .ping(Some("fragile"))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn stop_drains_waits_for_handlers_within_a_bound_and_unsubscribes_everything() {
    let server = NatsServer::start();
    let c = client(&server.url()).await;
    let requester = client(&server.url()).await;
    let service = Service::builder("stoppable", "1.0.0")
        .start(&c)
        .await
        .unwrap();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let entered = Arc::new(AtomicUsize::new(0));
    let (g, e) = (gate.clone(), entered.clone());
    service
        .endpoint("slow")
        .serve(move |req| {
            let (g, e) = (g.clone(), e.clone());
            async move {
                e.fetch_add(1, Ordering::SeqCst);
                let _permit = g.acquire().await;
                let _ = req.respond("done").await;
            }
        })
        .await
        .unwrap();
    let mut stream = service.endpoint("stream").add().await.unwrap();
    let stream_task = tokio::spawn(async move {
        let mut n = 0;
        while let Some(req) = stream.next().await {
            let _ = req.respond("s").await;
            n += 1;
        }
        n
    });
    assert_eq!(
        &requester.request("stream", "").await.unwrap().payload[..],
        b"s"
    );

    let pending: Vec<_> = (0..3)
        .map(|_| {
            let r = requester.clone();
            tokio::spawn(async move { r.request("slow", "").await })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while entered.load(Ordering::SeqCst) < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "handlers never entered"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Three handlers hold their requests: a short bound is not enough.
    let report = service.stop(Duration::from_millis(200)).await;
    assert!(!report.finished);
    assert_eq!(report.in_flight, 3);
    assert!(service.is_stopped());
    // Let them finish: stopping again now finishes.
    gate.add_permits(3);
    let report = within("stop", service.stop(DEADLINE)).await;
    assert!(report.finished, "{report:?}");
    assert_eq!((report.in_flight, report.open_endpoints), (0, 0));
    for p in pending {
        assert_eq!(&p.await.unwrap().unwrap().payload[..], b"done");
    }
    assert_eq!(within("stream end", stream_task).await.unwrap(), 1);
    within("stopped", service.stopped()).await;
    // Everything is unsubscribed.
    for subject in [
        "slow",
        "stream",
        "$SRV.PING",
        "$SRV.INFO.stoppable",
        "$SRV.STATS",
    ] {
        let err = requester.request(subject, "").await.unwrap_err();
        assert!(err.is_no_responders(), "{subject}: {err}");
    }
    let err = service.endpoint("late").add().await.unwrap_err();
    assert!(err.is_stopped());
}

#[tokio::test]
async fn endpoints_added_later_show_in_info_and_reach_their_handlers() {
    let server = NatsServer::start();
    let client = client(&server.url()).await;
    let service = Service::builder("growing", "1.0.0")
        .start(&client)
        .await
        .unwrap();
    let discovery = Discovery::new(&client);
    assert!(
        discovery.info(Some("growing"), None).await.unwrap()[0]
            .endpoints
            .is_empty()
    );
    service
        .group("")
        .endpoint("first")
        .serve(|r| async move {
            let _ = r.respond("1").await;
        })
        .await
        .unwrap();
    service
        .endpoint("second")
        .subject("two")
        .serve(|r| async move {
            let _ = r.respond("2").await;
        })
        .await
        .unwrap();
    let info = &discovery.info(Some("growing"), None).await.unwrap()[0];
    let subjects: Vec<&str> = info.endpoints.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(subjects, ["first", "two"]);
    assert_eq!(&client.request("two", "").await.unwrap().payload[..], b"2");
    assert_eq!(
        &client.request("first", "").await.unwrap().payload[..],
        b"1"
    );
}

#[tokio::test]
async fn queue_groups_come_from_the_endpoint_then_the_group_then_the_service() {
    let server = NatsServer::start();
    let client = client(&server.url()).await;
    let service = Service::builder("queues", "1.0.0")
        .queue_group("svcq")
        .start(&client)
        .await
        .unwrap();
    let ok = |r: gnat_service::Request| async move {
        let _ = r.respond("ok").await;
    };
    service.endpoint("direct").serve(ok).await.unwrap();
    let group = service.group("g");
    group.endpoint("inherits").serve(ok).await.unwrap();
    let plain = group.group("plain").no_queue_group();
    plain.endpoint("none").serve(ok).await.unwrap();
    plain
        .endpoint("own")
        .queue_group("mine")
        .serve(ok)
        .await
        .unwrap();
    let queues: Vec<(String, String)> = service
        .info()
        .endpoints
        .into_iter()
        .map(|e| (e.subject, e.queue_group))
        .collect();
    let want = [
        ("direct", "svcq"),
        ("g.inherits", "svcq"),
        ("g.plain.none", ""),
        ("g.plain.own", "mine"),
    ];
    assert_eq!(queues, want.map(|(s, q)| (s.to_string(), q.to_string())));

    // A service without a queue group: both instances receive every request.
    for _ in 0..2 {
        let s = Service::builder("fanout", "1.0.0")
            .no_queue_group()
            .start(&client)
            .await
            .unwrap();
        s.endpoint("fan").serve(ok).await.unwrap();
        assert_eq!(s.info().endpoints[0].queue_group, "");
    }
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(&inbox).await.unwrap();
    client.publish_with_reply("fan", &inbox, "").await.unwrap();
    for _ in 0..2 {
        within("fan-out replies", replies.next()).await.unwrap();
    }
}

#[tokio::test]
async fn a_stream_endpoint_drains_on_stop_and_a_held_request_keeps_stop_unfinished() {
    let server = NatsServer::start();
    let c = client(&server.url()).await;
    let requester = client(&server.url()).await;
    let service = Service::builder("held", "1.0.0").start(&c).await.unwrap();
    let mut endpoint = service.endpoint("hold").add().await.unwrap();
    let asking = {
        let r = requester.clone();
        tokio::spawn(async move { r.request("hold", "wait for me").await })
    };
    let held = within("request", endpoint.next()).await.unwrap();
    assert_eq!(&held.payload()[..], b"wait for me");
    // The reader keeps polling; the held request is still unanswered.
    let reader = tokio::spawn(async move {
        let mut more = 0;
        while endpoint.next().await.is_some() {
            more += 1;
        }
        more
    });
    let report = service.stop(Duration::from_millis(300)).await;
    assert!(!report.finished);
    assert_eq!(
        (report.in_flight, report.open_endpoints),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(within("stream end", reader).await.unwrap(), 0);
    held.respond("answered late").await.unwrap();
    assert_eq!(
        &within("reply", asking).await.unwrap().unwrap().payload[..],
        b"answered late"
    );
    let report = service.stop(DEADLINE).await;
    assert!(report.finished, "{report:?}");
    assert_eq!(service.stats().endpoints[0].num_requests, 1);
}

#[tokio::test]
async fn a_custom_api_prefix_moves_discovery() {
    let server = NatsServer::start();
    let client = client(&server.url()).await;
    let service = Service::builder("prefixed", "1.0.0")
        .api_prefix("$MYSRV")
        .start(&client)
        .await
        .unwrap();
    assert!(Discovery::new(&client).ping(None).await.unwrap().is_empty());
    let found = Discovery::new(&client)
        .api_prefix("$MYSRV")
        .ping(Some("prefixed"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, service.id());
    let err = Service::builder("x", "1.0.0")
        .api_prefix("bad prefix")
        .start(&client)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSubject);
}

#[tokio::test]
async fn a_closed_client_ends_the_service_and_stop_still_reports_finished() {
    let server = NatsServer::start();
    let c = client(&server.url()).await;
    let service = Service::builder("orphan", "1.0.0").start(&c).await.unwrap();
    service
        .endpoint("e")
        .serve(|r| async move {
            let _ = r.respond("x").await;
        })
        .await
        .unwrap();
    let mut stream = service.endpoint("s").add().await.unwrap();
    c.close().await;
    assert!(within("stream end", stream.next()).await.is_none());
    let report = within("stop", service.stop(DEADLINE)).await;
    assert!(report.finished, "{report:?}");
    let err = service.endpoint("late").add().await.unwrap_err();
    assert!(err.is_stopped(), "{err}");
}
