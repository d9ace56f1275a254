#!/usr/bin/env python3
"""Cold start at scale: how long `pim serve` takes, from its spawn, to answer correct checks over a
database of about 1,000,000 assignments (bench/seed_bulk.py), on SQLite and on PostgreSQL, side by side.

    cargo build --release -p pim && python3 bench/cold_start.py

For each backend: a fresh database (a temporary data directory; a new PostgreSQL database on
PIM_BENCH_POSTGRES_URL's server, dropped at the end), `pim admin bootstrap`, the bulk world, one
start to sign in (its time is reported apart: it is the first start of a new database), then RUNS
starts, each timed from the spawn to the first moment both probe checks (allowed through a nested
group, denied) answer what the world says. The server binds its port before it loads its index,
so a check sent early waits in the accept queue and its answer is the "ready" moment. Prints one
line per run and the medians; `--json FILE` writes everything. The operating system's page cache
is warm (the database was just written): this is a process restart, as after a deploy or a crash.

Knobs: --workdir DIR (keep the seeded worlds there and reuse them next time), --runs (5), --assignments (1,000,000), --backends (sqlite,postgres),
PIM_BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/postgres: a database on it is created
and dropped), --pim (target/release/pim).
"""

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _pim  # noqa: E402
from _pim import DEFAULT_PIM, ROOT, bootstrap, create_pg_database, drop_pg_database, load_average, \
    pg_database_url, require_pim, server_target  # noqa: E402

PASSWORD = "cold-start-password-1"


def log(msg):
    print(f"[cold_start] {msg}", file=sys.stderr, flush=True)


def post(port, path, body, token=None, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    c.request("POST", path, json.dumps(body), headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data else None


def phases(logpath):
    """The fields of the last start's "access index loaded" and "store and engine open" log lines."""
    out = {}
    with open(logpath, errors="replace") as f:
        for line in f:
            if "access index loaded" in line or "store and engine open" in line:
                for k, v in re.findall(r"(\w+)=(\d+)", line):
                    out["openMs" if k == "ms" else k] = int(v)
    return out


def memory_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":")
                out[k] = int(v.split()[0])
    return out


class Server(_pim.Server):
    """`pim serve`, timed from its spawn until it answers correct checks."""

    def wait_ready(self, token, checks, limit_s=300):
        """Seconds from the spawn until every check answers as expected (with a token: else until /healthz)."""
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}; see its log")
            if time.monotonic() - self.t0 > limit_s:
                raise SystemExit("the server was not ready in time")
            try:
                if token is None:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=limit_s)
                    c.request("GET", "/healthz")
                    ok = c.getresponse().status == 200
                    c.close()
                else:
                    ok = True
                    for check in checks:
                        status, answer = post(self.port, "/api/v1/check", check["body"], token, limit_s)
                        if status != 200 or answer.get("allowed") is not check["allowed"]:
                            raise SystemExit(f"a probe check answered {status} {answer}, expected allowed={check['allowed']}")
                if ok:
                    return time.monotonic() - self.t0
            except (ConnectionRefusedError, ConnectionResetError):
                time.sleep(0.002)


def run_backend(name, pim, args, tmp, pg_admin_url):
    data = os.path.join(tmp, f"{name}-data")
    state_path = os.path.join(tmp, f"{name}-state.json")
    pg_db = None
    if name == "sqlite":
        target = server_target(data)
        seed_target = ["--sqlite", os.path.join(data, "pim.db")]
    else:
        # A kept world's database is named after its work directory, so two directories never share one.
        pg_db = (f"pim_cold_start_{re.sub('[^a-z0-9]', '_', os.path.basename(os.path.normpath(args.workdir)).lower())}"
                 if args.workdir else f"pim_cold_start_{os.getpid()}")
        url = pg_database_url(pg_admin_url, pg_db)
        target = server_target(data, url)
        seed_target = ["--postgres", url]
    reuse = args.workdir and os.path.exists(state_path)
    try:
        if reuse:
            state = json.load(open(state_path))
            world, token, first_s = state["world"], state["token"], state["firstStartSeconds"]
            log(f"{name}: reusing the world seeded earlier in {tmp}")
        else:
            if pg_db:
                create_pg_database(pg_admin_url, pg_db)
            bootstrap(pim, target, "admin", PASSWORD)
            t = time.monotonic()
            seeded = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "seed_bulk.py"), *seed_target,
                                     "--assignments", str(args.assignments)], check=True, capture_output=True, text=True)
            world = json.loads(seeded.stdout)
            log(f"{name}: seeded {world['counts']} in {time.monotonic() - t:.1f} s")
            first = Server(pim, target, os.path.join(tmp, f"{name}-server.log"))
            first_s = first.wait_ready(None, [])
            status, login = post(first.port, "/api/v1/auth/login", {"username": "admin", "password": PASSWORD})
            if status != 200:
                raise SystemExit(f"sign-in answered {status} {login}")
            token = login["token"]
            first.wait_ready(token, world["checks"])
            first.stop()
            log(f"{name}: first start (new database) ready in {first_s:.2f} s")
            if args.workdir:
                json.dump({"world": world, "token": token, "firstStartSeconds": first_s}, open(state_path, "w"))
        runs = []
        for i in range(args.runs):
            runlog = os.path.join(tmp, f"{name}-run{i + 1}.log")
            if os.path.exists(runlog):
                os.remove(runlog)
            s = Server(pim, target, runlog)
            ready = s.wait_ready(token, world["checks"])
            mem = memory_kb(s.proc.pid)
            s.stop()
            runs.append({"readySeconds": round(ready, 3), "rssMB": round(mem["VmRSS"] / 1024),
                         "peakRssMB": round(mem["VmHWM"] / 1024), "phases": phases(runlog)})
            log(f"{name}: run {i + 1}: ready {ready:.2f} s, RSS {runs[-1]['rssMB']} MB, peak {runs[-1]['peakRssMB']} MB, "
                f"phases {runs[-1]['phases']}")
        return {"backend": name, "world": world["counts"], "firstStartSeconds": round(first_s, 3), "runs": runs,
                "medianReadySeconds": round(statistics.median(r["readySeconds"] for r in runs), 3)}
    finally:
        if pg_db and not args.workdir:
            drop_pg_database(pg_admin_url, pg_db)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pim", default=DEFAULT_PIM)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--assignments", type=int, default=1_000_000)
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--workdir", help="keep the seeded worlds here (and the PostgreSQL database pim_cold_start_<its name>) "
                   "and reuse them on the next run with the same directory")
    args = p.parse_args()
    pg_admin_url = _pim.pg_admin_url()
    require_pim(args.pim)
    tmp = args.workdir or tempfile.mkdtemp(prefix="pim-cold-start.")
    os.makedirs(tmp, exist_ok=True)
    results = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "nproc": os.cpu_count(),
               "loadBefore": load_average(), "backends": []}
    try:
        for name in args.backends.split(","):
            results["backends"].append(run_backend(name, args.pim, args, tmp, pg_admin_url))
    finally:
        if not args.workdir:
            shutil.rmtree(tmp, ignore_errors=True)
    results["loadAfter"] = load_average()
    for b in results["backends"]:
        print(f"{b['backend']}: {sum(b['world'].values()):,} rows, ready in a median {b['medianReadySeconds']:.2f} s "
              f"over {len(b['runs'])} starts (first start {b['firstStartSeconds']:.2f} s); "
              f"peak RSS {max(r['peakRssMB'] for r in b['runs'])} MB")
    print(f"load average before {' '.join(results['loadBefore'])}, after {' '.join(results['loadAfter'])}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
