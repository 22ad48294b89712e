//! Reading a `NATS/1.0` header block.

use memchr::{memchr, memchr2};

use super::HeaderMap;
use super::status::parse_status;
use crate::error::{HeaderFault, ProtoError};
use crate::line::{is_ws, trim_ws};
use crate::validate::is_name_byte;

fn fail(reason: HeaderFault, at: usize) -> ProtoError {
    ProtoError::InvalidHeaderBlock { reason, at }
}

/// The CRLF-terminated lines of a block, with their offsets.
struct Lines<'a> {
    block: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    /// The next line (without CRLF) and its offset; `None` at the end of the block.
    fn next_line(&mut self) -> Result<Option<(usize, &'a [u8])>, ProtoError> {
        let start = self.pos;
        let rest = match self.block.get(start..) {
            Some(rest) if !rest.is_empty() => rest,
            _ => return Ok(None),
        };
        let lf = memchr(b'\n', rest).ok_or(fail(HeaderFault::LineEnding, start))?;
        let line = match lf.checked_sub(1).and_then(|cr| rest.get(..=cr)) {
            Some([line @ .., b'\r']) => line,
            _ => return Err(fail(HeaderFault::LineEnding, start.wrapping_add(lf))),
        };
        self.pos = start.wrapping_add(lf).wrapping_add(1);
        Ok(Some((start, line)))
    }
}

fn utf8(bytes: &[u8], at: usize, reason: HeaderFault) -> Result<&str, ProtoError> {
    core::str::from_utf8(bytes).map_err(|e| fail(reason, at.wrapping_add(e.valid_up_to())))
}

/// Offset of `part` inside `line`, which starts at `line_at` in the block.
fn offset(line_at: usize, line: &[u8], part: &[u8]) -> usize {
    line_at.wrapping_add((part.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize))
}

impl HeaderMap {
    /// Parses a header block as found in [`Msg::headers`](crate::Msg::headers).
    ///
    /// * The first line must be exactly `NATS/1.0`, optionally followed by
    ///   whitespace, a three-digit status and a description (trimmed).
    /// * Every line must end in CRLF. Each header line is `Name:value`; the name is
    ///   checked like [`validate_header_name`](crate::validate::validate_header_name)
    ///   (so no space before the colon), the value is trimmed of spaces and tabs and
    ///   must be UTF-8 without NUL or CR.
    /// * A line starting with a space or tab continues the previous value: it is
    ///   trimmed and appended after one space.
    /// * The blank line that ends the block may be missing (the frame's header size,
    ///   not the blank line, delimits the block), but nothing may follow it.
    ///
    /// Errors are [`ProtoError::InvalidHeaderBlock`] with the byte offset of the fault.
    pub fn parse(block: &[u8]) -> Result<HeaderMap, ProtoError> {
        let mut lines = Lines { block, pos: 0 };
        let (_, first) = lines.next_line()?.ok_or(fail(HeaderFault::LineEnding, 0))?;
        let after = first
            .strip_prefix(b"NATS/1.0")
            .ok_or(fail(HeaderFault::Version, 0))?;
        let mut map = HeaderMap {
            // Names and values are shorter than the block. One entry per line, but no more
            // than a typical block's worth up front: 24 bytes of entry per byte of a block of
            // bare line ends would let a peer multiply what it sends.
            text: String::with_capacity(block.len()),
            entries: Vec::with_capacity(memchr::memchr_iter(b'\n', block).count().min(16)),
            ..HeaderMap::default()
        };
        match parse_status(after) {
            Ok(None) => {}
            Ok(Some((code, desc))) => {
                map.status = Some(code);
                let at = offset(0, first, desc);
                if let Some(i) = memchr2(0, b'\r', desc) {
                    return Err(fail(HeaderFault::Status, at.wrapping_add(i)));
                }
                let desc = utf8(desc, at, HeaderFault::Status)?;
                map.description = (!desc.is_empty()).then(|| desc.to_owned());
            }
            Err(()) => return Err(fail(HeaderFault::Status, 8)),
        }
        while let Some((at, line)) = lines.next_line()? {
            match line.first() {
                None => {
                    if lines.pos != block.len() {
                        return Err(fail(HeaderFault::TrailingData, lines.pos));
                    }
                    break;
                }
                Some(&c) if is_ws(c) => map.continue_value(at, line)?,
                Some(_) => map.push_line(at, line)?,
            }
        }
        Ok(map)
    }

    fn push_line(&mut self, at: usize, line: &[u8]) -> Result<(), ProtoError> {
        let colon = memchr(b':', line).ok_or(fail(HeaderFault::MissingColon, at))?;
        let (name, value) = line.split_at_checked(colon).unwrap_or((line, &[]));
        if name.is_empty() {
            return Err(fail(HeaderFault::Name, at));
        }
        if let Some(i) = name.iter().position(|&c| !is_name_byte(c)) {
            return Err(fail(HeaderFault::Name, at.wrapping_add(i)));
        }
        let name = utf8(name, at, HeaderFault::Name)?;
        let value = trim_ws(value.get(1..).unwrap_or_default());
        let value_at = offset(at, line, value);
        let value = checked_value(value, value_at)?;
        self.push(name, value);
        Ok(())
    }

    fn continue_value(&mut self, at: usize, line: &[u8]) -> Result<(), ProtoError> {
        // The last entry's value ends the text, so it can grow in place.
        let Some(last) = self.entries.last_mut() else {
            return Err(fail(HeaderFault::Continuation, at));
        };
        let more = trim_ws(line);
        let more = checked_value(more, offset(at, line, more))?;
        // Joined with one space; a continuation of an empty value becomes the value itself,
        // so the joined value has no leading space that encode→parse would trim away (found
        // by the `headers` fuzzer).
        if !more.is_empty() {
            if last.end > last.value {
                self.text.push(' ');
            }
            self.text.push_str(more);
            last.end = self.text.len();
        }
        Ok(())
    }
}

fn checked_value(value: &[u8], at: usize) -> Result<&str, ProtoError> {
    if let Some(i) = memchr2(0, b'\r', value) {
        return Err(fail(HeaderFault::Value, at.wrapping_add(i)));
    }
    utf8(value, at, HeaderFault::Value)
}
