//! Raw probes of a running server: the `INFO` line, the monitoring HTTP endpoints, and a poller
//! that retries a check until it holds or a deadline passes.
//!
//! These use blocking `std::net` sockets with timeouts and need no NATS client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long [`wait_for`] sleeps between two attempts.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Calls `check` until it returns `Ok`, or until `timeout` has passed; then returns the last error,
/// prefixed with how long we waited.
///
/// `check` is always called at least once.
pub fn wait_for<T>(
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return Ok(value),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("still failing after {timeout:?}: {e}"));
            }
            Err(_) => std::thread::sleep(POLL_INTERVAL),
        }
    }
}

/// Opens a TCP connection to `addr` with the given connect, read and write timeout.
pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("set timeouts on {addr}: {e}"))?;
    Ok(stream)
}

/// Reads one `\r\n`-terminated line (without the terminator) from `stream`, byte by byte so that
/// nothing after the line is consumed. Fails on EOF, timeout, or a line longer than 1 MiB.
pub fn read_line(stream: &mut TcpStream) -> Result<String, String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => {
                return Err(format!(
                    "connection closed after {:?}",
                    String::from_utf8_lossy(&line)
                ));
            }
            Ok(_) => line.push(byte[0]),
            Err(e) => return Err(format!("read: {e}")),
        }
        if line.len() > 1 << 20 {
            return Err("line longer than 1 MiB".to_owned());
        }
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|e| format!("line is not UTF-8: {e}"))
}

/// Parses an `INFO {json}` line into its JSON object.
pub fn parse_info(line: &str) -> Result<serde_json::Value, String> {
    let json = line
        .strip_prefix("INFO ")
        .ok_or_else(|| format!("expected INFO, got {line:?}"))?;
    serde_json::from_str(json.trim()).map_err(|e| format!("bad INFO json {json:?}: {e}"))
}

/// Connects to `addr`, reads the server's first line, which must be `INFO`, and returns its JSON.
///
/// Works for TLS servers too (the server sends `INFO` in plain text before the handshake), except
/// with `handshake_first`, where the server waits for the client's TLS hello.
pub fn read_info(addr: SocketAddr, timeout: Duration) -> Result<serde_json::Value, String> {
    let mut stream = connect(addr, timeout)?;
    parse_info(&read_line(&mut stream)?)
}

/// `GET path` over HTTP/1.0 from `addr`; returns the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(u16, String), String> {
    let mut stream = connect(addr, timeout)?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("GET {path} from {addr}: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("GET {path} from {addr}: {e}"))?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET {path} from {addr}: malformed response {response:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("GET {path} from {addr}: bad status line in {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// `GET path` from `addr`, requiring status 200 and a JSON body.
pub fn http_get_json(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<serde_json::Value, String> {
    let (status, body) = http_get(addr, path, timeout)?;
    if status != 200 {
        return Err(format!("GET {path} from {addr}: status {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {path} from {addr}: bad JSON: {e}"))
}
