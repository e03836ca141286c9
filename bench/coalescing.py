#!/usr/bin/env python3
"""Query coalescing: 200 identical searches sent at once to Miroir over three development
nodes (S = 64, RF 1), with `scatter.search_coalescing` on and off, in one run: node requests
made (miroir_upstream_requests_total) and the searches' client latency (p50/p90/max).

usage: bench/coalescing.py [--docs 20000] [--clients 200]
       [--miroir build/release/src/miroir] [--devnode build/release/devnode/miroir-devnode]
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from ingest import (binary_arguments, client, load_index, upstream_total,  # noqa: E402
                    use_binaries)

NODE_KEY = "bench-node-key"
SETTINGS = {"searchableAttributes": ["name", "summary", "tags"],
            "filterableAttributes": ["section", "priority"]}
BODY = json.dumps({"q": "library", "limit": 20, "facets": ["section"]})


def burst(port, clients):
    """`clients` connections, each sending the same search at the same moment: latencies."""
    took = [0.0] * clients
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for _ in range(clients)]
    for c in conns:
        c.connect()
    start = threading.Barrier(clients)

    def one(i):
        start.wait()
        began = time.perf_counter()
        conns[i].request("POST", "/indexes/bench/search", body=BODY,
                         headers={"Authorization": "Bearer bench",
                                  "Content-Type": "application/json"})
        r = conns[i].getresponse()
        r.read()
        took[i] = (time.perf_counter() - began) * 1000
        assert r.status == 200
    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(took)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--clients", type=int, default=200)
    binary_arguments(ap)
    args = ap.parse_args()
    use_binaries(args)
    from devnode_search import load_corpus  # noqa: E402
    from harness import Miroir  # noqa: E402
    from nodes import Node  # noqa: E402

    docs = load_corpus(args.docs)
    rows = []
    for on in (True, False):
        nodes = [Node(NODE_KEY).start() for _ in range(3)]
        try:
            extra = (f"  node_master_key: {NODE_KEY}\n  shards: 64\n"
                     f"  scatter: {{ search_coalescing: {str(on).lower()} }}\n")
            with Miroir(nodes=[(f"n{i}", f"http://127.0.0.1:{n.port}")
                               for i, n in enumerate(nodes)],
                        master_key="bench", extra=extra, log_format="json") as m:
                load_index(client(m.port, "bench"), SETTINGS, docs)
                burst(m.port, 8)  # warm connections and caches
                results = []
                for _ in range(3):
                    before = upstream_total(m.port)
                    took = burst(m.port, args.clients)
                    results.append((upstream_total(m.port) - before, took))
                asked = sorted(r[0] for r in results)[1]
                took = sorted((r[1] for r in results), key=lambda t: t[len(t) // 2])[1]
                rows.append(("on" if on else "off", asked, took))
        finally:
            for n in nodes:
                n.stop()
    print(f"{args.docs} documents, {args.clients} identical searches at once, "
          f"Miroir over 3 nodes (S=64), median of 3 bursts\n")
    print("| coalescing | node requests | p50 | p90 | slowest |")
    print("|---|---|---|---|---|")
    for name, asked, took in rows:
        pct = lambda x: took[min(len(took) - 1, int(x * len(took)))]
        print(f"| {name} | {asked:.0f} | {pct(0.5):.1f} ms | {pct(0.9):.1f} ms | {took[-1]:.1f} ms |")


if __name__ == "__main__":
    main()
