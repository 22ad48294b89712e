//! The byte streams a connection runs over: plain TCP (shared by the reader, the writer and
//! publishers writing directly while the writer is parked), TLS, or a custom transport (tests
//! and fuzzing), and the halves the reader and writer use.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(feature = "tls")]
use tokio_rustls::client::TlsStream;

/// Any byte stream a connection can run over: what a custom transport hands out (see
/// [`ConnectOptions::custom_transport`]).
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Opens a custom transport to `host:port`.
pub(crate) type Connector = Arc<
    dyn Fn(String) -> Pin<Box<dyn std::future::Future<Output = io::Result<Box<dyn Io>>> + Send>>
        + Send
        + Sync,
>;

/// A connected socket, plain or TLS, or a custom transport (tests and fuzzing).
pub(crate) enum Transport {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
    Custom(Box<dyn Io>),
    /// NATS over WebSocket (`ws://`, or `wss://` when `tls`): the frames are undone inside.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    WebSocket {
        io: Box<dyn Io>,
        tls: bool,
    },
}

/// A TCP socket shared by the reader, the writer, and publishers that write directly while
/// the writer is parked (one non-blocking `try_write` under the outbound lock). Each
/// direction is polled by one task only — the reader reads, the writer writes — as tokio's
/// readiness API requires; direct writes never poll, and happen only while the writer holds
/// nothing, so bytes never interleave.
#[derive(Clone)]
pub(crate) struct SharedTcp(pub(crate) Arc<TcpStream>);

impl AsyncWrite for SharedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The socket closes when its last handle is dropped.
        Poll::Ready(Ok(()))
    }
}

/// The reading half of a [`Transport`].
pub(crate) enum ReadHalf {
    Tcp(SharedTcp),
    #[cfg(feature = "tls")]
    Tls(tokio::io::ReadHalf<TlsStream<TcpStream>>),
    Custom(tokio::io::ReadHalf<Box<dyn Io>>),
}

/// The writing half of a [`Transport`].
pub(crate) enum WriteHalf {
    Tcp(SharedTcp),
    #[cfg(feature = "tls")]
    Tls(tokio::io::WriteHalf<TlsStream<TcpStream>>),
    Custom(tokio::io::WriteHalf<Box<dyn Io>>),
}

impl Transport {
    /// The halves for the reader and the writer, and for plain TCP the socket publishers may
    /// write to directly while the writer is parked.
    pub(crate) fn split(self) -> (ReadHalf, WriteHalf, Option<SharedTcp>) {
        match self {
            Transport::Tcp(s) => {
                let s = SharedTcp(Arc::new(s));
                (ReadHalf::Tcp(s.clone()), WriteHalf::Tcp(s.clone()), Some(s))
            }
            #[cfg(feature = "tls")]
            Transport::Tls(s) => {
                let (r, w) = tokio::io::split(*s);
                (ReadHalf::Tls(r), WriteHalf::Tls(w), None)
            }
            Transport::Custom(s) | Transport::WebSocket { io: s, .. } => {
                let (r, w) = tokio::io::split(s);
                (ReadHalf::Custom(r), WriteHalf::Custom(w), None)
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
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Transport::Custom(s) | Transport::WebSocket { io: s, .. } => {
                Pin::new(s).poll_read(cx, buf)
            }
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
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Transport::Custom(s) | Transport::WebSocket { io: s, .. } => {
                Pin::new(s).poll_write(cx, buf)
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Transport::Custom(s) | Transport::WebSocket { io: s, .. } => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Transport::Custom(s) | Transport::WebSocket { io: s, .. } => {
                Pin::new(s).poll_shutdown(cx)
            }
        }
    }
}

impl ReadHalf {
    /// Reads what is available into `buf`'s spare capacity (0 at end of stream). For TCP this
    /// reads straight into the uninitialised spare room: going through `AsyncRead` would
    /// zero the whole spare buffer (64 KiB) on every read, measured at 15 % of a sequential
    /// get's client CPU.
    pub(crate) async fn read_into(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            ReadHalf::Tcp(s) => loop {
                s.0.readable().await?;
                match s.0.try_read_buf(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    r => return r,
                }
            },
            #[cfg(feature = "tls")]
            ReadHalf::Tls(s) => s.read_buf(buf).await,
            ReadHalf::Custom(s) => s.read_buf(buf).await,
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
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => Pin::new(s).poll_write(cx, buf),
            WriteHalf::Custom(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            WriteHalf::Custom(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            WriteHalf::Tcp(s) => s.is_write_vectored(),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => s.is_write_vectored(),
            WriteHalf::Custom(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => Pin::new(s).poll_flush(cx),
            WriteHalf::Custom(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(s) => Pin::new(s).poll_shutdown(cx),
            WriteHalf::Custom(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
