"""Insertion order through Miroir: one node lists documents without `sort`, and orders hits that
tie on every ranking rule, in the order they were added. Through Miroir over several nodes the
same corpus, added in the same writes (JSON, NDJSON and CSV), must list and rank exactly as one
node holding it all. Runs against real meilisearch binaries when MEILISEARCH_BIN is set."""
import json
import random
import unittest
import urllib.parse

from nodes import Node
from test_search_differential import NODE_KEY, Cluster, wait_miroir

INDEX = "order"
SETTINGS = {"searchableAttributes": ["title"], "filterableAttributes": ["kind"],
            "sortableAttributes": ["kind"]}
VECTORS = {"embedders": {"manual": {"source": "userProvided", "dimensions": 2}}}


def documents():
    rng = random.Random(5)
    ids = list(range(1, 91))
    rng.shuffle(ids)  # added in no order of their keys
    docs = [{"id": i, "title": "shared " + rng.choice(["word", "words"]),
             "kind": rng.choice(["a", "b", "c"])} for i in ids]
    return docs[:40], docs[40:70], docs[70:]


def with_vector(doc):
    return {**doc, "_vectors": {"manual": [1.0, 0.5] if doc["id"] % 3 else [0.2, 0.9]}}


def csv_of(docs):
    lines = ["id:number;title;kind"] + [f'{d["id"]};{d["title"]};{d["kind"]}' for d in docs]
    return "\n".join(lines) + "\n"


class InsertionOrder(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reference = Node(NODE_KEY).start()
        cls.cluster = Cluster({"nodes": 3, "rf": 2, "shards": 8})
        first, second, third = documents()
        writes = [
            ("POST", "/indexes", json.dumps({"uid": INDEX, "primaryKey": "id"}), "application/json"),
            ("PATCH", f"/indexes/{INDEX}/settings", json.dumps(SETTINGS), "application/json"),
            ("POST", f"/indexes/{INDEX}/documents", json.dumps(first), "application/json"),
            ("PUT", f"/indexes/{INDEX}/documents",
             "\n".join(json.dumps(d) for d in second), "application/x-ndjson"),
            ("POST", f"/indexes/{INDEX}/documents?csvDelimiter=%3B", csv_of(third), "text/csv"),
        ]
        for method, path, body, kind in writes:
            r = cls.reference.call(method, path, body, headers={"Content-Type": kind})
            task = cls.reference.wait_task(r.json()["taskUid"], timeout=60)
            assert task["status"] == "succeeded", task
            r = cls.cluster.m.request(method, path, body, cls.headers(kind))
            assert r.status == 202, r.body
            wait_miroir(cls.cluster, r.json()["taskUid"])  # asserts it succeeded

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        cls.reference.stop()

    @staticmethod
    def headers(kind="application/json"):
        from test_search_differential import MASTER
        return {"Authorization": f"Bearer {MASTER}", "Content-Type": kind}

    def both(self, method, path, body=None):
        want = self.reference.call(method, path, body)
        got = self.cluster.call(method, path, body)
        self.assertEqual(got.status, want.status, got.body)
        return want.json(), got.json()

    def ids(self, answer, key="results"):
        return [d["id"] for d in answer[key]]

    def test_documents_list_in_insertion_order(self):
        want, got = self.both("GET", f"/indexes/{INDEX}/documents?limit=200")
        self.assertEqual(self.ids(got), self.ids(want))
        self.assertEqual(got["total"], 90)
        for doc in got["results"]:
            self.assertFalse([k for k in doc if k.startswith("_miroir")], doc)
        # page by page, by GET and POST, with fields and a filter
        for page in (7, 25):
            for offset in range(0, 95, page):
                query = {"offset": offset, "limit": page, "fields": "title,id"}
                path = f"/indexes/{INDEX}/documents?" + urllib.parse.urlencode(query)
                want, got = self.both("GET", path)
                self.assertEqual(got["results"], want["results"], path)
                body = {"offset": offset, "limit": page, "filter": "kind = b", "fields": ["id"]}
                want, got = self.both("POST", f"/indexes/{INDEX}/documents/fetch", body)
                self.assertEqual(got["results"], want["results"], body)
                self.assertEqual(got["total"], want["total"])

    def test_equal_sort_values_keep_insertion_order(self):
        body = {"sort": ["kind:desc"], "offset": 5, "limit": 60}
        want, got = self.both("POST", f"/indexes/{INDEX}/documents/fetch", body)
        self.assertEqual(self.ids(got), self.ids(want))

    def test_ties_rank_in_insertion_order(self):
        cases = [
            {"q": "", "limit": 100},
            {"q": "shared", "limit": 50, "offset": 10},
            {"q": "", "sort": ["kind:asc"], "limit": 100},
            {"q": "shared", "attributesToRetrieve": ["id"], "limit": 100},
            {"q": "", "attributesToRetrieve": ["title"], "limit": 100, "page": 2,
             "hitsPerPage": 30},
        ]
        for body in cases:
            with self.subTest(body=body):
                want, got = self.both("POST", f"/indexes/{INDEX}/search", body)
                self.assertEqual(got["hits"], want["hits"])
        path = f"/indexes/{INDEX}/search?q=shared&limit=100&attributesToRetrieve=id"
        want, got = self.both("GET", path)
        self.assertEqual(got["hits"], want["hits"])

    def test_equally_similar_documents_in_insertion_order(self):
        # two vectors only: every other document is as similar to the reference as the next
        first, second, _ = documents()
        for target in (self.reference, self.cluster):
            for method, path, body in [
                    ("POST", "/indexes", {"uid": "vec", "primaryKey": "id"}),
                    ("PATCH", "/indexes/vec/settings", VECTORS),
                    ("POST", "/indexes/vec/documents", [with_vector(d) for d in first]),
                    ("POST", "/indexes/vec/documents", [with_vector(d) for d in second])]:
                r = target.call(method, path, body)
                self.assertEqual(r.status, 202, r.body)
                if target is self.reference:
                    task = target.wait_task(r.json()["taskUid"], timeout=60)
                    self.assertEqual(task["status"], "succeeded", task)
                else:
                    wait_miroir(target, r.json()["taskUid"])
        for body in [{"id": first[0]["id"], "embedder": "manual", "limit": 80},
                     {"id": second[3]["id"], "embedder": "manual", "limit": 20, "offset": 5,
                      "attributesToRetrieve": ["id"]}]:
            with self.subTest(body=body):
                want, got = self.both("POST", "/indexes/vec/similar", body)
                self.assertIn("hits", want, want)
                self.assertEqual(self.ids(got, "hits"), self.ids(want, "hits"))

    def test_displayed_attributes_leave_the_order_and_hide_the_place(self):
        for target in (self.reference, self.cluster):
            r = target.call("PUT", f"/indexes/{INDEX}/settings/displayed-attributes",
                            ["id", "kind"])
            self.assertEqual(r.status, 202, r.body)
            if target is self.reference:
                target.wait_task(r.json()["taskUid"], timeout=60)
            else:
                wait_miroir(target, r.json()["taskUid"])
        try:
            want, got = self.both("GET", f"/indexes/{INDEX}/settings/displayed-attributes")
            self.assertEqual(got, ["id", "kind"])
            want, got = self.both("GET", f"/indexes/{INDEX}/settings")
            self.assertEqual(got["displayedAttributes"], want["displayedAttributes"])
            want, got = self.both("POST", f"/indexes/{INDEX}/search", {"q": "", "limit": 100})
            self.assertEqual(got["hits"], want["hits"])
        finally:
            for target in (self.reference, self.cluster):
                r = target.call("DELETE", f"/indexes/{INDEX}/settings/displayed-attributes")
                if target is self.reference:
                    target.wait_task(r.json()["taskUid"], timeout=60)
                else:
                    wait_miroir(target, r.json()["taskUid"])
        want, got = self.both("GET", f"/indexes/{INDEX}/settings/displayed-attributes")
        self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
