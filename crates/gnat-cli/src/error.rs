//! Failures as the command reports them: one line of text and an exit code that tells usage
//! errors, connection failures and server refusals apart.

use std::fmt;

use kv::jetstream;
use kv::jetstream::client;

/// What kind of failure ended the command; each has its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Anything else (timeouts, no responders, local IO): exit code 1.
    Other,
    /// The command line or its input is wrong (clap uses the same code): exit code 2.
    Usage,
    /// The server could not be reached, refused the credentials, or TLS failed: exit code 3.
    Connection,
    /// The server refused the operation (API error, key exists, wrong revision, not found,
    /// permission denied): exit code 4.
    Refused,
    /// Stdout was closed by the reader (`gnat kv watch | head -1`): exit code 0, no message.
    Quiet,
    /// A monitoring check's status (Nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), already
    /// printed: this exit code, no message.
    Status(u8),
}

impl Failure {
    /// The process exit code.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Failure::Quiet => 0,
            Failure::Status(code) => code,
            Failure::Other => 1,
            Failure::Usage => 2,
            Failure::Connection => 3,
            Failure::Refused => 4,
        }
    }
}

/// A failure: its kind and the one line that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CliError {
    /// What kind of failure it is.
    pub(crate) kind: Failure,
    /// What to tell the user (no `gnat: error:` prefix).
    pub(crate) message: String,
}

/// A result with a [`CliError`].
pub(crate) type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    /// A failure of `kind`.
    pub(crate) fn new(kind: Failure, message: impl Into<String>) -> CliError {
        CliError {
            kind,
            message: message.into(),
        }
    }

    /// A usage error (exit code 2).
    pub(crate) fn usage(message: impl Into<String>) -> CliError {
        CliError::new(Failure::Usage, message)
    }

    /// A server refusal (exit code 4).
    pub(crate) fn refused(message: impl Into<String>) -> CliError {
        CliError::new(Failure::Refused, message)
    }

    /// Any other failure (exit code 1).
    pub(crate) fn other(message: impl Into<String>) -> CliError {
        CliError::new(Failure::Other, message)
    }

    /// A failed connect to `url`.
    pub(crate) fn connect(url: &str, err: &client::Error) -> CliError {
        let kind = match err.kind() {
            client::ErrorKind::Config | client::ErrorKind::InvalidInput => Failure::Usage,
            _ => Failure::Connection,
        };
        // The client often names the server already ("connect to nats://…: refused").
        let message = match err.message().strip_prefix("connect to ") {
            Some(rest) if rest.starts_with(url) => format!("could not connect to {rest}"),
            _ => format!("could not connect to {url}: {err}"),
        };
        CliError::new(kind, message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The kind of a client-layer failure.
fn client_failure(kind: client::ErrorKind) -> Failure {
    use client::ErrorKind as K;
    match kind {
        K::Io | K::Tls | K::Authorization | K::NoServers | K::Disconnected | K::Closed => {
            Failure::Connection
        }
        K::Protocol => Failure::Connection,
        K::PermissionDenied | K::Server | K::MaxPayloadExceeded => Failure::Refused,
        K::InvalidInput | K::Config => Failure::Usage,
        _ => Failure::Other,
    }
}

impl From<client::Error> for CliError {
    fn from(err: client::Error) -> CliError {
        CliError::new(client_failure(err.kind()), err.to_string())
    }
}

/// The kind of a JetStream-layer failure.
fn jetstream_failure(err: &jetstream::Error) -> Failure {
    use jetstream::ErrorKind as K;
    match err.kind() {
        K::Api | K::NoStream => Failure::Refused,
        K::Status if err.code() == Some(404) => Failure::Refused,
        K::Client => err.client_kind().map_or(Failure::Other, client_failure),
        K::InvalidInput => Failure::Usage,
        _ => Failure::Other,
    }
}

/// What the server said, or else the error's own text without the layer's prefix.
fn jetstream_message(err: &jetstream::Error) -> String {
    if let Some(api) = err.api() {
        if api.description.is_empty() {
            return format!("server error {} (err_code {})", api.code, api.err_code);
        }
        return api.description.clone();
    }
    if let Some(c) = err.client_error() {
        if c.is_no_responders() {
            return format!("{c} (is JetStream enabled?)");
        }
        return c.to_string();
    }
    if let Some((code, description)) = err.status() {
        return format!("status {code} {description}")
            .trim_end()
            .to_string();
    }
    let text = err.to_string();
    text.strip_prefix("jetstream: ")
        .map(str::to_string)
        .unwrap_or(text)
}

impl From<jetstream::Error> for CliError {
    fn from(err: jetstream::Error) -> CliError {
        CliError::new(jetstream_failure(&err), jetstream_message(&err))
    }
}

/// The Key-Value layer's own message, without its `kv: ` prefix and the JetStream error it
/// appends in parentheses.
fn kv_message(err: &kv::Error) -> String {
    let text = err.to_string();
    let mut text = text.strip_prefix("kv: ").unwrap_or(&text).to_string();
    if let Some(source) = err.jetstream() {
        let suffix = format!(" ({source})");
        if let Some(stripped) = text.strip_suffix(&suffix) {
            text = stripped.to_string();
        }
    }
    text
}

impl From<kv::Error> for CliError {
    fn from(err: kv::Error) -> CliError {
        use kv::ErrorKind as K;
        let server_says = err
            .jetstream()
            .and_then(jetstream::Error::api)
            .map(|a| a.description.clone())
            .filter(|d| !d.is_empty());
        match err.kind() {
            K::KeyExists => CliError::refused(format!(
                "{}: key exists",
                server_says.unwrap_or_else(|| "wrong last sequence".to_string())
            )),
            K::WrongLastRevision => {
                CliError::refused(server_says.unwrap_or_else(|| kv_message(&err)))
            }
            K::InvalidBucketName | K::InvalidKey | K::InvalidConfig | K::InvalidInput => {
                CliError::usage(kv_message(&err))
            }
            K::JetStream => match err.jetstream() {
                Some(js) => CliError::from(js.clone()),
                None => CliError::other(kv_message(&err)),
            },
            K::Decode => CliError::other(kv_message(&err)),
            _ => CliError::refused(kv_message(&err)),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> CliError {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::new(Failure::Quiet, "")
        } else {
            CliError::other(err.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jetstream::ApiError;

    fn api(code: u16, err_code: u64, description: &str) -> jetstream::Error {
        jetstream::Error::from_api(ApiError {
            code,
            err_code,
            description: description.into(),
        })
    }

    #[test]
    fn key_exists_reads_like_nats() {
        let e = kv::Error::with_source(
            kv::ErrorKind::KeyExists,
            "key Key1 exists in bucket Bucket1",
            api(400, 10071, "wrong last sequence: 1"),
        );
        let c = CliError::from(e);
        assert_eq!(c.message, "wrong last sequence: 1: key exists");
        assert_eq!(c.kind.exit_code(), 4);
    }

    #[test]
    fn wrong_revision_is_the_server_description() {
        let e = kv::Error::with_source(
            kv::ErrorKind::WrongLastRevision,
            "key Key1: the latest revision is not 0",
            api(400, 10071, "wrong last sequence: 1"),
        );
        assert_eq!(
            CliError::from(e),
            CliError::refused("wrong last sequence: 1")
        );
    }

    #[test]
    fn kv_messages_lose_their_prefix_and_source() {
        let e = kv::Error::with_source(
            kv::ErrorKind::BucketNotFound,
            "bucket B not found",
            api(404, 10059, "stream not found"),
        );
        assert_eq!(CliError::from(e), CliError::refused("bucket B not found"));
        let e = kv::Error::new(kv::ErrorKind::InvalidKey, "invalid key \"a b\"");
        assert_eq!(CliError::from(e), CliError::usage("invalid key \"a b\""));
        let e = kv::Error::from(api(500, 10999, "boom"));
        assert_eq!(CliError::from(e), CliError::refused("boom"));
    }

    #[test]
    fn client_failures_map_to_exit_codes() {
        let c = |k| CliError::from(client::Error::new(k, "x")).kind.exit_code();
        assert_eq!(c(client::ErrorKind::Io), 3);
        assert_eq!(c(client::ErrorKind::Authorization), 3);
        assert_eq!(c(client::ErrorKind::Tls), 3);
        assert_eq!(c(client::ErrorKind::PermissionDenied), 4);
        assert_eq!(c(client::ErrorKind::InvalidInput), 2);
        assert_eq!(c(client::ErrorKind::Timeout), 1);
        let js = jetstream::Error::from(client::Error::new(client::ErrorKind::Timeout, "slow"));
        assert_eq!(CliError::from(js).kind, Failure::Other);
        let connect = CliError::connect(
            "nats://127.0.0.1:1",
            &client::Error::new(client::ErrorKind::Io, "refused"),
        );
        assert_eq!(connect.kind.exit_code(), 3);
        assert_eq!(
            connect.message,
            "could not connect to nats://127.0.0.1:1: io: refused"
        );
        let named = CliError::connect(
            "nats://h:1",
            &client::Error::new(client::ErrorKind::Io, "connect to nats://h:1: refused"),
        );
        assert_eq!(named.message, "could not connect to nats://h:1: refused");
        let broken = CliError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(broken.kind.exit_code(), 0);
    }
}
