//! Walking our own encoded output frame by frame (only on the disconnect path).

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use proto::{ClientOp, Decoder, Limits};

/// What kind of operation a frame is, as far as reconnect handling cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    /// PUB or HPUB: application data, worth sending after a reconnect.
    Publish,
    /// PING: a flush or keep-alive with an entry in the PONG queue.
    Ping,
    /// SUB, UNSUB, PONG, CONNECT: connection state, rebuilt on reconnect instead.
    Control,
}

/// Calls `f` for every complete frame of `bytes` with its kind and byte range. Our own
/// encoder produced these bytes, so they always decode; should anything not, the walk stops.
pub(crate) fn for_each_frame(bytes: &Bytes, mut f: impl FnMut(FrameKind, Range<usize>)) {
    let decoder = Decoder::new(Limits {
        max_control_line: usize::MAX / 4,
        max_payload: usize::MAX / 4,
    });
    let mut rest = BytesMut::from(&bytes[..]);
    let mut offset = 0usize;
    while let Ok(Some(op)) = decoder.decode_client(&mut rest) {
        let end = bytes.len() - rest.len();
        let kind = match op {
            ClientOp::Pub(_) => FrameKind::Publish,
            ClientOp::Ping => FrameKind::Ping,
            _ => FrameKind::Control,
        };
        f(kind, offset..end);
        offset = end;
    }
}

/// Concatenates pieces into one buffer.
pub(crate) fn concat<'a>(pieces: impl Iterator<Item = &'a [u8]>, len: usize) -> Bytes {
    let mut whole = BytesMut::with_capacity(len);
    for piece in pieces {
        whole.extend_from_slice(piece);
    }
    whole.freeze()
}

/// The frames of `pieces` (`len` bytes of whole frames, in order) that `keep` accepts, in order,
/// in one buffer.
pub(crate) fn filter<'a>(
    pieces: impl Iterator<Item = &'a [u8]>,
    len: usize,
    mut keep: impl FnMut(FrameKind, &Range<usize>) -> bool,
) -> BytesMut {
    let whole = concat(pieces, len);
    let mut kept = BytesMut::new();
    for_each_frame(&whole, |kind, range| {
        if keep(kind, &range) {
            kept.extend_from_slice(&whole[range]);
        }
    });
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_every_frame_with_its_kind() {
        let mut buf = BytesMut::new();
        proto::encode_sub(&mut buf, "a", None, 1).unwrap();
        proto::encode_pub(&mut buf, "a", None, b"hello").unwrap();
        proto::encode_ping(&mut buf);
        proto::encode_unsub(&mut buf, 1, Some(3));
        let bytes = buf.freeze();
        let mut seen = Vec::new();
        for_each_frame(&bytes, |kind, range| {
            seen.push((kind, bytes[range].to_vec()))
        });
        assert_eq!(
            seen,
            vec![
                (FrameKind::Control, b"SUB a 1\r\n".to_vec()),
                (FrameKind::Publish, b"PUB a 5\r\nhello\r\n".to_vec()),
                (FrameKind::Ping, b"PING\r\n".to_vec()),
                (FrameKind::Control, b"UNSUB 1 3\r\n".to_vec()),
            ]
        );
    }
}
