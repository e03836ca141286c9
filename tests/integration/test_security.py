"""Hostile clients over raw sockets: request smuggling (framing two readers could take two
ways), bodies far over the limit, and slow clients holding connections."""
import socket
import time
import unittest

from harness import Miroir

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


if __name__ == "__main__":
    unittest.main()
