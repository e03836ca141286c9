"""A Miroir over several nodes (real Meilisearch with MEILISEARCH_BIN, else development nodes)
on free ports, for the official clients' own suites: prints `URL KEY` and serves until killed.
usage: python3 tests/clients/fleet.py [NODES] [SHARDS]"""
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "support"), os.path.join(HERE, "..", "integration")]
os.environ.setdefault("MIROIR_BIN", os.path.join(HERE, "../../build/dev/src/miroir"))
os.environ.setdefault("MIROIR_DEVNODE_BIN",
                      os.path.join(HERE, "../../build/dev/devnode/miroir-devnode"))

from test_search_differential import MASTER, Cluster  # noqa: E402

nodes = int(sys.argv[1]) if len(sys.argv) > 1 else 3
shards = int(sys.argv[2]) if len(sys.argv) > 2 else 8
cluster = Cluster({"nodes": nodes, "rf": 1, "shards": shards})
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the nodes and Miroir too
print(f"http://127.0.0.1:{cluster.m.port} {MASTER}", flush=True)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    pass
finally:
    cluster.stop()
