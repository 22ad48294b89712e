//! One connection attempt: TCP, optional TLS (upgrade or TLS-first), INFO, CONNECT + PING,
//! and the server's PONG. Also the transport type the reader and writer share.

#[cfg(feature = "tls")]
use std::sync::Arc;

use bytes::BytesMut;
use proto::{Connect, Decoder, Info, ServerOp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::addr::ServerAddr;
use crate::auth::{Auth, AuthContext, AuthFields};
use crate::error::{Error, ErrorKind, Result};
use crate::options::ConnectOptions;
use crate::transport::Transport;

/// A connection that completed its handshake.
pub(crate) struct Established {
    pub(crate) transport: Transport,
    pub(crate) info: Info,
    /// Bytes read past the handshake's PONG (handed to the reader).
    pub(crate) buf: BytesMut,
    pub(crate) addr: ServerAddr,
}

/// The TLS client configuration, built on first use and reused for every connection (empty
/// without the `tls` feature).
pub(crate) struct TlsConfig {
    #[cfg(feature = "tls")]
    config: std::sync::OnceLock<Arc<rustls::ClientConfig>>,
}

impl TlsConfig {
    pub(crate) fn new() -> Self {
        TlsConfig {
            #[cfg(feature = "tls")]
            config: std::sync::OnceLock::new(),
        }
    }

    #[cfg(feature = "tls")]
    fn get(&self, opts: &ConnectOptions) -> Result<Arc<rustls::ClientConfig>> {
        if let Some(c) = self.config.get() {
            return Ok(c.clone());
        }
        let built = opts.tls.client_config().map_err(|e| Error::tls(None, e))?;
        Ok(self.config.get_or_init(|| built).clone())
    }
}

/// Connects to `addr` and performs the whole handshake within the connection timeout.
pub(crate) async fn establish(
    addr: &ServerAddr,
    opts: &ConnectOptions,
    tls: &TlsConfig,
) -> Result<Established> {
    match tokio::time::timeout(opts.connection_timeout, handshake(addr, opts, tls)).await {
        Ok(result) => result,
        Err(_) => Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "connecting to {addr} timed out after {:?}",
                opts.connection_timeout
            ),
        )),
    }
}

#[cfg(feature = "tls")]
async fn tls_upgrade(
    tcp: TcpStream,
    addr: &ServerAddr,
    opts: &ConnectOptions,
    tls: &TlsConfig,
) -> Result<Transport> {
    let config = tls.get(opts)?;
    let stream = crate::tls::connect(config, opts.tls.server_name_for(addr.host()), tcp)
        .await
        .map_err(|e| tls_failed(addr, e))?;
    Ok(Transport::Tls(Box::new(stream)))
}

/// Without the `tls` feature a connection that needs TLS fails with a clear error.
#[cfg(not(feature = "tls"))]
async fn tls_upgrade(
    _tcp: TcpStream,
    addr: &ServerAddr,
    _opts: &ConnectOptions,
    _tls: &TlsConfig,
) -> Result<Transport> {
    Err(Error::tls_not_compiled_in(&addr.to_string()))
}

async fn read_op(
    transport: &mut Transport,
    decoder: &Decoder,
    buf: &mut BytesMut,
    addr: &ServerAddr,
) -> Result<ServerOp> {
    loop {
        match decoder.decode_server(buf) {
            Ok(Some(op)) => return Ok(op),
            Ok(None) => {}
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("{addr}: bad data during handshake: {e}"),
                ));
            }
        }
        buf.reserve(4096);
        match transport.read_buf(buf).await {
            Ok(0) => {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("{addr}: the server closed the connection during the handshake"),
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(Error::io(&format!("{addr}: read"), e)),
        }
    }
}

async fn handshake(
    addr: &ServerAddr,
    opts: &ConnectOptions,
    tls: &TlsConfig,
) -> Result<Established> {
    let tls_first = opts.tls_first_on();
    #[cfg(feature = "websocket")]
    let websocket = addr.is_websocket() && opts.custom_transport.is_none();
    let mut transport = match &opts.custom_transport {
        #[cfg(feature = "websocket")]
        None if websocket => websocket_connect(addr, opts, tls).await?,
        Some(connector) => {
            let io = connector(addr.socket_addr_string())
                .await
                .map_err(|e| Error::io(&format!("connect to {addr}"), e))?;
            Transport::Custom(io)
        }
        None => {
            let tcp = tcp_connect(addr, opts.local_address)
                .await
                .map_err(|e| Error::io(&format!("connect to {addr}"), e))?;
            tcp.set_nodelay(true)
                .map_err(|e| Error::io(&format!("{addr}: set TCP_NODELAY"), e))?;
            if tls_first {
                tls_upgrade(tcp, addr, opts, tls).await?
            } else {
                Transport::Tcp(tcp)
            }
        }
    };
    if tls_first && matches!(transport, Transport::Custom(_)) {
        return Err(custom_without_tls(addr));
    }
    let decoder = Decoder::new(proto::Limits {
        max_control_line: opts.max_control_line,
        max_payload: proto::Limits::default().max_payload,
    });
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut info = match read_op(&mut transport, &decoder, &mut buf, addr).await? {
        ServerOp::Info(info) => *info,
        ServerOp::Err(text) => return Err(server_refusal(addr, text)),
        other => {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("{addr}: expected INFO first, got {}", other.kind()),
            ));
        }
    };
    let want_tls = addr.is_tls() || opts.tls_required() || info.tls_required;
    if let Transport::WebSocket { tls: ws_tls, .. } = &transport {
        // TLS, if any, is below the WebSocket: there is no upgrade after INFO.
        if (addr.is_tls() || opts.tls_required()) && !*ws_tls {
            return Err(Error::new(
                ErrorKind::Tls,
                format!("{addr}: TLS is required: use a wss:// URL"),
            ));
        }
    } else if want_tls && !tls_first {
        if !buf.is_empty() {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("{addr}: unexpected data before the TLS upgrade"),
            ));
        }
        transport = match transport {
            Transport::Tcp(tcp) => tls_upgrade(tcp, addr, opts, tls)
                .await
                .map_err(|e| why_tls(e, addr, opts, &info))?,
            Transport::Custom(_) => return Err(custom_without_tls(addr)),
            already => already,
        };
    }

    let connect = connect_message(addr, opts, &info, is_tls(&transport)).await?;
    let mut out = BytesMut::with_capacity(512);
    proto::encode_connect(&mut out, &connect)?;
    proto::encode_ping(&mut out);
    transport
        .write_all(&out)
        .await
        .map_err(|e| Error::io(&format!("{addr}: write"), e))?;
    transport
        .flush()
        .await
        .map_err(|e| Error::io(&format!("{addr}: write"), e))?;

    loop {
        match read_op(&mut transport, &decoder, &mut buf, addr).await? {
            ServerOp::Pong => break,
            ServerOp::Ok => {}
            ServerOp::Info(newer) => info = *newer,
            ServerOp::Ping => {
                let mut pong = BytesMut::new();
                proto::encode_pong(&mut pong);
                transport
                    .write_all(&pong)
                    .await
                    .map_err(|e| Error::io(&format!("{addr}: write"), e))?;
            }
            ServerOp::Err(text) => return Err(server_refusal(addr, text)),
            ServerOp::Msg(_) => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("{addr}: message before the handshake finished"),
                ));
            }
        }
    }
    Ok(Established {
        transport,
        info,
        buf,
        addr: addr.clone(),
    })
}

/// TCP, TLS when `wss://`, and the WebSocket opening handshake.
#[cfg(feature = "websocket")]
async fn websocket_connect(
    addr: &ServerAddr,
    opts: &ConnectOptions,
    tls: &TlsConfig,
) -> Result<Transport> {
    if opts.tls_required() && !addr.is_tls() {
        // Never in the clear when the options ask for TLS.
        return Err(Error::new(
            ErrorKind::Tls,
            format!("{addr}: TLS is required: use a wss:// URL"),
        ));
    }
    #[cfg(not(feature = "tls"))]
    if addr.is_tls() {
        return Err(Error::tls_not_compiled_in(&addr.to_string()));
    }
    let tcp = tcp_connect(addr, opts.local_address)
        .await
        .map_err(|e| Error::io(&format!("connect to {addr}"), e))?;
    tcp.set_nodelay(true)
        .map_err(|e| Error::io(&format!("{addr}: set TCP_NODELAY"), e))?;
    let host_port = addr.socket_addr_string();
    let ws_error = |e| Error::io(&format!("{addr}: websocket"), e);
    #[cfg(feature = "tls")]
    let io: Box<dyn crate::transport::Io> = if addr.is_tls() {
        let config = tls.get(opts)?;
        let stream = crate::tls::connect(config, opts.tls.server_name_for(addr.host()), tcp)
            .await
            .map_err(|e| tls_failed(addr, e))?;
        Box::new(
            crate::websocket::connect(stream, &host_port)
                .await
                .map_err(ws_error)?,
        )
    } else {
        Box::new(
            crate::websocket::connect(tcp, &host_port)
                .await
                .map_err(ws_error)?,
        )
    };
    #[cfg(not(feature = "tls"))]
    let io: Box<dyn crate::transport::Io> = {
        let _ = tls;
        Box::new(
            crate::websocket::connect(tcp, &host_port)
                .await
                .map_err(ws_error)?,
        )
    };
    Ok(Transport::WebSocket {
        io,
        tls: addr.is_tls(),
    })
}

/// A TCP connection to `addr`, from `local` when given (the first resolved address of the
/// same family is used).
async fn tcp_connect(
    addr: &ServerAddr,
    local: Option<std::net::SocketAddr>,
) -> std::io::Result<TcpStream> {
    let Some(local) = local else {
        return TcpStream::connect(addr.socket_addr_string()).await;
    };
    let target = tokio::net::lookup_host(addr.socket_addr_string())
        .await?
        .find(|a| a.is_ipv4() == local.is_ipv4())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                format!("{addr} has no address of the local address's family ({local})"),
            )
        })?;
    let socket = if local.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(local)?;
    socket.connect(target).await
}

/// Adds to a failed TLS upgrade why TLS was attempted, when the reason is not the client's own
/// choice or the server never offered it: "certificate verify failed" alone does not tell a
/// user who configured no TLS that the server requires it.
fn why_tls(err: Error, addr: &ServerAddr, opts: &ConnectOptions, info: &Info) -> Error {
    let client_wants = addr.is_tls() || opts.tls_required();
    let why = if !client_wants {
        "TLS was started because the server requires it (tls_required)"
    } else if !info.tls_required && !info.tls_available {
        "the client requires TLS, but the server does not offer it"
    } else {
        return err;
    };
    let message = format!("{}; {why}", err.message());
    err.with_message(message)
}

/// Whether the connection runs over TLS.
fn is_tls(transport: &Transport) -> bool {
    match transport {
        #[cfg(feature = "tls")]
        Transport::Tls(_) => true,
        Transport::WebSocket { tls, .. } => *tls,
        _ => false,
    }
}

/// A failed TLS handshake with `addr` as an [`Error`], reported to `tracing` when enabled.
#[cfg(feature = "tls")]
fn tls_failed(addr: &ServerAddr, e: crate::tls::TlsError) -> Error {
    let err = Error::tls(Some(&addr.to_string()), e);
    #[cfg(feature = "tracing")]
    crate::events::trace_tls_failed(&addr.socket_addr_string(), &err);
    err
}

/// TLS is only done over TCP: a custom transport that would need it fails instead of going on
/// in plain text.
fn custom_without_tls(addr: &ServerAddr) -> Error {
    Error::new(
        ErrorKind::Tls,
        format!("{addr}: TLS is required but not available over a custom transport"),
    )
}

fn server_refusal(addr: &ServerAddr, text: String) -> Error {
    let kind = if proto::ServerError::parse(&text).is_auth() {
        ErrorKind::Authorization
    } else {
        ErrorKind::Server
    };
    Error::new(kind, format!("{addr}: {text}"))
}

/// The CONNECT message for this attempt: credentials from the options — a creds file read
/// again, signers and the auth callback run with this connection's nonce, so rotation is
/// picked up — or else from the URL. Every kind of credential set goes in (token,
/// user/password, nkey or JWT with its signature); the callback's fields come last and win.
/// A credential that cannot be had fails the attempt with [`ErrorKind::Config`] (reported as
/// `Event::CredentialsError`), never falling back to older credentials.
async fn connect_message(
    addr: &ServerAddr,
    opts: &ConnectOptions,
    info: &Info,
    tls: bool,
) -> Result<Connect> {
    let nonce = info.nonce.as_deref();
    let credential_error = |what: String| Error::new(ErrorKind::Config, what);
    let mut fields = AuthFields::default();
    for auth in &opts.auth {
        // A creds file stands for the JWT it was read into: read it again.
        if matches!(auth, Auth::Jwt { .. })
            && let Some(path) = &opts.credentials_file
        {
            let (jwt, key) = crate::auth::load_creds(path).map_err(|e| {
                credential_error(format!("credentials file {}: {e}", path.display()))
            })?;
            fields.overlay(Auth::Jwt { jwt, key }.fields(nonce));
        } else {
            fields.overlay(auth.fields(nonce));
        }
    }
    if let Some(signer) = &opts.signer {
        fields.jwt.clone_from(&signer.jwt);
        fields.nkey.clone_from(&signer.nkey);
        if let Some(nonce) = nonce {
            let sig = (signer.sign)(nonce.as_bytes())
                .map_err(|e| credential_error(format!("signing the server's nonce: {e}")))?;
            fields.sig = Some(crate::auth::base64url_nopad(&sig));
        }
    }
    let configured = !opts.auth.is_empty() || opts.signer.is_some();
    if !configured {
        let from_url = match (addr.username(), addr.password(), addr.token()) {
            (Some(user), Some(pass), _) => Auth::UserPassword {
                user: user.to_string(),
                pass: pass.to_string(),
            },
            (_, _, Some(token)) => Auth::Token(token.to_string()),
            _ => Auth::None,
        };
        fields.overlay(from_url.fields(nonce));
    }
    if let Some(callback) = &opts.auth_callback {
        let ctx = AuthContext {
            server: addr.socket_addr_string(),
            nonce: nonce.map(str::to_string),
        };
        let given = callback(ctx)
            .await
            .map_err(|e| credential_error(format!("auth callback: {e}")))?;
        fields.overlay(given);
    }
    fields
        .check()
        .map_err(|name| credential_error(format!("credential {name} holds a control character")))?;
    let mut connect = Connect::client_defaults();
    connect.tls_required = tls;
    connect.name = opts.name.clone();
    connect.lang = "rust-gnat".to_string();
    connect.version = env!("CARGO_PKG_VERSION").to_string();
    connect.echo = !opts.no_echo;
    connect.user = fields.user;
    connect.pass = fields.pass;
    connect.auth_token = fields.auth_token;
    connect.nkey = fields.nkey;
    connect.sig = fields.sig;
    connect.jwt = fields.jwt;
    Ok(connect)
}
