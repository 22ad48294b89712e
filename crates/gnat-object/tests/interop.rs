//! Interop with nats-py's object store (`pip install nats-py`): objects written by nats-py
//! are read by gnat, and objects written by gnat are read by nats-py, byte for byte and with
//! the same digest.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{data, digest_of, jetstream};
use gnat_object::{Config, ObjectMeta};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/nats_py_object.py")
}

/// Whether `python3` can import nats-py, installing it with pip (user site) when it cannot.
fn nats_py_available() -> bool {
    let import = || {
        Command::new("python3")
            .args(["-c", "import nats.js.object_store"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if import() {
        return true;
    }
    eprintln!("interop: installing nats-py with pip");
    let _ = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "nats-py",
        ])
        .status();
    import()
}

fn py(args: &[&str]) -> serde_json::Value {
    let out = Command::new("python3")
        .arg(script())
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "nats-py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).expect("one JSON line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_py_and_gnat_read_each_others_objects() {
    if !nats_py_available() {
        // A machine without python3/pip or network cannot run nats-py; say so loudly
        // rather than fail, unless the run asks for interop explicitly.
        assert!(
            std::env::var_os("GNAT_REQUIRE_INTEROP").is_none(),
            "nats-py is not available and GNAT_REQUIRE_INTEROP is set"
        );
        eprintln!(
            "SKIPPED: nats-py cannot be imported or installed (python3 -m pip install nats-py)"
        );
        return;
    }
    let (server, js) = jetstream().await;
    let url = server.url();
    let dir = std::env::temp_dir().join(format!("gnat-object-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // nats-py writes, gnat reads: several sizes, one with a small chunk size.
    for (name, n, chunk) in [
        ("py-empty", 0usize, None),
        ("py-small", 1000, None),
        ("py/ä weird name.bin", 300_000, None),
        ("py-chunks", 50_000, Some("7000")),
    ] {
        let bytes = data(n);
        let file = dir.join("in.bin");
        std::fs::write(&file, &bytes).unwrap();
        let mut args = vec!["put", &url, "pyb", name, file.to_str().unwrap()];
        if let Some(c) = chunk {
            args.push(c);
        }
        let written = py(&args);
        let store = gnat_object::bind(&js, "pyb").await.unwrap();
        let info = store.info(name).await.unwrap();
        assert_eq!(info.size, n as u64);
        assert_eq!(info.nuid, written["nuid"].as_str().unwrap());
        assert_eq!(info.digest.as_deref(), written["digest"].as_str());
        assert_eq!(info.digest.as_deref(), Some(digest_of(&bytes).as_str()));
        let read = store.get_bytes(name).await.unwrap();
        assert!(read == bytes, "{name}: gnat reads what nats-py wrote");
    }
    // nats-py lists what gnat sees as the same objects.
    let store = gnat_object::bind(&js, "pyb").await.unwrap();
    assert_eq!(store.list().await.unwrap().len(), 4);

    // gnat writes, nats-py reads (into its own bucket and into nats-py's).
    let mine = gnat_object::create_bucket(&js, Config::new("gnatb"))
        .await
        .unwrap();
    for (store, bucket) in [(&mine, "gnatb"), (&store, "pyb")] {
        for (name, n) in [("g-empty", 0usize), ("g-one", 1), ("g ä/big", 700_000)] {
            let bytes = data(n);
            let written = store
                .put_bytes(
                    ObjectMeta::new(name)
                        .description("from gnat")
                        .header("Content-Type", "application/octet-stream"),
                    bytes.clone(),
                )
                .await
                .unwrap();
            let out = dir.join("out.bin");
            let read = py(&["get", &url, bucket, name, out.to_str().unwrap()]);
            assert_eq!(read["size"].as_u64(), Some(n as u64));
            assert_eq!(read["digest"].as_str(), written.digest.as_deref());
            assert_eq!(read["description"].as_str(), Some("from gnat"));
            assert_eq!(
                std::fs::read(&out).unwrap(),
                bytes,
                "{name}: nats-py reads it"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
