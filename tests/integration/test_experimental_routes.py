"""Meilisearch's experimental routes through Miroir over several nodes, each with the nodes'
feature off (their refusal relayed) and on: index compaction, dynamic search rules, template
rendering and the experimental settings. Rules and rendering exist only in real Meilisearch:
those cases run with MEILISEARCH_BIN."""
import json
import os
import time
import unittest

from test_search_differential import Cluster, wait_miroir

REAL = bool(os.environ.get("MEILISEARCH_BIN"))


class ExperimentalRoutes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster({"nodes": 3, "rf": 1, "shards": 8})
        wait_miroir(c, c.call("POST", "/indexes/cx/documents",
                              [{"id": i, "x": f"value {i}"} for i in range(20)]).json()["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def finished(self, uid):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            task = self.cluster.call("GET", f"/tasks/{uid}").json()
            if task["status"] in ("succeeded", "failed", "canceled"):
                return task
            time.sleep(0.05)
        raise TimeoutError(uid)

    def same(self, method, path, body=None):
        through = self.cluster.call(method, path, body)
        one = self.cluster.nodes[0].call(method, path, body)
        self.assertEqual((through.status, through.json()), (one.status, json.loads(one.body)),
                         path)
        return through

    def features(self, **on):
        r = self.cluster.call("PATCH", "/experimental-features", on)
        self.assertEqual(r.status, 200, r.body)

    def test_compaction_is_one_task_over_every_node(self):
        r = self.cluster.call("POST", "/indexes/cx/compact")
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.json()["type"], "indexCompaction")
        task = self.finished(r.json()["taskUid"])
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(list(task["details"]), ["preCompactionSize", "postCompactionSize"])
        self.assertRegex(task["details"]["preCompactionSize"], r"^\d+(\.\d{1,2})? (B|KiB|MiB)$")
        missing = self.cluster.call("POST", "/indexes/nope/compact")
        task = self.finished(missing.json()["taskUid"])
        self.assertEqual((task["status"], task["error"]["code"]), ("failed", "index_not_found"))

    @unittest.skipUnless(REAL, "dynamic search rules are real Meilisearch's")
    def test_dynamic_search_rules(self):
        rule = {"description": "promotion", "precedence": 10, "active": True,
                "conditions": {"query": {"words": "value"}},
                "actions": [{"selector": {"indexUid": "cx", "id": "3"},
                             "action": {"type": "pin", "position": 1}}]}
        self.same("PATCH", "/dynamic-search-rules/promo", rule)  # feature off: refused
        self.features(dynamicSearchRules=True)
        r = self.cluster.call("PATCH", "/dynamic-search-rules/promo?customMetadata=m", rule)
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual((r.json()["type"], r.json()["indexUid"]), ("dsrUpdate", ".meili_dsr"))
        task = self.finished(r.json()["taskUid"])
        self.assertEqual((task["status"], task["customMetadata"]), ("succeeded", "m"), task)
        self.assertEqual(task["details"]["updatedRules"], 1)
        got = self.same("GET", "/dynamic-search-rules/promo").json()
        self.assertEqual(got["description"], "promotion")
        for node in self.cluster.nodes:  # every node has it
            self.assertEqual(node.call("GET", "/dynamic-search-rules/promo").status, 200)
        listed = self.same("POST", "/dynamic-search-rules", {"limit": 5}).json()
        self.assertEqual(listed["total"], 1)
        r = self.cluster.call("DELETE", "/dynamic-search-rules/promo")
        self.assertEqual(self.finished(r.json()["taskUid"])["status"], "succeeded")
        self.assertEqual(self.cluster.call("GET", "/dynamic-search-rules/promo").status, 404)

    @unittest.skipUnless(REAL, "template rendering is real Meilisearch's")
    def test_render_template(self):
        body = {"template": {"kind": "inlineDocumentTemplate", "inline": "{{ doc.x }}"},
                "input": {"kind": "indexDocument", "indexUid": "cx", "id": "7"}}
        self.same("POST", "/render-template", body)  # feature off: refused
        self.features(renderRoute=True)
        r = self.cluster.call("POST", "/render-template", body)
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("value 7", json.dumps(r.json()))

    @unittest.skipUnless(REAL, "foreign keys are real Meilisearch's")
    def test_foreign_keys_setting(self):
        self.same("GET", "/indexes/cx/settings/foreign-keys")
        self.same("PUT", "/indexes/cx/settings/foreign-keys", [])


class Network(unittest.TestCase):
    """GET and PATCH /network answer as a Community Edition node; the nodes never get it."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster({"nodes": 2, "rf": 1, "shards": 4})

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def test_network(self):
        c = self.cluster
        r = c.call("GET", "/network")
        self.assertEqual((r.status, r.json()["code"]), (400, "feature_not_enabled"))
        self.assertEqual(c.call("PATCH", "/experimental-features", {"network": True}).status, 200)
        r = c.call("GET", "/network")
        self.assertEqual(r.json(), {"self": None, "remotes": {}, "shards": {}, "leader": None,
                                    "version": "00000000-0000-0000-0000-000000000000"})
        r = c.call("PATCH", "/network", {"self": "ms0", "remotes": {
            "ms1": {"url": "http://localhost:7700", "searchApiKey": "s", "writeApiKey": "w"}}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["remotes"], {"ms1": {
            "url": "http://localhost:7700", "searchApiKey": "s", "writeApiKey": "w",
            "status": "available"}})
        self.assertEqual(c.call("GET", "/network").json()["self"], "ms0")
        r = c.call("PATCH", "/network", {"leader": "ms0"})
        self.assertEqual((r.status, r.json()["code"]), (451, "requires_enterprise_edition"))
        for body, code in (({"remotes": {"ms2": {"searchApiKey": "x"}}}, "missing_network_url"),
                           ({"remotes": []}, "invalid_network_remotes"),
                           ({"self": 3}, "invalid_network_self"), ({"foo": 1}, "bad_request")):
            r = c.call("PATCH", "/network", body)
            self.assertEqual((r.status, r.json()["code"]), (400, code), body)
        r = c.call("PATCH", "/network", {"remotes": {"ms1": None}, "leader": None})
        self.assertEqual(r.json()["remotes"], {})
        if REAL:  # the nodes' own network is untouched
            one = json.loads(c.nodes[0].call("GET", "/network").body)
            self.assertIsNone(one["self"])


if __name__ == "__main__":
    unittest.main()
