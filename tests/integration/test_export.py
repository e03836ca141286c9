"""POST /export through Miroir over several nodes: every document of the selected indexes,
once, with the settings, to another instance (a standalone node), as one node exports; the
body's errors as a node words them. Runs against real meilisearch binaries when MEILISEARCH_BIN
is set."""
import json
import os
import time
import unittest

from nodes import Node
import test_experimental_routes as routes
from test_search_differential import NODE_KEY, Cluster, wait_miroir

REAL = bool(os.environ.get("MEILISEARCH_BIN"))
SETTINGS = {"filterableAttributes": ["genre"], "displayedAttributes": ["id", "title", "genre"],
            "searchableAttributes": ["title"]}


class Export(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster({"nodes": 3, "rf": 2, "shards": 8})
        cls.books = [{"id": i, "title": f"book {i} " + "x" * 40, "genre": "ab"[i % 2]}
                     for i in range(120)]
        for method, path, body in [
                ("POST", "/indexes", {"uid": "books", "primaryKey": "id"}),
                ("PATCH", "/indexes/books/settings", SETTINGS),
                ("POST", "/indexes/books/documents", cls.books),
                ("POST", "/indexes/other/documents?primaryKey=sku",
                 [{"sku": f"s{i}"} for i in range(10)]),
                ("POST", "/indexes/skipped/documents", [{"id": 1}])]:
            r = c.call(method, path, body)
            assert r.status == 202, r.body
            wait_miroir(c, r.json()["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    finished = routes.ExperimentalRoutes.finished

    def test_documents_and_settings_reach_the_destination(self):
        with Node(NODE_KEY) as target:
            body = {"url": f"http://127.0.0.1:{target.port}", "apiKey": NODE_KEY,
                    "payloadSize": "2KiB",
                    "indexes": {"books": {"filter": "genre = a"}, "oth*": {}}}
            r = self.cluster.call("POST", "/export", body)
            self.assertEqual(r.status, 200, r.body)  # as Meilisearch answers an export
            self.assertEqual((r.json()["type"], r.json()["status"]), ("export", "enqueued"))
            task = self.finished(r.json()["taskUid"])
            self.assertEqual(task["status"], "succeeded", task)
            deadline = time.monotonic() + 60  # the destination indexes what it got
            while json.loads(target.call("GET", "/tasks?statuses=enqueued,processing")
                             .body)["total"] and time.monotonic() < deadline:
                time.sleep(0.05)
            details = task["details"]
            self.assertEqual(details["apiKey"], NODE_KEY[:2] + "XXXX...")
            self.assertEqual(details["payloadSize"], "2 KiB")
            self.assertEqual(details["url"], body["url"])
            self.assertEqual(details["indexes"], {
                "books": {"filter": "genre = a", "overrideSettings": False,
                          "matchedDocuments": 60},
                "other": {"filter": None, "overrideSettings": False, "matchedDocuments": 10}})
            docs = json.loads(target.call("GET", "/indexes/books/documents?limit=500").body)
            want = sorted((d for d in self.books if d["genre"] == "a"), key=lambda d: d["id"])
            self.assertEqual(sorted(docs["results"], key=lambda d: d["id"]), want)
            index = json.loads(target.call("GET", "/indexes/books").body)
            self.assertEqual(index["primaryKey"], "id")
            settings = json.loads(target.call("GET", "/indexes/books/settings").body)
            for key, value in SETTINGS.items():
                self.assertEqual(settings[key], value, key)
            other = json.loads(target.call("GET", "/indexes/other/documents?limit=50").body)
            self.assertEqual(sorted(d["sku"] for d in other["results"]),
                             sorted(f"s{i}" for i in range(10)))
            self.assertEqual(target.call("GET", "/indexes/skipped").status, 404)

    def test_a_destination_that_refuses_fails_the_task(self):
        with Node(NODE_KEY) as target:
            r = self.cluster.call("POST", "/export", {"url": f"http://127.0.0.1:{target.port}",
                                                      "apiKey": "wrong"})
            task = self.finished(r.json()["taskUid"])
            self.assertEqual(task["status"], "failed", task)
            self.assertEqual((task["error"]["code"], task["error"]["type"]),
                             ("internal", "internal"))
            self.assertTrue(task["error"]["message"].startswith(
                "Failed to export documents to remote server invalid_api_key (auth): The "
                "provided API key is invalid."), task["error"]["message"])

    def test_sizes_and_a_missing_url_as_a_node(self):
        # "10 mb" is ten megabits; a missing url is accepted, and the export fails
        r = self.cluster.call("POST", "/export", {"url": "http://127.0.0.1:9",
                                                  "payloadSize": "10 mb", "indexes": {"x": {}}})
        self.assertEqual(r.status, 200, r.body)
        task = self.finished(r.json()["taskUid"])
        self.assertEqual(task["details"]["payloadSize"], "1.1920928955078125 MiB")
        r = self.cluster.call("POST", "/export", {"indexes": {"x": {}}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.finished(r.json()["taskUid"])["details"]["url"], "")

    def test_bad_bodies_as_a_node(self):
        cases = [[], {"url": 3}, {"url": "http://x", "apiKey": 1},
                 {"url": "http://x", "payloadSize": "lots"},
                 {"url": "http://x", "payloadSize": True},
                 {"url": "http://x", "payloadSize": -1}, {"url": "http://x", "payloadSize": "1.k"},
                 {"url": "http://x", "indexes": {"a b": {}}},
                 {"url": "http://x", "indexes": {"books": None}},
                 {"url": "http://x", "indexes": {"books": {"x": 1}}},
                 {"url": "http://x", "indexes": []},
                 {"url": "http://x", "indexes": {"books": {"overrideSettings": 1}}},
                 {"url": "http://x", "other": 1}]
        for body in cases:
            with self.subTest(body=body):
                r = self.cluster.call("POST", "/export", body)
                self.assertEqual(r.status, 400, r.body)
                if REAL:  # a body a node refuses starts no export there
                    one = self.cluster.nodes[0].call("POST", "/export", body)
                    self.assertEqual(r.json(), json.loads(one.body))


if __name__ == "__main__":
    unittest.main()
