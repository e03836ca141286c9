"""Query coalescing: identical searches in flight at the same time share one scatter. With
every node's searches slowed (the development node's faults; skipped against real
Meilisearch), 200 concurrent identical searches make a handful of node requests instead of
one per search and node, and all get the same answer; with `scatter.search_coalescing: false`
each asks every node."""
import os
import threading
import unittest

from test_health import DOCS, fault, load
from test_hedging import counter
from test_search_differential import Cluster


def node_searches(cluster):
    """Every node request Miroir made so far."""
    return sum(float(line.split()[-1])
               for line in cluster.call("GET", "/_miroir/metrics").body.decode().splitlines()
               if line.startswith("miroir_upstream_requests_total{"))


def storm(cluster, count, body):
    """`count` identical searches at once: their answers."""
    answers = [None] * count
    start = threading.Barrier(count)

    def one(i):
        start.wait()
        r = cluster.call("POST", "/indexes/h/search", body)
        answers[i] = (r.status, r.json())
    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


@unittest.skipIf(os.environ.get("MEILISEARCH_BIN"), "needs the development node's faults")
class Coalescing(unittest.TestCase):
    def run_storm(self, extra):
        cluster = Cluster({"nodes": 3, "rf": 1, "shards": 8},
                          f"  scatter:\n    hedging: {{enabled: false}}\n{extra}")
        try:
            load(cluster)
            for node in cluster.nodes:
                fault(node, routeClass="search", latencyMs=300)
            before = node_searches(cluster)
            answers = storm(cluster, 200, {"q": "", "limit": 5, "facets": ["genre"]})
            asked = node_searches(cluster) - before
            self.assertEqual({s for s, _ in answers}, {200})
            hits = {tuple(h["id"] for h in a["hits"]) for _, a in answers}
            self.assertEqual(len(hits), 1)
            self.assertEqual({a["estimatedTotalHits"] for _, a in answers}, {len(DOCS)})
            return asked, counter(cluster, "miroir_search_coalesced_total")
        finally:
            cluster.stop()

    def test_identical_searches_share_one_scatter(self):
        asked, coalesced = self.run_storm("")
        print(f"\n  coalescing on: {asked:.0f} node requests for 200 searches, "
              f"{coalesced:.0f} coalesced")
        self.assertLessEqual(asked, 30)
        self.assertGreaterEqual(coalesced, 190)
        asked, coalesced = self.run_storm("    search_coalescing: false\n")
        print(f"  coalescing off: {asked:.0f} node requests")
        self.assertGreaterEqual(asked, 600)
        self.assertEqual(coalesced, 0)


if __name__ == "__main__":
    unittest.main()
