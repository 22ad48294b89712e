//! `gnat object …` end to end: the built binary against a real nats-server.

mod common;

use common::Gnat;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn object_walkthrough() {
    let g = Gnat::start();
    let dir = std::env::temp_dir().join(format!("gnat-cli-object-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // add: the bucket information block.
    let out = g.ok(&[
        "object",
        "add",
        "files",
        "--description",
        "test files",
        "--metadata",
        "owner=ci",
        "--max-bucket-size",
        "1GiB",
    ]);
    assert!(
        out.starts_with("Information for Object Store Bucket files created "),
        "{out}"
    );
    assert!(out.contains("          Bucket Name: files\n"), "{out}");
    assert!(out.contains("          Description: test files\n"), "{out}");
    assert!(out.contains("                  TTL: unlimited\n"), "{out}");
    assert!(out.contains("               Sealed: false\n"), "{out}");
    assert!(out.contains("  Maximum Bucket Size: 1.0 GiB\n"), "{out}");
    assert!(out.contains("     JetStream Stream: OBJ_files\n"), "{out}");
    assert!(out.contains("             Metadata: owner: ci\n"), "{out}");

    // put a file (named after the file) and from stdin (--name).
    let file = dir.join("data.bin");
    let bytes = pattern(300_000);
    std::fs::write(&file, &bytes).unwrap();
    let path = file.to_str().unwrap();
    let out = g.ok(&[
        "object", "put", "files", path, "--name", "data.bin", "-H", "A:1",
    ]);
    assert!(
        out.starts_with("Object information for files > data.bin\n"),
        "{out}"
    );
    assert!(out.contains("             Size: 293 KiB\n"), "{out}");
    assert!(out.contains("           Chunks: 3\n"), "{out}");
    assert!(out.contains("           Digest: SHA-256 "), "{out}");
    assert!(out.contains("          Headers: A: 1\n"), "{out}");
    let run = g.run_with_stdin(&["object", "put", "files", "--name", "notes.txt"], b"hello");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = g.run_with_stdin(&["object", "put", "files"], b"x");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--name is required"), "{}", run.stderr);
    // Replacing asks; without a terminal it refuses unless -f.
    let err = g.fails(&["object", "put", "files", path, "--name", "data.bin"], 2);
    assert!(err.contains("-f/--force"), "{err}");
    g.ok(&["object", "put", "files", path, "--name", "data.bin", "-f"]);

    // info --json, ls, ls --json, ls of buckets.
    let info: serde_json::Value =
        serde_json::from_str(&g.ok(&["object", "info", "files", "data.bin", "--json"])).unwrap();
    assert_eq!(info["size"], 300_000);
    assert_eq!(info["chunks"], 3);
    assert!(info["digest"].as_str().unwrap().starts_with("SHA-256="));
    let out = g.ok(&["object", "ls", "files"]);
    assert!(out.contains("Bucket Contents"), "{out}");
    assert!(
        out.contains("data.bin") && out.contains("notes.txt"),
        "{out}"
    );
    assert_eq!(g.ok(&["object", "ls", "files", "-n"]).lines().count(), 2);
    let list: serde_json::Value =
        serde_json::from_str(&g.ok(&["object", "ls", "files", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let out = g.ok(&["object", "ls"]);
    assert!(
        out.contains("Object Store Buckets") && out.contains("files"),
        "{out}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&g.ok(&["object", "info", "files", "--json"])).unwrap();
    assert_eq!(status["bucket"], "files");
    assert_eq!(status["sealed"], false);

    // get to a file (-O) and to stdout.
    let target = dir.join("copy.bin");
    let out = g.ok(&[
        "object",
        "get",
        "files",
        "data.bin",
        "-O",
        target.to_str().unwrap(),
    ]);
    assert!(out.starts_with("Wrote: 293 KiB to "), "{out}");
    assert_eq!(std::fs::read(&target).unwrap(), bytes);
    let err = g.fails(
        &[
            "object",
            "get",
            "files",
            "data.bin",
            "-O",
            target.to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("-f/--force"), "{err}");
    assert_eq!(
        g.ok(&["object", "get", "files", "notes.txt", "-O", "-"]),
        "hello"
    );
    let err = g.fails(&["object", "get", "files", "missing", "-O", "-"], 4);
    assert!(err.contains("not found"), "{err}");

    // watch shows changes.
    let mut watch = g.spawn(&["object", "watch", "files", "--updates-only"]);
    // The watch is live once a put shows up; keep putting until one does.
    let line = {
        let mut found = None;
        for _ in 0..50 {
            // stdin is closed: an empty object.
            g.ok(&["object", "put", "files", "--name", "w", "-f"]);
            if let Some(l) = watch.try_stdout_line(std::time::Duration::from_millis(400)) {
                found = Some(l);
                break;
            }
        }
        found.expect("a watch line")
    };
    assert!(
        line.contains("PUT files > w: 0 B bytes in 0 chunks"),
        "{line}"
    );
    g.ok(&["object", "del", "files", "w", "-f"]);
    let line = watch.stdout_line("delete line", |l| l.contains("DEL"));
    assert!(line.ends_with("DEL files > w"), "{line}");
    drop(watch);

    // del an object, then seal, then delete the bucket.
    let out = g.ok(&["object", "del", "files", "notes.txt", "-f"]);
    assert!(out.starts_with("Removed files > notes.txt\n"), "{out}");
    let out = g.ok(&["object", "seal", "files", "-f"]);
    assert!(out.starts_with("files has been sealed\n"), "{out}");
    assert!(out.contains("               Sealed: true\n"), "{out}");
    g.fails(&["object", "del", "files", "data.bin", "-f"], 4);
    g.ok(&["object", "del", "files", "-f"]);
    let err = g.fails(&["object", "info", "files"], 4);
    assert!(err.contains("bucket files not found"), "{err}");
    let err = g.fails(&["object", "add", "bad.name"], 2);
    assert!(err.contains("bucket name"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
