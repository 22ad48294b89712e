//! A naive, independent reading of one complete frame, to check decoded operations
//! against: the control line up to the first LF, its whitespace-separated tokens,
//! and whatever follows the line.

use bytes::Bytes;

/// One complete frame as cut off the front of the stream by the decoder.
#[derive(Debug)]
pub struct Frame<'a> {
    /// The whole frame.
    pub bytes: &'a [u8],
    /// The control line without its CRLF.
    pub line: &'a [u8],
    /// Everything after the control line's CRLF.
    pub after: &'a [u8],
    /// The operation name (first token).
    pub word: &'a [u8],
    /// The tokens after the operation name.
    pub args: Vec<&'a [u8]>,
    /// Where the frame started in the read buffer (an address).
    pub base: usize,
}

impl<'a> Frame<'a> {
    /// Reads `bytes`, which the decoder cut from a buffer starting at address `base`.
    pub fn new(bytes: &'a [u8], base: usize) -> Self {
        let lf = bytes
            .iter()
            .position(|&c| c == b'\n')
            .unwrap_or_else(|| panic!("decoded frame has no LF: {bytes:?}"));
        let line = match bytes.get(..lf) {
            Some([line @ .., b'\r']) => line,
            _ => panic!("decoded frame's first LF is not preceded by CR: {bytes:?}"),
        };
        let after = bytes.get(lf + 1..).unwrap_or_default();
        let mut tokens = line
            .split(|&c| c == b' ' || c == b'\t')
            .filter(|t| !t.is_empty());
        let word = tokens.next().unwrap_or_default();
        let args = tokens.collect();
        Frame {
            bytes,
            line,
            after,
            word,
            args,
            base,
        }
    }

    /// Asserts that the operation name is `name` (in any case).
    pub fn expect_word(&self, name: &str) {
        assert!(
            self.word.eq_ignore_ascii_case(name.as_bytes()),
            "decoded as {name} from a frame named {:?}",
            Bytes::copy_from_slice(self.word)
        );
    }

    /// Asserts that the operation name is `name` or `h_name`; true for the latter.
    pub fn word_with_headers(&self, name: &str, h_name: &str) -> bool {
        let headers = self.word.eq_ignore_ascii_case(h_name.as_bytes());
        assert!(
            headers || self.word.eq_ignore_ascii_case(name.as_bytes()),
            "decoded as {name}/{h_name} from a frame named {:?}",
            Bytes::copy_from_slice(self.word)
        );
        headers
    }

    /// Asserts that the frame is the control line alone, with `args` arguments.
    pub fn expect_line(&self, args: usize) {
        assert!(self.after.is_empty(), "line-only op consumed a body");
        assert_eq!(self.args.len(), args, "argument count of {:?}", self.line);
    }

    /// The body: the bytes between the control line's CRLF and the final CRLF.
    pub fn body(&self) -> &'a [u8] {
        match self.after {
            [body @ .., b'\r', b'\n'] => body,
            _ => panic!("frame with a body does not end in CRLF: {:?}", self.bytes),
        }
    }

    /// Offset of the body in the frame.
    pub fn body_offset(&self) -> usize {
        self.line.len() + 2
    }

    /// Offset of `part` (a sub-slice of this frame) in the frame.
    pub fn offset_of(&self, part: &[u8]) -> usize {
        part.as_ptr() as usize - self.bytes.as_ptr() as usize
    }

    /// Asserts that `got` holds `want` (a sub-slice of the frame) and, unless empty,
    /// is a view of the read buffer at exactly the same place: zero copy.
    pub fn expect_slice(&self, what: &str, got: &Bytes, want: &[u8]) {
        self.expect_slice_at(what, got, want, self.offset_of(want));
    }

    /// Asserts that `got` holds `want` and, unless empty, sits at `offset` in the frame.
    pub fn expect_slice_at(&self, what: &str, got: &Bytes, want: &[u8], offset: usize) {
        assert_eq!(&got[..], want, "{what}: wrong bytes");
        if got.is_empty() {
            // `Bytes::slice` hands out a static empty `Bytes` for empty ranges.
            return;
        }
        let start = (got.as_ptr() as usize).wrapping_sub(self.base);
        assert_eq!(
            start, offset,
            "{what}: not a view of the read buffer at its place"
        );
        assert!(
            start + got.len() <= self.bytes.len(),
            "{what}: runs past the frame"
        );
    }
}

/// A decimal number the decoder accepted: digits only, fits in a `u64`.
pub fn number(tok: &[u8]) -> u64 {
    assert!(
        !tok.is_empty() && tok.iter().all(u8::is_ascii_digit),
        "decoder accepted a non-decimal number {tok:?}"
    );
    tok.iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .unwrap_or_else(|| panic!("decoder accepted a number above u64::MAX: {tok:?}"))
}

/// A message frame (`MSG`/`HMSG`/`PUB`/`HPUB`) and what the decoder made of it.
pub struct Message<'m> {
    /// Arguments before the optional reply (2 for `MSG`: subject, sid; 1 for `PUB`).
    pub lead: usize,
    /// The op has a header block (`HMSG`/`HPUB`).
    pub with_headers: bool,
    /// Decoded subject.
    pub subject: &'m Bytes,
    /// Decoded reply.
    pub reply: Option<&'m Bytes>,
    /// Decoded header block.
    pub headers: Option<&'m Bytes>,
    /// Decoded payload.
    pub payload: &'m Bytes,
}

impl Frame<'_> {
    /// Checks a decoded message against this frame: argument layout, declared sizes
    /// (header block and payload lengths, total), and the exact place of every slice.
    pub fn expect_message(&self, m: &Message<'_>, max_payload: usize) {
        let sizes = if m.with_headers { 2 } else { 1 };
        let n = self.args.len();
        let reply = if n == m.lead + sizes {
            None
        } else {
            assert_eq!(n, m.lead + 1 + sizes, "argument count of {:?}", self.line);
            Some(self.args[m.lead])
        };
        self.expect_slice("subject", m.subject, self.args[0]);
        assert!(!m.subject.is_empty(), "empty subject");
        match (m.reply, reply) {
            (None, None) => {}
            (Some(got), Some(want)) => self.expect_slice("reply", got, want),
            (got, want) => panic!("reply: decoded {got:?}, frame has {want:?}"),
        }
        let total = number(self.args[n - 1]);
        let header_len = if m.with_headers {
            number(self.args[n - 2])
        } else {
            0
        };
        assert!(header_len <= total, "header size above total size accepted");
        assert!(
            total <= max_payload as u64,
            "declared size above the limit accepted"
        );
        let body = self.body();
        assert_eq!(
            body.len() as u64,
            total,
            "body length differs from the declared size"
        );
        let (head_block, payload) = body.split_at(header_len as usize);
        let at = self.body_offset();
        match (m.headers, m.with_headers) {
            (None, false) => {}
            (Some(got), true) => self.expect_slice_at("headers", got, head_block, at),
            (got, _) => panic!("headers: decoded {got:?} for a {:?} frame", self.word),
        }
        assert_eq!(
            m.payload.len() as u64,
            total - header_len,
            "payload length differs from the declared size"
        );
        self.expect_slice_at("payload", m.payload, payload, at + head_block.len());
    }
}
