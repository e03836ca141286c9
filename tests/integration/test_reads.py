"""Aggregated reads through Miroir: documents browsed page by page in one global order, index
listing and updates, and statistics that count each document once whatever the replication.
Compared with one node holding the same corpus. Runs against real meilisearch binaries when
MEILISEARCH_BIN is set."""
import json
import random
import unittest
import urllib.parse

from nodes import Node
from test_search_differential import (INDEX, NODE_KEY, SETTINGS, Cluster, corpus,
                                      wait_miroir)


def load(cluster, docs, uid=INDEX):
    for method, path, body in [("POST", "/indexes", {"uid": uid, "primaryKey": "id"}),
                               ("PATCH", f"/indexes/{uid}/settings", SETTINGS),
                               ("POST", f"/indexes/{uid}/documents", docs)]:
        r = cluster.call(method, path, body)
        assert r.status == 202, r.body
        wait_miroir(cluster, r.json()["taskUid"])


class AgainstOneNode(unittest.TestCase):
    """A corpus in one reference node and, through Miroir, in a cluster of SHAPE."""
    SEED, COUNT, SHAPE = 0, 0, {}

    @classmethod
    def setUpClass(cls):
        cls.docs = corpus(random.Random(cls.SEED), cls.COUNT)
        cls.reference = Node(NODE_KEY).start()
        cls.reference.run("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
        cls.reference.run("PATCH", f"/indexes/{INDEX}/settings", SETTINGS)
        cls.reference.run("POST", f"/indexes/{INDEX}/documents", cls.docs)
        cls.cluster = Cluster(cls.SHAPE)
        load(cls.cluster, cls.docs)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        cls.reference.stop()


class ReadsAcrossShards(AgainstOneNode):
    # RF 2 over three nodes: every node answers for only part of what it holds
    SEED, COUNT, SHAPE = 7, 250, {"nodes": 3, "rf": 2, "shards": 8}

    def browse_all(self, page, get):
        ids = []
        for offset in range(0, 260, page):
            if get:
                r = self.cluster.call(
                    "GET", f"/indexes/{INDEX}/documents?offset={offset}&limit={page}")
            else:
                r = self.cluster.call("POST", f"/indexes/{INDEX}/documents/fetch",
                                      {"offset": offset, "limit": page})
            self.assertEqual(r.status, 200, r.body)
            body = r.json()
            self.assertEqual((body["offset"], body["limit"], body["total"]),
                             (offset, page, len(self.docs)))
            for doc in body["results"]:
                self.assertFalse([k for k in doc if k.startswith("_miroir")], doc)
            ids += [d["id"] for d in body["results"]]
        return ids

    def test_pages_follow_one_global_order(self):
        r = self.cluster.call("GET", f"/indexes/{INDEX}/documents?limit=1000")
        self.assertEqual(r.status, 200, r.body)
        everything = [d["id"] for d in r.json()["results"]]
        self.assertEqual(sorted(everything), sorted(d["id"] for d in self.docs))
        # pages of any size, by GET or POST, concatenate to the same order, each id once
        for page, get in [(37, True), (50, False), (9, False)]:
            self.assertEqual(self.browse_all(page, get), everything, (page, get))
        self.assertEqual(self.browse_all(37, True), everything, "stable across calls")

    def test_filters_fields_ids_and_sort_as_one_node(self):
        cases = [
            {"filter": "genre = drama", "limit": 500},
            {"filter": ["year > 2000", "price EXISTS"], "limit": 500, "fields": ["id", "year"]},
            {"ids": [1, 5, 9, 100, 249, 999], "limit": 50},
            {"sort": ["year:desc", "title:asc"], "offset": 10, "limit": 30},
            {"sort": ["price:asc"], "filter": "genre = comedy", "offset": 3, "limit": 15},
        ]
        for body in cases:
            with self.subTest(body=body):
                want = self.reference.call("POST", f"/indexes/{INDEX}/documents/fetch", body)
                got = self.cluster.call("POST", f"/indexes/{INDEX}/documents/fetch", body)
                self.assertEqual(got.status, want.status, got.body)
                w, g = want.json(), got.json()
                self.assertEqual(g["total"], w["total"])
                if "sort" in body:
                    # the same sort values in the same order (equal values may permute)
                    fields = [s.split(":")[0] for s in body["sort"]]
                    key = lambda d: [str(d.get(f)).lower() for f in fields]  # noqa: E731
                    self.assertEqual([key(d) for d in g["results"]],
                                     [key(d) for d in w["results"]])
                else:
                    self.assertEqual(sorted(d["id"] for d in g["results"]),
                                     sorted(d["id"] for d in w["results"]))
                if "fields" in body:
                    for doc in g["results"]:
                        self.assertEqual(sorted(doc), sorted(body["fields"]))
        # GET with a filter as text, a JSON string and a JSON array
        for raw in ["genre = drama", json.dumps("genre = drama"), json.dumps(["genre = drama"])]:
            path = (f"/indexes/{INDEX}/documents?" +
                    urllib.parse.urlencode({"filter": raw, "limit": 500}))
            want, got = self.reference.call("GET", path), self.cluster.call("GET", path)
            self.assertEqual((got.status, got.json()["total"]),
                             (want.status, want.json()["total"]), (raw, got.body))

    def test_errors_are_meilisearch_errors(self):
        cases = [
            ("GET", f"/indexes/{INDEX}/documents?limit=ten", None, 400, "invalid_document_limit"),
            ("GET", f"/indexes/{INDEX}/documents?nope=1", None, 400, "bad_request"),
            ("POST", f"/indexes/{INDEX}/documents/fetch", {"offset": -1}, 400,
             "invalid_document_offset"),
            ("POST", f"/indexes/{INDEX}/documents/fetch", {"filter": "title = x"}, 400,
             "invalid_document_filter"),
            ("POST", f"/indexes/{INDEX}/documents/fetch", {"sort": ["overview:asc"]}, 400,
             "invalid_document_sort"),
            ("POST", f"/indexes/{INDEX}/documents/fetch", {"nope": 1}, 400, "bad_request"),
            ("GET", "/indexes/missing/documents", None, 404, "index_not_found"),
            ("GET", "/indexes/missing", None, 404, "index_not_found"),
            ("GET", "/indexes/missing/stats", None, 404, "index_not_found"),
            ("GET", "/indexes?offset=x", None, 400, "invalid_index_offset"),
            ("GET", f"/indexes/{INDEX}/documents/424242", None, 404, "document_not_found"),
        ]
        for method, path, body, status, code in cases:
            with self.subTest(path=path, body=body):
                want = self.reference.call(method, path, body)
                got = self.cluster.call(method, path, body)
                self.assertEqual((got.status, got.json().get("code")), (status, code), got.body)
                self.assertEqual(got.status, want.status)
                # the same message, Miroir's own attribute never named
                self.assertEqual(got.json()["message"], want.json()["message"])

    def test_facet_search_sums_every_shard(self):
        cases = [
            {"facetName": "genre"},
            {"facetName": "genre", "facetQuery": "dr"},
            {"facetName": "genre", "facetQuery": "sci"},
            {"facetName": "tags", "q": "glass", "filter": "year > 2000"},
            {"facetName": "tags", "facetQuery": "riv", "ignored": True},
        ]
        for body in cases:
            with self.subTest(body=body):
                want = self.reference.call("POST", f"/indexes/{INDEX}/facet-search", body)
                got = self.cluster.call("POST", f"/indexes/{INDEX}/facet-search", body)
                self.assertEqual(got.status, want.status, got.body)
                self.assertEqual(got.json()["facetHits"], want.json()["facetHits"])
                self.assertEqual(got.json()["facetQuery"], want.json()["facetQuery"])
        for body, code in [({"facetQuery": "x"}, "missing_facet_search_facet_name"),
                           ({"facetName": "title"}, "invalid_facet_search_facet_name")]:
            want = self.reference.call("POST", f"/indexes/{INDEX}/facet-search", body)
            got = self.cluster.call("POST", f"/indexes/{INDEX}/facet-search", body)
            self.assertEqual((got.status, got.json()["code"]), (want.status, code), got.body)
            self.assertEqual(got.json()["message"], want.json()["message"])

    def test_similar_documents_across_shards(self):
        rng = random.Random(11)
        words = ["glass", "river", "storm", "garden", "kernel"]
        docs = [{"id": i, "genre": rng.choice(["a", "b"]),
                 "name": " ".join(rng.choice(words) for _ in range(rng.randint(1, 3))),
                 "_vectors": {"manual": [rng.uniform(-1, 1) for _ in range(3)]}}
                for i in range(80)]
        settings = {"filterableAttributes": ["genre"], "searchableAttributes": ["name"],
                    "embedders": {"manual": {"source": "userProvided", "dimensions": 3}}}
        self.reference.run("POST", "/indexes", {"uid": "vec", "primaryKey": "id"})
        self.reference.run("PATCH", "/indexes/vec/settings", settings)
        self.reference.run("POST", "/indexes/vec/documents", docs)
        for method, path, body in [("POST", "/indexes", {"uid": "vec", "primaryKey": "id"}),
                                   ("PATCH", "/indexes/vec/settings", settings),
                                   ("POST", "/indexes/vec/documents", docs)]:
            r = self.cluster.call(method, path, body)
            self.assertEqual(r.status, 202, r.body)
            wait_miroir(self.cluster, r.json()["taskUid"])
        cases = [
            {"id": 3, "embedder": "manual"},
            {"id": "17", "embedder": "manual", "offset": 5, "limit": 10,
             "showRankingScore": True},
            {"id": 40, "embedder": "manual", "filter": "genre = a", "limit": 50,
             "showRankingScoreDetails": True},
            {"id": 41, "embedder": "manual", "rankingScoreThreshold": 0.5},
        ]
        for body in cases:
            with self.subTest(body=body):
                want = self.reference.call("POST", "/indexes/vec/similar", body)
                got = self.cluster.call("POST", "/indexes/vec/similar", body)
                self.assertEqual(got.status, want.status, got.body)
                w, g = want.json(), got.json()
                self.assertEqual([h["id"] for h in g["hits"]], [h["id"] for h in w["hits"]])
                keys = ["id", "offset", "limit", "estimatedTotalHits"]
                if "rankingScoreThreshold" in body:
                    # an estimate: Meilisearch cuts from the count only the candidates its
                    # vector search visited (all of them under a filter), see docs/search.md
                    keys.remove("estimatedTotalHits")
                for key in keys:
                    self.assertEqual(g[key], w[key], key)
                for hw, hg in zip(w["hits"], g["hits"]):
                    self.assertEqual(sorted(hg), sorted(hw))
                    if "_rankingScore" in hw:
                        self.assertAlmostEqual(hg["_rankingScore"], hw["_rankingScore"])
        # vector and hybrid search merge as one node ranks (semantic hits counted)
        vector = [0.3, -0.2, 0.9]
        hybrid = {"embedder": "manual", "semanticRatio": 1.0}
        for body in [
            {"vector": vector, "hybrid": hybrid, "limit": 10, "showRankingScore": True},
            # without a query, a hybrid search is a semantic one
            {"vector": vector, "limit": 5, "hybrid": {"embedder": "manual", "semanticRatio": 0.5}},
            {"q": "glass", "vector": vector, "limit": 15,
             "hybrid": {"embedder": "manual", "semanticRatio": 0.5}},
            {"q": "river storm", "vector": vector, "filter": "genre = a", "offset": 3,
             "hybrid": {"embedder": "manual", "semanticRatio": 0.3}},
            {"q": "garden", "vector": vector, "page": 2, "hitsPerPage": 7,
             "hybrid": {"embedder": "manual", "semanticRatio": 0.8}},
        ]:
            with self.subTest(body=body):
                body = dict(body, showRankingScore=True)
                want = self.reference.call("POST", "/indexes/vec/search", body)
                got = self.cluster.call("POST", "/indexes/vec/search", body)
                self.assertEqual(got.status, want.status, got.body)
                w, g = want.json(), got.json()
                scores = [round(h["_rankingScore"], 9) for h in w["hits"]]
                self.assertEqual([round(h["_rankingScore"], 9) for h in g["hits"]], scores)
                # equal scores are ties: the same documents, unless the window cuts the run
                runs = {}
                for i, score in enumerate(scores):
                    runs.setdefault(score, []).append(i)
                for score, at in runs.items():
                    if at[0] > 0 and at[-1] < len(scores) - 1:
                        self.assertEqual(sorted(g["hits"][i]["id"] for i in at),
                                         sorted(w["hits"][i]["id"] for i in at), score)
                for key in ("estimatedTotalHits", "totalHits", "semanticHitCount"):
                    self.assertEqual(g.get(key), w.get(key), key)
        path = "/indexes/vec/similar?id=3&embedder=manual&limit=5"
        want, got = self.reference.call("GET", path), self.cluster.call("GET", path)
        self.assertEqual([h["id"] for h in got.json()["hits"]],
                         [h["id"] for h in want.json()["hits"]], got.body)
        for body, code in [({"id": 999, "embedder": "manual"}, "not_found_similar_id"),
                           ({"id": 1, "embedder": "nope"}, "invalid_similar_embedder"),
                           ({"id": 1, "embedder": "manual", "limit": -2},
                            "invalid_similar_limit"),
                           ({"id": 1, "embedder": "manual", "filter": "id = 3"},
                            "invalid_similar_filter")]:
            want = self.reference.call("POST", "/indexes/vec/similar", body)
            got = self.cluster.call("POST", "/indexes/vec/similar", body)
            self.assertEqual((got.status, got.json()["code"]), (want.status, code), got.body)
            self.assertEqual(got.json()["message"], want.json()["message"])

    def test_distinct_attribute_setting_and_its_change(self):
        docs = [{"id": i, "name": f"shoe {i}", "model": f"m{i % 7}"} for i in range(60)]
        settings = {"distinctAttribute": "model", "filterableAttributes": ["model"]}
        self.reference.run("POST", "/indexes", {"uid": "dist", "primaryKey": "id"})
        self.reference.run("PATCH", "/indexes/dist/settings", settings)
        self.reference.run("POST", "/indexes/dist/documents", docs)
        for method, path, body in [("POST", "/indexes", {"uid": "dist", "primaryKey": "id"}),
                                   ("PATCH", "/indexes/dist/settings", settings),
                                   ("POST", "/indexes/dist/documents", docs)]:
            r = self.cluster.call(method, path, body)
            wait_miroir(self.cluster, r.json()["taskUid"])
        for body in [{"q": "shoe"}, {"q": "shoe", "attributesToRetrieve": ["id"]},
                     {"q": "", "page": 1, "hitsPerPage": 3}]:
            want = self.reference.call("POST", "/indexes/dist/search", body).json()
            got = self.cluster.call("POST", "/indexes/dist/search", body).json()
            self.assertEqual(got.get("estimatedTotalHits"), want.get("estimatedTotalHits"))
            self.assertEqual(got.get("totalHits"), want.get("totalHits"))
            models = lambda hits: sorted(docs[h["id"]]["model"] for h in hits)  # noqa: E731
            if len(want["hits"]) == 7:  # every model
                self.assertEqual(models(got["hits"]), models(want["hits"]), body)
            else:  # which tied documents fill the page is a tie; never one model twice
                self.assertEqual(len(set(models(got["hits"]))), len(want["hits"]), body)
            self.assertEqual([sorted(h) for h in got["hits"]], [sorted(h) for h in want["hits"]])
        # a settings change through Miroir shows as soon as its task is done
        r = self.cluster.call("PATCH", "/indexes/dist/settings", {"distinctAttribute": None})
        wait_miroir(self.cluster, r.json()["taskUid"])
        got = self.cluster.call("POST", "/indexes/dist/search", {"q": "shoe"}).json()
        self.assertEqual(got["estimatedTotalHits"], 60)

    def test_stats_count_each_document_once(self):
        want = self.reference.call("GET", f"/indexes/{INDEX}/stats").json()
        r = self.cluster.call("GET", f"/indexes/{INDEX}/stats")
        self.assertEqual(r.status, 200, r.body)
        got = r.json()
        self.assertEqual(list(got), list(want))
        self.assertEqual(got["numberOfDocuments"], len(self.docs))
        self.assertFalse(got["isIndexing"])
        self.assertEqual(sorted(got["fieldDistribution"]), sorted(want["fieldDistribution"]))
        for field, count in want["fieldDistribution"].items():
            if count == len(self.docs):  # a field every document has: exact
                self.assertEqual(got["fieldDistribution"][field], count, field)
            else:  # a share of each node's count: close
                self.assertLess(abs(got["fieldDistribution"][field] - count), count * 0.1 + 2,
                                field)
        r = self.cluster.call("GET", "/stats")
        self.assertEqual(r.status, 200, r.body)
        stats = r.json()
        self.assertEqual(list(stats), ["databaseSize", "usedDatabaseSize", "lastUpdate",
                                       "indexes"])
        self.assertEqual(stats["indexes"][INDEX]["numberOfDocuments"], len(self.docs))
        self.assertIsNotNone(stats["lastUpdate"])


class WholeNodeReads(AgainstOneNode):
    """RF equal to the node count: every node holds every shard, so one node answers a search
    whole and Miroir hands its answer on with only Miroir's fields cut out. The answers must
    be one node's, field for field."""
    SEED, COUNT, SHAPE = 11, 200, {"nodes": 2, "rf": 2, "shards": 8}

    def same(self, method, path, body=None):
        want = self.reference.call(method, path, body)
        got = self.cluster.call(method, path, body)
        self.assertEqual(got.status, want.status, got.body)
        self.assertNotIn(b"_miroir", got.body, got.body)
        w, g = want.json(), got.json()
        for answer in [w, g] + w.get("results", []) + g.get("results", []):
            answer.pop("requestUid", None)
            answer.pop("processingTimeMs", None)
        self.assertEqual(g, w, f"{method} {path} {body}")

    def test_each_search_asks_one_node(self):
        """Every node holds every shard: one node answers each search alone (not one per
        shard picked among the replicas), seen in Miroir's count of node requests."""
        def node_requests():
            text = self.cluster.call("GET", "/_miroir/metrics").body.decode()
            return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("miroir_upstream_requests_total{"))

        before = node_requests()
        for _ in range(20):
            r = self.cluster.call("POST", f"/indexes/{INDEX}/search", {"q": "river"})
            self.assertEqual(r.status, 200, r.body)
        # 20 searches, plus at most a few health probes meanwhile; split plans would ask 40
        self.assertLess(node_requests() - before, 26)

    def test_answers_are_one_nodes_answers(self):
        search = f"/indexes/{INDEX}/search"
        for body in [{"q": "river"},
                     {"q": "glass mount", "offset": 3, "limit": 4, "showRankingScore": True},
                     {"q": "", "page": 2, "hitsPerPage": 7, "sort": ["year:desc", "id:asc"]},
                     {"q": "storm", "facets": ["*"], "filter": "year > 2000",
                      "attributesToHighlight": ["*"], "showMatchesPosition": True,
                      "showRankingScoreDetails": True},
                     {"q": "kernel", "attributesToRetrieve": ["title"], "distinct": "genre"},
                     {"q": "x", "limit": "ten"}]:
            with self.subTest(body=body):
                self.same("POST", search, body)
        self.same("GET", f"{search}?q=python&facets=genre,year&limit=3&offset=1")
        self.same("POST", "/multi-search",
                  {"queries": [{"indexUid": INDEX, "q": "ocean", "facets": ["*"]},
                               {"indexUid": INDEX, "q": "", "limit": 2}]})
        self.same("POST", "/indexes/missing/search", {"q": "star"})


class IndexLifecycleReads(unittest.TestCase):
    def test_list_get_and_update_indexes(self):
        cluster = Cluster({"nodes": 3, "rf": 1, "shards": 4})
        try:
            for uid in ["beta", "alpha", "gamma"]:
                r = cluster.call("POST", "/indexes", {"uid": uid})
                self.assertEqual(r.status, 202, r.body)
                wait_miroir(cluster, r.json()["taskUid"])
            r = cluster.call("GET", "/indexes")
            self.assertEqual(r.status, 200, r.body)
            body = r.json()
            self.assertEqual([i["uid"] for i in body["results"]], ["alpha", "beta", "gamma"])
            self.assertEqual((body["offset"], body["limit"], body["total"]), (0, 20, 3))
            self.assertEqual(list(body["results"][0]),
                             ["uid", "createdAt", "updatedAt", "primaryKey"])
            r = cluster.call("GET", "/indexes?offset=1&limit=1")
            self.assertEqual([i["uid"] for i in r.json()["results"]], ["beta"])
            self.assertEqual(r.json()["total"], 3)

            # a primary key set after creation routes the documents that follow
            r = cluster.call("PATCH", "/indexes/gamma", {"primaryKey": "sku"})
            self.assertEqual((r.status, r.json()["type"]), (202, "indexUpdate"), r.body)
            wait_miroir(cluster, r.json()["taskUid"])
            self.assertEqual(cluster.call("GET", "/indexes/gamma").json()["primaryKey"], "sku")
            docs = [{"sku": f"s{i}", "name": f"item {i}"} for i in range(30)]
            r = cluster.call("POST", "/indexes/gamma/documents", docs)
            wait_miroir(cluster, r.json()["taskUid"])
            for i in range(30):
                r = cluster.call("GET", f"/indexes/gamma/documents/s{i}")
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json(), docs[i])
            # every node holds its part, and only its part
            held = sum(n.call("GET", "/indexes/gamma/stats").json()["numberOfDocuments"]
                       for n in cluster.nodes)
            self.assertEqual(held, 30)
            # a change of primary key once documents exist fails as on one node
            r = cluster.call("PATCH", "/indexes/gamma", {"primaryKey": "name"})
            self.assertEqual(r.status, 202, r.body)
            uid = r.json()["taskUid"]
            import time
            for _ in range(200):
                task = cluster.call("GET", f"/tasks/{uid}").json()
                if task["status"] not in ("enqueued", "processing"):
                    break
                time.sleep(0.05)
            self.assertEqual((task["status"], task["error"]["code"]),
                             ("failed", "index_primary_key_already_exists"))
            self.assertEqual(cluster.call("GET", "/indexes/gamma").json()["primaryKey"], "sku")
            r = cluster.call("PATCH", "/indexes/gamma", {"nope": 1})
            self.assertEqual((r.status, r.json()["code"]), (400, "bad_request"), r.body)
        finally:
            cluster.stop()


class InstanceOperations(unittest.TestCase):
    def test_swap_indexes_dumps_and_snapshots(self):
        cluster = Cluster({"nodes": 3, "rf": 1, "shards": 4})
        try:
            for uid, pk, docs in [
                    ("left", "id", [{"id": i, "side": "left"} for i in range(10)]),
                    ("right", "sku", [{"sku": f"s{i}", "side": "right"} for i in range(7)])]:
                for method, path, body in [("POST", "/indexes", {"uid": uid, "primaryKey": pk}),
                                           ("POST", f"/indexes/{uid}/documents", docs)]:
                    r = cluster.call(method, path, body)
                    self.assertEqual(r.status, 202, r.body)
                    wait_miroir(cluster, r.json()["taskUid"])
            r = cluster.call("POST", "/swap-indexes", [{"indexes": ["left", "right"]}])
            self.assertEqual(r.status, 202, r.body)
            self.assertEqual((r.json()["type"], r.json()["indexUid"]), ("indexSwap", None))
            wait_miroir(cluster, r.json()["taskUid"])
            task = cluster.call("GET", f"/tasks/{r.json()['taskUid']}").json()
            self.assertEqual(task["details"],
                             {"swaps": [{"indexes": ["left", "right"], "rename": False}]})
            self.assertEqual(cluster.call("GET", "/indexes/left").json()["primaryKey"], "sku")
            r = cluster.call("GET", "/indexes/left/documents/s3")
            self.assertEqual((r.status, r.json()), (200, {"sku": "s3", "side": "right"}))
            # documents written next go by the swapped index's primary key
            r = cluster.call("POST", "/indexes/left/documents", [{"sku": "s100", "side": "new"}])
            wait_miroir(cluster, r.json()["taskUid"])
            self.assertEqual(cluster.call("GET", "/indexes/left/documents/s100").status, 200)
            held = sum(n.call("GET", "/indexes/left/stats").json()["numberOfDocuments"]
                       for n in cluster.nodes)
            self.assertEqual(held, 8)
            r = cluster.call("POST", "/swap-indexes", [{"indexes": ["left"]}])
            self.assertEqual((r.status, r.json()["code"]), (400, "invalid_swap_indexes"), r.body)

            for path, kind in [("/dumps", "dumpCreation"), ("/snapshots", "snapshotCreation")]:
                r = cluster.call("POST", path)
                self.assertEqual((r.status, r.json()["type"], r.json()["indexUid"]),
                                 (202, kind, None), r.body)
                wait_miroir(cluster, r.json()["taskUid"])
        finally:
            cluster.stop()


if __name__ == "__main__":
    unittest.main()
