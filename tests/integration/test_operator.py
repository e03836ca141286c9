"""Operator checks through the admin API and the `miroir` subcommands: which nodes own each
shard (GET /_miroir/shards), and `miroir verify` / GET /_miroir/verify, which must find a
fleet loaded through Miroir clean and then name each kind of damage done to it behind Miroir's
back (a replica missing a document, a document on a node that does not own its shard, a
document without a shard, a node that is down). Runs against real meilisearch binaries when
MEILISEARCH_BIN is set."""
import json
import random
import unittest

from harness import run_cli
from placement import shard_value, stored_shard
from test_search_differential import (INDEX, MASTER, NODE_KEY, SETTINGS, Cluster, corpus,
                                      wait_miroir)


class Operator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = corpus(random.Random(5), 120)
        cls.cluster = Cluster({"nodes": 3, "rf": 2, "shards": 8})
        for method, path, body in [("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"}),
                                   ("PATCH", f"/indexes/{INDEX}/settings", SETTINGS),
                                   ("POST", f"/indexes/{INDEX}/documents", cls.docs)]:
            r = cls.cluster.call(method, path, body)
            assert r.status == 202, r.body
            wait_miroir(cls.cluster, r.json()["taskUid"])
        cls.url = f"http://127.0.0.1:{cls.cluster.m.port}"

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def cli(self, *args):
        return run_cli(*args, "--url", self.url, "--admin-key", MASTER, timeout=120)

    def verify(self, *query):
        r = self.cluster.call("GET", "/_miroir/verify" + ("?" + "&".join(query) if query else ""))
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def node(self, node_id):
        return self.cluster.nodes[int(node_id[1:])]

    def owners(self):
        r = self.cluster.call("GET", "/_miroir/shards")
        self.assertEqual(r.status, 200, r.body)
        return {s["shard"]: s["groups"][0]["nodes"] for s in r.json()["shards"]}

    def shard_of(self, doc_id):
        for node in self.cluster.nodes:
            r = node.call("GET", f"/indexes/{INDEX}/documents/{doc_id}?fields=_miroir_shard")
            if r.status == 200:
                return stored_shard(r.json()["_miroir_shard"])
        raise AssertionError(f"no node holds {doc_id}")

    def test_1_shards_name_their_owners(self):
        owners = self.owners()
        self.assertEqual(sorted(owners), list(range(8)))
        for shard, nodes in owners.items():
            self.assertEqual(len(nodes), 2, shard)
            self.assertTrue(set(nodes) <= {"d0", "d1", "d2"}, nodes)
            # the owners hold the shard's documents, the third node none of them
            held = {}
            for node_id in ("d0", "d1", "d2"):
                r = self.node(node_id).call("POST", f"/indexes/{INDEX}/documents/fetch",
                                            {"filter": f'_miroir_shard = "{shard_value(shard)}"',
                                             "limit": 0})
                held[node_id] = r.json()["total"]
            self.assertEqual({n for n, count in held.items() if count}, set(nodes), held)

    def test_1_plan_of_a_new_node_list(self):
        topology = self.cluster.call("GET", "/_miroir/topology").json()
        current = [{"id": n["id"], "address": n["address"], "group": n["group"]}
                   for n in topology["nodes"]]
        owners = self.owners()

        def plan(nodes):
            r = self.cluster.call("POST", "/_miroir/rebalance/plan", {"nodes": nodes})
            self.assertEqual(r.status, 200, r.body)
            return r.json()

        self.assertEqual(plan(current)["copiesMoved"], 0)
        # a fourth node receives shards, each from one owner; every node should end with 4
        added = plan(current + [{"id": "d3", "address": "http://127.0.0.1:1", "group": 0}])
        moves = added["groups"][0]["moves"]
        self.assertTrue(moves)
        for m in moves:
            self.assertEqual(m["gained"], ["d3"], m)
            self.assertEqual(len(m["lost"]), 1, m)
            self.assertIn(m["lost"][0], owners[m["shard"]], m)
        self.assertEqual(added["copiesMoved"], len(moves))
        self.assertEqual(added["minimumCopies"], 4.0)
        # without d2, its copies and only them go to the others
        removed = plan([n for n in current if n["id"] != "d2"])
        held = [s for s, nodes in owners.items() if "d2" in nodes]
        self.assertEqual(sorted(m["shard"] for m in removed["groups"][0]["moves"]), held)
        self.assertEqual(removed["copiesMoved"], len(held))
        self.assertEqual(removed["minimumCopies"], 5.33)
        # a second group is filled with every shard
        grown = plan(current + [{"id": "e0", "address": "http://127.0.0.1:2", "group": 1},
                                {"id": "e1", "address": "http://127.0.0.1:3", "group": 1}])
        self.assertEqual(grown["groups"][1]["copiesMoved"], 16)
        self.assertEqual(grown["groups"][0]["copiesMoved"], 0)

        for body, message in [
                ({}, "Missing field `nodes`"),
                ({"nodes": [{"id": 3, "address": "http://a:1"}]}, "`.nodes[0].id`"),
                ({"nodes": current + [dict(current[0])]}, "duplicate node id `d0`"),
                ({"nodes": current + [{"id": "x", "address": "ftp://a:1"}]}, "http://host:port"),
                ({"nodes": current + [{"id": "x", "address": "http://a:1", "group": 1}]},
                 "replication_factor")]:
            r = self.cluster.call("POST", "/_miroir/rebalance/plan", body)
            self.assertEqual(r.status, 400, (body, r.body))
            self.assertEqual(r.json()["code"], "bad_request")
            self.assertIn(message, r.json()["message"])

    def test_2_a_fleet_loaded_through_miroir_is_clean(self):
        for query in [(), ("ids=false",), (f"index={INDEX}",)]:
            body = self.verify(*query)
            self.assertEqual(body["status"], "ok", body)
            index = [i for i in body["indexes"] if i["uid"] == INDEX][0]
            self.assertEqual(index["documents"], len(self.docs), body)
            self.assertEqual(index["problems"], [])
        out = self.cli("verify")
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        self.assertIn(f"{INDEX}: {len(self.docs)} documents, every shard on its owners", out.stdout)
        out = self.cli("verify", "--counts-only", "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["checked"], "counts")

    def test_3_status_and_nodes(self):
        out = self.cli("status")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("shards 8, replication factor 2", out.stdout)
        for node_id in ("d0", "d1", "d2"):
            self.assertIn(node_id, out.stdout)
        out = self.cli("nodes", "list", "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual([n["id"] for n in json.loads(out.stdout)], ["d0", "d1", "d2"])
        # address and key from Miroir's own configuration file
        out = run_cli("nodes", "list", "--config", self.cluster.m.config_path)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(out.stdout.splitlines()), 3, out.stdout)

    def test_4_bad_requests(self):
        r = self.cluster.call("GET", "/_miroir/verify?ids=maybe")
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(r.json()["code"], "bad_request")
        self.assertEqual(r.json()["type"], "invalid_request")
        r = self.cluster.call("GET", "/_miroir/verify?index=nope")
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(r.json()["code"], "index_not_found")
        r = self.cluster.m.request("GET", "/_miroir/verify")
        self.assertEqual(r.status, 401, r.body)
        out = self.cli("verify", "--bogus")
        self.assertEqual(out.returncode, 2)
        self.assertIn("unknown argument `--bogus`", out.stderr)
        out = run_cli("status", "--url", "http://127.0.0.1:1", "--admin-key", MASTER)
        self.assertEqual(out.returncode, 2)
        out = run_cli("status", "--url", self.url, "--admin-key", "wrong")
        self.assertEqual(out.returncode, 2)
        self.assertIn("The provided API key is invalid.", out.stderr)

    def test_5_damage_is_named(self):
        owners = self.owners()
        # a replica loses a document
        victim = self.docs[7]["id"]
        shard = self.shard_of(victim)
        lost_on = owners[shard][1]
        self.node(lost_on).run("DELETE", f"/indexes/{INDEX}/documents/{victim}")
        # a document lands on a node that does not own its shard (its shard as a number, the
        # form Miroir stored before: still read)
        stray_shard = next(s for s, nodes in owners.items() if "d2" not in nodes)
        self.node("d2").run("POST", f"/indexes/{INDEX}/documents",
                            [{"id": 100001, "title": "stray", "_miroir_shard": stray_shard}])
        # and one without a shard at all
        self.node("d0").run("POST", f"/indexes/{INDEX}/documents", [{"id": 100002, "title": "x"}])

        body = self.verify(f"index={INDEX}")
        self.assertEqual(body["status"], "problems")
        problems = body["indexes"][0]["problems"]
        kinds = {(p["problem"], p.get("shard"), p.get("node")) for p in problems}
        self.assertIn(("ids_mismatch", shard, None), kinds, problems)
        self.assertIn(("count_mismatch", shard, None), kinds, problems)
        self.assertIn(("misplaced", stray_shard, "d2"), kinds, problems)
        self.assertIn(("unsharded", None, "d0"), kinds, problems)
        mismatch = [p for p in problems if p["problem"] == "ids_mismatch"][0]
        self.assertEqual(mismatch["missing"], {lost_on: {"count": 1, "ids": [str(victim)]}})
        counted = [p for p in problems if p["problem"] == "count_mismatch"][0]["counts"]
        self.assertEqual(counted[owners[shard][0]] - counted[lost_on], 1)

        out = self.cli("verify", "--index", INDEX)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn(f"shard {shard} group 0 ids_mismatch; {lost_on} lacks 1", out.stdout)
        self.assertIn(f"shard {stray_shard} node d2 misplaced: 1 documents", out.stdout)

        # counts alone see the same damage, without ids
        counts = self.verify(f"index={INDEX}", "ids=false")["indexes"][0]["problems"]
        kinds = {(p["problem"], p.get("shard"), p.get("node")) for p in counts}
        self.assertIn(("count_mismatch", shard, None), kinds, counts)
        self.assertIn(("misplaced", stray_shard, "d2"), kinds, counts)
        self.assertIn(("unsharded", None, "d0"), kinds, counts)

    def test_6_an_index_made_behind_miroirs_back(self):
        # on one node only, without Miroir's shard field: the node refuses the shard filter
        self.node("d0").run("POST", "/indexes/direct/documents", [{"id": 1, "title": "x"}])
        body = self.verify("index=direct", "ids=false")
        problems = body["indexes"][0]["problems"]
        self.assertIn({"problem": "node_error", "node": "d0", "status": 400}, problems)
        self.assertIn({"problem": "index_missing", "node": "d1"}, problems)
        index = self.verify("index=direct")["indexes"][0]
        self.assertEqual(index["checked"], "ids")
        self.assertIn({"problem": "unsharded", "node": "d0", "documents": 1}, index["problems"])

    def test_7_a_node_that_is_down(self):
        self.cluster.nodes[2].stop()
        body = self.verify(f"index={INDEX}", "ids=false")
        problems = body["indexes"][0]["problems"]
        self.assertIn({"problem": "unreachable", "node": "d2"}, problems)


if __name__ == "__main__":
    unittest.main()
