#!/usr/bin/env python3
"""What Miroir costs, at fixed concurrency: the same corpus and search mix, driven by wrk, against
one development node directly, through nginx as a plain reverse proxy in front of that node (the
floor for any proxy), through Miroir in front of that node (S = 1: pure proxy cost), and through
Miroir over three nodes (S = 64, RF 1). Reports requests/s and wrk's latency percentiles at
the given concurrency, latency again with one connection (the added cost per request), the
ratios Miroir/direct and Miroir/nginx from the same run, the CPU time the serving process
spends per request in the one-connection run (less noisy than the latency on a shared
machine), and Miroir's resident memory at idle and after the load.

usage: bench/throughput.py [--docs 100000] [--seconds 10] [--connections 16]
       [--miroir build/release/src/miroir] [--devnode build/release/devnode/miroir-devnode]
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from ingest import (binary_arguments, client, cpu_seconds, load_index,  # noqa: E402
                    rss_kb, summary_queries, use_binaries)

NODE_KEY = "bench-node-key"
MASTER = "bench"
SETTINGS = {"searchableAttributes": ["name", "summary", "tags"],
            "filterableAttributes": ["section", "priority"]}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(port, key, docs):
    call = client(port, key)
    load_index(call, SETTINGS, docs)
    status, _ = call("POST", "/indexes/bench/search", {"q": "warmup"})
    assert status == 200


def wrk_script(directory, name, key, queries):
    """A wrk script cycling through the search bodies."""
    bodies = ",\n".join(json.dumps(json.dumps({"q": q, "limit": 20})) for q in queries)
    path = os.path.join(directory, name + ".lua")
    with open(path, "w") as f:
        f.write(f"""
local bodies = {{
{bodies}
}}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "/indexes/bench/search", nil, bodies[i])
end
""")
    return path


def ms(text):
    value = float(re.match(r"[\d.]+", text).group())
    return value / 1000 if text.endswith("us") else value * 1000 if text.endswith(
        "s") and not text.endswith("ms") else value


def run_one(port, script, seconds, connections, pid=None):
    """requests/s, p50, p99 and, with `pid`, that process's CPU microseconds per request."""
    threads = min(2, connections)
    before = cpu_seconds(pid) if pid else 0
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script,
         f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - before if pid else 0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    count = int(re.search(r"(\d+) requests in", out).group(1))
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert not errors, out
    return rps, ms(pct["50"]), ms(pct["99"]), cpu * 1e6 / max(count, 1)


def run_wrk(port, script, seconds, connections, pid):
    """Throughput and latency at `connections`, then latency with one connection and the CPU
    time per request of the process `pid` during that run."""
    loaded = run_one(port, script, seconds, connections)
    alone = run_one(port, script, seconds, 1, pid)
    return loaded[:3] + alone[1:]


def rss_mb(pid, field="VmRSS"):
    return rss_kb(pid, field) / 1024


def nginx(directory, upstream_port):
    port = free_port()
    conf = os.path.join(directory, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {directory}/body;
  proxy_temp_path {directory}/proxy;
  fastcgi_temp_path {directory}/fastcgi;
  uwsgi_temp_path {directory}/uwsgi;
  scgi_temp_path {directory}/scgi;
  upstream node {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://node;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
""")
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", directory],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from harness import wait_for_port  # noqa: E402
    wait_for_port(port)
    worker = int(subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True,
                                check=True).stdout.split()[0])
    return proc, port, worker


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--markdown", help="also write the table to this file")
    binary_arguments(ap)
    args = ap.parse_args()
    use_binaries(args)
    from devnode_search import load_corpus  # noqa: E402
    from harness import Miroir  # noqa: E402
    from nodes import Node  # noqa: E402

    docs = load_corpus(args.docs)
    queries = summary_queries(docs, args.queries, 42)
    rows, memory = [], {}
    with tempfile.TemporaryDirectory(prefix="miroir-bench-") as tmp:
        node_script = wrk_script(tmp, "node", NODE_KEY, queries)
        miroir_script = wrk_script(tmp, "miroir", MASTER, queries)
        with Node(NODE_KEY) as node:
            load(node.port, NODE_KEY, docs)
            rows.append(("direct, one node", run_wrk(node.port, node_script, args.seconds,
                                                     args.connections, node.proc.pid)))
            proxy, port, worker = nginx(tmp, node.port)
            try:
                rows.append(("nginx in front of the node",
                             run_wrk(port, node_script, args.seconds, args.connections, worker)))
            finally:
                proxy.terminate()
                proxy.wait()
            extra = f"  node_master_key: {NODE_KEY}\n  shards: 1\n"
            with Miroir(nodes=[("n0", f"http://127.0.0.1:{node.port}")], master_key=MASTER,
                        replication_factor=1, extra=extra, log_format="json") as m:
                client(m.port, MASTER)("GET", "/indexes/bench")  # learns the index
                memory["idle"] = rss_mb(m.proc.pid)
                rows.append(("Miroir in front of the node (S=1)",
                             run_wrk(m.port, miroir_script, args.seconds, args.connections,
                                     m.proc.pid)))
                memory["after load"] = rss_mb(m.proc.pid)
                memory["peak"] = rss_mb(m.proc.pid, "VmHWM")
        nodes = [Node(NODE_KEY).start() for _ in range(3)]
        try:
            extra = f"  node_master_key: {NODE_KEY}\n  shards: 64\n"
            with Miroir(nodes=[(f"n{i}", f"http://127.0.0.1:{n.port}")
                               for i, n in enumerate(nodes)], master_key=MASTER,
                        replication_factor=1, extra=extra, log_format="json") as m:
                load(m.port, MASTER, docs)
                rows.append(("Miroir over three nodes (S=64)",
                             run_wrk(m.port, miroir_script, args.seconds, args.connections,
                                     m.proc.pid)))
                memory["three nodes, after load"] = rss_mb(m.proc.pid)
        finally:
            for n in nodes:
                n.stop()

    direct, proxied, miroir = rows[0][1], rows[1][1], rows[2][1]
    lines = [f"{args.docs} documents, {len(queries)} search bodies in turn, wrk -t2 "
             f"-c{args.connections} -d{args.seconds}s, keep-alive", "",
             f"| path | requests/s (c{args.connections}) | p50 (c{args.connections}) | "
             f"p99 (c{args.connections}) | p50 (c1) | p99 (c1) | CPU per request (c1) |",
             "|---|---|---|---|---|---|---|"]
    for name, (rps, p50, p99, p50_1, p99_1, cpu) in rows:
        lines.append(f"| {name} | {rps:.0f} | {p50:.2f} ms | {p99:.2f} ms | {p50_1:.2f} ms | "
                     f"{p99_1:.2f} ms | {cpu:.0f} µs |")
    lines += ["", "| ratio (same run) | value |", "|---|---|",
              f"| Miroir/direct throughput (S=1) | {miroir[0] / direct[0]:.2f} |",
              f"| Miroir/nginx throughput (S=1) | {miroir[0] / proxied[0]:.2f} |",
              f"| Miroir p50 added over direct, one connection (S=1) | "
              f"{miroir[3] - direct[3]:+.2f} ms |",
              f"| nginx p50 added over direct, one connection | {proxied[3] - direct[3]:+.2f} ms |",
              f"| Miroir p50 added over nginx, one connection (S=1) | "
              f"{miroir[3] - proxied[3]:+.2f} ms |",
              f"| Miroir/nginx CPU per request, one connection (S=1) | "
              f"{miroir[5] / max(proxied[5], 1):.1f} |", "",
              "(CPU per request: the serving process's user and system time during the "
              "one-connection run, over its requests: the node itself on the first row, the "
              "proxy on the others)", "",
              "| Miroir resident memory | MB |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in memory.items()]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
