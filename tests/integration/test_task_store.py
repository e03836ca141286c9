"""The Redis task store as production runs it: a password and a database, TLS, Sentinel and a
failover, and Redis out of reach (stopped, or hung): searches go on, writes are refused with 503
miroir_task_store_unavailable and nothing of them is applied, and Miroir recovers by itself."""
import os
import signal
import tempfile
import time
import unittest

from harness import Miroir, RedisServer, make_tls_files
from nodes import Node
from test_writes import MASTER, NODE_KEY, Client, node_documents

SHARDS = 4
SECRET = "s3cret-redis-Password"


def store(url, more=""):
    return f'{{ backend: redis, url: "{url}"{", " + more if more else ""} }}'


def eventually(check, timeout=20.0):
    """Calls `check` until it returns something true (or the timeout); returns that."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


class TaskStoreCase(unittest.TestCase):
    def setUp(self):
        self.nodes = [Node(NODE_KEY).start() for _ in range(2)]
        self.addresses = [(f"t-{i}", f"http://127.0.0.1:{n.port}") for i, n in
                          enumerate(self.nodes)]
        self.dir = tempfile.TemporaryDirectory(prefix="miroir-redis-")
        self.servers = []
        self.miroirs = []

    def tearDown(self):
        for m in self.miroirs:
            m.stop()
        for s in self.servers:
            if s.proc and s.proc.poll() is None:
                s.proc.send_signal(signal.SIGCONT)
            s.stop()
        for n in self.nodes:
            n.stop()
        self.dir.cleanup()

    def redis(self, **kwargs):
        server = RedisServer(workdir=self.dir.name, **kwargs).start()
        self.servers.append(server)
        return server

    def miroir(self, task_store, env=None, wait=True):
        m = Miroir(nodes=self.addresses, master_key=MASTER, replication_factor=1, env=env,
                   extra=f"  node_master_key: {NODE_KEY}\n  shards: {SHARDS}\n",
                   task_store=task_store).start(wait)
        self.miroirs.append(m)
        return m

    def assert_not_ready(self, task_store, why):
        """A Miroir whose task store refuses it does not serve, and logs why, retrying."""
        m = self.miroir(task_store, wait=False)
        self.assertTrue(eventually(lambda: why in m.log(), timeout=15), m.log())
        self.assertIn("task store not ready, retrying", m.log())
        self.assertIsNone(m.proc.poll())
        return m

    def assert_unavailable(self, r):
        self.assertEqual(r.status, 503, r.body)
        body = r.json()
        self.assertEqual(list(body), ["message", "code", "type", "link"])
        self.assertEqual(body["code"], "miroir_task_store_unavailable")
        return body["message"]


class Credentials(TaskStoreCase):
    def test_password_and_database_from_the_url_or_the_environment(self):
        server = self.redis(args=["--requirepass", SECRET])
        m = self.miroir(store(f"redis://:{SECRET}@127.0.0.1:{server.port}/3"))
        c = Client(m)
        self.assertEqual(c.run("POST", "/indexes", {"uid": "pw", "primaryKey": "id"})["status"],
                         "succeeded")
        self.assertIn("miroir:task_uid",
                      server.cli("-n", "3", "--scan", "--pattern", "miroir:*", password=SECRET))
        self.assertEqual(server.cli("-n", "0", "dbsize", password=SECRET), "0")

        # the password from the environment, for a URL without one
        other = self.miroir(store(f"redis://127.0.0.1:{server.port}/3"),
                            env={"MIROIR_REDIS_PASSWORD": SECRET})
        task = Client(other).run("POST", "/indexes/pw/documents", [{"id": 1}])
        self.assertEqual(task["status"], "succeeded", task)

        # a wrong password: refused with the reason, and the secret written nowhere
        wrong = self.assert_not_ready(store(f"redis://:not-{SECRET}@127.0.0.1:{server.port}/3"),
                                      "refused the credentials")
        self.assertNotIn(SECRET, wrong.log())
        for miroir in (m, other):
            self.assertNotIn(SECRET, miroir.log())
            for route in ("/_miroir/metrics", "/_miroir/topology", "/_miroir/workers"):
                r = miroir.request("GET", route, headers={"Authorization": f"Bearer {MASTER}"})
                self.assertNotIn(SECRET, r.body.decode(), route)


class Tls(TaskStoreCase):
    def test_rediss_with_the_ca_that_signed_the_server(self):
        files = make_tls_files(self.dir.name)
        server = self.redis(tls=files)
        m = self.miroir(store(f"rediss://localhost:{server.port}",
                              f'tls_ca_file: "{files["ca"]}"'))
        task = Client(m).run("POST", "/indexes", {"uid": "tls", "primaryKey": "id"})
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(server.cli("get", "miroir:task_uid"), "1")

        # a server whose certificate no trusted CA signed is refused
        self.assert_not_ready(store(f"rediss://localhost:{server.port}"),
                              "certificate verify failed")


class Outage(TaskStoreCase):
    def test_searches_go_on_writes_are_refused_and_miroir_recovers(self):
        # persisted, as production runs it: a restart keeps the tasks and the uid counter
        server = self.redis(args=["--appendonly", "yes", "--appendfsync", "always"])
        m = self.miroir(store(server.url, "command_timeout_ms: 500"))
        c = Client(m)
        c.run("POST", "/indexes", {"uid": "out", "primaryKey": "id"})
        last = c.run("POST", "/indexes/out/documents", [{"id": i, "t": "word"} for i in range(20)])
        self.assertEqual(last["status"], "succeeded", last)

        def searches_go_on():
            r = c.call("POST", "/indexes/out/search", {"q": "word", "limit": 50})
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(len(r.json()["hits"]), 20)
            self.assertEqual(c.call("GET", "/indexes/out/documents/3").status, 200)

        def writes_are_refused(doc_id):
            started = time.monotonic()
            self.assert_unavailable(c.call("POST", "/indexes/out/documents", [{"id": doc_id}]))
            self.assertLess(time.monotonic() - started, 5)
            held = [node_documents(n, "out") for n in self.nodes]
            self.assertFalse(any(str(doc_id) in docs for docs in held), "half-applied")

        # Redis stopped
        server.stop()
        searches_go_on()
        writes_are_refused(100)
        server.start()
        r = eventually(lambda: (lambda r: r if r.status == 202 else None)(
            c.call("POST", "/indexes/out/documents", [{"id": 101}])))
        self.assertTrue(r, "writes did not come back after Redis did")
        self.assertGreater(r.json()["taskUid"], last["uid"])
        self.assertEqual(c.wait(last["uid"])["status"], "succeeded")

        # Redis hung: no answer at all, a command fails after command_timeout_ms
        os.kill(server.proc.pid, signal.SIGSTOP)
        try:
            searches_go_on()
            writes_are_refused(102)
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        r = eventually(lambda: (lambda r: r if r.status == 202 else None)(
            c.call("POST", "/indexes/out/documents", [{"id": 103}])))
        self.assertTrue(r, "writes did not come back after Redis answered again")
        self.assertEqual(c.wait(r.json()["taskUid"])["status"], "succeeded")


class Sentinel(TaskStoreCase):
    def test_writes_follow_the_master_through_a_failover(self):
        master = self.redis()
        replica = self.redis(args=["--replicaof", "127.0.0.1", str(master.port)])
        sentinel = self.redis(sentinel=master)
        self.assertTrue(eventually(lambda: str(replica.port) in sentinel.cli(
            "sentinel", "replicas", "mymaster")), "the Sentinel did not find the replica")

        m = self.miroir(store(f"redis+sentinel://127.0.0.1:{sentinel.port}/mymaster"))
        c = Client(m)
        c.run("POST", "/indexes", {"uid": "ha", "primaryKey": "id"})
        before = [c.run("POST", "/indexes/ha/documents", [{"id": i}])["uid"] for i in range(5)]
        # the replica has every task before the failover
        self.assertTrue(eventually(lambda: replica.cli("get", "miroir:task_uid") ==
                                   master.cli("get", "miroir:task_uid")))

        self.assertEqual(sentinel.cli("sentinel", "failover", "mymaster"), "OK")
        self.assertTrue(eventually(lambda: str(replica.port) in sentinel.cli(
            "sentinel", "get-master-addr-by-name", "mymaster")), "no failover")
        # writes the old master took in the window before it was made a replica are lost, as
        # with any Redis failover (docs/reliability.md): the test writes after it
        self.assertTrue(eventually(lambda: master.cli("role").startswith("slave")))

        r = eventually(lambda: (lambda r: r if r.status == 202 else None)(
            c.call("POST", "/indexes/ha/documents", [{"id": 10}])))
        self.assertTrue(r, "writes did not follow the new master")
        self.assertGreater(r.json()["taskUid"], before[-1])
        self.assertEqual(c.wait(r.json()["taskUid"])["status"], "succeeded")
        for uid in before:
            self.assertEqual(c.wait(uid)["status"], "succeeded")
        # the new master holds what Miroir writes now
        self.assertEqual(int(replica.cli("get", "miroir:task_uid")), r.json()["taskUid"] + 1)


if __name__ == "__main__":
    unittest.main()
