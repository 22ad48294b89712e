//! Contexts in natscli's files, with HOME pointed at a temporary directory: a context written
//! the way natscli writes it just works with `--context`, `context select` makes it the
//! default, `context add` writes natscli's fields, and bad names or files fail cleanly.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{GNAT, Run, closed_port};
use gnat_test_support::NatsServer;
use serde_json::Value;

/// A temporary HOME, removed at the end.
struct Home(PathBuf);

impl Home {
    fn new(tag: &str) -> Home {
        let dir = std::env::temp_dir().join(format!("gnat-ctx-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Home(dir)
    }

    fn nats(&self) -> PathBuf {
        self.0.join(".config").join("nats")
    }

    /// `gnat <args>` with this HOME and no NATS_URL or XDG_CONFIG_HOME.
    fn run(&self, args: &[&str]) -> Run {
        Command::new(GNAT)
            .args(args)
            .env("HOME", &self.0)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("NATS_URL")
            .stdin(Stdio::null())
            .output()
            .expect("run gnat")
            .into()
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "gnat {args:?}: {r:?}");
        r.stdout
    }

    fn fails(&self, args: &[&str], code: i32) -> String {
        let r = self.run(args);
        assert_eq!(r.code, code, "gnat {args:?}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "one line: {r:?}");
        r.stderr
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

#[test]
fn natscli_contexts_just_work() {
    let server = NatsServer::builder().user_password("ann", "secret").start();
    let home = Home::new("natscli");
    // A context as natscli writes it (all its fields, a name among them).
    let dir = home.nats().join("context");
    std::fs::create_dir_all(&dir).unwrap();
    let natscli = serde_json::json!({
        "name": "prod", "description": "written by nats", "url": server.url(),
        "socks_proxy": "", "token": "", "user": "ann", "password": "secret", "creds": "",
        "nkey": "", "cert": "", "key": "", "ca": "", "nsc": "", "jetstream_domain": "",
        "jetstream_api_prefix": "", "jetstream_event_prefix": "", "inbox_prefix": "",
        "user_jwt": "", "color_scheme": "", "tls_first": false, "windows_cert_store": "",
        "windows_cert_match_by": "", "windows_cert_match": "", "windows_ca_certs_match": null
    });
    std::fs::write(dir.join("prod.json"), natscli.to_string()).unwrap();

    let out = home.ok(&["--context", "prod", "account", "info"]);
    assert!(out.starts_with("Account Information\n"), "{out}");
    assert!(
        out.contains(&format!("Connected URL: {}", server.url())),
        "{out}"
    );
    // --server still wins over the context's URL.
    let dead = format!("nats://127.0.0.1:{}", closed_port());
    home.fails(&["--context", "prod", "-s", &dead, "rtt"], 3);

    // ls and show.
    let ls = home.ok(&["context", "ls"]);
    assert!(ls.contains("│ prod │ written by nats │"), "{ls}");
    assert!(!ls.contains("prod*"), "{ls}");
    let show = home.ok(&["context", "show", "prod"]);
    assert!(
        show.starts_with("NATS Configuration Context \"prod\"\n"),
        "{show}"
    );
    assert!(show.contains("Username: ann\n"), "{show}");
    assert!(show.contains("Password: ******\n"), "{show}");
    assert!(!show.contains("secret"), "{show}");
    let j: Value = serde_json::from_str(&home.ok(&["context", "show", "prod", "--json"])).unwrap();
    assert_eq!(j["url"], server.url().as_str());

    // select writes natscli's context.txt, and commands then use it without --context.
    home.ok(&["context", "select", "prod"]);
    assert_eq!(
        std::fs::read_to_string(home.nats().join("context.txt")).unwrap(),
        "prod"
    );
    assert!(home.ok(&["context", "ls"]).contains("│ prod* │"));
    let out = home.ok(&["rtt", "1"]);
    assert!(out.starts_with(&format!("{}:\n", server.url())), "{out}");
    assert!(home.ok(&["context", "show"]).contains("\"prod\""));

    // add: natscli's fields, unknown ones kept, from the connection flags; --select.
    let url = server.url();
    home.ok(&[
        "-s",
        &url,
        "--user",
        "ann",
        "--password",
        "secret",
        "context",
        "add",
        "second",
        "--description",
        "made by gnat",
        "--select",
    ]);
    let written = read_json(&home.nats().join("context").join("second.json"));
    for field in [
        "description",
        "url",
        "user",
        "password",
        "token",
        "creds",
        "nkey",
        "ca",
    ] {
        assert!(written.get(field).is_some(), "{field} missing: {written}");
    }
    assert_eq!(written["url"], url.as_str());
    assert_eq!(written["description"], "made by gnat");
    assert_eq!(
        std::fs::read_to_string(home.nats().join("context.txt")).unwrap(),
        "second"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.nats().join("context").join("second.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Updating keeps fields gnat does not know (natscli's own ones).
    home.ok(&["context", "add", "prod", "--description", "updated"]);
    let prod = read_json(&dir.join("prod.json"));
    assert_eq!(prod["description"], "updated");
    assert_eq!(prod["windows_cert_match"], "");
    assert_eq!(prod["user"], "ann");
    home.ok(&["account", "info"]);

    // rm asks; -f removes, and clears the selection when it was the selected one.
    home.fails(&["context", "rm", "second"], 2);
    home.ok(&["context", "rm", "second", "-f"]);
    assert!(!home.nats().join("context.txt").exists());
    assert_eq!(home.ok(&["context", "ls", "--names"]), "prod\n");
}

#[test]
fn bad_contexts_fail_cleanly() {
    let home = Home::new("bad");
    home.fails(&["--context", "missing", "account", "info"], 2);
    home.fails(&["--context", "../escape", "account", "info"], 2);
    home.fails(&["context", "add", "a/b"], 2);
    home.fails(&["context", "select", "missing"], 2);
    home.fails(&["context", "show"], 2);
    let dir = home.nats().join("context");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("broken.json"), "{not json").unwrap();
    let err = home.fails(&["--context", "broken", "account", "info"], 2);
    assert!(err.contains("broken.json"), "{err}");
    // A selected context that is broken stops every command, with the reason.
    std::fs::write(home.nats().join("context.txt"), "broken").unwrap();
    home.fails(&["rtt"], 2);
    // Nothing was written by the failures.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["broken.json"]);
}
