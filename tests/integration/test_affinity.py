"""Tenant affinity over two replica groups: a configured tenant's searches (named by a trusted
X-Miroir-Tenant header or by its tenant token's claim) reach only its group's nodes, another
tenant's only the other group's; an unmapped tenant is routed as any search; when a tenant's
group is down its searches are answered whole by the other group. Counted per tenant and
group."""
import json
import time
import unittest

from test_health import HEALTH
from test_keys import tenant_token
from test_search_differential import MASTER, Cluster, wait_miroir

AFFINITY = ("  tenant_affinity: {enabled: true, header: true, "
            "groups: {acme: 1, globex: 0}}\n")
DOCS = [{"id": i, "title": f"river note {i}"} for i in range(80)]


def node_requests(cluster):
    """Node requests so far, by node id, from Miroir's metrics."""
    out = {}
    body = cluster.call("GET", "/_miroir/metrics").body.decode()
    for line in body.splitlines():
        if line.startswith("miroir_upstream_requests_total{"):
            node = line.split('node="')[1].split('"')[0]
            out[node] = out.get(node, 0) + float(line.split()[-1])
    return out


# no health probes while requests are counted: every node request counted is a search's
QUIET = "  health: {interval_ms: 600000}\n"


def start(health):
    cluster = Cluster({"nodes": 4, "rf": 1, "shards": 8, "groups": 2}, health + AFFINITY)
    r = cluster.call("POST", "/indexes", {"uid": "t", "primaryKey": "id"})
    wait_miroir(cluster, r.json()["taskUid"])
    r = cluster.call("POST", "/indexes/t/documents", DOCS)
    wait_miroir(cluster, r.json()["taskUid"])
    return cluster


class Searching:
    def search(self, headers):
        h = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json"}
        h.update(headers)
        r = self.cluster.m.request("POST", "/indexes/t/search",
                                   json.dumps({"q": "river", "limit": 100}), h)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["estimatedTotalHits"], len(DOCS))
        return r

    def searches_reach(self, headers, group):
        before = node_requests(self.cluster)
        for _ in range(20):
            r = self.search(headers)
            self.assertEqual(r.headers.get("x-miroir-tenant-group"), group)
        after = node_requests(self.cluster)
        return {n: after.get(n, 0) - before.get(n, 0) for n in ("d0", "d1", "d2", "d3")}


class TenantAffinity(Searching, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = start(QUIET)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def test_a_tenant_reads_from_its_group(self):
        moved = self.searches_reach({"X-Miroir-Tenant": "acme"}, "1")
        self.assertEqual(moved["d0"] + moved["d1"], 0, moved)
        self.assertGreaterEqual(moved["d2"] + moved["d3"], 20, moved)
        moved = self.searches_reach({"X-Miroir-Tenant": "globex"}, "0")
        self.assertEqual(moved["d2"] + moved["d3"], 0, moved)
        self.assertGreaterEqual(moved["d0"] + moved["d1"], 20, moved)
        # an unmapped tenant is routed as any search
        r = self.search({"X-Miroir-Tenant": "initech"})
        self.assertIsNone(r.headers.get("x-miroir-tenant-group"))
        metrics = self.cluster.call("GET", "/_miroir/metrics").body.decode()
        self.assertIn('miroir_tenant_reads_total{group="1",tenant="acme"} 20', metrics)

    def test_a_tenant_token_names_its_tenant(self):
        key = self.cluster.call("POST", "/keys", {"actions": ["search"], "indexes": ["*"],
                                                  "expiresAt": None}).json()
        token = tenant_token(key, ["*"], extra={"tenant": "acme"})
        moved = self.searches_reach({"Authorization": f"Bearer {token}"}, "1")
        self.assertEqual(moved["d0"] + moved["d1"], 0, moved)

    def test_a_malformed_tenant_is_refused(self):
        h = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json",
             "X-Miroir-Tenant": "x" * 129}
        r = self.cluster.m.request("POST", "/indexes/t/search", json.dumps({}), h)
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(r.json()["code"], "miroir_invalid_tenant")



class GroupDown(Searching, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = start(HEALTH)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def test_a_tenant_whose_group_is_down_reads_from_the_other(self):
        for node in self.cluster.nodes[2:]:
            node.stop()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = {n["id"]: n["state"] for n in
                      self.cluster.call("GET", "/_miroir/topology").json()["nodes"]}
            if states["d2"] == "down" and states["d3"] == "down":
                break
            time.sleep(0.1)
        self.assertEqual((states["d2"], states["d3"]), ("down", "down"))
        for _ in range(5):
            r = self.search({"X-Miroir-Tenant": "acme"})  # every document, from group 0
            self.assertIsNone(r.headers.get("x-miroir-tenant-group"))
        metrics = self.cluster.call("GET", "/_miroir/metrics").body.decode()
        self.assertIn('miroir_tenant_reads_total{group="fallback",tenant="acme"} 5', metrics)


class HashFallback(unittest.TestCase):
    """With `fallback: hash` a tenant without a rule still keeps to one group, the same on
    every request."""

    def test_an_unmapped_tenant_keeps_to_one_group(self):
        config = ("  tenant_affinity: {enabled: true, header: true, fallback: hash, "
                  "groups: {acme: 1}}\n")
        cluster = Cluster({"nodes": 4, "rf": 1, "shards": 8, "groups": 2}, HEALTH + config)
        try:
            r = cluster.call("POST", "/indexes", {"uid": "t", "primaryKey": "id"})
            wait_miroir(cluster, r.json()["taskUid"])
            seen = {}
            for tenant in ("initech", "hooli", "umbrella", "wayne", "stark", "tyrell"):
                h = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json",
                     "X-Miroir-Tenant": tenant}
                groups = {cluster.m.request("POST", "/indexes/t/search", "{}", h)
                          .headers.get("x-miroir-tenant-group") for _ in range(5)}
                self.assertEqual(len(groups), 1, (tenant, groups))
                seen[tenant] = groups.pop()
            self.assertTrue(set(seen.values()) <= {"0", "1"}, seen)
            metrics = cluster.call("GET", "/_miroir/metrics").body.decode()
            self.assertIn('tenant="unmapped"', metrics)
        finally:
            cluster.stop()


if __name__ == "__main__":
    unittest.main()
