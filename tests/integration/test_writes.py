"""The write path through Miroir over three nodes: documents routed to exactly their owners,
Miroir tasks polled like Meilisearch tasks, payload errors, deletions, quorum, restarts.

MIROIR_TEST_TASK_STORE=redis runs the same tests with the Redis task store (a redis-server is
started for them); the default is the embedded SQLite store."""
import csv
import io
import json
import os
import time
import unittest

from harness import Miroir, RedisServer
from nodes import Node
from placement import owners, shard_of, shard_value

MASTER = "writes-master-key"
NODE_KEY = "node-master-key"
SHARDS = 16
RF = 2
AUTH = {"Authorization": f"Bearer {MASTER}"}


STORE = os.environ.get("MIROIR_TEST_TASK_STORE", "sqlite")
redis = None
own_redis = []  # one server per Miroir of miroir_for: a store is one deployment's topology


def setUpModule():
    global redis
    if STORE == "redis":
        redis = RedisServer().start()


def tearDownModule():
    if redis:
        redis.stop()
    for server in own_redis:
        server.stop()


def miroir_for(nodes, rf=RF, groups=1, quorum=None):
    extra = f"  node_master_key: {NODE_KEY}\n  shards: {SHARDS}\n  replica_groups: {groups}\n"
    if quorum:
        extra += f"  write_quorum: {quorum}\n"
    store = None
    if redis:
        # a Redis of its own: Miroirs sharing a store share their topology too
        server = RedisServer().start()
        own_redis.append(server)
        store = f'{{ backend: redis, url: "{server.url}" }}'
    return Miroir(nodes=nodes, master_key=MASTER, replication_factor=rf, extra=extra,
                  task_store=store)


class Client:
    """What an SDK does: JSON requests with the master key, task polling."""

    def __init__(self, miroir):
        self.m = miroir

    def call(self, method, path, body=None, content_type="application/json", headers=None):
        h = dict(AUTH)
        h.update(headers or {})
        if body is not None:
            if not isinstance(body, (str, bytes)):
                body = json.dumps(body)
            h["Content-Type"] = content_type
        return self.m.request(method, path, body, h)

    def wait(self, uid, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.call("GET", f"/tasks/{uid}")
            assert r.status == 200, (r.status, r.body)
            task = r.json()
            if task["status"] in ("succeeded", "failed", "canceled"):
                return task
            time.sleep(0.05)
        raise TimeoutError(f"task {uid} did not finish: {task}")

    def run(self, method, path, body=None, content_type="application/json"):
        r = self.call(method, path, body, content_type)
        assert r.status == 202, (r.status, r.body)
        return self.wait(r.json()["taskUid"])


def node_documents(node, index, pk="id"):
    """Every document a node holds, by id (asked of the node directly)."""
    r = node.call("POST", f"/indexes/{index}/documents/fetch", {"limit": 100000})
    if r.status == 404:
        return {}
    assert r.status == 200, r.body
    return {str(d[pk]): d for d in r.json()["results"]}


class WritePath(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nodes = [Node(NODE_KEY).start() for _ in range(3)]
        cls.ids = [f"meili-{i}" for i in range(3)]
        cls.m = miroir_for([(cls.ids[i], f"http://127.0.0.1:{n.port}")
                            for i, n in enumerate(cls.nodes)]).start()
        cls.c = Client(cls.m)

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        for n in cls.nodes:
            n.stop()

    def expected_owners(self, doc_id):
        return set(owners(shard_of(str(doc_id), SHARDS), self.ids, RF))

    def assert_placed(self, index, ids, pk="id"):
        """Each id is on exactly its owners, with its shard; nothing else is anywhere."""
        held = [node_documents(n, index, pk) for n in self.nodes]
        for i, docs in enumerate(held):
            expected = {str(d) for d in ids if self.ids[i] in self.expected_owners(d)}
            self.assertEqual(set(docs), expected, f"documents on {self.ids[i]}")
            for doc_id, doc in docs.items():
                self.assertEqual(doc["_miroir_shard"], shard_value(shard_of(doc_id, SHARDS)))

    def test_ten_thousand_documents_as_json_ndjson_and_csv_land_on_their_owners(self):
        index = "corpus"
        task = self.c.run("POST", "/indexes", {"uid": index, "primaryKey": "id"})
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(task["type"], "indexCreation")

        as_json = [{"id": i, "title": f"doc {i}", "n": i % 7} for i in range(4000)]
        as_ndjson = "\n".join(json.dumps({"id": f"s-{i}", "title": f"nd {i}"})
                              for i in range(3000))
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["id:number", "title", "n:number"])
        for i in range(4000, 7000):
            w.writerow([i, f"csv, {i}", i % 5])

        tasks = []
        for body, ctype in [(as_json, "application/json"), (as_ndjson, "application/x-ndjson"),
                            (out.getvalue(), "text/csv")]:
            r = self.c.call("POST", f"/indexes/{index}/documents", body, ctype)
            self.assertEqual(r.status, 202, r.body)
            summary = r.json()
            self.assertEqual(list(summary), ["taskUid", "indexUid", "status", "type", "enqueuedAt"])
            self.assertEqual(summary["status"], "enqueued")
            self.assertIsInstance(summary["taskUid"], int)
            tasks.append(summary["taskUid"])
        self.assertEqual(tasks, sorted(tasks))
        self.assertEqual(len(set(tasks)), 3)
        for uid, count in zip(tasks, [4000, 3000, 3000]):
            task = self.c.wait(uid)
            self.assertEqual(task["status"], "succeeded", task)
            self.assertEqual(task["details"], {"receivedDocuments": count,
                                               "indexedDocuments": count})
            self.assertEqual(task["uid"], uid)
            self.assertIsNotNone(task["duration"])

        ids = list(range(7000)) + [f"s-{i}" for i in range(3000)]
        self.assert_placed(index, ids)

        # every document is readable through Miroir, without Miroir's field
        for doc_id in list(range(0, 7000, 97)) + [f"s-{i}" for i in range(0, 3000, 101)]:
            r = self.c.call("GET", f"/indexes/{index}/documents/{doc_id}")
            self.assertEqual(r.status, 200, r.body)
            doc = r.json()
            self.assertEqual(str(doc["id"]), str(doc_id))
            self.assertNotIn("_miroir_shard", doc)
        csv_doc = self.c.call("GET", f"/indexes/{index}/documents/4001").json()
        self.assertEqual(csv_doc, {"id": 4001, "title": "csv, 4001", "n": 1})
        missing = self.c.call("GET", f"/indexes/{index}/documents/nope")
        self.assertEqual(missing.status, 404)
        self.assertEqual(missing.json()["code"], "document_not_found")

        # _miroir_shard is filterable on every node
        for n in self.nodes:
            filterable = n.call("GET", f"/indexes/{index}/settings/filterable-attributes").json()
            self.assertIn("_miroir_shard", filterable)

    def test_implicit_index_with_inferred_primary_key(self):
        docs = [{"title": "a", "productId": i} for i in range(50)]
        task = self.c.run("POST", "/indexes/implicit/documents", docs)
        self.assertEqual(task["status"], "succeeded", task)
        for n in self.nodes:
            self.assertEqual(n.call("GET", "/indexes/implicit").json()["primaryKey"], "productId")
        self.assert_placed("implicit", range(50), pk="productId")
        # PUT updates fields of existing documents
        task = self.c.run("PUT", "/indexes/implicit/documents", [{"productId": 3, "color": "red"}])
        self.assertEqual(task["status"], "succeeded", task)
        doc = self.c.call("GET", "/indexes/implicit/documents/3").json()
        self.assertEqual(doc, {"title": "a", "productId": 3, "color": "red"})

    def test_deletions(self):
        index = "deletions"
        self.c.run("POST", "/indexes", {"uid": index, "primaryKey": "id"})
        self.c.run("POST", f"/indexes/{index}/documents",
                   [{"id": i, "kind": "even" if i % 2 == 0 else "odd"} for i in range(100)])

        task = self.c.run("DELETE", f"/indexes/{index}/documents/7")
        self.assertEqual(task["type"], "documentDeletion")
        self.assertEqual(task["details"], {"providedIds": 1, "deletedDocuments": 1,
                                           "originalFilter": None})
        task = self.c.run("POST", f"/indexes/{index}/documents/delete-batch",
                          [1, "3", 5, 999])
        self.assertEqual(task["details"]["providedIds"], 4)
        self.assertEqual(task["details"]["deletedDocuments"], 3)
        remaining = [i for i in range(100) if i not in (1, 3, 5, 7)]
        self.assert_placed(index, remaining)

        # delete by filter needs a filterable attribute
        task = self.c.run("PUT", f"/indexes/{index}/settings/filterable-attributes", ["kind"])
        self.assertEqual(task["status"], "succeeded", task)
        task = self.c.run("POST", f"/indexes/{index}/documents/delete", {"filter": "kind = odd"})
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(task["details"], {"providedIds": 0, "deletedDocuments": 46,
                                           "originalFilter": "\"kind = odd\""})
        self.assert_placed(index, [i for i in remaining if i % 2 == 0])

        bad = self.c.call("POST", f"/indexes/{index}/documents/delete", {"filter": "kind = "})
        self.assertEqual(bad.status, 400, bad.body)
        self.assertEqual(bad.json()["code"], "invalid_document_filter")
        missing = self.c.call("POST", f"/indexes/{index}/documents/delete", {})
        self.assertEqual(missing.json()["code"], "missing_document_filter")

        task = self.c.run("DELETE", f"/indexes/{index}/documents")
        self.assertEqual(task["details"], {"deletedDocuments": 50})
        self.assert_placed(index, [])

        task = self.c.run("DELETE", f"/indexes/{index}")
        self.assertEqual(task["type"], "indexDeletion")
        self.assertEqual(task["status"], "succeeded")
        for n in self.nodes:
            self.assertEqual(n.call("GET", f"/indexes/{index}").status, 404)

    def test_settings_keep_and_hide_the_shard_field(self):
        index = "settings"
        self.c.run("POST", "/indexes", {"uid": index, "primaryKey": "id"})

        def on_nodes():
            return [set(n.call("GET", f"/indexes/{index}/settings/filterable-attributes").json())
                    for n in self.nodes]

        task = self.c.run("PUT", f"/indexes/{index}/settings/filterable-attributes", ["kind"])
        self.assertEqual(task["type"], "settingsUpdate")
        self.assertEqual(task["details"], {"filterableAttributes": ["kind"]})
        self.assertEqual(on_nodes(), [{"kind", "_miroir_shard"}] * 3)
        r = self.c.call("GET", f"/indexes/{index}/settings/filterable-attributes")
        self.assertEqual((r.status, r.json()), (200, ["kind"]))
        self.assertEqual(self.c.call("GET", f"/indexes/{index}/settings").json()
                         ["filterableAttributes"], ["kind"])

        task = self.c.run("PATCH", f"/indexes/{index}/settings",
                          {"filterableAttributes": None, "sortableAttributes": ["n"]})
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(on_nodes(), [{"_miroir_shard"}] * 3)
        settings = self.c.call("GET", f"/indexes/{index}/settings").json()
        self.assertEqual(settings["filterableAttributes"], [])
        self.assertEqual(settings["sortableAttributes"], ["n"])

        self.c.run("PUT", f"/indexes/{index}/settings/filterable-attributes", ["a", "b"])
        task = self.c.run("DELETE", f"/indexes/{index}/settings/filterable-attributes")
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(on_nodes(), [{"_miroir_shard"}] * 3)
        self.c.run("PUT", f"/indexes/{index}/settings/filterable-attributes", ["a"])
        task = self.c.run("DELETE", f"/indexes/{index}/settings")
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(on_nodes(), [{"_miroir_shard"}] * 3)
        self.assertEqual(self.c.call("GET", f"/indexes/{index}/settings").json()
                         ["sortableAttributes"], [])

        bad = self.c.call("PATCH", f"/indexes/{index}/settings", {"rankingRules": "words"})
        self.assertEqual(bad.status, 400, bad.body)
        self.assertEqual(bad.json()["code"], "invalid_settings_ranking_rules")
        missing = self.c.call("GET", "/indexes/nothing-here/settings")
        self.assertEqual((missing.status, missing.json()["code"]), (404, "index_not_found"))

    def test_settings_versions_live_in_the_task_store(self):
        """Two-phase settings with this store: a change commits the next version, which a
        restarted Miroir still answers."""
        self.c.run("POST", "/indexes", {"uid": "versioned", "primaryKey": "id"})
        task = self.c.run("PATCH", "/indexes/versioned/settings", {"stopWords": ["of"]})
        self.assertEqual(task["status"], "succeeded", task)
        r = self.c.call("GET", "/indexes/versioned/settings")
        self.assertEqual(r.headers.get("x-miroir-settings-version"), "2", r.headers)
        self.assertIsNone(r.headers.get("x-miroir-settings-inconsistent"))
        self.m.restart()
        r = self.c.call("POST", "/indexes/versioned/search", {"q": ""})
        self.assertEqual(r.headers.get("x-miroir-settings-version"), "2", r.headers)

    def test_an_index_some_node_cannot_create_is_rolled_back(self):
        nodes = [Node(NODE_KEY).start() for _ in range(3)]
        m = miroir_for([(f"n{i}", f"http://127.0.0.1:{n.port}") for i, n in enumerate(nodes)])
        m.start()
        c = Client(m)
        try:
            nodes[2].stop()
            r = c.call("POST", "/indexes", {"uid": "half", "primaryKey": "id"})
            self.assertEqual((r.status, r.json()["code"]), (503, "miroir_no_quorum"), r.body)
            self.assertIn("n2", r.json()["message"])
            deadline = time.monotonic() + 10
            while any(n.call("GET", "/indexes/half").status != 404 for n in nodes[:2]):
                self.assertLess(time.monotonic(), deadline, "the index stayed on a node")
                time.sleep(0.05)
            # a real node answers 404 for the index a moment before its list leaves it out
            r = c.call("GET", "/indexes")
            while r.json()["results"] and time.monotonic() < deadline:
                time.sleep(0.05)
                r = c.call("GET", "/indexes")
            self.assertEqual(r.json()["results"], [], r.body)
            self.assertEqual(c.call("GET", "/tasks?indexUids=half").json()["results"], [])
        finally:
            m.stop()
            for n in nodes:
                n.stop()

    def test_bad_bodies_are_refused_and_nothing_is_written(self):
        index = "strict"
        self.c.run("POST", "/indexes", {"uid": index, "primaryKey": "id"})
        cases = [
            ('[{"id": 1}, {"id": 2', "application/json", 400, "malformed_payload"),
            ('', "application/json", 400, "missing_payload"),
            ('[{"id": 1}]', "text/plain", 415, "invalid_content_type"),
            ('[{"id": 1, "_miroir_shard": 4}]', "application/json", 400, "miroir_reserved_field"),
            ('{"id": 1}\n{"id": \n', "application/x-ndjson", 400, "malformed_payload"),
            ('id,name\n1,a,b\n', "text/csv", 400, "malformed_payload"),
        ]
        for body, ctype, status, code in cases:
            r = self.c.call("POST", f"/indexes/{index}/documents", body, ctype)
            self.assertEqual(r.status, status, (body, r.body))
            err = r.json()
            self.assertEqual(list(err), ["message", "code", "type", "link"])
            self.assertEqual(err["code"], code, body)
        r = self.m.request("POST", f"/indexes/{index}/documents", '[{"id": 1}]', AUTH)
        self.assertEqual(r.status, 415)
        self.assertEqual(r.json()["code"], "missing_content_type")

        # id errors fail the task, as in Meilisearch
        for body, code in [([{"id": 1}, {"id": "a b"}], "invalid_document_id"),
                           ([{"id": 1}, {"name": "x"}], "missing_document_id"),
                           ([{"id": 1.5}], "invalid_document_id")]:
            task = self.c.run("POST", f"/indexes/{index}/documents", body)
            self.assertEqual(task["status"], "failed", task)
            self.assertEqual(task["error"]["code"], code)
            self.assertEqual(task["details"]["indexedDocuments"], 0)
        task = self.c.run("POST", f"/indexes/{index}/documents?primaryKey=other", [{"other": 1}])
        self.assertEqual(task["error"]["code"], "index_primary_key_already_exists")
        self.assert_placed(index, [])

    def test_csv_records_are_cut_as_meilisearch_cuts_them(self):
        # a quote opens a quoted cell only at a cell's start; a lone CR ends a record; a quote
        # left open at the end closes there. Each record lands on its own id's owners.
        index = "csvcut"
        self.c.run("POST", "/indexes", {"uid": index, "primaryKey": "id"})
        task = self.c.run("POST", f"/indexes/{index}/documents",
                          'id,t\n1,a"b\n2,x"\r3,"q"r\r\n4,"open', "text/csv")
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(task["details"]["indexedDocuments"], 4)
        expected = {"1": 'a"b', "2": 'x"', "3": "qr", "4": "open"}
        for doc_id, text in expected.items():
            doc = self.c.call("GET", f"/indexes/{index}/documents/{doc_id}").json()
            self.assertEqual(doc, {"id": doc_id, "t": text})
        self.assert_placed(index, list(expected))

        # a letter may delimit cells: Miroir's own cells are quoted, so it does not cut them
        task = self.c.run("POST", f"/indexes/{index}/documents?csvDelimiter=s",
                          "idst\n5shello\n", "text/csv")
        self.assertEqual(task["status"], "succeeded", task)
        expected["5"] = "hello"
        doc = self.c.call("GET", f"/indexes/{index}/documents/5").json()
        self.assertEqual(doc, {"id": "5", "t": "hello"})
        self.assert_placed(index, list(expected))

        # a delimiter that would leave records without one reading is refused
        for delimiter in ["%0A", "%0D", "%22"]:
            r = self.c.call("POST", f"/indexes/{index}/documents?csvDelimiter={delimiter}",
                            "id\n5\n", "text/csv")
            self.assertEqual(r.status, 400, r.body)
            self.assertEqual(r.json()["code"], "invalid_document_csv_delimiter")
        self.assert_placed(index, list(expected))

    def test_a_failing_node_task_fails_the_miroir_task_with_the_node_error(self):
        index = "geo"
        self.c.run("POST", "/indexes", {"uid": index, "primaryKey": "id"})
        # Meilisearch reads `_geo` only when the index filters or sorts on it
        self.c.run("PATCH", f"/indexes/{index}/settings", {"filterableAttributes": ["_geo"]})
        task = self.c.run("POST", f"/indexes/{index}/documents", [{"id": 1, "_geo": "nowhere"}])
        self.assertEqual(task["status"], "failed", task)
        self.assertEqual(task["error"]["code"], "invalid_document_geo_field")
        self.assertEqual(task["details"]["indexedDocuments"], 0)
        # elsewhere `_geo` is a field like any other
        self.c.run("POST", "/indexes", {"uid": "nogeo", "primaryKey": "id"})
        task = self.c.run("POST", "/indexes/nogeo/documents", [{"id": 1, "_geo": "nowhere"}])
        self.assertEqual(task["status"], "succeeded", task)

    def test_task_list_filters_and_pagination(self):
        self.c.run("POST", "/indexes", {"uid": "listed", "primaryKey": "id"})
        uids = [self.c.run("POST", "/indexes/listed/documents", [{"id": i}])["uid"]
                for i in range(3)]
        r = self.c.call("GET", "/tasks?indexUids=listed&types=documentAdditionOrUpdate&limit=2")
        self.assertEqual(r.status, 200, r.body)
        page = r.json()
        self.assertEqual([t["uid"] for t in page["results"]], [uids[2], uids[1]])
        self.assertEqual(page["total"], 3)
        self.assertEqual(page["limit"], 2)
        self.assertEqual(page["from"], uids[2])
        self.assertEqual(page["next"], uids[0])
        rest = self.c.call("GET", f"/tasks?indexUids=listed&types=documentAdditionOrUpdate"
                                  f"&from={page['next']}").json()
        self.assertEqual([t["uid"] for t in rest["results"]], [uids[0]])
        self.assertIsNone(rest["next"])
        ascending = self.c.call("GET", "/tasks?indexUids=listed&types=documentAdditionOrUpdate"
                                       "&reverse=true").json()
        self.assertEqual([t["uid"] for t in ascending["results"]], uids)
        future = self.c.call("GET", "/tasks?indexUids=listed&afterEnqueuedAt=2999-01-01").json()
        self.assertEqual(future["total"], 0)
        past = self.c.call("GET", "/tasks?indexUids=listed&statuses=succeeded"
                                  "&afterEnqueuedAt=2000-01-01").json()
        self.assertEqual(past["total"], 4)  # the creation and the three additions
        self.assertEqual(self.c.call("GET", "/tasks?afterEnqueuedAt=soon").json()["code"],
                         "invalid_task_after_enqueued_at")
        self.assertEqual(self.c.call("GET", "/tasks?statuses=nope").json()["code"],
                         "invalid_task_statuses")
        self.assertEqual(self.c.call("GET", "/tasks/abc").json()["code"], "invalid_task_uids")
        r = self.c.call("GET", "/tasks/999999")
        self.assertEqual((r.status, r.json()["code"]), (404, "task_not_found"))


class CancelAndDelete(unittest.TestCase):
    @unittest.skipIf(Node().kind != "devnode",
                     "holds the nodes' task queues with the development node's fault injection")
    def test_cancel_pending_writes_and_delete_finished_tasks(self):
        nodes = [Node(NODE_KEY).start() for _ in range(2)]
        m = miroir_for([(f"c-{i}", f"http://127.0.0.1:{n.port}") for i, n in enumerate(nodes)],
                       rf=1).start()
        try:
            c = Client(m)
            done = c.run("POST", "/indexes", {"uid": "c", "primaryKey": "id"})
            for n in nodes:
                r = n.call("PUT", "/_devnode/faults", {"routeClass": "queue", "hang": True})
                self.assertEqual(r.status, 200, r.body)
            pending = [c.call("POST", "/indexes/c/documents",
                              [{"id": i} for i in range(k, k + 20)]).json()["taskUid"]
                       for k in (0, 20)]
            self.assertEqual(c.call("GET", f"/tasks/{pending[0]}").json()["status"], "enqueued")

            missing = c.call("POST", "/tasks/cancel")
            self.assertEqual((missing.status, missing.json()["code"]),
                             (400, "missing_task_filters"))
            r = c.call("POST", f"/tasks/cancel?uids={pending[0]},{pending[1]},{done['uid']}")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["type"], "taskCancelation")
            cancel = c.wait(r.json()["taskUid"])
            self.assertEqual(cancel["status"], "succeeded", cancel)
            self.assertEqual(cancel["details"], {
                "matchedTasks": 3, "canceledTasks": 2,
                "originalFilter": f"?uids={pending[0]},{pending[1]},{done['uid']}"})
            for uid in pending:
                task = c.wait(uid)
                self.assertEqual(task["status"], "canceled", task)
                self.assertEqual(task["canceledBy"], cancel["uid"])
            for n in nodes:
                n.call("DELETE", "/_devnode/faults")
            self.assertEqual(node_documents(nodes[0], "c"), {})

            r = c.call("DELETE", f"/tasks?uids={pending[0]}&statuses=canceled")
            self.assertEqual(r.status, 200, r.body)
            deletion = c.wait(r.json()["taskUid"])
            self.assertEqual(deletion["type"], "taskDeletion")
            self.assertEqual(deletion["details"]["deletedTasks"], 1)
            self.assertEqual(c.call("GET", f"/tasks/{pending[0]}").status, 404)
            self.assertEqual(c.call("GET", f"/tasks/{pending[1]}").status, 200)
        finally:
            m.stop()
            for n in nodes:
                n.stop()


class Quorum(unittest.TestCase):
    """RF=2 over three nodes with `write_quorum: majority`: both owners of a shard must take a
    write, so shards owned by a node that is down miss quorum."""
    QUORUM = "majority"

    def setUp(self):
        self.nodes = [Node(NODE_KEY).start() for _ in range(3)]
        self.ids = [f"q-{i}" for i in range(3)]
        self.m = miroir_for([(self.ids[i], f"http://127.0.0.1:{n.port}")
                             for i, n in enumerate(self.nodes)], quorum=self.QUORUM).start()
        self.c = Client(self.m)
        self.c.run("POST", "/indexes", {"uid": "q", "primaryKey": "id"})

    def tearDown(self):
        self.m.stop()
        for n in self.nodes:
            n.stop()

    def test_one_node_down_is_degraded_two_down_is_no_quorum(self):
        self.nodes[2].stop()
        # RF=2: quorum is 2 of 2 owners, so shards owned by the stopped node miss quorum
        # unless the write carries none of them
        docs = [{"id": i} for i in range(200)]
        r = self.c.call("POST", "/indexes/q/documents", docs)
        self.assertEqual(r.status, 503, r.body)
        err = r.json()
        self.assertEqual(err["code"], "miroir_no_quorum")
        self.assertEqual(err["type"], "system")

        mine = [i for i in range(200) if "q-2" not in owners(shard_of(str(i), SHARDS), self.ids, RF)]
        self.assertTrue(mine)
        r = self.c.call("POST", "/indexes/q/documents", [{"id": i} for i in mine])
        self.assertEqual(r.status, 202, r.body)
        self.assertNotIn("x-miroir-degraded", r.headers)

        # a broadcast (delete all) reaches the two live nodes: every shard has one live owner,
        # not a quorum of two
        r = self.c.call("DELETE", "/indexes/q/documents")
        self.assertEqual(r.status, 503, r.body)


class QuorumOne(Quorum):
    """RF=2 over three nodes with the default `write_quorum` (`one` with RF 2): one node down
    still writes every shard, the answer naming the node and the shards it missed; two down
    lose the shards they both own."""
    QUORUM = None

    def test_one_node_down_is_degraded_two_down_is_no_quorum(self):
        self.nodes[2].stop()
        r = self.c.call("POST", "/indexes/q/documents", [{"id": i} for i in range(200)])
        self.assertEqual(r.status, 202, r.body)
        theirs = sorted({shard_of(str(i), SHARDS) for i in range(200)
                         if "q-2" in owners(shard_of(str(i), SHARDS), self.ids, RF)})
        self.assertEqual(r.headers.get("x-miroir-degraded"),
                         "nodes=q-2;shards=" + ",".join(map(str, theirs)))
        self.assertEqual(self.c.wait(r.json()["taskUid"])["status"], "succeeded")
        r = self.c.call("DELETE", "/indexes/q/documents")
        self.assertEqual(r.status, 202, r.body)

        self.nodes[1].stop()
        both = [i for i in range(200)
                if set(owners(shard_of(str(i), SHARDS), self.ids, RF)) == {"q-1", "q-2"}]
        self.assertTrue(both)
        r = self.c.call("POST", "/indexes/q/documents", [{"id": i} for i in both])
        self.assertEqual(r.status, 503, r.body)
        self.assertEqual(r.json()["code"], "miroir_no_quorum")


class QuorumWithThreeCopies(unittest.TestCase):
    """RF=3 over three nodes: quorum is two of three owners."""

    def test_degraded_then_no_quorum(self):
        nodes = [Node(NODE_KEY).start() for _ in range(3)]
        ids = [f"r-{i}" for i in range(3)]
        m = miroir_for([(ids[i], f"http://127.0.0.1:{n.port}") for i, n in enumerate(nodes)],
                       rf=3).start()
        try:
            c = Client(m)
            c.run("POST", "/indexes", {"uid": "r", "primaryKey": "id"})
            nodes[1].stop()
            r = c.call("POST", "/indexes/r/documents", [{"id": i} for i in range(30)])
            self.assertEqual(r.status, 202, r.body)
            self.assertEqual(r.headers.get("x-miroir-degraded"), "nodes=r-1")
            task = c.wait(r.json()["taskUid"])
            self.assertEqual(task["status"], "succeeded", task)
            self.assertEqual(len(node_documents(nodes[0], "r")), 30)

            nodes[2].stop()
            r = c.call("POST", "/indexes/r/documents", [{"id": 99}])
            self.assertEqual(r.status, 503, r.body)
            self.assertEqual(r.json()["code"], "miroir_no_quorum")
        finally:
            m.stop()
            for n in nodes:
                n.stop()


class Restart(unittest.TestCase):
    def test_tasks_survive_a_restart(self):
        nodes = [Node(NODE_KEY).start() for _ in range(2)]
        m = miroir_for([(f"s-{i}", f"http://127.0.0.1:{n.port}") for i, n in enumerate(nodes)],
                       rf=1).start()
        try:
            c = Client(m)
            first = c.run("POST", "/indexes", {"uid": "kept", "primaryKey": "id"})
            r = c.call("POST", "/indexes/kept/documents", [{"id": i} for i in range(20)])
            second = r.json()["taskUid"]
            m.restart()
            self.assertEqual(c.wait(first["uid"]), first)
            task = c.wait(second)
            self.assertEqual(task["status"], "succeeded")
            # uids keep increasing after the restart
            third = c.call("DELETE", "/indexes/kept/documents/1").json()["taskUid"]
            self.assertEqual(third, second + 1)
            self.assertEqual(c.call("GET", "/indexes/kept/documents/2").json(), {"id": 2})
        finally:
            m.stop()
            for n in nodes:
                n.stop()


@unittest.skipUnless(STORE == "redis", "several Miroir pods share the Redis task store only")
class SharedStore(unittest.TestCase):
    def test_two_miroirs_give_unique_increasing_task_uids(self):
        nodes = [Node(NODE_KEY).start() for _ in range(2)]
        addresses = [(f"p-{i}", f"http://127.0.0.1:{n.port}") for i, n in enumerate(nodes)]
        a, b = (Miroir(nodes=addresses, master_key=MASTER, replication_factor=1,
                       extra=f"  node_master_key: {NODE_KEY}\n  shards: {SHARDS}\n",
                       task_store=f'{{ backend: redis, url: "{redis.url}" }}').start()
                for _ in range(2))
        try:
            ca, cb = Client(a), Client(b)
            ca.run("POST", "/indexes", {"uid": "pods", "primaryKey": "id"})
            uids = []
            for i in range(10):
                c = ca if i % 2 == 0 else cb
                r = c.call("POST", "/indexes/pods/documents", [{"id": i}])
                self.assertEqual(r.status, 202, r.body)
                uids.append(r.json()["taskUid"])
            self.assertEqual(uids, sorted(set(uids)))
            # either pod reports a task the other created
            self.assertEqual(cb.wait(uids[0])["status"], "succeeded")
            self.assertEqual(ca.wait(uids[1])["status"], "succeeded")
            listed = ca.call("GET", "/tasks?indexUids=pods&types=documentAdditionOrUpdate").json()
            self.assertEqual(sorted(t["uid"] for t in listed["results"]), uids)

            # Redis goes away: a write is refused with a clear error; when it is back, the
            # next command reconnects (the data is gone with this unpersisted server, so
            # the counter starts again)
            redis.stop()
            r = ca.call("POST", "/indexes/pods/documents", [{"id": 100}])
            self.assertEqual(r.status, 503, r.body)
            self.assertEqual(r.json()["code"], "miroir_task_store_unavailable")
            redis.start()
            # a failed connection is not tried again for 250 ms: writes come back just after
            deadline = time.monotonic() + 5
            r = ca.call("POST", "/indexes/pods/documents", [{"id": 101}])
            while r.status == 503 and time.monotonic() < deadline:
                time.sleep(0.1)
                r = ca.call("POST", "/indexes/pods/documents", [{"id": 101}])
            self.assertEqual(r.status, 202, r.body)
            self.assertEqual(ca.wait(r.json()["taskUid"])["status"], "succeeded")
        finally:
            if redis.proc.poll() is not None:
                redis.start()
            a.stop()
            b.stop()
            for n in nodes:
                n.stop()


if __name__ == "__main__":
    unittest.main()
