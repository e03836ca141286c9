"""Query explain: POST /indexes/{uid}/explain answers how a search would be asked (the nodes,
their shards and depths, the planner's narrowing, the alias, the group and why, warnings)
without running it; ?execute=true runs it too and times every node request. It takes the
keys a search takes, and `miroir explain` prints it."""
import json
import os
import time
import unittest

from harness import run_cli
from test_health import HEALTH
from test_search_differential import MASTER, Cluster, wait_miroir

DOCS = [{"id": i, "title": f"river note {i}", "genre": ["drama", "comedy"][i % 2],
         "year": 1990 + i % 30} for i in range(60)]
# no health probes while node requests are counted
QUIET = "  health: {interval_ms: 600000}\n"


def setup_index(cluster):
    r = cluster.call("POST", "/indexes", {"uid": "e", "primaryKey": "id"})
    wait_miroir(cluster, r.json()["taskUid"])
    r = cluster.call("PATCH", "/indexes/e/settings",
                     {"filterableAttributes": ["genre", "id"], "sortableAttributes": ["year"]})
    wait_miroir(cluster, r.json()["taskUid"])
    r = cluster.call("POST", "/indexes/e/documents", DOCS)
    wait_miroir(cluster, r.json()["taskUid"])


def searches_sent(cluster):
    """Node requests so far, all nodes together, from Miroir's metrics."""
    body = cluster.call("GET", "/_miroir/metrics").body.decode()
    return sum(float(line.split()[-1]) for line in body.splitlines()
               if line.startswith("miroir_upstream_requests_total{"))


class Explain(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster({"nodes": 3, "rf": 1, "shards": 16}, QUIET)
        setup_index(cls.cluster)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def explain(self, body, query="", key=MASTER, path="/indexes/e/explain", status=200):
        h = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        r = self.cluster.m.request("POST", path + query, json.dumps(body), h)
        self.assertEqual(r.status, status, r.body)
        return r.json()

    def test_the_plan_without_running_it(self):
        self.explain({"q": "river"})  # the index's settings are read once, then cached
        before = searches_sent(self.cluster)
        p = self.explain({"q": "river", "offset": 5, "limit": 10})
        self.assertEqual(searches_sent(self.cluster), before)  # nothing asked of the nodes
        self.assertEqual(p["indexUid"], "e")
        self.assertIsNone(p["alias"])
        self.assertGreaterEqual(p["topologyVersion"], 1)
        self.assertEqual((p["shards"], p["replicationFactor"]), (16, 1))
        self.assertGreaterEqual(p["settingsVersion"], 1)
        shards = sorted(s for n in p["nodes"] for s in n["shards"])
        self.assertEqual(shards, list(range(16)))  # every shard, once
        self.assertEqual(len(p["nodes"]), 3)
        self.assertEqual({n["hitsAsked"] for n in p["nodes"]}, {15})
        self.assertEqual(p["merge"]["hitsAsked"], 45)
        self.assertEqual(p["merge"]["hitsReturned"], 10)
        self.assertAlmostEqual(p["merge"]["overFetch"], 4.5)
        self.assertIsNone(p["planner"]["pinnedIds"])
        self.assertEqual(p["planner"]["shardsQueried"], 16)
        self.assertEqual(p["group"]["id"], 0)
        self.assertEqual(p["warnings"], [])
        self.assertNotIn("execution", p)

    def test_the_planner_narrowing(self):
        p = self.explain({"q": "river", "filter": "id IN [7, 8] AND genre = drama"})
        self.assertEqual(p["planner"]["pinnedIds"], ["7", "8"])
        asked = [s for n in p["nodes"] for s in n["shards"]]
        self.assertEqual(p["planner"]["shardsQueried"], len(asked))
        self.assertLessEqual(len(asked), 2)
        # the plan is what the search does
        r = self.cluster.call("POST", "/indexes/e/search",
                              {"q": "river", "filter": "id IN [7, 8] AND genre = drama"})
        self.assertEqual(r.headers.get("x-miroir-shards-queried"), str(len(asked)))

    def test_warnings(self):
        p = self.explain({"q": "river", "filter": "color = red AND genre = drama",
                          "facets": ["genre", "size"], "sort": ["title:asc", "year:desc"],
                          "offset": 995, "limit": 10})
        codes = {w["code"]: w["message"] for w in p["warnings"]}
        self.assertEqual(set(codes), {"filter_not_filterable", "facet_not_filterable",
                                      "sort_not_sortable", "pagination_beyond_max_total_hits"},
                         p["warnings"])
        self.assertIn("`color`", codes["filter_not_filterable"])
        self.assertIn("`size`", codes["facet_not_filterable"])
        self.assertIn("`title`", codes["sort_not_sortable"])
        self.assertIn("1005", codes["pagination_beyond_max_total_hits"])

    def test_execute_runs_and_times_every_node(self):
        body = {"q": "river", "limit": 7, "sort": ["year:asc"]}
        p = self.explain(body, "?execute=true")
        e = p["execution"]
        self.assertEqual(e["status"], 200)
        self.assertGreater(e["tookMs"], 0)
        self.assertEqual(len(e["nodeRequests"]), 3)
        for n in e["nodeRequests"]:
            self.assertEqual(n["status"], 200)
            self.assertGreater(n["ms"], 0)
            self.assertEqual(n["hits"], 7)
        search = self.cluster.call("POST", "/indexes/e/search", body).json()
        self.assertEqual([h["id"] for h in e["result"]["hits"]],
                         [h["id"] for h in search["hits"]])
        self.assertEqual(e["result"]["estimatedTotalHits"], 60)

    def test_an_alias_is_named(self):
        r = self.cluster.call("POST", "/_miroir/aliases", {"name": "ea", "target": "e"})
        self.assertEqual(r.status, 201, r.body)
        p = self.explain({"q": "river"}, path="/indexes/ea/explain")
        self.assertEqual((p["indexUid"], p["alias"]), ("e", "ea"))

    def test_keys_as_for_a_search(self):
        def key(actions, indexes):
            r = self.cluster.call("POST", "/keys", {"actions": actions, "indexes": indexes,
                                                    "expiresAt": None})
            return r.json()["key"]
        self.explain({}, key=key(["search"], ["e"]))
        refused = self.explain({}, key=key(["documents.get"], ["e"]), status=403)
        self.assertEqual(refused["code"], "invalid_api_key")
        self.explain({}, key=key(["search"], ["other"]), status=403)

    def test_bad_requests(self):
        self.assertEqual(self.explain({}, path="/indexes/nope/explain", status=404)["code"],
                         "index_not_found")
        h = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json"}
        r = self.cluster.m.request("POST", "/indexes/e/explain", "[1]", h)
        self.assertEqual((r.status, r.json()["code"]), (400, "bad_request"))
        self.assertEqual(self.explain({}, "?execute=maybe", status=400)["code"], "bad_request")

    def test_the_cli(self):
        def cli(*args):
            out = run_cli("explain", *args, "--url",
                          f"http://127.0.0.1:{self.cluster.m.port}", "--admin-key", MASTER)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            return out.stdout
        text = cli("e", '{"q": "river", "filter": "id = 3", "sort": ["title:asc"]}')
        self.assertIn("index e, topology v", text)
        self.assertIn('planner: the filter pins ids ["3"], 1 shard(s) asked', text)
        self.assertIn("nodes asked (1):", text)
        self.assertIn("warning sort_not_sortable", text)
        self.assertIn("executed: 200", cli("e", "--execute"))
        self.assertEqual(json.loads(cli("e", "--json"))["indexUid"], "e")
        bad = run_cli("explain", "e", "{not json", "--url",
                      f"http://127.0.0.1:{self.cluster.m.port}", "--admin-key", MASTER)
        self.assertEqual(bad.returncode, 2)


class ExplainGroups(unittest.TestCase):
    """Two replica groups: the group a tenant is pinned to and why, and a group with a node
    down named in the warnings."""

    def test_group_choice_and_unhealthy_groups(self):
        config = HEALTH + "  tenant_affinity: {enabled: true, header: true, groups: {acme: 1}}\n"
        cluster = Cluster({"nodes": 4, "rf": 1, "shards": 8, "groups": 2}, config)
        try:
            setup_index(cluster)
            h = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json",
                 "X-Miroir-Tenant": "acme"}
            p = cluster.m.request("POST", "/indexes/e/explain", "{}", h).json()
            self.assertEqual(p["group"], {"id": 1, "reason": "tenant"})
            self.assertEqual({n["group"] for n in p["nodes"]}, {1})
            cluster.nodes[0].stop()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                p = cluster.call("POST", "/indexes/e/explain", {}).json()
                if any("d0 is down" in w["message"] for w in p["warnings"]):
                    break  # suspect first, down after unhealthy_threshold failed probes
                time.sleep(0.1)
            warning = [w for w in p["warnings"] if w["code"] == "group_unhealthy"]
            self.assertEqual(len(warning), 1, p["warnings"])
            self.assertIn("Replica group 0: d0 is down", warning[0]["message"])
            self.assertEqual(p["group"]["id"], 1)  # group 0 cannot answer for every shard
            self.assertFalse(p["groups"][0]["coversEveryShard"])
        finally:
            cluster.stop()


if __name__ == "__main__":
    unittest.main()
