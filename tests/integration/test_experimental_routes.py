"""Meilisearch's experimental routes through Miroir over several nodes, each with the nodes'
feature off (their refusal relayed) and on: index compaction, dynamic search rules, template
rendering and the experimental settings. Rules and rendering exist only in real Meilisearch:
those cases run with MEILISEARCH_BIN."""
import json
import os
import time
import unittest

from test_search_differential import Cluster, wait_miroir

REAL = bool(os.environ.get("MEILISEARCH_BIN"))


class ExperimentalRoutes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster({"nodes": 3, "rf": 1, "shards": 8})
        wait_miroir(c, c.call("POST", "/indexes/cx/documents",
                              [{"id": i, "x": f"value {i}"} for i in range(20)]).json()["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def finished(self, uid):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            task = self.cluster.call("GET", f"/tasks/{uid}").json()
            if task["status"] in ("succeeded", "failed", "canceled"):
                return task
            time.sleep(0.05)
        raise TimeoutError(uid)

    def same(self, method, path, body=None):
        through = self.cluster.call(method, path, body)
        one = self.cluster.nodes[0].call(method, path, body)
        self.assertEqual((through.status, through.json()), (one.status, json.loads(one.body)),
                         path)
        return through

    def features(self, **on):
        r = self.cluster.call("PATCH", "/experimental-features", on)
        self.assertEqual(r.status, 200, r.body)

    def test_compaction_is_one_task_over_every_node(self):
        r = self.cluster.call("POST", "/indexes/cx/compact")
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.json()["type"], "indexCompaction")
        task = self.finished(r.json()["taskUid"])
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(list(task["details"]), ["preCompactionSize", "postCompactionSize"])
        self.assertRegex(task["details"]["preCompactionSize"], r"^\d+(\.\d{1,2})? (B|KiB|MiB)$")
        missing = self.cluster.call("POST", "/indexes/nope/compact")
        task = self.finished(missing.json()["taskUid"])
        self.assertEqual((task["status"], task["error"]["code"]), ("failed", "index_not_found"))

    @unittest.skipUnless(REAL, "dynamic search rules are real Meilisearch's")
    def test_dynamic_search_rules(self):
        rule = {"description": "promotion", "precedence": 10, "active": True,
                "conditions": {"query": {"words": "value"}},
                "actions": [{"selector": {"indexUid": "cx", "id": "3"},
                             "action": {"type": "pin", "position": 1}}]}
        self.same("PATCH", "/dynamic-search-rules/promo", rule)  # feature off: refused
        self.features(dynamicSearchRules=True)
        r = self.cluster.call("PATCH", "/dynamic-search-rules/promo?customMetadata=m", rule)
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual((r.json()["type"], r.json()["indexUid"]), ("dsrUpdate", ".meili_dsr"))
        task = self.finished(r.json()["taskUid"])
        self.assertEqual((task["status"], task["customMetadata"]), ("succeeded", "m"), task)
        self.assertEqual(task["details"]["updatedRules"], 1)
        got = self.same("GET", "/dynamic-search-rules/promo").json()
        self.assertEqual(got["description"], "promotion")
        for node in self.cluster.nodes:  # every node has it
            self.assertEqual(node.call("GET", "/dynamic-search-rules/promo").status, 200)
        listed = self.same("POST", "/dynamic-search-rules", {"limit": 5}).json()
        self.assertEqual(listed["total"], 1)
        r = self.cluster.call("DELETE", "/dynamic-search-rules/promo")
        self.assertEqual(self.finished(r.json()["taskUid"])["status"], "succeeded")
        self.assertEqual(self.cluster.call("GET", "/dynamic-search-rules/promo").status, 404)

    @unittest.skipUnless(REAL, "template rendering is real Meilisearch's")
    def test_render_template(self):
        body = {"template": {"kind": "inlineDocumentTemplate", "inline": "{{ doc.x }}"},
                "input": {"kind": "indexDocument", "indexUid": "cx", "id": "7"}}
        self.same("POST", "/render-template", body)  # feature off: refused
        self.features(renderRoute=True)
        r = self.cluster.call("POST", "/render-template", body)
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("value 7", json.dumps(r.json()))

    @unittest.skipUnless(REAL, "foreign keys are real Meilisearch's")
    def test_foreign_keys_setting(self):
        self.same("GET", "/indexes/cx/settings/foreign-keys")
        self.same("PUT", "/indexes/cx/settings/foreign-keys", [])


class Network(unittest.TestCase):
    """GET and PATCH /network answer as a Community Edition node; the nodes never get it."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster({"nodes": 2, "rf": 1, "shards": 4})

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def test_network(self):
        c = self.cluster
        r = c.call("GET", "/network")
        self.assertEqual((r.status, r.json()["code"]), (400, "feature_not_enabled"))
        self.assertEqual(c.call("PATCH", "/experimental-features", {"network": True}).status, 200)
        r = c.call("GET", "/network")
        self.assertEqual(r.json(), {"self": None, "remotes": {}, "shards": {}, "leader": None,
                                    "version": "00000000-0000-0000-0000-000000000000"})
        r = c.call("PATCH", "/network", {"self": "ms0", "remotes": {
            "ms1": {"url": "http://localhost:7700", "searchApiKey": "s", "writeApiKey": "w"}}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["remotes"], {"ms1": {
            "url": "http://localhost:7700", "searchApiKey": "s", "writeApiKey": "w",
            "status": "available"}})
        self.assertEqual(c.call("GET", "/network").json()["self"], "ms0")
        r = c.call("PATCH", "/network", {"leader": "ms0"})
        self.assertEqual((r.status, r.json()["code"]), (451, "requires_enterprise_edition"))
        for body, code in (({"remotes": {"ms2": {"searchApiKey": "x"}}}, "missing_network_url"),
                           ({"remotes": []}, "invalid_network_remotes"),
                           ({"self": 3}, "invalid_network_self"), ({"foo": 1}, "bad_request")):
            r = c.call("PATCH", "/network", body)
            self.assertEqual((r.status, r.json()["code"]), (400, code), body)
        r = c.call("PATCH", "/network", {"remotes": {"ms1": None}, "leader": None})
        self.assertEqual(r.json()["remotes"], {})
        if REAL:  # the nodes' own network is untouched
            one = json.loads(c.nodes[0].call("GET", "/network").body)
            self.assertIsNone(one["self"])

    def test_remote_federation(self):
        c = self.cluster
        self.assertEqual(c.call("PATCH", "/experimental-features", {"network": True}).status, 200)
        r = c.call("PATCH", "/network", {"self": "ms0", "remotes": {
            "ms1": {"url": "http://127.0.0.1:9", "searchApiKey": "s", "writeApiKey": "w"}}})
        self.assertEqual(r.status, 200, r.body)
        wait_miroir(c, c.call("POST", "/indexes/fed/documents",
                              [{"id": i, "t": f"glass {i}"} for i in range(12)]).json()["taskUid"])

        def search(*remotes):
            queries = [{"indexUid": "fed", "q": "glass", "federationOptions": {"remote": name}}
                       for name in remotes]
            return c.call("POST", "/multi-search", {"federation": {}, "queries": queries})

        # the instance's own name runs here, and its hits say so
        r = search("ms0")
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(len(body["hits"]), 12)
        self.assertEqual(body["hits"][0]["_federation"],
                         {"indexUid": "fed", "queriesPosition": 0,
                          "weightedRankingScore": body["hits"][0]["_federation"][
                              "weightedRankingScore"], "remote": "ms0"})
        self.assertEqual(body["remoteErrors"], {})
        self.assertEqual(list(body)[-2:], ["remoteErrors", "requestUid"])
        # another remote's queries are not run, and the answer says why
        r = search("ms1", "ms0")
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(body["remoteErrors"]["ms1"]["code"],
                         "miroir_remote_federation_unsupported")
        self.assertEqual({h["_federation"]["queriesPosition"] for h in body["hits"]}, {1})
        # an unknown one is refused; no remote, no remoteErrors
        r = search("ms9")
        self.assertEqual((r.status, r.json()["code"]), (400, "invalid_multi_search_remote"))
        self.assertIn("remote `ms9` is not registered", r.json()["message"])
        r = c.call("POST", "/multi-search",
                   {"federation": {}, "queries": [{"indexUid": "fed", "q": "glass"}]})
        self.assertNotIn("remoteErrors", r.json())
        self.assertNotIn("remote", r.json()["hits"][0]["_federation"])
        c.call("PATCH", "/network", {"self": None, "remotes": {"ms1": None}})


if __name__ == "__main__":
    unittest.main()


def documents_of(body):
    """Compact JSON objects one after the other, as a node gives a task's documents."""
    body = body.decode() if isinstance(body, bytes) else body
    decoder, docs, at = json.JSONDecoder(), [], 0
    while at < len(body):
        doc, at = decoder.raw_decode(body, at)
        docs.append(doc)
    return docs


class TaskDocuments(unittest.TestCase):
    """GET /tasks/{uid}/documents: the documents of a document addition not yet processed."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = c = Cluster({"nodes": 3, "rf": 2, "shards": 8})
        wait_miroir(c, c.call("POST", "/indexes", {"uid": "td", "primaryKey": "id"})
                    .json()["taskUid"])

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def refusal(self, path):
        through = self.cluster.call("GET", path)
        one = self.cluster.nodes[0].call("GET", path)
        self.assertEqual(through.status, one.status, through.body)
        return through.json(), json.loads(one.body)

    def test_a_feature_off_as_a_node(self):
        for path in ["/tasks/0/documents", "/tasks/abc/documents"]:
            through, one = self.refusal(path)
            self.assertEqual(through, one)
            self.assertEqual(through["code"], "feature_not_enabled")

    def test_b_the_documents_in_the_clients_order(self):
        r = self.cluster.call("PATCH", "/experimental-features", {"getTaskDocumentsRoute": True})
        self.assertEqual((r.status, r.json()["getTaskDocumentsRoute"]), (200, True), r.body)
        through, one = self.refusal("/tasks/abc/documents")
        self.assertEqual(through, one)
        self.assertEqual(through["code"], "invalid_task_uids")
        missing = self.cluster.call("GET", "/tasks/987654/documents")
        self.assertEqual((missing.status, missing.json()["message"]),
                         (404, "Task `987654` not found."))
        docs = [{"id": i, "title": f"doc {i}", "n": {"x": i}} for i in [5, 3, 9, 1, 7, 2, 40]]
        hang = not REAL  # the nodes keep the task enqueued until the fault is cleared
        if hang:
            for node in self.cluster.nodes:
                node.call("PUT", "/_devnode/faults", {"routeClass": "queue", "hang": True})
        try:
            uid = self.cluster.call("POST", "/indexes/td/documents", docs).json()["taskUid"]
            if hang:
                r = self.cluster.call("GET", f"/tasks/{uid}/documents")
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.headers.get("content-type"), "application/x-ndjson")
                self.assertEqual(documents_of(r.body), docs)  # once each, no Miroir field
        finally:
            for node in self.cluster.nodes:
                node.call("DELETE", "/_devnode/faults")
        wait_miroir(self.cluster, uid)
        done = self.cluster.call("GET", f"/tasks/{uid}/documents")
        self.assertEqual((done.status, done.json()["code"]), (404, "task_file_not_found"))
        self.assertEqual(done.json()["message"],
                         f"Task `{uid}` does not contain any documents. Only "
                         "`documentAdditionOrUpdate` tasks with the statuses `enqueued` or "
                         "`processing` contain documents")
        settings = self.cluster.call("PATCH", "/indexes/td/settings", {"rankingRules": ["words"]})
        other = self.cluster.call("GET", f"/tasks/{settings.json()['taskUid']}/documents")
        self.assertEqual((other.status, other.json()["code"]), (404, "task_file_not_found"))


WORKSPACE = {"source": "openAi", "orgId": "some-org-id", "projectId": "some-project-id",
             "apiVersion": "some-api-version", "deploymentId": "some-deployment-id",
             "baseUrl": "http://127.0.0.1:9/v1/", "apiKey": "sk-test-placeholder-api-key",
             "prompts": {"system": "Answer from the context."}}


class Chats(unittest.TestCase):
    """The chat workspaces on every node; completions only where one node holds every shard."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster({"nodes": 3, "rf": 1, "shards": 8})

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def test_a_feature_off_as_a_node(self):
        for method, path in [("GET", "/chats"), ("GET", "/chats/ws"), ("DELETE", "/chats/ws"),
                             ("GET", "/chats/ws/settings"), ("PATCH", "/chats/ws/settings")]:
            body = {} if method == "PATCH" else None
            through = self.cluster.call(method, path, body)
            one = self.cluster.nodes[0].call(method, path, body)
            self.assertEqual((through.status, through.json()), (one.status, json.loads(one.body)),
                             path)
            self.assertEqual(through.json()["code"], "feature_not_enabled")

    def test_b_workspaces_on_every_node(self):
        r = self.cluster.call("PATCH", "/experimental-features", {"chatCompletions": True})
        self.assertEqual(r.status, 200, r.body)
        r = self.cluster.call("PATCH", "/chats/ws/settings", WORKSPACE)
        self.assertEqual(r.status, 200, r.body)
        settings = r.json()
        self.assertEqual(settings["apiKey"], "sk-XXXXX...")  # shown masked, as a node shows it
        self.assertEqual(settings["prompts"]["system"], "Answer from the context.")
        for node in self.cluster.nodes:  # every node holds the workspace
            one = node.call("GET", "/chats/ws/settings")
            self.assertEqual((one.status, json.loads(one.body)), (200, settings))
        self.assertEqual(self.cluster.call("GET", "/chats/ws/settings").json(), settings)
        listed = self.cluster.call("GET", "/chats").json()
        self.assertEqual((listed["results"], listed["total"]), ([{"uid": "ws"}], 1))
        self.assertEqual(self.cluster.call("GET", "/chats/ws").json(), {"uid": "ws"})
        bad = self.cluster.call("PATCH", "/chats/ws/settings", {"source": "vLlm",
                                                                "baseUrl": None})
        one = self.cluster.nodes[0].call("PATCH", "/chats/ws/settings",
                                         {"source": "vLlm", "baseUrl": None})
        self.assertEqual((bad.status, bad.json()), (one.status, json.loads(one.body)))
        reset = self.cluster.call("DELETE", "/chats/ws/settings")
        self.assertEqual((reset.status, reset.json()["apiKey"]), (200, None), reset.body)
        gone = self.cluster.call("DELETE", "/chats/ws")
        self.assertEqual((gone.status, gone.body), (204, b""))
        for node in self.cluster.nodes:
            self.assertEqual(node.call("GET", "/chats/ws").status, 404)
        missing = self.cluster.call("GET", "/chats/ws")
        one = self.cluster.nodes[0].call("GET", "/chats/ws")
        self.assertEqual((missing.status, missing.json()), (404, json.loads(one.body)))
        self.assertEqual(missing.json()["code"], "chat_not_found")

    def test_c_completions_need_a_node_holding_every_shard(self):
        r = self.cluster.call("PATCH", "/experimental-features", {"chatCompletions": True})
        self.assertEqual(r.status, 200, r.body)
        question = {"model": "gpt-4o-mini", "stream": True,
                    "messages": [{"role": "user", "content": "Hello"}]}
        r = self.cluster.call("POST", "/chats/ws/chat/completions", question)
        self.assertEqual((r.status, r.json()["code"]), (501, "miroir_chat_needs_whole_node"))
        # two nodes holding every shard: the completion is the node's own answer
        whole = Cluster({"nodes": 2, "rf": 2, "shards": 4})
        try:
            r = whole.call("PATCH", "/experimental-features", {"chatCompletions": True})
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(whole.call("PATCH", "/chats/ws/settings", WORKSPACE).status, 200)
            through = whole.call("POST", "/chats/ws/chat/completions", question)
            one = whole.nodes[0].call("POST", "/chats/ws/chat/completions", question)
            self.assertEqual(through.status, one.status, through.body)
            self.assertEqual(through.headers.get("content-type"), one.headers.get("content-type"))
        finally:
            whole.stop()
