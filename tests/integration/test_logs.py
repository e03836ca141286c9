"""/logs/stream and /logs/stderr through Miroir: the pod's own log lines, streamed to one client
at a time in tracing's text or JSON lines and filtered by a target, the stream ended by
DELETE /logs/stream or by the client leaving; /logs/stderr setting what the pod writes to
stderr; the `logsRoute` feature and bad bodies answered as a node answers them (compared with a
real node when MEILISEARCH_BIN is set)."""
import http.client
import json
import re
import socket
import time
import unittest

from nodes import Node
from test_search_differential import MASTER, NODE_KEY, Cluster

REAL = Node().kind != "devnode"
BAD_STREAM_BODIES = [
    {"target": ""}, {"target": 1}, {"target": "miroir=loud"}, {"target": "a=b=c"},
    {"target": "a[{x]=info"}, {"mode": "yaml"}, {"mode": 2}, {"profileMemory": "yes"},
    {"profileMemory": True}, {"mode": "json", "profileMemory": True}, {"colour": True}, [],
]
BAD_STDERR_BODIES = [{"target": ""}, {"target": "x=verbose"}, {"mode": "json"}, "info"]


class Stream:
    """A POST /logs/stream answer read as it comes."""

    def __init__(self, port, body):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("POST", "/logs/stream", json.dumps(body),
                          {"Authorization": f"Bearer {MASTER}",
                           "Content-Type": "application/json"})
        self.sock = self.conn.sock  # the response keeps it: the answer closes the connection
        self.response = self.conn.getresponse()
        self.text = ""

    def read_until(self, pattern, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text, re.M):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in {self.text!r}")
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                piece = self.response.read1(65536)
            except socket.timeout:
                continue
            if not piece:
                raise AssertionError(f"the stream ended without {pattern!r}: {self.text!r}")
            self.text += piece.decode()
        return self.text

    def read_to_end(self, timeout=10.0):
        self.sock.settimeout(timeout)
        self.text += self.response.read().decode()
        return self.text

    def close(self):
        self.response.close()
        self.conn.close()


class Logs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster({"nodes": 2, "rf": 1, "shards": 4})
        cls.reference = Node(NODE_KEY).start() if REAL else None

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()
        if cls.reference:
            cls.reference.stop()

    def setUp(self):
        self.features(True)

    def tearDown(self):
        self.cluster.call("DELETE", "/logs/stream")
        self.cluster.call("POST", "/logs/stderr", {"target": "info"})

    def features(self, on):
        r = self.cluster.call("PATCH", "/experimental-features", {"logsRoute": on})
        self.assertEqual(r.status, 200, r.body)
        if self.reference:
            self.reference.call("PATCH", "/experimental-features", {"logsRoute": on})

    def mark(self, name):
        """A request whose log line names `name`."""
        self.cluster.call("GET", f"/indexes/{name}")

    def test_json_lines_until_deleted(self):
        stream = Stream(self.cluster.m.port, {"target": "info", "mode": "json"})
        self.assertEqual(stream.response.status, 200)
        self.assertEqual(stream.response.getheader("Transfer-Encoding"), "chunked")
        self.mark("json-marker")
        text = stream.read_until(r"json-marker")
        line = next(l for l in text.splitlines() if "json-marker" in l)
        record = json.loads(line)
        self.assertEqual(record["level"], "INFO")
        self.assertEqual(record["target"], "miroir")
        self.assertEqual(record["fields"]["message"], "request")
        self.assertRegex(record["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        # one client at a time
        second = self.cluster.call("POST", "/logs/stream", {})
        self.assertEqual(second.status, 400)
        self.assertEqual(second.json(), {
            "message": "The `/logs/stream` route is currently in use by someone else.",
            "code": "bad_request", "type": "invalid_request",
            "link": "https://docs.meilisearch.com/errors#bad_request"})
        r = self.cluster.call("DELETE", "/logs/stream")
        self.assertEqual(r.status, 204)
        stream.read_to_end()  # the stream ends
        stream.close()

    def test_human_lines_and_a_client_that_leaves(self):
        stream = Stream(self.cluster.m.port, {"target": "miroir=debug"})
        self.mark("human-marker")
        text = stream.read_until(r"human-marker")
        line = next(l for l in text.splitlines() if "human-marker" in l)
        self.assertRegex(line, r"^\d{4}-\d\d-\d\dT[\d:.]+Z  INFO miroir: request ")
        stream.close()  # leaving frees the route
        deadline = time.monotonic() + 5
        while True:
            again = Stream(self.cluster.m.port, {"target": "miroir=off"})
            status = again.response.status
            again.close()
            if status != 400 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(status, 200)

    def test_a_target_that_leaves_miroir_out(self):
        for target in ("miroir=off", "milli=trace", "info,miroir=error"):
            stream = Stream(self.cluster.m.port, {"target": target})
            self.mark("silent-marker")
            self.cluster.call("DELETE", "/logs/stream")
            self.assertNotIn("silent-marker", stream.read_to_end(), target)
            stream.close()

    def test_stderr_target(self):
        r = self.cluster.call("POST", "/logs/stderr", {"target": "miroir=off"})
        self.assertEqual(r.status, 204, r.body)
        self.mark("quiet-marker")
        r = self.cluster.call("POST", "/logs/stderr", {"target": "meilisearch=info,miroir=info"})
        self.assertEqual(r.status, 204, r.body)
        self.mark("loud-marker")
        deadline = time.monotonic() + 5
        while "loud-marker" not in self.cluster.m.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = self.cluster.m.log()
        self.assertIn("loud-marker", log)
        self.assertNotIn("quiet-marker", log)

    def test_profile_mode_is_refused(self):
        r = self.cluster.call("POST", "/logs/stream", {"mode": "profile"})
        self.assertEqual(r.status, 501, r.body)
        self.assertEqual(r.json()["code"], "miroir_log_profile_unsupported")

    def test_feature_off(self):
        self.features(False)
        message = ("Modifying logs through the `/logs/*` routes requires enabling the `logs "
                   "route` experimental feature. See "
                   "https://github.com/orgs/meilisearch/discussions/721")
        for method, path, body in (("POST", "/logs/stream", {}), ("DELETE", "/logs/stream", None),
                                   ("POST", "/logs/stderr", {})):
            r = self.cluster.call(method, path, body)
            self.assertEqual(r.status, 400, r.body)
            self.assertEqual((r.json()["code"], r.json()["message"]),
                             ("feature_not_enabled", message))
            if self.reference:
                want = self.reference.call(method, path, body)
                self.assertEqual(r.json(), want.json())

    def test_bad_bodies(self):
        for path, bodies in (("/logs/stream", BAD_STREAM_BODIES),
                             ("/logs/stderr", BAD_STDERR_BODIES)):
            for body in bodies:
                r = self.cluster.call("POST", path, body)
                self.assertEqual(r.status, 400, (path, body, r.body))
                got = r.json()
                self.assertIn(got["code"], ("bad_request", "invalid_settings_typo_tolerance"))
                if self.reference:
                    want = self.reference.call("POST", path, json.dumps(body),
                                               headers={"Content-Type": "application/json"})
                    self.assertEqual(want.status, 400, want.body)
                    self.assertEqual(got, want.json(), (path, body))


if __name__ == "__main__":
    unittest.main()
