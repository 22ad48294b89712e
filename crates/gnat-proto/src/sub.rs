//! `SUB` and `UNSUB` (client → server).
//!
//! ```text
//! SUB   <subject> [queue-group] <sid>CRLF
//! UNSUB <sid> [max-msgs]CRLF
//! ```

use bytes::Bytes;

use crate::ClientOp;
use crate::body::number;
use crate::error::{NumField, OpKind, ProtoError};
use crate::line::{Args, Span};

/// The parsed control line of a `SUB` (positions only).
pub(crate) struct SubHead {
    subject: Span,
    queue: Option<Span>,
    sid: u64,
}

impl SubHead {
    /// Parses the arguments `rest` of a `SUB` line; `base` is the first byte of the
    /// read buffer holding the line.
    pub(crate) fn parse(base: *const u8, rest: &[u8]) -> Result<SubHead, ProtoError> {
        let args = Args::parse(rest);
        let (queue, sid) = match args.count() {
            2 => (None, args.get(1)),
            3 => (Some(Span::of(base, args.get(1))), args.get(2)),
            got => {
                return Err(ProtoError::WrongArgumentCount {
                    op: OpKind::Sub,
                    got,
                });
            }
        };
        Ok(SubHead {
            subject: Span::of(base, args.get(0)),
            queue,
            sid: number(sid, OpKind::Sub, NumField::Sid)?,
        })
    }

    /// Builds the op from the line split off the buffer.
    pub(crate) fn finish(self, line: &Bytes) -> ClientOp {
        let slice = |s: Span| line.slice(s.start..s.end);
        ClientOp::Sub {
            subject: slice(self.subject),
            queue: self.queue.map(slice),
            sid: self.sid,
        }
    }
}

/// Parses the arguments of an `UNSUB` line.
pub(crate) fn decode_unsub(rest: &[u8]) -> Result<ClientOp, ProtoError> {
    let args = Args::parse(rest);
    let max = match args.count() {
        1 => None,
        2 => Some(number(args.get(1), OpKind::Unsub, NumField::MaxMsgs)?),
        got => {
            return Err(ProtoError::WrongArgumentCount {
                op: OpKind::Unsub,
                got,
            });
        }
    };
    let sid = number(args.get(0), OpKind::Unsub, NumField::Sid)?;
    Ok(ClientOp::Unsub { sid, max })
}
