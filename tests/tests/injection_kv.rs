//! Scenario 5, Key-Value part: injection through bucket names, keys and key filters.
//!
//! Deterministic generators make thousands of names, keys and filters from space, tab, CR,
//! LF, NUL, DEL, `.`, `*`, `>`, `/`, `\`, `=`, `:`, `$`, a non-ASCII letter and ordinary
//! characters. An independent reference implementation of spec §5.1 (gnat's stricter choices
//! marked) decides which are valid. The promise (DESIGN.md, "User strings are untrusted"):
//! every invalid one is refused — `InvalidBucketName` / `InvalidKey` — before any byte is
//! written, checked on the wire through the fault proxy's tap; every valid one works against
//! a real server, and what reaches the wire is exactly the operations of the accepted inputs,
//! with the name, key or filter unaltered.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use client::proto::ClientOp;
use client::{Client, ConnectOptions};
use common::xorshift::Xorshift;
use common::{mark, text, wire_ops, within};
use gnat_test_support::NatsServer;
use gnat_test_support::proxy::Proxy;
use jetstream::Context;
use kv::{Config, StorageType, WatchEvent, WatchOptions};

// ---- the reference rules (spec §5.1), written from the spec, not from gnat-kv ----

/// Bucket: `\A[a-zA-Z0-9_-]+\z`. gnat also caps it at 252 bytes, so that the stream name
/// `KV_<bucket>` stays within the 255 a stream name may have (spec §1.10).
fn valid_bucket(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 252
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '_' | '=' | '.')
}

/// Key to read: `\A[-/_=\.a-zA-Z0-9]+\z`, not starting or ending with `.`, and no empty token
/// (`..`, nats.go and the ADR-6 grammar).
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.chars().all(key_char)
        && !key.starts_with('.')
        && !key.ends_with('.')
        && !key.contains("..")
}

/// Key to write: also not reserved. ADR-6 reserves keys starting with `_kv`; neither
/// reference client enforces it, gnat does for writes.
fn valid_write_key(key: &str) -> bool {
    valid_key(key) && !key.starts_with("_kv")
}

/// Watch/keys/history filter: empty (the whole bucket), or dot-separated non-empty tokens,
/// each made of key characters, or a lone `*`, or a lone `>` as the last token.
fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    let tokens: Vec<&str> = filter.split('.').collect();
    tokens.iter().enumerate().all(|(i, t)| match *t {
        "*" => true,
        ">" => i + 1 == tokens.len(),
        t => !t.is_empty() && t.chars().all(key_char),
    })
}

/// A control line must fit the server's 4096 bytes (gnat keeps 64 for the operation, sid and
/// sizes): a valid key far longer than that is refused by the client layer, also before
/// anything is written. Only keys far from the bound are tried.
fn fits(subject_len: usize) -> bool {
    subject_len + 100 <= 4096 - 64
}

// ---- the generators ----

/// Deterministic strings (xorshift; a failure names its input).
struct Gen(Xorshift);

const HOSTILE: &[char] = &[
    ' ', '\t', '\r', '\n', '\0', '\x7f', '.', '*', '>', '/', '\\', '=', ':', '$', 'é',
];
const BUCKET_CHARS: &[char] = &['a', 'Z', '0', '9', '-', '_'];
const KEY_CHARS: &[char] = &['a', 'Z', '0', '9', '-', '/', '_', '=', '.'];

impl Gen {
    /// Up to `max` characters, one in four from [`HOSTILE`].
    fn string(&mut self, ordinary: &[char], max: usize) -> String {
        let len = self.0.below(max + 1);
        (0..len)
            .map(|_| {
                if self.0.below(4) == 0 {
                    HOSTILE[self.0.below(HOSTILE.len())]
                } else {
                    ordinary[self.0.below(ordinary.len())]
                }
            })
            .collect()
    }

    /// One to three tokens, each a lone `*` or `>` now and then.
    fn filter(&mut self) -> String {
        let tokens = 1 + self.0.below(3);
        (0..tokens)
            .map(|_| match self.0.below(8) {
                0 | 1 => "*".to_string(),
                2 => ">".to_string(),
                _ => self.string(BUCKET_CHARS, 4),
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

fn with_edges(edges: &[&str], generated: impl Iterator<Item = String>) -> Vec<String> {
    edges
        .iter()
        .map(|s| (*s).to_string())
        .chain(generated)
        .collect()
}

/// Attacks and edge cases tried first.
const COMMON_EDGES: &[&str] = &[
    "",
    " ",
    "a b",
    "a\tb",
    "a\r\nb",
    "x\r\nPUB $KV.INJ.evil 4\r\nboom",
    "a\nUNSUB 1",
    "a\0b",
    "a\x7fb",
    ".",
    ".a",
    "a.",
    "a..b",
    "a.b",
    "*",
    ">",
    "a.*",
    "a.>",
    "*.b.>",
    "a.>.b",
    "a*",
    "*a",
    "a>",
    ">.a",
    "a.*b",
    "a/b",
    "a\\b",
    "a=b",
    "a:b",
    "$a",
    "é",
    " a",
    "a ",
    "A-b_1",
    "-",
    "_",
    "a/b=c_d-e.f",
    "_kv",
    "_kv.x",
    "_kvx",
    "_k",
    "kv_x",
];

// ---- the harness ----

struct Setup {
    _server: NatsServer,
    proxy: Proxy,
    /// Through the proxy: the client under test.
    client: Client,
    js: Context,
}

async fn setup() -> Setup {
    let server = NatsServer::start_jetstream();
    let proxy = Proxy::start(server.addr());
    let client = ConnectOptions::new()
        .request_timeout(Duration::from_secs(5))
        .connect(proxy.url())
        .await
        .unwrap();
    let js = Context::new(client.clone());
    Setup {
        _server: server,
        proxy,
        client,
        js,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Valid,
    Invalid,
    TooLong,
}

/// Checks one outcome against the reference; true when accepted. `refused` is the predicate
/// an invalid input's error must satisfy.
fn judge<T>(
    what: &str,
    input: &str,
    verdict: Verdict,
    refused: fn(&kv::Error) -> bool,
    result: &kv::Result<T>,
) -> bool {
    match (verdict, result) {
        (Verdict::Valid, Ok(_)) => true,
        (Verdict::Invalid, Err(e)) => {
            assert!(refused(e), "{what} {input:?}: refused, but with {e:?}");
            false
        }
        (Verdict::TooLong, Err(e)) => {
            let kind = e.jetstream().and_then(jetstream::Error::client_kind);
            assert_eq!(
                kind,
                Some(client::ErrorKind::InvalidInput),
                "{what} {input:?}: {e}"
            );
            false
        }
        (Verdict::Valid, Err(e)) => panic!("{what} {input:?} is valid but failed: {e}"),
        (_, Ok(_)) => panic!("{what} {input:?} is invalid but was accepted"),
    }
}

fn memory_bucket(name: &str) -> Config {
    Config::new(name).storage(StorageType::Memory)
}

/// The subjects of the PUBs on the wire since `from`; any other operation fails the test
/// unless `other` accepts it.
fn published(proxy: &Proxy, from: usize, other: impl Fn(&ClientOp) -> bool) -> Vec<ClientOp> {
    wire_ops(proxy, from)
        .into_iter()
        .filter(|op| match op {
            ClientOp::Pub(_) => true,
            op if other(op) => false,
            op => panic!("unexpected operation on the wire: {op:?}"),
        })
        .collect()
}

fn subject(op: &ClientOp) -> String {
    match op {
        ClientOp::Pub(p) => text(&p.subject),
        other => panic!("not a publish: {other:?}"),
    }
}

// ---- the tests ----

/// Bucket names: create, bind and delete refuse invalid ones with nothing written; valid ones
/// create a working bucket whose subjects carry the name unaltered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_names() {
    let s = setup().await;
    let mut gen_names = Gen(Xorshift(0x00B0_C4E7));
    let mut names = with_edges(
        COMMON_EDGES,
        (0..600).map(|_| gen_names.string(BUCKET_CHARS, 8)),
    );
    names.push("b".repeat(252));
    names.push("b".repeat(253));

    // Nothing has been requested yet: the refused names come first, so not even the reply
    // inbox may be subscribed.
    let from = mark(&s.client, &s.proxy).await;
    let mut accepted = BTreeSet::new();
    let mut refused = 0;
    for name in &names {
        if valid_bucket(name) {
            accepted.insert(name.clone());
            continue;
        }
        refused += 1;
        let is = kv::Error::is_invalid_bucket_name;
        let v = Verdict::Invalid;
        judge(
            "create bucket",
            name,
            v,
            is,
            &kv::create_bucket(&s.js, memory_bucket(name)).await,
        );
        judge("bind", name, v, is, &kv::bind(&s.js, name).await);
        judge(
            "delete bucket",
            name,
            v,
            is,
            &kv::delete_bucket(&s.js, name).await,
        );
    }
    s.client.flush().await.unwrap();
    let written = wire_ops(&s.proxy, from);
    assert!(
        written.is_empty(),
        "refused names wrote {} operations, first {:?}",
        written.len(),
        written.first()
    );

    // The valid ones, all the way to the server and back.
    let from = mark(&s.client, &s.proxy).await;
    for name in &accepted {
        let store = within("create", kv::create_bucket(&s.js, memory_bucket(name)))
            .await
            .unwrap_or_else(|e| panic!("create bucket {name:?}: {e}"));
        store.put("k", name.clone()).await.unwrap();
        let bound = kv::bind(&s.js, name).await.unwrap();
        assert_eq!(
            bound.get("k").await.unwrap().as_deref(),
            Some(name.as_bytes())
        );
        kv::delete_bucket(&s.js, name).await.unwrap();
    }
    s.client.flush().await.unwrap();
    let allowed = |n: &str| {
        [
            format!("$JS.API.STREAM.CREATE.KV_{n}"),
            format!("$JS.API.STREAM.INFO.KV_{n}"),
            format!("$JS.API.STREAM.DELETE.KV_{n}"),
            format!("$KV.{n}.k"),
            format!("$JS.API.DIRECT.GET.KV_{n}.$KV.{n}.k"),
        ]
    };
    let allowed: HashMap<String, &String> = accepted
        .iter()
        .flat_map(|n| allowed(n).into_iter().map(move |s| (s, n)))
        .collect();
    let mut created = BTreeSet::new();
    // The first request of the connection also subscribes the shared reply inbox.
    let inbox = |op: &ClientOp| matches!(op, ClientOp::Sub { subject, .. } if subject.starts_with(b"_INBOX."));
    for op in published(&s.proxy, from, inbox) {
        let subject = subject(&op);
        if subject == "$JS.API.INFO" {
            continue;
        }
        let name = allowed
            .get(&subject)
            .unwrap_or_else(|| panic!("unexpected publish to {subject:?}"));
        if subject.starts_with("$JS.API.STREAM.CREATE.") {
            created.insert((*name).clone());
        }
    }
    assert_eq!(created, accepted, "every valid name created its stream");
    eprintln!(
        "bucket names: {} tried, {} valid ones created and used ({} distinct), {refused} \
         refused three ways with nothing written",
        names.len(),
        names.len() - refused,
        accepted.len()
    );
    assert!(accepted.len() > 100 && refused > 300);
}

/// Keys: put and delete (writes) and get (reads) refuse invalid keys with nothing written;
/// on the wire are exactly the accepted operations, in order, keys unaltered; gets return
/// what the accepted writes left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys() {
    let s = setup().await;
    let kv = kv::create_bucket(&s.js, memory_bucket("INJ").history(5))
        .await
        .unwrap();
    let mut gen_keys = Gen(Xorshift(0x0C0F_FEE5));
    let mut keys = with_edges(
        COMMON_EDGES,
        (0..3000).map(|_| gen_keys.string(KEY_CHARS, 10)),
    );
    keys.push("k".repeat(200));
    keys.push("k".repeat(4000));

    let verdict = |valid: bool, subject_len: usize| match (valid, fits(subject_len)) {
        (false, _) => Verdict::Invalid,
        (true, true) => Verdict::Valid,
        (true, false) => Verdict::TooLong,
    };
    let from = mark(&s.client, &s.proxy).await;
    // What the accepted operations put on the wire: (subject, payload of a put).
    let mut expected: Vec<(String, Option<String>)> = Vec::new();
    let mut model: HashMap<String, String> = HashMap::new();
    let (mut writes_refused, mut reads_refused, mut accepted) = (0, 0, 0);
    let is = kv::Error::is_invalid_key;
    for (i, key) in keys.iter().enumerate() {
        let write = format!("$KV.INJ.{key}");
        let v = verdict(valid_write_key(key), write.len());
        let value = i.to_string();
        if judge("put", key, v, is, &kv.put(key, value.clone()).await) {
            expected.push((write.clone(), Some(value.clone())));
            model.insert(key.clone(), value);
            accepted += 1;
        } else {
            writes_refused += 1;
        }
        if i % 3 == 0 {
            if judge("delete", key, v, is, &kv.delete(key).await) {
                expected.push((write.clone(), None));
                model.remove(key);
            } else {
                writes_refused += 1;
            }
        }
        let read = format!("$JS.API.DIRECT.GET.KV_INJ.$KV.INJ.{key}");
        let got = kv.get(key).await;
        if judge("get", key, verdict(valid_key(key), read.len()), is, &got) {
            expected.push((read, None));
            let got = got.unwrap().map(|v| text(&v));
            assert_eq!(got.as_ref(), model.get(key), "get {key:?}");
        } else {
            reads_refused += 1;
        }
    }
    s.client.flush().await.unwrap();
    let wire: Vec<(String, Option<String>)> = published(&s.proxy, from, |_| false)
        .into_iter()
        .map(|op| match op {
            ClientOp::Pub(p) => {
                let subject = text(&p.subject);
                // A put carries no KV-Operation header (only the Nats-Msg-Id gnat-jetstream
                // stamps every write with, for exact resends after a lost connection).
                let marker = p
                    .headers
                    .as_ref()
                    .is_some_and(|h| h.windows(12).any(|w| w == b"KV-Operation"));
                let put = !marker && subject.starts_with("$KV.");
                (subject, put.then(|| text(&p.payload)))
            }
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(wire.len(), expected.len(), "operations on the wire");
    for (got, want) in wire.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    eprintln!(
        "keys: {} tried, {accepted} puts accepted; {writes_refused} writes and {reads_refused} \
         reads refused with nothing written; the wire holds exactly the {} accepted operations",
        keys.len(),
        expected.len()
    );
    assert!(accepted > 500 && writes_refused > 500 && reads_refused > 500);
}

/// A key that a filter matches (`*` and `>` tokens become `w`; the empty filter matches all).
fn instance(filter: &str) -> String {
    if filter.is_empty() {
        return "w".into();
    }
    filter
        .split('.')
        .map(|t| if t == "*" || t == ">" { "w" } else { t })
        .collect::<Vec<_>>()
        .join(".")
}

/// The filter subjects of a consumer-create request body.
fn create_filters(body: &[u8]) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_slice(body).expect("a JSON request");
    let config = &json["config"];
    let mut out: Vec<String> = config["filter_subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if let Some(one) = config["filter_subject"].as_str().filter(|s| !s.is_empty()) {
        out.push(one.to_string());
    }
    out
}

/// Key filters of watch, keys and history: invalid ones refused with nothing written (also
/// next to a valid one); valid ones reach the server unaltered as the consumer's filter and
/// find the key they match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_filters() {
    let s = setup().await;
    let kv = kv::create_bucket(&s.js, memory_bucket("FLT"))
        .await
        .unwrap();
    let mut gen_filters = Gen(Xorshift(0x0F11_7E25));
    let filters = with_edges(COMMON_EDGES, (0..1500).map(|_| gen_filters.filter()));

    let from = mark(&s.client, &s.proxy).await;
    let mut accepted: Vec<String> = Vec::new();
    let mut refused = 0;
    let is = kv::Error::is_invalid_key;
    for filter in &filters {
        if valid_filter(filter) {
            if !accepted.contains(filter) {
                accepted.push(filter.clone());
            }
            continue;
        }
        refused += 1;
        let v = Verdict::Invalid;
        let watch = kv.watch_with([filter], WatchOptions::new()).await;
        judge("watch", filter, v, is, &watch);
        let beside_a_valid_one = kv.watch_with(["ok.*", filter], WatchOptions::new()).await;
        judge("watch", filter, v, is, &beside_a_valid_one);
        judge("keys", filter, v, is, &kv.keys_matching([filter]).await);
        judge("history", filter, v, is, &kv.history(filter).await);
    }
    s.client.flush().await.unwrap();
    let written = wire_ops(&s.proxy, from);
    assert!(
        written.is_empty(),
        "refused filters wrote {} operations, first {:?}",
        written.len(),
        written.first()
    );

    // The valid ones (at most 150 distinct, for time): each finds its instance key.
    accepted.truncate(150);
    let from = mark(&s.client, &s.proxy).await;
    let mut want_filters = Vec::new();
    for filter in &accepted {
        let key = instance(filter);
        let writable = valid_write_key(&key);
        if writable {
            kv.put(&key, filter.clone()).await.unwrap();
        }
        let consumer_filter = if filter.is_empty() || filter == ">" {
            "$KV.FLT.>".to_string()
        } else {
            format!("$KV.FLT.{filter}")
        };
        want_filters.extend(std::iter::repeat_n(consumer_filter, 3));

        let mut watch = kv.watch_with([filter], WatchOptions::new()).await.unwrap();
        let mut seen = Vec::new();
        loop {
            match within("the watch's initial data", watch.next()).await {
                Some(Ok(WatchEvent::Entry(e))) => seen.push(e.key.to_string()),
                Some(Ok(WatchEvent::InitialDone)) => break,
                other => panic!("watch {filter:?}: {other:?}"),
            }
        }
        drop(watch);
        let listed = kv.keys_matching([filter]).await.unwrap();
        let history = kv.history(filter).await.unwrap();
        if writable {
            assert!(seen.contains(&key), "watch {filter:?} did not see {key:?}");
            assert!(
                listed.contains(&key),
                "keys {filter:?} did not list {key:?}"
            );
            assert!(
                history.iter().any(|e| &*e.key == key.as_str()),
                "history {filter:?} did not have {key:?}"
            );
        }
    }
    s.client.flush().await.unwrap();
    let created: Vec<String> = published(&s.proxy, from, |op| {
        matches!(op, ClientOp::Sub { .. } | ClientOp::Unsub { .. })
    })
    .iter()
    .filter(|op| subject(op).starts_with("$JS.API.CONSUMER.CREATE.KV_FLT"))
    .flat_map(|op| match op {
        ClientOp::Pub(p) => create_filters(&p.payload),
        _ => unreachable!(),
    })
    .collect();
    assert_eq!(created, want_filters, "consumer filters on the wire");
    eprintln!(
        "filters: {} tried, {refused} refused four ways with nothing written; {} distinct valid \
         ones watched, listed and read back, each reaching the server unaltered",
        filters.len(),
        accepted.len()
    );
    assert!(accepted.len() >= 100 && refused > 500);
}
