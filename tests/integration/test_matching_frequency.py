"""`matchingStrategy: frequency` through Miroir: a node drops a query's words most frequent
first, counting its own documents, so over several nodes each would drop other words. When the
counts over the whole index rise from the first word to the last, Miroir sends the search as
`last`, which drops the same words: the hits, their order, totals and ranking details must be
one node's. Runs against real meilisearch binaries when MEILISEARCH_BIN is set."""
import json
import random
import unittest
import urllib.parse

from nodes import Node
from test_search_differential import MASTER, NODE_KEY, Cluster, wait_miroir

INDEX = "frequency"
# the JavaScript client's own search dataset: `french` in 2 documents, `book` in 6
BOOKS = [
    {"id": 123, "title": "Pride and Prejudice", "comment": "A great book"},
    {"id": 456, "title": "Le Petit Prince",
     "comment": "A french book about a prince that walks on little cute planets"},
    {"id": 2, "title": "Le Rouge et le Noir", "comment": "Another french book"},
    {"id": 1, "title": "Alice In Wonderland", "comment": "A weird book"},
    {"id": 1344, "title": "The Hobbit", "comment": "An awesome book"},
    {"id": 4, "title": "Harry Potter and the Half-Blood Prince", "comment": "The best book"},
    {"id": 5, "title": "Harry Potter and the Deathly Hallows"},
    {"id": 42, "title": "The Hitchhiker's Guide to the Galaxy"},
]
# words of very different frequencies: the k-th is in about 1 document of 2k
VOCABULARY = ["amber", "basalt", "cedar", "delta", "ember", "fjord", "granite", "heron",
              "indigo", "juniper", "kestrel", "lagoon"]


def corpus():
    rng = random.Random(11)
    docs = []
    for i in range(300):
        words = [w for k, w in enumerate(VOCABULARY) if rng.random() < 1 / (1.6 * (k + 1))]
        rng.shuffle(words)
        docs.append({"id": 10000 + i, "title": " ".join(words[:3]),
                     "comment": " ".join(words[3:])})
    return docs


def queries():
    out = ["french book", "prince book", "french book ", "potter harry", "book french",
           "weird book", "awesome great book"]
    rng = random.Random(3)
    for _ in range(40):
        out.append(" ".join(rng.sample(VOCABULARY, rng.choice([2, 2, 3]))))
    return out


class MatchingFrequency(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reference = Node(NODE_KEY).start()
        cls.cluster = Cluster({"nodes": 3, "rf": 1, "shards": 8})
        writes = [("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"}),
                  ("POST", f"/indexes/{INDEX}/documents", BOOKS + corpus())]
        for method, path, body in writes:
            r = cls.reference.call(method, path, body)
            assert cls.reference.wait_task(r.json()["taskUid"], timeout=60)["status"] == "succeeded"
            r = cls.cluster.m.request(method, path, json.dumps(body),
                                      {"Authorization": f"Bearer {MASTER}",
                                       "Content-Type": "application/json"})
            assert r.status == 202, r.body
            wait_miroir(cls.cluster, r.json()["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        cls.reference.stop()

    def total(self, q):
        body = {"q": q, "matchingStrategy": "all", "page": 1, "hitsPerPage": 0}
        return self.reference.call("POST", f"/indexes/{INDEX}/search", body).json()["totalHits"]

    def drops_as_last(self, q):
        """One node's counts of the query's words, rising from the first to the last (a word
        no document holds counting as the most), and no concatenation of adjacent words held
        (but as those two words)."""
        words = q.split()
        prefix = not q.endswith(" ")
        def probe(i, n):
            text = "".join(words[i:i + n])
            if n == 2:  # alone, it would also match its two words side by side
                text = f'-"{" ".join(words[i:i + n])}" {text}'
            return text if prefix and i + n == len(words) else text + " "
        counts = [self.total(probe(i, 1)) or float("inf") for i in range(len(words))]
        joined = [self.total(probe(i, n)) for n in (2, 3) for i in range(len(words) - n + 1)]
        return not any(joined) and all(a < b for a, b in zip(counts, counts[1:]))

    def both(self, body):
        path = f"/indexes/{INDEX}/search"
        want = self.reference.call("POST", path, body)
        got = self.cluster.call("POST", path, body)
        self.assertEqual(got.status, 200, got.body)
        return want.json(), got.json()

    @staticmethod
    def ranked(answer):
        return [(h["id"], h["_rankingScoreDetails"]["words"]["matchingWords"])
                for h in answer["hits"]]

    def test_the_client_suite_case(self):
        want, got = self.both({"q": "french book", "matchingStrategy": "frequency"})
        self.assertEqual(sorted(h["id"] for h in want["hits"]), [2, 456])
        self.assertEqual([h["id"] for h in got["hits"]], [h["id"] for h in want["hits"]])
        self.assertEqual(got["estimatedTotalHits"], want["estimatedTotalHits"])

    def test_queries_whose_counts_rise_rank_as_one_node(self):
        exact = 0
        for q in queries():
            for window in ({"limit": 20}, {"offset": 3, "limit": 7}, {"page": 2, "hitsPerPage": 5}):
                body = {"q": q, "matchingStrategy": "frequency", "showRankingScoreDetails": True,
                        **window}
                want, got = self.both(body)
                if not self.drops_as_last(q):
                    continue  # each node drops its own most frequent words (docs/search.md)
                exact += 1
                self.assertEqual(self.ranked(got), self.ranked(want), (q, window))
                for key in ("estimatedTotalHits", "totalHits", "totalPages"):
                    self.assertEqual(got.get(key), want.get(key), (q, window, key))
        self.assertGreater(exact, 30)

    def test_get_search_and_multi_search(self):
        params = urllib.parse.urlencode({"q": "french book", "matchingStrategy": "frequency"})
        path = f"/indexes/{INDEX}/search?{params}"
        want = self.reference.call("GET", path).json()
        got = self.cluster.call("GET", path)
        self.assertEqual(got.status, 200, got.body)
        self.assertEqual([h["id"] for h in got.json()["hits"]], [h["id"] for h in want["hits"]])
        query = {"indexUid": INDEX, "q": "french book", "matchingStrategy": "frequency"}
        for body in ({"queries": [query]}, {"federation": {}, "queries": [query]}):
            want = self.reference.call("POST", "/multi-search", body).json()
            got = self.cluster.call("POST", "/multi-search", body)
            self.assertEqual(got.status, 200, got.body)
            hits = lambda a: [h["id"] for h in (a["results"][0] if "results" in a else a)["hits"]]
            self.assertEqual(hits(got.json()), hits(want), body)


if __name__ == "__main__":
    unittest.main()
