"""Differential test of federated multi-search: two indexes in one node and, through Miroir, in
sharded clusters; generated federated requests (several queries per index, weights, both
pagination modes, facets by index and merged) must give the same hits in the same order (exact
ties may permute among themselves), the same totals and the same facets.

Seeded (MIROIR_DIFF_SEED, default 1); the seed is printed with every failure. Runs against
real meilisearch binaries when MEILISEARCH_BIN is set."""
import json
import os
import random
import unittest

from nodes import Node
from test_search_differential import (GENRES, INDEX, NODE_KEY, SETTINGS, WORDS, Cluster, corpus,
                                      wait_miroir)

SEED = int(os.environ.get("MIROIR_DIFF_SEED", "1"))
OTHER = "more"


def federated_requests(rng, count):
    out = []
    for _ in range(count):
        queries = []
        for _ in range(rng.randint(1, 3)):
            q = {"indexUid": rng.choice([INDEX, OTHER]),
                 "q": " ".join(rng.choice(WORDS) for _ in range(rng.choice([0, 1, 1, 2])))}
            if rng.random() < 0.3:
                q["filter"] = f"genre = {rng.choice(GENRES[:4])}"
            if rng.random() < 0.3:
                q["federationOptions"] = {"weight": rng.choice([0.5, 2.0, 0.0])}
            if rng.random() < 0.2:
                q["showRankingScore"] = True
            queries.append(q)
        federation = {}
        if rng.random() < 0.3:
            federation["page"] = rng.randint(1, 3)
            federation["hitsPerPage"] = rng.choice([5, 10])
        else:
            federation["offset"] = rng.choice([0, 0, 7, 30])
            federation["limit"] = rng.choice([5, 20, 40])
        if rng.random() < 0.3:
            uids = sorted({q["indexUid"] for q in queries})
            federation["facetsByIndex"] = {uid: ["genre", "year"] for uid in uids}
            if rng.random() < 0.5:
                federation["mergeFacets"] = rng.choice([{}, {"maxValuesPerFacet": 3}])
        out.append({"queries": queries, "federation": federation})
    return out


def signature(hit):
    fed = hit["_federation"]
    return (round(fed["weightedRankingScore"], 9), fed["indexUid"], fed["queriesPosition"])


class FederatedDifferential(unittest.TestCase):
    SHAPES = [
        {"nodes": 3, "rf": 2, "shards": 16},
        {"nodes": 4, "rf": 1, "shards": 8, "groups": 2},
    ]

    @classmethod
    def setUpClass(cls):
        rng = random.Random(SEED)
        cls.corpora = {INDEX: corpus(rng, 400), OTHER: corpus(rng, 250)}
        cls.requests = federated_requests(rng, 80)
        cls.reference = Node(NODE_KEY).start()
        for uid, docs in cls.corpora.items():
            cls.reference.run("POST", "/indexes", {"uid": uid, "primaryKey": "id"})
            cls.reference.run("PATCH", f"/indexes/{uid}/settings", SETTINGS)
            cls.reference.run("POST", f"/indexes/{uid}/documents", docs)

    @classmethod
    def tearDownClass(cls):
        cls.reference.stop()

    def load(self, cluster):
        for uid, docs in self.corpora.items():
            for method, path, body in [("POST", "/indexes", {"uid": uid, "primaryKey": "id"}),
                                       ("PATCH", f"/indexes/{uid}/settings", SETTINGS),
                                       ("POST", f"/indexes/{uid}/documents", docs)]:
                r = cluster.call(method, path, body)
                self.assertEqual(r.status, 202, r.body)
                wait_miroir(cluster, r.json()["taskUid"])

    def compare(self, where, want, got):
        self.assertEqual(list(got), list(want), where)
        for key in ("estimatedTotalHits", "totalHits", "totalPages", "page", "hitsPerPage",
                    "offset", "limit", "facetDistribution", "facetStats", "facetsByIndex"):
            self.assertEqual(got.get(key), want.get(key), f"{key}: {where}")
        w, g = want["hits"], got["hits"]
        self.assertEqual([signature(h) for h in g], [signature(h) for h in w], where)
        for hw, hg in zip(w, g):
            self.assertEqual(list(hg)[-1], "_federation", where)
            self.assertEqual("_rankingScore" in hg, "_rankingScore" in hw, where)
            self.assertFalse([k for k in hg if k.startswith("_miroir")], where)
        # inside a run of ties, the same documents (runs cut by the window may differ)
        sig = [signature(h) for h in w]
        i = 0
        while i < len(w):
            j = i
            while j < len(w) and sig[j] == sig[i]:
                j += 1
            if i > 0 and j < len(w):
                self.assertEqual(sorted(h["id"] for h in g[i:j]), sorted(h["id"] for h in w[i:j]),
                                 f"ids: {where}")
            i = j

    def test_federated_requests_answer_as_one_node(self):
        for shape in self.SHAPES:
            with self.subTest(shape=shape):
                cluster = Cluster(shape)
                try:
                    self.load(cluster)
                    for body in self.requests:
                        where = f"seed {SEED}, shape {shape}, request {json.dumps(body)}"
                        want = self.reference.call("POST", "/multi-search", body)
                        got = cluster.call("POST", "/multi-search", body)
                        self.assertEqual(got.status, want.status, f"{where}: {got.body}")
                        self.assertEqual(want.status, 200, want.body)
                        self.compare(where, want.json(), got.json())
                finally:
                    cluster.stop()

    def test_federated_errors_as_one_node(self):
        cluster = Cluster({"nodes": 2, "rf": 1, "shards": 4})
        try:
            self.load(cluster)
            cases = [
                {"queries": [{"indexUid": INDEX, "q": "x", "limit": 3}], "federation": {}},
                {"queries": [{"indexUid": INDEX, "facets": ["genre"]}], "federation": {}},
                {"queries": [{"indexUid": INDEX, "federationOptions": {"weight": -1}}],
                 "federation": {}},
                {"queries": [{"indexUid": INDEX, "federationOptions": {"weight": 1}}]},
                {"queries": [{"indexUid": INDEX}],
                 "federation": {"facetsByIndex": {OTHER: ["nope"]}}},
                {"queries": [{"indexUid": INDEX}],
                 "federation": {"facetsByIndex": {"missing": ["genre"]}}},
                {"queries": [{"indexUid": INDEX}], "federation": {"nope": 1}},
                {"queries": [{"indexUid": INDEX}], "federation": {"limit": "x"}},
                {"queries": [{"indexUid": INDEX}, {"indexUid": "missing"}], "federation": {}},
                {"queries": [{"indexUid": INDEX, "filter": "title = x"}], "federation": {}},
                {"queries": [{"indexUid": INDEX, "q": "glass"}],
                 "federation": {"facetsByIndex": {INDEX: ["title"]}}},
            ]
            # the facets of an index no query searches are checked, and left out
            body = {"queries": [{"indexUid": INDEX}],
                    "federation": {"facetsByIndex": {OTHER: ["genre"]}, "limit": 2}}
            want = self.reference.call("POST", "/multi-search", body)
            got = cluster.call("POST", "/multi-search", body)
            self.assertEqual((got.status, want.status), (200, 200), got.body)
            self.assertNotIn("facetsByIndex", got.json())
            self.assertEqual(got.json()["estimatedTotalHits"], want.json()["estimatedTotalHits"])
            for body in cases:
                with self.subTest(body=body):
                    want = self.reference.call("POST", "/multi-search", body)
                    got = cluster.call("POST", "/multi-search", body)
                    self.assertEqual(want.status, 400, want.body)
                    self.assertEqual((got.status, got.json()["code"]),
                                     (want.status, want.json()["code"]), got.body)
                    self.assertEqual(got.json()["message"], want.json()["message"])
        finally:
            cluster.stop()


if __name__ == "__main__":
    unittest.main()
