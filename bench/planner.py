#!/usr/bin/env python3
"""The primary-key planner: lookups by id (`filter: id = N`) through Miroir over three nodes
(S = 64, RF 1), asked two ways in the same run: pinned (the planner asks one owner of the id's
shard) and as `id = N OR id = N` (the same hits, but the planner cannot narrow it: every
shard is asked). One client, one keep-alive connection, alternating; p50/p90/p99 client
latency and node requests per search (from miroir_upstream_requests_total).

usage: bench/planner.py [--docs 100000] [--queries 300]
       [--miroir build/release/src/miroir] [--devnode build/release/devnode/miroir-devnode]
"""
import argparse
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from ingest import (binary_arguments, client, load_index, upstream_total,  # noqa: E402
                    use_binaries)

NODE_KEY = "bench-node-key"
SETTINGS = {"searchableAttributes": ["name", "summary", "tags"],
            "filterableAttributes": ["id", "section", "priority"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    binary_arguments(ap)
    args = ap.parse_args()
    use_binaries(args)
    from devnode_search import load_corpus  # noqa: E402
    from harness import Miroir  # noqa: E402
    from nodes import Node  # noqa: E402

    docs = load_corpus(args.docs)
    rng = random.Random(42)
    ids = [rng.randint(1, args.docs) for _ in range(args.queries)]
    nodes = [Node(NODE_KEY).start() for _ in range(3)]
    try:
        extra = f"  node_master_key: {NODE_KEY}\n  shards: 64\n"
        with Miroir(nodes=[(f"n{i}", f"http://127.0.0.1:{n.port}") for i, n in enumerate(nodes)],
                    master_key="bench", extra=extra, log_format="json") as m:
            call = client(m.port, "bench")
            load_index(call, SETTINGS, docs)
            call("POST", "/indexes/bench/search", {"q": "warmup"})
            took = {"pinned": [], "every shard": []}
            requests = {"pinned": 0.0, "every shard": 0.0}
            for i in ids:
                for name, text in (("pinned", f"id = {i}"), ("every shard", f"id = {i} OR id = {i}")):
                    before = upstream_total(m.port)
                    started = time.perf_counter()
                    status, result = call("POST", "/indexes/bench/search",
                                          {"q": "", "filter": text})
                    took[name].append((time.perf_counter() - started) * 1000)
                    requests[name] += upstream_total(m.port) - before
                    assert status == 200 and len(result["hits"]) == 1, result
    finally:
        for n in nodes:
            n.stop()
    print(f"{args.docs} documents, {args.queries} lookups by id, Miroir over 3 nodes (S=64)\n")
    print("| lookup | p50 | p90 | p99 | node requests per search |")
    print("|---|---|---|---|---|")
    for name, values in took.items():
        values.sort()
        pct = lambda x: values[min(len(values) - 1, int(x * len(values)))]
        print(f"| {name} | {pct(0.5):.2f} ms | {pct(0.9):.2f} ms | {pct(0.99):.2f} ms | "
              f"{requests[name] / len(values):.1f} |")


if __name__ == "__main__":
    main()
