"""/webhooks through Miroir over several nodes: Miroir's own webhooks, kept in its task store and
called when its tasks finish, as Meilisearch 1.50 calls its own (a gzip'd NDJSON POST of the
finished tasks, the webhook's headers added). Shapes and errors are Meilisearch's."""
import gzip
import http.server
import json
import os
import threading
import time
import unittest

from test_search_differential import MASTER, Cluster, wait_miroir

REAL = bool(os.environ.get("MEILISEARCH_BIN"))


class Receiver:
    """A webhook endpoint on a free loopback port that keeps every call."""

    def __init__(self, status=200):
        calls = self.calls = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                calls.append((self.path, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tasks(self):
        out = []
        for _, headers, body in list(self.calls):
            text = gzip.decompress(body).decode()
            out += [json.loads(line) for line in text.splitlines() if line]
        return out

    def wait_for(self, uid, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [t for t in self.tasks() if t["uid"] == uid]
            if found:
                return found
            time.sleep(0.05)
        raise TimeoutError(uid)

    def stop(self):
        self.server.shutdown()


class Webhooks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster({"nodes": 3, "rf": 1, "shards": 8})

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def call(self, method, path, body=None):
        return self.cluster.call(method, path, body)

    def tearDown(self):
        for w in self.call("GET", "/webhooks").json()["results"]:
            self.assertEqual(self.call("DELETE", f"/webhooks/{w['uuid']}").status, 204)

    def test_create_list_get_patch_delete(self):
        self.assertEqual(self.call("GET", "/webhooks").json(), {"results": []})
        r = self.call("POST", "/webhooks", {
            "url": "http://127.0.0.1:9/x",
            "headers": {"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz", "X-A": "b"}})
        self.assertEqual(r.status, 201, r.body)
        made = r.json()
        self.assertEqual(list(made), ["uuid", "isEditable", "url", "headers"])
        self.assertEqual(made["headers"], {"Authorization": "Bearer abcXXXXX...", "X-A": "b"})
        uuid = made["uuid"]
        self.assertEqual(self.call("GET", "/webhooks").json(), {"results": [made]})
        self.assertEqual(self.call("GET", f"/webhooks/{uuid}").json(), made)
        self.assertEqual(self.call("GET", f"/webhooks/{uuid.upper()}").json(), made)
        r = self.call("PATCH", f"/webhooks/{uuid}", {"headers": {"X-A": None, "New": "v"}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["headers"], {"Authorization": "Bearer abcXXXXX...", "New": "v"})
        r = self.call("PATCH", f"/webhooks/{uuid}", {"url": "http://127.0.0.1:9/z",
                                                     "headers": None})
        self.assertEqual((r.json()["url"], r.json()["headers"]), ("http://127.0.0.1:9/z", {}))
        self.assertEqual(self.call("DELETE", f"/webhooks/{uuid}").status, 204)
        self.assertEqual(self.call("GET", f"/webhooks/{uuid}").status, 404)

    def test_bad_requests_as_meilisearch(self):
        cases = [
            ({"url": "nope"}, "invalid_webhook_url", "Invalid URL `nope`: relative URL without a base"),
            ({"url": "http://"}, "invalid_webhook_url", "Invalid URL `http://`: empty host"),
            ({"url": "http://x:99999"}, "invalid_webhook_url",
             "Invalid URL `http://x:99999`: invalid port number"),
            ({"url": 3}, "invalid_webhook_url",
             "Invalid value type at `.url`: expected a string, but found a positive integer: `3`"),
            ({"url": "http://x", "headers": {"a b": "c"}}, "invalid_webhook_headers",
             "Invalid header name `a b`: invalid HTTP header name"),
            ({"url": "http://x", "headers": {"a": "c\nd"}}, "invalid_webhook_headers",
             "Invalid header value `a`: failed to parse header value"),
            ({"url": "http://x", "headers": []}, "invalid_webhook_headers",
             "Invalid value type at `.headers`: expected an object, but found an array: `[]`"),
            ({"url": "http://x", "headers": {"a": 1}}, "invalid_webhook_headers",
             "Invalid value type at `.headers.a`: expected a string, but found a positive integer: `1`"),
            ({"url": "http://x", "uuid": "a"}, "immutable_webhook_uuid",
             "Immutable field `uuid`: expected one of `url`, `headers`"),
            ({"url": "http://x", "isEditable": True}, "immutable_webhook_is_editable",
             "Immutable field `isEditable`: expected one of `url`, `headers`"),
            ({"url": "http://x", "foo": 1}, "bad_request",
             "Unknown field `foo`: expected one of `url`, `headers`"),
            ([1], "bad_request", "Invalid value type: expected an object, but found an array: `[1]`"),
        ]
        for body, code, message in cases:
            r = self.call("POST", "/webhooks", body)
            self.assertEqual((r.status, r.json()["code"], r.json()["message"]), (400, code, message))
            if REAL:
                one = self.cluster.nodes[0].call("POST", "/webhooks", body)
                self.assertEqual(json.loads(one.body), r.json())
        r = self.call("POST", "/webhooks", {})
        self.assertEqual(r.json()["code"], "invalid_webhook_url")
        self.assertRegex(r.json()["message"], r"^The URL for the webhook `[0-9a-f-]{36}` is missing\.$")
        paths = [
            ("GET", "/webhooks/abc", 400, "invalid_webhook_uuid", "Invalid UUID: invalid length: found 3"),
            ("GET", "/webhooks/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", 400, "invalid_webhook_uuid",
             "Invalid UUID: invalid character: found `z` at 0"),
            ("GET", "/webhooks/0195f5e0-0000-7000-8000-00000000000", 400, "invalid_webhook_uuid",
             "Invalid UUID: invalid group length in group 4: expected 12, found 11"),
            ("GET", "/webhooks/0195f5e0-0000-7000-8000-0000000000000-", 400, "invalid_webhook_uuid",
             "Invalid UUID: invalid group count: expected 5, found 6"),
            ("GET", "/webhooks/0195f5e0000070008000000000000000", 404, "webhook_not_found",
             "Webhook `0195f5e0-0000-7000-8000-000000000000` not found."),
            ("PATCH", "/webhooks/00000000-0000-0000-0000-000000000000", 400, "immutable_webhook",
             "Webhook `00000000-0000-0000-0000-000000000000` is immutable. The webhook defined "
             "from the command line cannot be modified using the API."),
            ("DELETE", "/webhooks/0195f5e0-0000-7000-8000-000000000000", 404, "webhook_not_found",
             "Webhook `0195f5e0-0000-7000-8000-000000000000` not found."),
        ]
        for method, path, status, code, message in paths:
            r = self.call(method, path, {} if method == "PATCH" else None)
            self.assertEqual((r.status, r.json()["code"], r.json()["message"]),
                             (status, code, message), path)

    def test_at_most_twenty(self):
        for i in range(20):
            self.assertEqual(self.call("POST", "/webhooks", {"url": f"http://h{i}"}).status, 201)
        r = self.call("POST", "/webhooks", {"url": "http://h21"})
        self.assertEqual((r.status, r.json()["code"]), (400, "invalid_webhooks"))

    def test_finished_tasks_are_posted(self):
        receiver = Receiver()
        self.addCleanup(receiver.stop)
        r = self.call("POST", "/webhooks", {"url": receiver.url + "/hook?x=1",
                                             "headers": {"Authorization": "Bearer s3cr3t"}})
        self.assertEqual(r.status, 201, r.body)
        summary = self.call("POST", "/indexes/wh/documents?customMetadata=m",
                            [{"id": i} for i in range(10)]).json()
        wait_miroir(self.cluster, summary["taskUid"])
        [posted] = receiver.wait_for(summary["taskUid"])
        self.assertEqual(posted, self.call("GET", f"/tasks/{summary['taskUid']}").json())
        path, headers, _ = receiver.calls[-1]
        self.assertEqual(path, "/hook?x=1")
        self.assertEqual(headers["Content-Type"], "application/x-ndjson")
        self.assertEqual(headers["Content-Encoding"], "gzip")
        self.assertEqual(headers["Authorization"], "Bearer s3cr3t")  # the stored value, whole
        # a task failed at once is posted too, once
        failed = self.call("POST", "/indexes/wh/documents", [{"no_id": 1}]).json()
        [posted] = receiver.wait_for(failed["taskUid"])
        self.assertEqual(posted["status"], "failed")
        time.sleep(0.3)
        self.assertEqual(len([t for t in receiver.tasks() if t["uid"] == summary["taskUid"]]), 1)

    def test_a_refusing_endpoint_is_counted(self):
        receiver = Receiver(status=500)
        self.addCleanup(receiver.stop)
        self.call("POST", "/webhooks", {"url": receiver.url})
        summary = self.call("POST", "/indexes/wh2/documents", [{"id": 1}]).json()
        receiver.wait_for(summary["taskUid"])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            metrics = self.cluster.m.request("GET", "/_miroir/metrics", headers={
                "Authorization": f"Bearer {MASTER}"}).body.decode()
            if 'miroir_webhook_deliveries_total{outcome="refused"}' in metrics:
                break
            time.sleep(0.1)
        self.assertIn('miroir_webhook_deliveries_total{outcome="refused"}', metrics)


if __name__ == "__main__":
    unittest.main()
