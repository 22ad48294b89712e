//! Running the built `gnat` binary against a real nats-server: one-shot commands with their
//! output and exit code, and long-running ones (watch, sub, reply) whose lines are read with
//! a deadline. Nothing sleeps for a fixed time.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use gnat_test_support::NatsServer;

/// The longest any wait in these tests may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The binary under test.
pub const GNAT: &str = env!("CARGO_BIN_EXE_gnat");

/// A JetStream server and a way to run `gnat` against it.
pub struct Gnat {
    pub server: NatsServer,
    pub url: String,
}

/// What a finished command left behind.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// `gnat <args>` with no server flag, no `NATS_URL` and no natscli contexts.
pub fn bare(args: &[&str]) -> Command {
    let mut cmd = Command::new(GNAT);
    // No natscli context of the machine's user may change what the tests talk to.
    cmd.args(args).env_remove("NATS_URL").env(
        "XDG_CONFIG_HOME",
        std::env::temp_dir().join("gnat-tests-no-config"),
    );
    cmd
}

impl Gnat {
    /// Starts a JetStream server.
    pub fn start() -> Gnat {
        let server = NatsServer::start_jetstream();
        let url = server.url();
        Gnat { server, url }
    }

    /// Starts a server without JetStream.
    pub fn start_core() -> Gnat {
        let server = NatsServer::start();
        let url = server.url();
        Gnat { server, url }
    }

    /// `gnat -s <url> <args>`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = bare(&["-s", &self.url]);
        cmd.args(args);
        cmd
    }

    /// Runs `gnat <args>` with stdin closed.
    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run gnat")
            .into()
    }

    /// Runs `gnat <args>` with `input` on stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gnat");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
        child.wait_with_output().expect("wait gnat").into()
    }

    /// Runs `gnat <args>`, asserts success and returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "gnat {args:?} failed: {run:?}");
        run.stdout
    }

    /// Runs `gnat <args>`, asserts it exits with `code` and returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let run = self.run(args);
        assert_eq!(run.code, code, "gnat {args:?}: {run:?}");
        run.stderr
    }

    /// Starts `gnat <args>` in the background, reading its stdout and stderr line by line.
    pub fn spawn(&self, args: &[&str]) -> Background {
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gnat");
        let stdout = lines(child.stdout.take().expect("stdout"));
        let stderr = lines(child.stderr.take().expect("stderr"));
        Background {
            child,
            stdout,
            stderr,
            seen_out: Vec::new(),
            seen_err: Vec::new(),
        }
    }
}

fn lines(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A `gnat` process running in the background; killed when dropped.
pub struct Background {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    pub seen_out: Vec<String>,
    pub seen_err: Vec<String>,
}

fn wait_line(
    rx: &Receiver<String>,
    seen: &mut Vec<String>,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if pred(&line) {
                    return line;
                }
            }
            Err(_) => panic!("no line {what} within {DEADLINE:?}; saw {seen:#?}"),
        }
    }
}

impl Background {
    /// Waits for a stdout line satisfying `pred`.
    pub fn stdout_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        wait_line(&self.stdout, &mut self.seen_out, what, pred)
    }

    /// Waits for a stderr line satisfying `pred`.
    pub fn stderr_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        wait_line(&self.stderr, &mut self.seen_err, what, pred)
    }

    /// The next stdout line, if one comes within `timeout`.
    pub fn try_stdout_line(&mut self, timeout: Duration) -> Option<String> {
        let line = self.stdout.recv_timeout(timeout).ok()?;
        self.seen_out.push(line.clone());
        Some(line)
    }

    /// Waits for the process to exit by itself and returns its code.
    pub fn wait(&mut self) -> i32 {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "gnat did not exit within {DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every stdout line still to come until the process closes stdout.
    pub fn rest_of_stdout(&mut self) -> Vec<String> {
        let deadline = Instant::now() + DEADLINE;
        let mut rest = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => rest.push(line),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return rest,
                Err(e) => panic!("stdout not closed within {DEADLINE:?}: {e}; got {rest:?}"),
            }
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The cells of the rows of a box-drawn table whose first cell is `first`.
pub fn table_rows(table: &str, first: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| {
            l.trim_matches('│')
                .split('│')
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells.first().map(String::as_str) == Some(first))
        .collect()
}

/// `(revision, op, value)` of each row of a history table.
pub fn history(table: &str, key: &str) -> Vec<(u64, String, String)> {
    table_rows(table, key)
        .into_iter()
        .map(|c| (c[1].parse().expect("revision"), c[2].clone(), c[5].clone()))
        .collect()
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
