"""Adaptive replica selection, hedged reads, deadlines and cancellation, with a replica slowed by
the development node's fault injection (skipped against real Meilisearch binaries): slow reads
are hedged to another replica and answered in full near the hedge trigger, the slow side
cancelled; a spent hedge budget stops hedging; adaptive selection stops choosing a slow
replica; a read's deadline and its client leaving end its node requests."""
import json
import os
import socket
import time
import unittest

from test_health import DOCS, fault, load
from test_search_differential import MASTER, Cluster


def config(selection, hedging):
    return (f"  scatter:\n    node_timeout_ms: 10000\n    replica_selection: {selection}\n"
            f"    adaptive: {{epsilon: 0}}\n    hedging: {hedging}\n")


def timed_searches(cluster, count):
    took = []
    for _ in range(count):
        started = time.monotonic()
        r = cluster.call("POST", "/indexes/h/search", {"q": "", "limit": 100}, )
        took.append(time.monotonic() - started)
        assert r.status == 200, r.body
        assert r.json()["estimatedTotalHits"] == len(DOCS), r.body
        assert r.headers.get("x-miroir-degraded") is None
    return took


def counter(cluster, line_start):
    metrics = cluster.call("GET", "/_miroir/metrics").body.decode()
    for line in metrics.splitlines():
        if line.startswith(line_start):
            return float(line.split()[-1])
    return 0.0


def upstream_count(cluster, node, outcome):
    metrics = cluster.call("GET", "/_miroir/metrics").body.decode()
    return sum(float(line.split()[-1]) for line in metrics.splitlines()
               if line.startswith("miroir_upstream_requests_total{")
               and f'node="{node}"' in line and f'outcome="{outcome}"' in line)


@unittest.skipIf(os.environ.get("MEILISEARCH_BIN"), "needs the development node's faults")
class HedgingAndAdaptiveSelection(unittest.TestCase):
    def test_a_slow_replica_is_hedged(self):
        cluster = Cluster({"nodes": 3, "rf": 2, "shards": 8},
                          config("round_robin",
                                 "{floor_ms: 50, multiplier: 2, budget_fraction: 1}"))
        try:
            load(cluster)
            fault(cluster.nodes[1], routeClass="search", latencyMs=3000)
            took = timed_searches(cluster, 12)
            # every search answered well before the injected 3 s
            self.assertLess(max(took), 1.5, took)
            self.assertGreater(counter(cluster, 'miroir_hedges_total{result="fired"}'), 0)
            self.assertGreater(counter(cluster, 'miroir_hedges_total{result="won"}'), 0)
            # the slow side was closed when its hedge answered, not left to run for 3 s
            self.assertGreater(counter(cluster, "miroir_hedge_cancelled_total"), 0)
            self.assertGreater(upstream_count(cluster, "d1", "canceled"), 0)
        finally:
            cluster.stop()

    def test_a_spent_budget_stops_hedging(self):
        cluster = Cluster({"nodes": 3, "rf": 2, "shards": 8},
                          config("round_robin",
                                 "{floor_ms: 50, multiplier: 2, budget_fraction: 0}"))
        try:
            load(cluster)
            fault(cluster.nodes[1], routeClass="search", latencyMs=3000)
            took = timed_searches(cluster, 4)
            self.assertGreater(max(took), 2.5, took)  # waited for the slow replica
            self.assertGreater(counter(cluster, "miroir_hedge_budget_exhausted_total"), 0)
            self.assertEqual(counter(cluster, 'miroir_hedges_total{result="fired"}'), 0)
        finally:
            cluster.stop()

    def test_adaptive_selection_leaves_a_slow_replica(self):
        cluster = Cluster({"nodes": 3, "rf": 2, "shards": 8},
                          config("adaptive", "{enabled: false}"))
        try:
            load(cluster)
            fault(cluster.nodes[1], routeClass="search", latencyMs=400)
            timed_searches(cluster, 10)  # the slow replica gets known
            took = timed_searches(cluster, 10)
            self.assertLess(max(took), 0.3, took)
        finally:
            cluster.stop()

    def test_cross_group_hedges_reach_the_other_group(self):
        # two groups of one node: a node's only stand-in is in the other group
        shape = {"nodes": 2, "rf": 1, "shards": 8, "groups": 2}
        for cross_group, slowest in ((False, 2.5), (True, None)):
            cluster = Cluster(shape, config(
                "round_robin", "{floor_ms: 50, multiplier: 2, budget_fraction: 1, "
                               f"cross_group: {str(cross_group).lower()}}}"))
            try:
                load(cluster)
                fault(cluster.nodes[0], routeClass="search", latencyMs=3000)
                took = timed_searches(cluster, 4)  # two of them are d0's group's turn
                if slowest:
                    self.assertGreater(max(took), slowest, took)
                    self.assertEqual(counter(cluster, 'miroir_hedges_total{result="fired"}'), 0)
                else:
                    self.assertLess(max(took), 1.5, took)
                    self.assertGreater(counter(cluster, 'miroir_hedges_total{result="won"}'), 0)
            finally:
                cluster.stop()

    def test_random_selection_spreads_reads_over_the_replicas(self):
        cluster = Cluster({"nodes": 3, "rf": 2, "shards": 8}, config("random", "{enabled: false}"))
        try:
            load(cluster)

            def searches_per_node():
                metrics = cluster.call("GET", "/_miroir/metrics").body.decode()
                return [sum(float(line.split()[-1]) for line in metrics.splitlines()
                            if line.startswith("miroir_upstream_requests_total{")
                            and f'node="d{i}"' in line) for i in range(3)]
            before = searches_per_node()
            timed_searches(cluster, 30)
            after = searches_per_node()
            self.assertTrue(all(a - b > 0 for a, b in zip(after, before)), (before, after))
        finally:
            cluster.stop()


@unittest.skipIf(os.environ.get("MEILISEARCH_BIN"), "needs the development node's faults")
class DeadlinesAndCancellation(unittest.TestCase):
    """A read past its deadline and the read of a client that left stop their node requests
    (outcome `timeout` or `canceled`) instead of waiting them out."""

    def test_a_read_past_its_deadline_answers_without_the_slow_node(self):
        # one replica per shard, no hedging: only the deadline can end the slow node's share
        cluster = Cluster({"nodes": 2, "rf": 1, "shards": 8},
                          "  scatter:\n    node_timeout_ms: 10000\n    read_deadline_ms: 400\n"
                          "    hedging: {enabled: false}\n")
        try:
            load(cluster)
            fault(cluster.nodes[1], routeClass="search", latencyMs=3000)
            started = time.monotonic()
            r = cluster.call("POST", "/indexes/h/search", {"q": "", "limit": 100})
            took = time.monotonic() - started
            self.assertEqual(r.status, 200, r.body)
            self.assertIsNotNone(r.headers.get("x-miroir-degraded"), r.headers)
            self.assertLess(r.json()["estimatedTotalHits"], len(DOCS))
            self.assertLess(took, 2.5)
            self.assertGreater(upstream_count(cluster, "d1", "timeout"), 0)
        finally:
            cluster.stop()

    def test_a_client_that_leaves_cancels_its_read(self):
        cluster = Cluster({"nodes": 2, "rf": 1, "shards": 8},
                          "  scatter:\n    hedging: {enabled: false}\n")
        try:
            load(cluster)
            fault(cluster.nodes[1], routeClass="search", latencyMs=5000)
            body = json.dumps({"q": ""}).encode()
            with socket.create_connection(("127.0.0.1", cluster.m.port)) as s:
                s.sendall(b"POST /indexes/h/search HTTP/1.1\r\nHost: x\r\n"
                          b"Authorization: Bearer " + MASTER.encode() + b"\r\n"
                          b"Content-Type: application/json\r\n"
                          b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                time.sleep(0.5)
            # the slow node's request is closed once the client is gone, well before its 5 s
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                if counter(cluster, "miroir_client_disconnects_total") > 0:
                    break
                time.sleep(0.1)
            self.assertEqual(counter(cluster, "miroir_client_disconnects_total"), 1)
            self.assertGreater(upstream_count(cluster, "d1", "canceled"), 0)
            # the next client is answered in full
            self.assertEqual(cluster.nodes[1].call("DELETE", "/_devnode/faults").status, 200)
            r = cluster.call("POST", "/indexes/h/search", {"q": "", "limit": 100})
            self.assertEqual(r.json()["estimatedTotalHits"], len(DOCS), r.body)
        finally:
            cluster.stop()


if __name__ == "__main__":
    unittest.main()
