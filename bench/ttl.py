#!/usr/bin/env python3
"""Document TTL benchmark: Debian documents in Miroir over three development nodes (RF 2), then

1. search latency (one client, sequential) with the index's TTL policy disabled and enabled,
   alternating in the same run: what the unexpired filter every read ANDs costs;
2. the sweeper's rate: every document written again expiring two seconds later, then the time
   until no node holds an expired copy (`sweep_interval_s: 1`, `max_deletes_per_sweep: 10000`).

usage: bench/ttl.py [--docs N (default: the whole corpus)] [--shards 64] [--queries 300]
       [--miroir build/release/src/miroir] [--devnode build/release/devnode/miroir-devnode]
"""
import argparse
import random
import time

from ingest import NODE_KEY, binary_arguments, client, load_index, summary_queries, use_binaries
from ingest import wait
from rebalance import SETTINGS, documents, percentile


def searches(call, words, count, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        started = time.perf_counter()
        status, _ = call("POST", "/indexes/bench/search", {"q": rng.choice(words), "limit": 10})
        assert status == 200
        out.append((time.perf_counter() - started) * 1000)
    return out


def expired_copies(nodes):
    total = 0
    for n in nodes:
        r = n.call("POST", "/indexes/bench/documents/fetch",
                   {"limit": 1, "fields": ["id"], "filter": "_miroir_expires_at EXISTS"})
        total += r.json()["total"]
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=-1)
    ap.add_argument("--shards", type=int, default=64)
    ap.add_argument("--queries", type=int, default=300)
    binary_arguments(ap)
    args = ap.parse_args()
    use_binaries(args)
    from harness import Miroir  # noqa: E402 (reads MIROIR_BIN at import)
    from nodes import Node  # noqa: E402

    docs = documents(args.docs)
    words = summary_queries(docs, 300, 11)
    nodes = [Node(NODE_KEY).start() for _ in range(3)]
    try:
        extra = (f"  node_master_key: {NODE_KEY}\n  shards: {args.shards}\n"
                 "  anti_entropy: { enabled: false }\n")
        with Miroir(nodes=[(f"n{i}", f"http://127.0.0.1:{n.port}") for i, n in enumerate(nodes)],
                    master_key="bench", replication_factor=2, extra=extra,
                    log_format="json") as m:
            call = client(m.port, "bench")
            load_index(call, SETTINGS, docs)
            policy = "/_miroir/indexes/bench/ttl-policy"
            assert call("POST", policy, {"sweep_interval_s": 3600})[0] == 200
            rounds = {"off": [], "on": []}
            for i in range(6):
                state = "on" if i % 2 else "off"
                if state == "off":
                    assert call("DELETE", policy)[0] == 200
                else:
                    assert call("POST", policy, {"enabled": True})[0] == 200
                rounds[state] += searches(call, words, args.queries, i)
            print(f"\n{len(docs):,} documents, {args.shards} shards, RF 2, 3 nodes\n")
            print("| TTL policy | searches | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|---|")
            for state, lat in rounds.items():
                print(f"| {state} | {len(lat)} | {percentile(lat, 50):.2f} | "
                      f"{percentile(lat, 90):.2f} | {percentile(lat, 99):.2f} |")
            off, on = rounds["off"], rounds["on"]
            print(f"| ratio on / off | | {percentile(on, 50) / percentile(off, 50):.3f} | "
                  f"{percentile(on, 90) / percentile(off, 90):.3f} | "
                  f"{percentile(on, 99) / percentile(off, 99):.3f} |")

            expiry = int(time.time()) + 2
            for i in range(0, len(docs), 20_000):
                batch = [dict(d, _miroir_expires_at=expiry) for d in docs[i:i + 20_000]]
                status, task = call("POST", "/indexes/bench/documents", batch)
                assert status == 202, task
                assert wait(call, task["taskUid"])["status"] == "succeeded"
            copies = expired_copies(nodes)
            time.sleep(max(0.0, expiry - time.time()))
            started = time.perf_counter()
            assert call("POST", policy, {"sweep_interval_s": 1,
                                         "max_deletes_per_sweep": 10000})[0] == 200
            while expired_copies(nodes):
                time.sleep(0.1)
            took = time.perf_counter() - started
            print(f"\nsweeper: {copies:,} expired copies deleted from the nodes in {took:.1f} s "
                  f"({copies / took:,.0f} copies/s; sweeps every second, about 10,000 documents "
                  "per node each, whole shards)")
    finally:
        for n in nodes:
            n.stop()


if __name__ == "__main__":
    main()
