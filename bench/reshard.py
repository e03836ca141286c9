#!/usr/bin/env python3
"""Reshard benchmark: an index of the Debian documents loaded through Miroir over three nodes
(RF 2, S=16) is resharded to 64 while one client searches and another writes, each request
after the last. It prints, in the same run, the backfill rate against the first load's rate,
how long the switch held the writes, and the search and write latencies before and during.

usage: bench/reshard.py [--docs 50000] [--to 64] [--idle]
       [--miroir build/release/src/miroir] [--devnode build/release/devnode/miroir-devnode]
"""
import argparse
import time

from ingest import NODE_KEY, binary_arguments, client, load_index, summary_queries, use_binaries
from rebalance import SETTINGS, Traffic, documents, measure, percentile


def follow(call):
    """Polls the reshard until it is switched; the seconds each phase was seen in."""
    seen, last, started = {}, None, time.perf_counter()
    while True:
        status, body = call("GET", "/_miroir/indexes/bench/reshard/status")
        assert status == 200 and body["status"] != "failed", body
        now = time.perf_counter()
        if last:
            seen[last] = seen.get(last, 0) + now - started
        started, last = now, body["phase"]
        if body["phase"] == "switched":
            return seen, body
        time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--to", type=int, default=64)
    ap.add_argument("--idle", action="store_true", help="no searches or writes meanwhile")
    binary_arguments(ap)
    args = ap.parse_args()
    use_binaries(args)
    from harness import Miroir  # noqa: E402 (reads MIROIR_BIN at import)
    from nodes import Node  # noqa: E402

    docs = documents(args.docs)
    words = summary_queries(docs, 300, 11)  # the query set of bench/search.py
    nodes = [Node(NODE_KEY).start() for _ in range(3)]
    try:
        extra = f"  node_master_key: {NODE_KEY}\n  shards: 16\n"
        with Miroir(nodes=[(f"n{i}", f"http://127.0.0.1:{n.port}") for i, n in enumerate(nodes)],
                    master_key="bench", replication_factor=2, extra=extra) as m:
            call = client(m.port, "bench")
            started = time.perf_counter()
            load_index(call, SETTINGS, docs)
            load_rate = len(docs) / (time.perf_counter() - started)
            call("POST", "/indexes/bench/search", {"q": "warmup"})  # builds the nodes' caches
            (search_before, write_before), _ = measure(m.port, words, 0 if args.idle else 5)
            traffic = [Traffic(m.port, "search", words), Traffic(m.port, "write", words)]
            for t in traffic:
                if not args.idle:
                    t.start()
            started = time.perf_counter()
            status, body = call("POST", "/_miroir/indexes/bench/reshard", {"new_shards": args.to})
            assert status == 202, body
            phases, body = follow(call)
            took = time.perf_counter() - started
            search_during, write_during = (t.stop() if t.is_alive() else [] for t in traffic)
            errors = sum(t.errors for t in traffic)
            _, report = call("GET", "/_miroir/verify?index=bench&ids=false")
    finally:
        for n in nodes:
            n.stop()

    copying = phases.get("copying", 0)
    print(f"{args.docs} documents, RF 2, three nodes, 16 → {args.to} shards")
    print("\n| reshard | documents copied | copying | copied docs/s | first load docs/s | ratio | "
          "switch (gates closed) | mended at the switch | took | verify |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rate = body["documentsCopied"] / copying if copying else float("nan")
    print(f"| 16 → {args.to} | {body['documentsCopied']:,} | {copying:.1f} s | {rate:,.0f} | "
          f"{load_rate:,.0f} | {rate / load_rate:.2f} | {phases.get('switching', 0):.2f} s | "
          f"{body['documentsRepaired']} | {took:.1f} s | {report['status']} |")
    print("\n| latency (ms) | before: p50 | p99 | during: p50 | p99 | max | requests during |")
    print("|---|---|---|---|---|---|---|")
    for name, before, during in (("search", search_before, search_during),
                                 ("write of 10 docs", write_before, write_during)):
        print(f"| {name} | {percentile(before, 50):.1f} | {percentile(before, 99):.1f} | "
              f"{percentile(during, 50):.1f} | {percentile(during, 99):.1f} | "
              f"{max(during, default=float('nan')):.1f} | {len(during)} |")
    print(f"\nfailed requests during the reshard: {errors}")


if __name__ == "__main__":
    main()
