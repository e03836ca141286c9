#!/usr/bin/env python3
"""Search through Miroir against direct: the same corpus and queries (bench/devnode_search.py's)
on one development node directly, through Miroir in front of that node (S = 1, pure proxy and
merge cost), and through Miroir over three nodes (S = 64, RF 1). One client, one keep-alive
connection, sequential queries; p50/p90/p99 client latency.

usage: bench/search.py [--docs 100000] [--queries 300]
       [--miroir build/release/src/miroir] [--devnode build/release/devnode/miroir-devnode]
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from ingest import binary_arguments, client, load_index, summary_queries, use_binaries  # noqa: E402

NODE_KEY = "bench-node-key"
SETTINGS = {"searchableAttributes": ["name", "summary", "tags"],
            "filterableAttributes": ["section", "priority"]}


def load_and_measure(port, key, docs, queries):
    call = client(port, key)
    load_index(call, SETTINGS, docs)
    call("POST", "/indexes/bench/search", {"q": "warmup"})  # builds the nodes' caches
    latencies = []
    for q in queries:
        started = time.perf_counter()
        status, result = call("POST", "/indexes/bench/search", {"q": q, "limit": 20})
        latencies.append((time.perf_counter() - started) * 1000)
        assert status == 200, result
    latencies.sort()
    pct = lambda x: latencies[min(len(latencies) - 1, int(x * len(latencies)))]
    return pct(0.5), pct(0.9), pct(0.99)


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
    queries = summary_queries(docs, args.queries, 42)

    rows = []
    with Node(NODE_KEY) as node:
        rows.append(("direct, one node", load_and_measure(node.port, NODE_KEY, docs, queries)))
    for count, shards in ((1, 1), (3, 64)):
        nodes = [Node(NODE_KEY).start() for _ in range(count)]
        try:
            extra = f"  node_master_key: {NODE_KEY}\n  shards: {shards}\n"
            with Miroir(nodes=[(f"n{i}", f"http://127.0.0.1:{n.port}")
                               for i, n in enumerate(nodes)],
                        master_key="bench", extra=extra, log_format="json") as m:
                name = f"Miroir over {count} node{'s' if count > 1 else ''} (S={shards})"
                rows.append((name, load_and_measure(m.port, "bench", docs, queries)))
        finally:
            for n in nodes:
                n.stop()
    base = rows[0][1][0]
    print(f"{args.docs} documents, {args.queries} queries\n")
    print("| path | p50 | p90 | p99 | p50 vs direct |")
    print("|---|---|---|---|---|")
    for name, (p50, p90, p99) in rows:
        print(f"| {name} | {p50:.2f} ms | {p90:.2f} ms | {p99:.2f} ms | {p50 / base:.2f} |")


if __name__ == "__main__":
    main()
