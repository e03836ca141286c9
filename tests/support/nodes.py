"""Meilisearch-compatible nodes for tests: the project's development node, or the real
`meilisearch` binary when MEILISEARCH_BIN is set, or an already running Meilisearch when
MEILISEARCH_URL (+ MEILISEARCH_KEY) is set. Each started process is stopped by its test."""
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.parse

from harness import _live, free_port, request, wait_for_port

DEVNODE_BIN = os.environ.get("MIROIR_DEVNODE_BIN", "build/dev/devnode/miroir-devnode")


class Node:
    def __init__(self, master_key="node-master-key"):
        self.master_key = master_key
        self.proc = None
        self.dir = None
        url = os.environ.get("MEILISEARCH_URL")
        if url:
            parsed = urllib.parse.urlparse(url)
            self.port = parsed.port
            self.master_key = os.environ.get("MEILISEARCH_KEY", "")
            self.external = True
        else:
            self.port = free_port()
            self.external = False

    @property
    def kind(self):
        if self.external:
            return "meilisearch (external)"
        return "meilisearch" if os.environ.get("MEILISEARCH_BIN") else "devnode"

    def start(self):
        if self.external:
            return self
        self.dir = tempfile.TemporaryDirectory(prefix="miroir-node-")
        self.log_path = os.path.join(self.dir.name, "node.log")
        return self._spawn()

    def _spawn(self):
        # read at start, so that a benchmark can choose the binary after importing this
        binary = (os.environ.get("MEILISEARCH_BIN")
                  or os.environ.get("MIROIR_DEVNODE_BIN", DEVNODE_BIN))
        # dumps and snapshots in the node's own directory, not the test's working directory
        args = [binary, "--http-addr", f"127.0.0.1:{self.port}", "--db-path",
                os.path.join(self.dir.name, "data.ms"), "--no-analytics",
                "--dump-dir", os.path.join(self.dir.name, "dumps"),
                "--snapshot-dir", os.path.join(self.dir.name, "snapshots")]
        if self.master_key:
            args += ["--master-key", self.master_key]
        self._log = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        _live.append(self.proc)
        wait_for_port(self.port)
        return self

    def kill(self):
        """SIGKILL, keeping the data directory (restart brings the node back on it)."""
        self.proc.kill()
        self.proc.wait()
        self._log.close()

    def restart(self):
        """The process again, on the same port and data directory (a development node keeps
        its data in memory: it comes back empty)."""
        return self._spawn()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.dir:
            self._log.close()
            self.dir.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- client helpers ------------------------------------------------------------------
    def call(self, method, path, body=None, key=None, headers=None, timeout=10.0):
        h = dict(headers or {})
        key = self.master_key if key is None else key
        if key:
            h["Authorization"] = f"Bearer {key}"
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        return request(self.port, method, path, body, h, timeout)

    def wait_task(self, uid, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.call("GET", f"/tasks/{uid}").json()
            if task["status"] in ("succeeded", "failed", "canceled"):
                return task
            time.sleep(0.01)
        raise TimeoutError(f"task {uid} did not finish")

    def run(self, method, path, body=None, headers=None):
        """A write: expects 202, waits for the task, returns it."""
        r = self.call(method, path, body, headers=headers)
        assert r.status == 202, (r.status, r.body)
        return self.wait_task(r.json()["taskUid"])
