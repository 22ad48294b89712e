//! The control line: finding its CRLF, and splitting it into an operation name and
//! whitespace-separated arguments (a small grammar, hand-written).
//!
//! ```text
//! line  = ws* op (ws+ arg)* ws*      ws = SP | HTAB
//! arg   = (any byte but SP, HTAB)+
//! ```
//!
//! Nothing here allocates or copies: tokens are sub-slices of the caller's buffer,
//! and their positions are turned into [`Span`]s so that they can be re-sliced out of
//! the frozen frame as `Bytes`.

use memchr::memchr;

use crate::error::ProtoError;

/// Lines of `INFO` and `CONNECT` (JSON) may be this long even when
/// `max_control_line` is smaller: an `INFO` from a large cluster lists every
/// member's URL and a `CONNECT` may carry a JWT, and both exceed a few KiB.
pub const MAX_JSON_LINE: usize = 64 * 1024;

/// Most arguments any operation has (`HMSG subject sid reply hdr total`).
const MAX_ARGS: usize = 5;

/// A space or a tab: the whitespace of control lines and header lines.
#[inline]
pub(crate) fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// `ws*`
#[inline]
fn skip_ws(input: &[u8]) -> &[u8] {
    let n = input.iter().take_while(|&&c| is_ws(c)).count();
    input.get(n..).unwrap_or_default()
}

/// `arg`: one token, or `None` at the end of the line.
#[inline]
fn token(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = input.iter().take_while(|&&c| !is_ws(c)).count();
    if n == 0 {
        return None;
    }
    let (tok, rest) = input.split_at_checked(n)?;
    Some((rest, tok))
}

/// Trims spaces and tabs at both ends.
#[inline]
pub(crate) fn trim_ws(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ws(*first) {
            break;
        }
        s = rest;
    }
    trim_end_ws(s)
}

/// Trims trailing spaces and tabs.
#[inline]
pub(crate) fn trim_end_ws(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if !is_ws(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// Splits a complete control line into its operation name and the remainder
/// (leading whitespace removed). The name is empty if the line is blank.
#[inline]
pub(crate) fn op_word(line: &[u8]) -> (&[u8], &[u8]) {
    let line = skip_ws(line);
    match token(line) {
        Some((rest, word)) => (word, skip_ws(rest)),
        None => (&[], line),
    }
}

/// Locates the end of the control line at the start of `buf`.
///
/// Returns the line length without its CRLF, `None` if the line is incomplete, or an
/// error if no CRLF appears within `max + 2` bytes (`json_op` names the operation
/// allowed [`MAX_JSON_LINE`] instead) or a LF is not preceded by CR.
#[inline]
pub(crate) fn find_line(
    buf: &[u8],
    max: usize,
    json_op: &[u8],
) -> Result<Option<usize>, ProtoError> {
    let window = max.saturating_add(2);
    match memchr(b'\n', buf.get(..window).unwrap_or(buf)) {
        Some(lf) => line_end(buf, lf).map(Some),
        None if buf.len() < window => Ok(None),
        None => {
            let long = MAX_JSON_LINE.max(max);
            if !op_word(buf).0.eq_ignore_ascii_case(json_op) {
                return Err(ProtoError::ControlLineTooLong { limit: max });
            }
            let window = long.saturating_add(2);
            match memchr(b'\n', buf.get(..window).unwrap_or(buf)) {
                Some(lf) => line_end(buf, lf).map(Some),
                None if buf.len() < window => Ok(None),
                None => Err(ProtoError::ControlLineTooLong { limit: long }),
            }
        }
    }
}

/// The line length given the position of its LF.
#[inline]
fn line_end(buf: &[u8], lf: usize) -> Result<usize, ProtoError> {
    match lf.checked_sub(1) {
        Some(cr) if buf.get(cr) == Some(&b'\r') => Ok(cr),
        _ => Err(ProtoError::BareLineFeed),
    }
}

/// The arguments of a control line: up to five tokens, and how many there were.
pub(crate) struct Args<'a> {
    toks: [&'a [u8]; MAX_ARGS],
    count: usize,
}

impl<'a> Args<'a> {
    /// Tokenizes `input` (the line after the operation name).
    ///
    /// This is the `(ws+ arg)* ws*` part of the grammar on the hottest path of the
    /// decoder (every `MSG`), so it is one tight loop over the bytes instead of the
    /// token-at-a-time reference ([`Args::parse_reference`], `skip_ws` and `token`, the
    /// shape a combinator grammar takes). The grammar is the same;
    /// `tokenizer_matches_the_reference_grammar` checks it.
    #[inline]
    pub(crate) fn parse(input: &'a [u8]) -> Self {
        let mut args = Args {
            toks: [&[]; MAX_ARGS],
            count: 0,
        };
        let mut start = None;
        for (i, &c) in input.iter().enumerate() {
            match (is_ws(c), start) {
                (false, None) => start = Some(i),
                (true, Some(s)) => {
                    args.push(input.get(s..i).unwrap_or_default());
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            args.push(input.get(s..).unwrap_or_default());
        }
        args
    }

    #[inline]
    fn push(&mut self, tok: &'a [u8]) {
        if let Some(slot) = self.toks.get_mut(self.count) {
            *slot = tok;
        }
        self.count = self.count.saturating_add(1);
    }

    /// The same tokenization token by token with `skip_ws` and `token` (the reference
    /// the fast loop is tested against).
    #[cfg(test)]
    fn parse_reference(mut input: &'a [u8]) -> Self {
        let mut args = Args {
            toks: [&[]; MAX_ARGS],
            count: 0,
        };
        loop {
            input = skip_ws(input);
            let Some((rest, tok)) = token(input) else {
                return args;
            };
            args.push(tok);
            input = rest;
        }
    }

    /// How many arguments the line had (may exceed the number stored).
    #[inline]
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// The `i`-th argument (empty if absent).
    #[inline]
    pub(crate) fn get(&self, i: usize) -> &'a [u8] {
        self.toks.get(i).copied().unwrap_or_default()
    }
}

/// A byte range inside the buffer the control line was found in; it stays valid
/// for the frame cut from the front of that buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Span {
    /// The position of `part` relative to `base` (the buffer's first byte).
    /// `part` must be a sub-slice of the buffer starting at `base`.
    #[inline]
    pub(crate) fn of(base: *const u8, part: &[u8]) -> Self {
        let start = (part.as_ptr() as usize).wrapping_sub(base as usize);
        Span {
            start,
            end: start.wrapping_add(part.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &[u8]) -> Vec<&[u8]> {
        let a = Args::parse(line);
        (0..a.count().min(MAX_ARGS)).map(|i| a.get(i)).collect()
    }

    #[test]
    fn tokenizes_on_runs_of_whitespace() {
        assert_eq!(
            toks(b"foo  1\tbar 5"),
            vec![&b"foo"[..], b"1", b"bar", b"5"]
        );
        assert_eq!(toks(b" \t a \t "), vec![&b"a"[..]]);
        assert!(toks(b"").is_empty());
        assert!(toks(b" \t").is_empty());
        assert_eq!(Args::parse(b"1 2 3 4 5 6 7").count(), 7);
    }

    #[test]
    fn tokenizer_matches_the_reference_grammar() {
        // Every line over a small alphabet up to 7 bytes long.
        let alphabet = [b' ', b'\t', b'a', b'1'];
        let mut line = Vec::new();
        for len in 0..=7u32 {
            for n in 0..4usize.pow(len) {
                line.clear();
                let mut k = n;
                for _ in 0..len {
                    line.push(alphabet[k % 4]);
                    k /= 4;
                }
                let fast = Args::parse(&line);
                let reference = Args::parse_reference(&line);
                assert_eq!(fast.count(), reference.count(), "{line:?}");
                for i in 0..MAX_ARGS {
                    assert_eq!(fast.get(i), reference.get(i), "{line:?}");
                }
            }
        }
    }

    #[test]
    fn op_word_splits_name() {
        assert_eq!(op_word(b"  PING  "), (&b"PING"[..], &b""[..]));
        assert_eq!(
            op_word(b"INFO {\"a\": 1}"),
            (&b"INFO"[..], &b"{\"a\": 1}"[..])
        );
        assert_eq!(op_word(b""), (&b""[..], &b""[..]));
    }

    #[test]
    fn finds_lines() {
        assert_eq!(find_line(b"PING\r\n", 10, b"INFO"), Ok(Some(4)));
        assert_eq!(find_line(b"PING\r", 10, b"INFO"), Ok(None));
        assert_eq!(
            find_line(b"PING\n", 10, b"INFO"),
            Err(ProtoError::BareLineFeed)
        );
        assert_eq!(find_line(b"\n", 10, b"INFO"), Err(ProtoError::BareLineFeed));
        // exactly max bytes of line is fine, one more is not
        assert_eq!(find_line(b"0123456789\r\n", 10, b"INFO"), Ok(Some(10)));
        assert_eq!(
            find_line(b"0123456789A\r\n", 10, b"INFO"),
            Err(ProtoError::ControlLineTooLong { limit: 10 })
        );
        assert_eq!(find_line(b"0123456789A", 10, b"INFO"), Ok(None));
        // JSON lines get the larger window
        assert_eq!(find_line(b"info {\"x\":1}\r\n", 4, b"INFO"), Ok(Some(12)));
        assert_eq!(find_line(b"INFO {\"x\":1", 4, b"INFO"), Ok(None));
    }

    #[test]
    fn trims() {
        assert_eq!(trim_end_ws(b"a b \t"), b"a b");
        assert_eq!(trim_end_ws(b" \t"), b"");
    }
}
