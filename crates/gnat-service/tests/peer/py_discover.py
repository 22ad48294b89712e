# Interop peer: nats-py's micro module finds a gnat service through $SRV discovery and parses
# the replies with its own types (nats.micro.service), then calls its endpoints.
# Usage: python3 py_discover.py <url> <service name>. Prints one JSON line.
import asyncio
import json
import sys

import nats
from nats.micro.service import ServiceInfo, ServicePing, ServiceStats


async def main(url, name):
    nc = await nats.connect(url)
    out = {}
    sub = await nc.subscribe(nc.new_inbox())
    await nc.publish("$SRV.PING", b"", reply=sub.subject)
    found = []
    try:
        while True:
            msg = await sub.next_msg(timeout=1.0)
            found.append(ServicePing.from_dict(json.loads(msg.data)).to_dict())
    except nats.errors.TimeoutError:
        pass
    out["all"] = found
    ping = await nc.request(f"$SRV.PING.{name}", b"", timeout=5)
    out["ping"] = ServicePing.from_dict(json.loads(ping.data)).to_dict()
    sid = out["ping"]["id"]
    info = await nc.request(f"$SRV.INFO.{name}.{sid}", b"", timeout=5)
    out["info"] = ServiceInfo.from_dict(json.loads(info.data)).to_dict()
    reply = await nc.request("calc.add", b"1,2,39", timeout=5)
    out["add"] = reply.data.decode()
    bad = await nc.request("calc.add", b"1,x", timeout=5)
    out["error"] = [bad.headers.get("Nats-Service-Error-Code"), bad.headers.get("Nats-Service-Error")]
    stats = await nc.request(f"$SRV.STATS.{name}", b"", timeout=5)
    parsed = ServiceStats.from_dict(json.loads(stats.data))
    out["stats"] = parsed.to_dict()
    out["started_year"] = parsed.started.year
    await nc.close()
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2]))
