"""Error fidelity: more than a hundred bad requests, each sent to one node and to Miroir over
several nodes; status, code, type, message and link must be the same. Against real Meilisearch
with MEILISEARCH_BIN, else against the development node."""
import json
import os
import unittest

from nodes import Node
from test_search_differential import MASTER, NODE_KEY, Cluster, wait_miroir

JSON = {"Content-Type": "application/json"}
REAL = bool(os.environ.get("MEILISEARCH_BIN"))

# (method, path, body): a body that is a str or bytes is sent as it is, with JSON's type
SEARCH = "/indexes/et/search"
BAD_SEARCH_BODIES = [
    {"q": 123}, {"offset": "x"}, {"limit": -1}, {"page": "1"}, {"hitsPerPage": True},
    {"attributesToRetrieve": "title"}, {"attributesToCrop": 1}, {"cropLength": "x"},
    {"cropMarker": 1}, {"attributesToHighlight": 1}, {"highlightPreTag": 1},
    {"highlightPostTag": 1}, {"showMatchesPosition": "yes"}, {"filter": 1},
    {"sort": "year:asc"}, {"facets": "genre"}, {"matchingStrategy": "bogus"},
    {"showRankingScore": 1}, {"showRankingScoreDetails": 1}, {"rankingScoreThreshold": 2},
    {"attributesToSearchOn": "title"}, {"distinct": 1}, {"hybrid": {}}, {"vector": "x"},
    {"retrieveVectors": 1}, {"locales": ["xx"]}, {"showPerformanceDetails": 1},
    {"nope": 1}, {"filter": "genre ="}, {"filter": "nope = 1"}, {"filter": "title = x"},
    {"filter": "year >< 3"}, {"filter": "_geoRadius(1, 2)"}, {"filter": ["genre = a", 3]},
    {"sort": ["title:asc"]}, {"sort": ["year:up"]}, {"facets": ["title"]},
    {"attributesToSearchOn": ["year"]}, {"distinct": "title"}, {"q": "a", "page": 0, "hitsPerPage": -2},
    [1], "not json",
]
BAD_SEARCH_QUERIES = [
    "limit=x", "offset=-1", "page=a", "hitsPerPage=b", "showRankingScore=yes",
    "matchingStrategy=bogus", "filter=genre%20%3D", "sort=title:asc", "facets=title",
    "cropLength=x", "unknown=1", "rankingScoreThreshold=3",
]
OTHER = [
    ("POST", "/indexes/et/documents", "[{\"id\": 1"),
    ("POST", "/indexes/et/documents", ""),
    ("POST", "/indexes/et/documents?csvDelimiter=;", [{"id": 9}]),
    ("POST", "/indexes/et/documents?skipCreation=maybe", [{"id": 9}]),
    ("POST", "/indexes/et/documents?unknown=1", [{"id": 9}]),
    ("POST", "/indexes/et/documents/fetch", {"offset": "x"}),
    ("POST", "/indexes/et/documents/fetch", {"fields": 1}),
    ("POST", "/indexes/et/documents/fetch", {"filter": "genre ="}),
    ("POST", "/indexes/et/documents/fetch", {"nope": 1}),
    ("POST", "/indexes/et/documents/fetch", {"sort": ["title:asc"]}),
    ("GET", "/indexes/et/documents?limit=x", None),
    ("GET", "/indexes/et/documents?offset=-3", None),
    ("GET", "/indexes/et/documents?filter=nope%20%3D%201", None),
    ("GET", "/indexes/et/documents?retrieveVectors=x", None),
    ("GET", "/indexes/et/documents?nope=1", None),
    ("POST", "/indexes/et/documents/delete-batch", {"ids": [1]}),
    ("POST", "/indexes/et/documents/delete", {}),
    ("POST", "/indexes/et/documents/delete", {"filter": "genre =", "x": 1}),
    ("POST", "/indexes/et/documents/delete", [1]),
    ("POST", "/indexes", {"uid": "a b"}),
    ("POST", "/indexes", {}),
    ("POST", "/indexes", {"uid": "ok", "primaryKey": 1}),
    ("POST", "/indexes", {"uid": "ok", "nope": 1}),
    ("POST", "/indexes", {"uid": 12}),
    ("PATCH", "/indexes/et", {"nope": 1}),
    ("PATCH", "/indexes/et", {"primaryKey": 3}),
    ("GET", "/indexes?limit=x", None),
    ("GET", "/indexes?offset=-1", None),
    ("GET", "/indexes/a%20b", None),
    ("GET", "/indexes/missing", None),
    ("GET", "/indexes/missing/documents", None),
    ("POST", "/indexes/missing/search", {"q": "a"}),
    ("PATCH", "/indexes/et/settings", {"nope": 1}),
    ("PATCH", "/indexes/et/settings", {"rankingRules": "x"}),
    ("PATCH", "/indexes/et/settings", {"rankingRules": ["bogus"]}),
    ("PATCH", "/indexes/et/settings", {"searchableAttributes": "x"}),
    ("PATCH", "/indexes/et/settings", {"typoTolerance": {"enabled": 1}}),
    ("PATCH", "/indexes/et/settings", {"pagination": {"maxTotalHits": -1}}),
    ("PATCH", "/indexes/et/settings", {"faceting": {"maxValuesPerFacet": "x"}}),
    ("PATCH", "/indexes/et/settings", {"synonyms": []}),
    ("PATCH", "/indexes/et/settings", {"stopWords": "x"}),
    ("PATCH", "/indexes/et/settings", {"distinctAttribute": 1}),
    ("PATCH", "/indexes/et/settings", {"proximityPrecision": "x"}),
    ("PATCH", "/indexes/et/settings", {"searchCutoffMs": -1}),
    ("PATCH", "/indexes/et/settings", {"localizedAttributes": 1}),
    ("PATCH", "/indexes/et/settings", {"embedders": {"x": {"source": "nope"}}}),
    ("PATCH", "/indexes/et/settings", {"typoTolerance": {"minWordSizeForTypos": {"oneTypo": 9,
                                                                                 "twoTypos": 2}}}),
    ("PUT", "/indexes/et/settings/ranking-rules", "x"),
    ("PUT", "/indexes/et/settings/sortable-attributes", {"a": 1}),
    ("PATCH", "/indexes/et/settings/faceting", [1]),
    ("GET", "/tasks?uids=x", None),
    ("GET", "/tasks?statuses=bogus", None),
    ("GET", "/tasks?types=bogus", None),
    ("GET", "/tasks?limit=-1", None),
    ("GET", "/tasks?from=x", None),
    ("GET", "/tasks?beforeEnqueuedAt=bad", None),
    ("GET", "/tasks?afterStartedAt=2020", None),
    ("GET", "/tasks?indexUids=a%20b", None),
    ("GET", "/tasks?canceledBy=x", None),
    ("GET", "/tasks?reverse=x", None),
    ("GET", "/tasks?nope=1", None),
    ("GET", "/tasks/x", None),
    ("GET", "/tasks/99999", None),
    ("POST", "/tasks/cancel", None),
    ("DELETE", "/tasks", None),
    ("POST", "/tasks/cancel?statuses=bogus", None),
    ("POST", "/keys", {}),
    ("POST", "/keys", {"actions": ["bogus"], "indexes": ["*"], "expiresAt": None}),
    ("POST", "/keys", {"actions": ["*"], "indexes": ["*"], "expiresAt": "bad"}),
    ("POST", "/keys", {"actions": ["*"], "indexes": "x", "expiresAt": None}),
    ("GET", "/keys/not-a-key", None),
    ("GET", "/keys?limit=x", None),
    ("PATCH", "/keys/not-a-key", {"name": "x"}),
    ("POST", "/multi-search", {"queries": 1}),
    ("POST", "/multi-search", {"queries": [{"q": "a"}]}),
    ("POST", "/multi-search", {"queries": [{"indexUid": "et", "q": 1}]}),
    ("POST", "/multi-search", {"federation": {}, "queries": [{"indexUid": "et", "limit": 3}]}),
    ("POST", "/multi-search", {"federation": {"nope": 1}, "queries": []}),
    ("POST", "/multi-search", {"queries": [{"indexUid": "missing"}]}),
    ("POST", "/multi-search", {"nope": 1}),
    ("POST", "/indexes/et/facet-search", {}),
    ("POST", "/indexes/et/facet-search", {"facetName": "title"}),
    ("POST", "/indexes/et/facet-search", {"facetName": "genre", "facetQuery": 1}),
    ("POST", "/indexes/et/similar", {"id": 1}),
    ("POST", "/indexes/et/similar", {"embedder": "x"}),
    ("POST", "/swap-indexes", {}),
    ("POST", "/swap-indexes", [{"indexes": ["et"]}]),
    ("GET", "/stats?sizeFormat=x", None),
    ("PATCH", "/experimental-features", {"nope": True}),
]


def cases():
    for body in BAD_SEARCH_BODIES:
        yield ("POST", SEARCH, body, None)
    for query in BAD_SEARCH_QUERIES:
        yield ("GET", f"{SEARCH}?{query}", None, None)
    for method, path, body in OTHER:
        yield (method, path, body, None)
    if REAL:  # the development node has no batches
        yield ("GET", "/batches/x", None, None)
        yield ("GET", "/batches?limit=x", None, None)
    # content types and payloads
    yield ("POST", "/indexes/et/documents", b'[{"id": 1}]', {"Content-Type": "text/plain"})
    yield ("POST", "/indexes/et/documents", b'[{"id": 1}]', {})
    yield ("POST", SEARCH, b'{"q": "a"}', {"Content-Type": "text/plain"})
    yield ("POST", "/indexes/et/documents", b"id,title\n1", {"Content-Type": "text/csv"})
    yield ("POST", "/indexes/et/documents", b'{"id": 1}\n{"id"', {
        "Content-Type": "application/x-ndjson"})


class ErrorTable(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster({"nodes": 3, "rf": 1, "shards": 8})
        cls.node = Node(NODE_KEY).start()
        docs = [{"id": i, "title": f"title {i}", "genre": "g", "year": 2000 + i}
                for i in range(20)]
        settings = {"filterableAttributes": ["genre"], "sortableAttributes": ["year"]}
        for call, wait in ((c.call, lambda uid: wait_miroir(c, uid)),
                           (cls.node.call, cls.node.wait_task)):
            for method, path, body in (("PATCH", "/indexes/et/settings", settings),
                                       ("POST", "/indexes/et/documents", docs)):
                r = call(method, path, body)
                assert r.status == 202, r.body
                wait(json.loads(r.body)["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        cls.node.stop()

    def send(self, through, method, path, body, headers):
        if headers is None:
            headers = dict(JSON) if body is not None else {}
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if through:
            return self.cluster.m.request(method, path, body,
                                          {**headers, "Authorization": f"Bearer {MASTER}"})
        return self.node.call(method, path, body, headers=headers)

    def test_every_bad_request_answers_as_one_node(self):
        all_cases = list(cases())
        self.assertGreaterEqual(len(all_cases), 100)
        differences = []
        for method, path, body, headers in all_cases:
            one = self.send(False, method, path, body, headers)
            through = self.send(True, method, path, body, headers)
            want = json.loads(one.body) if one.body else None
            got = json.loads(through.body) if through.body else None
            if one.status < 400:  # not refused by this node: the same status is enough
                want = got = None
            if (through.status, got) != (one.status, want):
                differences.append((method, path, body, (one.status, want),
                                    (through.status, got)))
        for d in differences:
            print("\n  ", d[0], d[1], d[2], "\n    node:  ", d[3], "\n    miroir:", d[4])
        self.assertEqual(len(differences), 0, f"{len(differences)} of {len(all_cases)} differ")


if __name__ == "__main__":
    unittest.main()
