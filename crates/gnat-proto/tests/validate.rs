//! Validation tables (ADR-6 naming rules, ADR-4 header names and values) and encoders that write nothing on
//! invalid input.

use gnat_proto::bytes::BytesMut;
use gnat_proto::encode::*;
use gnat_proto::validate::*;
use gnat_proto::{HeaderMap, ProtoError, SubjectFault as F, SubjectKind as K};

fn fault(res: Result<(), ProtoError>) -> Option<(F, usize)> {
    match res {
        Ok(()) => None,
        Err(ProtoError::InvalidSubject { reason, at, .. }) => Some((reason, at)),
        Err(e) => panic!("unexpected {e:?}"),
    }
}

#[test]
fn publish_and_reply_subjects() {
    let table: &[(&str, Option<(F, usize)>)] = &[
        ("foo", None),
        ("foo.bar.baz", None),
        ("$JS.API.STREAM.INFO.X", None),
        ("_INBOX.abc.1", None),
        ("a-b_c~d/e=f", None),
        ("\u{e9}t\u{e9}.\u{1f600}", None),
        ("", Some((F::Empty, 0))),
        (".a", Some((F::EmptyToken, 0))),
        ("a.", Some((F::EmptyToken, 1))),
        ("a..b", Some((F::EmptyToken, 2))),
        (".", Some((F::EmptyToken, 0))),
        ("a b", Some((F::Whitespace, 1))),
        ("a\tb", Some((F::Whitespace, 1))),
        ("a\r\nPING", Some((F::Whitespace, 1))),
        ("a\n", Some((F::Whitespace, 1))),
        ("a\x00", Some((F::Unprintable, 1))),
        ("a\x7f", Some((F::Unprintable, 1))),
        ("a\x1b", Some((F::Unprintable, 1))),
        ("a.*", Some((F::Wildcard, 2))),
        ("a.>", Some((F::Wildcard, 2))),
        ("foo*", Some((F::Wildcard, 3))),
    ];
    for &(subject, want) in table {
        assert_eq!(
            fault(validate_publish_subject(subject)),
            want,
            "{subject:?}"
        );
        assert_eq!(fault(validate_reply_subject(subject)), want, "{subject:?}");
    }
    assert_eq!(
        validate_reply_subject("a b"),
        Err(ProtoError::InvalidSubject {
            kind: K::Reply,
            reason: F::Whitespace,
            at: 1
        })
    );
}

#[test]
fn spec_item_8_subscribe_subjects() {
    let table: &[(&str, Option<(F, usize)>)] = &[
        ("a.*.c", None),
        ("a.>", None),
        (">", None),
        ("*", None),
        ("*.*", None),
        ("*.>", None),
        ("foo", None),
        ("", Some((F::Empty, 0))),
        (".a", Some((F::EmptyToken, 0))),
        ("a.", Some((F::EmptyToken, 1))),
        ("a..b", Some((F::EmptyToken, 2))),
        ("a.*.", Some((F::EmptyToken, 3))),
        ("foo*", Some((F::PartialWildcard, 3))),
        ("*foo", Some((F::PartialWildcard, 0))),
        ("foo*.bar", Some((F::PartialWildcard, 3))),
        ("a>b", Some((F::PartialWildcard, 1))),
        ("foo>", Some((F::PartialWildcard, 3))),
        (">a", Some((F::PartialWildcard, 0))),
        ("**", Some((F::PartialWildcard, 0))),
        ("a.>.b", Some((F::WildcardNotLast, 2))),
        (">.>", Some((F::WildcardNotLast, 0))),
        ("a *", Some((F::Whitespace, 1))),
    ];
    for &(subject, want) in table {
        assert_eq!(
            fault(validate_subscribe_subject(subject)),
            want,
            "{subject:?}"
        );
    }
}

#[test]
fn queue_groups() {
    let table: &[(&str, Option<(F, usize)>)] = &[
        ("q1", None),
        ("workers.eu-1", None),
        ("q*", None),
        ("", Some((F::Empty, 0))),
        ("q 1", Some((F::Whitespace, 1))),
        ("q\t", Some((F::Whitespace, 1))),
        ("q\r\n", Some((F::Whitespace, 1))),
        ("q\x01", Some((F::Unprintable, 1))),
    ];
    for &(queue, want) in table {
        assert_eq!(fault(validate_queue_group(queue)), want, "{queue:?}");
    }
}

#[test]
fn header_names_and_values() {
    assert_eq!(validate_header_name("Nats-Msg-Id"), Ok(()));
    assert_eq!(validate_header_name("!#$%&'*+-.^_`|~0aZ"), Ok(()));
    assert_eq!(validate_header_name(""), Err(ProtoError::EmptyHeaderName));
    assert_eq!(
        validate_header_name("a:b"),
        Err(ProtoError::InvalidHeaderName { at: 1 })
    );
    assert_eq!(
        validate_header_name("a b"),
        Err(ProtoError::InvalidHeaderName { at: 1 })
    );
    assert_eq!(
        validate_header_name("ab\x7f"),
        Err(ProtoError::InvalidHeaderName { at: 2 })
    );
    assert_eq!(
        validate_header_name("\u{e9}"),
        Err(ProtoError::InvalidHeaderName { at: 0 })
    );
    assert_eq!(validate_header_value(""), Ok(()));
    assert_eq!(validate_header_value("spaces\tand: colons \u{e9}"), Ok(()));
    assert_eq!(
        validate_header_value(" leading"),
        Err(ProtoError::InvalidHeaderValue { at: 0 })
    );
    assert_eq!(
        validate_header_value("a\rb"),
        Err(ProtoError::InvalidHeaderValue { at: 1 })
    );
    assert_eq!(
        validate_header_value("ab\n"),
        Err(ProtoError::InvalidHeaderValue { at: 2 })
    );
    assert_eq!(
        validate_header_value("\0"),
        Err(ProtoError::InvalidHeaderValue { at: 0 })
    );
}

#[test]
fn error_messages_say_what_and_where() {
    let e = validate_subscribe_subject("a..b").unwrap_err();
    assert_eq!(
        e.to_string(),
        "subscribe subject has an empty token at byte 2"
    );
    assert!(!e.is_protocol_violation());
    let e = validate_queue_group("q 1").unwrap_err();
    assert_eq!(e.to_string(), "queue group has whitespace at byte 1");
}

/// Runs an encoder on a buffer that already holds some bytes and checks that a
/// failure leaves them exactly as they were.
fn writes_nothing(f: impl FnOnce(&mut BytesMut) -> Result<(), ProtoError>) -> ProtoError {
    let mut buf = BytesMut::from(&b"prefix"[..]);
    let err = f(&mut buf).unwrap_err();
    assert_eq!(&buf[..], b"prefix");
    err
}

#[test]
fn spec_item_7_encoders_write_nothing_on_invalid_input() {
    let h = HeaderMap::new();
    for bad in ["a b", "a\tb", "a\rb", "a\nb", "", "a.*", "a.>", "a..b"] {
        writes_nothing(|b| encode_pub(b, bad, None, b"x"));
        writes_nothing(|b| encode_pub(b, "ok", Some(bad), b"x"));
        writes_nothing(|b| encode_hpub(b, bad, None, &h, b"x"));
        writes_nothing(|b| encode_hpub(b, "ok", Some(bad), &h, b"x"));
        writes_nothing(|b| encode_pub_head(b, bad, None, None, 1));
        writes_nothing(|b| encode_pub_head(b, "ok", Some(bad), Some(&h), 1));
        writes_nothing(|b| encode_msg(b, bad, 1, None, None, b"x"));
        writes_nothing(|b| encode_msg(b, "ok", 1, Some(bad), None, b"x"));
    }
    for bad in ["a b", "", "a..b", "a.>.b", "foo*"] {
        writes_nothing(|b| encode_sub(b, bad, None, 1));
    }
    writes_nothing(|b| encode_sub(b, "ok", Some("q 1"), 1));
    writes_nothing(|b| encode_sub(b, "ok", Some(""), 1));
    writes_nothing(|b| encode_err(b, "a\r\n+OK"));
    writes_nothing(|b| encode_err(b, "line\nbreak"));
}
