"""What the bench scripts share: a free port, CPU seconds of a process, a fresh database per backend
(a data directory; a new PostgreSQL database on the admin URL's server), `pim admin bootstrap` and a
`pim serve` child process.

Imported by bench/cold_start.py and bench/durable_writes.py (they run from any directory: each puts
its own directory on sys.path)."""

import http.client
import os
import signal
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PIM = os.path.join(ROOT, "target", "release", "pim")
DEFAULT_PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def pg_admin_url():
    """PIM_BENCH_POSTGRES_URL or the local server's postgres database."""
    return os.environ.get("PIM_BENCH_POSTGRES_URL", DEFAULT_PG_ADMIN_URL)


def require_pim(pim):
    if not os.access(pim, os.X_OK):
        raise SystemExit(f"{pim} is missing: cargo build --release -p pim")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def load_average():
    """The three load averages, as strings."""
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def cpu_seconds(pid="self"):
    """User + system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def psql(url, sql, check=True):
    """One statement through psql; its unaligned, tuples-only output."""
    return subprocess.run(["psql", "-X", "-q", "-At", url, "-c", sql], check=check, capture_output=True,
                          text=True).stdout


def pg_database_url(admin_url, name):
    """The URL of database `name` on the admin URL's server."""
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def create_pg_database(admin_url, name):
    """A new, empty PostgreSQL database (dropped first if it exists). Returns its URL."""
    psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(admin_url, f"CREATE DATABASE {name}")
    return pg_database_url(admin_url, name)


def drop_pg_database(admin_url, name):
    psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", check=False)


def server_target(data_dir, pg_url=None):
    """`pim serve` / `pim admin bootstrap` arguments for a backend: SQLite in the data directory, or
    PostgreSQL at pg_url (the secret key file still lives in the data directory)."""
    if pg_url:
        return ["--database", pg_url, "--data-dir", data_dir]
    return ["--data-dir", data_dir]


def bootstrap(pim, target, username, password):
    """`pim admin bootstrap` with the first admin's password on stdin."""
    subprocess.run([pim, "admin", "bootstrap", *target, "--username", username, "--password-stdin"],
                   input=password + "\n", text=True, check=True, capture_output=True)


class Server:
    """`pim serve` on a free loopback port, its output appended to logpath; t0 is its spawn time."""

    def __init__(self, pim, target, logpath):
        self.port = free_port()
        self.logpath = logpath
        self.log = open(logpath, "ab")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [pim, "serve", "--listen", f"127.0.0.1:{self.port}", *target],
            stdout=self.log, stderr=self.log, env={**os.environ, "RUST_LOG": "info,sqlx=warn", "NO_COLOR": "1"},
        )

    def wait_healthy(self, limit_s=120):
        """Polls GET /healthz until it answers 200."""
        deadline = time.monotonic() + limit_s
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}; see {self.logpath}")
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer in time")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/healthz")
                ok = c.getresponse().status == 200
                c.close()
                if ok:
                    return
            except OSError:
                pass
            time.sleep(0.05)

    def stop(self):
        """SIGTERM (a clean shut-down), SIGKILL after 30 s."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def kill(self):
        """SIGKILL: no clean shut-down, so what was acknowledged must already be on disk."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.log.close()
