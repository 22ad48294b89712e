//! A TCP proxy for fault injection between a client and a server.
//!
//! [`Proxy::start`] listens on `127.0.0.1:<ephemeral port>` and forwards every accepted
//! connection to an upstream address (normally a [`NatsServer`](crate::NatsServer)). On command
//! it cuts connections, stalls them (sockets stay open, nothing is forwarded either way), delays
//! every chunk, corrupts or injects bytes towards the client, and refuses new connections. It
//! records what the client sent ([`Proxy::client_bytes`]) and when each connection was accepted
//! ([`Proxy::accept_times`]), so tests can assert that nothing was written, or how far apart
//! reconnect attempts were.
//!
//! It uses plain threads and blocking sockets (two per connection plus one accepting), so it
//! works under any async runtime or none, and its commands return at once. TLS passes through
//! untouched: the proxy only sees bytes.
//!
//! ```no_run
//! use gnat_test_support::{NatsServer, proxy::Proxy};
//! let server = NatsServer::start();
//! let proxy = Proxy::start(server.addr());
//! // The client connects to proxy.url() instead of server.url().
//! proxy.stall(); // the current connections go silent, their sockets stay open
//! proxy.cut(); // and now they are closed
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes read from one side in one go.
const CHUNK: usize = 64 * 1024;
/// Timeout of the connection to the upstream server.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running proxy; dropping it closes the listener and every connection.
#[derive(Debug)]
pub struct Proxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    upstream: Mutex<SocketAddr>,
    settings: Mutex<Settings>,
    conns: Mutex<Vec<Arc<Conn>>>,
    accepted: Mutex<Vec<Instant>>,
    /// Everything every client sent, in the order it was read.
    tap: Mutex<Vec<u8>>,
    closing: AtomicBool,
}

#[derive(Debug)]
struct Settings {
    delay: Duration,
    /// Bytes towards the client still to corrupt.
    corrupt: usize,
    refuse_new: bool,
    /// xorshift state for corruption.
    rng: u64,
}

/// One proxied connection: the client's socket and ours to the server.
#[derive(Debug)]
struct Conn {
    client: TcpStream,
    server: TcpStream,
    /// Serializes writes to the client (forwarded chunks and injected bytes).
    to_client: Mutex<()>,
    state: Mutex<ConnState>,
    wake: Condvar,
    closed: AtomicBool,
}

#[derive(Debug, Default)]
struct ConnState {
    stalled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToServer,
    ToClient,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    /// Starts a proxy on `127.0.0.1:<free port>` forwarding to `upstream`.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound or the accepting thread cannot start.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("bind a loopback port for the proxy");
        let addr = listener.local_addr().expect("the proxy's local address");
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            settings: Mutex::new(Settings {
                delay: Duration::ZERO,
                corrupt: 0,
                refuse_new: false,
                rng: 0x2545_F491_4F6C_DD1D,
            }),
            conns: Mutex::new(Vec::new()),
            accepted: Mutex::new(Vec::new()),
            tap: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("proxy-accept-{}", addr.port()))
                .spawn(move || accept_loop(&shared, &listener))
                .expect("spawn the proxy's accept thread")
        };
        Proxy {
            shared,
            addr,
            acceptor: Some(acceptor),
        }
    }

    /// The address clients connect to, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Forwards connections accepted from now on to `upstream` (open ones stay where they are).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *lock(&self.shared.upstream) = upstream;
    }

    /// Closes every open connection, both sides, at once (the client sees EOF or a reset).
    /// New connections are still accepted unless [`refuse_new`](Self::refuse_new) is set.
    pub fn cut(&self) {
        let conns: Vec<_> = lock(&self.shared.conns).drain(..).collect();
        for conn in conns {
            conn.close();
        }
    }

    /// Stalls every open connection: nothing more is read from or forwarded to either side,
    /// but the sockets stay open, so the peers see silence, not an error. Bytes already read
    /// are held. Connections accepted later are not stalled.
    pub fn stall(&self) {
        for conn in self.live() {
            lock(&conn.state).stalled = true;
        }
    }

    /// Resumes stalled connections; held bytes are forwarded.
    pub fn resume(&self) {
        for conn in self.live() {
            lock(&conn.state).stalled = false;
            conn.wake.notify_all();
        }
    }

    /// Holds every chunk for `delay` after it was read before forwarding it, both ways, on
    /// every connection (zero turns it off).
    pub fn delay(&self, delay: Duration) {
        lock(&self.shared.settings).delay = delay;
    }

    /// Corrupts the next `n` bytes forwarded from the server to a client: each is changed (XOR
    /// with a pseudo-random non-zero byte). Adds to what is still pending.
    pub fn corrupt_next(&self, n: usize) {
        let mut settings = lock(&self.shared.settings);
        settings.corrupt = settings.corrupt.saturating_add(n);
    }

    /// Writes `bytes` to the client of every open connection, between two forwarded chunks.
    /// Returns how many connections got them.
    pub fn inject_to_client(&self, bytes: &[u8]) -> usize {
        let mut sent = 0;
        for conn in self.live() {
            let _serial = lock(&conn.to_client);
            if (&conn.client).write_all(bytes).is_ok() {
                sent += 1;
            } else {
                conn.close();
            }
        }
        sent
    }

    /// While `true`, new connections are accepted (and counted) and closed at once, before
    /// anything is read or forwarded.
    pub fn refuse_new(&self, refuse: bool) {
        lock(&self.shared.settings).refuse_new = refuse;
    }

    /// Everything the clients sent through the proxy so far, in the order it was read (all
    /// connections, refused ones excepted).
    pub fn client_bytes(&self) -> Vec<u8> {
        lock(&self.shared.tap).clone()
    }

    /// The length of [`client_bytes`](Self::client_bytes), without copying.
    pub fn client_bytes_len(&self) -> usize {
        lock(&self.shared.tap).len()
    }

    /// How many connections were accepted (refused ones included).
    pub fn connections_accepted(&self) -> usize {
        lock(&self.shared.accepted).len()
    }

    /// When each connection was accepted, in order (refused ones included).
    pub fn accept_times(&self) -> Vec<Instant> {
        lock(&self.shared.accepted).clone()
    }

    /// How many proxied connections are open now.
    pub fn open_connections(&self) -> usize {
        self.live().len()
    }

    /// Open connections (closed ones are forgotten on the way).
    fn live(&self) -> Vec<Arc<Conn>> {
        let mut conns = lock(&self.shared.conns);
        conns.retain(|c| !c.closed.load(Ordering::Acquire));
        conns.clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        self.cut();
        // Wake the accept loop so it sees `closing`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        self.cut();
    }
}

impl Conn {
    /// Closes both sockets and wakes both forwarding threads.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
        let _state = lock(&self.state);
        self.wake.notify_all();
    }

    /// Waits while the connection is stalled; false once it is closed.
    fn wait_unstalled(&self) -> bool {
        let mut state = lock(&self.state);
        while state.stalled && !self.closed.load(Ordering::Acquire) {
            state = self
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        !self.closed.load(Ordering::Acquire)
    }

    /// Waits until `deadline` (or the connection closes); false once it is closed.
    fn wait_until(&self, deadline: Instant) -> bool {
        let mut state = lock(&self.state);
        loop {
            if self.closed.load(Ordering::Acquire) {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            state = self
                .wake
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    for stream in listener.incoming() {
        if shared.closing.load(Ordering::Acquire) {
            return;
        }
        let Ok(client) = stream else { continue };
        lock(&shared.accepted).push(Instant::now());
        if lock(&shared.settings).refuse_new {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let upstream = *lock(&shared.upstream);
        let Ok(server) = TcpStream::connect_timeout(&upstream, UPSTREAM_CONNECT_TIMEOUT) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        if let Err(e) = start_conn(shared, client, server) {
            eprintln!("proxy {}: cannot forward a connection: {e}", upstream);
        }
    }
}

fn start_conn(shared: &Arc<Shared>, client: TcpStream, server: TcpStream) -> io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let conn = Arc::new(Conn {
        client: client.try_clone()?,
        server: server.try_clone()?,
        to_client: Mutex::new(()),
        state: Mutex::new(ConnState::default()),
        wake: Condvar::new(),
        closed: AtomicBool::new(false),
    });
    lock(&shared.conns).push(conn.clone());
    for (from, direction) in [(client, Direction::ToServer), (server, Direction::ToClient)] {
        let (shared, ours) = (shared.clone(), conn.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("proxy-{direction:?}"))
            .spawn(move || {
                pump(&shared, &ours, from, direction);
                ours.close();
            });
        if let Err(e) = spawned {
            conn.close();
            return Err(e);
        }
    }
    Ok(())
}

/// Forwards one direction of `conn` until either side closes or the proxy cuts it.
fn pump(shared: &Shared, conn: &Conn, mut from: TcpStream, direction: Direction) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        if !conn.wait_unstalled() {
            return;
        }
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let read_at = Instant::now();
        let chunk = &mut buf[..n];
        if direction == Direction::ToServer {
            lock(&shared.tap).extend_from_slice(chunk);
        }
        // A chunk read just before a stall is held until resumed.
        if !conn.wait_unstalled() {
            return;
        }
        let delay = lock(&shared.settings).delay;
        if !delay.is_zero() && !conn.wait_until(read_at + delay) {
            return;
        }
        let written = match direction {
            Direction::ToServer => (&conn.server).write_all(chunk),
            Direction::ToClient => {
                corrupt(shared, chunk);
                let _serial = lock(&conn.to_client);
                (&conn.client).write_all(chunk)
            }
        };
        if written.is_err() {
            return;
        }
    }
}

/// Applies pending corruption to the front of `chunk`.
fn corrupt(shared: &Shared, chunk: &mut [u8]) {
    let mut settings = lock(&shared.settings);
    let n = settings.corrupt.min(chunk.len());
    if n == 0 {
        return;
    }
    settings.corrupt -= n;
    for byte in &mut chunk[..n] {
        let mut x = settings.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        settings.rng = x;
        *byte ^= (x as u8) | 1;
    }
}
