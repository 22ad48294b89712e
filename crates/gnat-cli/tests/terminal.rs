//! Questions on a real terminal: `script` (util-linux) runs `gnat` on a pseudo-terminal and
//! feeds it the answers, so the paths natscli users see — `stream view`'s "Next Page?" and the
//! confirmations of destructive commands — run for real. Without `script` the tests say so
//! and pass (the non-terminal paths are covered by the other tests).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{GNAT, Gnat};

fn have_script() -> bool {
    Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `gnat -s <url> <args>` on a pseudo-terminal with `answers` typed in; returns the exit
/// code and everything the terminal showed.
fn on_terminal(g: &Gnat, args: &[&str], answers: &str) -> (i32, String) {
    let mut line = format!("{GNAT} -s {}", g.url);
    for a in args {
        line.push(' ');
        line.push_str(a);
    }
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("NATS_URL")
        .env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("gnat-tests-no-config"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn script");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(answers.as_bytes())
        .expect("type the answers");
    let out = child.wait_with_output().expect("wait script");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).replace('\r', ""),
    )
}

#[test]
fn view_pages_and_confirmations_on_a_terminal() {
    if !have_script() {
        eprintln!("skipped: `script` (util-linux) is not installed, no pseudo-terminal to test on");
        return;
    }
    let g = Gnat::start();
    g.ok(&["stream", "add", "S", "--subjects", "s.>"]);
    for i in 1..=3 {
        g.ok(&["pub", "s.x", &format!("m{i}")]);
    }
    // "n" at the first "Next Page?": one page of two.
    let (code, shown) = on_terminal(&g, &["stream", "view", "S", "2"], "n\n");
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("? Next Page? [Y/n]"), "{shown}");
    assert!(
        shown.contains("\nm2\n") && !shown.contains("\nm3\n"),
        "{shown}"
    );
    // Enter takes the default (yes): the second page too.
    let (code, shown) = on_terminal(&g, &["stream", "view", "S", "2"], "\n");
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("\nm3\n"), "{shown}");
    assert!(shown.contains("Reached apparent end of data"), "{shown}");

    // A refused confirmation changes nothing (exit 2); a yes does it.
    g.ok(&["kv", "add", "B"]);
    g.ok(&["kv", "put", "B", "k", "v"]);
    let (code, shown) = on_terminal(&g, &["kv", "del", "B", "k"], "n\n");
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("? Delete key B > k? [y/N]"), "{shown}");
    assert_eq!(g.ok(&["kv", "get", "--raw", "B", "k"]), "v");
    let (code, shown) = on_terminal(&g, &["kv", "del", "B", "k"], "y\n");
    assert_eq!(code, 0, "{shown}");
    g.fails(&["kv", "get", "B", "k"], 4);
    let (code, shown) = on_terminal(&g, &["stream", "rm", "S"], "yes\n");
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("? Really delete Stream S [y/N]"), "{shown}");
    g.fails(&["stream", "info", "S"], 4);
}
