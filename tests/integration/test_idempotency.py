"""Idempotency keys across two Miroir pods sharing one Redis task store: a write retried with
the same key and request through either pod gets the first 202 again and creates no task; the
same key with another request is refused; a storm of concurrent retries makes one task; bad
keys are refused with nothing written. The same cases again with one pod and SQLite."""
import json
import shutil
import threading
import unittest

from test_rebalance import Pods
from test_search_differential import INDEX, Cluster, wait_miroir


def write(client, docs, key=None):
    m = client.m
    headers = {"Authorization": "Bearer diff-master-key", "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    body = docs if isinstance(docs, str) else json.dumps(docs)
    return m.request("POST", f"/indexes/{INDEX}/documents", body, headers)


def task_count(client):
    return client.call("GET", "/tasks?limit=1").json()["total"]


def node_task_count(pods):
    return sum(n.call("GET", "/tasks?limit=1").json()["total"] for n in pods.nodes)


@unittest.skipUnless(shutil.which("redis-server"), "needs redis-server (scripts/bootstrap)")
class IdempotencyKeys(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pods = Pods(2, 2, rf=1, shards=8, extra="")
        cls.a, cls.b = cls.pods.via(0), cls.pods.via(1)
        r = cls.a.call("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
        wait_miroir(cls.a, r.json()["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.pods.stop()

    def test_a_retry_through_the_other_pod_gets_the_first_answer(self):
        docs = [{"id": 1, "title": "one"}, {"id": 2, "title": "two"}]
        first = write(self.a, docs, "retry-1")
        self.assertEqual(first.status, 202, first.body)
        tasks, node_tasks = task_count(self.a), node_task_count(self.pods)
        again = write(self.b, docs, "retry-1")
        self.assertEqual(again.status, 202, again.body)
        self.assertEqual(again.json(), first.json())
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        self.assertEqual(task_count(self.b), tasks)  # no new Miroir task...
        self.assertEqual(node_task_count(self.pods), node_tasks)  # ...and nothing sent
        wait_miroir(self.a, first.json()["taskUid"])
        # without a key, the same write is a new task
        other = write(self.b, docs)
        self.assertNotEqual(other.json()["taskUid"], first.json()["taskUid"])

    def test_the_same_key_with_another_request_is_refused(self):
        first = write(self.a, [{"id": 3}], "reused")
        self.assertEqual(first.status, 202, first.body)
        tasks = task_count(self.a)
        r = write(self.b, [{"id": 4}], "reused")
        self.assertEqual(r.status, 422, r.body)
        self.assertEqual(r.json()["code"], "miroir_idempotency_key_reused")
        self.assertEqual(r.json()["type"], "invalid_request")
        self.assertEqual(task_count(self.a), tasks)

    def test_a_storm_of_retries_makes_one_task(self):
        docs = [{"id": 10 + i, "title": f"storm {i}"} for i in range(50)]
        answers = []
        lock = threading.Lock()

        def send(client):
            r = write(client, docs, "storm")
            with lock:
                answers.append((r.status, r.json().get("taskUid")))
        tasks = task_count(self.a)
        threads = [threading.Thread(target=send, args=(self.a if i % 2 else self.b,))
                   for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual({s for s, _ in answers}, {202}, answers)
        self.assertEqual(len({u for _, u in answers}), 1, answers)
        self.assertEqual(task_count(self.a), tasks + 1)

    def test_bad_keys_are_refused_and_nothing_is_written(self):
        tasks = task_count(self.a)
        for key in ["x" * 257, "has space", ""]:
            r = write(self.a, [{"id": 99}], key)
            self.assertEqual(r.status, 400, (key, r.body))
            self.assertEqual(r.json()["code"], "miroir_invalid_idempotency_key")
        self.assertEqual(task_count(self.a), tasks)

    def test_a_refused_write_leaves_the_key_free(self):
        r = write(self.a, '[{"id": 1,', "refused")  # malformed: refused at once
        self.assertNotEqual(r.status, 202, r.body)
        ok = write(self.b, [{"id": 7}], "refused")
        self.assertEqual(ok.status, 202, ok.body)



class IdempotencyKeysSqlite(IdempotencyKeys):
    """The same cases with one pod and its SQLite task store."""

    @classmethod
    def setUpClass(cls):
        cls.pods = Cluster({"nodes": 2, "rf": 1, "shards": 8})
        cls.a = cls.b = cls.pods
        r = cls.a.call("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
        wait_miroir(cls.a, r.json()["taskUid"])


if __name__ == "__main__":
    unittest.main()
