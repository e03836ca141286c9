#!/usr/bin/env python3
"""Alias resolution and session bookkeeping on the search path: the same searches through
Miroir over three nodes (S = 64, RF 1), asked three ways in the same run, alternating on one
keep-alive connection: by the index's uid, by an alias of it, and by the uid in a
read-your-writes session that wrote before (each read looks the session's last write up in the
task store). p50/p90/p99 client latency and their ratios to the first; the answers must be
equal.

usage: bench/aliases.py [--docs 20000] [--queries 400]
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
from ingest import binary_arguments, client, load_index, use_binaries, wait  # noqa: E402

NODE_KEY = "bench-node-key"
SETTINGS = {"searchableAttributes": ["name", "summary", "tags"]}
WORDS = ["library", "python", "server", "tool", "data", "network", "font", "game", "kernel"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=400)
    binary_arguments(ap)
    args = ap.parse_args()
    use_binaries(args)
    from devnode_search import load_corpus  # noqa: E402
    from harness import Miroir  # noqa: E402
    from nodes import Node  # noqa: E402

    docs = load_corpus(args.docs)
    rng = random.Random(7)
    queries = [rng.choice(WORDS) for _ in range(args.queries)]
    nodes = [Node(NODE_KEY).start() for _ in range(3)]
    took = {"index uid": [], "alias": [], "uid in a session": []}
    session = {"X-Miroir-Session": "bench-session"}
    try:
        extra = f"  node_master_key: {NODE_KEY}\n  shards: 64\n"
        with Miroir(nodes=[(f"n{i}", f"http://127.0.0.1:{n.port}") for i, n in enumerate(nodes)],
                    master_key="bench", extra=extra, log_format="json") as m:
            call = client(m.port, "bench")
            load_index(call, SETTINGS, docs)
            status, _ = call("POST", "/_miroir/aliases", {"name": "live", "target": "bench"})
            assert status == 201
            # the session's write: a document written again as it was
            status, task = call("POST", "/indexes/bench/documents", [docs[0]], headers=session)
            assert status == 202, task
            wait(call, task["taskUid"])
            call("POST", "/indexes/bench/search", {"q": "warmup"})
            ways = (("index uid", "bench", None), ("alias", "live", None),
                    ("uid in a session", "bench", session))
            for q in queries:
                answers = []
                for name, uid, headers in ways:
                    started = time.perf_counter()
                    status, result = call("POST", f"/indexes/{uid}/search", {"q": q, "limit": 10},
                                          headers=headers)
                    took[name].append((time.perf_counter() - started) * 1000)
                    assert status == 200, result
                    result.pop("processingTimeMs", None)
                    result.pop("requestUid", None)
                    answers.append(result)
                assert answers[0] == answers[1] == answers[2], answers
    finally:
        for n in nodes:
            n.stop()
    print(f"{args.docs} documents, {args.queries} searches each way, Miroir over 3 nodes (S=64)\n")
    print("| searched by | p50 | p90 | p99 |")
    print("|---|---|---|---|")
    pcts = {}
    for name, values in took.items():
        values.sort()
        pct = lambda x: values[min(len(values) - 1, int(x * len(values)))]
        pcts[name] = [pct(0.5), pct(0.9), pct(0.99)]
        print(f"| {name} | {pct(0.5):.2f} ms | {pct(0.9):.2f} ms | {pct(0.99):.2f} ms |")
    for name in ("alias", "uid in a session"):
        ratio = [a / b for a, b in zip(pcts[name], pcts["index uid"])]
        print(f"| ratio {name} / uid | {ratio[0]:.3f} | {ratio[1]:.3f} | {ratio[2]:.3f} |")


if __name__ == "__main__":
    main()
