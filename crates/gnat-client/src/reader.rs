//! The reader task: one read buffer, frames cut out zero-copy, dispatched without blocking.

use std::collections::HashMap;
use std::sync::{Arc, MutexGuard};

use bytes::BytesMut;
use proto::{Decoder, ServerOp};

use crate::engine::MUX_SID;
use crate::error::{Error, ErrorKind};
use crate::events::{Counters, Event};
use crate::lock;
use crate::shared::{Command, Shared};
use crate::sub_queue::SubShared;

/// Most messages handed to a subscription at once (bounds the reader's batch vector).
const OFFER_BATCH: usize = 256;

/// Why the reader stopped.
#[derive(Debug)]
pub(crate) enum ReadEnd {
    /// The socket closed or failed.
    Io(Error),
    /// The server broke the protocol.
    Protocol(Error),
    /// The server sent a fatal `-ERR`.
    Fatal(Error),
}

impl ReadEnd {
    pub(crate) fn into_error(self) -> Error {
        match self {
            ReadEnd::Io(e) | ReadEnd::Protocol(e) | ReadEnd::Fatal(e) => e,
        }
    }
}

/// Reads until the connection fails. `buf` holds whatever the handshake read past its PONG;
/// `epoch` is the connection's (see [`crate::engine::Engine::on_pong`]).
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut rd: crate::transport::ReadHalf,
    mut buf: BytesMut,
    server: String,
    epoch: u64,
) -> ReadEnd {
    let decoder = Decoder::new(proto::Limits {
        max_control_line: shared.opts.max_control_line,
        max_payload: proto::Limits::default().max_payload,
    });
    let mut events: Vec<Event> = Vec::new();
    let mut batch = Batch {
        sid: 0,
        msgs: lock(&shared.spare_batch)
            .take()
            .unwrap_or_else(|| Vec::with_capacity(OFFER_BATCH)),
    };
    // Numbers the socket reads; subscriptions use it to tell a lagging consumer (see
    // `SubShared::offer`).
    let mut read: u64 = 0;
    let end = loop {
        let conn = Conn {
            shared: &shared,
            server: &server,
            epoch,
        };
        if let Err(end) = dispatch(&conn, &decoder, &mut buf, read, &mut events, &mut batch) {
            flush_events(&shared, &mut events);
            break end;
        }
        flush_events(&shared, &mut events);
        if shared.pacing.any_backlogged() {
            // A subscription is falling behind. Its stream was most likely woken onto this
            // worker thread, where it cannot run until this task yields — and a socket that
            // always has data keeps this task busy for tokio's whole coop budget of reads
            // (megabytes of messages). Let it run before reading more.
            tokio::task::yield_now().await;
        }
        let chunk = shared.opts.read_buffer_size;
        if buf.capacity() - buf.len() < chunk / 2 {
            buf.reserve(chunk);
        }
        match rd.read_into(&mut buf).await {
            Ok(0) => {
                break ReadEnd::Io(Error::new(
                    ErrorKind::Io,
                    "the server closed the connection",
                ));
            }
            Ok(_) => read += 1,
            Err(e) => break ReadEnd::Io(Error::io("read", e)),
        }
    };
    // What is left is of no use to the next connection, the capacity is.
    buf.clear();
    *lock(&shared.spare_read_buf) = Some(buf);
    batch.msgs.clear();
    *lock(&shared.spare_batch) = Some(batch.msgs);
    end
}

fn flush_events(shared: &Shared, events: &mut Vec<Event>) {
    for event in events.drain(..) {
        shared.emit(event);
    }
}

/// Consecutive messages for one subscription, offered to it together (one lock of its queue
/// and one wake-up of its reader per batch instead of per message).
struct Batch {
    sid: u64,
    msgs: Vec<proto::Msg>,
}

/// The subscription table, while the reader holds it locked.
type Table<'a> = MutexGuard<'a, HashMap<u64, Arc<SubShared>>>;

impl Batch {
    /// Offers what is batched before anything else happens. Messages are only batched while
    /// the table is locked, so a batch with messages has its table.
    fn flush(
        &mut self,
        shared: &Shared,
        subs: &mut Option<Table<'_>>,
        read: u64,
        events: &mut Vec<Event>,
    ) {
        if let Some(table) = subs.as_mut() {
            self.offer(shared, table, read, events);
        }
    }

    /// Offers the batch to its subscription, if that still exists.
    fn offer(
        &mut self,
        shared: &Shared,
        table: &mut HashMap<u64, Arc<SubShared>>,
        read: u64,
        events: &mut Vec<Event>,
    ) {
        if self.msgs.is_empty() {
            return;
        }
        let Some(sub) = table.get(&self.sid) else {
            // Unsubscribed locally; the server had not processed the UNSUB yet.
            self.msgs.clear();
            return;
        };
        let delivery = sub.offer(&mut self.msgs, read, &shared.counters);
        if delivery.slow_event {
            events.push(sub.slow_event());
        }
        if delivery.remove {
            table.remove(&self.sid);
        }
    }
}

/// The connection a reader serves.
struct Conn<'a> {
    shared: &'a Shared,
    /// `host:port`, for events.
    server: &'a str,
    epoch: u64,
}

/// Decodes and handles every complete frame in `buf`.
fn dispatch(
    conn: &Conn<'_>,
    decoder: &Decoder,
    buf: &mut BytesMut,
    read: u64,
    events: &mut Vec<Event>,
    batch: &mut Batch,
) -> Result<(), ReadEnd> {
    let shared = conn.shared;
    let mut in_messages = 0u64;
    let mut in_bytes = 0u64;
    // The subscription table is locked once per run of messages, not per message.
    let mut subs: Option<Table<'_>> = None;
    let result = loop {
        let op = match decoder.decode_server(buf) {
            Ok(Some(op)) => op,
            Ok(None) => break Ok(()),
            Err(e) => {
                break Err(ReadEnd::Protocol(Error::new(
                    ErrorKind::Protocol,
                    format!("bad data from the server: {e}"),
                )));
            }
        };
        if let ServerOp::Msg(msg) = op {
            in_messages += 1;
            in_bytes += msg.payload.len() as u64;
            if msg.sid == MUX_SID {
                // Messages that arrived before the reply reach their subscriptions first.
                batch.flush(shared, &mut subs, read, events);
                shared.deliver_reply(msg);
                continue;
            }
            let table = subs.get_or_insert_with(|| shared.subscriptions());
            if msg.sid != batch.sid || batch.msgs.len() >= OFFER_BATCH {
                batch.offer(shared, table, read, events);
                batch.sid = msg.sid;
            }
            batch.msgs.push(msg);
            continue;
        }
        // Anything else may take other locks: hand over the batch and release the table
        // first (lock order).
        batch.flush(shared, &mut subs, read, events);
        subs = None;
        if let Err(end) = handle_control(conn, op, events) {
            break Err(end);
        }
    };
    batch.flush(shared, &mut subs, read, events);
    drop(subs);
    Counters::add(&shared.counters.in_messages, in_messages);
    Counters::add(&shared.counters.in_bytes, in_bytes);
    result
}

fn handle_control(conn: &Conn<'_>, op: ServerOp, events: &mut Vec<Event>) -> Result<(), ReadEnd> {
    let shared = conn.shared;
    match op {
        ServerOp::Ping => shared.answer_ping(),
        ServerOp::Pong => shared.on_pong(conn.epoch),
        ServerOp::Info(info) => handle_info(shared, *info, conn.server, events),
        ServerOp::Ok => {}
        ServerOp::Err(text) => return handle_err(shared, text, events),
        ServerOp::Msg(_) => {}
    }
    Ok(())
}

fn handle_info(shared: &Shared, info: proto::Info, server: &str, events: &mut Vec<Event>) {
    if !shared.opts.ignore_discovered_servers && !info.connect_urls.is_empty() {
        let added = lock(&shared.pool).add_discovered(&info.connect_urls);
        if !added.is_empty() {
            events.push(Event::ServersDiscovered { servers: added });
        }
    }
    let lame = info.lame_duck_mode;
    shared.set_info(info);
    if lame {
        events.push(Event::LameDuckMode {
            server: server.to_string(),
        });
        lock(&shared.pool).mark_lame(server);
        shared.send_command(Command::LameDuck);
    }
}

/// Handles a `-ERR` (classified by [`proto::ServerError`]): a permissions violation ends the
/// refused subscription or fails the refused requests and keeps the connection; a fatal error
/// (the server closes the connection after it) ends the reader.
fn handle_err(shared: &Shared, text: String, events: &mut Vec<Event>) -> Result<(), ReadEnd> {
    let err = proto::ServerError::parse(&text);
    if err.is_permission() {
        let sid = match &err {
            proto::ServerError::SubscriptionDenied {
                subject,
                queue,
                sid,
            } => shared.close_denied_subscription(subject, queue.as_deref(), *sid, &text),
            proto::ServerError::PublishDenied { subject } => {
                shared.fail_requests_to(subject, &text);
                None
            }
            _ => None,
        };
        events.push(Event::PermissionViolation { message: text, sid });
        return Ok(());
    }
    let fatal = err.is_fatal().then(|| {
        if err.is_auth() {
            ErrorKind::Authorization
        } else {
            ErrorKind::Server
        }
    });
    events.push(Event::ServerError {
        message: text.clone(),
    });
    match fatal {
        Some(kind) => Err(ReadEnd::Fatal(Error::new(kind, text))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use proto::ServerError;

    /// The classification the reader acts on (the full table is in gnat-proto's tests).
    #[test]
    fn classifies_server_errors() {
        let fatal = |t: &str| ServerError::parse(t).is_fatal();
        let auth = |t: &str| ServerError::parse(t).is_auth();
        assert!(fatal("Authorization Violation"));
        assert!(auth("Authorization Violation"));
        assert!(fatal("Stale Connection"));
        assert!(fatal("Maximum Payload Violation"));
        assert!(!fatal("Permissions Violation for Subscription to foo"));
        assert!(!fatal("Invalid Subject"));
        assert!(!auth("Stale Connection"));
    }
}
