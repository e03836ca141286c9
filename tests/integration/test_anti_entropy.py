"""Anti-entropy: the replicas of every shard compared by bucket digests and repaired.
Damage done to one node directly (documents deleted, replaced, added) is repaired on request
within one pass, a second pass finds nothing left, and a pass over replicas that agree reads
them and writes nothing. Runs against real meilisearch binaries when MEILISEARCH_BIN is set."""
import subprocess
import time
import unittest

from harness import MIROIR_BIN

from nodes import Node
from placement import shard_of
from test_hints import back, miss
from test_rebalance import FAST, wait_balanced
from test_search_differential import MASTER, NODE_KEY, Cluster, wait_miroir

INDEX = "entropy"
SHARDS = 8


def documents_on(node, fields=("id", "v", "_miroir_ord")):
    out, offset = {}, 0
    while True:
        r = node.call("POST", f"/indexes/{INDEX}/documents/fetch",
                      {"limit": 10000, "offset": offset, "fields": list(fields)})
        assert r.status == 200, r.body
        page = r.json()["results"]
        out.update({d["id"]: d for d in page})
        if len(page) < 10000:
            return out
        offset += 10000


def latest_task(node):
    return node.call("GET", "/tasks?limit=1").json()["results"][0]["uid"]


def run_pass(cluster, index, timeout=120):
    """A pass over `index` asked for and waited for; the index's counts of that pass."""
    r = cluster.call("POST", "/_miroir/anti-entropy/run", {"index": index})
    assert r.status == 202, r.body
    asked = r.json()["requestedAt"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = cluster.call("GET", "/_miroir/anti-entropy/status").json()
        entry = next((e for e in state["indexes"] if e["index"] == index), {})
        if entry.get("lastPass", {}).get("finishedAt", 0) >= asked:
            return entry["lastPass"]
        time.sleep(0.2)
    raise AssertionError(f"no pass finished: {state}")


class AntiEntropy(unittest.TestCase):
    EXTRA = ("  anti_entropy: { interval_s: 86400, documents_per_second: 0, page_size: 5000 }\n"
             "  health: { interval_ms: 200 }\n  upstream: { write_timeout_ms: 2000 }\n")

    def setUp(self):
        self.cluster = Cluster({"nodes": 3, "rf": 2, "shards": SHARDS}, self.EXTRA)
        self.write("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})

    def tearDown(self):
        self.cluster.stop()

    def write(self, method, path, body):
        r = self.cluster.call(method, path, body)
        self.assertEqual(r.status, 202, r.body)
        wait_miroir(self.cluster, r.json()["taskUid"])
        return r

    def add(self, count, batch=5000, value=1):
        for start in range(0, count, batch):
            docs = [{"id": i, "v": value, "t": f"text {i}"}
                    for i in range(start, min(count, start + batch))]
            self.write("POST", f"/indexes/{INDEX}/documents", docs)

    def owners(self):
        shards = self.cluster.call("GET", "/_miroir/shards").json()["shards"]
        return {s["shard"]: set(s["groups"][0]["nodes"]) for s in shards}

    def status(self):
        r = self.cluster.call("GET", "/_miroir/anti-entropy/status")
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def index_state(self):
        for entry in self.status()["indexes"]:
            if entry["index"] == INDEX:
                return entry
        return None

    def run_pass(self, timeout=120):
        """A pass asked for and waited for; the index's counts of that pass."""
        return run_pass(self.cluster, INDEX, timeout)

    def assert_exact(self, expected):
        """Every document on exactly its owners, as expected."""
        owners = self.owners()
        for i, node in enumerate(self.cluster.nodes):
            held = documents_on(node)
            want = {k for k in expected if f"d{i}" in owners[shard_of(str(k), SHARDS)]}
            self.assertEqual(set(held), want, f"d{i}")
            for k in want:
                self.assertEqual(held[k]["v"], expected[k], (f"d{i}", k))
                self.assertIn("_miroir_ord", held[k])

    def test_damage_on_one_node_is_repaired(self):
        self.add(3000)
        expected = {i: 1 for i in range(3000)}
        d0 = self.cluster.nodes[0]
        held = sorted(documents_on(d0))
        deleted, replaced = held[:500], held[500:700]
        d0.run("POST", f"/indexes/{INDEX}/documents/delete-batch", deleted)
        # replaced as a client writing to the node would: without Miroir's fields
        d0.run("POST", f"/indexes/{INDEX}/documents",
               [{"id": i, "v": 2, "t": "changed"} for i in replaced])
        foreign = [{"id": 100000 + i, "v": 3} for i in range(100)]
        d0.run("POST", f"/indexes/{INDEX}/documents", foreign)

        first = self.run_pass()
        self.assertGreater(first["bucketsDiffering"], 0, first)
        self.assertEqual(first["documentsWritten"], 700, first)
        self.assertEqual(first["documentsDeleted"], 100, first)
        self.assert_exact(expected)
        # through Miroir too: the foreign documents are gone, the replaced ones restored
        r = self.cluster.call("POST", f"/indexes/{INDEX}/search", {"q": "changed", "limit": 5})
        self.assertEqual(r.json()["estimatedTotalHits"], 0, r.body)

        # the second pass through the operator command
        out = subprocess.run(
            [MIROIR_BIN, "anti-entropy", "run", "--index", INDEX, "--wait",
             "--url", f"http://127.0.0.1:{self.cluster.m.port}", "--admin-key", MASTER],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(f"{INDEX}: last pass: {SHARDS} shards checked (0 deferred)", out.stdout)
        self.assertIn("0 buckets differing, 0 written, 0 deleted", out.stdout)
        second = self.index_state()["lastPass"]
        self.assertEqual((second["bucketsDiffering"], second["documentsWritten"],
                          second["documentsDeleted"]), (0, 0, 0), second)
        state = self.index_state()
        self.assertEqual(state["passes"], 2)
        self.assertEqual(state["total"]["documentsWritten"], 700)
        metrics = self.cluster.m.request("GET", "/_miroir/metrics",
                                         headers={"Authorization": "Bearer " + MASTER})
        text = metrics.body.decode()
        self.assertRegex(text, r'miroir_antientropy_documents_repaired_total\{action="written"\} 700')
        self.assertRegex(text, r'miroir_antientropy_documents_repaired_total\{action="deleted"\} 100')

    def test_replicas_that_agree_cost_no_document_transfer(self):
        count = 100000
        self.add(count, batch=10000)
        before = [latest_task(n) for n in self.cluster.nodes]
        result = self.run_pass(timeout=300)
        self.assertEqual(result["documentsRead"], 2 * count + 0, result)  # each copy once
        self.assertEqual((result["bucketsDiffering"], result["documentsFetched"],
                          result["documentsWritten"], result["documentsDeleted"]),
                         (0, 0, 0, 0), result)
        self.assertEqual(result["shardsChecked"], SHARDS)
        # no node was given a task: nothing was written anywhere
        self.assertEqual([latest_task(n) for n in self.cluster.nodes], before)

    def test_a_node_that_missed_writes_ends_with_exactly_its_documents(self):
        """write_quorum one (RF 2): a node lost halfway through 20,000 documents; once it is
        back, every document is on exactly its owners within 60 s."""
        expected = {}
        for batch in range(20):
            if batch == 10:
                miss(self.cluster.nodes[1])
            docs = [{"id": batch * 1000 + i, "v": batch} for i in range(1000)]
            self.write("POST", f"/indexes/{INDEX}/documents", docs)
            expected.update({d["id"]: d["v"] for d in docs})
        back(self.cluster.nodes[1])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = self.cluster.call("GET", "/_miroir/hints").json()["pending"]
            if not pending:
                break
            time.sleep(0.3)
        self.run_pass()
        self.assert_exact(expected)

    def test_a_rebalance_copies_from_sources_that_agree(self):
        """Damage on one old owner is not copied to the node that gains its shards: the sources
        of each moving shard are compared and repaired before the copy."""
        self.cluster.stop()
        self.cluster = Cluster({"nodes": 3, "rf": 2, "shards": SHARDS * 4},
                               self.EXTRA + FAST)
        self.write("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
        self.add(3000)
        d0 = self.cluster.nodes[0]
        held = sorted(documents_on(d0))
        d0.run("POST", f"/indexes/{INDEX}/documents/delete-batch", held[:300])
        d0.run("POST", f"/indexes/{INDEX}/documents",
               [{"id": i, "v": 2} for i in held[300:400]])
        d3 = Node(NODE_KEY).start()
        self.cluster.nodes.append(d3)
        r = self.cluster.call("POST", "/_miroir/nodes",
                              {"id": "d3", "address": f"http://127.0.0.1:{d3.port}", "group": 0})
        self.assertEqual(r.status, 201, r.body)
        r = self.cluster.call("POST", "/_miroir/rebalance")
        self.assertEqual(r.status, 202, r.body)
        wait_balanced(self.cluster)
        # d3 holds exactly its documents as written through Miroir, whichever source it had
        owners = self.owners()
        want = {k for k in range(3000) if "d3" in owners[shard_of(str(k), SHARDS * 4)]}
        got = documents_on(d3)
        self.assertEqual(set(got), want)
        self.assertEqual({got[k]["v"] for k in want}, {1})

    def test_bad_requests(self):
        r = self.cluster.call("POST", "/_miroir/anti-entropy/run", {"index": "nope"})
        self.assertEqual((r.status, r.json()["code"]), (404, "index_not_found"), r.body)
        r = self.cluster.call("POST", "/_miroir/anti-entropy/run", {"index": 3})
        self.assertEqual((r.status, r.json()["code"]), (400, "bad_request"), r.body)
        r = self.cluster.call("POST", "/_miroir/anti-entropy/run", {"indexes": "x"})
        self.assertEqual((r.status, r.json()["code"]), (400, "bad_request"), r.body)
        r = self.cluster.m.request("POST", "/_miroir/anti-entropy/run", "{}",
                                   {"Authorization": "Bearer wrong"})
        self.assertEqual(r.status, 403, r.body)


if __name__ == "__main__":
    unittest.main()
