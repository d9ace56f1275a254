#!/usr/bin/env python3
"""Durable writes: activations per second through the API beside the raw durable insert rate of the same database.

    cargo build --release -p pim && python3 bench/durable_writes.py

For each backend (SQLite, then PostgreSQL) in one run: a fresh database (a temporary data
directory; a new PostgreSQL database on PIM_BENCH_POSTGRES_URL's server, dropped at the end),
`pim admin bootstrap`, `pim serve`, and through the API: a custom role, its settings at /durable
(no MFA, no approval, a justification required, which every activation sends), and CLIENTS users,
each with its own password, session token and an eligible assignment of the role at
/durable/cN. Then ROUNDS rounds, each of two phases of SECONDS seconds:

- raw: CLIENTS threads (SQLite: Python's sqlite3, one connection each, WAL and synchronous=FULL
  as crates/pim-store/src/store.rs sets them, queued on one lock as pim's writers are; PostgreSQL: pgbench -c CLIENTS, prepared
  statements) each inserting one small row per transaction into a table `durable_raw` of the
  same database as fast as they can;
- pim: CLIENTS threads, each with its own keep-alive connection and its own user's token, each
  activating (`POST /api/v1/requests` selfActivate) at a new scope /durable/cN/sK every time, so
  every activation is a new assignment (no deactivation in between), counting the 201s.

Afterwards the audit chain is verified through the API (`POST /api/v1/audit/verify`), the server
is killed with SIGKILL (no clean shut-down), and the database is read directly: every
acknowledged activation must be there as an active assignment with its request and its
`request.selfActivate` success event. Prints the medians and the ratio pim / raw per backend and
the CPU seconds the server and this client spent in the pim phases (the client must not be the
bottleneck), and group commit's batches in each pim phase from `/metrics` (`pim_write_batch_requests`,
`pim_write_batch_seconds`: how many, their mean size and lock time, the share per bucket);
`--json FILE` writes everything.

Knobs: --seconds (10), --rounds (3), --clients (8), --backends (sqlite,postgres),
PIM_BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/postgres), --pim (target/release/pim),
--keep (keep the temporary directory and the PostgreSQL database), --perf PREFIX (perf record the
server during each pim phase into PREFIX.<backend>.<round>).
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _pim import DEFAULT_PIM, Server, bootstrap, cpu_seconds, create_pg_database, drop_pg_database, \
    load_average, pg_admin_url as default_pg_admin_url, psql, require_pim, server_target  # noqa: E402

ADMIN_PASSWORD = "durable-bench-admin-1"
USER_PASSWORD = "durable-bench-user-pw-1"
SCOPE = "/durable"


def log(msg):
    print(f"[durable_writes] {msg}", file=sys.stderr, flush=True)


class Client:
    """One keep-alive HTTP connection with a bearer token."""

    def __init__(self, port, token=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = token

    def call(self, method, path, body=None):
        headers = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw else None)

    def must(self, method, path, body=None, expect=(200, 201, 204)):
        status, answer = self.call(method, path, body)
        if status not in expect:
            raise SystemExit(f"{method} {path} answered {status}: {answer}")
        return answer

    def close(self):
        self.conn.close()


def setup_world(port, clients):
    """The role, its settings, the users, their tokens and eligibilities. Returns (role id, tokens)."""
    admin = Client(port)
    token = admin.must("POST", "/api/v1/auth/login", {"username": "admin", "password": ADMIN_PASSWORD})["token"]
    admin.token = token
    role = admin.must("POST", "/api/v1/roles", {"name": "Durable Bench", "description": "bench/durable_writes.py",
                                                "permissions": {"actions": ["bench.durable.use"]}})["id"]
    settings = {"activationMaxMinutes": 60, "requireMfaOnActivation": False,
                "requireJustificationOnActivation": True, "requireApprovalToActivate": False}
    admin.must("PUT", f"/api/v1/roles/{role}/settings?scope={SCOPE}", settings)
    tokens = []
    for i in range(clients):
        name = f"durable-{i}"
        uid = admin.must("POST", "/api/v1/users", {"name": name, "password": USER_PASSWORD})["id"]
        admin.must("POST", "/api/v1/requests", {"action": "adminAssign", "principalId": uid, "roleId": role,
                                                "scope": f"{SCOPE}/c{i}", "kind": "eligible",
                                                "justification": "durable bench"}, expect=(201,))
        login = Client(port)
        tokens.append(login.must("POST", "/api/v1/auth/login", {"username": name, "password": USER_PASSWORD})["token"])
        login.close()
    return admin, role, tokens


def pim_phase(port, role, tokens, seconds, round_no, acked):
    """CLIENTS threads activating at new scopes for `seconds`. Returns the figures of the phase."""
    stop_at = [0.0]
    counts = [0] * len(tokens)
    errors = []
    barrier = threading.Barrier(len(tokens) + 1)

    def worker(i):
        c = Client(port, tokens[i])
        mine = acked[i]
        k = 0
        barrier.wait()
        while time.monotonic() < stop_at[0]:
            k += 1
            body = {"action": "selfActivate", "roleId": role, "scope": f"{SCOPE}/c{i}/r{round_no}-{k}",
                    "durationMinutes": 30, "justification": "durable bench"}
            status, answer = c.call("POST", "/api/v1/requests", body)
            if status != 201 or answer["request"]["status"] != "Provisioned" or not answer.get("assignment"):
                errors.append((status, answer))
                break
            mine.append((answer["request"]["id"], answer["assignment"]["id"]))
            counts[i] += 1
        c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    stop_at[0] = wall0 + seconds
    barrier.wait()
    for t in threads:
        t.join()
    wall = time.monotonic() - wall0
    if errors:
        raise SystemExit(f"an activation failed: {errors[0]}")
    n = sum(counts)
    return {"activations": n, "seconds": round(wall, 3), "perSecond": round(n / wall, 1),
            "clientCpuSeconds": round(cpu_seconds() - cpu0, 2)}


def scrape_batches(port):
    """pim_write_batch_{requests,seconds} from /metrics: {name: {"buckets": {le: n}, "sum": x, "count": n}}
    (empty for a pim without them)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    out = {}
    for line in text.splitlines():
        m = re.match(r'(pim_write_batch_(?:requests|seconds))_(bucket|sum|count)(?:\{le="([^"]+)"\})? (\S+)$', line)
        if not m:
            continue
        h = out.setdefault(m.group(1), {"buckets": {}, "sum": 0.0, "count": 0})
        if m.group(2) == "bucket":
            h["buckets"][m.group(3)] = int(m.group(4))
        else:
            h[m.group(2)] = float(m.group(4))
    return out


def batch_figures(before, after):
    """The batches of a phase (the difference of two scrapes): per histogram its count, mean and the share
    of batches in each bucket (not cumulative)."""
    figures = {}
    for name, h in after.items():
        b = before.get(name, {"buckets": {}, "sum": 0.0, "count": 0})
        n = h["count"] - b["count"]
        if n <= 0:
            continue
        prev, shares = 0, {}
        for le, cum in h["buckets"].items():
            cum -= b["buckets"].get(le, 0)
            if cum - prev:
                shares[le] = round((cum - prev) / n, 3)
            prev = cum
        figures[name.removeprefix("pim_write_batch_")] = {"batches": int(n), "mean": (h["sum"] - b["sum"]) / n,
                                                           "shareByBucket": shares}
    return figures


def sqlite_raw_phase(db, clients, seconds):
    """CLIENTS threads, one connection each, one row per transaction, at pim's durability."""
    setup = sqlite3.connect(db, isolation_level=None, timeout=30)
    setup.executescript("PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS durable_raw "
                        "(id INTEGER PRIMARY KEY, client INTEGER NOT NULL, at REAL NOT NULL);")
    pragmas = [r[0] for r in setup.execute("PRAGMA journal_mode")] + \
        [r[0] for r in setup.execute("PRAGMA synchronous")]
    setup.close()
    counts = [0] * clients
    barrier = threading.Barrier(clients + 1)
    stop_at = [0.0]
    # SQLite has one writer at a time; like pim's own writer mutex (crates/pim-store/src/store.rs),
    # waiting writers queue on a lock instead of sleeping in SQLite's busy handler.
    writer = threading.Lock()

    def worker(i):
        c = sqlite3.connect(db, isolation_level=None, timeout=30, check_same_thread=False)
        c.executescript("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
        assert c.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        barrier.wait()
        while time.monotonic() < stop_at[0]:
            with writer:
                c.execute("BEGIN IMMEDIATE")
                c.execute("INSERT INTO durable_raw (client, at) VALUES (?, ?)", (i, time.time()))
                c.execute("COMMIT")
            counts[i] += 1
        c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    wall0 = time.monotonic()
    stop_at[0] = wall0 + seconds
    barrier.wait()
    for t in threads:
        t.join()
    wall = time.monotonic() - wall0
    return {"inserts": sum(counts), "seconds": round(wall, 3), "perSecond": round(sum(counts) / wall, 1),
            "journalMode": pragmas[0]}


def pg_raw_phase(url, clients, seconds, tmp):
    psql(url, "CREATE TABLE IF NOT EXISTS durable_raw (id BIGSERIAL PRIMARY KEY, client INT NOT NULL, "
              "at TIMESTAMPTZ NOT NULL)")
    script = os.path.join(tmp, "raw.sql")
    with open(script, "w") as f:
        f.write("INSERT INTO durable_raw (client, at) VALUES (:client_id, now());\n")
    out = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(seconds),
                          "-f", script, url], check=True, capture_output=True, text=True).stdout
    tps = re.search(r"tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)",
                    out)
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    if not tps:
        raise SystemExit(f"no tps in pgbench's output: {out}")
    return {"inserts": int(done.group(1)) if done else None, "seconds": seconds, "perSecond": round(float(tps.group(1)), 1)}


VERIFY_SQL = {
    "assignments": f"SELECT id FROM assignments WHERE kind = 'active' AND scope LIKE '{SCOPE}/%'",
    "requests": "SELECT id FROM requests WHERE action = 'selfActivate' AND status = 'Provisioned'",
    "events": "SELECT request_id FROM audit_events WHERE action = 'request.selfActivate' AND outcome = 'success'",
}


def verify_store(read_ids, acked):
    """Every acknowledged activation is in the store with its request and its audit event."""
    got = {k: read_ids(sql) for k, sql in VERIFY_SQL.items()}
    pairs = [p for mine in acked for p in mine]
    missing = {
        "assignments": sum(1 for _, a in pairs if a not in got["assignments"]),
        "requests": sum(1 for r, _ in pairs if r not in got["requests"]),
        "events": sum(1 for r, _ in pairs if r not in got["events"]),
    }
    return {"acknowledged": len(pairs), "inStore": {k: len(v) for k, v in got.items()}, "missing": missing,
            "ok": not any(missing.values())}


def run_backend(name, args, tmp, pg_admin_url):
    data = os.path.join(tmp, f"{name}-data")
    pg_db = None
    if name == "sqlite":
        target = server_target(data)
        db_path = os.path.join(data, "pim.db")
    else:
        pg_db = f"pim_durable_{os.getpid()}"
        url = create_pg_database(pg_admin_url, pg_db)
        target = server_target(data, url)
        if args.pg_log_statements:
            # Every statement and its duration in the server's log (%d names the database).
            psql(pg_admin_url, f"ALTER DATABASE {pg_db} SET log_min_duration_statement = 0")
    server = None
    try:
        bootstrap(args.pim, target, "admin", ADMIN_PASSWORD)
        server = Server(args.pim, target, os.path.join(tmp, f"{name}-server.log"))
        server.wait_healthy()
        admin, role, tokens = setup_world(server.port, args.clients)
        durability = {}
        if pg_db:
            durability = {k: psql(url, f"SHOW {k}").strip() for k in ("fsync", "synchronous_commit", "wal_sync_method",
                                                                       "commit_delay", "full_page_writes")}
        else:
            durability = {"journal_mode": "wal", "synchronous": "FULL"}
        log(f"{name}: {args.clients} users eligible at {SCOPE}/cN; durability {durability}")
        acked = [[] for _ in tokens]
        rounds = []
        for r in range(1, args.rounds + 1):
            raw = sqlite_raw_phase(db_path, args.clients, args.seconds) if not pg_db else \
                pg_raw_phase(url, args.clients, args.seconds, tmp)
            perf = None
            if args.perf:
                # The server's CPU profile over the pim phase (perf report -i FILE; bench/perf_split.py).
                perf = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-p", str(server.proc.pid),
                                         "-o", f"{args.perf}.{name}.{r}"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                time.sleep(0.5)
            s0 = cpu_seconds(server.proc.pid)
            m0 = scrape_batches(server.port)
            api = pim_phase(server.port, role, tokens, args.seconds, r, acked)
            api["serverCpuSeconds"] = round(cpu_seconds(server.proc.pid) - s0, 2)
            api["writeBatches"] = batch_figures(m0, scrape_batches(server.port))
            api["serverCpuMsPerActivation"] = round(1000 * api["serverCpuSeconds"] / max(api["activations"], 1), 3)
            if perf:
                perf.send_signal(signal.SIGINT)
                perf.wait()
            api["ratio"] = round(api["perSecond"] / raw["perSecond"], 3)
            rounds.append({"round": r, "raw": raw, "pim": api, "load1": float(load_average()[0])})
            log(f"{name}: round {r}: raw {raw['perSecond']:.0f} inserts/s, pim {api['perSecond']:.0f} activations/s "
                f"(ratio {api['ratio']:.2f}; server CPU {api['serverCpuSeconds']} s = "
                f"{api['serverCpuMsPerActivation']:.2f} ms per activation, client CPU "
                f"{api['clientCpuSeconds']} s over {api['seconds']} s)")
            wb = api["writeBatches"]
            if wb.get("requests") and wb.get("seconds"):
                log(f"{name}: round {r}: {wb['requests']['batches']} batches, {wb['requests']['mean']:.2f} requests "
                    f"and {1000 * wb['seconds']['mean']:.2f} ms of batch lock each; requests per batch by bucket "
                    f"{wb['requests']['shareByBucket']}, lock held by bucket (s) {wb['seconds']['shareByBucket']}")
        chain = admin.must("POST", "/api/v1/audit/verify", {})
        admin.close()
        server.kill()
        server = None
        if pg_db:
            def read_ids(sql):
                return set(psql(url, sql).split())
        else:
            def read_ids(sql):
                c = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
                ids = {row[0] for row in c.execute(sql)}
                c.close()
                return ids
        stored = verify_store(read_ids, acked)
        log(f"{name}: audit chain ok={chain['ok']} ({chain['checked']} events); after SIGKILL the store holds "
            f"{stored['acknowledged'] - max(stored['missing'].values())} of {stored['acknowledged']} acknowledged "
            f"activations (missing {stored['missing']})")
        med_raw = statistics.median(x["raw"]["perSecond"] for x in rounds)
        med_pim = statistics.median(x["pim"]["perSecond"] for x in rounds)
        return {"backend": name, "durability": durability, "rounds": rounds, "medianRawPerSecond": med_raw,
                "medianActivationsPerSecond": med_pim, "ratio": round(med_pim / med_raw, 3),
                "auditChain": {"ok": chain["ok"], "checked": chain["checked"]}, "store": stored}
    finally:
        if server:
            server.kill()
        if pg_db and not args.keep:
            drop_pg_database(pg_admin_url, pg_db)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pim", default=DEFAULT_PIM)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--pg-log-statements", action="store_true",
                   help="log every statement of the bench database with its duration in PostgreSQL's log")
    p.add_argument("--perf", metavar="PREFIX",
                   help="perf record the server during each pim phase into PREFIX.<backend>.<round>")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory and the PostgreSQL database")
    args = p.parse_args()
    pg_admin_url = default_pg_admin_url()
    require_pim(args.pim)
    tmp = tempfile.mkdtemp(prefix="pim-durable.", dir=os.environ.get("TMPDIR", "/tmp"))
    results = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "nproc": os.cpu_count(),
               "seconds": args.seconds, "rounds": args.rounds, "clients": args.clients,
               "loadBefore": load_average(), "backends": []}
    try:
        for name in args.backends.split(","):
            results["backends"].append(run_backend(name, args, tmp, pg_admin_url))
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results["loadAfter"] = load_average()
    failed = False
    for b in results["backends"]:
        print(f"{b['backend']}: {b['medianActivationsPerSecond']:.0f} activations/s through the API beside "
              f"{b['medianRawPerSecond']:.0f} raw durable inserts/s: ratio {b['ratio']:.2f} "
              f"(medians of {len(b['rounds'])} rounds of {args.seconds} s, {args.clients} clients; {b['durability']}); "
              f"after SIGKILL {b['store']['acknowledged'] - max(b['store']['missing'].values())} of "
              f"{b['store']['acknowledged']} acknowledged activations in the store; audit chain ok={b['auditChain']['ok']}")
        failed |= not b["store"]["ok"] or not b["auditChain"]["ok"]
    print(f"load average before {' '.join(results['loadBefore'])}, after {' '.join(results['loadAfter'])}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if failed:
        raise SystemExit("an acknowledged activation or its audit event is missing, or the audit chain is broken")


if __name__ == "__main__":
    main()
