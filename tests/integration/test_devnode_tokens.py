"""Conformance of the development node with Meilisearch for tenant tokens: a JWT signed with
an API key's value searches the indexes of its rules, each rule's filter ANDed into the
search (POST and GET search, multi-search, federated search, facet search), and is refused,
in Meilisearch's words, outside its rules, past its expiry, with a bad signature or on another
route. Runs against miroir-devnode by default, a real `meilisearch` when MEILISEARCH_BIN is
set."""
import unittest

from nodes import Node
from test_keys import tenant_token


class TenantTokens(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node().start()
        for uid in ("books", "books-fr", "films"):
            cls.node.run("POST", "/indexes", {"uid": uid, "primaryKey": "id"})
            cls.node.run("PATCH", f"/indexes/{uid}/settings",
                         {"filterableAttributes": ["id", "title"]})
            cls.node.run("POST", f"/indexes/{uid}/documents",
                         [{"id": i, "title": f"{uid} {i}"} for i in range(10)])
        r = cls.node.call("POST", "/keys", {"actions": ["search"], "indexes": ["books*"],
                                            "expiresAt": None})
        assert r.status == 201, r.body
        cls.key = r.json()

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def call(self, token, method, path, body=None):
        return self.node.call(method, path, body, key=token)

    def test_rules_and_their_filters(self):
        token = tenant_token(self.key, {"books": {"filter": "id < 5"}, "books-fr": None})
        r = self.call(token, "POST", "/indexes/books/search", {"q": ""})
        self.assertEqual((r.status, r.json()["estimatedTotalHits"]), (200, 5), r.body)
        r = self.call(token, "POST", "/indexes/books/search", {"filter": "id > 2"})
        self.assertEqual(sorted(h["id"] for h in r.json()["hits"]), [3, 4], r.body)
        r = self.call(token, "GET", "/indexes/books/search?filter=id%20%3E%203")
        self.assertEqual([h["id"] for h in r.json()["hits"]], [4], r.body)
        r = self.call(token, "POST", "/indexes/books-fr/search", {})
        self.assertEqual(r.json()["estimatedTotalHits"], 10, r.body)
        r = self.call(token, "POST", "/multi-search", {"queries": [
            {"indexUid": "books", "filter": ["id > 1", "id < 9"]},
            {"indexUid": "books-fr"}]})
        self.assertEqual([x["estimatedTotalHits"] for x in r.json()["results"]], [3, 10], r.body)
        r = self.call(token, "POST", "/multi-search", {"federation": {}, "queries": [
            {"indexUid": "books"}, {"indexUid": "books-fr", "filter": "id = 0"}]})
        self.assertEqual(r.json()["estimatedTotalHits"], 6, r.body)
        r = self.call(token, "POST", "/indexes/books/facet-search",
                      {"facetName": "title", "facetQuery": "books"})
        self.assertEqual(len(r.json()["facetHits"]), 5, r.body)

    def test_refusals(self):
        r = self.call(tenant_token(self.key, ["books"]), "POST", "/indexes/books-fr/search", {})
        self.assertEqual((r.status, r.json()["message"]), (403, (
            "The provided tenant token cannot acces the index `books-fr`, allowed indexes are "
            "[\"books\"].")), r.body)
        r = self.call(tenant_token(self.key, ["*"]), "POST", "/indexes/films/search", {})
        self.assertEqual((r.status, r.json()["message"]), (403, (
            "The API key used to generate this tenant token cannot acces the index `films`.")))
        self.assertEqual(self.call(tenant_token(self.key, ["books"], alg="HS512"), "POST",
                                   "/indexes/books/search", {}).status, 200)
        forged = tenant_token(self.key, ["books"], sign_with="not-the-key-value")
        r = self.call(forged, "POST", "/indexes/books/search", {})
        self.assertEqual((r.status, r.json()["code"]), (403, "invalid_api_key"), r.body)
        r = self.call(tenant_token(self.key, ["books"], exp=1000), "POST",
                      "/indexes/books/search", {})
        self.assertEqual(r.status, 403, r.body)
        self.assertTrue(r.json()["message"].startswith("Tenant token expired. Was valid up to "
                                                       "`1000` and we're now `"), r.body)
        r = self.call(tenant_token(self.key, ["books"]), "GET", "/indexes/books/documents")
        self.assertEqual((r.status, r.json()["code"]), (403, "invalid_api_key"), r.body)


if __name__ == "__main__":
    unittest.main()
