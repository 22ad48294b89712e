//! [`NatsServer`]: one `nats-server` process that we started, and its lifecycle.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::builder::ServerBuilder;
use crate::config::{Ports, Spec};
use crate::probe;
use crate::tempdir::TempDir;

/// How long a graceful stop may take before we fall back to SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Timeout of one probe (connect, read `INFO`, one HTTP request).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often we look for the ports file while a server starts (cheap: no request to the server).
const PORTS_POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Lines of log quoted in panic messages.
const LOG_TAIL_LINES: usize = 40;

/// A running `nats-server` process that this test started, on `127.0.0.1`.
///
/// It lives in its own temporary directory (config, log, JetStream store), listens on ports it
/// picked at first start and keeps them across [`restart`](Self::restart),
/// [`kill`](Self::kill) + [`start_again`](Self::start_again), and is killed (SIGKILL), reaped
/// and removed with its directory on drop.
#[derive(Debug)]
pub struct NatsServer {
    spec: Spec,
    child: Option<Child>,
    pid: u32,
    ports: Ports,
    cluster_port: Option<u16>,
    starts: u32,
    started_once: bool,
    store: PathBuf,
    dir: TempDir,
}

/// Why a start failed before the ports were known.
enum SpawnError {
    /// The process exited; the message has its status.
    Exited(String),
    /// Anything else (already has the full message).
    Other(String),
}

impl NatsServer {
    /// Starts a core NATS server (no JetStream, monitoring on) and waits until it is ready.
    ///
    /// # Panics
    ///
    /// If it cannot start within [`crate::START_TIMEOUT`], with the log tail.
    pub fn start() -> NatsServer {
        ServerBuilder::new().start()
    }

    /// Starts a JetStream server with a temporary store directory and waits until `/healthz`
    /// reports ok.
    ///
    /// # Panics
    ///
    /// If it cannot start within [`crate::START_TIMEOUT`], with the log tail.
    pub fn start_jetstream() -> NatsServer {
        ServerBuilder::new().jetstream(true).start()
    }

    /// A [`ServerBuilder`] with the defaults, for auth, TLS, JetStream domains, extra config.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::new()
    }

    pub(crate) fn new_stopped(spec: Spec) -> NatsServer {
        let dir = TempDir::new("server");
        let store = dir.path().join("store");
        NatsServer {
            spec,
            child: None,
            pid: 0,
            ports: Ports::default(),
            cluster_port: None,
            starts: 0,
            started_once: false,
            store,
            dir,
        }
    }

    pub(crate) fn set_spec(&mut self, spec: Spec) {
        self.spec = spec;
    }

    /// The client URL, `nats://127.0.0.1:PORT` (also for TLS servers).
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port())
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.ports.client.unwrap_or(0)
    }

    /// The client address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port()))
    }

    /// The PID of the current (or, after a stop or kill, the last) server process.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The JetStream store directory, if JetStream is on. It survives restarts and kills.
    pub fn store_dir(&self) -> Option<&Path> {
        self.spec.jetstream.then_some(self.store.as_path())
    }

    /// The monitoring URL, `http://127.0.0.1:PORT`, if monitoring is on.
    pub fn monitor_url(&self) -> Option<String> {
        self.monitor_addr().map(|addr| format!("http://{addr}"))
    }

    /// The monitoring address, if monitoring is on.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.ports
            .monitor
            .map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }

    /// The WebSocket URL (`ws://127.0.0.1:P` or `wss://…` when the listener has TLS), if the
    /// server was built with [`ServerBuilder::websocket`](crate::ServerBuilder::websocket).
    pub fn websocket_url(&self) -> Option<String> {
        let port = self.ports.websocket?;
        let scheme = if self.spec.websocket == Some(true) && self.spec.tls.is_some() {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://127.0.0.1:{port}"))
    }

    /// The cluster (route) port, if this server is a cluster member.
    pub fn cluster_port(&self) -> Option<u16> {
        self.cluster_port
    }

    /// The configured `server_name`, if any.
    pub fn name(&self) -> Option<&str> {
        self.spec.server_name.as_deref()
    }

    /// This server's temporary directory (config `server.conf`, log `server.log`, store `store/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The path of the log file (stdout and stderr of every start, appended).
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("server.log")
    }

    fn config_path(&self) -> PathBuf {
        self.dir().join("server.conf")
    }

    /// The whole server log so far (every start), for debugging failures.
    pub fn log(&self) -> String {
        std::fs::read(self.log_path())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|e| format!("<cannot read {}: {e}>", self.log_path().display()))
    }

    /// The last lines of the log, headed by where the full log is.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
        format!(
            "--- last {} lines of {} ---\n{}",
            tail.len(),
            self.log_path().display(),
            tail.join("\n")
        )
    }

    /// Reads the `INFO` line a new client connection gets.
    pub fn info(&self) -> Result<serde_json::Value, String> {
        probe::read_info(self.addr(), PROBE_TIMEOUT)
    }

    /// `GET path` from the monitoring port (e.g. `/varz`, `/jsz`, `/routez`), as JSON.
    pub fn monitor_json(&self, path: &str) -> Result<serde_json::Value, String> {
        let addr = self
            .monitor_addr()
            .ok_or("monitoring is off for this server")?;
        probe::http_get_json(addr, path, PROBE_TIMEOUT)
    }

    /// Whether we started the process and have not stopped, killed or reaped it since (no
    /// system call; see [`is_running`](Self::is_running) for the real check).
    pub(crate) fn expected_running(&self) -> bool {
        self.child.is_some()
    }

    /// Whether the process is alive (reaps it if it has exited).
    pub fn is_running(&mut self) -> bool {
        let Some(child) = &mut self.child else {
            return false;
        };
        match child.try_wait() {
            Ok(None) => true,
            Ok(Some(_)) | Err(_) => {
                self.child = None;
                false
            }
        }
    }

    /// Stops the server gracefully (SIGTERM, JetStream flushes its store) and reaps it; falls back
    /// to SIGKILL after 20 s. Does nothing if it is not running.
    pub fn stop(&mut self) {
        if !self.is_running() {
            return;
        }
        if let Err(e) = self.signal("term") {
            eprintln!("gnat-test-support: {e}; killing pid {} instead", self.pid);
            self.kill();
            return;
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while self.is_running() {
            if Instant::now() >= deadline {
                eprintln!(
                    "gnat-test-support: pid {} ignored SIGTERM for {STOP_TIMEOUT:?}; killing it",
                    self.pid
                );
                self.kill();
                return;
            }
            std::thread::sleep(probe::POLL_INTERVAL);
        }
    }

    /// Kills the server with SIGKILL and reaps it: no shutdown, the store stays as it was.
    /// Does nothing if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// After [`stop`](Self::stop) or [`kill`](Self::kill): starts the server again on the same
    /// ports with the same store and config, and waits until it is ready.
    ///
    /// # Panics
    ///
    /// If it is still running, or does not become ready within [`crate::START_TIMEOUT`].
    pub fn start_again(&mut self) {
        assert!(
            !self.is_running(),
            "start_again: nats-server pid {} is still running",
            self.pid
        );
        let result = self
            .spawn(crate::START_TIMEOUT)
            .and_then(|()| self.wait_started_ready(crate::START_TIMEOUT));
        if let Err(e) = result {
            panic!("{e}");
        }
    }

    /// Stops the server gracefully (if running), then [`start_again`](Self::start_again).
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Puts the server into lame duck mode (SIGUSR2): it stops accepting connections, sends
    /// clients an `INFO` with `"ldm":true`, and after the grace period closes them.
    ///
    /// # Panics
    ///
    /// If the signal cannot be sent.
    pub fn lame_duck(&self) {
        if let Err(e) = self.signal("ldm") {
            panic!("{e}");
        }
    }

    /// Sends a signal with `nats-server --signal NAME=PID` (the binary we run is always there,
    /// unlike a `kill` command). Names: `ldm`, `term`, `quit`, `stop`, `reopen`, `reload`.
    fn signal(&self, name: &str) -> Result<(), String> {
        let out = Command::new(crate::nats_server_bin())
            .arg("--signal")
            .arg(format!("{name}={}", self.pid))
            .output()
            .map_err(|e| format!("cannot run nats-server --signal: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "nats-server --signal {name}={} failed: {}{}",
                self.pid,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Polls until the server is ready or `timeout` passes: it accepts TCP and sends an `INFO`
    /// line (only accepts, with `handshake_first` TLS), and with JetStream, `/healthz` is ok.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        probe::wait_for(timeout, || self.probe_ready())
            .map_err(|e| format!("nats-server pid {}: {e}\n{}", self.pid, self.log_tail()))
    }

    /// One readiness check.
    pub(crate) fn probe_ready(&self) -> Result<(), String> {
        let handshake_first = self.spec.tls.as_ref().is_some_and(|t| t.handshake_first);
        let info = if handshake_first {
            probe::connect(self.addr(), PROBE_TIMEOUT)?;
            None
        } else {
            Some(self.info()?)
        };
        if !self.spec.jetstream {
            return Ok(());
        }
        if let Some(monitor) = self.monitor_addr() {
            let (status, body) = probe::http_get(monitor, "/healthz", PROBE_TIMEOUT)?;
            if status != 200 {
                return Err(format!("/healthz: {status} {}", body.trim()));
            }
        } else if let Some(info) = info
            && info["jetstream"] != true
        {
            return Err("INFO does not say jetstream:true yet".to_owned());
        }
        Ok(())
    }

    /// Like [`wait_ready`](Self::wait_ready), but fails at once if the process exits.
    pub(crate) fn wait_started_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                return Err(format!(
                    "nats-server pid {} exited before it was ready\n{}",
                    self.pid,
                    self.log_tail()
                ));
            }
            let error = match self.probe_ready() {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "nats-server pid {} not ready after {timeout:?}: {error}\n{}",
                    self.pid,
                    self.log_tail()
                ));
            }
            std::thread::sleep(probe::POLL_INTERVAL);
        }
    }

    /// Starts the process and waits for its ports file. On a restart (the ports are ours from
    /// the first start) a port still held by the OS makes the start fail; we retry until
    /// `timeout`.
    pub(crate) fn spawn(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let log_start = std::fs::metadata(self.log_path()).map_or(0, |m| m.len());
            match self.spawn_once(deadline) {
                Ok(()) => {
                    self.started_once = true;
                    return Ok(());
                }
                Err(SpawnError::Exited(status)) => {
                    let log = self.log();
                    let fresh = log.get(log_start as usize..).unwrap_or(&log);
                    if self.started_once
                        && fresh.contains("address already in use")
                        && Instant::now() < deadline
                    {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                    return Err(format!(
                        "nats-server exited during startup ({status})\n{}",
                        self.log_tail()
                    ));
                }
                Err(SpawnError::Other(e)) => return Err(e),
            }
        }
    }

    fn spawn_once(&mut self, deadline: Instant) -> Result<(), SpawnError> {
        let other = |what: &str, e: std::io::Error| SpawnError::Other(format!("{what}: {e}"));
        std::fs::create_dir_all(&self.store).map_err(|e| other("create store dir", e))?;
        let config = self.spec.render(self.ports, &self.store);
        std::fs::write(self.config_path(), config).map_err(|e| other("write config", e))?;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| other("open log", e))?;
        self.starts += 1;
        let _ = writeln!(log, "--- gnat-test-support: start #{} ---", self.starts);
        let stdout = log.try_clone().map_err(|e| other("clone log", e))?;
        let child = Command::new(crate::nats_server_bin())
            .arg("-c")
            .arg(self.config_path())
            .arg("--ports_file_dir")
            .arg(self.dir())
            .args(&self.spec.args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log)
            .spawn()
            .map_err(|e| other("spawn nats-server", e))?;
        self.pid = child.id();
        self.child = Some(child);
        loop {
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(SpawnError::Exited(status.to_string()));
            }
            if let Some(ports) = self.read_ports_file() {
                self.record_ports(ports);
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(SpawnError::Other(format!(
                    "nats-server pid {} wrote no ports file in time\n{}",
                    self.pid,
                    self.log_tail()
                )));
            }
            std::thread::sleep(PORTS_POLL_INTERVAL);
        }
    }

    /// The server writes `<exe>_<pid>.ports` in the ports dir once it listens: JSON like
    /// `{"nats":["nats://127.0.0.1:P"],"monitoring":["http://127.0.0.1:P"],"cluster":[…]}`.
    fn read_ports_file(&self) -> Option<PortsFile> {
        let suffix = format!("_{}.ports", self.pid);
        let entry = std::fs::read_dir(self.dir())
            .ok()?
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().ends_with(&suffix))?;
        // A half-written file fails to parse; we try again on the next poll.
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.path()).ok()?).ok()?;
        let port = |key: &str| -> Option<u16> {
            let url = json.get(key)?.get(0)?.as_str()?;
            url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
        };
        Some(PortsFile {
            client: port("nats")?,
            monitor: port("monitoring"),
            cluster: port("cluster"),
            websocket: port("websocket"),
        })
    }

    fn record_ports(&mut self, ports: PortsFile) {
        self.ports.client = Some(ports.client);
        if self.spec.monitoring {
            self.ports.monitor = ports.monitor;
        }
        self.cluster_port = ports.cluster;
        if self.spec.websocket.is_some() {
            self.ports.websocket = ports.websocket;
        }
    }
}

/// The ports read back from the ports file.
struct PortsFile {
    client: u16,
    monitor: Option<u16>,
    cluster: Option<u16>,
    websocket: Option<u16>,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
