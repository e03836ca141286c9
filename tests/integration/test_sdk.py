"""The official Meilisearch SDKs against Miroir, unchanged: each language's scenario
(tests/sdk/<language>) runs the same steps against Miroir over three nodes with RF 2 and
against a single node, checks every result, and fails when the two differ. The SDKs are
installed by tests/sdk/install; a language whose toolchain or SDK is missing is skipped."""
import os
import shutil
import subprocess
import unittest

from nodes import Node
from test_search_differential import MASTER, NODE_KEY, Cluster

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SDK_DIR = os.environ.get("MIROIR_SDK_DIR", os.path.join(ROOT, "build", "sdk"))
SCENARIOS = os.path.join(ROOT, "tests", "sdk")


class OfficialSdks(unittest.TestCase):
    def run_scenario(self, command):
        """Runs one scenario against fresh servers (it lists the tasks of its index)."""
        self.cluster = Cluster({"nodes": 3, "rf": 2, "shards": 16})
        self.addCleanup(self.cluster.stop)
        self.node = Node(NODE_KEY).start()
        self.addCleanup(self.node.stop)
        args = command + [f"http://127.0.0.1:{self.cluster.m.port}", MASTER,
                          f"http://127.0.0.1:{self.node.port}", NODE_KEY]
        done = subprocess.run(args, capture_output=True, text=True, timeout=600)
        print(done.stdout.strip())
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("steps agree", done.stdout)

    def test_python(self):
        python = os.path.join(SDK_DIR, "python", "bin", "python")
        if not os.path.exists(python):
            self.skipTest("the Python client is not installed (tests/sdk/install)")
        self.run_scenario([python, os.path.join(SCENARIOS, "python", "scenario.py")])

    def test_javascript(self):
        if not shutil.which("node"):
            self.skipTest("no node on this machine")
        if not os.path.isdir(os.path.join(SCENARIOS, "js", "node_modules", "meilisearch")):
            self.skipTest("the JavaScript client is not installed (tests/sdk/install)")
        self.run_scenario(["node", os.path.join(SCENARIOS, "js", "scenario.mjs")])

    def test_rust(self):
        binary = os.path.join(SDK_DIR, "rust-target", "debug", "miroir-sdk-rust")
        if not os.path.exists(binary):
            self.skipTest("the Rust scenario is not built (tests/sdk/install; needs cargo)")
        self.run_scenario([binary])

    def test_go(self):
        binary = os.path.join(SDK_DIR, "go-scenario")
        if not os.path.exists(binary):
            self.skipTest("the Go scenario is not built (tests/sdk/install; needs go)")
        self.run_scenario([binary])


if __name__ == "__main__":
    unittest.main()
