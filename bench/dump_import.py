#!/usr/bin/env python3
"""Dump import benchmark: one node holding the Debian documents dumps itself (`POST /dumps`);
the same dump is then imported, in the same run,

1. into one fresh node, its documents.jsonl sent as NDJSON in the pieces Miroir sends
   (8 MiB, four writes ahead), timed from the index's creation to the last task: the baseline;
   with MEILISEARCH_BIN, also a fresh node started with `--import-dump` (Meilisearch's own);
2. through Miroir over three nodes (RF 2, `--shards`, default 16), with POST
   /_miroir/dumps/import, timed from the upload to `succeeded`.

It prints documents/s and dump MB/s of each, their ratio, and Miroir's resident memory before
and at its peak against the dump's size.

usage: bench/dump_import.py [--docs N (default: the whole corpus)] [--shards 16]
       [--miroir build/release/src/miroir] [--devnode build/release/devnode/miroir-devnode]
"""
import argparse
import http.client
import os
import subprocess
import tarfile
import tempfile
import time

from ingest import NODE_KEY, binary_arguments, client, rss_kb, use_binaries, wait
from rebalance import SETTINGS, documents

PIECE = 8 << 20


def make_dump(node, docs):
    call = client(node.port, NODE_KEY)
    for i in range(0, len(docs), 20_000):
        status, task = call("POST", "/indexes/bench/documents?primaryKey=id", docs[i:i + 20_000])
        assert status == 202, task
        assert wait(call, task["taskUid"])["status"] == "succeeded"
    status, task = call("PATCH", "/indexes/bench/settings", SETTINGS)
    assert wait(call, task["taskUid"])["status"] == "succeeded"
    status, task = call("POST", "/dumps")
    task = wait(call, task["taskUid"])
    path = os.path.join(node.dir.name, "dumps", task["details"]["dumpUid"] + ".dump")
    while not os.path.exists(path):
        time.sleep(0.1)
    return path


def pieces(path):
    """The dump's documents.jsonl in pieces of whole lines of about PIECE bytes."""
    with tarfile.open(path, "r:gz") as tar:
        name = next(n for n in tar.getnames() if n.endswith("bench/documents.jsonl"))
        data = tar.extractfile(name).read()
    out, at = [], 0
    while at < len(data):
        end = data.find(b"\n", min(at + PIECE, len(data) - 1)) + 1 or len(data)
        out.append(data[at:end])
        at = end
    return out


def one_node(node, bodies):
    call = client(node.port, NODE_KEY)
    started = time.perf_counter()
    status, task = call("POST", "/indexes", {"uid": "bench", "primaryKey": "id"})
    assert wait(call, task["taskUid"])["status"] == "succeeded"
    status, task = call("PATCH", "/indexes/bench/settings", SETTINGS)
    uids = [task["taskUid"]]
    for body in bodies:
        status, task = call("POST", "/indexes/bench/documents", body, "application/x-ndjson")
        assert status == 202, task
        uids.append(task["taskUid"])
        if len(uids) > 4:
            assert wait(call, uids.pop(0))["status"] == "succeeded"
    for uid in uids:
        assert wait(call, uid)["status"] == "succeeded"
    return time.perf_counter() - started


def meilisearch_import(path, count):
    """Seconds from starting meilisearch with --import-dump to all documents searchable."""
    from harness import free_port, request, wait_for_port
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        started = time.perf_counter()
        proc = subprocess.Popen([os.environ["MEILISEARCH_BIN"], "--http-addr",
                                 f"127.0.0.1:{port}", "--db-path", os.path.join(d, "db"),
                                 "--master-key", NODE_KEY, "--no-analytics", "--import-dump",
                                 path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port, timeout=3600)
            auth = {"Authorization": f"Bearer {NODE_KEY}"}
            while request(port, "GET", "/indexes/bench/stats", None, auth).json().get(
                    "numberOfDocuments") != count:
                time.sleep(0.05)
            return time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait()


def through_miroir(m, path):
    conn = http.client.HTTPConnection("127.0.0.1", m.port, timeout=600)
    started = time.perf_counter()
    with open(path, "rb") as f:
        conn.request("POST", "/_miroir/dumps/import", body=f,
                     headers={"Authorization": "Bearer bench", "Content-Type": "application/gzip",
                              "Content-Length": str(os.path.getsize(path))})
        r = conn.getresponse()
        status = __import__("json").loads(r.read())
    assert r.status == 202, status
    call = client(m.port, "bench")
    while status["status"] not in ("succeeded", "failed"):
        time.sleep(0.05)
        _, status = call("GET", f"/_miroir/dumps/import/{status['uid']}/status")
    assert status["status"] == "succeeded", status
    return time.perf_counter() - started


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=-1)
    ap.add_argument("--shards", type=int, default=16)
    binary_arguments(ap)
    args = ap.parse_args()
    use_binaries(args)
    from harness import Miroir  # noqa: E402 (reads MIROIR_BIN at import)
    from nodes import Node  # noqa: E402

    docs = documents(args.docs)
    source = Node(NODE_KEY).start()
    try:
        path = make_dump(source, docs)
        size = os.path.getsize(path)
        bodies = pieces(path)
        rows = []
        with Node(NODE_KEY) as node:
            rows.append(("one node, NDJSON pieces", one_node(node, bodies)))
        if os.environ.get("MEILISEARCH_BIN"):
            rows.append(("one node, `--import-dump`", meilisearch_import(path, len(docs))))
        nodes = [Node(NODE_KEY).start() for _ in range(3)]
        try:
            extra = (f"  node_master_key: {NODE_KEY}\n  shards: {args.shards}\n"
                     "  anti_entropy: { enabled: false }\n")
            with Miroir(nodes=[(f"n{i}", f"http://127.0.0.1:{n.port}")
                               for i, n in enumerate(nodes)],
                        master_key="bench", replication_factor=2, extra=extra) as m:
                before = rss_kb(m.proc.pid)
                rows.append((f"Miroir, 3 nodes, RF 2, S={args.shards}", through_miroir(m, path)))
                peak = rss_kb(m.proc.pid, "VmHWM")
        finally:
            for n in nodes:
                n.stop()
    finally:
        source.stop()
    base = rows[0][1]
    print(f"\n{len(docs):,} documents, dump {size / 1e6:.1f} MB "
          f"({sum(map(len, bodies)) / 1e6:.1f} MB of documents.jsonl)\n")
    print("| import | seconds | documents/s | dump MB/s | time vs one node |\n|---|---|---|---|---|")
    for name, took in rows:
        print(f"| {name} | {took:.2f} | {len(docs) / took:,.0f} | {size / 1e6 / took:.2f} | "
              f"{took / base:.2f}× |")
    print(f"\nMiroir resident memory: {before / 1024:.1f} MiB before, peak {peak / 1024:.1f} MiB "
          f"(dump {size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
