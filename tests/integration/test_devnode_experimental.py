"""Conformance of the development node with Meilisearch for the experimental index settings
(`foreignKeys`, `chat`): hidden from the settings and refused until their feature is on, their
sub-routes, defaults and errors, and a sub-route's errors naming the value's own path. Runs
against miroir-devnode by default, a real `meilisearch` when MEILISEARCH_BIN is set."""
import unittest
import uuid

from nodes import Node

TEMPLATE = ("{% for field in fields %}{% if field.is_searchable and field.value != nil %}"
            "{{ field.name }}: {{ field.value }}\n{% endif %}{% endfor %}")
CHAT_DEFAULT = {"description": "", "documentTemplate": TEMPLATE, "documentTemplateMaxBytes": 400,
                "searchParameters": {}}


class ExperimentalSettings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node().start()

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def setUp(self):
        self.uid = f"exp_{uuid.uuid4().hex[:8]}"
        self.node.run("POST", "/indexes", {"uid": self.uid})
        self.features(False)

    def features(self, on):
        r = self.node.call("PATCH", "/experimental-features",
                           {"foreignKeys": on, "chatCompletions": on})
        self.assertEqual(r.status, 200, r.body)

    def settings(self, sub=""):
        r = self.node.call("GET", f"/indexes/{self.uid}/settings{sub}")
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def refused(self, method, sub, body, code, message):
        r = self.node.call(method, f"/indexes/{self.uid}/settings{sub}", body)
        self.assertEqual(r.status, 400, r.body)
        self.assertEqual((r.json()["code"], r.json()["message"]), (code, message))

    def test_hidden_and_refused_until_the_feature_is_on(self):
        self.assertNotIn("foreignKeys", self.settings())
        self.assertNotIn("chat", self.settings())
        self.assertEqual(self.settings("/foreign-keys"), [])
        self.assertEqual(self.settings("/chat"), CHAT_DEFAULT)
        self.refused("PUT", "/foreign-keys", [{"foreignIndexUid": "b", "fieldName": "x"}],
                     "feature_not_enabled",
                     "setting `foreignKeys` in the index settings requires enabling the "
                     "`foreign_keys` experimental feature. See "
                     "https://github.com/orgs/meilisearch/discussions/873")
        self.refused("PATCH", "", {"chat": {"description": "d"}}, "feature_not_enabled",
                     "setting `chat` in the index settings requires enabling the `chat "
                     "completions` experimental feature. See "
                     "https://github.com/orgs/meilisearch/discussions/835")
        task = self.node.run("DELETE", f"/indexes/{self.uid}/settings/foreign-keys")
        self.assertEqual(task["status"], "succeeded", task)

    def test_set_merged_and_reset(self):
        self.features(True)
        keys = list(self.settings())
        self.assertEqual(keys[keys.index("sortableAttributes") + 1], "foreignKeys")
        self.assertEqual(keys[-1], "chat")
        links = [{"foreignIndexUid": "b", "fieldName": "x"}]
        self.node.run("PUT", f"/indexes/{self.uid}/settings/foreign-keys", links)
        self.assertEqual(self.settings("/foreign-keys"), links)
        self.node.run("PATCH", f"/indexes/{self.uid}/settings/chat",
                      {"searchParameters": {"limit": 5}})
        task = self.node.run("PATCH", f"/indexes/{self.uid}/settings/chat", {"description": "d"})
        self.assertEqual(task["details"], {"chat": {"description": "d"}})
        self.assertEqual(self.settings("/chat"),
                         {**CHAT_DEFAULT, "description": "d", "searchParameters": {"limit": 5}})
        self.node.run("DELETE", f"/indexes/{self.uid}/settings/chat")
        self.assertEqual(self.settings("/chat"), CHAT_DEFAULT)
        self.node.run("PUT", f"/indexes/{self.uid}/settings/foreign-keys", "null",
                      headers={"Content-Type": "application/json"})
        self.assertEqual(self.settings()["foreignKeys"], [])

    def test_errors(self):
        self.features(True)
        code = "invalid_settings_foreign_keys"
        self.refused("PUT", "/foreign-keys", {"a": 1}, code,
                     'Invalid value type: expected an array, but found an object: `{"a":1}`')
        self.refused("PUT", "/foreign-keys", [1], code,
                     "Invalid value type at `[0]`: expected an object, but found a positive "
                     "integer: `1`")
        self.refused("PUT", "/foreign-keys", [{"foreignIndexUid": "b"}], code,
                     "Missing field `fieldName` inside `[0]`")
        self.refused("PUT", "/foreign-keys", [{"foreignIndexUid": 1, "fieldName": "x"}], code,
                     "Invalid value type at `[0].foreignIndexUid`: expected a string, but found "
                     "a positive integer: `1`")
        self.refused("PUT", "/foreign-keys", [{"foreignIndexUid": "b", "fieldName": "x", "y": 1}],
                     code, "Unknown field `y` inside `[0]`: expected one of `foreignIndexUid`, "
                     "`fieldName`")
        self.refused("PATCH", "", {"foreignKeys": [{"fieldName": "x"}]}, code,
                     "Missing field `foreignIndexUid` inside `.foreignKeys[0]`")
        code = "invalid_settings_index_chat"
        self.refused("PATCH", "/chat", {"description": 1}, code,
                     "Invalid value type at `.description`: expected a string, but found a "
                     "positive integer: `1`")
        self.refused("PATCH", "/chat", {"foo": 1}, code,
                     "Unknown field `foo`: expected one of `description`, `documentTemplate`, "
                     "`documentTemplateMaxBytes`, `searchParameters`")
        self.refused("PATCH", "/chat", {"searchParameters": {"foo": 1}}, code,
                     "Unknown field `foo` inside `.searchParameters`: expected one of `hybrid`, "
                     "`limit`, `sort`, `distinct`, `matchingStrategy`, `attributesToSearchOn`, "
                     "`rankingScoreThreshold`")
        self.refused("PATCH", "/chat", {"documentTemplateMaxBytes": -1}, code,
                     "Invalid value type at `.documentTemplateMaxBytes`: expected a positive "
                     "integer, but found a negative integer: `-1`")
        self.refused("PUT", "/stop-words", [1], "invalid_settings_stop_words",
                     "Invalid value type at `[0]`: expected a string, but found a positive "
                     "integer: `1`")
        self.refused("PUT", "/stop-words", {"a": 1}, "invalid_settings_stop_words",
                     'Invalid value type: expected an array, but found an object: `{"a":1}`')


if __name__ == "__main__":
    unittest.main()


class Webhooks(unittest.TestCase):
    """/webhooks kept by the node: shapes, redaction, updates and errors as Meilisearch's."""

    @classmethod
    def setUpClass(cls):
        cls.node = Node().start()

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def test_lifecycle_and_errors(self):
        r = self.node.call("POST", "/webhooks", {
            "url": "https://example.com/hook",
            "headers": {"Authorization": "Bearer a-long-secret-token-value", "X-A": "1"}})
        self.assertEqual(r.status, 201, r.body)
        hook = r.json()
        self.assertEqual(list(hook), ["uuid", "isEditable", "url", "headers"])
        self.assertEqual(hook["headers"]["X-A"], "1")
        self.assertTrue(hook["headers"]["Authorization"].startswith("Bearer"), hook)
        self.assertNotIn("secret", hook["headers"]["Authorization"])
        uuid = hook["uuid"]
        listed = self.node.call("GET", "/webhooks").json()["results"]
        self.assertIn(uuid, [h["uuid"] for h in listed])
        self.assertEqual(self.node.call("GET", f"/webhooks/{uuid}").json(), hook)
        r = self.node.call("PATCH", f"/webhooks/{uuid}",
                           {"url": "https://example.com/other", "headers": {"X-A": None}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json()["url"], list(r.json()["headers"])),
                         ("https://example.com/other", ["Authorization"]))
        self.assertEqual(self.node.call("DELETE", f"/webhooks/{uuid}").status, 204)
        r = self.node.call("GET", f"/webhooks/{uuid}")
        self.assertEqual((r.status, r.json()["code"]), (404, "webhook_not_found"), r.body)
        r = self.node.call("GET", "/webhooks/not-a-uuid")
        self.assertEqual((r.status, r.json()["code"]), (400, "invalid_webhook_uuid"), r.body)
        r = self.node.call("POST", "/webhooks", {"headers": {}})
        self.assertEqual((r.status, r.json()["code"]), (400, "invalid_webhook_url"), r.body)
