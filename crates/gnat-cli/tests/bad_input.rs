//! Bad input across the command groups, against a real JetStream server holding a stream, a
//! consumer, a bucket and an object store: every case is one line on stderr with the
//! documented exit code (2 usage, 4 refused by the server), and the server's state — streams,
//! their configurations, message counts, consumers — is the same afterwards.

mod common;

use common::Gnat;
use serde_json::Value;

/// What the server holds: every stream's name, configuration and message count, and every
/// consumer.
fn state(g: &Gnat) -> Value {
    let streams: Value =
        serde_json::from_str(&g.ok(&["stream", "report", "--json"])).expect("report JSON");
    let mut out = Vec::new();
    for s in streams.as_array().expect("array") {
        let name = s["config"]["name"].as_str().expect("name").to_string();
        let consumers: Value =
            serde_json::from_str(&g.ok(&["consumer", "ls", &name, "--json"])).expect("JSON");
        out.push(serde_json::json!({
            "name": name,
            "config": s["config"],
            "messages": s["state"]["messages"],
            "consumers": consumers,
        }));
    }
    Value::Array(out)
}

#[test]
fn bad_input_is_one_line_and_changes_nothing() {
    let g = Gnat::start();
    g.ok(&["stream", "add", "S", "--subjects", "s.>"]);
    g.ok(&["pub", "s.a", "one"]);
    g.ok(&["consumer", "add", "S", "C"]);
    g.ok(&["kv", "add", "B"]);
    g.ok(&["kv", "put", "B", "k", "v"]);
    g.ok(&["object", "add", "O"]);
    let before = state(&g);

    let dir = std::env::temp_dir().join(format!("gnat-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "[1, 2").unwrap();
    let garbage = garbage.to_str().unwrap().to_string();
    let missing = dir.join("missing").to_str().unwrap().to_string();

    let cases: Vec<(Vec<&str>, i32)> = vec![
        // Invalid names.
        (vec!["stream", "add", "S.T"], 2),
        (vec!["stream", "add", "S*"], 2),
        (vec!["stream", "info", "a b"], 2),
        (vec!["consumer", "add", "S", "C>"], 2),
        (vec!["consumer", "info", "S", "C.D"], 2),
        (vec!["kv", "add", "bad.name"], 2),
        (vec!["kv", "put", "B", "bad key", "v"], 2),
        (vec!["kv", "del", "B", "bad key", "-f"], 2),
        (vec!["object", "add", "bad.name"], 2),
        (vec!["micro", "info", "bad.name"], 2),
        (vec!["pub", "a b", "x"], 2),
        (vec!["--js-domain", "a.b", "stream", "ls"], 2),
        (vec!["--context", "a/b", "stream", "ls"], 2),
        // Flags out of range.
        (vec!["stream", "add", "T", "--replicas", "0"], 2),
        (vec!["stream", "add", "T", "--max-msgs", "-2"], 2),
        (vec!["stream", "add", "T", "--max-msg-size", "3GiB"], 2),
        (
            vec!["stream", "edit", "S", "--max-consumers", "-7", "-f"],
            2,
        ),
        (vec!["stream", "purge", "S", "--seq", "0", "-f"], 2),
        (vec!["stream", "view", "S", "26"], 2),
        (vec!["consumer", "add", "S", "D", "--max-deliver", "0"], 2),
        (vec!["consumer", "add", "S", "D", "--max-pending", "-3"], 2),
        (vec!["consumer", "next", "S", "C", "--count", "0"], 2),
        (vec!["kv", "add", "H", "--history", "0"], 2),
        (vec!["kv", "add", "H", "--history", "65"], 2),
        (vec!["kv", "get", "B", "k", "--revision", "0"], 2),
        (vec!["kv", "add", "H", "--max-value-size", "lots"], 2),
        (vec!["--timeout", "0", "stream", "ls"], 2),
        (vec!["rtt", "0"], 2),
        (
            vec![
                "server",
                "check",
                "connection",
                "--rtt-warn",
                "2s",
                "--rtt-critical",
                "1s",
            ],
            2,
        ),
        // Unreadable or wrong files.
        (vec!["stream", "add", "--config", &missing], 2),
        (vec!["stream", "add", "--config", &garbage], 2),
        (vec!["stream", "edit", "S", "--config", &garbage, "-f"], 2),
        (vec!["consumer", "add", "S", "--config", &missing], 2),
        (vec!["--creds", &missing, "stream", "ls"], 2),
        (vec!["--nkey", &missing, "stream", "ls"], 2),
        (vec!["--tlsca", &missing, "stream", "ls"], 2),
        (vec!["object", "put", "O", &missing], 1),
        // Refusals by the server: not found, name in use with another configuration.
        (vec!["stream", "info", "NOPE"], 4),
        (vec!["stream", "add", "S", "--subjects", "other.>"], 4),
        (vec!["consumer", "info", "S", "NOPE"], 4),
        (
            vec!["consumer", "add", "S", "C", "--description", "different"],
            4,
        ),
        (vec!["kv", "get", "B", "nope"], 4),
        (vec!["kv", "info", "NOPE"], 4),
        // Confirmations without a terminal.
        (vec!["stream", "rm", "S"], 2),
        (vec!["stream", "purge", "S"], 2),
        (vec!["consumer", "rm", "S", "C"], 2),
        (vec!["kv", "del", "B", "k"], 2),
        (vec!["kv", "rm", "B"], 2),
    ];
    for (args, code) in &cases {
        let run = g.run(args);
        assert_eq!(run.code, *code, "gnat {args:?}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "gnat {args:?}: {run:?}");
        assert!(
            run.stderr.starts_with("gnat: error: "),
            "gnat {args:?}: {run:?}"
        );
    }
    assert_eq!(state(&g), before, "the server's state changed");
    assert_eq!(g.ok(&["kv", "get", "--raw", "B", "k"]), "v");
    std::fs::remove_dir_all(&dir).unwrap();
}
