"""Online resharding over 3 nodes at S=16, RF=2: an index resharded to 64 while a client keeps
writing to it and searching it (every write also sent to one reference node, every search
compared with the reference's answer), then rolled back to 16; a reshard that keeps no old copy;
bad requests answered in Meilisearch's error format. Every document ends on its owners under the
count the index is routed with (`GET /_miroir/verify`)."""
import json
import os
import random
import shutil
import time
import unittest

from harness import run_cli
from nodes import Node
from test_rebalance import Pods
from test_search_differential import MASTER, Cluster

NODE_KEY = "node-master-key"
SHAPE = {"nodes": 3, "rf": 2, "shards": 16}
DOCS = int(os.environ.get("MIROIR_RESHARD_DOCS", "4000"))
SETTINGS = {"filterableAttributes": ["section"], "sortableAttributes": ["size", "id"],
            "searchableAttributes": ["name", "summary"]}
WORDS = ["alpha", "beta", "gamma", "delta", "editor", "server", "library", "tool", "daemon"]
QUERIES = [{"q": "editor", "limit": 30}, {"q": "server library", "limit": 20, "offset": 5},
           {"q": "", "filter": "section = web", "sort": ["size:desc", "id:asc"], "limit": 25},
           {"q": "gamma", "facets": ["section"], "limit": 10}]


# The same, each ending with a sort by id, so that no two hits tie: a rebalance copies the shards a
# node gains after the documents it holds, so complete ties may come in another order than one
# node's from then on (docs/operations.md, "Rebalancing").
UNTIED = [q if "id:asc" in q.get("sort", []) else {**q, "sort": q.get("sort", []) + ["id:asc"]}
          for q in QUERIES]


def document(rng, i):
    return {"id": f"d{i}", "name": f"pkg {rng.choice(WORDS)} {i}",
            "summary": " ".join(rng.sample(WORDS, 3)),
            "section": rng.choice(["web", "libs", "devel", "admin"]), "size": rng.randint(1, 10**6)}


def comparable(answer):
    return {"ids": [h["id"] for h in answer["hits"]],
            "total": answer.get("estimatedTotalHits"),
            "facets": answer.get("facetDistribution")}


class Reshard(unittest.TestCase):
    maxDiff = None

    def start_fleet(self):
        self.cluster = Cluster(SHAPE)
        self.clients = [self.cluster]  # the traffic's rounds go through each in turn

    def setUp(self):
        self.start_fleet()
        self.reference = Node(NODE_KEY).start()
        rng = random.Random(3)
        self.next_id = DOCS
        docs = [document(rng, i) for i in range(DOCS)]
        for target in (self.cluster, self.reference):
            self.write(target, "PATCH", "/indexes/packages/settings", SETTINGS)
            for start in range(0, len(docs), 1000):
                self.write(target, "POST", "/indexes/packages/documents?primaryKey=id",
                           docs[start:start + 1000])
        self.rng = rng

    def tearDown(self):
        self.cluster.stop()
        self.reference.stop()

    def write(self, target, method, path, body):
        r = target.call(method, path, body)
        self.assertEqual(r.status, 202, r.body)
        if target is self.reference or isinstance(target, Node):
            task = target.wait_task(r.json()["taskUid"], timeout=120)
        else:
            task = self.cluster_task(r.json()["taskUid"])
        self.assertEqual(task["status"], "succeeded", task)

    def cluster_task(self, uid, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            task = self.cluster.call("GET", f"/tasks/{uid}").json()
            if task["status"] in ("succeeded", "failed", "canceled"):
                return task
            self.assertLess(time.monotonic(), deadline, task)
            time.sleep(0.05)

    def admin(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json"}
        return self.cluster.m.request(method, path, None if body is None else json.dumps(body),
                                      headers, 60)

    def status(self):
        r = self.admin("GET", "/_miroir/indexes/packages/reshard/status")
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    queries = QUERIES  # what the traffic compares

    def assert_same_searches(self, client=None):
        for query in self.queries:
            want = self.reference.call("POST", "/indexes/packages/search", query).json()
            got = (client or self.cluster).call("POST", "/indexes/packages/search", query)
            self.assertEqual(got.status, 200, got.body)
            self.assertEqual(comparable(got.json()), comparable(want), query)

    def traffic_until(self, done, timeout=600):
        """Writes (to both) and searches (compared) until `done()`; the rounds run."""
        deadline, rounds = time.monotonic() + timeout, 0
        while not done():
            if time.monotonic() > deadline:
                self.fail(self.status())
            batch = [document(self.rng, self.next_id + i) for i in range(20)]
            # a replacement: a document no query finds (a replaced document keeps its place in
            # one node's order of ties, not in Miroir's: docs/writes.md)
            batch.append({"id": f"r{rounds % 10}", "name": "other", "summary": f"round {rounds}",
                          "section": "other", "size": rounds})
            self.next_id += 20
            client = self.clients[rounds % len(self.clients)]
            for target in (client, self.reference):
                self.write(target, "POST", "/indexes/packages/documents", batch)
                self.write(target, "POST", "/indexes/packages/documents/delete-batch",
                           [f"d{self.next_id - 3}"])
            self.assert_same_searches(self.clients[(rounds + 1) % len(self.clients)])
            rounds += 1
        return rounds

    def assert_same_documents(self):
        def documents(target):
            page = target.call("GET", "/indexes/packages/documents?limit=100000").json()
            return {d["id"]: d for d in page["results"]}
        self.assertEqual(documents(self.cluster), documents(self.reference))

    def verify(self, shards):
        r = self.admin("GET", "/_miroir/verify?index=packages")
        body = r.json()
        self.assertEqual(body["status"], "ok", json.dumps(body)[:3000])
        self.assertEqual(body["indexes"][0]["shards"], shards)
        want = self.reference.call("GET", "/indexes/packages/stats").json()["numberOfDocuments"]
        self.assertEqual(body["indexes"][0]["documents"], want)
        self.assert_same_documents()

    def test_reshard_under_traffic_then_rollback(self):
        self.assert_same_searches()
        r = self.admin("POST", "/_miroir/indexes/packages/reshard", {"new_shards": 64})
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual((r.json()["fromShards"], r.json()["toShards"]), (16, 64))
        again = self.admin("POST", "/_miroir/indexes/packages/reshard", {"new_shards": 32})
        self.assertEqual((again.status, again.json()["code"]),
                         (409, "miroir_reshard_in_progress"), again.body)
        deadline = time.monotonic() + 60
        while self.status()["phase"] in ("enqueued", "preparing"):  # the shadow not made yet
            self.assertLess(time.monotonic(), deadline, self.status())
            time.sleep(0.02)
        gone = self.cluster.call("DELETE", "/indexes/packages")
        self.assertEqual((gone.status, gone.json()["code"]), (409, "miroir_reshard_in_progress"))
        edit = self.cluster.call("POST", "/indexes/packages/documents/edit", {"function": "doc"})
        self.assertEqual((edit.status, edit.json()["code"]), (409, "miroir_reshard_in_progress"))
        rounds = self.traffic_until(lambda: self.status()["phase"] == "switched")
        print(f"\nreshard 16 -> 64 of {DOCS} documents: {rounds} write and search rounds meanwhile; "
              f"{self.status()['documentsCopied']} copied, "
              f"{self.status()['documentsRepaired']} mended", flush=True)
        self.traffic_until(lambda: True)
        self.assert_same_searches()
        self.verify(64)
        listed = [i["uid"] for i in self.cluster.call("GET", "/indexes").json()["results"]]
        self.assertEqual(listed, ["packages"])  # the old copy is not shown, nor reachable
        shadow = "packages__miroir_reshard"
        for method, path, body in (("POST", f"/indexes/{shadow}/search", {"q": ""}),
                                   ("GET", f"/indexes/{shadow}/documents", None),
                                   ("DELETE", f"/indexes/{shadow}", None),
                                   ("POST", "/multi-search",
                                    {"queries": [{"indexUid": "packages"},
                                                 {"indexUid": shadow}]})):
            r = self.cluster.call(method, path, body)
            status = 400 if path == "/multi-search" else 404  # as Meilisearch answers
            self.assertEqual((r.status, r.json()["code"]), (status, "index_not_found"), path)
        self.assertIn("Inside `.queries[1]`", r.json()["message"])
        # rolled back, under traffic too
        r = self.admin("POST", "/_miroir/indexes/packages/reshard/rollback")
        self.assertEqual(r.status, 202, r.body)
        self.traffic_until(lambda: self.status()["status"] == "rolled_back")
        self.assert_same_searches()
        self.verify(16)
        for node in self.cluster.nodes:
            names = [i["uid"] for i in node.call("GET", "/indexes").json()["results"]]
            self.assertEqual(names, ["packages"], node.port)
        r = self.admin("POST", "/_miroir/indexes/packages/reshard/rollback")
        self.assertEqual((r.status, r.json()["code"]), (409, "miroir_reshard_not_running"))
        # a reshard after a rolled-back one is not rolled back in turn
        self.reshard({"new_shards": 8, "retain_old_index_hours": 0})
        deadline = time.monotonic() + 300
        while self.status()["status"] not in ("succeeded", "rolled_back", "failed"):
            self.assertLess(time.monotonic(), deadline, self.status())
            time.sleep(0.1)
        self.assertEqual(self.status()["status"], "succeeded", self.status())
        self.verify(8)

    def test_reshard_without_an_old_copy_with_the_cli(self):
        out = run_cli("reshard", "--index", "packages", "--new-shards", "8", "--retain-hours", "0",
                      "--wait", "--url", f"http://127.0.0.1:{self.cluster.m.port}",
                      "--admin-key", MASTER, timeout=600)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        deadline = time.monotonic() + 60
        while self.status()["status"] != "succeeded":
            self.assertLess(time.monotonic(), deadline, self.status())
            time.sleep(0.1)
        self.assert_same_searches()
        self.verify(8)
        self.traffic_until(lambda: True)
        self.verify(8)
        for node in self.cluster.nodes:
            names = [i["uid"] for i in node.call("GET", "/indexes").json()["results"]]
            self.assertEqual(names, ["packages"], node.port)

    def reshard(self, body):
        r = self.admin("POST", "/_miroir/indexes/packages/reshard", body)
        self.assertEqual(r.status, 202, r.body)

    def verify_index(self, uid, shards, documents):
        r = self.admin("GET", f"/_miroir/verify?index={uid}")
        body = r.json()
        self.assertEqual(body["status"], "ok", json.dumps(body)[:3000])
        self.assertEqual((body["indexes"][0]["shards"], body["indexes"][0]["documents"]),
                         (shards, documents))

    def rebalance_under_traffic(self):
        r = self.admin("POST", "/_miroir/rebalance")
        self.assertEqual(r.status, 202, r.body)

        def balanced():
            status = self.admin("GET", "/_miroir/rebalance/status").json()
            return status["state"] == "idle" and status["balanced"]
        self.traffic_until(balanced)
        done = self.admin("GET", "/_miroir/rebalance/status").json()["rebalance"]
        self.assertEqual((done["phase"], done["shardsCopied"]), ("done", done["shardsMoving"]))
        return done

    def test_node_changes_with_shard_counts_of_their_own(self):
        """`packages` resharded to 8 and then to 32 keeping its old copy, `other` at the fleet's
        16: a node added and one drained under traffic move each index's shards by its own
        count, the old copy's too, so that the rollback after them finds it whole."""
        other = [{"id": i, "title": f"thing {i}"} for i in range(300)]
        self.write(self.cluster, "POST", "/indexes/other/documents?primaryKey=id", other)
        self.reshard({"new_shards": 8, "retain_old_index_hours": 0})
        self.traffic_until(lambda: self.status()["status"] == "succeeded")
        # while the shadow is filled (slowly here), the node list does not change
        self.reshard({"new_shards": 32, "throttle_docs_per_sec": 400})
        deadline = time.monotonic() + 60
        while self.status()["phase"] in ("enqueued", "preparing"):
            self.assertLess(time.monotonic(), deadline, self.status())
            time.sleep(0.02)
        added = Node(NODE_KEY).start()
        self.cluster.nodes.append(added)  # stopped with the fleet
        d3 = {"id": "d3", "address": f"http://127.0.0.1:{added.port}", "group": 0}
        r = self.admin("POST", "/_miroir/nodes", d3)
        self.assertEqual((r.status, r.json()["code"]), (409, "miroir_reshard_in_progress"), r.body)
        r = self.admin("POST", "/_miroir/rebalance")
        self.assertEqual((r.status, r.json()["code"]), (409, "miroir_reshard_in_progress"), r.body)
        self.traffic_until(lambda: self.status()["phase"] == "switched")
        # switched, the old copy (8 shards) kept: a fourth node, then one drained
        self.queries = UNTIED
        r = self.admin("POST", "/_miroir/nodes", d3)
        self.assertEqual(r.status, 201, r.body)
        done = self.rebalance_under_traffic()
        self.assertGreater(done["documentsCopied"], 0, done)
        r = self.admin("POST", "/_miroir/nodes/d1/drain")
        self.assertEqual(r.status, 200, r.body)
        self.rebalance_under_traffic()
        self.assert_same_searches()
        self.verify(32)
        self.verify_index("other", 16, len(other))
        want = self.reference.call("GET", "/indexes/packages/stats").json()["numberOfDocuments"]
        self.verify_index("packages__miroir_reshard", 8, want)
        for uid in ("packages", "other", "packages__miroir_reshard"):  # d1 holds nothing
            held = self.cluster.nodes[1].call("GET", f"/indexes/{uid}/stats").json()
            self.assertEqual(held["numberOfDocuments"], 0, uid)
        # back to the old copy, which the rebalances moved
        r = self.admin("POST", "/_miroir/indexes/packages/reshard/rollback")
        self.assertEqual(r.status, 202, r.body)
        self.traffic_until(lambda: self.status()["status"] == "rolled_back")
        self.assert_same_searches()
        self.verify(8)

    def test_deleting_a_switched_index_deletes_its_old_copy(self):
        self.reshard({"new_shards": 8})
        self.traffic_until(lambda: self.status()["phase"] == "switched")
        r = self.cluster.call("DELETE", "/indexes/packages")
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(self.cluster_task(r.json()["taskUid"])["status"], "succeeded")
        deadline = time.monotonic() + 60
        while self.status()["status"] != "succeeded":
            self.assertLess(time.monotonic(), deadline, self.status())
            time.sleep(0.1)
        self.assertTrue(self.status()["indexDeleted"], self.status())
        for node in self.cluster.nodes:
            self.assertEqual(node.call("GET", "/indexes").json()["results"], [], node.port)
        # a new index of that name is routed with the fleet's count
        self.write(self.cluster, "POST", "/indexes/packages/documents", [{"id": "x"}])
        self.verify_index("packages", 16, 1)

    def test_bad_requests(self):
        cases = [({"new_shards": 0}, 400, "miroir_invalid_reshard"),
                 ({"new_shards": 16}, 400, "miroir_invalid_reshard"),
                 ({"new_shards": "64"}, 400, "miroir_invalid_reshard"),
                 ({"new_shards": 64, "speed": 1}, 400, "miroir_invalid_reshard"),
                 ({}, 400, "miroir_invalid_reshard"),
                 ([64], 400, "miroir_invalid_reshard")]
        for body, status, code in cases:
            r = self.admin("POST", "/_miroir/indexes/packages/reshard", body)
            self.assertEqual((r.status, r.json()["code"], r.json()["type"]),
                             (status, code, "invalid_request"), (body, r.body))
        r = self.admin("POST", "/_miroir/indexes/nothing/reshard", {"new_shards": 4})
        self.assertEqual((r.status, r.json()["code"]), (404, "index_not_found"))
        r = self.admin("GET", "/_miroir/indexes/packages/reshard/status")
        self.assertEqual((r.status, r.json()["code"]), (404, "miroir_reshard_not_found"))
        self.assert_same_searches()


@unittest.skipUnless(shutil.which("redis-server"), "needs redis-server (scripts/bootstrap)")
class TwoPods(Reshard):
    """The reshard under traffic and its rollback, with two Miroirs sharing a Redis task store:
    the traffic's rounds go through each pod in turn (writes through one, searches through the
    other), and the switch holds both pods' writes and reads."""

    def start_fleet(self):
        self.pods = Pods(SHAPE["nodes"], 2, SHAPE["rf"], SHAPE["shards"], "")
        self.cluster = self.pods.via(0)
        self.cluster.nodes = self.pods.nodes
        self.clients = [self.cluster, self.pods.via(1)]

    def tearDown(self):
        self.pods.stop()
        self.reference.stop()

    test_reshard_without_an_old_copy_with_the_cli = None
    test_node_changes_with_shard_counts_of_their_own = None
    test_deleting_a_switched_index_deletes_its_old_copy = None
    test_bad_requests = None


if __name__ == "__main__":
    unittest.main()
