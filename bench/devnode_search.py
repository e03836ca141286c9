#!/usr/bin/env python3
"""Development-node benchmark: indexing time and search latency on N short documents built
from the Debian corpus (../shared/data), measured over loopback with one client.

usage: bench/devnode_search.py [--docs 100000] [--queries 500] [--bin build/release/devnode/miroir-devnode]
"""
import argparse
import gzip
import http.client
import json
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "support"))
os.environ.setdefault("MIROIR_DEVNODE_BIN", "build/release/devnode/miroir-devnode")
from nodes import Node  # noqa: E402

CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                      "debian-packages.ndjson.gz")


def load_corpus(n):
    base = []
    with gzip.open(CORPUS, "rt") as f:
        for line in f:
            d = json.loads(line)
            base.append({"name": d["name"], "summary": d["summary"], "section": d["section"],
                         "priority": d["priority"], "tags": d.get("tags", []),
                         "installed_size_kb": d.get("installed_size_kb")})
    docs = []
    for i in range(n):
        d = dict(base[i % len(base)])
        d["id"] = i + 1
        docs.append(d)
    return docs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--bin")
    args = ap.parse_args()
    if args.bin:
        os.environ["MIROIR_DEVNODE_BIN"] = args.bin
    docs = load_corpus(args.docs)
    rng = random.Random(42)
    words = [w for d in docs[:5000] for w in d["summary"].lower().split() if w.isalpha()
             and len(w) > 3]
    queries = []
    for _ in range(args.queries):
        k = rng.choice([1, 1, 2, 2, 3])
        queries.append(" ".join(rng.choice(words) for _ in range(k)))

    with Node() as node:
        uid = "bench"
        node.run("PATCH", f"/indexes/{uid}/settings", {
            "searchableAttributes": ["name", "summary", "tags"],
            "filterableAttributes": ["section", "priority"]})
        started = time.monotonic()
        batch = 20_000
        for i in range(0, len(docs), batch):
            r = node.call("POST", f"/indexes/{uid}/documents", docs[i:i + batch])
            assert r.status == 202, r.body
            last = r.json()["taskUid"]
        task = node.wait_task(last, timeout=600)
        assert task["status"] == "succeeded", task
        index_s = time.monotonic() - started

        started = time.monotonic()
        node.call("POST", f"/indexes/{uid}/search", {"q": "warmup"})
        first_ms = (time.monotonic() - started) * 1000

        def measure(with_facets):
            # one keep-alive connection, as a load generator would use
            conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=60)
            headers = {"Content-Type": "application/json",
                       "Authorization": f"Bearer {node.master_key}"}
            latencies = []
            for q in queries:
                body = {"q": q, "limit": 20}
                if with_facets:
                    body["facets"] = ["section"]
                started = time.monotonic()
                conn.request("POST", f"/indexes/{uid}/search", json.dumps(body), headers)
                r = conn.getresponse()
                payload = r.read()
                latencies.append((time.monotonic() - started) * 1000)
                assert r.status == 200, payload
            conn.close()
            latencies.sort()
            pct = lambda x: round(latencies[min(len(latencies) - 1, int(x * len(latencies)))], 2)
            return {"p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
                    "mean_ms": round(statistics.mean(latencies), 2)}

        def rebuild_after_write():
            # a write of 10 documents, then one search (which rebuilds what it changed)
            times = []
            for k in range(10):
                r = node.call("POST", f"/indexes/{uid}/documents", docs[k * 10:(k + 1) * 10])
                assert node.wait_task(r.json()["taskUid"])["status"] == "succeeded"
                started = time.monotonic()
                node.call("POST", f"/indexes/{uid}/search", {"q": "warmup"})
                times.append((time.monotonic() - started) * 1000)
            return round(statistics.median(times), 1)

        search, with_facet = measure(False), measure(True)
        print(json.dumps({"documents": args.docs, "index_seconds": round(index_s, 2),
                          "first_search_ms": round(first_ms, 1), "queries": len(queries),
                          "search": search, "search_with_facet": with_facet,
                          "search_after_small_write_ms": rebuild_after_write()}))


if __name__ == "__main__":
    main()
