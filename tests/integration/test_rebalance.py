"""Topology changes under load: with writes and searches running through Miroir all along, add
a fourth node, drain one and remove it, and add a replica group, rebalancing after each.
Afterwards every document must be exactly on its owners (asked of the nodes directly, through
GET /_miroir/verify), every acknowledged write must be there, no search may have failed, and
the shard copies moved must be close to the fewest any balanced placement moves. A second case
kills Miroir in the middle of a migration: restarted, it resumes the same rebalance where it
stopped. Runs against real meilisearch binaries when MEILISEARCH_BIN is set."""
import concurrent.futures
import json
import os
import random
import shutil
import threading
import time
import unittest

from harness import Miroir, RedisServer, run_cli
from nodes import Node
from test_reads import load
from test_search_differential import INDEX, MASTER, NODE_KEY, Cluster, corpus, wait_miroir

FAST = "  rebalance: { pause_ms: 5, topology_poll_ms: 100, lease_ms: 2000 }\n"


def wait_balanced(cluster, timeout=180):
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = cluster.call("GET", "/_miroir/rebalance/status").json()
        if status["state"] == "idle" and status["balanced"]:
            return status
        time.sleep(0.1)
    raise AssertionError(f"not balanced in time: {status}")


def all_documents(cluster):
    """Every document through Miroir, by id."""
    out, offset = {}, 0
    while True:
        r = cluster.call("POST", f"/indexes/{INDEX}/documents/fetch",
                         {"offset": offset, "limit": 1000})
        assert r.status == 200, r.body
        page = r.json()["results"]
        for doc in page:
            out[doc["id"]] = doc
        if len(page) < 1000:
            return out
        offset += 1000


class Load(threading.Thread):
    """Writes (new documents, updates, deletions) and searches through Miroir, one after the
    other, until stopped; keeps the documents the acknowledged writes leave."""

    def __init__(self, cluster, docs, lane=0, lanes=1):
        """`lane` of `lanes`: this load touches only ids equal to `lane` modulo `lanes`, so
        that loads through several Miroirs each know what they leave."""
        super().__init__(daemon=True)
        self.cluster = cluster
        self.expected = {d["id"]: dict(d) for d in docs if d["id"] % lanes == lane}
        self.lanes = lanes
        self.next_id = 1_000_000 + lane
        self.tasks = []
        self.refused_writes = []
        self.searches = 0
        self.failed_searches = []
        self.halt = threading.Event()
        self.rng = random.Random(11)

    def write(self, method, path, body, apply):
        r = self.cluster.call(method, path, body)
        if r.status != 202:
            self.refused_writes.append((r.status, r.body))
            return
        self.tasks.append(r.json()["taskUid"])
        apply()

    def step(self):
        kind = self.rng.random()
        if kind < 0.5:
            batch = []
            for _ in range(self.rng.randint(1, 20)):
                batch.append({"id": self.next_id, "title": f"added {self.next_id}",
                              "genre": "drama", "year": 2000, "rating": 5.0})
                self.next_id += self.lanes

            def add():
                for d in batch:
                    self.expected[d["id"]] = d
            self.write("POST", f"/indexes/{INDEX}/documents", batch, add)
        elif kind < 0.8 and self.expected:
            ids = self.rng.sample(sorted(self.expected), min(5, len(self.expected)))
            stamp = f"updated {time.monotonic_ns()}"

            def update():
                for i in ids:
                    self.expected[i] = dict(self.expected[i], title=stamp)
            self.write("PUT", f"/indexes/{INDEX}/documents",
                       [{"id": i, "title": stamp} for i in ids], update)
        elif self.expected:
            ids = self.rng.sample(sorted(self.expected), min(3, len(self.expected)))

            def delete():
                for i in ids:
                    self.expected.pop(i, None)
            self.write("POST", f"/indexes/{INDEX}/documents/delete-batch", ids, delete)
        r = self.cluster.call("POST", f"/indexes/{INDEX}/search", {"q": "river", "limit": 5})
        self.searches += 1
        if r.status != 200 or r.headers.get("x-miroir-degraded"):
            self.failed_searches.append((r.status, r.body[:200]))

    def run(self):
        while not self.halt.is_set():
            self.step()
            time.sleep(0.005)

    def finish(self):
        self.halt.set()
        self.join()
        for uid in self.tasks:
            wait_miroir(self.cluster, uid)


class Rebalance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = corpus(random.Random(3), 1500)
        cls.cluster = Cluster({"nodes": 3, "rf": 2, "shards": 64}, FAST)
        cls.extra = []
        load(cls.cluster, cls.docs)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        for n in cls.extra:
            n.stop()

    def call_ok(self, method, path, body=None, status=200):
        r = self.cluster.call(method, path, body)
        self.assertEqual(r.status, status, r.body)
        return r.json() if r.body else None

    def cli(self, *args, timeout=60):
        return run_cli(*args, "--url", f"http://127.0.0.1:{self.cluster.m.port}",
                       "--admin-key", MASTER, timeout=timeout)

    def new_node(self):
        node = Node(NODE_KEY).start()
        self.extra.append(node)
        return node

    def rebalance(self):
        started = self.call_ok("POST", "/_miroir/rebalance", status=202)
        self.assertIn(started["state"], ("running", "idle"))
        done = wait_balanced(self.cluster)
        r = done["rebalance"]
        self.assertEqual(r["phase"], "done", r)
        self.assertEqual(r["shardsCopied"], r["shardsMoving"], r)
        print(f"\n  rebalance {r['id']}: group {r['group']} {r['before']} -> {r['after']}: "
              f"{r['shardsMoving']} shards, {r['copiesMoved']} copies moved "
              f"(fewest possible {r['minimumCopies']}), {r['documentsCopied']} documents copied "
              f"in {(r['finishedAt'] - r['startedAt']) / 1000:.1f} s")
        return done

    def verify_clean(self):
        report = self.call_ok("GET", "/_miroir/verify")
        self.assertEqual(report["status"], "ok", json.dumps(report)[:2000])

    def test_changes_under_load(self):
        load_thread = Load(self.cluster, self.docs)
        load_thread.start()
        try:
            # a fourth node: only shards it gains move, each from a former owner
            d3 = self.new_node()
            added = self.call_ok("POST", "/_miroir/nodes",
                                 {"id": "d3", "address": f"http://127.0.0.1:{d3.port}",
                                  "group": 0}, status=201)
            self.assertEqual(added["role"], "joining")
            # a topology change waits for the running rebalance
            done = self.rebalance()["rebalance"]
            self.assertLessEqual(done["copiesMoved"], 1.3 * done["minimumCopies"], done)
            topology = self.call_ok("GET", "/_miroir/topology")
            roles = {n["id"]: n["role"] for n in topology["nodes"]}
            self.assertEqual(roles, {"d0": "active", "d1": "active", "d2": "active",
                                     "d3": "active"})
            self.assertGreater(next(n for n in topology["nodes"] if n["id"] == "d3")["shards"], 0)

            # a node holding shards is drained, not removed; drained, it leaves the topology
            r = self.cluster.call("DELETE", "/_miroir/nodes/d1")
            self.assertEqual(r.status, 409, r.body)
            self.assertEqual(r.json()["code"], "miroir_node_not_drained")
            # through the operator commands this time
            out = self.cli("nodes", "drain", "d1")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("d1 draining in group 0", out.stdout)
            out = self.cli("rebalance", "--wait", timeout=180)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertTrue(out.stdout.strip().endswith("balanced"), out.stdout)
            done = self.call_ok("GET", "/_miroir/rebalance/status")["rebalance"]
            self.assertEqual(done["phase"], "done", done)
            self.assertNotIn("d1", done["after"])
            # the drained node holds nothing of the index any more
            held = self.cluster.nodes[1].call("POST", f"/indexes/{INDEX}/documents/fetch",
                                              {"limit": 0}).json()["total"]
            self.assertEqual(held, 0)
            r = self.cluster.call("DELETE", "/_miroir/nodes/d1")
            self.assertEqual(r.status, 404, r.body)

            # a node added by mistake is removed before it holds anything
            self.call_ok("POST", "/_miroir/nodes",
                         {"id": "oops", "address": "http://127.0.0.1:9", "group": 0}, status=201)
            r = self.cluster.call("DELETE", "/_miroir/nodes/oops")
            self.assertEqual(r.status, 204, r.body)
            self.assertTrue(self.call_ok("GET", "/_miroir/rebalance/status")["balanced"])

            # a new replica group, filled from the first before it serves reads
            e0, e1 = self.new_node(), self.new_node()
            group = self.call_ok("POST", "/_miroir/groups", {"nodes": [
                {"id": "e0", "address": f"http://127.0.0.1:{e0.port}"},
                {"id": "e1", "address": f"http://127.0.0.1:{e1.port}"}]}, status=201)
            self.assertEqual(group["id"], 1)
            done = self.rebalance()["rebalance"]
            self.assertEqual(done["group"], 1)
            topology = self.call_ok("GET", "/_miroir/topology")
            self.assertEqual([g["readable"] for g in topology["groups"]], [True, True])
            # the rebalances may take only seconds: let the load reach its count
            deadline = time.monotonic() + 30
            while load_thread.searches <= 50 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            load_thread.finish()

        self.assertEqual(load_thread.refused_writes, [])
        self.assertEqual(load_thread.failed_searches, [])
        self.assertGreater(load_thread.searches, 50)
        print(f"  under load: {len(load_thread.tasks)} writes, {load_thread.searches} searches")
        self.verify_clean()
        # every acknowledged write is there, nothing else is
        got = all_documents(self.cluster)
        self.assertEqual(sorted(got), sorted(load_thread.expected))
        for i, want in load_thread.expected.items():
            self.assertEqual(got[i]["title"], want["title"], i)
        # each group holds every document once: group 1's nodes directly
        total = sum(n.call("POST", f"/indexes/{INDEX}/documents/fetch",
                           {"limit": 0}).json()["total"] for n in (e0, e1))
        self.assertEqual(total, 2 * len(load_thread.expected))  # RF 2 over two nodes

        # the operator commands see the same topology
        out = self.cli("nodes", "list")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("e1", out.stdout)
        self.assertNotIn("d1", out.stdout)

        # the rebalances are counted in the metrics
        metrics = self.cluster.m.request("GET", "/_miroir/metrics",
                                         headers={"Authorization": f"Bearer {MASTER}"})
        copied = [line for line in metrics.body.decode().splitlines()
                  if line.startswith("miroir_rebalance_documents_copied_total")]
        self.assertTrue(copied and float(copied[0].split()[-1]) > 0, copied)

        # a group leaves the read rotation at once; the other serves every document
        r = self.cluster.call("DELETE", "/_miroir/groups/1")
        self.assertEqual(r.status, 204, r.body)
        topology = self.call_ok("GET", "/_miroir/topology")
        self.assertEqual([g["id"] for g in topology["groups"]], [0])
        self.assertNotIn("e0", json.dumps(topology["nodes"]))
        self.assertEqual(sorted(all_documents(self.cluster)), sorted(load_thread.expected))
        r = self.cluster.call("DELETE", "/_miroir/groups/0")
        self.assertEqual(r.status, 409, r.body)
        self.assertEqual(r.json()["code"], "miroir_last_group")

    def test_refusals(self):
        out = self.cli("nodes", "add", "d0", "http://127.0.0.1:1")
        self.assertEqual(out.returncode, 2)
        self.assertIn("already exists", out.stderr)
        out = self.cli("nodes", "add", "lonely")
        self.assertEqual(out.returncode, 2)
        self.assertIn("missing arguments", out.stderr)
        r = self.cluster.call("POST", "/_miroir/nodes", {"id": "d0", "address": "http://127.0.0.1:1"})
        self.assertEqual(r.status, 409, r.body)
        r = self.cluster.call("POST", "/_miroir/nodes", {"id": "x y", "address": "http://127.0.0.1:1"})
        self.assertEqual(r.status, 400, r.body)
        r = self.cluster.call("POST", "/_miroir/nodes",
                              {"id": "z", "address": "http://127.0.0.1:1", "group": 9})
        self.assertEqual(r.status, 404, r.body)
        r = self.cluster.call("POST", "/_miroir/nodes/nope/drain")
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(r.json()["code"], "miroir_node_not_found")
        r = self.cluster.call("DELETE", "/_miroir/groups/7")
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(r.json()["code"], "miroir_group_not_found")
        # balanced: nothing to do
        status = self.cluster.call("GET", "/_miroir/rebalance/status").json()
        if status["balanced"]:
            r = self.cluster.call("POST", "/_miroir/rebalance")
            self.assertEqual(r.status, 200, r.body)


class Pods:
    """Nodes and several Miroirs sharing one Redis task store, as pods of one deployment."""

    def __init__(self, nodes, pods, rf, shards, extra, groups=1):
        self.redis = RedisServer().start()
        self.nodes = [Node(NODE_KEY).start() for _ in range(nodes)]
        per_group = nodes // groups
        addresses = [(f"d{i}", f"http://127.0.0.1:{n.port}", i // per_group)
                     for i, n in enumerate(self.nodes)]
        config = (f"  node_master_key: {NODE_KEY}\n  shards: {shards}\n"
                  f"  replica_groups: {groups}\n{extra}")
        self.pods = [Miroir(nodes=addresses, master_key=MASTER, replication_factor=rf,
                            extra=config,
                            task_store=f'{{ backend: redis, url: "{self.redis.url}" }}').start()
                     for _ in range(pods)]

    def via(self, pod):
        """A client of one pod, shaped like Cluster (call, m)."""
        outer = self

        class Client:
            m = outer.pods[pod]

            def call(self, method, path, body=None):
                headers = {"Authorization": f"Bearer {MASTER}",
                           "Content-Type": "application/json"}
                return self.m.request(method, path,
                                      json.dumps(body) if body is not None else None, headers)
        return Client()

    def stop(self):
        for m in self.pods:
            m.stop()
        for n in self.nodes:
            n.stop()
        self.redis.stop()


def metric_sum(pods, name):
    """A counter summed over every pod's /_miroir/metrics."""
    total = 0.0
    for i in range(len(pods.pods)):
        for line in pods.via(i).call("GET", "/_miroir/metrics").body.decode().splitlines():
            if line.startswith(name):
                total += float(line.split()[-1])
    return total


@unittest.skipUnless(shutil.which("redis-server"), "needs redis-server (scripts/bootstrap)")
class SeveralPods(unittest.TestCase):
    def rebalance_under_writes(self, pods, docs, slow_source_ms=0):
        """Both pods write while a node joins and the fleet rebalances; every acknowledged
        write is then where the final topology places it, and each moved document was copied
        by one driving pod only."""
        extra = Node(NODE_KEY).start()
        a, b = pods.via(0), pods.via(1)
        try:
            load(a, docs)
            if slow_source_ms:
                for node in pods.nodes:
                    r = node.call("PUT", "/_devnode/faults",
                                  {"routeClass": "documents", "latencyMs": slow_source_ms})
                    self.assertEqual(r.status, 200, r.body)
            loads = [Load(a, docs, 0, 2), Load(b, docs, 1, 2)]
            for t in loads:
                t.start()
            try:
                r = b.call("POST", "/_miroir/nodes",
                           {"id": "d3", "address": f"http://127.0.0.1:{extra.port}"})
                self.assertEqual(r.status, 201, r.body)
                # the other pod sees the node, and starts the rebalance
                deadline = time.monotonic() + 10
                while "d3" not in json.dumps(a.call("GET", "/_miroir/topology").json()["nodes"]):
                    self.assertLess(time.monotonic(), deadline)
                    time.sleep(0.05)
                r = a.call("POST", "/_miroir/rebalance")
                self.assertEqual(r.status, 202, r.body)
                done = wait_balanced(b)["rebalance"]
                self.assertEqual(done["phase"], "done")
            finally:
                for t in loads:
                    t.finish()
            for node in pods.nodes:
                node.call("DELETE", "/_devnode/faults")
            for t in loads:
                self.assertEqual(t.refused_writes, [])
                self.assertEqual(t.failed_searches, [])
            print(f"\n  two pods: {sum(len(t.tasks) for t in loads)} writes during the rebalance")
            report = b.call("GET", "/_miroir/verify").json()
            self.assertEqual(report["status"], "ok", json.dumps(report)[:2000])
            expected = {**loads[0].expected, **loads[1].expected}
            got = all_documents(a)
            self.assertEqual(sorted(got), sorted(expected))
            for i, want in expected.items():
                self.assertEqual(got[i]["title"], want["title"], i)
            # one driver: the pods together copied what the rebalance records, no more
            copied = metric_sum(pods, "miroir_rebalance_documents_copied_total")
            self.assertEqual(copied, done["documentsCopied"])
        finally:
            extra.stop()

    def test_writes_through_two_pods_during_a_rebalance(self):
        pods = Pods(3, 2, rf=2, shards=64, extra=FAST)
        try:
            self.rebalance_under_writes(pods, corpus(random.Random(6), 1500))
        finally:
            pods.stop()

    @unittest.skipIf(os.environ.get("MEILISEARCH_BIN"), "needs the development node's faults")
    def test_a_copy_longer_than_the_lease_keeps_one_driver(self):
        # every shard's read from its source takes 100 ms: one hold of the 39 small shards
        # lasts about four leases of 2 s; the driving pod keeps its lease through it
        pods = Pods(3, 2, rf=2, shards=64, extra=FAST)
        try:
            self.rebalance_under_writes(pods, corpus(random.Random(7), 1500), slow_source_ms=100)
        finally:
            pods.stop()


class ResumeAfterKill(unittest.TestCase):
    def test_resumes(self):
        docs = corpus(random.Random(4), 3000)
        # small pages: a gate copies one or two shards (about 47 documents each), so the kill
        # lands between copies
        cluster = Cluster({"nodes": 2, "rf": 1, "shards": 64},
                          "  rebalance: { pause_ms: 150, topology_poll_ms: 100, lease_ms: 1000,"
                          " page_size: 60 }\n")
        extra = Node(NODE_KEY).start()
        try:
            load(cluster, docs)

            def totals():
                r = cluster.call("POST", f"/indexes/{INDEX}/search",
                                 {"q": "", "limit": 0, "facets": ["genre"]})
                self.assertEqual(r.status, 200, r.body)
                return r.json()["estimatedTotalHits"], r.json()["facetDistribution"]
            before = totals()
            self.assertEqual(before[0], len(docs))
            r = cluster.call("POST", "/_miroir/nodes",
                             {"id": "d2", "address": f"http://127.0.0.1:{extra.port}"})
            self.assertEqual(r.status, 201, r.body)
            r = cluster.call("POST", "/_miroir/rebalance")
            self.assertEqual(r.status, 202, r.body)
            rebalance_id = r.json()["rebalance"]["id"]
            r = cluster.call("POST", "/_miroir/rebalance")  # one at a time
            self.assertEqual(r.status, 409, r.body)
            self.assertEqual(r.json()["code"], "miroir_rebalance_in_progress")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                status = cluster.call("GET", "/_miroir/rebalance/status").json()
                # copies in flight are never counted twice
                self.assertEqual(totals(), before)
                if status["rebalance"]["shardsCopied"] >= 3:
                    break
                time.sleep(0.02)
            self.assertEqual(status["rebalance"]["phase"], "copying", status)
            copied_before = status["rebalance"]["shardsCopied"]
            self.assertLess(copied_before, status["rebalance"]["shardsMoving"])
            cluster.m.proc.kill()
            cluster.m.proc.wait()
            cluster.m._log.close()
            cluster.m.start()
            deadline = time.monotonic() + 120
            while cluster.call("GET", "/_miroir/rebalance/status").json()["state"] == "running":
                self.assertEqual(totals(), before)  # nor while reads switch and copies go
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            done = wait_balanced(cluster)["rebalance"]
            self.assertEqual(done["id"], rebalance_id)  # the same rebalance, resumed
            self.assertEqual(totals(), before)
            self.assertEqual(done["phase"], "done")
            self.assertEqual(done["shardsCopied"], done["shardsMoving"])
            report = cluster.call("GET", "/_miroir/verify").json()
            self.assertEqual(report["status"], "ok", json.dumps(report)[:2000])
            self.assertEqual(len(all_documents(cluster)), len(docs))
            resumed = [rec for rec in cluster.m.log_records()
                       if rec.get("msg") == "rebalance copying" and rec.get("copied", 0) > 0]
            self.assertTrue(resumed, "the restarted Miroir did not resume the copy")
        finally:
            cluster.stop()
            extra.stop()


if __name__ == "__main__":
    unittest.main()


@unittest.skipIf(os.environ.get("MEILISEARCH_BIN"), "needs the development node's faults")
class SlowNodes(unittest.TestCase):
    def test_a_backlog_longer_than_one_hold(self):
        # each node takes 40 ms a task, and a burst of single-document writes leaves it a backlog
        # of several seconds, longer than one hold of the write gate (two leases of 2 s): the
        # copy waits for the backlog with the writes flowing, then holds them while the sources
        # apply the rest, and no hold lapses
        docs = corpus(random.Random(8), 600)
        cluster = Cluster({"nodes": 3, "rf": 2, "shards": 64}, FAST)
        extra = Node(NODE_KEY).start()
        try:
            load(cluster, docs)
            for node in cluster.nodes + [extra]:
                r = node.call("PUT", "/_devnode/faults", {"routeClass": "queue", "latencyMs": 40})
                self.assertEqual(r.status, 200, r.body)
            burst = {}
            backlog = 0
            # writes until the first node has more than one hold of work queued (how many it
            # takes depends on how fast this machine sends them)
            def write(i):
                doc = {"id": 3_000_000 + i, "title": f"burst {i}", "genre": "drama",
                       "year": 2001, "rating": 4.0}
                return doc, cluster.call("POST", f"/indexes/{INDEX}/documents", [doc])

            # several writers at once: a loaded machine sends one at a time too slowly to get
            # ahead of the nodes
            with concurrent.futures.ThreadPoolExecutor(8) as writers:
                while backlog * 0.040 <= 4.0 and len(burst) < 2000:
                    for doc, r in writers.map(write, range(len(burst), len(burst) + 250)):
                        self.assertEqual(r.status, 202, r.body)
                        burst[doc["id"]] = doc
                    backlog = cluster.nodes[0].call(
                        "GET", "/tasks?statuses=enqueued,processing&limit=0").json()["total"]
            self.assertGreater(backlog * 0.040, 4.0)  # seconds of work, more than one hold
            load_thread = Load(cluster, docs)
            load_thread.start()
            try:
                r = cluster.call("POST", "/_miroir/nodes",
                                 {"id": "d3", "address": f"http://127.0.0.1:{extra.port}"})
                self.assertEqual(r.status, 201, r.body)
                r = cluster.call("POST", "/_miroir/rebalance")
                self.assertEqual(r.status, 202, r.body)
                done = wait_balanced(cluster)["rebalance"]
                self.assertEqual(done["phase"], "done", done)
            finally:
                load_thread.finish()
            failures = [rec for rec in cluster.m.log_records()
                        if rec.get("msg") == "rebalance failed"]
            self.assertEqual(failures, [])
            self.assertEqual(load_thread.refused_writes, [])
            self.assertEqual(load_thread.failed_searches, [])
            for node in cluster.nodes + [extra]:
                node.call("DELETE", "/_devnode/faults")
            report = cluster.call("GET", "/_miroir/verify").json()
            self.assertEqual(report["status"], "ok", json.dumps(report)[:2000])
            expected = {**load_thread.expected, **burst}
            self.assertEqual(sorted(all_documents(cluster)), sorted(expected))
        finally:
            cluster.stop()
            extra.stop()
