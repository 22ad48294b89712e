//! `gnat consumer …` against a real JetStream server: add (pull and push), info, ls, next
//! (fetching and acknowledging), pause/resume, report, rm, and bad input that changes nothing.

mod common;

use common::{Gnat, table_rows};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn field<'a>(block: &'a str, label: &str) -> &'a str {
    let prefix = format!("{label}: ");
    block
        .lines()
        .map(str::trim_start)
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {label:?} in\n{block}"))
}

fn orders(g: &Gnat) {
    g.ok(&["stream", "add", "ORDERS", "--subjects", "orders.*"]);
    for i in 1..=3 {
        let body = format!("order {i}");
        let header = format!("X-Id:{i}");
        g.ok(&["pub", "orders.new", &body, "-H", &header]);
    }
    g.ok(&["pub", "orders.old", "old one"]);
}

#[test]
fn consumer_lifecycle() {
    let g = Gnat::start();
    orders(&g);
    let out = g.ok(&[
        "consumer",
        "add",
        "ORDERS",
        "NEW",
        "--filter",
        "orders.new",
        "--description",
        "new orders",
        "--max-deliver",
        "5",
        "--wait",
        "10s",
        "--metadata",
        "team=shop",
        "--defaults",
    ]);
    assert!(
        out.starts_with("Information for Consumer ORDERS > NEW created "),
        "{out}"
    );
    assert_eq!(field(&out, "Pull Mode"), "true");
    assert_eq!(field(&out, "Filter Subject"), "orders.new");
    assert_eq!(field(&out, "Ack Wait"), "10s");
    assert_eq!(field(&out, "Maximum Deliveries"), "5");
    assert_eq!(field(&out, "team"), "shop");
    assert_eq!(field(&out, "Unprocessed Messages"), "3");

    let push = g.ok(&[
        "consumer",
        "add",
        "ORDERS",
        "PUSHED",
        "--target",
        "deliver.here",
        "--deliver",
        "last",
        "--ack",
        "none",
    ]);
    assert_eq!(field(&push, "Delivery Subject"), "deliver.here");
    assert_eq!(field(&push, "Deliver Policy"), "Last");
    assert_eq!(field(&push, "Active Interest"), "No interest");

    // next: one message with its headers, acknowledged.
    let next = g.ok(&["consumer", "next", "ORDERS", "NEW"]);
    assert!(
        next.contains("subj: orders.new / tries: 1 / cons seq: 1 / str seq: 1 / pending: 2\n"),
        "{next}"
    );
    assert!(
        next.contains("\nHeaders:\n\n  X-Id: 1\n\nData:\n\norder 1\n"),
        "{next}"
    );
    assert!(next.ends_with("\nAcknowledged message\n"), "{next}");
    // Two more in one go, raw.
    assert_eq!(
        g.ok(&["consumer", "next", "ORDERS", "NEW", "--count", "2", "--raw"]),
        "order 2\norder 3\n"
    );
    let info = json(&g.ok(&["consumer", "info", "ORDERS", "NEW", "--json"]));
    assert_eq!(info["num_pending"], 0);
    assert_eq!(info["num_ack_pending"], 0);
    assert_eq!(info["ack_floor"]["stream_seq"], 3);
    // Nothing left: a failure within --timeout.
    let err = g.fails(&["--timeout", "1s", "consumer", "next", "ORDERS", "NEW"], 1);
    assert!(err.contains("no message received"), "{err}");
    // --ack=false leaves a message pending; --nak redelivers it.
    g.ok(&["pub", "orders.new", "order 4"]);
    g.ok(&["consumer", "next", "ORDERS", "NEW", "--ack=false", "--raw"]);
    assert_eq!(
        json(&g.ok(&["consumer", "info", "ORDERS", "NEW", "--json"]))["num_ack_pending"],
        1
    );
    // A push consumer is not read by next.
    g.fails(&["consumer", "next", "ORDERS", "PUSHED"], 2);

    // ls and report.
    let ls = g.ok(&["consumer", "ls", "ORDERS"]);
    let row = &table_rows(&ls, "NEW")[0];
    assert_eq!(row[1], "new orders");
    assert_eq!(row[3], "1");
    assert_ne!(row[5], "never");
    assert_eq!(table_rows(&ls, "PUSHED")[0][5], "never");
    assert_eq!(g.ok(&["consumer", "ls", "ORDERS", "-n"]), "NEW\nPUSHED\n");
    assert_eq!(
        json(&g.ok(&["consumer", "ls", "ORDERS", "--json"])),
        serde_json::json!(["NEW", "PUSHED"])
    );
    let report = g.ok(&["consumer", "report", "ORDERS"]);
    assert!(
        report.contains("Consumer report for ORDERS with 2 consumers"),
        "{report}"
    );
    assert_eq!(table_rows(&report, "NEW")[0][1], "Pull");
    assert_eq!(table_rows(&report, "PUSHED")[0][1], "Push");
    assert_eq!(table_rows(&report, "PUSHED")[0][2], "None");

    // pause and resume.
    g.fails(&["consumer", "pause", "ORDERS", "NEW", "1h"], 2);
    let paused = g.ok(&["consumer", "pause", "ORDERS", "NEW", "1h", "-f"]);
    assert!(paused.starts_with("Paused ORDERS > NEW until "), "{paused}");
    let info = json(&g.ok(&["consumer", "info", "ORDERS", "NEW", "--json"]));
    assert_eq!(info["paused"], true);
    let text = g.ok(&["consumer", "info", "ORDERS", "NEW"]);
    assert!(field(&text, "Paused Until").contains("remaining"), "{text}");
    let resumed = g.ok(&["consumer", "resume", "ORDERS", "NEW", "-f"]);
    assert!(
        resumed.starts_with("Consumer ORDERS > NEW was resumed while previously paused until "),
        "{resumed}"
    );
    assert_eq!(
        json(&g.ok(&["consumer", "info", "ORDERS", "NEW", "--json"]))["paused"],
        false
    );
    g.fails(&["consumer", "resume", "ORDERS", "NEW", "-f"], 4);

    // rm.
    g.fails(&["consumer", "rm", "ORDERS", "NEW"], 2);
    g.ok(&["consumer", "rm", "ORDERS", "NEW", "-f"]);
    g.ok(&["consumer", "rm", "ORDERS", "PUSHED", "-f"]);
    assert_eq!(
        g.ok(&["consumer", "ls", "ORDERS"]),
        "No Consumers defined\n"
    );
}

#[test]
fn bad_consumer_input_changes_nothing() {
    let g = Gnat::start();
    orders(&g);
    let one_line = |args: &[&str], code: i32| {
        let err = g.fails(args, code);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    };
    one_line(&["consumer", "add", "ORDERS", "a.b"], 2);
    one_line(&["consumer", "add", "ORD.ERS", "C"], 2);
    one_line(&["consumer", "add", "ORDERS", "C", "--ack", "maybe"], 2);
    one_line(
        &["consumer", "add", "ORDERS", "C", "--deliver", "sometimes"],
        2,
    );
    one_line(&["consumer", "add", "ORDERS", "C", "--max-deliver", "0"], 2);
    one_line(&["consumer", "add", "ORDERS", "C", "--replicas", "7"], 2);
    one_line(&["consumer", "add", "ORDERS", "C", "--wait", "soon"], 2);
    one_line(&["consumer", "add", "ORDERS", "C", "--target", "a.*"], 2);
    one_line(
        &["consumer", "add", "ORDERS", "C", "--pull", "--target", "x"],
        2,
    );
    one_line(
        &[
            "consumer",
            "add",
            "ORDERS",
            "C",
            "--config",
            "/nonexistent/c.json",
        ],
        2,
    );
    one_line(&["consumer", "add", "MISSING", "C"], 4);
    one_line(&["consumer", "next", "ORDERS", "C", "--count", "0"], 2);
    one_line(&["consumer", "pause", "ORDERS", "C", "whenever", "-f"], 2);
    one_line(&["consumer", "info", "ORDERS", "MISSING"], 4);
    one_line(&["consumer", "rm", "ORDERS", "MISSING", "-f"], 4);
    assert_eq!(
        g.ok(&["consumer", "ls", "ORDERS"]),
        "No Consumers defined\n"
    );
}

#[test]
fn push_consumers_are_read_with_sub() {
    let g = Gnat::start();
    orders(&g);
    g.ok(&[
        "consumer",
        "add",
        "ORDERS",
        "PUSH",
        "--target",
        "deliver.orders",
        "--filter",
        "orders.new",
        "--heartbeat",
        "1s",
        "--flow-control",
    ]);
    let out = g.ok(&["consumer", "sub", "ORDERS", "PUSH", "--count", "2"]);
    assert!(
        out.contains("subj: orders.new / tries: 1 / cons seq: 1 / str seq: 1 / pending: 2\n"),
        "{out}"
    );
    assert!(out.contains("\n  X-Id: 2\n"), "{out}");
    assert_eq!(out.matches("\nAcknowledged message\n").count(), 2, "{out}");
    let info = json(&g.ok(&["consumer", "info", "ORDERS", "PUSH", "--json"]));
    assert!(
        info["ack_floor"]["stream_seq"].as_u64().unwrap() >= 2,
        "{info}"
    );
    // A queue-grouped push consumer is read in its group.
    g.ok(&[
        "consumer",
        "add",
        "ORDERS",
        "GROUPED",
        "--target",
        "deliver.grouped",
        "--deliver-group",
        "workers",
        "--deliver",
        "last",
    ]);
    let info = g.ok(&["consumer", "info", "ORDERS", "GROUPED"]);
    assert_eq!(field(&info, "Deliver Queue Group"), "workers");
    assert_eq!(
        g.ok(&[
            "consumer", "sub", "ORDERS", "GROUPED", "--count", "1", "--raw"
        ]),
        "old one\n"
    );
    // sub refuses pull consumers, next refuses push consumers.
    g.ok(&["consumer", "add", "ORDERS", "PULL"]);
    g.fails(&["consumer", "sub", "ORDERS", "PULL"], 2);
    g.fails(&["consumer", "next", "ORDERS", "PUSH"], 2);
}
