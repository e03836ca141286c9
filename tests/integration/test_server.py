"""The miroir binary through HTTP: auth, errors, body limit, request ids, metrics, readiness,
timeouts, graceful shutdown, and the command line."""
import json
import os
import re
import socket
import time
import unittest

from harness import Miroir, free_port, request, run_cli
from nodes import Node

MASTER = "integration-master-key"
ADMIN = "integration-admin-key"
ERROR_KEYS = ["message", "code", "type", "link"]


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


class AuthAndErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = Miroir(master_key=MASTER, admin_key=ADMIN).start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def assertMeiliError(self, r, status, code, type_):
        self.assertEqual(r.status, status, r.body)
        self.assertEqual(r.headers.get("content-type"), "application/json")
        body = r.json()
        self.assertEqual(list(body.keys()), ERROR_KEYS)
        self.assertEqual(body["code"], code)
        self.assertEqual(body["type"], type_)
        self.assertEqual(body["link"], "https://docs.meilisearch.com/errors#" + code)
        return body

    def test_health_is_open(self):
        r = self.m.request("GET", "/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "available"})

    def test_missing_key(self):
        body = self.assertMeiliError(self.m.request("GET", "/version"), 401,
                                     "missing_authorization_header", "auth")
        self.assertEqual(body["message"], "The Authorization header is missing. It must use the "
                                          "bearer authorization method.")

    def test_wrong_key(self):
        body = self.assertMeiliError(self.m.request("GET", "/version", headers=bearer("nope")),
                                     403, "invalid_api_key", "auth")
        self.assertEqual(body["message"], "The provided API key is invalid.")

    def test_header_format_rules(self):
        self.assertMeiliError(
            self.m.request("GET", "/version", headers={"Authorization": f"Basic {MASTER}"}),
            401, "missing_authorization_header", "auth")
        self.assertMeiliError(
            self.m.request("GET", "/version", headers={"Authorization": f"bearer {MASTER}"}),
            401, "missing_authorization_header", "auth")
        self.assertMeiliError(
            self.m.request("GET", "/version", headers={"Authorization": "Bearer"}),
            403, "invalid_api_key", "auth")

    def test_master_key_opens_meilisearch_routes(self):
        r = self.m.request("GET", "/version", headers=bearer(MASTER))
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertEqual(list(body.keys()), ["commitSha", "commitDate", "pkgVersion"])
        self.assertRegex(body["pkgVersion"], r"^1\.\d+\.\d+$")
        self.assertIn("x-miroir-version", r.headers)

    def test_admin_routes_take_the_admin_key(self):
        self.assertMeiliError(self.m.request("GET", "/_miroir/metrics"), 401,
                              "missing_authorization_header", "auth")
        self.assertMeiliError(self.m.request("GET", "/_miroir/metrics", headers=bearer(MASTER)),
                              403, "invalid_api_key", "auth")
        self.assertMeiliError(
            self.m.request("GET", "/_miroir/metrics", headers={"X-Admin-Key": "nope"}),
            403, "invalid_api_key", "auth")
        self.assertEqual(self.m.request("GET", "/_miroir/metrics", headers=bearer(ADMIN)).status,
                         200)
        self.assertEqual(
            self.m.request("GET", "/_miroir/metrics", headers={"X-Admin-Key": ADMIN}).status, 200)

    def test_unknown_route_and_wrong_method(self):
        r = self.m.request("GET", "/doggo", headers=bearer(MASTER))
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"")
        r = self.m.request("DELETE", "/health")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.body, b"")

    def test_trailing_slash_is_trimmed(self):
        self.assertEqual(self.m.request("GET", "/health/").status, 200)

    def test_cors(self):
        r = self.m.request("OPTIONS", "/indexes/movies/search",
                           headers={"Origin": "http://example.test",
                                    "Access-Control-Request-Method": "POST"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("access-control-allow-origin"), "*")
        self.assertIn("POST", r.headers.get("access-control-allow-methods"))
        self.assertEqual(self.m.request("GET", "/health").headers.get(
            "access-control-allow-origin"), "*")

    def test_request_id_is_generated_kept_and_logged(self):
        r = self.m.request("GET", "/health")
        generated = r.headers.get("x-request-id")
        self.assertRegex(generated, r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                    r"[0-9a-f]{12}$")
        r = self.m.request("GET", "/health", headers={"X-Request-Id": "client-chosen-42"})
        self.assertEqual(r.headers.get("x-request-id"), "client-chosen-42")
        # an unusable id is replaced, not echoed
        r = self.m.request("GET", "/health", headers={"X-Request-Id": "bad id with spaces"})
        self.assertNotEqual(r.headers.get("x-request-id"), "bad id with spaces")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lines = [rec for rec in self.m.log_records()
                     if rec.get("request_id") == "client-chosen-42"]
            if lines:
                break
            time.sleep(0.05)
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["msg"], "request")
        self.assertEqual(lines[0]["status"], 200)
        self.assertEqual(lines[0]["route"], "/health")
        self.assertEqual(lines[0]["method"], "GET")

    def test_metrics_count_requests_by_route_method_status(self):
        for _ in range(3):
            self.m.request("GET", "/version", headers=bearer("nope"))
        text = self.m.request("GET", "/_miroir/metrics", headers=bearer(ADMIN)).body.decode()
        m = re.search(r'miroir_http_requests_total\{method="GET",route="/version",status="403"\}'
                      r' (\d+)', text)
        self.assertIsNotNone(m, text)
        self.assertGreaterEqual(int(m.group(1)), 3)
        self.assertIn("miroir_http_request_duration_seconds_bucket", text)
        self.assertIn("miroir_http_requests_in_flight", text)
        # the separate listener serves the same registry without a key
        r = request(self.m.metrics_port, "GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain"))
        self.assertIn('route="/version",status="403"', r.body.decode())


class BodyLimit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = Miroir(master_key=MASTER, extra="    max_body_bytes: 1000000").start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def test_over_the_limit_is_payload_too_large(self):
        # Miroir never reads a body over the limit, whatever the route does with bodies
        r = self.m.request("GET", "/version", body=b"x" * 1_000_001,
                           headers={**bearer(MASTER), "Content-Type": "application/json"})
        self.assertEqual(r.status, 413)
        body = r.json()
        self.assertEqual(body["code"], "payload_too_large")
        self.assertEqual(body["type"], "invalid_request")
        self.assertEqual(body["message"], "The provided payload reached the size limit. The "
                                          "maximum accepted payload size is 1 MB.")

    def test_chunked_body_over_the_limit(self):
        def chunks():
            for _ in range(20):
                yield b"y" * 100_000
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.m.port, timeout=10)
        conn.request("GET", "/version", body=chunks(), encode_chunked=True,
                     headers={**bearer(MASTER), "Transfer-Encoding": "chunked"})
        try:
            r = conn.getresponse()
            self.assertEqual(r.status, 413)
            self.assertEqual(json.loads(r.read())["code"], "payload_too_large")
        except (BrokenPipeError, ConnectionResetError):
            self.fail("connection dropped instead of answering 413")
        finally:
            conn.close()

    def test_auth_is_checked_before_the_body_limit(self):
        r = self.m.request("GET", "/version", body=b"x" * 1_000_001)
        self.assertEqual(r.status, 401)

    def test_unknown_route_with_a_large_body_is_not_found(self):
        r = self.m.request("POST", "/doggo", body=b"x" * 1_000_001, headers=bearer(MASTER))
        self.assertEqual(r.status, 404)

    def test_under_the_limit_reaches_the_route(self):
        r = self.m.request("POST", "/health", body=b"x" * 999_999)
        self.assertEqual(r.status, 405)

    def test_a_compressed_body_is_held_to_the_limit_once_decoded(self):
        import gzip
        small = gzip.compress(b"[" + b" " * 2_000_000 + b"]")
        self.assertLess(len(small), 1_000_000)
        r = self.m.request("POST", "/indexes/x/documents", body=small,
                           headers={**bearer(MASTER), "Content-Type": "application/json",
                                    "Content-Encoding": "gzip"})
        self.assertEqual((r.status, r.json()["code"]), (413, "payload_too_large"))


class Readiness(unittest.TestCase):
    def test_not_ready_when_no_node_answers(self):
        with Miroir() as m:
            r = m.request("GET", "/_miroir/ready")
            self.assertEqual(r.status, 503)
            self.assertEqual(r.json()["status"], "unavailable")
            self.assertEqual(r.json()["nodes"], [{"id": "n0", "available": False}])

    def test_ready_when_a_group_covers_every_shard(self):
        with Node() as node:
            up = ("up", f"http://127.0.0.1:{node.port}")
            down = ("down", f"http://127.0.0.1:{free_port()}")
            with Miroir(nodes=[up, down], replication_factor=2) as m:
                r = m.request("GET", "/_miroir/ready")
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json()["nodes"], [{"id": "up", "available": True},
                                                     {"id": "down", "available": False}])
            with Miroir(nodes=[up, down], replication_factor=1) as m:
                self.assertEqual(m.request("GET", "/_miroir/ready").status, 503)

    def test_ready_is_open_even_with_keys(self):
        with Miroir(master_key=MASTER, admin_key=ADMIN) as m:
            self.assertEqual(m.request("GET", "/_miroir/ready").status, 503)


class Lifecycle(unittest.TestCase):
    def test_graceful_shutdown_finishes_the_request_in_flight(self):
        with Miroir(extra="    shutdown_grace_ms: 5000") as m:
            idle = socket.create_connection(("127.0.0.1", m.port))
            busy = socket.create_connection(("127.0.0.1", m.port))
            busy.sendall(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
            time.sleep(0.2)
            m.proc.send_signal(15)
            time.sleep(0.3)
            self.assertIsNone(m.proc.poll(), "exited with a request in flight")
            # the idle keep-alive connection is closed at once
            idle.settimeout(2)
            self.assertEqual(idle.recv(100), b"")
            # no new connections
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", m.port), timeout=1).recv(1)
            busy.sendall(b"67890")
            busy.settimeout(5)
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = busy.recv(4096)
                if not chunk:
                    break
                answer += chunk
            self.assertTrue(answer.startswith(b"HTTP/1.1 405"), answer)
            self.assertIn(b"Connection: close", answer)
            self.assertEqual(m.proc.wait(timeout=5), 0)
            self.assertIn("shutting down", m.log())
            idle.close()
            busy.close()

    def test_background_jobs_are_listed_and_stopped_before_exit(self):
        with Miroir(admin_key=ADMIN) as m:
            r = m.request("GET", "/_miroir/workers", headers=bearer(ADMIN))
            self.assertEqual(r.status, 200, r.body)
            jobs = r.json()["workers"]
            self.assertEqual([j["name"] for j in jobs],
                             ["topology-watcher", "write-gate", "rebalancer", "task-poller",
                              "health", "settings-drift", "hint-replay", "anti-entropy",
                              "ttl-sweeper", "ilm", "dump-import", "reshard"])
            for job in jobs:
                self.assertEqual((job["state"], job["restarts"], job["lastError"]),
                                 ("running", 0, None), job)
            self.assertEqual(m.request("GET", "/_miroir/workers").status, 401)
            self.assertEqual(m.terminate(timeout=10), 0)
            messages = [rec.get("msg") or rec.get("message") for rec in m.log_records()]
            order = ["shutting down", "all connections closed, stopping the background jobs",
                     "background jobs stopped, exiting"]
            self.assertEqual([x for x in messages if x in order], order, messages)

    def test_grace_period_bounds_the_shutdown(self):
        with Miroir(extra="    shutdown_grace_ms: 300") as m:
            stuck = socket.create_connection(("127.0.0.1", m.port))
            stuck.sendall(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n1")
            time.sleep(0.2)
            started = time.monotonic()
            self.assertEqual(m.terminate(timeout=10), 0)
            self.assertLess(time.monotonic() - started, 5)
            stuck.close()

    def test_header_timeout_closes_slow_clients(self):
        with Miroir(extra="    header_timeout_ms: 300") as m:
            slow = socket.create_connection(("127.0.0.1", m.port))
            slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            slow.settimeout(5)
            started = time.monotonic()
            self.assertEqual(slow.recv(100), b"")
            self.assertLess(time.monotonic() - started, 4)
            slow.close()
            # the server still serves others
            self.assertEqual(m.request("GET", "/health").status, 200)

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        with Miroir() as m:
            s = socket.create_connection(("127.0.0.1", m.port))
            s.settimeout(5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
            data = b""
            while data.count(b"HTTP/1.1 200") < 3:
                chunk = s.recv(4096)
                self.assertTrue(chunk, data)
                data += chunk
            s.close()

    def test_port_in_use_fails_with_a_clear_message(self):
        with Miroir() as first:
            second = Miroir()
            second.port = first.port
            with open(second.config_path) as f:
                text = f.read()
            with open(second.config_path, "w") as f:
                f.write(re.sub(r"port: \d+\n    metrics_port",
                               f"port: {first.port}\n    metrics_port", text))
            r = run_cli("serve", "--config", second.config_path)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"cannot listen on 127.0.0.1:{first.port}", r.stdout + r.stderr)
            second.dir.cleanup()


class CommandLine(unittest.TestCase):
    def test_version(self):
        r = run_cli("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^miroir \d+\.\d+\.\d+")

    def test_check_config_masks_secrets_and_reports_unknown_keys(self):
        m = Miroir(master_key="very-secret-master", extra="  sharding: 3")
        try:
            r = run_cli("check-config", "--config", m.config_path,
                        env={"MIROIR_NODE_MASTER_KEY": "node-secret"})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("very-secret-master", r.stdout)
            self.assertNotIn("node-secret", r.stdout)
            self.assertIn('master_key: "********"', r.stdout)
            self.assertIn("unknown configuration key `miroir.sharding`", r.stderr)
        finally:
            m.dir.cleanup()

    def test_invalid_config_names_the_key_and_exits_non_zero(self):
        m = Miroir(extra="  scatter: { unavailable_shard_policy: sometimes }")
        try:
            for command in ("check-config", "serve"):
                r = run_cli(command, "--config", m.config_path)
                self.assertEqual(r.returncode, 2)
                self.assertIn("miroir.scatter.unavailable_shard_policy", r.stderr)
        finally:
            m.dir.cleanup()

    def test_shipped_configuration_files_are_valid(self):
        root = os.path.join(os.path.dirname(__file__), "..", "..")
        for path in ("miroir.yaml", "docker/miroir.yaml", "examples/two-groups.yaml"):
            r = run_cli("check-config", "--config", os.path.join(root, path))
            self.assertEqual(r.returncode, 0, f"{path}: {r.stderr}")
            self.assertNotIn("unknown configuration key", r.stderr, path)

    def test_missing_config_file(self):
        r = run_cli("serve", "--config", "/nonexistent/miroir.yaml")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/miroir.yaml", r.stderr)

    def test_environment_overrides_the_port(self):
        m = Miroir()
        port = free_port()
        m.port = port
        m.env = {"MIROIR_PORT": str(port), "MIROIR_MASTER_KEY": "env-key"}
        with m:
            self.assertEqual(m.request("GET", "/version").status, 401)
            self.assertEqual(m.request("GET", "/version", headers=bearer("env-key")).status, 200)

    def test_text_log_format(self):
        with Miroir(log_format="text") as m:
            m.request("GET", "/health", headers={"X-Request-Id": "text-format-id"})
            deadline = time.monotonic() + 5
            while "text-format-id" not in m.log() and time.monotonic() < deadline:
                time.sleep(0.05)
            line = [l for l in m.log().splitlines() if "text-format-id" in l][0]
            self.assertIn("request_id=text-format-id", line)
            self.assertIn("status=200", line)


if __name__ == "__main__":
    unittest.main()
