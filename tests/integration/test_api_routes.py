"""Meilisearch routes beyond documents, search and settings, through Miroir over several
nodes, compared with what one node answers: the experimental features, task filters,
batches."""
import json
import os
import unittest

from nodes import Node
from test_search_differential import MASTER, NODE_KEY, Cluster, wait_miroir


class ExperimentalFeatures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster({"nodes": 3, "rf": 1, "shards": 8})

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def direct(self, i, method, body=None):
        return self.cluster.nodes[i].call(method, "/experimental-features", body)

    def test_a_change_reaches_every_node(self):
        before = self.cluster.call("GET", "/experimental-features")
        self.assertEqual(before.status, 200, before.body)
        self.assertEqual(before.json(), self.direct(0, "GET").json())
        r = self.cluster.call("PATCH", "/experimental-features", {"containsFilter": True})
        self.assertEqual(r.status, 200, r.body)
        self.assertIs(r.json()["containsFilter"], True)
        self.assertEqual(set(r.json()), set(before.json()))
        for i in range(3):
            self.assertIs(self.direct(i, "GET").json()["containsFilter"], True)
        self.assertIs(self.cluster.call("GET", "/experimental-features").json()["containsFilter"],
                      True)
        r = self.cluster.call("PATCH", "/experimental-features", {"containsFilter": False})
        self.assertIs(r.json()["containsFilter"], False)

    def test_a_refused_change_is_the_nodes_refusal(self):
        for body in ({"noSuchFeature": True}, {"metrics": "yes"}, [1]):
            through = self.cluster.call("PATCH", "/experimental-features", body)
            one = self.direct(0, "PATCH", body)
            self.assertEqual(through.status, one.status, through.body)
            self.assertEqual(through.json(), json.loads(one.body))

    def test_z_a_node_down(self):
        # the fleet's state is what the nodes that answer have in common; the missing node is
        # named, and sending the change again once it is back completes it
        self.cluster.nodes[2].stop()
        r = self.cluster.call("PATCH", "/experimental-features", {"containsFilter": True})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers.get("x-miroir-degraded"), "d2")
        self.assertIs(r.json()["containsFilter"], True)


class FeaturesOnANewNode(unittest.TestCase):
    def test_a_node_added_gets_the_fleets_features(self):
        from test_rebalance import FAST, wait_balanced
        c = Cluster({"nodes": 2, "rf": 1, "shards": 4}, FAST)
        self.addCleanup(c.stop)
        wait_miroir(c, c.call("POST", "/indexes/nf/documents",
                              [{"id": i} for i in range(10)]).json()["taskUid"])
        self.assertEqual(c.call("PATCH", "/experimental-features",
                                {"containsFilter": True}).status, 200)
        extra = Node(NODE_KEY).start()
        self.addCleanup(extra.stop)
        r = c.call("POST", "/_miroir/nodes", {"id": "d2", "address":
                                               f"http://127.0.0.1:{extra.port}", "group": 0})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(c.call("POST", "/_miroir/rebalance").status, 202)
        wait_balanced(c)
        features = json.loads(extra.call("GET", "/experimental-features").body)
        self.assertIs(features["containsFilter"], True)


class TaskFilters(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster({"nodes": 2, "rf": 1, "shards": 4})

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def same(self, method, target):
        through = self.cluster.call(method, target)
        one = self.cluster.nodes[0].call(method, target)
        self.assertEqual(through.status, one.status, (target, through.body, one.body))
        if through.status >= 400:
            self.assertEqual(through.json(), json.loads(one.body), target)
        return through

    def test_what_meilisearch_accepts(self):
        for target in ("/tasks?types=dsrUpdate,dsrClear", "/tasks?beforeEnqueuedAt=*",
                       "/tasks?afterFinishedAt=*&beforeStartedAt=*&types=*&statuses=*"):
            self.assertEqual(self.same("GET", target).status, 200, target)

    def test_what_meilisearch_refuses(self):
        for target in ("/tasks?types=nope", "/tasks?statuses=done", "/tasks?beforeEnqueuedAt=x",
                       "/tasks?uids=a", "/tasks?limit=-1", "/tasks?unknown=1"):
            self.assertEqual(self.same("GET", target).status, 400, target)
        self.assertEqual(self.same("DELETE", "/tasks").status, 400)
        self.assertEqual(self.same("POST", "/tasks/cancel?types=nope").status, 400)


BATCH_KEYS = ["uid", "progress", "details", "stats", "duration", "startedAt", "finishedAt",
              "batchStrategy"]


class Batches(unittest.TestCase):
    """Miroir runs each of its tasks as its own batch: GET /batches lists the tasks that
    started, in Meilisearch's batch shape, with the filters and pagination of /tasks."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster({"nodes": 2, "rf": 1, "shards": 4})
        cls.uids = []
        for body in ({"uid": "b1", "primaryKey": "id"}, {"uid": "b2", "primaryKey": "id"}):
            r = c.call("POST", "/indexes", body)
            cls.uids.append(r.json()["taskUid"])
        r = c.call("POST", "/indexes/b1/documents", [{"id": i} for i in range(5)])
        cls.uids.append(r.json()["taskUid"])
        for uid in cls.uids:
            wait_miroir(c, uid)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def test_a_batch_per_task(self):
        task = self.cluster.call("GET", f"/tasks/{self.uids[2]}").json()
        r = self.cluster.call("GET", f"/batches/{task['batchUid']}")
        self.assertEqual(r.status, 200, r.body)
        b = r.json()
        self.assertEqual(list(b), BATCH_KEYS)
        self.assertEqual(b["uid"], task["batchUid"])
        self.assertEqual(b["details"], task["details"])
        self.assertEqual(b["stats"], {"totalNbTasks": 1, "status": {"succeeded": 1},
                                      "types": {"documentAdditionOrUpdate": 1},
                                      "indexUids": {"b1": 1}, "progressTrace": {}})
        self.assertEqual((b["duration"], b["startedAt"], b["finishedAt"]),
                         (task["duration"], task["startedAt"], task["finishedAt"]))
        # a real node's batch has the same fields
        one = self.cluster.nodes[0].call("GET", "/batches?limit=1")
        if one.status == 200 and json.loads(one.body)["results"]:
            self.assertEqual(list(json.loads(one.body)["results"][0]), BATCH_KEYS)

    def test_filters_and_pages(self):
        r = self.cluster.call("GET", "/batches?types=indexCreation").json()
        self.assertEqual(sorted(b["uid"] for b in r["results"]), sorted(self.uids[:2]))
        self.assertEqual(r["total"], 2)
        first = self.cluster.call("GET", "/batches?limit=2").json()
        self.assertEqual([b["uid"] for b in first["results"]], sorted(self.uids)[::-1][:2])
        self.assertEqual(first["next"], sorted(self.uids)[0])
        rest = self.cluster.call("GET", f"/batches?limit=2&from={first['next']}").json()
        self.assertEqual([b["uid"] for b in rest["results"]], [sorted(self.uids)[0]])
        self.assertIsNone(rest["next"])
        r = self.cluster.call("GET", f"/batches?indexUids=b2&batchUids={self.uids[1]}").json()
        self.assertEqual([b["uid"] for b in r["results"]], [self.uids[1]])

    def test_bad_requests(self):
        r = self.cluster.call("GET", "/batches/abc")
        self.assertEqual((r.status, r.json()["code"]), (400, "invalid_batch_uids"))
        self.assertEqual(r.json()["message"],
                         "Batch uid `abc` is invalid. It should only contain numeric characters.")
        r = self.cluster.call("GET", "/batches/987654")
        self.assertEqual((r.status, r.json()["code"]), (404, "batch_not_found"))
        self.assertEqual(r.json()["message"], "Batch `987654` not found.")
        r = self.cluster.call("GET", "/batches?types=nope")
        self.assertEqual((r.status, r.json()["code"]), (400, "invalid_task_types"))


if __name__ == "__main__":
    unittest.main()


@unittest.skipIf(os.environ.get("MEILISEARCH_BIN"), "needs the development node's faults")
class TaskDeletion(unittest.TestCase):
    """DELETE /tasks runs after the tasks it matched, as a node's task queue runs it: a task
    still running when the deletion is asked for is deleted once it has finished."""

    def test_an_unfinished_task_is_deleted_once_finished(self):
        c = Cluster({"nodes": 2, "rf": 1, "shards": 4})
        self.addCleanup(c.stop)
        for node in c.nodes:
            node.call("PUT", "/_devnode/faults", {"latencyMs": 400, "routeClass": "queue"})
        added = c.call("POST", "/indexes/td/documents", [{"id": i} for i in range(5)]).json()
        r = c.call("DELETE", f"/tasks?uids={added['taskUid']}")
        self.assertEqual(r.status, 200, r.body)
        deletion = r.json()
        self.assertEqual((deletion["type"], deletion["status"]), ("taskDeletion", "enqueued"))
        # the addition is still running, so still there
        self.assertEqual(c.call("GET", f"/tasks/{added['taskUid']}").status, 200)
        wait_miroir(c, deletion["taskUid"])
        self.assertEqual(c.call("GET", f"/tasks/{added['taskUid']}").status, 404)
        details = c.call("GET", f"/tasks/{deletion['taskUid']}").json()["details"]
        self.assertEqual((details["matchedTasks"], details["deletedTasks"]), (1, 1))
        self.assertEqual(details["originalFilter"], f"?uids={added['taskUid']}")

