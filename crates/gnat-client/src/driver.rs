//! The driver: one task per client that owns the connection's life — starts the reader and
//! writer for each connection, sends keep-alive PINGs, notices stale or lost connections, and
//! reconnects with backoff until the client is closed.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::connection::{Established, TlsConfig, establish};
use crate::events::{Counters, Event};
use crate::lock;
use crate::reader::{self, ReadEnd};
use crate::rng::Rng;
use crate::shared::{Command, Shared};
use crate::writer::{self, WriterEnd};

/// How a connection ended.
enum End {
    /// Lost, stale, lame duck or a forced reconnect: connect again.
    Reconnect(String),
    /// The client is closing.
    Close,
}

/// Runs the client's connection until it is closed. `first` is the connection made by
/// `connect`, already [`activate`]d and announced (absent when it failed and
/// `retry_on_initial_connect` is set).
pub(crate) async fn run(shared: Arc<Shared>, tls: Arc<TlsConfig>, first: Option<Established>) {
    let mut connected_before = first.is_some();
    let mut next = first;
    let mut rng = Rng::new();
    // Where the backoff stands: the attempts so far, counting connections that dropped before
    // they were up for `backoff.max` (see `Backoff`).
    let mut backoff_step: u32 = 0;
    loop {
        let (est, server) = match next.take() {
            Some(est) => {
                let server = est.addr.socket_addr_string();
                (est, server)
            }
            None => match reconnect(&shared, &tls, &mut rng, &mut backoff_step).await {
                Some(mut est) => {
                    let server = activate(&shared, &mut est);
                    if connected_before {
                        Counters::add(&shared.counters.reconnects, 1);
                        shared.emit(Event::Reconnected {
                            server: server.clone(),
                        });
                    } else {
                        connected_before = true;
                        shared.emit(Event::Connected {
                            server: server.clone(),
                        });
                    }
                    (est, server)
                }
                None => break,
            },
        };
        let up_since = Instant::now();
        let end = serve(&shared, est.transport, est.buf, server).await;
        if up_since.elapsed() >= shared.opts.backoff.max {
            // It was up long enough to count as a success: start over with an immediate attempt.
            backoff_step = 0;
        }
        match end {
            End::Close => break,
            End::Reconnect(reason) => {
                // The connection failed while a close was under way: close, do not reconnect.
                if shared.close_requested() {
                    break;
                }
                shared.emit(Event::Disconnected { reason });
            }
        }
    }
    shared.on_closed();
    shared.emit(Event::Closed);
    shared.on_close_announced();
}

/// Makes a connection that finished its handshake the current one: the server pool, the
/// server's INFO, and the outbound side (subscriptions restored, publishes go to the socket).
/// Returns the server's `host:port`. `connect` calls it before returning, so the client is
/// connected (state, `max_payload`, no reconnect-buffer limit) as soon as it has it.
pub(crate) fn activate(shared: &Shared, est: &mut Established) -> String {
    let server = est.addr.socket_addr_string();
    let info = std::mem::take(&mut est.info);
    let discovered = if shared.opts.ignore_discovered_servers {
        Vec::new()
    } else {
        lock(&shared.pool).add_discovered(&info.connect_urls)
    };
    lock(&shared.pool).connected_to(&server);
    shared.set_info(info);
    if !discovered.is_empty() {
        shared.emit(Event::ServersDiscovered {
            servers: discovered,
        });
    }
    shared.on_connected();
    server
}

/// Runs one live connection until it ends.
async fn serve(
    shared: &Arc<Shared>,
    transport: crate::transport::Transport,
    buf: bytes::BytesMut,
    server: String,
) -> End {
    let buf = with_spare_capacity(shared, buf);
    let (rd, wr, direct) = transport.split();
    let epoch = shared.attach(direct);
    let cancel = Arc::new(Notify::new());
    let mut writer: JoinHandle<WriterEnd> =
        tokio::spawn(writer::run(shared.clone(), wr, cancel.clone()));
    let mut reader: JoinHandle<ReadEnd> =
        tokio::spawn(reader::run(shared.clone(), rd, buf, server.clone(), epoch));
    let interval = shared.opts.ping_interval;
    let mut ping = tokio::time::interval_at(Instant::now() + interval, interval);
    let mut handed = None;
    // Armed when the server announced lame duck mode: when it fires, flush and move.
    let mut lame_duck: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;

    let end = loop {
        tokio::select! {
            end = &mut reader => {
                break End::Reconnect(match end {
                    Ok(end) => end.into_error().to_string(),
                    Err(e) => format!("reader task failed: {e}"),
                });
            }
            res = &mut writer, if handed.is_none() => {
                let (bytes, reason) = match res {
                    Ok(WriterEnd { handed, error: Some(e) }) => (handed, e.to_string()),
                    Ok(WriterEnd { handed, error: None }) => (handed, "writer stopped".to_string()),
                    Err(e) => (0, format!("writer task failed: {e}")),
                };
                handed = Some(bytes);
                break End::Reconnect(reason);
            }
            _ = ping.tick() => {
                if shared.on_ping_timer() {
                    break End::Reconnect(format!(
                        "stale connection: {} PINGs without a PONG",
                        shared.opts.max_pings_outstanding
                    ));
                }
            }
            () = async { lame_duck.as_mut().expect("armed").await }, if lame_duck.is_some() => {
                // What is queued (and the flushes waiting) reach the old server first.
                flush_before_close(shared, &mut reader).await;
                break End::Reconnect(format!("{server} entered lame duck mode"));
            }
            _ = shared.command_wake.notified() => match shared.take_command() {
                Some(Command::Close) => {
                    flush_before_close(shared, &mut reader).await;
                    break End::Close;
                }
                Some(Command::Reconnect) => break End::Reconnect("reconnect requested".to_string()),
                Some(Command::LameDuck) if lame_duck.is_none() => {
                    let delay = Rng::new().jitter(shared.opts.lame_duck_max_delay);
                    lame_duck = Some(Box::pin(tokio::time::sleep(delay)));
                }
                Some(Command::LameDuck) => {}
                None => {}
            },
        }
    };

    // Stop the writer; it puts publishes that never reached the socket back in the buffer.
    cancel.notify_one();
    let handed = match handed {
        Some(bytes) => bytes,
        None => writer.await.map_or(0, |end| end.handed),
    };
    reader.abort();
    shared.on_disconnected(handed);
    end
}

/// The handshake's leftover bytes in the last connection's read buffer, when there is one:
/// the new reader then starts with the capacity the old one had instead of allocating it.
fn with_spare_capacity(shared: &Shared, buf: bytes::BytesMut) -> bytes::BytesMut {
    match lock(&shared.spare_read_buf).take() {
        Some(mut spare) if spare.capacity() > buf.len() => {
            spare.extend_from_slice(&buf);
            spare
        }
        _ => buf,
    }
}

/// Best effort on close: wait (bounded by the connection timeout) until the server has
/// processed everything queued so far.
async fn flush_before_close(shared: &Shared, reader: &mut JoinHandle<ReadEnd>) {
    let Ok(rx) = shared.queue_flush() else {
        return;
    };
    tokio::select! {
        _ = rx => {}
        _ = reader => {}
        _ = tokio::time::sleep(shared.opts.connection_timeout) => {}
    }
}

/// Tries servers from the pool with backoff until one accepts; `None` when the attempt limit
/// is reached or the client is closing. `backoff_step` carries the backoff across calls: it is
/// only reset by the caller, once a connection has stayed up for `backoff.max`, so a server
/// that drops every connection right after the handshake is not reconnected to in a loop.
async fn reconnect(
    shared: &Shared,
    tls: &TlsConfig,
    rng: &mut Rng,
    backoff_step: &mut u32,
) -> Option<Established> {
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.saturating_add(1);
        if shared
            .opts
            .max_reconnects
            .is_some_and(|max| attempt as usize > max)
        {
            return None;
        }
        *backoff_step = backoff_step.saturating_add(1);
        let mut delay = shared.opts.backoff.delay(*backoff_step, rng);
        let mut chosen = None;
        if let Some(choose) = &shared.opts.reconnect_to_server {
            let servers = lock(&shared.pool).statuses();
            if let Some((server, wanted)) = choose(&servers, attempt) {
                chosen = lock(&shared.pool).find(&server);
                if chosen.is_some() {
                    // Never a spin: from the second attempt on, at least the backoff's base.
                    let floor = if attempt > 1 {
                        shared.opts.backoff.base
                    } else {
                        std::time::Duration::ZERO
                    };
                    delay = wanted.max(floor);
                }
            }
        }
        let addr = match chosen {
            Some(addr) => addr,
            None => lock(&shared.pool).next_server()?,
        };
        let attempt_result = tokio::select! {
            _ = shared.close_signal() => return None,
            r = async {
                tokio::time::sleep(delay).await;
                establish(&addr, &shared.opts, tls).await
            } => r,
        };
        if let Err(e) = &attempt_result {
            lock(&shared.pool).failed(&addr.socket_addr_string(), e.message());
            #[cfg(feature = "tracing")]
            crate::events::trace_attempt_failed(&addr.socket_addr_string(), attempt, e, true);
        }
        match attempt_result {
            Ok(est) => return Some(est),
            Err(e) if e.is_authorization() => shared.emit(Event::ServerError {
                message: e.message().to_string(),
            }),
            Err(e) if e.kind() == crate::ErrorKind::Config => {
                shared.emit(Event::CredentialsError {
                    server: addr.socket_addr_string(),
                    message: e.message().to_string(),
                });
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConnectOptions;
    use crate::pool::ServerPool;

    fn shared() -> Arc<Shared> {
        Arc::new(Shared::new(
            ConnectOptions::default(),
            ServerPool::new(Vec::new(), true),
        ))
    }

    #[test]
    fn a_new_connection_reads_into_the_last_ones_buffer_keeping_the_handshake_leftovers() {
        let shared = shared();
        let mut old = bytes::BytesMut::with_capacity(64 * 1024);
        old.extend_from_slice(b"stale bytes of the dead connection");
        old.clear();
        let old_ptr = old.as_ptr();
        *lock(&shared.spare_read_buf) = Some(old);

        let leftovers = bytes::BytesMut::from(&b"MSG a 1 2\r\nhi\r\n"[..]);
        let buf = with_spare_capacity(&shared, leftovers);
        assert_eq!(&buf[..], b"MSG a 1 2\r\nhi\r\n");
        assert_eq!(buf.as_ptr(), old_ptr, "the old allocation is reused");
        assert!(buf.capacity() >= 64 * 1024);
        assert!(lock(&shared.spare_read_buf).is_none(), "taken, not shared");

        // Without a spare, the handshake's buffer is used as it is.
        let buf = with_spare_capacity(&shared, bytes::BytesMut::from(&b"PING\r\n"[..]));
        assert_eq!(&buf[..], b"PING\r\n");
    }

    #[tokio::test]
    async fn the_writer_keeps_its_buffer_for_the_next_connection() {
        let shared = shared();
        shared.on_connected();
        let cancel = Arc::new(Notify::new());
        let (a, _b) = tokio::io::duplex(1024);
        let first = tokio::spawn(writer::run(shared.clone(), a, cancel.clone()));
        tokio::task::yield_now().await;
        cancel.notify_one();
        first.await.unwrap();
        let kept = lock(&shared.spare_write_buf)
            .take()
            .expect("the stopped writer left its buffer");
        assert!(kept.is_empty());
        assert!(kept.capacity() >= 64 * 1024);
        let kept_ptr = kept.as_ptr();
        *lock(&shared.spare_write_buf) = Some(kept);

        // The next writer starts from it (and leaves it again when stopped).
        let (a, _b) = tokio::io::duplex(1024);
        let second = tokio::spawn(writer::run(shared.clone(), a, cancel.clone()));
        tokio::task::yield_now().await;
        assert!(
            lock(&shared.spare_write_buf).is_none(),
            "the second writer took it"
        );
        cancel.notify_one();
        second.await.unwrap();
        let again = lock(&shared.spare_write_buf).take().unwrap();
        // The writer swaps its buffer with the queue's, so either of the two allocations may
        // come back; what matters is that no new one was made.
        let outbound_ptr = shared.queue_buffer_ptr();
        assert!(again.as_ptr() == kept_ptr || again.as_ptr() == outbound_ptr);
    }
}
