//! Server addresses: parsing `nats://`, `tls://` and bare `host[:port]` forms.
//!
//! A [`ServerAddr`] is what the connection layer dials: a host (DNS name or IP
//! literal), a port, whether TLS is required by the URL scheme, and optional
//! credentials taken from the URL's user-info part. It is parsed from what users
//! write (`nats://user:pass@host:4222`, `tls://host`, `host:4222`, `[::1]:4222`,
//! `host`) and from the `connect_urls` entries of a server's INFO
//! ([`ServerAddr::from_discovered`]).
//!
//! What it does not do: resolve names, or decide TLS-ness for discovered
//! servers (the caller passes it to [`ServerAddr::from_discovered`], or uses
//! [`ServerAddr::with_tls`]). WebSocket URLs (`ws://`, `wss://`) are accepted with
//! the `websocket` feature (on by default) and rejected without it.
//!
//! [`Display`](fmt::Display) never shows credentials, so an address can be
//! logged safely; [`Debug`](fmt::Debug) hides them too.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The port a NATS server listens on when the address names none.
pub const DEFAULT_PORT: u16 = 4222;

/// Why a server address could not be parsed.
///
/// Messages quote the offending address with any credentials replaced by
/// `***`, so they are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddrError {
    /// The address (or the whole server list) was empty or only whitespace.
    #[error("empty server address")]
    Empty,
    /// A WebSocket URL (`ws://`, `wss://`), which gnat does not support.
    #[error(
        "unsupported scheme {scheme:?} in {addr:?}: WebSocket is not supported, use nats:// or tls://"
    )]
    WebSocket {
        /// The scheme as written.
        scheme: String,
        /// The address, credentials redacted.
        addr: String,
    },
    /// A scheme other than `nats` or `tls`.
    #[error("unsupported scheme {scheme:?} in {addr:?}: expected nats:// or tls://")]
    UnsupportedScheme {
        /// The scheme as written.
        scheme: String,
        /// The address, credentials redacted.
        addr: String,
    },
    /// No host between the scheme (or credentials) and the port.
    #[error("missing host in {0:?}")]
    EmptyHost(String),
    /// The host has characters no DNS name or IP literal has, or is a malformed IP literal.
    #[error("invalid host in {0:?}")]
    InvalidHost(String),
    /// The port is empty, not a number, zero or above 65535.
    #[error("invalid port in {0:?}: expected a number from 1 to 65535")]
    InvalidPort(String),
    /// Something follows the host and port (a path, query or fragment).
    #[error("unexpected path, query or fragment in {0:?}")]
    UnexpectedPath(String),
    /// A `%` escape in the user name or password is malformed or not UTF-8.
    #[error("invalid percent-encoding in the credentials of {0:?}")]
    InvalidEncoding(String),
    /// A discovered (INFO `connect_urls`) address carried credentials.
    #[error("discovered server address {0:?} must not carry credentials")]
    UnexpectedCredentials(String),
}

/// Credentials from a URL's user-info part.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Credentials {
    None,
    /// `nats://token@host`: a lone user part is an auth token.
    Token(String),
    /// `nats://user:pass@host`.
    UserPass(String, String),
}

/// One NATS server to dial: host, port, TLS-ness from the scheme, and optional
/// URL credentials.
///
/// Equality and hashing include the credentials and the TLS flag; use
/// [`ServerAddr::socket_addr_string`] to compare endpoints only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ServerAddr {
    /// A DNS name, an IPv4 literal, or an IPv6 literal without brackets.
    host: String,
    port: u16,
    tls: bool,
    /// `ws://` or `wss://`: NATS over a WebSocket (`tls` says whether it is `wss`).
    websocket: bool,
    credentials: Credentials,
}

impl ServerAddr {
    /// Parses an INFO `connect_urls` entry (`host:port`, `[v6]:port`, `host`).
    ///
    /// Such entries come from the server and carry no scheme; a scheme is
    /// tolerated if it is `nats` or `tls` (and ignored), credentials are
    /// rejected. Whether the server needs TLS is the caller's call: pass `tls`
    /// (typically inherited from the configured servers).
    pub fn from_discovered(s: &str, tls: bool) -> Result<ServerAddr, AddrError> {
        let addr = parse(s)?;
        if addr.credentials != Credentials::None {
            return Err(AddrError::UnexpectedCredentials(redact(s.trim())));
        }
        Ok(addr.with_tls(tls))
    }

    /// The host: a DNS name, an IPv4 literal, or an IPv6 literal without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port (4222 when the address named none).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the scheme was `tls://` (or TLS was set with [`ServerAddr::with_tls`]).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the scheme was `ws://` or `wss://` (NATS over WebSocket; [`is_tls`] says
    /// which).
    ///
    /// [`is_tls`]: ServerAddr::is_tls
    pub fn is_websocket(&self) -> bool {
        self.websocket
    }

    /// The same address with TLS required or not, e.g. to make a discovered
    /// server inherit the TLS-ness of the configured ones.
    pub fn with_tls(mut self, tls: bool) -> ServerAddr {
        self.tls = tls;
        self
    }

    /// The same address as a WebSocket one or not (a discovered server inherits it from the
    /// configured ones).
    pub(crate) fn with_websocket(mut self, websocket: bool) -> ServerAddr {
        self.websocket = websocket;
        self
    }

    /// The same address with the credentials of `other` (e.g. a discovered server taking
    /// those of the configured URL).
    pub(crate) fn with_credentials_of(mut self, other: &ServerAddr) -> ServerAddr {
        self.credentials = other.credentials.clone();
        self
    }

    /// Whether the host is an IP literal (v4 or v6) rather than a DNS name.
    pub fn is_ip(&self) -> bool {
        self.host.parse::<Ipv4Addr>().is_ok() || self.host.parse::<Ipv6Addr>().is_ok()
    }

    /// The percent-decoded user name of `nats://user:pass@host`.
    pub fn username(&self) -> Option<&str> {
        match &self.credentials {
            Credentials::UserPass(user, _) => Some(user),
            _ => None,
        }
    }

    /// The percent-decoded password of `nats://user:pass@host`.
    pub fn password(&self) -> Option<&str> {
        match &self.credentials {
            Credentials::UserPass(_, pass) => Some(pass),
            _ => None,
        }
    }

    /// The percent-decoded token of `nats://token@host` (a user part with no password).
    pub fn token(&self) -> Option<&str> {
        match &self.credentials {
            Credentials::Token(token) => Some(token),
            _ => None,
        }
    }

    /// Whether the address carries a user/password or a token.
    pub fn has_credentials(&self) -> bool {
        self.credentials != Credentials::None
    }

    /// `host:port` for `TcpStream::connect`, with brackets around an IPv6 host.
    pub fn socket_addr_string(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for ServerAddr {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<ServerAddr, AddrError> {
        parse(s)
    }
}

impl fmt::Display for ServerAddr {
    /// `nats://host:port` or `tls://host:port`; never shows credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (self.websocket, self.tls) {
            (false, false) => "nats",
            (false, true) => "tls",
            (true, false) => "ws",
            (true, true) => "wss",
        };
        write!(f, "{scheme}://{}", self.socket_addr_string())
    }
}

impl fmt::Debug for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials = match &self.credentials {
            Credentials::None => "none",
            Credentials::Token(_) => "token",
            Credentials::UserPass(..) => "user/password",
        };
        f.debug_struct("ServerAddr")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("credentials", &credentials)
            .finish()
    }
}

/// Parses a comma-separated list of server addresses.
///
/// Whitespace around entries is ignored, and so are empty entries
/// (`"a, ,b,"`); a list with no entry at all is [`AddrError::Empty`].
pub fn parse_server_list(s: &str) -> Result<Vec<ServerAddr>, AddrError> {
    let servers = s
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(parse)
        .collect::<Result<Vec<_>, _>>()?;
    if servers.is_empty() {
        return Err(AddrError::Empty);
    }
    Ok(servers)
}

fn parse(input: &str) -> Result<ServerAddr, AddrError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(AddrError::Empty);
    }
    let (tls, websocket, rest) = match input.split_once("://") {
        Some((scheme, rest)) => {
            let (tls, websocket) = match scheme.to_ascii_lowercase().as_str() {
                "nats" => (false, false),
                "tls" => (true, false),
                #[cfg(feature = "websocket")]
                "ws" => (false, true),
                #[cfg(feature = "websocket")]
                "wss" => (true, true),
                #[cfg(not(feature = "websocket"))]
                "ws" | "wss" => {
                    return Err(AddrError::WebSocket {
                        scheme: scheme.to_owned(),
                        addr: redact(input),
                    });
                }
                _ => {
                    return Err(AddrError::UnsupportedScheme {
                        scheme: scheme.to_owned(),
                        addr: redact(input),
                    });
                }
            };
            (tls, websocket, rest)
        }
        None => (false, false, input),
    };

    // The host can never contain '@', so the last one ends the user-info part.
    // Splitting there tolerates unescaped '@', '/', '?' and '#' in passwords.
    let (userinfo, hostpart) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let credentials = match userinfo {
        None | Some("") => Credentials::None,
        Some(info) => {
            let bad = || AddrError::InvalidEncoding(redact(input));
            match info.split_once(':') {
                Some((user, pass)) => Credentials::UserPass(
                    percent_decode(user).ok_or_else(bad)?,
                    percent_decode(pass).ok_or_else(bad)?,
                ),
                None => Credentials::Token(percent_decode(info).ok_or_else(bad)?),
            }
        }
    };

    // Cut off a trailing "/" (allowed) or any other path, query or fragment (rejected).
    let (authority, tail) = match hostpart.find(['/', '?', '#']) {
        Some(i) => hostpart.split_at(i),
        None => (hostpart, ""),
    };
    if !tail.is_empty() && tail != "/" {
        return Err(AddrError::UnexpectedPath(redact(input)));
    }

    // A WebSocket URL without a port means HTTP's (RFC 6455 §3).
    let default_port = match (websocket, tls) {
        (false, _) => DEFAULT_PORT,
        (true, false) => 80,
        (true, true) => 443,
    };
    let (host, port) = split_host_port(authority, input, default_port)?;
    Ok(ServerAddr {
        host,
        port,
        tls,
        websocket,
        credentials,
    })
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` (or a bare v6 literal).
fn split_host_port(
    authority: &str,
    input: &str,
    default_port: u16,
) -> Result<(String, u16), AddrError> {
    if authority.is_empty() {
        return Err(AddrError::EmptyHost(redact(input)));
    }
    if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((inside, after)) = bracketed.split_once(']') else {
            return Err(AddrError::InvalidHost(redact(input)));
        };
        if inside.is_empty() {
            return Err(AddrError::EmptyHost(redact(input)));
        }
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| AddrError::InvalidHost(redact(input)))?;
        let port = match after {
            "" => default_port,
            _ => match after.strip_prefix(':') {
                Some(port) => parse_port(port, input)?,
                None => return Err(AddrError::InvalidHost(redact(input))),
            },
        };
        return Ok((ip.to_string(), port));
    }
    match authority.matches(':').count() {
        0 => Ok((check_host(authority, input)?, default_port)),
        1 => {
            let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
            Ok((check_host(host, input)?, parse_port(port, input)?))
        }
        // More than one colon: only a bare IPv6 literal (no port) makes sense.
        _ => match authority.parse::<Ipv6Addr>() {
            Ok(ip) => Ok((ip.to_string(), default_port)),
            Err(_) => Err(AddrError::InvalidHost(redact(input))),
        },
    }
}

/// A DNS name or IPv4 literal: ASCII letters, digits, '-', '.', '_'.
fn check_host(host: &str, input: &str) -> Result<String, AddrError> {
    if host.is_empty() {
        return Err(AddrError::EmptyHost(redact(input)));
    }
    let valid_chars = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !valid_chars || host.starts_with('.') || host.contains("..") {
        return Err(AddrError::InvalidHost(redact(input)));
    }
    Ok(host.to_owned())
}

fn parse_port(port: &str, input: &str) -> Result<u16, AddrError> {
    // `u16::from_str` accepts a leading '+', which no port spelling has.
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddrError::InvalidPort(redact(input)));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(AddrError::InvalidPort(redact(input))),
        Ok(p) => Ok(p),
    }
}

/// Decodes `%XX` escapes; `None` on a malformed escape or non-UTF-8 result.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push((hi << 4) | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The address with its user-info part (if any) replaced by `***`.
fn redact(input: &str) -> String {
    let (scheme, rest) = match input.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, input),
    };
    let rest = match rest.rfind('@') {
        Some(at) => format!("***@{}", &rest[at + 1..]),
        None => rest.to_owned(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => rest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> ServerAddr {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn forms() {
        let a = addr("nats://demo.nats.io:4443");
        assert_eq!(
            (a.host(), a.port(), a.is_tls()),
            ("demo.nats.io", 4443, false)
        );
        let a = addr("tls://demo.nats.io:4443");
        assert!(a.is_tls());
        let a = addr("TLS://demo.nats.io");
        assert_eq!((a.port(), a.is_tls()), (DEFAULT_PORT, true));
        let a = addr("localhost:5222");
        assert_eq!((a.host(), a.port(), a.is_tls()), ("localhost", 5222, false));
        let a = addr("localhost");
        assert_eq!((a.host(), a.port()), ("localhost", 4222));
        let a = addr("  127.0.0.1:1  ");
        assert_eq!((a.host(), a.port()), ("127.0.0.1", 1));
        assert!(a.is_ip());
        let a = addr("nats://host/");
        assert_eq!(a.host(), "host");
        assert!(!a.is_ip());
        assert!(!a.has_credentials());
    }

    #[test]
    fn ipv6() {
        let a = addr("[::1]:4222");
        assert_eq!((a.host(), a.port()), ("::1", 4222));
        assert_eq!(a.socket_addr_string(), "[::1]:4222");
        assert_eq!(a.to_string(), "nats://[::1]:4222");
        assert!(a.is_ip());
        let a = addr("nats://[0:0:0:0:0:0:0:1]");
        assert_eq!((a.host(), a.port()), ("::1", 4222));
        let a = addr("tls://user:pw@[fe80::1]:7422");
        assert_eq!(
            (a.host(), a.port(), a.password()),
            ("fe80::1", 7422, Some("pw"))
        );
        let a = addr("::1");
        assert_eq!((a.host(), a.port()), ("::1", 4222));
        assert!(matches!(
            "[::1".parse::<ServerAddr>(),
            Err(AddrError::InvalidHost(_))
        ));
        assert!(matches!(
            "[zz]:1".parse::<ServerAddr>(),
            Err(AddrError::InvalidHost(_))
        ));
        assert!(matches!(
            "[::1]x".parse::<ServerAddr>(),
            Err(AddrError::InvalidHost(_))
        ));
        assert!(matches!(
            "[]:1".parse::<ServerAddr>(),
            Err(AddrError::EmptyHost(_))
        ));
        assert!(matches!(
            "a:b:c".parse::<ServerAddr>(),
            Err(AddrError::InvalidHost(_))
        ));
    }

    #[test]
    fn credentials() {
        let a = addr("nats://derek:s3cr%40t%2F@host:4222");
        assert_eq!(a.username(), Some("derek"));
        assert_eq!(a.password(), Some("s3cr@t/"));
        assert_eq!(a.token(), None);
        assert!(a.has_credentials());
        let a = addr("nats://t0k%20en@host");
        assert_eq!(a.token(), Some("t0k en"));
        assert_eq!((a.username(), a.password()), (None, None));
        // Unescaped '@' and '/' in a password are tolerated.
        let a = addr("nats://u:p@ss/w@host:1");
        assert_eq!(
            (a.username(), a.password(), a.host()),
            (Some("u"), Some("p@ss/w"), "host")
        );
        // Empty password is still user/password.
        let a = addr("nats://u:@host");
        assert_eq!((a.username(), a.password()), (Some("u"), Some("")));
        let a = addr("nats://@host");
        assert!(!a.has_credentials());
        assert!(matches!(
            "nats://u:%zz@host".parse::<ServerAddr>(),
            Err(AddrError::InvalidEncoding(_))
        ));
        assert!(matches!(
            "nats://u:%ff@host".parse::<ServerAddr>(),
            Err(AddrError::InvalidEncoding(_))
        ));
        assert!(matches!(
            "nats://u:%4@host".parse::<ServerAddr>(),
            Err(AddrError::InvalidEncoding(_))
        ));
    }

    #[test]
    fn display_and_debug_hide_credentials() {
        let a = addr("nats://derek:hunter2@host:4222");
        assert_eq!(a.to_string(), "nats://host:4222");
        let debug = format!("{a:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("derek"),
            "{debug}"
        );
        let a = addr("tls://tok@host");
        assert_eq!(a.to_string(), "tls://host:4222");
        assert!(!format!("{a:?}").contains("tok@"));
        let err = "nats://derek:hunter2@host:99999"
            .parse::<ServerAddr>()
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("***@host:99999") && !msg.contains("hunter2"),
            "{msg}"
        );
    }

    #[test]
    fn rejections() {
        let err = |s: &str| s.parse::<ServerAddr>().unwrap_err();
        assert_eq!(err(""), AddrError::Empty);
        assert_eq!(err("   "), AddrError::Empty);
        #[cfg(not(feature = "websocket"))]
        {
            assert!(matches!(err("ws://host:80"), AddrError::WebSocket { .. }));
            assert!(matches!(err("WSS://host"), AddrError::WebSocket { .. }));
            assert!(
                err("wss://host")
                    .to_string()
                    .contains("WebSocket is not supported")
            );
        }
        #[cfg(feature = "websocket")]
        {
            let ws = addr("ws://host:80");
            assert!(ws.is_websocket() && !ws.is_tls());
            assert_eq!(ws.to_string(), "ws://host:80");
            let wss = addr("WSS://u:p@host:443");
            assert!(wss.is_websocket() && wss.is_tls());
            assert_eq!(wss.to_string(), "wss://host:443");
            assert!(matches!(
                err("ws://host:80/path"),
                AddrError::UnexpectedPath(_)
            ));
            assert!(matches!(err("ws://ho st:80"), AddrError::InvalidHost(_)));
        }
        assert!(matches!(
            err("http://host"),
            AddrError::UnsupportedScheme { .. }
        ));
        assert!(matches!(err("nats://"), AddrError::EmptyHost(_)));
        assert!(matches!(err("nats://:4222"), AddrError::EmptyHost(_)));
        assert!(matches!(err("nats://u:p@"), AddrError::EmptyHost(_)));
        assert!(matches!(err("host:"), AddrError::InvalidPort(_)));
        assert!(matches!(err("host:0"), AddrError::InvalidPort(_)));
        assert!(matches!(err("host:65536"), AddrError::InvalidPort(_)));
        assert!(matches!(err("host:+80"), AddrError::InvalidPort(_)));
        assert!(matches!(err("host:abc"), AddrError::InvalidPort(_)));
        assert!(matches!(err("ho st:1"), AddrError::InvalidHost(_)));
        assert!(matches!(err("host..x"), AddrError::InvalidHost(_)));
        assert!(matches!(
            err("nats://host:1/path"),
            AddrError::UnexpectedPath(_)
        ));
        assert!(matches!(
            err("nats://host?x=1"),
            AddrError::UnexpectedPath(_)
        ));
        assert_eq!(addr("host:65535").port(), 65535);
    }

    #[test]
    fn server_list() {
        let list = parse_server_list(" nats://a:1, tls://b ,c:3,, [::1]:4 ,").unwrap();
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["nats://a:1", "tls://b:4222", "nats://c:3", "nats://[::1]:4"]
        );
        assert_eq!(parse_server_list(" , ").unwrap_err(), AddrError::Empty);
        assert_eq!(parse_server_list("").unwrap_err(), AddrError::Empty);
        #[cfg(not(feature = "websocket"))]
        assert!(matches!(
            parse_server_list("a:1,ws://b"),
            Err(AddrError::WebSocket { .. })
        ));
    }

    #[test]
    fn discovered() {
        let a = ServerAddr::from_discovered("10.0.0.2:6222", false).unwrap();
        assert_eq!((a.host(), a.port(), a.is_tls()), ("10.0.0.2", 6222, false));
        let a = ServerAddr::from_discovered("[2001:db8::1]:4222", true).unwrap();
        assert_eq!(a.to_string(), "tls://[2001:db8::1]:4222");
        let a = ServerAddr::from_discovered("tls://h:1", false).unwrap();
        assert!(!a.is_tls());
        assert!(!a.with_tls(true).with_tls(false).is_tls());
        assert!(matches!(
            ServerAddr::from_discovered("u:p@h:1", false),
            Err(AddrError::UnexpectedCredentials(_))
        ));
        assert!(ServerAddr::from_discovered("", false).is_err());
    }

    #[test]
    fn equality_and_hash() {
        use std::collections::HashSet;
        let set: HashSet<ServerAddr> = ["a:4222", "nats://a", "a", "tls://a"]
            .iter()
            .map(|s| addr(s))
            .collect();
        assert_eq!(set.len(), 2);
    }
}
