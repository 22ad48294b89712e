#!/usr/bin/env python3
"""The dependency rule: proto <- client <- jetstream <- kv / object, service on client, cli on
top, no layer skipped; the facade `gnat` sits on top and may use any library crate (it needs
gnat-client at least); gnat-proto stays sans-IO (no tokio, rustls, futures). async-nats only
in benches."""
import json
import subprocess
import sys

ALLOWED = {
    "gnat-proto": set(),
    "gnat-client": {"gnat-proto"},
    "gnat-jetstream": {"gnat-client"},
    "gnat-kv": {"gnat-jetstream"},
    "gnat-service": {"gnat-client"},
    "gnat-object": {"gnat-jetstream"},
    "gnat-cli": {"gnat-client", "gnat-kv", "gnat-service", "gnat-object"},
}
# The facade re-exports the layers: any library crate, never the command or test support.
LIBRARIES = {"gnat-proto", "gnat-client", "gnat-jetstream", "gnat-kv", "gnat-object", "gnat-service"}
FACADE = ("gnat", {"gnat-client"}, LIBRARIES)
SANS_IO_BANNED = {"tokio", "rustls", "tokio-rustls", "futures", "futures-core", "async-nats", "mio"}

meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--locked"]))
packages = {p["id"]: p for p in meta["packages"]}
workspace = {packages[i]["name"]: packages[i] for i in meta["workspace_members"]}
problems = []

for name, allowed in ALLOWED.items():
    pkg = workspace.get(name)
    if pkg is None:
        problems.append(f"{name}: crate missing from the workspace")
        continue
    normal = {d["name"] for d in pkg["dependencies"] if d.get("kind") is None}
    ours = {d for d in normal if d in workspace}
    if ours != allowed:
        problems.append(f"{name} depends on workspace crates {sorted(ours)}; the rule allows exactly {sorted(allowed)}")

facade, needs, may = FACADE
pkg = workspace.get(facade)
if pkg is None:
    problems.append(f"{facade}: crate missing from the workspace")
else:
    ours = {d["name"] for d in pkg["dependencies"] if d.get("kind") is None and d["name"] in workspace}
    if not needs <= ours or not ours <= may:
        problems.append(f"{facade} depends on workspace crates {sorted(ours)}; it needs {sorted(needs)} "
                        f"and may use only {sorted(may)}")

# gnat-proto's whole normal dependency closure must be free of IO crates.
resolve = {n["id"]: n for n in meta["resolve"]["nodes"]}
proto_id = workspace["gnat-proto"]["id"] if "gnat-proto" in workspace else None
if proto_id:
    seen, stack = set(), [proto_id]
    while stack:
        node = resolve[stack.pop()]
        for dep in node["deps"]:
            if not any(k.get("kind") is None for k in dep["dep_kinds"]):
                continue
            if dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])
    heavy = sorted({packages[i]["name"] for i in seen} & SANS_IO_BANNED)
    if heavy:
        problems.append(f"gnat-proto is sans-IO but its dependencies include {heavy}")

for p in meta["packages"]:
    if p["name"] in workspace and p["name"] != "gnat-benches":
        if any(d["name"] == "async-nats" for d in p["dependencies"]):
            problems.append(f"{p['name']} depends on async-nats (only gnat-benches may, as the comparison)")

if problems:
    print("layering check failed:")
    for p in problems:
        print(" -", p)
    sys.exit(1)
print("layering ok: proto <- client <- jetstream <- kv / object; service on client; gnat and cli on the libraries; gnat-proto is sans-IO")
