"""Index aliases across two Miroir pods sharing one Redis task store: an alias flipped through
one pod is resolved by the other at once, for searches, documents and writes; an alias of
several indexes is searched exactly like a federated search over them and takes no writes; a
key given for the alias covers its index; bad input is refused with nothing changed."""
import json
import shutil
import threading
import unittest

from harness import run_cli
from test_rebalance import Pods
from test_search_differential import MASTER, wait_miroir


def docs(prefix, count):
    return [{"id": i, "title": f"{prefix} river doc {i}", "rank": i % 7} for i in range(count)]


def sources(answer):
    """The index prefixes the hits of one search answer come from."""
    return {h["title"].split()[0] for h in answer["hits"]}


@unittest.skipUnless(shutil.which("redis-server"), "needs redis-server (scripts/bootstrap)")
class Aliases(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pods = Pods(3, 2, rf=1, shards=8, extra="")
        cls.a, cls.b = cls.pods.via(0), cls.pods.via(1)
        for uid in ("v1", "v2"):
            r = cls.a.call("POST", "/indexes", {"uid": uid, "primaryKey": "id"})
            wait_miroir(cls.a, r.json()["taskUid"])
            r = cls.a.call("POST", f"/indexes/{uid}/documents", docs(uid, 60))
            wait_miroir(cls.a, r.json()["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.pods.stop()

    def ok(self, client, method, path, body=None, status=200):
        r = client.call(method, path, body)
        self.assertEqual(r.status, status, r.body)
        return r.json() if r.body else None

    def search(self, client, index, body=None):
        return self.ok(client, "POST", f"/indexes/{index}/search", body or {"limit": 100})

    def test_a_flip_through_one_pod_is_seen_by_the_other_at_once(self):
        made = self.ok(self.a, "POST", "/_miroir/aliases", {"name": "live", "target": "v1"},
                       status=201)
        self.assertEqual(made["target"], "v1")
        self.assertEqual(sources(self.search(self.b, "live")), {"v1"})
        for i in range(20):
            target = "v2" if i % 2 == 0 else "v1"
            flipped = self.ok(self.a if i % 3 else self.b, "PUT", "/_miroir/aliases/live",
                              {"target": target})
            self.assertEqual(flipped["target"], target)
            # the next request, through either pod, reaches the new index only
            self.assertEqual(sources(self.search(self.b, "live")), {target}, i)
            self.assertEqual(sources(self.search(self.a, "live")), {target}, i)
            one = self.ok(self.b, "GET", "/indexes/live/documents/3")
            self.assertTrue(one["title"].startswith(target), one)
        # writes through the alias land in its index of the moment
        r = self.b.call("POST", "/indexes/live/documents", [{"id": 999, "title": "v1 written"}])
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.json()["indexUid"], "v1")
        wait_miroir(self.b, r.json()["taskUid"])
        self.ok(self.a, "GET", "/indexes/v1/documents/999")
        self.ok(self.a, "GET", "/indexes/v2/documents/999", status=404)
        self.ok(self.a, "DELETE", "/indexes/v1/documents/999", status=202)
        # settings and stats through the alias are the index's
        self.assertEqual(self.ok(self.b, "GET", "/indexes/live/settings"),
                         self.ok(self.b, "GET", "/indexes/v1/settings"))
        alias = self.ok(self.b, "GET", "/_miroir/aliases/live")
        self.assertEqual(alias["target"], "v1")
        self.assertEqual(len(alias["history"]), 20)  # the last 20 flips, newest last
        self.assertEqual(alias["history"][-1]["target"], "v1")
        self.ok(self.a, "DELETE", "/_miroir/aliases/live", status=204)
        r = self.b.call("POST", "/indexes/live/search", {})
        self.assertEqual(r.status, 404, r.body)  # no index `live`
        self.assertEqual(r.json()["code"], "index_not_found")

    def test_searches_during_flips_see_one_index_each(self):
        self.ok(self.a, "POST", "/_miroir/aliases", {"name": "busy", "target": "v1"}, status=201)
        stop = threading.Event()

        def flip():
            i = 0
            while not stop.is_set():
                self.a.call("PUT", "/_miroir/aliases/busy", {"target": ("v2", "v1")[i % 2]})
                i += 1
        flipper = threading.Thread(target=flip)
        flipper.start()
        try:
            for _ in range(60):
                # two queries of one request resolve the alias once
                r = self.ok(self.b, "POST", "/multi-search", {"queries": [
                    {"indexUid": "busy", "limit": 100}, {"indexUid": "busy", "q": "river"}]})
                both = sources(r["results"][0]) | sources(r["results"][1])
                self.assertEqual(len(both), 1, both)
                self.assertEqual(r["results"][0]["indexUid"], next(iter(both)))
        finally:
            stop.set()
            flipper.join()
        self.ok(self.a, "DELETE", "/_miroir/aliases/busy", status=204)

    def test_an_alias_of_several_indexes_searches_like_a_federation(self):
        self.ok(self.a, "POST", "/_miroir/aliases", {"name": "both", "targets": ["v1", "v2"]},
                status=201)
        try:
            for body in ({"q": "river", "limit": 30, "offset": 5},
                         {"q": "doc 1", "showRankingScore": True},
                         {"q": "", "limit": 100, "filter": None}):
                got = self.search(self.b, "both", body)
                window = {k: body[k] for k in ("limit", "offset") if k in body}
                query = {k: v for k, v in body.items() if k not in window}
                want = self.ok(self.a, "POST", "/multi-search", {
                    "federation": window,
                    "queries": [dict(query, indexUid="v1"), dict(query, indexUid="v2")]})
                self.assertEqual(got["hits"], want["hits"], body)
                self.assertEqual(got["estimatedTotalHits"], want["estimatedTotalHits"])
                self.assertEqual(got["query"], body["q"])
            # a federated multi-search query over the alias is one query per index
            fed = self.ok(self.b, "POST", "/multi-search", {
                "federation": {"limit": 200}, "queries": [{"indexUid": "both"}]})
            self.assertEqual(len(fed["hits"]), 120)
            # read-only, searched only
            r = self.b.call("POST", "/indexes/both/documents", [{"id": 1}])
            self.assertEqual((r.status, r.json()["code"]), (409, "miroir_multi_alias_not_writable"))
            r = self.b.call("GET", "/indexes/both/documents")
            self.assertEqual((r.status, r.json()["code"]), (400, "miroir_multi_alias_search_only"))
            r = self.b.call("POST", "/multi-search", {"queries": [{"indexUid": "both"}]})
            self.assertEqual((r.status, r.json()["code"]), (400, "miroir_multi_alias_search_only"))
            # a flip keeps the kind
            r = self.a.call("PUT", "/_miroir/aliases/both", {"target": "v1"})
            self.assertEqual((r.status, r.json()["code"]), (409, "miroir_alias_kind_mismatch"))
            self.ok(self.a, "PUT", "/_miroir/aliases/both", {"targets": ["v2"]})
            self.assertEqual(sources(self.search(self.b, "both")), {"v2"})
        finally:
            self.ok(self.a, "DELETE", "/_miroir/aliases/both", status=204)

    def test_a_key_for_the_alias_covers_its_index(self):
        self.ok(self.a, "POST", "/_miroir/aliases", {"name": "shop", "target": "v2"}, status=201)
        try:
            key = self.ok(self.a, "POST", "/keys", {"actions": ["search", "documents.get"],
                                                    "indexes": ["shop"], "expiresAt": None},
                          status=201)["key"]
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            m = self.b.m
            r = m.request("POST", "/indexes/shop/search", json.dumps({"q": "river"}), headers)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(sources(r.json()), {"v2"})
            r = m.request("POST", "/multi-search",
                          json.dumps({"queries": [{"indexUid": "shop"}]}), headers)
            self.assertEqual(r.status, 200, r.body)
            r = m.request("POST", "/indexes/v2/search", json.dumps({}), headers)
            self.assertEqual(r.status, 403, r.body)  # the index itself is not the key's
        finally:
            self.ok(self.a, "DELETE", "/_miroir/aliases/shop", status=204)

    def test_bad_input_changes_nothing(self):
        self.ok(self.a, "POST", "/_miroir/aliases", {"name": "stay", "target": "v1"}, status=201)
        before = self.ok(self.b, "GET", "/_miroir/aliases")
        cases = [
            ("POST", "/_miroir/aliases", {"name": "x", "target": "missing"}, 404,
             "miroir_alias_target_not_found"),
            ("POST", "/_miroir/aliases", {"name": "v2", "target": "v1"}, 409,
             "miroir_alias_name_taken"),
            ("POST", "/_miroir/aliases", {"name": "x", "target": "stay"}, 404,
             "miroir_alias_target_not_found"),
            ("POST", "/_miroir/aliases", {"name": "stay", "target": "v2"}, 409,
             "miroir_alias_exists"),
            ("POST", "/_miroir/aliases", {"name": "bad name!", "target": "v1"}, 400,
             "miroir_invalid_alias"),
            ("POST", "/_miroir/aliases", {"name": "x", "target": "v1", "targets": ["v2"]}, 400,
             "miroir_invalid_alias"),
            ("POST", "/_miroir/aliases", {"name": "x", "targets": ["v1", "v1"]}, 400,
             "miroir_invalid_alias"),
            ("POST", "/_miroir/aliases", {"name": "x", "target": "v1", "ttl": 3}, 400,
             "miroir_invalid_alias"),
            ("PUT", "/_miroir/aliases/nope", {"target": "v1"}, 404, "miroir_alias_not_found"),
            ("DELETE", "/_miroir/aliases/nope", None, 404, "miroir_alias_not_found"),
            ("POST", "/indexes", {"uid": "stay"}, 409, "miroir_alias_name_taken"),
            ("DELETE", "/indexes/stay", None, 400, "miroir_alias_not_an_index"),
            ("PATCH", "/indexes/stay", {"primaryKey": "id"}, 400, "miroir_alias_not_an_index"),
        ]
        for method, path, body, status, code in cases:
            r = self.b.call(method, path, body)
            self.assertEqual((r.status, r.json()["code"]), (status, code), (method, path, body))
            self.assertEqual(r.json()["type"], "invalid_request")
        r = self.a.call("POST", "/_miroir/aliases", "not json")
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual(self.ok(self.a, "GET", "/_miroir/aliases"), before)
        self.ok(self.a, "GET", "/indexes/v1")  # the index named through the alias is still there
        self.ok(self.a, "DELETE", "/_miroir/aliases/stay", status=204)

    def test_the_command_line(self):
        def cli(*args):
            out = run_cli("aliases", *args, "--url", f"http://127.0.0.1:{self.a.m.port}",
                          "--admin-key", MASTER)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            return out.stdout
        self.assertIn("cli -> v1", cli("create", "cli", "v1"))
        self.assertIn("cli -> v2", cli("flip", "cli", "v2"))
        self.assertIn("cli -> v2", cli("list"))
        self.assertEqual(sources(self.search(self.b, "cli")), {"v2"})
        cli("delete", "cli")
        self.assertNotIn("cli", cli("list"))


if __name__ == "__main__":
    unittest.main()
