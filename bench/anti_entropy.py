#!/usr/bin/env python3
"""Anti-entropy and hint benchmark: Debian documents in Miroir over three development nodes
(RF 2), then

1. a pass over replicas that agree: node requests, bytes read, Miroir CPU seconds, wall time,
   per million documents;
2. the same after 1% of one node's documents were deleted on the node directly, with what was
   repaired;
3. search latency (one client, sequential) during a pass against the same client with no pass,
   same run;
4. the hint replay rate: a node refuses writes while documents are written through Miroir
   (`write_quorum: one`), then the time until every hint is replayed, against the rate of the
   first load (same run).

usage: bench/anti_entropy.py [--docs N (default: the whole corpus)] [--shards 64]
       [--miroir build/release/src/miroir] [--devnode build/release/devnode/miroir-devnode]
"""
import argparse
import random
import threading
import time

from ingest import (NODE_KEY, binary_arguments, client, cpu_seconds, load_index,
                    summary_queries, upstream_total, use_binaries)
from rebalance import SETTINGS, documents, percentile


class Searches(threading.Thread):
    def __init__(self, port, words):
        super().__init__(daemon=True)
        self.call = client(port, "bench")
        self.words = words
        self.latencies = []
        self.halt = threading.Event()

    def run(self):
        rng = random.Random(3)
        while not self.halt.is_set():
            started = time.perf_counter()
            status, _ = self.call("POST", "/indexes/bench/search",
                                  {"q": rng.choice(self.words), "limit": 10})
            assert status == 200
            self.latencies.append((time.perf_counter() - started) * 1000)

    def stop(self):
        self.halt.set()
        self.join()
        return self.latencies


def run_pass(call, port, pid):
    """A pass over `bench`, with its cost: (pass counts, node requests, CPU s, wall s)."""
    requests, cpu = upstream_total(port), cpu_seconds(pid)
    started = time.perf_counter()
    status, asked = call("POST", "/_miroir/anti-entropy/run", {"index": "bench"})
    assert status == 202, asked
    while True:
        _, state = call("GET", "/_miroir/anti-entropy/status")
        entry = next((e for e in state["indexes"] if e["index"] == "bench"), {})
        if entry.get("lastPass", {}).get("finishedAt", 0) >= asked["requestedAt"]:
            break
        time.sleep(0.05)
    wall = time.perf_counter() - started
    return (entry["lastPass"], upstream_total(port) - requests, cpu_seconds(pid) - cpu, wall)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=-1)
    ap.add_argument("--shards", type=int, default=64)
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
                 "  anti_entropy: { interval_s: 86400, documents_per_second: 0 }\n"
                 "  health: { interval_ms: 200 }\n  upstream: { write_timeout_ms: 2000 }\n")
        with Miroir(nodes=[(f"n{i}", f"http://127.0.0.1:{n.port}") for i, n in enumerate(nodes)],
                    master_key="bench", replication_factor=2, extra=extra,
                    log_format="json") as m:
            call = client(m.port, "bench")
            started = time.perf_counter()
            load_index(call, SETTINGS, docs)
            load_rate = len(docs) / (time.perf_counter() - started)
            pid = m.proc.pid
            per_million = 1_000_000 / len(docs)
            rows = []

            agree = run_pass(call, m.port, pid)
            rows.append(("replicas agree", agree))

            n0 = nodes[0]
            held = [d["id"] for d in n0.call("POST", "/indexes/bench/documents/fetch",
                                             {"limit": 1_000_000,
                                              "fields": ["id"]}).json()["results"]]
            doomed = random.Random(5).sample(held, len(held) // 100)
            n0.run("POST", "/indexes/bench/documents/delete-batch", doomed)
            damaged = run_pass(call, m.port, pid)
            rows.append((f"1% of one node deleted ({len(doomed)})", damaged))

            print(f"\n{len(docs):,} documents, {args.shards} shards, RF 2, 3 nodes; first load "
                  f"{load_rate:,.0f} docs/s\n")
            print("| pass | documents read | node requests | MB read | Miroir CPU s | wall s |"
                  " per million docs: requests, MB, CPU s | buckets differing | written |")
            print("|---|---|---|---|---|---|---|---|---|")
            for name, (counts, requests, cpu, wall) in rows:
                mb = counts["bytesRead"] / 1e6
                print(f"| {name} | {counts['documentsRead']:,} | {requests:,.0f} | {mb:.1f} | "
                      f"{cpu:.2f} | {wall:.1f} | {requests * per_million:,.0f}, "
                      f"{mb * per_million:,.0f}, {cpu * per_million:.1f} | "
                      f"{counts['bucketsDiffering']} | {counts['documentsWritten']} |")

            quiet = Searches(m.port, words)
            quiet.start()
            time.sleep(8)
            baseline = quiet.stop()
            busy = Searches(m.port, words)
            busy.start()
            run_pass(call, m.port, pid)
            during = busy.stop()
            print("\n| searches | count | p50 ms | p99 ms |\n|---|---|---|---|")
            for name, lat in (("no pass", baseline), ("during a pass", during)):
                print(f"| {name} | {len(lat)} | {percentile(lat, 50):.2f} | "
                      f"{percentile(lat, 99):.2f} |")

            # hints: node 1 refuses writes while the corpus is written again under new ids
            fault = {"routeClass": "writes", "errorRate": 1.0, "errorStatus": 503}
            assert nodes[1].call("PUT", "/_devnode/faults", fault).status == 200
            extra_docs = [dict(d, id=d["id"] + 10_000_000) for d in docs]
            for i in range(0, len(extra_docs), 5000):
                status, task = call("POST", "/indexes/bench/documents", extra_docs[i:i + 5000])
                assert status == 202, task
            _, hints = call("GET", "/_miroir/hints")
            named = sum(n["documents"] for n in hints["nodes"])
            started = time.perf_counter()
            nodes[1].call("DELETE", "/_devnode/faults")
            while call("GET", "/_miroir/hints")[1]["pending"]:
                time.sleep(0.05)
            replay = time.perf_counter() - started
            print(f"\nhints: {hints['pending']} hints naming {named:,} documents replayed in "
                  f"{replay:.1f} s (from the node answering again: health probes every 200 ms, "
                  f"replay rounds every second): {named / replay:,.0f} docs/s, "
                  f"{named / replay / load_rate:.2f}x the first load's rate")
    finally:
        for n in nodes:
            n.stop()


if __name__ == "__main__":
    main()
