"""Dump import: a dump written by one node's `POST /dumps` (the development node, or real
Meilisearch when MEILISEARCH_BIN is set) imported through Miroir over 3 nodes at S=16, RF=2
with `miroir import-dump --wait`: every index, primary key, setting, key and document equals
the source's, and each node holds only its shards' documents (`GET /_miroir/verify`). The
round trip uses the package corpus beside the project (all of it unless MIROIR_DUMP_DOCS says
fewer), else generated documents. Bad uploads get Meilisearch-shaped errors, and a dump that
fails lists what it made."""
import gzip
import io
import json
import os
import random
import tarfile
import tempfile
import time
import unittest

from harness import run_cli
from nodes import Node
from test_search_differential import MASTER, Cluster

NODE_KEY = "node-master-key"
CORPUS = os.environ.get("MIROIR_CORPUS", os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "data", "debian-packages.ndjson.gz"))
DOCS = int(os.environ.get("MIROIR_DUMP_DOCS", "0"))  # 0: the whole corpus
# Bodies of the whole corpus take long on a machine busy with other tests: the calls that move
# them wait this long (seconds) for an answer.
SLOW = 300
SHAPE = {"nodes": 3, "rf": 2, "shards": 16}
PACKAGE_SETTINGS = {
    "searchableAttributes": ["name", "summary", "description", "tags"],
    "filterableAttributes": ["section", "priority", "tags"],
    "sortableAttributes": ["installed_size_kb", "name"],
    "synonyms": {"editor": ["vim", "emacs"], "db": ["database"]},
    "stopWords": ["the", "a"],
}


def corpus_documents():
    if not os.path.exists(CORPUS):
        rng = random.Random(7)
        words = ["alpha", "beta", "gamma", "delta", "editor", "server", "library", "tool"]
        return [{"id": f"p{i}", "name": f"pkg{i}", "summary": " ".join(rng.sample(words, 3)),
                 "section": rng.choice(["web", "libs", "devel"]), "priority": "optional",
                 "tags": rng.sample(words, 2), "installed_size_kb": rng.randint(1, 9000)}
                for i in range(30000)]
    docs = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            docs.append(json.loads(line))
            if DOCS and len(docs) == DOCS:
                break
    return docs


def wait_node_task(node, answer, timeout=600):
    task = node.wait_task(answer.json()["taskUid"], timeout=timeout)
    assert task["status"] == "succeeded", task
    return task


def make_dump(node):
    """Writes the source indexes and keys on `node`, dumps it; the dump's path."""
    docs = corpus_documents()
    for start in range(0, len(docs), 20000):
        r = node.call("POST", "/indexes/packages/documents?primaryKey=id", docs[start:start + 20000],
                      timeout=SLOW)
        wait_node_task(node, r)
    wait_node_task(node, node.call("PATCH", "/indexes/packages/settings", PACKAGE_SETTINGS,
                                        timeout=SLOW))
    wait_node_task(node, node.call("POST", "/indexes/small/documents?primaryKey=sku",
                                   [{"sku": f"s{i}", "title": f"thing {i}", "n": i}
                                    for i in range(50)]))
    wait_node_task(node, node.call("PATCH", "/indexes/small/settings",
                                   {"rankingRules": ["words", "sort", "typo", "proximity",
                                                     "attribute", "exactness"],
                                    "sortableAttributes": ["n"]}))
    wait_node_task(node, node.call("POST", "/indexes", {"uid": "empty", "primaryKey": "key"}))
    for body in ({"uid": "7c2b1f9e-0b1a-4c59-9a3e-1d2f3a4b5c6d", "name": "search packages",
                  "actions": ["search"], "indexes": ["packages"], "expiresAt": None},
                 {"uid": "1f0e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "description": "writer",
                  "actions": ["documents.add", "documents.get"], "indexes": ["small"],
                  "expiresAt": "2099-01-01T00:00:00Z"}):
        r = node.call("POST", "/keys", body)
        assert r.status == 201, r.body
    task = wait_node_task(node, node.call("POST", "/dumps", timeout=SLOW))
    path = os.path.join(node.dir.name, "dumps", task["details"]["dumpUid"] + ".dump")
    deadline = time.monotonic() + 60
    while not os.path.exists(path):  # real Meilisearch renames it into place after the task
        assert time.monotonic() < deadline, path
        time.sleep(0.1)
    return path, len(docs)


def all_documents(node, uid, copies=None):
    """Every document `node` holds in `uid` by id, without Miroir's fields; each id also counted
    in `copies`."""
    out, offset = {}, 0
    while True:
        page = node.call("GET", f"/indexes/{uid}/documents?limit=10000&offset={offset}",
                         timeout=SLOW).json()
        for d in page["results"]:
            key = json.dumps(d.get("id", d.get("sku")))
            out[key] = {k: v for k, v in d.items() if not k.startswith("_miroir")}
            if copies is not None:
                copies[key] = copies.get(key, 0) + 1
        offset += len(page["results"])
        if offset >= page["total"] or not page["results"]:
            return out


def tar_gz(files):
    """A gzip'd tar of {path: bytes}."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


META = json.dumps({"dumpVersion": "V6", "dbVersion": "1.50.0",
                   "dumpDate": "2026-01-01T00:00:00Z"}).encode()


class DumpImport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.source = Node(NODE_KEY).start()
        cls.dump, cls.count = make_dump(cls.source)
        cls.dump_bytes = os.path.getsize(cls.dump)

    @classmethod
    def tearDownClass(cls):
        cls.source.stop()

    def setUp(self):
        self.uploads = tempfile.TemporaryDirectory(prefix="miroir-dumps-")
        self.cluster = Cluster(SHAPE, self.dump_config())

    def dump_config(self, extra=""):
        return f"  dump_import: {{ dir: {json.dumps(self.uploads.name)}{extra} }}\n"

    def tearDown(self):
        self.cluster.stop()
        self.uploads.cleanup()

    def call(self, method, path, body=None, status=None):
        r = self.cluster.call(method, path, body, SLOW)
        if status is not None:
            self.assertEqual(r.status, status, r.body)
        return r

    def upload(self, data, content_type="application/gzip", query=""):
        headers = {"Authorization": f"Bearer {MASTER}", "Content-Type": content_type}
        return self.cluster.m.request("POST", "/_miroir/dumps/import" + query, data, headers,
                                     SLOW)

    def finished(self, uid, timeout=600):
        deadline = time.monotonic() + timeout
        while True:
            s = self.call("GET", f"/_miroir/dumps/import/{uid}/status", status=200).json()
            if s["status"] in ("succeeded", "failed"):
                return s
            self.assertLess(time.monotonic(), deadline, s)
            time.sleep(0.2)

    def peak_rss_kb(self):
        with open(f"/proc/{self.cluster.m.proc.pid}/status") as f:
            return int(next(l for l in f if l.startswith("VmHWM")).split()[1])

    def test_round_trip_equals_the_source(self):
        before = self.peak_rss_kb()
        started = time.monotonic()
        out = run_cli("import-dump", self.dump, "--wait", "--url", f"http://127.0.0.1:{self.cluster.m.port}",
                      "--admin-key", MASTER, timeout=900)
        elapsed = time.monotonic() - started
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("succeeded", out.stdout.splitlines()[-1])
        print(f"\nimported {self.count} documents ({self.dump_bytes} bytes of dump) in "
              f"{elapsed:.1f} s; Miroir peak RSS {before} → {self.peak_rss_kb()} kB",
              flush=True)
        status = self.call("GET", "/_miroir/dumps/import").json()["results"][0]
        self.assertEqual((status["indexesDone"], status["documentsWritten"]),
                         (3, self.count + 50), status)
        self.assertEqual(sorted(status["created"]["indexes"]), ["empty", "packages", "small"])
        for uid in ("packages", "small", "empty"):
            want = self.source.call("GET", f"/indexes/{uid}").json()
            got = self.call("GET", f"/indexes/{uid}", status=200).json()
            self.assertEqual(got["primaryKey"], want["primaryKey"], uid)
            self.assertEqual(self.call("GET", f"/indexes/{uid}/settings").json(),
                             self.source.call("GET", f"/indexes/{uid}/settings").json(), uid)
            # every node's copies together are the source's documents, each on RF nodes
            want, copies, held = all_documents(self.source, uid), {}, {}
            for node in self.cluster.nodes:
                for key, doc in all_documents(node, uid, copies).items():
                    self.assertEqual(held.setdefault(key, doc), doc, (uid, key))
            self.assertEqual(held, want, uid)
            self.assertEqual(set(copies.values()) or {SHAPE["rf"]}, {SHAPE["rf"]}, uid)
            # listed through Miroir in the source's order
            first = self.call("GET", f"/indexes/{uid}/documents?limit=200").json()["results"]
            self.assertEqual(first, self.source.call(
                "GET", f"/indexes/{uid}/documents?limit=200").json()["results"], uid)
        # each node holds its shards' documents and nothing else, replicas agreeing
        verify = self.cluster.m.request("GET", "/_miroir/verify", None,
                                        {"Authorization": f"Bearer {MASTER}"}, 600).json()
        self.assertEqual(verify["status"], "ok", json.dumps(verify)[:2000])
        # the keys, with Miroir's values: a search key works on its index only
        key = self.call("GET", "/keys/7c2b1f9e-0b1a-4c59-9a3e-1d2f3a4b5c6d", status=200).json()
        self.assertEqual((key["name"], key["actions"], key["indexes"]),
                         ("search packages", ["search"], ["packages"]))
        headers = {"Authorization": f"Bearer {key['key']}", "Content-Type": "application/json"}
        # a development node builds an index at its first search, answering nothing meanwhile:
        # built here first, so that Miroir's search is answered by every node
        for node in self.cluster.nodes:
            node.call("POST", "/indexes/packages/search", {"q": "editor"}, timeout=SLOW)
        r = self.cluster.m.request("POST", "/indexes/packages/search", '{"q":"editor"}', headers,
                                  SLOW)
        self.assertEqual(r.status, 200, r.body)
        self.assertNotIn("x-miroir-degraded", r.headers, r.body)
        self.assertGreater(r.json()["estimatedTotalHits"], 0, r.body)
        r = self.cluster.m.request("POST", "/indexes/small/search", '{"q":"thing"}', headers)
        self.assertEqual(r.status, 403, r.body)
        writer = self.call("GET", "/keys/1f0e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", status=200).json()
        self.assertEqual(writer["expiresAt"][:10], "2099-01-01")

    def test_an_import_goes_on_after_a_restart(self):
        self.cluster.stop()  # again with small pieces, one write at a time: a longer import
        self.cluster = Cluster(SHAPE, self.dump_config(", batch_bytes: 65536, tasks_in_flight: 1"))
        with open(self.dump, "rb") as f:
            r = self.upload(f.read())
        self.assertEqual(r.status, 202, r.body)
        uid = r.json()["uid"]
        deadline = time.monotonic() + 600
        while True:
            s = self.call("GET", f"/_miroir/dumps/import/{uid}/status").json()
            if s["phase"] == "documents" and s["documentsWritten"] > 0:
                break
            self.assertNotIn(s["status"], ("succeeded", "failed"), s)
            self.assertLess(time.monotonic(), deadline, s)
            time.sleep(0.05)
        self.assertEqual(len(os.listdir(self.uploads.name)), 1)  # kept until imported
        self.cluster.m.restart()
        s = self.finished(uid)
        self.assertEqual(s["status"], "succeeded", s)
        self.assertEqual(sorted(s["created"]["indexes"]), ["empty", "packages", "small"])
        self.assertEqual(os.listdir(self.uploads.name), [])  # deleted once imported
        verify = self.cluster.m.request("GET", "/_miroir/verify?index=packages", None,
                                        {"Authorization": f"Bearer {MASTER}"}, 600).json()
        self.assertEqual(verify["status"], "ok", json.dumps(verify)[:3000])
        self.assertEqual(verify["indexes"][0]["documents"], self.count)
        # every copy on the nodes: each document on RF of them (the nodes' own counts)
        held = sum(n.call("GET", "/indexes/packages/stats").json()["numberOfDocuments"]
                   for n in self.cluster.nodes)
        self.assertEqual(held, self.count * SHAPE["rf"])

    def test_multipart_and_replace(self):
        small = tar_gz({"metadata.json": META,
                        "indexes/movies/metadata.json": json.dumps(
                            {"uid": "movies", "primaryKey": "id"}).encode(),
                        "indexes/movies/settings.json": json.dumps(
                            {"filterableAttributes": ["year"]}).encode(),
                        "indexes/movies/documents.jsonl": b"".join(
                            json.dumps({"id": i, "year": 2000 + i}).encode() + b"\n"
                            for i in range(30))})
        boundary = "miroir-test-boundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n"
                f"hello\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"dump\"; "
                f"filename=\"movies.dump\"\r\nContent-Type: application/gzip\r\n\r\n").encode() \
            + small + f"\r\n--{boundary}--\r\n".encode()
        r = self.upload(body, f"multipart/form-data; boundary={boundary}")
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(self.finished(r.json()["uid"])["status"], "succeeded")
        r = self.call("POST", "/indexes/movies/search", {"filter": "year > 2020"}).json()
        self.assertEqual(r["estimatedTotalHits"], 9)
        # again: the index exists, nothing is made; with replace it is made again
        again = self.finished(self.upload(small).json()["uid"])
        self.assertEqual((again["status"], again["error"]["code"], again["created"]["indexes"]),
                         ("failed", "index_already_exists", []), again)
        self.call("POST", "/indexes/movies/documents", [{"id": 999, "year": 1}], 202)
        replaced = self.finished(self.upload(small, query="?replace=true").json()["uid"])
        self.assertEqual(replaced["status"], "succeeded", replaced)
        time.sleep(0.5)
        stats = self.call("GET", "/indexes/movies/stats").json()
        self.assertEqual(stats["numberOfDocuments"], 30)

    def test_bad_uploads_are_refused_with_meilisearch_errors(self):
        r = self.upload(b'{"not": "a dump"}', "application/json")
        self.assertEqual((r.status, r.json()["code"]), (415, "invalid_content_type"))
        r = self.upload(b"")
        self.assertEqual((r.status, r.json()["code"]), (400, "miroir_invalid_dump"))
        r = self.upload(b"plain text, not an archive" * 10)
        self.assertEqual((r.status, r.json()["code"], r.json()["type"]),
                         (400, "miroir_invalid_dump", "invalid_request"))
        r = self.cluster.m.request("POST", "/_miroir/dumps/import", b"x",
                                   {"Content-Type": "application/gzip"})
        self.assertEqual(r.status, 401)
        r = self.call("GET", "/_miroir/dumps/import/nope/status", status=404)
        self.assertEqual(r.json()["code"], "miroir_dump_import_not_found")

        def failed(data, code):
            r = self.upload(data)
            self.assertEqual(r.status, 202, r.body)
            s = self.finished(r.json()["uid"])
            self.assertEqual((s["status"], s["error"]["code"]), ("failed", code), s)
            self.assertEqual(s["error"]["type"], "invalid_request", s)
            return s

        s = failed(tar_gz({"hello.txt": b"hi"}), "miroir_invalid_dump")
        self.assertIn("metadata.json", s["error"]["message"])
        self.assertEqual(s["created"], {"indexes": [], "keys": []})
        with open(self.dump, "rb") as f:
            whole = f.read()
        s = failed(whole[:len(whole) // 2], "miroir_invalid_dump")
        self.assertEqual(s["created"], {"indexes": [], "keys": []})
        s = failed(tar_gz({"metadata.json": json.dumps({"dumpVersion": "V5"}).encode()}),
                   "miroir_unsupported_dump_version")
        self.assertIn("V5", s["error"]["message"])
        s = failed(tar_gz({"metadata.json": META,
                           "indexes/bad/metadata.json": b'{"uid":"bad","primaryKey":"id"}',
                           "indexes/bad/documents.jsonl": b'{"id":1}\n{"title":"no id"}\n'}),
                   "missing_document_id")
        self.assertEqual(s["created"]["indexes"], ["bad"])
        self.assertEqual(self.call("GET", "/indexes").json()["total"], 1)  # only `bad`

        self.cluster.stop()  # an upload past dump_import.max_bytes: refused with that limit
        self.cluster = Cluster(SHAPE, self.dump_config(", max_bytes: 1000"))
        r = self.upload(b"\x1f\x8b" + b"x" * 5000)
        self.assertEqual((r.status, r.json()["code"]), (413, "payload_too_large"), r.body)
        self.assertIn("is 1 KB.", r.json()["message"])
        self.assertEqual(os.listdir(self.uploads.name), [])


if __name__ == "__main__":
    unittest.main()
