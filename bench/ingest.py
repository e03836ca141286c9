#!/usr/bin/env python3
"""Ingest benchmark: the same Debian documents written directly into one node, through Miroir
in front of that one node (pure proxy and splitting cost), and through Miroir over three nodes
(RF 1). Each run sends NDJSON batches one after another on one keep-alive connection and ends
when the last task succeeded; the table gives documents/s, MB/s and the ratio to direct.

usage: bench/ingest.py [--docs 100000] [--batch 10000]
       [--miroir build/release/src/miroir] [--devnode build/release/devnode/miroir-devnode]
"""
import argparse
import gzip
import http.client
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
CORPUS = os.path.join(HERE, "..", "..", "shared", "data", "debian-packages.ndjson.gz")
NODE_KEY = "bench-node-key"


def batches(n, size):
    base = []
    with gzip.open(CORPUS, "rt") as f:
        for line in f:
            d = json.loads(line)
            d.pop("id", None)
            base.append(d)
    out, lines = [], []
    for i in range(n):
        d = dict(base[i % len(base)])
        d["id"] = i + 1
        lines.append(json.dumps(d))
        if len(lines) == size:
            out.append(("\n".join(lines) + "\n").encode())
            lines = []
    if lines:
        out.append(("\n".join(lines) + "\n").encode())
    return out


def binary_arguments(ap):
    """--miroir and --devnode, release binaries by default."""
    ap.add_argument("--miroir", default="build/release/src/miroir")
    ap.add_argument("--devnode", default="build/release/devnode/miroir-devnode")


def use_binaries(args):
    """Points the test harness (tests/support) at the binaries the arguments name."""
    os.environ["MIROIR_BIN"] = os.path.abspath(args.miroir)
    os.environ["MIROIR_DEVNODE_BIN"] = os.path.abspath(args.devnode)


def summary_queries(docs, count, seed):
    """`count` queries of 1–3 words drawn from the documents' summaries, seeded."""
    import random
    rng = random.Random(seed)
    words = [w for d in docs[:5000] for w in d["summary"].lower().split() if w.isalpha()
             and len(w) > 3]
    return [" ".join(rng.choice(words) for _ in range(rng.choice([1, 1, 2, 2, 3])))
            for _ in range(count)]


def load_index(call, settings, docs, batch=20_000):
    """Creates the index `bench` (primary key `id`) with `settings`, adds `docs` in batches
    and waits until every task succeeded."""
    writes = [("POST", "/indexes", {"uid": "bench", "primaryKey": "id"}),
              ("PATCH", "/indexes/bench/settings", settings)]
    writes += [("POST", "/indexes/bench/documents", docs[i:i + batch])
               for i in range(0, len(docs), batch)]
    for method, path, body in writes:
        status, task = call(method, path, body)
        assert status == 202, task
        assert wait(call, task["taskUid"])["status"] == "succeeded", task


def upstream_total(port, key="bench"):
    """Every node request a Miroir on `port` made so far (miroir_upstream_requests_total)."""
    import urllib.request
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_miroir/metrics",
                                 headers={"Authorization": f"Bearer {key}"})
    text = urllib.request.urlopen(req).read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("miroir_upstream_requests_total{"))


def client(port, key):
    """call(method, path, body=None, ctype, headers) on one keep-alive connection → (status,
    JSON); a body that is not bytes or str is sent as JSON."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    auth = {"Authorization": f"Bearer {key}"}

    def call(method, path, body=None, ctype="application/json", headers=None):
        headers = {**auth, **(headers or {})}
        if body is not None:
            headers["Content-Type"] = ctype
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    return call


def ingest(port, key, bodies):
    call = client(port, key)
    status, task = call("POST", "/indexes", {"uid": "ingest", "primaryKey": "id"})
    assert status == 202, task
    wait(call, task["taskUid"])
    started = time.perf_counter()
    uids = []
    for body in bodies:
        status, task = call("POST", "/indexes/ingest/documents", body, "application/x-ndjson")
        assert status == 202, task
        uids.append(task["taskUid"])
    accepted = time.perf_counter() - started
    for uid in uids:
        result = wait(call, uid)
        assert result["status"] == "succeeded", result
    return accepted, time.perf_counter() - started


def wait(call, uid):
    while True:
        status, task = call("GET", f"/tasks/{uid}")
        if task["status"] in ("succeeded", "failed", "canceled"):
            return task
        time.sleep(0.01)


def cpu_seconds(pid):
    """User and system CPU time of a process so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid, field="VmRSS"):
    """Resident memory of a process (or its peak, with field="VmHWM"), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=10_000)
    binary_arguments(ap)
    args = ap.parse_args()
    use_binaries(args)
    from harness import Miroir  # noqa: E402 (reads MIROIR_BIN at import)
    from nodes import Node  # noqa: E402

    bodies = batches(args.docs, args.batch)
    megabytes = sum(len(b) for b in bodies) / 1e6
    print(f"{args.docs} documents, {len(bodies)} NDJSON batches, {megabytes:.1f} MB")

    rows = []
    with Node(NODE_KEY) as node:
        rows.append(("direct, one node", *ingest(node.port, NODE_KEY, bodies), None))
    for count in (1, 3):
        nodes = [Node(NODE_KEY).start() for _ in range(count)]
        try:
            extra = f"  node_master_key: {NODE_KEY}\n  shards: 64\n"
            with Miroir(nodes=[(f"n{i}", f"http://127.0.0.1:{n.port}")
                               for i, n in enumerate(nodes)],
                        master_key="bench", extra=extra, log_format="json") as m:
                idle = rss_kb(m.proc.pid)
                cpu = cpu_seconds(m.proc.pid)
                accepted, total = ingest(m.port, "bench", bodies)
                cpu = cpu_seconds(m.proc.pid) - cpu
                rows.append((f"Miroir over {count} node{'s' if count > 1 else ''}", accepted,
                             total, (idle, rss_kb(m.proc.pid), cpu)))
        finally:
            for n in nodes:
                n.stop()

    direct = rows[0][2]
    print(f"\n| path | accepted in | all tasks succeeded in | docs/s | MB/s | vs direct | "
          f"Miroir RSS idle → after | Miroir CPU per MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, accepted, total, own in rows:
        memory = f"{own[0] / 1024:.0f} → {own[1] / 1024:.0f} MiB" if own else "—"
        cpu = f"{own[2] * 1000 / megabytes:.1f} ms" if own else "—"
        print(f"| {name} | {accepted:.2f} s | {total:.2f} s | {args.docs / total:,.0f} | "
              f"{megabytes / total:.1f} | {direct / total:.2f} | {memory} | {cpu} |")


if __name__ == "__main__":
    main()
