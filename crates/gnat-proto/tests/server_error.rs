//! `-ERR` classification: every text nats-server 2.15 sends to a client connection, as the
//! bytes arrive on the wire (`-ERR '<text>'\r\n`), decoded and classified.
//!
//! The texts are those of the server's `sendErr` calls for client connections (client,
//! parser, server, accounts, permission and auth paths), plus the ones the NATS client
//! protocol documentation lists that recent servers no longer send (`Parser Error`,
//! `Authorization Timeout`) and the unquoted permission texts of servers before 2.2.

use std::borrow::Cow;

use gnat_proto::bytes::BytesMut;
use gnat_proto::{Decoder, ServerError, ServerOp};

/// Decodes one `-ERR` frame from `wire` and returns its text.
fn text_of(wire: &[u8]) -> String {
    let mut buf = BytesMut::from(wire);
    match Decoder::default().decode_server(&mut buf) {
        Ok(Some(ServerOp::Err(text))) => {
            assert!(buf.is_empty(), "the whole frame is consumed: {wire:?}");
            text
        }
        other => panic!("{wire:?} decoded to {other:?}"),
    }
}

/// (wire bytes, classification, fatal, auth)
fn fixed_cases() -> Vec<(&'static [u8], ServerError<'static>, bool, bool)> {
    use ServerError as E;
    vec![
        (
            b"-ERR 'Authorization Violation'\r\n",
            E::AuthorizationViolation,
            true,
            true,
        ),
        (
            b"-ERR 'Authentication Timeout'\r\n",
            E::AuthenticationTimeout,
            true,
            true,
        ),
        (
            b"-ERR 'Authorization Timeout'\r\n",
            E::AuthenticationTimeout,
            true,
            true,
        ),
        (
            b"-ERR 'User Authentication Expired'\r\n",
            E::UserAuthenticationExpired,
            true,
            true,
        ),
        (
            b"-ERR 'Account Authentication Expired'\r\n",
            E::AccountAuthenticationExpired,
            true,
            true,
        ),
        (
            b"-ERR 'User Authentication Revoked'\r\n",
            E::UserAuthenticationRevoked,
            true,
            true,
        ),
        (
            b"-ERR 'Stale Connection'\r\n",
            E::StaleConnection,
            true,
            false,
        ),
        (
            b"-ERR 'Maximum Payload Violation'\r\n",
            E::MaxPayload,
            true,
            false,
        ),
        (
            b"-ERR 'maximum connections exceeded'\r\n",
            E::MaxConnections,
            true,
            false,
        ),
        (
            b"-ERR 'maximum account active connections exceeded'\r\n",
            E::MaxAccountConnections,
            true,
            false,
        ),
        (
            b"-ERR 'maximum subscriptions exceeded'\r\n",
            E::MaxSubscriptions,
            false,
            false,
        ),
        (
            b"-ERR 'maximum control line exceeded'\r\n",
            E::MaxControlLine,
            true,
            false,
        ),
        (b"-ERR 'Slow Consumer'\r\n", E::SlowConsumer, true, false),
        (
            b"-ERR 'Unknown Protocol Operation'\r\n",
            E::UnknownProtocolOperation,
            true,
            false,
        ),
        (b"-ERR 'Parser Error'\r\n", E::ParserError, true, false),
        (
            b"-ERR 'invalid client protocol'\r\n",
            E::InvalidClientProtocol,
            true,
            false,
        ),
        (
            b"-ERR 'no responders requires headers support'\r\n",
            E::NoRespondersRequiresHeaders,
            true,
            false,
        ),
        (
            b"-ERR 'Secure Connection - TLS Required'\r\n",
            E::TlsRequired,
            true,
            false,
        ),
        (
            b"-ERR 'Connection throttling is active. Please try again later.'\r\n",
            E::ConnectionThrottling,
            true,
            false,
        ),
        (
            b"-ERR 'Failed Account Registration'\r\n",
            E::FailedAccountRegistration,
            true,
            false,
        ),
        (
            b"-ERR 'attempted to connect to route port'\r\n",
            E::WrongPort,
            true,
            false,
        ),
        (
            b"-ERR 'attempted to connect to leaf node port'\r\n",
            E::WrongPort,
            true,
            false,
        ),
        (
            b"-ERR 'attempted to connect to gateway port'\r\n",
            E::WrongPort,
            true,
            false,
        ),
        (
            b"-ERR 'Invalid Subject'\r\n",
            E::InvalidSubject,
            false,
            false,
        ),
        (
            b"-ERR 'Invalid Publish Subject'\r\n",
            E::InvalidPublishSubject,
            false,
            false,
        ),
        (
            b"-ERR 'Something new in a later server'\r\n",
            E::Unknown,
            false,
            false,
        ),
        (b"-ERR ''\r\n", E::Unknown, false, false),
    ]
}

#[test]
fn every_fixed_text_the_server_sends_is_classified() {
    for (wire, want, fatal, auth) in fixed_cases() {
        let text = text_of(wire);
        let got = ServerError::parse(&text);
        assert_eq!(got, want, "{wire:?}");
        assert_eq!(got.is_fatal(), fatal, "fatal: {wire:?}");
        assert_eq!(got.is_auth(), auth, "auth: {wire:?}");
        assert!(!got.is_permission(), "{wire:?}");
    }
}

#[test]
fn classification_ignores_case_and_surrounding_whitespace() {
    assert_eq!(
        ServerError::parse("  STALE CONNECTION \t"),
        ServerError::StaleConnection
    );
    assert_eq!(
        ServerError::parse(&text_of(b"-ERR authorization violation\r\n")),
        ServerError::AuthorizationViolation,
        "without the quotes too"
    );
}

#[test]
fn the_max_control_line_text_keeps_its_class_with_details_after_it() {
    let text = text_of(
        b"-ERR 'maximum control line exceeded: State 1, max_control_line 4096, Buffer len 5000'\r\n",
    );
    assert_eq!(ServerError::parse(&text), ServerError::MaxControlLine);
}

#[test]
fn publish_permission_violations_carry_the_subject() {
    let text = text_of(b"-ERR 'Permissions Violation for Publish to \"orders.new\"'\r\n");
    let err = ServerError::parse(&text);
    assert_eq!(
        err,
        ServerError::PublishDenied {
            subject: "orders.new".into()
        }
    );
    assert!(!err.is_fatal() && err.is_permission() && !err.is_auth());
    // Servers before 2.2 did not quote the subject.
    assert_eq!(
        ServerError::parse(&text_of(
            b"-ERR 'Permissions Violation for Publish to orders.new'\r\n"
        )),
        ServerError::PublishDenied {
            subject: "orders.new".into()
        }
    );
}

#[test]
fn reply_permission_violations_carry_the_reply_subject() {
    let text =
        text_of(b"-ERR 'Permissions Violation for Publish with Reply of \"_INBOX.abc.1\"'\r\n");
    assert_eq!(
        ServerError::parse(&text),
        ServerError::ReplyDenied {
            reply: "_INBOX.abc.1".into()
        }
    );
}

#[test]
fn subscription_permission_violations_carry_subject_queue_and_sid() {
    let cases: Vec<(&[u8], ServerError<'static>)> = vec![
        (
            b"-ERR 'Permissions Violation for Subscription to \"secret.>\"'\r\n",
            ServerError::SubscriptionDenied {
                subject: "secret.>".into(),
                queue: None,
                sid: None,
            },
        ),
        (
            b"-ERR 'Permissions Violation for Subscription to \"secret.>\" using queue \"workers\"'\r\n",
            ServerError::SubscriptionDenied {
                subject: "secret.>".into(),
                queue: Some("workers".into()),
                sid: None,
            },
        ),
        // After a permissions reload the server removes subscriptions and names their sid.
        (
            b"-ERR 'Permissions Violation for Subscription to \"secret.a\" (sid \"7\")'\r\n",
            ServerError::SubscriptionDenied {
                subject: "secret.a".into(),
                queue: None,
                sid: Some(7),
            },
        ),
        (
            b"-ERR 'Permissions Violation for Subscription to \"secret.a\" using queue \"q\" (sid \"12\")'\r\n",
            ServerError::SubscriptionDenied {
                subject: "secret.a".into(),
                queue: Some("q".into()),
                sid: Some(12),
            },
        ),
        (
            b"-ERR 'Permissions Violation for Subscription to \"a.b.c.d\", too many tokens'\r\n",
            ServerError::SubscriptionDenied {
                subject: "a.b.c.d".into(),
                queue: None,
                sid: None,
            },
        ),
        // Servers before 2.2: bare names.
        (
            b"-ERR 'Permissions Violation for Subscription to secret.> using queue workers'\r\n",
            ServerError::SubscriptionDenied {
                subject: "secret.>".into(),
                queue: Some("workers".into()),
                sid: None,
            },
        ),
    ];
    for (wire, want) in cases {
        let text = text_of(wire);
        let got = ServerError::parse(&text);
        assert_eq!(got, want, "{wire:?}");
        assert!(got.is_permission() && !got.is_fatal(), "{wire:?}");
    }
}

#[test]
fn go_escapes_in_quoted_names_are_undone() {
    let text = r#"Permissions Violation for Publish to "a\"b\\c""#;
    let ServerError::PublishDenied { subject } = ServerError::parse(text) else {
        panic!("not a publish violation")
    };
    assert_eq!(subject, r#"a"b\c"#);
    assert!(matches!(subject, Cow::Owned(_)));
    // Without escapes the name borrows from the text.
    let ServerError::PublishDenied { subject } =
        ServerError::parse("Permissions Violation for Publish to \"plain\"")
    else {
        panic!("not a publish violation")
    };
    assert!(matches!(subject, Cow::Borrowed("plain")));
}

#[test]
fn malformed_permission_texts_are_unknown_not_a_panic() {
    for text in [
        "Permissions Violation for Publish to ",
        "Permissions Violation for Publish to \"unterminated",
        "Permissions Violation for Subscription to \"a\" using queue \"unterminated",
        "Permissions Violation for Subscription to",
        "Permissions Violation for Publish with Reply of \"",
    ] {
        assert_eq!(ServerError::parse(text), ServerError::Unknown, "{text:?}");
    }
    // A sid that is not a number is ignored, the rest stands.
    assert_eq!(
        ServerError::parse("Permissions Violation for Subscription to \"a\" (sid \"x\")"),
        ServerError::SubscriptionDenied {
            subject: "a".into(),
            queue: None,
            sid: None
        }
    );
}

#[test]
fn non_ascii_text_never_panics() {
    for text in [
        "Ünknown",
        "Permissions Violation for Publish to \"ü\"",
        "é",
        "\u{1F600}",
    ] {
        let _ = ServerError::parse(text);
    }
    assert_eq!(
        ServerError::parse("Permissions Violation for Publish to \"ü.x\""),
        ServerError::PublishDenied {
            subject: "ü.x".into()
        }
    );
}
