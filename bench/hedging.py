#!/usr/bin/env python3
"""Hedged reads under a slow replica: three development nodes (RF 2, S 16) with one of them
adding 200 ms to 5% of its searches; the same queries through Miroir with hedging on and off
(same nodes and data, alternating rounds). One client, one keep-alive connection, sequential
queries; p50/p90/p99/max client latency, and the hedges Miroir fired and won.

usage: bench/hedging.py [--docs 20000] [--queries 400] [--rounds 2]
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
SETTINGS = {"searchableAttributes": ["name", "summary", "tags"]}


def miroir_config(hedging):
    return (f"  node_master_key: {NODE_KEY}\n  shards: 16\n"
            f"  scatter:\n    hedging: {{enabled: {'true' if hedging else 'false'}}}\n")


def measure(port, queries):
    call = client(port, "bench")
    call("POST", "/indexes/bench/search", {"q": "warmup"})
    latencies = []
    for q in queries:
        started = time.perf_counter()
        status, result = call("POST", "/indexes/bench/search", {"q": q, "limit": 20})
        latencies.append((time.perf_counter() - started) * 1000)
        assert status == 200, result
    return latencies


def hedge_counts(m):
    text = m.request("GET", "/_miroir/metrics", headers={"Authorization": "Bearer bench"}).body
    counts = {"fired": 0, "won": 0}
    for line in text.decode().splitlines():
        for k in counts:
            if line.startswith(f'miroir_hedges_total{{result="{k}"}}'):
                counts[k] = int(float(line.split()[-1]))
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=2)
    binary_arguments(ap)
    args = ap.parse_args()
    use_binaries(args)
    from devnode_search import load_corpus  # noqa: E402
    from harness import Miroir  # noqa: E402
    from nodes import Node  # noqa: E402

    docs = load_corpus(args.docs)
    queries = summary_queries(docs, args.queries, 7)

    nodes = [Node(NODE_KEY).start() for _ in range(3)]
    addresses = [(f"n{i}", f"http://127.0.0.1:{n.port}") for i, n in enumerate(nodes)]
    results = {True: [], False: []}
    hedges = {"fired": 0, "won": 0}
    try:
        with Miroir(nodes=addresses, master_key="bench", replication_factor=2,
                    extra=miroir_config(True), log_format="json") as m:
            load_index(client(m.port, "bench"), SETTINGS, docs, batch=len(docs))
        r = nodes[1].call("PUT", "/_devnode/faults",
                          {"routeClass": "search", "latencyMs": 200, "latencyFraction": 0.05})
        assert r.status == 200, r.body
        for _ in range(args.rounds):
            for hedging in (True, False):
                with Miroir(nodes=addresses, master_key="bench", replication_factor=2,
                            extra=miroir_config(hedging), log_format="json") as m:
                    results[hedging] += measure(m.port, queries)
                    if hedging:
                        for k, v in hedge_counts(m).items():
                            hedges[k] += v
    finally:
        for n in nodes:
            n.stop()

    def pct(values, x):
        values = sorted(values)
        return values[min(len(values) - 1, int(x * len(values)))]

    print(f"{args.docs} documents, 3 nodes (RF 2, S 16), one adding 200 ms to 5% of its "
          f"searches; {args.queries} queries x {args.rounds} rounds per setting\n")
    print("| hedging | p50 | p90 | p99 | max |")
    print("|---|---|---|---|---|")
    for hedging in (False, True):
        v = results[hedging]
        print(f"| {'on' if hedging else 'off'} | {pct(v, 0.5):.2f} ms | {pct(v, 0.9):.2f} ms | "
              f"{pct(v, 0.99):.2f} ms | {max(v):.2f} ms |")
    total = len(results[True])
    print(f"\nhedges fired: {hedges['fired']} ({100 * hedges['fired'] / total:.1f}% of searches), "
          f"won: {hedges['won']}")


if __name__ == "__main__":
    main()
