//! One connection attempt: TCP, optional TLS (upgrade or TLS-first), INFO, CONNECT + PING,
//! and the server's PONG. Also the transport type the reader and writer share.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use proto::{Connect, Decoder, Info, ServerOp};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_rustls::client::TlsStream;

use crate::addr::ServerAddr;
use crate::auth::Auth;
use crate::error::{Error, ErrorKind, Result};
use crate::options::ConnectOptions;
use crate::reader::is_auth_error;

/// A connected socket, plain or TLS.
pub(crate) enum Transport {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The reading half of a [`Transport`].
pub(crate) enum ReadHalf {
    Tcp(OwnedReadHalf),
    Tls(tokio::io::ReadHalf<TlsStream<TcpStream>>),
}

/// The writing half of a [`Transport`].
pub(crate) enum WriteHalf {
    Tcp(OwnedWriteHalf),
    Tls(tokio::io::WriteHalf<TlsStream<TcpStream>>),
}

impl Transport {
    pub(crate) fn split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Transport::Tcp(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Tcp(r), WriteHalf::Tcp(w))
            }
            Transport::Tls(s) => {
                let (r, w) = tokio::io::split(*s);
                (ReadHalf::Tls(r), WriteHalf::Tls(w))
            }
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            ReadHalf::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            WriteHalf::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            WriteHalf::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            WriteHalf::Tcp(s) => s.is_write_vectored(),
            WriteHalf::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_flush(cx),
            WriteHalf::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            WriteHalf::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A connection that completed its handshake.
pub(crate) struct Established {
    pub(crate) transport: Transport,
    pub(crate) info: Info,
    /// Bytes read past the handshake's PONG (handed to the reader).
    pub(crate) buf: BytesMut,
    pub(crate) addr: ServerAddr,
}

/// The TLS client configuration, built on first use and reused for every connection.
pub(crate) struct TlsConfig {
    config: std::sync::OnceLock<Arc<rustls::ClientConfig>>,
}

impl TlsConfig {
    pub(crate) fn new() -> Self {
        TlsConfig {
            config: std::sync::OnceLock::new(),
        }
    }

    fn get(&self, opts: &ConnectOptions) -> Result<Arc<rustls::ClientConfig>> {
        if let Some(c) = self.config.get() {
            return Ok(c.clone());
        }
        let built = opts
            .tls
            .client_config()
            .map_err(|e| Error::new(ErrorKind::Tls, e.to_string()))?;
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

async fn tls_upgrade(
    tcp: TcpStream,
    addr: &ServerAddr,
    opts: &ConnectOptions,
    tls: &TlsConfig,
) -> Result<Transport> {
    let config = tls.get(opts)?;
    let stream = crate::tls::connect(config, opts.tls.server_name_for(addr.host()), tcp)
        .await
        .map_err(|e| Error::new(ErrorKind::Tls, format!("{addr}: {e}")))?;
    Ok(Transport::Tls(Box::new(stream)))
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
            Err(e) => return Err(Error::io(&format!("{addr}: read"), &e)),
        }
    }
}

async fn handshake(
    addr: &ServerAddr,
    opts: &ConnectOptions,
    tls: &TlsConfig,
) -> Result<Established> {
    let tcp = TcpStream::connect(addr.socket_addr_string())
        .await
        .map_err(|e| Error::io(&format!("connect to {addr}"), &e))?;
    tcp.set_nodelay(true)
        .map_err(|e| Error::io(&format!("{addr}: set TCP_NODELAY"), &e))?;
    let tls_first = opts.tls.is_tls_first();
    let mut transport = if tls_first {
        tls_upgrade(tcp, addr, opts, tls).await?
    } else {
        Transport::Tcp(tcp)
    };
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
                format!("{addr}: expected INFO first, got {}", op_name(&other)),
            ));
        }
    };
    let want_tls = addr.is_tls() || opts.tls.is_required() || info.tls_required;
    if want_tls && !tls_first {
        if !buf.is_empty() {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("{addr}: unexpected data before the TLS upgrade"),
            ));
        }
        transport = match transport {
            Transport::Tcp(tcp) => tls_upgrade(tcp, addr, opts, tls).await?,
            already => already,
        };
    }

    let connect = connect_message(addr, opts, &info, matches!(transport, Transport::Tls(_)))?;
    let mut out = BytesMut::with_capacity(512);
    proto::encode_connect(&mut out, &connect)?;
    proto::encode_ping(&mut out);
    transport
        .write_all(&out)
        .await
        .map_err(|e| Error::io(&format!("{addr}: write"), &e))?;
    transport
        .flush()
        .await
        .map_err(|e| Error::io(&format!("{addr}: write"), &e))?;

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
                    .map_err(|e| Error::io(&format!("{addr}: write"), &e))?;
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

fn op_name(op: &ServerOp) -> &'static str {
    match op {
        ServerOp::Info(_) => "INFO",
        ServerOp::Msg(_) => "MSG",
        ServerOp::Ping => "PING",
        ServerOp::Pong => "PONG",
        ServerOp::Ok => "+OK",
        ServerOp::Err(_) => "-ERR",
    }
}

fn server_refusal(addr: &ServerAddr, text: String) -> Error {
    let kind = if is_auth_error(&text) {
        ErrorKind::Authorization
    } else {
        ErrorKind::Server
    };
    Error::new(kind, format!("{addr}: {text}"))
}

/// The CONNECT message for this attempt: credentials from the options (a creds file is read
/// again, so rotation is picked up) or else from the URL; the nonce signed fresh.
fn connect_message(
    addr: &ServerAddr,
    opts: &ConnectOptions,
    info: &Info,
    tls: bool,
) -> Result<Connect> {
    let auth = match (&opts.credentials_file, &opts.auth) {
        (Some(path), _) => {
            let (jwt, key) = crate::auth::load_creds(path).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("credentials file {}: {e}", path.display()),
                )
            })?;
            Auth::Jwt { jwt, key }
        }
        (None, Auth::None) => match (addr.username(), addr.password(), addr.token()) {
            (Some(user), Some(pass), _) => Auth::UserPassword {
                user: user.to_string(),
                pass: pass.to_string(),
            },
            (_, _, Some(token)) => Auth::Token(token.to_string()),
            _ => Auth::None,
        },
        (None, auth) => auth.clone(),
    };
    let fields = auth.fields(info.nonce.as_deref());
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
