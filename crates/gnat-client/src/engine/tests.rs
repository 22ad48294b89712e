//! Unit tests of the engine: no runtime, no socket, no clock — inputs are method calls, and
//! what goes to the wire is read out of the writer's batch.

use super::*;

const MUX: &str = "_INBOX.test.*";

fn engine() -> Engine<u32> {
    engine_with(1 << 20, 1 << 20)
}

fn engine_with(write_buffer: usize, reconnect_buffer: usize) -> Engine<u32> {
    Engine::new(
        Limits {
            write_buffer,
            reconnect_buffer,
        },
        MUX.to_string(),
    )
}

fn msg<'a>(subject: &'a str, reply: Option<&'a str>, payload: &'a Bytes) -> Outgoing<'a> {
    Outgoing {
        subject,
        reply,
        headers: None,
        payload,
    }
}

fn publish(e: &mut Engine<u32>, subject: &str, payload: &str) -> Result<Send, Blocked> {
    let payload = Bytes::copy_from_slice(payload.as_bytes());
    e.publish(&msg(subject, None, &payload))
}

/// Everything the batch holds, in order.
fn batch_bytes(batch: &Batch) -> Vec<u8> {
    let mut out = Vec::new();
    for c in &batch.chunks {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&batch.buf);
    out
}

/// What the writer would write next: takes a batch, reads it, marks it written.
fn write_all(e: &mut Engine<u32>, batch: &mut Batch) -> Vec<u8> {
    match e.take_batch(batch) {
        Taken::Parked => Vec::new(),
        Taken::Batch { .. } => {
            let bytes = batch_bytes(batch);
            batch.advance(bytes.len());
            assert!(batch.is_written());
            batch.complete();
            bytes
        }
    }
}

/// The queue's bytes (chunks then buffer).
fn queued_bytes(e: &Engine<u32>) -> Vec<u8> {
    let mut out = Vec::new();
    for c in &e.queue.chunks {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&e.queue.buf);
    out
}

/// The queue's frame records add up to its bytes (the invariant every test relies on).
fn check_frames(e: &Engine<u32>) {
    let total: usize = e.queue.frames.list.iter().map(|f| f.len()).sum();
    assert_eq!(total, e.queued(), "frames cover the queue exactly");
    assert_eq!(
        e.queue.chunks_len,
        e.queue.chunks.iter().map(Bytes::len).sum::<usize>()
    );
    assert_eq!(
        e.ledger.pongs.len(),
        e.ledger.marks.len() + e.ledger.pings_queued,
        "one PONG entry per PING queued or on the wire"
    );
}

#[test]
fn publishes_wait_in_the_reconnect_buffer_and_follow_the_resubscription_plan() {
    let mut e = engine();
    assert_eq!(e.phase(), Phase::Disconnected);
    assert_eq!(publish(&mut e, "a", "one"), Ok(Send::Nothing));
    assert_eq!(e.subscribe(5, "s.>", Some("q")), Ok(Send::Nothing));
    check_frames(&e);
    let plan = [Resubscribe {
        sid: 5,
        subject: "s.>",
        queue: Some("q"),
        remaining: Some(2),
    }];
    let (epoch, space) = e.on_connected(plan);
    assert_eq!((epoch, space), (1, false));
    assert_eq!(e.phase(), Phase::Connected);
    check_frames(&e);
    let mut batch = Batch::default();
    assert_eq!(
        write_all(&mut e, &mut batch),
        b"SUB s.> q 5\r\nUNSUB 5 2\r\nPUB a 3\r\none\r\n"
    );
    assert_eq!(e.take_batch(&mut batch), Taken::Parked);
    // Parked: the next publish wakes the writer, once.
    assert_eq!(publish(&mut e, "b", ""), Ok(Send::WakeWriter));
    assert_eq!(publish(&mut e, "c", ""), Ok(Send::Nothing));
    assert_eq!(
        e.sent(),
        Sent {
            messages: 3,
            bytes: 3
        }
    );
}

#[test]
fn an_interrupted_write_requeues_the_publishes_the_socket_never_saw() {
    let mut e = engine();
    e.on_connected([]);
    let _ = publish(&mut e, "a", "first").unwrap();
    let _ = e.subscribe(9, "x", None).unwrap();
    let _ = publish(&mut e, "b", "second").unwrap();
    let _ = publish(&mut e, "c", "third").unwrap();
    let mut batch = Batch::default();
    assert!(matches!(e.take_batch(&mut batch), Taken::Batch { .. }));
    // The socket took A whole and the first byte of the SUB.
    let a_len = b"PUB a 5\r\nfirst\r\n".len();
    batch.advance(a_len + 1);
    // Meanwhile a publisher queued D.
    let _ = publish(&mut e, "d", "fourth").unwrap();
    let handed = e.requeue_unsent(&mut batch);
    assert_eq!(handed, (a_len + b"SUB x 9\r\n".len()) as u64);
    check_frames(&e);
    assert_eq!(
        queued_bytes(&e),
        b"PUB b 6\r\nsecond\r\nPUB c 5\r\nthird\r\nPUB d 6\r\nfourth\r\n"
    );
    // The connection is gone: what was handed is unconfirmed; the publishes stay.
    let gone = e.on_disconnected(handed);
    assert_eq!(gone.unconfirmed, handed);
    assert!(gone.failed.is_empty());
    assert_eq!(e.phase(), Phase::Disconnected);
    let epoch = e.on_connected([]).0;
    assert_eq!(epoch, 2);
    assert_eq!(
        write_all(&mut e, &mut batch),
        b"PUB b 6\r\nsecond\r\nPUB c 5\r\nthird\r\nPUB d 6\r\nfourth\r\n"
    );
}

#[test]
fn a_disconnect_keeps_queued_publishes_and_pings_but_drops_control_frames() {
    let mut e = engine();
    e.on_connected([]);
    let _ = e.subscribe(7, "a", None).unwrap();
    let _ = publish(&mut e, "a", "one").unwrap();
    let _ = e.unsubscribe(7, Some(5)).unwrap();
    // Part of it in a chunk, as after a chained payload.
    let head = e.queue.buf.split().freeze();
    e.queue.chunks_len += head.len();
    e.queue.chunks.push_back(head);
    let _ = e.answer_ping();
    let _ = e.flush(1).unwrap();
    let reply = Bytes::from_static(b"two");
    let _ = e.request(&msg("b", Some("r"), &reply), false).unwrap();
    check_frames(&e);
    let gone = e.on_disconnected(0);
    assert_eq!(gone.failed, vec![1], "the flush fails with the connection");
    assert_eq!(e.phase(), Phase::Disconnected);
    check_frames(&e);
    assert_eq!(
        queued_bytes(&e),
        b"PUB a 3\r\none\r\nPING\r\nPUB b r 3\r\ntwo\r\n",
        "the mux SUB went with the other control frames"
    );
    assert_eq!(
        e.ledger.pings_queued, 1,
        "the PING stays with its PONG entry"
    );
    assert_eq!(e.ledger.pongs.len(), 1);
    assert!(e.ledger.pongs[0].is_none(), "its flush was failed");
    // The plan restores the mux subscription first on the next connection.
    e.on_connected([]);
    let mut batch = Batch::default();
    assert_eq!(
        write_all(&mut e, &mut batch),
        b"SUB _INBOX.test.* 0\r\nPUB a 3\r\none\r\nPING\r\nPUB b r 3\r\ntwo\r\n"
    );
}

#[test]
fn unconfirmed_bytes_are_those_written_after_the_last_confirmation() {
    let mut e = engine();
    e.on_connected([]);
    e.ledger.written = 1000;
    e.ledger.confirmed = 400;
    let gone = e.on_disconnected(50);
    assert_eq!(gone.unconfirmed, 650);
    assert_eq!((e.ledger.written, e.ledger.confirmed), (0, 0));
}

#[test]
fn a_flush_is_confirmed_by_the_pong_of_its_own_ping() {
    let mut e = engine();
    let epoch = e.on_connected([]).0;
    let mut batch = Batch::default();
    let _ = e.flush(1).unwrap();
    let _ = publish(&mut e, "a", "x").unwrap();
    write_all(&mut e, &mut batch);
    // A keep-alive PING, then another flush, in the next batch.
    assert!(matches!(e.on_ping_timer(3), Keepalive::Ping(_)));
    let _ = e.flush(2).unwrap();
    assert_eq!(e.pings_outstanding(), 3);
    write_all(&mut e, &mut batch);
    check_frames(&e);
    assert_eq!(
        e.on_pong(epoch),
        Some(1),
        "the first PONG answers the first PING"
    );
    assert_eq!(e.on_pong(epoch), None, "the keep-alive had no waiter");
    assert_eq!(e.on_pong(epoch), Some(2));
    assert_eq!(e.on_pong(epoch), None, "no PING left on the wire");
    assert_eq!(e.pings_outstanding(), 0);
    // The PONGs confirmed everything written before the last PING's batch.
    assert_eq!(
        e.ledger.confirmed,
        (b"PING\r\nPUB a 1\r\nx\r\n".len()) as u64
    );
}

#[test]
fn a_pong_that_arrives_before_its_ping_was_handed_to_the_socket_confirms_nothing() {
    let mut e = engine();
    let epoch = e.on_connected([]).0;
    let _ = e.flush(1).unwrap();
    // Still queued: this PONG answers something else (the handshake's, say).
    assert_eq!(e.on_pong(epoch), None);
    assert_eq!(e.pings_outstanding(), 1);
    let mut batch = Batch::default();
    write_all(&mut e, &mut batch);
    assert_eq!(e.on_pong(epoch), Some(1));
}

#[test]
fn a_pong_for_a_ping_of_an_earlier_connection_is_ignored() {
    let mut e = engine();
    let first = e.on_connected([]).0;
    let mut batch = Batch::default();
    let _ = e.flush(1).unwrap();
    write_all(&mut e, &mut batch);
    let gone = e.on_disconnected(0);
    assert_eq!(gone.failed, vec![1]);
    let second = e.on_connected([]).0;
    assert_ne!(first, second);
    let _ = e.flush(2).unwrap();
    write_all(&mut e, &mut batch);
    // The old connection's reader, not yet stopped, reads a late PONG.
    assert_eq!(e.on_pong(first), None);
    assert_eq!(e.pings_outstanding(), 1, "it consumed nothing");
    assert_eq!(e.on_pong(second), Some(2));
}

#[test]
fn the_keepalive_reports_a_stale_connection_after_max_outstanding_pings() {
    let mut e = engine();
    e.on_connected([]);
    assert!(matches!(e.on_ping_timer(2), Keepalive::Ping(_)));
    assert!(matches!(e.on_ping_timer(2), Keepalive::Ping(_)));
    // Queued PINGs count too: a writer stuck on a stalled socket does not hide it.
    assert_eq!(e.on_ping_timer(2), Keepalive::Stale);
}

#[test]
fn close_while_disconnected_fails_waiters_and_refuses_everything_after() {
    let mut e = engine();
    e.on_connected([]);
    e.on_disconnected(0);
    let _ = publish(&mut e, "a", "buffered").unwrap();
    let _ = e.flush(7).unwrap();
    e.on_close_requested();
    assert_eq!(e.phase(), Phase::Closing { connected: false });
    assert!(e.phase().is_closing() && !e.phase().is_closed());
    // Still buffering while the close is under way (the driver's last flush may need it).
    let _ = publish(&mut e, "b", "x").unwrap();
    let failed = e.on_closed();
    assert_eq!(failed, vec![7]);
    assert_eq!(e.phase(), Phase::Closed { announced: false });
    assert_eq!(e.queued(), 0);
    check_frames(&e);
    assert_eq!(publish(&mut e, "c", "x"), Err(Blocked::Closed));
    assert_eq!(e.subscribe(1, "s", None), Err(Blocked::Closed));
    assert_eq!(e.unsubscribe(1, None), Err(Blocked::Closed));
    assert_eq!(e.flush(8), Err(Blocked::Closed));
    // A connection that completes now does not reopen it.
    e.on_connected([]);
    assert!(e.phase().is_closed());
    e.on_close_announced();
    assert_eq!(e.phase(), Phase::Closed { announced: true });
}

#[test]
fn a_close_requested_while_connected_keeps_the_connection_until_closed() {
    let mut e = engine();
    e.on_connected([]);
    e.on_close_requested();
    assert_eq!(e.phase(), Phase::Closing { connected: true });
    assert!(e.phase().is_connected());
    let _ = e.flush(1).unwrap();
    e.on_disconnected(0);
    assert_eq!(e.phase(), Phase::Closing { connected: false });
}

#[test]
fn the_reconnect_buffer_overflows_with_a_clear_refusal_and_nothing_written() {
    let mut e = engine_with(1 << 20, 200);
    let mut accepted = 0;
    loop {
        match publish(&mut e, "orders.new", "0123456789") {
            Ok(_) => accepted += 1,
            Err(Blocked::ReconnectBufferFull) => break,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(accepted > 0);
    let before = queued_bytes(&e);
    assert!(before.len() <= 200);
    assert_eq!(
        publish(&mut e, "orders.new", "0123456789"),
        Err(Blocked::ReconnectBufferFull)
    );
    assert_eq!(queued_bytes(&e), before, "nothing written");
    assert_eq!(e.sent().messages, accepted);
    // Connected, the write-buffer rule applies instead.
    e.on_connected([]);
    assert!(publish(&mut e, "orders.new", "0123456789").is_ok());
}

#[test]
fn a_full_write_buffer_blocks_until_the_writer_takes_it() {
    let mut e = engine_with(64, 1 << 20);
    e.on_connected([]);
    while publish(&mut e, "a", "0123456789").is_ok() {}
    assert_eq!(publish(&mut e, "a", "x"), Err(Blocked::Full));
    e.wait_for_space();
    let mut batch = Batch::default();
    assert_eq!(e.take_batch(&mut batch), Taken::Batch { space: true });
    e.stop_waiting_for_space();
    assert!(publish(&mut e, "a", "x").is_ok());
}

#[test]
fn invalid_input_writes_nothing_not_even_the_mux_subscription() {
    let mut e = engine();
    e.on_connected([]);
    let payload = Bytes::from_static(b"x");
    assert!(matches!(
        e.publish(&msg("bad subject", None, &payload)),
        Err(Blocked::Invalid(_))
    ));
    assert!(matches!(
        e.request(&msg("a.*", Some("r"), &payload), true),
        Err(Blocked::Invalid(_))
    ));
    assert!(!e.mux_subscribed());
    assert!(matches!(
        e.subscribe(1, "a b", None),
        Err(Blocked::Invalid(_))
    ));
    e.on_disconnected(0);
    assert!(
        matches!(
            e.subscribe(1, "a.>", Some("bad queue")),
            Err(Blocked::Invalid(_))
        ),
        "validated while disconnected too"
    );
    assert_eq!(e.queued(), 0);
    assert_eq!(e.sent(), Sent::default());
}

#[test]
fn the_first_request_subscribes_the_mux_once() {
    let mut e = engine();
    e.on_connected([]);
    let mut batch = Batch::default();
    write_all(&mut e, &mut batch);
    let payload = Bytes::from_static(b"hi");
    // Parked writer, lone request: written directly.
    assert_eq!(
        e.request(&msg("svc", Some("_INBOX.test.1"), &payload), true),
        Ok(Send::Direct)
    );
    let mut wire = Vec::new();
    assert_eq!(
        e.write_direct(|b| {
            wire.extend_from_slice(b);
            Some(b.len())
        }),
        Send::Nothing
    );
    assert_eq!(
        wire,
        b"SUB _INBOX.test.* 0\r\nPUB svc _INBOX.test.1 2\r\nhi\r\n"
    );
    assert_eq!(e.queued(), 0);
    check_frames(&e);
    // Not alone: left to the writer (woken).
    assert_eq!(
        e.request(&msg("svc", Some("_INBOX.test.2"), &payload), false),
        Ok(Send::WakeWriter)
    );
    assert_eq!(
        write_all(&mut e, &mut batch),
        b"PUB svc _INBOX.test.2 2\r\nhi\r\n"
    );
}

#[test]
fn a_direct_write_that_stops_inside_a_frame_never_resends_its_rest() {
    let mut e = engine();
    e.on_connected([]);
    let mut batch = Batch::default();
    write_all(&mut e, &mut batch);
    // A flush while the writer is parked goes out directly, whole.
    assert_eq!(e.flush(1), Ok(Send::Direct));
    assert_eq!(e.write_direct(|b| Some(b.len())), Send::Nothing);
    assert_eq!(e.pings_outstanding(), 1, "the PING is on the wire");
    // A lone request: the socket takes the mux SUB and 3 bytes of the publish.
    let payload = Bytes::from_static(b"payload");
    let sub_len = b"SUB _INBOX.test.* 0\r\n".len();
    assert_eq!(
        e.request(&msg("a", Some("r"), &payload), true),
        Ok(Send::Direct)
    );
    assert_eq!(e.write_direct(|_| Some(sub_len + 3)), Send::WakeWriter);
    assert!(e.queue.frames.front_started);
    check_frames(&e);
    let publish_len = b"PUB a r 7\r\npayload\r\n".len();
    let gone = e.on_disconnected(0);
    assert_eq!(gone.failed, vec![1]);
    assert_eq!(gone.unconfirmed, (6 + sub_len + publish_len) as u64);
    assert_eq!(e.queued(), 0, "the rest of a started frame is not kept");
    check_frames(&e);
}

#[test]
fn a_started_frame_taken_by_the_writer_counts_as_handed() {
    let mut e = engine();
    e.on_connected([]);
    let mut batch = Batch::default();
    write_all(&mut e, &mut batch);
    let payload = Bytes::from_static(b"abc");
    assert_eq!(
        e.request(&msg("a", Some("r"), &payload), true),
        Ok(Send::Direct)
    );
    assert_eq!(e.write_direct(|_| Some(4)), Send::WakeWriter);
    let _ = publish(&mut e, "b", "def").unwrap();
    assert!(matches!(e.take_batch(&mut batch), Taken::Batch { .. }));
    let handed = e.requeue_unsent(&mut batch);
    let sub_len = b"SUB _INBOX.test.* 0\r\n".len();
    assert_eq!(handed, (sub_len - 4) as u64, "the started SUB's rest");
    assert_eq!(queued_bytes(&e), b"PUB a r 3\r\nabc\r\nPUB b 3\r\ndef\r\n");
    check_frames(&e);
}

#[test]
fn a_large_payload_is_chained_and_survives_a_requeue_without_a_copy() {
    let mut e = engine();
    e.on_connected([]);
    let big = Bytes::from(vec![b'x'; CHAIN_THRESHOLD]);
    let _ = publish(&mut e, "small", "1").unwrap();
    let _ = e.publish(&msg("big", None, &big)).unwrap();
    let _ = publish(&mut e, "after", "2").unwrap();
    check_frames(&e);
    let mut batch = Batch::default();
    assert!(matches!(e.take_batch(&mut batch), Taken::Batch { .. }));
    assert!(batch.contiguous().is_none(), "chained");
    let mut slices = Vec::new();
    batch.slices(&mut slices);
    assert!(
        slices.iter().any(|s| s.as_ptr() == big.as_ptr()),
        "the payload itself is written, not a copy"
    );
    let whole = batch_bytes(&batch);
    let handed = e.requeue_unsent(&mut batch);
    assert_eq!(handed, 0);
    assert_eq!(queued_bytes(&e), whole);
    assert!(
        e.queue.chunks.iter().any(|c| c.as_ptr() == big.as_ptr()),
        "requeued as the same memory"
    );
    check_frames(&e);
}

#[test]
fn frames_pack_kind_and_length() {
    for kind in [FrameKind::Publish, FrameKind::Ping, FrameKind::Control] {
        for len in [0usize, 1, 6, 64 << 20] {
            let f = Frame::new(kind, len);
            assert_eq!((f.kind(), f.len()), (kind, len));
        }
    }
}
