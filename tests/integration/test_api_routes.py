"""Meilisearch routes beyond documents, search and settings, through Miroir over several
nodes, compared with what one node answers: the experimental features."""
import json
import unittest

from test_search_differential import MASTER, Cluster


class ExperimentalFeatures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster({"nodes": 3, "rf": 1, "shards": 8})

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def direct(self, i, method, body=None):
        return self.cluster.nodes[i].call(method, "/experimental-features", body)

    def test_a_change_reaches_every_node(self):
        before = self.cluster.call("GET", "/experimental-features")
        self.assertEqual(before.status, 200, before.body)
        self.assertEqual(before.json(), self.direct(0, "GET").json())
        r = self.cluster.call("PATCH", "/experimental-features", {"containsFilter": True})
        self.assertEqual(r.status, 200, r.body)
        self.assertIs(r.json()["containsFilter"], True)
        self.assertEqual(set(r.json()), set(before.json()))
        for i in range(3):
            self.assertIs(self.direct(i, "GET").json()["containsFilter"], True)
        self.assertIs(self.cluster.call("GET", "/experimental-features").json()["containsFilter"],
                      True)
        r = self.cluster.call("PATCH", "/experimental-features", {"containsFilter": False})
        self.assertIs(r.json()["containsFilter"], False)

    def test_a_refused_change_is_the_nodes_refusal(self):
        for body in ({"noSuchFeature": True}, {"metrics": "yes"}, [1]):
            through = self.cluster.call("PATCH", "/experimental-features", body)
            one = self.direct(0, "PATCH", body)
            self.assertEqual(through.status, one.status, through.body)
            self.assertEqual(through.json(), json.loads(one.body))

    def test_z_a_node_down(self):
        # the fleet's state is what the nodes that answer have in common; the missing node is
        # named, and sending the change again once it is back completes it
        self.cluster.nodes[2].stop()
        r = self.cluster.call("PATCH", "/experimental-features", {"containsFilter": True})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers.get("x-miroir-degraded"), "d2")
        self.assertIs(r.json()["containsFilter"], True)


if __name__ == "__main__":
    unittest.main()
