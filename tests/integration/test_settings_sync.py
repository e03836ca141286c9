"""Two-phase settings: a change is verified on every node and committed as the index's next
settings version (X-Miroir-Settings-Version); nodes changed behind Miroir's back are repaired
by the drift checker; a node that missed a change is excluded by X-Miroir-Min-Settings-Version
and repaired when it can be; a node that cannot be repaired freezes writes to the index. Uses
the development node's fault injection, so it is skipped against real Meilisearch binaries."""
import os
import time
import unittest

from test_search_differential import MASTER, Cluster, corpus, wait_miroir

# no node goes down in these tests: default health checks, so that a loaded machine's slow
# probe does not take a node out of reads
SYNC = "  settings: {drift_check_interval_ms: 150, repair_attempts: 3, repair_backoff_ms: 50}\n"
DOCS = corpus(__import__("random").Random(5), 40)


def eventually(check, timeout=8.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def metric(cluster, line_start):
    text = cluster.call("GET", "/_miroir/metrics").body.decode()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(line_start))


def fault(node, **spec):
    r = node.call("PUT", "/_devnode/faults", spec)
    assert r.status == 200, r.body


@unittest.skipIf(os.environ.get("MEILISEARCH_BIN"), "needs the development node's faults")
class TwoPhaseSettings(unittest.TestCase):
    def setUp(self):
        # RF 3: a write reaches quorum (2 of 3) while one node refuses it
        self.cluster = Cluster({"nodes": 3, "rf": 3, "shards": 8}, SYNC)
        self.addCleanup(self.cluster.stop)
        c = self.cluster
        r = c.call("POST", "/indexes", {"uid": "s", "primaryKey": "id"})
        wait_miroir(c, r.json()["taskUid"])
        r = c.call("POST", "/indexes/s/documents", DOCS)
        wait_miroir(c, r.json()["taskUid"])

    def version(self, path="/indexes/s/settings"):
        r = self.cluster.call("GET", path) if path.endswith("settings") else \
            self.cluster.call("POST", path, {"q": ""})
        self.assertEqual(r.status, 200, r.body)
        return int(r.headers["x-miroir-settings-version"]), \
            r.headers.get("x-miroir-settings-inconsistent")

    def node_settings(self):
        return [n.call("GET", "/indexes/s/settings").json() for n in self.cluster.nodes]

    def test_a_change_is_committed_once_every_node_holds_it(self):
        c = self.cluster
        self.assertEqual(self.version(), (1, None))  # the index creation
        r = c.call("PATCH", "/indexes/s/settings",
                   {"filterableAttributes": ["genre"], "stopWords": ["the"]})
        self.assertEqual(r.status, 202, r.body)
        wait_miroir(c, r.json()["taskUid"])
        self.assertEqual(self.version(), (2, None))
        self.assertEqual(self.version("/indexes/s/search"), (2, None))
        r = c.call("GET", "/indexes/s/search?q=")
        self.assertEqual(r.headers.get("x-miroir-settings-version"), "2", r.headers)
        settings = self.node_settings()
        self.assertTrue(all(s == settings[0] for s in settings), settings)
        self.assertEqual(settings[0]["stopWords"], ["the"])
        # the same settings again: nothing new to commit
        r = c.call("PATCH", "/indexes/s/settings", {"stopWords": ["the"]})
        wait_miroir(c, r.json()["taskUid"])
        self.assertEqual(self.version(), (2, None))
        # a refused change commits nothing
        r = c.call("PATCH", "/indexes/s/settings", {"rankingRules": ["nonsense:up"]})
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(self.version(), (2, None))

    def test_a_node_changed_behind_miroirs_back_is_repaired(self):
        c = self.cluster
        before = metric(c, "miroir_settings_repairs_total")
        r = c.nodes[1].call("PATCH", "/indexes/s/settings", {"stopWords": ["rogue"]})
        self.assertEqual(r.status, 202, r.body)

        def repaired():
            settings = self.node_settings()
            self.assertEqual(settings[1], settings[0])
            self.assertEqual(settings[1]["stopWords"], [])
        eventually(repaired)
        self.assertGreater(metric(c, "miroir_settings_repairs_total"), before)
        self.assertGreater(metric(c, "miroir_settings_mismatches_total"), 0)
        eventually(lambda: self.assertEqual(self.version(), (1, None)))

    def test_a_node_that_missed_a_change_is_excluded_then_repaired(self):
        c = self.cluster
        fault(c.nodes[2], routeClass="writes", errorRate=1, errorStatus=503)
        r = c.call("PATCH", "/indexes/s/settings", {"stopWords": ["a"]})
        self.assertEqual(r.status, 202, r.body)
        self.assertIn("d2", r.headers.get("x-miroir-degraded", ""))
        wait_miroir(c, r.json()["taskUid"])
        self.assertEqual(self.version(), (2, "true"))
        # a floor of 2 leaves d2 out; the other nodes still cover every shard
        headers = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json"}
        for _ in range(6):
            r = c.m.request("POST", "/indexes/s/search", '{"q": "", "limit": 100}',
                            dict(headers, **{"X-Miroir-Min-Settings-Version": "2"}))
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["estimatedTotalHits"], len(DOCS))
        r = c.m.request("POST", "/multi-search", '{"queries": [{"indexUid": "s", "limit": 100}]}',
                        dict(headers, **{"X-Miroir-Min-Settings-Version": "2"}))
        self.assertEqual(r.json()["results"][0]["estimatedTotalHits"], len(DOCS), r.body)
        r = c.m.request("POST", "/indexes/s/search", '{"q": ""}',
                        dict(headers, **{"X-Miroir-Min-Settings-Version": "3"}))
        self.assertEqual((r.status, r.json()["code"]), (503, "miroir_settings_version_stale"))
        r = c.m.request("POST", "/indexes/s/search", '{"q": ""}',
                        dict(headers, **{"X-Miroir-Min-Settings-Version": "two"}))
        self.assertEqual((r.status, r.json()["code"]), (400, "miroir_invalid_settings_version"))
        # d2 takes settings again: the drift checker brings it to version 2
        c.nodes[2].call("DELETE", "/_devnode/faults")
        eventually(lambda: self.assertEqual(self.version(), (2, None)))
        self.assertEqual(c.nodes[2].call("GET", "/indexes/s/settings").json()["stopWords"], ["a"])

    def test_a_node_that_cannot_be_repaired_freezes_writes(self):
        c = self.cluster
        fault(c.nodes[0], routeClass="writes", errorRate=1, errorStatus=503)
        r = c.call("PATCH", "/indexes/s/settings", {"stopWords": ["b"]})
        wait_miroir(c, r.json()["taskUid"])

        def frozen():
            r = c.call("POST", "/indexes/s/documents", [{"id": "x1", "title": "t"}])
            self.assertEqual(r.status, 503, r.body)
            self.assertEqual(r.json()["code"], "miroir_settings_frozen")
        eventually(frozen)
        self.assertEqual(metric(c, 'miroir_settings_frozen{index="s"}'), 1)
        r = c.call("PATCH", "/indexes/s/settings", {"stopWords": []})
        self.assertEqual((r.status, r.json()["code"]), (503, "miroir_settings_frozen"))
        r = c.call("POST", "/indexes/s/search", {"q": ""})
        self.assertEqual(r.status, 200, r.body)  # reads go on
        # the node takes settings again: repaired, writes thawed
        c.nodes[0].call("DELETE", "/_devnode/faults")

        def thawed():
            r = c.call("POST", "/indexes/s/documents", [{"id": "x1", "title": "t"}])
            self.assertEqual(r.status, 202, r.body)
        eventually(thawed)
        self.assertEqual(metric(c, 'miroir_settings_frozen{index="s"}'), 0)


if __name__ == "__main__":
    unittest.main()
