//! Scenario 5: injection through user strings.
//!
//! A deterministic generator makes thousands of subjects, reply subjects, queue groups and
//! header names/values from an alphabet of space, tab, CR, LF, NUL, DEL, `.`, `*`, `>`, `:` and
//! ordinary characters (one of them non-ASCII). An independent reference implementation of the
//! rules (spec §1.10, §2.1; the stricter choices of `gnat-proto` are marked) decides which are
//! valid. The promise (DESIGN.md, "User strings are untrusted"): every invalid one is refused
//! with `ErrorKind::InvalidInput` before any byte is written — checked on the wire through the
//! fault proxy's tap, which must decode to exactly the operations of the accepted inputs — and
//! every valid one works through a real server.
//!
//! KV bucket names, keys and filters (spec §5.1) are covered in `injection_kv.rs`.

mod common;

use std::time::Duration;

use client::proto::ClientOp;
use client::{Client, ConnectOptions, ErrorKind, HeaderMap, Subscription};
use common::xorshift::Xorshift;
use common::{barrier, mark, next, text, wire_ops};
use gnat_test_support::NatsServer;
use gnat_test_support::proxy::Proxy;

// ---- the reference rules, written from the spec, not from gnat-proto ----

/// Never allowed in a subject, reply or queue group: the field separators (space, tab), the
/// line terminators (CR, LF) and — gnat's stricter choice — every other control character.
fn forbidden(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r' || c == '\n' || (c as u32) < 0x20 || c == '\x7f'
}

/// A token of a subject to publish to: non-empty, no wildcard characters.
fn literal_token(t: &str) -> bool {
    !t.is_empty() && t.chars().all(|c| !forbidden(c) && c != '*' && c != '>')
}

/// The control line must fit the server's limit (4096 bytes); gnat keeps 64 bytes for the
/// operation name, sid and sizes.
fn fits(fields: usize) -> bool {
    fields + 64 <= 4096
}

/// Publish subject and reply subject: dot-separated literal tokens.
fn valid_publish(s: &str) -> bool {
    s.split('.').all(literal_token)
}

/// Subscribe subject: dot-separated tokens, each literal or exactly `*`, and a last token that
/// may be exactly `>`.
fn valid_subscribe(s: &str) -> bool {
    let tokens: Vec<&str> = s.split('.').collect();
    tokens.iter().enumerate().all(|(i, t)| match *t {
        "*" => true,
        ">" => i + 1 == tokens.len(),
        t => literal_token(t),
    })
}

/// Queue group: non-empty, nothing forbidden. ADR-6 says "term" (no dots or wildcards); the
/// clients and the server treat it as opaque, so only what could inject is refused.
fn valid_queue(q: &str) -> bool {
    !q.is_empty() && q.chars().all(|c| !forbidden(c))
}

/// Header name: printable ASCII 33..=126 except `:`.
fn valid_header_name(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

/// Header value: no CR or LF (spec); gnat also refuses NUL, and a space or tab at either end
/// (receivers trim them, so the value would not arrive as sent).
fn valid_header_value(v: &str) -> bool {
    !v.contains(['\r', '\n', '\0']) && !v.starts_with([' ', '\t']) && !v.ends_with([' ', '\t'])
}

// ---- the generator ----

/// Deterministic strings over the hostile alphabet (xorshift; a failure names its input).
struct Gen(Xorshift);

const SPECIAL: &[char] = &[
    ' ', '\t', '\r', '\n', '\0', '\x7f', '.', '.', '.', '*', '>', ':',
];
const ORDINARY: &[char] = &['a', 'b', 'Z', '0', '9', '-', '_', '$', '=', 'é'];

impl Gen {
    /// 0 to 8 characters, one in five from [`SPECIAL`].
    fn string(&mut self) -> String {
        let len = self.0.below(9);
        (0..len)
            .map(|_| {
                if self.0.below(5) == 0 {
                    SPECIAL[self.0.below(SPECIAL.len())]
                } else {
                    ORDINARY[self.0.below(ORDINARY.len())]
                }
            })
            .collect()
    }

    /// `n` generated strings after the hand-picked `edges`.
    fn strings(&mut self, edges: &[&str], n: usize) -> Vec<String> {
        edges
            .iter()
            .map(|s| (*s).to_string())
            .chain((0..n).map(|_| self.string()))
            .collect()
    }
}

/// Attacks and edge cases every kind of string is tried with first.
const EDGES: &[&str] = &[
    "",
    " ",
    "a b",
    "a\tb",
    "a\r\nb",
    "evil\r\nPUB injected 4\r\nboom",
    "a\nUNSUB 1",
    "a\0b",
    "a\x7fb",
    ".",
    ".a",
    "a.",
    "a..b",
    "*",
    ">",
    "a.*",
    "a.>",
    "a.>.b",
    "a*",
    "*a",
    "a>",
    ">.a",
    "*.*.>",
    "é.ü",
    "a:b",
    " a",
    "a ",
];

/// A subject longer than the control line allows.
fn too_long() -> String {
    "x".repeat(4096)
}

/// Checks one outcome against the reference; true when accepted.
fn judge<T>(what: &str, input: &str, valid: bool, result: &client::Result<T>) -> bool {
    match (valid, result) {
        (true, Ok(_)) => true,
        (false, Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what} {input:?}: {e}");
            false
        }
        (true, Err(e)) => panic!("{what} {input:?} is valid but was refused: {e}"),
        (false, Ok(_)) => panic!("{what} {input:?} is invalid but was accepted"),
    }
}

struct Setup {
    _server: NatsServer,
    proxy: Proxy,
    /// Through the proxy: the client under test.
    client: Client,
    /// Straight to the server: publishes and receives on the other side.
    peer: Client,
}

async fn setup() -> Setup {
    let server = NatsServer::start();
    let proxy = Proxy::start(server.addr());
    let client = ConnectOptions::new().connect(proxy.url()).await.unwrap();
    let peer = client::connect(server.url()).await.unwrap();
    Setup {
        _server: server,
        proxy,
        client,
        peer,
    }
}

/// Everything a subscription has received by now (after a barrier).
async fn ready(sub: &mut Subscription) -> Vec<client::Message> {
    let mut got = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::ZERO, sub.next()).await {
        got.push(msg);
    }
    got
}

/// Subjects to publish to, and reply subjects.
#[tokio::test]
async fn publish_and_reply_subjects() {
    let s = setup().await;
    let mut wide = s.peer.subscribe(">").await.unwrap();
    s.peer.flush().await.unwrap();

    let mut subjects = Gen(Xorshift(0x005B_1EC7)).strings(EDGES, 3000);
    subjects.push(too_long());
    let from = mark(&s.client, &s.proxy).await;
    let mut accepted = Vec::new();
    for (i, subject) in subjects.iter().enumerate() {
        let valid = valid_publish(subject) && fits(subject.len());
        let result = s.client.publish(subject, i.to_string()).await;
        if judge("publish subject", subject, valid, &result) {
            accepted.push((subject.clone(), None, i));
        }
    }

    let mut replies = Gen(Xorshift(0x02E7_11E5)).strings(EDGES, 1500);
    replies.push(too_long());
    for (i, reply) in replies.iter().enumerate() {
        let valid = valid_publish(reply) && fits("inj.reply".len() + reply.len());
        let id = subjects.len() + i;
        let result = s
            .client
            .publish_with_reply("inj.reply", reply, id.to_string())
            .await;
        if judge("reply subject", reply, valid, &result) {
            accepted.push(("inj.reply".to_string(), Some(reply.clone()), id));
        }
    }
    // The reply is checked even when the subject is valid: a bad reply must stop the publish.
    let result = s
        .client
        .publish_with_reply("inj.ok", "bad reply", "x")
        .await;
    judge("reply subject", "bad reply", false, &result);

    // On the wire: exactly the accepted publishes, in order, nothing else.
    barrier(&s.client, &s.peer).await;
    let wire: Vec<_> = wire_ops(&s.proxy, from)
        .into_iter()
        .map(|op| match op {
            ClientOp::Pub(p) => (
                text(&p.subject),
                p.reply.as_deref().map(text),
                text(&p.payload),
            ),
            other => panic!("unexpected operation on the wire: {other:?}"),
        })
        .collect();
    let want: Vec<_> = accepted
        .iter()
        .map(|(subject, reply, id)| (subject.clone(), reply.clone(), id.to_string()))
        .collect();
    assert_eq!(wire, want);

    // Through the server: every accepted one arrives as sent.
    for (subject, reply, id) in &accepted {
        let msg = next(&mut wide).await;
        assert_eq!(&*msg.subject, subject.as_str());
        assert_eq!(msg.reply.as_deref(), reply.as_deref());
        assert_eq!(msg.payload, id.to_string().as_bytes());
    }
    let refused = subjects.len() + replies.len() - accepted.len();
    eprintln!(
        "publish: {} subjects and replies tried, {} accepted and delivered, {refused} refused \
         with nothing written",
        subjects.len() + replies.len(),
        accepted.len()
    );
    assert!(
        accepted.len() > 1000 && refused > 1000,
        "both sides are exercised"
    );
}

/// A concrete subject a subscription pattern matches.
fn instance(pattern: &str) -> String {
    pattern
        .split('.')
        .map(|t| if t == "*" || t == ">" { "w" } else { t })
        .collect::<Vec<_>>()
        .join(".")
}

/// Subjects to subscribe to (wildcards allowed) and queue groups.
#[tokio::test]
async fn subscribe_subjects_and_queue_groups() {
    let s = setup().await;
    let mut patterns = Gen(Xorshift(0x5AB5_C41B)).strings(EDGES, 1500);
    patterns.push(too_long());
    let mut tried = 0;
    let mut accepted_total = 0;
    for batch in patterns.chunks(250) {
        let from = mark(&s.client, &s.proxy).await;
        let mut subs = Vec::new();
        for pattern in batch {
            let valid = valid_subscribe(pattern) && fits(pattern.len());
            let result = s.client.subscribe(pattern).await;
            if judge("subscribe subject", pattern, valid, &result) {
                subs.push((pattern.clone(), result.unwrap()));
            }
        }
        tried += batch.len();
        accepted_total += subs.len();
        s.client.flush().await.unwrap();
        let wire = wire_ops(&s.proxy, from);
        let subscribed: Vec<_> = wire
            .iter()
            .map(|op| match op {
                ClientOp::Sub {
                    subject,
                    queue: None,
                    ..
                } => text(subject),
                other => panic!("unexpected operation on the wire: {other:?}"),
            })
            .collect();
        let want: Vec<_> = subs.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(subscribed, want);

        // Each accepted subscription receives a message on a subject it matches.
        for (i, (pattern, _)) in subs.iter().enumerate() {
            s.peer
                .publish(instance(pattern), i.to_string())
                .await
                .unwrap();
        }
        barrier(&s.peer, &s.client).await;
        for (i, (pattern, sub)) in subs.iter_mut().enumerate() {
            let got = ready(sub).await;
            assert!(
                got.iter().any(|m| m.payload == i.to_string().as_bytes()),
                "subscription {pattern:?} did not get its message on {:?}",
                instance(pattern)
            );
        }
    }

    let mut queues = Gen(Xorshift(0x0009_E0E5)).strings(EDGES, 1500);
    queues.push(too_long());
    let from = mark(&s.client, &s.proxy).await;
    let mut groups = Vec::new();
    for queue in &queues {
        let valid = valid_queue(queue) && fits("inj.queue".len() + queue.len());
        let result = s.client.queue_subscribe("inj.queue", queue).await;
        if judge("queue group", queue, valid, &result) {
            groups.push((queue.clone(), result.unwrap()));
        }
    }
    // Also refused when the subject is fine but the queue is not, and vice versa.
    let result = s.client.queue_subscribe("bad subject", "q").await;
    judge("subscribe subject", "bad subject", false, &result);
    s.client.flush().await.unwrap();
    let wire = wire_ops(&s.proxy, from);
    let sent: Vec<_> = wire
        .iter()
        .map(|op| match op {
            ClientOp::Sub {
                subject,
                queue: Some(queue),
                ..
            } if &subject[..] == b"inj.queue" => text(queue),
            other => panic!("unexpected operation on the wire: {other:?}"),
        })
        .collect();
    let want: Vec<_> = groups.iter().map(|(q, _)| q.clone()).collect();
    assert_eq!(sent, want);
    s.peer.publish("inj.queue", "to every group").await.unwrap();
    barrier(&s.peer, &s.client).await;
    // Each group gets the message once, whichever member (a name may come up more than once).
    let mut copies: std::collections::BTreeMap<String, usize> = Default::default();
    for (queue, sub) in &mut groups {
        *copies.entry(queue.clone()).or_default() += ready(sub).await.len();
    }
    for (queue, n) in &copies {
        assert_eq!(*n, 1, "queue group {queue:?}");
    }
    eprintln!(
        "subscribe: {tried} subjects tried, {accepted_total} accepted and receiving; {} queue \
         groups tried, {} accepted ({} distinct groups, each receiving once); the rest refused \
         with nothing written",
        queues.len(),
        groups.len(),
        copies.len()
    );
    assert!(accepted_total > 300 && tried - accepted_total > 300);
    assert!(groups.len() > 300 && queues.len() - groups.len() > 300);
}

/// Header names and values.
#[tokio::test]
async fn header_names_and_values() {
    let s = setup().await;
    let mut sub = s.peer.subscribe("inj.hdr").await.unwrap();
    s.peer.flush().await.unwrap();
    let mut gen_names = Gen(Xorshift(0x004E_ADE2));
    let mut gen_values = Gen(Xorshift(0x00A1_00E5));
    let names = gen_names.strings(EDGES, 2000);
    let values = gen_values.strings(EDGES, 2000);

    let from = mark(&s.client, &s.proxy).await;
    let mut accepted = Vec::new();
    for (i, (name, value)) in names.iter().zip(&values).enumerate() {
        let valid = valid_header_name(name) && valid_header_value(value);
        let mut headers = HeaderMap::new();
        let result = headers.insert(name, value).map_err(client::Error::from);
        let input = format!("{name:?}: {value:?}");
        if judge("header", &input, valid, &result) {
            s.client
                .publish_with_headers("inj.hdr", &headers, i.to_string())
                .await
                .unwrap();
            accepted.push((name.clone(), value.clone(), i));
        }
    }
    barrier(&s.client, &s.peer).await;
    let published = wire_ops(&s.proxy, from)
        .into_iter()
        .map(|op| match op {
            ClientOp::Pub(p) if p.headers.is_some() => text(&p.payload),
            other => panic!("unexpected operation on the wire: {other:?}"),
        })
        .collect::<Vec<_>>();
    let want: Vec<_> = accepted.iter().map(|(_, _, i)| i.to_string()).collect();
    assert_eq!(published, want);
    for (name, value, i) in &accepted {
        let msg = next(&mut sub).await;
        assert_eq!(msg.payload, i.to_string().as_bytes());
        let headers = msg.headers.expect("headers");
        assert_eq!(headers.get(name), Some(value.as_str()), "header {name:?}");
    }
    let refused = names.len() - accepted.len();
    eprintln!(
        "headers: {} name/value pairs tried, {} accepted and delivered intact, {refused} refused",
        names.len(),
        accepted.len()
    );
    assert!(accepted.len() > 300 && refused > 300);
}

/// Request subjects: refused ones write nothing, not even the shared reply subscription.
#[tokio::test]
async fn request_subjects() {
    let s = setup().await;
    let from = mark(&s.client, &s.proxy).await;
    // Invalid ones first: the very first request must not leave the inbox SUB behind.
    let mut subjects: Vec<String> = EDGES
        .iter()
        .filter(|e| !valid_publish(e))
        .map(|e| (*e).to_string())
        .collect();
    subjects.extend(Gen(Xorshift(0x02E0_0E57)).strings(&[], 300));
    subjects.push(too_long());
    let mut first_accepted = None;
    let mut accepted = Vec::new();
    for (i, subject) in subjects.iter().enumerate() {
        let valid = valid_publish(subject) && fits(subject.len() + 40);
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            s.client.request(subject, i.to_string()),
        )
        .await
        .expect("a request ends at once (refused, or no responders)");
        // Nobody listens: a valid request gets "no responders" from the server.
        let result = match result {
            Err(e) if e.kind() == ErrorKind::NoResponders => Ok(()),
            other => other.map(|_| ()),
        };
        if judge("request subject", subject, valid, &result) {
            first_accepted.get_or_insert(i);
            accepted.push(subject.clone());
        }
        if first_accepted.is_none() {
            assert_eq!(
                s.proxy.client_bytes_len(),
                from,
                "a refused first request wrote something"
            );
        }
    }
    assert_eq!(s.client.pending_requests(), 0);
    s.client.flush().await.unwrap();
    let wire = wire_ops(&s.proxy, from);
    let mut subs = 0;
    let mut published = Vec::new();
    for op in wire {
        match op {
            ClientOp::Sub { subject, .. } => {
                subs += 1;
                assert!(subject.starts_with(b"_INBOX."), "{subject:?}");
            }
            ClientOp::Pub(p) => published.push(text(&p.subject)),
            other => panic!("unexpected operation on the wire: {other:?}"),
        }
    }
    assert_eq!(subs, 1, "one reply subscription, once");
    assert_eq!(published, accepted);
    eprintln!(
        "requests: {} subjects tried, {} answered (no responders), the rest refused with nothing \
         written",
        subjects.len(),
        accepted.len()
    );
    assert!(accepted.len() > 50 && subjects.len() - accepted.len() > 50);
}
