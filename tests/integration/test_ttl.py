"""Document TTL: documents with `_miroir_expires_at` (or an index's default TTL) vanish from
searches, counts, facets and document reads the moment they expire, the sweeper deletes them
from every node, and anti-entropy never brings back an expired copy a node kept. Bad input gets
Meilisearch-shaped errors and writes nothing. Runs against real meilisearch binaries when
MEILISEARCH_BIN is set."""
import datetime
import time
import unittest

from test_anti_entropy import run_pass
from test_search_differential import MASTER, Cluster, wait_miroir

INDEX = "ttl"
FIELD = "_miroir_expires_at"


def rfc3339(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def expiring_on(node):
    """The ids of the documents a node holds with an expiry."""
    r = node.call("POST", f"/indexes/{INDEX}/documents/fetch",
                  {"limit": 10000, "fields": ["id"], "filter": f"{FIELD} EXISTS"})
    assert r.status == 200, r.body
    return {d["id"] for d in r.json()["results"]}


class Ttl(unittest.TestCase):
    EXTRA = ("  anti_entropy: { interval_s: 86400, documents_per_second: 0 }\n"
             "  health: { interval_ms: 200 }\n")

    def setUp(self):
        self.cluster = Cluster({"nodes": 3, "rf": 2, "shards": 8}, self.EXTRA)
        self.write("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
        self.write("PATCH", f"/indexes/{INDEX}/settings", {"filterableAttributes": ["kind"]})

    def tearDown(self):
        self.cluster.stop()

    def write(self, method, path, body):
        r = self.cluster.call(method, path, body)
        self.assertEqual(r.status, 202, r.body)
        wait_miroir(self.cluster, r.json()["taskUid"])
        return r

    def policy(self, body, status=200):
        r = self.cluster.call("POST", f"/_miroir/indexes/{INDEX}/ttl-policy", body)
        self.assertEqual(r.status, status, r.body)
        return r.json()

    def visible(self):
        """What a client sees: search hits and total, facet counts, browse total."""
        s = self.cluster.call("POST", f"/indexes/{INDEX}/search",
                              {"q": "", "limit": 1000, "facets": ["kind"]}).json()
        get = self.cluster.call("GET", f"/indexes/{INDEX}/documents?limit=1000").json()
        fetch = self.cluster.call("POST", f"/indexes/{INDEX}/documents/fetch",
                                  {"limit": 1000, "filter": "kind = short OR kind = long"}).json()
        multi = self.cluster.call("POST", "/multi-search", {"queries": [
            {"indexUid": INDEX, "q": "", "limit": 1000}]}).json()["results"][0]
        facet = self.cluster.call("POST", f"/indexes/{INDEX}/facet-search",
                                  {"facetName": "kind", "facetQuery": ""}).json()
        by_get = self.cluster.call("GET", f"/indexes/{INDEX}/search?q=&limit=1000"
                                          "&filter=kind%20%3D%20short%20OR%20kind%20%3D%20long")
        self.assertEqual(by_get.json()["estimatedTotalHits"], s["estimatedTotalHits"], by_get.body)
        for hit in s["hits"] + get["results"] + fetch["results"]:
            self.assertNotIn(FIELD, hit)  # stripped unless asked for
        return {"hits": sorted(h["id"] for h in s["hits"]), "total": s["estimatedTotalHits"],
                "facets": s["facetDistribution"]["kind"], "browse": get["total"],
                "fetch": fetch["total"], "multi": multi["estimatedTotalHits"],
                "facetHits": {h["value"]: h["count"] for h in facet["facetHits"]}}

    def test_documents_vanish_at_expiry_and_no_copy_comes_back(self):
        self.policy({"sweep_interval_s": 3600})  # one sweep now, none during the test
        expiry = int(time.time()) + 6
        docs = ([{"id": i, "kind": "short", FIELD: expiry} for i in range(20)] +
                [{"id": i, "kind": "short", FIELD: rfc3339(expiry)} for i in range(20, 30)] +
                [{"id": i, "kind": "long"} for i in range(30, 50)])
        self.write("POST", f"/indexes/{INDEX}/documents", docs)
        before = self.visible()
        if time.time() < expiry:  # read in time: everything is there
            self.assertEqual(before["total"], 50)
            self.assertEqual(before["facets"], {"short": 30, "long": 20})
        # stored as Unix seconds, returned when named among the fields
        r = self.cluster.call("GET", f"/indexes/{INDEX}/documents/35")
        self.assertNotIn(FIELD, r.json())
        r = self.cluster.call("POST", f"/indexes/{INDEX}/documents/fetch",
                              {"ids": [25], "fields": ["id", FIELD]})
        self.assertEqual(r.json()["results"], [{"id": 25, FIELD: expiry}])
        r = self.cluster.call("POST", f"/indexes/{INDEX}/search",
                              {"limit": 100, "attributesToRetrieve": ["id", FIELD]})
        hits = {h["id"]: h for h in r.json()["hits"]}
        self.assertEqual((hits[25], hits[35]), ({"id": 25, FIELD: expiry}, {"id": 35}))
        # settings keep Miroir's field to themselves
        r = self.cluster.call("GET", f"/indexes/{INDEX}/settings/filterable-attributes")
        self.assertEqual(r.json(), ["kind"])

        time.sleep(max(0, expiry - time.time()) + 1.2)
        after = self.visible()
        self.assertEqual(after, {"hits": list(range(30, 50)), "total": 20,
                                 "facets": {"long": 20}, "browse": 20, "fetch": 20, "multi": 20,
                                 "facetHits": {"long": 20}})
        r = self.cluster.call("GET", f"/indexes/{INDEX}/documents/5")
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(r.json()["code"], "document_not_found")
        r = self.cluster.call("GET", f"/indexes/{INDEX}/documents/5?fields=id")
        self.assertEqual(r.status, 404, r.body)
        # a client's new filterable attributes keep the field filterable: reads still work
        self.write("PUT", f"/indexes/{INDEX}/settings/filterable-attributes", ["kind", "other"])
        self.assertEqual(self.visible()["total"], 20)

        # the delete reached two nodes, node 0 missed it: anti-entropy deletes its copies
        held = [expiring_on(n) for n in self.cluster.nodes]
        self.assertEqual(set().union(*held), set(range(30)))
        for node in self.cluster.nodes[1:]:
            r = node.call("POST", f"/indexes/{INDEX}/documents/delete-batch",
                          sorted(expiring_on(node)))
            self.assertEqual(r.status, 202, r.body)
        deadline = time.monotonic() + 30
        while any(expiring_on(n) for n in self.cluster.nodes[1:]):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)
        self.assertTrue(expiring_on(self.cluster.nodes[0]))
        run_pass(self.cluster, INDEX)
        for node in self.cluster.nodes:
            self.assertEqual(expiring_on(node), set())
        self.assertEqual(self.visible()["total"], 20)

    def test_the_sweeper_deletes_expired_documents_from_every_node(self):
        self.policy({"default_ttl_s": 2, "sweep_interval_s": 1, "max_deletes_per_sweep": 7})
        self.write("POST", f"/indexes/{INDEX}/documents",
                   [{"id": i, "kind": "short"} for i in range(40)])
        policy = self.cluster.call("GET", f"/_miroir/indexes/{INDEX}/ttl-policy").json()
        self.assertEqual(policy["default_ttl_s"], 2)
        self.policy({"default_ttl_s": 0})  # from now on, no default
        self.write("POST", f"/indexes/{INDEX}/documents",
                   [{"id": i, "kind": "long"} for i in range(40, 50)])
        deadline = time.monotonic() + 60
        while any(expiring_on(n) for n in self.cluster.nodes):
            self.assertLess(time.monotonic(), deadline, [expiring_on(n) for n in
                                                         self.cluster.nodes])
            time.sleep(0.2)
        self.assertEqual(self.visible()["hits"], list(range(40, 50)))
        for node in self.cluster.nodes:
            r = node.call("GET", f"/indexes/{INDEX}/documents?limit=100&fields=id").json()
            self.assertTrue({d["id"] for d in r["results"]} <= set(range(40, 50)))
        metrics = self.cluster.call("GET", "/_miroir/metrics").body.decode()
        self.assertIn('miroir_ttl_documents_deleted_total{index="ttl"} 80', metrics)

    def test_the_first_expiring_write_makes_the_index_and_its_policy(self):
        expiry = int(time.time()) + 3600
        self.write("POST", "/indexes/fresh/documents",
                   [{"id": 1, FIELD: expiry}, {"id": 2, FIELD: int(time.time()) - 10}])
        policy = self.cluster.call("GET", "/_miroir/indexes/fresh/ttl-policy")
        self.assertEqual(policy.status, 200, policy.body)
        self.assertEqual(policy.json(), {"indexUid": "fresh", "default_ttl_s": 0,
                                         "sweep_interval_s": 60, "max_deletes_per_sweep": 10000,
                                         "enabled": True})
        r = self.cluster.call("GET", "/indexes/fresh/documents").json()
        self.assertEqual([d["id"] for d in r["results"]], [1])  # 2 was written expired
        for node in self.cluster.nodes:
            r = node.call("GET", "/indexes/fresh/settings/filterable-attributes")
            self.assertIn(FIELD, r.json())

    def test_a_deleted_index_takes_its_policy_with_it(self):
        self.policy({"default_ttl_s": 3600})
        self.write("DELETE", f"/indexes/{INDEX}", None)
        self.write("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
        r = self.cluster.call("GET", f"/_miroir/indexes/{INDEX}/ttl-policy")
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(r.json()["code"], "miroir_ttl_policy_not_found")
        # the new index's reads and writes know nothing of the old policy
        self.write("POST", f"/indexes/{INDEX}/documents", [{"id": 1, "kind": "long"}])
        r = self.cluster.call("POST", f"/indexes/{INDEX}/search", {"q": ""})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["estimatedTotalHits"], 1)
        r = self.cluster.nodes[0].call("POST", f"/indexes/{INDEX}/documents/fetch",
                                       {"fields": ["id", FIELD]})
        self.assertEqual([d.get(FIELD) for d in r.json()["results"]], [None] * r.json()["total"])

    def test_bad_input_is_refused_and_nothing_is_written(self):
        for bad in ["tomorrow", -5, True, {"at": 1}, None, "1765000000", 1e13]:
            r = self.cluster.call("POST", f"/indexes/{INDEX}/documents",
                                  [{"id": 1, "kind": "x"}, {"id": 2, FIELD: bad}])
            self.assertEqual(r.status, 400, (bad, r.body))
            error = r.json()
            self.assertEqual(error["code"], "miroir_invalid_expires_at", bad)
            self.assertEqual(error["type"], "invalid_request")
            self.assertIn(FIELD, error["message"])
        r = self.cluster.call("POST", f"/indexes/{INDEX}/documents", [{"id": 1, "_miroir_x": 1}])
        self.assertEqual(r.json()["code"], "miroir_reserved_field")
        r = self.cluster.m.request("POST", f"/indexes/{INDEX}/documents", f"id,{FIELD}\n1,5\n",
                                   {"Authorization": f"Bearer {MASTER}",
                                    "Content-Type": "text/csv"})
        self.assertEqual(r.json()["code"], "miroir_invalid_expires_at")
        self.assertEqual(self.cluster.call("GET", f"/indexes/{INDEX}/documents").json()["total"], 0)
        r = self.cluster.call("GET", f"/_miroir/indexes/{INDEX}/ttl-policy")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["code"], "miroir_ttl_policy_not_found")

        for body in [{"default_ttl_s": -1}, {"sweep_interval_s": 0}, {"max_deletes_per_sweep": -3},
                     {"enabled": "yes"}, {"ttl": 5}, [1], {"default_ttl_s": 1.5}]:
            error = self.policy(body, 400)
            self.assertEqual(error["code"], "miroir_invalid_ttl_policy", body)
            self.assertEqual(set(error), {"message", "code", "type", "link"})
        self.assertEqual(self.cluster.call("GET", f"/_miroir/indexes/{INDEX}/ttl-policy").status,
                         404)
        r = self.cluster.call("POST", "/_miroir/indexes/nope/ttl-policy", {"default_ttl_s": 5})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["code"], "index_not_found")
        # no filterable field was added to the nodes
        r = self.cluster.nodes[0].call("GET", f"/indexes/{INDEX}/settings/filterable-attributes")
        self.assertNotIn(FIELD, r.json())


if __name__ == "__main__":
    unittest.main()
