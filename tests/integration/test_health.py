"""Node health and read failover: the health checker moves nodes between healthy, suspect and
down (GET /_miroir/topology, metrics), and reads keep full results when a replica fails —
retried on another replica at once, then skipped while the node is down, read from another
replica group when the chosen one cannot serve a shard. Uses the development node's fault
injection, so it is skipped against real Meilisearch binaries."""
import json
import os
import time
import unittest

from test_search_differential import Cluster, corpus, wait_miroir

HEALTH = ("  health: {interval_ms: 150, timeout_ms: 300, unhealthy_threshold: 2, "
          "recovery_threshold: 2}\n  scatter: {node_timeout_ms: 600}\n")
DOCS = corpus(__import__("random").Random(3), 60)


def load(cluster):
    for method, path, body in [("POST", "/indexes", {"uid": "h", "primaryKey": "id"}),
                               ("PATCH", "/indexes/h/settings",
                                {"filterableAttributes": ["genre"]}),
                               ("POST", "/indexes/h/documents", DOCS)]:
        r = cluster.call(method, path, body)
        assert r.status == 202, r.body
        wait_miroir(cluster, r.json()["taskUid"])


def states(cluster):
    r = cluster.call("GET", "/_miroir/topology")
    assert r.status == 200, r.body
    return {n["id"]: n["state"] for n in r.json()["nodes"]}


def wait_state(cluster, node, state, timeout=6.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if states(cluster)[node] == state:
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"{node} never became {state}: {states(cluster)}")


def fault(node, **spec):
    r = node.call("PUT", "/_devnode/faults", spec)
    assert r.status == 200, r.body


@unittest.skipIf(os.environ.get("MEILISEARCH_BIN"), "needs the development node's faults")
class NodeHealthAndFailover(unittest.TestCase):
    def full_reads(self, cluster):
        """Every read answers from every shard: full totals, no degraded header."""
        for _ in range(6):  # several turns: every replica choice
            r = cluster.call("POST", "/indexes/h/search", {"q": "", "limit": 100})
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["estimatedTotalHits"], len(DOCS))
            self.assertEqual(len(r.json()["hits"]), len(DOCS))
            self.assertIsNone(r.headers.get("x-miroir-degraded"), r.headers)
        r = cluster.call("GET", "/indexes/h/documents?limit=100")
        self.assertEqual((r.status, r.json()["total"], len(r.json()["results"])),
                         (200, len(DOCS), len(DOCS)), r.body)
        r = cluster.call("POST", "/indexes/h/facet-search", {"facetName": "genre"})
        self.assertEqual(sum(h["count"] for h in r.json()["facetHits"]), len(DOCS), r.body)
        for doc in DOCS[:12]:  # documents by id, whichever owner is failing
            r = cluster.call("GET", f"/indexes/h/documents/{doc['id']}")
            self.assertEqual((r.status, r.json()), (200, doc), r.body)

    def test_a_failing_replica_is_retried_then_skipped_then_recovers(self):
        cluster = Cluster({"nodes": 3, "rf": 2, "shards": 8}, HEALTH)
        try:
            load(cluster)
            self.assertEqual(set(states(cluster).values()), {"healthy"})
            topology = cluster.call("GET", "/_miroir/topology").json()
            self.assertEqual(topology["unavailableShards"], [])
            self.assertTrue(all(g["complete"] for g in topology["groups"]))

            # d0's searches fail while its health probes pass: each search d0 fails is
            # answered in full by the other replicas, in the same request
            fault(cluster.nodes[0], routeClass="search", errorRate=1, errorStatus=503)
            self.full_reads(cluster)
            metrics = cluster.call("GET", "/_miroir/metrics").body.decode()
            self.assertIn('miroir_read_retries_total{node="d0"}', metrics)
            self.assertNotIn('miroir_read_retries_total{node="d1"}', metrics)

            # every request to d0 fails: down after two probes, and skipped
            fault(cluster.nodes[0], routeClass="all", errorRate=1, errorStatus=503)
            self.full_reads(cluster)
            wait_state(cluster, "d0", "down")
            self.full_reads(cluster)
            metrics = cluster.call("GET", "/_miroir/metrics").body.decode()
            self.assertIn('miroir_node_healthy{node="d0"} 0', metrics)
            self.assertIn('miroir_node_healthy{node="d1"} 1', metrics)

            # back: healthy again after recovery_threshold good probes
            cluster.nodes[0].call("DELETE", "/_devnode/faults")
            wait_state(cluster, "d0", "healthy")
            self.full_reads(cluster)

            # a replica that hangs: its shards are asked elsewhere after the node timeout
            fault(cluster.nodes[1], routeClass="search", hang=True)
            started = time.monotonic()
            r = cluster.call("POST", "/indexes/h/search", {"q": "", "limit": 100})
            self.assertEqual((r.status, r.json()["estimatedTotalHits"]), (200, len(DOCS)))
            self.assertLess(time.monotonic() - started, 5)
            cluster.nodes[1].call("DELETE", "/_devnode/faults")
        finally:
            cluster.stop()

    def test_a_group_that_cannot_serve_gives_way(self):
        # two groups of two nodes, RF 1: with d0 down, group 0 lacks d0's shards
        cluster = Cluster({"nodes": 4, "rf": 1, "shards": 8, "groups": 2}, HEALTH)
        try:
            load(cluster)
            fault(cluster.nodes[0], routeClass="all", errorRate=1, errorStatus=503)
            wait_state(cluster, "d0", "down")
            topology = cluster.call("GET", "/_miroir/topology").json()
            self.assertEqual([g["complete"] for g in topology["groups"]], [False, True])
            self.assertEqual(topology["unavailableShards"], [])
            self.full_reads(cluster)
            # d2 too (group 1): each shard from whichever group still holds it
            fault(cluster.nodes[2], routeClass="all", errorRate=1, errorStatus=503)
            wait_state(cluster, "d2", "down")
            topology = cluster.call("GET", "/_miroir/topology").json()
            lost = topology["unavailableShards"]
            r = cluster.call("POST", "/indexes/h/search", {"q": "", "limit": 100})
            self.assertEqual(r.status, 200, r.body)
            if lost:
                self.assertEqual(r.headers.get("x-miroir-degraded"),
                                 "shards=" + ",".join(map(str, lost)))
            else:
                self.assertEqual(r.json()["estimatedTotalHits"], len(DOCS))
                self.assertIsNone(r.headers.get("x-miroir-degraded"))
        finally:
            cluster.stop()


if __name__ == "__main__":
    unittest.main()
