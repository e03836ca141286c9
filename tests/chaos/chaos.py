"""The fault harness: a fleet of nodes (development nodes, or real Meilisearch with
MEILISEARCH_BIN), a real redis-server with AOF and three Miroir pods sharing it, under a client
load (writes of unique ids and searches, round-robin over the pods, every acknowledged write and
its task recorded) while a schedule of faults is applied. Then a checker asks every node
directly and prints a table; the exit status is 1 when a write was lost or a rule broken.

    python3 tests/chaos/chaos.py [--minutes M] [--seed N]

--minutes repeats the schedule until that long has passed (the short form, one round, takes
about three minutes). Needs MIROIR_BIN and MIROIR_DEVNODE_BIN (scripts/chaos sets them)."""
import argparse
import collections
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from harness import Miroir, RedisServer, request  # noqa: E402
from nodes import Node  # noqa: E402
from placement import owners, shard_of  # noqa: E402

NODE_KEY = "chaos-node-key"
MASTER = "chaos-master-key"
AUTH = {"Authorization": f"Bearer {MASTER}", "Content-Type": "application/json"}
INDEX = "chaos"
SHARDS = 8
RF = 2
NODES = 4
PODS = 3


class Fleet:
    def __init__(self, workdir):
        self.nodes = [Node(NODE_KEY).start() for _ in range(NODES)]
        self.ids = [f"c-{i}" for i in range(NODES)]
        self.redis = RedisServer(workdir=workdir, args=["--appendonly", "yes",
                                                         "--appendfsync", "always"]).start()
        addresses = [(self.ids[i], f"http://127.0.0.1:{n.port}") for i, n in enumerate(self.nodes)]
        extra = (f"  node_master_key: {NODE_KEY}\n  shards: {SHARDS}\n"
                 "  health: { interval_ms: 200 }\n"
                 "  upstream: { write_timeout_ms: 3000 }\n"
                 "  anti_entropy: { interval_s: 86400, documents_per_second: 0 }\n")
        store = (f'{{ backend: redis, url: "{self.redis.url}", command_timeout_ms: 1000, '
                 "poll_interval_ms: 200 }")
        self.pods = [Miroir(nodes=addresses, master_key=MASTER, replication_factor=RF,
                            extra=extra, task_store=store) for _ in range(PODS)]
        for p in self.pods:
            p.start()
        self.real = bool(os.environ.get("MEILISEARCH_BIN"))

    def stop(self):
        for p in self.pods:
            if p.proc and p.proc.poll() is None:
                p.proc.send_signal(signal.SIGCONT)
            p.stop()
        for n in self.nodes:
            if n.proc and n.proc.poll() is None:
                n.proc.send_signal(signal.SIGCONT)
            n.stop()
        if self.redis.proc and self.redis.proc.poll() is None:
            self.redis.proc.send_signal(signal.SIGCONT)
        self.redis.stop()

    def call(self, pod, method, path, body=None, timeout=10.0):
        data = None if body is None else json.dumps(body)
        return request(self.pods[pod].port, method, path, data, AUTH, timeout)


class Load:
    """Writes and searches over the pods until stopped; records what was acknowledged."""

    def __init__(self, fleet, rng):
        self.fleet = fleet
        self.rng = rng
        self.phase = "warmup"
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.next_id = 0
        self.acked = []  # (writer, pod, task uid, ids), in each writer's order
        self.sent = collections.Counter()
        self.failures = collections.Counter()  # (kind, phase, status or error)
        self.all_up_search_failures = 0
        self.samples = {}  # an answer of each kind of failure

    def fail(self, kind, what):
        with self.lock:
            self.failures[(kind, self.phase, what)] += 1

    def writer(self, offset):
        pod = offset
        while not self.stopping.is_set():
            pod = (pod + 1) % PODS
            with self.lock:
                ids = list(range(self.next_id, self.next_id + 5))
                self.next_id += 5
            docs = [{"id": i, "t": f"doc {i}", "n": i % 7} for i in ids]
            self.sent["write"] += 1
            try:
                r = self.fleet.call(pod, "POST", f"/indexes/{INDEX}/documents", docs)
            except OSError as e:
                self.fail("write", type(e).__name__)
                continue
            if r.status == 202:
                with self.lock:
                    self.acked.append((offset, pod, r.json()["taskUid"], ids))
            else:
                self.fail("write", f"{r.status} {r.json().get('code', '') if r.body else ''}")

    def searcher(self, offset):
        pod = offset
        while not self.stopping.is_set():
            pod = (pod + 1) % PODS
            self.sent["search"] += 1
            try:
                r = self.fleet.call(pod, "POST", f"/indexes/{INDEX}/search",
                                    {"q": "doc", "limit": 5})
                ok = r.status == 200
                what = "" if ok else f"{r.status} {r.json().get('code', '') if r.body else ''}"
                if not ok:
                    self.samples.setdefault(what, r.body[:300])
            except OSError as e:
                ok, what = False, type(e).__name__
            if not ok:
                self.fail("search", what)
                if self.pod_up(pod):
                    with self.lock:
                        self.all_up_search_failures += 1
            time.sleep(0.02)

    def pod_up(self, pod):
        return self.fleet.pods[pod].proc.poll() is None and self.phase not in (
            "pod kill", "pod kill mid-rebalance", "rolling restart")

    def start(self):
        self.threads = [threading.Thread(target=self.writer, args=(i,), daemon=True)
                        for i in range(2)]
        self.threads += [threading.Thread(target=self.searcher, args=(i,), daemon=True)
                         for i in range(2)]
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=30)


def wait_ready(pod, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pod.request("GET", "/health").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("a pod did not come back")


def schedule(fleet, load, rng):
    """One round of the faults; returns what was applied, in order."""
    applied = []

    def step(name, seconds):
        load.phase = name
        applied.append(name)
        time.sleep(seconds)

    nodes = fleet.nodes
    victim = rng.randrange(NODES)
    # one node at a time is out: with RF 2 every shard keeps a replica up throughout
    step("steady", 5)

    nodes[victim].kill()
    step("node kill", 8)
    nodes[victim].restart()
    step("node back", 5)

    hung = (victim + 1) % NODES
    nodes[hung].proc.send_signal(signal.SIGSTOP)
    step("node hang", 8)
    nodes[hung].proc.send_signal(signal.SIGCONT)
    step("node resumed", 5)

    if not fleet.real:
        slow = (victim + 2) % NODES
        nodes[slow].call("PUT", "/_devnode/faults", {"routeClass": "all", "latencyMs": 300,
                                                      "latencyFraction": 0.3})
        nodes[slow].call("PUT", "/_devnode/faults", {"routeClass": "writes", "errorRate": 0.2,
                                                      "errorStatus": 500})
        step("latency and errors", 8)
        nodes[slow].call("DELETE", "/_devnode/faults")

    pod = rng.randrange(PODS)
    load.phase = "pod kill"  # before the kill: what the pod was answering is lost with it
    fleet.pods[pod].proc.kill()
    fleet.pods[pod].proc.wait()
    step("pod kill", 3)
    fleet.pods[pod]._log.close()
    fleet.pods[pod].start()
    step("pod back", 3)

    if len(fleet.nodes) == NODES:  # once: a fifth node joins and a pod dies mid-rebalance
        rebalance_with_a_pod_killed(fleet, load, rng)
        applied.append("pod kill mid-rebalance")

    load.phase = "rolling restart"
    applied.append("rolling restart")
    for p in fleet.pods:
        p.restart()
        wait_ready(p)

    fleet.redis.stop()
    fleet.redis.start()
    step("redis restart", 5)

    fleet.redis.stop()
    step("redis outage", 10)
    fleet.redis.start()
    step("redis back", 5)
    return applied


def rebalance_with_a_pod_killed(fleet, load, rng):
    """A node joins (the rebalance moves shards to it); a pod is SIGKILLed while the shards
    move and restarted; the rebalance finishes anyway (another pod takes its lease over)."""
    node = Node(NODE_KEY).start()
    fleet.nodes.append(node)
    fleet.ids.append(f"c-{len(fleet.ids)}")
    load.phase = "rebalance"
    r = fleet.call(0, "POST", "/_miroir/nodes", {"id": fleet.ids[-1],
                                                 "address": f"http://127.0.0.1:{node.port}",
                                                 "group": 0})
    assert r.status == 201, r.body
    r = fleet.call(0, "POST", "/_miroir/rebalance")
    assert r.status == 202, r.body
    time.sleep(1)
    pod = rng.randrange(PODS)
    load.phase = "pod kill mid-rebalance"
    fleet.pods[pod].proc.kill()
    fleet.pods[pod].proc.wait()
    time.sleep(2)
    fleet.pods[pod]._log.close()
    fleet.pods[pod].start()
    load.phase = "rebalance"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = fleet.call((pod + 1) % PODS, "GET", "/_miroir/rebalance/status").json()
        if status.get("state") == "idle" and status.get("balanced"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the rebalance did not finish: {status}")


def settle(fleet, load):
    """Every acknowledged task finished, hints replayed and an anti-entropy pass run."""
    outcome = {}
    for _, _, uid, _ in load.acked:
        deadline = time.monotonic() + 120
        while True:
            r = fleet.call(0, "GET", f"/tasks/{uid}")
            status = r.json().get("status") if r.status == 200 else None
            if status in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
                outcome[uid] = (status, r.json().get("error") if r.status == 200 else r.body)
                break
            time.sleep(0.2)
    deadline = time.monotonic() + 120
    while fleet.call(0, "GET", "/_miroir/hints").json().get("pending") and \
            time.monotonic() < deadline:
        time.sleep(0.5)
    r = fleet.call(0, "POST", "/_miroir/anti-entropy/run", {"index": INDEX})
    asked = r.json()["requestedAt"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = fleet.call(0, "GET", "/_miroir/anti-entropy/status").json()
        entry = next((e for e in state["indexes"] if e["index"] == INDEX), {})
        if entry.get("lastPass", {}).get("finishedAt", 0) >= asked:
            break
        time.sleep(0.5)
    return outcome


def check(fleet, load, outcome):
    """The rules; a list of what broke them."""
    broken = []
    held = []
    for node in fleet.nodes:
        r = node.call("POST", f"/indexes/{INDEX}/documents/fetch",
                      {"limit": 1000000, "fields": ["id"]})
        held.append({str(d["id"]) for d in r.json().get("results", [])} if r.status == 200
                    else set())
    uids = [uid for _, _, uid, _ in load.acked]
    if len(uids) != len(set(uids)):
        broken.append(f"duplicate task uids: {len(uids) - len(set(uids))}")
    # a writer's requests to one pod follow each other: their task uids increase
    last = {}
    for writer, pod, uid, _ in load.acked:
        if (writer, pod) in last and uid <= last[(writer, pod)]:
            broken.append(f"pod {pod} gave writer {writer} task {uid} after {last[(writer, pod)]}")
        last[(writer, pod)] = uid
    lost = 0
    failed_tasks = collections.Counter()
    for _, _, uid, ids in load.acked:
        status, error = outcome[uid]
        if status != "succeeded":
            failed_tasks[f"{status} {error.get('code') if isinstance(error, dict) else ''}"] += 1
            continue
        for i in ids:
            shard = shard_of(str(i), SHARDS)
            for owner in owners(shard, fleet.ids, RF):
                if str(i) not in held[fleet.ids.index(owner)]:
                    lost += 1
                    break
    if lost:
        broken.append(f"{lost} acknowledged documents missing from an owner")
    misplaced = 0
    for n, docs in enumerate(held):
        for i in docs:
            if fleet.ids[n] not in owners(shard_of(i, SHARDS), fleet.ids, RF):
                misplaced += 1
    if misplaced:
        broken.append(f"{misplaced} documents on a node that does not own them")
    if load.all_up_search_failures:
        broken.append(f"{load.all_up_search_failures} searches failed while every shard had a "
                      "replica up")
    return broken, lost, failed_tasks


def report(applied, load, lost, failed_tasks, broken, minutes):
    print(f"\n## Fault harness: {minutes:.1f} min, "
          f"{'Meilisearch' if os.environ.get('MEILISEARCH_BIN') else 'development nodes'}\n")
    print("| measure | value |\n|---|---|")
    print(f"| faults applied | {len(applied)}: {', '.join(dict.fromkeys(applied))} |")
    print(f"| requests sent | {load.sent['write']} writes, {load.sent['search']} searches |")
    print(f"| writes acknowledged | {len(load.acked)} |")
    print(f"| acknowledged tasks not succeeded | {sum(failed_tasks.values())} "
          f"{dict(failed_tasks) if failed_tasks else ''} |")
    print(f"| writes lost | {lost} |")
    print(f"| searches failed while every shard had a replica up | "
          f"{load.all_up_search_failures} |")
    print("\n| failures | phase | answer | count |\n|---|---|---|---|")
    for (kind, phase, what), count in sorted(load.failures.items()):
        print(f"| {kind} | {phase} | {what} | {count} |")
    for what, body in load.samples.items():
        print(f"\n{what}: {body}")
    print("\nverdict:", "clean" if not broken else "BROKEN: " + "; ".join(broken))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    workdir = tempfile.TemporaryDirectory(prefix="miroir-chaos-")
    fleet = Fleet(workdir.name)
    started = time.monotonic()
    try:
        r = fleet.call(0, "POST", "/indexes", {"uid": INDEX, "primaryKey": "id"})
        assert r.status == 202, r.body
        time.sleep(1)
        load = Load(fleet, rng)
        load.start()
        applied = []
        while True:
            applied += schedule(fleet, load, rng)
            if time.monotonic() - started >= args.minutes * 60:
                break
        load.phase = "settle"
        time.sleep(3)
        load.stop()
        outcome = settle(fleet, load)
        broken, lost, failed_tasks = check(fleet, load, outcome)
        report(applied, load, lost, failed_tasks, broken, (time.monotonic() - started) / 60)
        return 1 if broken else 0
    finally:
        fleet.stop()
        workdir.cleanup()


if __name__ == "__main__":
    sys.exit(main())
