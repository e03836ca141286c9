#!/usr/bin/env python3
"""Rebalance benchmark: Debian documents in Miroir over three nodes (RF 2), then a fourth node
added and the shards moved with writes and searches running. Reports how long the rebalance
took, the documents it copied per second against the rate the same documents were first
written through Miroir (same run), the shard copies moved against the fewest possible, and
search and write latency before and during the rebalance (one client each, sequential).

usage: bench/rebalance.py [--docs 50000] [--shards 64] [--idle]
       [--miroir build/release/src/miroir] [--devnode build/release/devnode/miroir-devnode]
"""
import argparse
import gzip
import json
import random
import threading
import time

from ingest import (CORPUS, NODE_KEY, binary_arguments, client, load_index, summary_queries,
                    use_binaries, wait)

SETTINGS = {"searchableAttributes": ["name", "summary", "tags"],  # as bench/search.py
            "filterableAttributes": ["section", "priority"]}


def documents(n):
    docs = []
    with gzip.open(CORPUS, "rt") as f:
        for i, line in enumerate(f):
            if i == n:
                break
            d = json.loads(line)
            d["id"] = i + 1
            docs.append(d)
    return docs


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


class Traffic(threading.Thread):
    """Sequential searches or small writes on one connection, each one's latency kept."""

    def __init__(self, port, kind, words):
        super().__init__(daemon=True)
        self.call = client(port, "bench")
        self.kind = kind
        self.words = words
        self.latencies = []
        self.errors = 0
        self.halt = threading.Event()
        self.rng = random.Random(7)
        self.next_id = 10_000_000

    def run(self):
        while not self.halt.is_set():
            started = time.perf_counter()
            if self.kind == "search":
                status, _ = self.call("POST", "/indexes/bench/search",
                                      {"q": self.rng.choice(self.words), "limit": 10})
                ok = status == 200
            else:
                batch = [{"id": self.next_id + i, "name": f"bench-{self.next_id + i}",
                          "summary": "written during the benchmark"} for i in range(10)]
                self.next_id += 10
                status, _ = self.call("POST", "/indexes/bench/documents", batch)
                ok = status == 202
            self.latencies.append((time.perf_counter() - started) * 1000)
            self.errors += 0 if ok else 1
            time.sleep(0.01)

    def stop(self):
        self.halt.set()
        self.join()
        return self.latencies


def measure(port, words, seconds):
    """Search and write latencies (ms) for `seconds`, both clients at once."""
    traffic = [Traffic(port, "search", words), Traffic(port, "write", words)]
    for t in traffic:
        t.start()
    time.sleep(seconds)
    return [t.stop() for t in traffic], sum(t.errors for t in traffic)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--shards", type=int, default=64)
    ap.add_argument("--idle", action="store_true", help="no searches or writes meanwhile")
    binary_arguments(ap)
    args = ap.parse_args()
    use_binaries(args)
    from harness import Miroir  # noqa: E402 (reads MIROIR_BIN at import)
    from nodes import Node  # noqa: E402

    docs = documents(args.docs)
    words = summary_queries(docs, 300, 11)  # the query set of bench/search.py
    nodes = [Node(NODE_KEY).start() for _ in range(4)]
    try:
        extra = f"  node_master_key: {NODE_KEY}\n  shards: {args.shards}\n"
        with Miroir(nodes=[(f"n{i}", f"http://127.0.0.1:{n.port}")
                           for i, n in enumerate(nodes[:3])],
                    master_key="bench", replication_factor=2, extra=extra,
                    log_format="json") as m:
            call = client(m.port, "bench")
            started = time.perf_counter()
            load_index(call, SETTINGS, docs)
            load_rate = len(docs) / (time.perf_counter() - started)
            call("POST", "/indexes/bench/search", {"q": "warmup"})  # builds the nodes' caches

            (search_before, write_before), _ = measure(m.port, words, 0 if args.idle else 5)

            status, node = call("POST", "/_miroir/nodes",
                                {"id": "n3", "address": f"http://127.0.0.1:{nodes[3].port}"})
            assert status == 201, node
            traffic = [Traffic(m.port, "search", words), Traffic(m.port, "write", words)]
            for t in traffic:
                if not args.idle:
                    t.start()
            started = time.perf_counter()
            status, body = call("POST", "/_miroir/rebalance")
            assert status == 202, body
            while True:
                status, body = call("GET", "/_miroir/rebalance/status")
                if body["state"] == "idle" and body["balanced"]:
                    break
                assert body["state"] != "failed", body
                time.sleep(0.1)
            took = time.perf_counter() - started
            search_during, write_during = (t.stop() if t.is_alive() else [] for t in traffic)
            errors = sum(t.errors for t in traffic)
            r = body["rebalance"]
            _, report = call("GET", "/_miroir/verify?ids=false")
            for t in call("GET", "/tasks?limit=1000&statuses=enqueued,processing")[1]["results"]:
                wait(call, t["uid"])
    finally:
        for n in nodes:
            n.stop()

    print(f"{args.docs} documents, {args.shards} shards, RF 2, three nodes → four")
    print(f"\n| rebalance | copies moved (fewest possible) | documents copied | took | "
          f"copied docs/s | first load docs/s | ratio | verify |")
    print("|---|---|---|---|---|---|---|---|")
    rate = r["documentsCopied"] / took
    print(f"| 3 → 4 nodes | {r['copiesMoved']} ({r['minimumCopies']}) | "
          f"{r['documentsCopied']:,} | {took:.1f} s | {rate:,.0f} | {load_rate:,.0f} | "
          f"{rate / load_rate:.2f} | {report['status']} |")
    print("\n| latency (ms) | before: p50 | p99 | during: p50 | p99 | requests during |")
    print("|---|---|---|---|---|---|")
    for name, before, during in (("search", search_before, search_during),
                                 ("write of 10 docs", write_before, write_during)):
        print(f"| {name} | {percentile(before, 50):.1f} | {percentile(before, 99):.1f} | "
              f"{percentile(during, 50):.1f} | {percentile(during, 99):.1f} | {len(during)} |")
    print(f"\nfailed requests during the rebalance: {errors}")


if __name__ == "__main__":
    main()
