"""Writes that a node misses, recorded as hints and replayed to it: with `write_quorum: one`
(the default with RF 2) writes are acknowledged while an owner does not take them, the answer
names the node and the shards it missed, and once the node is back every document is on
exactly its owners, as the owners that took the writes hold it. The hints outlive a Miroir
restart. `all` refuses what an owner misses. Runs against real meilisearch binaries when
MEILISEARCH_BIN is set (the node is killed and restarted on its data; a development node is
made to refuse writes instead)."""
import shutil
import time
import unittest

from nodes import Node
from test_search_differential import MASTER, NODE_KEY, Cluster, wait_miroir

REAL = Node().kind != "devnode"
INDEX = "hinted"


def miss(node):
    """The node stops taking writes."""
    if REAL:
        node.kill()
    else:
        r = node.call("PUT", "/_devnode/faults",
                      {"routeClass": "writes", "errorRate": 1.0, "errorStatus": 503})
        assert r.status == 200, r.body


def back(node):
    if REAL:
        node.restart()
    else:
        assert node.call("DELETE", "/_devnode/faults").status in (200, 204)


def documents_on(node):
    r = node.call("POST", f"/indexes/{INDEX}/documents/fetch",
                  {"limit": 100000, "fields": ["id", "v", "_miroir_shard"]})
    assert r.status == 200, r.body
    return {d["id"]: d for d in r.json()["results"]}


class Hints(unittest.TestCase):
    def setUp(self):
        # a short write timeout: a killed node is given up on quickly
        self.cluster = Cluster({"nodes": 3, "rf": 2, "shards": 8},
                               "  upstream: { write_timeout_ms: 2000 }\n"
                               "  health: { interval_ms: 200 }\n")

    def tearDown(self):
        self.cluster.stop()

    def write(self, method, path, body, status=202):
        r = self.cluster.call(method, path, body)
        self.assertEqual(r.status, status, r.body)
        if status == 202:
            wait_miroir(self.cluster, r.json()["taskUid"])
        return r

    def owners(self):
        shards = self.cluster.call("GET", "/_miroir/shards").json()["shards"]
        return {s["shard"]: set(s["groups"][0]["nodes"]) for s in shards}

    def pending(self):
        return self.cluster.call("GET", "/_miroir/hints").json()

    def test_missed_writes_are_replayed(self):
        c, nodes = self.cluster, self.cluster.nodes
        self.write("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
        self.write("PATCH", f"/indexes/{INDEX}/settings", {"filterableAttributes": ["v"]})
        expected = {}
        for batch in range(10):  # 20,000 documents, d1 lost halfway
            if batch == 5:
                miss(nodes[1])
            docs = [{"id": batch * 2000 + i, "v": batch} for i in range(2000)]
            r = self.write("POST", f"/indexes/{INDEX}/documents", docs)
            expected.update({d["id"]: d for d in docs})
            if batch >= 5:
                degraded = r.headers.get("x-miroir-degraded", "")
                self.assertTrue(degraded.startswith("nodes=d1"), r.headers)
        # while d1 is away: an update, deletions by id and by filter
        self.write("PUT", f"/indexes/{INDEX}/documents",
                   [{"id": 7, "v": 70}, {"id": 13000, "v": 70}])
        expected[7]["v"] = expected[13000]["v"] = 70
        self.write("POST", f"/indexes/{INDEX}/documents/delete-batch", list(range(12000, 12020)))
        self.write("POST", f"/indexes/{INDEX}/documents/delete", {"filter": "v = 9"})
        for i in list(range(12000, 12020)) + list(range(18000, 20000)):
            expected.pop(i, None)
        state = self.pending()
        self.assertGreater(state["pending"], 0, state)
        self.assertEqual([n["node"] for n in state["nodes"]], ["d1"])

        c.m.restart()  # the hints are in the task store
        self.assertEqual(self.pending()["pending"], state["pending"])
        back(nodes[1])
        deadline = time.monotonic() + 60
        while self.pending()["pending"] and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.pending()["pending"], 0, self.pending())
        metrics = c.m.request("GET", "/_miroir/metrics",
                              headers={"Authorization": "Bearer " + MASTER}).body.decode()
        self.assertRegex(metrics, r'miroir_hints_replayed_total\{node="d1"\} [1-9]')

        owners = self.owners()
        for i, node in enumerate(nodes):
            want = {k for k, d in expected.items()
                    if f"d{i}" in owners[self.shard_of(k)]}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                held = documents_on(node)
                if set(held) == want:
                    break
                time.sleep(0.2)
            self.assertEqual(set(held), want, f"d{i}")
            for k in want:
                self.assertEqual(held[k]["v"], expected[k]["v"], (f"d{i}", k))

    def shard_of(self, doc_id):
        from placement import shard_of
        return shard_of(str(doc_id), 8)

    def test_all_refuses_what_an_owner_misses(self):
        self.cluster.stop()
        self.cluster = Cluster({"nodes": 3, "rf": 2, "shards": 8},
                               "  write_quorum: all\n  upstream: { write_timeout_ms: 2000 }\n")
        self.write("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
        miss(self.cluster.nodes[1])
        r = self.cluster.call("POST", f"/indexes/{INDEX}/documents",
                              [{"id": i} for i in range(50)])
        self.assertEqual(r.status, 503, r.body)
        self.assertEqual(r.json()["code"], "miroir_no_quorum")
        self.assertEqual(self.pending()["pending"], 0)  # nothing acknowledged, nothing hinted
        back(self.cluster.nodes[1])


@unittest.skipUnless(shutil.which("redis-server"), "needs redis-server (scripts/bootstrap)")
class HintsOnRedis(unittest.TestCase):
    """Two pods on one Redis: the hints one pod stored are seen by the other, which replays
    them once the first is gone (its replay lease lapses)."""

    def test_a_pod_replays_what_another_stored(self):
        from test_rebalance import Pods
        pods = Pods(3, 2, rf=2, shards=8,
                    extra="  upstream: { write_timeout_ms: 2000 }\n  health: { interval_ms: 200 }\n")
        try:
            a, b = pods.via(0), pods.via(1)
            r = a.call("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
            wait_miroir(a, r.json()["taskUid"])
            miss(pods.nodes[1])
            docs = [{"id": i, "v": 1} for i in range(300)]
            r = a.call("POST", f"/indexes/{INDEX}/documents", docs)
            self.assertEqual(r.status, 202, r.body)
            wait_miroir(a, r.json()["taskUid"])
            seen = b.call("GET", "/_miroir/hints").json()
            self.assertGreater(seen["pending"], 0, seen)
            pods.pods[0].terminate()
            back(pods.nodes[1])
            deadline = time.monotonic() + 60
            while b.call("GET", "/_miroir/hints").json()["pending"] and time.monotonic() < deadline:
                time.sleep(0.3)
            self.assertEqual(b.call("GET", "/_miroir/hints").json()["pending"], 0)
            shards = b.call("GET", "/_miroir/shards").json()["shards"]
            owned = {s["shard"] for s in shards if "d1" in s["groups"][0]["nodes"]}
            from placement import shard_of
            want = {d["id"] for d in docs if shard_of(str(d["id"]), 8) in owned}
            deadline = time.monotonic() + 30
            while set(documents_on(pods.nodes[1])) != want and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertEqual(set(documents_on(pods.nodes[1])), want)
        finally:
            pods.stop()


if __name__ == "__main__":
    unittest.main()
