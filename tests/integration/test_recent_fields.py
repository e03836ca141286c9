"""Routes and fields that recent Meilisearch versions added, through Miroir over several nodes:
`customMetadata` on document writes and their tasks, `performanceDetails` on searches, the
stats routes' size formats, the fields listing and edition by function."""
import json
import os
import re
import time
import unittest

from nodes import Node
from test_search_differential import MASTER, NODE_KEY, Cluster, wait_miroir

REAL = bool(os.environ.get("MEILISEARCH_BIN"))
DURATION = re.compile(r"^\d+\.\d\d(ns|µs|ms|s)$")


class CustomMetadata(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster({"nodes": 3, "rf": 1, "shards": 8})
        wait_miroir(c, c.call("POST", "/indexes", {"uid": "cm", "primaryKey": "id"})
                    .json()["taskUid"])
        wait_miroir(c, c.call("PATCH", "/indexes/cm/settings", {"filterableAttributes": ["kind"]})
                    .json()["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def write(self, method, path, body=None):
        r = self.cluster.call(method, path, body)
        self.assertEqual(r.status, 202, r.body)
        return r.json()

    def test_every_document_write_keeps_it(self):
        writes = [
            ("POST", "/indexes/cm/documents?customMetadata=add%201", [{"id": i} for i in range(9)]),
            ("PUT", "/indexes/cm/documents?customMetadata=update", [{"id": 1, "x": 2}]),
            ("DELETE", "/indexes/cm/documents/3?customMetadata=one", None),
            ("POST", "/indexes/cm/documents/delete-batch?customMetadata=batch", [4, 5]),
            ("POST", "/indexes/cm/documents/delete?customMetadata=filter",
             {"filter": "kind = 6"}),
            ("DELETE", "/indexes/cm/documents?customMetadata=all", None),
        ]
        for method, path, body in writes:
            summary = self.write(method, path, body)
            expected = path.split("customMetadata=")[1].replace("%20", " ")
            # last, as a node appends it
            self.assertEqual(list(summary)[-1], "customMetadata", summary)
            self.assertEqual(summary["customMetadata"], expected)
            wait_miroir(self.cluster, summary["taskUid"])
            task = self.cluster.call("GET", f"/tasks/{summary['taskUid']}").json()
            self.assertEqual(list(task)[-1], "customMetadata", task)
            self.assertEqual(task["customMetadata"], expected)
            listed = self.cluster.call("GET", f"/tasks?uids={summary['taskUid']}").json()
            self.assertEqual(listed["results"][0]["customMetadata"], expected)

    def test_absent_when_not_sent(self):
        summary = self.write("POST", "/indexes/cm/documents", [{"id": 100}])
        self.assertNotIn("customMetadata", summary)
        wait_miroir(self.cluster, summary["taskUid"])
        self.assertNotIn("customMetadata",
                         self.cluster.call("GET", f"/tasks/{summary['taskUid']}").json())

    def test_a_failed_task_names_no_reserved_attribute(self):
        c = self.cluster
        wait_miroir(c, c.call("POST", "/indexes", {"uid": "bare"}).json()["taskUid"])
        summary = self.write("POST", "/indexes/bare/documents/delete", {"filter": "id = 6"})
        import time
        for _ in range(200):
            task = c.call("GET", f"/tasks/{summary['taskUid']}").json()
            if task["status"] == "failed":
                break
            time.sleep(0.05)
        self.assertEqual(task["status"], "failed", task)
        self.assertEqual(task["error"]["message"],
                         "Index `bare`: Attribute `id` is not filterable. This index does not have configured "
                         "filterable attributes.\n1:3 id = 6")

    def test_deletions_refuse_unknown_parameters_as_a_node(self):
        for method, path, body in (("DELETE", "/indexes/cm/documents/1?other=1", None),
                                   ("POST", "/indexes/cm/documents/delete-batch?other=1", [1]),
                                   ("DELETE", "/indexes/cm/documents?other=1", None)):
            through = self.cluster.call(method, path, body)
            one = self.cluster.nodes[0].call(method, path, body)
            self.assertEqual((through.status, through.json()), (one.status, json.loads(one.body)))
            self.assertEqual(through.status, 400)


class PerformanceDetails(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster({"nodes": 3, "rf": 1, "shards": 8})
        docs = [{"id": i, "title": f"prince number {i}", "genre": ["a", "b"][i % 2],
                 "_vectors": {"manual": [float(i % 5), 1.0, 0.5]}} for i in range(40)]
        c.call("PATCH", "/indexes/pd/settings",
               {"filterableAttributes": ["genre"],
                "embedders": {"manual": {"source": "userProvided", "dimensions": 3}}})
        wait_miroir(c, c.call("POST", "/indexes/pd/documents", docs).json()["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def check(self, details, nodes_seen=True):
        self.assertIsInstance(details, dict)
        for step, took in details.items():
            self.assertRegex(took, DURATION, step)
        self.assertIn("miroir", details)
        if nodes_seen:
            node_steps = [s for s in details if s.startswith("node ")]
            self.assertTrue(node_steps, details)
            # every node step is of one node, the slowest
            self.assertEqual(len({s.split(" > ")[0] for s in node_steps}), 1, details)

    def test_search_post_and_get(self):
        r = self.cluster.call("POST", "/indexes/pd/search",
                              {"q": "prince", "facets": ["genre"], "showPerformanceDetails": True})
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(list(body)[-1], "performanceDetails")
        self.check(body["performanceDetails"])
        r = self.cluster.call("GET", "/indexes/pd/search?q=prince&showPerformanceDetails=true")
        self.check(r.json()["performanceDetails"])
        plain = self.cluster.call("POST", "/indexes/pd/search", {"q": "prince"}).json()
        self.assertNotIn("performanceDetails", plain)

    def test_multi_search_and_federation(self):
        r = self.cluster.call("POST", "/multi-search", {"queries": [
            {"indexUid": "pd", "q": "prince", "showPerformanceDetails": True},
            {"indexUid": "pd", "q": "number"}]})
        self.assertEqual(r.status, 200, r.body)
        results = r.json()["results"]
        self.check(results[0]["performanceDetails"])
        self.assertNotIn("performanceDetails", results[1])
        r = self.cluster.call("POST", "/multi-search", {
            "federation": {"showPerformanceDetails": True},
            "queries": [{"indexUid": "pd", "q": "prince"}, {"indexUid": "pd", "q": "number"}]})
        self.assertEqual(r.status, 200, r.body)
        details = r.json()["performanceDetails"]
        self.check(details, nodes_seen=False)
        self.assertTrue(any(s.startswith("query ") and " > node " in s for s in details), details)

    def test_hybrid_without_a_vector_falls_back_to_keywords(self):
        # a user-provided embedder cannot embed the query: one node answers with keyword hits
        body = {"q": "prince", "hybrid": {"embedder": "manual", "semanticRatio": 0.5}}
        r = self.cluster.call("POST", "/indexes/pd/search", body)
        one = self.cluster.nodes[0].call("POST", "/indexes/pd/search", body)
        self.assertEqual(r.status, one.status, r.body)
        if one.status == 200:
            self.assertTrue(r.json()["hits"])
            self.assertEqual(r.json()["semanticHitCount"], 0)
            self.assertEqual(r.json()["estimatedTotalHits"], 40)

    def test_similar(self):
        r = self.cluster.call("POST", "/indexes/pd/similar",
                              {"id": 3, "embedder": "manual", "showPerformanceDetails": True})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(list(r.json())[-1], "performanceDetails")
        self.check(r.json()["performanceDetails"])


class StatsFormats(unittest.TestCase):
    """`showInternalDatabaseSizes` and `sizeFormat` on GET /stats and GET /indexes/{uid}/stats."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster({"nodes": 2, "rf": 1, "shards": 4})
        wait_miroir(c, c.call("POST", "/indexes/st/documents",
                              [{"id": i, "text": "x" * i} for i in range(30)]).json()["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def test_human_sizes_and_internal_databases(self):
        human = re.compile(r"^\d+(\.\d{1,2})? (B|KiB|MiB|GiB)$")
        query = "?showInternalDatabaseSizes=true&sizeFormat=human"
        r = self.cluster.call("GET", "/indexes/st/stats" + query)
        self.assertEqual(r.status, 200, r.body)
        stats = r.json()
        node = self.cluster.nodes[0].call("GET", "/indexes/st/stats" + query).json()
        self.assertEqual(list(stats), list(node))
        self.assertEqual(stats["numberOfDocuments"], 30)
        for key in ("rawDocumentDbSize", "avgDocumentSize"):
            self.assertRegex(stats[key], human)
        self.assertTrue(stats["internalDatabaseSizes"])
        for size in stats["internalDatabaseSizes"].values():
            self.assertRegex(size, human)
        raw = self.cluster.call("GET", "/indexes/st/stats").json()
        self.assertNotIn("internalDatabaseSizes", raw)
        self.assertIsInstance(raw["rawDocumentDbSize"], int)
        whole = self.cluster.call("GET", "/stats?sizeFormat=human").json()
        self.assertRegex(whole["databaseSize"], human)
        self.assertRegex(whole["indexes"]["st"]["rawDocumentDbSize"], human)

    def test_bad_values_as_a_node(self):
        for query in ("?sizeFormat=bad", "?showInternalDatabaseSizes=maybe", "?other=1"):
            for path in ("/stats", "/indexes/st/stats"):
                through = self.cluster.call("GET", path + query)
                one = self.cluster.nodes[0].call("GET", path + query)
                self.assertEqual((through.status, through.json()),
                                 (one.status, json.loads(one.body)), path + query)
                self.assertEqual(through.status, 400)


class IndexFields(unittest.TestCase):
    """POST /indexes/{uid}/fields through Miroir lists what one node holding every document
    lists: a field one document of one shard has is there, Miroir's own are not."""

    SETTINGS = {"filterableAttributes": ["genre", {"attributePatterns": ["meta.*"],
                                                   "features": {"facetSearch": True}}],
                "sortableAttributes": ["year"], "rankingRules": ["words", "year:desc"],
                "displayedAttributes": ["id", "title", "genre", "meta"],
                "distinctAttribute": "title"}

    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster({"nodes": 3, "rf": 1, "shards": 8})
        cls.reference = Node(NODE_KEY).start()
        docs = [{"id": i, "title": f"t{i}", "genre": "g", "year": 2000 + i} for i in range(40)]
        docs[7]["rare"] = "only here"
        docs[9]["meta"] = {"a": 1, "list": [{"deep": True}]}
        for call, wait in ((c.call, lambda uid: wait_miroir(c, uid)),
                           (cls.reference.call, cls.reference.wait_task)):
            for method, path, body in (("PATCH", "/indexes/fl/settings", cls.SETTINGS),
                                       ("POST", "/indexes/fl/documents", docs)):
                r = call(method, path, body)
                assert r.status == 202, r.body
                wait(json.loads(r.body)["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        cls.reference.stop()

    def test_as_one_node(self):
        bodies = [{}, {"limit": 3}, {"offset": 2, "limit": 4},
                  {"filter": {"filterable": True}}, {"filter": {"attributePatterns": ["me*"]}},
                  {"filter": {"displayed": False, "sortable": False}}, {"offset": 100}]
        for body in bodies:
            through = self.cluster.call("POST", "/indexes/fl/fields", body)
            one = self.reference.call("POST", "/indexes/fl/fields", body)
            self.assertEqual(through.status, 200, through.body)
            self.assertEqual(through.json(), json.loads(one.body), body)
        names = [f["name"] for f in self.cluster.call("POST", "/indexes/fl/fields",
                                                      {"limit": 100}).json()["results"]]
        self.assertIn("rare", names)
        self.assertFalse([n for n in names if n.startswith("_miroir")])

    def test_errors_as_one_node(self):
        for body in ({"limit": -1}, {"filter": {"x": 1}}, {"filter": {"displayed": 1}},
                     {"filter": []}, {"zz": 1}, [1]):
            through = self.cluster.call("POST", "/indexes/fl/fields", body)
            one = self.reference.call("POST", "/indexes/fl/fields", body)
            self.assertEqual((through.status, through.json()),
                             (one.status, json.loads(one.body)), body)
        through = self.cluster.call("POST", "/indexes/nope/fields", {})
        self.assertEqual((through.status, through.json()["code"]), (404, "index_not_found"))


class DocumentEdition(unittest.TestCase):
    """POST /indexes/{uid}/documents/edit runs on every node, one Miroir task; Miroir's shard
    field survives a function that replaces the whole document."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster({"nodes": 3, "rf": 1, "shards": 8})
        wait_miroir(c, c.call("POST", "/indexes/ed/documents",
                              [{"id": i, "t": "old"} for i in range(12)]).json()["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def same(self, body, path="/indexes/ed/documents/edit"):
        through = self.cluster.call("POST", path, body)
        one = self.cluster.nodes[0].call("POST", path, body)
        self.assertEqual((through.status, through.json()), (one.status, json.loads(one.body)), body)
        return through

    def test_a_feature_off_then_bad_bodies(self):
        r = self.same({"function": "doc.t = 1"})
        self.assertEqual(r.json()["code"], "feature_not_enabled")
        r = self.cluster.call("PATCH", "/experimental-features", {"editDocumentsByFunction": True})
        self.assertEqual(r.status, 200, r.body)
        for body in ({}, {"function": 3}, {"function": "x", "foo": 1}, [1],
                     {"function": "doc.t = 1", "context": 3}, {"function": "x", "filter": ""}):
            self.assertEqual(self.same(body).status, 400, body)
        if REAL:  # the node's own words about a script it cannot compile, positions included
            r = self.same({"function": "doc.t = "})
            self.assertEqual(r.json()["message"], "Script is incomplete (line 1, position 9)")

    def test_b_one_task_over_every_node(self):
        body = {"function": 'doc = #{id: doc.id, t: "new"}', "filter": None}
        r = self.cluster.call("POST", "/indexes/ed/documents/edit?customMetadata=e", body)
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual((r.json()["type"], r.json()["customMetadata"]), ("documentEdition", "e"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            task = self.cluster.call("GET", f"/tasks/{r.json()['taskUid']}").json()
            if task["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.05)
        self.assertEqual(list(task["details"]),
                         ["editedDocuments", "deletedDocuments", "originalFilter", "context",
                          "function"])
        self.assertEqual(task["details"]["function"], body["function"])
        if not REAL:
            # the development node runs no edition function: the task says so
            self.assertEqual(task["status"], "failed")
            self.assertEqual(task["details"]["editedDocuments"], 0)
            return
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(task["details"]["editedDocuments"], 12)
        docs = self.cluster.call("GET", "/indexes/ed/documents?limit=50").json()["results"]
        self.assertEqual(sorted(d["id"] for d in docs if d["t"] == "new"), list(range(12)))
        for node in self.cluster.nodes:  # every copy still carries its shard
            held = json.loads(node.call("GET", "/indexes/ed/documents?limit=50").body)["results"]
            self.assertTrue(all("_miroir_shard" in d for d in held), held)


class ContentCodings(unittest.TestCase):
    """Bodies sent gzip'd or deflated are read as a node reads them; answers are compressed as
    the client's Accept-Encoding allows, as a node's are."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster({"nodes": 2, "rf": 1, "shards": 4})

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def send(self, body, coding, accept=None):
        headers = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json",
                   "Content-Encoding": coding}
        if accept:
            headers["Accept-Encoding"] = accept
        return self.cluster.m.request("POST", "/indexes/cc/documents", body, headers)

    def test_a_compressed_bodies(self):
        import gzip
        import zlib
        bodies = {"gzip": gzip.compress(b'[{"id": 1}, {"id": 2}]'),
                  "deflate": zlib.compress(b'[{"id": 3}]'),
                  "foo": b'[{"id": 4}]',  # an unknown coding: the body as it is, as a node
                  # no checksum after the last block: read whole, as a node reads it
                  "deflate ": zlib.compress(b'[{"id": 5}]')[:-4]}
        for coding, body in bodies.items():
            r = self.send(body, coding)
            self.assertEqual(r.status, 202, (coding, r.body))
            wait_miroir(self.cluster, r.json()["taskUid"])
        ids = sorted(d["id"] for d in self.cluster.call(
            "GET", "/indexes/cc/documents").json()["results"])
        self.assertEqual(ids, [1, 2, 3, 4, 5])
        for coding, body in (("gzip", b"garbage"), ("deflate", b"garbage"),
                             ("gzip", gzip.compress(b'[{"id": 6}]')[:12])):
            r = self.send(body, coding)
            self.assertEqual((r.status, r.json()), (400, {
                "message": "The provided payload is incomplete and cannot be parsed",
                "code": "bad_request", "type": "invalid_request",
                "link": "https://docs.meilisearch.com/errors#bad_request"}))
            if REAL:
                one = self.cluster.nodes[0].call("POST", "/indexes/cc/documents", body,
                                                 headers={"Content-Encoding": coding,
                                                          "Content-Type": "application/json"})
                self.assertEqual(json.loads(one.body), r.json())

    def test_b_compressed_answers(self):
        import gzip
        import zlib
        key = {"Authorization": f"Bearer {MASTER}"}
        for accept, coding, decode in (("gzip, deflate", "gzip", gzip.decompress),
                                       ("deflate", "deflate", zlib.decompress)):
            r = self.cluster.m.request("GET", "/indexes/cc/documents", None,
                                       {**key, "Accept-Encoding": accept})
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers.get("content-encoding"), coding)
            self.assertIn("accept-encoding", r.headers.get("vary", "").lower())
            self.assertIn("results", json.loads(decode(r.body)))
        r = self.cluster.m.request("GET", "/indexes/cc/documents", None,
                                   {**key, "Accept-Encoding": "gzip, deflate, br"})
        self.assertEqual(r.headers.get("content-encoding"), "br")
        plain = self.cluster.m.request("GET", "/indexes/cc/documents", None, key)
        self.assertIsNone(plain.headers.get("content-encoding"))
        self.assertIn("results", plain.json())


if __name__ == "__main__":
    unittest.main()
