"""Read-your-writes sessions across two Miroir pods sharing one Redis task store, over two
replica groups whose development nodes take 200 ms to apply each task: a document written
through one pod is found by a search through the other made at once in the same session,
every time; without the session it is mostly not. A read whose write is not applied within
max_wait_ms is answered, marked stale; a malformed session header is refused. Sessions are
bounded in number, for every pod: the ones expiring first are forgotten."""
import json
import os
import shutil
import time
import unittest

from test_rebalance import Pods, metric_sum
from test_search_differential import MASTER, Cluster, wait_miroir

INDEX = "notes"
ROUNDS = 200


def call(client, method, path, body=None, session=None):
    headers = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json"}
    if session is not None:
        headers["X-Miroir-Session"] = session
    return client.m.request(method, path, json.dumps(body) if body is not None else None,
                            headers)


@unittest.skipIf(os.environ.get("MEILISEARCH_BIN"), "needs the development node's faults")
@unittest.skipUnless(shutil.which("redis-server"), "needs redis-server (scripts/bootstrap)")
class Sessions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pods = Pods(4, 2, rf=1, shards=8, extra="", groups=2)
        cls.a, cls.b = cls.pods.via(0), cls.pods.via(1)
        r = cls.a.call("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
        wait_miroir(cls.a, r.json()["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.pods.stop()

    def slow_nodes(self, fault):
        for node in self.pods.nodes:
            r = node.call("PUT", "/_devnode/faults", dict(fault, routeClass="queue"))
            self.assertEqual(r.status, 200, r.body)

    def clear_faults(self):
        for node in self.pods.nodes:
            node.call("DELETE", "/_devnode/faults")

    def found(self, i, session):
        """Writes document `i` through pod a, then searches for it through pod b at once."""
        doc = {"id": i, "title": f"note w{i}q"}
        r = call(self.a, "POST", f"/indexes/{INDEX}/documents", [doc], session)
        self.assertEqual(r.status, 202, r.body)
        r = call(self.b, "POST", f"/indexes/{INDEX}/search", {"q": f"w{i}q", "limit": 5},
                 session)
        self.assertEqual(r.status, 200, r.body)
        if session is not None:
            self.assertIn(r.headers.get("x-miroir-session-group"), ("0", "1"))
            self.assertIsNone(r.headers.get("x-miroir-session-stale"))
        return any(h["id"] == i for h in r.json()["hits"])

    def test_a_write_is_read_at_once_in_its_session(self):
        self.slow_nodes({"latencyMs": 200})
        try:
            with_session = sum(self.found(i, "reader-1") for i in range(ROUNDS))
            # without the header, after the session's writes were applied
            time.sleep(0.5)
            without = sum(self.found(10_000 + i, None) for i in range(ROUNDS))
        finally:
            self.clear_faults()
        print(f"\n  found at once: {with_session}/{ROUNDS} in a session, "
              f"{without}/{ROUNDS} without")
        self.assertEqual(with_session, ROUNDS)
        self.assertLess(without, ROUNDS // 2)
        self.assertGreaterEqual(metric_sum(self.pods, "miroir_session_pin_enforced_total"),
                                ROUNDS)

    def test_a_write_not_applied_in_time_is_read_stale(self):
        r = call(self.a, "POST", f"/indexes/{INDEX}/documents", [{"id": 5, "title": "x"}],
                 "stale-1")
        wait_miroir(self.a, r.json()["taskUid"])
        self.slow_nodes({"hang": True})
        try:
            r = call(self.a, "POST", f"/indexes/{INDEX}/documents",
                     [{"id": 6, "title": "held"}], "stale-1")
            self.assertEqual(r.status, 202, r.body)
            started = time.monotonic()
            r = call(self.b, "POST", f"/indexes/{INDEX}/search", {"q": "held"}, "stale-1")
            waited = time.monotonic() - started
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.headers.get("x-miroir-session-stale"), "true")
            self.assertGreaterEqual(waited, 4.5)  # max_wait_ms, 5 s by default
            # another session, and no session, do not wait
            r = call(self.b, "POST", f"/indexes/{INDEX}/search", {"q": "held"}, "other")
            self.assertIsNone(r.headers.get("x-miroir-session-stale"))
            self.assertIsNone(r.headers.get("x-miroir-session-group"))
        finally:
            self.clear_faults()
        self.assertGreaterEqual(metric_sum(self.pods, "miroir_session_wait_timeout_total"), 1)

    def test_a_malformed_session_is_refused(self):
        before = self.a.call("GET", "/tasks?limit=1").json()["total"]
        for bad in ("x" * 129, "two words", ""):
            r = call(self.a, "POST", f"/indexes/{INDEX}/documents", [{"id": 7}], bad)
            self.assertEqual(r.status, 400, r.body)
            self.assertEqual(r.json()["code"], "miroir_invalid_session")
            r = call(self.b, "POST", f"/indexes/{INDEX}/search", {}, bad)
            self.assertEqual(r.status, 400, r.body)
        self.assertEqual(self.a.call("GET", "/tasks?limit=1").json()["total"], before)
        r = call(self.a, "POST", f"/indexes/{INDEX}/search", {}, "y" * 128)
        self.assertEqual(r.status, 200, r.body)


class SessionBound(unittest.TestCase):
    """session_pinning.max_sessions: 3, with the SQLite store and with two pods on Redis."""
    BOUND = "  session_pinning: {max_sessions: 3}\n"

    def check(self, writer, reader, metrics):
        r = writer.call("POST", "/indexes", {"uid": "bound", "primaryKey": "id"})
        wait_miroir(writer, r.json()["taskUid"])
        for i in range(5):
            r = call(writer, "POST", "/indexes/bound/documents", [{"id": i}], f"s{i}")
            self.assertEqual(r.status, 202, r.body)
            wait_miroir(writer, r.json()["taskUid"])
        # the three sessions written last are remembered; the first two were forgotten
        for i in range(5):
            r = call(reader, "POST", "/indexes/bound/search", {}, f"s{i}")
            self.assertEqual(r.status, 200, r.body)
            group = r.headers.get("x-miroir-session-group")
            self.assertEqual(group is not None, i >= 2, (i, group))
        self.assertEqual(metrics(), 2)

    def test_sqlite(self):
        cluster = Cluster({"nodes": 2, "rf": 1, "shards": 4}, self.BOUND)
        try:
            body = lambda: cluster.call("GET", "/_miroir/metrics").body.decode()  # noqa: E731
            self.check(cluster, cluster, lambda: sum(
                float(line.split()[-1]) for line in body().splitlines()
                if line.startswith("miroir_sessions_dropped_total")))
        finally:
            cluster.stop()

    @unittest.skipUnless(shutil.which("redis-server"), "needs redis-server (scripts/bootstrap)")
    def test_redis_two_pods(self):
        pods = Pods(2, 2, rf=1, shards=4, extra=self.BOUND)
        try:
            self.check(pods.via(0), pods.via(1),
                       lambda: metric_sum(pods, "miroir_sessions_dropped_total"))
        finally:
            pods.stop()


if __name__ == "__main__":
    unittest.main()
