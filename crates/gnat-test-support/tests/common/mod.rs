//! A tiny raw NATS speaker over a blocking `TcpStream`, enough to check the servers the harness
//! starts (there is no NATS client at this layer).

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gnat_test_support::probe;

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A raw connection: any `Read + Write` (plain TCP, or TLS in the TLS tests).
pub struct Raw<S: Read + Write> {
    pub stream: S,
    pub info: serde_json::Value,
}

/// Connects and reads the server's first `INFO`.
pub fn connect(addr: SocketAddr) -> Raw<std::net::TcpStream> {
    let mut stream = probe::connect(addr, TIMEOUT).unwrap();
    let line = probe::read_line(&mut stream).unwrap();
    let info = probe::parse_info(&line).unwrap();
    Raw { stream, info }
}

/// Connects, sends `CONNECT` with `fields` (a JSON object body without braces, may be empty)
/// and a `PING`, and returns the first line that is not an `INFO`: `PONG` or `-ERR …`.
pub fn connect_with(addr: SocketAddr, fields: &str) -> (Raw<std::net::TcpStream>, String) {
    let mut raw = connect(addr);
    let reply = raw.handshake(fields);
    (raw, reply)
}

impl<S: Read + Write> Raw<S> {
    pub fn send(&mut self, text: &str) {
        self.try_send(text).unwrap();
    }

    pub fn try_send(&mut self, text: &str) -> Result<(), String> {
        self.stream
            .write_all(text.as_bytes())
            .and_then(|()| self.stream.flush())
            .map_err(|e| format!("write: {e}"))
    }

    /// Sends `CONNECT {"protocol":1,"verbose":false,<fields>}` and `PING`; returns the first
    /// line that is not an `INFO`.
    pub fn handshake(&mut self, fields: &str) -> String {
        self.try_handshake(fields).unwrap()
    }

    /// Like [`handshake`], but returns I/O failures (e.g. a refused TLS handshake).
    pub fn try_handshake(&mut self, fields: &str) -> Result<String, String> {
        let sep = if fields.is_empty() { "" } else { "," };
        self.try_send(&format!(
            "CONNECT {{\"protocol\":1,\"verbose\":false{sep}{fields}}}\r\nPING\r\n"
        ))?;
        self.try_line_where(|l| !l.starts_with("INFO "))
    }

    /// Reads one line (without `\r\n`).
    pub fn try_line(&mut self) -> Result<String, String> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            match self.stream.read(&mut byte) {
                Ok(0) => {
                    let so_far = String::from_utf8_lossy(&line);
                    return Err(format!("connection closed after {so_far:?}"));
                }
                Ok(_) => line.push(byte[0]),
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        line.truncate(line.len() - 2);
        String::from_utf8(line).map_err(|e| e.to_string())
    }

    /// Reads one line (without `\r\n`); panics on EOF or error.
    pub fn line(&mut self) -> String {
        self.try_line().unwrap()
    }

    /// Reads lines until one satisfies `pred`, answering server `PING`s; fails after TIMEOUT.
    pub fn try_line_where(&mut self, mut pred: impl FnMut(&str) -> bool) -> Result<String, String> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if Instant::now() >= deadline {
                return Err(format!("no matching line within {TIMEOUT:?}"));
            }
            let line = self.try_line()?;
            if pred(&line) {
                return Ok(line);
            }
            if line == "PING" {
                self.send("PONG\r\n");
            }
        }
    }

    /// Reads lines until one satisfies `pred`, answering server `PING`s; panics after TIMEOUT.
    pub fn line_where(&mut self, pred: impl FnMut(&str) -> bool) -> String {
        self.try_line_where(pred).unwrap()
    }

    /// A request/reply on the raw connection: returns the reply payload.
    pub fn request(&mut self, subject: &str, payload: &str) -> String {
        let inbox = "_INBOX.raw";
        self.send(&format!(
            "SUB {inbox} 99\r\nPUB {subject} {inbox} {}\r\n{payload}\r\n",
            payload.len()
        ));
        let header = self.line_where(|l| l.starts_with("MSG "));
        let len: usize = header.rsplit(' ').next().unwrap().parse().unwrap();
        let mut body = vec![0u8; len + 2];
        self.stream.read_exact(&mut body).unwrap();
        body.truncate(len);
        self.send("UNSUB 99\r\n");
        String::from_utf8(body).unwrap()
    }

    /// A JetStream API request; panics if the response has an `error`.
    pub fn js_api(&mut self, subject: &str, payload: &str) -> serde_json::Value {
        let reply = self.request(subject, payload);
        let json: serde_json::Value = serde_json::from_str(&reply).unwrap();
        assert!(json.get("error").is_none(), "{subject}: {json}");
        json
    }
}

/// Whether a process with this PID exists (a zombie counts as existing).
pub fn pid_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether a new TCP connection to `addr` is refused.
pub fn refuses(addr: SocketAddr) -> bool {
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err()
}
