# Interop peer: a nats-py micro service for gnat's discovery (and `gnat micro`) to find.
# Run as `python3 -c <this text> <url>` (gnat-test-support's peer module). Prints "READY <id>",
# then serves until stdin closes or the process is killed.
import asyncio
import sys

import nats
from nats.micro import add_service


async def echo(req):
    await req.respond(req.data)


async def fail(req):
    await req.respond_error("422", "nope from python")


async def main(url):
    nc = await nats.connect(url)
    svc = await add_service(
        nc,
        name="py-echo",
        version="1.2.3",
        description="python peer",
        metadata={"lang": "python"},
    )
    await svc.add_endpoint(name="echo", handler=echo)
    group = svc.add_group(name="py")
    await group.add_endpoint(name="fail", handler=fail)
    await nc.flush()
    print("READY", svc.id, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await svc.stop()
    await nc.close()


asyncio.run(main(sys.argv[1]))
