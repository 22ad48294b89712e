"""A nats-py reader of a gnat-kv bucket under transactions.

Usage: nats_py_snapshot_reader.py URL BUCKET FILTER TOTAL SAMPLES

Takes SAMPLES snapshots with nothing but nats-py: the stream's last sequence from
STREAM.INFO (moved to just before an atomic batch when the message there belongs to a batch
still being stored: Nats-Batch-Id without Nats-Batch-Commit, ADR-50), then one ADR-31 direct
get multi-last request pinned with up_to_seq to it, read until the end-of-batch status. Prints one JSON line: the samples taken and every sum
that differed from TOTAL (an empty list when no partial transaction was ever seen).
"""

import asyncio
import json
import sys

import nats


async def main():
    url, bucket, filt, total, samples = sys.argv[1:6]
    total, samples = int(total), int(samples)
    nc = await nats.connect(url)
    js = nc.jetstream()
    stream = f"KV_{bucket}"
    bad = []
    seqs = []
    for _ in range(samples):
        info = await js.stream_info(stream)
        seq = info.state.last_seq
        last = await js.get_msg(stream, seq=seq, direct=True)
        h = last.headers or {}
        if "Nats-Batch-Id" in h and "Nats-Batch-Commit" not in h:
            seq -= int(h.get("Nats-Batch-Sequence", "0"))
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        body = json.dumps({"multi_last": [f"$KV.{bucket}.{filt}"], "up_to_seq": seq})
        await nc.publish(f"$JS.API.DIRECT.GET.{stream}", body.encode(), reply=inbox)
        s = 0
        while True:
            msg = await sub.next_msg(timeout=5)
            status = msg.headers.get("Status") if msg.headers else None
            if status == "204" or (msg.headers and msg.headers.get("Status") == "404"):
                break
            if msg.headers and msg.headers.get("KV-Operation"):
                continue
            s += int(msg.data)
        await sub.unsubscribe()
        seqs.append(seq)
        if s != total:
            bad.append([seq, s])
    await nc.close()
    print(json.dumps({"samples": len(seqs), "distinct_revisions": len(set(seqs)), "bad": bad}))


asyncio.run(main())
