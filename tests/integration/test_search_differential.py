"""Differential test of search: the same corpus in one node and, through Miroir, in clusters of
several shapes; the same generated queries must give the same hits in the same order (exact
ties may permute among themselves), the same totals and the same facets.

Seeded (MIROIR_DIFF_SEED, default 1); the seed is printed with every failure. Runs against
real meilisearch binaries when MEILISEARCH_BIN is set."""
import json
import os
import random
import unittest
import urllib.parse

from harness import Miroir
from nodes import Node
from placement import owners, shard_of

SEED = int(os.environ.get("MIROIR_DIFF_SEED", "1"))
MASTER = "diff-master-key"
REAL = Node().kind != "devnode"  # real Meilisearch nodes (MEILISEARCH_BIN or MEILISEARCH_URL)
NODE_KEY = "node-master-key"
INDEX = "diff"
WORDS = ["shadow", "river", "glass", "mountain", "engine", "garden", "silver", "storm",
         "library", "kernel", "python", "daemon", "network", "window", "harbor", "ocean"]
GENRES = ["drama", "comedy", "horror", "documentary", "Sci-Fi"]
SETTINGS = {
    "searchableAttributes": ["title", "overview", "tags"],
    "filterableAttributes": ["genre", "year", "tags", "price"],
    "sortableAttributes": ["year", "price", "title"],
}


def corpus(rng, n):
    docs = []
    for i in range(n):
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        if i % 17 == 0 and docs:
            title = docs[-1]["title"]  # deliberate ties
        doc = {"id": i, "title": title,
               "overview": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))),
               "genre": rng.choice(GENRES), "tags": rng.sample(WORDS[:6], rng.randint(0, 3)),
               "year": rng.randint(1990, 2020)}
        if rng.random() < 0.8:
            doc["price"] = round(rng.uniform(1, 100), 1) if rng.random() < 0.9 else rng.randint(1, 5)
        docs.append(doc)
    return docs


def typo(rng, word):
    if len(word) < 5:
        return word
    i = rng.randrange(len(word))
    return word[:i] + rng.choice("aeiou") + word[i + 1:]


def queries(rng, count):
    out = []
    for _ in range(count):
        body = {"showRankingScoreDetails": True}
        words = [rng.choice(WORDS) for _ in range(rng.choice([0, 1, 1, 2, 2, 3]))]
        if words and rng.random() < 0.3:
            words[-1] = typo(rng, words[-1])
        if words and rng.random() < 0.3:
            words[-1] = words[-1][:rng.randint(2, len(words[-1]))]  # a prefix
        body["q"] = " ".join(words)
        r = rng.random()
        if r < 0.2:
            body["filter"] = f"year > {rng.randint(1995, 2015)}"
        elif r < 0.35:
            body["filter"] = [f"genre = {rng.choice(GENRES[:4])}", "price EXISTS"]
        r = rng.random()
        if r < 0.2:
            body["sort"] = [rng.choice(["year:desc", "year:asc", "price:asc", "price:desc"])]
        elif r < 0.3:
            body["sort"] = ["price:asc", "title:desc"]
        if rng.random() < 0.3:
            body["facets"] = rng.choice([["genre"], ["genre", "year"], ["tags", "price"]])
        elif rng.random() < 0.2:
            # distinct values spread over every shard (facet counts under distinct, and totals
            # for an array attribute, are not merged exactly: see docs/search.md)
            body["distinct"] = rng.choice(["year", "genre"])
            if rng.random() < 0.5:
                body["attributesToRetrieve"] = ["id", "title"]
        if body["q"] and rng.random() < 0.15:
            body["rankingScoreThreshold"] = rng.choice([0.2, 0.5, 0.8])
        if rng.random() < 0.3:
            body["page"] = rng.randint(1, 4)
            body["hitsPerPage"] = rng.choice([5, 10, 20])
        else:
            body["offset"] = rng.choice([0, 0, 5, 20, 45])
            body["limit"] = rng.choice([1, 10, 20, 30])
        out.append(body)
    return out


def as_query_string(body):
    """The same search as GET parameters: lists comma-separated, an array filter as JSON."""
    params = {}
    for key, value in body.items():
        if key == "filter" and isinstance(value, list):
            params[key] = json.dumps(value)
        elif isinstance(value, list):
            params[key] = ",".join(value)
        elif isinstance(value, bool):
            params[key] = "true" if value else "false"
        else:
            params[key] = str(value)
    return urllib.parse.urlencode(params)


def signature(hit):
    """What one node ranks a hit by, without the parts a node normalizes on its own
    dictionary (the typo rule's maximum and score, hence the global score)."""
    details = {}
    for rule, d in hit.get("_rankingScoreDetails", {}).items():
        d = dict(d)
        d.pop("order", None)
        if rule == "typo":
            d.pop("score", None)
            d.pop("maxTypoCount", None)
        details[rule] = d
    return json.dumps(details, sort_keys=True)


class Cluster:
    def __init__(self, shape, extra_config=""):
        self.shape = shape
        count = shape["nodes"]
        self.nodes = [Node(NODE_KEY).start() for _ in range(count)]
        groups = shape.get("groups", 1)
        per_group = count // groups
        addresses = [(f"d{i}", f"http://127.0.0.1:{n.port}", i // per_group)
                     for i, n in enumerate(self.nodes)]
        extra = (f"  node_master_key: {NODE_KEY}\n  shards: {shape['shards']}\n"
                 f"  replica_groups: {groups}\n{extra_config}")
        self.m = Miroir(nodes=addresses, master_key=MASTER, replication_factor=shape["rf"],
                        extra=extra).start()

    def call(self, method, path, body=None, timeout=10.0):
        headers = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json"}
        return self.m.request(method, path, json.dumps(body) if body is not None else None,
                              headers, timeout)

    def stop(self):
        self.m.stop()
        for n in self.nodes:
            n.stop()


def wait_miroir(cluster, uid):
    import time
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        task = cluster.call("GET", f"/tasks/{uid}").json()
        if task["status"] in ("succeeded", "failed", "canceled"):
            assert task["status"] == "succeeded", task
            return
        time.sleep(0.05)
    raise TimeoutError(uid)


class SearchDifferential(unittest.TestCase):
    SHAPES = [
        {"nodes": 3, "rf": 1, "shards": 16},
        {"nodes": 3, "rf": 2, "shards": 64},
        {"nodes": 4, "rf": 1, "shards": 8, "groups": 2},
        {"nodes": 2, "rf": 2, "shards": 8},  # every node holds everything: answered whole
    ]

    @classmethod
    def setUpClass(cls):
        rng = random.Random(SEED)
        cls.docs = corpus(rng, 600)
        cls.by_id = {d["id"]: d for d in cls.docs}
        cls.queries = queries(rng, 160)
        cls.reference = Node(NODE_KEY).start()
        cls.reference.run("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
        cls.reference.run("PATCH", f"/indexes/{INDEX}/settings", SETTINGS)
        cls.reference.run("POST", f"/indexes/{INDEX}/documents", cls.docs)

    @classmethod
    def tearDownClass(cls):
        cls.reference.stop()

    def load(self, cluster):
        for method, path, body in [("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"}),
                                   ("PATCH", f"/indexes/{INDEX}/settings", SETTINGS),
                                   ("POST", f"/indexes/{INDEX}/documents", self.docs)]:
            r = cluster.call(method, path, body)
            self.assertEqual(r.status, 202, r.body)
            wait_miroir(cluster, r.json()["taskUid"])

    def ident(self, body, hit):
        """What tied hits must agree on: their ids; with distinct, the distinct value (which
        of several tied documents stands for a value is itself a tie)."""
        query = body.get("multi", body)
        if "distinct" in query:
            return str(self.by_id[hit["id"]].get(query["distinct"]))
        return str(hit["id"])

    def compare(self, shape, body, want, got):
        where = f"seed {SEED}, shape {shape}, query {json.dumps(body)}"
        keys = ["estimatedTotalHits", "totalHits", "totalPages", "page", "hitsPerPage",
                "offset", "limit", "facetDistribution", "facetStats"]
        query = body.get("multi", body)
        if "rankingScoreThreshold" in query and "page" not in query and REAL:
            # Meilisearch's estimate under a threshold removes only the buckets its sort
            # visited before the window was full (bucket_sort.rs): it depends on how far a
            # node went, which a sharded search cannot reproduce (docs/search.md)
            keys.remove("estimatedTotalHits")
        if "distinct" in query and REAL:
            # likewise, distinct removes from the count and the facets only the documents
            # that share a value with a bucket the sort visited (docs/search.md)
            keys = [k for k in keys if k not in ("estimatedTotalHits", "totalHits", "totalPages",
                                                 "facetDistribution")]
        for key in keys:
            self.assertEqual(got.get(key), want.get(key), f"{key}: {where}")
        if "facetDistribution" in keys and "facetDistribution" in want:
            for field in want["facetDistribution"]:
                self.assertEqual(list(got["facetDistribution"][field]),
                                 list(want["facetDistribution"][field]), f"facet order: {where}")
        w, g = want["hits"], got["hits"]
        self.assertEqual(len(g), len(w), where)
        for hit in g:
            self.assertFalse([k for k in hit if k.startswith("_miroir")], where)
        # position by position, the same ranking; ids equal within each run of ties, except
        # runs cut by the window's edges (the members beyond the window are unknown here)
        sig_w = [signature(h) for h in w]
        sig_g = [signature(h) for h in g]
        self.assertEqual(sig_g, sig_w, f"ranking: {where}")
        i = 0
        while i < len(w):
            j = i
            while j < len(w) and sig_w[j] == sig_w[i]:
                j += 1
            edge = i == 0 or j == len(w)
            if not edge:
                self.assertEqual(sorted(self.ident(body, h) for h in g[i:j]),
                                 sorted(self.ident(body, h) for h in w[i:j]), f"ids: {where}")
            i = j

    def test_every_shape_answers_as_one_node(self):
        for shape in self.SHAPES:
            with self.subTest(shape=shape):
                cluster = Cluster(shape)
                try:
                    self.load(cluster)
                    for n, body in enumerate(self.queries):
                        want = self.reference.call("POST", f"/indexes/{INDEX}/search", body)
                        got = cluster.call("POST", f"/indexes/{INDEX}/search", body)
                        self.assertEqual(got.status, want.status,
                                         f"seed {SEED} {shape} {body}: {got.body}")
                        if want.status == 200:
                            self.compare(shape, body, want.json(), got.json())
                        if n % 5 == 0:  # with the next query, as a multi-search
                            pair = [dict(body, indexUid=INDEX),
                                    dict(self.queries[(n + 1) % len(self.queries)],
                                         indexUid=INDEX)]
                            want = self.reference.call("POST", "/multi-search",
                                                       {"queries": pair})
                            got = cluster.call("POST", "/multi-search", {"queries": pair})
                            self.assertEqual(got.status, want.status, got.body)
                            if want.status == 200:
                                for q, w, g in zip(pair, want.json()["results"],
                                                   got.json()["results"]):
                                    self.assertEqual(g["indexUid"], INDEX)
                                    self.compare(shape, {"multi": q}, w, g)
                        if n % 3 == 0:  # the same query as GET
                            path = f"/indexes/{INDEX}/search?{as_query_string(body)}"
                            want = self.reference.call("GET", path)
                            got = cluster.call("GET", path)
                            self.assertEqual(got.status, want.status, f"GET {path}: {got.body}")
                            if want.status == 200:
                                self.compare(shape, dict(body, GET=path), want.json(),
                                             got.json())
                finally:
                    cluster.stop()


class PrimaryKeyPlanner(unittest.TestCase):
    """A filter that pins primary keys asks only the owners of their shards
    (`X-Miroir-Shards-Queried`), and answers exactly as one node does."""

    compare = SearchDifferential.compare
    ident = SearchDifferential.ident

    def test_pinned_searches_ask_their_shards_and_answer_as_one_node(self):
        rng = random.Random(SEED + 1)
        docs = corpus(rng, 300)
        self.by_id = {d["id"]: d for d in docs}
        settings = dict(SETTINGS, filterableAttributes=SETTINGS["filterableAttributes"] + ["id"])
        reference = Node(NODE_KEY).start()
        try:
            reference.run("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
            reference.run("PATCH", f"/indexes/{INDEX}/settings", settings)
            reference.run("POST", f"/indexes/{INDEX}/documents", docs)
            for shape in ({"nodes": 3, "rf": 1, "shards": 16}, {"nodes": 3, "rf": 2, "shards": 64}):
                with self.subTest(shape=shape):
                    self.check_shape(shape, docs, settings, reference, rng)
        finally:
            reference.stop()

    def check_shape(self, shape, docs, settings, reference, rng):
        cluster = Cluster(shape)
        try:
            for method, path, body in [("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"}),
                                       ("PATCH", f"/indexes/{INDEX}/settings", settings),
                                       ("POST", f"/indexes/{INDEX}/documents", docs)]:
                r = cluster.call(method, path, body)
                self.assertEqual(r.status, 202, r.body)
                wait_miroir(cluster, r.json()["taskUid"])
            for n in range(60):
                ids = rng.sample(range(len(docs) + 20), rng.randint(1, 4))  # some unknown
                pin = f"id = {ids[0]}" if len(ids) == 1 else f"id IN [{', '.join(map(str, ids))}]"
                extra = rng.choice([None, f"genre = '{rng.choice(GENRES)}'", "year > 2000"])
                text = pin if extra is None else rng.choice([f"{pin} AND {extra}",
                                                             f"{extra} AND ({pin})"])
                body = {"q": rng.choice(["", rng.choice(WORDS)]), "limit": 10,
                        "filter": text if n % 2 else [text], "facets": ["genre"]}
                if n % 4 == 0:
                    body["sort"] = ["year:desc"]
                shards = len({shard_of(str(i), shape["shards"]) for i in ids})
                for r, want in self.ask(cluster, reference, body):
                    self.assertEqual(r.headers.get("x-miroir-shards-queried"), str(shards), body)
                    self.compare(shape, body, want.json(), r.json())
            # a disjunction pins nothing: every shard
            body = {"q": "", "filter": "id = 3 OR genre = drama", "limit": 50}
            for r, want in self.ask(cluster, reference, body):
                self.assertEqual(r.headers.get("x-miroir-shards-queried"), str(shape["shards"]))
                self.compare(shape, body, want.json(), r.json())
        finally:
            cluster.stop()

    def ask(self, cluster, reference, body):
        """The cluster's answers to `body` as POST and as GET, each with the reference's."""
        want = reference.call("POST", f"/indexes/{INDEX}/search", body)
        got = cluster.call("POST", f"/indexes/{INDEX}/search", body)
        self.assertEqual((got.status, want.status), (200, 200), got.body)
        yield got, want
        path = f"/indexes/{INDEX}/search?{as_query_string(body)}"
        want = reference.call("GET", path)
        got = cluster.call("GET", path)
        self.assertEqual((got.status, want.status), (200, 200), got.body)
        yield got, want


class DefaultSettingsWithNumbers(unittest.TestCase):
    """With the default settings every field is searchable, Miroir's own field included:
    queries for numbers (shard numbers among them) must still find exactly what one node
    finds, ranked the same."""

    compare = SearchDifferential.compare
    ident = SearchDifferential.ident

    def test_numeric_queries_answer_as_one_node(self):
        rng = random.Random(SEED)
        docs = [{"id": i, "title": f"{rng.choice(WORDS)} {i % 40} {rng.choice(WORDS)}",
                 "count": i % 13}
                for i in range(300)]
        self.by_id = {d["id"]: d for d in docs}
        reference = Node(NODE_KEY).start()
        cluster = Cluster({"nodes": 3, "rf": 1, "shards": 16})
        try:
            reference.run("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
            reference.run("POST", f"/indexes/{INDEX}/documents", docs)
            for method, path, body in [("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"}),
                                       ("POST", f"/indexes/{INDEX}/documents", docs)]:
                r = cluster.call(method, path, body)
                self.assertEqual(r.status, 202, r.body)
                wait_miroir(cluster, r.json()["taskUid"])
            for q in ["7", "12", "3", "15 river", "0", "storm 9", "1", "glass"]:
                body = {"q": q, "limit": 30, "showRankingScoreDetails": True}
                want = reference.call("POST", f"/indexes/{INDEX}/search", body)
                got = cluster.call("POST", f"/indexes/{INDEX}/search", body)
                self.assertEqual((got.status, want.status), (200, 200), got.body)
                self.compare({"nodes": 3, "rf": 1, "shards": 16}, body, want.json(), got.json())
        finally:
            cluster.stop()
            reference.stop()


class SearchErrorsAndReservedFields(unittest.TestCase):
    def test_errors_are_the_nodes_and_reserved_fields_never_show(self):
        cluster = Cluster({"nodes": 3, "rf": 2, "shards": 8})
        try:
            for method, path, body in [
                    ("POST", "/indexes", {"uid": "e", "primaryKey": "id"}),
                    ("PATCH", "/indexes/e/settings", {"filterableAttributes": ["genre"]}),
                    ("POST", "/indexes/e/documents",
                     [{"id": i, "title": f"glass {i}", "genre": GENRES[i % 5]}
                      for i in range(40)])]:
                r = cluster.call(method, path, body)
                self.assertEqual(r.status, 202, r.body)
                wait_miroir(cluster, r.json()["taskUid"])
            cases = [
                ("POST", "/indexes/e/search", {"q": "glass", "filter": "genre ="}, 400,
                 "invalid_search_filter"),
                ("POST", "/indexes/e/search", {"sort": ["title:asc"]}, 400,
                 "invalid_search_sort"),
                ("POST", "/indexes/e/search", {"limit": "ten"}, 400, "invalid_search_limit"),
                ("GET", "/indexes/e/search?limit=ten", None, 400, "invalid_search_limit"),
                ("POST", "/indexes/e/search", {"nope": 1}, 400, "bad_request"),
                ("POST", "/indexes/missing/search", {"q": "x"}, 404, "index_not_found"),
                ("POST", "/multi-search",
                 {"queries": [{"indexUid": "e", "q": "glass"}, {"indexUid": "missing"}]},
                 400, "index_not_found"),
                ("POST", "/multi-search", {"queries": [{"q": "glass"}]}, 400,
                 "missing_index_uid"),
            ]
            for method, path, body, status, code in cases:
                r = cluster.call(method, path, body)
                self.assertEqual((r.status, r.json().get("code")), (status, code), (path, body))
            r = cluster.call("POST", "/multi-search",
                             {"queries": [{"indexUid": "e", "q": "glass"}, {"indexUid": "nope"}]})
            self.assertTrue(r.json()["message"].startswith("Inside `.queries[1]`: "), r.body)
            # `*` meets no field rule: the node's error lists the filterable patterns, and
            # Miroir's own is not among them
            r = cluster.call("POST", "/indexes/e/search", {"q": "glass", "facets": ["*"]})
            self.assertEqual((r.status, r.json()["code"]), (400, "invalid_search_facets"), r.body)
            self.assertEqual(r.json()["message"],
                             "Invalid facet distribution: Pattern `*` is not filterable. "
                             "Available filterable attributes patterns are: `genre`.")
            r = cluster.call("POST", "/indexes/e/search", {"q": "glass", "facets": ["color"]})
            self.assertNotIn("_miroir", r.json()["message"])
            # nodes answering for part of their shards (RF 2) get a shard filter ANDed to the
            # client's, which a node writes back into its message: not what the client sees
            for given in ["color = x", ["genre = drama", ["color = 1", "genre = comedy"]]]:
                r = cluster.call("POST", "/indexes/e/search", {"q": "glass", "filter": given})
                self.assertEqual(r.json()["code"], "invalid_search_filter", r.body)
                self.assertIn("Available filterable attribute patterns are: `genre`.",
                              r.json()["message"])
                self.assertNotIn("_miroir", r.json()["message"])
                if REAL:
                    self.assertTrue(r.json()["message"].startswith("Index `e`: "), r.body)
            r = cluster.call("POST", "/indexes/e/facet-search", {"facetName": "color"})
            self.assertEqual(r.status, 400, r.body)
            self.assertNotIn("_miroir", r.json()["message"])
            r = cluster.call("POST", "/indexes/e/search",
                             {"q": "glass", "facets": ["genre"], "attributesToHighlight": ["*"],
                              "limit": 40})
            self.assertEqual(r.status, 200, r.body)
            result = r.json()
            self.assertEqual(result["estimatedTotalHits"], 40)
            self.assertEqual(sorted(h["id"] for h in result["hits"]), list(range(40)))
            for hit in result["hits"]:
                self.assertNotIn("_miroir_shard", hit)
                self.assertNotIn("_miroir_shard", hit["_formatted"])
                self.assertNotIn("_rankingScore", hit)
                self.assertNotIn("_rankingScoreDetails", hit)
            # GET filters in every form a node reads, with nodes answering for part of their
            # shards (RF 2): plain text, a JSON string, a JSON array
            for raw in ["genre = drama", json.dumps("genre = drama"), json.dumps(["genre = drama"])]:
                path = "/indexes/e/search?" + urllib.parse.urlencode({"q": "glass", "filter": raw})
                r = cluster.call("GET", path)
                self.assertEqual((r.status, r.json().get("estimatedTotalHits")), (200, 8),
                                 (raw, r.body))
            self.assertEqual(list(result["facetDistribution"]), ["genre"])
            self.assertEqual(sum(result["facetDistribution"]["genre"].values()), 40)
        finally:
            cluster.stop()


class UnavailableShards(unittest.TestCase):
    """RF 1 over three nodes, one node stopped: its shards have no replica left."""

    def run_with(self, policy):
        cluster = Cluster({"nodes": 3, "rf": 1, "shards": 8},
                          f"  scatter: {{ unavailable_shard_policy: {policy} }}\n")
        try:
            for method, path, body in [
                    ("POST", "/indexes", {"uid": "u", "primaryKey": "id"}),
                    ("POST", "/indexes/u/documents", [{"id": i, "t": "glass"} for i in range(60)])]:
                r = cluster.call(method, path, body)
                self.assertEqual(r.status, 202, r.body)
                wait_miroir(cluster, r.json()["taskUid"])
            full = cluster.call("POST", "/indexes/u/search", {"q": "glass"}).json()
            self.assertEqual(full["estimatedTotalHits"], 60)
            cluster.nodes[1].stop()
            return cluster.call("POST", "/indexes/u/search", {"q": "glass", "limit": 100})
        finally:
            cluster.stop()

    def test_partial_answers_from_the_rest_and_names_the_shards(self):
        r = self.run_with("partial")
        self.assertEqual(r.status, 200, r.body)
        degraded = r.headers.get("x-miroir-degraded", "")
        self.assertTrue(degraded.startswith("shards="), degraded)
        missing = [int(s) for s in degraded[len("shards="):].split(",")]
        # exactly the shards of the stopped node d1
        self.assertEqual(missing, [s for s in range(8)
                                   if owners(s, ["d0", "d1", "d2"], 1) == ["d1"]])
        result = r.json()
        self.assertLess(result["estimatedTotalHits"], 60)
        self.assertEqual(len(result["hits"]), result["estimatedTotalHits"])

    def test_error_policy_refuses(self):
        r = self.run_with("error")
        self.assertEqual(r.status, 503, r.body)
        self.assertEqual(r.json()["code"], "miroir_shard_unavailable")


if __name__ == "__main__":
    unittest.main()
