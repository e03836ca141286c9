"""Hostile clients: request smuggling (framing two readers could take two ways), bodies far over
the limit, and slow clients holding connections, over raw sockets; keys used beyond their
indexes (document fetches, federation, aliases, Miroir's own routes) and tenant token filters a
client tries to escape."""
import socket
import time
import unittest

from harness import Miroir
from test_keys import KeyCalls, fill_indexes, tenant_token
from test_search_differential import Cluster

MASTER = "security-master-key"


def exchange(port, raw, timeout=5.0):
    """Sends raw bytes, reads until the server closes the connection (or the timeout)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(timeout)
    s.sendall(raw)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    finally:
        s.close()
    return data


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Smuggling(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = Miroir(master_key=MASTER, extra="    max_body_bytes: 1000000").start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def assert_refused_and_closed(self, head):
        # a second request follows the ambiguous one: it must never be answered
        smuggled = b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n"
        data = exchange(self.m.port, head + smuggled)
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:200])
        self.assertEqual(data.count(b"HTTP/1.1"), 1, data)

    def test_content_length_with_transfer_encoding_is_refused(self):
        self.assert_refused_and_closed(
            b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")

    def test_transfer_encoding_not_ending_in_chunked_is_refused(self):
        self.assert_refused_and_closed(
            b"POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
            b"0\r\n\r\n")
        self.assert_refused_and_closed(
            b"POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")

    def test_two_content_lengths_are_refused(self):
        self.assert_refused_and_closed(
            b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\n"
            b"abc")

    def test_oversized_header_is_refused(self):
        data = exchange(self.m.port, b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 70000 +
                        b"\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:200])

    def test_a_gigabyte_body_is_refused_at_the_header_without_being_read(self):
        before = rss_kib(self.m.proc.pid)
        s = socket.create_connection(("127.0.0.1", self.m.port))
        s.settimeout(10)
        s.sendall(b"POST /indexes/a/documents HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + MASTER.encode() + b"\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n")
        # the answer comes before a byte of the body is sent
        head = s.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 413"), head[:200])
        self.assertIn(b"payload_too_large", head)
        # what the client still sends is discarded, never held
        chunk = b"x" * (1 << 20)
        try:
            for _ in range(64):
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.close()
        self.assertLess(rss_kib(self.m.proc.pid) - before, 32 * 1024)
        self.assertEqual(self.m.request("GET", "/health").status, 200)


class SlowClients(unittest.TestCase):
    def test_slowloris_connections_are_cut_and_others_still_served(self):
        with Miroir(extra="    header_timeout_ms: 500\n    body_timeout_ms: 500") as m:
            # many connections each holding an unfinished header
            held = []
            for _ in range(300):
                s = socket.create_connection(("127.0.0.1", m.port))
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                held.append(s)
            # a normal client is served meanwhile
            self.assertEqual(m.request("GET", "/health").status, 200)
            # every held connection is closed by the header timeout
            for s in held:
                s.settimeout(5)
                self.assertEqual(s.recv(100), b"")
                s.close()

    def test_a_slow_body_is_cut_by_the_body_timeout(self):
        with Miroir(extra="    header_timeout_ms: 500\n    body_timeout_ms: 500") as m:
            s = socket.create_connection(("127.0.0.1", m.port))
            s.settimeout(5)
            s.sendall(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
            started = time.monotonic()
            self.assertEqual(s.recv(100), b"")
            self.assertLess(time.monotonic() - started, 4)
            s.close()
            self.assertEqual(m.request("GET", "/health").status, 200)


class KeysAndTokens(KeyCalls, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster({"nodes": 2, "rf": 1, "shards": 4})
        fill_indexes(cls.cluster, ("books", "films"))
        r = cls.cluster.call("POST", "/_miroir/aliases", {"name": "cinema", "target": "films"})
        assert r.status == 201, r.body

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()


    def test_a_key_of_one_index_reaches_no_other_on_any_route(self):
        key = self.create(actions=["search", "documents.get"], indexes=["books"],
                          expiresAt=None)["key"]
        self.assertEqual(self.with_key(key, "POST", "/indexes/books/search", {}).status, 200)
        for method, path, body in [
            ("POST", "/indexes/films/search", {}),
            ("GET", "/indexes/films/search?q=a", None),
            ("POST", "/indexes/films/documents/fetch", {"limit": 5}),
            ("GET", "/indexes/films/documents", None),
            ("GET", "/indexes/films/documents/1", None),
            ("POST", "/indexes/films/facet-search", {"facetName": "title"}),
            ("POST", "/indexes/cinema/search", {}),  # an alias of films
            ("POST", "/multi-search", {"federation": {}, "queries": [
                {"indexUid": "books"}, {"indexUid": "films"}]}),
            ("POST", "/multi-search", {"queries": [{"indexUid": "cinema"}]}),
        ]:
            r = self.with_key(key, method, path, body)
            self.assertEqual(r.status, 403, (path, body, r.body))
            self.assertEqual(r.json()["code"], "invalid_api_key", r.body)

    def test_miroirs_routes_refuse_every_client_key(self):
        everything = self.create(actions=["*"], indexes=["*"], expiresAt=None)["key"]
        for key in (everything, "0" * 64):
            for method, path in [("GET", "/_miroir/topology"), ("GET", "/_miroir/aliases"),
                                 ("POST", "/_miroir/rebalance"), ("GET", "/_miroir/hints")]:
                r = self.with_key(key, method, path, {} if method == "POST" else None)
                self.assertEqual(r.status, 403, (path, r.body))

    def test_a_token_filter_cannot_be_escaped(self):
        key = self.create(actions=["search"], indexes=["books"], expiresAt=None)
        token = tenant_token(key, {"books": {"filter": "id < 5"}})
        escapes = ["id > 7 OR id < 100", "NOT id < 5 OR id >= 0", ["id < 100) OR (id > 0"],
                   [["id > 7", "id <= 9"]], "id IN [5, 6, 7, 8, 9] OR id EXISTS"]
        for attempt in escapes:
            for method, path, body in [
                ("POST", "/indexes/books/search", {"filter": attempt, "limit": 50}),
                ("POST", "/multi-search", {"queries": [
                    {"indexUid": "books", "filter": attempt, "limit": 50}]}),
                ("POST", "/multi-search", {"federation": {"limit": 50}, "queries": [
                    {"indexUid": "books", "filter": attempt}]}),
            ]:
                r = self.with_key(token, method, path, body)
                if r.status != 200:  # a filter Meilisearch refuses: refused, not widened
                    self.assertEqual(r.status, 400, r.body)
                    continue
                answer = r.json()
                hits = (answer["results"][0]["hits"] if "results" in answer
                        else answer["hits"])
                self.assertTrue(all(h["id"] < 5 for h in hits), (attempt, path, hits))
        r = self.with_key(token, "GET", "/indexes/books/search?filter=id%20%3E%207%20OR%20id%20%3E%3D%200")
        self.assertTrue(all(h["id"] < 5 for h in r.json()["hits"]), r.body)


if __name__ == "__main__":
    unittest.main()
