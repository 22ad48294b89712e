//! `gnat completions` and `gnat man`: the generated scripts load in their shells and complete
//! the real subcommands; the man pages render.

mod common;

use std::process::Command;

use common::{Run, bare};

fn gnat(args: &[&str]) -> Run {
    bare(args).output().expect("run gnat").into()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn bash_completion_completes_subcommands_and_flags() {
    let run = gnat(&["completions", "bash"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("_gnat()"), "{}", &run.stdout[..200]);
    if !have("bash") {
        // The script's content is checked above; loading it needs bash.
        return;
    }
    let dir = std::env::temp_dir().join(format!("gnat-completions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("gnat.bash");
    std::fs::write(&script, &run.stdout).unwrap();
    let probe = format!(
        r#"source {path}
complete -p gnat
COMP_WORDS=(gnat str); COMP_CWORD=1; _gnat gnat str gnat; echo "top: ${{COMPREPLY[*]}}"
COMP_WORDS=(gnat consumer ""); COMP_CWORD=2; _gnat gnat "" consumer; echo "consumer: ${{COMPREPLY[*]}}""#,
        path = script.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("-F _gnat gnat"), "{text}");
    assert!(text.contains("top: stream"), "{text}");
    let consumer = text.lines().find(|l| l.starts_with("consumer: ")).unwrap();
    for sub in [
        "add",
        "info",
        "ls",
        "rm",
        "next",
        "pause",
        "resume",
        "report",
        "--context",
    ] {
        assert!(consumer.split(' ').any(|w| w == sub), "{sub} in {consumer}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn zsh_and_fish_scripts() {
    let zsh = gnat(&["completions", "zsh"]);
    assert_eq!(zsh.code, 0);
    assert!(
        zsh.stdout.starts_with("#compdef gnat"),
        "{}",
        &zsh.stdout[..100]
    );
    let fish = gnat(&["completions", "fish"]);
    assert_eq!(fish.code, 0);
    assert!(
        fish.stdout
            .lines()
            .any(|l| l.starts_with("complete -c gnat") && l.contains("-a \"stream\"")),
        "no stream subcommand in the fish script"
    );
    if have("zsh") {
        let out = Command::new("zsh")
            .args(["-n", "-c", &zsh.stdout])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bad = gnat(&["completions", "powershell7"]);
    assert_eq!(bad.code, 2);
    assert_eq!(bad.stderr.lines().count(), 1, "{bad:?}");
}

#[test]
fn man_pages() {
    let page = gnat(&["man"]);
    assert_eq!(page.code, 0, "{page:?}");
    assert!(
        page.stdout.contains(".TH gnat 1"),
        "{}",
        &page.stdout[..300]
    );
    for sub in [
        "account", "stream", "consumer", "kv", "context", "server", "rtt",
    ] {
        assert!(page.stdout.contains(sub), "{sub} missing from the man page");
    }
    let dir = std::env::temp_dir().join(format!("gnat-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = gnat(&["man", "--output", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    for file in [
        "gnat.1",
        "gnat-stream.1",
        "gnat-stream-add.1",
        "gnat-consumer-next.1",
    ] {
        assert!(dir.join(file).is_file(), "{file} not written");
    }
    let add = std::fs::read_to_string(dir.join("gnat-stream-add.1")).unwrap();
    assert!(
        add.contains("max\\-msgs\\-per\\-subject"),
        "flags in the page"
    );
    if have("man") {
        let out = Command::new("man")
            .args(["-l", dir.join("gnat-stream-add.1").to_str().unwrap()])
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("gnat-stream-add - Creates a new stream"),
            "{text}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    // A directory that cannot be made: one line, exit 2.
    let run = gnat(&["man", "--output", "/proc/gnat-man"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
}
