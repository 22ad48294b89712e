//! `gnat micro` end to end: the built binary finds gnat services and a nats-py service
//! (pip-installed by the test harness) through `$SRV` discovery, in tables and in JSON.

mod common;

use common::{DEADLINE, Gnat};
use gnat_test_support::peer::NatsPyService;
use serde_json::Value;

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Two instances of `gnat-echo` (endpoint `echo.say`, plus `echo.fail` that always errs),
/// served on `rt`; returns their ids.
fn start_gnat_services(rt: &tokio::runtime::Runtime, url: &str) -> Vec<String> {
    rt.block_on(async {
        let mut ids = Vec::new();
        for i in 0..2 {
            let client = service::client::connect(url).await.expect("connect");
            let svc = service::Service::builder("gnat-echo", "1.4.0")
                .description("echoes for the cli")
                .metadata("instance", i.to_string())
                .start(&client)
                .await
                .expect("start service");
            let group = svc.group("echo");
            group
                .endpoint("say")
                .serve(|r| async move {
                    let p = r.payload().clone();
                    let _ = r.respond(p).await;
                })
                .await
                .expect("endpoint");
            group
                .endpoint("fail")
                .serve(|r| async move {
                    let _ = r.respond_error(409, "always").await;
                })
                .await
                .expect("endpoint");
            // Through the queue group either instance may answer: the counts are checked
            // as totals over both.
            for _ in 0..3 {
                client.request("echo.say", "x").await.expect("request");
            }
            client.request("echo.fail", "x").await.expect("request");
            ids.push(svc.id().to_string());
        }
        ids.sort();
        ids
    })
}

/// `gnat micro <args> --timeout 10s`: a stall of 1 s after each answer, so that every
/// instance gets its answer in even on a loaded machine.
fn micro(args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = vec!["micro".into()];
    all.extend(args.iter().map(|a| a.to_string()));
    all.extend(["--timeout".into(), "10s".into()]);
    all
}

#[test]
fn micro_commands_find_gnat_and_nats_py_services() {
    let g = Gnat::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ids = start_gnat_services(&rt, &g.url);
    let py = NatsPyService::start(&g.url, DEADLINE);

    // ls: every service, natscli's table.
    let out = g.ok(&refs(&micro(&["ls"])));
    assert!(out.contains("All Micro Services"), "{out}");
    for header in ["Name", "Version", "ID", "Description"] {
        assert!(out.contains(header), "{out}");
    }
    for id in ids.iter().map(String::as_str).chain([py.id()]) {
        assert!(out.contains(id), "{id} missing from:\n{out}");
    }
    assert!(
        out.contains("py-echo") && out.contains("python peer"),
        "{out}"
    );
    assert_eq!(
        out.matches("gnat-echo").count(),
        1,
        "repeated names are blanked:\n{out}"
    );

    // ls <name> --json: the INFO replies of that service only, sorted by id.
    let listed = json(&g.ok(&refs(&micro(&["ls", "gnat-echo", "--json"]))));
    let listed_ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed_ids, ids);
    assert_eq!(listed[0]["endpoints"][0]["subject"], "echo.say");
    let py_listed = json(&g.ok(&refs(&micro(&["ls", "py-echo", "--json"]))));
    assert_eq!(py_listed[0]["id"], py.id());
    assert_eq!(py_listed[0]["version"], "1.2.3");

    // info: one instance, its endpoints and statistics.
    let out = g.ok(&refs(&micro(&["info", "gnat-echo", &ids[1]])));
    assert!(
        out.contains(&format!("Service: gnat-echo ({})", ids[1])),
        "{out}"
    );
    assert!(out.contains("Description: echoes for the cli"), "{out}");
    assert!(
        out.contains("Subject: echo.say") && out.contains("Subject: echo.fail"),
        "{out}"
    );
    assert!(out.contains("Queue Group: q"), "{out}");
    assert!(out.contains("Statistics for 2 Endpoint(s)"), "{out}");
    let out = g.ok(&refs(&micro(&["info", "py-echo"])));
    assert!(
        out.contains(&format!("Service: py-echo ({})", py.id())),
        "{out}"
    );
    assert!(out.contains("Subject: py.fail"), "{out}");
    let both = json(&g.ok(&refs(&micro(&["info", "gnat-echo", &ids[0], "--json"]))));
    assert_eq!(both["info"]["id"], ids[0].as_str());
    assert_eq!(both["stats"]["id"], ids[0].as_str());
    assert_eq!(both["stats"]["type"], "io.nats.micro.v1.stats_response");

    // stats: every instance, a row per endpoint and a total that adds them up.
    let stats = json(&g.ok(&refs(&micro(&["stats", "gnat-echo", "--json"]))));
    let stats = stats.as_array().unwrap();
    assert_eq!(stats.len(), 2);
    let total = |endpoint: &str, field: &str| -> u64 {
        stats
            .iter()
            .flat_map(|s| s["endpoints"].as_array().unwrap())
            .filter(|e| e["name"] == endpoint)
            .map(|e| e[field].as_u64().unwrap())
            .sum()
    };
    assert_eq!(total("say", "num_requests"), 6);
    assert_eq!(total("fail", "num_requests"), 2);
    assert_eq!(total("fail", "num_errors"), 2);
    let out = g.ok(&refs(&micro(&["stats", "gnat-echo"])));
    assert!(out.contains("gnat-echo Service Statistics"), "{out}");
    for header in [
        "Endpoint",
        "Requests",
        "Errors",
        "Processing Time",
        "Average Time",
    ] {
        assert!(out.contains(header), "{out}");
    }
    let total_row = out
        .lines()
        .find(|l| l.contains("total"))
        .unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = total_row.split('│').map(str::trim).collect();
    assert_eq!(&cells[3..5], ["8", "2"], "{total_row}");

    // ping: one line per instance with its round-trip time.
    let out = g.ok(&refs(&micro(&["ping"])));
    assert_eq!(out.lines().count(), 3, "{out}");
    for id in ids.iter().map(String::as_str).chain([py.id()]) {
        let line = out
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{id}:\n{out}"));
        assert!(line.contains("rtt="), "{line}");
    }
    let pings = json(&g.ok(&refs(&micro(&["ping", "py-echo", "--json"]))));
    assert_eq!(pings.as_array().unwrap().len(), 1);
    assert_eq!(pings[0]["id"], py.id());
    assert!(pings[0]["rtt"].as_u64().unwrap() > 0);

    // Nothing there, and bad names.
    assert_eq!(
        g.ok(&refs(&micro(&["ls", "nobody"]))).trim(),
        "No results received"
    );
    let err = g.fails(&refs(&micro(&["info", "nobody"])), 1);
    assert!(err.contains("no instance of service nobody"), "{err}");
    let err = g.fails(&refs(&micro(&["stats", "a.b"])), 2);
    assert!(err.contains("a.b"), "{err}");
    drop(py);
}
