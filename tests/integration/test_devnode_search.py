"""Search on the development node, checked for what Meilisearch itself guarantees: response
shapes, bucket-sort order, ranking details, sort, filters, facets, distinct, pagination and
the per-node normalization of the typo rule. Runs against real Meilisearch as well
(MEILISEARCH_BIN or MEILISEARCH_URL)."""
import unittest
import uuid

from nodes import Node

MOVIES = [
    {"id": 1, "title": "The Dark Knight", "genre": "Action", "year": 2008, "rating": 9.0},
    {"id": 2, "title": "Dark Waters", "genre": "Drama", "year": 2019, "rating": 7.6},
    {"id": 3, "title": "Knight and Day", "genre": "action", "year": 2010, "rating": 6.3},
    {"id": 4, "title": "Knight Dark", "genre": "Comedy", "year": 1999},
    {"id": 5, "title": "Dark", "genre": "Drama", "year": "unknown", "rating": 8.7},
    {"id": 6, "title": "A Knight's Tale", "genre": "Action", "year": 2001, "rating": 6.9},
]


class Search(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node().start()
        cls.uid = f"movies_{uuid.uuid4().hex[:8]}"
        cls.node.run("POST", f"/indexes/{cls.uid}/documents", MOVIES)
        task = cls.node.run("PATCH", f"/indexes/{cls.uid}/settings", {
            "filterableAttributes": ["genre", "year", "rating"],
            "sortableAttributes": ["year", "rating", "title"],
            "searchableAttributes": ["title", "genre"]})
        assert task["status"] == "succeeded", task

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def search(self, body, status=200):
        r = self.node.call("POST", f"/indexes/{self.uid}/search", body)
        self.assertEqual(r.status, status, r.body)
        return r.json()

    def ids(self, body):
        return [h["id"] for h in self.search(body)["hits"]]

    def test_response_shape(self):
        body = self.search({"q": "dark"})
        self.assertEqual(list(body.keys()), ["hits", "query", "processingTimeMs", "limit",
                                             "offset", "estimatedTotalHits", "requestUid"])
        body = self.search({"q": "dark", "hitsPerPage": 2, "page": 2})
        self.assertEqual(list(body.keys()), ["hits", "query", "processingTimeMs", "hitsPerPage",
                                             "page", "totalPages", "totalHits", "requestUid"])
        self.assertEqual((body["totalHits"], body["totalPages"], len(body["hits"])), (4, 2, 2))
        hit = self.search({"q": "dark", "limit": 1})["hits"][0]
        self.assertFalse(any(k.startswith("_") for k in hit))

    def test_placeholder_returns_everything_with_score_one(self):
        body = self.search({"showRankingScore": True, "limit": 100})
        self.assertEqual(body["estimatedTotalHits"], 6)
        self.assertTrue(all(h["_rankingScore"] == 1.0 for h in body["hits"]))

    def test_more_matching_words_rank_first(self):
        ids = self.ids({"q": "dark knight"})
        self.assertEqual(set(ids[:2]), {1, 4})
        self.assertEqual(set(ids[2:]), {2, 5})

    def test_matching_strategy_all(self):
        self.assertEqual(set(self.ids({"q": "dark knight", "matchingStrategy": "all"})), {1, 4})

    def test_exact_match_beats_longer_title(self):
        ids = self.ids({"q": "dark"})
        self.assertEqual(ids[0], 5)

    def test_typo_ranks_after_exact(self):
        ids = self.ids({"q": "knigth"})  # a typo of knight
        self.assertEqual(set(ids), {1, 3, 4, 6})

    def test_ranking_score_details(self):
        hit = self.search({"q": "dark knight", "showRankingScoreDetails": True,
                           "showRankingScore": True, "limit": 1})["hits"][0]
        details = hit["_rankingScoreDetails"]
        self.assertEqual(list(details.keys()), ["words", "typo", "proximity", "attributeRank",
                                                "wordPosition", "exactness"])
        self.assertEqual([d["order"] for d in details.values()], list(range(6)))
        self.assertEqual(details["words"]["matchingWords"], 2)
        self.assertEqual(details["words"]["maxMatchingWords"], 2)
        self.assertEqual(details["words"]["score"], 1.0)
        self.assertIn("typoCount", details["typo"])
        self.assertIn("maxTypoCount", details["typo"])
        self.assertIn(details["exactness"]["matchType"],
                      ["exactMatch", "matchesStart", "noExactMatch"])
        self.assertGreater(hit["_rankingScore"], 0)
        self.assertLessEqual(hit["_rankingScore"], 1)

    def test_sort_numbers_then_strings_then_missing(self):
        body = self.search({"sort": ["year:asc"], "showRankingScoreDetails": True, "limit": 100})
        self.assertEqual([h["id"] for h in body["hits"]], [4, 6, 1, 3, 2, 5])
        self.assertEqual(body["hits"][0]["_rankingScoreDetails"]["year:asc"],
                         {"order": 0, "value": 1999.0})
        self.assertEqual(body["hits"][-1]["_rankingScoreDetails"]["year:asc"]["value"], "unknown")
        self.assertEqual(self.ids({"sort": ["year:desc"], "limit": 100}), [2, 3, 1, 6, 4, 5])
        self.assertEqual(self.ids({"sort": ["rating:desc"], "limit": 100}), [1, 5, 2, 6, 3, 4])
        self.assertEqual(self.ids({"sort": ["title:asc"], "limit": 3}), [6, 5, 2])

    def test_sort_errors(self):
        body = self.search({"sort": ["genre:asc"]}, status=400)
        self.assertEqual(body["code"], "invalid_search_sort")
        body = self.search({"sort": ["year"]}, status=400)
        self.assertEqual(body["code"], "invalid_search_sort")

    def test_filter(self):
        self.assertEqual(set(self.ids({"q": "knight", "filter": "genre = action"})), {1, 3, 6})
        self.assertEqual(self.ids({"filter": ["year 2005 TO 2020", "rating >= 7"],
                                   "sort": ["year:asc"]}), [1, 2])
        body = self.search({"filter": "title = x"}, status=400)
        self.assertEqual(body["code"], "invalid_search_filter")

    def test_facets(self):
        body = self.search({"facets": ["genre", "rating"]})
        self.assertEqual(body["facetDistribution"]["genre"], {"Action": 3, "Comedy": 1, "Drama": 2})
        self.assertEqual(body["facetStats"]["rating"], {"min": 6.3, "max": 9.0})
        self.assertEqual(sum(body["facetDistribution"]["rating"].values()), 5)
        body = self.search({"q": "knight", "facets": ["genre"]})
        self.assertEqual(body["facetDistribution"]["genre"], {"Action": 3, "Comedy": 1})
        self.assertEqual(self.search({"facets": ["title"]}, status=400)["code"],
                         "invalid_search_facets")

    def test_distinct(self):
        body = self.search({"distinct": "genre", "limit": 100})
        genres = [h["genre"].lower() for h in body["hits"]]
        self.assertEqual(len(genres), len(set(genres)))
        self.assertEqual(len(genres), 3)

    def test_offset_limit_window(self):
        everything = self.ids({"q": "knight", "limit": 100})
        self.assertEqual(self.ids({"q": "knight", "offset": 1, "limit": 2}), everything[1:3])
        self.assertEqual(self.search({"q": "knight", "offset": 10})["hits"], [])

    def test_ranking_score_threshold(self):
        body = self.search({"q": "dark knight", "rankingScoreThreshold": 0.9,
                            "showRankingScore": True})
        self.assertTrue(all(h["_rankingScore"] >= 0.9 for h in body["hits"]))
        self.assertEqual(body["estimatedTotalHits"], len(body["hits"]))

    def test_retrieve_and_highlight(self):
        hit = self.search({"q": "waters", "attributesToRetrieve": ["id"],
                           "attributesToHighlight": ["title"]})["hits"][0]
        self.assertEqual(hit["id"], 2)
        self.assertNotIn("title", hit)
        self.assertEqual(hit["_formatted"]["title"], "Dark <em>Waters</em>")

    def test_get_matches_post(self):
        post = self.ids({"q": "dark", "limit": 3, "sort": ["year:desc"]})
        r = self.node.call("GET", f"/indexes/{self.uid}/search?q=dark&limit=3&sort=year:desc")
        self.assertEqual([h["id"] for h in r.json()["hits"]], post)

    def test_errors(self):
        r = self.node.call("POST", f"/indexes/missing_{uuid.uuid4().hex[:6]}/search", {"q": "a"})
        self.assertEqual((r.status, r.json()["code"]), (404, "index_not_found"))
        self.assertEqual(self.search({"q": "a", "doggo": 1}, status=400)["code"], "bad_request")
        self.assertEqual(self.search({"limit": "ten"}, status=400)["code"], "invalid_search_limit")
        self.assertEqual(self.search({"matchingStrategy": "some"}, status=400)["code"],
                         "invalid_search_matching_strategy")

    def test_multi_search(self):
        r = self.node.call("POST", "/multi-search", {"queries": [
            {"indexUid": self.uid, "q": "dark", "limit": 1},
            {"indexUid": self.uid, "q": "knight", "limit": 2}]})
        self.assertEqual(r.status, 200, r.body)
        results = r.json()["results"]
        self.assertEqual([res["indexUid"] for res in results], [self.uid, self.uid])
        self.assertEqual(len(results[0]["hits"]), 1)
        self.assertEqual(len(results[1]["hits"]), 2)
        r = self.node.call("POST", "/multi-search", {"queries": [
            {"indexUid": self.uid}, {"indexUid": "nope_" + uuid.uuid4().hex[:6]}]})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["code"], "index_not_found")
        self.assertTrue(r.json()["message"].startswith("Inside `.queries[1]`: "))


class FacetSearch(unittest.TestCase):
    def test_facet_search(self):
        with Node() as node:
            uid = f"fs_{uuid.uuid4().hex[:6]}"
            node.run("POST", f"/indexes/{uid}/documents", MOVIES)
            node.run("PATCH", f"/indexes/{uid}/settings", {"filterableAttributes": ["genre"]})
            path = f"/indexes/{uid}/facet-search"
            r = node.call("POST", path, {"facetName": "genre", "facetQuery": "dr"})
            self.assertEqual(r.status, 200, r.body)
            body = r.json()
            self.assertEqual(list(body.keys()), ["facetHits", "facetQuery", "processingTimeMs"])
            self.assertEqual(body["facetHits"], [{"value": "Drama", "count": 2}])
            body = node.call("POST", path, {"facetName": "genre"}).json()
            self.assertEqual(body["facetHits"], [{"value": "Action", "count": 3},
                                                 {"value": "Comedy", "count": 1},
                                                 {"value": "Drama", "count": 2}])
            self.assertIsNone(body["facetQuery"])
            body = node.call("POST", path, {"facetName": "genre", "q": "knight"}).json()
            self.assertEqual(body["facetHits"], [{"value": "Action", "count": 3},
                                                 {"value": "Comedy", "count": 1}])
            self.assertEqual(node.call("POST", path, {}).json()["code"],
                             "missing_facet_search_facet_name")
            self.assertEqual(node.call("POST", path, {"facetName": "title"}).json()["code"],
                             "invalid_facet_search_facet_name")
            node.run("PUT", f"/indexes/{uid}/settings/facet-search", False)
            self.assertEqual(node.call("POST", path, {"facetName": "genre"}).json()["code"],
                             "facet_search_disabled")


class Vectors(unittest.TestCase):
    DOCS = [
        {"id": 1, "title": "red apple", "_vectors": {"emb": [1.0, 0.0, 0.0]}},
        {"id": 2, "title": "green apple", "_vectors": {"emb": [0.8, 0.6, 0.0]}},
        {"id": 3, "title": "blue sky", "_vectors": {"emb": [0.0, 0.0, 1.0]}},
        {"id": 4, "title": "apple pie", "_vectors": {"emb": None}},
    ]

    @classmethod
    def setUpClass(cls):
        cls.node = Node().start()
        cls.uid = f"vec_{uuid.uuid4().hex[:6]}"
        task = cls.node.run("PATCH", f"/indexes/{cls.uid}/settings", {
            "embedders": {"emb": {"source": "userProvided", "dimensions": 3}},
            "filterableAttributes": ["title"]})
        assert task["status"] == "succeeded", task
        task = cls.node.run("POST", f"/indexes/{cls.uid}/documents", cls.DOCS)
        assert task["status"] == "succeeded", task

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def search(self, body):
        r = self.node.call("POST", f"/indexes/{self.uid}/search", body)
        return r.status, r.json()

    def test_semantic_search_orders_by_similarity(self):
        status, body = self.search({"vector": [1, 0.1, 0], "hybrid": {"embedder": "emb",
                                                                       "semanticRatio": 1.0},
                                    "showRankingScore": True})
        self.assertEqual(status, 200, body)
        # the document without a vector comes last, scored 0 (Meilisearch 1.50)
        self.assertEqual([h["id"] for h in body["hits"]], [1, 2, 3, 4])
        scores = [h["_rankingScore"] for h in body["hits"]]
        self.assertEqual(scores, sorted(scores, reverse=True))
        self.assertEqual(scores[-1], 0.0)
        self.assertEqual(body["semanticHitCount"], 4)
        self.assertNotIn("_vectors", body["hits"][0])

    def test_hybrid_mixes_keyword_and_semantic(self):
        status, body = self.search({"q": "apple", "vector": [0, 0, 1],
                                    "hybrid": {"embedder": "emb", "semanticRatio": 0.5}})
        self.assertEqual(status, 200, body)
        ids = [h["id"] for h in body["hits"]]
        self.assertEqual(sorted(ids), [1, 2, 3, 4])
        self.assertIn("semanticHitCount", body)

    def test_keyword_only_with_ratio_zero(self):
        status, body = self.search({"q": "apple", "vector": [0, 0, 1],
                                    "hybrid": {"embedder": "emb", "semanticRatio": 0.0}})
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted(h["id"] for h in body["hits"]), [1, 2, 4])

    def test_vector_errors(self):
        self.assertEqual(self.search({"vector": [1, 0, 0]})[1]["code"], "missing_search_hybrid")
        self.assertEqual(self.search({"vector": [1, 0], "hybrid": {"embedder": "emb"}})[1]["code"],
                         "invalid_vector_dimensions")
        self.assertEqual(self.search({"vector": [1, 0, 0], "hybrid": {"embedder": "nope"}})[1]
                         ["code"], "invalid_search_embedder")

    def test_retrieve_vectors(self):
        status, body = self.search({"q": "red", "retrieveVectors": True})
        self.assertEqual(body["hits"][0]["_vectors"]["emb"]["embeddings"], [[1.0, 0.0, 0.0]])
        doc = self.node.call("GET", f"/indexes/{self.uid}/documents/1?retrieveVectors=true").json()
        self.assertEqual(doc["_vectors"]["emb"]["embeddings"], [[1.0, 0.0, 0.0]])
        doc = self.node.call("GET", f"/indexes/{self.uid}/documents/1").json()
        self.assertNotIn("_vectors", doc)

    def test_similar(self):
        r = self.node.call("POST", f"/indexes/{self.uid}/similar", {"id": 1, "embedder": "emb"})
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(list(body.keys()), ["hits", "id", "processingTimeMs", "limit", "offset",
                                             "estimatedTotalHits"])
        self.assertEqual([h["id"] for h in body["hits"]], [2, 3])
        r = self.node.call("POST", f"/indexes/{self.uid}/similar", {"id": 99, "embedder": "emb"})
        self.assertEqual(r.json()["code"], "not_found_similar_id")

    def test_wrong_dimensions_fail_the_task(self):
        task = self.node.run("POST", f"/indexes/{self.uid}/documents",
                             [{"id": 9, "title": "x", "_vectors": {"emb": [1, 2]}}])
        self.assertEqual(task["status"], "failed")
        self.assertEqual(task["error"]["code"], "invalid_vector_dimensions")


class AfterChanges(unittest.TestCase):
    """Searches, facets and stats follow every kind of document change made after a search
    (a node keeps what it derived from unchanged documents between searches)."""

    def setUp(self):
        self.node = Node().start()
        self.uid = f"changes_{uuid.uuid4().hex[:8]}"
        self.node.run("PATCH", f"/indexes/{self.uid}/settings",
                      {"filterableAttributes": ["genre"]})
        self.node.run("POST", f"/indexes/{self.uid}/documents", MOVIES)

    def tearDown(self):
        self.node.stop()

    def search(self, body):
        r = self.node.call("POST", f"/indexes/{self.uid}/search", body)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def ids(self, q):
        return sorted(h["id"] for h in self.search({"q": q, "limit": 100})["hits"])

    def write(self, method, path, body=None):
        task = self.node.run(method, f"/indexes/{self.uid}{path}", body)
        self.assertEqual(task["status"], "succeeded", task)

    def test_search_follows_updates_deletions_and_new_documents(self):
        self.assertEqual(self.ids("knight"), [1, 3, 4, 6])
        self.assertEqual(self.ids("zebra"), [])
        self.assertEqual(self.search({"facets": ["genre"]})["facetDistribution"]["genre"],
                         {"Action": 3, "Comedy": 1, "Drama": 2})
        # a word leaves a document, another arrives; a document goes; a new one (in the freed
        # internal id) brings a new field and a new facet value
        self.write("PUT", "/documents", [{"id": 3, "title": "Zebra and Day"}])
        self.write("DELETE", "/documents/4")
        self.write("POST", "/documents", [{"id": 7, "title": "Zebra Knight", "genre": "Western",
                                           "studio": "Paramount"}])
        self.assertEqual(self.ids("knight"), [1, 6, 7])
        self.assertEqual(self.ids("zebra"), [3, 7])
        self.assertEqual(self.ids("zebr"), [3, 7])  # as a prefix
        self.assertEqual(self.ids("paramount"), [7])  # every field is searchable
        self.assertEqual(self.ids("comedy"), [])
        body = self.search({"facets": ["genre"]})
        self.assertEqual(body["facetDistribution"]["genre"],
                         {"Action": 3, "Drama": 2, "Western": 1})
        self.assertEqual(body["estimatedTotalHits"], 6)
        stats = self.node.call("GET", f"/indexes/{self.uid}/stats").json()
        self.assertEqual(stats["numberOfDocuments"], 6)
        self.assertEqual(stats["fieldDistribution"],
                         {"genre": 6, "id": 6, "rating": 5, "studio": 1, "title": 6, "year": 5})
        # every document goes: nothing is found, no field is left
        self.write("DELETE", "/documents")
        self.assertEqual(self.ids("knight"), [])
        stats = self.node.call("GET", f"/indexes/{self.uid}/stats").json()
        self.assertEqual(stats["fieldDistribution"], {})


class AttributeWeights(unittest.TestCase):
    """Meilisearch weighs attributes by their place in searchableAttributes; with the default
    "*" every field weighs the same, and attributesToSearchOn keeps the listed weights."""

    DOCS = [{"id": 1, "title": "alpha", "body": "beta"},
            {"id": 2, "title": "beta", "body": "alpha"}]

    def setUp(self):
        self.node = Node().start()
        self.uid = f"weights_{uuid.uuid4().hex[:8]}"
        self.node.run("POST", f"/indexes/{self.uid}/documents", self.DOCS)

    def tearDown(self):
        self.node.stop()

    def attribute_scores(self, body):
        body = dict(body, showRankingScoreDetails=True)
        r = self.node.call("POST", f"/indexes/{self.uid}/search", body)
        self.assertEqual(r.status, 200, r.body)
        return [(h["id"], h["_rankingScoreDetails"]["attributeRank"]["score"])
                for h in r.json()["hits"]]

    def test_every_field_weighs_the_same_by_default(self):
        self.assertEqual(self.attribute_scores({"q": "beta"}), [(1, 1.0), (2, 1.0)])

    def test_a_searchable_list_orders_the_fields(self):
        self.node.run("PATCH", f"/indexes/{self.uid}/settings",
                      {"searchableAttributes": ["title", "body"]})
        self.assertEqual(self.attribute_scores({"q": "beta"}), [(2, 1.0), (1, 0.5)])
        # restricted to the second field, a match there keeps its weight
        self.assertEqual(self.attribute_scores({"q": "beta", "attributesToSearchOn": ["body"]}),
                         [(1, 0.5)])

    def test_each_query_word_adds_its_cost(self):
        # as Meilisearch's graph rules: each matched word costs its attribute's weight (here
        # 0 + 1 of at most 1 + 1) and its distance to its place in the query (0 + 1 of 20)
        self.node.run("PATCH", f"/indexes/{self.uid}/settings",
                      {"searchableAttributes": ["title", "body"]})
        r = self.node.call("POST", f"/indexes/{self.uid}/search",
                           {"q": "alpha beta", "showRankingScoreDetails": True})
        self.assertEqual(r.status, 200, r.body)
        for hit in r.json()["hits"]:
            details = hit["_rankingScoreDetails"]
            self.assertAlmostEqual(details["attributeRank"]["score"], 2 / 3)
            self.assertAlmostEqual(details["wordPosition"]["score"], 20 / 21)


class TypoMaximum(unittest.TestCase):
    """maxTypoCount is the typo budget of the words the `words` rule left: each word's (1 below
    oneTypo letters: a split costs one typo; 2 from twoTypos letters), whatever typo variants
    the node holds."""

    def test_max_typo_count_is_the_words_budget(self):
        with Node() as node:
            plain, noisy = f"plain_{uuid.uuid4().hex[:6]}", f"noisy_{uuid.uuid4().hex[:6]}"
            node.run("POST", f"/indexes/{plain}/documents",
                     [{"id": 1, "title": "knight"}, {"id": 3, "title": "knighthood of the fr summer"}])
            node.run("POST", f"/indexes/{noisy}/documents",
                     [{"id": 1, "title": "knight"}, {"id": 2, "title": "knigt"}])

            def typo(index, q):
                hit = node.call("POST", f"/indexes/{index}/search",
                                {"q": q, "showRankingScoreDetails": True}).json()["hits"][0]
                return hit["_rankingScoreDetails"]["typo"]["maxTypoCount"]

            self.assertEqual(typo(plain, "knight"), 1)
            self.assertEqual(typo(noisy, "knight"), 1)
            self.assertEqual(typo(plain, "knighthood"), 2)
            self.assertEqual(typo(plain, "fr"), 1)
            self.assertEqual(typo(plain, "fr summer"), 2)
            self.assertEqual(typo(plain, "knighthood summer"), 3)


if __name__ == "__main__":
    unittest.main()
