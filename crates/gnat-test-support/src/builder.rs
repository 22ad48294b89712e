//! [`ServerBuilder`]: what to start a [`NatsServer`] with.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Auth, ClusterSpec, Spec, TlsSpec};
use crate::server::NatsServer;
use crate::tls::TlsFiles;

/// Options for one server; [`start`](ServerBuilder::start) runs it.
///
/// Defaults: core NATS only, monitoring on (a random HTTP port), no auth, no TLS. Every option
/// survives restarts: the config file is regenerated from them at each start, with the ports of
/// the first start.
///
/// ```no_run
/// use gnat_test_support::NatsServer;
/// let server = NatsServer::builder().jetstream(true).token("s3cret").start();
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until start() is called"]
pub struct ServerBuilder {
    pub(crate) spec: Spec,
    /// Source paths of the TLS files; copied into the server's directory at start.
    tls_source: Option<TlsSource>,
}

#[derive(Clone, Debug)]
struct TlsSource {
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            spec: Spec {
                monitoring: true,
                ..Spec::default()
            },
            tls_source: None,
        }
    }
}

impl ServerBuilder {
    /// A builder with the defaults; same as [`NatsServer::builder`].
    pub fn new() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Enables JetStream with a store directory inside the server's temporary directory, kept
    /// across restarts and kills.
    pub fn jetstream(mut self, on: bool) -> Self {
        self.spec.jetstream = on;
        self
    }

    /// Appends raw config text (one or more lines) to the generated config file.
    pub fn config(mut self, snippet: impl Into<String>) -> Self {
        self.spec.snippets.push(snippet.into());
        self
    }

    /// Adds a command-line argument (after `-c <config>`; flags override the config file).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.spec.args.push(arg.as_ref().to_owned());
        self
    }

    /// Sets `server_name` (unique names are required within a JetStream cluster).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.spec.server_name = Some(name.into());
        self
    }

    /// Serves TLS on the client port with `files.server_cert`/`server_key`, trusting
    /// `files.ca_cert` for client certificates. The files are copied into the server's own
    /// directory at start, so `files` need only live until then.
    pub fn tls(mut self, files: &TlsFiles) -> Self {
        self.tls_source = Some(TlsSource {
            cert: files.server_cert.clone(),
            key: files.server_key.clone(),
            ca: files.ca_cert.clone(),
        });
        self
    }

    /// With [`tls`](Self::tls): require and verify client certificates (`verify: true`).
    pub fn tls_verify(mut self, on: bool) -> Self {
        self.tls_spec().verify = on;
        self
    }

    /// With [`tls`](Self::tls): TLS handshake before `INFO` (`handshake_first: true`). The
    /// readiness check then only waits for the port to accept.
    pub fn tls_handshake_first(mut self, on: bool) -> Self {
        self.tls_spec().handshake_first = on;
        self
    }

    fn tls_spec(&mut self) -> &mut TlsSpec {
        self.spec.tls.get_or_insert_with(|| TlsSpec {
            cert: PathBuf::new(),
            key: PathBuf::new(),
            ca: PathBuf::new(),
            verify: false,
            handshake_first: false,
        })
    }

    /// Requires a token (`authorization { token }`); replaces any user/password.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.spec.auth = Some(Auth::Token(token.into()));
        self
    }

    /// Requires a user and password (`authorization { user, password }`); replaces any token.
    pub fn user_password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.spec.auth = Some(Auth::UserPassword(user.into(), password.into()));
        self
    }

    /// Turns the HTTP monitoring port on (the default) or off. Without it, JetStream readiness
    /// is judged from `INFO` alone and `/healthz` is not polled.
    pub fn monitoring(mut self, on: bool) -> Self {
        self.spec.monitoring = on;
        self
    }

    /// Sets `lame_duck_duration`: how long lame duck mode spreads closing clients over. The
    /// server refuses less than 30 seconds.
    pub fn lame_duck_duration(mut self, duration: Duration) -> Self {
        self.spec.lame_duck_duration = Some(duration);
        self
    }

    /// Sets `lame_duck_grace_period`: how long the server waits after entering lame duck mode
    /// before it starts closing clients (default 10 s).
    pub fn lame_duck_grace_period(mut self, duration: Duration) -> Self {
        self.spec.lame_duck_grace_period = Some(duration);
        self
    }

    /// Adds a `websocket {}` listener on a random loopback port (see
    /// [`NatsServer::websocket_url`]): with `tls` on it uses the certificate given to
    /// [`tls`](Self::tls) (which must be set too; the client port then has TLS as well),
    /// otherwise it is plain (`no_tls: true`).
    pub fn websocket(mut self, tls: bool) -> Self {
        self.spec.websocket = Some(tls);
        self
    }

    /// Turns the WebSocket listener's `compression` on (the server then compresses for
    /// clients that offer permessage-deflate). Needs [`websocket`](Self::websocket).
    pub fn websocket_compression(mut self, on: bool) -> Self {
        self.spec.websocket_compression = on;
        self
    }

    /// Sets the JetStream domain; implies [`jetstream(true)`](Self::jetstream).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.spec.domain = Some(domain.into());
        self.spec.jetstream = true;
        self
    }

    /// Makes the server a member of a cluster on loopback (used by [`crate::Cluster`]).
    pub(crate) fn cluster(mut self, name: &str, port: u16, routes: Vec<u16>) -> Self {
        self.spec.cluster = Some(ClusterSpec {
            name: name.to_owned(),
            port,
            routes,
        });
        self
    }

    /// Starts the server and waits until it is ready (see [`NatsServer::wait_ready`]).
    ///
    /// # Panics
    ///
    /// If it does not start or become ready within [`crate::START_TIMEOUT`]; the message has the
    /// tail of the server's log.
    pub fn start(self) -> NatsServer {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`start`](Self::start), but returns the failure (with the log tail) instead of
    /// panicking, e.g. to test that a config is refused.
    pub fn try_start(self) -> Result<NatsServer, String> {
        let mut server = self.spawn()?;
        server.wait_started_ready(crate::START_TIMEOUT)?;
        Ok(server)
    }

    /// Starts the process and reads its ports back, without waiting for readiness.
    pub(crate) fn spawn(mut self) -> Result<NatsServer, String> {
        if self.spec.tls.is_some() && self.tls_source.is_none() {
            return Err("tls_verify/tls_handshake_first need tls(files) too".to_owned());
        }
        let mut server = NatsServer::new_stopped(self.spec.clone());
        if let Some(source) = self.tls_source.take() {
            let dir = server.dir().to_owned();
            let copy = |from: &PathBuf, name: &str| -> Result<PathBuf, String> {
                let to = dir.join(name);
                std::fs::copy(from, &to)
                    .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
                Ok(to)
            };
            let tls = self.tls_spec();
            let (cert, key, ca) = (
                copy(&source.cert, "server-cert.pem")?,
                copy(&source.key, "server-key.pem")?,
                copy(&source.ca, "ca.pem")?,
            );
            tls.cert = cert;
            tls.key = key;
            tls.ca = ca;
            server.set_spec(self.spec);
        }
        server.spawn(crate::START_TIMEOUT)?;
        Ok(server)
    }
}
