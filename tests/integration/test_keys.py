"""API keys through Miroir: a key is created with one uid on every node, its value is the one
Meilisearch derives from that uid and Miroir's master key (the nodes have another master key
here), and Miroir enforces its actions, indexes and expiry on every route."""
import base64
import datetime
import hashlib
import hmac
import json
import time
import unittest

from harness import Miroir
from test_search_differential import MASTER, NODE_KEY, Cluster, wait_miroir


def derive(master, uid):
    return hmac.new(master.encode(), uid.encode(), hashlib.sha256).hexdigest()


def tenant_token(key, rules, exp=None, alg="HS256", sign_with=None, extra=None):
    """A tenant token as the SDKs make one: a JWT signed with the API key's value (with
    `extra` claims, if any)."""
    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    claims = {"apiKeyUid": key["uid"], "searchRules": rules, **(extra or {})}
    if exp is not None:
        claims["exp"] = exp
    signed = b64({"alg": alg, "typ": "JWT"}) + "." + b64(claims)
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    mac = hmac.new((sign_with or key["key"]).encode(), signed.encode(), digest).digest()
    return signed + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def fill_indexes(cluster, uids):
    """Each index created with ten documents (`id`, `title`), both filterable."""
    for uid in uids:
        r = cluster.call("POST", "/indexes", {"uid": uid, "primaryKey": "id"})
        wait_miroir(cluster, r.json()["taskUid"])
        r = cluster.call("POST", f"/indexes/{uid}/documents",
                         [{"id": i, "title": f"{uid} {i}"} for i in range(10)])
        wait_miroir(cluster, r.json()["taskUid"])
        r = cluster.call("PATCH", f"/indexes/{uid}/settings",
                         {"filterableAttributes": ["id", "title"]})
        wait_miroir(cluster, r.json()["taskUid"])


class KeyCalls:
    """Calls with a key, and keys created through Miroir (`self.cluster` is the test's)."""

    def with_key(self, key, method, path, body=None):
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        return self.cluster.m.request(method, path,
                                      json.dumps(body) if body is not None else None, headers)

    def create(self, **body):
        r = self.cluster.call("POST", "/keys", body)
        self.assertEqual(r.status, 201, r.body)
        return r.json()


class ApiKeys(KeyCalls, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster({"nodes": 3, "rf": 2, "shards": 8})
        fill_indexes(cls.cluster, ("books", "books-fr", "films"))

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()


    def test_a_key_is_on_every_node_with_a_value_from_miroirs_master_key(self):
        key = self.create(name="reader", description=None, actions=["search"],
                          indexes=["books"], expiresAt=None)
        self.assertEqual(list(key), ["name", "description", "key", "uid", "actions", "indexes",
                                     "expiresAt", "createdAt", "updatedAt"])
        self.assertEqual(key["key"], derive(MASTER, key["uid"]))
        for node in self.cluster.nodes:
            r = node.call("GET", f"/keys/{key['uid']}")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["key"], derive(NODE_KEY, key["uid"]))
            self.assertEqual(r.json()["actions"], ["search"])
            # the node's own value of the key works on the node
            r = node.call("POST", "/indexes/books/search", {"q": ""},
                          key=derive(NODE_KEY, key["uid"]))
            self.assertEqual(r.status, 200, r.body)
        # found by uid and by value, listed with Miroir's value
        for named in (key["uid"], key["key"]):
            r = self.cluster.call("GET", f"/keys/{named}")
            self.assertEqual((r.status, r.json()), (200, key), r.body)
        listed = self.cluster.call("GET", "/keys?limit=1000").json()["results"]
        self.assertIn(key, listed)
        # a uid chosen by the client
        uid = "6062abda-a5aa-4414-ac91-ecd7944c0f8d"
        chosen = self.create(uid=uid, actions=["*"], indexes=["*"], expiresAt=None)
        self.assertEqual((chosen["uid"], chosen["key"]), (uid, derive(MASTER, uid)))
        r = self.cluster.call("POST", "/keys", {"uid": uid, "actions": ["*"], "indexes": ["*"],
                                                "expiresAt": None})
        self.assertEqual((r.status, r.json()["code"]), (409, "api_key_already_exists"), r.body)

    def test_actions_and_indexes_are_enforced(self):
        key = self.create(actions=["search", "documents.get", "indexes.get", "tasks.get"],
                          indexes=["books*"], expiresAt=None)["key"]
        r = self.with_key(key, "POST", "/indexes/books/search", {"q": ""})
        self.assertEqual((r.status, r.json()["estimatedTotalHits"]), (200, 10), r.body)
        r = self.with_key(key, "GET", "/indexes/books-fr/documents/3")
        self.assertEqual(r.status, 200, r.body)
        r = self.with_key(key, "POST", "/indexes/films/search", {"q": ""})
        self.assertEqual(r.status, 403, r.body)
        self.assertEqual(r.json(), {
            "message": "The API key cannot acces the index `films`, authorized indexes are "
                       "[\"books*\"].",
            "code": "invalid_api_key", "type": "auth",
            "link": "https://docs.meilisearch.com/errors#invalid_api_key"})
        # an action the key lacks
        r = self.with_key(key, "POST", "/indexes/books/documents", [{"id": 99}])
        self.assertEqual((r.status, r.json()["message"]),
                         (403, "The provided API key is invalid."), r.body)
        r = self.with_key(key, "GET", "/keys")
        self.assertEqual(r.status, 403, r.body)
        # routes over several indexes show only the key's
        r = self.with_key(key, "GET", "/indexes")
        self.assertEqual([i["uid"] for i in r.json()["results"]], ["books", "books-fr"], r.body)
        self.assertEqual(r.json()["total"], 2)
        r = self.with_key(key, "GET", "/tasks?limit=1000")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual({t["indexUid"] for t in r.json()["results"]}, {"books", "books-fr"})
        films_task = self.cluster.call("GET", "/tasks?indexUids=films").json()["results"][0]
        r = self.with_key(key, "GET", f"/tasks/{films_task['uid']}")
        self.assertEqual((r.status, r.json()["code"]), (404, "task_not_found"), r.body)
        r = self.with_key(key, "POST", "/multi-search", {"queries": [
            {"indexUid": "books", "q": ""}, {"indexUid": "films", "q": ""}]})
        self.assertEqual((r.status, r.json()["message"]),
                         (403, "Inside `.queries[1]`: The provided API key is invalid."), r.body)
        r = self.with_key(key, "POST", "/multi-search", {"queries": [
            {"indexUid": "books", "q": ""}, {"indexUid": "books-fr", "q": "7"}]})
        self.assertEqual(r.status, 200, r.body)
        # an unknown token
        r = self.with_key("0" * 64, "POST", "/indexes/books/search", {"q": ""})
        self.assertEqual((r.status, r.json()["code"]), (403, "invalid_api_key"), r.body)

    def test_wildcards_and_index_creation(self):
        reader = self.create(actions=["*.get"], indexes=["*"], expiresAt=None)["key"]
        self.assertEqual(self.with_key(reader, "GET", "/stats").status, 200)
        self.assertEqual(self.with_key(reader, "POST", "/indexes/films/search", {}).status, 200)
        self.assertEqual(self.with_key(reader, "GET", "/version").status, 200)
        self.assertEqual(self.with_key(reader, "GET", "/keys").status, 403)
        self.assertEqual(self.with_key(reader, "DELETE", "/indexes/films").status, 403)

        writer = self.create(actions=["indexes.*", "documents.*"], indexes=["new-*"],
                             expiresAt=None)["key"]
        r = self.with_key(writer, "POST", "/indexes", {"uid": "other"})
        self.assertEqual((r.status, r.json()["code"]), (403, "invalid_api_key"), r.body)
        r = self.with_key(writer, "POST", "/indexes", {"uid": "new-one", "primaryKey": "id"})
        self.assertEqual(r.status, 202, r.body)
        wait_miroir(self.cluster, r.json()["taskUid"])
        r = self.with_key(writer, "POST", "/indexes/new-one/documents", [{"id": 1}])
        self.assertEqual(r.status, 202, r.body)
        r = self.with_key(writer, "GET", "/stats")
        self.assertEqual(r.status, 403, r.body)

    def test_update_delete_and_expiry(self):
        key = self.create(name="temp", actions=["search"], indexes=["*"], expiresAt=None)
        r = self.cluster.call("PATCH", f"/keys/{key['key']}", {"name": "renamed"})
        self.assertEqual((r.status, r.json()["name"], r.json()["key"]),
                         (200, "renamed", key["key"]), r.body)
        for node in self.cluster.nodes:
            self.assertEqual(node.call("GET", f"/keys/{key['uid']}").json()["name"], "renamed")
        r = self.cluster.call("PATCH", f"/keys/{key['uid']}", {"actions": ["*"]})
        self.assertEqual((r.status, r.json()["code"]), (400, "immutable_api_key_actions"),
                         r.body)
        self.assertEqual(self.with_key(key["key"], "POST", "/indexes/books/search", {}).status,
                         200)
        r = self.cluster.call("DELETE", f"/keys/{key['uid']}")
        self.assertEqual((r.status, r.body), (204, b""))
        for node in self.cluster.nodes:
            self.assertEqual(node.call("GET", f"/keys/{key['uid']}").status, 404)
        r = self.with_key(key["key"], "POST", "/indexes/books/search", {})
        self.assertEqual(r.status, 403, r.body)
        r = self.cluster.call("GET", f"/keys/{key['key']}")
        self.assertEqual(r.json(), {
            "message": f"API key `{key['key']}` not found.", "code": "api_key_not_found",
            "type": "invalid_request", "link": "https://docs.meilisearch.com/errors#api_key_not_found"})
        self.assertEqual(self.cluster.call("DELETE", f"/keys/{key['uid']}").status, 404)

        soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2))
        short = self.create(actions=["search"], indexes=["*"],
                            expiresAt=soon.strftime("%Y-%m-%dT%H:%M:%SZ"))["key"]
        self.assertEqual(self.with_key(short, "POST", "/indexes/books/search", {}).status, 200)
        time.sleep(max(0.0, (soon - datetime.datetime.now(datetime.timezone.utc))
                       .total_seconds()) + 0.3)
        self.assertEqual(self.with_key(short, "POST", "/indexes/books/search", {}).status, 403)

    def test_tenant_tokens_narrow_searches(self):
        key = self.create(actions=["search"], indexes=["books*"], expiresAt=None)
        token = tenant_token(key, {"books": {"filter": "id < 5"}, "books-fr": None})
        r = self.with_key(token, "POST", "/indexes/books/search", {"q": ""})
        self.assertEqual((r.status, r.json()["estimatedTotalHits"]), (200, 5), r.body)
        r = self.with_key(token, "POST", "/indexes/books/search", {"q": "", "filter": "id > 2"})
        self.assertEqual(sorted(h["id"] for h in r.json()["hits"]), [3, 4], r.body)
        r = self.with_key(token, "GET", "/indexes/books/search?filter=id%20%3E%203")
        self.assertEqual([h["id"] for h in r.json()["hits"]], [4], r.body)
        r = self.with_key(token, "POST", "/indexes/books-fr/search", {"q": ""})
        self.assertEqual(r.json()["estimatedTotalHits"], 10, r.body)  # a rule with no filter
        r = self.with_key(token, "POST", "/multi-search", {"queries": [
            {"indexUid": "books", "q": "", "filter": ["id > 1", "id < 9"]},
            {"indexUid": "books-fr", "q": ""}]})
        self.assertEqual([x["estimatedTotalHits"] for x in r.json()["results"]], [3, 10], r.body)
        r = self.with_key(token, "POST", "/indexes/books/facet-search",
                          {"facetName": "title", "facetQuery": "books"})
        self.assertEqual(len(r.json()["facetHits"]), 5, r.body)

        # indexes: the token's rules, then the key's
        r = self.with_key(tenant_token(key, ["books"]), "POST", "/indexes/books-fr/search", {})
        self.assertEqual((r.status, r.json()["message"]), (403, (
            "The provided tenant token cannot acces the index `books-fr`, allowed indexes are "
            "[\"books\"].")), r.body)
        r = self.with_key(tenant_token(key, ["*"]), "POST", "/indexes/films/search", {})
        self.assertEqual((r.status, r.json()["message"]), (403, (
            "The API key used to generate this tenant token cannot acces the index `films`.")))
        # signatures, algorithms, expiry, routes
        self.assertEqual(self.with_key(tenant_token(key, ["books"], alg="HS512"), "POST",
                                       "/indexes/books/search", {}).status, 200)
        forged = tenant_token(key, ["books"], sign_with=derive(NODE_KEY, key["uid"]))
        r = self.with_key(forged, "POST", "/indexes/books/search", {})
        self.assertEqual((r.status, r.json()["code"]), (403, "invalid_api_key"), r.body)
        r = self.with_key(tenant_token(key, ["books"], exp=1000), "POST",
                          "/indexes/books/search", {})
        self.assertEqual(r.status, 403, r.body)
        self.assertTrue(r.json()["message"].startswith("Tenant token expired. Was valid up to "
                                                       "`1000` and we're now `"), r.body)
        r = self.with_key(tenant_token(key, ["books"]), "GET", "/indexes/books/documents")
        self.assertEqual((r.status, r.json()["code"]), (403, "invalid_api_key"), r.body)

    def test_invalid_bodies_answer_as_a_node(self):
        r = self.cluster.call("POST", "/keys", {"actions": ["search"], "indexes": ["*"]})
        self.assertEqual((r.status, r.json()["code"]), (400, "missing_api_key_expires_at"),
                         r.body)
        r = self.cluster.call("POST", "/keys", {"actions": ["dumps.create"], "indexes": ["books"],
                                                "expiresAt": None})
        self.assertEqual((r.status, r.json()["code"]),
                         (400, "index_scoped_api_key_with_global_action"), r.body)
        # nothing was left behind on any node
        for node in self.cluster.nodes:
            keys = node.call("GET", "/keys?limit=1000").json()["results"]
            self.assertFalse([k for k in keys if k["actions"] == ["dumps.create"]])


class PartialCreate(unittest.TestCase):
    def test_a_create_some_node_misses_is_taken_back(self):
        cluster = Cluster({"nodes": 3, "rf": 1, "shards": 2})
        try:
            def uids(node):
                return {k["uid"] for k in node.call("GET", "/keys?limit=1000").json()["results"]}
            before = [uids(node) for node in cluster.nodes[:2]]
            cluster.nodes[2].stop()
            r = cluster.call("POST", "/keys", {"actions": ["search"], "indexes": ["*"],
                                               "expiresAt": None})
            self.assertEqual((r.status, r.json()["code"]), (503, "miroir_no_quorum"), r.body)
            self.assertEqual([uids(node) for node in cluster.nodes[:2]], before)
        finally:
            cluster.stop()


class NoMasterKey(unittest.TestCase):
    def test_keys_routes_need_a_master_key(self):
        from nodes import Node
        node = Node(NODE_KEY).start()
        m = Miroir(nodes=[("d0", f"http://127.0.0.1:{node.port}", 0)], master_key="",
                   replication_factor=1, extra=f"  node_master_key: {NODE_KEY}\n").start()
        try:
            r = m.request("GET", "/keys")
            self.assertEqual((r.status, r.json()["code"]), (401, "missing_master_key"), r.body)
            r = m.request("GET", "/indexes")
            self.assertEqual(r.status, 200, r.body)
        finally:
            m.stop()
            node.stop()


if __name__ == "__main__":
    unittest.main()
