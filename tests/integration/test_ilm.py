"""Rolling index families (index lifecycle): documents written through the write alias fill
the newest index; past `max_documents` (or `max_age_s`) a new index is rolled over to with the
same settings, the read alias searches the newest `retain` and the older indexes are deleted.
Bad policies get Meilisearch-shaped errors and make nothing. Runs against real meilisearch
binaries when MEILISEARCH_BIN is set."""
import json
import time
import unittest

from harness import run_cli
from test_search_differential import MASTER, Cluster, wait_miroir

POLICY = {"name": "logs-ilm", "write_alias": "logs", "read_alias": "logs-search",
          "pattern": "logs-{n}", "primary_key": "id", "max_documents": 1000, "retain": 2,
          "check_interval_s": 1}


class Ilm(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster({"nodes": 2, "rf": 1, "shards": 4}, "")

    def tearDown(self):
        self.cluster.stop()

    def call(self, method, path, body=None, status=None):
        r = self.cluster.call(method, path, body)
        if status is not None:
            self.assertEqual(r.status, status, r.body)
        return r

    def write(self, method, path, body):
        r = self.call(method, path, body, 202)
        wait_miroir(self.cluster, r.json()["taskUid"])

    def policy(self):
        return self.call("GET", "/_miroir/ilm/logs-ilm", status=200).json()

    def wait_generation(self, generation, timeout=60):
        deadline = time.monotonic() + timeout
        while self.policy()["generation"] < generation:
            self.assertLess(time.monotonic(), deadline, self.policy())
            time.sleep(0.1)
        # the read alias follows the rollover in the same step, then the retention
        retain = self.policy()["retain"]
        while self.call("GET", "/_miroir/aliases/logs-search").json()["targets"] != \
                self.policy()["indexes"][-retain:] or len(self.policy()["indexes"]) > retain:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)

    def index_uids(self):
        return sorted(i["uid"] for i in self.call("GET", "/indexes?limit=100").json()["results"])

    def test_documents_through_the_write_alias_roll_over_every_thousand(self):
        made = self.call("POST", "/_miroir/ilm", POLICY, 201).json()
        self.assertEqual((made["generation"], made["current"], made["indexes"]),
                         (1, "logs-1", ["logs-1"]))
        self.assertEqual(self.call("GET", "/_miroir/aliases/logs").json()["target"], "logs-1")
        self.write("PATCH", "/indexes/logs-1/settings",
                   {"filterableAttributes": ["kind"], "synonyms": {"log": ["line"]}})
        for start in range(0, 3500, 1000):
            docs = [{"id": i, "kind": "even" if i % 2 == 0 else "odd", "text": f"line {i}"}
                    for i in range(start, min(3500, start + 1000))]
            self.write("POST", "/indexes/logs/documents", docs)
            if len(docs) == 1000:
                self.wait_generation(start // 1000 + 2)
        policy = self.policy()
        self.assertEqual((policy["generation"], policy["indexes"]), (4, ["logs-3", "logs-4"]))
        self.assertEqual(self.index_uids(), ["logs-3", "logs-4"])  # older than retain: deleted
        for uid, count in (("logs-3", 1000), ("logs-4", 500)):
            stats = self.call("GET", f"/indexes/{uid}/stats", status=200).json()
            self.assertEqual(stats["numberOfDocuments"], count)
        # every new index has the settings of the one before it
        settings = self.call("GET", "/indexes/logs-4/settings", status=200).json()
        self.assertEqual(settings["filterableAttributes"], ["kind"])
        self.assertEqual(settings["synonyms"], {"log": ["line"]})
        # the read alias searches the retained indexes
        r = self.call("POST", "/indexes/logs-search/search",
                      {"q": "", "limit": 2000, "filter": "kind = even"}, 200).json()
        self.assertEqual(r["estimatedTotalHits"], 750)
        self.assertEqual(sorted(h["id"] for h in r["hits"]), list(range(2000, 3500, 2)))
        r = self.call("POST", "/indexes/logs-search/documents", [{"id": 1}])
        self.assertEqual(r.status, 409, r.body)
        self.assertEqual(r.json()["code"], "miroir_multi_alias_not_writable")
        metrics = self.call("GET", "/_miroir/metrics").body.decode()
        self.assertIn('miroir_ilm_rollovers_total{policy="logs-ilm"} 4', metrics)
        self.assertIn('miroir_ilm_indexes_deleted_total{policy="logs-ilm"} 2', metrics)

    def test_age_forced_rollovers_and_deletion(self):
        policy = dict(POLICY, max_documents=0, max_age_s=2, retain=3)
        self.call("POST", "/_miroir/ilm", policy, 201)
        self.wait_generation(2, timeout=30)  # two seconds old: rolled over
        connection = ["--url", f"http://127.0.0.1:{self.cluster.m.port}", "--admin-key", MASTER]
        out = run_cli("ilm", "rollover", "logs-ilm", "--json", *connection)
        self.assertEqual(out.returncode, 0, out.stderr)
        forced = json.loads(out.stdout)
        self.assertGreaterEqual(forced["generation"], 3)
        self.assertEqual(forced["current"], f"logs-{forced['generation']}")
        # the policy rolls over every 2 s by age: the write alias is the forced index or a newer
        self.assertGreaterEqual(self.generation_of_alias(), forced["generation"])
        listed = self.call("GET", "/_miroir/ilm", status=200).json()
        self.assertEqual([p["name"] for p in listed["results"]], ["logs-ilm"])
        out = run_cli("ilm", "list", *connection)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"logs-ilm: writes to logs -> logs-\d+, searches logs-search")
        self.assertIn("rolls over at 2 s, keeps 3", out.stdout)
        self.call("DELETE", "/_miroir/ilm/logs-ilm", status=204)
        r = self.call("GET", "/_miroir/ilm/logs-ilm", status=404)
        self.assertEqual(r.json()["code"], "miroir_ilm_policy_not_found")
        # the indexes and aliases stay, and no longer roll over
        generation = self.generation_of_alias()
        time.sleep(3)
        self.assertIn(f"logs-{generation}", self.index_uids())
        self.assertNotIn(f"logs-{generation + 1}", self.index_uids())
        self.assertEqual(self.call("GET", "/_miroir/aliases/logs").json()["target"],
                         f"logs-{generation}")

    def generation_of_alias(self):
        """The generation of the index the write alias `logs` names."""
        return int(self.call("GET", "/_miroir/aliases/logs").json()["target"].rsplit("-", 1)[1])

    def test_bad_policies_make_nothing(self):
        self.write("POST", "/indexes", {"uid": "taken", "primaryKey": "id"})
        bad = [[1], {"name": "p"}, dict(POLICY, pattern="logs"), dict(POLICY, pattern="{n}-{n}"),
               dict(POLICY, pattern="logs {n}"), dict(POLICY, read_alias="logs"),
               dict(POLICY, max_documents=0), dict(POLICY, retain=0),
               dict(POLICY, max_age_s=-1), dict(POLICY, max_documents="10"),
               dict(POLICY, extra=1), dict(POLICY, name="bad name"), dict(POLICY, primary_key=5)]
        for body in bad:
            r = self.call("POST", "/_miroir/ilm", body, 400)
            self.assertEqual(r.json()["code"], "miroir_invalid_ilm_policy", body)
            self.assertEqual(set(r.json()), {"message", "code", "type", "link"})
        r = self.call("POST", "/_miroir/ilm", dict(POLICY, write_alias="taken"), 409)
        self.assertEqual(r.json()["code"], "miroir_alias_name_taken")
        self.call("POST", "/_miroir/aliases", {"name": "logs", "target": "taken"}, 201)
        r = self.call("POST", "/_miroir/ilm", POLICY, 409)
        self.assertEqual(r.json()["code"], "miroir_alias_exists")
        r = self.call("POST", "/_miroir/ilm/none/rollover", None, 404)
        self.assertEqual(r.json()["code"], "miroir_ilm_policy_not_found")
        self.assertEqual(self.call("GET", "/_miroir/ilm").json()["total"], 0)
        self.assertEqual(self.index_uids(), ["taken"])


if __name__ == "__main__":
    unittest.main()
