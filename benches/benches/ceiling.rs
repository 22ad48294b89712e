//! How fast the server lets any client go, beside gnat and async-nats, same server, same run.
//!
//! `cargo bench -p gnat-benches --bench ceiling` (about 3 minutes; `GNAT_CEILING_ROUNDS=n`
//! for more rounds than 3).
//!
//! On a 2-core machine the server, not the client, bounds most throughput shapes, so a
//! ratio against async-nats is capped by what the server can do. This measures that cap with
//! an *ideal* client: one thread, a blocking socket, no locks, no task wake-ups, and the best
//! batching there is (every reply read in one `read` is answered in one `write`; publishes
//! go out in 32 KiB writes). It validates nothing and offers no API; it is a yardstick, not
//! a client. Each round runs the ideal client, then gnat, then async-nats, on the same
//! server, and the summary gives medians over the rounds of each ratio:
//! `ideal/async` is the most any client could show against async-nats here, `gnat/ideal` is
//! how much of it gnat gets.
//!
//! Shapes (as in the `client` and `kv` benches): publish 2 M × 16 B ending with a PING/PONG;
//! pub+sub 1 M × 128 B on one connection; request/reply with 64 in flight (the responder is
//! one gnat connection for all three); KV get and put with 64 in flight over 1,024 keys of
//! 128 B (history 1, file storage; the ideal client talks to gnat's bucket).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use gnat_test_support::NatsServer;
use proto::{Decoder, Limits, ServerOp};

// Not every helper is used here.
#[allow(dead_code)]
mod common;

const IN_FLIGHT: u64 = 64;
const KEYS: u64 = 1024;
const PUBLISH_COUNT: u64 = 2_000_000;
const PUBSUB_COUNT: u64 = 1_000_000;
const REQUESTS: u64 = 256_000;
const KV_OPS: u64 = 100_032;
const INBOX: &str = "_INBOX.ideal";

/// The ideal client's connection: a blocking socket and gnat's decoder.
struct Ideal {
    sock: TcpStream,
    rbuf: BytesMut,
    decoder: Decoder,
    out: Vec<u8>,
}

impl Ideal {
    /// Connects, optionally subscribes (sid 1), and returns after the server's PONG.
    fn connect(url: &str, subscribe: Option<&str>) -> Ideal {
        let addr = url.strip_prefix("nats://").unwrap_or(url);
        let sock = TcpStream::connect(addr).expect("ideal client connects");
        sock.set_nodelay(true).expect("nodelay");
        let mut ideal = Ideal {
            sock,
            rbuf: BytesMut::with_capacity(1 << 20),
            decoder: Decoder::new(Limits::default()),
            out: Vec::with_capacity(1 << 16),
        };
        ideal.wait_for(|op| matches!(op, ServerOp::Info(_)));
        ideal.out.extend_from_slice(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\
              \"no_responders\":true,\"protocol\":1}\r\n",
        );
        if let Some(subject) = subscribe {
            write!(ideal.out, "SUB {subject} 1\r\n").expect("vec write");
        }
        ideal.out.extend_from_slice(b"PING\r\n");
        ideal.send();
        ideal.wait_for(|op| matches!(op, ServerOp::Pong));
        ideal
    }

    fn send(&mut self) {
        self.sock.write_all(&self.out).expect("ideal client writes");
        self.out.clear();
    }

    /// One `read`, then every complete operation to `each` (PINGs are answered).
    fn read(&mut self, mut each: impl FnMut(ServerOp, &mut Vec<u8>)) {
        if self.rbuf.capacity() - self.rbuf.len() < 64 * 1024 {
            self.rbuf.reserve(1 << 20);
        }
        let start = self.rbuf.len();
        self.rbuf.resize(self.rbuf.capacity(), 0);
        let n = self
            .sock
            .read(&mut self.rbuf[start..])
            .expect("ideal client reads");
        assert!(n > 0, "the server closed the ideal client's connection");
        self.rbuf.truncate(start + n);
        while let Some(op) = self
            .decoder
            .decode_server(&mut self.rbuf)
            .expect("the server sends valid frames")
        {
            match op {
                ServerOp::Ping => self.out.extend_from_slice(b"PONG\r\n"),
                ServerOp::Err(e) => panic!("server error: {e}"),
                op => each(op, &mut self.out),
            }
        }
    }

    fn wait_for(&mut self, done: impl Fn(&ServerOp) -> bool) {
        let mut seen = false;
        while !seen {
            self.read(|op, _| seen |= done(&op));
        }
    }
}

/// `PUB <subject> <size>` frames with `size`-byte payloads, `n` of them.
fn pub_frames(subject: &str, size: usize, n: usize) -> Vec<u8> {
    let payload = vec![b'x'; size];
    let mut v = Vec::new();
    for _ in 0..n {
        write!(v, "PUB {subject} {size}\r\n").expect("vec write");
        v.extend_from_slice(&payload);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Writes `count` publishes in 32 KiB writes.
fn blast(sock: &mut TcpStream, subject: &str, size: usize, count: u64) {
    let per = (32 * 1024 / (size + 24)).max(1);
    let frames = pub_frames(subject, size, per);
    let frame_len = frames.len() / per;
    let mut sent = 0u64;
    while sent < count {
        let k = per.min(usize::try_from(count - sent).unwrap_or(per));
        sock.write_all(&frames[..frame_len * k])
            .expect("ideal client writes");
        sent += k as u64;
    }
}

fn ideal_publish(url: &str) -> f64 {
    let mut c = Ideal::connect(url, None);
    let started = Instant::now();
    blast(&mut c.sock, "bench.publish", 16, PUBLISH_COUNT);
    c.out.extend_from_slice(b"PING\r\n");
    c.send();
    c.wait_for(|op| matches!(op, ServerOp::Pong));
    PUBLISH_COUNT as f64 / started.elapsed().as_secs_f64()
}

fn ideal_pubsub(url: &str) -> f64 {
    let mut c = Ideal::connect(url, Some("bench.pubsub"));
    let mut writer = c.sock.try_clone().expect("socket clone");
    let started = Instant::now();
    let blaster = std::thread::spawn(move || blast(&mut writer, "bench.pubsub", 128, PUBSUB_COUNT));
    let mut got = 0u64;
    while got < PUBSUB_COUNT {
        c.read(|op, _| got += u64::from(matches!(op, ServerOp::Msg(_))));
    }
    let rate = got as f64 / started.elapsed().as_secs_f64();
    blaster.join().expect("blaster thread");
    rate
}

/// `ops` requests with [`IN_FLIGHT`] outstanding; `request(out, n)` writes request `n` with
/// reply subject `_INBOX.ideal.<n>`, `check` rejects a bad reply.
fn ideal_pipelined(
    url: &str,
    ops: u64,
    request: impl Fn(&mut Vec<u8>, u64),
    check: impl Fn(&proto::Msg),
) -> f64 {
    let mut c = Ideal::connect(url, Some(&format!("{INBOX}.*")));
    let started = Instant::now();
    let mut next = 0;
    while next < IN_FLIGHT {
        request(&mut c.out, next);
        next += 1;
    }
    c.send();
    let mut done = 0;
    while done < ops {
        c.read(|op, out| {
            if let ServerOp::Msg(m) = op {
                check(&m);
                done += 1;
                if next < ops {
                    request(out, next);
                    next += 1;
                }
            }
        });
        c.send();
    }
    ops as f64 / started.elapsed().as_secs_f64()
}

/// Runs `ops` operations as [`IN_FLIGHT`] tasks, each awaiting its own one at a time.
async fn fan_out<S, F, Fut>(ops: u64, state: &S, op: F) -> f64
where
    S: Clone + Send + 'static,
    F: Fn(S, u64) -> Fut + Copy + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let per = ops / IN_FLIGHT;
    let mut tasks = Vec::new();
    for t in 0..IN_FLIGHT {
        let state = state.clone();
        tasks.push(tokio::spawn(async move {
            for i in t * per..(t + 1) * per {
                op(state.clone(), i).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    (per * IN_FLIGHT) as f64 / started.elapsed().as_secs_f64()
}

fn key_of(i: u64) -> String {
    format!("key.{}", i % KEYS)
}

/// One shape's figures per round: (ideal, gnat, async-nats) in operations per second.
struct Shape {
    name: &'static str,
    rounds: Vec<[f64; 3]>,
}

impl Shape {
    fn new(name: &'static str) -> Self {
        Shape {
            name,
            rounds: Vec::new(),
        }
    }

    fn print(&self) {
        let median = |f: &dyn Fn(&[f64; 3]) -> f64| {
            let mut v: Vec<f64> = self.rounds.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "{:<18} median of {}: ideal {:>9.0}/s  gnat {:>9.0}/s  async-nats {:>9.0}/s  \
             | ideal/async {:.2}  gnat/async {:.2}  gnat/ideal {:.2}",
            self.name,
            self.rounds.len(),
            median(&|r| r[0]),
            median(&|r| r[1]),
            median(&|r| r[2]),
            median(&|r| r[0] / r[2]),
            median(&|r| r[1] / r[2]),
            median(&|r| r[1] / r[0]),
        );
    }
}

fn round(shape: &mut Shape, ideal: f64, gnat: f64, official: f64) {
    println!(
        "{:<18} ideal {ideal:>9.0}/s  gnat {gnat:>9.0}/s  async-nats {official:>9.0}/s",
        shape.name
    );
    shape.rounds.push([ideal, gnat, official]);
}

fn main() {
    // `cargo bench` passes `--bench` (and any filter); this binary runs everything.
    let rounds: usize = std::env::var("GNAT_CEILING_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let rt = common::runtime();
    let core = NatsServer::start();
    let js = NatsServer::start_jetstream();
    let (url, js_url) = (core.url().to_string(), js.url().to_string());

    let (gnat, official, _responder) = rt.block_on(async {
        (
            client::connect(&url).await.expect("gnat connects"),
            async_nats::connect(&url)
                .await
                .expect("async-nats connects"),
            common::spawn_gnat_responder(&url, "bench.echo").await,
        )
    });
    let keys: Vec<String> = (0..KEYS).map(key_of).collect();
    let value = Bytes::from(vec![b'x'; 128]);
    let (gnat_kv, official_kv) = rt.block_on(common::kv_buckets(&js_url, &keys, &value));

    let mut publish = Shape::new("publish 16 B");
    let mut pubsub = Shape::new("pub+sub 1 conn");
    let mut request = Shape::new("request 64");
    let mut kv_get = Shape::new("kv get 64-way");
    let mut kv_put = Shape::new("kv put 64-way");
    let p16 = Bytes::from(vec![b'x'; 16]);
    let p128 = Bytes::from(vec![b'x'; 128]);
    for _ in 0..rounds {
        let ideal = ideal_publish(&url);
        let (g, o) = rt.block_on(async {
            let started = Instant::now();
            for _ in 0..PUBLISH_COUNT {
                gnat.publish("bench.publish", p16.clone())
                    .await
                    .expect("publish");
            }
            gnat.flush().await.expect("flush");
            let g = PUBLISH_COUNT as f64 / started.elapsed().as_secs_f64();
            let started = Instant::now();
            for _ in 0..PUBLISH_COUNT {
                official
                    .publish("bench.publish", p16.clone())
                    .await
                    .expect("publish");
            }
            official.flush().await.expect("flush");
            (g, PUBLISH_COUNT as f64 / started.elapsed().as_secs_f64())
        });
        round(&mut publish, ideal, g, o);

        let ideal = ideal_pubsub(&url);
        let (g, o) = rt.block_on(async {
            macro_rules! run {
                ($c:expr) => {{
                    let mut sub = $c.subscribe("bench.pubsub").await.expect("subscribe");
                    $c.flush().await.expect("flush");
                    let started = Instant::now();
                    let rx = tokio::spawn(async move {
                        let got = common::receive(&mut sub, PUBSUB_COUNT).await;
                        (got, Instant::now())
                    });
                    for _ in 0..PUBSUB_COUNT {
                        $c.publish("bench.pubsub", p128.clone())
                            .await
                            .expect("publish");
                    }
                    $c.flush().await.expect("flush");
                    let (got, ended) = rx.await.expect("receiver");
                    assert_eq!(got, PUBSUB_COUNT, "messages lost");
                    got as f64 / (ended - started).as_secs_f64()
                }};
            }
            (run!(gnat), run!(official))
        });
        round(&mut pubsub, ideal, g, o);

        let ideal = ideal_pipelined(
            &url,
            REQUESTS,
            |out, n| write!(out, "PUB bench.echo {INBOX}.{n} 4\r\nping\r\n").expect("vec write"),
            |m| assert_eq!(&m.payload[..], b"ping"),
        );
        let (g, o) = rt.block_on(async {
            let g = fan_out(REQUESTS, &gnat, |c, _| async move {
                c.request("bench.echo", "ping").await.expect("request");
            })
            .await;
            let o = fan_out(REQUESTS, &official, |c, _| async move {
                c.request("bench.echo", "ping".into())
                    .await
                    .expect("request");
            })
            .await;
            (g, o)
        });
        round(&mut request, ideal, g, o);

        let ideal = ideal_pipelined(
            &js_url,
            KV_OPS,
            |out, n| {
                write!(
                    out,
                    "PUB $JS.API.DIRECT.GET.KV_GNAT.$KV.GNAT.{} {INBOX}.{n} 0\r\n\r\n",
                    key_of(n)
                )
                .expect("vec write")
            },
            |m| {
                let status = m.headers.as_deref().and_then(proto::status_of);
                assert!(status.is_none(), "direct get answered with a status");
                assert_eq!(m.payload.len(), 128);
            },
        );
        let (g, o) = rt.block_on(async {
            let g = fan_out(KV_OPS, &gnat_kv, |kv, i| async move {
                assert!(kv.get(&key_of(i)).await.expect("get").is_some());
            })
            .await;
            let o = fan_out(KV_OPS, &official_kv, |kv, i| async move {
                assert!(kv.get(key_of(i)).await.expect("get").is_some());
            })
            .await;
            (g, o)
        });
        round(&mut kv_get, ideal, g, o);

        let value = "x".repeat(128);
        let ideal = ideal_pipelined(
            &js_url,
            KV_OPS,
            |out, n| {
                write!(
                    out,
                    "PUB $KV.GNAT.{} {INBOX}.{n} 128\r\n{value}\r\n",
                    key_of(n)
                )
                .expect("vec write")
            },
            |m| {
                let ack = std::str::from_utf8(&m.payload).expect("utf-8 ack");
                assert!(
                    ack.contains("\"seq\"") && !ack.contains("\"error\""),
                    "{ack}"
                );
            },
        );
        let (g, o) = rt.block_on(async {
            let v = p128.clone();
            let g = fan_out(
                KV_OPS,
                &(gnat_kv.clone(), v.clone()),
                |(kv, v), i| async move {
                    kv.put(&key_of(i), v).await.expect("put");
                },
            )
            .await;
            let o = fan_out(KV_OPS, &(official_kv.clone(), v), |(kv, v), i| async move {
                kv.put(key_of(i), v).await.expect("put");
            })
            .await;
            (g, o)
        });
        round(&mut kv_put, ideal, g, o);
    }
    println!();
    for shape in [&publish, &pubsub, &request, &kv_get, &kv_put] {
        shape.print();
    }
}
