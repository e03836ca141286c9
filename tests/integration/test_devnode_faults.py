"""Fault injection of the development node (/_devnode/faults): latency, error rate, hang."""
import threading
import time
import unittest
import uuid

from nodes import Node


@unittest.skipIf(Node().kind != "devnode", "fault injection exists only on the devnode")
class Faults(unittest.TestCase):
    def setUp(self):
        self.node = Node().start()
        self.uid = f"f_{uuid.uuid4().hex[:8]}"
        self.node.run("POST", f"/indexes/{self.uid}/documents", [{"id": 1, "t": "a"}])

    def tearDown(self):
        self.node.stop()

    def timed_search(self):
        started = time.monotonic()
        r = self.node.call("POST", f"/indexes/{self.uid}/search", {"q": "a"})
        return r, time.monotonic() - started

    def test_latency_on_one_route_class(self):
        r = self.node.call("PUT", "/_devnode/faults", {"routeClass": "search", "latencyMs": 300})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["search"]["latencyMs"], 300)
        r, elapsed = self.timed_search()
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(elapsed, 0.3)
        started = time.monotonic()
        self.assertEqual(self.node.call("GET", f"/indexes/{self.uid}/documents/1").status, 200)
        self.assertLess(time.monotonic() - started, 0.3)
        self.assertEqual(self.node.call("DELETE", "/_devnode/faults").status, 200)
        self.assertLess(self.timed_search()[1], 0.3)

    def test_latency_for_a_fraction(self):
        self.node.call("PUT", "/_devnode/faults",
                       {"routeClass": "search", "latencyMs": 200, "latencyFraction": 0.5})
        slow = sum(1 for _ in range(20) if self.timed_search()[1] >= 0.2)
        self.assertGreater(slow, 2)
        self.assertLess(slow, 18)

    def test_error_rate(self):
        self.node.call("PUT", "/_devnode/faults",
                       {"routeClass": "all", "errorRate": 1, "errorStatus": 503})
        r = self.node.call("POST", f"/indexes/{self.uid}/search", {"q": "a"})
        self.assertEqual(r.status, 503)
        self.assertEqual(list(r.json().keys()), ["message", "code", "type", "link"])
        # the fault endpoint itself is never faulted
        self.assertEqual(self.node.call("DELETE", "/_devnode/faults").status, 200)
        self.assertEqual(self.timed_search()[0].status, 200)

    def test_hang_until_cleared(self):
        self.node.call("PUT", "/_devnode/faults", {"routeClass": "search", "hang": True})
        result = {}

        def search():
            result["r"], result["elapsed"] = self.timed_search()

        t = threading.Thread(target=search)
        t.start()
        time.sleep(0.5)
        self.assertTrue(t.is_alive(), "the hung request answered")
        self.assertEqual(self.node.call("GET", "/health").status, 200)
        self.node.call("DELETE", "/_devnode/faults")
        t.join(5)
        self.assertEqual(result["r"].status, 200)
        self.assertGreaterEqual(result["elapsed"], 0.5)

    def test_bad_fault_requests(self):
        for body in ({"routeClass": "everything"}, {"latencyMs": -1}, {"errorRate": 2},
                     {"doggo": 1}):
            r = self.node.call("PUT", "/_devnode/faults", body)
            self.assertEqual(r.status, 400, body)
            self.assertEqual(r.json()["code"], "bad_request")
        self.assertEqual(self.node.call("GET", "/_devnode/faults", key="wrong").status, 403)


if __name__ == "__main__":
    unittest.main()
