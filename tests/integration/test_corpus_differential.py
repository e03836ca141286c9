"""Differential test on the real corpus (shared/data/debian-packages.ndjson.gz): the first
MIROIR_CORPUS_DOCS packages (default 4000, past the 3000 candidates where Meilisearch changes
how it orders number facets) in one node and, through Miroir, in clusters from S=1 to S=64
with RF 1 and 2; 300 generated queries (one to three corpus words, truncated words, two-letter
words, filters, sorts, string and number facets, offsets that start inside runs of ties), each
sent twice. Every answer must be one node's: the same hits in the same order, totals, facets in
their order, facet stats, ranking details and scores.

Seeded (MIROIR_DIFF_SEED, default 1; printed with every failure). Skipped when the corpus is
not beside the project. Runs against real meilisearch binaries when MEILISEARCH_BIN is set."""
import gzip
import json
import os
import random
import re
import time
import unittest

from nodes import Node
from test_search_differential import Cluster

SEED = int(os.environ.get("MIROIR_DIFF_SEED", "1"))
DOCS = int(os.environ.get("MIROIR_CORPUS_DOCS", "4000"))
NODE_KEY = "node-master-key"
INDEX = "packages"
CORPUS = os.environ.get("MIROIR_CORPUS", os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "data", "debian-packages.ndjson.gz"))
SETTINGS = {
    "searchableAttributes": ["name", "summary", "description", "tags"],
    "filterableAttributes": ["section", "priority", "architecture", "tags", "depends_count",
                             "installed_size_kb"],
    "sortableAttributes": ["depends_count", "installed_size_kb", "name"],
}
FIELDS = ["id", "name", "summary", "description", "section", "priority", "architecture", "tags",
          "installed_size_kb", "depends_count"]


def load_corpus(n):
    docs = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            docs.append({k: doc[k] for k in FIELDS if k in doc})
            if len(docs) == n:
                break
    return docs


def vocabulary(docs):
    counts = {}
    for d in docs:
        for w in re.findall(r"[a-z]+", (d["summary"] + " " + d["name"]).lower()):
            counts[w] = counts.get(w, 0) + 1
    common = sorted((w for w, c in counts.items() if c >= 3 and len(w) >= 3),
                    key=lambda w: (-counts[w], w))
    return common[:400], sorted(w for w in counts if len(w) == 2)


def queries(rng, docs, count):
    words, short = vocabulary(docs)
    sections = sorted({d["section"] for d in docs})
    out = []
    for _ in range(count):
        body = {"showRankingScoreDetails": True, "showRankingScore": True}
        n = rng.choice([0, 1, 1, 1, 2, 2, 3])
        q = [rng.choice(words) for _ in range(n)]
        if q and rng.random() < 0.25:
            q[-1] = q[-1][:rng.randint(2, max(2, len(q[-1]) - 1))]  # truncated: a prefix
        if rng.random() < 0.1:
            q.append(rng.choice(short))
        if q and rng.random() < 0.15 and len(q[0]) > 5:
            i = rng.randrange(1, len(q[0]))
            q[0] = q[0][:i] + rng.choice("aeiou") + q[0][i + 1:]  # a typo
        body["q"] = " ".join(q)
        r = rng.random()
        if r < 0.15:
            body["filter"] = f"section = {json.dumps(rng.choice(sections))}"
        elif r < 0.25:
            body["filter"] = f"depends_count > {rng.randint(0, 15)}"
        elif r < 0.32:
            body["filter"] = ["priority = optional", f"installed_size_kb < {rng.randint(50, 5000)}"]
        r = rng.random()
        if r < 0.15:
            body["sort"] = [rng.choice(["depends_count:asc", "depends_count:desc",
                                        "installed_size_kb:asc", "name:asc"])]
        elif r < 0.2:
            body["sort"] = ["depends_count:desc", "name:asc"]
        r = rng.random()
        if r < 0.35:
            body["facets"] = rng.choice([["section"], ["priority", "architecture"], ["tags"],
                                         ["depends_count"], ["section", "depends_count"]])
        if rng.random() < 0.25:
            body["page"] = rng.randint(1, 5)
            body["hitsPerPage"] = rng.choice([3, 10, 20])
        else:
            # offsets that start inside runs of ties as often as not
            body["offset"] = rng.choice([0, 0, 1, 3, 7, 9, 17, 40])
            body["limit"] = rng.choice([1, 3, 10, 20])
        out.append(body)
    return out


def ranking(hit):
    details = {}
    for rule, d in hit.get("_rankingScoreDetails", {}).items():
        d = {k: v for k, v in d.items() if k != "order" and not isinstance(v, float)}
        details[rule] = d
    return details


def scores(hit):
    out = [hit.get("_rankingScore")]
    for rule, d in hit.get("_rankingScoreDetails", {}).items():
        out += [v for k, v in d.items() if isinstance(v, float)]
    return out


def wait(call, uid, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = call("GET", f"/tasks/{uid}").json()
        if task["status"] in ("succeeded", "failed", "canceled"):
            assert task["status"] == "succeeded", task
            return
        time.sleep(0.05)
    raise TimeoutError(uid)


@unittest.skipUnless(os.path.exists(CORPUS), f"the corpus is not at {CORPUS}")
class CorpusDifferential(unittest.TestCase):
    SHAPES = [
        {"nodes": 3, "rf": 1, "shards": 1},
        {"nodes": 3, "rf": 1, "shards": 12},
        {"nodes": 3, "rf": 2, "shards": 64},
        {"nodes": 4, "rf": 2, "shards": 24, "groups": 2},
    ]

    @classmethod
    def setUpClass(cls):
        rng = random.Random(SEED)
        cls.docs = load_corpus(DOCS)
        cls.queries = queries(rng, cls.docs, 300)
        cls.reference = Node(NODE_KEY).start()
        cls.reference.run("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
        for method, path, body in cls.writes():
            r = cls.reference.call(method, path, body)
            assert r.status == 202, r.body
            wait(cls.reference.call, r.json()["taskUid"])
        cls.answers = [cls.reference.call("POST", f"/indexes/{INDEX}/search", b)
                       for b in cls.queries]

    @classmethod
    def tearDownClass(cls):
        cls.reference.stop()

    @classmethod
    def writes(cls):
        return [("PATCH", f"/indexes/{INDEX}/settings", SETTINGS),
                ("POST", f"/indexes/{INDEX}/documents", cls.docs)]

    def compare(self, where, want, got):
        for key in ("estimatedTotalHits", "totalHits", "totalPages", "page", "hitsPerPage",
                    "offset", "limit", "facetDistribution", "facetStats"):
            self.assertEqual(got.get(key), want.get(key), f"{key}: {where}")
        for field, values in want.get("facetDistribution", {}).items():
            self.assertEqual(list(got["facetDistribution"][field]), list(values),
                             f"facet order of {field}: {where}")
        self.assertEqual([h["id"] for h in got["hits"]], [h["id"] for h in want["hits"]],
                         f"hits: {where}")
        for w, g in zip(want["hits"], got["hits"]):
            self.assertEqual(ranking(g), ranking(w), f"details of {w['id']}: {where}")
            for a, b in zip(scores(g), scores(w)):
                self.assertAlmostEqual(a, b, places=9, msg=f"scores of {w['id']}: {where}")

    def test_every_shape_answers_as_one_node(self):
        for shape in self.SHAPES:
            with self.subTest(shape=shape):
                cluster = Cluster(shape)
                try:
                    for method, path, body in [("POST", "/indexes",
                                                {"uid": INDEX, "primaryKey": "id"})] + \
                            self.writes():
                        r = cluster.call(method, path, body)
                        self.assertEqual(r.status, 202, r.body)
                        wait(cluster.call, r.json()["taskUid"])
                    for body, want in zip(self.queries, self.answers):
                        for attempt in (1, 2):  # another replica may answer the second time
                            where = f"seed {SEED}, shape {shape}, try {attempt}, {json.dumps(body)}"
                            got = cluster.call("POST", f"/indexes/{INDEX}/search", body)
                            self.assertEqual(got.status, want.status, f"{where}: {got.body}")
                            if want.status == 200:
                                self.compare(where, want.json(), got.json())
                finally:
                    cluster.stop()


if __name__ == "__main__":
    unittest.main()
