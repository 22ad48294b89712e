//! Checks for user-supplied names before they are written to the wire.
//!
//! A space, tab, CR or LF in a subject would inject protocol (shift fields or end
//! the control line), so every encoder runs these first and writes nothing when one
//! fails. Each check is one pass over the bytes; errors carry the byte offset.
//!
//! Rules (ADR-6, "Naming Rules", and the NATS protocol docs on subject names):
//!
//! * A subject is one or more `.`-separated tokens, none empty: `""`, `.a`, `a.` and
//!   `a..b` are invalid everywhere.
//! * No byte may be whitespace or a control character (≤ 0x20, or 0x7f). Bytes of
//!   non-ASCII UTF-8 are accepted (the server passes them through; ADR-6 does not
//!   guarantee them).
//! * Publish and reply subjects have no wildcard characters at all.
//! * Subscribe subjects may have tokens that are exactly `*`, and a last token that
//!   is exactly `>`; `foo*`, `*a`, `a>b` and `a.>.b` are invalid.
//! * A queue group is one non-empty run of printable bytes. Unlike ADR-6's "term",
//!   dots (and `*`, `>`) are accepted, as by nats.go, async-nats and the server,
//!   which treat the name as opaque: only what could inject protocol is refused.
//! * A header name is printable ASCII (33..=126) except `:`; a header value has no
//!   CR, LF or NUL.

use crate::error::{ProtoError, SubjectFault, SubjectKind};

/// Checks a subject to publish to: tokens, no wildcards, no whitespace.
#[inline]
pub fn validate_publish_subject(subject: &str) -> Result<(), ProtoError> {
    subject_check(subject.as_bytes(), SubjectKind::Publish, false)
}

/// Checks a subject to subscribe to: tokens, wildcards only as whole tokens
/// (`*` anywhere, `>` last).
#[inline]
pub fn validate_subscribe_subject(subject: &str) -> Result<(), ProtoError> {
    subject_check(subject.as_bytes(), SubjectKind::Subscribe, true)
}

/// Checks a reply subject: same rules as a publish subject.
#[inline]
pub fn validate_reply_subject(subject: &str) -> Result<(), ProtoError> {
    subject_check(subject.as_bytes(), SubjectKind::Reply, false)
}

/// Checks a queue group name: non-empty, no whitespace or control bytes.
#[inline]
pub fn validate_queue_group(queue: &str) -> Result<(), ProtoError> {
    let fail = |reason, at| ProtoError::InvalidSubject {
        kind: SubjectKind::QueueGroup,
        reason,
        at,
    };
    if queue.is_empty() {
        return Err(fail(SubjectFault::Empty, 0));
    }
    for (at, &c) in queue.as_bytes().iter().enumerate() {
        if let Some(reason) = bad_char(c) {
            return Err(fail(reason, at));
        }
    }
    Ok(())
}

/// Checks a header name: non-empty, printable ASCII 33..=126 except `:`.
#[inline]
pub fn validate_header_name(name: &str) -> Result<(), ProtoError> {
    if name.is_empty() {
        return Err(ProtoError::EmptyHeaderName);
    }
    match name.bytes().position(|c| !is_name_byte(c)) {
        Some(at) => Err(ProtoError::InvalidHeaderName { at }),
        None => Ok(()),
    }
}

/// Checks a header value: no CR, LF or NUL, and no space or tab at either end (may be
/// empty).
#[inline]
pub fn validate_header_value(value: &str) -> Result<(), ProtoError> {
    if let Some(at) = memchr::memchr3(b'\r', b'\n', 0, value.as_bytes()) {
        return Err(ProtoError::InvalidHeaderValue { at });
    }
    // Receivers trim spaces and tabs around a value, so they would be lost on the way:
    // refuse them instead of changing the value silently.
    let bytes = value.as_bytes();
    if bytes.first().is_some_and(|&c| c == b' ' || c == b'\t') {
        return Err(ProtoError::InvalidHeaderValue { at: 0 });
    }
    if bytes.last().is_some_and(|&c| c == b' ' || c == b'\t') {
        return Err(ProtoError::InvalidHeaderValue {
            at: bytes.len().saturating_sub(1),
        });
    }
    Ok(())
}

/// True for a byte allowed in a header name.
#[inline]
pub(crate) fn is_name_byte(c: u8) -> bool {
    matches!(c, 33..=126) && c != b':'
}

/// The fault of a byte that is never allowed in a name, if it is one.
#[inline]
fn bad_char(c: u8) -> Option<SubjectFault> {
    match c {
        b' ' | b'\t' | b'\r' | b'\n' => Some(SubjectFault::Whitespace),
        0..=0x1f | 0x7f => Some(SubjectFault::Unprintable),
        _ => None,
    }
}

fn subject_check(s: &[u8], kind: SubjectKind, wildcards: bool) -> Result<(), ProtoError> {
    let fail = |reason, at| ProtoError::InvalidSubject { kind, reason, at };
    if s.is_empty() {
        return Err(fail(SubjectFault::Empty, 0));
    }
    // Index of the first byte of the current token.
    let mut token_start = 0;
    for (at, &c) in s.iter().enumerate() {
        match c {
            b'.' => {
                if at == token_start {
                    return Err(fail(SubjectFault::EmptyToken, at));
                }
                token_start = at.wrapping_add(1);
            }
            b'*' | b'>' => {
                if !wildcards {
                    return Err(fail(SubjectFault::Wildcard, at));
                }
                if at != token_start {
                    return Err(fail(SubjectFault::PartialWildcard, at));
                }
                match (c, s.get(at.wrapping_add(1))) {
                    (_, None) | (b'*', Some(b'.')) => {}
                    (b'>', Some(b'.')) => return Err(fail(SubjectFault::WildcardNotLast, at)),
                    _ => return Err(fail(SubjectFault::PartialWildcard, at)),
                }
            }
            _ => {
                if let Some(reason) = bad_char(c) {
                    return Err(fail(reason, at));
                }
            }
        }
    }
    if token_start == s.len() {
        // The subject ends in `.`: point at that dot.
        return Err(fail(SubjectFault::EmptyToken, s.len().saturating_sub(1)));
    }
    Ok(())
}
