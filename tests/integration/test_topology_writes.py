"""One snapshot per write: while writes are in flight, a replica group leaves the topology;
each acknowledged write is then on exactly the owners of the topology version it was routed
with (`X-Miroir-Topology-Version`), in both groups before the change and only in the group
that stays after it."""
import json
import threading
import time
import unittest

from placement import owners, shard_of
from test_search_differential import NODE_KEY, Cluster, wait_miroir

SHARDS = 16
INDEX = "snap"


class Writer(threading.Thread):
    """Single-document writes in a loop, each remembered with its answer."""

    def __init__(self, cluster, lane):
        super().__init__(daemon=True)
        self.cluster, self.lane = cluster, lane
        self.acked = []  # (id, topology version, task uid)
        self.refused = []
        self.stop = threading.Event()

    def run(self):
        n = 0
        while not self.stop.is_set():
            doc_id = f"{self.lane}-{n}"
            n += 1
            r = self.cluster.call("POST", f"/indexes/{INDEX}/documents",
                                  [{"id": doc_id, "title": f"t{doc_id}"}])
            if r.status != 202:
                self.refused.append((doc_id, r.status, r.body[:200]))
                continue
            self.acked.append((doc_id, int(r.headers["x-miroir-topology-version"]),
                               r.json()["taskUid"]))


class WritesDuringATopologyChange(unittest.TestCase):
    def test_each_write_is_where_its_snapshot_put_it(self):
        # two groups of two nodes, one copy of each shard per group
        cluster = Cluster({"nodes": 4, "rf": 1, "shards": SHARDS, "groups": 2})
        try:
            r = cluster.call("POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
            self.assertEqual(r.status, 202, r.body)
            wait_miroir(cluster, r.json()["taskUid"])
            before = cluster.call("GET", "/_miroir/topology").json()["version"]
            writers = [Writer(cluster, lane) for lane in range(2)]
            for w in writers:
                w.start()
            time.sleep(1.0)
            r = cluster.call("DELETE", "/_miroir/groups/1")
            self.assertEqual(r.status, 204, r.body)
            time.sleep(1.0)
            for w in writers:
                w.stop.set()
            for w in writers:
                w.join()
            after = cluster.call("GET", "/_miroir/topology").json()["version"]
            self.assertGreater(after, before)

            acked = [a for w in writers for a in w.acked]
            self.assertEqual([x for w in writers for x in w.refused], [])
            for _, _, task in acked:
                wait_miroir(cluster, task)
            versions = {v for _, v, _ in acked}
            # writes were routed with the topology before the change and with the one after
            self.assertIn(before, versions)
            self.assertIn(after, versions)
            self.assertLessEqual(versions, {before, after})

            groups = {0: ["d0", "d1"], 1: ["d2", "d3"]}
            nodes = {f"d{i}": n for i, n in enumerate(cluster.nodes)}
            for doc_id, version, _ in acked:
                shard = shard_of(doc_id, SHARDS)
                expected = set(owners(shard, groups[0], 1))
                if version == before:
                    expected |= set(owners(shard, groups[1], 1))
                held = {name for name, node in nodes.items()
                        if node.call("GET", f"/indexes/{INDEX}/documents/{doc_id}").status == 200}
                self.assertEqual(held, expected, (doc_id, version, before, after))
            print(f"\n  {len(acked)} writes: "
                  f"{sum(v == before for _, v, _ in acked)} before the change, "
                  f"{sum(v == after for _, v, _ in acked)} after")
        finally:
            cluster.stop()


if __name__ == "__main__":
    unittest.main()
