//! The seed walkthrough of `nats kv`, step by step, with the built `gnat` binary against a
//! real nats-server: output shapes, errors and exit codes.

mod common;

use common::{Gnat, history};

fn revisions(h: &[(u64, String, String)]) -> Vec<u64> {
    h.iter().map(|r| r.0).collect()
}

#[test]
fn the_seed_walkthrough() {
    let g = Gnat::start();

    // A bucket that keeps three revisions per key.
    let info = g.ok(&["kv", "add", "--history=3", "Bucket1"]);
    assert!(
        info.starts_with("Information for Key-Value Store Bucket Bucket1 created "),
        "{info}"
    );
    for line in [
        "\nConfiguration:\n\n",
        "          Bucket Name: Bucket1\n",
        "         History Kept: 3\n",
        "        Values Stored: 0\n",
        "           Compressed: false\n",
        "   Backing Store Kind: JetStream\n",
        "          Bucket Size: 0 B\n",
        "  Maximum Bucket Size: unlimited\n",
        "   Maximum Value Size: unlimited\n",
        "          Maximum Age: unlimited\n",
        "     JetStream Stream: KV_Bucket1\n",
        "              Storage: File\n",
        "\nCluster Information:\n\n",
        "               Leader: ",
    ] {
        assert!(info.contains(line), "missing {line:?} in\n{info}");
    }

    // create, then create again: the second is refused by the server.
    assert_eq!(
        g.ok(&["kv", "create", "Bucket1", "Key1", "Value1"]),
        "Value1\n"
    );
    let err = g.fails(&["kv", "create", "Bucket1", "Key1", "Value1"], 4);
    assert_eq!(err, "gnat: error: wrong last sequence: 1: key exists\n");

    // get: key, revision, creation time, then the value.
    let got = g.ok(&["kv", "get", "Bucket1", "Key1"]);
    assert!(
        got.starts_with("Bucket1 > Key1 revision: 1 created @ "),
        "{got}"
    );
    assert!(got.contains(" UTC\n\nValue1\n"), "{got}");
    assert_eq!(g.ok(&["kv", "get", "--raw", "Bucket1", "Key1"]), "Value1");

    // update without the right revision fails; with it, it succeeds.
    let err = g.fails(&["kv", "update", "Bucket1", "Key1", "Value2"], 4);
    assert_eq!(err, "gnat: error: wrong last sequence: 1\n");
    let err = g.fails(&["kv", "update", "Bucket1", "Key1", "Value2", "7"], 4);
    assert_eq!(err, "gnat: error: wrong last sequence: 1\n");
    assert_eq!(
        g.ok(&["kv", "update", "Bucket1", "Key1", "Value2", "1"]),
        "Value2\n"
    );

    let table = g.ok(&["kv", "history", "Bucket1", "Key1"]);
    assert!(table.starts_with('╭'), "{table}");
    assert!(table.contains("History for Bucket1 > Key1"), "{table}");
    assert!(
        table.contains("│ Key  │ Revision │ Op  │ Created             │ Length │ Value  │"),
        "{table}"
    );
    assert_eq!(
        history(&table, "Key1"),
        vec![
            (1, "PUT".into(), "Value1".into()),
            (2, "PUT".into(), "Value2".into())
        ]
    );

    // Past three revisions the oldest goes.
    g.ok(&["kv", "update", "Bucket1", "Key1", "Value3", "2"]);
    assert_eq!(
        revisions(&history(
            &g.ok(&["kv", "history", "Bucket1", "Key1"]),
            "Key1"
        )),
        vec![1, 2, 3]
    );
    g.ok(&["kv", "update", "Bucket1", "Key1", "Value4", "3"]);
    assert_eq!(
        revisions(&history(
            &g.ok(&["kv", "history", "Bucket1", "Key1"]),
            "Key1"
        )),
        vec![2, 3, 4]
    );

    // put needs no revision.
    assert_eq!(
        g.ok(&["kv", "put", "Bucket1", "Key1", "Value5"]),
        "Value5\n"
    );
    let h = history(&g.ok(&["kv", "history", "Bucket1", "Key1"]), "Key1");
    assert_eq!(
        h,
        vec![
            (3, "PUT".into(), "Value3".into()),
            (4, "PUT".into(), "Value4".into()),
            (5, "PUT".into(), "Value5".into()),
        ]
    );

    // revert asks first: without a terminal and without -f it refuses and changes nothing.
    let refused = g.run(&["kv", "revert", "Bucket1", "Key1", "3"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("-f"), "{refused:?}");
    assert_eq!(
        revisions(&history(
            &g.ok(&["kv", "history", "Bucket1", "Key1"]),
            "Key1"
        )),
        vec![3, 4, 5]
    );
    // With -f: revision 3's value comes back as revision 6.
    let out = g.ok(&["kv", "revert", "-f", "Bucket1", "Key1", "3"]);
    assert!(out.starts_with("Revision: 3\n\nValue3\n\n"), "{out}");
    assert_eq!(
        history(&out, "Key1"),
        vec![
            (4, "PUT".into(), "Value4".into()),
            (5, "PUT".into(), "Value5".into()),
            (6, "PUT".into(), "Value3".into()),
        ]
    );
    let got = g.ok(&["kv", "get", "Bucket1", "Key1"]);
    assert!(got.starts_with("Bucket1 > Key1 revision: 6 "), "{got}");
    assert!(got.ends_with("\n\nValue3\n"), "{got}");
    // An earlier revision by number.
    let old = g.ok(&["kv", "get", "--revision", "4", "Bucket1", "Key1"]);
    assert!(old.starts_with("Bucket1 > Key1 revision: 4 "), "{old}");

    // ls: buckets, and a bucket's keys.
    g.ok(&["kv", "add", "Bucket2"]);
    let buckets = g.ok(&["kv", "ls"]);
    assert!(buckets.contains("Key-Value Buckets"), "{buckets}");
    assert!(
        buckets.contains("│ Bucket1 ") && buckets.contains("│ Bucket2 "),
        "{buckets}"
    );
    assert_eq!(g.ok(&["kv", "ls", "--names"]), "Bucket1\nBucket2\n");
    g.ok(&["kv", "put", "Bucket1", "Key2", "x"]);
    assert_eq!(g.ok(&["kv", "ls", "Bucket1"]), "Key1\nKey2\n");

    // del of a key asks first, like `nats kv del` (no terminal here: refused, exit 2, the
    // key still there); -f skips the question. Then get no longer finds it, history shows
    // the DEL, create succeeds again.
    let err = g.fails(&["kv", "del", "Bucket1", "Key1"], 2);
    assert!(err.contains("-f"), "{err}");
    g.ok(&["kv", "get", "Bucket1", "Key1"]);
    assert_eq!(g.ok(&["kv", "del", "-f", "Bucket1", "Key1"]), "");
    let err = g.fails(&["kv", "get", "Bucket1", "Key1"], 4);
    assert!(
        err.starts_with("gnat: error: ") && err.contains("not found"),
        "{err}"
    );
    let h = history(&g.ok(&["kv", "history", "Bucket1", "Key1"]), "Key1");
    assert_eq!(h.last().map(|r| r.1.as_str()), Some("DEL"), "{h:?}");
    assert_eq!(
        g.ok(&["kv", "create", "Bucket1", "Key1", "again"]),
        "again\n"
    );
    assert_eq!(g.ok(&["kv", "ls", "Bucket1"]), "Key2\nKey1\n");

    // purge leaves only the purge marker; compact then removes it.
    g.fails(&["kv", "purge", "Bucket1", "Key2"], 2);
    g.ok(&["kv", "purge", "-f", "Bucket1", "Key2"]);
    let h = history(&g.ok(&["kv", "history", "Bucket1", "Key2"]), "Key2");
    assert_eq!(
        h.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        ["PURGE"]
    );
    g.fails(&["kv", "compact", "--older-than", "0s", "Bucket1"], 2);
    let out = g.ok(&["kv", "compact", "-f", "--older-than", "0s", "Bucket1"]);
    assert!(
        out.starts_with("Compacted bucket Bucket1: removed "),
        "{out}"
    );
    g.fails(&["kv", "history", "Bucket1", "Key2"], 4);

    // info shows the values stored now.
    let info = g.ok(&["kv", "info", "Bucket1"]);
    assert!(info.contains("        Values Stored: 3\n"), "{info}");
}

#[test]
fn put_reads_the_value_from_stdin() {
    let g = Gnat::start();
    g.ok(&["kv", "add", "B"]);
    let run = g.run_with_stdin(&["kv", "put", "B", "k"], b"from stdin\n");
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "from stdin\n");
    assert_eq!(g.ok(&["kv", "get", "--raw", "B", "k"]), "from stdin\n");
    // Binary values survive byte for byte.
    let run = g.run_with_stdin(&["kv", "put", "B", "bin"], &[0, 159, 146, 150]);
    assert_eq!(run.code, 0, "{run:?}");
    let raw = g
        .command(&["kv", "get", "--raw", "B", "bin"])
        .output()
        .expect("run");
    assert_eq!(raw.stdout, [0, 159, 146, 150]);
    let v: serde_json::Value =
        serde_json::from_str(&g.ok(&["kv", "get", "--json", "B", "bin"])).expect("json");
    assert_eq!(v["value"], serde_json::Value::Null);
    assert_eq!(v["value_base64"], "AJ+Slg==");
}

#[test]
fn deleting_a_bucket_needs_confirmation() {
    let g = Gnat::start();
    g.ok(&["kv", "add", "Doomed"]);
    // stdin is not a terminal here: refused, with a clear message, and nothing deleted.
    let err = g.fails(&["kv", "del", "Doomed"], 2);
    assert_eq!(
        err,
        "gnat: error: refusing to delete bucket Doomed without confirmation: \
         stdin is not a terminal (pass -f/--force)\n"
    );
    g.ok(&["kv", "info", "Doomed"]);
    // Even a "yes" on a pipe is not a terminal's answer.
    let run = g.run_with_stdin(&["kv", "del", "Doomed"], b"y\n");
    assert_eq!(run.code, 2, "{run:?}");
    g.ok(&["kv", "info", "Doomed"]);
    assert_eq!(g.ok(&["kv", "del", "-f", "Doomed"]), "");
    let err = g.fails(&["kv", "info", "Doomed"], 4);
    assert_eq!(err, "gnat: error: bucket Doomed not found\n");
    g.fails(&["kv", "del", "-f", "Doomed"], 4);
}

#[test]
fn watch_prints_a_change_made_by_another_process() {
    let g = Gnat::start();
    g.ok(&["kv", "add", "--history=5", "W"]);
    g.ok(&["kv", "put", "W", "a", "1"]);
    let mut watch = g.spawn(&["kv", "watch", "W"]);
    // The current value first: once it is printed the watch is live.
    let line = watch.stdout_line("with a = 1", |l| l.ends_with("PUT W > a: 1"));
    assert!(line.starts_with('['), "{line}");
    // A change made by another process.
    g.ok(&["kv", "put", "W", "a", "2"]);
    watch.stdout_line("with a = 2", |l| l.ends_with("PUT W > a: 2"));
    g.ok(&["kv", "del", "-f", "W", "a"]);
    watch.stdout_line("with the delete", |l| l.ends_with("DEL W > a"));

    // A filtered JSON watch of updates only: it prints nothing until a matching key changes,
    // and it may not be live yet when the first write lands, so write until one shows.
    let mut json = g.spawn(&["kv", "watch", "--json", "--updates-only", "W", "x.*"]);
    let deadline = std::time::Instant::now() + common::DEADLINE;
    let line = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no JSON line within the deadline"
        );
        g.ok(&["kv", "put", "W", "other", "no"]);
        g.ok(&["kv", "put", "W", "x.1", "yes"]);
        if let Some(line) = json.try_stdout_line(std::time::Duration::from_millis(250)) {
            break line;
        }
    };
    let v: serde_json::Value = serde_json::from_str(&line).expect("json line");
    assert_eq!(v["bucket"], "W");
    assert_eq!(v["key"], "x.1");
    assert_eq!(v["value"], "yes");
    assert_eq!(v["operation"], "PUT");
}
