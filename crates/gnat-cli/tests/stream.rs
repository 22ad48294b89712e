//! `gnat stream …` against a real JetStream server: add/info/ls/get/view/edit/purge/report/rm,
//! their `--json` forms, and bad input that changes nothing on the server.

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

fn publish(g: &Gnat, subject: &str, body: &str, header: Option<&str>) {
    let mut args = vec!["pub", subject, body];
    if let Some(h) = header {
        args.extend(["-H", h]);
    }
    g.ok(&args);
}

#[test]
fn stream_lifecycle() {
    let g = Gnat::start();
    let out = g.ok(&[
        "stream",
        "add",
        "ORDERS",
        "--subjects",
        "orders.*",
        "--max-msgs",
        "1000",
        "--max-bytes",
        "1MiB",
        "--max-age",
        "1h",
        "--storage",
        "memory",
        "--description",
        "the orders",
        "--metadata",
        "team=shop",
        "--deny-delete",
        "--defaults",
    ]);
    assert!(
        out.starts_with("Stream ORDERS was created\n\nInformation for Stream ORDERS created "),
        "{out}"
    );
    assert_eq!(field(&out, "Subjects"), "orders.*");
    assert_eq!(field(&out, "Storage"), "Memory");
    assert_eq!(field(&out, "Maximum Messages"), "1,000");
    assert_eq!(field(&out, "Maximum Bytes"), "1.0 MiB");
    assert_eq!(field(&out, "Maximum Age"), "1h0m0s");
    assert_eq!(field(&out, "Allows Msg Delete"), "false");
    assert_eq!(field(&out, "team"), "shop");
    assert_eq!(field(&out, "Messages"), "0");

    publish(&g, "orders.new", "order 1", Some("X-Id:1"));
    publish(&g, "orders.new", "order 2", Some("X-Id:2"));
    publish(&g, "orders.old", "old one", None);

    let info = json(&g.ok(&["stream", "info", "--json", "ORDERS"]));
    assert_eq!(info["config"]["name"], "ORDERS");
    assert_eq!(info["state"]["messages"], 3);
    assert_eq!(info["config"]["deny_delete"], true);
    let state = g.ok(&["stream", "info", "ORDERS", "--state"]);
    assert!(
        state.starts_with("State for Stream ORDERS created "),
        "{state}"
    );
    assert!(!state.contains("Options:"), "{state}");
    assert!(
        field(&state, "Last Sequence").starts_with("3 @ "),
        "{state}"
    );

    // ls: the table, names, JSON; a subject filter.
    g.ok(&["stream", "add", "OTHER", "--subjects", "other.>"]);
    let ls = g.ok(&["stream", "ls"]);
    let rows = table_rows(&ls, "ORDERS");
    assert_eq!(rows.len(), 1, "{ls}");
    assert_eq!(rows[0][1], "the orders");
    assert_eq!(rows[0][2], "orders.*");
    assert_eq!(rows[0][4], "3");
    assert_ne!(rows[0][6], "never");
    assert_eq!(table_rows(&ls, "OTHER")[0][6], "never");
    assert_eq!(g.ok(&["stream", "ls", "-n"]), "ORDERS\nOTHER\n");
    assert_eq!(
        json(&g.ok(&["stream", "ls", "--json", "--subject", "orders.new"])),
        serde_json::json!(["ORDERS"])
    );

    // get: by sequence (headers shown) and last by subject; JSON.
    let got = g.ok(&["stream", "get", "ORDERS", "2"]);
    assert!(got.starts_with("Item: ORDERS#2 received "), "{got}");
    assert!(
        got.contains(" on Subject orders.new\n\nHeaders:\n  X-Id: 2\n\norder 2\n"),
        "{got}"
    );
    let last = json(&g.ok(&["stream", "get", "ORDERS", "-S", "orders.old", "--json"]));
    assert_eq!(last["seq"], 3);
    assert_eq!(last["data"], "old one");
    let first = json(&g.ok(&["stream", "get", "ORDERS", "1", "--json"]));
    assert_eq!(first["headers"]["X-Id"][0], "1");

    // view: every page when stdin is not a terminal; --subject and --raw.
    let run = g.run(&["stream", "view", "ORDERS", "2"]);
    assert_eq!(run.code, 0, "{run:?}");
    let heads: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(heads.len(), 3, "{}", run.stdout);
    assert!(
        heads[0].starts_with("[1] Subject: orders.new Received: "),
        "{heads:?}"
    );
    assert!(
        run.stdout.contains("\n  X-Id: 1\n\norder 1\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("Reached apparent end of data"),
        "{run:?}"
    );
    assert_eq!(
        g.ok(&[
            "stream",
            "view",
            "ORDERS",
            "--subject",
            "orders.new",
            "--raw"
        ]),
        "order 1\norder 2\n"
    );
    assert_eq!(
        g.ok(&["stream", "view", "ORDERS", "--id", "3", "--raw"]),
        "old one\n"
    );
    assert_eq!(
        g.ok(&["stream", "view", "ORDERS", "--since", "1h", "--raw"]),
        "order 1\norder 2\nold one\n"
    );

    // edit: differences, dry run, then the change.
    let dry = g.ok(&["stream", "edit", "ORDERS", "--max-msgs", "10", "--dry-run"]);
    assert!(dry.contains("-  max_msgs: 1000\n+  max_msgs: 10"), "{dry}");
    assert_eq!(
        json(&g.ok(&["stream", "info", "--json", "ORDERS"]))["config"]["max_msgs"],
        1000
    );
    let err = g.fails(&["stream", "edit", "ORDERS", "--max-msgs", "10"], 2);
    assert!(err.contains("-f"), "{err}");
    let edited = g.ok(&["stream", "edit", "ORDERS", "--max-msgs", "10", "-f"]);
    assert_eq!(field(&edited, "Maximum Messages"), "10");
    assert_eq!(
        g.ok(&["stream", "edit", "ORDERS", "--max-msgs", "10", "-f"]),
        "No difference in configuration\n"
    );

    // report: the table.
    let report = g.ok(&["stream", "report"]);
    assert!(report.contains("Stream Report (2 streams)"), "{report}");
    let row = &table_rows(&report, "ORDERS")[0];
    assert_eq!(row[1], "Memory");
    assert_eq!(row[4], "3");

    // purge: by subject, then everything.
    let purged = g.ok(&["stream", "purge", "ORDERS", "--subject", "orders.old", "-f"]);
    assert!(
        purged.starts_with("Purged 1 messages from ORDERS\n"),
        "{purged}"
    );
    let purged = json(&g.ok(&["stream", "purge", "ORDERS", "-f", "--json"]));
    assert_eq!(purged["purged"], 2);
    assert_eq!(purged["state"]["messages"], 0);

    // rm: needs confirmation.
    g.fails(&["stream", "rm", "OTHER"], 2);
    g.ok(&["stream", "rm", "OTHER", "-f"]);
    g.ok(&["stream", "rm", "ORDERS", "-f"]);
    assert_eq!(g.ok(&["stream", "ls"]), "No Streams defined\n");
}

/// One line on stderr, the exit code, and no stream made or changed.
#[test]
fn bad_stream_input_changes_nothing() {
    let g = Gnat::start();
    let one_line = |args: &[&str], code: i32| {
        let err = g.fails(args, code);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    };
    one_line(&["stream", "add", "a.b"], 2);
    one_line(&["stream", "add", "A", "--replicas", "9"], 2);
    one_line(&["stream", "add", "A", "--max-msgs", "-5"], 2);
    one_line(&["stream", "add", "A", "--max-bytes", "lots"], 2);
    one_line(&["stream", "add", "A", "--max-age", "forever"], 2);
    one_line(&["stream", "add", "A", "--retention", "sometimes"], 2);
    one_line(&["stream", "add", "A", "--subjects", "a b"], 2);
    one_line(
        &["stream", "add", "A", "--config", "/nonexistent/stream.json"],
        2,
    );
    let dir = std::env::temp_dir().join(format!("gnat-stream-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{not json").unwrap();
    one_line(
        &["stream", "add", "A", "--config", bad.to_str().unwrap()],
        2,
    );
    assert_eq!(g.ok(&["stream", "ls"]), "No Streams defined\n");

    // A configuration file works, and flags override it.
    let good = dir.join("good.json");
    std::fs::write(
        &good,
        r#"{"name":"FROMFILE","subjects":["ff.>"],"max_msgs":5}"#,
    )
    .unwrap();
    let out = g.ok(&[
        "stream",
        "add",
        "--config",
        good.to_str().unwrap(),
        "--max-msgs",
        "7",
    ]);
    assert_eq!(field(&out, "Subjects"), "ff.>");
    assert_eq!(field(&out, "Maximum Messages"), "7");
    std::fs::remove_dir_all(&dir).unwrap();

    one_line(&["stream", "info", "MISSING"], 4);
    one_line(&["stream", "get", "FROMFILE", "99"], 4);
    one_line(&["stream", "rm", "MISSING", "-f"], 4);
    one_line(&["stream", "purge", "MISSING", "-f"], 4);
    one_line(&["stream", "edit", "FROMFILE", "--replicas", "0"], 2);
    one_line(&["stream", "view", "FROMFILE", "30"], 2);
    one_line(&["stream", "get", "FROMFILE"], 2);
    let info = json(&g.ok(&["stream", "info", "--json", "FROMFILE"]));
    assert_eq!(info["config"]["max_msgs"], 7);
    assert_eq!(
        json(&g.ok(&["stream", "ls", "--json"])),
        serde_json::json!(["FROMFILE"])
    );
}
