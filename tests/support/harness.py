"""Test harness: starts real miroir processes on free loopback ports and talks HTTP to them.

Every process started here is stopped by the test that started it (or at interpreter exit).
"""
import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

MIROIR_BIN = os.environ.get("MIROIR_BIN", "build/dev/src/miroir")

_live = []


def _kill_leftovers():
    for proc in _live:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


atexit.register(_kill_leftovers)


_handed_out = set()


def make_tls_files(directory):
    """A CA and a certificate it signed for localhost and 127.0.0.1 (openssl), as the paths of
    `ca`, `cert` and `key`."""
    files = {name: os.path.join(directory, f"{name}.pem") for name in ("ca", "ca_key", "cert", "key")}
    csr = os.path.join(directory, "server.csr")
    ext = os.path.join(directory, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=miroir test CA", "-keyout", files["ca_key"], "-out", files["ca"])
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", files["key"], "-out", csr)
    run("openssl", "x509", "-req", "-in", csr, "-CA", files["ca"], "-CAkey", files["ca_key"],
        "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", files["cert"])
    return files


def free_port():
    """A port nothing listens on, never the same one twice in a process: the
    kernel may hand a just-released port out again, and a pod whose metrics
    port equals its API port refuses to start."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_for_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict with lowercase names
        self.body = body

    def json(self):
        return json.loads(self.body)


def request(port, method, path, body=None, headers=None, timeout=10.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def yaml_quote(value):
    return json.dumps(value)


class Miroir:
    """One miroir process with its own config file and log file."""

    def __init__(self, nodes=None, master_key="", admin_key="", extra="", log_format="json",
                 replication_factor=1, metrics_port=None, env=None, task_store=None):
        self.port = free_port()
        self.metrics_port = free_port() if metrics_port is None else metrics_port
        self.dir = tempfile.TemporaryDirectory(prefix="miroir-test-")
        nodes = nodes or [("n0", f"http://127.0.0.1:{free_port()}")]
        # (id, address) or (id, address, replica group)
        node_lines = "\n".join(
            f'    - {{ id: {n[0]}, address: "{n[1]}", replica_group: {n[2] if len(n) > 2 else 0} }}'
            for n in nodes)
        self.config_path = os.path.join(self.dir.name, "miroir.yaml")
        sqlite_store = ("{ backend: sqlite, path: "
                        f"{yaml_quote(os.path.join(self.dir.name, 'tasks.db'))} }}")
        with open(self.config_path, "w") as f:
            f.write(f"""miroir:
  master_key: {yaml_quote(master_key)}
  replication_factor: {replication_factor}
  nodes:
{node_lines}
  task_store: {task_store or sqlite_store}
  admin: {{ api_key: {yaml_quote(admin_key)} }}
  server:
    bind: 127.0.0.1
    port: {self.port}
    metrics_port: {self.metrics_port}
{extra}
""")
        self.log_path = os.path.join(self.dir.name, "miroir.log")
        self.log_format = log_format
        self.env = env
        self.proc = None

    def start(self, wait=True):
        """Starts the process; with `wait`, until it listens."""
        self._log = open(self.log_path, "a")
        env = dict(os.environ)
        for k in [k for k in env if k.startswith("MIROIR_") and k != "MIROIR_BIN"]:
            del env[k]
        env.update(self.env or {})
        self.proc = subprocess.Popen(
            [MIROIR_BIN, "serve", "--config", self.config_path, "--log-format", self.log_format],
            stdout=self._log, stderr=subprocess.STDOUT, env=env)
        _live.append(self.proc)
        if not wait:
            return self
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.proc.kill()
            raise RuntimeError("miroir did not start:\n" + self.log())
        return self

    def request(self, method, path, body=None, headers=None, timeout=10.0):
        return request(self.port, method, path, body, headers, timeout)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def log_records(self):
        records = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
        return records

    def terminate(self, timeout=15.0):
        """SIGTERM, then wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def restart(self):
        """Stops the process and starts it again with the same configuration and files."""
        self.terminate()
        self._log.close()
        return self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.terminate()
        if hasattr(self, "_log"):
            self._log.close()
        self.dir.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def run_cli(*args, env=None, timeout=30):
    full_env = dict(os.environ)
    for k in [k for k in full_env if k.startswith("MIROIR_") and k != "MIROIR_BIN"]:
        del full_env[k]
    full_env.update(env or {})
    return subprocess.run([MIROIR_BIN, *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout)


class RedisServer:
    """A private redis-server on a free port, without persistence; `args` are more of its
    options (a password, TLS, --replicaof). With `tls`, a dict of the files of
    make_tls_files, it listens with TLS only. With `sentinel`, a Sentinel monitoring
    `master` (a RedisServer) as `mymaster`."""

    def __init__(self, args=(), tls=None, sentinel=None, workdir=None):
        self.port = free_port()
        self.proc = None
        self.args = list(args)
        self.tls = tls
        self.sentinel = sentinel
        self.workdir = workdir

    @property
    def url(self):
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}"

    def command_line(self):
        if self.sentinel:
            conf = os.path.join(self.workdir, f"sentinel-{self.port}.conf")
            with open(conf, "w") as f:
                f.write(f"port {self.port}\nbind 127.0.0.1\n"
                        f"sentinel monitor mymaster 127.0.0.1 {self.sentinel.port} 1\n"
                        "sentinel down-after-milliseconds mymaster 1000\n"
                        "sentinel failover-timeout mymaster 4000\n")
            return ["redis-server", conf, "--sentinel"]
        line = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if self.workdir:
            line += ["--dir", self.workdir]
        if self.tls:
            line += ["--port", "0", "--tls-port", str(self.port),
                     "--tls-cert-file", self.tls["cert"], "--tls-key-file", self.tls["key"],
                     "--tls-ca-cert-file", self.tls["ca"], "--tls-auth-clients", "no"]
        else:
            line += ["--port", str(self.port)]
        return line + self.args

    def start(self):
        self.proc = subprocess.Popen(self.command_line(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        _live.append(self.proc)
        wait_for_port(self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def cli(self, *args, password=None):
        """A redis-cli command's output (stripped)."""
        line = ["redis-cli", "-p", str(self.port), "--no-auth-warning"]
        if password:
            line += ["-a", password]
        if self.tls:
            line += ["--tls", "--cacert", self.tls["ca"]]
        out = subprocess.run(line + [str(a) for a in args], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
