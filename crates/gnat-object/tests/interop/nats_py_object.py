#!/usr/bin/env python3
"""nats-py's object store, driven by the gnat interop test (tests/interop.rs).

  put  <url> <bucket> <name> <file> [chunk_size]   create the bucket if needed, put the file
  get  <url> <bucket> <name> <file>                get the object into the file
  info <url> <bucket> <name>                       print the object's info as JSON

Each prints one JSON line with the object's info (name, size, chunks, digest, nuid).
"""
import asyncio
import json
import sys

import nats
from nats.js.errors import BucketNotFoundError, NotFoundError


def info_json(info):
    return json.dumps({
        "name": info.name,
        "size": info.size,
        "chunks": info.chunks,
        "digest": info.digest,
        "nuid": info.nuid,
        "description": info.description,
        "headers": info.headers,
    })


async def main(argv):
    op, url, bucket, name = argv[1:5]
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        try:
            obs = await js.object_store(bucket)
        except (BucketNotFoundError, NotFoundError):
            if op != "put":
                raise
            obs = await js.create_object_store(bucket)
        if op == "put":
            with open(argv[5], "rb") as f:
                data = f.read()
            meta = None
            if len(argv) > 6:
                from nats.js import api
                meta = api.ObjectMeta(
                    name=name,
                    description="from nats-py",
                    options=api.ObjectMetaOptions(max_chunk_size=int(argv[6])),
                )
            info = await obs.put(name, data, meta=meta)
        elif op == "get":
            res = await obs.get(name)
            with open(argv[5], "wb") as f:
                f.write(res.data)
            info = res.info
        elif op == "info":
            info = await obs.get_info(name)
        else:
            raise SystemExit(f"unknown op {op}")
        print(info_json(info))
    finally:
        await nc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv))
