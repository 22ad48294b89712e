//! Interop with another client's services implementation: nats-py's `nats.micro` (installed
//! with pip under the cache root by the test harness) finds a gnat service and parses its
//! discovery replies with its own types, and gnat's [`Discovery`] finds a nats-py service.

mod common;

use common::{DEADLINE, client};
use gnat_service::{Discovery, Service};
use gnat_test_support::NatsServer;
use gnat_test_support::peer::{NatsPyService, python_with_nats_py};

fn script(name: &str) -> String {
    format!("{}/tests/peer/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn nats_py_discovers_a_gnat_service_and_parses_every_reply() {
    let server = NatsServer::start();
    let client = client(&server.url()).await;
    let service = Service::builder("gnat-calc", "0.9.1")
        .description("adds for python")
        .metadata("lang", "rust")
        .start(&client)
        .await
        .unwrap();
    service
        .group("calc")
        .endpoint("add")
        .metadata("op", "+")
        .serve(|req| async move {
            let text = String::from_utf8_lossy(req.payload()).into_owned();
            let sum: Result<i64, _> = text.split(',').map(|n| n.trim().parse::<i64>()).sum();
            let _ = match sum {
                Ok(sum) => req.respond(sum.to_string()).await,
                Err(_) => req.respond_error(400, "not a number").await,
            };
        })
        .await
        .unwrap();

    let url = server.url();
    let out = tokio::task::spawn_blocking(move || {
        python_with_nats_py()
            .arg(script("py_discover.py"))
            .arg(url)
            .arg("gnat-calc")
            .output()
            .expect("run python3")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    let ids: Vec<&str> = v["all"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [service.id()]);
    assert_eq!(v["ping"]["name"], "gnat-calc");
    assert_eq!(v["ping"]["version"], "0.9.1");
    assert_eq!(v["ping"]["metadata"]["lang"], "rust");
    assert_eq!(v["info"]["description"], "adds for python");
    assert_eq!(v["info"]["endpoints"][0]["subject"], "calc.add");
    assert_eq!(v["info"]["endpoints"][0]["queue_group"], "q");
    assert_eq!(v["info"]["endpoints"][0]["metadata"]["op"], "+");
    assert_eq!(v["add"], "42");
    assert_eq!(v["error"], serde_json::json!(["400", "not a number"]));
    let ep = &v["stats"]["endpoints"][0];
    assert_eq!(ep["num_requests"], 2);
    assert_eq!(ep["num_errors"], 1);
    assert_eq!(ep["last_error"], "400:not a number");
    assert!(v["started_year"].as_i64().unwrap() >= 2024);
}

#[tokio::test]
async fn gnat_discovery_finds_a_nats_py_service() {
    let server = NatsServer::start();
    let client = client(&server.url()).await;
    let url = server.url();
    let py = tokio::task::spawn_blocking(move || NatsPyService::start(&url, DEADLINE))
        .await
        .unwrap();
    let id = py.id().to_string();
    let discovery = Discovery::new(&client);

    let pings = discovery.ping(None).await.unwrap();
    assert_eq!(pings.len(), 1);
    assert_eq!(
        (pings[0].name.as_str(), pings[0].id.as_str()),
        ("py-echo", id.as_str())
    );
    assert_eq!(pings[0].kind, "io.nats.micro.v1.ping_response");

    let info = discovery.info(Some("py-echo"), Some(&id)).await.unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].version, "1.2.3");
    assert_eq!(info[0].description, "python peer");
    assert_eq!(
        info[0].metadata.get("lang").map(String::as_str),
        Some("python")
    );
    let subjects: Vec<(&str, &str)> = info[0]
        .endpoints
        .iter()
        .map(|e| (e.subject.as_str(), e.queue_group.as_str()))
        .collect();
    assert_eq!(subjects, [("echo", "q"), ("py.fail", "q")]);

    assert_eq!(
        &client.request("echo", "hi").await.unwrap().payload[..],
        b"hi"
    );
    let failed = client.request("py.fail", "").await.unwrap();
    assert_eq!(
        gnat_service::service_error(&failed.headers.unwrap()),
        Some((422, "nope from python".into()))
    );

    let stats = discovery.stats(Some("py-echo"), None).await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].id, id);
    let by_name: Vec<(&str, u64)> = stats[0]
        .endpoints
        .iter()
        .map(|e| (e.name.as_str(), e.num_requests))
        .collect();
    assert_eq!(by_name, [("echo", 1), ("fail", 1)]);
    assert!(!stats[0].started.is_empty());
}
