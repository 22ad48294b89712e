//! The connection flags every command takes, and connecting with them.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use kv::jetstream::Context;
use kv::jetstream::client::{Client, ConnectOptions};

use crate::error::{CliError, Result};
use crate::units::parse_duration;

/// The server when neither `--server` nor `NATS_URL` names one.
pub(crate) const DEFAULT_SERVER: &str = "nats://127.0.0.1:4222";

/// Where and how to connect (global: accepted before or after the subcommand).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection")]
pub(crate) struct ConnectionArgs {
    /// NATS server URLs, comma-separated [default: $NATS_URL, else nats://127.0.0.1:4222]
    #[arg(short = 's', long = "server", value_name = "URL", global = true)]
    pub(crate) server: Option<String>,

    /// User name (with --password)
    #[arg(long, value_name = "USER", global = true, requires = "password")]
    pub(crate) user: Option<String>,

    /// Password (with --user)
    #[arg(long, value_name = "PASSWORD", global = true, requires = "user")]
    pub(crate) password: Option<String>,

    /// Authentication token
    #[arg(long, value_name = "TOKEN", global = true, conflicts_with_all = ["user", "creds", "nkey"])]
    pub(crate) token: Option<String>,

    /// User credentials file (JWT and nkey seed)
    #[arg(long, value_name = "FILE", global = true, conflicts_with_all = ["user", "nkey"])]
    pub(crate) creds: Option<PathBuf>,

    /// File holding an nkey seed (SU…)
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "user")]
    pub(crate) nkey: Option<PathBuf>,

    /// Client certificate (PEM), with --tlskey
    #[arg(long, value_name = "FILE", global = true, requires = "tlskey")]
    pub(crate) tlscert: Option<PathBuf>,

    /// Client certificate's private key (PEM), with --tlscert
    #[arg(long, value_name = "FILE", global = true, requires = "tlscert")]
    pub(crate) tlskey: Option<PathBuf>,

    /// CA certificate (PEM) to verify the server with
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) tlsca: Option<PathBuf>,

    /// Use this context (natscli's context files) for the flags not given
    #[arg(long, value_name = "NAME", global = true)]
    pub(crate) context: Option<String>,

    /// The JetStream domain to talk to
    #[arg(long, value_name = "DOMAIN", global = true)]
    pub(crate) js_domain: Option<String>,

    /// Timeout of connecting and of each request
    #[arg(long, value_name = "DURATION", global = true, default_value = "5s", value_parser = parse_timeout)]
    pub(crate) timeout: Duration,
}

impl ConnectionArgs {
    /// The server URL list: `--server`, else `NATS_URL`, else [`DEFAULT_SERVER`].
    pub(crate) fn url(&self) -> String {
        self.server
            .clone()
            .or_else(|| std::env::var("NATS_URL").ok())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER.to_string())
    }

    /// The connect options the flags describe.
    pub(crate) fn options(&self) -> Result<ConnectOptions> {
        let mut opts = ConnectOptions::new()
            .name("gnat")
            .connection_timeout(self.timeout)
            .request_timeout(self.timeout);
        if let Some(token) = &self.token {
            opts = opts.token(token.clone());
        }
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            opts = opts.user_and_password(user.clone(), password.clone());
        }
        if let Some(path) = &self.creds {
            opts = opts
                .credentials_file(path.clone())
                .map_err(|e| CliError::usage(e.to_string()))?;
        }
        if let Some(path) = &self.nkey {
            let seed = read_seed(path)?;
            opts = opts
                .nkey(&seed)
                .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
        }
        for (flag, path) in [
            ("--tlsca", &self.tlsca),
            ("--tlscert", &self.tlscert),
            ("--tlskey", &self.tlskey),
        ] {
            if let Some(p) = path {
                readable(flag, p)?;
            }
        }
        if let Some(ca) = &self.tlsca {
            opts = opts.add_root_certificate(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&self.tlscert, &self.tlskey) {
            opts = opts.client_certificate(cert.clone(), key.clone());
        }
        Ok(opts)
    }

    /// Connects (one attempt per server of the list, within `--timeout` each).
    pub(crate) async fn connect(&self) -> Result<Client> {
        let url = self.url();
        self.options()?
            .connect(&url)
            .await
            .map_err(|e| CliError::connect(&url, &e))
    }

    /// Connects and returns a JetStream context on the connection.
    pub(crate) async fn jetstream(&self) -> Result<Context> {
        if let Some(domain) = &self.js_domain {
            kv::jetstream::context::validate_token("domain", domain)?;
        }
        let client = self.connect().await?;
        Ok(match &self.js_domain {
            Some(domain) => Context::with_domain(client, domain)?,
            None => Context::new(client),
        })
    }
}

/// A `--timeout`: a duration above zero.
fn parse_timeout(text: &str) -> std::result::Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err("the timeout must be above zero".to_string());
    }
    Ok(d)
}

/// Checks that a file named by a flag can be read, so that a typo is a usage error (exit 2)
/// rather than a failed connection.
fn readable(flag: &str, path: &std::path::Path) -> Result<()> {
    std::fs::File::open(path)
        .map(|_| ())
        .map_err(|e| CliError::usage(format!("{flag} {}: {e}", path.display())))
}

/// The nkey seed in `path`: its first line that looks like a user seed.
fn read_seed(path: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("nkey file {}: {e}", path.display())))?;
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("SU"))
        .map(str::to_string)
        .ok_or_else(|| CliError::usage(format!("nkey file {}: no SU… seed in it", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(server: Option<&str>) -> ConnectionArgs {
        ConnectionArgs {
            server: server.map(str::to_string),
            user: None,
            password: None,
            token: None,
            creds: None,
            nkey: None,
            tlscert: None,
            tlskey: None,
            tlsca: None,
            context: None,
            js_domain: None,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn server_flag_wins() {
        assert_eq!(args(Some("nats://h:1")).url(), "nats://h:1");
        // Without the flag: NATS_URL or the default (the environment is not touched here).
        let fallback = args(None).url();
        match std::env::var("NATS_URL") {
            Ok(v) if !v.trim().is_empty() => assert_eq!(fallback, v),
            _ => assert_eq!(fallback, DEFAULT_SERVER),
        }
    }

    #[test]
    fn seeds_are_read_from_files() {
        let dir = std::env::temp_dir().join(format!("gnat-cli-seed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.nk");
        std::fs::write(&good, "# comment\n  SUAFAKE  \n").unwrap();
        assert_eq!(read_seed(&good).unwrap(), "SUAFAKE");
        let bad = dir.join("bad.nk");
        std::fs::write(&bad, "nothing here\n").unwrap();
        assert_eq!(read_seed(&bad).unwrap_err().kind.exit_code(), 2);
        assert!(read_seed(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
