//! Structured operations, encoded with the real encoders and decoded back.
//!
//! Each [`Op`] is encoded into the server or the client stream; an op the encoder
//! rejects must leave its buffer untouched and is not expected back. Then each stream
//! is decoded and must give exactly the expected operations, consuming everything.

use arbitrary::Arbitrary;
use bytes::{BufMut, Bytes, BytesMut};
use gnat_proto::{
    CRLF, ClientOp, Connect, Decoder, HeaderMap, Info, Limits, Msg, Pub, ServerOp, StatusCode,
    encode_connect, encode_err, encode_hpub, encode_info, encode_msg, encode_ok, encode_ping,
    encode_pong, encode_pub, encode_pub_head, encode_sub, encode_unsub,
};

/// Which stream a direction-neutral op goes to.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Side {
    /// Server → client.
    Server,
    /// Client → server.
    Client,
}

/// How a publish is encoded.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum PubStyle {
    /// `encode_pub`/`encode_hpub`.
    Whole,
    /// `encode_pub_head`, then the payload and CRLF appended by the caller.
    Chained,
}

/// A header map to build: an optional status and entries (invalid ones are refused
/// by `HeaderMap::append` and left out).
#[derive(Arbitrary, Debug)]
pub struct Headers {
    status: Option<(u16, Option<String>)>,
    entries: Vec<(String, String)>,
}

/// One operation of either direction. Fields are the encoders' arguments.
#[allow(missing_docs)]
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// `MSG`/`HMSG` via `encode_msg` (headers are a raw block).
    Msg {
        subject: String,
        sid: u64,
        reply: Option<String>,
        headers: Option<Vec<u8>>,
        payload: Vec<u8>,
    },
    /// `PUB`/`HPUB`.
    Pub {
        subject: String,
        reply: Option<String>,
        headers: Option<Headers>,
        payload: Vec<u8>,
        style: PubStyle,
    },
    /// `SUB`.
    Sub {
        subject: String,
        queue: Option<String>,
        sid: u64,
    },
    /// `UNSUB`.
    Unsub { sid: u64, max: Option<u64> },
    /// `PING`.
    Ping(Side),
    /// `PONG`.
    Pong(Side),
    /// `+OK`.
    Ok,
    /// `-ERR`.
    Err(String),
    /// `INFO`, a few fields of it.
    Info {
        server_id: String,
        version: String,
        max_payload: usize,
        port: u16,
        headers: bool,
        connect_urls: Vec<String>,
        nonce: Option<String>,
    },
    /// `CONNECT`, a few fields of it.
    Connect {
        verbose: bool,
        name: Option<String>,
        lang: String,
        user: Option<String>,
        pass: Option<String>,
        jwt: Option<String>,
    },
}

/// Two streams being written, and what decoding each must give.
#[derive(Default)]
struct Streams {
    server: BytesMut,
    client: BytesMut,
    server_ops: Vec<ServerOp>,
    client_ops: Vec<ClientOp>,
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Runs `encode` on `buf`; on `Ok` returns true, on `Err` asserts `buf` is untouched.
fn encoded<E: core::fmt::Debug>(
    buf: &mut BytesMut,
    encode: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> bool {
    let before = buf.len();
    match encode(buf) {
        Ok(()) => true,
        Err(e) => {
            assert_eq!(buf.len(), before, "rejected op ({e:?}) wrote bytes");
            false
        }
    }
}

/// Builds a header map; each refused entry must leave the map unchanged.
fn header_map(spec: &Headers) -> HeaderMap {
    let mut map = match &spec.status {
        // Three-digit codes only: shorter ones have no wire form.
        Some((code, desc)) => HeaderMap::with_status(StatusCode(100 + code % 900), desc.as_deref()),
        None => HeaderMap::new(),
    };
    for (name, value) in &spec.entries {
        let before = map.clone();
        if map.append(name, value).is_err() {
            assert_eq!(map, before, "refused header entry changed the map");
        }
    }
    map
}

/// What parsing the encoding of `map` must give. `append` refuses values with
/// surrounding spaces or tabs (the parser would trim them), so this is the same map;
/// trimming here keeps the target honest should that rule ever change.
fn as_received(map: &HeaderMap) -> HeaderMap {
    let mut out = match map.status() {
        Some(s) => HeaderMap::with_status(s, map.description()),
        None => HeaderMap::new(),
    };
    for (name, value) in map.iter() {
        let trimmed = value.trim_matches([' ', '\t']);
        assert!(out.append(name, trimmed).is_ok(), "valid entry refused");
    }
    out
}

impl Streams {
    fn add(&mut self, op: &Op) {
        match op {
            Op::Msg {
                subject,
                sid,
                reply,
                headers,
                payload,
            } => {
                let (s, r, h) = (subject, reply.as_deref(), headers.as_deref());
                if encoded(&mut self.server, |b| encode_msg(b, s, *sid, r, h, payload)) {
                    self.server_ops.push(ServerOp::Msg(Msg {
                        subject: bytes(s),
                        sid: *sid,
                        reply: r.map(bytes),
                        headers: h.map(Bytes::copy_from_slice),
                        payload: Bytes::copy_from_slice(payload),
                    }));
                }
            }
            Op::Pub {
                subject,
                reply,
                headers,
                payload,
                style,
            } => self.add_pub(subject, reply.as_deref(), headers.as_ref(), payload, *style),
            Op::Sub {
                subject,
                queue,
                sid,
            } => {
                let q = queue.as_deref();
                if encoded(&mut self.client, |b| encode_sub(b, subject, q, *sid)) {
                    self.client_ops.push(ClientOp::Sub {
                        subject: bytes(subject),
                        queue: q.map(bytes),
                        sid: *sid,
                    });
                }
            }
            Op::Unsub { sid, max } => {
                encode_unsub(&mut self.client, *sid, *max);
                self.client_ops.push(ClientOp::Unsub {
                    sid: *sid,
                    max: *max,
                });
            }
            Op::Ping(Side::Server) => {
                encode_ping(&mut self.server);
                self.server_ops.push(ServerOp::Ping);
            }
            Op::Ping(Side::Client) => {
                encode_ping(&mut self.client);
                self.client_ops.push(ClientOp::Ping);
            }
            Op::Pong(Side::Server) => {
                encode_pong(&mut self.server);
                self.server_ops.push(ServerOp::Pong);
            }
            Op::Pong(Side::Client) => {
                encode_pong(&mut self.client);
                self.client_ops.push(ClientOp::Pong);
            }
            Op::Ok => {
                encode_ok(&mut self.server);
                self.server_ops.push(ServerOp::Ok);
            }
            Op::Err(text) => {
                if encoded(&mut self.server, |b| encode_err(b, text)) {
                    self.server_ops.push(ServerOp::Err(text.clone()));
                }
            }
            Op::Info {
                server_id,
                version,
                max_payload,
                port,
                headers,
                connect_urls,
                nonce,
            } => {
                let info = Info {
                    server_id: server_id.clone(),
                    version: version.clone(),
                    max_payload: *max_payload,
                    port: *port,
                    headers: *headers,
                    connect_urls: connect_urls.clone(),
                    nonce: nonce.clone(),
                    ..Info::default()
                };
                encode_info(&mut self.server, &info);
                self.server_ops.push(ServerOp::Info(Box::new(info)));
            }
            Op::Connect {
                verbose,
                name,
                lang,
                user,
                pass,
                jwt,
            } => {
                let connect = Connect {
                    verbose: *verbose,
                    name: name.clone(),
                    lang: lang.clone(),
                    user: user.clone(),
                    pass: pass.clone(),
                    jwt: jwt.clone(),
                    ..Connect::client_defaults()
                };
                if encoded(&mut self.client, |b| encode_connect(b, &connect)) {
                    self.client_ops.push(ClientOp::Connect(Box::new(connect)));
                }
            }
        }
    }

    fn add_pub(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&Headers>,
        payload: &[u8],
        style: PubStyle,
    ) {
        let map = headers.map(header_map);
        let ok = match (style, &map) {
            (PubStyle::Whole, None) => {
                encoded(&mut self.client, |b| encode_pub(b, subject, reply, payload))
            }
            (PubStyle::Whole, Some(map)) => encoded(&mut self.client, |b| {
                encode_hpub(b, subject, reply, map, payload)
            }),
            (PubStyle::Chained, map) => {
                let ok = encoded(&mut self.client, |b| {
                    encode_pub_head(b, subject, reply, map.as_ref(), payload.len())
                });
                if ok {
                    self.client.put_slice(payload);
                    self.client.put_slice(CRLF);
                }
                ok
            }
        };
        if ok {
            let headers = map.map(|map| {
                let mut block = BytesMut::new();
                map.encode(&mut block);
                assert_eq!(block.len(), map.encoded_len(), "encoded_len");
                let parsed = HeaderMap::parse(&block)
                    .unwrap_or_else(|e| panic!("encoded {map:?} does not parse: {e:?}"));
                assert_eq!(parsed, as_received(&map), "header map round trip");
                block.freeze()
            });
            self.client_ops.push(ClientOp::Pub(Pub {
                subject: bytes(subject),
                reply: reply.map(bytes),
                headers,
                payload: Bytes::copy_from_slice(payload),
            }));
        }
    }
}

/// Decodes `buf` completely with `decode`, comparing op by op with `want`.
fn decode_all<Op: PartialEq + core::fmt::Debug>(
    mut buf: BytesMut,
    want: &[Op],
    decode: impl Fn(&mut BytesMut) -> Result<Option<Op>, gnat_proto::ProtoError>,
) {
    for (i, want) in want.iter().enumerate() {
        match decode(&mut buf) {
            Ok(Some(got)) => assert_eq!(&got, want, "op {i} decoded differently"),
            other => panic!(
                "op {i} ({want:?}) did not decode: {other:?}, {} bytes left",
                buf.len()
            ),
        }
    }
    assert!(
        buf.is_empty(),
        "{} bytes left after the last op: {buf:?}",
        buf.len()
    );
}

/// Encodes `ops` and decodes them back.
pub fn check(ops: &[Op]) {
    let mut streams = Streams::default();
    for op in ops {
        streams.add(op);
    }
    // The encoders do not enforce the control line limit; long subjects and texts are
    // the caller's business, so decode with room for them.
    let decoder = Decoder::new(Limits {
        max_control_line: 1 << 20,
        max_payload: 1 << 24,
    });
    decode_all(streams.server, &streams.server_ops, |b| {
        decoder.decode_server(b)
    });
    decode_all(streams.client, &streams.client_ops, |b| {
        decoder.decode_client(b)
    });
}
