//! gnat-proto parser and encoder throughput.
//!
//! * `decode_msg`, `decode_hmsg`: a buffer of 10,000 frames is built once; each
//!   iteration copies it into a fresh `BytesMut` (in setup, not measured) and decodes
//!   every frame off it, the way the connection's reader does. Reported as frames/s
//!   and bytes/s.
//! * `encode_pub`, `encode_hpub`: 1,000 publishes per iteration into one reused
//!   `BytesMut`, cleared before each iteration (the shared write buffer's steady
//!   state: no allocation).
//! * `headers`: `HeaderMap::parse` and the `status_of` fast path on single blocks.

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gnat_benches::{
    ACK_REPLY, SUBJECT, hmsg_stream, jetstream_delivery, jetstream_publish, kv_delete, msg_stream,
    payload,
};
use proto::{Decoder, HeaderMap, encode_hpub, encode_pub, status_of};

/// Frames per decode iteration.
const DECODE_FRAMES: usize = 10_000;
/// Publishes per encode iteration.
const ENCODE_OPS: usize = 1_000;
/// Payload sizes measured.
const SIZES: [usize; 3] = [16, 128, 1024];

fn throughput(elements: usize, bytes: usize) -> Throughput {
    Throughput::ElementsAndBytes {
        elements: elements as u64,
        bytes: bytes as u64,
    }
}

/// Decodes every frame of `input`, checking that all `DECODE_FRAMES` came out.
fn decode_stream(c: &mut Criterion, group: &str, id: &str, input: &[u8]) {
    let mut group = c.benchmark_group(group);
    // One iteration decodes 10,000 frames (~1 ms): give 100 samples the time they need.
    group.measurement_time(Duration::from_secs(10));
    group.throughput(throughput(DECODE_FRAMES, input.len()));
    let decoder = Decoder::default();
    group.bench_function(id, |b| {
        b.iter_batched(
            || BytesMut::from(input),
            |mut buf| {
                let mut frames = 0;
                while let Ok(Some(op)) = decoder.decode_server(&mut buf) {
                    black_box(op);
                    frames += 1;
                }
                assert_eq!(frames, DECODE_FRAMES, "not every frame decoded");
                // Returned so that freeing the buffer is not measured.
                buf
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn decode_msg(c: &mut Criterion) {
    for size in SIZES {
        let input = msg_stream(DECODE_FRAMES, size);
        decode_stream(c, "decode_msg", &format!("{size}B"), &input);
    }
}

fn decode_hmsg(c: &mut Criterion) {
    let jetstream = hmsg_stream(DECODE_FRAMES, Some(ACK_REPLY), &jetstream_delivery(), 128);
    decode_stream(c, "decode_hmsg", "jetstream-128B", &jetstream);
    let kv_del = hmsg_stream(DECODE_FRAMES, None, &kv_delete(), 0);
    decode_stream(c, "decode_hmsg", "kv-del-0B", &kv_del);
    let no_responders = HeaderMap::with_status(proto::StatusCode::NO_RESPONDERS, None);
    let status = hmsg_stream(DECODE_FRAMES, None, &no_responders, 0);
    decode_stream(c, "decode_hmsg", "status-503-0B", &status);
}

/// Runs `encode` `ENCODE_OPS` times per iteration into one reused buffer.
fn encode_batch(
    c: &mut Criterion,
    group: &str,
    id: &str,
    encode: impl Fn(&mut BytesMut) -> Result<(), proto::ProtoError>,
) {
    let mut buf = BytesMut::new();
    for _ in 0..ENCODE_OPS {
        if let Err(e) = encode(&mut buf) {
            panic!("{group}/{id}: {e}");
        }
    }
    let bytes = buf.len();
    let mut group = c.benchmark_group(group);
    group.throughput(throughput(ENCODE_OPS, bytes));
    group.bench_function(id, |b| {
        b.iter(|| {
            buf.clear();
            for _ in 0..ENCODE_OPS {
                // Inputs are valid; an error would show up in the length check.
                let _ = encode(black_box(&mut buf));
            }
            assert_eq!(buf.len(), bytes);
        });
    });
    group.finish();
}

fn encode_pubs(c: &mut Criterion) {
    for size in SIZES {
        let data = payload(size);
        encode_batch(c, "encode_pub", &format!("{size}B"), |buf| {
            encode_pub(buf, black_box(SUBJECT), None, black_box(&data))
        });
    }
    let data = payload(128);
    encode_batch(c, "encode_pub", "128B-reply", |buf| {
        encode_pub(buf, black_box(SUBJECT), Some("_INBOX.k3Hn8s2Lq0.42"), &data)
    });
}

fn encode_hpubs(c: &mut Criterion) {
    let data = payload(128);
    let js = jetstream_publish();
    encode_batch(c, "encode_hpub", "jetstream-128B", |buf| {
        encode_hpub(buf, black_box(SUBJECT), None, black_box(&js), &data)
    });
    let del = kv_delete();
    encode_batch(c, "encode_hpub", "kv-del-0B", |buf| {
        encode_hpub(buf, black_box("$KV.config.app.db.url"), None, &del, &[])
    });
}

fn headers(c: &mut Criterion) {
    let mut group = c.benchmark_group("headers");
    group.throughput(Throughput::Elements(1));
    for (id, map) in [
        ("parse/jetstream", jetstream_delivery()),
        ("parse/kv-del", kv_delete()),
    ] {
        let mut block = BytesMut::new();
        map.encode(&mut block);
        group.bench_with_input(BenchmarkId::from_parameter(id), &block, |b, block| {
            b.iter(|| HeaderMap::parse(black_box(block)));
        });
    }
    let block = b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\n\r\n";
    group.bench_function("status_of/heartbeat", |b| {
        b.iter(|| status_of(black_box(block)));
    });
    group.finish();
}

criterion_group!(
    benches,
    decode_msg,
    decode_hmsg,
    encode_pubs,
    encode_hpubs,
    headers
);
criterion_main!(benches);
